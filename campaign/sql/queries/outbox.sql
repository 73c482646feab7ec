-- The mail outbox: queue a message in the caller's transaction, claim, record the outcome.

-- name: outbox_enqueue
INSERT INTO outbox (template, recipient, signature_id, token_id)
VALUES ($1, $2, $3, $4)
RETURNING id;

-- name: outbox_claim
-- Due messages, and messages whose sender's lease ran out (it died mid-send): taken with a lease
-- ($2 seconds) and one more attempt; up to $1 of each. SKIP LOCKED lets any number of workers
-- claim side by side. A mailing's messages (`bulk`) are claimed by `mailing_claim` instead, at
-- the mailing's rate. Two index scans (outbox_due_single, outbox_leased) that stop at $1 rows:
-- one query with both conditions OR-ed read the whole table (sent messages included) and sorted
-- every due message at each claim, ~10 ms at 60,000 rows, many times a second in a rush.
-- Committed without waiting for the disk: a claim lost in a crash leaves the message queued,
-- to be claimed again (as at-least-once delivery already allows).
WITH relaxed AS (
    SELECT set_config('synchronous_commit', 'off', true)
), queued AS (
    SELECT id FROM outbox
    WHERE status = 'queued' AND NOT bulk AND next_attempt_at <= now()
    ORDER BY next_attempt_at, id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), expired AS (
    SELECT id FROM outbox
    WHERE status = 'sending' AND NOT bulk AND locked_until <= now()
    ORDER BY locked_until, id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), due AS (
    SELECT id FROM queued
    UNION ALL
    SELECT id FROM expired
)
UPDATE outbox o
SET status = 'sending',
    attempts = o.attempts + 1,
    locked_until = now() + make_interval(secs => $2)
FROM due CROSS JOIN relaxed
WHERE o.id = due.id
RETURNING o.id, o.template, o.recipient, o.signature_id, o.token_id, o.attempts,
          o.mailing_id, o.invitation_id;

-- name: outbox_context_many
-- What the templates need about the signatures messages are for ($1 their ids, $2 their tokens,
-- NULL where none), with each withdrawal link's salt (NULL for a signature written before
-- signings made one, or erased: `erased` tells which); in one round trip, as a round of the
-- mail worker builds dozens of messages side by side. Rows: `item` (1-based) for the
-- signatures that exist. A confirmation link's email names the details the link was sent for
-- (`d`, migration 0016), even when a later signing changed the signature since.
SELECT u.item, d.given_name, d.family_name, d.mandate, d.territory_level,
       t.code AS territory_code, t.name AS territory_name, t.departement AS territory_departement,
       c.title AS campaign_title, tok.salt AS token_salt, s.withdraw_salt,
       s.anonymised_at IS NOT NULL AS erased
FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS u (signature_id, token_id, item)
JOIN signatures s ON s.id = u.signature_id
JOIN campaigns c ON c.id = s.campaign_id
LEFT JOIN signature_tokens tok ON tok.id = u.token_id AND tok.signature_id = s.id
CROSS JOIN LATERAL jsonb_populate_record(s, coalesce(tok.details, '{}')) AS d
JOIN territories t ON t.level = d.territory_level AND t.code = d.territory_code;

-- name: outbox_mark_sent
-- Every outcome is recorded only if the row is still ours: same attempt, still being sent.
-- Sent: the messages whose sends ended together ($1 their ids, $2 their attempts), in one
-- statement and one commit (a commit per message was the mail worker's main cost in a rush);
-- rows: those recorded. Committed without waiting for the disk: lost in a crash, the record
-- leaves the message `sending` until its lease ends, then it is sent again, with the same
-- Message-ID (at least once, as when a worker dies mid-send).
WITH relaxed AS (
    SELECT set_config('synchronous_commit', 'off', true)
)
UPDATE outbox o
SET status = 'sent', sent_at = now(), locked_until = NULL, last_error = NULL
FROM unnest($1::bigint[], $2::integer[]) AS d (id, attempts) CROSS JOIN relaxed
WHERE o.id = d.id AND o.status = 'sending' AND o.attempts = d.attempts
RETURNING o.id;

-- name: outbox_mark_retry
UPDATE outbox
SET status = 'queued', next_attempt_at = now() + make_interval(secs => $3),
    locked_until = NULL, last_error = $4
WHERE id = $1 AND status = 'sending' AND attempts = $2;

-- name: outbox_mark_failed
UPDATE outbox
SET status = 'failed', locked_until = NULL, last_error = $3
WHERE id = $1 AND status = 'sending' AND attempts = $2;

-- name: outbox_claim_mailings
-- Messages of the mailings being sent, as many as their rates allow (see migration 0007).
SELECT id, template, recipient, signature_id, token_id, attempts, mailing_id, invitation_id
FROM mailing_claim($1, $2);

-- name: outbox_next_mailing_slot
-- When the next message of a mailing being sent may go (NULL: no mailing is being sent).
SELECT min(next_slot_at) FROM mailings WHERE status = 'sending';

-- name: wake_mail_workers
-- What the outbox's trigger does, for writers that insert without it (migration 0009).
SELECT pg_notify('outbox', '');

-- name: outbox_newest
-- The newest message's number: how fast messages are being queued (campaign/outbox.py, QueueRate).
-- One step down the primary key.
SELECT coalesce(max(id), 0) FROM outbox;

-- name: outbox_cap_recipients
-- The per-recipient daily cap (migration 0018), for messages claimed for the first time: each
-- of $1 (outbox ids) counts against its mailbox's keyed hash $2 for the day $3, as if they came
-- one after the other; those beyond $4 a day, or beyond the first of the day for a message about
-- a flagged (suspect) signature, are cancelled, never sent. Rows: the cancelled ids. Counters
-- are locked in key order (no deadlock between workers); committed without waiting for the disk
-- (a crash forgets a few counts).
WITH relaxed AS (
    SELECT set_config('synchronous_commit', 'off', true)
), wanted AS (
    SELECT u.id, u.address_key, u.item, coalesce(s.suspect, false) AS suspect
    FROM unnest($1::bigint[], $2::bytea[]) WITH ORDINALITY AS u (id, address_key, item)
    LEFT JOIN outbox o ON o.id = u.id
    LEFT JOIN signatures s ON s.id = o.signature_id
), counted AS (
    INSERT INTO mail_caps (day, address_key, claimed)
    SELECT $3::date, w.address_key, count(*)
    FROM wanted w CROSS JOIN relaxed
    GROUP BY w.address_key
    ORDER BY w.address_key
    ON CONFLICT (day, address_key) DO UPDATE SET claimed = mail_caps.claimed + excluded.claimed
    RETURNING address_key, claimed
), judged AS (
    SELECT w.id, w.suspect,
           c.claimed - count(*) OVER (PARTITION BY w.address_key)
           + row_number() OVER (PARTITION BY w.address_key ORDER BY w.item) AS nth
    FROM wanted w
    JOIN counted c ON c.address_key = w.address_key
)
UPDATE outbox o
SET status = 'cancelled', locked_until = NULL,
    last_error = CASE WHEN j.suspect AND j.nth <= $4
                      THEN 'Signature signalée : un seul courriel par jour à cette adresse'
                      ELSE 'Plafond quotidien de courriels pour ce destinataire atteint' END
FROM judged j
WHERE o.id = j.id AND o.status = 'sending' AND (j.nth > $4 OR (j.suspect AND j.nth > 1))
RETURNING o.id;

-- name: outbox_cap_forget
-- The per-recipient counters of days before $1: no longer needed.
DELETE FROM mail_caps WHERE day < $1::date;

-- name: outbox_cap_used
-- Whether the mailbox whose keyed hash is $2 was sent (claimed) an email on day $1.
SELECT EXISTS (SELECT 1 FROM mail_caps WHERE day = $1::date AND address_key = $2);

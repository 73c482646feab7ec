-- Mailings: a message to the confirmed signatories (or invitations to invitees), sent through the
-- outbox at the mailing's rate; each recipient at most once (migration 0007).

-- name: mailing_insert
INSERT INTO mailings (campaign_id, kind, subject, body, filter, rate, created_by)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)
RETURNING id;

-- name: mailing_get
SELECT id, campaign_id, kind, subject, body, filter::text AS filter, rate, status, recipients,
       created_by, created_at, started_at, finished_at
FROM mailings WHERE id = $1;

-- name: mailing_list
SELECT id, campaign_id, kind, subject, body, filter::text AS filter, rate, status, recipients,
       created_by, created_at, started_at, finished_at
FROM mailings WHERE campaign_id = $1
ORDER BY id DESC
LIMIT $2;

-- name: mailing_lock
SELECT id, status, kind FROM mailings WHERE id = $1 FOR UPDATE;

-- name: mailing_enqueue_signatories
-- Every confirmed signatory the filter selects ($2…$15: the arguments of
-- admin_filtered_signatures; $16, $17: the levels of proof, as in admin_signatures.sql), once:
-- a second start adds only those who were not queued yet.
-- Suspects (not counted until an organiser clears them) are left out.
INSERT INTO outbox (template, recipient, signature_id, mailing_id, bulk)
SELECT 'mailing', s.email, s.id, $1, true
FROM admin_filtered_signatures($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) s
WHERE s.status = 'confirmed' AND NOT s.suspect
  AND ($16::boolean IS NULL OR s.register_match = $16)
  AND ($17::text IS NULL OR coalesce(s.proof, 'none') = $17)
  AND s.email IS NOT NULL  -- anonymised after the campaign's retention: nobody to write to
ORDER BY s.id
ON CONFLICT DO NOTHING;

-- name: mailing_audience
-- How many a mailing with this filter would reach now ($1…$16: as above).
SELECT count(*)::integer
FROM admin_filtered_signatures($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) s
WHERE s.status = 'confirmed' AND NOT s.suspect AND s.email IS NOT NULL
  AND ($15::boolean IS NULL OR s.register_match = $15)
  AND ($16::text IS NULL OR coalesce(s.proof, 'none') = $16);

-- name: mailing_enqueue_invitations
-- The campaign's invitees never invited yet and who have not signed ($3: a département or
-- NULL, $4: a relay or NULL): one invitation each, whatever the mailing.
INSERT INTO outbox (template, recipient, invitation_id, mailing_id, bulk)
SELECT 'invitation', i.email, i.id, $1, true
FROM invitations i
LEFT JOIN territories t ON t.level = i.territory_level AND t.code = i.territory_code
WHERE i.campaign_id = $2
  AND ($3::text IS NULL OR coalesce(t.departement, CASE WHEN i.territory_level = 'departement'
                                                         THEN i.territory_code END) = $3)
  AND ($4::bigint IS NULL OR i.relay_id = $4)
  AND NOT EXISTS (SELECT 1 FROM signatures s
                  WHERE s.campaign_id = i.campaign_id AND s.email = i.email)
ORDER BY i.id
ON CONFLICT DO NOTHING;

-- name: mailing_mark_started
UPDATE mailings
SET status = CASE WHEN status IN ('draft', 'done') THEN 'sending' ELSE status END,
    started_at = coalesce(started_at, now()),
    finished_at = NULL,
    next_slot_at = CASE WHEN status IN ('draft', 'done') THEN now() ELSE next_slot_at END,
    recipients = recipients + $2
WHERE id = $1;

-- name: mailing_set_status
-- Pause (sending → paused), resume (paused → sending, the bucket starting afresh), cancel.
UPDATE mailings
SET status = $3,
    next_slot_at = CASE WHEN $3 = 'sending' THEN now() ELSE next_slot_at END,
    finished_at = CASE WHEN $3 = 'cancelled' THEN now() ELSE finished_at END
WHERE id = $1 AND status = ANY ($2::text[])
RETURNING id;

-- name: mailing_cancel_queued
UPDATE outbox SET status = 'cancelled', last_error = 'Envoi annulé par un organisateur'
WHERE mailing_id = $1 AND bulk AND status = 'queued';

-- name: mailing_wake
SELECT pg_notify('outbox', '');

-- name: mailing_progress
SELECT count(*) FILTER (WHERE status = 'queued')::integer AS queued,
       count(*) FILTER (WHERE status = 'sending')::integer AS sending,
       count(*) FILTER (WHERE status = 'sent')::integer AS sent,
       count(*) FILTER (WHERE status = 'failed')::integer AS failed,
       count(*) FILTER (WHERE status = 'cancelled')::integer AS cancelled,
       count(*) FILTER (WHERE status = 'sent' AND sent_at > now() - interval '1 minute')::integer
           AS last_minute
FROM outbox WHERE mailing_id = $1 AND bulk;

-- name: mailing_per_minute
-- Messages sent per minute over the last $2 minutes (minutes without any are absent).
SELECT date_trunc('minute', sent_at) AS minute, count(*)::integer AS sent
FROM outbox
WHERE mailing_id = $1 AND bulk AND status = 'sent'
  AND sent_at > date_trunc('minute', now()) - make_interval(mins => $2)
GROUP BY 1 ORDER BY 1;

-- name: mailing_failures
SELECT id, last_error, attempts FROM outbox
WHERE mailing_id = $1 AND bulk AND status = 'failed'
ORDER BY id LIMIT $2;

-- name: mailing_test_enqueue
-- A test of the message to the organiser's own address: not part of the mailing's audience.
INSERT INTO outbox (template, recipient, mailing_id, bulk)
VALUES ('mailing', $2, $1, false)
RETURNING id, status;

-- name: mailing_message
-- What the mail worker needs to render a mailing's message.
SELECT m.subject, m.body, m.status, c.title AS campaign_title
FROM mailings m JOIN campaigns c ON c.id = m.campaign_id
WHERE m.id = $1;

-- The privacy lifecycle: withdrawal links, erasure (withdrawal, erasure request, retention),
-- access requests, `campaign purge` (see campaign/withdrawal.py, campaign/purge.py).

-- name: withdrawal_salt_issue
-- The signature's withdrawal link, made the first time an email is written to its signer: $2 the
-- salt, $3 the token's hash. No row when it already has one (or its data are erased).
UPDATE signatures SET withdraw_salt = $2, withdraw_hash = $3
WHERE id = $1 AND withdraw_salt IS NULL AND withdraw_hash IS NULL AND anonymised_at IS NULL
RETURNING withdraw_salt;

-- name: withdrawal_salt
SELECT withdraw_salt FROM signatures WHERE id = $1;

-- name: find_withdrawal
SELECT id AS signature_id, campaign_id, status, given_name, family_name, mandate,
       territory_level, territory_code, public, anonymised_at IS NOT NULL AS erased
FROM signatures WHERE withdraw_hash = $1;

-- name: lock_withdrawal
SELECT id FROM signatures WHERE withdraw_hash = $1 AND anonymised_at IS NULL FOR UPDATE;

-- name: erasure_lock
-- The signatures about to be erased, locked; those already erased are left out.
SELECT id, status, email FROM signatures
WHERE id = ANY ($1::bigint[]) AND anonymised_at IS NULL
ORDER BY id
FOR UPDATE;

-- name: erasure_uncount
-- Counted signatures leave their territory's counter (its trigger tells every process).
UPDATE territory_counts c
SET confirmed = c.confirmed - d.n
FROM (SELECT campaign_id, territory_level, territory_code, count(*)::integer AS n
      FROM signatures
      WHERE id = ANY ($1::bigint[]) AND status = 'confirmed' AND NOT suspect
      GROUP BY campaign_id, territory_level, territory_code) d
WHERE c.campaign_id = d.campaign_id AND c.level = d.territory_level AND c.code = d.territory_code;

-- name: erasure_outbox
-- Messages to the signer: those not sent yet are cancelled; none keeps the address (nor a reply
-- of the server, which may quote it). $2: the addresses, for messages not tied to a signature.
UPDATE outbox
SET status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
    recipient = 'effacé-' || id,
    last_error = NULL,
    token_id = NULL
WHERE signature_id = ANY ($1::bigint[]) OR recipient = ANY ($2::text[]);

-- name: erasure_tokens
DELETE FROM signature_tokens WHERE signature_id = ANY ($1::bigint[]);

-- name: erasure_anonymise
-- What stays is a tombstone for the totals' history: campaign, mandate, territory, dates, status
-- (withdrawn when $2; otherwise unchanged: retention keeps the counts). A withdrawn tombstone
-- keeps its link's hash, so that a second click says "already withdrawn".
UPDATE signatures
SET status = CASE WHEN $2 THEN 'withdrawn' ELSE status END,
    withdrawn_at = CASE WHEN $2 THEN now() ELSE withdrawn_at END,
    rejected_from = CASE WHEN $2 THEN NULL ELSE rejected_from END,
    given_name = '', family_name = '', email = NULL, comment = NULL, ref = NULL,
    public = false, featured = false, verification_match = NULL, moderation_reason = NULL,
    verification_due = false, withdraw_salt = NULL,
    withdraw_hash = CASE WHEN $2 THEN withdraw_hash END,
    anonymised_at = now(), updated_at = now()
WHERE id = ANY ($1::bigint[]);

-- name: signature_ids_by_email
SELECT id FROM signatures WHERE email = $1 ORDER BY id;

-- name: access_signatures
-- Everything a signature row holds about its signer (an access request), with its campaign.
SELECT c.slug AS campaign, s.id, s.email, s.given_name, s.family_name, s.mandate,
       s.territory_level, s.territory_code, t.name AS territory_name, s.public,
       s.consent_version, s.consent_at, s.comment, s.ref, s.status, s.letter_version,
       s.created_at, s.updated_at, s.confirmed_at, s.withdrawn_at, s.emails_sent, s.featured,
       s.rejected_from, s.moderation_reason, s.verification, s.verification_override,
       s.verification_match::text AS verification_match, s.suspect, s.suspect_reasons,
       s.suspect_cleared_at
FROM signatures s
JOIN campaigns c ON c.id = s.campaign_id
LEFT JOIN territories t ON t.level = s.territory_level AND t.code = s.territory_code
WHERE s.email = $1
ORDER BY s.id;

-- name: access_tokens
SELECT signature_id, purpose, created_at, expires_at FROM signature_tokens
WHERE signature_id = ANY ($1::bigint[]) ORDER BY id;

-- name: access_outbox
SELECT id, template, signature_id, status, attempts, created_at, sent_at, last_error
FROM outbox WHERE signature_id = ANY ($1::bigint[]) OR recipient = $2 ORDER BY id;

-- name: access_audit
SELECT at, action, target_id, before::text AS before, after::text AS after,
       detail::text AS detail
FROM audit_log WHERE target_type = 'signature' AND target_id = ANY ($1::bigint[]) ORDER BY id;

-- name: access_block_list
SELECT kind, value, reason, created_at FROM block_list
WHERE (kind = 'email' AND value = $1)
   OR (kind = 'domain' AND ($2::text = value OR right($2::text, length(value) + 1) = '.' || value))
ORDER BY id;

-- name: purge_unconfirmed_count
SELECT count(*) FROM signatures
WHERE confirmed_at IS NULL AND status IN ('pending', 'rejected')
  AND created_at < now() - make_interval(days => $1);

-- name: purge_unconfirmed
-- Never confirmed, older than $1 days: gone, with their links and emails (ON DELETE CASCADE).
DELETE FROM signatures
WHERE confirmed_at IS NULL AND status IN ('pending', 'rejected')
  AND created_at < now() - make_interval(days => $1);

-- name: purge_retention_due
-- Signatures of campaigns closed more than $1 months ago whose data are still there.
SELECT s.id FROM signatures s
JOIN campaigns c ON c.id = s.campaign_id
WHERE c.status = 'closed' AND c.closed_at < now() - make_interval(months => $1)
  AND s.anonymised_at IS NULL
ORDER BY s.id;

-- name: access_invitations
-- Invitations made to the address (campaign/invitations.py).
SELECT c.slug AS campaign, i.id, i.given_name, i.family_name, i.mandate, i.territory_level,
       i.territory_code, i.source, i.code, i.created_at
FROM invitations i JOIN campaigns c ON c.id = i.campaign_id
WHERE i.email = $1 ORDER BY i.id;

-- name: erasure_invitations
-- The address's invitations go (their emails with them: ON DELETE CASCADE).
DELETE FROM invitations WHERE email = $1;

-- The town hall confirms (campaign/reach/attestation.py, migration 0015).

-- name: attestation_lock
-- One attestation round at a time across every worker (the per-commune day and the campaign's
-- hourly rate are read and written together); the others skip their round.
SELECT pg_try_advisory_xact_lock(hashtext('campaign.attestations'));

-- name: attestation_sent_last_hour
-- Attestation emails made in the last hour, for the campaign-wide rate (resends included).
SELECT (SELECT count(*) FROM mairie_attestations
        WHERE created_at > now() - interval '1 hour' AND status NOT IN ('no_address', 'suppressed'))
     + (SELECT coalesce(sum(sends - 1), 0) FROM mairie_attestations
        WHERE last_sent_at > now() - interval '1 hour' AND sends > 1);

-- name: attestation_due_communes
-- Communes with municipal signers to put to their town hall: confirmed, not suspect, not proven,
-- matching the register today, never asked; and no email to that town hall in the last day.
-- Oldest confirmation first; up to $1 communes.
SELECT s.campaign_id, s.territory_code AS commune,
       array_agg(s.id ORDER BY s.confirmed_at, s.id) AS signature_ids
FROM signatures s
WHERE s.proof IS NULL AND s.status = 'confirmed' AND NOT s.suspect
  AND s.territory_level = 'commune' AND s.anonymised_at IS NULL
  AND s.mandate IN ('maire', 'adjoint', 'conseiller_municipal')
  AND coalesce(s.verification_override, s.verification) = 'verified'
  AND NOT EXISTS (SELECT 1 FROM mairie_attestation_signers a WHERE a.signature_id = s.id)
  AND NOT EXISTS (SELECT 1 FROM mairie_attestations m
                  WHERE m.commune = s.territory_code
                    AND m.status IN ('queued', 'answered', 'cancelled')
                    AND greatest(m.created_at, m.last_sent_at) > now() - interval '1 day')
GROUP BY s.campaign_id, s.territory_code
ORDER BY min(s.confirmed_at), s.campaign_id, s.territory_code
LIMIT $1;

-- name: attestation_insert
-- $1 campaign, $2 commune, $3 address (NULL: none known), $4 status, $5 salt, $6 token hash,
-- $7 days the link is valid; $8 the signatures it asks about.
WITH made AS (
    INSERT INTO mairie_attestations (campaign_id, commune, recipient, status, salt, token_hash,
                                     expires_at)
    VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(days => $7))
    RETURNING id
), signers AS (
    INSERT INTO mairie_attestation_signers (attestation_id, signature_id)
    SELECT made.id, unnest($8::bigint[]) FROM made
    RETURNING 1
)
SELECT id FROM made;

-- name: attestation_sent
-- The email queued for it ($2: the outbox row): the latest one, one more send.
UPDATE mairie_attestations
SET outbox_id = $2, sends = sends + 1, last_sent_at = now()
WHERE id = $1;

-- name: attestation_for_mail
-- What the email of the outbox row $1 says (none: superseded by a resend, or cancelled).
SELECT a.id, a.status, a.salt, a.expires_at, a.commune, t.name AS commune_name,
       t.departement AS commune_departement, c.title AS campaign_title
FROM mairie_attestations a
JOIN campaigns c ON c.id = a.campaign_id
JOIN territories t ON t.level = 'commune' AND t.code = a.commune
WHERE a.outbox_id = $1;

-- name: attestation_signers
-- The signers an attestation asks about, with the town hall's answers (names NULL once erased).
SELECT s.id AS signature_id, s.given_name, s.family_name, s.mandate,
       s.anonymised_at IS NOT NULL AS erased, a.answer, a.answered_at
FROM mairie_attestation_signers a
JOIN signatures s ON s.id = a.signature_id
WHERE a.attestation_id = $1
ORDER BY s.confirmed_at, s.id;

-- name: attestation_by_token
-- The attestation a link's token points at ($1: the token's SHA-256).
SELECT a.id, a.campaign_id, a.commune, a.recipient, a.status, a.expires_at,
       a.expires_at <= now() AS expired, t.name AS commune_name,
       t.departement AS commune_departement
FROM mairie_attestations a
JOIN territories t ON t.level = 'commune' AND t.code = a.commune
WHERE a.token_hash = $1;

-- name: attestation_record_answer
-- The town hall's answer about one signer ($2), once; none if already answered or not asked.
UPDATE mairie_attestation_signers
SET answer = $3, answered_at = now()
WHERE attestation_id = $1 AND signature_id = $2 AND answer IS NULL
RETURNING signature_id;

-- name: attestation_prove
-- « Oui » : proven by the town hall ($2: who, the address's domain; $3: what it rests on).
UPDATE signatures
SET proof = 'mairie', proof_at = now(), proof_by = $2, proof_note = $3, updated_at = now()
WHERE id = $1 AND proof IS NULL AND anonymised_at IS NULL;

-- name: attestation_deny
-- « Non » : suspect with the reason `mairie_denied`; a confirmed signature that was counted
-- leaves its territory's counter (the rule every change of `suspect` keeps).
WITH before AS (
    SELECT id, suspect FROM signatures WHERE id = $1 AND anonymised_at IS NULL FOR UPDATE
), changed AS (
    UPDATE signatures s
    SET suspect = true,
        suspect_reasons = ARRAY(SELECT DISTINCT r
                                FROM unnest(s.suspect_reasons || ARRAY['mairie_denied']) r
                                ORDER BY r),
        updated_at = now()
    FROM before
    WHERE s.id = before.id
    RETURNING s.status, s.campaign_id, s.territory_level, s.territory_code,
              before.suspect AS was_suspect
), uncounted AS (
    UPDATE territory_counts c
    SET confirmed = c.confirmed - 1
    FROM changed d
    WHERE d.status = 'confirmed' AND NOT d.was_suspect
      AND c.campaign_id = d.campaign_id AND c.level = d.territory_level
      AND c.code = d.territory_code
    RETURNING 1
)
SELECT count(*) FROM changed;

-- name: attestation_close_if_answered
UPDATE mairie_attestations
SET status = 'answered', answered_at = now()
WHERE id = $1 AND status = 'queued'
  AND NOT EXISTS (SELECT 1 FROM mairie_attestation_signers
                  WHERE attestation_id = $1 AND answer IS NULL);

-- name: attestation_list
-- The back office's list: the newest first, before id $2 (pages), $3 rows.
SELECT a.id, a.commune, t.name AS commune_name, t.departement AS commune_departement,
       a.recipient, a.status, a.created_at, a.last_sent_at, a.sends, a.answered_at,
       a.expires_at, a.cancelled_at, a.cancelled_by, o.status AS mail_status,
       o.sent_at AS mail_sent_at, o.last_error AS mail_error
FROM mairie_attestations a
JOIN territories t ON t.level = 'commune' AND t.code = a.commune
LEFT JOIN outbox o ON o.id = a.outbox_id
WHERE a.campaign_id = $1 AND ($2::bigint IS NULL OR a.id < $2)
ORDER BY a.id DESC
LIMIT $3;

-- name: attestation_list_signers
-- The signers of the attestations $1, for the back office.
SELECT a.attestation_id, s.id AS signature_id, s.given_name, s.family_name, s.mandate,
       s.anonymised_at IS NOT NULL AS erased, a.answer, a.answered_at
FROM mairie_attestation_signers a
JOIN signatures s ON s.id = a.signature_id
WHERE a.attestation_id = ANY ($1::bigint[])
ORDER BY a.attestation_id, s.confirmed_at, s.id;

-- name: attestation_get
SELECT id, campaign_id, commune, recipient, status, outbox_id, sends
FROM mairie_attestations WHERE id = $1 FOR UPDATE;

-- name: attestation_renew
-- An organiser's resend: the link valid $2 days from now (the same link).
UPDATE mairie_attestations
SET expires_at = now() + make_interval(days => $2)
WHERE id = $1;

-- name: attestation_cancel_mail
-- The attestation's email not sent yet is cancelled ($1: the outbox row).
UPDATE outbox SET status = 'cancelled', locked_until = NULL,
                  last_error = 'Demande d’attestation annulée ou renvoyée'
WHERE id = $1 AND status = 'queued';

-- name: attestation_cancel
UPDATE mairie_attestations
SET status = 'cancelled', cancelled_at = now(), cancelled_by = $2
WHERE id = $1 AND status = 'queued';

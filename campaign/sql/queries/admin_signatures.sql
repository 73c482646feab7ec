-- The back office's signatories: the filtered list, one signature and its history, moderation.
-- $1..$14 are always the filter of admin_filtered_signatures (see migration 0003), $15 and $16
-- the levels of proof (issue 14): register match (boolean), proof ('mairie', 'official_domain',
-- 'organisers', or 'none' for none).

-- name: admin_signatories_page
-- `verified` is read through to_jsonb: the column exists only with the register's migration.
-- It is computed for the page's rows alone, outside the sorted subquery.
SELECT p.id, p.given_name, p.family_name, p.email, p.mandate, p.territory_level,
       p.territory_code, p.public, p.status, p.featured, p.ref, p.created_at, p.confirmed_at,
       coalesce((to_jsonb(p) ->> 'verified')::boolean, false) AS verified,
       p.suspect, p.suspect_reasons, p.proof, p.register_match
FROM (
    SELECT s.*
    FROM admin_filtered_signatures($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) s
    WHERE ($15::boolean IS NULL OR s.register_match = $15)
      AND ($16::text IS NULL OR coalesce(s.proof, 'none') = $16)
    ORDER BY
        CASE WHEN $17 = 'name' THEN s.family_name END,
        CASE WHEN $17 = 'name' THEN s.given_name END,
        CASE WHEN $17 = 'territory' THEN s.territory_code END,
        CASE WHEN $17 = 'oldest' THEN s.created_at END,
        CASE WHEN $17 = 'recent' THEN s.created_at END DESC,
        CASE WHEN $17 = 'confirmed' THEN s.confirmed_at END DESC NULLS LAST,
        s.id DESC
    LIMIT $18 OFFSET $19
) p;

-- name: admin_signatories_count
SELECT count(*)
FROM admin_filtered_signatures($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) s
WHERE ($15::boolean IS NULL OR s.register_match = $15)
  AND ($16::text IS NULL OR coalesce(s.proof, 'none') = $16);

-- name: admin_signatories_ids
SELECT s.id
FROM admin_filtered_signatures($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) s
WHERE ($15::boolean IS NULL OR s.register_match = $15)
  AND ($16::text IS NULL OR coalesce(s.proof, 'none') = $16)
ORDER BY s.id;

-- name: admin_signatories_export
SELECT s.id, s.given_name, s.family_name, s.email, s.mandate, s.territory_level,
       s.territory_code, s.public, s.status, s.featured, s.ref, s.comment, s.letter_version,
       s.created_at, s.confirmed_at, t.name AS territory_name, t.departement, t.region,
       coalesce((to_jsonb(s) ->> 'verified')::boolean, false) AS verified, s.suspect,
       s.proof, s.register_match
FROM admin_filtered_signatures($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) s
JOIN territories t ON t.level = s.territory_level AND t.code = s.territory_code
WHERE ($15::boolean IS NULL OR s.register_match = $15)
  AND ($16::text IS NULL OR coalesce(s.proof, 'none') = $16)
ORDER BY s.id;

-- name: admin_signature
SELECT s.id, s.campaign_id, s.given_name, s.family_name, s.email, s.mandate, s.territory_level,
       s.territory_code, s.public, s.comment, s.ref, s.status, s.featured, s.rejected_from,
       s.moderation_reason, s.letter_version, s.emails_sent, s.created_at, s.updated_at,
       s.confirmed_at, s.suspect, s.suspect_reasons, s.suspect_cleared_at, s.suspect_cleared_by,
       s.consent_version, s.consent_at, s.withdrawn_at, s.anonymised_at,
       coalesce((to_jsonb(s) ->> 'verified')::boolean, false) AS verified,
       to_jsonb(s) ->> 'verification' AS verification,
       to_jsonb(s) ->> 'verification_override' AS verification_override,
       s.register_match, s.proof, s.proof_at, s.proof_by, s.proof_note
FROM signatures s
WHERE s.id = $1;

-- name: admin_signature_lock
SELECT id, given_name, family_name, status, featured FROM signatures WHERE id = $1 FOR UPDATE;

-- name: admin_signature_tokens
SELECT id, purpose, created_at, expires_at FROM signature_tokens
WHERE signature_id = $1 ORDER BY id;

-- name: admin_signature_outbox
SELECT id, template, recipient, status, attempts, last_error, created_at, sent_at,
       next_attempt_at
FROM outbox WHERE signature_id = $1 ORDER BY id;

-- name: admin_reject
-- Rejected signatures remember what they were; a confirmed one leaves its territory's counter
-- (the counter's trigger tells every process); mail not yet sent to them is cancelled.
WITH changed AS (
    UPDATE signatures
    SET rejected_from = status, status = 'rejected', moderation_reason = $2, updated_at = now()
    WHERE id = ANY ($1::bigint[]) AND status IN ('pending', 'confirmed')
    RETURNING id, rejected_from, campaign_id, territory_level, territory_code, suspect
), uncounted AS (
    UPDATE territory_counts c
    SET confirmed = c.confirmed - d.n
    FROM (SELECT campaign_id, territory_level, territory_code, count(*)::integer AS n
          FROM changed WHERE rejected_from = 'confirmed' AND NOT suspect
          GROUP BY campaign_id, territory_level, territory_code) d
    WHERE c.campaign_id = d.campaign_id AND c.level = d.territory_level
      AND c.code = d.territory_code
    RETURNING 1
), cancelled AS (
    UPDATE outbox SET status = 'cancelled', locked_until = NULL
    WHERE signature_id IN (SELECT id FROM changed) AND status = 'queued'
    RETURNING 1
)
SELECT id, rejected_from AS before FROM changed ORDER BY id;

-- name: admin_restore
WITH changed AS (
    UPDATE signatures
    SET status = rejected_from, rejected_from = NULL, moderation_reason = $2, updated_at = now()
    WHERE id = ANY ($1::bigint[]) AND status = 'rejected' AND rejected_from IS NOT NULL
    RETURNING id, status, campaign_id, territory_level, territory_code, suspect
), counted AS (
    INSERT INTO territory_counts AS c (campaign_id, level, code, confirmed)
    SELECT campaign_id, territory_level, territory_code, count(*)::integer
    FROM changed WHERE status = 'confirmed' AND NOT suspect
    GROUP BY campaign_id, territory_level, territory_code
    ON CONFLICT (campaign_id, level, code)
    DO UPDATE SET confirmed = c.confirmed + excluded.confirmed
    RETURNING 1
)
SELECT id, status AS after FROM changed ORDER BY id;

-- name: admin_clear_suspects
-- Suspects found honest: a confirmed one is counted from now on (a pending one when confirmed).
-- $2: who cleared them. Rejected suspects are rejected: restoring one puts it back in the queue.
WITH changed AS (
    UPDATE signatures
    SET suspect = false, suspect_cleared_at = now(), suspect_cleared_by = $2, updated_at = now()
    WHERE id = ANY ($1::bigint[]) AND suspect AND status IN ('pending', 'confirmed')
    RETURNING id, status, suspect_reasons, campaign_id, territory_level, territory_code
), counted AS (
    INSERT INTO territory_counts AS c (campaign_id, level, code, confirmed)
    SELECT campaign_id, territory_level, territory_code, count(*)::integer
    FROM changed WHERE status = 'confirmed'
    GROUP BY campaign_id, territory_level, territory_code
    ON CONFLICT (campaign_id, level, code)
    DO UPDATE SET confirmed = c.confirmed + excluded.confirmed
    RETURNING 1
)
SELECT id, status, suspect_reasons FROM changed ORDER BY id;

-- name: admin_feature
UPDATE signatures SET featured = $2, updated_at = now()
WHERE id = ANY ($1::bigint[]) AND featured <> $2
RETURNING id;

-- name: admin_correct_names
UPDATE signatures SET given_name = $2, family_name = $3, updated_at = now() WHERE id = $1;

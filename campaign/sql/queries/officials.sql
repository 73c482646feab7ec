-- The register of elected officials: loading it (staging table, then swap), reading its summary,
-- verifying signatures against it.

-- name: officials_lock
-- One load at a time, for the whole load (session lock: the load spans several transactions).
SELECT pg_advisory_lock(hashtext('campaign.officials'))

-- name: officials_unlock
SELECT pg_advisory_unlock(hashtext('campaign.officials'))

-- name: officials_drop_staging
DROP TABLE IF EXISTS officials_staging

-- name: officials_create_staging
-- A plain table (it becomes the register), without indexes while it is filled.
CREATE TABLE officials_staging (LIKE officials INCLUDING DEFAULTS INCLUDING CONSTRAINTS)

-- name: officials_index_staging
CREATE INDEX officials_staging_territory
    ON officials_staging (territory_level, territory_code, family_key)

-- name: officials_key_staging
ALTER TABLE officials_staging ADD CONSTRAINT officials_staging_pkey PRIMARY KEY (id)

-- name: officials_analyze_staging
ANALYZE officials_staging

-- name: officials_swap_drop
DROP TABLE officials

-- name: officials_swap_rename
ALTER TABLE officials_staging RENAME TO officials

-- name: officials_swap_rename_key
ALTER TABLE officials RENAME CONSTRAINT officials_staging_pkey TO officials_pkey

-- name: officials_swap_rename_index
ALTER INDEX officials_staging_territory RENAME TO officials_territory

-- name: officials_record_load
INSERT INTO officials_loads (source, rows) VALUES ($1, $2)

-- name: officials_reverify_all
-- Every confirmed signature is checked against the new register (its result stays meanwhile).
UPDATE signatures SET verification_due = true
WHERE status = 'confirmed' AND NOT verification_due

-- name: officials_notify
-- Tells every process to reload its summary, and the workers to verify again.
SELECT pg_notify('officials', ''), pg_notify('verification', '')

-- name: officials_count
SELECT count(*) FROM officials

-- name: officials_last_load
SELECT source, rows, loaded_at FROM officials_loads ORDER BY id DESC LIMIT 1

-- name: officials_summary
-- People holding a mandate in each territory (a président d'intercommunalité is counted once, as
-- the municipal councillor they also are), and its maires.
SELECT territory_level AS level, territory_code AS code,
       count(*) FILTER (WHERE mandate <> 'president_intercommunalite') AS officials,
       count(*) FILTER (WHERE mandate = 'maire') AS maires
FROM officials
GROUP BY territory_level, territory_code

-- name: verification_claim
-- Confirmed signatures waiting for a verification; SKIP LOCKED lets workers claim side by side.
-- Claimed inside the worker's transaction, which records the results before it commits.
SELECT id, given_name, family_name, mandate, territory_level, territory_code, email
FROM signatures
WHERE verification_due AND status = 'confirmed'
ORDER BY id
LIMIT $1
FOR UPDATE SKIP LOCKED

-- name: verification_candidates
-- Register entries of the territory, with a mandate consistent with the one signed ($3) and the
-- same family name key ($4).
SELECT id, mandate, territory_level, territory_code, family_name, given_name, sex,
       mandate_start, family_key, given_key
FROM officials
WHERE territory_level = $1 AND territory_code = $2 AND mandate = ANY($3::text[])
  AND family_key = $4

-- name: verification_record
-- $5: the signer's address's domain when it is an official domain of their mandate and territory
-- (campaign/register/proof.py): with a register match (the register's or an organiser's), the
-- signature is proven by it, unless already proven otherwise. Without a match, a domain proof
-- goes (trigger signatures_domain_proof).
UPDATE signatures
SET verification = $2, verification_match = $3::jsonb, verification_candidates = $4,
    verification_due = false, verification_checked_at = now(),
    (proof, proof_at, proof_by, proof_note) = (
        SELECT CASE WHEN proven THEN 'official_domain' ELSE proof END,
               CASE WHEN proven THEN now() ELSE proof_at END,
               CASE WHEN proven THEN $5 ELSE proof_by END,
               CASE WHEN proven THEN 'adresse au domaine officiel @' || $5 ELSE proof_note END
        FROM (SELECT $5::text IS NOT NULL AND proof IS NULL
                     AND coalesce(verification_override, $2) = 'verified' AS proven) p)
WHERE id = $1

-- name: verification_override
UPDATE signatures
SET verification_override = $2, verification_override_by = $3, verification_override_at = now()
WHERE id = $1
RETURNING id

-- name: verification_status
SELECT id, status, verification, verification_match, verification_candidates,
       verification_checked_at, verification_override, verification_override_by,
       verification_override_at, register_match, verified, proof
FROM signatures
WHERE id = $1

-- name: verification_pending_count
SELECT count(*) FROM signatures WHERE verification_due AND status = 'confirmed'

-- name: proof_attest
-- An organiser attests that the signer is the official declared ($2: who, $3: the reason). A
-- proof from the town hall or the official domain stays: it says more than an attestation.
UPDATE signatures
SET proof = 'organisers', proof_at = now(), proof_by = $2, proof_note = $3, updated_at = now()
WHERE id = $1 AND (proof IS NULL OR proof = 'organisers')
RETURNING id

-- name: proof_withdraw
-- The organisers' attestation withdrawn: the signature is no longer proven (by them).
UPDATE signatures
SET proof = NULL, proof_at = NULL, proof_by = NULL, proof_note = NULL, updated_at = now()
WHERE id = $1 AND proof = 'organisers'
RETURNING id

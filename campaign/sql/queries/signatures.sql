-- Signing and confirming.

-- name: sign_new
-- A new address (the rush's case): the pending signature, its confirmation token and its email in
-- one statement, so one round trip and one (implicit) transaction. No row when the address has
-- already signed the campaign. $12: token salt, $13: token hash, $14: validity in days.
-- $15: version of the consent wording (stored with the time when `public`), $16: suspect,
-- $17: the reasons (campaign/abuse.py). $18, $19: salt and hash of the withdrawal link, which
-- every email about the signature carries (made here rather than by the mail worker, which
-- would otherwise rewrite each new row, all its indexes with it, to store them).
WITH signature AS (
    INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate, territory_level,
                            territory_code, public, comment, ref, letter_version, emails_sent,
                            consent_version, consent_at, suspect, suspect_reasons,
                            withdraw_salt, withdraw_hash)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1,
            CASE WHEN $8 THEN $15::integer END, CASE WHEN $8 THEN now() END, $16, $17::text[],
            $18, $19)
    ON CONFLICT DO NOTHING  -- the address, or another alias of its mailbox (migration 0018)
    RETURNING id
), token AS (
    INSERT INTO signature_tokens (signature_id, purpose, salt, token_hash, expires_at)
    SELECT id, 'confirm', $12, $13, now() + make_interval(days => $14) FROM signature
    RETURNING id, signature_id
)
INSERT INTO outbox (template, recipient, signature_id, token_id)
SELECT 'confirm', $2, signature_id, id FROM token
RETURNING signature_id;

-- name: sign_new_batch
-- Signings written together (campaign/signing_batch.py): for each new address, what sign_new
-- writes, all in one statement and one commit. $1 campaign, $2 letter version, $3 validity of
-- the tokens in days, $4 version of the consent wording; then one array element per signing, in
-- order: $5 address, $6 given name, $7 family name, $8 mandate, $9 territory level, $10 its code,
-- $11 public, $12 comment, $13 ref, $14 token salt, $15 token hash, $16 the reasons to flag it,
-- comma-separated ('' when clean), $17 withdrawal link salt, $18 its hash. Rows: the position (1-based) of each signing that created its
-- signature. An address given twice in the batch is created by its first signing; the others,
-- like addresses that had already signed, get no row (sign_existing then handles them).
-- Inserted in address order, so two batches at once cannot deadlock on the same addresses. No
-- NOTIFY at its commit: the writer wakes the mail workers after it (migration 0009).
WITH wanted AS (
    SELECT DISTINCT ON (u.email) u.*
    FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                $11::boolean[], $12::text[], $13::text[], $14::bytea[], $15::bytea[], $16::text[],
                $17::bytea[], $18::bytea[])
         WITH ORDINALITY AS u (email, given_name, family_name, mandate, territory_level,
                               territory_code, public, comment, ref, salt, token_hash, reasons,
                               withdraw_salt, withdraw_hash, item)
    ORDER BY u.email, u.item
), quiet AS (
    -- No NOTIFY at this commit: the writer wakes the mail workers (migration 0009). (The
    -- foreign-key checks of the rows written are planned for the tables as they are, like
    -- every statement of the pool: campaign/db.py, create_pool.)
    SELECT set_config('campaign.outbox_notify', 'off', true) AS notify
), signature AS (
    INSERT INTO signatures (campaign_id, email, given_name, family_name, mandate, territory_level,
                            territory_code, public, comment, ref, letter_version, emails_sent,
                            consent_version, consent_at, suspect, suspect_reasons,
                            withdraw_salt, withdraw_hash)
    SELECT $1, w.email, w.given_name, w.family_name, w.mandate, w.territory_level,
           w.territory_code, w.public, w.comment, w.ref, $2, 1,
           CASE WHEN w.public THEN $4::integer END, CASE WHEN w.public THEN now() END,
           w.reasons <> '', string_to_array(w.reasons, ','), w.withdraw_salt, w.withdraw_hash
    FROM wanted w
    CROSS JOIN quiet
    ORDER BY w.email
    ON CONFLICT DO NOTHING  -- the address, or another alias of its mailbox (migration 0018)
    RETURNING id, email
), token AS (
    INSERT INTO signature_tokens (signature_id, purpose, salt, token_hash, expires_at)
    SELECT s.id, 'confirm', w.salt, w.token_hash, now() + make_interval(days => $3)
    FROM signature s
    JOIN wanted w ON w.email = s.email
    RETURNING id, signature_id
), mail AS (
    INSERT INTO outbox (template, recipient, signature_id, token_id)
    SELECT 'confirm', s.email, t.signature_id, t.id
    FROM token t
    JOIN signature s ON s.id = t.signature_id
    ORDER BY t.signature_id
)
SELECT w.item
FROM signature s
JOIN wanted w ON w.email = s.email;

-- name: merge_search_pending
-- The new signatures waiting in the search indexes' pending lists, merged into them (migrations
-- 0010 and 0017): outside any signing, so that no signing waits for it. Rows: the pages merged.
SELECT gin_clean_pending_list('signatures_admin_search'::regclass)
       + gin_clean_pending_list('signatures_public_search'::regclass) AS pages;

-- name: lock_signature_by_email
-- The signature of the address's mailbox, whatever alias of it signed (migration 0018).
SELECT id, status, emails_sent FROM signatures
WHERE campaign_id = $1 AND email_canonical = email_canonical_hash($2)
FOR UPDATE;

-- name: refresh_pending_signature
-- The latest form wins while nothing is confirmed (it may fix a typo), but every link sent before
-- keeps the details it was sent for (migration 0016): copied into its token first, in the same
-- statement (both parts read the signature as it was before it).
WITH kept AS (
    UPDATE signature_tokens t
    SET details = jsonb_build_object(
            'given_name', s.given_name, 'family_name', s.family_name, 'mandate', s.mandate,
            'territory_level', s.territory_level, 'territory_code', s.territory_code,
            'public', s.public, 'comment', s.comment, 'ref', s.ref,
            'letter_version', s.letter_version, 'consent_version', s.consent_version,
            'consent_at', s.consent_at)
    FROM signatures s
    WHERE s.id = $1 AND t.signature_id = s.id AND t.purpose = 'confirm' AND t.details IS NULL
)
UPDATE signatures
SET given_name = $2, family_name = $3, mandate = $4, territory_level = $5, territory_code = $6,
    public = $7, comment = $8, ref = $9, letter_version = $10,
    consent_version = CASE WHEN $7 THEN $11::integer END,
    consent_at = CASE WHEN $7 THEN now() END,
    suspect = suspect OR cardinality($12::text[]) > 0,
    suspect_reasons = ARRAY(SELECT DISTINCT r FROM unnest(suspect_reasons || $12::text[]) r ORDER BY r),
    emails_sent = emails_sent + 1, updated_at = now()
WHERE id = $1;

-- name: flag_signature
-- Flagged without being refreshed (the address was submitted too often): $2 the reasons.
UPDATE signatures
SET suspect = true,
    suspect_reasons = ARRAY(SELECT DISTINCT r FROM unnest(suspect_reasons || $2::text[]) r ORDER BY r),
    updated_at = now()
WHERE id = $1;

-- name: lock_signature_by_id
SELECT id, email, status FROM signatures WHERE id = $1 FOR UPDATE;

-- name: count_email_sent
UPDATE signatures SET emails_sent = emails_sent + 1 WHERE id = $1;

-- name: insert_token
INSERT INTO signature_tokens (signature_id, purpose, salt, token_hash, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(days => $5))
RETURNING id;

-- name: find_confirmation
-- While the signature is pending, a link shows the details it was sent for (`d`: the token's
-- copy over the signature's own, migration 0016); afterwards, what was confirmed.
SELECT s.id AS signature_id, s.campaign_id, s.status, d.given_name, d.family_name, d.mandate,
       d.territory_level, d.territory_code, d.public, s.suspect, t.expires_at,
       t.expires_at <= now() AS expired
FROM signature_tokens t
JOIN signatures s ON s.id = t.signature_id
CROSS JOIN LATERAL jsonb_populate_record(
    s, coalesce(CASE WHEN s.status = 'pending' THEN t.details END, '{}')) AS d
WHERE t.token_hash = $1 AND t.purpose = 'confirm';

-- name: confirm_signature
UPDATE signatures
SET status = 'confirmed', confirmed_at = now(), updated_at = now()
WHERE id = $1 AND status = 'pending'
RETURNING campaign_id, territory_level, territory_code, suspect;

-- name: confirm_by_token
-- Confirming: the signature behind the token ($1: its hash), confirmed if still pending and not
-- expired, and counted unless suspect, in one statement (one round trip, one transaction). The
-- UPDATE re-checks `pending` on the row it locks, so of two clicks at once one confirms; the
-- other gets confirmed_now = false. Same columns as find_confirmation, plus confirmed_now (and
-- the other details the link confirms).
WITH found AS (
    SELECT s.id AS signature_id, s.campaign_id, s.status, d.given_name, d.family_name, d.mandate,
           d.territory_level, d.territory_code, d.public, s.suspect, t.expires_at,
           t.expires_at <= now() AS expired, d.comment, d.ref, d.letter_version,
           d.consent_version, d.consent_at
    FROM signature_tokens t
    JOIN signatures s ON s.id = t.signature_id
    CROSS JOIN LATERAL jsonb_populate_record(
        s, coalesce(CASE WHEN s.status = 'pending' THEN t.details END, '{}')) AS d
    WHERE t.token_hash = $1 AND t.purpose = 'confirm'
), confirmed AS (
    -- What the link was sent for is what is confirmed (migration 0016).
    UPDATE signatures s
    SET status = 'confirmed', confirmed_at = now(), updated_at = now(),
        given_name = f.given_name, family_name = f.family_name, mandate = f.mandate,
        territory_level = f.territory_level, territory_code = f.territory_code,
        public = f.public, comment = f.comment, ref = f.ref, letter_version = f.letter_version,
        consent_version = f.consent_version, consent_at = f.consent_at
    FROM found f
    WHERE s.id = f.signature_id AND f.status = 'pending' AND NOT f.expired
      AND s.status = 'pending'
    RETURNING s.campaign_id, s.territory_level, s.territory_code, s.suspect
), counted AS (
    INSERT INTO territory_counts (campaign_id, level, code, confirmed)
    SELECT campaign_id, territory_level, territory_code, 1 FROM confirmed WHERE NOT suspect
    ON CONFLICT (campaign_id, level, code)
    DO UPDATE SET confirmed = territory_counts.confirmed + 1
)
SELECT f.*, EXISTS (SELECT 1 FROM confirmed) AS confirmed_now FROM found f;

-- name: confirm_by_tokens
-- Confirmations written together (campaign/confirm_batch.py): confirm_by_token for each of the
-- token hashes of $1, in one statement and one commit, as if they had come one after the other
-- (in the order of $1). Rows: one per token found, with its `item` (1-based) and the columns of
-- confirm_by_token. The same token twice (two clicks) confirms once: the first gets
-- confirmed_now. Counters are added per territory, locked in key order (no deadlock between two
-- batches); the counters' trigger notifies each territory's new value once per batch.
WITH wanted AS (
    SELECT u.hash, u.item FROM unnest($1::bytea[]) WITH ORDINALITY AS u (hash, item)
), found AS (
    SELECT w.item, s.id AS signature_id, s.campaign_id, s.status, d.given_name, d.family_name,
           d.mandate, d.territory_level, d.territory_code, d.public, s.suspect, t.expires_at,
           t.expires_at <= now() AS expired, d.comment, d.ref, d.letter_version,
           d.consent_version, d.consent_at
    FROM wanted w
    JOIN signature_tokens t ON t.token_hash = w.hash AND t.purpose = 'confirm'
    JOIN signatures s ON s.id = t.signature_id
    CROSS JOIN LATERAL jsonb_populate_record(
        s, coalesce(CASE WHEN s.status = 'pending' THEN t.details END, '{}')) AS d
), confirmed AS (
    -- Each signature with the details of its first link here (migration 0016).
    UPDATE signatures s
    SET status = 'confirmed', confirmed_at = now(), updated_at = now(),
        given_name = f.given_name, family_name = f.family_name, mandate = f.mandate,
        territory_level = f.territory_level, territory_code = f.territory_code,
        public = f.public, comment = f.comment, ref = f.ref, letter_version = f.letter_version,
        consent_version = f.consent_version, consent_at = f.consent_at
    FROM (SELECT DISTINCT ON (signature_id) * FROM found
          WHERE status = 'pending' AND NOT expired
          ORDER BY signature_id, item) f
    WHERE s.id = f.signature_id AND s.status = 'pending'
    RETURNING s.id, s.campaign_id, s.territory_level, s.territory_code, s.suspect
), counted AS (
    INSERT INTO territory_counts (campaign_id, level, code, confirmed)
    SELECT campaign_id, territory_level, territory_code, count(*) FROM confirmed
    WHERE NOT suspect
    GROUP BY campaign_id, territory_level, territory_code
    ORDER BY campaign_id, territory_level, territory_code
    ON CONFLICT (campaign_id, level, code)
    DO UPDATE SET confirmed = territory_counts.confirmed + excluded.confirmed
)
SELECT f.*,
       f.item = min(f.item) OVER (PARTITION BY f.signature_id)
       AND EXISTS (SELECT 1 FROM confirmed c WHERE c.id = f.signature_id) AS confirmed_now
FROM found f
ORDER BY f.item;

-- name: public_signatories
SELECT s.given_name, s.family_name, s.mandate, s.territory_level, s.territory_code, s.confirmed_at,
       s.featured, s.verified, s.proof, s.register_match, count(*) OVER () AS total
FROM signatures s
JOIN territories t ON t.level = s.territory_level AND t.code = s.territory_code
WHERE s.campaign_id = $1 AND s.status = 'confirmed' AND s.public AND NOT s.suspect
  AND ($2::text IS NULL OR (s.territory_level = 'region' AND s.territory_code = $2)
                        OR t.region = $2)
  AND ($3::text IS NULL OR (s.territory_level = 'departement' AND s.territory_code = $3)
                        OR t.departement = $3)
  AND ($4::text IS NULL OR s.mandate = $4)
ORDER BY s.featured DESC, s.confirmed_at DESC, s.id DESC
LIMIT $5 OFFSET $6;

-- name: public_signatories_search
-- public_signatories whose « given name family name territory name » contains $5, a LIKE pattern
-- (escaped) folded like that text (migration 0017). The trigram index signatures_public_search
-- covers exactly the rows of this WHERE: its three first conditions are the index's own. The
-- territory is read only for a région or département filter (a join would hash all 35,000
-- territories for each search: most of its time); every signature has its territory (a foreign
-- key), so the rows are public_signatories' own.
SELECT s.given_name, s.family_name, s.mandate, s.territory_level, s.territory_code, s.confirmed_at,
       s.featured, s.verified, s.proof, s.register_match, count(*) OVER () AS total
FROM signatures s
WHERE s.status = 'confirmed' AND s.public AND NOT s.suspect
  AND s.public_search LIKE '%' || public_fold($5::text) || '%'
  AND s.campaign_id = $1
  AND ($2::text IS NULL OR (s.territory_level = 'region' AND s.territory_code = $2)
       OR EXISTS (SELECT 1 FROM territories t
                  WHERE t.level = s.territory_level AND t.code = s.territory_code
                    AND t.region = $2))
  AND ($3::text IS NULL OR (s.territory_level = 'departement' AND s.territory_code = $3)
       OR EXISTS (SELECT 1 FROM territories t
                  WHERE t.level = s.territory_level AND t.code = s.territory_code
                    AND t.departement = $3))
  AND ($4::text IS NULL OR s.mandate = $4)
ORDER BY s.featured DESC, s.confirmed_at DESC, s.id DESC
LIMIT $6 OFFSET $7;

-- name: analyze_rush_tables
-- Fresh statistics for the tables a rush fills (campaign/signing_batch.py): every backend's cached
-- plans over them are made again, for the tables as they now are. What those plans need is the
-- tables' sizes, which any ANALYZE renews; one column each keeps it cheap: a whole ANALYZE would
-- also compute every column's statistics and, for signatures, the back office's search text of
-- 30,000 rows (the trigram index's expression): 9.5 % of PostgreSQL's time in a rush of 20 s.
-- Autovacuum renews the rest.
ANALYZE signatures (id), signature_tokens (id), outbox (id), abuse_counters (kind);

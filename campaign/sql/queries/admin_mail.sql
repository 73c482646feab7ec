-- The outbox as organisers see it, the list to publish, campaign settings.

-- name: admin_outbox_list
SELECT o.id, o.template, o.recipient, o.status, o.attempts, o.last_error, o.created_at,
       o.sent_at, o.next_attempt_at, o.signature_id,
       s.given_name, s.family_name
FROM outbox o
LEFT JOIN signatures s ON s.id = o.signature_id
WHERE ($1::text IS NULL OR o.status = $1)
  AND ($2::bigint IS NULL OR o.id < $2)
ORDER BY o.id DESC
LIMIT $3;

-- name: admin_outbox_retry
-- A failed message goes back to the queue with a full set of attempts; its last error stays
-- until it is sent.
UPDATE outbox
SET status = 'queued', attempts = 0, next_attempt_at = now(), locked_until = NULL
WHERE id = ANY ($1::bigint[]) AND status = 'failed'
RETURNING id, signature_id, last_error;

-- name: admin_outbox_failed_ids
SELECT id FROM outbox WHERE status = 'failed' ORDER BY id LIMIT $1;

-- name: admin_outbox_wake
SELECT pg_notify('outbox', '');

-- name: admin_publication_list
-- What will be published with the letter: confirmed, consenting (never rejected: a rejected
-- signature is not confirmed).
SELECT s.id, s.given_name, s.family_name, s.mandate, s.territory_level, s.territory_code,
       s.featured, t.name AS territory_name,
       CASE s.territory_level WHEN 'commune' THEN t.departement
                              WHEN 'departement' THEN t.code END AS departement,
       CASE s.territory_level WHEN 'region' THEN t.code ELSE t.region END AS region
FROM signatures s
JOIN territories t ON t.level = s.territory_level AND t.code = s.territory_code
WHERE s.campaign_id = $1 AND s.status = 'confirmed' AND s.public AND NOT s.suspect
ORDER BY region NULLS LAST, departement NULLS FIRST, s.family_name, s.given_name, s.id;

-- name: admin_update_campaign_flags
UPDATE campaigns SET status = $2, embargo = $3 WHERE id = $1;

-- name: admin_letter_versions
SELECT v.version, v.created_at, length(v.body) AS length,
       (SELECT count(*) FROM signatures s
        WHERE s.campaign_id = v.campaign_id AND s.letter_version = v.version)::integer AS signed
FROM letter_versions v
WHERE v.campaign_id = $1
ORDER BY v.version DESC;

-- name: admin_campaign_version
SELECT current_version FROM campaigns WHERE id = $1;

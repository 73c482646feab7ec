-- The public face: newest public signatories, hourly history of the counts.

-- name: latest_public_signatories
-- The newest confirmed signatures whose signers agreed to be listed (featured or not), as the
-- public list shows them: never a suspect one (campaign/abuse.py) until an organiser clears it.
SELECT s.given_name, s.family_name, s.mandate, s.territory_level, s.territory_code, s.confirmed_at,
       s.featured, s.verified, s.proof, s.register_match
FROM signatures s
WHERE s.campaign_id = $1 AND s.status = 'confirmed' AND s.public AND NOT s.suspect
ORDER BY s.confirmed_at DESC, s.id DESC
LIMIT $2;

-- name: record_history_hour
-- The counts of every campaign for the hour $1, once: the first process to get there writes the
-- hour and its régions in this one statement; for the others the hour exists and nothing is
-- written. A région is the signer's own (a région code) or that of the commune or département.
WITH totals AS (
    SELECT c.id AS campaign_id,
           coalesce(sum(tc.confirmed), 0)::integer AS total,
           coalesce(sum(tc.verified), 0)::integer AS verified,
           coalesce(sum(tc.register_match), 0)::integer AS register_match
    FROM campaigns c
    LEFT JOIN territory_counts tc ON tc.campaign_id = c.id
    GROUP BY c.id
), hours AS (
    INSERT INTO count_history_hours (campaign_id, hour, total, verified, register_match)
    SELECT campaign_id, $1, total, verified, register_match FROM totals
    ON CONFLICT (campaign_id, hour) DO NOTHING
    RETURNING campaign_id
), regions AS (
    INSERT INTO count_history_regions (campaign_id, hour, region, confirmed, verified)
    SELECT tc.campaign_id, $1, r.region, sum(tc.confirmed)::integer, sum(tc.verified)::integer
    FROM territory_counts tc
    JOIN hours h ON h.campaign_id = tc.campaign_id
    JOIN territories t ON t.level = tc.level AND t.code = tc.code
    CROSS JOIN LATERAL (
        SELECT CASE WHEN tc.level = 'region' THEN tc.code ELSE t.region END AS region
    ) r
    WHERE r.region IS NOT NULL
    GROUP BY tc.campaign_id, r.region
    HAVING sum(tc.confirmed) > 0
    RETURNING 1
)
SELECT (SELECT count(*) FROM hours)::integer AS campaigns,
       (SELECT count(*) FROM regions)::integer AS regions;

-- name: history_hours
SELECT hour, taken_at, total, verified, register_match
FROM count_history_hours
WHERE campaign_id = $1
ORDER BY hour;

-- name: history_regions
SELECT hour, region, confirmed, verified
FROM count_history_regions
WHERE campaign_id = $1
ORDER BY hour, region;

-- name: history_last_hour
SELECT max(hour) FROM count_history_hours WHERE campaign_id = $1;

-- Per-territory counters of confirmed signatures.

-- name: all_counts
SELECT campaign_id, level, code, confirmed, verified, maires, register_match, maires_declared,
       maires_public, maires_public_verified
FROM territory_counts;

-- name: increment_count
INSERT INTO territory_counts (campaign_id, level, code, confirmed)
VALUES ($1, $2, $3, 1)
ON CONFLICT (campaign_id, level, code)
DO UPDATE SET confirmed = territory_counts.confirmed + 1;

-- name: opendata_mandates
-- The open data's counts per mandate (campaign/publication/opendata.py): confirmed signatures
-- that count (not set aside as suspect), and the verified among them, as the counters hold them.
SELECT mandate, count(*) AS declared, count(*) FILTER (WHERE verified) AS verified
FROM signatures
WHERE campaign_id = $1 AND status = 'confirmed' AND NOT suspect
GROUP BY mandate;

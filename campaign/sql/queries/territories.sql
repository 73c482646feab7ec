-- Régions, départements and communes: loading the vendored file, reading them back.

-- name: territories_lock
-- Two processes loading at the same time queue here instead of racing on the staging diff.
SELECT pg_advisory_xact_lock(hashtext('campaign.territories'))

-- name: territories_create_staging
CREATE TEMP TABLE territories_staging (LIKE territories INCLUDING DEFAULTS) ON COMMIT DROP

-- name: territories_upsert
-- Rows that did not change are not rewritten, so a re-run leaves no dead tuples behind.
INSERT INTO territories AS t (level, code, name, departement, region, population, postal_codes)
SELECT level, code, name, departement, region, population, postal_codes
FROM territories_staging
ON CONFLICT (level, code) DO UPDATE
SET name = excluded.name,
    departement = excluded.departement,
    region = excluded.region,
    population = excluded.population,
    postal_codes = excluded.postal_codes
WHERE (t.name, t.departement, t.region, t.population, t.postal_codes)
      IS DISTINCT FROM
      (excluded.name, excluded.departement, excluded.region, excluded.population,
       excluded.postal_codes)

-- name: territories_delete_stale
-- A territory gone from the file (a commune merged into a commune nouvelle) stays while a
-- signature still names it.
DELETE FROM territories t
WHERE NOT EXISTS (SELECT 1 FROM territories_staging s WHERE s.level = t.level AND s.code = t.code)
  AND NOT EXISTS (SELECT 1 FROM signatures g
                  WHERE g.territory_level = t.level AND g.territory_code = t.code)

-- name: territories_stale_kept
SELECT t.level, t.code
FROM territories t
WHERE NOT EXISTS (SELECT 1 FROM territories_staging s WHERE s.level = t.level AND s.code = t.code)
ORDER BY t.level, t.code

-- name: territories_count
SELECT count(*) FROM territories

-- name: territories_all
SELECT level, code, name, departement, region, population, postal_codes
FROM territories
ORDER BY level, code

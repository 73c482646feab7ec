-- The publication at the launch instant (campaign/launch.py) and the closing date.

-- name: published_signatories
-- Everyone the published letter lists: confirmed (so never rejected, withdrawn or pending),
-- agreed to be listed, not set aside as suspect. With the région and département they belong to
-- (a regional mandate has no département); grouped and sorted by the application, read in id
-- order so that the same rows give the same digest (campaign/publication.py).
SELECT s.given_name, s.family_name, s.mandate, s.territory_level, s.territory_code, s.confirmed_at,
       s.featured, s.verified, s.proof, s.register_match,
       CASE s.territory_level WHEN 'region' THEN s.territory_code ELSE t.region END AS region,
       CASE s.territory_level WHEN 'commune' THEN t.departement
                              WHEN 'departement' THEN s.territory_code END AS departement
FROM signatures s
JOIN territories t ON t.level = s.territory_level AND t.code = s.territory_code
WHERE s.campaign_id = $1 AND s.status = 'confirmed' AND s.public AND NOT s.suspect
ORDER BY s.id;

-- name: set_campaign_closing
UPDATE campaigns SET closing_at = $2 WHERE id = $1;

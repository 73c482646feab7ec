-- Territorial catalysts: their accounts' territory and relay, their console's queues, their
-- visits and calls, their coverage over time, and the alliance of mandate levels per territory.

-- name: catalyst_insert
INSERT INTO catalysts (organiser_id, name, relay_id) VALUES ($1, $2, $3);

-- name: catalyst_add_territory
INSERT INTO catalyst_territories (organiser_id, territory_level, territory_code)
VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING;

-- name: catalyst_get
-- A catalyst's account, name and relay ($1: the organiser's id).
SELECT c.organiser_id AS id, o.email, c.name, c.relay_id, r.code AS relay_code,
       r.campaign_id, o.active
FROM catalysts c
JOIN organisers o ON o.id = c.organiser_id
JOIN relays r ON r.id = c.relay_id
WHERE c.organiser_id = $1;

-- name: catalyst_territories
SELECT territory_level AS level, territory_code AS code
FROM catalyst_territories
WHERE organiser_id = $1
ORDER BY territory_level DESC, territory_code;

-- name: catalyst_list
-- Every catalyst of a campaign's relays ($1), with their territories and how many contacts.
SELECT c.organiser_id AS id, o.email, c.name, r.code AS relay_code, o.active,
       coalesce((SELECT array_agg(t.territory_level || ':' || t.territory_code
                                  ORDER BY t.territory_level DESC, t.territory_code)
                 FROM catalyst_territories t WHERE t.organiser_id = c.organiser_id),
                '{}'::text[]) AS territories,
       (SELECT count(*) FROM catalyst_contacts k
        WHERE k.organiser_id = c.organiser_id AND k.campaign_id = $1)::integer AS contacts
FROM catalysts c
JOIN organisers o ON o.id = c.organiser_id
JOIN relays r ON r.id = c.relay_id
WHERE r.campaign_id = $1
ORDER BY c.name, c.organiser_id;

-- name: catalyst_communes_state
-- Where each commune of the list ($2) stands in the campaign ($1): invitations sent, the maire's
-- signature (confirmed, verified), other officials' confirmed signatures, the last contact noted.
SELECT c.code,
       EXISTS (SELECT 1 FROM invitations i JOIN outbox o ON o.invitation_id = i.id AND o.bulk
               WHERE i.campaign_id = $1 AND i.territory_level = 'commune'
                 AND i.territory_code = c.code) AS invited,
       coalesce(bool_or(s.mandate = 'maire'), false) AS maire_signed,
       coalesce(bool_or(s.mandate = 'maire' AND s.verified), false) AS maire_verified,
       count(s.id)::integer AS signed,
       last.kind AS last_kind, last.note AS last_note, last.at AS last_at
FROM unnest($2::text[]) AS c (code)
LEFT JOIN signatures s ON s.campaign_id = $1 AND s.status = 'confirmed'
                      AND s.territory_level = 'commune' AND s.territory_code = c.code
LEFT JOIN LATERAL (
    SELECT k.kind, k.note, k.at FROM catalyst_contacts k
    WHERE k.campaign_id = $1 AND k.territory_code = c.code
    ORDER BY k.id DESC LIMIT 1
) last ON true
GROUP BY c.code, last.kind, last.note, last.at;

-- name: catalyst_contact_insert
INSERT INTO catalyst_contacts (organiser_id, campaign_id, territory_code, kind, note)
VALUES ($1, $2, $3, $4, $5)
RETURNING id;

-- name: catalyst_contacts_recent
-- The newest contacts noted in a campaign ($1), by whom ($2: a catalyst, or NULL for all), where
-- ($3: a commune, or NULL for all).
SELECT k.id, k.at, k.kind, k.note, k.territory_code, c.name AS catalyst_name
FROM catalyst_contacts k
LEFT JOIN catalysts c ON c.organiser_id = k.organiser_id
WHERE k.campaign_id = $1 AND ($2::bigint IS NULL OR k.organiser_id = $2)
  AND ($3::text IS NULL OR k.territory_code = $3)
ORDER BY k.id DESC
LIMIT $4;

-- name: catalyst_coverage_days
-- The day each commune of the list ($2) got its maire's first confirmed signature ($1: campaign).
SELECT (min(confirmed_at) AT TIME ZONE 'Europe/Paris')::date AS day, territory_code AS code
FROM signatures
WHERE campaign_id = $1 AND status = 'confirmed' AND mandate = 'maire'
  AND territory_level = 'commune' AND territory_code = ANY ($2::text[])
GROUP BY territory_code;

-- name: alliance_signed
-- Confirmed signatures of a campaign ($1) in these communes ($2), départements ($3), régions ($4).
SELECT mandate, territory_level, territory_code, given_name, family_name, verified
FROM signatures
WHERE campaign_id = $1 AND status = 'confirmed'
  AND ((territory_level = 'commune' AND territory_code = ANY ($2::text[]))
    OR (territory_level = 'departement' AND territory_code = ANY ($3::text[]))
    OR (territory_level = 'region' AND territory_code = ANY ($4::text[])))
ORDER BY mandate, family_name, given_name;

-- name: alliance_register
-- The register's holders of the alliance's mandates in these communes, départements, régions.
SELECT mandate, territory_level, territory_code, given_name, family_name, family_key, given_key
FROM officials
WHERE mandate IN ('maire', 'president_intercommunalite', 'conseiller_departemental',
                  'president_departement', 'conseiller_regional', 'president_region',
                  'depute', 'senateur')
  AND ((territory_level = 'commune' AND territory_code = ANY ($1::text[]))
    OR (territory_level = 'departement' AND territory_code = ANY ($2::text[]))
    OR (territory_level = 'region' AND territory_code = ANY ($3::text[])))
ORDER BY mandate, family_name, given_name;

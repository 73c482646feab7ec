-- Relays: their codes, secret links, what they brought; rankings and where to call next.

-- name: relay_insert
INSERT INTO relays (campaign_id, name, territory_level, territory_code, code, token_salt,
                    token_hash)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (campaign_id, code) DO NOTHING
RETURNING id;

-- name: relay_get
SELECT id, campaign_id, name, territory_level, territory_code, code, token_salt, active,
       created_at
FROM relays WHERE id = $1;

-- name: relay_by_token
SELECT id, campaign_id, name, territory_level, territory_code, code, token_salt, active,
       created_at
FROM relays WHERE token_hash = $1 AND active;

-- name: relay_new_token
UPDATE relays SET token_salt = $2, token_hash = $3 WHERE id = $1 RETURNING id;

-- name: relay_set_active
UPDATE relays SET active = $2 WHERE id = $1 RETURNING id;

-- name: relay_ranking
-- Every relay of the campaign with the signatures it brought: through its own code, or through
-- the code of an invitation it brought. Best first.
WITH codes AS (
    SELECT r.id AS relay_id, r.code FROM relays r WHERE r.campaign_id = $1
    UNION ALL
    SELECT i.relay_id, i.code FROM invitations i
    WHERE i.campaign_id = $1 AND i.relay_id IS NOT NULL
)
SELECT r.id, r.name, r.code, r.territory_level, r.territory_code, r.active,
       count(s.id) FILTER (WHERE s.status = 'confirmed')::integer AS confirmed,
       count(s.id) FILTER (WHERE s.status = 'pending')::integer AS pending,
       count(s.id) FILTER (WHERE s.status = 'confirmed' AND s.verified)::integer AS verified,
       count(DISTINCT s.territory_code) FILTER (
           WHERE s.status = 'confirmed' AND s.verified AND s.mandate = 'maire')::integer
           AS maires
FROM relays r
LEFT JOIN codes c ON c.relay_id = r.id
LEFT JOIN signatures s ON s.campaign_id = r.campaign_id AND s.ref = c.code AND NOT s.suspect
WHERE r.campaign_id = $1
GROUP BY r.id
ORDER BY confirmed DESC, pending DESC, r.name, r.id;

-- name: relay_signatures
-- What a relay brought ($2): confirmed and pending signatures, newest first. The relay's page
-- names only those who agreed to be listed.
SELECT s.given_name, s.family_name, s.mandate, s.territory_level, s.territory_code, s.public,
       s.status, s.verified, s.proof, s.register_match, s.confirmed_at, s.created_at
FROM signatures s
WHERE s.campaign_id = $1 AND s.status IN ('confirmed', 'pending') AND NOT s.suspect
  AND s.ref IN (SELECT code FROM relays WHERE id = $2
                UNION ALL SELECT code FROM invitations WHERE relay_id = $2)
ORDER BY s.confirmed_at DESC NULLS LAST, s.id DESC
LIMIT $3;

-- name: relay_totals
SELECT count(*) FILTER (WHERE s.status = 'confirmed')::integer AS confirmed,
       count(*) FILTER (WHERE s.status = 'pending')::integer AS pending,
       count(*) FILTER (WHERE s.status = 'confirmed' AND s.public)::integer AS listed,
       count(*) FILTER (WHERE s.status = 'confirmed' AND s.verified)::integer AS verified,
       count(*) FILTER (WHERE s.status = 'confirmed' AND s.register_match)::integer
           AS register_match
FROM signatures s
WHERE s.campaign_id = $1 AND s.status IN ('confirmed', 'pending') AND NOT s.suspect
  AND s.ref IN (SELECT code FROM relays WHERE id = $2
                UNION ALL SELECT code FROM invitations WHERE relay_id = $2);

-- name: communes_maires
-- The maires of the register for these communes ($1: INSEE codes), for calling them.
SELECT territory_code AS code, given_name, family_name
FROM officials
WHERE mandate = 'maire' AND territory_level = 'commune' AND territory_code = ANY ($1::text[]);

-- name: communes_invited
-- Communes of the list ($2) where the campaign ($1) has an invitee, with the best status.
SELECT i.territory_code AS code, count(*)::integer AS invitees,
       bool_or(o.status = 'sent') AS invited
FROM invitations i
LEFT JOIN outbox o ON o.invitation_id = i.id AND o.bulk
WHERE i.campaign_id = $1 AND i.territory_level = 'commune' AND i.territory_code = ANY ($2::text[])
GROUP BY i.territory_code;

-- Invitations: invitees of a campaign, their personal links, who already signed.

-- name: invitations_insert_many
-- Columns as arrays (one element per invitee); an address already invited is left as it was.
-- Returns how many were added.
WITH added AS (
    INSERT INTO invitations (campaign_id, email, given_name, family_name, mandate,
                             territory_level, territory_code, relay_id, source, code,
                             token_salt, token_hash)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[],
                         $11::bytea[], $12::bytea[])
    ON CONFLICT (campaign_id, email) DO NOTHING
    RETURNING 1
)
SELECT count(*)::integer FROM added;

-- name: invitation_by_token
SELECT given_name, family_name, mandate, territory_level, territory_code, code
FROM invitations WHERE token_hash = $1;

-- name: invitation_for_mail
-- What the invitation email needs ($1: the invitation).
SELECT i.given_name, i.family_name, i.mandate, i.territory_level, i.code, i.token_salt,
       t.code AS territory_code, t.name AS territory_name, t.departement AS territory_departement,
       c.title AS campaign_title
FROM invitations i
JOIN campaigns c ON c.id = i.campaign_id
JOIN territories t ON t.level = i.territory_level AND t.code = i.territory_code
WHERE i.id = $1;

-- name: invitations_list
-- The invitees, with where they stand ($2: département or NULL, $3: status or NULL), newest
-- first, with the total of the selection on every row.
WITH listed AS (
    SELECT i.id, i.given_name, i.family_name, i.mandate, i.territory_level, i.territory_code,
           i.source, i.code, r.name AS relay_name, i.created_at,
           CASE
               WHEN s.status = 'confirmed' THEN 'signed'
               WHEN s.status = 'pending' THEN 'pending'
               WHEN sup.email_hash IS NOT NULL THEN 'opted_out'
               WHEN o.status = 'sent' THEN 'invited'
               WHEN o.status IN ('queued', 'sending') THEN 'queued'
               WHEN o.status = 'failed' THEN 'failed'
               ELSE 'new'
           END AS status
    FROM invitations i
    LEFT JOIN relays r ON r.id = i.relay_id
    LEFT JOIN territories t ON t.level = i.territory_level AND t.code = i.territory_code
    LEFT JOIN signatures s ON s.campaign_id = i.campaign_id AND s.email = i.email
    LEFT JOIN outbox o ON o.invitation_id = i.id AND o.bulk
    LEFT JOIN suppressions sup ON sup.email_hash = email_hash(i.email)
    WHERE i.campaign_id = $1
      AND ($2::text IS NULL OR coalesce(t.departement, CASE WHEN i.territory_level = 'departement'
                                                             THEN i.territory_code END) = $2)
)
SELECT *, count(*) OVER ()::integer AS total
FROM listed
WHERE $3::text IS NULL OR status = $3
ORDER BY id DESC
LIMIT $4 OFFSET $5;

-- name: invitations_summary
SELECT count(*)::integer AS invitees,
       count(o.id) FILTER (WHERE o.status = 'sent')::integer AS invited,
       count(s.id) FILTER (WHERE s.status = 'confirmed')::integer AS signed,
       count(s.id) FILTER (WHERE s.status = 'confirmed' AND s.ref = i.code)::integer
           AS signed_with_link
FROM invitations i
LEFT JOIN signatures s ON s.campaign_id = i.campaign_id AND s.email = i.email
LEFT JOIN outbox o ON o.invitation_id = i.id AND o.bulk
WHERE i.campaign_id = $1;

-- name: invitations_uninvited_count
-- Invitees a new invitation mailing would reach ($2: département or NULL, $3: relay or NULL).
SELECT count(*)::integer
FROM invitations i
LEFT JOIN territories t ON t.level = i.territory_level AND t.code = i.territory_code
WHERE i.campaign_id = $1
  AND ($2::text IS NULL OR coalesce(t.departement, CASE WHEN i.territory_level = 'departement'
                                                         THEN i.territory_code END) = $2)
  AND ($3::bigint IS NULL OR i.relay_id = $3)
  AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.invitation_id = i.id AND o.bulk)
  AND NOT EXISTS (SELECT 1 FROM signatures s
                  WHERE s.campaign_id = i.campaign_id AND s.email = i.email)
  AND NOT EXISTS (SELECT 1 FROM suppressions sup WHERE sup.email_hash = email_hash(i.email));

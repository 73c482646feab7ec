-- Campaigns and the versions of their letter.

-- name: list_campaigns
SELECT c.id, c.slug, c.title, c.addressees, c.summary, c.launch_at, c.goal, c.status, c.embargo,
       c.current_version, v.body, c.closing_at
FROM campaigns c
JOIN letter_versions v ON v.campaign_id = c.id AND v.version = c.current_version
ORDER BY c.id;

-- name: campaign_id_by_slug
SELECT id FROM campaigns WHERE slug = $1;

-- name: insert_campaign
INSERT INTO campaigns (slug, title, addressees, summary, launch_at, goal)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id;

-- name: update_campaign_fields
UPDATE campaigns
SET title = $2, addressees = $3, summary = $4, launch_at = $5, goal = $6
WHERE id = $1;

-- name: latest_letter
SELECT version, body FROM letter_versions
WHERE campaign_id = $1
ORDER BY version DESC
LIMIT 1;

-- name: insert_letter_version
INSERT INTO letter_versions (campaign_id, version, body) VALUES ($1, $2, $3);

-- name: set_current_version
UPDATE campaigns SET current_version = $2 WHERE id = $1;

-- Webhooks (campaign/hooks/): endpoints, their deliveries' queue, the delivery log.

-- name: hook_endpoint_insert
INSERT INTO webhook_endpoints (campaign_id, url, events, secret_salt, created_by)
VALUES ($1, $2, $3, $4, $5)
RETURNING id;

-- name: hook_endpoints
-- A campaign's endpoints with their deliveries' tallies, for the back office.
SELECT e.id, e.url, e.events, e.active, e.created_at,
       count(d.id) FILTER (WHERE d.status = 'delivered') AS delivered,
       count(d.id) FILTER (WHERE d.status IN ('queued', 'sending')) AS waiting,
       count(d.id) FILTER (WHERE d.status = 'failed') AS failed
FROM webhook_endpoints e
LEFT JOIN webhook_deliveries d ON d.endpoint_id = e.id
WHERE e.campaign_id = $1
GROUP BY e.id
ORDER BY e.id;

-- name: hook_endpoint
SELECT id, campaign_id, url, events, active, created_at, secret_salt
FROM webhook_endpoints WHERE id = $1;

-- name: hook_endpoint_set_active
UPDATE webhook_endpoints SET active = $2 WHERE id = $1 AND campaign_id = $3
RETURNING id;

-- name: hook_endpoint_delete
DELETE FROM webhook_endpoints WHERE id = $1 AND campaign_id = $2
RETURNING id;

-- name: hook_ping
-- The back office's « test » button: a `ping` for this endpoint alone. The worker is woken.
WITH ping AS (
    INSERT INTO webhook_deliveries (endpoint_id, event)
    VALUES ($1, 'ping')
    RETURNING id
)
SELECT ping.id, pg_notify('webhooks', '') IS NULL AS woken FROM ping;

-- name: hook_deliveries
-- An endpoint's delivery log, newest first: a page of $2 rows before id $3 (NULL: the newest).
SELECT id, delivery_id, event, signature_id, occurred_at, status, attempts, next_attempt_at,
       last_status, last_error, delivered_at
FROM webhook_deliveries
WHERE endpoint_id = $1 AND ($3::bigint IS NULL OR id < $3)
ORDER BY id DESC
LIMIT $2;

-- name: hook_claim
-- Due deliveries, and those whose sender's lease ran out: taken with a lease ($2 seconds) and
-- one more attempt, up to $1 of each; SKIP LOCKED lets workers claim side by side.
WITH queued AS (
    SELECT id FROM webhook_deliveries
    WHERE status = 'queued' AND next_attempt_at <= now()
    ORDER BY next_attempt_at, id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), expired AS (
    SELECT id FROM webhook_deliveries
    WHERE status = 'sending' AND locked_until <= now()
    ORDER BY locked_until, id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), due AS (
    SELECT id FROM queued UNION ALL SELECT id FROM expired
)
UPDATE webhook_deliveries d
SET status = 'sending', attempts = d.attempts + 1,
    locked_until = now() + make_interval(secs => $2)
FROM due, webhook_endpoints e, campaigns c
WHERE d.id = due.id AND e.id = d.endpoint_id AND c.id = e.campaign_id
RETURNING d.id, d.delivery_id, d.event, d.signature_id, d.occurred_at, d.attempts,
          e.id AS endpoint_id, e.url, e.secret_salt, e.active, c.id AS campaign_id,
          c.slug AS campaign_slug;

-- name: hook_signature
-- What a signature event may carry, read when it is sent: only what the signer made public.
-- `listed`: their name may go out (they agreed to be listed, are not set aside as suspect, and
-- the campaign's names are not under embargo before the launch).
SELECT s.id, s.status, s.anonymised_at IS NOT NULL AS erased, s.mandate, s.territory_level,
       s.territory_code, t.name AS territory_name, t.departement, t.region, s.verified,
       s.confirmed_at,
       (s.public AND NOT s.suspect
        AND (NOT c.embargo OR (c.status <> 'draft' AND c.launch_at <= now()))) AS listed,
       s.given_name, s.family_name
FROM signatures s
JOIN campaigns c ON c.id = s.campaign_id
LEFT JOIN territories t ON t.level = s.territory_level AND t.code = s.territory_code
WHERE s.id = $1;

-- name: hook_campaign
SELECT slug, title, launch_at FROM campaigns WHERE id = $1;

-- name: hook_mark_delivered
UPDATE webhook_deliveries
SET status = 'delivered', delivered_at = now(), locked_until = NULL, last_status = $3,
    last_error = NULL
WHERE id = $1 AND status = 'sending' AND attempts = $2;

-- name: hook_mark_retry
UPDATE webhook_deliveries
SET status = 'queued', next_attempt_at = now() + make_interval(secs => $3), locked_until = NULL,
    last_status = $4, last_error = $5
WHERE id = $1 AND status = 'sending' AND attempts = $2;

-- name: hook_mark_ended
-- Failed for good (`failed`) or not to be sent any more (`dropped`: its signer withdrew, its
-- endpoint was switched off).
UPDATE webhook_deliveries
SET status = $3, locked_until = NULL, last_status = $4, last_error = $5
WHERE id = $1 AND status = 'sending' AND attempts = $2;

-- name: hook_publish_due
-- Announces each campaign once when its letter is published (its launch instant has come):
-- one `campaign.published` per endpoint that asked for it; rows: the deliveries queued.
WITH newly AS (
    INSERT INTO webhook_published (campaign_id)
    SELECT id FROM campaigns WHERE status <> 'draft' AND launch_at <= now()
    ON CONFLICT DO NOTHING
    RETURNING campaign_id
)
INSERT INTO webhook_deliveries (endpoint_id, event)
SELECT e.id, 'campaign.published'
FROM webhook_endpoints e JOIN newly n ON n.campaign_id = e.campaign_id
WHERE e.active AND 'campaign.published' = ANY (e.events)
RETURNING id;

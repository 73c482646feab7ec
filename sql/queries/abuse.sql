-- Abuse signals: limits' counters, organisers' block lists (see campaign/abuse.py).

-- name: abuse_assess
-- One signing counted against every limit, in one statement. $1 kinds and $2 keys go together
-- (for `campaign`, one shard chosen at random); $3 every shard of the campaign, summed for the
-- campaign-wide figure. $4 the address, $5 its domain, $6 the client address (or NULL), matched
-- against the block lists. Rows: (kind, hits in this hour) and ('blocked_<kind>', 1).
WITH hit AS (
    INSERT INTO abuse_counters AS c (kind, key, window_start, hits)
    SELECT u.kind, u.key, date_trunc('hour', now()), 1
    FROM unnest($1::text[], $2::bytea[]) AS u (kind, key)
    ON CONFLICT (kind, key, window_start) DO UPDATE SET hits = c.hits + 1
    RETURNING c.kind, c.key, c.hits
)
SELECT h.kind,
       h.hits + CASE WHEN h.kind = 'campaign' THEN coalesce((
           SELECT sum(o.hits) FROM abuse_counters o
           WHERE o.kind = 'campaign' AND o.key = ANY ($3::bytea[]) AND o.key <> h.key
             AND o.window_start = date_trunc('hour', now())), 0) ELSE 0 END AS hits
FROM hit h
UNION ALL
SELECT DISTINCT 'blocked_' || b.kind, 1
FROM block_list b
WHERE (b.kind = 'email' AND b.value = $4::text)
   OR (b.kind = 'domain' AND ($5::text = b.value OR right($5::text, length(b.value) + 1) = '.' || b.value))
   OR (b.kind = 'network' AND $6::inet <<= b.network);

-- name: abuse_forget_counters
-- Counters older than $1 days: `campaign purge`.
DELETE FROM abuse_counters WHERE window_start < now() - make_interval(days => $1);

-- name: abuse_old_counters
SELECT count(*) FROM abuse_counters WHERE window_start < now() - make_interval(days => $1);

-- name: block_list_all
SELECT id, kind, value, reason, created_by, created_at FROM block_list ORDER BY kind, value;

-- name: block_list_add
INSERT INTO block_list (kind, value, network, reason, created_by)
VALUES ($1, $2, $3::cidr, $4, $5)
ON CONFLICT (kind, value) DO NOTHING
RETURNING id;

-- name: block_list_remove
DELETE FROM block_list WHERE id = $1 RETURNING kind, value, reason;

-- Abuse signals: limits' counters, organisers' block lists (see campaign/abuse.py).

-- name: abuse_assess
-- One signing counted against every limit, in one statement. $1 kinds and $2 keys go together
-- (for `campaign`, one shard chosen at random); $3 every shard of the campaign, summed for the
-- campaign-wide figure. $4 the address, $5 its domain, $6 the client address (or NULL), matched
-- against the block lists. Rows: (kind, hits in this hour) and ('blocked_<kind>', 1).
-- Committed without waiting for the disk (see abuse_assess_batch).
WITH relaxed AS (
    SELECT set_config('synchronous_commit', 'off', true)
), hit AS (
    INSERT INTO abuse_counters AS c (kind, key, window_start, hits)
    SELECT u.kind, u.key, date_trunc('hour', now()), 1
    FROM unnest($1::text[], $2::bytea[]) AS u (kind, key)
    CROSS JOIN relaxed
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

-- name: abuse_assess_batch
-- Signings written together (campaign/signing_batch.py) counted against every limit, in one
-- statement: what abuse_assess does for one, each signing seeing the hits as if they had come one
-- after the other (in the order of $1). $1 items (1-based), $2 kinds and $3 keys go together, one
-- row per (signing, counter); $4 every shard of the campaign; $5 addresses, $6 their domains and
-- $7 clients (or NULL), one per signing, in order. Counters are locked in (kind, key) order, so
-- two batches at once cannot deadlock on them. Rows: (item, kind, hits), (item, 'blocked_<kind>', 1).
-- Committed without waiting for the disk (synchronous_commit off, for this transaction only):
-- counters lost in a crash would only let a few signings escape a limit, and the signings'
-- own commit, just after, flushes them anyway; one disk flush per batch less.
WITH relaxed AS (
    SELECT set_config('synchronous_commit', 'off', true)
), wanted AS (
    SELECT u.item, u.kind, u.key
    FROM unnest($1::integer[], $2::text[], $3::bytea[]) AS u (item, kind, key)
), added AS (
    SELECT kind, key, count(*)::integer AS n FROM wanted GROUP BY kind, key
), hit AS (
    INSERT INTO abuse_counters AS c (kind, key, window_start, hits)
    SELECT kind, key, date_trunc('hour', now()), n FROM added CROSS JOIN relaxed
    ORDER BY kind, key
    ON CONFLICT (kind, key, window_start) DO UPDATE SET hits = c.hits + excluded.hits
    RETURNING c.kind, c.key, c.hits
), campaign_total AS (
    SELECT (SELECT coalesce(sum(h.hits), 0) FROM hit h WHERE h.kind = 'campaign')
         + (SELECT coalesce(sum(o.hits), 0) FROM abuse_counters o
            WHERE o.kind = 'campaign' AND o.key = ANY ($4::bytea[])
              AND o.window_start = date_trunc('hour', now())
              AND o.key NOT IN (SELECT h.key FROM hit h WHERE h.kind = 'campaign')) AS hits
)
SELECT w.item::bigint AS item, w.kind,
       CASE WHEN w.kind = 'campaign'
            THEN (SELECT t.hits FROM campaign_total t)
                 - count(*) OVER (PARTITION BY w.kind)
                 + row_number() OVER (PARTITION BY w.kind ORDER BY w.item)
            ELSE h.hits - a.n + row_number() OVER (PARTITION BY w.kind, w.key ORDER BY w.item)
       END AS hits
FROM wanted w
JOIN added a ON a.kind = w.kind AND a.key = w.key
JOIN hit h ON h.kind = w.kind AND h.key = w.key
UNION ALL
SELECT DISTINCT e.item, 'blocked_' || b.kind, 1
FROM unnest($5::text[], $6::text[], $7::inet[]) WITH ORDINALITY AS e (email, domain, client, item)
JOIN block_list b
  ON (b.kind = 'email' AND b.value = e.email)
  OR (b.kind = 'domain' AND (e.domain = b.value OR right(e.domain, length(b.value) + 1) = '.' || b.value))
  OR (b.kind = 'network' AND e.client <<= b.network);

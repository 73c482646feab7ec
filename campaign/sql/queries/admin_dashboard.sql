-- The dashboard's figures, one campaign at a time.

-- name: admin_totals_by_status
-- And the suspects awaiting a decision (pending or confirmed: already in those statuses' rows).
SELECT status, count(*)::integer AS n FROM signatures WHERE campaign_id = $1 GROUP BY status
UNION ALL
SELECT 'suspect', count(*)::integer FROM signatures
WHERE campaign_id = $1 AND suspect AND status IN ('pending', 'confirmed');

-- name: admin_per_day
-- Signatures received and confirmed per day (Paris time), the last $2 days.
WITH days AS (
    SELECT generate_series((now() AT TIME ZONE 'Europe/Paris')::date - ($2::integer - 1),
                           (now() AT TIME ZONE 'Europe/Paris')::date, '1 day')::date AS day
), received AS (
    SELECT (created_at AT TIME ZONE 'Europe/Paris')::date AS day, count(*)::integer AS n
    FROM signatures
    WHERE campaign_id = $1 AND created_at >= now() - make_interval(days => $2::integer + 1)
    GROUP BY 1
), confirmed AS (
    SELECT (confirmed_at AT TIME ZONE 'Europe/Paris')::date AS day, count(*)::integer AS n
    FROM signatures
    WHERE campaign_id = $1 AND confirmed_at >= now() - make_interval(days => $2::integer + 1)
      AND status = 'confirmed'
    GROUP BY 1
)
SELECT d.day, coalesce(r.n, 0) AS received, coalesce(c.n, 0) AS confirmed
FROM days d
LEFT JOIN received r ON r.day = d.day
LEFT JOIN confirmed c ON c.day = d.day
ORDER BY d.day;

-- name: admin_by_mandate
SELECT mandate,
       count(*) FILTER (WHERE status = 'confirmed')::integer AS confirmed,
       count(*) FILTER (WHERE status = 'pending')::integer AS pending
FROM signatures WHERE campaign_id = $1
GROUP BY mandate;

-- name: admin_by_ref
SELECT ref,
       count(*) FILTER (WHERE status = 'confirmed')::integer AS confirmed,
       count(*)::integer AS total
FROM signatures WHERE campaign_id = $1 AND ref IS NOT NULL
GROUP BY ref
ORDER BY confirmed DESC, total DESC, ref
LIMIT $2;

-- name: admin_outbox_by_status
SELECT status, count(*)::integer AS n FROM outbox GROUP BY status;

-- name: admin_verified_count
SELECT admin_verified_count($1);

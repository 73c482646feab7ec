-- The audit log: appended to, never changed (a trigger refuses UPDATE and DELETE).

-- name: admin_audit_insert
INSERT INTO audit_log (organiser_id, organiser_email, action, target_type, target_id,
                       before, after, detail)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb)
RETURNING id;

-- name: admin_audit_recent
SELECT id, at, organiser_email, action, target_type, target_id,
       before::text AS before, after::text AS after, detail::text AS detail
FROM audit_log
WHERE ($1::bigint IS NULL OR id < $1)
  AND ($2::text IS NULL OR action = $2)
ORDER BY id DESC
LIMIT $3;

-- name: admin_audit_for_target
SELECT id, at, organiser_email, action, target_type, target_id,
       before::text AS before, after::text AS after, detail::text AS detail
FROM audit_log
WHERE target_type = $1 AND target_id = $2
ORDER BY id;

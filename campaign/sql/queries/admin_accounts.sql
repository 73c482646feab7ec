-- Organiser accounts, their server-side sessions and the login throttle.

-- name: admin_organiser_by_email
SELECT id, email, password_hash, role, active FROM organisers WHERE email = $1;

-- name: admin_organiser_by_id
SELECT id, email, role, active, created_at, last_login_at FROM organisers WHERE id = $1;

-- name: admin_insert_organiser
INSERT INTO organisers (email, password_hash, role) VALUES ($1, $2, $3)
ON CONFLICT (email) DO NOTHING
RETURNING id;

-- name: admin_set_organiser_password_role
UPDATE organisers SET password_hash = $2, role = $3, active = true WHERE id = $1;

-- name: admin_set_password_hash
UPDATE organisers SET password_hash = $2 WHERE id = $1;

-- name: admin_set_organiser_role
UPDATE organisers SET role = $2 WHERE id = $1
RETURNING id;

-- name: admin_set_organiser_active
UPDATE organisers SET active = $2 WHERE id = $1
RETURNING id;

-- name: admin_list_organisers
SELECT id, email, role, active, created_at, last_login_at FROM organisers ORDER BY email;

-- name: admin_count_active_admins
SELECT count(*) FROM organisers WHERE role = 'admin' AND active;

-- name: admin_record_login
UPDATE organisers SET last_login_at = now() WHERE id = $1;

-- name: admin_create_session
-- $3: absolute lifetime in seconds, fixed now; expired sessions are swept on the way.
WITH swept AS (DELETE FROM admin_sessions WHERE expires_at <= now()
                  OR last_seen_at <= now() - make_interval(secs => $4))
INSERT INTO admin_sessions (id_hash, organiser_id, expires_at)
VALUES ($1, $2, now() + make_interval(secs => $3));

-- name: admin_touch_session
-- The session's account, if the session is alive (absolute and idle limits); marks it used.
WITH s AS (
    UPDATE admin_sessions SET last_seen_at = now()
    WHERE id_hash = $1 AND expires_at > now()
      AND last_seen_at > now() - make_interval(secs => $2)
    RETURNING organiser_id
)
SELECT o.id, o.email, o.role FROM s JOIN organisers o ON o.id = s.organiser_id WHERE o.active;

-- name: admin_delete_session
DELETE FROM admin_sessions WHERE id_hash = $1;

-- name: admin_delete_sessions_of
DELETE FROM admin_sessions WHERE organiser_id = $1;

-- name: admin_throttle_wait
-- Seconds before the next attempt allowed for any of these keys (0 when none is delayed).
SELECT coalesce(ceil(max(extract(epoch FROM not_before - now()))), 0)::integer
FROM login_failures
WHERE key_hash = ANY ($1::bytea[]) AND not_before > now();

-- name: admin_throttle_fail
-- One more failure for a key: past $2 free failures, the next attempt waits $3 s, doubling each
-- time, at most $4 s. Failures older than $5 s are forgotten.
INSERT INTO login_failures AS f (key_hash, failures, last_failure_at, not_before)
VALUES ($1, 1, now(), now())
ON CONFLICT (key_hash) DO UPDATE
SET failures = CASE WHEN f.last_failure_at < now() - make_interval(secs => $5) THEN 1
                    ELSE f.failures + 1 END,
    last_failure_at = now(),
    not_before = now() + make_interval(secs => CASE
        WHEN f.last_failure_at < now() - make_interval(secs => $5) OR f.failures + 1 <= $2 THEN 0
        ELSE least($4::float8, $3::float8 * power(2, least(f.failures + 1 - $2 - 1, 30)))
    END);

-- name: admin_throttle_clear
DELETE FROM login_failures WHERE key_hash = $1;

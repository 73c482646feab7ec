-- Faults survived: alerts for the operator, messages held while the relay refuses our
-- credentials, claims released when a worker stops.

-- name: alert_raise
-- Raises (or refreshes) an alert; `first_at` keeps the start of the fault.
INSERT INTO service_alerts (kind, detail)
VALUES ($1, $2)
ON CONFLICT (kind) DO UPDATE
SET detail = EXCLUDED.detail, last_at = now(), occurrences = service_alerts.occurrences + 1;

-- name: alert_clear
DELETE FROM service_alerts WHERE kind = $1;

-- name: alerts_current
SELECT kind, detail, first_at, last_at, occurrences FROM service_alerts ORDER BY first_at;

-- name: outbox_hold
-- The relay refused our credentials: not the message's fault. Back in the queue for a slow
-- retry ($3 seconds), and the attempt is not counted, so the message is never marked failed.
UPDATE outbox
SET status = 'queued', attempts = attempts - 1, next_attempt_at = now() + make_interval(secs => $3),
    locked_until = NULL, last_error = $4
WHERE id = $1 AND status = 'sending' AND attempts = $2;

-- name: outbox_release
-- A stopping worker gives back the messages it claimed but did not finish ($1 ids, $2 their
-- attempts): due at once for another worker, the interrupted attempt not counted.
UPDATE outbox o
SET status = 'queued', attempts = o.attempts - 1, next_attempt_at = now(), locked_until = NULL
FROM unnest($1::bigint[], $2::integer[]) AS c (id, attempts)
WHERE o.id = c.id AND o.status = 'sending' AND o.attempts = c.attempts;

-- The one reminder of a signature still pending (campaign/signing/reminders.py, migration 0018).

-- name: reminders_due
-- Signatures pending since before $1, never reminded, not flagged, not erased: up to $2, the
-- oldest first, locked (SKIP LOCKED: any number of workers side by side) until the caller's
-- transaction writes their reminders.
SELECT id, email FROM signatures
WHERE status = 'pending' AND reminded_at IS NULL AND NOT suspect AND created_at <= $1
  AND email IS NOT NULL AND anonymised_at IS NULL
ORDER BY created_at
LIMIT $2
FOR UPDATE SKIP LOCKED;

-- name: reminders_write
-- For each signature of $1 (locked by reminders_due): a fresh confirmation link ($2 salts, $3
-- hashes, valid $4 days), its `reminder` email (the suppression list's trigger cancels it for an
-- address that opted out), and the record that it was reminded, so that it never is twice.
WITH wanted AS (
    SELECT u.signature_id, u.salt, u.token_hash
    FROM unnest($1::bigint[], $2::bytea[], $3::bytea[]) AS u (signature_id, salt, token_hash)
), reminded AS (
    UPDATE signatures s
    SET reminded_at = now(), emails_sent = s.emails_sent + 1
    FROM wanted w
    WHERE s.id = w.signature_id AND s.status = 'pending' AND s.reminded_at IS NULL
    RETURNING s.id, s.email
), token AS (
    INSERT INTO signature_tokens (signature_id, purpose, salt, token_hash, expires_at)
    SELECT w.signature_id, 'confirm', w.salt, w.token_hash, now() + make_interval(days => $4)
    FROM wanted w
    JOIN reminded r ON r.id = w.signature_id
    RETURNING id, signature_id
)
INSERT INTO outbox (template, recipient, signature_id, token_id)
SELECT 'reminder', r.email, t.signature_id, t.id
FROM token t
JOIN reminded r ON r.id = t.signature_id
ORDER BY t.signature_id
RETURNING signature_id;

-- The suppression list (hashes of addresses that opted out of every campaign's emails).

-- name: suppression_add
INSERT INTO suppressions (email_hash, source) VALUES ($1, $2)
ON CONFLICT (email_hash) DO NOTHING
RETURNING true;

-- name: suppression_cancel_queued
-- What is still waiting for the address, except what it asked for itself, never leaves.
UPDATE outbox
SET status = 'cancelled', last_error = 'Adresse en liste d’opposition : jamais envoyé'
WHERE status = 'queued' AND email_hash(recipient) = $1 AND NOT mail_is_requested(template);

-- name: suppression_exists
SELECT EXISTS (SELECT 1 FROM suppressions WHERE email_hash = $1);

-- name: suppression_count
SELECT count(*)::integer FROM suppressions;

-- Mail that cannot be turned against a mailbox (issue 15): one signer per mailbox whatever
-- alias of it is typed, a per-recipient daily cap on every email, and the one reminder.

-- The canonical form of an address: trimmed, lower case, provider aliases folded (`+tag` where
-- the provider delivers it to the plain address, Gmail's dots, googlemail.com). The same rules
-- as campaign/mail/addresses.py (`canonical`); a test checks that both agree.
CREATE FUNCTION email_canonical(address text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN (
        WITH parts AS (
            SELECT lower(btrim(address)) AS whole,
                   split_part(lower(btrim(address)), '@', -1) AS domain,
                   regexp_replace(lower(btrim(address)), '@[^@]*$', '') AS local
        ), folded AS (
            SELECT whole, domain,
                   CASE WHEN domain IN ('gmail.com', 'googlemail.com', 'outlook.com',
                                        'outlook.fr', 'hotmail.com', 'hotmail.fr', 'live.com',
                                        'live.fr', 'msn.com', 'icloud.com', 'me.com', 'mac.com',
                                        'protonmail.com', 'protonmail.ch', 'proton.me', 'pm.me',
                                        'fastmail.com', 'fastmail.fm')
                        THEN split_part(local, '+', 1) ELSE local END AS local
            FROM parts
        )
        SELECT CASE
            WHEN strpos(whole, '@') = 0 THEN whole
            ELSE CASE WHEN domain IN ('gmail.com', 'googlemail.com')
                      THEN replace(local, '.', '') ELSE local END
                 || '@' || CASE WHEN domain = 'googlemail.com' THEN 'gmail.com' ELSE domain END
        END
        FROM folded
    );

CREATE FUNCTION email_canonical_hash(address text) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN sha256(convert_to(email_canonical(address), 'UTF8'));

-- Signatures made before this migration by aliases of one mailbox: the earliest is kept; each
-- later one points at it (`duplicate_of`), leaves the uniqueness below, and is rejected if it
-- was pending or confirmed (a confirmed one leaves its territory's counter; its queued mail is
-- cancelled), as an organiser's rejection would: visible and restorable in the back office,
-- with the reason.
-- No foreign key: the kept signature may be purged later, and its duplicates must not come
-- back into the uniqueness then (two of them would collide).
ALTER TABLE signatures ADD COLUMN duplicate_of bigint;

WITH ranked AS (
    SELECT id, first_value(id) OVER w AS first_id, row_number() OVER w AS n
    FROM signatures
    WHERE email IS NOT NULL
    WINDOW w AS (PARTITION BY campaign_id, email_canonical(email) ORDER BY created_at, id)
)
UPDATE signatures s SET duplicate_of = r.first_id
FROM ranked r
WHERE s.id = r.id AND r.n > 1;

WITH changed AS (
    UPDATE signatures
    SET rejected_from = status, status = 'rejected',
        moderation_reason = 'Doublon : la même boîte aux lettres a déjà signé sous une autre '
                            || 'forme de son adresse (migration 0018)',
        updated_at = now()
    WHERE duplicate_of IS NOT NULL AND status IN ('pending', 'confirmed')
    RETURNING id, rejected_from, campaign_id, territory_level, territory_code, suspect
), uncounted AS (
    UPDATE territory_counts c
    SET confirmed = c.confirmed - d.n
    FROM (SELECT campaign_id, territory_level, territory_code, count(*)::integer AS n
          FROM changed WHERE rejected_from = 'confirmed' AND NOT suspect
          GROUP BY campaign_id, territory_level, territory_code) d
    WHERE c.campaign_id = d.campaign_id AND c.level = d.territory_level
      AND c.code = d.territory_code
    RETURNING 1
)
UPDATE outbox SET status = 'cancelled', locked_until = NULL
WHERE signature_id IN (SELECT id FROM changed) AND status = 'queued';

-- One signature per mailbox and campaign: what signing's ON CONFLICT now meets first.
ALTER TABLE signatures ADD COLUMN email_canonical bytea GENERATED ALWAYS AS (
    CASE WHEN duplicate_of IS NULL THEN email_canonical_hash(email) END
) STORED;
CREATE UNIQUE INDEX signatures_canonical_email ON signatures (campaign_id, email_canonical);

-- The per-recipient daily cap (campaign/mail/worker.py): emails claimed per day and per
-- mailbox, under a keyed hash of its canonical address (never the address). Old days are
-- deleted by the worker.
CREATE TABLE mail_caps (
    day         date NOT NULL,
    address_key bytea NOT NULL CHECK (length(address_key) = 32),
    claimed     integer NOT NULL,
    PRIMARY KEY (day, address_key)
);

-- The one reminder of a signature still pending (campaign/signing/reminders.py).
ALTER TABLE signatures ADD COLUMN reminded_at timestamptz;
CREATE INDEX signatures_to_remind ON signatures (created_at)
    WHERE status = 'pending' AND reminded_at IS NULL AND NOT suspect;

-- The reach of the campaign: mailings to signatories (rate-limited, at most once per recipient),
-- invitations to officials (with a pre-filled, signed link and an attribution code), relays (a
-- code to share and a secret link to follow what they brought), and the suppression list.

-- Addresses that asked never to be emailed again, by any campaign. Only the SHA-256 of the
-- normalised address is kept: the list does not spell out who opted out (a known address can
-- still be tested against it, which is what the list is for).
CREATE TABLE suppressions (
    email_hash bytea PRIMARY KEY CHECK (length(email_hash) = 32),
    source     text NOT NULL CHECK (source IN ('invitation', 'mailing', 'organiser', 'import')),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION email_hash(address text) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN sha256(convert_to(lower(btrim(address)), 'UTF8'));

-- Emails that answer what the address itself just asked for (signing: the confirmation link, or
-- « you have already signed »): never suppressed, since the person typed the address a moment
-- ago. Every other kind (mailings, invitations, whatever comes later) is checked.
CREATE FUNCTION mail_is_requested(template text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN template IN ('confirm', 'already_signed');

-- Relays: a person or organisation that brings officials of a territory to sign. Their code goes
-- into the shared link (`/?ref=CODE`, stored on the signature); their secret link shows them what
-- they brought. As for every link, only the token's SHA-256 and the salt it is derived from.
CREATE TABLE relays (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id     bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    territory_level text NOT NULL,
    territory_code  text NOT NULL,
    code            text NOT NULL CHECK (code ~ '^[A-Za-z0-9_-]{1,40}$'),
    token_salt      bytea NOT NULL,
    token_hash      bytea NOT NULL UNIQUE,
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, code),
    FOREIGN KEY (territory_level, territory_code) REFERENCES territories (level, code)
);

-- Invitees: officials the organisers invite (a CSV import, or the town halls of the public
-- directory). `code` is the attribution code of the invitation's link; the link's token (derived
-- from `token_salt`) pre-fills the form without putting the address in the URL.
CREATE TABLE invitations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id     bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    email           text NOT NULL CHECK (email = lower(email)),
    given_name      text NOT NULL DEFAULT '',
    family_name     text NOT NULL DEFAULT '',
    mandate         text NOT NULL,
    territory_level text NOT NULL,
    territory_code  text NOT NULL,
    relay_id        bigint REFERENCES relays (id) ON DELETE SET NULL,
    source          text NOT NULL CHECK (source IN ('csv', 'annuaire')),
    code            text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_-]{1,40}$'),
    token_salt      bytea NOT NULL,
    token_hash      bytea NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, email),
    FOREIGN KEY (territory_level, territory_code) REFERENCES territories (level, code)
);

CREATE INDEX invitations_territory ON invitations (campaign_id, territory_level, territory_code);
CREATE INDEX invitations_relay ON invitations (relay_id) WHERE relay_id IS NOT NULL;
CREATE INDEX signatures_email ON signatures (email);

-- A mailing: a message to the confirmed signatories of a campaign (kind `signatories`, optionally
-- filtered), or the invitations to a list of invitees (kind `invitations`). Its recipients are
-- outbox rows marked `bulk`; the mail workers send them at `rate` messages per second, all
-- workers together, through the token bucket `next_slot_at` (see mailing_claim below).
CREATE TABLE mailings (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id     bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    kind            text NOT NULL DEFAULT 'signatories' CHECK (kind IN ('signatories', 'invitations')),
    subject         text NOT NULL DEFAULT '',
    body            text NOT NULL DEFAULT '',      -- Markdown
    filter          jsonb NOT NULL DEFAULT '{}',   -- the signatories filter, as its query string
    rate            double precision NOT NULL CHECK (rate > 0 AND rate <= 1000),
    status          text NOT NULL DEFAULT 'draft'
                    CHECK (status IN ('draft', 'sending', 'paused', 'done', 'cancelled')),
    next_slot_at    timestamptz NOT NULL DEFAULT now(),
    recipients      integer NOT NULL DEFAULT 0,    -- queued by the starts so far
    created_by      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz
);

ALTER TABLE outbox
    ADD COLUMN mailing_id bigint REFERENCES mailings (id) ON DELETE CASCADE,
    ADD COLUMN invitation_id bigint REFERENCES invitations (id) ON DELETE CASCADE,
    ADD COLUMN bulk boolean NOT NULL DEFAULT false;

-- At most once per mailing and recipient, however many times the mailing is started; and one
-- invitation email per invitee, whatever the mailing.
CREATE UNIQUE INDEX outbox_mailing_recipient ON outbox (mailing_id, recipient) WHERE bulk;
CREATE UNIQUE INDEX outbox_invitation_once ON outbox (invitation_id) WHERE bulk;
-- The other messages' claim must not wade through a mailing's queue.
CREATE INDEX outbox_due_single ON outbox (next_attempt_at, id) WHERE status = 'queued' AND NOT bulk;
CREATE INDEX outbox_mailing_due ON outbox (mailing_id, next_attempt_at, id)
    WHERE bulk AND status = 'queued';
CREATE INDEX outbox_mailing_status ON outbox (mailing_id, status) WHERE bulk;
CREATE INDEX outbox_mailing_sent ON outbox (mailing_id, sent_at) WHERE bulk AND status = 'sent';

-- The suppression list is checked when a message is queued, whatever queues it: a suppressed
-- address's message is written as cancelled (so a mailing's progress shows it), never sent.
CREATE FUNCTION outbox_suppress() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM suppressions WHERE email_hash = email_hash(NEW.recipient)) THEN
        NEW.status := 'cancelled';
        NEW.last_error := 'Adresse en liste d’opposition : jamais envoyé';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER outbox_suppress BEFORE INSERT ON outbox
    FOR EACH ROW WHEN (NOT mail_is_requested(NEW.template))
    EXECUTE FUNCTION outbox_suppress();

-- One round of a mail worker for the mailings: claims at most p_limit of their due messages, as
-- many as each mailing's token bucket allows (its `rate` per second, a burst of one second's
-- worth at most), and moves the bucket on. The bucket row is locked for the statement only
-- (SKIP LOCKED: another worker takes another mailing, or waits for the next round), so the rate
-- holds across any number of workers and across restarts: a worker that was down for an hour
-- does not catch up in a burst.
-- A message whose sender died mid-send (lease run out) is not sent again: it may have gone out,
-- and a mailing reaches each recipient at most once. It is recorded as failed, with that reason,
-- for an organiser to look at.
CREATE FUNCTION mailing_claim(p_limit integer, p_lease double precision)
RETURNS TABLE (id bigint, template text, recipient text, signature_id bigint, token_id bigint,
               attempts integer, mailing_id bigint, invitation_id bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    m       record;
    slot    timestamptz;
    allowed integer;
    taken   integer;
BEGIN
    UPDATE outbox o
    SET status = 'failed', locked_until = NULL,
        last_error = 'Envoi interrompu (arrêt pendant l’envoi) : peut-être reçu, '
                     'pas renvoyé (au plus une fois par destinataire)'
    WHERE o.bulk AND o.status = 'sending' AND o.locked_until <= now();

    -- A finished mailing whose failures an organiser put back in the queue goes on.
    UPDATE mailings ml SET status = 'sending', finished_at = NULL, next_slot_at = now()
    WHERE ml.status = 'done' AND EXISTS (
        SELECT 1 FROM outbox o WHERE o.mailing_id = ml.id AND o.bulk AND o.status = 'queued');

    FOR m IN
        SELECT ml.id, ml.rate, ml.next_slot_at FROM mailings ml
        WHERE ml.status = 'sending' AND ml.next_slot_at <= now()
        ORDER BY ml.next_slot_at
        FOR UPDATE SKIP LOCKED
    LOOP
        EXIT WHEN p_limit <= 0;
        slot := greatest(m.next_slot_at, now() - interval '1 second');
        allowed := least(p_limit, floor(extract(epoch FROM now() - slot) * m.rate)::integer + 1);
        RETURN QUERY
        WITH due AS (
            SELECT o.id FROM outbox o
            WHERE o.mailing_id = m.id AND o.bulk AND o.status = 'queued'
              AND o.next_attempt_at <= now()
            ORDER BY o.next_attempt_at, o.id
            LIMIT allowed
            FOR UPDATE SKIP LOCKED
        )
        UPDATE outbox o
        SET status = 'sending', attempts = o.attempts + 1,
            locked_until = now() + make_interval(secs => p_lease)
        FROM due
        WHERE o.id = due.id
        RETURNING o.id, o.template, o.recipient, o.signature_id, o.token_id, o.attempts,
                  o.mailing_id, o.invitation_id;
        GET DIAGNOSTICS taken = ROW_COUNT;
        IF taken > 0 THEN
            UPDATE mailings SET next_slot_at = slot + make_interval(secs => taken / m.rate)
            WHERE mailings.id = m.id;
            p_limit := p_limit - taken;
        ELSIF NOT EXISTS (
            SELECT 1 FROM outbox o
            WHERE o.mailing_id = m.id AND o.bulk AND o.status IN ('queued', 'sending')
        ) THEN
            UPDATE mailings SET status = 'done', finished_at = now() WHERE mailings.id = m.id;
        ELSE
            -- Only retries waiting for later, or messages being sent by another worker: look
            -- again in a while rather than at every round.
            UPDATE mailings SET next_slot_at = now() + interval '500 milliseconds'
            WHERE mailings.id = m.id;
        END IF;
    END LOOP;
END $$;

-- Territories, campaigns and their letters, signatures, per-territory counters, the mail outbox.

CREATE EXTENSION IF NOT EXISTS unaccent;

-- Régions, départements and communes (INSEE codes). Codes repeat across levels ("11" is a région
-- and a département), so a territory is identified by (level, code).
CREATE TABLE territories (
    level        text NOT NULL CHECK (level IN ('region', 'departement', 'commune')),
    code         text NOT NULL,
    name         text NOT NULL,
    departement  text,            -- département code, for communes
    region       text,            -- région code, for communes and départements
    population   integer,
    postal_codes text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (level, code)
);

CREATE TABLE campaigns (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug            text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    title           text NOT NULL,
    addressees      text NOT NULL DEFAULT '',
    summary         text NOT NULL DEFAULT '',
    launch_at       timestamptz NOT NULL,
    goal            integer NOT NULL DEFAULT 0 CHECK (goal >= 0),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('draft', 'open', 'closed')),
    embargo         boolean NOT NULL DEFAULT false,
    current_version integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Every text of a letter ever published; signatures point at the one they signed.
-- Every process keeps the campaigns in memory; a change reaches them all.
CREATE FUNCTION notify_campaign() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('campaigns', '');
    RETURN NULL;
END $$;

CREATE TRIGGER campaigns_notify AFTER INSERT OR UPDATE OR DELETE ON campaigns
    FOR EACH STATEMENT EXECUTE FUNCTION notify_campaign();

CREATE TABLE letter_versions (
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    version     integer NOT NULL CHECK (version >= 1),
    body        text NOT NULL,       -- Markdown
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, version)
);

CREATE TABLE signatures (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id     bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    email           text NOT NULL,   -- normalised: trimmed, lower case
    given_name      text NOT NULL,
    family_name     text NOT NULL,
    mandate         text NOT NULL,
    territory_level text NOT NULL,
    territory_code  text NOT NULL,
    public          boolean NOT NULL DEFAULT false,
    comment         text,
    ref             text,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'confirmed', 'rejected', 'withdrawn')),
    letter_version  integer NOT NULL,
    emails_sent     integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    confirmed_at    timestamptz,
    UNIQUE (campaign_id, email),
    FOREIGN KEY (territory_level, territory_code) REFERENCES territories (level, code),
    FOREIGN KEY (campaign_id, letter_version) REFERENCES letter_versions (campaign_id, version)
);

CREATE INDEX signatures_public_list ON signatures (campaign_id, confirmed_at DESC)
    WHERE status = 'confirmed' AND public;

-- Links sent by email. The token itself is never stored: only its SHA-256, and a random salt from
-- which the mail worker re-derives it with the secret key (HMAC) when it renders the message.
CREATE TABLE signature_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    signature_id bigint NOT NULL REFERENCES signatures (id) ON DELETE CASCADE,
    purpose      text NOT NULL CHECK (purpose IN ('confirm')),
    salt         bytea NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX signature_tokens_signature ON signature_tokens (signature_id);

-- Confirmed signatures per campaign and per territory the signer named (not rolled up: each
-- process rolls communes up into départements and régions in memory, so no row is updated by
-- every signature).
CREATE TABLE territory_counts (
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    level       text NOT NULL,
    code        text NOT NULL,
    confirmed   integer NOT NULL DEFAULT 0 CHECK (confirmed >= 0),
    PRIMARY KEY (campaign_id, level, code)
);

-- Every change of a counter reaches every process; the payload carries the new absolute value, so
-- applying it twice, or after a reload, is harmless.
CREATE FUNCTION notify_territory_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('territory_counts', json_build_object(
        'campaign_id', NEW.campaign_id, 'level', NEW.level, 'code', NEW.code,
        'confirmed', NEW.confirmed)::text);
    RETURN NEW;
END $$;

CREATE TRIGGER territory_counts_notify AFTER INSERT OR UPDATE ON territory_counts
    FOR EACH ROW EXECUTE FUNCTION notify_territory_count();

-- Transactional outbox: written in the transaction that needs the email, sent by the worker.
CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    template        text NOT NULL,
    recipient       text NOT NULL,
    signature_id    bigint REFERENCES signatures (id) ON DELETE CASCADE,
    token_id        bigint REFERENCES signature_tokens (id) ON DELETE CASCADE,
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);

CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'queued';
CREATE INDEX outbox_leased ON outbox (locked_until) WHERE status = 'sending';

CREATE FUNCTION notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION notify_outbox();

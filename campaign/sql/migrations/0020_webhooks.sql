-- Webhooks for the organisations (issue 17 §2): endpoints registered in the back office, and
-- their deliveries, an outbox of their own (campaign/hooks/). Events are queued by the statements
-- that make them (the trigger below, in the confirming, verifying and withdrawing transactions);
-- the payload is built when a delivery is sent, from the row as it is then, so that a signer who
-- withdrew in between is never sent.
CREATE TABLE webhook_endpoints (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    url         text NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
    events      text[] NOT NULL CHECK (
                    cardinality(events) > 0
                    AND events <@ ARRAY['signature.confirmed', 'signature.withdrawn',
                                        'signature.verified', 'campaign.published']),
    -- The signing secret is never stored: it is re-derived from this salt with SECRET_KEY (HMAC),
    -- as the links' tokens are (campaign/core/tokens.py).
    secret_salt bytea NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    created_by  text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX webhook_endpoints_campaign ON webhook_endpoints (campaign_id) WHERE active;

CREATE TABLE webhook_deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id     uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,  -- the idempotency id
    endpoint_id     bigint NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event           text NOT NULL CHECK (event IN ('signature.confirmed', 'signature.withdrawn',
                        'signature.verified', 'campaign.published', 'ping')),
    signature_id    bigint,     -- no foreign key: a withdrawal's event outlives nothing it needs
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sending', 'delivered', 'failed', 'dropped')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz,
    last_status     integer,    -- the receiver's last HTTP status (NULL: no answer)
    last_error      text,
    delivered_at    timestamptz
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'queued';
CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (locked_until)
    WHERE status = 'sending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id DESC);
CREATE INDEX webhook_deliveries_signature ON webhook_deliveries (signature_id)
    WHERE signature_id IS NOT NULL AND status = 'queued';

-- The campaigns whose publication (the launch instant, campaign/letter/launch.py) was announced:
-- the worker announces each once. Those already published are not announced again.
CREATE TABLE webhook_published (
    campaign_id bigint PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now()
);

INSERT INTO webhook_published (campaign_id)
SELECT id FROM campaigns WHERE status <> 'draft' AND launch_at <= now();

-- The signature events, queued in the transaction that makes them. Written against the column
-- `verified` (whatever it is derived from). A withdrawal (or an erasure) of a signature ever
-- confirmed queues `signature.withdrawn` and drops the deliveries about it not sent yet.
CREATE FUNCTION webhook_signature_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ev text := CASE
        WHEN NEW.status = 'confirmed' AND OLD.status <> 'confirmed'
            THEN 'signature.confirmed'
        WHEN NEW.status = 'confirmed' AND OLD.status = 'confirmed'
             AND NEW.verified IS TRUE AND OLD.verified IS NOT TRUE
            THEN 'signature.verified'
        WHEN OLD.confirmed_at IS NOT NULL
             AND ((NEW.status = 'withdrawn' AND OLD.status <> 'withdrawn')
                  OR (NEW.anonymised_at IS NOT NULL AND OLD.anonymised_at IS NULL))
            THEN 'signature.withdrawn'
    END;
BEGIN
    IF ev IS NULL THEN
        RETURN NULL;
    END IF;
    IF ev = 'signature.withdrawn' THEN
        UPDATE webhook_deliveries
        SET status = 'dropped', locked_until = NULL, last_error = 'signataire retiré'
        WHERE signature_id = NEW.id AND status = 'queued' AND event <> 'signature.withdrawn';
    END IF;
    INSERT INTO webhook_deliveries (endpoint_id, event, signature_id)
    SELECT e.id, ev, NEW.id FROM webhook_endpoints e
    WHERE e.campaign_id = NEW.campaign_id AND e.active AND ev = ANY (e.events);
    IF FOUND THEN
        PERFORM pg_notify('webhooks', '');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER signatures_webhook_event AFTER UPDATE ON signatures
    FOR EACH ROW
    WHEN (NEW.status IS DISTINCT FROM OLD.status
          OR NEW.verified IS DISTINCT FROM OLD.verified
          OR NEW.anonymised_at IS DISTINCT FROM OLD.anonymised_at)
    EXECUTE FUNCTION webhook_signature_event();

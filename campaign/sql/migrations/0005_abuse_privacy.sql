-- Abuse and privacy: suspect signatures (kept, never counted or listed until an organiser clears
-- them), limits shared by every process, organisers' block lists; consent with its wording's
-- version, withdrawal links and anonymous tombstones, the closing date that starts retention.

-- Suspects. A suspect may be pending or confirmed: its status says what the signer did, `suspect`
-- whether it counts. `suspect_reasons` are codes (campaign/abuse.py has their French labels).
-- Withdrawal: one link per signature, made by the mail worker the first time it writes to the
-- signer; as for confirmation links, only the token's SHA-256 and its salt are kept (the salt is
-- erased with the personal data; the hash stays on the tombstone so a second click is harmless).
-- `anonymised_at`: the personal data were erased (withdrawal, erasure request or retention).
ALTER TABLE signatures
    ADD COLUMN suspect boolean NOT NULL DEFAULT false,
    ADD COLUMN suspect_reasons text[] NOT NULL DEFAULT '{}',
    ADD COLUMN suspect_cleared_at timestamptz,
    ADD COLUMN suspect_cleared_by text,
    ADD COLUMN consent_version integer,
    ADD COLUMN consent_at timestamptz,
    ADD COLUMN withdraw_salt bytea,
    ADD COLUMN withdraw_hash bytea UNIQUE,
    ADD COLUMN withdrawn_at timestamptz,
    ADD COLUMN anonymised_at timestamptz,
    ALTER COLUMN email DROP NOT NULL;

-- Public consents given before wordings had versions were given to version 1, when signing.
UPDATE signatures SET consent_version = 1, consent_at = created_at WHERE public;

CREATE INDEX signatures_suspects ON signatures (campaign_id, created_at DESC)
    WHERE suspect AND status IN ('pending', 'confirmed');
CREATE INDEX signatures_unconfirmed_age ON signatures (created_at)
    WHERE confirmed_at IS NULL AND status IN ('pending', 'rejected');

-- Erased details must not send a signature back to the register check (its names are gone):
-- only signatures that still have their data are verified again.
CREATE OR REPLACE FUNCTION signatures_reverify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.anonymised_at IS NULL THEN
        NEW.verification_due := true;
    END IF;
    RETURN NEW;
END $$;

-- Verified counters: a suspect is not counted (the same rule as for `confirmed`, which the
-- application keeps: confirming, clearing, rejecting, restoring, withdrawing).
CREATE OR REPLACE FUNCTION count_verified() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_counted boolean := TG_OP <> 'INSERT' AND OLD.status = 'confirmed' AND OLD.verified
                           AND NOT OLD.suspect;
    new_counted boolean := TG_OP <> 'DELETE' AND NEW.status = 'confirmed' AND NEW.verified
                           AND NOT NEW.suspect;
BEGIN
    IF TG_OP = 'UPDATE' AND old_counted = new_counted
       AND (NOT new_counted
            OR (OLD.campaign_id, OLD.territory_level, OLD.territory_code, OLD.mandate)
               = (NEW.campaign_id, NEW.territory_level, NEW.territory_code, NEW.mandate)) THEN
        RETURN NULL;
    END IF;
    IF old_counted THEN
        UPDATE territory_counts
        SET verified = verified - 1,
            maires = maires - (OLD.mandate = 'maire')::integer
        WHERE campaign_id = OLD.campaign_id AND level = OLD.territory_level
          AND code = OLD.territory_code;
    END IF;
    IF new_counted THEN
        INSERT INTO territory_counts AS t (campaign_id, level, code, verified, maires)
        VALUES (NEW.campaign_id, NEW.territory_level, NEW.territory_code, 1,
                (NEW.mandate = 'maire')::integer)
        ON CONFLICT (campaign_id, level, code) DO UPDATE
        SET verified = t.verified + 1, maires = t.maires + excluded.maires;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION admin_verified_count(p_campaign bigint) RETURNS bigint
    LANGUAGE sql STABLE AS $fn$
    SELECT count(*) FROM signatures s
    WHERE s.campaign_id = p_campaign AND s.status = 'confirmed' AND s.verified AND NOT s.suspect
$fn$;

-- The back office's filter learns the pseudo-status `suspect`: suspects awaiting a decision
-- (pending or confirmed), whatever their status. Otherwise as in migration 0003.
CREATE OR REPLACE FUNCTION admin_filtered_signatures(
    p_campaign    bigint,
    p_status      text,
    p_mandate     text,
    p_region      text,
    p_departement text,
    p_q           text,
    p_communes    text[],
    p_ref         text,
    p_since       timestamptz,
    p_until       timestamptz,
    p_public      boolean,
    p_featured    boolean,
    p_q_email     boolean,
    p_verified    boolean
) RETURNS SETOF signatures LANGUAGE sql STABLE AS $fn$
    SELECT s.*
    FROM signatures s
    WHERE s.campaign_id = p_campaign
      AND (p_status IS NULL OR s.status = p_status
           OR (p_status = 'suspect' AND s.suspect AND s.status IN ('pending', 'confirmed')))
      AND (p_mandate IS NULL OR s.mandate = p_mandate)
      AND (p_region IS NULL
           OR (s.territory_level, s.territory_code) IN (
               SELECT t.level, t.code FROM territories t WHERE t.region = p_region
               UNION ALL SELECT 'region', p_region))
      AND (p_departement IS NULL
           OR (s.territory_level, s.territory_code) IN (
               SELECT t.level, t.code FROM territories t WHERE t.departement = p_departement
               UNION ALL SELECT 'departement', p_departement))
      AND (p_q IS NULL
           OR (admin_search_text(s.given_name, s.family_name, s.email)
                   LIKE '%' || admin_fold(p_q) || '%'
               AND (p_q_email OR admin_fold(s.given_name || ' ' || s.family_name)
                                 LIKE '%' || admin_fold(p_q) || '%'))
           OR (s.territory_level = 'commune' AND s.territory_code = ANY (p_communes)))
      AND (p_ref IS NULL OR s.ref = p_ref)
      AND (p_since IS NULL OR s.created_at >= p_since)
      AND (p_until IS NULL OR s.created_at < p_until)
      AND (p_public IS NULL OR s.public = p_public)
      AND (p_featured IS NULL OR s.featured = p_featured)
      AND (p_verified IS NULL OR s.verified = p_verified)
$fn$;

-- Limits, shared by every process: hits per (kind, key) in hourly windows. Keys are keyed hashes
-- (HMAC with the secret key) of a truncated client network, an email domain or address, or one
-- of a campaign's shards (so that no row is updated by every signature). Erased after a few days
-- by `campaign purge`.
CREATE TABLE abuse_counters (
    kind         text NOT NULL CHECK (kind IN ('network', 'domain', 'email', 'campaign')),
    key          bytea NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL CHECK (hits >= 0),
    PRIMARY KEY (kind, key, window_start)
);

CREATE INDEX abuse_counters_age ON abuse_counters (window_start);

-- Organisers' block lists: a signature that matches one is kept but flagged suspect.
CREATE TABLE block_list (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('email', 'domain', 'network')),
    value      text NOT NULL,          -- normalised: lower-case address or domain, network as cidr
    network    cidr,                   -- kind = 'network' only
    reason     text,
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, value),
    CHECK ((kind = 'network') = (network IS NOT NULL))
);

-- When a campaign closed: retention (RETENTION_MONTHS) runs from there. Kept by a trigger, so
-- that every way of closing (back office, campaign file) sets it, and reopening clears it.
ALTER TABLE campaigns ADD COLUMN closed_at timestamptz;

UPDATE campaigns SET closed_at = now() WHERE status = 'closed';

CREATE FUNCTION campaigns_closed_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'closed' THEN
        NEW.closed_at := coalesce(NEW.closed_at, now());  -- an explicit date is kept
    ELSE
        NEW.closed_at := NULL;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER campaigns_closed_at BEFORE INSERT OR UPDATE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION campaigns_closed_at();

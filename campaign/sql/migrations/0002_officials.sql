-- The register of elected officials (RNE), the verification of signatures against it, and the
-- counters of verified signatures per territory.

-- One row per mandate an official holds, with only what verification needs: no date of birth, no
-- profession. `campaign load-officials` fills a copy of this table and swaps it in (see
-- sql/queries/officials.sql), so the table is replaced whole, never edited row by row.
CREATE TABLE officials (
    id              bigint PRIMARY KEY,   -- numbered by each load; not stable across loads
    mandate         text NOT NULL,        -- a mandate of campaign/mandates.py, or maire_delegue
    territory_level text NOT NULL CHECK (territory_level IN ('region', 'departement', 'commune')),
    territory_code  text NOT NULL,
    family_name     text NOT NULL,
    given_name      text NOT NULL,
    sex             text CHECK (sex IN ('F', 'M')),
    mandate_start   date,
    family_key      text NOT NULL,        -- campaign/names.py: what matching compares
    given_key       text NOT NULL,
    source          text NOT NULL         -- the file the row came from
);

CREATE INDEX officials_territory ON officials (territory_level, territory_code, family_key);

-- What was loaded last (one row per load, the newest is in force).
CREATE TABLE officials_loads (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source     text NOT NULL,
    rows       integer NOT NULL,
    loaded_at  timestamptz NOT NULL DEFAULT now()
);

-- Verification of a signature against the register: done by the verification worker after
-- confirmation (`verification_due`), redone when the register is reloaded or the signer's
-- details change. Organisers may override the result; the override wins.
ALTER TABLE signatures
    ADD COLUMN verification text NOT NULL DEFAULT 'pending'
        CHECK (verification IN ('pending', 'verified', 'not_found', 'ambiguous')),
    ADD COLUMN verification_due boolean NOT NULL DEFAULT true,
    ADD COLUMN verification_match jsonb,        -- the register entry matched (verified only)
    ADD COLUMN verification_candidates integer NOT NULL DEFAULT 0,
    ADD COLUMN verification_checked_at timestamptz,
    ADD COLUMN verification_override text
        CHECK (verification_override IN ('verified', 'not_found')),
    ADD COLUMN verification_override_by text,
    ADD COLUMN verification_override_at timestamptz,
    ADD COLUMN verified boolean
        GENERATED ALWAYS AS (coalesce(verification_override, verification) = 'verified') STORED;

CREATE INDEX signatures_verification_due ON signatures (id)
    WHERE verification_due AND status = 'confirmed';

-- The details a result depends on changed: check again.
CREATE FUNCTION signatures_reverify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.verification_due := true;
    RETURN NEW;
END $$;

CREATE TRIGGER signatures_reverify
    BEFORE UPDATE OF given_name, family_name, mandate, territory_level, territory_code
    ON signatures FOR EACH ROW
    WHEN ((OLD.given_name, OLD.family_name, OLD.mandate, OLD.territory_level, OLD.territory_code)
          IS DISTINCT FROM
          (NEW.given_name, NEW.family_name, NEW.mandate, NEW.territory_level, NEW.territory_code))
    EXECUTE FUNCTION signatures_reverify();

-- Wake the verification workers when a signature is confirmed.
CREATE FUNCTION notify_verification() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('verification', '');
    RETURN NULL;
END $$;

CREATE TRIGGER signatures_notify_verification AFTER UPDATE OF status ON signatures
    FOR EACH ROW WHEN (NEW.status = 'confirmed' AND OLD.status IS DISTINCT FROM 'confirmed')
    EXECUTE FUNCTION notify_verification();

-- Verified signatures per territory named, and among them the maires', next to `confirmed`.
-- Kept by a trigger on signatures, so that every way a signature changes (confirmation,
-- verification, override, rejection, deletion) keeps them right.
ALTER TABLE territory_counts
    ADD COLUMN verified integer NOT NULL DEFAULT 0 CHECK (verified >= 0),
    ADD COLUMN maires   integer NOT NULL DEFAULT 0 CHECK (maires >= 0);

CREATE FUNCTION count_verified() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_counted boolean := TG_OP <> 'INSERT' AND OLD.status = 'confirmed' AND OLD.verified;
    new_counted boolean := TG_OP <> 'DELETE' AND NEW.status = 'confirmed' AND NEW.verified;
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

CREATE TRIGGER signatures_count_verified AFTER INSERT OR UPDATE OR DELETE ON signatures
    FOR EACH ROW EXECUTE FUNCTION count_verified();

-- The notification carries every counter of the row, as absolute values.
CREATE OR REPLACE FUNCTION notify_territory_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('territory_counts', json_build_object(
        'campaign_id', NEW.campaign_id, 'level', NEW.level, 'code', NEW.code,
        'confirmed', NEW.confirmed, 'verified', NEW.verified, 'maires', NEW.maires)::text);
    RETURN NEW;
END $$;

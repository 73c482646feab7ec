-- Levels of proof (issue 14). Until now `verified` meant « the register has such an official »,
-- which anyone can claim with any mailbox. From here:
--   register_match  the declared name and mandate match the register (the former `verified`);
--   verified        someone vouched that the signer is that official: `proof` is set (0013).
-- A signature proven by its official domain rests on its register match: when the match goes
-- (re-verification, an organiser's override), that proof goes with it.

-- The register match keeps its generated column under its honest name; indexes follow a rename.
ALTER TABLE signatures RENAME COLUMN verified TO register_match;
ALTER TABLE signatures
    ADD COLUMN verified boolean GENERATED ALWAYS AS (proof IS NOT NULL) STORED;

CREATE FUNCTION signatures_domain_proof_needs_match() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Generated columns are not computed yet in a BEFORE trigger: the expression, again.
    IF NEW.proof = 'official_domain'
       AND coalesce(NEW.verification_override, NEW.verification) IS DISTINCT FROM 'verified' THEN
        NEW.proof := NULL;
        NEW.proof_at := NULL;
        NEW.proof_by := NULL;
        NEW.proof_note := NULL;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER signatures_domain_proof BEFORE UPDATE ON signatures
    FOR EACH ROW EXECUTE FUNCTION signatures_domain_proof_needs_match();

-- Counters per territory named. `confirmed` (declared) stays the application's; the others are
-- the trigger's, over confirmed signatures that are not suspect:
--   register_match, verified (proven), maires (proven maires, as before, with the new meaning),
--   maires_declared (every maire), and for the commune's own figures, which are about one person,
--   only maires who agreed to be listed: maires_public (declared) and maires_public_verified.
ALTER TABLE territory_counts
    ADD COLUMN register_match integer NOT NULL DEFAULT 0 CHECK (register_match >= 0),
    ADD COLUMN maires_declared integer NOT NULL DEFAULT 0 CHECK (maires_declared >= 0),
    ADD COLUMN maires_public integer NOT NULL DEFAULT 0 CHECK (maires_public >= 0),
    ADD COLUMN maires_public_verified integer NOT NULL DEFAULT 0
        CHECK (maires_public_verified >= 0);

DROP TRIGGER signatures_count_verified ON signatures;
DROP FUNCTION count_verified();

CREATE FUNCTION count_proof_levels() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_counted boolean := TG_OP <> 'INSERT' AND OLD.status = 'confirmed' AND NOT OLD.suspect;
    new_counted boolean := TG_OP <> 'DELETE' AND NEW.status = 'confirmed' AND NOT NEW.suspect;
    o integer[];
    n integer[];
BEGIN
    -- register_match, verified, maires, maires_declared, maires_public, maires_public_verified
    IF old_counted THEN
        o := ARRAY[OLD.register_match::integer, OLD.verified::integer,
                   (OLD.mandate = 'maire' AND OLD.verified)::integer,
                   (OLD.mandate = 'maire')::integer,
                   (OLD.mandate = 'maire' AND OLD.public)::integer,
                   (OLD.mandate = 'maire' AND OLD.public AND OLD.verified)::integer];
    ELSE
        o := ARRAY[0, 0, 0, 0, 0, 0];
    END IF;
    IF new_counted THEN
        n := ARRAY[NEW.register_match::integer, NEW.verified::integer,
                   (NEW.mandate = 'maire' AND NEW.verified)::integer,
                   (NEW.mandate = 'maire')::integer,
                   (NEW.mandate = 'maire' AND NEW.public)::integer,
                   (NEW.mandate = 'maire' AND NEW.public AND NEW.verified)::integer];
    ELSE
        n := ARRAY[0, 0, 0, 0, 0, 0];
    END IF;
    IF TG_OP = 'UPDATE' AND o = n
       AND (OLD.campaign_id, OLD.territory_level, OLD.territory_code)
           = (NEW.campaign_id, NEW.territory_level, NEW.territory_code) THEN
        RETURN NULL;
    END IF;
    IF o <> ARRAY[0, 0, 0, 0, 0, 0] THEN
        UPDATE territory_counts
        SET register_match = register_match - o[1], verified = verified - o[2],
            maires = maires - o[3], maires_declared = maires_declared - o[4],
            maires_public = maires_public - o[5],
            maires_public_verified = maires_public_verified - o[6]
        WHERE campaign_id = OLD.campaign_id AND level = OLD.territory_level
          AND code = OLD.territory_code;
    END IF;
    IF n <> ARRAY[0, 0, 0, 0, 0, 0] THEN
        INSERT INTO territory_counts AS t (campaign_id, level, code, register_match, verified,
                                           maires, maires_declared, maires_public,
                                           maires_public_verified)
        VALUES (NEW.campaign_id, NEW.territory_level, NEW.territory_code,
                n[1], n[2], n[3], n[4], n[5], n[6])
        ON CONFLICT (campaign_id, level, code) DO UPDATE
        SET register_match = t.register_match + excluded.register_match,
            verified = t.verified + excluded.verified, maires = t.maires + excluded.maires,
            maires_declared = t.maires_declared + excluded.maires_declared,
            maires_public = t.maires_public + excluded.maires_public,
            maires_public_verified = t.maires_public_verified + excluded.maires_public_verified;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER signatures_count_proof_levels AFTER INSERT OR UPDATE OR DELETE ON signatures
    FOR EACH ROW EXECUTE FUNCTION count_proof_levels();

-- The counters as the new rules count them (the former `verified` and `maires` were register
-- matches; no signature had a proof before this migration).
UPDATE territory_counts t
SET register_match = coalesce(r.register_match, 0), verified = coalesce(r.verified, 0),
    maires = coalesce(r.maires, 0), maires_declared = coalesce(r.maires_declared, 0),
    maires_public = coalesce(r.maires_public, 0),
    maires_public_verified = coalesce(r.maires_public_verified, 0)
FROM territory_counts t2
LEFT JOIN (
    SELECT campaign_id, territory_level, territory_code,
           count(*) FILTER (WHERE register_match)::integer AS register_match,
           count(*) FILTER (WHERE verified)::integer AS verified,
           count(*) FILTER (WHERE verified AND mandate = 'maire')::integer AS maires,
           count(*) FILTER (WHERE mandate = 'maire')::integer AS maires_declared,
           count(*) FILTER (WHERE public AND mandate = 'maire')::integer AS maires_public,
           count(*) FILTER (WHERE public AND verified AND mandate = 'maire')::integer
               AS maires_public_verified
    FROM signatures
    WHERE status = 'confirmed' AND NOT suspect
    GROUP BY campaign_id, territory_level, territory_code
) r ON (r.campaign_id, r.territory_level, r.territory_code) = (t2.campaign_id, t2.level, t2.code)
WHERE (t.campaign_id, t.level, t.code) = (t2.campaign_id, t2.level, t2.code);

-- Every process hears every counter of a territory, with the last value of the transaction.
CREATE OR REPLACE FUNCTION notify_territory_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    now_row territory_counts%ROWTYPE;
BEGIN
    SELECT * INTO now_row FROM territory_counts
    WHERE campaign_id = NEW.campaign_id AND level = NEW.level AND code = NEW.code;
    IF NOT FOUND THEN
        now_row := NEW;
    END IF;
    PERFORM pg_notify('territory_counts', json_build_object(
        'campaign_id', now_row.campaign_id, 'level', now_row.level, 'code', now_row.code,
        'confirmed', now_row.confirmed, 'verified', now_row.verified,
        'maires', now_row.maires, 'register_match', now_row.register_match,
        'maires_declared', now_row.maires_declared, 'maires_public', now_row.maires_public,
        'maires_public_verified', now_row.maires_public_verified)::text);
    RETURN NEW;
END $$;

-- The hourly history keeps the register matches next to the proven.
ALTER TABLE count_history_hours
    ADD COLUMN register_match integer NOT NULL DEFAULT 0 CHECK (register_match >= 0);

-- The public search of the signatories (issue 15 §2) with an index of its own. It matched, row
-- by row, the folded « given name, family name, territory name » joined across signatures and
-- territories: every public row read for each search. The back office's trigram index cannot
-- serve it (its text holds the email address, which the public must never match on).
--
-- `public_search` holds only what the public list shows (names and territory name), folded by
-- `public_fold`, the one function the query applies to the searched text too: both sides are
-- folded alike, exactly as the query folded them before (lower case, then unaccent).

-- unaccent() is only STABLE (its dictionary could change); naming the dictionary is the
-- documented way to use it in an index (like admin_fold, migration 0003, which folds in the
-- other order: this one keeps the public query's former order so that results stay the same).
CREATE FUNCTION public_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN public.unaccent('public.unaccent'::regdictionary, lower($1));

CREATE FUNCTION public_search_text(given_name text, family_name text, territory_name text)
    RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN public_fold(given_name || ' ' || family_name || ' ' || territory_name);

ALTER TABLE signatures ADD COLUMN public_search text;

UPDATE signatures s
SET public_search = public_search_text(s.given_name, s.family_name, t.name)
FROM territories t
WHERE t.level = s.territory_level AND t.code = s.territory_code;

-- Kept right by the signature's own writes...
CREATE FUNCTION signatures_public_search() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    NEW.public_search := public_search_text(
        NEW.given_name, NEW.family_name,
        (SELECT t.name FROM territories t
         WHERE t.level = NEW.territory_level AND t.code = NEW.territory_code));
    RETURN NEW;
END
$$;

CREATE TRIGGER signatures_public_search
    BEFORE INSERT OR UPDATE OF given_name, family_name, territory_level, territory_code
    ON signatures
    FOR EACH ROW EXECUTE FUNCTION signatures_public_search();

-- ...and by a territory's new name (a re-run of `territories load` with a newer file).
CREATE FUNCTION territories_public_search() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE signatures s
    SET public_search = public_search_text(s.given_name, s.family_name, NEW.name)
    WHERE s.territory_level = NEW.level AND s.territory_code = NEW.code;
    RETURN NULL;
END
$$;

CREATE TRIGGER territories_public_search
    AFTER UPDATE OF name ON territories
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION territories_public_search();

-- Only the rows the public list shows (public_signatories_search's WHERE): a pending, private,
-- suspect, rejected or withdrawn signature is never in it. New entries arrive at confirmation;
-- like the back office's index (migration 0010), the service merges its pending list itself.
CREATE INDEX signatures_public_search ON signatures
    USING gin (public_search gin_trgm_ops)
    WITH (gin_pending_list_limit = 16384)
    WHERE status = 'confirmed' AND public AND NOT suspect;

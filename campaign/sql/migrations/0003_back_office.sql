-- The organisers' back office: accounts, server-side sessions, login throttling, moderation
-- columns on signatures, the indexes behind the signatories list, and an append-only audit log.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE organisers (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text NOT NULL UNIQUE CHECK (email = lower(email)),
    password_hash text NOT NULL,          -- argon2id, PHC string
    role          text NOT NULL CHECK (role IN ('admin', 'organiser', 'viewer')),
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);

-- Only the SHA-256 of a session id is stored: a copy of this table opens no session.
CREATE TABLE admin_sessions (
    id_hash      bytea PRIMARY KEY,
    organiser_id bigint NOT NULL REFERENCES organisers (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL     -- the absolute limit, fixed at login
);

CREATE INDEX admin_sessions_organiser ON admin_sessions (organiser_id);
CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);

-- Failed logins per key (a hash of "pair:<email>|<address>" or "addr:<address>"): each failure
-- past a free allowance pushes the next allowed attempt further (a delay, never a lock).
CREATE TABLE login_failures (
    key_hash        bytea PRIMARY KEY,
    failures        integer NOT NULL DEFAULT 0,
    last_failure_at timestamptz NOT NULL DEFAULT now(),
    not_before      timestamptz NOT NULL DEFAULT now()
);

-- Moderation. `rejected_from` remembers what a rejected signature was (pending or confirmed) so
-- that restoring it puts it back, and counts it again if it was confirmed.
ALTER TABLE signatures
    ADD COLUMN featured boolean NOT NULL DEFAULT false,
    ADD COLUMN rejected_from text CHECK (rejected_from IN ('pending', 'confirmed')),
    ADD COLUMN moderation_reason text;

-- Accent- and case-insensitive search text. unaccent() is only STABLE (its dictionary could
-- change); this wrapper names the dictionary explicitly, which is the documented way to index it.
CREATE FUNCTION admin_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN lower(public.unaccent('public.unaccent'::regdictionary, $1));

CREATE FUNCTION admin_search_text(given_name text, family_name text, email text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN admin_fold(coalesce(given_name, '') || ' ' || coalesce(family_name, '') || ' '
                      || coalesce(email, ''));

CREATE INDEX signatures_admin_search ON signatures
    USING gin (admin_search_text(given_name, family_name, email) gin_trgm_ops);
CREATE INDEX signatures_admin_recent ON signatures (campaign_id, created_at DESC, id DESC);
CREATE INDEX signatures_admin_status ON signatures (campaign_id, status, created_at DESC);
CREATE INDEX signatures_admin_territory ON signatures (campaign_id, territory_level, territory_code);
CREATE INDEX signatures_admin_ref ON signatures (campaign_id, ref) WHERE ref IS NOT NULL;
CREATE INDEX signatures_admin_mandate ON signatures (campaign_id, mandate);
CREATE INDEX signatures_admin_name ON signatures (campaign_id, family_name, given_name, id DESC);
CREATE INDEX territories_region ON territories (region);
CREATE INDEX territories_departement ON territories (departement);
CREATE INDEX outbox_signature ON outbox (signature_id);
CREATE INDEX outbox_recent ON outbox (created_at DESC, id DESC);

-- The public list shows featured signatories first.
DROP INDEX signatures_public_list;
CREATE INDEX signatures_public_list ON signatures (campaign_id, featured DESC, confirmed_at DESC)
    WHERE status = 'confirmed' AND public;

-- Who did what, when, with the state before and after. Append-only: the application inserts,
-- and the database refuses any UPDATE, DELETE or TRUNCATE, whoever asks.
CREATE TABLE audit_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    organiser_id    bigint REFERENCES organisers (id),
    organiser_email text,                -- kept as written then: accounts may change
    action          text NOT NULL,
    target_type     text,
    target_id       bigint,
    before          jsonb,
    after           jsonb,
    detail          jsonb
);

CREATE INDEX audit_log_target ON audit_log (target_type, target_id, id);
CREATE INDEX audit_log_recent ON audit_log (id DESC);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- The signatories an organiser filtered, in one place for the list, its count, bulk actions and
-- exports. A STABLE SQL function of one SELECT is inlined by the planner, so each caller's plan
-- sees the filter (and, with custom plans, its values) as if written in place.
-- The `verified` column comes from the register-of-officials migration (0002); without it, no
-- signature counts as verified. Hence the function is created through EXECUTE.
DO $do$
DECLARE
    has_verified boolean := EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'signatures'
          AND column_name = 'verified');
    verified_expr text := CASE WHEN has_verified THEN 's.verified' ELSE 'false' END;
BEGIN
    EXECUTE format($create$
CREATE FUNCTION admin_filtered_signatures(
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
    p_q_email     boolean,  -- false: the text matches names only (viewers see no address)
    p_verified    boolean
) RETURNS SETOF signatures LANGUAGE sql STABLE AS $fn$
    SELECT s.*
    FROM signatures s
    WHERE s.campaign_id = p_campaign
      AND (p_status IS NULL OR s.status = p_status)
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
                   LIKE '%%' || admin_fold(p_q) || '%%'
               AND (p_q_email OR admin_fold(s.given_name || ' ' || s.family_name)
                                 LIKE '%%' || admin_fold(p_q) || '%%'))
           OR (s.territory_level = 'commune' AND s.territory_code = ANY (p_communes)))
      AND (p_ref IS NULL OR s.ref = p_ref)
      AND (p_since IS NULL OR s.created_at >= p_since)
      AND (p_until IS NULL OR s.created_at < p_until)
      AND (p_public IS NULL OR s.public = p_public)
      AND (p_featured IS NULL OR s.featured = p_featured)
      AND (p_verified IS NULL OR %1$s = p_verified)
$fn$
$create$, verified_expr);

    -- Confirmed signatures found in the register (NULL without the register's migration).
    EXECUTE format($create$
CREATE FUNCTION admin_verified_count(p_campaign bigint) RETURNS bigint
    LANGUAGE sql STABLE AS $fn$ SELECT %1$s $fn$
$create$, CASE WHEN has_verified
               THEN 'count(*) FROM signatures s WHERE s.campaign_id = p_campaign '
                    'AND s.status = ''confirmed'' AND s.verified'
               ELSE 'NULL::bigint' END);
END
$do$;

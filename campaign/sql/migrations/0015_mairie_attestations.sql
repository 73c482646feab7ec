-- The town hall confirms (issue 14 §2): a confirmed signature of a maire, an adjoint or a
-- conseiller municipal that matches the register is put, once, to its commune's town hall at the
-- address the administration's directory publishes (campaign/data/mairies.csv.xz). One email per
-- commune per day at most carries every signer of that commune waiting at that moment; its link
-- (token: only the SHA-256 and the salt it is derived from, as for every link) opens a page where
-- the town hall answers for each signer: yes (proof = 'mairie') or no (suspect, `mairie_denied`).
--
-- status: queued   the email is in the outbox (or was sent): answers awaited;
--         answered every signer of it has an answer;
--         cancelled an organiser cancelled it (its link no longer answers);
--         no_address the directory has no address for the commune: nothing sent;
--         suppressed the address is on the suppression list: nothing sent.
CREATE TABLE mairie_attestations (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id  bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    commune      text NOT NULL,              -- INSEE code
    recipient    text,                       -- the town hall's address when it was asked
    status       text NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'answered', 'cancelled', 'no_address', 'suppressed')),
    salt         bytea NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    expires_at   timestamptz NOT NULL,
    outbox_id    bigint REFERENCES outbox (id) ON DELETE SET NULL,  -- the latest email sent for it
    sends        integer NOT NULL DEFAULT 0,  -- 1, plus the organisers' resends
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_sent_at timestamptz,
    answered_at  timestamptz,
    cancelled_at timestamptz,
    cancelled_by text
);

-- "At most one email per commune per day" and the campaign's hourly rate read these.
CREATE INDEX mairie_attestations_commune ON mairie_attestations (commune, created_at);
CREATE INDEX mairie_attestations_created ON mairie_attestations (created_at);
CREATE INDEX mairie_attestations_campaign ON mairie_attestations (campaign_id, id);
CREATE UNIQUE INDEX mairie_attestations_outbox ON mairie_attestations (outbox_id);

-- Each signer of an attestation, with the town hall's answer. A signature is put to its town hall
-- once (UNIQUE): an organiser resends the same attestation rather than making another.
CREATE TABLE mairie_attestation_signers (
    attestation_id bigint NOT NULL REFERENCES mairie_attestations (id) ON DELETE CASCADE,
    signature_id   bigint NOT NULL UNIQUE REFERENCES signatures (id) ON DELETE CASCADE,
    answer         text CHECK (answer IN ('yes', 'no')),
    answered_at    timestamptz,
    PRIMARY KEY (attestation_id, signature_id),
    CHECK ((answer IS NULL) = (answered_at IS NULL))
);

-- The signatures that may be put to their town hall, found without reading the whole table.
CREATE INDEX signatures_attestation_due ON signatures (territory_code, id)
    WHERE proof IS NULL AND status = 'confirmed' AND NOT suspect AND territory_level = 'commune'
      AND mandate IN ('maire', 'adjoint', 'conseiller_municipal') AND anonymised_at IS NULL;

-- Wake the attestation workers when a municipal signature comes to match the register (the
-- verification worker's record, an organiser's override) while confirmed: one NOTIFY per
-- transaction (identical payloads are folded).
CREATE FUNCTION notify_attestation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('attestation', '');
    RETURN NULL;
END $$;

CREATE TRIGGER signatures_notify_attestation
    AFTER UPDATE OF verification, verification_override, status ON signatures
    FOR EACH ROW
    WHEN (NEW.status = 'confirmed' AND NEW.proof IS NULL AND NOT NEW.suspect
          AND NEW.territory_level = 'commune'
          AND NEW.mandate IN ('maire', 'adjoint', 'conseiller_municipal')
          AND coalesce(NEW.verification_override, NEW.verification) = 'verified'
          AND (OLD.status, OLD.verification, OLD.verification_override)
              IS DISTINCT FROM (NEW.status, NEW.verification, NEW.verification_override))
    EXECUTE FUNCTION notify_attestation();

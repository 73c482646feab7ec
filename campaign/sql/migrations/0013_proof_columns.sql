-- Proof of mandate (issue 14): how a signer was proven to be the official they declare. A match
-- with the register (`verification`, since 0002) only proves that such a person holds such a
-- mandate; `proof` records who vouched that the signer is that person:
--   mairie           the commune's town hall confirmed through its published address;
--   official_domain  the signer confirmed from an address at their collectivité's or assembly's domain;
--   organisers       an organiser attested it in the back office, with a reason (audited).
-- NULL: no proof (declared, or only matching the register). These columns are the shared ground
-- of the later migrations that derive `verified` and the counters from them.
ALTER TABLE signatures
    ADD COLUMN proof text CHECK (proof IN ('mairie', 'official_domain', 'organisers')),
    ADD COLUMN proof_at timestamptz,
    ADD COLUMN proof_by text,       -- the organiser's account, the attesting address's domain, ...
    ADD COLUMN proof_note text,     -- the organiser's reason, or what the proof rests on
    ADD CONSTRAINT signatures_proof_complete CHECK ((proof IS NULL) = (proof_at IS NULL));

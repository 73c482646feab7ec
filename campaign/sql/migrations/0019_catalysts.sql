-- Territorial catalysts (issue 17 §1): an account of its own role, which sees only its console
-- (/console); the territories it owns (communes or départements: the register carries no
-- intercommunality's membership, only the commune its président sits in); the relay whose code
-- its QR code and flyer carry; and its visits and calls, noted per commune.

ALTER TABLE organisers DROP CONSTRAINT organisers_role_check;
ALTER TABLE organisers ADD CONSTRAINT organisers_role_check
    CHECK (role IN ('admin', 'organiser', 'viewer', 'catalyst'));

CREATE TABLE catalysts (
    organiser_id bigint PRIMARY KEY REFERENCES organisers (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    relay_id     bigint NOT NULL UNIQUE REFERENCES relays (id),
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE catalyst_territories (
    organiser_id    bigint NOT NULL REFERENCES catalysts (organiser_id) ON DELETE CASCADE,
    territory_level text NOT NULL CHECK (territory_level IN ('commune', 'departement')),
    territory_code  text NOT NULL,
    PRIMARY KEY (organiser_id, territory_level, territory_code),
    FOREIGN KEY (territory_level, territory_code) REFERENCES territories (level, code)
);

-- A visit or a call to a town hall, with the catalyst's note: what organisers read back.
CREATE TABLE catalyst_contacts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organiser_id    bigint NOT NULL REFERENCES organisers (id),
    campaign_id     bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    territory_level text NOT NULL DEFAULT 'commune' CHECK (territory_level = 'commune'),
    territory_code  text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('visit', 'call')),
    note            text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
    at              timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (territory_level, territory_code) REFERENCES territories (level, code)
);

CREATE INDEX catalyst_contacts_commune ON catalyst_contacts (campaign_id, territory_code, id DESC);
CREATE INDEX catalyst_contacts_recent ON catalyst_contacts (campaign_id, id DESC);

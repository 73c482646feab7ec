-- The public face: hourly history of the counts (published as JSON and CSV), and an index for
-- the newest public signatories.

-- One row per campaign and hour: the counts as one process read them at `taken_at` (the first
-- process to get to an hour wins; the others insert nothing). `hour` is the start of the hour in
-- UTC, computed by the application.
CREATE TABLE count_history_hours (
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    hour        timestamptz NOT NULL,
    taken_at    timestamptz NOT NULL DEFAULT now(),
    total       integer NOT NULL CHECK (total >= 0),
    verified    integer NOT NULL CHECK (verified >= 0),
    PRIMARY KEY (campaign_id, hour)
);

-- The same snapshot per région (régions without signatures have no row: zero).
CREATE TABLE count_history_regions (
    campaign_id bigint NOT NULL,
    hour        timestamptz NOT NULL,
    region      text NOT NULL,
    confirmed   integer NOT NULL CHECK (confirmed >= 0),
    verified    integer NOT NULL CHECK (verified >= 0),
    PRIMARY KEY (campaign_id, hour, region),
    FOREIGN KEY (campaign_id, hour) REFERENCES count_history_hours (campaign_id, hour)
        ON DELETE CASCADE
);

-- « Derniers signataires »: the newest confirmed public signatures, whatever is featured.
CREATE INDEX signatures_public_latest ON signatures (campaign_id, confirmed_at DESC, id DESC)
    WHERE status = 'confirmed' AND public;

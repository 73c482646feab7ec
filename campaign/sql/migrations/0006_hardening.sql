-- Faults the operator must hear about, shared by every process: today the SMTP relay refusing
-- our credentials (535). A worker raises the alert when it happens and clears it when a message
-- goes out again; the back office shows what is raised. No secret is ever stored here: `detail`
-- is the relay's reply.

CREATE TABLE service_alerts (
    kind        text PRIMARY KEY CHECK (kind IN ('smtp_auth')),
    detail      text NOT NULL,
    first_at    timestamptz NOT NULL DEFAULT now(),
    last_at     timestamptz NOT NULL DEFAULT now(),
    occurrences integer NOT NULL DEFAULT 1
);

-- Signings written together (campaign/signing_batch.py) do not NOTIFY in their transaction:
-- PostgreSQL serialises the commits of notifying transactions (one lock, held through the WAL
-- flush), which in a rush made every signing's commit wait for the previous one's. Such a
-- transaction says so with `set_config('campaign.outbox_notify', 'off', true)` (for itself
-- only), and the writer wakes the mail workers afterwards, once for many batches.
CREATE OR REPLACE FUNCTION notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('campaign.outbox_notify', true) IS DISTINCT FROM 'off' THEN
        PERFORM pg_notify('outbox', '');
    END IF;
    RETURN NULL;
END $$;

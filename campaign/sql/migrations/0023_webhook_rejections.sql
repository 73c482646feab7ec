-- A confirmed signature that the organisers reject (moderation) leaves the letter as a
-- withdrawal does: receivers are told `signature.withdrawn` (the id alone) so they erase it, and
-- the deliveries about it not sent yet are dropped. Restored, it is `signature.confirmed` again
-- (its status comes back to confirmed), built from the row as it is then.
CREATE OR REPLACE FUNCTION webhook_signature_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ev text := CASE
        WHEN NEW.status = 'confirmed' AND OLD.status <> 'confirmed'
            THEN 'signature.confirmed'
        WHEN NEW.status = 'confirmed' AND OLD.status = 'confirmed'
             AND NEW.verified IS TRUE AND OLD.verified IS NOT TRUE
            THEN 'signature.verified'
        WHEN OLD.confirmed_at IS NOT NULL
             AND ((NEW.status IN ('withdrawn', 'rejected') AND OLD.status = 'confirmed')
                  OR (NEW.status = 'withdrawn' AND OLD.status <> 'withdrawn')
                  OR (NEW.anonymised_at IS NOT NULL AND OLD.anonymised_at IS NULL))
            THEN 'signature.withdrawn'
    END;
BEGIN
    IF ev IS NULL THEN
        RETURN NULL;
    END IF;
    IF ev = 'signature.withdrawn' THEN
        UPDATE webhook_deliveries
        SET status = 'dropped', locked_until = NULL, last_error = 'signataire retiré'
        WHERE signature_id = NEW.id AND status = 'queued' AND event <> 'signature.withdrawn';
    END IF;
    INSERT INTO webhook_deliveries (endpoint_id, event, signature_id)
    SELECT e.id, ev, NEW.id FROM webhook_endpoints e
    WHERE e.campaign_id = NEW.campaign_id AND e.active AND ev = ANY (e.events);
    IF FOUND THEN
        PERFORM pg_notify('webhooks', '');
    END IF;
    RETURN NULL;
END $$;

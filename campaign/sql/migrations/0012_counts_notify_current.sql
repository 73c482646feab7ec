-- A counter's notification carries the row as it is when the notification is made, not the row
-- its triggering change wrote. Rejecting or restoring a verified signature changes its counter
-- twice in one statement: the query's CTE (`confirmed`) and then, from the signatures trigger
-- (count_verified), `verified` and `maires`. AFTER triggers fire at the end of the statement, the
-- CTE's last: its NEW (`verified` before the trigger's change) was notified after the trigger's
-- own, so every process held `verified` and `maires` one action behind the database. Read again,
-- the last notification of a transaction is always its final state.
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
        'maires', now_row.maires)::text);
    RETURN NEW;
END $$;

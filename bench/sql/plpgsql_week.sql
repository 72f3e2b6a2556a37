-- The PL/pgSQL baseline, part 2 (issue 12): release 0.2.0's rules written by hand beside the
-- seed's (bench/sql/plpgsql.sql, loaded first), as a competent team would add them for Supabase.
-- Same promotion as the extension, so the hot-slot waitlist scenario compares like with like:
--   * studio settings: one row (cancellation window, booking window, upcoming limit, waitlist
--     switch, size and cutoff), read by the rules at each change;
--   * the booking guard gains the booking window, the per-athlete limit (an advisory lock on the
--     athlete, then a count) and "a free place is held for the waitlist" (eligible athletes
--     waiting ahead of the booker before the cutoff);
--   * waitlist entries (RLS: own, the trainer's slots, admin; written only by the functions and
--     the triggers), join_waitlist / leave_waitlist (SECURITY DEFINER);
--   * promotion in an AFTER UPDATE trigger of a cancellation, under the slot lock the API's
--     cancel_booking takes first: the earliest waiting entries, in queue order, booked (or their
--     cancelled booking re-activated) until the slot is full; the new booking ends its entry;
--   * an event outbox row per booking change (confirmed, cancelled, promoted); no NOTIFY in the
--     booking's transaction (the extension's relay announces events afterwards, as this baseline
--     would too).
-- Its own types, so it loads beside any release of the extension.
\set ON_ERROR_STOP 1
SET synchronous_commit = off;
SET session_replication_role = replica;

CREATE TYPE bench_plpgsql.waitlist_state AS ENUM ('waiting', 'promoted', 'left', 'expired', 'removed');
CREATE TYPE bench_plpgsql.event_kind AS ENUM ('booking_confirmed', 'booking_cancelled', 'waitlist_promoted',
                                              'waitlist_expired', 'slot_cancelled', 'slot_changed');

CREATE TABLE bench_plpgsql.studio_settings (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    time_zone text NOT NULL DEFAULT 'UTC',
    cancellation_window interval NOT NULL DEFAULT '60 minutes',
    booking_opens_before interval,
    booking_closes_before interval NOT NULL DEFAULT '0',
    max_upcoming_bookings integer,
    waitlist_enabled boolean NOT NULL DEFAULT true,
    waitlist_max integer,
    waitlist_cutoff interval);
INSERT INTO bench_plpgsql.studio_settings DEFAULT VALUES;

CREATE TABLE bench_plpgsql.waitlist_entries (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slot_id uuid NOT NULL REFERENCES bench_plpgsql.slots (id),
    user_id uuid NOT NULL REFERENCES bench_plpgsql.users (id),
    queue_no bigserial,
    joined_at timestamptz NOT NULL DEFAULT now(),
    state bench_plpgsql.waitlist_state NOT NULL DEFAULT 'waiting',
    ended_at timestamptz,
    booking_id uuid REFERENCES bench_plpgsql.bookings (id));
CREATE UNIQUE INDEX ON bench_plpgsql.waitlist_entries (slot_id, user_id) WHERE state = 'waiting';
CREATE INDEX ON bench_plpgsql.waitlist_entries (slot_id, queue_no) WHERE state = 'waiting';
CREATE INDEX ON bench_plpgsql.waitlist_entries (user_id, state);

CREATE TABLE bench_plpgsql.events (
    id bigserial PRIMARY KEY,
    recipient_id uuid NOT NULL REFERENCES bench_plpgsql.users (id),
    kind bench_plpgsql.event_kind NOT NULL,
    slot_id uuid,
    booking_id uuid,
    payload jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    claimed_until timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    delivered_at timestamptz);
CREATE INDEX ON bench_plpgsql.events (recipient_id, id);
CREATE INDEX ON bench_plpgsql.events (id) WHERE delivered_at IS NULL;
CREATE INDEX ON bench_plpgsql.events (created_at);

-- The booking a promotion is making right now (its athlete's id): the guard lets it take the
-- place the waitlist holds, and the event says "promoted".
CREATE FUNCTION bench_plpgsql.promoting(p_user uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('bench_plpgsql.promoting', true), '') = p_user::text
$$;

-- The rules ------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION bench_plpgsql.bookings_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    s bench_plpgsql.slots;
    st bench_plpgsql.studio_settings;
    taken bigint;
    held bigint;
    promotion boolean;
    exempt boolean := false;
BEGIN
    NEW.updated_at := now();
    IF TG_OP = 'INSERT' THEN
        NEW.created_at := now();
    ELSIF NEW.status = OLD.status THEN
        RETURN NEW;
    END IF;
    NEW.status_changed_at := now();
    SELECT * INTO st FROM bench_plpgsql.studio_settings;
    IF NEW.status = 'reserved' THEN
        SELECT * INTO s FROM bench_plpgsql.slots WHERE id = NEW.slot_id FOR UPDATE;
        IF s.cancelled_at IS NOT NULL OR s.start_at <= now() THEN
            RAISE EXCEPTION 'slot % is not bookable', NEW.slot_id USING ERRCODE = '22023';
        END IF;
        promotion := bench_plpgsql.promoting(NEW.user_id);
        NEW.auto_processed := promotion;
        IF NOT promotion AND (st.booking_opens_before IS NOT NULL OR st.booking_closes_before > interval '0'
                              OR st.max_upcoming_bookings IS NOT NULL) THEN
            exempt := bench_plpgsql.my_role() = 'admin';
        END IF;
        IF NOT exempt AND now() < s.start_at - st.booking_opens_before THEN
            RAISE EXCEPTION 'booking has not opened' USING ERRCODE = '44000';
        END IF;
        IF NOT exempt AND st.booking_closes_before > interval '0' AND now() >= s.start_at - st.booking_closes_before THEN
            RAISE EXCEPTION 'booking has closed' USING ERRCODE = '22000';
        END IF;
        SELECT count(*) INTO taken FROM bench_plpgsql.bookings
         WHERE slot_id = NEW.slot_id AND status = 'reserved';
        IF taken >= s.capacity THEN
            RAISE EXCEPTION 'slot % is full', NEW.slot_id USING ERRCODE = '23P01';
        END IF;
        IF NOT exempt AND st.max_upcoming_bookings IS NOT NULL THEN
            PERFORM pg_advisory_xact_lock(hashtext(NEW.user_id::text));
            IF (SELECT count(*) FROM bench_plpgsql.bookings AS b JOIN bench_plpgsql.slots AS x ON x.id = b.slot_id
                 WHERE b.user_id = NEW.user_id AND b.status = 'reserved' AND x.start_at > now())
               >= st.max_upcoming_bookings THEN
                RAISE EXCEPTION 'upcoming bookings limit reached' USING ERRCODE = '21000';
            END IF;
        END IF;
        -- A free place is held for the eligible athletes waiting ahead of the booker.
        IF NOT promotion AND now() < s.start_at - coalesce(st.waitlist_cutoff, st.cancellation_window) THEN
            SELECT count(*) INTO held FROM bench_plpgsql.waitlist_entries AS w
             WHERE w.slot_id = NEW.slot_id AND w.state = 'waiting' AND w.user_id <> NEW.user_id
               AND w.queue_no < coalesce((SELECT m.queue_no FROM bench_plpgsql.waitlist_entries AS m
                                           WHERE m.slot_id = NEW.slot_id AND m.user_id = NEW.user_id
                                             AND m.state = 'waiting'), 9223372036854775807)
               AND (st.max_upcoming_bookings IS NULL
                    OR (SELECT count(*) FROM bench_plpgsql.bookings AS b JOIN bench_plpgsql.slots AS x ON x.id = b.slot_id
                         WHERE b.user_id = w.user_id AND b.status = 'reserved' AND x.start_at > now())
                       < st.max_upcoming_bookings);
            IF s.capacity - taken <= held THEN
                RAISE EXCEPTION 'slot % is full', NEW.slot_id USING ERRCODE = '23P01',
                    DETAIL = 'The free place is held for the waitlist.';
            END IF;
        END IF;
    ELSIF TG_OP = 'UPDATE' AND NEW.status = 'cancelled' THEN
        -- The freed place goes to the waitlist under the slot's lock (cancel_booking holds it already).
        SELECT * INTO s FROM bench_plpgsql.slots WHERE id = NEW.slot_id FOR UPDATE;
        IF bench_plpgsql.my_role() IS DISTINCT FROM 'admin' AND now() > s.start_at - st.cancellation_window THEN
            RAISE EXCEPTION 'too late to cancel' USING ERRCODE = '22023';
        END IF;
    END IF;
    RETURN NEW;
END $$;

-- A reserved booking ends its athlete's waiting for that slot.
CREATE FUNCTION bench_plpgsql.bookings_end_waiting() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    UPDATE bench_plpgsql.waitlist_entries SET state = 'promoted', ended_at = now(), booking_id = NEW.id
     WHERE slot_id = NEW.slot_id AND user_id = NEW.user_id AND state = 'waiting';
    RETURN NULL;
END $$;

-- A cancelled place goes to the earliest eligible waiting athletes, in the same transaction.
CREATE FUNCTION bench_plpgsql.bookings_promote() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    s bench_plpgsql.slots;
    st bench_plpgsql.studio_settings;
    free bigint;
    w record;
    skipped uuid[] := '{}';
BEGIN
    SELECT * INTO st FROM bench_plpgsql.studio_settings;
    SELECT * INTO s FROM bench_plpgsql.slots WHERE id = NEW.slot_id FOR UPDATE;
    IF s.cancelled_at IS NOT NULL OR now() >= s.start_at - coalesce(st.waitlist_cutoff, st.cancellation_window)
       OR now() < s.start_at - st.booking_opens_before
       OR (st.booking_closes_before > interval '0' AND now() >= s.start_at - st.booking_closes_before) THEN
        RETURN NULL;
    END IF;
    free := s.capacity - (SELECT count(*) FROM bench_plpgsql.bookings WHERE slot_id = s.id AND status = 'reserved');
    WHILE free > 0 LOOP
        SELECT e.id, e.user_id INTO w FROM bench_plpgsql.waitlist_entries AS e
         WHERE e.slot_id = s.id AND e.state = 'waiting' AND e.id <> ALL (skipped)
         ORDER BY e.queue_no LIMIT 1
           FOR UPDATE SKIP LOCKED;
        EXIT WHEN NOT FOUND;
        IF NOT EXISTS (SELECT FROM bench_plpgsql.users WHERE id = w.user_id AND deleted_at IS NULL)
           OR (st.max_upcoming_bookings IS NOT NULL
               AND (NOT pg_try_advisory_xact_lock(hashtext(w.user_id::text))
                    OR (SELECT count(*) FROM bench_plpgsql.bookings AS b JOIN bench_plpgsql.slots AS x ON x.id = b.slot_id
                         WHERE b.user_id = w.user_id AND b.status = 'reserved' AND x.start_at > now())
                       >= st.max_upcoming_bookings)) THEN
            skipped := skipped || w.id;
            CONTINUE;
        END IF;
        PERFORM set_config('bench_plpgsql.promoting', w.user_id::text, true);
        INSERT INTO bench_plpgsql.bookings (slot_id, user_id) VALUES (s.id, w.user_id)
        ON CONFLICT ON CONSTRAINT bookings_slot_user_key
        DO UPDATE SET status = 'reserved' WHERE bookings.status = 'cancelled';
        PERFORM set_config('bench_plpgsql.promoting', '', true);
        free := free - 1;
    END LOOP;
    RETURN NULL;
END $$;

-- The outbox: one event per booking change its athlete should hear of, and a notification.
CREATE FUNCTION bench_plpgsql.bookings_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    promotion boolean := bench_plpgsql.promoting(NEW.user_id);
    k bench_plpgsql.event_kind;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status = OLD.status THEN
        RETURN NULL;
    END IF;
    k := CASE WHEN NEW.status = 'reserved' AND promotion THEN 'waitlist_promoted'
              WHEN NEW.status = 'reserved' THEN 'booking_confirmed'
              WHEN NEW.status = 'cancelled' THEN 'booking_cancelled' END;
    IF k IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO bench_plpgsql.events (recipient_id, kind, slot_id, booking_id, payload)
    SELECT NEW.user_id, k, s.id, NEW.id,
           jsonb_build_object('start_at', s.start_at, 'end_at', s.end_at,
                              'by', CASE WHEN promotion THEN 'system'
                                         WHEN bench_plpgsql.uid() = NEW.user_id THEN 'athlete' ELSE 'admin' END)
      FROM bench_plpgsql.slots AS s WHERE s.id = NEW.slot_id;
    RETURN NULL;
END $$;

CREATE TRIGGER bookings_end_waiting AFTER INSERT OR UPDATE OF status ON bench_plpgsql.bookings
    FOR EACH ROW WHEN (NEW.status = 'reserved') EXECUTE FUNCTION bench_plpgsql.bookings_end_waiting();
CREATE TRIGGER bookings_promote AFTER UPDATE OF status ON bench_plpgsql.bookings
    FOR EACH ROW WHEN (OLD.status = 'reserved' AND NEW.status = 'cancelled')
    EXECUTE FUNCTION bench_plpgsql.bookings_promote();
CREATE TRIGGER bookings_events AFTER INSERT OR UPDATE OF status ON bench_plpgsql.bookings
    FOR EACH ROW EXECUTE FUNCTION bench_plpgsql.bookings_events();

-- Row-level security: entries and events are read by the people they concern -------------------
ALTER TABLE bench_plpgsql.studio_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE bench_plpgsql.waitlist_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE bench_plpgsql.events ENABLE ROW LEVEL SECURITY;
CREATE POLICY read_all ON bench_plpgsql.studio_settings FOR SELECT TO authenticated USING (true);
CREATE POLICY own_entries ON bench_plpgsql.waitlist_entries FOR SELECT TO authenticated
    USING (user_id = (SELECT bench_plpgsql.uid()));
CREATE POLICY trainer_entries ON bench_plpgsql.waitlist_entries FOR SELECT TO authenticated
    USING (EXISTS (SELECT 1 FROM bench_plpgsql.slots AS s
                    WHERE s.id = slot_id AND s.trainer_id = (SELECT bench_plpgsql.uid())));
CREATE POLICY admin_entries ON bench_plpgsql.waitlist_entries FOR SELECT TO authenticated
    USING ((SELECT bench_plpgsql.my_role()) = 'admin');
CREATE POLICY own_events ON bench_plpgsql.events FOR SELECT TO authenticated
    USING (recipient_id = (SELECT bench_plpgsql.uid()));
GRANT SELECT ON bench_plpgsql.studio_settings, bench_plpgsql.waitlist_entries, bench_plpgsql.events TO authenticated;

-- The API ---------------------------------------------------------------------------------------
-- The slot before the booking (the lock order): a cancellation's freed place is promoted under it.
CREATE FUNCTION bench_plpgsql.lock_booking_slot(p_booking uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT FROM bench_plpgsql.slots
     WHERE id = (SELECT slot_id FROM bench_plpgsql.bookings WHERE id = p_booking) FOR UPDATE
$$;

CREATE OR REPLACE FUNCTION bench_plpgsql.cancel_booking(p_booking uuid) RETURNS bench_plpgsql.bookings
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog AS $$
DECLARE
    b bench_plpgsql.bookings;
BEGIN
    PERFORM bench_plpgsql.lock_booking_slot(p_booking);
    UPDATE bench_plpgsql.bookings SET status = 'cancelled'
     WHERE id = p_booking AND status = 'reserved' RETURNING * INTO b;
    RETURN b;
END $$;

CREATE FUNCTION bench_plpgsql.join_waitlist(p_slot uuid) RETURNS bench_plpgsql.waitlist_entries
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    me uuid := bench_plpgsql.uid();
    st bench_plpgsql.studio_settings;
    s bench_plpgsql.slots;
    e bench_plpgsql.waitlist_entries;
    taken bigint;
    waiting bigint;
BEGIN
    IF me IS NULL THEN
        RAISE EXCEPTION 'sign in to join a waitlist' USING ERRCODE = '42501';
    END IF;
    IF bench_plpgsql.my_role() IS NULL THEN
        RAISE EXCEPTION 'the account has been deleted' USING ERRCODE = '23000';
    END IF;
    SELECT * INTO st FROM bench_plpgsql.studio_settings;
    IF NOT st.waitlist_enabled THEN
        RAISE EXCEPTION 'this studio has no waitlists' USING ERRCODE = '0A000';
    END IF;
    SELECT * INTO s FROM bench_plpgsql.slots WHERE id = p_slot FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'slot % not found', p_slot USING ERRCODE = '42704';
    END IF;
    IF s.cancelled_at IS NOT NULL OR s.start_at <= now()
       OR now() >= s.start_at - coalesce(st.waitlist_cutoff, st.cancellation_window) THEN
        RAISE EXCEPTION 'the waitlist of slot % is closed', p_slot USING ERRCODE = '23000';
    END IF;
    IF now() < s.start_at - st.booking_opens_before THEN
        RAISE EXCEPTION 'booking has not opened' USING ERRCODE = '44000';
    END IF;
    IF st.booking_closes_before > interval '0' AND now() >= s.start_at - st.booking_closes_before THEN
        RAISE EXCEPTION 'booking has closed' USING ERRCODE = '22000';
    END IF;
    SELECT * INTO e FROM bench_plpgsql.waitlist_entries WHERE slot_id = p_slot AND user_id = me AND state = 'waiting';
    IF FOUND THEN
        RETURN e;
    END IF;
    IF EXISTS (SELECT FROM bench_plpgsql.bookings WHERE slot_id = p_slot AND user_id = me AND status = 'reserved') THEN
        RAISE EXCEPTION 'you already hold a place in this slot' USING ERRCODE = '22023';
    END IF;
    SELECT count(*) INTO taken FROM bench_plpgsql.bookings WHERE slot_id = p_slot AND status = 'reserved';
    SELECT count(*) INTO waiting FROM bench_plpgsql.waitlist_entries WHERE slot_id = p_slot AND state = 'waiting';
    IF s.capacity - taken > waiting THEN
        RAISE EXCEPTION 'this slot has a free place' USING ERRCODE = '22023', HINT = 'Book it.';
    END IF;
    IF waiting >= st.waitlist_max THEN
        RAISE EXCEPTION 'the waitlist is full' USING ERRCODE = '23P01';
    END IF;
    INSERT INTO bench_plpgsql.waitlist_entries (slot_id, user_id) VALUES (p_slot, me) RETURNING * INTO e;
    RETURN e;
END $$;

CREATE FUNCTION bench_plpgsql.leave_waitlist(p_slot uuid) RETURNS bench_plpgsql.waitlist_entries
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    e bench_plpgsql.waitlist_entries;
BEGIN
    UPDATE bench_plpgsql.waitlist_entries SET state = 'left', ended_at = now()
     WHERE slot_id = p_slot AND user_id = bench_plpgsql.uid() AND state = 'waiting' RETURNING * INTO e;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'not waiting for slot %', p_slot USING ERRCODE = '42704';
    END IF;
    RETURN e;
END $$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA bench_plpgsql TO authenticated;

RESET session_replication_role;
ANALYZE bench_plpgsql.studio_settings, bench_plpgsql.waitlist_entries, bench_plpgsql.events;

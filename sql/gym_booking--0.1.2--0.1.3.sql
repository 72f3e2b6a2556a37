\echo Use "ALTER EXTENSION gym_booking UPDATE TO '0.1.3'" to load this file. \quit

-- ==========================================================================================
-- BEGIN upgrade lock (issue 19; scripts/upgrade_paths.sh copies this section to the top of
-- every direct upgrade script). Clients wait for an upgrade and never deadlock with it.
-- Requests take their tables a statement at a time, in an order that differs from path to
-- path (book_slot reads slots first, cancel_booking updates bookings first, the rules'
-- triggers reach users and the log later), so no order of LOCK TABLE avoids them all: an
-- upgrade holding one table while it waits for the next closes a circle with a request that
-- holds the next and waits for the first, and one of them gets 40P01. So this upgrade never
-- waits long while it holds anything: it takes every table it changes in one statement
-- (slots and bookings first, the tables most requests take first: fewer retries under load),
-- each wait bounded to a tenth of deadlock_timeout (at most 100 ms), so that no request's
-- deadlock check ever finds it; when a table stays busy it lets go of all of them, pauses a
-- moment and tries again. Requests that arrive meanwhile wait for it, briefly. A lock_timeout
-- of the upgrading session bounds the whole wait (55P03), as it bounds a plain LOCK TABLE.
-- ==========================================================================================
DO $upgrade_lock$
DECLARE
    session_lock_timeout text := current_setting('lock_timeout');
    give_up_after interval := nullif(current_setting('lock_timeout'), '0')::interval;
    each_wait interval :=
        least(interval '100 ms', current_setting('deadlock_timeout')::interval / 10);
    started timestamptz := clock_timestamp();
    tries int := 0;
BEGIN
    PERFORM set_config('lock_timeout',
                       greatest(1, (extract(epoch FROM each_wait) * 1000)::int) || 'ms', true);
    LOOP
        BEGIN
            LOCK TABLE slots, bookings, users, activity_logs, booking_status_history
                IN ACCESS EXCLUSIVE MODE;
            EXIT;
        EXCEPTION WHEN lock_not_available THEN
            tries := tries + 1;
            IF clock_timestamp() - started > give_up_after THEN
                RAISE EXCEPTION 'gym_booking''s tables stayed busy for lock_timeout (%): no upgrade',
                                session_lock_timeout
                    USING ERRCODE = 'lock_not_available',
                          HINT = 'Try again, or raise lock_timeout for the upgrading session.';
            END IF;
            PERFORM pg_sleep(random() * least(tries, 10) * 0.01);
        END;
    END LOOP;
    PERFORM set_config('lock_timeout', session_lock_timeout, true);
END
$upgrade_lock$;
-- END upgrade lock
-- ==========================================================================================

-- 0.1.3: no request can switch the rules off, the rules judge time by the statement's clock
-- (issue 17), and one lock order for every path (issue 16).

-- The writer's own users row before any slot or booking (src/rules/lock_order.rs).
CREATE FUNCTION lock_writer_first() RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'lock_writer_first_wrapper';
CREATE TRIGGER slots_lock_writer_first_tg
    BEFORE INSERT OR UPDATE OR DELETE ON slots
    FOR EACH STATEMENT EXECUTE FUNCTION lock_writer_first();
CREATE TRIGGER bookings_lock_writer_first_tg
    BEFORE INSERT OR UPDATE OR DELETE ON bookings
    FOR EACH STATEMENT EXECUTE FUNCTION lock_writer_first();

-- created_at and updated_at are the rules' to set on INSERT too.
DROP TRIGGER users_updated_at_tg ON users;
CREATE TRIGGER users_updated_at_tg
    BEFORE INSERT OR UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
DROP TRIGGER slots_updated_at_tg ON slots;
CREATE TRIGGER slots_updated_at_tg
    BEFORE INSERT OR UPDATE ON slots
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
DROP TRIGGER bookings_updated_at_tg ON bookings;
CREATE TRIGGER bookings_updated_at_tg
    BEFORE INSERT OR UPDATE ON bookings
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Sizes. A database holding longer values refuses this upgrade (23514) and names the
-- constraint: shorten those values, then upgrade.
ALTER TABLE users
    ADD CONSTRAINT users_email_length_check CHECK (char_length(email) <= 254),
    ADD CONSTRAINT users_first_name_length_check CHECK (char_length(first_name) <= 100),
    ADD CONSTRAINT users_last_name_length_check CHECK (char_length(last_name) <= 100),
    ADD CONSTRAINT users_contact_email_length_check CHECK (char_length(contact_email) <= 254),
    ADD CONSTRAINT users_contact_phone_length_check CHECK (char_length(contact_phone) <= 32),
    ADD CONSTRAINT users_preferences_check
        CHECK (jsonb_typeof(preferences) = 'object' AND octet_length(preferences::text) <= 8192);
ALTER TABLE slots
    ADD CONSTRAINT slots_notes_length_check CHECK (char_length(notes) <= 2000);

-- A deleted account (or a token without a sub) reads no slot.
ALTER POLICY read_all_authenticated ON slots USING ((SELECT active_user_id()) IS NOT NULL);

-- Clients never choose a new row's id.
REVOKE INSERT ON slots FROM authenticated;
GRANT INSERT (trainer_id, start_at, end_at, duration_minutes, capacity, notes, cancelled_at,
              created_at, updated_at)
    ON slots TO authenticated;
REVOKE INSERT ON bookings FROM authenticated;
GRANT INSERT (slot_id, user_id, status, status_changed_at, auto_processed, created_at, updated_at)
    ON bookings TO authenticated;

-- Whether the caller reads as somebody (src/identity.rs): available_slots answers nobody else.
CREATE FUNCTION signed_in() RETURNS bool
STRICT STABLE PARALLEL RESTRICTED
LANGUAGE c
AS 'MODULE_PATHNAME', 'signed_in_wrapper';
COMMENT ON FUNCTION signed_in() IS 'Whether the caller reads as somebody: an active account, or a role that is not a client''s';

-- The API judges time by the statement's clock, and acts only for an active account.
CREATE OR REPLACE FUNCTION book_slot(slot_id uuid) RETURNS bookings
LANGUAGE plpgsql VOLATILE STRICT SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := gym_booking.current_user_id();
    booking gym_booking.bookings;
BEGIN
    IF me IS NULL THEN
        RAISE EXCEPTION 'sign in to book a slot' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF gym_booking.active_user_id() IS NULL THEN
        -- A token whose account is deleted (or was never made) sees no slot; the rules answer
        -- its booking as they answer any write for it (a deleted account cannot book).
        INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES (book_slot.slot_id, me)
        RETURNING * INTO booking;
        RETURN booking;
    END IF;
    -- Twice at most: when the same athlete's other request (a double tap) inserts the row
    -- between our look and our insert, the second turn reads it.
    FOR turn IN 1..2 LOOP
        -- A new booking in one statement: the slot exists and the caller has no row in it.
        INSERT INTO gym_booking.bookings (slot_id, user_id)
        SELECT s.id, me FROM gym_booking.slots AS s
         WHERE s.id = book_slot.slot_id
           AND NOT EXISTS (SELECT FROM gym_booking.bookings AS b
                            WHERE b.slot_id = s.id AND b.user_id = me)
        ON CONFLICT ON CONSTRAINT bookings_slot_user_key DO NOTHING
        RETURNING * INTO booking;
        EXIT WHEN FOUND;
        -- Else: no such slot, or the caller's booking of it.
        SELECT b.* INTO booking
          FROM gym_booking.slots AS s
          LEFT JOIN gym_booking.bookings AS b ON b.slot_id = s.id AND b.user_id = me
         WHERE s.id = book_slot.slot_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'slot % not found', book_slot.slot_id USING ERRCODE = 'undefined_object';
        ELSIF booking.status = 'cancelled' THEN
            -- Booking again re-activates the same row (capacity and start permitting). Said as
            -- an insert that meets the row, so the rules take the slot before the booking (the
            -- lock order); a plain UPDATE would hold the booking first.
            INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES (book_slot.slot_id, me)
            ON CONFLICT ON CONSTRAINT bookings_slot_user_key
            DO UPDATE SET status = 'reserved' WHERE bookings.status = 'cancelled'
            RETURNING * INTO booking;
            -- Not found: another request of the caller's changed it first; look again.
            EXIT WHEN FOUND;
        ELSIF booking.status = 'completed' THEN
            RAISE EXCEPTION 'this booking is already completed' USING ERRCODE = 'invalid_parameter_value';
        ELSIF booking.status = 'reserved' THEN
            EXIT;
        END IF;
    END LOOP;
    -- Already reserved: booking twice is booking once.
    RETURN booking;
END
$$;

CREATE OR REPLACE FUNCTION create_slot(
    start_at timestamptz,
    duration_minutes integer DEFAULT 60,
    capacity integer DEFAULT 1,
    notes text DEFAULT NULL
) RETURNS slots
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := gym_booking.current_user_id();
    slot gym_booking.slots;
BEGIN
    IF me IS NULL THEN
        RAISE EXCEPTION 'sign in to create a slot' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT gym_booking.is_trainer() THEN
        RAISE EXCEPTION 'only trainers create slots' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF create_slot.start_at IS NULL OR create_slot.duration_minutes IS NULL OR create_slot.capacity IS NULL THEN
        RAISE EXCEPTION 'start_at, duration_minutes and capacity are required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF create_slot.start_at <= statement_timestamp() THEN
        RAISE EXCEPTION 'a new slot starts in the future' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO gym_booking.slots (trainer_id, start_at, duration_minutes, capacity, notes)
    VALUES (me, create_slot.start_at, create_slot.duration_minutes, create_slot.capacity, create_slot.notes)
    RETURNING * INTO slot;
    RETURN slot;
END
$$;

CREATE OR REPLACE FUNCTION cancel_slot(slot_id uuid) RETURNS slots
LANGUAGE plpgsql VOLATILE STRICT SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    slot gym_booking.slots;
BEGIN
    IF gym_booking.active_user_id() IS NULL THEN
        RAISE EXCEPTION 'sign in with an active account to cancel a slot'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE gym_booking.slots AS s SET cancelled_at = statement_timestamp()
     WHERE s.id = cancel_slot.slot_id AND s.cancelled_at IS NULL
    RETURNING * INTO slot;
    IF FOUND THEN
        RETURN slot;
    END IF;
    SELECT * INTO slot FROM gym_booking.slots AS s WHERE s.id = cancel_slot.slot_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'slot % not found', cancel_slot.slot_id USING ERRCODE = 'undefined_object';
    ELSIF slot.cancelled_at IS NULL THEN
        RAISE EXCEPTION 'only the slot''s trainer or the gym cancels a slot' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN slot;  -- already cancelled
END
$$;

CREATE OR REPLACE FUNCTION available_slots_counted(p_from timestamptz, p_to timestamptz, p_trainer_id uuid)
RETURNS TABLE (
    slot_id uuid,
    trainer_id uuid,
    trainer_name text,
    start_at timestamptz,
    end_at timestamptz,
    duration_minutes smallint,
    capacity smallint,
    booked integer,
    available integer,
    notes text
)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    -- As reading slots requires: a deleted account's token, or a client's token without a
    -- sub, sees nothing.
    IF NOT gym_booking.signed_in() THEN
        RETURN;
    END IF;
    IF p_trainer_id IS NOT NULL THEN
        RETURN QUERY
        SELECT s.id, s.trainer_id, d.display_name, s.start_at, s.end_at, s.duration_minutes,
               s.capacity, taken.booked, s.capacity - taken.booked, s.notes
          FROM gym_booking.slots AS s
          LEFT JOIN gym_booking.trainer_directory AS d ON d.trainer_id = s.trainer_id
         CROSS JOIN LATERAL (
               SELECT count(*)::integer AS booked
                 FROM gym_booking.bookings AS b
                WHERE b.slot_id = s.id AND b.status = 'reserved') AS taken
         WHERE s.trainer_id = p_trainer_id
           AND s.start_at >= greatest(p_from, statement_timestamp())
           AND s.start_at < p_to
           AND s.cancelled_at IS NULL
         ORDER BY s.start_at, s.id;
    ELSE
        RETURN QUERY
        SELECT s.id, s.trainer_id, d.display_name, s.start_at, s.end_at, s.duration_minutes,
               s.capacity, taken.booked, s.capacity - taken.booked, s.notes
          FROM gym_booking.slots AS s
          LEFT JOIN gym_booking.trainer_directory AS d ON d.trainer_id = s.trainer_id
         CROSS JOIN LATERAL (
               SELECT count(*)::integer AS booked
                 FROM gym_booking.bookings AS b
                WHERE b.slot_id = s.id AND b.status = 'reserved') AS taken
         WHERE s.start_at >= greatest(p_from, statement_timestamp())
           AND s.start_at < p_to
           AND s.cancelled_at IS NULL
         ORDER BY s.start_at, s.id;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION delete_my_account() RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := gym_booking.current_user_id();
BEGIN
    IF me IS NULL THEN
        RAISE EXCEPTION 'sign in to delete your account' USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE gym_booking.users SET deleted_at = statement_timestamp() WHERE id = me AND deleted_at IS NULL;
    IF NOT FOUND AND NOT EXISTS (SELECT FROM gym_booking.users WHERE id = me) THEN
        RAISE EXCEPTION 'no account for user %', me USING ERRCODE = 'undefined_object';
    END IF;
END
$$;

-- Nothing runs unless granted (as finalize.sql has it for a new install).
REVOKE EXECUTE ON FUNCTION lock_writer_first(), signed_in() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION signed_in() TO authenticated, service_role;

-- ==========================================================================================
-- Issue 10: a request costs the same after years of history, in a studio of any shape.
-- What hangs off a slot (its bookings, their history, the log entries of both) carries the
-- slot's trainer, kept by the rules (src/rules/trainer.rs); row-level security finds a
-- trainer's rows by that column instead of gathering every slot the trainer ever ran.
-- ==========================================================================================
ALTER TABLE bookings ADD COLUMN trainer_id uuid;
ALTER TABLE activity_logs ADD COLUMN trainer_id uuid;
ALTER TABLE booking_status_history ADD COLUMN trainer_id uuid;

-- The rows there are: their slots' trainers (a log entry of a slot or booking that is gone
-- has none). The rules stay out of it: a copy is no change of the booking's.
ALTER TABLE bookings DISABLE TRIGGER USER;
UPDATE bookings AS b SET trainer_id = s.trainer_id FROM slots AS s WHERE s.id = b.slot_id;
ALTER TABLE bookings ENABLE TRIGGER USER;
UPDATE booking_status_history AS h SET trainer_id = b.trainer_id
  FROM bookings AS b WHERE b.id = h.booking_id;
UPDATE activity_logs AS l SET trainer_id = s.trainer_id
  FROM slots AS s WHERE l.entity_type = 'slot' AND s.id = l.entity_id;
UPDATE activity_logs AS l SET trainer_id = b.trainer_id
  FROM bookings AS b WHERE l.entity_type = 'booking' AND b.id = l.entity_id;

CREATE INDEX bookings_trainer_idx ON bookings (trainer_id);
CREATE INDEX booking_status_history_trainer_idx ON booking_status_history (trainer_id);
CREATE INDEX activity_logs_trainer_idx ON activity_logs (trainer_id) WHERE trainer_id IS NOT NULL;

CREATE FUNCTION "follow_slot_trainer"()
	RETURNS TRIGGER
	LANGUAGE c
	AS 'MODULE_PATHNAME', 'follow_slot_trainer_wrapper';
CREATE FUNCTION "slot_trainer_cascade"()
	RETURNS TRIGGER
	LANGUAGE c
	AS 'MODULE_PATHNAME', 'slot_trainer_cascade_wrapper';
CREATE FUNCTION "slot_trainer_forget"()
	RETURNS TRIGGER
	LANGUAGE c
	AS 'MODULE_PATHNAME', 'slot_trainer_forget_wrapper';
REVOKE EXECUTE ON FUNCTION follow_slot_trainer(), slot_trainer_cascade(), slot_trainer_forget()
    FROM PUBLIC;

CREATE TRIGGER bookings_trainer_tg
    BEFORE INSERT ON bookings
    FOR EACH ROW EXECUTE FUNCTION follow_slot_trainer();
ALTER TABLE bookings ENABLE ALWAYS TRIGGER bookings_trainer_tg;
CREATE TRIGGER bookings_trainer_kept_tg
    BEFORE UPDATE ON bookings
    FOR EACH ROW WHEN (OLD.trainer_id IS DISTINCT FROM NEW.trainer_id)
    EXECUTE FUNCTION follow_slot_trainer();
CREATE TRIGGER booking_status_history_trainer_tg
    BEFORE INSERT ON booking_status_history
    FOR EACH ROW EXECUTE FUNCTION follow_slot_trainer();
ALTER TABLE booking_status_history ENABLE ALWAYS TRIGGER booking_status_history_trainer_tg;
CREATE TRIGGER activity_logs_trainer_tg
    BEFORE INSERT ON activity_logs
    FOR EACH ROW WHEN (NEW.entity_type <> 'user')
    EXECUTE FUNCTION follow_slot_trainer();
ALTER TABLE activity_logs ENABLE ALWAYS TRIGGER activity_logs_trainer_tg;
CREATE TRIGGER slots_trainer_cascade_tg
    AFTER UPDATE ON slots
    FOR EACH ROW WHEN (OLD.trainer_id IS DISTINCT FROM NEW.trainer_id)
    EXECUTE FUNCTION slot_trainer_cascade();
CREATE TRIGGER slots_trainer_forget_tg
    AFTER DELETE ON slots
    FOR EACH ROW EXECUTE FUNCTION slot_trainer_forget();
CREATE TRIGGER bookings_trainer_forget_tg
    AFTER DELETE ON bookings
    FOR EACH ROW EXECUTE FUNCTION slot_trainer_forget();

ALTER POLICY trainer_related_booking ON bookings
    USING (trainer_id = (SELECT active_user_id()));
ALTER POLICY related_slot_booking ON activity_logs
    USING (trainer_id = (SELECT active_user_id()));
ALTER POLICY visible_booking_history ON booking_status_history
    USING (booking_id = ANY (ARRAY(SELECT b.id FROM bookings AS b
                                    WHERE b.user_id = (SELECT active_user_id())))
        OR trainer_id = (SELECT active_user_id())
        OR (id >= (SELECT CASE WHEN is_app_admin() THEN -9223372036854775808 END)
            AND id <= (SELECT 9223372036854775807)
            AND changed_at >= (SELECT '-infinity'::timestamptz)
            AND changed_at <= (SELECT 'infinity'::timestamptz)));

ALTER TABLE bookings ALTER COLUMN trainer_id SET (n_distinct = -1);
ALTER TABLE booking_status_history ALTER COLUMN trainer_id SET (n_distinct = -1);
ALTER TABLE activity_logs ALTER COLUMN trainer_id SET (n_distinct = -1);
ANALYZE bookings, booking_status_history, activity_logs;

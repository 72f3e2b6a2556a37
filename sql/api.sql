-- The API: what an app calls, from SQL or as PostgREST RPC (POST /rpc/<name>, JSON keys =
-- parameter names). Read-only functions are STABLE so PostgREST also serves them by GET.
-- SECURITY INVOKER where row-level security says enough; SECURITY DEFINER (with a pinned
-- search_path) only where a caller needs a figure or a change RLS would hide from them.
-- Errors: 42501 not signed in / not allowed, 42704 not found, the rules' own codes otherwise.

CREATE FUNCTION book_slot(slot_id uuid) RETURNS bookings
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
COMMENT ON FUNCTION book_slot(uuid) IS
    'Books the slot for the caller (or re-activates their cancelled booking); returns the booking';

CREATE FUNCTION cancel_booking(booking_id uuid) RETURNS bookings
LANGUAGE plpgsql VOLATILE STRICT SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    booking gym_booking.bookings;
BEGIN
    IF gym_booking.current_user_id() IS NULL THEN
        RAISE EXCEPTION 'sign in to cancel a booking' USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- The slot before the booking (the lock order): the freed place goes to the waitlist
    -- under the slot's lock.
    PERFORM gym_booking.lock_booking_slot(cancel_booking.booking_id);
    UPDATE gym_booking.bookings AS b SET status = 'cancelled'
     WHERE b.id = cancel_booking.booking_id AND b.status = 'reserved'
    RETURNING * INTO booking;
    IF FOUND THEN
        RETURN booking;
    END IF;
    SELECT * INTO booking FROM gym_booking.bookings AS b WHERE b.id = cancel_booking.booking_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'booking % not found', cancel_booking.booking_id USING ERRCODE = 'undefined_object';
    ELSIF booking.status = 'completed' THEN
        RAISE EXCEPTION 'a completed booking is final' USING ERRCODE = 'invalid_parameter_value';
    ELSIF booking.status = 'reserved' THEN
        -- Visible (a trainer's slot) but not the caller's to change.
        RAISE EXCEPTION 'only the athlete or the gym cancels a booking' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN booking;  -- already cancelled
END
$$;
COMMENT ON FUNCTION cancel_booking(uuid) IS
    'Cancels the caller''s booking (until 60 minutes before the start; an admin any time)';

CREATE FUNCTION create_slot(
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
COMMENT ON FUNCTION create_slot(timestamptz, integer, integer, text) IS
    'Creates a slot of the calling trainer; returns it';

CREATE FUNCTION cancel_slot(slot_id uuid) RETURNS slots
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
COMMENT ON FUNCTION cancel_slot(uuid) IS
    'Cancels a slot of the calling trainer (an admin: any slot); its reserved bookings are cancelled';

-- The figures count every athlete's bookings, which RLS hides from the caller; only counts
-- leave, never who booked. The counting runs in available_slots_counted (SECURITY DEFINER,
-- PL/pgSQL: one plan per branch, kept for the session, each reading by an index);
-- available_slots is a plain SQL wrapper that PostgreSQL inlines into the caller's query.
-- (PL/pgSQL cannot be available_slots itself: its parameter trainer_id is also a result
-- column, which SQL functions allow and PL/pgSQL refuses.)
CREATE FUNCTION available_slots_counted(p_from timestamptz, p_to timestamptz, p_trainer_id uuid)
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
    waiting integer,
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
               s.capacity, taken.booked, s.capacity - taken.booked, queued.waiting, s.notes
          FROM gym_booking.slots AS s
          LEFT JOIN gym_booking.trainer_directory AS d ON d.trainer_id = s.trainer_id
         CROSS JOIN LATERAL (
               SELECT count(*)::integer AS booked
                 FROM gym_booking.bookings AS b
                WHERE b.slot_id = s.id AND b.status = 'reserved') AS taken
         CROSS JOIN LATERAL (
               SELECT count(*)::integer AS waiting
                 FROM gym_booking.waitlist_entries AS w
                WHERE w.slot_id = s.id AND w.state = 'waiting') AS queued
         WHERE s.trainer_id = p_trainer_id
           AND s.start_at >= greatest(p_from, statement_timestamp())
           AND s.start_at < p_to
           AND s.cancelled_at IS NULL
         ORDER BY s.start_at, s.id;
    ELSE
        RETURN QUERY
        SELECT s.id, s.trainer_id, d.display_name, s.start_at, s.end_at, s.duration_minutes,
               s.capacity, taken.booked, s.capacity - taken.booked, queued.waiting, s.notes
          FROM gym_booking.slots AS s
          LEFT JOIN gym_booking.trainer_directory AS d ON d.trainer_id = s.trainer_id
         CROSS JOIN LATERAL (
               SELECT count(*)::integer AS booked
                 FROM gym_booking.bookings AS b
                WHERE b.slot_id = s.id AND b.status = 'reserved') AS taken
         CROSS JOIN LATERAL (
               SELECT count(*)::integer AS waiting
                 FROM gym_booking.waitlist_entries AS w
                WHERE w.slot_id = s.id AND w.state = 'waiting') AS queued
         WHERE s.start_at >= greatest(p_from, statement_timestamp())
           AND s.start_at < p_to
           AND s.cancelled_at IS NULL
         ORDER BY s.start_at, s.id;
    END IF;
END
$$;
COMMENT ON FUNCTION available_slots_counted(timestamptz, timestamptz, uuid) IS
    'The body of available_slots (call that instead): bookable slots with their counts';

CREATE FUNCTION available_slots(
    "from" timestamptz DEFAULT now(),
    "to" timestamptz DEFAULT now() + interval '7 days',
    trainer_id uuid DEFAULT NULL
) RETURNS TABLE (
    slot_id uuid,
    trainer_id uuid,
    trainer_name text,
    start_at timestamptz,
    end_at timestamptz,
    duration_minutes smallint,
    capacity smallint,
    booked integer,
    available integer,
    waiting integer,
    notes text
)
LANGUAGE sql STABLE SECURITY INVOKER
AS $$
    SELECT * FROM gym_booking.available_slots_counted(available_slots."from", available_slots."to",
                                                      available_slots.trainer_id)
$$;
COMMENT ON FUNCTION available_slots(timestamptz, timestamptz, uuid) IS
    'Bookable slots starting in [from, to) (not before now), optionally of one trainer: capacity, booked, available, waiting';

CREATE FUNCTION my_bookings(
    "from" timestamptz DEFAULT NULL,
    "to" timestamptz DEFAULT NULL
) RETURNS TABLE (
    booking_id uuid,
    slot_id uuid,
    trainer_id uuid,
    trainer_name text,
    start_at timestamptz,
    end_at timestamptz,
    status booking_status,
    status_changed_at timestamptz,
    notes text
)
-- No SET: PostgreSQL inlines it (planned with the caller's query, not at every call). It runs
-- with the caller's rights and names everything qualified.
LANGUAGE sql STABLE SECURITY INVOKER
AS $$
    SELECT b.id, s.id, s.trainer_id, d.display_name, s.start_at, s.end_at, b.status,
           b.status_changed_at, s.notes
      FROM gym_booking.bookings AS b
      JOIN gym_booking.slots AS s ON s.id = b.slot_id
      LEFT JOIN gym_booking.trainer_directory AS d ON d.trainer_id = s.trainer_id
     WHERE b.user_id = gym_booking.current_user_id()
       AND (my_bookings."from" IS NULL OR s.start_at >= my_bookings."from")
       AND (my_bookings."to" IS NULL OR s.start_at < my_bookings."to")
     ORDER BY s.start_at, b.id
$$;
COMMENT ON FUNCTION my_bookings(timestamptz, timestamptz) IS
    'The caller''s bookings (every status), with their slots, optionally starting in [from, to)';

-- SECURITY DEFINER: a person may not set deleted_at themselves (only the gym changes it);
-- this function does it for exactly one row, theirs.
CREATE FUNCTION delete_my_account() RETURNS void
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
COMMENT ON FUNCTION delete_my_account() IS
    'Deletes the caller''s account for good: anonymized, future bookings (and slots) cancelled';

\echo Use "ALTER EXTENSION gym_booking UPDATE TO '0.1.2'" to load this file. \quit

-- 0.1.2: the hot paths (issue 6).

-- The policies' helpers become Rust (src/identity.rs): the caller's users row is read once
-- per statement instead of planning a SECURITY DEFINER SQL body again at every call.
CREATE OR REPLACE FUNCTION gym_booking.active_user_id() RETURNS uuid
STRICT STABLE PARALLEL RESTRICTED
LANGUAGE c
AS 'MODULE_PATHNAME', 'active_user_id_wrapper';

CREATE OR REPLACE FUNCTION gym_booking.is_app_admin() RETURNS bool
STRICT STABLE PARALLEL RESTRICTED
LANGUAGE c
AS 'MODULE_PATHNAME', 'is_app_admin_wrapper';
COMMENT ON FUNCTION gym_booking.is_app_admin() IS 'Whether the caller is an active app admin';

CREATE OR REPLACE FUNCTION gym_booking.is_trainer() RETURNS bool
STRICT STABLE PARALLEL RESTRICTED
LANGUAGE c
AS 'MODULE_PATHNAME', 'is_trainer_wrapper';
COMMENT ON FUNCTION gym_booking.is_trainer() IS 'Whether the caller is an active trainer';

CREATE OR REPLACE FUNCTION gym_booking.current_app_role() RETURNS gym_booking.user_role
LANGUAGE sql STABLE PARALLEL RESTRICTED
AS $$
    SELECT CASE WHEN gym_booking.is_app_admin() THEN 'admin'
                WHEN gym_booking.is_trainer() THEN 'trainer'
                WHEN gym_booking.active_user_id() IS NOT NULL THEN 'athlete'
           END::gym_booking.user_role
$$;

-- Indexes that the policies, available_slots and the completion batch read by.
CREATE INDEX activity_logs_changed_by_idx ON activity_logs (changed_by);
CREATE INDEX slots_start_active_idx ON slots (start_at) WHERE cancelled_at IS NULL;
CREATE INDEX slots_end_at_idx ON slots (end_at);

-- Policies a read without a WHERE answers from indexes (see security.sql): lists as
-- `= ANY (ARRAY(...))`, the app admin's every row as a primary-key range.
ALTER POLICY trainer_related_booking ON bookings
    USING (slot_id = ANY (ARRAY(SELECT s.id FROM slots AS s
                                 WHERE s.trainer_id = (SELECT active_user_id()))));
ALTER POLICY admin_all ON bookings
    USING (id >= (SELECT CASE WHEN is_app_admin() THEN '00000000-0000-0000-0000-000000000000'::uuid END)
       AND id <= (SELECT 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
       AND created_at >= (SELECT '-infinity'::timestamptz)
       AND created_at <= (SELECT 'infinity'::timestamptz));
ALTER POLICY self_or_admin ON activity_logs
    USING (changed_by = (SELECT active_user_id())
        OR (id >= (SELECT CASE WHEN is_app_admin() THEN '00000000-0000-0000-0000-000000000000'::uuid END)
            AND id <= (SELECT 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
            AND created_at >= (SELECT '-infinity'::timestamptz)
            AND created_at <= (SELECT 'infinity'::timestamptz)));
ALTER POLICY related_slot_booking ON activity_logs
    USING ((entity_type = 'slot'
            AND entity_id = ANY (ARRAY(SELECT s.id FROM slots AS s
                                        WHERE s.trainer_id = (SELECT active_user_id()))))
        OR (entity_type = 'booking'
            AND entity_id = ANY (ARRAY(SELECT b.id FROM bookings AS b
                                        WHERE b.slot_id = ANY (ARRAY(SELECT s.id FROM slots AS s
                                                                      WHERE s.trainer_id = (SELECT active_user_id())))))));
ALTER POLICY visible_booking_history ON booking_status_history
    USING (booking_id = ANY (ARRAY(SELECT b.id FROM bookings AS b WHERE NOT is_app_admin()))
        OR (id >= (SELECT CASE WHEN is_app_admin() THEN -9223372036854775808 END)
            AND id <= (SELECT 9223372036854775807)
            AND changed_at >= (SELECT '-infinity'::timestamptz)
            AND changed_at <= (SELECT 'infinity'::timestamptz)));

-- book_slot: a double tap books once; a new booking is one statement.
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
            -- Booking again re-activates the same row (capacity and start permitting).
            UPDATE gym_booking.bookings AS b SET status = 'reserved' WHERE b.id = booking.id
            RETURNING * INTO booking;
            EXIT;
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

-- available_slots: the counting moves to available_slots_counted (PL/pgSQL, a plan per branch
-- that reads by index); available_slots becomes an inlinable wrapper.
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
    notes text
)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
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
           AND s.start_at >= greatest(p_from, now())
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
         WHERE s.start_at >= greatest(p_from, now())
           AND s.start_at < p_to
           AND s.cancelled_at IS NULL
         ORDER BY s.start_at, s.id;
    END IF;
END
$$;
COMMENT ON FUNCTION available_slots_counted(timestamptz, timestamptz, uuid) IS
    'The body of available_slots (call that instead): bookable slots with their counts';
REVOKE EXECUTE ON FUNCTION available_slots_counted(timestamptz, timestamptz, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION available_slots_counted(timestamptz, timestamptz, uuid) TO authenticated, service_role;

CREATE OR REPLACE FUNCTION available_slots(
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
    notes text
)
LANGUAGE sql STABLE SECURITY INVOKER
AS $$
    SELECT * FROM gym_booking.available_slots_counted(available_slots."from", available_slots."to",
                                                      available_slots.trainer_id)
$$;
COMMENT ON FUNCTION available_slots(timestamptz, timestamptz, uuid) IS
    'Bookable slots starting in [from, to) (not before now), optionally of one trainer: capacity, booked, available';

-- my_bookings: no SET clause, so PostgreSQL inlines it.
CREATE OR REPLACE FUNCTION my_bookings(
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

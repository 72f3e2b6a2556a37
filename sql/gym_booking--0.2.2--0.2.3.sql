\echo Use "ALTER EXTENSION gym_booking UPDATE TO '0.2.3'" to load this file. \quit

-- ==========================================================================================
-- BEGIN upgrade lock (issue 19). Every upgrade script starts with this section: PostgreSQL
-- runs the chain of scripts of an upgrade in one transaction, so its first one takes the locks
-- (tests: upgrade_under_load). Clients wait for an upgrade and never deadlock with it.
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

-- 0.2.3: book_slot books a new row and re-activates a cancelled one in the same statement
-- (booking again had first tried the insert of a new row, a statement that found the row and
-- did nothing). Same answers and errors; its comment and privileges stay.
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
        -- One statement books: a new row when the caller has none in the slot, or their
        -- cancelled row booked again (capacity and start permitting), said as an insert that
        -- meets the row, so the rules take the slot before the booking (the lock order; a
        -- plain UPDATE would hold the booking first). (0.2.3: one statement for both, where
        -- booking again first tried the insert of a new row: a statement less per re-booking.)
        INSERT INTO gym_booking.bookings (slot_id, user_id)
        SELECT s.id, me FROM gym_booking.slots AS s
         WHERE s.id = book_slot.slot_id
           AND NOT EXISTS (SELECT FROM gym_booking.bookings AS b
                            WHERE b.slot_id = s.id AND b.user_id = me AND b.status <> 'cancelled')
        ON CONFLICT ON CONSTRAINT bookings_slot_user_key
        DO UPDATE SET status = 'reserved' WHERE bookings.status = 'cancelled'
        RETURNING * INTO booking;
        EXIT WHEN FOUND;
        -- Else: no such slot, the caller's booking of it, or their other request's change
        -- (a double tap) between our look and our write.
        SELECT b.* INTO booking
          FROM gym_booking.slots AS s
          LEFT JOIN gym_booking.bookings AS b ON b.slot_id = s.id AND b.user_id = me
         WHERE s.id = book_slot.slot_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'slot % not found', book_slot.slot_id USING ERRCODE = 'undefined_object';
        ELSIF booking.status = 'completed' THEN
            RAISE EXCEPTION 'this booking is already completed' USING ERRCODE = 'invalid_parameter_value';
        ELSIF booking.status = 'reserved' THEN
            EXIT;
        END IF;
        -- Cancelled again (or inserted) since our look: the second turn books it.
    END LOOP;
    -- Already reserved: booking twice is booking once.
    RETURN booking;
END
$$;

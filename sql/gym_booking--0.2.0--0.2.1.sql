\echo Use "ALTER EXTENSION gym_booking UPDATE TO '0.2.1'" to load this file. \quit

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
-- The booking path's cost (issue 12): one AFTER trigger per booking for its event and the end
-- of its athlete's waiting (src/rules/events.rs; the library's booking_ends_waiting stays for
-- databases not yet at 0.2.1), and no index on events.created_at (the purge walks the
-- primary key).
-- ==========================================================================================
DROP TRIGGER booking_waitlist_end_tg ON bookings;
DROP INDEX events_created_idx;

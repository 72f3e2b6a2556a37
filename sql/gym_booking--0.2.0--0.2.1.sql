\echo Use "ALTER EXTENSION gym_booking UPDATE TO '0.2.1'" to load this file. \quit

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

-- ==========================================================================================
-- The booking path's cost (issue 12): one AFTER trigger per booking for its event, the end of
-- its athlete's waiting and a cancelled place's promotion (src/rules/events.rs; the library's
-- booking_ends_waiting and booking_frees_place stay for databases not yet at 0.2.1), and no
-- index on events.created_at (the purge walks the primary key).
-- ==========================================================================================
DROP TRIGGER booking_waitlist_end_tg ON bookings;
DROP TRIGGER booking_waitlist_promote_tg ON bookings;
DROP INDEX events_created_idx;

-- ==========================================================================================
-- Timetables (issue 13): weekly series and their occurrences (sql/timetable.sql, as a fresh
-- install has it).
-- ==========================================================================================
CREATE TABLE series (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    trainer_id       uuid        NOT NULL REFERENCES users (id),
    -- ISO weekdays: 1 = Monday ... 7 = Sunday.
    weekdays         smallint[]  NOT NULL
        CONSTRAINT series_weekdays_check
        CHECK (cardinality(weekdays) BETWEEN 1 AND 7
               AND array_position(weekdays, NULL) IS NULL
               AND weekdays <@ '{1,2,3,4,5,6,7}'::smallint[]),
    local_start      time        NOT NULL
        CONSTRAINT series_local_start_check CHECK (local_start < '24:00'),
    duration_minutes smallint    NOT NULL DEFAULT 60
        CONSTRAINT series_duration_minutes_check CHECK (duration_minutes BETWEEN 30 AND 240),
    capacity         smallint    NOT NULL DEFAULT 1
        CONSTRAINT series_capacity_check CHECK (capacity BETWEEN 1 AND 20),
    notes            text
        CONSTRAINT series_notes_length_check CHECK (char_length(notes) <= 2000),
    -- An IANA name PostgreSQL knows (checked by the API; the studio's by default).
    time_zone        text        NOT NULL
        CONSTRAINT series_time_zone_length_check CHECK (length(time_zone) BETWEEN 1 AND 64),
    first_date       date        NOT NULL
        CONSTRAINT series_first_date_check CHECK (first_date BETWEEN '2000-01-01' AND '2999-12-31'),
    last_date        date
        CONSTRAINT series_last_date_check CHECK (last_date BETWEEN first_date AND '2999-12-31'),
    -- Occurrences from this date on are cancelled, and none are made (cancel_series).
    cancelled_from   date
        CONSTRAINT series_cancelled_from_check CHECK (cancelled_from BETWEEN '2000-01-01' AND '2999-12-31'),
    -- Occurrences are made up to and including this date (an occurrence deleted by hand is not
    -- made again).
    made_until       date,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE series IS
    'Weekly classes of a trainer in a time zone; their occurrences are slots (slots.series_id), made timetable_horizon ahead';

CREATE INDEX series_trainer_idx ON series (trainer_id);
-- The series extend_timetables() keeps ahead.
CREATE INDEX series_running_idx ON series (made_until) WHERE cancelled_from IS NULL;

ALTER TABLE slots
    ADD COLUMN series_id          uuid REFERENCES series (id),
    ADD COLUMN series_date        date,
    ADD COLUMN series_fingerprint text,
    ADD CONSTRAINT slots_series_date_check
        CHECK ((series_id IS NULL) = (series_date IS NULL)
               AND series_date BETWEEN '2000-01-01' AND '2999-12-31'),
    ADD CONSTRAINT slots_series_date_key UNIQUE (series_id, series_date);
COMMENT ON COLUMN slots.series_id IS 'The series this slot is an occurrence of (NULL: a slot made on its own)';
COMMENT ON COLUMN slots.series_date IS 'The local date of the occurrence in its series'' time zone';
COMMENT ON COLUMN slots.series_fingerprint IS
    'The occurrence''s start, duration, capacity and notes as its series last set them (occurrence_fingerprint): they differ once it is changed by hand';

CREATE TRIGGER series_updated_at_tg
    BEFORE INSERT OR UPDATE ON series
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER series_truncate_guard_tg
    BEFORE TRUNCATE ON series FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();

-- Row-level security: everyone signed in reads the timetable (as they read slots); nobody
-- writes series but the API below (no write grant to clients).
ALTER TABLE series ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON series TO authenticated, service_role;
CREATE POLICY read_all_authenticated ON series
    FOR SELECT TO authenticated USING ((SELECT gym_booking.signed_in()));

-- Occurrences of a series, as the series says they are ------------------------------------

-- When the occurrence of a series on a local date starts: that wall-clock time in the
-- series' time zone (PostgreSQL's rule for times in the spring gap and the autumn overlap).
CREATE FUNCTION series_start_at(occurs_on date, local_start time, time_zone text)
RETURNS timestamptz
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT (occurs_on + local_start) AT TIME ZONE time_zone $$;
COMMENT ON FUNCTION series_start_at(date, time, text) IS
    'When an occurrence on a local date starts, by the time zone''s rules (AT TIME ZONE)';

-- What a series sets on an occurrence, as one value that does not depend on the session's
-- TimeZone or DateStyle (the start as seconds since the epoch).
CREATE FUNCTION occurrence_fingerprint(start_at timestamptz, duration_minutes integer,
                                       capacity integer, notes text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT md5(extract(epoch FROM start_at)::text || '|' || duration_minutes || '|' || capacity
               || '|' || coalesce(quote_literal(notes), 'NULL'))
$$;

-- Whether an occurrence is as its series last set it (start, duration, capacity, notes): not
-- changed by hand since. An occurrence an edit kept because it was booked is as its series
-- set it too: a later edit moves it once nobody holds a place in it.
CREATE FUNCTION occurrence_as_made(s slots)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.series_fingerprint IS NOT DISTINCT FROM
           gym_booking.occurrence_fingerprint(s.start_at, s.duration_minutes, s.capacity, s.notes)
$$;

-- Makes the occurrences of one series (which the caller holds) up to the horizon (or where
-- the series was made up to, if further): every date of the series after `made_until`, and
-- before it only those of weekdays not in `weekdays_before` (an edit's new weekdays), so an
-- occurrence deleted by hand is not made again unless an edit adds its weekday back; an
-- existing one is never touched. Returns
-- the slots it made. Runs as the extension's owner (the callers check who may), so the
-- occurrences are the series' slots whoever asks: a trainer's request is not limited to 100
-- new slots here (the horizon bounds a series: at most one occurrence a day).
CREATE FUNCTION make_occurrences(p_series uuid, weekdays_before smallint[])
RETURNS SETOF slots
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    se gym_booking.series;
    today date;
    until date;
BEGIN
    SELECT * INTO se FROM gym_booking.series WHERE id = p_series;
    IF NOT FOUND OR se.cancelled_from IS NOT NULL
       OR NOT EXISTS (SELECT FROM gym_booking.users AS u
                       WHERE u.id = se.trainer_id AND u.role = 'trainer' AND u.deleted_at IS NULL) THEN
        RETURN;
    END IF;
    today := (statement_timestamp() AT TIME ZONE se.time_zone)::date;
    until := least(greatest((statement_timestamp() AT TIME ZONE se.time_zone
                             + (SELECT st.timetable_horizon FROM gym_booking.studio_settings AS st))::date,
                            se.made_until),
                   coalesce(se.last_date, 'infinity'::date));
    RETURN QUERY
    INSERT INTO gym_booking.slots
           (trainer_id, start_at, duration_minutes, capacity, notes, series_id, series_date,
            series_fingerprint)
    SELECT se.trainer_id, o.start_at, se.duration_minutes, se.capacity, se.notes, se.id, o.day,
           gym_booking.occurrence_fingerprint(o.start_at, se.duration_minutes, se.capacity, se.notes)
      FROM generate_series(greatest(se.first_date, today)::timestamp, until::timestamp,
                           interval '1 day') AS d,
           LATERAL (SELECT d::date AS day,
                           gym_booking.series_start_at(d::date, se.local_start, se.time_zone) AS start_at) AS o
     WHERE extract(isodow FROM o.day)::smallint = ANY (se.weekdays)
       AND (o.day > se.made_until OR se.made_until IS NULL
            OR NOT extract(isodow FROM o.day)::smallint = ANY (weekdays_before))
       AND o.start_at > statement_timestamp()
     ORDER BY o.day
    ON CONFLICT ON CONSTRAINT slots_series_date_key DO NOTHING
    RETURNING *;
    UPDATE gym_booking.series SET made_until = until
     WHERE id = se.id AND made_until IS DISTINCT FROM until;
END
$$;

-- Who may manage a series: its trainer (active), an app admin, service_role, the DBA.
CREATE FUNCTION may_manage_series(p_trainer uuid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT gym_booking.acts_for_the_gym()
        OR (gym_booking.active_user_id() = p_trainer AND gym_booking.is_trainer())
$$;

-- Takes the users rows of the caller and of the series' trainer (FOR SHARE, by id: the lock
-- order starts with users), then the series row FOR UPDATE; refuses who may not manage it.
CREATE FUNCTION lock_series(p_series uuid)
RETURNS series
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    se gym_booking.series;
BEGIN
    SELECT * INTO se FROM gym_booking.series WHERE id = p_series;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'series % not found', p_series USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT gym_booking.may_manage_series(se.trainer_id) THEN
        RAISE EXCEPTION 'only the series'' trainer or the gym changes a series'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM FROM gym_booking.users AS u
      WHERE u.id IN (se.trainer_id, gym_booking.current_user_id())
      ORDER BY u.id FOR SHARE;
    SELECT * INTO se FROM gym_booking.series WHERE id = p_series FOR UPDATE;
    RETURN se;
END
$$;

-- A time zone PostgreSQL knows by name (the studio settings' rule).
CREATE FUNCTION checked_time_zone(zone text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF zone IS NULL OR length(zone) > 64 OR NOT EXISTS (
        SELECT FROM pg_catalog.pg_timezone_names
         WHERE name = zone AND name NOT IN ('localtime', 'posixrules', 'Factory')) THEN
        RAISE EXCEPTION '"%" is not a time zone PostgreSQL knows by name', left(zone, 64)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use an IANA name such as Europe/Berlin (see pg_timezone_names).';
    END IF;
    RETURN zone;
END
$$;

-- The API (PostgREST: POST /rpc/<name>) -----------------------------------------------------

CREATE FUNCTION create_series(
    weekdays integer[],
    local_start time,
    first_date date,
    last_date date DEFAULT NULL,
    duration_minutes integer DEFAULT 60,
    capacity integer DEFAULT 1,
    notes text DEFAULT NULL,
    time_zone text DEFAULT NULL,
    trainer_id uuid DEFAULT NULL
) RETURNS series
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    me uuid := gym_booking.active_user_id();
    trainer uuid := coalesce(trainer_id, me);
    se gym_booking.series;
BEGIN
    IF trainer IS NULL THEN
        RAISE EXCEPTION 'sign in with an active trainer account to create a series'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT gym_booking.may_manage_series(trainer) THEN
        RAISE EXCEPTION 'only trainers create their series (the gym: any trainer''s)'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF weekdays IS NULL OR local_start IS NULL OR first_date IS NULL
       OR duration_minutes IS NULL OR capacity IS NULL THEN
        RAISE EXCEPTION 'weekdays, local_start, first_date, duration_minutes and capacity are required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF duration_minutes NOT BETWEEN 30 AND 240 OR capacity NOT BETWEEN 1 AND 20 THEN
        RAISE EXCEPTION 'a series'' classes last 30 to 240 minutes and hold 1 to 20 people'
            USING ERRCODE = 'check_violation';
    END IF;
    IF cardinality(weekdays) = 0 OR array_position(weekdays, NULL) IS NOT NULL
       OR NOT weekdays <@ '{1,2,3,4,5,6,7}'::integer[] THEN
        RAISE EXCEPTION 'weekdays are ISO weekday numbers, 1 (Monday) to 7 (Sunday), at least one'
            USING ERRCODE = 'check_violation';
    END IF;
    PERFORM FROM gym_booking.users AS u
      WHERE u.id IN (trainer, gym_booking.current_user_id()) ORDER BY u.id FOR SHARE;
    IF NOT EXISTS (SELECT FROM gym_booking.users AS u
                    WHERE u.id = trainer AND u.role = 'trainer' AND u.deleted_at IS NULL) THEN
        RAISE EXCEPTION 'a series'' trainer must be an active trainer'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    INSERT INTO gym_booking.series
           (trainer_id, weekdays, local_start, duration_minutes, capacity, notes, time_zone,
            first_date, last_date)
    VALUES (trainer, (SELECT array_agg(DISTINCT w ORDER BY w) FROM unnest(weekdays) AS w)::smallint[],
            local_start, duration_minutes, capacity, notes,
            gym_booking.checked_time_zone(coalesce(time_zone,
                (SELECT st.time_zone FROM gym_booking.studio_settings AS st))),
            first_date, last_date)
    RETURNING * INTO se;
    PERFORM gym_booking.make_occurrences(se.id, se.weekdays);
    SELECT * INTO se FROM gym_booking.series AS s WHERE s.id = se.id;
    RETURN se;
END
$$;
COMMENT ON FUNCTION create_series(integer[], time, date, date, integer, integer, text, text, uuid) IS
    'Creates a weekly series (ISO weekdays, 1 = Monday) of the calling trainer (the gym: of trainer_id) and its occurrences up to timetable_horizon';

-- Edits a series. Arguments left NULL keep their value (notes '' clears the notes;
-- clear_last_date: the series runs on). Future occurrences that have no reserved bookings
-- and are as the series made them move to the new times, capacity and notes (or are
-- cancelled when their date leaves the series); the others are kept, and the result says
-- so: one row per occurrence from today on.
CREATE FUNCTION edit_series(
    series_id uuid,
    weekdays integer[] DEFAULT NULL,
    local_start time DEFAULT NULL,
    duration_minutes integer DEFAULT NULL,
    capacity integer DEFAULT NULL,
    notes text DEFAULT NULL,
    last_date date DEFAULT NULL,
    time_zone text DEFAULT NULL,
    clear_last_date boolean DEFAULT false
) RETURNS TABLE (slot_id uuid, occurs_on date, start_at timestamptz, outcome text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    was gym_booking.series;   -- the series before the edit
    now_ gym_booking.series;  -- and after it
    occ gym_booking.slots;
    today date;
    result text;
BEGIN
    IF series_id IS NULL THEN
        RAISE EXCEPTION 'series_id is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    was := gym_booking.lock_series(series_id);
    IF was.cancelled_from IS NOT NULL THEN
        RAISE EXCEPTION 'a cancelled series stays cancelled'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Create a new series instead.';
    END IF;
    IF duration_minutes NOT BETWEEN 30 AND 240 OR capacity NOT BETWEEN 1 AND 20 THEN
        RAISE EXCEPTION 'a series'' classes last 30 to 240 minutes and hold 1 to 20 people'
            USING ERRCODE = 'check_violation';
    END IF;
    IF cardinality(weekdays) = 0 OR array_position(weekdays, NULL) IS NOT NULL
       OR NOT weekdays <@ '{1,2,3,4,5,6,7}'::integer[] THEN
        RAISE EXCEPTION 'weekdays are ISO weekday numbers, 1 (Monday) to 7 (Sunday), at least one'
            USING ERRCODE = 'check_violation';
    END IF;
    UPDATE gym_booking.series AS s SET
        weekdays = coalesce((SELECT array_agg(DISTINCT w ORDER BY w) FROM unnest(weekdays) AS w)::smallint[],
                            s.weekdays),
        local_start = coalesce(local_start, s.local_start),
        duration_minutes = coalesce(duration_minutes, s.duration_minutes),
        capacity = coalesce(capacity, s.capacity),
        notes = CASE WHEN notes IS NULL THEN s.notes ELSE nullif(notes, '') END,
        last_date = CASE WHEN clear_last_date THEN NULL ELSE coalesce(last_date, s.last_date) END,
        time_zone = CASE WHEN time_zone IS NULL THEN s.time_zone
                         ELSE gym_booking.checked_time_zone(time_zone) END
     WHERE s.id = was.id
    RETURNING * INTO now_;
    today := (statement_timestamp() AT TIME ZONE now_.time_zone)::date;
    -- The occurrences from today on, locked in the lock order (by id), then each in date order.
    PERFORM FROM gym_booking.slots AS o
      WHERE o.series_id = was.id AND o.series_date >= today - 1
        AND o.start_at > statement_timestamp() AND o.cancelled_at IS NULL
      ORDER BY o.id
        FOR UPDATE;
    FOR occ IN
        SELECT * FROM gym_booking.slots AS o
         WHERE o.series_id = was.id AND o.series_date >= today - 1
           AND o.start_at > statement_timestamp() AND o.cancelled_at IS NULL
         ORDER BY o.series_date
    LOOP
        IF EXISTS (SELECT FROM gym_booking.bookings AS b
                    WHERE b.slot_id = occ.id AND b.status <> 'cancelled') THEN
            result := 'kept: booked';
        ELSIF NOT gym_booking.occurrence_as_made(occ) THEN
            result := 'kept: changed by hand';
        ELSIF NOT (extract(isodow FROM occ.series_date)::smallint = ANY (now_.weekdays))
              OR occ.series_date > coalesce(now_.last_date, 'infinity'::date) THEN
            UPDATE gym_booking.slots AS o SET cancelled_at = statement_timestamp() WHERE o.id = occ.id;
            result := 'cancelled';
        ELSIF occ.start_at = gym_booking.series_start_at(occ.series_date, now_.local_start, now_.time_zone)
              AND occ.duration_minutes = now_.duration_minutes AND occ.capacity = now_.capacity
              AND occ.notes IS NOT DISTINCT FROM now_.notes THEN
            result := 'unchanged';
        ELSIF gym_booking.series_start_at(occ.series_date, now_.local_start, now_.time_zone)
              <= statement_timestamp() THEN
            result := 'kept: the new time has passed';
        ELSE
            BEGIN
                UPDATE gym_booking.slots AS o SET
                    start_at = m.start_at,
                    end_at = NULL,
                    duration_minutes = now_.duration_minutes,
                    capacity = now_.capacity,
                    notes = now_.notes,
                    series_fingerprint = gym_booking.occurrence_fingerprint(
                        m.start_at, now_.duration_minutes, now_.capacity, now_.notes)
                  FROM (SELECT gym_booking.series_start_at(occ.series_date, now_.local_start,
                                                           now_.time_zone) AS start_at) AS m
                 WHERE o.id = occ.id;
                result := 'changed';
            EXCEPTION WHEN restrict_violation THEN
                -- Booked after this transaction's snapshot (REPEATABLE READ): the slots' own
                -- rule, which counts on the latest state, keeps its times.
                result := 'kept: booked';
            END;
        END IF;
        slot_id := occ.id;
        occurs_on := occ.series_date;
        SELECT o.start_at INTO start_at FROM gym_booking.slots AS o WHERE o.id = occ.id;
        outcome := result;
        RETURN NEXT;
    END LOOP;
    -- Dates the series now has that it had not: its new weekdays, and up to the horizon.
    FOR occ IN SELECT * FROM gym_booking.make_occurrences(now_.id, was.weekdays) AS m
                ORDER BY m.series_date
    LOOP
        slot_id := occ.id;
        occurs_on := occ.series_date;
        start_at := occ.start_at;
        outcome := 'created';
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION edit_series(uuid, integer[], time, integer, integer, text, date, text, boolean) IS
    'Edits a series; moves its future occurrences that nobody booked and nobody changed by hand; says what became of each';

-- Cancels a series from a local date (default: today in its time zone): its occurrences from
-- then on that have not started are cancelled, with every cascade of a slot cancellation
-- (bookings, waitlists, events); no more are made. Returns how many occurrences it cancelled.
CREATE FUNCTION cancel_series(series_id uuid, from_date date DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    se gym_booking.series;
    cancelled integer;
BEGIN
    IF series_id IS NULL THEN
        RAISE EXCEPTION 'series_id is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    se := gym_booking.lock_series(series_id);
    from_date := coalesce(from_date, (statement_timestamp() AT TIME ZONE se.time_zone)::date);
    UPDATE gym_booking.series AS s
       SET cancelled_from = least(coalesce(s.cancelled_from, from_date), from_date)
     WHERE s.id = se.id;
    PERFORM FROM gym_booking.slots AS o
      WHERE o.series_id = se.id AND o.series_date >= from_date
        AND o.cancelled_at IS NULL AND o.start_at > statement_timestamp()
      ORDER BY o.id FOR UPDATE;
    UPDATE gym_booking.slots AS o SET cancelled_at = statement_timestamp()
     WHERE o.series_id = se.id AND o.series_date >= from_date
       AND o.cancelled_at IS NULL AND o.start_at > statement_timestamp();
    GET DIAGNOSTICS cancelled = ROW_COUNT;
    RETURN cancelled;
END
$$;
COMMENT ON FUNCTION cancel_series(uuid, date) IS
    'Cancels a series from a local date (default today): its occurrences not yet started are cancelled, with their bookings';

-- Keeps every running series' occurrences timetable_horizon ahead; returns how many it made.
-- The gym's (service_role, an app admin, a cron job) and the background worker's; running it
-- again makes nothing. A series being edited is skipped (the edit makes its occurrences).
CREATE FUNCTION extend_timetables()
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    se record;
    made integer := 0;
BEGIN
    IF NOT gym_booking.acts_for_the_gym() THEN
        RAISE EXCEPTION 'only the gym extends timetables' USING ERRCODE = 'insufficient_privilege',
            HINT = 'Run it as service_role, an app admin, or from the background worker.';
    END IF;
    FOR se IN
        SELECT s.id, s.weekdays FROM gym_booking.series AS s
          JOIN gym_booking.users AS u ON u.id = s.trainer_id
         WHERE s.cancelled_from IS NULL
           AND (s.last_date IS NULL OR s.made_until IS NULL OR s.made_until < s.last_date)
           AND (s.made_until IS NULL
                OR s.made_until < (statement_timestamp() AT TIME ZONE s.time_zone
                                   + (SELECT st.timetable_horizon FROM gym_booking.studio_settings AS st))::date)
           AND u.role = 'trainer' AND u.deleted_at IS NULL
         ORDER BY s.id
           FOR SHARE OF u SKIP LOCKED FOR NO KEY UPDATE OF s SKIP LOCKED
    LOOP
        made := made + (SELECT count(*) FROM gym_booking.make_occurrences(se.id, se.weekdays) AS m);
    END LOOP;
    RETURN made;
END
$$;
COMMENT ON FUNCTION extend_timetables() IS
    'Makes the occurrences of every running series up to timetable_horizon ahead (idempotent); the gym''s and the background worker''s';

SELECT pg_catalog.pg_extension_config_dump('series', '');
REVOKE EXECUTE ON FUNCTION
    series_start_at(date, time, text),
    occurrence_fingerprint(timestamptz, integer, integer, text),
    occurrence_as_made(slots),
    make_occurrences(uuid, smallint[]),
    may_manage_series(uuid),
    lock_series(uuid),
    checked_time_zone(text),
    create_series(integer[], time, date, date, integer, integer, text, text, uuid),
    edit_series(uuid, integer[], time, integer, integer, text, date, text, boolean),
    cancel_series(uuid, date),
    extend_timetables()
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    create_series(integer[], time, date, date, integer, integer, text, text, uuid),
    edit_series(uuid, integer[], time, integer, integer, text, date, text, boolean),
    cancel_series(uuid, date),
    extend_timetables(),
    series_start_at(date, time, text)
    TO authenticated, service_role;

-- ==========================================================================================
-- Calendar feeds (issue 13): per-person tokens (hashes only) and the RFC 5545 feed
-- (src/calendar.rs, sql/calendar.sql, as a fresh install has them).
-- ==========================================================================================
CREATE FUNCTION "calendar_render"(
	"events" jsonb /* pgrx :: JsonB */
) RETURNS TEXT /* String */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'calendar_render_wrapper';
CREATE FUNCTION "calendar_token"() RETURNS TEXT /* String */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'calendar_token_wrapper';
CREATE FUNCTION "revoke_calendar_token"() RETURNS bool /* bool */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'revoke_calendar_token_wrapper';

CREATE DOMAIN "text/calendar" AS text;
COMMENT ON DOMAIN "text/calendar" IS
    'An RFC 5545 calendar; PostgREST serves functions returning it as text/calendar';

-- One secret token per person, kept only as its SHA-256: whoever reads this table (a backup,
-- a DBA) cannot open anybody's feed with what is in it. No client reads it (row-level
-- security on, no policy, no grant); calendar_token() and revoke_calendar_token() write it
-- as the extension's owner.
CREATE TABLE calendar_tokens (
    user_id    uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT calendar_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT calendar_tokens_token_hash_check CHECK (octet_length(token_hash) = 32)
);
COMMENT ON TABLE calendar_tokens IS
    'Each person''s calendar feed token, as its SHA-256 only; rotated by calendar_token()';
ALTER TABLE calendar_tokens ENABLE ROW LEVEL SECURITY;

-- An athlete's feed reads their reserved bookings by bookings_user_status_idx and their
-- cancelled and completed ones of the window by this one (partial: booking a place, the hot
-- path, never writes to it), so the feed's cost does not grow with years of history.
CREATE INDEX bookings_user_changed_idx ON bookings (user_id, status_changed_at)
    WHERE status <> 'reserved';

-- The feed: a wrong, rotated, revoked or malformed token gets the same empty calendar, byte
-- for byte, as a person with nothing in it (it tells nothing, not even that a token existed).
-- Only well-formed tokens (64 hex digits) are hashed and looked up, by the unique index.
-- The window: events whose slot starts from 8 weeks before now on (and before the year
-- 10000, the last RFC 5545 can write). An athlete's cancelled or completed bookings are there
-- while they changed in the window: every completed one of the window (it changed after its
-- slot ended), and a cancellation for 8 weeks after it was made. SEQUENCE counts the rows
-- that record each change, which are never deleted or rewritten, so it only grows: for a
-- slot its log entries after 'create', its bookings and their status changes; for a booking
-- its slot's log entries after 'create' and its own status changes. DTSTAMP is the last
-- change, so the same rows give the same bytes.
-- SECURITY DEFINER: anon calls it; it reads the rows of the token's owner only.
CREATE FUNCTION calendar_feed(token text) RETURNS "text/calendar"
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH owner AS (
        SELECT t.user_id AS id,
               statement_timestamp() - interval '8 weeks' AS since,
               timestamptz '10000-01-01 00:00:00+00' AS until
          FROM gym_booking.calendar_tokens AS t
          JOIN gym_booking.users AS u ON u.id = t.user_id
         WHERE t.token_hash = CASE WHEN octet_length(calendar_feed.token) = 64
                                        AND calendar_feed.token ~ '^[0-9a-f]{64}$'
                                   THEN sha256(convert_to(calendar_feed.token, 'UTF8')) END
           AND u.deleted_at IS NULL
    ),
    own_bookings AS (
        SELECT b.id, b.slot_id, b.status, b.created_at, b.updated_at, o.since, o.until
          FROM owner AS o
          JOIN gym_booking.bookings AS b ON b.user_id = o.id AND b.status = 'reserved'
        UNION ALL
        SELECT b.id, b.slot_id, b.status, b.created_at, b.updated_at, o.since, o.until
          FROM owner AS o
          JOIN gym_booking.bookings AS b
            ON b.user_id = o.id AND b.status <> 'reserved' AND b.status_changed_at >= o.since
    ),
    events AS (
        SELECT s.start_at, 'booking-' || b.id || '@gym_booking' AS uid,
               b.status = 'cancelled' OR s.cancelled_at IS NOT NULL AS cancelled,
               coalesce('Training with ' ||
                        (SELECT tu.first_name
                           FROM gym_booking.trainer_directory AS d
                           JOIN gym_booking.users AS tu ON tu.id = d.trainer_id
                          WHERE d.trainer_id = s.trainer_id),
                        'Training') AS summary,
               s.notes, s.end_at, b.created_at,
               greatest(b.updated_at, s.updated_at) AS modified,
               (SELECT count(*) FROM gym_booking.activity_logs AS l
                 WHERE l.entity_type = 'slot' AND l.entity_id = s.id AND l.action <> 'create')
               + (SELECT count(*) FROM gym_booking.booking_status_history AS h
                   WHERE h.booking_id = b.id) AS sequence
          FROM own_bookings AS b
          -- Each booking's slot by its key. (LIMIT keeps this a lookup per booking: joined
          -- plainly, the planner may hash every slot of the studio instead.)
          CROSS JOIN LATERAL (
              SELECT * FROM gym_booking.slots AS one WHERE one.id = b.slot_id LIMIT 1) AS s
         WHERE s.start_at >= b.since AND s.end_at < b.until
        UNION ALL
        SELECT s.start_at, 'slot-' || s.id || '@gym_booking',
               s.cancelled_at IS NOT NULL,
               format('Session: %s/%s booked',
                      (SELECT count(*) FROM gym_booking.bookings AS b
                        WHERE b.slot_id = s.id AND b.status IN ('reserved', 'completed')),
                      s.capacity),
               s.notes, s.end_at, s.created_at,
               greatest(s.updated_at,
                        (SELECT max(b.updated_at) FROM gym_booking.bookings AS b
                          WHERE b.slot_id = s.id)),
               (SELECT count(*) FROM gym_booking.activity_logs AS l
                 WHERE l.entity_type = 'slot' AND l.entity_id = s.id AND l.action <> 'create')
               -- its bookings, each with its status changes (by booking, as the booking's
               -- own SEQUENCE reads them)
               + (SELECT count(*) + coalesce(sum(
                             (SELECT count(*) FROM gym_booking.booking_status_history AS h
                               WHERE h.booking_id = b.id)), 0)
                    FROM gym_booking.bookings AS b WHERE b.slot_id = s.id)
          FROM owner AS o
          JOIN gym_booking.slots AS s
            ON s.trainer_id = o.id AND s.start_at >= o.since AND s.start_at < o.until
               AND s.end_at < o.until
    )
    SELECT gym_booking.calendar_render(coalesce(
               jsonb_agg(jsonb_build_object(
                   'uid', e.uid,
                   'summary', e.summary,
                   'description', e.notes,
                   'status', CASE WHEN e.cancelled THEN 'CANCELLED' ELSE 'CONFIRMED' END,
                   'start', floor(extract(epoch FROM e.start_at))::bigint,
                   'end', floor(extract(epoch FROM e.end_at))::bigint,
                   'created', floor(extract(epoch FROM e.created_at))::bigint,
                   'modified', floor(extract(epoch FROM e.modified))::bigint,
                   'sequence', e.sequence)
                 ORDER BY e.start_at, e.uid),
               '[]'::jsonb))::gym_booking."text/calendar"
      FROM events AS e
$$;
COMMENT ON FUNCTION calendar_feed(text) IS
    'The RFC 5545 calendar of a calendar token''s owner: their bookings and their slots from 8 weeks ago on';

-- The feed for calendar apps, whatever they send as Accept. Apps, browsers and curl send
-- `Accept: */*` (or none), for which PostgREST's JSON handler would answer instead of the
-- "text/calendar" one; a function returning a domain named "*/*" is PostgREST's "any" media
-- type handler: it serves every Accept, with the Content-Type the function sets.
-- GET /rpc/calendar_ics?token=... is the URL to subscribe to.
CREATE DOMAIN "*/*" AS bytea;
COMMENT ON DOMAIN "*/*" IS
    'PostgREST''s "any" media type: served whatever the Accept header, with the Content-Type the function sets';

CREATE FUNCTION calendar_ics(token text) RETURNS "*/*"
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_catalog.set_config('response.headers',
        '[{"Content-Type": "text/calendar; charset=utf-8"}, {"Cache-Control": "private, max-age=300"}]',
        true);
    RETURN pg_catalog.convert_to(gym_booking.calendar_feed(calendar_ics.token), 'UTF8')::gym_booking."*/*";
END
$$;
COMMENT ON FUNCTION calendar_ics(text) IS
    'The calendar feed of calendar_feed(token) for calendar apps: text/calendar whatever the Accept header (PostgREST''s any-handler)';

SELECT pg_catalog.pg_extension_config_dump('calendar_tokens', '');
REVOKE EXECUTE ON FUNCTION calendar_feed(text), calendar_ics(text), calendar_token(),
    revoke_calendar_token(), calendar_render(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION calendar_feed(text), calendar_ics(text) TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION calendar_token(), revoke_calendar_token() TO authenticated, service_role;

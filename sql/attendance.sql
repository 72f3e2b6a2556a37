-- Release 0.2.2: attendance (DESIGN.md, "Attendance"). The slot's trainer (or the gym) marks
-- each booking that holds a place attended or no-show, from the slot's start until
-- attendance_grace after its end; with auto_no_show the bookings still unmarked then become
-- no-shows. A no-show is a strike; no_show_strike_limit strikes inside strike_window suspend
-- the athlete's booking (the booking rule: src/rules/attendance.rs) until suspension after the
-- last of them. Rosters and reports are functions over these rows.
--
-- The seed's booking status keeps its three values: a mark lives beside it, in its own table,
-- so the booking path stays as narrow as it was.
--
-- Lock order (README, "Concurrency"): the caller's users row, then the athlete's users row FOR
-- NO KEY UPDATE, then the booking FOR SHARE, then the mark, the log and the event. A booking
-- holds its athlete's row FOR SHARE: it commits before a no-show that suspends the athlete, or
-- waits for it and then counts it.

CREATE TYPE attendance_mark AS ENUM ('attended', 'no_show');
COMMENT ON TYPE attendance_mark IS 'Whether the athlete of a booking came: attended or no_show';

-- The athlete hears of each mark: a no-show (no_show_recorded, 0.2.0's kind), an attended mark
-- or a no-show corrected to attended (attendance_marked), an excuse (no_show_excused).
ALTER TYPE event_kind ADD VALUE 'attendance_marked';
ALTER TYPE event_kind ADD VALUE 'no_show_excused';

CREATE TABLE attendance (
    booking_id uuid            PRIMARY KEY REFERENCES bookings (id),
    -- Copies of the booking's athlete and slot and of the slot's trainer (who may read the
    -- row), kept by the rules. No foreign keys: their checks would lock the users and slots
    -- rows after the booking, out of the lock order.
    user_id    uuid            NOT NULL,
    slot_id    uuid            NOT NULL,
    trainer_id uuid,
    mark       attendance_mark NOT NULL,
    -- When a no-show counts as a strike: the slot's start.
    strike_at  timestamptz     NOT NULL,
    marked_at  timestamptz     NOT NULL DEFAULT now(),
    -- Who marked it last; NULL: the system (auto_no_show), or the gym's back office.
    marked_by  uuid,
    excused_at timestamptz,
    excused_by uuid,
    CONSTRAINT attendance_excused_check CHECK (excused_at IS NULL OR mark = 'no_show'),
    CONSTRAINT attendance_excused_by_check CHECK (excused_at IS NOT NULL OR excused_by IS NULL)
);
COMMENT ON TABLE attendance IS
    'Attendance marks of bookings (attended or no_show), made by the slot''s trainer or the gym (mark_attendance) or by the auto no-show sweep; written only by the API';
COMMENT ON COLUMN attendance.strike_at IS 'The slot''s start: when a no-show counts as a strike';
COMMENT ON COLUMN attendance.excused_at IS 'When an admin excused the no-show (excuse_no_show): it is no strike';

-- An athlete's strikes (suspensions are computed from them); a slot's marks (its trainer
-- follows a change of the slot's); a trainer's marks (row-level security).
CREATE INDEX attendance_strikes_idx ON attendance (user_id, strike_at)
    WHERE mark = 'no_show' AND excused_at IS NULL;
CREATE INDEX attendance_slot_idx ON attendance (slot_id);
CREATE INDEX attendance_trainer_idx ON attendance (trainer_id);
ALTER TABLE attendance ALTER COLUMN trainer_id SET (n_distinct = -1);

-- The auto no-show sweep's watermark: bookings of slots that ended at or before swept_until
-- have been swept (or were history before the sweep ran). One row, made with the extension; a
-- restored dump's row replaces it.
CREATE TABLE attendance_sweep (
    id          boolean     PRIMARY KEY DEFAULT true CONSTRAINT attendance_sweep_one_row CHECK (id),
    swept_until timestamptz NOT NULL
);
COMMENT ON TABLE attendance_sweep IS
    'Where the auto no-show sweep (record_no_shows) has got to: slots ending after swept_until are still to sweep';

CREATE FUNCTION attendance_sweep_replace()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM gym_booking.attendance_sweep;
    RETURN NEW;
END
$$;
CREATE TRIGGER attendance_sweep_replace_tg
    BEFORE INSERT ON attendance_sweep
    FOR EACH ROW EXECUTE FUNCTION attendance_sweep_replace();
ALTER TABLE attendance_sweep ENABLE ALWAYS TRIGGER attendance_sweep_replace_tg;
-- History before the extension (or this release) is not swept: turning auto_no_show on never
-- marks years of old bookings.
INSERT INTO attendance_sweep (swept_until)
SELECT ((statement_timestamp() AT TIME ZONE st.time_zone) - st.attendance_grace) AT TIME ZONE st.time_zone
  FROM studio_settings AS st;

CREATE TRIGGER attendance_truncate_guard_tg
    BEFORE TRUNCATE ON attendance FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();
CREATE TRIGGER attendance_sweep_truncate_guard_tg
    BEFORE TRUNCATE ON attendance_sweep FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();

-- A slot handed to another trainer: its marks follow it (as its bookings do).
CREATE FUNCTION attendance_follows_trainer()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE gym_booking.attendance SET trainer_id = NEW.trainer_id
     WHERE slot_id = NEW.id AND trainer_id IS DISTINCT FROM NEW.trainer_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER slots_attendance_trainer_tg
    AFTER UPDATE OF trainer_id ON slots
    FOR EACH ROW WHEN (OLD.trainer_id IS DISTINCT FROM NEW.trainer_id)
    EXECUTE FUNCTION attendance_follows_trainer();

-- Row-level security: the athlete reads their own marks, the slot's trainer those of their
-- slots, the app admin all (the range arm: see security.sql); nobody writes them but the API.
ALTER TABLE attendance ENABLE ROW LEVEL SECURITY;
ALTER TABLE attendance_sweep ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON attendance TO authenticated, service_role;
CREATE POLICY own_marks ON attendance
    FOR SELECT TO authenticated USING (user_id = (SELECT active_user_id()));
CREATE POLICY trainer_slot_marks ON attendance
    FOR SELECT TO authenticated USING (trainer_id = (SELECT active_user_id()));
CREATE POLICY admin_all ON attendance
    FOR SELECT TO authenticated
    USING (booking_id >= (SELECT CASE WHEN is_app_admin() THEN '00000000-0000-0000-0000-000000000000'::uuid END)
       AND booking_id <= (SELECT 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
       AND strike_at >= (SELECT '-infinity'::timestamptz)
       AND strike_at <= (SELECT 'infinity'::timestamptz));

-- Strikes and suspension ---------------------------------------------------------------------

-- A time as the studio's wall clock says it, for messages: "2026-12-06 07:00 (Europe/Berlin)".
CREATE FUNCTION studio_time(at timestamptz)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT to_char(at AT TIME ZONE st.time_zone, 'YYYY-MM-DD HH24:MI') || ' (' || st.time_zone || ')'
      FROM gym_booking.studio_settings AS st
$$;

-- `p_at` moved by `p_by` as PostgreSQL moves a timestamptz by an interval, but on the studio's
-- clock instead of the session's: its days (and months) are the studio's calendar days (thirty
-- days back is the same wall-clock time thirty dates back, 23 or 25 hours for a day across a
-- clock change), its hours and minutes are elapsed time. No result depends on the session's
-- TimeZone.
CREATE FUNCTION studio_shift(p_at timestamptz, p_by interval)
RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN date_trunc('day', p_by) = interval '0' THEN p_at + p_by
                ELSE ((p_at AT TIME ZONE st.time_zone) + date_trunc('day', p_by)) AT TIME ZONE st.time_zone
                     + (p_by - date_trunc('day', p_by)) END
      FROM gym_booking.studio_settings AS st
$$;

-- A span as a person says it, whatever the session's IntervalStyle: "30 days", "24 hours",
-- "90 minutes" (days when it was given in days).
CREATE FUNCTION span_text(span interval)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN m <> 0 AND m % 1440 = 0 AND extract(hour FROM span) = 0
                     AND extract(minute FROM span) = 0 AND extract(second FROM span) = 0
                THEN (m / 1440) || CASE m WHEN 1440 THEN ' day' ELSE ' days' END
                WHEN m <> 0 AND m % 60 = 0 THEN (m / 60) || CASE m WHEN 60 THEN ' hour' ELSE ' hours' END
                ELSE m || CASE m WHEN 1 THEN ' minute' ELSE ' minutes' END END
      FROM (SELECT (extract(epoch FROM span) / 60)::bigint AS m) AS x
$$;

-- A strike: a no-show not excused, of a booking that still holds its place (a booking the gym
-- cancels afterwards takes its mark's strike with it).
CREATE FUNCTION strikes_of(p_user uuid)
RETURNS SETOF attendance
LANGUAGE sql STABLE
AS $$
    SELECT a.* FROM gym_booking.attendance AS a
     WHERE a.user_id = p_user AND a.mark = 'no_show' AND a.excused_at IS NULL
       AND EXISTS (SELECT FROM gym_booking.bookings AS b
                    WHERE b.id = a.booking_id AND b.status <> 'cancelled')
$$;

-- The athlete's strikes now: those inside strike_window.
CREATE FUNCTION athlete_strikes(p_user uuid)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(*)
      FROM gym_booking.strikes_of(p_user) AS a, gym_booking.studio_settings AS st
     WHERE a.strike_at > gym_booking.studio_shift(statement_timestamp(), -st.strike_window)
       AND a.strike_at <= statement_timestamp()
$$;

-- Until when the athlete may not book (NULL: they may). A strike (see strikes_of) that is the
-- no_show_strike_limit-th or later inside strike_window (that many strikes in
-- (strike - strike_window, strike]) suspends until suspension after it; the latest such end
-- counts. Computed from the marks, never stored: an excuse or a change of the settings holds at
-- once. Only strikes younger than the suspension can suspend now: read by index, however long
-- the athlete's history.
CREATE FUNCTION athlete_suspended_until(p_user uuid)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st gym_booking.studio_settings;
    until timestamptz;
BEGIN
    SELECT * INTO st FROM gym_booking.studio_settings;
    IF st.no_show_strike_limit IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT gym_booking.studio_shift(max(s.strike_at), st.suspension) INTO until
      FROM gym_booking.strikes_of(p_user) AS s
     WHERE s.strike_at > gym_booking.studio_shift(statement_timestamp(), -st.suspension)
       AND (SELECT count(*) FROM gym_booking.strikes_of(p_user) AS w
             WHERE w.strike_at > gym_booking.studio_shift(s.strike_at, -st.strike_window)
               AND w.strike_at <= s.strike_at) >= st.no_show_strike_limit;
    RETURN until;
END
$$;

-- The refusal's DETAIL for a suspended athlete, NULL when they may book (the booking rule's).
CREATE FUNCTION suspension_detail(p_user uuid)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    until timestamptz := gym_booking.athlete_suspended_until(p_user);
BEGIN
    IF until IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN format('Suspended until %s: %s within the last %s.',
                  gym_booking.studio_time(until),
                  (SELECT n || CASE n WHEN 1 THEN ' no-show' ELSE ' no-shows' END
                     FROM gym_booking.athlete_strikes(p_user) AS n),
                  (SELECT gym_booking.span_text(st.strike_window)
                     FROM gym_booking.studio_settings AS st));
END
$$;

-- The API: check-in -------------------------------------------------------------------------

-- Whether the caller may mark (and read the roster of) a slot of `p_trainer`: its trainer
-- (active), an app admin, service_role, the DBA.
CREATE FUNCTION may_mark_attendance(p_trainer uuid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT gym_booking.acts_for_the_gym()
        OR (gym_booking.active_user_id() = p_trainer AND gym_booking.is_trainer())
$$;

-- Writes a mark (new, or changed), its log entry and, for a new no-show, the athlete's event.
-- The caller holds the athlete's users row and the booking. `auto`: the sweep's.
CREATE FUNCTION write_mark(b bookings, s slots, p_mark attendance_mark, auto boolean)
RETURNS attendance
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    was gym_booking.attendance;
    now_ gym_booking.attendance;
    me uuid := CASE WHEN NOT auto THEN gym_booking.current_user_id() END;
BEGIN
    SELECT * INTO was FROM gym_booking.attendance AS a WHERE a.booking_id = b.id;
    IF FOUND AND was.mark = p_mark THEN
        RETURN was; -- The same mark again changes nothing.
    END IF;
    INSERT INTO gym_booking.attendance AS a
           (booking_id, user_id, slot_id, trainer_id, mark, strike_at, marked_at, marked_by)
    VALUES (b.id, b.user_id, b.slot_id, s.trainer_id, p_mark, s.start_at, statement_timestamp(), me)
    ON CONFLICT (booking_id) DO UPDATE
       SET mark = EXCLUDED.mark, marked_at = EXCLUDED.marked_at, marked_by = EXCLUDED.marked_by,
           excused_at = NULL, excused_by = NULL
    RETURNING * INTO now_;
    INSERT INTO gym_booking.activity_logs
           (entity_type, entity_id, action, changed_by, changed_by_role, changed_fields, metadata,
            created_at)
    VALUES ('booking', b.id, CASE WHEN auto THEN 'status_auto_update' ELSE 'update' END::gym_booking.log_action_type,
            me, (SELECT u.role FROM gym_booking.users AS u WHERE u.id = me),
            jsonb_build_object('attendance', jsonb_build_object('old', was.mark, 'new', p_mark)),
            jsonb_build_object('slot_id', b.slot_id), clock_timestamp());
    IF EXISTS (SELECT FROM gym_booking.users AS u WHERE u.id = b.user_id AND u.deleted_at IS NULL) THEN
        INSERT INTO gym_booking.events (recipient_id, kind, slot_id, booking_id, payload, created_at)
        VALUES (b.user_id,
                CASE p_mark WHEN 'no_show' THEN 'no_show_recorded'
                            ELSE 'attendance_marked' END::gym_booking.event_kind,
                b.slot_id, b.id,
                jsonb_strip_nulls(jsonb_build_object(
                    'start_at', s.start_at, 'end_at', s.end_at, 'mark', p_mark,
                    'previous', was.mark,
                    'suspended_until', CASE WHEN p_mark = 'no_show'
                                            THEN gym_booking.athlete_suspended_until(b.user_id) END)),
                statement_timestamp());
    END IF;
    RETURN now_;
END
$$;

CREATE FUNCTION mark_attendance(booking_id uuid, mark attendance_mark)
RETURNS attendance
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    b gym_booking.bookings;
    s gym_booking.slots;
    grace interval := (SELECT st.attendance_grace FROM gym_booking.studio_settings AS st);
BEGIN
    IF booking_id IS NULL OR mark IS NULL THEN
        RAISE EXCEPTION 'booking_id and mark are required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT gym_booking.acts_for_the_gym() AND NOT gym_booking.is_trainer() THEN
        RAISE EXCEPTION 'only the slot''s trainer or the gym marks attendance'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT * INTO b FROM gym_booking.bookings AS x WHERE x.id = booking_id;
    SELECT * INTO s FROM gym_booking.slots AS x WHERE x.id = b.slot_id;
    -- Another trainer's booking is one this trainer cannot see (row-level security): not found.
    IF b.id IS NULL OR NOT gym_booking.may_mark_attendance(s.trainer_id) THEN
        RAISE EXCEPTION 'booking % not found', booking_id USING ERRCODE = 'undefined_object';
    END IF;
    -- The lock order: the caller's row, the athlete's (a booking of theirs waits for this
    -- mark, or this mark for it), then the booking, read again under its lock.
    PERFORM FROM gym_booking.users AS u
      WHERE u.id = gym_booking.current_user_id() AND u.id <> b.user_id FOR SHARE;
    PERFORM FROM gym_booking.users AS u WHERE u.id = b.user_id FOR NO KEY UPDATE;
    SELECT * INTO b FROM gym_booking.bookings AS x WHERE x.id = booking_id FOR SHARE;
    SELECT * INTO s FROM gym_booking.slots AS x WHERE x.id = b.slot_id;
    IF b.status = 'cancelled' THEN
        RAISE EXCEPTION 'a cancelled booking holds no place: it gets no attendance mark'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF statement_timestamp() < s.start_at THEN
        RAISE EXCEPTION 'attendance is marked from the slot''s start'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The slot starts at %s.', gym_booking.studio_time(s.start_at));
    END IF;
    IF statement_timestamp() > gym_booking.studio_shift(s.end_at, grace) THEN
        RAISE EXCEPTION 'too late to mark attendance: marks are made until % after the slot''s end',
                        gym_booking.span_text(grace)
            USING ERRCODE = 'triggered_data_change_violation',
                  DETAIL = format('Marking closed at %s.',
                                  gym_booking.studio_time(gym_booking.studio_shift(s.end_at, grace)));
    END IF;
    RETURN gym_booking.write_mark(b, s, mark, false);
END
$$;
COMMENT ON FUNCTION mark_attendance(uuid, attendance_mark) IS
    'The slot''s trainer (or the gym) marks a booking attended or no_show, from the slot''s start until attendance_grace after its end';

CREATE FUNCTION excuse_no_show(booking_id uuid)
RETURNS attendance
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    a gym_booking.attendance;
    me uuid := gym_booking.current_user_id();
BEGIN
    IF booking_id IS NULL THEN
        RAISE EXCEPTION 'booking_id is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT gym_booking.acts_for_the_gym() THEN
        RAISE EXCEPTION 'only the gym excuses a no-show' USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT * INTO a FROM gym_booking.attendance AS x WHERE x.booking_id = booking_id;
    IF NOT FOUND THEN
        IF EXISTS (SELECT FROM gym_booking.bookings AS x WHERE x.id = booking_id) THEN
            RAISE EXCEPTION 'only a no-show is excused: this booking has no attendance mark'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RAISE EXCEPTION 'booking % not found', booking_id USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM FROM gym_booking.users AS u WHERE u.id = me AND u.id <> a.user_id FOR SHARE;
    PERFORM FROM gym_booking.users AS u WHERE u.id = a.user_id FOR NO KEY UPDATE;
    SELECT * INTO a FROM gym_booking.attendance AS x WHERE x.booking_id = booking_id;
    IF a.mark <> 'no_show' THEN
        RAISE EXCEPTION 'only a no-show is excused: this booking is marked %', a.mark
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF a.excused_at IS NOT NULL THEN
        RETURN a; -- Excusing twice is excusing once.
    END IF;
    UPDATE gym_booking.attendance AS x SET excused_at = statement_timestamp(), excused_by = me
     WHERE x.booking_id = booking_id
    RETURNING * INTO a;
    INSERT INTO gym_booking.activity_logs
           (entity_type, entity_id, action, changed_by, changed_by_role, changed_fields, metadata,
            created_at)
    VALUES ('booking', booking_id, 'update', me,
            (SELECT u.role FROM gym_booking.users AS u WHERE u.id = me),
            jsonb_build_object('excused', jsonb_build_object('old', false, 'new', true)),
            jsonb_build_object('slot_id', a.slot_id), clock_timestamp());
    INSERT INTO gym_booking.events (recipient_id, kind, slot_id, booking_id, payload, created_at)
    SELECT a.user_id, 'no_show_excused', a.slot_id, a.booking_id,
           jsonb_build_object('start_at', s.start_at, 'end_at', s.end_at), statement_timestamp()
      FROM gym_booking.slots AS s
      JOIN gym_booking.users AS u ON u.id = a.user_id AND u.deleted_at IS NULL
     WHERE s.id = a.slot_id;
    RETURN a;
END
$$;
COMMENT ON FUNCTION excuse_no_show(uuid) IS 'The gym excuses a no-show: it is no strike any more';

-- The auto no-show sweep: with auto_no_show on, place-holding bookings still unmarked when the
-- grace has ended become no-shows, the system's (log action status_auto_update, an event each).
-- Only slots that ended after the watermark are looked at (by the index on slots.end_at), so a
-- round costs what the last few hours of classes cost, and switching auto_no_show on marks no
-- history; with it off the watermark moves on all the same. One sweep at a time (the watermark
-- row); at most max_rows bookings per call: call again until it returns less.
CREATE FUNCTION record_no_shows(max_rows integer DEFAULT 1000)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st gym_booking.studio_settings;
    swept timestamptz;
    grace_over timestamptz;
    due uuid[];
    bk gym_booking.bookings;
    sl gym_booking.slots;
    marked bigint := 0;
BEGIN
    IF max_rows IS NULL THEN
        RAISE EXCEPTION 'max_rows is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF max_rows < 1 THEN
        RAISE EXCEPTION 'max_rows must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT gym_booking.acts_for_the_gym() THEN
        RAISE EXCEPTION 'only the gym records no-shows'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Run it as service_role, an app admin, or from the background worker.';
    END IF;
    SELECT w.swept_until INTO swept FROM gym_booking.attendance_sweep AS w FOR UPDATE;
    SELECT * INTO st FROM gym_booking.studio_settings;
    -- Marks are made until end_at + grace (inclusive): the sweep takes slots past that, from the
    -- watermark on (one that ended exactly at the watermark was not past it last time).
    grace_over := gym_booking.studio_shift(statement_timestamp(), -st.attendance_grace);
    IF st.auto_no_show THEN
        SELECT array_agg(d.id ORDER BY d.end_at, d.id) INTO due
          FROM (SELECT b.id, s.end_at
                  FROM gym_booking.slots AS s
                  JOIN gym_booking.bookings AS b ON b.slot_id = s.id
                  JOIN gym_booking.users AS u ON u.id = b.user_id AND u.deleted_at IS NULL
                 WHERE s.end_at >= swept AND s.end_at < grace_over AND s.cancelled_at IS NULL
                   AND b.status IN ('reserved', 'completed')
                   AND NOT EXISTS (SELECT FROM gym_booking.attendance AS a WHERE a.booking_id = b.id)
                 ORDER BY s.end_at, b.id
                 LIMIT max_rows) AS d;
        -- The athletes first, in one order (a booking of theirs holds their row FOR SHARE).
        PERFORM FROM gym_booking.users AS u
          WHERE u.id IN (SELECT x.user_id FROM gym_booking.bookings AS x WHERE x.id = ANY (due))
          ORDER BY u.id FOR NO KEY UPDATE;
        FOR bk IN SELECT x.* FROM gym_booking.bookings AS x
                  WHERE x.id = ANY (due) AND x.status IN ('reserved', 'completed')
                  ORDER BY x.id
                    FOR SHARE
        LOOP
            SELECT * INTO sl FROM gym_booking.slots AS x WHERE x.id = bk.slot_id;
            CONTINUE WHEN sl.cancelled_at IS NOT NULL
                       OR EXISTS (SELECT FROM gym_booking.attendance AS a WHERE a.booking_id = bk.id);
            PERFORM gym_booking.write_mark(bk, sl, 'no_show', true);
            marked := marked + 1;
        END LOOP;
    END IF;
    -- All of them done: the watermark moves on.
    IF coalesce(cardinality(due), 0) < max_rows THEN
        UPDATE gym_booking.attendance_sweep SET swept_until = grace_over WHERE swept_until < grace_over;
    END IF;
    RETURN marked;
END
$$;
COMMENT ON FUNCTION record_no_shows(integer) IS
    'With auto_no_show on, marks bookings still unmarked when attendance_grace after their slot''s end is over as no-shows; the background worker runs it each round';

-- The roster ---------------------------------------------------------------------------------

-- Who is booked into a slot (by name) and who waits for it, with their marks: the slot's
-- trainer's and the gym's. A trainer sees these names here and nothing else of the athletes'
-- users rows.
CREATE FUNCTION slot_roster(slot_id uuid)
RETURNS TABLE (athlete_id uuid, first_name text, last_name text, booking_id uuid,
               booking_status booking_status, waitlist_position integer, mark attendance_mark,
               marked_at timestamptz, excused boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    trainer uuid;
BEGIN
    IF slot_id IS NULL THEN
        RAISE EXCEPTION 'slot_id is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT s.trainer_id INTO trainer FROM gym_booking.slots AS s WHERE s.id = slot_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'slot % not found', slot_id USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT gym_booking.may_mark_attendance(trainer) THEN
        RAISE EXCEPTION 'only the slot''s trainer or the gym reads its roster'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN QUERY
    SELECT r.athlete_id, r.first_name, r.last_name, r.booking_id, r.booking_status,
           r.waitlist_position, r.mark, r.marked_at, r.excused
      FROM (SELECT u.id AS athlete_id, u.first_name::text AS first_name,
                   u.last_name::text AS last_name, b.id AS booking_id, b.status AS booking_status,
                   NULL::integer AS waitlist_position, a.mark, a.marked_at,
                   a.excused_at IS NOT NULL AS excused
              FROM gym_booking.bookings AS b
              JOIN gym_booking.users AS u ON u.id = b.user_id
              LEFT JOIN gym_booking.attendance AS a ON a.booking_id = b.id
             WHERE b.slot_id = slot_id AND b.status IN ('reserved', 'completed')
            UNION ALL
            SELECT u.id, u.first_name::text, u.last_name::text, NULL, NULL,
                   (row_number() OVER (ORDER BY w.queue_no))::integer, NULL, NULL, NULL
              FROM gym_booking.waitlist_entries AS w
              JOIN gym_booking.users AS u ON u.id = w.user_id
             WHERE w.slot_id = slot_id AND w.state = 'waiting') AS r
     ORDER BY r.waitlist_position NULLS FIRST, r.last_name, r.first_name, r.athlete_id;
END
$$;
COMMENT ON FUNCTION slot_roster(uuid) IS
    'The booked athletes of a slot (names, status, marks), then those waiting in order: for its trainer and the gym';

CREATE FUNCTION athlete_suspension(user_id uuid DEFAULT NULL)
RETURNS TABLE (strikes bigint, suspended_until timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    me uuid := gym_booking.active_user_id();
    athlete uuid := coalesce(user_id, me);
BEGIN
    IF athlete IS NULL THEN
        RAISE EXCEPTION 'sign in to read your strikes' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF athlete IS DISTINCT FROM me AND NOT gym_booking.acts_for_the_gym() THEN
        RAISE EXCEPTION 'only the gym reads another athlete''s strikes'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN QUERY SELECT gym_booking.athlete_strikes(athlete),
                        gym_booking.athlete_suspended_until(athlete);
END
$$;
COMMENT ON FUNCTION athlete_suspension(uuid) IS
    'An athlete''s strikes now (no-shows not excused inside strike_window) and until when they are suspended (NULL: not)';

-- Reports --------------------------------------------------------------------------------------

-- A report's period, the studio's days from_date to to_date (inclusive), as [from_at, to_at).
CREATE FUNCTION report_period(from_date date, to_date date, OUT from_at timestamptz,
                              OUT to_at timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    zone text := (SELECT st.time_zone FROM gym_booking.studio_settings AS st);
BEGIN
    IF from_date IS NULL OR to_date IS NULL THEN
        RAISE EXCEPTION 'from_date and to_date are required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF from_date < '2000-01-01' OR to_date > '2999-12-31' THEN
        RAISE EXCEPTION 'a report''s days are between 2000-01-01 and 2999-12-31'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF to_date < from_date OR to_date - from_date >= 366 THEN
        RAISE EXCEPTION 'a report covers from_date to to_date, at most 366 days'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    from_at := from_date::timestamp AT TIME ZONE zone;
    to_at := (to_date + 1)::timestamp AT TIME ZONE zone;
END
$$;

-- Who a report is for: the gym (any trainer, or all: NULL), or a trainer (their own slots only).
CREATE FUNCTION report_trainer(for_trainer uuid)
RETURNS uuid
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    me uuid := gym_booking.active_user_id();
BEGIN
    IF gym_booking.acts_for_the_gym() THEN
        RETURN for_trainer;
    END IF;
    IF me IS NULL OR NOT gym_booking.is_trainer() OR for_trainer <> me THEN
        RAISE EXCEPTION 'a trainer reads the reports of their own slots; the gym all'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN me;
END
$$;

-- The slots a report counts: not cancelled, starting in [from_at, to_at), of one trainer or
-- all. (Each arm is a range scan of its own index; the other one is switched off.)
CREATE FUNCTION report_slots(from_at timestamptz, to_at timestamptz, trainer uuid)
RETURNS SETOF slots
LANGUAGE sql STABLE
AS $$
    SELECT s.* FROM gym_booking.slots AS s
     WHERE trainer IS NULL AND s.cancelled_at IS NULL
       AND s.start_at >= from_at AND s.start_at < to_at
    UNION ALL
    SELECT s.* FROM gym_booking.slots AS s
     WHERE trainer IS NOT NULL AND s.trainer_id = trainer AND s.cancelled_at IS NULL
       AND s.start_at >= from_at AND s.start_at < to_at
$$;

-- Per slot: capacity; booked (reserved or completed bookings); their attended and no-show
-- marks (excused no-shows too); cancelled bookings; waitlist promotions into it; utilization
-- (booked / capacity).
CREATE FUNCTION slot_figures(from_at timestamptz, to_at timestamptz, trainer uuid)
RETURNS TABLE (slot_id uuid, trainer_id uuid, day date, start_at timestamptz, capacity integer,
               booked bigint, attended bigint, no_shows bigint, cancellations bigint,
               promotions bigint, utilization numeric)
LANGUAGE sql STABLE
AS $$
    SELECT s.id, s.trainer_id, (s.start_at AT TIME ZONE st.time_zone)::date, s.start_at,
           s.capacity::integer, f.booked, f.attended, f.no_shows, f.cancellations, f.promotions,
           round(f.booked::numeric / s.capacity, 4)
      FROM gym_booking.report_slots(from_at, to_at, trainer) AS s
     CROSS JOIN gym_booking.studio_settings AS st
     CROSS JOIN LATERAL (
           SELECT count(*) FILTER (WHERE b.status <> 'cancelled') AS booked,
                  count(*) FILTER (WHERE b.status <> 'cancelled' AND a.mark = 'attended') AS attended,
                  count(*) FILTER (WHERE b.status <> 'cancelled' AND a.mark = 'no_show') AS no_shows,
                  count(*) FILTER (WHERE b.status = 'cancelled') AS cancellations,
                  coalesce(sum((SELECT count(*) FROM gym_booking.waitlist_entries AS w
                                 WHERE w.booking_id = b.id AND w.state = 'promoted')), 0)::bigint
                      AS promotions
             FROM gym_booking.bookings AS b
             LEFT JOIN gym_booking.attendance AS a ON a.booking_id = b.id
            WHERE b.slot_id = s.id) AS f
$$;

CREATE FUNCTION slot_report(from_date date, to_date date, for_trainer uuid DEFAULT NULL)
RETURNS TABLE (slot_id uuid, trainer_id uuid, day date, start_at timestamptz, capacity integer,
               booked bigint, attended bigint, no_shows bigint, cancellations bigint,
               promotions bigint, utilization numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    p record := gym_booking.report_period(from_date, to_date);
    trainer uuid := gym_booking.report_trainer(for_trainer);
BEGIN
    RETURN QUERY SELECT f.* FROM gym_booking.slot_figures(p.from_at, p.to_at, trainer) AS f
                  ORDER BY f.start_at, f.slot_id;
END
$$;
COMMENT ON FUNCTION slot_report(date, date, uuid) IS
    'Per slot of the studio''s days from_date to to_date: capacity, booked, attended, no-shows, cancellations, promotions, utilization (a trainer: their own slots)';

CREATE FUNCTION trainer_report(from_date date, to_date date, for_trainer uuid DEFAULT NULL)
RETURNS TABLE (trainer_id uuid, first_name text, last_name text, slots bigint, capacity bigint,
               booked bigint, attended bigint, no_shows bigint, cancellations bigint,
               promotions bigint, utilization numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    p record := gym_booking.report_period(from_date, to_date);
    trainer uuid := gym_booking.report_trainer(for_trainer);
BEGIN
    RETURN QUERY
    SELECT f.trainer_id, u.first_name::text, u.last_name::text, count(*), sum(f.capacity)::bigint,
           sum(f.booked)::bigint, sum(f.attended)::bigint, sum(f.no_shows)::bigint,
           sum(f.cancellations)::bigint, sum(f.promotions)::bigint,
           round(sum(f.booked)::numeric / sum(f.capacity), 4)
      FROM gym_booking.slot_figures(p.from_at, p.to_at, trainer) AS f
      JOIN gym_booking.users AS u ON u.id = f.trainer_id
     GROUP BY f.trainer_id, u.first_name, u.last_name
     ORDER BY f.trainer_id;
END
$$;
COMMENT ON FUNCTION trainer_report(date, date, uuid) IS
    'Per trainer over the studio''s days from_date to to_date: slots, capacity, booked, attended, no-shows, cancellations, promotions, utilization (a trainer: their own)';

CREATE FUNCTION athlete_report(from_date date, to_date date, for_athlete uuid DEFAULT NULL)
RETURNS TABLE (user_id uuid, first_name text, last_name text, bookings bigint, attended bigint,
               no_shows bigint, cancellations bigint, attendance_rate numeric,
               no_show_rate numeric, strikes bigint, suspended_until timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    p record := gym_booking.report_period(from_date, to_date);
    me uuid := gym_booking.active_user_id();
    trainer uuid;
    athlete uuid := for_athlete;
BEGIN
    IF NOT gym_booking.acts_for_the_gym() THEN
        IF me IS NULL THEN
            RAISE EXCEPTION 'sign in to read attendance reports'
                USING ERRCODE = 'insufficient_privilege';
        ELSIF gym_booking.is_trainer() THEN
            trainer := me; -- The athletes of their own slots, by those slots' figures.
        ELSIF athlete IS NULL OR athlete = me THEN
            athlete := me;
        ELSE
            RAISE EXCEPTION 'an athlete reads their own report; the gym everyone''s'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    RETURN QUERY
    SELECT r.user_id, u.first_name::text, u.last_name::text, r.bookings, r.attended, r.no_shows,
           r.cancellations,
           CASE WHEN r.attended + r.no_shows > 0
                THEN round(r.attended::numeric / (r.attended + r.no_shows), 4) END,
           CASE WHEN r.attended + r.no_shows > 0
                THEN round(r.no_shows::numeric / (r.attended + r.no_shows), 4) END,
           gym_booking.athlete_strikes(r.user_id), gym_booking.athlete_suspended_until(r.user_id)
      FROM (SELECT x.user_id,
                   count(*) FILTER (WHERE x.status <> 'cancelled') AS bookings,
                   count(*) FILTER (WHERE x.status <> 'cancelled' AND x.mark = 'attended') AS attended,
                   count(*) FILTER (WHERE x.status <> 'cancelled' AND x.mark = 'no_show') AS no_shows,
                   count(*) FILTER (WHERE x.status = 'cancelled') AS cancellations
              FROM gym_booking.report_slots(p.from_at, p.to_at, trainer) AS s
             -- Each slot's bookings by the slot's index (OFFSET 0 keeps the planner from
             -- joining all of bookings instead: its cost would grow with the history).
             CROSS JOIN LATERAL (
                   SELECT b.user_id, b.status, a.mark
                     FROM gym_booking.bookings AS b
                     LEFT JOIN gym_booking.attendance AS a ON a.booking_id = b.id
                    WHERE b.slot_id = s.id AND (athlete IS NULL OR b.user_id = athlete)
                   OFFSET 0) AS x
             GROUP BY x.user_id) AS r
      JOIN gym_booking.users AS u ON u.id = r.user_id
     ORDER BY r.user_id;
END
$$;
COMMENT ON FUNCTION athlete_report(date, date, uuid) IS
    'Per athlete over the studio''s days from_date to to_date: bookings, attended, no-shows, cancellations, attendance and no-show rates, strikes and suspension now (an athlete: their own; a trainer: their slots'')';

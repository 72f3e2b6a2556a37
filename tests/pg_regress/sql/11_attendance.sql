-- Attendance (0.2.2): rosters, check-in, no-shows and strikes, suspensions, reports.
-- Each block is one request as PostgREST makes it (role and claims for the transaction only).
-- What depends on when this runs is shown as booleans and intervals; the edges of the
-- attendance period and of the strike window are met exactly, on the clock of one statement
-- (the rules judge time by statement_timestamp(), which a function's statements share).
SET search_path = gym_booking, public;
\set VERBOSITY default
\set SHOW_CONTEXT never
\set ada   00000011-0000-4000-a000-000000000001
\set tess  00000011-0000-4000-a000-000000000002
\set tom   00000011-0000-4000-a000-000000000003
\set amy   00000011-0000-4000-a000-000000000004
\set ben   00000011-0000-4000-a000-000000000005
\set cat   00000011-0000-4000-a000-000000000006
\set dan   00000011-0000-4000-a000-000000000007
\set eve   00000011-0000-4000-a000-000000000008
\set fay   00000011-0000-4000-a000-000000000009
\set as_ada  '{"sub": "00000011-0000-4000-a000-000000000001", "role": "authenticated"}'
\set as_tess '{"sub": "00000011-0000-4000-a000-000000000002", "role": "authenticated"}'
\set as_tom  '{"sub": "00000011-0000-4000-a000-000000000003", "role": "authenticated"}'
\set as_amy  '{"sub": "00000011-0000-4000-a000-000000000004", "role": "authenticated"}'
\set as_ben  '{"sub": "00000011-0000-4000-a000-000000000005", "role": "authenticated"}'
\set as_cat  '{"sub": "00000011-0000-4000-a000-000000000006", "role": "authenticated"}'
\set as_dan  '{"sub": "00000011-0000-4000-a000-000000000007", "role": "authenticated"}'
\set as_eve  '{"sub": "00000011-0000-4000-a000-000000000008", "role": "authenticated"}'
INSERT INTO users (id, email, password_hash, first_name, last_name, role, contact_email) VALUES
    (:'ada',  'ada.att@gym.example',  'hash', 'Ada',  'Ward',   'admin',   NULL),
    (:'tess', 'tess.att@gym.example', 'hash', 'Tess', 'Ober',   'trainer', 'tess.att@gym.example'),
    (:'tom',  'tom.att@gym.example',  'hash', 'Tom',  'Reyes',  'trainer', 'tom.att@gym.example'),
    (:'amy',  'amy.att@mail.example', 'hash', 'Amy',  'Zimmer', 'athlete', NULL),
    (:'ben',  'ben.att@mail.example', 'hash', 'Ben',  'Adams',  'athlete', NULL),
    (:'cat',  'cat.att@mail.example', 'hash', 'Cat',  'Brown',  'athlete', NULL),
    (:'dan',  'dan.att@mail.example', 'hash', 'Dan',  'Clark',  'athlete', NULL),
    (:'eve',  'eve.att@mail.example', 'hash', 'Eve',  'Brown',  'athlete', NULL),
    (:'fay',  'fay.att@mail.example', 'hash', 'Fay',  'Stone',  'athlete', NULL);

-- Time passes: a slot is moved (with the rules off, as a restore writes rows) so that it
-- started `ago` before the clock of the statement that calls this. Its bookings, marks and
-- log rows stay as the rules wrote them. (Intervals are counted on UTC's clock, the studio's
-- here; calls end in \gset, which keeps their empty result out of the output.)
CREATE FUNCTION pg_temp.started_ago(slot uuid, ago interval) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('session_replication_role', 'replica', true);
    UPDATE gym_booking.slots
       SET start_at = (statement_timestamp() AT TIME ZONE 'UTC' - ago) AT TIME ZONE 'UTC',
           end_at = (statement_timestamp() AT TIME ZONE 'UTC' - ago) AT TIME ZONE 'UTC'
                    + make_interval(mins => duration_minutes)
     WHERE id = slot;
    PERFORM set_config('session_replication_role', 'origin', true);
END
$$;
-- The edges of the attendance period: in one statement, the booking's slot is moved so that
-- the statement's clock is `since_start` after its start, and its trainer (Tess) marks it.
-- Returns the mark, or the refusal's SQLSTATE and message.
CREATE FUNCTION pg_temp.tess_marks_at(booking uuid, m gym_booking.attendance_mark, since_start interval)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    PERFORM pg_temp.started_ago((SELECT slot_id FROM gym_booking.bookings WHERE id = booking), since_start);
    PERFORM set_config('role', 'authenticated', true),
            set_config('request.jwt.claims', '{"sub": "00000011-0000-4000-a000-000000000002", "role": "authenticated"}', true);
    BEGIN
        SELECT a.mark::text INTO result FROM gym_booking.mark_attendance(booking, m) AS a;
    EXCEPTION WHEN OTHERS THEN
        result := SQLSTATE || ': ' || SQLERRM;
    END;
    PERFORM set_config('role', 'none', true), set_config('request.jwt.claims', '', true);
    RETURN result;
END
$$;
-- History of no-shows: for each interval, a class of Tess's that started that long before the
-- statement's clock, booked by the athlete, marked no-show by Tess (the rows a restore writes).
CREATE FUNCTION pg_temp.no_shows(athlete uuid, VARIADIC ago interval[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    a interval;
    slot uuid;
    booking uuid;
    starts timestamptz;
BEGIN
    PERFORM set_config('session_replication_role', 'replica', true);
    FOREACH a IN ARRAY ago LOOP
        starts := (statement_timestamp() AT TIME ZONE 'UTC' - a) AT TIME ZONE 'UTC';
        INSERT INTO gym_booking.slots (trainer_id, start_at, end_at, duration_minutes, capacity)
        VALUES ('00000011-0000-4000-a000-000000000002', starts, starts + interval '1 hour', 60, 10)
        RETURNING id INTO slot;
        INSERT INTO gym_booking.bookings (slot_id, user_id, status, trainer_id)
        VALUES (slot, athlete, 'completed', '00000011-0000-4000-a000-000000000002')
        RETURNING id INTO booking;
        INSERT INTO gym_booking.attendance
               (booking_id, user_id, slot_id, trainer_id, mark, strike_at, marked_at, marked_by)
        VALUES (booking, athlete, slot, '00000011-0000-4000-a000-000000000002', 'no_show', starts,
                starts + interval '2 hours', '00000011-0000-4000-a000-000000000002');
    END LOOP;
    PERFORM set_config('session_replication_role', 'origin', true);
END
$$;
-- The edges of the strike window: a new athlete with no-shows that long ago, and what
-- athlete_suspension says of them in the same statement (suspended_until as a time from now).
CREATE FUNCTION pg_temp.suspension_after(VARIADIC ago interval[])
RETURNS TABLE (strikes bigint, suspended_for interval) LANGUAGE plpgsql AS $$
DECLARE
    athlete uuid := gen_random_uuid();
BEGIN
    INSERT INTO gym_booking.users (id, email, password_hash, first_name, role)
    VALUES (athlete, athlete || '@strikes.example', 'hash', 'Strikes', 'athlete');
    PERFORM pg_temp.no_shows(athlete, VARIADIC ago);
    RETURN QUERY SELECT s.strikes, s.suspended_until - statement_timestamp()
                   FROM gym_booking.athlete_suspension(athlete) AS s;
END
$$;
-- A suspended athlete's refusal: runs the statement as the athlete (one request) and returns
-- its SQLSTATE, message, DETAIL and HINT. The DETAIL names the end of the suspension in the
-- studio's time; shown here as <suspended_until> when it is the athlete's suspended_until.
CREATE FUNCTION pg_temp.refusal(athlete uuid, statement text)
RETURNS TABLE (code text, message text, detail text, hint text) LANGUAGE plpgsql AS $$
DECLARE
    until text := (SELECT to_char(s.suspended_until AT TIME ZONE st.time_zone, 'YYYY-MM-DD HH24:MI')
                     FROM gym_booking.athlete_suspension(athlete) AS s, gym_booking.studio_settings AS st);
    d text;
BEGIN
    PERFORM set_config('role', 'authenticated', true),
            set_config('request.jwt.claims', json_build_object('sub', athlete, 'role', 'authenticated')::text, true);
    BEGIN
        EXECUTE statement;
        code := '00000';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                                d = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
        detail := replace(d, until, '<suspended_until>');
    END;
    PERFORM set_config('role', 'none', true), set_config('request.jwt.claims', '', true);
    RETURN NEXT;
END
$$;

-- ---- The roster ------------------------------------------------------------------------------
-- Tess's class of three, in three days. Ben books and cancels; Amy, Eve and Cat fill it; Dan,
-- then Ben, join its waitlist.
\set yoga 00000011-0000-4000-b000-000000000001
INSERT INTO slots (id, trainer_id, start_at, duration_minutes, capacity)
VALUES (:'yoga', :'tess', date_trunc('hour', now()) + interval '3 days', 60, 3);
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ben', true) \gset
SELECT status FROM cancel_booking((SELECT id FROM book_slot(:'yoga')));
COMMIT;
INSERT INTO bookings (slot_id, user_id) VALUES (:'yoga', :'amy'), (:'yoga', :'eve'), (:'yoga', :'cat');
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_dan', true) \gset
SELECT state FROM join_waitlist(:'yoga');
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ben', true) \gset
SELECT state FROM join_waitlist(:'yoga');
COMMIT;
-- Tess opens her roster: the booked athletes by last name, then first name (Ben's cancelled
-- booking holds no place), then those waiting, in their order. Nobody is marked yet.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT first_name, last_name, booking_id IS NOT NULL AS has_booking, booking_status,
       waitlist_position, mark, marked_at, excused
  FROM slot_roster(:'yoga');
-- The roster is all she sees of them: their users rows stay private.
SELECT count(*) AS athletes_rows_tess_reads FROM users WHERE role = 'athlete';
COMMIT;
-- Another trainer and an athlete may not read it (42501); the gym may.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tom', true) \gset
SELECT first_name FROM slot_roster(:'yoga');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT first_name FROM slot_roster(:'yoga');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ada', true) \gset
SELECT count(*) AS roster_ada_reads FROM slot_roster(:'yoga');
COMMIT;
-- An unknown slot is not found (42704); no slot at all is a NULL argument (22004).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT first_name FROM slot_roster('00000011-0000-4000-b000-0000000000ff');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT first_name FROM slot_roster(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;

-- ---- Check-in --------------------------------------------------------------------------------
-- Tess's morning class started half an hour ago: Amy, Ben and Dan hold places, Cat cancelled.
\set morning 00000011-0000-4000-b000-000000000002
\set amy_morning 00000011-0000-4000-c000-000000000021
\set ben_morning 00000011-0000-4000-c000-000000000022
\set cat_morning 00000011-0000-4000-c000-000000000023
\set dan_morning 00000011-0000-4000-c000-000000000024
INSERT INTO slots (id, trainer_id, start_at, duration_minutes, capacity)
VALUES (:'morning', :'tess', date_trunc('hour', now()) + interval '1 day', 60, 5);
INSERT INTO bookings (id, slot_id, user_id) VALUES
    (:'amy_morning', :'morning', :'amy'), (:'ben_morning', :'morning', :'ben'),
    (:'cat_morning', :'morning', :'cat'), (:'dan_morning', :'morning', :'dan');
UPDATE bookings SET status = 'cancelled' WHERE id = :'cat_morning';
SELECT pg_temp.started_ago(:'morning', '30 minutes') \gset
-- Tess checks Amy in and marks Ben a no-show.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT mark, marked_by = :'tess' AS by_tess, strike_at = (SELECT start_at FROM slots WHERE id = :'morning') AS strike_at_start
  FROM mark_attendance(:'amy_morning', 'attended');
SELECT mark, marked_by = :'tess' AS by_tess FROM mark_attendance(:'ben_morning', 'no_show');
COMMIT;
-- Each mark is logged on its booking; the no-show tells Ben (when, and no suspension: the
-- studio counts no strikes yet).
SELECT CASE entity_id WHEN :'amy_morning' THEN 'Amy' WHEN :'ben_morning' THEN 'Ben' END AS booking,
       action, changed_by = :'tess' AS by_tess, changed_by_role, changed_fields
  FROM activity_logs WHERE entity_id IN (:'amy_morning', :'ben_morning') AND changed_fields ? 'attendance'
 ORDER BY created_at;
SELECT recipient_id = :'ben' AS to_ben, kind, booking_id = :'ben_morning' AS of_the_booking,
       (payload->>'start_at')::timestamptz = s.start_at AS start_at,
       (payload->>'end_at')::timestamptz = s.end_at AS end_at, payload ? 'suspended_until' AS suspends
  FROM events e JOIN slots s ON s.id = e.slot_id
 WHERE e.slot_id = :'morning' AND e.kind = 'no_show_recorded';
-- Ben turns up late: Tess changes her mark (inside the period a mark may change). Marking the
-- same again changes nothing and writes nothing.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT mark FROM mark_attendance(:'ben_morning', 'attended');
SELECT mark FROM mark_attendance(:'ben_morning', 'attended');
COMMIT;
SELECT changed_fields FROM activity_logs
 WHERE entity_id = :'ben_morning' AND changed_fields ? 'attendance' ORDER BY created_at;
-- The roster shows the marks (Dan is not marked yet).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT first_name, booking_status, mark, marked_at IS NOT NULL AS marked, excused
  FROM slot_roster(:'morning');
COMMIT;
-- Athletes read their own marks, a trainer those of her slots (Tom, none of Tess's).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT booking_id = :'amy_morning' AS own, mark FROM attendance;
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT count(*) AS marks_tess_reads FROM attendance;
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tom', true) \gset
SELECT count(*) AS marks_tom_reads FROM attendance;
COMMIT;
-- Nobody writes marks but the API (no client may write the table).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
UPDATE attendance SET mark = 'no_show' WHERE booking_id = :'amy_morning';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
-- An athlete cannot mark, not even herself (42501).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT mark FROM mark_attendance(:'amy_morning', 'attended');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
-- Nor can another trainer: the booking is not one he can see (not found, 42704).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tom', true) \gset
SELECT mark FROM mark_attendance(:'amy_morning', 'no_show');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
-- The admin may (and changes nothing here: Amy is marked attended already).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ada', true) \gset
SELECT mark, marked_by = :'tess' AS still_tess_mark FROM mark_attendance(:'amy_morning', 'attended');
COMMIT;
-- A cancelled booking holds no place (22023); an unknown booking is not found (42704); NULL
-- arguments are refused (22004).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT mark FROM mark_attendance(:'cat_morning', 'attended');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT mark FROM mark_attendance('00000011-0000-4000-c000-0000000000ff', 'attended');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT mark FROM mark_attendance(NULL, 'attended');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT mark FROM mark_attendance(:'amy_morning', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;

-- The attendance period: from the slot's start until attendance_grace (24 hours) after its
-- end. A class in 2031 cannot be marked yet (22023), one in April 2024 no more (27000); the
-- DETAIL says when, in the studio's time.
\set future 00000011-0000-4000-b000-000000000003
\set past 00000011-0000-4000-b000-000000000004
INSERT INTO slots (id, trainer_id, start_at, duration_minutes, capacity) VALUES
    (:'future', :'tess', '2031-06-02 10:00:00+00', 60, 5),
    (:'past',   :'tess', date_trunc('hour', now()) + interval '1 day', 60, 5);
INSERT INTO bookings (id, slot_id, user_id) VALUES
    ('00000011-0000-4000-c000-000000000031', :'future', :'amy'),
    ('00000011-0000-4000-c000-000000000041', :'past', :'amy');
SET session_replication_role = replica;
UPDATE slots SET start_at = '2024-04-01 10:00:00+00', end_at = '2024-04-01 11:00:00+00' WHERE id = :'past';
UPDATE bookings SET status = 'completed' WHERE id = '00000011-0000-4000-c000-000000000041';
RESET session_replication_role;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT mark FROM mark_attendance('00000011-0000-4000-c000-000000000031', 'attended');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT mark FROM mark_attendance('00000011-0000-4000-c000-000000000041', 'attended');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
-- Its edges, met exactly (Eve's booking of a 60-minute class): a microsecond before the start
-- is too early; at the start she is marked; the mark may still change at the last instant,
-- the end plus the grace; a microsecond later it is too late.
\set edge 00000011-0000-4000-b000-000000000005
\set eve_edge 00000011-0000-4000-c000-000000000051
INSERT INTO slots (id, trainer_id, start_at, duration_minutes, capacity)
VALUES (:'edge', :'tess', date_trunc('hour', now()) + interval '1 day', 60, 5);
INSERT INTO bookings (id, slot_id, user_id) VALUES (:'eve_edge', :'edge', :'eve');
SELECT pg_temp.tess_marks_at(:'eve_edge', 'attended', '-00:00:00.000001') AS just_before_the_start;
SELECT pg_temp.tess_marks_at(:'eve_edge', 'attended', '0') AS at_the_start;
SELECT pg_temp.tess_marks_at(:'eve_edge', 'no_show', '25:00:00') AS at_the_end_plus_grace;
SELECT pg_temp.tess_marks_at(:'eve_edge', 'attended', '25:00:00.000001') AS just_after;
SELECT mark FROM attendance WHERE booking_id = :'eve_edge';
-- A completed booking (the class ended three hours ago and was completed) is marked like a
-- reserved one.
\set ended 00000011-0000-4000-b000-000000000006
INSERT INTO slots (id, trainer_id, start_at, duration_minutes, capacity)
VALUES (:'ended', :'tess', date_trunc('hour', now()) + interval '1 day', 60, 5);
INSERT INTO bookings (id, slot_id, user_id) VALUES ('00000011-0000-4000-c000-000000000061', :'ended', :'cat');
SELECT pg_temp.started_ago(:'ended', '3 hours') \gset
SET session_replication_role = replica;
UPDATE bookings SET status = 'completed' WHERE id = '00000011-0000-4000-c000-000000000061';
RESET session_replication_role;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT b.status, a.mark FROM mark_attendance('00000011-0000-4000-c000-000000000061', 'attended') AS a
  JOIN bookings b ON b.id = a.booking_id;
COMMIT;
-- A cancelled class: its bookings were cancelled with it, so there is nothing to mark (22023).
\set called_off 00000011-0000-4000-b000-000000000007
INSERT INTO slots (id, trainer_id, start_at, duration_minutes, capacity)
VALUES (:'called_off', :'tess', date_trunc('hour', now()) + interval '1 day', 60, 5);
INSERT INTO bookings (id, slot_id, user_id) VALUES ('00000011-0000-4000-c000-000000000071', :'called_off', :'ben');
UPDATE slots SET cancelled_at = now() WHERE id = :'called_off';
SELECT pg_temp.started_ago(:'called_off', '10 minutes') \gset
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT mark FROM mark_attendance('00000011-0000-4000-c000-000000000071', 'attended');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;


-- ---- The auto no-show -------------------------------------------------------------------------
-- Only the gym runs the sweep (42501), in batches of at least one (22023).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT record_no_shows();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT record_no_shows(0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- The sweep last ran 50 minutes ago (its watermark), and the studio's grace is 10 minutes.
-- A class ended 20 minutes ago: Tess marked Ben in time, Amy and Cat were never marked, Eve
-- cancelled, Fay's account has been deleted since. A class that ended three hours ago, before
-- the watermark, was never marked either: it is history.
UPDATE attendance_sweep SET swept_until = now() - interval '50 minutes';
\set recent 00000011-0000-4000-b000-000000000008
\set history 00000011-0000-4000-b000-000000000009
INSERT INTO slots (id, trainer_id, start_at, duration_minutes, capacity) VALUES
    (:'recent',  :'tess', date_trunc('hour', now()) + interval '1 day', 60, 9),
    (:'history', :'tess', date_trunc('hour', now()) + interval '2 days', 60, 9);
INSERT INTO bookings (id, slot_id, user_id) VALUES
    ('00000011-0000-4000-c000-000000000081', :'recent', :'amy'),
    ('00000011-0000-4000-c000-000000000082', :'recent', :'ben'),
    ('00000011-0000-4000-c000-000000000083', :'recent', :'cat'),
    ('00000011-0000-4000-c000-000000000084', :'recent', :'eve'),
    ('00000011-0000-4000-c000-000000000085', :'recent', :'fay'),
    ('00000011-0000-4000-c000-000000000091', :'history', :'amy');
UPDATE bookings SET status = 'cancelled' WHERE id = '00000011-0000-4000-c000-000000000084';
SELECT pg_temp.started_ago(:'recent', '80 minutes'), pg_temp.started_ago(:'history', '4 hours') \gset
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT mark FROM mark_attendance('00000011-0000-4000-c000-000000000082', 'attended');
COMMIT;
DELETE FROM users WHERE id = :'fay';
UPDATE studio_settings SET attendance_grace = '10 minutes', auto_no_show = true;
-- With auto_no_show on, the sweep (the background worker runs it each round) marks Amy and
-- Cat no-shows, in batches: one, then the rest, then nothing is left.
SELECT record_no_shows(1) AS first_batch;
SELECT record_no_shows() AS second_batch;
SELECT record_no_shows() AS nothing_left;
SELECT u.first_name, b.status AS booking, a.mark,
       CASE WHEN a.marked_by IS NOT NULL THEN 'Tess' WHEN a.mark IS NOT NULL THEN 'the system' END AS marked_by
  FROM bookings b JOIN users u ON u.id = b.user_id
  LEFT JOIN attendance a ON a.booking_id = b.id
 WHERE b.slot_id IN (:'recent', :'history')
 ORDER BY b.id;
-- They are the system's changes, logged as such, and each athlete is told.
SELECT u.first_name, l.action, l.changed_by IS NULL AS by_the_system, l.changed_fields
  FROM activity_logs l JOIN bookings b ON b.id = l.entity_id JOIN users u ON u.id = b.user_id
 WHERE b.slot_id = :'recent' AND l.changed_fields ? 'attendance' AND l.changed_by IS NULL
 ORDER BY b.id;
SELECT u.first_name, e.kind FROM events e JOIN users u ON u.id = e.recipient_id
 WHERE e.slot_id = :'recent' AND e.kind = 'no_show_recorded' ORDER BY e.id;
-- With auto_no_show off the sweep still moves its watermark: what ends while it is off is
-- never marked later. Ben's class ended 5 minutes ago; the grace becomes one minute, so its
-- grace is over while the sweep is off; switched on again, the sweep leaves it alone.
\set missed 00000011-0000-4000-b000-00000000000a
INSERT INTO slots (id, trainer_id, start_at, duration_minutes, capacity)
VALUES (:'missed', :'tess', date_trunc('hour', now()) + interval '1 day', 60, 9);
INSERT INTO bookings (id, slot_id, user_id) VALUES ('00000011-0000-4000-c000-0000000000a1', :'missed', :'ben');
SELECT pg_temp.started_ago(:'missed', '65 minutes') \gset
UPDATE studio_settings SET attendance_grace = '1 minute', auto_no_show = false;
SELECT record_no_shows() AS marked_while_off;
UPDATE studio_settings SET auto_no_show = true;
SELECT record_no_shows() AS marked_when_on_again;
SELECT count(*) AS bens_marks FROM attendance WHERE booking_id = '00000011-0000-4000-c000-0000000000a1';
-- complete_past_bookings() (what a cron job calls) sweeps too: Eve's class ended 30 seconds
-- ago, and with no grace at all it is completed and marked a no-show in one call.
\set last 00000011-0000-4000-b000-00000000000b
INSERT INTO slots (id, trainer_id, start_at, duration_minutes, capacity)
VALUES (:'last', :'tess', date_trunc('hour', now()) + interval '1 day', 60, 9);
INSERT INTO bookings (id, slot_id, user_id) VALUES ('00000011-0000-4000-c000-0000000000b1', :'last', :'eve');
SELECT pg_temp.started_ago(:'last', '60 minutes 30 seconds') \gset
UPDATE studio_settings SET attendance_grace = '0';
SELECT complete_past_bookings() > 0 AS completed_some;
SELECT b.status, a.mark, a.marked_by IS NULL AS by_the_system
  FROM bookings b JOIN attendance a ON a.booking_id = b.id
 WHERE b.id = '00000011-0000-4000-c000-0000000000b1';
-- The sweep's edge, met exactly: at the instant the grace ends (the end plus 24 hours) the
-- trainer may still mark (see check-in above), so the sweep leaves the booking; a round after
-- that instant marks it. (In one statement: the watermark an hour before the class's end,
-- Cat's class moved so that its grace ends at the statement's clock, a round of the sweep.)
UPDATE studio_settings SET attendance_grace = '24 hours';
CREATE FUNCTION pg_temp.sweep_as_the_grace_ends(slot uuid) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    UPDATE gym_booking.attendance_sweep SET swept_until = statement_timestamp() - interval '25 hours';
    PERFORM pg_temp.started_ago(slot, '25 hours');
    RETURN gym_booking.record_no_shows();
END
$$;
\set brink 00000011-0000-4000-b000-00000000000c
INSERT INTO slots (id, trainer_id, start_at, duration_minutes, capacity)
VALUES (:'brink', :'tess', date_trunc('hour', now()) + interval '1 day', 60, 9);
INSERT INTO bookings (id, slot_id, user_id) VALUES ('00000011-0000-4000-c000-0000000000c1', :'brink', :'cat');
SELECT pg_temp.sweep_as_the_grace_ends(:'brink') AS marked_at_the_instant;
SELECT record_no_shows() AS marked_a_round_later;
SELECT mark, marked_by IS NULL AS by_the_system FROM attendance
 WHERE booking_id = '00000011-0000-4000-c000-0000000000c1';
UPDATE studio_settings SET auto_no_show = false;

-- ---- Strikes and suspension ----------------------------------------------------------------
-- The studio counts strikes: the third no-show within 30 days suspends booking for 7 days.
UPDATE studio_settings SET no_show_strike_limit = 3;
SELECT no_show_strike_limit, strike_window, suspension FROM studio_settings;
-- The window's edges, met exactly (each row: a new athlete with no-shows that long ago, read
-- in the same statement). A no-show counts as a strike inside (now - 30 days, now]. A strike
-- suspends when it is the third inside its own 30 days, until 7 days after it.
SELECT c.n, c.history, s.strikes, s.suspended_for
  FROM (VALUES
        (1, 'one no-show exactly 30 days ago: outside the window',
            ARRAY[interval '30 days']),
        (2, 'a microsecond later: inside',
            ARRAY[interval '30 days' - interval '1 microsecond']),
        (3, 'three within 30 days, the third a day ago: suspended for 6 more days',
            ARRAY[interval '10 days', '5 days', '1 day']),
        (4, 'the first exactly 30 days before the third: not suspended',
            ARRAY[interval '31 days', '2 days', '1 day']),
        (5, 'a microsecond later: suspended (though two strikes count today)',
            ARRAY[interval '31 days' - interval '1 microsecond', '2 days', '1 day']),
        (6, 'the third exactly 7 days ago: the suspension is over',
            ARRAY[interval '9 days', '8 days', '7 days']),
        (7, 'a microsecond later: suspended for one more microsecond',
            ARRAY[interval '9 days', '8 days', interval '7 days' - interval '1 microsecond']))
       AS c (n, history, ago),
       LATERAL pg_temp.suspension_after(VARIADIC c.ago) AS s
 ORDER BY c.n;
-- Nor does the session's TimeZone change them: here a zone whose clocks went forward an hour
-- three days ago (a made-up rule, so that this holds whenever it runs), where 30 days and 7
-- days of its wall clock are an hour shorter than on UTC's. The strike window and the
-- suspension are the studio's (its zone is UTC here): a strike 30 minutes inside the window
-- counts, a suspension ending in 30 minutes holds.
SELECT set_config('TimeZone', format('XST0XDT,J%s,J%s',
                                     (extract(doy FROM now())::integer + 361) % 365 + 1,
                                     (extract(doy FROM now())::integer + 99) % 365 + 1), false) \gset
SELECT c.n, s.strikes, s.suspended_for
  FROM (VALUES (2, ARRAY[interval '30 days' - interval '30 minutes']),
               (6, ARRAY[interval '9 days', '8 days', interval '7 days' - interval '30 minutes']))
       AS c (n, ago),
       LATERAL pg_temp.suspension_after(VARIADIC c.ago) AS s
 ORDER BY c.n;
RESET TimeZone;

-- Dan missed two classes this week.
SELECT pg_temp.no_shows(:'dan', '5 days', '3 days') \gset
SELECT strikes, suspended_until FROM athlete_suspension(:'dan');
-- He waits for two full classes (Amy's place, Ben's place), Eve behind him in the first; he
-- booked a third class and cancelled.
\set full1 00000011-0000-4000-b000-000000000011
\set full2 00000011-0000-4000-b000-000000000012
\set full3 00000011-0000-4000-b000-000000000013
\set open 00000011-0000-4000-b000-000000000014
\set open2 00000011-0000-4000-b000-000000000015
INSERT INTO slots (id, trainer_id, start_at, duration_minutes, capacity) VALUES
    (:'full1', :'tess', date_trunc('hour', now()) + interval '4 days', 60, 1),
    (:'full2', :'tess', date_trunc('hour', now()) + interval '5 days', 60, 1),
    (:'full3', :'tess', date_trunc('hour', now()) + interval '6 days', 60, 1),
    (:'open',  :'tess', date_trunc('hour', now()) + interval '7 days', 60, 5),
    (:'open2', :'tess', date_trunc('hour', now()) + interval '8 days', 60, 5);
INSERT INTO bookings (id, slot_id, user_id) VALUES
    ('00000011-0000-4000-c000-000000000111', :'full1', :'amy'),
    ('00000011-0000-4000-c000-000000000121', :'full2', :'ben'),
    ('00000011-0000-4000-c000-000000000131', :'full3', :'cat');
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_dan', true) \gset
SELECT state FROM join_waitlist(:'full1');
SELECT state FROM join_waitlist(:'full2');
SELECT status FROM cancel_booking((SELECT id FROM book_slot(:'open2')));
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_eve', true) \gset
SELECT state FROM join_waitlist(:'full1');
COMMIT;
-- This morning Tess marks him a no-show: his third strike within 30 days. He is suspended
-- until a week after the class's start, and told so.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT mark FROM mark_attendance(:'dan_morning', 'no_show');
COMMIT;
SELECT s.strikes, s.suspended_until - m.start_at AS suspended_after_the_start
  FROM athlete_suspension(:'dan') AS s, slots AS m WHERE m.id = :'morning';
SELECT e.kind, (e.payload->>'suspended_until')::timestamptz - m.start_at AS says_suspended_after_the_start
  FROM events e JOIN slots m ON m.id = e.slot_id
 WHERE e.booking_id = :'dan_morning' AND e.kind = 'no_show_recorded';
-- Suspended, Dan books nothing: not through the API, not by a table write, not by re-activating
-- his cancelled booking (either way), and he joins no waitlist: 28000 (PostgREST: 403); the
-- DETAIL says until when, in the studio's time, and why.
SELECT * FROM pg_temp.refusal(:'dan', format('SELECT gym_booking.book_slot(%L)', :'open'));
SELECT code, message FROM pg_temp.refusal(:'dan',
    format('INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES (%L, %L)', :'open', :'dan'));
SELECT code, message FROM pg_temp.refusal(:'dan', format('SELECT gym_booking.book_slot(%L)', :'open2'));
SELECT code, message FROM pg_temp.refusal(:'dan',
    format('UPDATE gym_booking.bookings SET status = %L WHERE slot_id = %L', 'reserved', :'open2'));
SELECT code, message FROM pg_temp.refusal(:'dan', format('SELECT gym_booking.join_waitlist(%L)', :'full3'));
SELECT count(*) AS dans_upcoming_places FROM bookings b JOIN slots s ON s.id = b.slot_id
 WHERE b.user_id = :'dan' AND b.status = 'reserved' AND s.start_at > now();
-- The gym booking for him is exempt: Ada, the admin, books him in.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ada', true) \gset
INSERT INTO bookings (slot_id, user_id) VALUES (:'open', :'dan') RETURNING status;
ROLLBACK;
-- Amy leaves the first full class: Dan waits first, but a suspended athlete is skipped (he
-- keeps his place); Eve is booked.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT status FROM cancel_booking('00000011-0000-4000-c000-000000000111');
COMMIT;
SELECT u.first_name, w.state FROM waitlist_entries w JOIN users u ON u.id = w.user_id
 WHERE w.slot_id = :'full1' ORDER BY w.queue_no;
SELECT u.first_name, b.status, b.auto_processed FROM bookings b JOIN users u ON u.id = b.user_id
 WHERE b.slot_id = :'full1' ORDER BY u.first_name;
-- Ben leaves the second: only Dan waits there, and the place is not held for him: Cat books it.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ben', true) \gset
SELECT status FROM cancel_booking('00000011-0000-4000-c000-000000000121');
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_cat', true) \gset
SELECT status FROM book_slot(:'full2');
COMMIT;
SELECT u.first_name, w.state FROM waitlist_entries w JOIN users u ON u.id = w.user_id
 WHERE w.slot_id = :'full2' ORDER BY w.queue_no;
-- Dan reads his own strikes; another athlete's he may not, nor may a trainer read his (42501).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_dan', true) \gset
SELECT strikes, suspended_until IS NOT NULL AS suspended FROM athlete_suspension();
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_dan', true) \gset
SELECT strikes FROM athlete_suspension(:'amy');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT strikes FROM athlete_suspension(:'dan');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
-- Suspensions are computed, not stored: a change of the settings holds at once.
UPDATE studio_settings SET no_show_strike_limit = 4;
SELECT strikes, suspended_until IS NOT NULL AS suspended FROM athlete_suspension(:'dan');
UPDATE studio_settings SET no_show_strike_limit = 3;
SELECT strikes, suspended_until IS NOT NULL AS suspended FROM athlete_suspension(:'dan');

-- ---- Excuses -----------------------------------------------------------------------------------
-- Only the gym excuses a no-show: not the trainer, not the athlete (42501).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT mark FROM excuse_no_show(:'dan_morning');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_dan', true) \gset
SELECT mark FROM excuse_no_show(:'dan_morning');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
-- Ada excuses this morning's no-show (excusing twice is excusing once): the strike is gone at
-- once, and the suspension with it. Dan books again.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ada', true) \gset
SELECT mark, excused_at IS NOT NULL AS excused, excused_by = :'ada' AS by_ada FROM excuse_no_show(:'dan_morning');
SELECT mark, excused_at IS NOT NULL AS excused FROM excuse_no_show(:'dan_morning');
COMMIT;
SELECT strikes, suspended_until FROM athlete_suspension(:'dan');
SELECT changed_by = :'ada' AS by_ada, changed_fields FROM activity_logs
 WHERE entity_id = :'dan_morning' AND changed_fields ? 'excused';
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_dan', true) \gset
SELECT status FROM book_slot(:'open');
COMMIT;
-- Only a no-show is excused (22023: Amy attended; 22023 too for a booking without a mark:
-- nothing to excuse); a NULL argument is refused (22004).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ada', true) \gset
SELECT mark FROM excuse_no_show(:'amy_morning');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ada', true) \gset
SELECT mark FROM excuse_no_show('00000011-0000-4000-c000-000000000031');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ada', true) \gset
SELECT mark FROM excuse_no_show(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
-- Changing a mark clears its excuse: Tess corrects herself (Dan came), then thinks again (he
-- did not). The no-show is a strike again, and Dan is suspended again (his booking, made while
-- he was not, stays).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT mark, excused_at IS NOT NULL AS excused FROM mark_attendance(:'dan_morning', 'attended');
SELECT mark, excused_at IS NOT NULL AS excused FROM mark_attendance(:'dan_morning', 'no_show');
COMMIT;
SELECT strikes, suspended_until IS NOT NULL AS suspended FROM athlete_suspension(:'dan');
SELECT b.status FROM bookings b WHERE b.slot_id = :'open' AND b.user_id = :'dan';

-- ---- Reports -----------------------------------------------------------------------------------
-- Two days of a studio in Berlin, 6 and 7 May 2024 (loaded as a restore writes history, the
-- rules off). Tom's 07:00 class on the 6th (four places): Amy and Eve came (Eve promoted from
-- the waitlist, where Dan's entry expired), Ben did not, Cat cancelled. His 01:30 class on the
-- 7th (two places; 23:30 UTC on the 6th: a class belongs to the studio's day it starts on):
-- Amy, not marked, and Ben, a no-show the gym excused. His class on the 7th that he cancelled
-- does not count. Tess's 00:30 class on the 6th: Cat came, Dan cancelled; her 00:30 class on
-- the 8th is outside the period.
UPDATE studio_settings SET time_zone = 'Europe/Berlin';
SET session_replication_role = replica;
INSERT INTO slots (id, trainer_id, start_at, end_at, duration_minutes, capacity, cancelled_at) VALUES
    ('00000011-0000-4000-b000-000000000201', :'tom',  '2024-05-06 05:00+00', '2024-05-06 06:00+00', 60, 4, NULL),
    ('00000011-0000-4000-b000-000000000202', :'tom',  '2024-05-06 23:30+00', '2024-05-07 00:30+00', 60, 2, NULL),
    ('00000011-0000-4000-b000-000000000203', :'tom',  '2024-05-07 08:00+00', '2024-05-07 09:00+00', 60, 3, '2024-05-01 12:00+00'),
    ('00000011-0000-4000-b000-000000000204', :'tess', '2024-05-05 22:30+00', '2024-05-05 23:30+00', 60, 2, NULL),
    ('00000011-0000-4000-b000-000000000205', :'tess', '2024-05-07 22:30+00', '2024-05-07 23:30+00', 60, 1, NULL);
INSERT INTO bookings (id, slot_id, user_id, status, trainer_id) VALUES
    ('00000011-0000-4000-c000-000000002011', '00000011-0000-4000-b000-000000000201', :'amy', 'completed', :'tom'),
    ('00000011-0000-4000-c000-000000002012', '00000011-0000-4000-b000-000000000201', :'ben', 'completed', :'tom'),
    ('00000011-0000-4000-c000-000000002013', '00000011-0000-4000-b000-000000000201', :'cat', 'cancelled', :'tom'),
    ('00000011-0000-4000-c000-000000002014', '00000011-0000-4000-b000-000000000201', :'eve', 'completed', :'tom'),
    ('00000011-0000-4000-c000-000000002021', '00000011-0000-4000-b000-000000000202', :'amy', 'completed', :'tom'),
    ('00000011-0000-4000-c000-000000002022', '00000011-0000-4000-b000-000000000202', :'ben', 'completed', :'tom'),
    ('00000011-0000-4000-c000-000000002031', '00000011-0000-4000-b000-000000000203', :'amy', 'cancelled', :'tom'),
    ('00000011-0000-4000-c000-000000002041', '00000011-0000-4000-b000-000000000204', :'cat', 'completed', :'tess'),
    ('00000011-0000-4000-c000-000000002042', '00000011-0000-4000-b000-000000000204', :'dan', 'cancelled', :'tess'),
    ('00000011-0000-4000-c000-000000002051', '00000011-0000-4000-b000-000000000205', :'ben', 'completed', :'tess');
INSERT INTO waitlist_entries (slot_id, user_id, trainer_id, joined_at, state, ended_at, booking_id) VALUES
    ('00000011-0000-4000-b000-000000000201', :'eve', :'tom', '2024-05-01 10:00+00', 'promoted', '2024-05-02 10:00+00',
     '00000011-0000-4000-c000-000000002014'),
    ('00000011-0000-4000-b000-000000000201', :'dan', :'tom', '2024-05-01 11:00+00', 'expired', '2024-05-06 05:00+00', NULL);
INSERT INTO attendance (booking_id, user_id, slot_id, trainer_id, mark, strike_at, marked_at, marked_by, excused_at, excused_by)
SELECT b.id, b.user_id, b.slot_id, b.trainer_id, m.mark::attendance_mark, s.start_at, s.end_at, b.trainer_id,
       CASE WHEN m.excused THEN s.end_at + interval '1 day' END, CASE WHEN m.excused THEN :'ada'::uuid END
  FROM (VALUES ('00000011-0000-4000-c000-000000002011'::uuid, 'attended', false),
               ('00000011-0000-4000-c000-000000002012', 'no_show', false),
               ('00000011-0000-4000-c000-000000002014', 'attended', false),
               ('00000011-0000-4000-c000-000000002022', 'no_show', true),
               ('00000011-0000-4000-c000-000000002041', 'attended', false),
               ('00000011-0000-4000-c000-000000002051', 'attended', false)) AS m (booking, mark, excused)
  JOIN bookings b ON b.id = m.booking JOIN slots s ON s.id = b.slot_id;
RESET session_replication_role;
-- Per slot (the gym's view): booked = places held, attended and no-shows (excused ones too)
-- among them, cancellations, promotions from the waitlist, utilization = booked / capacity.
-- Ordered by start.
SELECT CASE trainer_id WHEN :'tom' THEN 'Tom' WHEN :'tess' THEN 'Tess' END AS trainer, day,
       to_char(start_at AT TIME ZONE 'Europe/Berlin', 'HH24:MI') AS local_start, capacity, booked,
       attended, no_shows, cancellations, promotions, utilization
  FROM slot_report('2024-05-06', '2024-05-07');
-- The studio's day, not UTC's: the 7th and 8th hold the 01:30 class and Tess's on the 8th.
SELECT right(slot_id::text, 3) AS slot, day FROM slot_report('2024-05-07', '2024-05-08');
-- One trainer's slots (the gym may filter).
SELECT right(slot_id::text, 3) AS slot, booked FROM slot_report('2024-05-06', '2024-05-07', :'tess');
-- Per trainer: the sums over their slots; utilization = all booked / all capacity.
SELECT first_name, last_name, slots, capacity, booked, attended, no_shows, cancellations,
       promotions, utilization
  FROM trainer_report('2024-05-06', '2024-05-07');
-- Per athlete with a booking in the period (of any status): places held, attended, no-shows,
-- cancellations, the rates among the marked ones (NULL when none is marked), and their strikes
-- and suspension now (not the period's: these classes are long past).
SELECT first_name, bookings, attended, no_shows, cancellations, attendance_rate, no_show_rate,
       strikes, suspended_until IS NOT NULL AS suspended
  FROM athlete_report('2024-05-06', '2024-05-07');
-- Tom sees his own slots' figures: his slots, himself, his athletes by his classes only (Cat's
-- class with Tess is not his).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tom', true) \gset
SELECT right(slot_id::text, 3) AS slot, booked, attended, no_shows FROM slot_report('2024-05-06', '2024-05-07');
SELECT first_name, slots, booked FROM trainer_report('2024-05-06', '2024-05-07', :'tom');
SELECT first_name, bookings, attended, no_shows, cancellations, attendance_rate
  FROM athlete_report('2024-05-06', '2024-05-07');
COMMIT;
-- But not Tess's (42501).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tom', true) \gset
SELECT count(*) FROM slot_report('2024-05-06', '2024-05-07', :'tess');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tom', true) \gset
SELECT count(*) FROM trainer_report('2024-05-06', '2024-05-07', :'tess');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
-- An athlete reads her own report, nobody else's, and no slot or trainer report (42501).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT first_name, bookings, attended, no_shows FROM athlete_report('2024-05-06', '2024-05-07');
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT count(*) FROM athlete_report('2024-05-06', '2024-05-07', :'ben');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT count(*) FROM slot_report('2024-05-06', '2024-05-07');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT count(*) FROM trainer_report('2024-05-06', '2024-05-07');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
-- anon reads none.
BEGIN;
SELECT set_config('role', 'anon', true) \gset
SELECT count(*) FROM athlete_report('2024-05-06', '2024-05-07');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
-- Bad periods: a NULL date (22004); the end before the start, more than 366 days, days outside
-- 2000-01-01..2999-12-31 (22023). A leap year's 366 days are one period.
\set VERBOSITY terse
SELECT count(*) FROM slot_report(NULL, '2024-05-07');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM trainer_report('2024-05-06', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM athlete_report('2024-05-07', '2024-05-06');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM slot_report('2023-01-01', '2024-01-02');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM slot_report('1999-12-31', '2000-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM slot_report('2999-12-31', '3000-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM slot_report('-infinity', '2024-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT count(*) AS slots_in_2024 FROM slot_report('2024-01-01', '2024-12-31');
UPDATE studio_settings SET time_zone = 'UTC';

-- ---- Records are kept --------------------------------------------------------------------------
-- Marks are dumped with the database (and the sweep's watermark), and never emptied.
SELECT c::regclass AS dumped_with_the_database
  FROM pg_extension, unnest(extconfig) AS c
 WHERE extname = 'gym_booking' AND c::regclass::text IN ('attendance', 'attendance_sweep')
 ORDER BY 1::text;
TRUNCATE attendance;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE studio_settings SET no_show_strike_limit = NULL;

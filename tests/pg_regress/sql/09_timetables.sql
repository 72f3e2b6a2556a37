-- Timetables (0.2.1): a trainer's weekly series in a time zone; its occurrences are slots.
-- Each block is one request as PostgREST makes it (role and claims for the transaction only).
-- Dates are relative to today (from the day after tomorrow, four weeks: four of each weekday;
-- pg_regress runs in PST8PDT, up to a day behind Berlin), so that the
-- output does not depend on the day this runs; the daylight-saving rule is shown on fixed
-- dates with series_start_at, the function every occurrence's start comes from.
SET search_path = gym_booking, public;
\set VERBOSITY default
\set SHOW_CONTEXT never
\set ada   00000009-0000-4000-a000-000000000001
\set tess  00000009-0000-4000-a000-000000000002
\set tom   00000009-0000-4000-a000-000000000003
\set amy   00000009-0000-4000-a000-000000000004
\set ben   00000009-0000-4000-a000-000000000005
\set as_ada  '{"sub": "00000009-0000-4000-a000-000000000001", "role": "authenticated"}'
\set as_tess '{"sub": "00000009-0000-4000-a000-000000000002", "role": "authenticated"}'
\set as_tom  '{"sub": "00000009-0000-4000-a000-000000000003", "role": "authenticated"}'
\set as_amy  '{"sub": "00000009-0000-4000-a000-000000000004", "role": "authenticated"}'
\set as_ben  '{"sub": "00000009-0000-4000-a000-000000000005", "role": "authenticated"}'
INSERT INTO users (id, email, password_hash, first_name, role, contact_email) VALUES
    (:'ada',  'ada.tt@gym.example',  'hash', 'Ada',  'admin',   NULL),
    (:'tess', 'tess.tt@gym.example', 'hash', 'Tess', 'trainer', 'tess.tt@gym.example'),
    (:'tom',  'tom.tt@gym.example',  'hash', 'Tom',  'trainer', 'tom.tt@gym.example'),
    (:'amy',  'amy.tt@mail.example', 'hash', 'Amy',  'athlete', NULL),
    (:'ben',  'ben.tt@mail.example', 'hash', 'Ben',  'athlete', NULL);

-- ---- Local time ------------------------------------------------------------------------
-- An occurrence starts at the series' local time on its date, in the series' time zone, by
-- PostgreSQL's rules: a 07:00 class is at 07:00 local before and after each change, so its
-- UTC time moves by the hour. The session's TimeZone changes nothing.
SET TIME ZONE 'Asia/Tokyo';
SELECT zone, day,
       series_start_at(day, '07:00', zone) AT TIME ZONE zone AS local,
       series_start_at(day, '07:00', zone) AT TIME ZONE 'UTC' AS utc
  FROM (VALUES ('Europe/Berlin', date '2027-03-27'), ('Europe/Berlin', '2027-03-29'),
               ('Europe/Berlin', '2027-10-30'), ('Europe/Berlin', '2027-11-01'),
               ('America/New_York', '2027-03-13'), ('America/New_York', '2027-03-15'),
               ('Australia/Sydney', '2027-04-03'), ('Australia/Sydney', '2027-04-05'))
       AS t (zone, day);
SET TIME ZONE 'UTC';
SELECT series_start_at('2027-03-29', '07:00', 'Europe/Berlin') AS same_instant_in_utc_session;
-- A time in the spring gap (02:30 on the night clocks go forward) does not exist: it is read
-- with the offset before the change, so the class starts at 03:30 on the new clock. A time in
-- the autumn overlap (02:30 on the night clocks go back) exists twice: the second one (the
-- offset after the change).
SELECT zone, day,
       series_start_at(day, '02:30', zone) AT TIME ZONE zone AS local,
       series_start_at(day, '02:30', zone) AT TIME ZONE 'UTC' AS utc
  FROM (VALUES ('Europe/Berlin', date '2027-03-28'), ('Europe/Berlin', '2027-10-31'),
               ('America/New_York', '2027-03-14'), ('America/New_York', '2027-11-07'))
       AS t (zone, day);
RESET TIME ZONE;

-- ---- Creating a series -------------------------------------------------------------------
-- Tess's Mon/Wed/Fri 07:00 class in Berlin, for four weeks from tomorrow: one call makes the
-- series and its twelve occurrences (ordinary slots that point at it).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT weekdays, local_start, time_zone, duration_minutes, capacity, last_date - first_date AS days
  FROM create_series(ARRAY[5, 1, 3, 3], '07:00', current_date + 2, current_date + 29,
                     capacity => 2, notes => 'Strength', time_zone => 'Europe/Berlin');
COMMIT;
SELECT id AS strength FROM series WHERE notes = 'Strength' \gset
SELECT count(*) AS occurrences, count(DISTINCT series_date) AS dates,
       array_agg(DISTINCT to_char(start_at AT TIME ZONE 'Europe/Berlin', 'Dy HH24:MI')) AS local_times,
       bool_and(trainer_id = :'tess' AND capacity = 2 AND notes = 'Strength') AS as_the_series
  FROM slots WHERE series_id = :'strength';
-- Everyone signed in reads the timetable; athletes book occurrences as any slot.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT count(*) AS series_amy_reads FROM series;
SELECT status FROM book_slot((SELECT id FROM slots WHERE series_id = :'strength' ORDER BY start_at LIMIT 1));
COMMIT;
-- Making them again is a no-op (the gym's function, also run by the background worker).
SELECT extend_timetables() AS made_again;

-- Who may create one: a trainer for themselves, the gym for any trainer; nobody else.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT id FROM create_series(ARRAY[2], '18:00', current_date + 2, current_date + 29);
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tom', true) \gset
SELECT id FROM create_series(ARRAY[2], '18:00', current_date + 2, current_date + 29, trainer_id => :'tess');
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ada', true) \gset
SELECT trainer_id = :'tom' AS for_tom, time_zone AS studio_zone
  FROM create_series(ARRAY[2], '18:00', current_date + 2, current_date + 29, trainer_id => :'tom');
ROLLBACK;
BEGIN;
SELECT set_config('role', 'anon', true) \gset
SELECT id FROM create_series(ARRAY[2], '18:00', current_date + 2, current_date + 29);
ROLLBACK;
-- Clients write series only through the API.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
UPDATE series SET local_start = '06:00';
ROLLBACK;

-- Bad input: refused with PostgreSQL's own codes, nothing written.
\set VERBOSITY terse
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT id FROM create_series(ARRAY[]::integer[], '07:00', current_date + 2);
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT id FROM create_series(ARRAY[0, 8], '07:00', current_date + 2);
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT id FROM create_series(ARRAY[1], '24:00', current_date + 2);
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT id FROM create_series(ARRAY[1], '07:00', 'infinity');
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT id FROM create_series(ARRAY[1], '07:00', current_date + 10, current_date + 2);
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT id FROM create_series(ARRAY[1], '07:00', current_date + 2, capacity => 0);
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT id FROM create_series(ARRAY[1], '07:00', current_date + 2, time_zone => 'Mars/Olympus_Mons');
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT id FROM create_series(ARRAY[1], '07:00', current_date + 2, notes => repeat('x', 2001));
ROLLBACK;
\set VERBOSITY default
SELECT count(*) AS series_after_refusals FROM series;

-- ---- Editing a series --------------------------------------------------------------------
-- One occurrence is booked (Amy's, above); Tess moves another by hand. The class moves to
-- 08:00 on Mondays and Wednesdays: the booked and the hand-moved occurrences keep their
-- times, the Friday ones leave the series (cancelled), the others move. The call says so.
UPDATE slots SET notes = 'Strength (bring a mat)'
 WHERE id = (SELECT id FROM slots WHERE series_id = :'strength' ORDER BY start_at OFFSET 1 LIMIT 1);
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT outcome, count(*)
  FROM edit_series(:'strength', weekdays => ARRAY[1, 3], local_start => '08:00')
 GROUP BY outcome ORDER BY outcome;
COMMIT;
SELECT to_char(start_at AT TIME ZONE 'Europe/Berlin', 'Dy HH24:MI') AS local_time,
       cancelled_at IS NOT NULL AS cancelled, count(*)
  FROM slots WHERE series_id = :'strength'
 GROUP BY 1, 2 ORDER BY 2, 1;
-- Editing again to the same values changes nothing.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT outcome, count(*) FROM edit_series(:'strength', local_start => '08:00') GROUP BY outcome ORDER BY outcome;
COMMIT;
-- Another trainer may not; an unknown series is not found; an admin may.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tom', true) \gset
SELECT * FROM edit_series(:'strength', capacity => 3);
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT * FROM edit_series('00000009-0000-4000-e000-000000000000', capacity => 3);
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ada', true) \gset
SELECT outcome, count(*) FROM edit_series(:'strength', capacity => 3) GROUP BY outcome ORDER BY outcome;
ROLLBACK;

-- ---- Cancelling a series -----------------------------------------------------------------
-- From two weeks on: those occurrences are cancelled like any slot (Ben's booking in one of
-- them is cancelled by the system, and he is told); the earlier ones stay.
INSERT INTO bookings (slot_id, user_id)
SELECT id, :'ben' FROM slots
 WHERE series_id = :'strength' AND series_date >= current_date + 14 AND cancelled_at IS NULL
 ORDER BY start_at LIMIT 1;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT cancel_series(:'strength', current_date + 14) > 0 AS cancelled_some;
COMMIT;
SELECT series_date >= current_date + 14 AS from_the_date,
       bool_and(cancelled_at IS NOT NULL) AS all_cancelled, bool_or(cancelled_at IS NOT NULL) AS any_cancelled
  FROM slots WHERE series_id = :'strength' AND extract(isodow FROM series_date) IN (1, 3)
 GROUP BY 1 ORDER BY 1;
SELECT b.status, b.auto_processed,
       (SELECT kind FROM events e WHERE e.booking_id = b.id ORDER BY e.id DESC LIMIT 1) AS told
  FROM bookings b WHERE b.user_id = :'ben';
-- A cancelled series makes nothing more, and stays cancelled.
SELECT extend_timetables() AS made_after_cancel;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT * FROM edit_series(:'strength', capacity => 3);
ROLLBACK;
-- Only the gym runs the timetables' sweep.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT extend_timetables();
ROLLBACK;

-- ---- Records are kept ----------------------------------------------------------------------
TRUNCATE series CASCADE;
SELECT count(*) AS series_kept FROM series;

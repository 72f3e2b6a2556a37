-- The studio's week, part 1 (0.2.0): settings, waitlists, booking windows and limits, events.
-- Each block is one request as PostgREST makes it (role and claims for the transaction only).
SET search_path = gym_booking, public;
\set VERBOSITY default
\set SHOW_CONTEXT never
\set ada   00000008-0000-4000-a000-000000000001
\set tess  00000008-0000-4000-a000-000000000002
\set amy   00000008-0000-4000-a000-000000000003
\set ben   00000008-0000-4000-a000-000000000004
\set cat   00000008-0000-4000-a000-000000000005
\set dan   00000008-0000-4000-a000-000000000006
\set eve   00000008-0000-4000-a000-000000000007
\set as_ada  '{"sub": "00000008-0000-4000-a000-000000000001", "role": "authenticated"}'
\set as_tess '{"sub": "00000008-0000-4000-a000-000000000002", "role": "authenticated"}'
\set as_amy  '{"sub": "00000008-0000-4000-a000-000000000003", "role": "authenticated"}'
\set as_ben  '{"sub": "00000008-0000-4000-a000-000000000004", "role": "authenticated"}'
\set as_cat  '{"sub": "00000008-0000-4000-a000-000000000005", "role": "authenticated"}'
\set as_dan  '{"sub": "00000008-0000-4000-a000-000000000006", "role": "authenticated"}'
\set as_eve  '{"sub": "00000008-0000-4000-a000-000000000007", "role": "authenticated"}'
INSERT INTO users (id, email, password_hash, first_name, role, contact_email) VALUES
    (:'ada',  'ada.week@gym.example',  'hash', 'Ada',  'admin',   NULL),
    (:'tess', 'tess.week@gym.example', 'hash', 'Tess', 'trainer', 'tess.week@gym.example'),
    (:'amy',  'amy.week@mail.example', 'hash', 'Amy',  'athlete', NULL),
    (:'ben',  'ben.week@mail.example', 'hash', 'Ben',  'athlete', NULL),
    (:'cat',  'cat.week@mail.example', 'hash', 'Cat',  'athlete', NULL),
    (:'dan',  'dan.week@mail.example', 'hash', 'Dan',  'athlete', NULL),
    (:'eve',  'eve.week@mail.example', 'hash', 'Eve',  'athlete', NULL);

-- ---- Studio settings ---------------------------------------------------------------------
-- One row; its defaults keep 0.1's behaviour.
SELECT time_zone, cancellation_window, booking_opens_before, booking_closes_before,
       max_upcoming_bookings, waitlist_enabled, waitlist_max, waitlist_cutoff, timetable_horizon
  FROM studio_settings;

-- Everyone may read them; an athlete may not change them (no row is theirs to update).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT time_zone FROM studio_settings;
UPDATE studio_settings SET max_upcoming_bookings = 100;
COMMIT;
SELECT max_upcoming_bookings AS unchanged FROM studio_settings;

-- The app admin changes them; an unknown time zone and a window out of range are refused.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ada', true) \gset
UPDATE studio_settings SET time_zone = 'Atlantis/Capital';
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ada', true) \gset
UPDATE studio_settings SET cancellation_window = '45 days';
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ada', true) \gset
UPDATE studio_settings SET time_zone = 'Europe/Berlin', cancellation_window = '2 hours';
COMMIT;
-- Each change is recorded: who, and every setting's old and new value.
SELECT changed_by = :'ada' AS by_ada, changed_by_role, changed_fields
  FROM studio_settings_history ORDER BY id DESC LIMIT 1;
-- The row is never deleted (nor emptied).
DELETE FROM studio_settings;
TRUNCATE studio_settings;

-- The cancellation window is the setting: two hours now (the slot starts in 45 minutes).
INSERT INTO slots (id, trainer_id, start_at, duration_minutes, capacity)
VALUES ('00000008-0000-4000-b000-000000000001', :'tess', now() + interval '45 minutes', 60, 5);
INSERT INTO bookings (id, slot_id, user_id)
VALUES ('00000008-0000-4000-c000-000000000001', '00000008-0000-4000-b000-000000000001', :'amy');
-- (Its DETAIL names the start, which depends on when this runs: left out here.)
\set VERBOSITY terse
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT status FROM cancel_booking('00000008-0000-4000-c000-000000000001');
ROLLBACK;
\set VERBOSITY default

-- ---- Booking windows and limits ----------------------------------------------------------
-- Booking opens two days before the start and closes one hour before; an athlete holds at
-- most two upcoming bookings.
UPDATE studio_settings SET booking_opens_before = '2 days', booking_closes_before = '1 hour',
                           max_upcoming_bookings = 2;
INSERT INTO slots (id, trainer_id, start_at, duration_minutes, capacity) VALUES
    ('00000008-0000-4000-b000-000000000002', :'tess', '2031-06-01 10:00:00+00', 60, 5),
    ('00000008-0000-4000-b000-000000000003', :'tess', date_trunc('hour', now()) + interval '30 hours', 60, 5),
    ('00000008-0000-4000-b000-000000000004', :'tess', date_trunc('hour', now()) + interval '31 hours', 60, 5),
    ('00000008-0000-4000-b000-000000000005', :'tess', date_trunc('hour', now()) + interval '32 hours', 60, 5);
-- Too early: the DETAIL says when booking opens, in the studio's time zone.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ben', true) \gset
SELECT status FROM book_slot('00000008-0000-4000-b000-000000000002');
ROLLBACK;
-- Too late: the slot of the cancellation example starts within the hour booking closes.
\set VERBOSITY terse
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ben', true) \gset
SELECT status FROM book_slot('00000008-0000-4000-b000-000000000001');
ROLLBACK;
\set VERBOSITY default
-- A table write meets the same rule.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ben', true) \gset
INSERT INTO bookings (slot_id, user_id) VALUES ('00000008-0000-4000-b000-000000000002', :'ben');
ROLLBACK;
-- Two upcoming bookings, then the limit.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ben', true) \gset
SELECT status FROM book_slot('00000008-0000-4000-b000-000000000003');
SELECT status FROM book_slot('00000008-0000-4000-b000-000000000004');
SELECT status FROM book_slot('00000008-0000-4000-b000-000000000005');
COMMIT;
-- The gym booking for an athlete is exempt from windows and limits.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ada', true) \gset
INSERT INTO bookings (slot_id, user_id) VALUES ('00000008-0000-4000-b000-000000000005', :'ben')
RETURNING status;
INSERT INTO bookings (slot_id, user_id) VALUES ('00000008-0000-4000-b000-000000000002', :'ben')
RETURNING status;
ROLLBACK;
UPDATE studio_settings SET booking_opens_before = NULL, booking_closes_before = '0',
                           max_upcoming_bookings = NULL, cancellation_window = '60 minutes';

-- ---- Waitlists -----------------------------------------------------------------------------
-- A class of two, booked by Amy and Ben.
INSERT INTO slots (id, trainer_id, start_at, duration_minutes, capacity)
VALUES ('00000008-0000-4000-b000-000000000010', :'tess', date_trunc('hour', now()) + interval '3 days', 60, 2);
INSERT INTO bookings (id, slot_id, user_id) VALUES
    ('00000008-0000-4000-c000-000000000010', '00000008-0000-4000-b000-000000000010', :'amy'),
    ('00000008-0000-4000-c000-000000000011', '00000008-0000-4000-b000-000000000010', :'ben');
-- Cat cannot book it; she joins its waitlist (joining twice is joining once), then Dan.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_cat', true) \gset
SELECT status FROM book_slot('00000008-0000-4000-b000-000000000010');
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_cat', true) \gset
SELECT state FROM join_waitlist('00000008-0000-4000-b000-000000000010');
SELECT state FROM join_waitlist('00000008-0000-4000-b000-000000000010');
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_dan', true) \gset
SELECT state FROM join_waitlist('00000008-0000-4000-b000-000000000010');
-- Dan sees his place in the queue, and everyone sees how many wait.
SELECT "position", waiting FROM my_waitlist();
SELECT booked, available, waiting FROM available_slots()
 WHERE slot_id = '00000008-0000-4000-b000-000000000010';
-- He sees his own entry only (Cat's is hers).
SELECT count(*) AS entries_dan_sees FROM waitlist_entries;
COMMIT;
-- Amy, holding a place, cannot join; nor can anyone join a slot with a free place.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT state FROM join_waitlist('00000008-0000-4000-b000-000000000010');
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT state FROM join_waitlist('00000008-0000-4000-b000-000000000002');
ROLLBACK;
-- Nobody writes entries but the API and the rules.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_dan', true) \gset
UPDATE waitlist_entries SET queue_no = 0;
ROLLBACK;
-- The trainer sees the entries of her slot.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT CASE w.user_id WHEN :'cat' THEN 'Cat' WHEN :'dan' THEN 'Dan' END AS athlete, w.state
  FROM waitlist_entries w ORDER BY w.queue_no;
COMMIT;

-- Amy cancels: in the same transaction, Cat (first in line) is booked by the system.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT status FROM cancel_booking('00000008-0000-4000-c000-000000000010');
COMMIT;
SELECT u.first_name, b.status, b.auto_processed
  FROM bookings b JOIN users u ON u.id = b.user_id
 WHERE b.slot_id = '00000008-0000-4000-b000-000000000010' ORDER BY u.first_name;
SELECT u.first_name, w.state, w.booking_id IS NOT NULL AS booked
  FROM waitlist_entries w JOIN users u ON u.id = w.user_id
 WHERE w.slot_id = '00000008-0000-4000-b000-000000000010' ORDER BY w.queue_no;
-- The promotion is logged as the system's.
SELECT l.action, l.changed_fields->>'status' AS status
  FROM activity_logs l JOIN bookings b ON b.id = l.entity_id
 WHERE b.slot_id = '00000008-0000-4000-b000-000000000010' AND b.user_id = :'cat';

-- A place that frees while the first in line cannot book (Dan holds the most upcoming
-- bookings the studio allows: two) skips him: Dan keeps his place in line, and the free place
-- is open to whoever books first, here Eve.
UPDATE studio_settings SET max_upcoming_bookings = 2;
INSERT INTO slots (id, trainer_id, start_at, duration_minutes, capacity) VALUES
    ('00000008-0000-4000-b000-000000000011', :'tess', date_trunc('hour', now()) + interval '4 days', 60, 5),
    ('00000008-0000-4000-b000-000000000012', :'tess', date_trunc('hour', now()) + interval '5 days', 60, 5);
INSERT INTO bookings (slot_id, user_id) VALUES
    ('00000008-0000-4000-b000-000000000011', :'dan'),
    ('00000008-0000-4000-b000-000000000012', :'dan');
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ben', true) \gset
SELECT status FROM cancel_booking('00000008-0000-4000-c000-000000000011');
COMMIT;
SELECT u.first_name, w.state FROM waitlist_entries w JOIN users u ON u.id = w.user_id
 WHERE w.slot_id = '00000008-0000-4000-b000-000000000010' ORDER BY w.queue_no;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_eve', true) \gset
SELECT status FROM book_slot('00000008-0000-4000-b000-000000000010');
SELECT status FROM cancel_booking((SELECT id FROM bookings
                                    WHERE slot_id = '00000008-0000-4000-b000-000000000010'));
COMMIT;
-- Once Dan may book again (the limit lifted), the free place is held for him: nobody else
-- takes it while he waits.
UPDATE studio_settings SET max_upcoming_bookings = NULL;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT status FROM book_slot('00000008-0000-4000-b000-000000000010');
ROLLBACK;
-- The sweep (the background worker runs it) books him.
SELECT promote_waitlists() AS promoted;
SELECT u.first_name, w.state FROM waitlist_entries w JOIN users u ON u.id = w.user_id
 WHERE w.slot_id = '00000008-0000-4000-b000-000000000010' ORDER BY w.queue_no;

-- Amy waits now; a larger capacity books her at once.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT state FROM join_waitlist('00000008-0000-4000-b000-000000000010');
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
UPDATE slots SET capacity = 3 WHERE id = '00000008-0000-4000-b000-000000000010';
COMMIT;
SELECT u.first_name, b.status FROM bookings b JOIN users u ON u.id = b.user_id
 WHERE b.slot_id = '00000008-0000-4000-b000-000000000010' ORDER BY u.first_name;

-- Leaving: Ben joins, then leaves; leaving twice finds nothing.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ben', true) \gset
SELECT state FROM join_waitlist('00000008-0000-4000-b000-000000000010');
SELECT state FROM leave_waitlist('00000008-0000-4000-b000-000000000010');
SELECT state FROM leave_waitlist('00000008-0000-4000-b000-000000000010');
COMMIT;

-- Switched off, or full: no joining.
UPDATE studio_settings SET waitlist_enabled = false;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ben', true) \gset
SELECT state FROM join_waitlist('00000008-0000-4000-b000-000000000010');
ROLLBACK;
UPDATE studio_settings SET waitlist_enabled = true, waitlist_max = 1;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ben', true) \gset
SELECT state FROM join_waitlist('00000008-0000-4000-b000-000000000010');
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_eve', true) \gset
SELECT state FROM join_waitlist('00000008-0000-4000-b000-000000000010');
ROLLBACK;
UPDATE studio_settings SET waitlist_max = NULL;

-- The trainer cancels the slot: every booked athlete hears of it, Ben's entry expires.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT cancelled_at IS NOT NULL AS cancelled FROM cancel_slot('00000008-0000-4000-b000-000000000010');
COMMIT;
SELECT u.first_name, w.state FROM waitlist_entries w JOIN users u ON u.id = w.user_id
 WHERE w.slot_id = '00000008-0000-4000-b000-000000000010' ORDER BY w.queue_no;

-- ---- Events --------------------------------------------------------------------------------
-- What each athlete was told about that class, in order.
SELECT u.first_name, e.kind, e.payload->>'by' AS by
  FROM events e JOIN users u ON u.id = e.recipient_id
 WHERE e.slot_id = '00000008-0000-4000-b000-000000000010'
 ORDER BY e.id;
-- An athlete reads her own events only.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_dan', true) \gset
SELECT DISTINCT recipient_id = :'dan' AS own FROM events;
COMMIT;
-- The relay announces them after their changes committed (the background worker does it each
-- round): NOTIFY gym_booking_events once per recipient; what it announced it does not again.
SET ROLE service_role;
SELECT notify_events() > 0 AS announced;
SELECT notify_events() AS announced_again;
-- The delivery worker claims a batch (nobody else gets it during the lease), and acknowledges.
SELECT count(*) > 0 AS claimed FROM claim_events(1000);
SELECT count(*) AS claimed_again FROM claim_events(1000);
SELECT ack_events(ARRAY(SELECT id FROM events WHERE delivered_at IS NULL)) > 0 AS acknowledged;
RESET ROLE;
-- An athlete claims nothing; the app admin may do what the service role may (and reads every
-- event).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_dan', true) \gset
SELECT count(*) FROM claim_events(10);
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ada', true) \gset
SELECT count(*) AS claimed_by_the_admin FROM claim_events(10);
SELECT count(DISTINCT recipient_id) > 1 AS reads_everyones FROM events;
ROLLBACK;
UPDATE studio_settings SET time_zone = 'UTC';

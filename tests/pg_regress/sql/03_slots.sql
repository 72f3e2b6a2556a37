-- The rules of a slot: how long it lasts, who may run it, what its bookings restrict, and
-- what cancelling or deleting it does. A refused statement is followed by its SQLSTATE.
SET search_path = gym_booking, public;
\set VERBOSITY default
\set SHOW_CONTEXT never

-- The cast, with fixed ids. Users ...a..., slots ...b..., bookings ...c....
\set tom  00000003-0000-4000-a000-000000000001
\set tia  00000003-0000-4000-a000-000000000002
\set amy  00000003-0000-4000-a000-000000000003
\set ben  00000003-0000-4000-a000-000000000004
\set cal  00000003-0000-4000-a000-000000000005
\set s1 00000003-0000-4000-b000-000000000001
\set s2 00000003-0000-4000-b000-000000000002
\set s3 00000003-0000-4000-b000-000000000003
\set s4 00000003-0000-4000-b000-000000000004
\set s5 00000003-0000-4000-b000-000000000005
\set s6 00000003-0000-4000-b000-000000000006
\set s7 00000003-0000-4000-b000-000000000007
\set s8 00000003-0000-4000-b000-000000000008
\set s9 00000003-0000-4000-b000-000000000009
\set amy_s7 00000003-0000-4000-c000-000000000001
\set ben_s7 00000003-0000-4000-c000-000000000002
\set cal_s7 00000003-0000-4000-c000-000000000003
\set amy_s8 00000003-0000-4000-c000-000000000004
\set amy_s9 00000003-0000-4000-c000-000000000005

-- Tom and Tia train (Tia has left: her account is deleted); Amy, Ben and Cal are athletes.
INSERT INTO users (id, email, password_hash, first_name, role, contact_email, contact_phone) VALUES
    (:'tom', 'tom@gym.example', 'hash', 'Tom', 'trainer', NULL, '+1 555 0100'),
    (:'tia', 'tia@gym.example', 'hash', 'Tia', 'trainer', 'tia@gym.example', NULL),
    (:'amy', 'amy@mail.example', 'hash', 'Amy', 'athlete', NULL, NULL),
    (:'ben', 'ben@mail.example', 'hash', 'Ben', 'athlete', NULL, NULL),
    (:'cal', 'cal@mail.example', 'hash', 'Cal', 'athlete', NULL, NULL);
UPDATE users SET deleted_at = now() WHERE id = :'tia';

------------------------------------------------------------------------------------------
-- How long a slot lasts: duration_minutes and end_at always agree
------------------------------------------------------------------------------------------

-- Give start_at alone: the slot lasts 60 minutes, and end_at is derived.
INSERT INTO slots (id, trainer_id, start_at) VALUES (:'s1', :'tom', '2030-03-04 09:00+00')
RETURNING duration_minutes, end_at - start_at AS length, capacity;

-- Give duration_minutes: end_at is derived from it.
INSERT INTO slots (id, trainer_id, start_at, duration_minutes)
VALUES (:'s2', :'tom', '2030-03-04 10:00+00', 45)
RETURNING duration_minutes, end_at - start_at AS length;

-- Give end_at: duration_minutes is derived from it.
INSERT INTO slots (id, trainer_id, start_at, end_at)
VALUES (:'s3', :'tom', '2030-03-04 11:00+00', '2030-03-04 12:30+00')
RETURNING duration_minutes, end_at - start_at AS length;

-- Give both, agreeing: taken as given.
INSERT INTO slots (id, trainer_id, start_at, end_at, duration_minutes)
VALUES (:'s4', :'tom', '2030-03-04 13:00+00', '2030-03-04 15:00+00', 120)
RETURNING duration_minutes, end_at - start_at AS length;

-- Give both, disagreeing: invalid input (22023), nothing guessed.
INSERT INTO slots (trainer_id, start_at, end_at, duration_minutes)
VALUES (:'tom', '2030-03-04 13:00+00', '2030-03-04 14:30+00', 45);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- 60 is also the column's default, so an explicit 60 beside an end_at reads as "not given":
-- end_at wins and the duration is derived from it.
INSERT INTO slots (id, trainer_id, start_at, end_at, duration_minutes)
VALUES (:'s5', :'tom', '2030-03-04 16:00+00', '2030-03-04 16:30+00', 60)
RETURNING duration_minutes, end_at - start_at AS length;

-- A slot lasts a whole number of minutes (22023) ...
INSERT INTO slots (trainer_id, start_at, end_at)
VALUES (:'tom', '2030-03-04 13:00+00', '2030-03-04 13:45:30+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- ... from 30 to 240 of them (the table's CHECK, 23514; terse, as its DETAIL shows the
-- whole failing row, creation time included).
\set VERBOSITY terse
INSERT INTO slots (trainer_id, start_at, end_at)
VALUES (:'tom', '2030-03-04 13:00+00', '2030-03-04 18:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
\set VERBOSITY default

-- On UPDATE the same holds. Changing duration_minutes moves end_at ...
UPDATE slots SET duration_minutes = 90 WHERE id = :'s1'
RETURNING duration_minutes, end_at - start_at AS length;
-- ... changing end_at changes duration_minutes ...
UPDATE slots SET end_at = start_at + interval '75 minutes' WHERE id = :'s1'
RETURNING duration_minutes, end_at - start_at AS length;
-- ... moving start_at alone keeps the duration and moves end_at with it ...
UPDATE slots SET start_at = start_at + interval '1 day' WHERE id = :'s1'
RETURNING start_at, end_at, duration_minutes;
-- ... and changing both so that they disagree is refused (22023).
UPDATE slots SET end_at = end_at + interval '15 minutes', duration_minutes = 30 WHERE id = :'s1';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------------------
-- Who runs a slot: an active trainer
------------------------------------------------------------------------------------------

-- An athlete cannot run a slot (22023).
INSERT INTO slots (trainer_id, start_at) VALUES (:'amy', '2030-03-05 09:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Nor can a trainer whose account is deleted (22023).
INSERT INTO slots (trainer_id, start_at) VALUES (:'tia', '2030-03-05 09:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- An unknown trainer: the foreign key refuses (23503).
INSERT INTO slots (trainer_id, start_at) VALUES ('00000003-0000-4000-a000-0000000000ff', '2030-03-05 09:00+00');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Handing a slot over to someone who is not an active trainer is refused too (22023).
UPDATE slots SET trainer_id = :'amy' WHERE id = :'s2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------------------
-- What a slot's reserved bookings restrict
------------------------------------------------------------------------------------------

-- Slot s7, in two days, has 3 places; Amy and Ben book, Cal books and cancels.
INSERT INTO slots (id, trainer_id, start_at, capacity) VALUES (:'s7', :'tom', now() + interval '2 days', 3);
INSERT INTO bookings (id, slot_id, user_id) VALUES
    (:'amy_s7', :'s7', :'amy'), (:'ben_s7', :'s7', :'ben'), (:'cal_s7', :'s7', :'cal');
UPDATE bookings SET status = 'cancelled' WHERE id = :'cal_s7';

-- While a slot has reserved bookings, its times are frozen: not start_at, not end_at, not
-- duration_minutes (23001). Cancel it and create a new one instead.
UPDATE slots SET start_at = start_at + interval '1 hour' WHERE id = :'s7';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE slots SET end_at = end_at + interval '30 minutes' WHERE id = :'s7';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE slots SET duration_minutes = 30 WHERE id = :'s7';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Capacity cannot drop below the places already reserved (23001) ...
UPDATE slots SET capacity = 1 WHERE id = :'s7';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- ... but it may drop to exactly that, or grow, and other columns may change.
UPDATE slots SET capacity = 2 WHERE id = :'s7' RETURNING capacity;
UPDATE slots SET capacity = 4, notes = 'Bring a towel' WHERE id = :'s7' RETURNING capacity, notes;

-- A slot whose bookings are all cancelled (s8: Amy booked and cancelled) may move.
INSERT INTO slots (id, trainer_id, start_at) VALUES (:'s8', :'tom', now() + interval '3 days');
INSERT INTO bookings (id, slot_id, user_id) VALUES (:'amy_s8', :'s8', :'amy');
UPDATE bookings SET status = 'cancelled' WHERE id = :'amy_s8';
UPDATE slots SET start_at = start_at + interval '1 hour' WHERE id = :'s8'
RETURNING duration_minutes, end_at - start_at AS length;

------------------------------------------------------------------------------------------
-- Cancelling a slot
------------------------------------------------------------------------------------------

-- Cancelling a slot (setting cancelled_at) cancels its reserved bookings: the system makes
-- that change (auto_processed), and cancelled bookings stay as they were.
UPDATE slots SET cancelled_at = now() WHERE id = :'s7';
SELECT u.first_name, b.status, b.auto_processed, b.status_changed_at = s.cancelled_at AS at_slot_cancel
  FROM bookings b JOIN users u ON u.id = b.user_id JOIN slots s ON s.id = b.slot_id
 WHERE b.slot_id = :'s7' ORDER BY u.first_name;

-- Each of those changes has its history row, marked auto_processed.
SELECT u.first_name, h.previous_status, h.current_status, h.auto_processed
  FROM booking_status_history h JOIN bookings b ON b.id = h.booking_id JOIN users u ON u.id = b.user_id
 WHERE b.slot_id = :'s7' ORDER BY h.id;

-- ... and its activity log entry, as an automatic status update made by the system.
SELECT a.entity_id = :'amy_s7' AS amy, a.action, a.changed_fields - 'status_changed_at' AS changed,
       a.metadata ->> 'source' AS source
  FROM activity_logs a
 WHERE a.entity_type = 'booking' AND a.entity_id IN (:'amy_s7', :'ben_s7', :'cal_s7')
   AND a.action = 'status_auto_update'
 ORDER BY a.entity_id;

-- The cascade ignores the 60-minute window: slot s9 starts in 30 minutes, too late for Amy
-- to cancel herself, yet cancelling the slot cancels her booking.
INSERT INTO slots (id, trainer_id, start_at) VALUES (:'s9', :'tom', now() + interval '30 minutes');
INSERT INTO bookings (id, slot_id, user_id) VALUES (:'amy_s9', :'s9', :'amy');
UPDATE slots SET cancelled_at = now() WHERE id = :'s9';
SELECT status, auto_processed FROM bookings WHERE id = :'amy_s9';

-- A cancelled slot stays cancelled: cancelled_at cannot be cleared or moved (22023).
UPDATE slots SET cancelled_at = NULL WHERE id = :'s7';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE slots SET cancelled_at = cancelled_at - interval '1 day' WHERE id = :'s7';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Nobody books it any more, nor re-activates a booking of it (23000).
UPDATE bookings SET status = 'reserved' WHERE id = :'amy_s7';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------------------
-- Deleting a slot
------------------------------------------------------------------------------------------

-- A slot that has bookings, of any status, is never deleted: cancel it instead (23001).
DELETE FROM slots WHERE id = :'s7';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM slots WHERE id = :'s8';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- A slot nobody ever booked may be deleted.
DELETE FROM slots WHERE id = :'s2' RETURNING duration_minutes;
SELECT count(*) AS s2_left FROM slots WHERE id = :'s2';

-- Tom's slots now.
SELECT s.label, s.duration_minutes, s.capacity, s.cancelled_at IS NOT NULL AS cancelled,
       count(b.id) FILTER (WHERE b.status = 'reserved') AS reserved,
       count(b.id) AS bookings
  FROM (SELECT sl.*, l.label FROM slots sl
          JOIN (VALUES (:'s1'::uuid, 's1'), (:'s3'::uuid, 's3'), (:'s4'::uuid, 's4'),
                       (:'s5'::uuid, 's5'), (:'s7'::uuid, 's7'), (:'s8'::uuid, 's8'),
                       (:'s9'::uuid, 's9')) AS l (id, label) ON l.id = sl.id) AS s
  LEFT JOIN bookings b ON b.slot_id = s.id
 GROUP BY s.label, s.duration_minutes, s.capacity, s.cancelled_at
 ORDER BY s.label;
SELECT count(*) AS slots_of_tom FROM slots WHERE trainer_id = :'tom';

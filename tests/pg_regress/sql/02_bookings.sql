-- The rules of a booking: who may book which slot, how a booking's status may move, and what
-- the database records when it does. Each statement follows the rule it shows in plain words;
-- a refused one is followed by its SQLSTATE, which clients (and PostgREST's JSON error body)
-- branch on.
SET search_path = gym_booking, public;
\set VERBOSITY default
\set SHOW_CONTEXT never

-- The cast, with fixed ids. Users ...a..., slots ...b..., bookings ...c....
\set tara 00000002-0000-4000-a000-000000000001
\set ada  00000002-0000-4000-a000-000000000002
\set bea  00000002-0000-4000-a000-000000000003
\set cy   00000002-0000-4000-a000-000000000004
\set dee  00000002-0000-4000-a000-000000000005
\set eve  00000002-0000-4000-a000-000000000006
\set duo     00000002-0000-4000-b000-000000000001
\set soon    00000002-0000-4000-b000-000000000002
\set running 00000002-0000-4000-b000-000000000003
\set ended   00000002-0000-4000-b000-000000000004
\set closed  00000002-0000-4000-b000-000000000005
\set solo    00000002-0000-4000-b000-000000000006
\set bea_duo   00000002-0000-4000-c000-000000000001
\set cy_duo    00000002-0000-4000-c000-000000000002
\set dee_duo   00000002-0000-4000-c000-000000000003
\set bea_soon  00000002-0000-4000-c000-000000000004
\set cy_soon   00000002-0000-4000-c000-000000000005
\set dee_soon  00000002-0000-4000-c000-000000000006
\set bea_ended 00000002-0000-4000-c000-000000000007
\set cy_ended  00000002-0000-4000-c000-000000000008
\set dee_ended 00000002-0000-4000-c000-000000000009
\set cy_running 00000002-0000-4000-c000-00000000000a
-- Who is calling: PostgREST puts the JWT's claims in request.jwt.claims; 'sub' is the user id.
\set as_ada '{"sub": "00000002-0000-4000-a000-000000000002", "role": "authenticated"}'
\set as_bea '{"sub": "00000002-0000-4000-a000-000000000003", "role": "authenticated"}'

-- Tara trains, Ada runs the gym (app admin), Bea, Cy, Dee and Eve are athletes.
INSERT INTO users (id, email, password_hash, first_name, role, contact_email) VALUES
    (:'tara', 'tara@gym.example', 'hash', 'Tara', 'trainer', 'tara@gym.example'),
    (:'ada',  'ada@gym.example',  'hash', 'Ada',  'admin',   NULL),
    (:'bea',  'bea@mail.example', 'hash', 'Bea',  'athlete', NULL),
    (:'cy',   'cy@mail.example',  'hash', 'Cy',   'athlete', NULL),
    (:'dee',  'dee@mail.example', 'hash', 'Dee',  'athlete', NULL),
    (:'eve',  'eve@mail.example', 'hash', 'Eve',  'athlete', NULL);

-- Tara's slots: a duo session in two days (2 places), one starting in 30 minutes, one that
-- started 10 minutes ago, one that ended two hours ago, one the gym has cancelled, and a
-- one-to-one session in two days.
INSERT INTO slots (id, trainer_id, start_at, capacity, cancelled_at) VALUES
    (:'duo',     :'tara', now() + interval '2 days',     2, NULL),
    (:'soon',    :'tara', now() + interval '30 minutes', 5, NULL),
    (:'running', :'tara', now() - interval '10 minutes', 5, NULL),
    (:'ended',   :'tara', now() - interval '3 hours',    5, NULL),
    (:'closed',  :'tara', now() + interval '3 days',     5, now()),
    (:'solo',    :'tara', now() + interval '2 days',     1, NULL);

------------------------------------------------------------------------------------------
-- Booking
------------------------------------------------------------------------------------------

-- An athlete books a slot that has a free place: the booking is reserved, stamped by the
-- database (status_changed_at is the booking's time) and not automatic.
INSERT INTO bookings (id, slot_id, user_id) VALUES (:'bea_duo', :'duo', :'bea')
RETURNING status, auto_processed, status_changed_at = now() AS stamped_now;
INSERT INTO bookings (id, slot_id, user_id) VALUES (:'cy_duo', :'duo', :'cy')
RETURNING status;

-- A slot whose reserved bookings equal its capacity is full: slot full (23P01).
INSERT INTO bookings (id, slot_id, user_id) VALUES (:'dee_duo', :'duo', :'dee');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A refused booking leaves nothing behind: still two bookings, no log entry for Dee.
SELECT count(*) AS bookings_in_duo FROM bookings WHERE slot_id = :'duo';
SELECT count(*) AS log_entries FROM activity_logs WHERE entity_id = :'dee_duo';

-- One statement booking more places than are left is refused as a whole (23P01): the
-- capacity check sees the rows the same statement has just added.
INSERT INTO bookings (slot_id, user_id) VALUES (:'solo', :'bea'), (:'solo', :'cy');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS bookings_in_solo FROM bookings WHERE slot_id = :'solo';

-- A new booking is reserved; it cannot be born cancelled or completed (22023).
INSERT INTO bookings (id, slot_id, user_id, status) VALUES (:'dee_soon', :'soon', :'dee', 'completed');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- status_changed_at and auto_processed belong to the database: whatever a client sends on
-- INSERT is replaced by the booking's own time and false.
INSERT INTO bookings (id, slot_id, user_id, status_changed_at, auto_processed)
VALUES (:'dee_soon', :'soon', :'dee', '2001-01-01 00:00+00', true)
RETURNING status, auto_processed, status_changed_at = now() AS stamped_now;

-- A slot that has been cancelled cannot be booked: slot not bookable (23000).
INSERT INTO bookings (slot_id, user_id) VALUES (:'closed', :'bea');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Nor can a slot that has started (23000), let alone one that has ended.
INSERT INTO bookings (slot_id, user_id) VALUES (:'running', :'bea');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO bookings (slot_id, user_id) VALUES (:'ended', :'bea');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- A slot that does not exist: the foreign key refuses (23503).
INSERT INTO bookings (slot_id, user_id) VALUES ('00000002-0000-4000-b000-0000000000ff', :'bea');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- A deleted account books nothing (23000). Eve deletes her account, then tries.
UPDATE users SET deleted_at = now() WHERE id = :'eve';
INSERT INTO bookings (slot_id, user_id) VALUES (:'soon', :'eve');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------------------
-- Cancelling and booking again
------------------------------------------------------------------------------------------

-- The athlete cancels a booking more than 60 minutes before the start: allowed. The status
-- change is stamped and not automatic.
UPDATE bookings SET status = 'cancelled' WHERE id = :'bea_duo'
RETURNING status, auto_processed, status_changed_at = now() AS stamped_now;

-- One booking per athlete and slot: a second INSERT for the same pair is refused by
-- UNIQUE (slot_id, user_id) (23505), even while the first is cancelled ...
INSERT INTO bookings (slot_id, user_id) VALUES (:'duo', :'bea');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- ... because booking again re-activates the same row (cancelled -> reserved), when the slot
-- has room. Meanwhile Dee took the freed place, so the slot is full again (23P01).
INSERT INTO bookings (id, slot_id, user_id) VALUES (:'dee_duo', :'duo', :'dee')
RETURNING status;
UPDATE bookings SET status = 'reserved' WHERE id = :'bea_duo';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Cy cancels; now Bea's re-activation finds a place, on her original booking row.
UPDATE bookings SET status = 'cancelled' WHERE id = :'cy_duo';
UPDATE bookings SET status = 'reserved' WHERE id = :'bea_duo'
RETURNING id = :'bea_duo' AS same_row, status, status_changed_at = now() AS stamped_now;
SELECT u.first_name, b.status
  FROM bookings b JOIN users u ON u.id = b.user_id
 WHERE b.slot_id = :'duo' ORDER BY u.first_name;

-- A cancelled booking cannot be re-activated once the slot has started (23000). Cy's
-- cancelled booking of the running slot stands for data restored from a dump: it is written
-- with the rules off (session_replication_role = replica), as pg_restore or a replica would.
SET session_replication_role = replica;
INSERT INTO bookings (id, slot_id, user_id, status) VALUES
    (:'cy_running', :'running', :'cy', 'cancelled');
RESET session_replication_role;
UPDATE bookings SET status = 'reserved' WHERE id = :'cy_running';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------------------
-- The 60-minute cancellation window
------------------------------------------------------------------------------------------

-- A slot starting in 30 minutes can still be booked ...
INSERT INTO bookings (id, slot_id, user_id) VALUES
    (:'bea_soon', :'soon', :'bea'),
    (:'cy_soon',  :'soon', :'cy')
RETURNING status;

-- ... but the athlete can no longer cancel: too late to cancel (27000). (Shown terse: its
-- DETAIL names the slot's start time, and its HINT says an admin can still cancel it.)
SET request.jwt.claims = :'as_bea';
\set VERBOSITY terse
UPDATE bookings SET status = 'cancelled' WHERE id = :'bea_soon';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
\set VERBOSITY default
RESET request.jwt.claims;
SELECT status FROM bookings WHERE id = :'bea_soon';

-- An admin of the gym (here as PostgREST sets the claims: for one transaction) may cancel
-- at any time. It is a person's decision, so not auto_processed.
BEGIN;
SELECT set_config('request.jwt.claims', :'as_ada', true) IS NOT NULL AS claims_set;
UPDATE bookings SET status = 'cancelled' WHERE id = :'bea_soon'
RETURNING status, auto_processed;
COMMIT;

-- The claims lasted for that transaction only: nobody is named now.
SELECT current_user_id() IS NULL AS anonymous_caller;

------------------------------------------------------------------------------------------
-- Completing, and the moves that are never allowed
------------------------------------------------------------------------------------------

-- Bookings of the slot that ended two hours ago stand for data restored from a dump (a
-- reserved booking of an ended slot cannot be made today): written with the rules off.
SET session_replication_role = replica;
INSERT INTO bookings (id, slot_id, user_id, status) VALUES
    (:'bea_ended', :'ended', :'bea', 'reserved'),
    (:'cy_ended',  :'ended', :'cy',  'reserved'),
    (:'dee_ended', :'ended', :'dee', 'cancelled');
RESET session_replication_role;

-- Only the gym marks a booking completed: an athlete may not, even after the end (42501).
SET request.jwt.claims = :'as_bea';
UPDATE bookings SET status = 'completed' WHERE id = :'bea_ended';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET request.jwt.claims;

-- Nor may a caller the JWT does not name as an admin (here: no JWT at all) (42501).
UPDATE bookings SET status = 'completed' WHERE id = :'bea_ended';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

SET request.jwt.claims = :'as_ada';

-- Not even the admin completes a booking before its slot has ended (22023).
UPDATE bookings SET status = 'completed' WHERE id = :'bea_duo';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- The admin completes bookings of the ended slot: allowed.
UPDATE bookings SET status = 'completed' WHERE id IN (:'bea_ended', :'cy_ended')
RETURNING status, auto_processed;

-- completed is final: not back to reserved, not cancelled, whoever asks (22023).
UPDATE bookings SET status = 'cancelled' WHERE id = :'bea_ended';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE bookings SET status = 'reserved' WHERE id = :'bea_ended';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- A cancelled booking was never attended: it cannot become completed (22023).
UPDATE bookings SET status = 'completed' WHERE id = :'dee_ended';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

RESET request.jwt.claims;

------------------------------------------------------------------------------------------
-- What a booking keeps
------------------------------------------------------------------------------------------

-- A booking never moves to another slot or another athlete (22023): cancel and book anew.
UPDATE bookings SET slot_id = :'soon' WHERE id = :'bea_duo';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE bookings SET user_id = :'dee' WHERE id = :'bea_duo';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- A client cannot set status_changed_at or auto_processed: an UPDATE that tries keeps the
-- values the last status change gave (and, changing nothing else, writes no log entry).
SELECT status_changed_at AS bea_duo_changed_at FROM bookings WHERE id = :'bea_duo' \gset
SELECT count(*) AS bea_duo_log_entries FROM activity_logs WHERE entity_id = :'bea_duo' \gset
UPDATE bookings SET status_changed_at = '2001-01-01 00:00+00', auto_processed = true
 WHERE id = :'bea_duo'
RETURNING status, auto_processed, status_changed_at = :'bea_duo_changed_at' AS kept;
SELECT count(*) = :bea_duo_log_entries AS no_new_log_entry
  FROM activity_logs WHERE entity_id = :'bea_duo';

-- Bookings are never deleted, not even by the superuser: they are cancelled (23001).
DELETE FROM bookings WHERE id = :'bea_duo';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM bookings WHERE slot_id = :'ended';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS bookings_of_tara FROM bookings b JOIN slots s ON s.id = b.slot_id
 WHERE s.trainer_id = :'tara';

------------------------------------------------------------------------------------------
-- The status history: one row per change, in order, naming who made it
------------------------------------------------------------------------------------------

-- Rows written with the rules off (the restored bookings) have no history of their own.
SELECT u.first_name AS athlete, s.label AS slot, h.previous_status, h.current_status,
       coalesce(w.first_name, '-') AS changed_by, h.auto_processed
  FROM booking_status_history h
  JOIN bookings b ON b.id = h.booking_id
  JOIN users u ON u.id = b.user_id
  JOIN (VALUES (:'duo'::uuid, 'duo'), (:'soon'::uuid, 'soon'), (:'running'::uuid, 'running'),
               (:'ended'::uuid, 'ended')) AS s (id, label) ON s.id = b.slot_id
  LEFT JOIN users w ON w.id = h.changed_by
 ORDER BY h.id;

-- Each booking's status_changed_at is the time of its last history row, or of its booking.
SELECT u.first_name AS athlete, s.label AS slot, b.status,
       b.status_changed_at = coalesce(max(h.changed_at), b.created_at) AS matches_history
  FROM bookings b
  JOIN users u ON u.id = b.user_id
  JOIN (VALUES (:'duo'::uuid, 'duo'), (:'soon'::uuid, 'soon')) AS s (id, label) ON s.id = b.slot_id
  LEFT JOIN booking_status_history h ON h.booking_id = b.id
 GROUP BY u.first_name, s.label, b.id ORDER BY s.label, u.first_name;

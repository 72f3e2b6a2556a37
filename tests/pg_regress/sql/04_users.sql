-- The rules of an account: deleting one anonymizes it for good, cancels what it had booked
-- for the future (and, for a trainer, the future slots), and the public trainer directory
-- follows the users table. A refused statement is followed by its SQLSTATE.
SET search_path = gym_booking, public;
\set VERBOSITY default
\set SHOW_CONTEXT never

-- The cast, with fixed ids. Users ...a..., slots ...b..., bookings ...c....
\set kim 00000004-0000-4000-a000-000000000001
\set una 00000004-0000-4000-a000-000000000002
\set vic 00000004-0000-4000-a000-000000000003
\set wes 00000004-0000-4000-a000-000000000004
\set lou 00000004-0000-4000-a000-000000000005
\set max 00000004-0000-4000-a000-000000000006
\set nia 00000004-0000-4000-a000-000000000007
\set soon  00000004-0000-4000-b000-000000000001
\set later 00000004-0000-4000-b000-000000000002
\set past  00000004-0000-4000-b000-000000000003
\set una_soon  00000004-0000-4000-c000-000000000001
\set una_later 00000004-0000-4000-c000-000000000002
\set una_past  00000004-0000-4000-c000-000000000003
\set vic_soon  00000004-0000-4000-c000-000000000004
\set wes_soon  00000004-0000-4000-c000-000000000005
\set lou_later 00000004-0000-4000-c000-000000000006
\set lou_past  00000004-0000-4000-c000-000000000007

-- Kim trains; Una, Vic, Wes and Lou are athletes. Una has told the app a lot about herself.
INSERT INTO users (id, email, password_hash, first_name, last_name, role, contact_email, contact_phone, preferences) VALUES
    (:'kim', 'kim@gym.example', 'hash', 'Kim', 'Lee', 'trainer', 'kim@gym.example', '+1 555 0101', '{}'),
    (:'una', 'una@mail.example', 'hash', 'Una', 'Moss', 'athlete', 'una.moss@work.example', '+1 555 0199', '{"lang": "fr"}'),
    (:'vic', 'vic@mail.example', 'hash', 'Vic', NULL, 'athlete', NULL, NULL, '{}'),
    (:'wes', 'wes@mail.example', 'hash', 'Wes', NULL, 'athlete', NULL, NULL, '{}'),
    (:'lou', 'lou@mail.example', 'hash', 'Lou', NULL, 'athlete', NULL, NULL, '{}');

-- Kim's slots: one in two days, one in four days, one that ended yesterday.
INSERT INTO slots (id, trainer_id, start_at, capacity) VALUES
    (:'soon',  :'kim', now() + interval '2 days', 5),
    (:'later', :'kim', now() + interval '4 days', 5),
    (:'past',  :'kim', now() - interval '1 day',  5);

-- Bookings: Una has one in each slot (she cancelled the later one herself), Vic and Wes book
-- the first, Lou the later one. The bookings of the ended slot stand for data restored from
-- a dump: written with the rules off (session_replication_role = replica).
INSERT INTO bookings (id, slot_id, user_id) VALUES
    (:'una_soon', :'soon', :'una'), (:'una_later', :'later', :'una'),
    (:'vic_soon', :'soon', :'vic'), (:'wes_soon', :'soon', :'wes'),
    (:'lou_later', :'later', :'lou');
UPDATE bookings SET status = 'cancelled' WHERE id = :'una_later';
SET session_replication_role = replica;
INSERT INTO bookings (id, slot_id, user_id, status) VALUES
    (:'una_past', :'past', :'una', 'reserved'),
    (:'lou_past', :'past', :'lou', 'reserved');
RESET session_replication_role;

------------------------------------------------------------------------------------------
-- Deleting an account: three ways, one outcome
------------------------------------------------------------------------------------------

-- Setting deleted_at deletes the account: the row stays (bookings and history point at it)
-- but is anonymized. The name becomes 'Anonymous user', every other personal field is
-- blanked, the email becomes a unique address that cannot receive mail, and the password
-- one that no hash matches.
UPDATE users SET deleted_at = now() WHERE id = :'una'
RETURNING is_anonymous, first_name, last_name, email, contact_email, contact_phone, preferences,
          password_hash = '!deleted' AS password_unusable, deleted_at = now() AS deleted_now;

-- Her future reserved booking is cancelled by the system; the one she had cancelled stays as
-- it was; the booking of the slot that has ended stays, pointing at the anonymous row.
SELECT s.label AS slot, b.status, b.auto_processed
  FROM bookings b
  JOIN (VALUES (:'soon'::uuid, 'soon'), (:'later'::uuid, 'later'), (:'past'::uuid, 'past')) AS s (id, label)
    ON s.id = b.slot_id
 WHERE b.user_id = :'una' ORDER BY s.label;
SELECT h.previous_status, h.current_status, h.auto_processed
  FROM booking_status_history h JOIN bookings b ON b.id = h.booking_id
 WHERE b.user_id = :'una' ORDER BY h.id;

-- Marking a user anonymous deletes the account just the same: deleted_at is set with it.
UPDATE users SET is_anonymous = true WHERE id = :'vic'
RETURNING is_anonymous, deleted_at = now() AS deleted_now, first_name, email;
SELECT status, auto_processed FROM bookings WHERE id = :'vic_soon';

-- DELETE on users is a soft delete too: no row goes away (DELETE reports none), the row is
-- anonymized in place.
DELETE FROM users WHERE id = :'wes' RETURNING id;
SELECT is_anonymous, deleted_at IS NOT NULL AS deleted, first_name, email
  FROM users WHERE id = :'wes';
SELECT status, auto_processed FROM bookings WHERE id = :'wes_soon';

------------------------------------------------------------------------------------------
-- Deletion is final
------------------------------------------------------------------------------------------

-- A deleted account cannot be restored: neither deleted_at nor is_anonymous can be undone
-- (22023) ...
UPDATE users SET deleted_at = NULL, is_anonymous = false WHERE id = :'una';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE users SET is_anonymous = false WHERE id = :'una';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- ... nor changed in any other way: name, role, or the time of deletion (22023).
UPDATE users SET first_name = 'Una' WHERE id = :'una';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE users SET role = 'admin' WHERE id = :'una';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE users SET deleted_at = deleted_at - interval '1 day' WHERE id = :'una';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- An UPDATE that changes nothing is harmless, and deleting again does nothing.
UPDATE users SET first_name = first_name WHERE id = :'una' RETURNING first_name;
DELETE FROM users WHERE id = :'una' RETURNING id;

-- A deleted account books nothing, not even by re-activating an old booking (23000).
UPDATE bookings SET status = 'reserved' WHERE id = :'una_later';
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Its email is free again: the person can sign up anew, as a new user.
INSERT INTO users (email, password_hash, first_name) VALUES ('una@mail.example', 'hash', 'Una')
RETURNING role, is_anonymous;

------------------------------------------------------------------------------------------
-- A trainer leaving
------------------------------------------------------------------------------------------

-- Deleting a trainer cancels their future slots, and with them the reserved bookings of
-- those slots (Lou's); the slot that has ended, and Lou's booking of it, stay as they were.
DELETE FROM users WHERE id = :'kim';
SELECT s.label AS slot, sl.cancelled_at IS NOT NULL AS cancelled
  FROM slots sl
  JOIN (VALUES (:'soon'::uuid, 'soon'), (:'later'::uuid, 'later'), (:'past'::uuid, 'past')) AS s (id, label)
    ON s.id = sl.id
 ORDER BY s.label;
SELECT s.label AS slot, b.status, b.auto_processed
  FROM bookings b
  JOIN (VALUES (:'later'::uuid, 'later'), (:'past'::uuid, 'past')) AS s (id, label) ON s.id = b.slot_id
 WHERE b.user_id = :'lou' ORDER BY s.label;

-- A deleted trainer needs no contact channel: their contact fields are blanked like the rest.
SELECT role, first_name, contact_email, contact_phone FROM users WHERE id = :'kim';

------------------------------------------------------------------------------------------
-- The trainer directory: active trainers only, kept in step with users
------------------------------------------------------------------------------------------

-- The deleted trainer has left the directory.
SELECT count(*) AS kim_listed FROM trainer_directory WHERE trainer_id = :'kim';

-- A new trainer is listed at once, under first and last name, with their contact details.
INSERT INTO users (id, email, password_hash, first_name, last_name, role, contact_email) VALUES
    (:'max', 'max@gym.example', 'hash', 'Max', 'Power', 'trainer', 'max@gym.example');
SELECT display_name, contact_email, contact_phone FROM trainer_directory WHERE trainer_id = :'max';

-- Renaming, or changing a contact detail, updates the listing.
UPDATE users SET first_name = 'Maxine', contact_phone = '+1 555 0123' WHERE id = :'max';
SELECT display_name, contact_email, contact_phone FROM trainer_directory WHERE trainer_id = :'max';

-- A trainer who becomes an athlete (or an admin) leaves the directory ...
UPDATE users SET role = 'athlete' WHERE id = :'max';
SELECT count(*) AS max_listed FROM trainer_directory WHERE trainer_id = :'max';
-- ... and comes back on becoming a trainer again.
UPDATE users SET role = 'trainer' WHERE id = :'max';
SELECT display_name FROM trainer_directory WHERE trainer_id = :'max';

-- An athlete promoted to trainer is listed. A trainer needs a contact channel first (the
-- table's CHECK, 23514; terse, as its DETAIL shows the whole row, timestamps included).
INSERT INTO users (id, email, password_hash, first_name, role) VALUES
    (:'nia', 'nia@mail.example', 'hash', 'Nia', 'athlete');
\set VERBOSITY terse
UPDATE users SET role = 'trainer' WHERE id = :'nia';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT count(*) AS nia_listed FROM trainer_directory WHERE trainer_id = :'nia';
UPDATE users SET role = 'trainer', contact_phone = '+1 555 0177' WHERE id = :'nia';
SELECT display_name, contact_email, contact_phone FROM trainer_directory WHERE trainer_id = :'nia';

-- The directory is exactly the active trainers.
SELECT d.display_name, d.contact_email, d.contact_phone FROM trainer_directory d ORDER BY d.display_name;
SELECT (SELECT array_agg(trainer_id ORDER BY trainer_id) FROM trainer_directory)
     = (SELECT array_agg(id ORDER BY id) FROM users WHERE role = 'trainer' AND deleted_at IS NULL)
       AS directory_is_the_active_trainers;

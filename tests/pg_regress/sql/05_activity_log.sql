-- The audit trail: every change to users, slots and bookings writes one activity_logs row
-- naming the entity, the action, who made it (from the JWT claims) and only what changed,
-- with personal data redacted and the password hash never written. Also: updated_at and
-- created_at, and gym_booking.current_user_id(). A refused statement is followed by its
-- SQLSTATE.
SET search_path = gym_booking, public;
\set VERBOSITY default
\set SHOW_CONTEXT never

-- The cast, with fixed ids. Users ...a..., slots ...b..., bookings ...c....
\set zoe   00000005-0000-4000-a000-000000000001
\set quinn 00000005-0000-4000-a000-000000000002
\set rae   00000005-0000-4000-a000-000000000003
\set sam   00000005-0000-4000-a000-000000000004
\set ted   00000005-0000-4000-a000-000000000005
\set ghost 00000005-0000-4000-a000-0000000000ff
\set yoga  00000005-0000-4000-b000-000000000001
\set spin  00000005-0000-4000-b000-000000000002
\set rae_yoga 00000005-0000-4000-c000-000000000001
\set as_zoe   '{"sub": "00000005-0000-4000-a000-000000000001", "role": "authenticated"}'
\set as_quinn '{"sub": "00000005-0000-4000-a000-000000000002", "role": "authenticated"}'
\set as_rae   '{"sub": "00000005-0000-4000-a000-000000000003", "role": "authenticated"}'
\set as_sam   '{"sub": "00000005-0000-4000-a000-000000000004", "role": "authenticated"}'
\set as_ghost '{"sub": "00000005-0000-4000-a000-0000000000ff", "role": "authenticated"}'

------------------------------------------------------------------------------------------
-- create
------------------------------------------------------------------------------------------

-- Zoe (admin), Quinn (trainer), Rae, Sam and Ted (athletes) sign up; no JWT names the writer.
INSERT INTO users (id, email, password_hash, first_name, last_name, role, contact_email, contact_phone, preferences) VALUES
    (:'zoe',   'zoe@gym.example',   'hash', 'Zoe',   NULL,    'admin',   NULL,                NULL,          '{}'),
    (:'quinn', 'quinn@gym.example', 'hash', 'Quinn', 'Hart',  'trainer', 'quinn@gym.example', NULL,          '{}'),
    (:'rae',   'rae@mail.example',  'hash', 'Rae',   NULL,    'athlete', NULL,                NULL,          '{"lang": "en"}'),
    (:'sam',   'sam@mail.example',  'hash', 'Sam',   'Stone', 'athlete', 'sam@work.example',  '+1 555 0142', '{}'),
    (:'ted',   'ted@mail.example',  'hash', 'Ted',   NULL,    'athlete', NULL,                NULL,          '{}');

-- A create entry holds the new row's non-NULL values: personal ones (email, names, contact
-- details, preferences) as "[redacted]", the password hash not at all. The writer is unknown
-- (no JWT), and metadata says which database role wrote and that it was a client.
SELECT action, changed_by, changed_by_role, changed_fields - 'created_at' AS changed_fields, metadata
  FROM activity_logs WHERE entity_type = 'user' AND entity_id = :'rae';
SELECT action, changed_fields - 'created_at' AS changed_fields
  FROM activity_logs WHERE entity_type = 'user' AND entity_id = :'sam';

-- The writer comes from the JWT claims ('sub'), as PostgREST sets them for one transaction:
-- Zoe creates a slot for Quinn; the entry names her and her app role.
BEGIN;
SELECT set_config('request.jwt.claims', :'as_zoe', true) IS NOT NULL AS claims_set;
INSERT INTO slots (id, trainer_id, start_at, capacity)
VALUES (:'yoga', :'quinn', '2030-05-06 18:00+00', 1);
COMMIT;
SELECT action, changed_by = :'zoe' AS by_zoe, changed_by_role,
       changed_fields - 'created_at' - 'start_at' - 'end_at' AS changed_fields
  FROM activity_logs WHERE entity_type = 'slot' AND entity_id = :'yoga';

-- Timestamps in a log entry read back as the instant they were, whatever the DateStyle of
-- the session that wrote the entry and of the one reading it.
BEGIN;
SET LOCAL DateStyle = 'SQL, DMY';
INSERT INTO slots (id, trainer_id, start_at) VALUES (:'spin', :'quinn', '2030-05-07 18:00+00');
COMMIT;
SELECT (changed_fields ->> 'start_at')::timestamptz = '2030-05-07 18:00+00' AS start_at_reads_back,
       (changed_fields ->> 'end_at')::timestamptz = '2030-05-07 19:00+00' AS end_at_reads_back
  FROM activity_logs WHERE entity_type = 'slot' AND entity_id = :'spin' AND action = 'create';

-- Rae books the yoga slot herself: the entry names her, an athlete.
SET request.jwt.claims = :'as_rae';
INSERT INTO bookings (id, slot_id, user_id) VALUES (:'rae_yoga', :'yoga', :'rae');
RESET request.jwt.claims;
SELECT action, changed_by = :'rae' AS by_rae, changed_by_role,
       changed_fields - 'created_at' - 'status_changed_at' AS changed_fields
  FROM activity_logs WHERE entity_type = 'booking' AND entity_id = :'rae_yoga';

------------------------------------------------------------------------------------------
-- update: only what changed
------------------------------------------------------------------------------------------

-- An update entry holds, for each column that changed and only those, its old and new value.
SET request.jwt.claims = :'as_quinn';
UPDATE slots SET capacity = 4, notes = 'Mats provided' WHERE id = :'yoga';
RESET request.jwt.claims;
SELECT action, changed_by = :'quinn' AS by_quinn, changed_by_role, changed_fields
  FROM activity_logs WHERE entity_type = 'slot' AND entity_id = :'yoga' AND action = 'update';

-- Personal values are redacted in updates too, old and new; a role is not personal.
UPDATE users SET first_name = 'Raelynn', contact_phone = '+1 555 0150', role = 'trainer'
 WHERE id = :'rae';
SELECT changed_fields
  FROM activity_logs WHERE entity_type = 'user' AND entity_id = :'rae' AND action = 'update';

-- An UPDATE that changes nothing (or nothing but updated_at) writes no entry.
SELECT count(*) AS entries FROM activity_logs \gset
UPDATE slots SET notes = notes, capacity = capacity WHERE id = :'yoga';
UPDATE users SET first_name = first_name WHERE id = :'rae';
UPDATE users SET updated_at = now() WHERE id = :'rae';
UPDATE bookings SET status = status WHERE id = :'rae_yoga';
SELECT count(*) - :entries AS new_entries FROM activity_logs;

-- The password hash is never logged: a password change shows only as "password": "[redacted]",
-- so it leaves a trace without the hash.
UPDATE users SET password_hash = 'newhash' WHERE id = :'ted';
SELECT count(*) - :entries AS new_entries FROM activity_logs;
UPDATE users SET password_hash = 'newerhash', last_name = 'Tanner' WHERE id = :'ted';
SELECT changed_fields
  FROM activity_logs WHERE entity_type = 'user' AND entity_id = :'ted' AND action = 'update'
 ORDER BY created_at;

------------------------------------------------------------------------------------------
-- delete and status_auto_update
------------------------------------------------------------------------------------------

-- Deleting an account (here by DELETE, which anonymizes) writes one 'delete' entry, naming
-- the caller and the app role she acted in (Sam, an athlete, deleting herself); the
-- anonymized values are redacted like the rest.
SELECT count(*) AS entries FROM activity_logs \gset
SET request.jwt.claims = :'as_sam';
DELETE FROM users WHERE id = :'sam';
RESET request.jwt.claims;
SELECT count(*) - :entries AS new_entries FROM activity_logs;
SELECT action, changed_by = :'sam' AS by_sam, changed_by_role,
       changed_fields - 'deleted_at' AS changed_fields,
       changed_fields -> 'deleted_at' ->> 'old' IS NULL AS deleted_at_was_null
  FROM activity_logs WHERE entity_type = 'user' AND entity_id = :'sam' AND action = 'delete';

-- A deleted account's token still names its user and the role it had (it no longer acts for
-- the gym, even if that role was admin).
SET request.jwt.claims = :'as_sam';
UPDATE slots SET notes = 'Mats and towels provided' WHERE id = :'yoga';
RESET request.jwt.claims;
SELECT changed_by = :'sam' AS by_sam, changed_by_role
  FROM activity_logs WHERE entity_type = 'slot' AND entity_id = :'yoga' AND action = 'update'
   AND changed_fields -> 'notes' ->> 'new' = 'Mats and towels provided';

-- A token naming no known user writes entries with no writer (never someone else's id).
SET request.jwt.claims = :'as_ghost';
UPDATE slots SET capacity = 5 WHERE id = :'yoga';
RESET request.jwt.claims;
SELECT changed_by, changed_by_role, changed_fields
  FROM activity_logs WHERE entity_type = 'slot' AND entity_id = :'yoga' AND action = 'update'
   AND changed_fields ? 'capacity' AND changed_fields -> 'capacity' ->> 'new' = '5';

-- Deleting a slot nobody booked writes a 'delete' entry with the row's last values.
DELETE FROM slots WHERE id = :'spin';
SELECT action, (SELECT string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(changed_fields) AS k) AS fields
  FROM activity_logs WHERE entity_type = 'slot' AND entity_id = :'spin' AND action = 'delete';

-- Changes the system makes by itself are 'status_auto_update' entries: Zoe cancels the yoga
-- slot, which cancels Rae's booking. The slot's entry is Zoe's update; the booking's is the
-- system's, still naming Zoe, whose action caused it.
SET request.jwt.claims = :'as_zoe';
UPDATE slots SET cancelled_at = now() WHERE id = :'yoga';
RESET request.jwt.claims;
SELECT action, changed_by = :'zoe' AS by_zoe, changed_by_role,
       (SELECT string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(changed_fields) AS k) AS fields,
       metadata ->> 'source' AS source
  FROM activity_logs WHERE entity_type = 'slot' AND entity_id = :'yoga' AND changed_fields ? 'cancelled_at';
SELECT action, changed_by = :'zoe' AS by_zoe, changed_by_role,
       changed_fields - 'status_changed_at' AS changed_fields, metadata ->> 'source' AS source
  FROM activity_logs WHERE entity_type = 'booking' AND entity_id = :'rae_yoga' AND action <> 'create';

------------------------------------------------------------------------------------------
-- What no log entry ever holds
------------------------------------------------------------------------------------------

-- Across every entry written so far (this file and the ones before): no password hash,
-- no email address, no phone number, no name in clear.
SELECT count(*) FILTER (WHERE changed_fields ? 'password_hash') AS with_password_hash,
       count(*) FILTER (WHERE changed_fields::text ~ 'hash|!deleted') AS with_a_hash_value,
       count(*) FILTER (WHERE changed_fields::text ~ '@|\+1 555') AS with_contact_details,
       count(*) FILTER (WHERE changed_fields::text ~ 'Raelynn|Stone|Tanner|Moss|Anonymous user')
         AS with_names
  FROM activity_logs;

------------------------------------------------------------------------------------------
-- updated_at and created_at
------------------------------------------------------------------------------------------

-- updated_at moves on every UPDATE, to the time of the change, whatever the client sends;
-- created_at never moves.
SELECT created_at AS ted_created_at FROM users WHERE id = :'ted' \gset
UPDATE users SET created_at = '2001-01-01 00:00+00', updated_at = '2001-01-01 00:00+00'
 WHERE id = :'ted'
RETURNING created_at = :'ted_created_at' AS created_at_kept, updated_at = now() AS updated_now;

SELECT created_at AS rae_yoga_created_at FROM bookings WHERE id = :'rae_yoga' \gset
UPDATE bookings SET created_at = '2001-01-01 00:00+00', updated_at = '2001-01-01 00:00+00'
 WHERE id = :'rae_yoga'
RETURNING created_at = :'rae_yoga_created_at' AS created_at_kept, updated_at = now() AS updated_now;

SELECT created_at AS yoga_created_at FROM slots WHERE id = :'yoga' \gset
UPDATE slots SET created_at = '2001-01-01 00:00+00', notes = 'Cancelled: flooded studio'
 WHERE id = :'yoga'
RETURNING created_at = :'yoga_created_at' AS created_at_kept, updated_at = now() AS updated_now,
          updated_at > created_at AS after_creation;

-- The trainer directory's updated_at follows its rows' changes.
UPDATE users SET last_name = 'Harte' WHERE id = :'quinn';
SELECT d.display_name, d.updated_at = u.updated_at AS updated_with_the_user
  FROM trainer_directory d JOIN users u ON u.id = d.trainer_id WHERE d.trainer_id = :'quinn';

------------------------------------------------------------------------------------------
-- gym_booking.current_user_id(): the caller's user id from the JWT claims
------------------------------------------------------------------------------------------

-- No claims: NULL (as Supabase's auth.uid()).
SELECT current_user_id() IS NULL AS no_caller;

-- request.jwt.claims ->> 'sub', as PostgREST and Supabase set it.
SET request.jwt.claims = :'as_zoe';
SELECT current_user_id();
-- Any spelling PostgreSQL accepts for a uuid.
SET request.jwt.claims = '{"sub": "{00000005-0000-4000-A000-000000000001}"}';
SELECT current_user_id();
-- The older single setting request.jwt.claim.sub, when set, is read first.
SET request.jwt.claim.sub = '00000005-0000-4000-a000-000000000002';
SELECT current_user_id();
RESET request.jwt.claim.sub;
RESET request.jwt.claims;

-- Claims without a sub (an anon token), or with an empty one, name nobody.
SET request.jwt.claims = '{"role": "anon"}';
SELECT current_user_id() IS NULL AS no_caller;
SET request.jwt.claims = '{"sub": "", "role": "authenticated"}';
SELECT current_user_id() IS NULL AS no_caller;

-- A sub that is not a uuid is an error, never somebody's identity (22P02) ...
SET request.jwt.claims = '{"sub": "zoe@gym.example"}';
SELECT current_user_id();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET request.jwt.claims = '{"sub": 42}';
SELECT current_user_id();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- ... and so are claims that are not JSON (22P02).
SET request.jwt.claims = 'sub=00000005-0000-4000-a000-000000000001';
SELECT current_user_id();
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- A write under unreadable claims is refused as a whole (22P02): no row, no log entry.
SELECT count(*) AS entries FROM activity_logs \gset
UPDATE users SET first_name = 'Theo' WHERE id = :'ted';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET request.jwt.claims;
SELECT first_name FROM users WHERE id = :'ted';
SELECT count(*) - :entries AS new_entries FROM activity_logs;

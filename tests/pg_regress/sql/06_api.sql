-- The API as an app calls it. Each block is one request as PostgREST makes it: a
-- transaction that sets the role and the JWT claims (set_config(..., true)), then the call.
SET search_path = gym_booking, public;
\set VERBOSITY default
\set SHOW_CONTEXT never
\set tom   00000006-0000-4000-a000-000000000001
\set ana   00000006-0000-4000-a000-000000000002
\set ben   00000006-0000-4000-a000-000000000003
\set boss  00000006-0000-4000-a000-000000000004
\set as_tom  '{"sub": "00000006-0000-4000-a000-000000000001", "role": "authenticated"}'
\set as_ana  '{"sub": "00000006-0000-4000-a000-000000000002", "role": "authenticated"}'
\set as_ben  '{"sub": "00000006-0000-4000-a000-000000000003", "role": "authenticated"}'
\set as_boss '{"sub": "00000006-0000-4000-a000-000000000004", "role": "authenticated"}'
INSERT INTO users (id, email, password_hash, first_name, role, contact_phone) VALUES
    (:'tom',  'tom.api@gym.example',  'hash', 'Tom',  'trainer', '+1 555 0106'),
    (:'ana',  'ana.api@mail.example', 'hash', 'Ana',  'athlete', NULL),
    (:'ben',  'ben.api@mail.example', 'hash', 'Ben',  'athlete', NULL),
    (:'boss', 'boss.api@gym.example', 'hash', 'Bo',   'admin',   NULL);

-- Tom, a trainer, creates a 2-place slot in three days.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tom', true) \gset
SELECT duration_minutes, capacity, notes, trainer_id = :'tom' AS mine
  FROM create_slot(date_trunc('hour', now()) + interval '3 days', 90, 2, 'Kettlebells');
COMMIT;
SELECT id AS slot FROM slots WHERE notes = 'Kettlebells' \gset

-- An athlete cannot create slots.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ana', true) \gset
SELECT create_slot(now() + interval '3 days');
ROLLBACK;

-- Ana looks for slots and books one. Counts cover every athlete's bookings, names none.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ana', true) \gset
SELECT trainer_name, duration_minutes, capacity, booked, available
  FROM available_slots(trainer_id => :'tom');
SELECT status, user_id = :'ana' AS mine FROM book_slot(:'slot');
-- Booking twice is booking once.
SELECT status FROM book_slot(:'slot');
SELECT trainer_name, status FROM my_bookings();
COMMIT;

-- Ben takes the last place; the slot is then full for anyone else.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ben', true) \gset
SELECT status FROM book_slot(:'slot');
SELECT booked, available FROM available_slots(trainer_id => :'tom');
COMMIT;

-- Ana cancels; Ben's booking is not hers to cancel (she cannot even see it).
SELECT id AS ben_booking FROM bookings WHERE user_id = :'ben' AND slot_id = :'slot' \gset
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ana', true) \gset
SELECT status FROM cancel_booking((SELECT id FROM bookings WHERE user_id = :'ana'));
\set VERBOSITY sqlstate
SELECT cancel_booking(:'ben_booking');
\set VERBOSITY default
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ana', true) \gset
SELECT status FROM cancel_booking((SELECT id FROM bookings WHERE user_id = :'ana'));
COMMIT;

-- Ana books again: the same booking, reserved again (book_slot re-activates her cancelled
-- row), and booking twice is still booking once.
SELECT id AS ana_booking FROM bookings WHERE user_id = :'ana' AND slot_id = :'slot' \gset
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ana', true) \gset
SELECT status, id = :'ana_booking' AS same_row FROM book_slot(:'slot');
SELECT status FROM book_slot(:'slot');
ROLLBACK;
SELECT count(*) AS ana_rows, count(*) FILTER (WHERE status = 'reserved') AS reserved
  FROM bookings WHERE user_id = :'ana' AND slot_id = :'slot';

-- Signed out (no claims), the API refuses; anon may not even call it.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '', true) \gset
SELECT book_slot(:'slot');
ROLLBACK;
BEGIN;
SELECT set_config('role', 'anon', true) \gset
SELECT count(*) FROM available_slots();
ROLLBACK;
BEGIN;
SELECT set_config('role', 'anon', true) \gset
SELECT display_name FROM trainer_directory WHERE trainer_id = :'tom';
ROLLBACK;

-- Completing is for the gym: an athlete is refused, an admin may.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ben', true) \gset
SELECT complete_past_bookings();
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_boss', true) \gset
SELECT complete_past_bookings() AS completed;
COMMIT;

-- Tom cancels his slot: Ben's booking is cancelled with it, by the system.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tom', true) \gset
SELECT cancelled_at IS NOT NULL AS cancelled FROM cancel_slot(:'slot');
COMMIT;
SELECT u.first_name, b.status, b.auto_processed
  FROM bookings b JOIN users u ON u.id = b.user_id WHERE b.slot_id = :'slot' ORDER BY 1;

-- Ben deletes his account. His token, valid until it expires, now owns and sees nothing.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ben', true) \gset
SELECT delete_my_account();
SELECT count(*) AS visible_users FROM users;
COMMIT;
-- The row stays, anonymized, so his past bookings keep pointing at it.
SELECT first_name, is_anonymous, deleted_at IS NOT NULL AS deleted FROM users WHERE id = :'ben';

-- current_user_id() is the JWT's sub, as Supabase's auth.uid().
BEGIN;
SELECT set_config('role', 'anon', true), set_config('request.jwt.claims', :'as_ana', true) \gset
SELECT current_user_id() = :'ana' AS is_ana;
ROLLBACK;

-- What no request can do, whatever it sends. Each block is one request as PostgREST makes it.
SET search_path = gym_booking, public;
\set VERBOSITY default
\set SHOW_CONTEXT never
\set kim   00000007-0000-4000-a000-000000000001
\set eva   00000007-0000-4000-a000-000000000002
\set gone  00000007-0000-4000-a000-000000000003
\set as_kim  '{"sub": "00000007-0000-4000-a000-000000000001", "role": "authenticated"}'
\set as_eva  '{"sub": "00000007-0000-4000-a000-000000000002", "role": "authenticated"}'
\set as_gone '{"sub": "00000007-0000-4000-a000-000000000003", "role": "authenticated"}'
INSERT INTO users (id, email, password_hash, first_name, role, contact_phone) VALUES
    (:'kim',  'kim.req@gym.example',  'hash', 'Kim',  'trainer', '+1 555 0107'),
    (:'eva',  'eva.req@mail.example', 'hash', 'Eva',  'athlete', NULL),
    (:'gone', 'gone.req@mail.example', 'hash', 'Gus', 'athlete', NULL);
UPDATE users SET deleted_at = now() WHERE id = :'gone';

-- Kim creates a slot tomorrow.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_kim', true) \gset
SELECT capacity FROM create_slot(date_trunc('hour', now()) + interval '1 day', 60, 3);
COMMIT;
SELECT id AS slot FROM slots WHERE trainer_id = :'kim' \gset

-- The rules stand aside only for a superuser's session loading a dump. A client that turns
-- the same two settings off inside its statement still meets every rule: Kim's cancellation
-- of a booked slot cancels the booking with its history row.
INSERT INTO bookings (slot_id, user_id) VALUES (:'slot', :'eva');
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_kim', true) \gset
UPDATE slots SET cancelled_at = now()
 WHERE id = :'slot'
   AND set_config('row_security', 'off', true) = 'off'
   AND set_config('check_function_bodies', 'off', true) = 'off';
COMMIT;
SELECT b.status, b.auto_processed, h.previous_status, h.current_status
  FROM bookings b JOIN booking_status_history h ON h.booking_id = b.id
 WHERE b.slot_id = :'slot';

-- The rules record when things happened; what a client sends for it is overwritten.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_kim', true) \gset
INSERT INTO slots (trainer_id, start_at, capacity, created_at, updated_at)
VALUES (:'kim', date_trunc('hour', now()) + interval '2 days', 3, '2001-01-01', '2001-01-01')
RETURNING created_at = statement_timestamp() AS created_now,
          updated_at = statement_timestamp() AS updated_now;
COMMIT;
SELECT id AS slot2 FROM slots WHERE trainer_id = :'kim' AND cancelled_at IS NULL \gset

-- A client never chooses a new row's id: naming one is refused whatever the id (so a refusal
-- never tells whether somebody else's booking has it).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_eva', true) \gset
\set VERBOSITY sqlstate
INSERT INTO bookings (id, slot_id, user_id) VALUES (gen_random_uuid(), :'slot2', :'eva');
\set VERBOSITY default
ROLLBACK;

-- A deleted slot's id is not given again (its log stays, and would show to the new owner).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_kim', true) \gset
SELECT id AS spare FROM create_slot(date_trunc('hour', now()) + interval '5 days') \gset
DELETE FROM slots WHERE id = :'spare';
COMMIT;
\set VERBOSITY sqlstate
INSERT INTO slots (id, trainer_id, start_at)
VALUES (:'spare', :'kim', date_trunc('hour', now()) + interval '6 days');
\set VERBOSITY default

-- Sizes are part of the contract.
\set VERBOSITY terse
UPDATE users SET first_name = repeat('x', 101) WHERE id = :'eva';
UPDATE users SET contact_phone = repeat('5', 33) WHERE id = :'eva';
UPDATE users SET preferences = '["not", "an", "object"]' WHERE id = :'eva';
UPDATE users SET preferences = jsonb_build_object('novel', repeat('x', 9000)) WHERE id = :'eva';
UPDATE slots SET notes = repeat('n', 2001) WHERE id = :'slot2';
\set VERBOSITY default
-- One request creates at most 100 slots.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_kim', true) \gset
INSERT INTO slots (trainer_id, start_at)
SELECT :'kim', date_trunc('hour', now()) + interval '10 days' + make_interval(hours => g)
  FROM generate_series(1, 101) AS g;
ROLLBACK;

-- A deleted account's token, and a token without a sub, read no slot.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_eva', true) \gset
SELECT count(*) > 0 AS eva_sees_slots FROM slots;
SELECT set_config('request.jwt.claims', :'as_gone', true) \gset
SELECT count(*) AS slots_a_deleted_account_sees FROM slots;
SELECT count(*) AS bookable_for_a_deleted_account FROM available_slots();
SELECT set_config('request.jwt.claims', '{"role": "authenticated"}', true) \gset
SELECT count(*) AS slots_without_a_sub FROM slots;
ROLLBACK;

-- Missing values get PostgreSQL's not-null refusal, never an internal error.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_kim', true) \gset
INSERT INTO slots (trainer_id, start_at) VALUES (NULL, now() + interval '1 day');
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_eva', true) \gset
UPDATE bookings SET status = NULL WHERE user_id = :'eva';
ROLLBACK;
-- A slot cannot end after the last timestamp PostgreSQL can read back (a dump must restore).
INSERT INTO slots (trainer_id, start_at) VALUES (:'kim', '294276-12-31 23:30:00+00');

-- The rules keep the statement's clock: a request that began before a slot's start cannot
-- book it after the start.
INSERT INTO slots (trainer_id, start_at, capacity)
VALUES (:'kim', clock_timestamp() + interval '1 second', 3)
RETURNING id AS soon \gset
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_eva', true) \gset
SELECT pg_sleep(1.5);
SELECT book_slot(:'soon');
ROLLBACK;

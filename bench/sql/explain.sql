-- EXPLAIN ANALYZE of the hot queries, as the API runs them: auto_explain logs every statement,
-- nested ones too (the SQL inside the API functions, the rules' SPI statements, the RLS helpers),
-- with trigger times. Output: the LOG lines on stderr, one section per "### name" marker.
-- Writes run in a transaction that is rolled back. psql variables: athlete, trainer, slot,
-- booking, day_from, day_to, week_from, week_to, batch.
\set ON_ERROR_STOP 1
\o /dev/null
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_analyze = on;
SET auto_explain.log_buffers = on;
SET auto_explain.log_timing = on;
SET auto_explain.log_triggers = on;
SET auto_explain.log_nested_statements = on;
SET client_min_messages = log;
\set claims '{"role": "authenticated", "sub": "' :athlete '"}'
\set pre 'SELECT set_config(''role'', ''authenticated'', true), set_config(''request.jwt.claims'', :''claims'', true)'
-- warm the caches the measured requests find warm (plans, catalog, the extension's prepared SQL)
SET auto_explain.log_min_duration = -1;
BEGIN; :pre; SELECT * FROM gym_booking.available_slots(:'week_from', :'week_to', :'trainer'); SELECT * FROM gym_booking.my_bookings(); ROLLBACK;
BEGIN; :pre; SELECT * FROM gym_booking.book_slot(:'slot'); ROLLBACK;
SET auto_explain.log_min_duration = 0;

\warn '### available_slots: one trainer-week (as authenticated)'
BEGIN; :pre;
SELECT * FROM gym_booking.available_slots(:'week_from', :'week_to', :'trainer');
COMMIT;
\warn '### available_slots floor: one trainer-week, plain SQL'
SELECT s.id, s.trainer_id, d.display_name, s.start_at, s.end_at, s.duration_minutes,
       s.capacity, taken.booked, s.capacity - taken.booked, s.notes
  FROM gym_booking.slots AS s
  LEFT JOIN gym_booking.trainer_directory AS d ON d.trainer_id = s.trainer_id
 CROSS JOIN LATERAL (SELECT count(*)::integer AS booked FROM gym_booking.bookings AS b
                      WHERE b.slot_id = s.id AND b.status = 'reserved') AS taken
 WHERE s.start_at >= greatest(:'week_from'::timestamptz, now()) AND s.start_at < :'week_to'
   AND s.cancelled_at IS NULL AND s.trainer_id = :'trainer'
 ORDER BY s.start_at, s.id;
\warn '### available_slots: all trainers, one day (as authenticated)'
BEGIN; :pre;
SELECT * FROM gym_booking.available_slots(:'day_from', :'day_to');
COMMIT;
\warn '### available_slots floor: all trainers, one day, plain SQL'
SELECT s.id, s.trainer_id, d.display_name, s.start_at, s.end_at, s.duration_minutes,
       s.capacity, taken.booked, s.capacity - taken.booked, s.notes
  FROM gym_booking.slots AS s
  LEFT JOIN gym_booking.trainer_directory AS d ON d.trainer_id = s.trainer_id
 CROSS JOIN LATERAL (SELECT count(*)::integer AS booked FROM gym_booking.bookings AS b
                      WHERE b.slot_id = s.id AND b.status = 'reserved') AS taken
 WHERE s.start_at >= greatest(:'day_from'::timestamptz, now()) AND s.start_at < :'day_to'
   AND s.cancelled_at IS NULL
 ORDER BY s.start_at, s.id;

\warn '### my_bookings() under RLS (as authenticated)'
BEGIN; :pre;
SELECT * FROM gym_booking.my_bookings();
COMMIT;
\warn '### my_bookings() as the superuser (no RLS)'
BEGIN; SELECT set_config('request.jwt.claims', :'claims', true);
SELECT * FROM gym_booking.my_bookings();
COMMIT;

\warn '### GET /bookings under RLS (as authenticated)'
BEGIN; :pre;
SELECT b.id, b.slot_id, b.status, b.status_changed_at FROM gym_booking.bookings AS b;
COMMIT;
\warn '### GET /bookings floor: superuser, athlete named in WHERE'
SELECT b.id, b.slot_id, b.status, b.status_changed_at FROM gym_booking.bookings AS b WHERE b.user_id = :'athlete';

\warn '### book_slot (as authenticated; rolled back)'
BEGIN; :pre;
SELECT * FROM gym_booking.book_slot(:'slot');
ROLLBACK;
\warn '### book_slot floor: bench_floor.book_slot (rolled back)'
BEGIN;
SELECT * FROM bench_floor.book_slot(:'slot', :'athlete');
ROLLBACK;

\warn '### cancel_booking (as authenticated; rolled back)'
BEGIN; :pre;
SELECT * FROM gym_booking.cancel_booking(:'booking');
ROLLBACK;

-- A batch fires the rules for every booking it completes: log only the statements that take 2 ms
-- or more (the batch UPDATE with its trigger totals, the call), not the rules' thousands of lookups.
SET auto_explain.log_min_duration = 2;
\warn '### complete_past_bookings (as service_role; rolled back)'
BEGIN;
SELECT set_config('role', 'service_role', true), set_config('request.jwt.claims', '{"role": "service_role"}', true);
SELECT gym_booking.complete_past_bookings(:batch);
ROLLBACK;
\warn '### complete_past_bookings floor: the batch UPDATE on bench_floor (rolled back)'
BEGIN;
WITH due AS (
    SELECT b.id FROM bench_floor.bookings AS b JOIN bench_floor.slots AS s ON s.id = b.slot_id
     WHERE b.status = 'reserved' AND s.end_at <= now()
     ORDER BY s.end_at, b.id LIMIT :batch FOR UPDATE OF b SKIP LOCKED)
UPDATE bench_floor.bookings AS b
   SET status = 'completed', status_changed_at = now(), auto_processed = true
  FROM due WHERE b.id = due.id;
ROLLBACK;
\warn '### end'

-- EXPLAIN ANALYZE of the hot requests of one studio shape and size (bench/shapes.sh), as the API
-- runs them: auto_explain logs every statement, nested ones too (the API's PL/pgSQL, the rules'
-- SPI statements), with trigger times. Output: LOG lines on stderr, one section per "### name".
-- Writes are rolled back. psql variables: athlete, trainer, slot, booking.
\set ON_ERROR_STOP 1
\o /dev/null
LOAD 'auto_explain';
SET auto_explain.log_analyze = on;
SET auto_explain.log_buffers = on;
SET auto_explain.log_timing = on;
SET auto_explain.log_triggers = on;
SET auto_explain.log_nested_statements = on;
SET client_min_messages = log;
\set claims '{"role": "authenticated", "sub": "' :athlete '"}'
\set tclaims '{"role": "authenticated", "sub": "' :trainer '"}'
\set pre 'SELECT set_config(''role'', ''authenticated'', true), set_config(''request.jwt.claims'', :''claims'', true)'
\set tpre 'SELECT set_config(''role'', ''authenticated'', true), set_config(''request.jwt.claims'', :''tclaims'', true)'
-- warm what a running server has warm (plans, catalog, the extension's prepared SQL)
SET auto_explain.log_min_duration = -1;
BEGIN; :pre; SELECT * FROM gym_booking.book_slot(:'slot'); SELECT * FROM gym_booking.cancel_booking(:'booking'); ROLLBACK;
SET auto_explain.log_min_duration = 0;

\warn '### book_slot'
BEGIN; :pre;
SELECT * FROM gym_booking.book_slot(:'slot');
ROLLBACK;
\warn '### cancel_booking'
BEGIN; :pre;
SELECT * FROM gym_booking.cancel_booking(:'booking');
ROLLBACK;
\warn '### my_bookings()'
BEGIN; :pre;
SELECT * FROM gym_booking.my_bookings();
COMMIT;
\warn '### GET /bookings'
BEGIN; :pre;
SELECT b.id, b.slot_id, b.status, b.status_changed_at FROM gym_booking.bookings AS b;
COMMIT;
\warn '### a trainer''s bookings of the last week'
BEGIN; :tpre;
SELECT s.id, s.start_at, coalesce(b_1.bookings, '[]') AS bookings
  FROM gym_booking.slots AS s
  LEFT JOIN LATERAL (
      SELECT json_agg(b_2) AS bookings
        FROM (SELECT b.id, b.user_id, b.status FROM gym_booking.bookings AS b WHERE b.slot_id = s.id) AS b_2
  ) AS b_1 ON true
 WHERE s.trainer_id = :'trainer' AND s.start_at >= now() - interval '7 days' AND s.start_at < now()
 ORDER BY s.start_at;
COMMIT;
\warn '### PL/pgSQL baseline: book_slot'
BEGIN; :pre;
SELECT * FROM bench_plpgsql.book_slot(:'slot');
ROLLBACK;
\warn '### PL/pgSQL baseline: a trainer''s bookings of the last week'
BEGIN; :tpre;
SELECT s.id, s.start_at, coalesce(b_1.bookings, '[]') AS bookings
  FROM bench_plpgsql.slots AS s
  LEFT JOIN LATERAL (
      SELECT json_agg(b_2) AS bookings
        FROM (SELECT b.id, b.user_id, b.status FROM bench_plpgsql.bookings AS b WHERE b.slot_id = s.id) AS b_2
  ) AS b_1 ON true
 WHERE s.trainer_id = :'trainer' AND s.start_at >= now() - interval '7 days' AND s.start_at < now()
 ORDER BY s.start_at;
COMMIT;
\warn '### end'

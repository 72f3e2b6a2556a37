-- EXPLAIN ANALYZE of the hot-slot cancellation with waitlist (issue 12), as the API runs it: one
-- athlete holding a place in a full slot cancels it (the rules book the first athlete waiting, in the
-- same transaction) and joins the line again; then the floor's same two calls. auto_explain logs every
-- statement, nested ones too, with trigger times; output on stderr, one section per "### name".
-- Both transactions are rolled back. Run after bench/sql/waitlist.sql.
\set ON_ERROR_STOP 1
\o /dev/null
LOAD 'auto_explain';
SET auto_explain.log_analyze = on;
SET auto_explain.log_buffers = on;
SET auto_explain.log_timing = on;
SET auto_explain.log_triggers = on;
SET auto_explain.log_nested_statements = on;
SET client_min_messages = log;
SET auto_explain.log_min_duration = -1;
\o
SELECT booking, athlete, slot, bench.slot_uuid(slot) AS slot_id, bench.athlete_uuid(athlete) AS athlete_id
  FROM bench.wl_pick('gym_booking', 'bench.wl_seq_ext') \gset
\o /dev/null
\set claims '{"role": "authenticated", "sub": "' :athlete_id '"}'
\set pre 'SELECT set_config(''role'', ''authenticated'', true), set_config(''request.jwt.claims'', :''claims'', true)'
-- warm the caches the measured requests find warm (plans, catalog, the extension's prepared SQL)
BEGIN; :pre; SELECT * FROM gym_booking.cancel_booking(:'booking'); SELECT * FROM gym_booking.join_waitlist(:'slot_id'); ROLLBACK;
SET auto_explain.log_min_duration = 0;

\warn '### cancel_booking of a full slot with a waitlist: the promotion (as authenticated; rolled back)'
BEGIN; :pre;
SELECT * FROM gym_booking.cancel_booking(:'booking');
\warn '### join_waitlist after the cancellation (as authenticated; rolled back)'
SELECT * FROM gym_booking.join_waitlist(:'slot_id');
ROLLBACK;

SET auto_explain.log_min_duration = -1;
\o
SELECT booking, athlete, slot, bench.slot_uuid(slot) AS slot_id, bench.athlete_uuid(athlete) AS athlete_id
  FROM bench.wl_pick('bench_floor', 'bench.wl_seq_floor') \gset
\o /dev/null
SET auto_explain.log_min_duration = 0;
\warn '### floor: bench_floor.cancel_and_promote, then bench_floor.join_waitlist (rolled back)'
BEGIN;
SELECT * FROM bench_floor.cancel_and_promote(:'booking', :'athlete_id');
SELECT * FROM bench_floor.join_waitlist(:'slot_id', :'athlete_id');
ROLLBACK;
SELECT pg_advisory_unlock_all();

-- EXPLAIN ANALYZE of the attendance reports (0.2.2), as the API runs them: one trainer's month (as the
-- trainer) and the studio's month (as an app admin) of slot_report, trainer_report and athlete_report over
-- the loaded history. auto_explain logs every statement, nested ones too (the report's query inside the
-- function, the helpers it calls per row), so the report can show that every table is reached by index.
-- Output: the LOG lines on stderr, one section per "### name" marker. psql variables: trainer, admin,
-- month_from, month_to.
\set ON_ERROR_STOP 1
\o /dev/null
LOAD 'auto_explain';
SET auto_explain.log_analyze = on;
SET auto_explain.log_buffers = on;
SET auto_explain.log_timing = on;
SET auto_explain.log_nested_statements = on;
SET client_min_messages = log;
\set trainer_claims '{"role": "authenticated", "sub": "' :trainer '"}'
\set admin_claims '{"role": "authenticated", "sub": "' :admin '"}'
\set as_trainer 'SELECT set_config(''role'', ''authenticated'', true), set_config(''request.jwt.claims'', :''trainer_claims'', true)'
\set as_admin 'SELECT set_config(''role'', ''authenticated'', true), set_config(''request.jwt.claims'', :''admin_claims'', true)'
-- warm the caches the measured requests find warm (plans, catalog, the functions' cached plans)
SET auto_explain.log_min_duration = -1;
BEGIN; :as_trainer; SELECT count(*) FROM gym_booking.slot_report(:'month_from', :'month_to'); COMMIT;
BEGIN; :as_admin; SELECT count(*) FROM gym_booking.athlete_report(:'month_from', :'month_to'); COMMIT;
SET auto_explain.log_min_duration = 0;

\warn '### slot_report: one trainer-month (as the trainer)'
BEGIN; :as_trainer;
SELECT count(*) FROM gym_booking.slot_report(:'month_from', :'month_to');
COMMIT;
\warn '### trainer_report: one trainer-month (as the trainer)'
BEGIN; :as_trainer;
SELECT count(*) FROM gym_booking.trainer_report(:'month_from', :'month_to');
COMMIT;
-- athlete_report runs two small statements per athlete (their strikes and suspension, by the strikes'
-- index): those are logged only when they take 1 ms or more (auto_explain counts whole milliseconds), as is
-- the report's own query (a month of bookings takes longer).
SET auto_explain.log_min_duration = 1;
\warn '### athlete_report: one trainer-month (as the trainer)'
BEGIN; :as_trainer;
SELECT count(*) FROM gym_booking.athlete_report(:'month_from', :'month_to');
COMMIT;
SET auto_explain.log_min_duration = 0;
\warn '### slot_report: the studio-month (as an app admin)'
BEGIN; :as_admin;
SELECT count(*) FROM gym_booking.slot_report(:'month_from', :'month_to');
COMMIT;
\warn '### trainer_report: the studio-month (as an app admin)'
BEGIN; :as_admin;
SELECT count(*) FROM gym_booking.trainer_report(:'month_from', :'month_to');
COMMIT;
SET auto_explain.log_min_duration = 1;
\warn '### athlete_report: the studio-month (as an app admin)'
BEGIN; :as_admin;
SELECT count(*) FROM gym_booking.athlete_report(:'month_from', :'month_to');
COMMIT;
\warn '### end'

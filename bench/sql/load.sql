-- Benchmark data, set-based and fast: psql -v trainers=… -v per_trainer=… -v athletes=… -v bookings=…
-- Loaded under session_replication_role = replica, so the extension's rule triggers (and the
-- foreign-key triggers) do not fire; the rows are built consistent by construction, then ANALYZEd.
--
-- Layout (K = per_trainer slots for each of the T trainers, g = k*T + (t-1) is a slot's number):
--   k in [0, K/2)        past slots, ended                          (bookings: completed, cancelled,
--                                                                    and 2 per slot still reserved = "due")
--   k in [K/2, 0.8K)     future slots, starting tomorrow, 8 h apart (bookings: reserved, some cancelled)
--   k in [0.8K, 0.9K)    "spread" slots: empty, capacity 20          (scenario 1)
--   k in [0.9K, K)       "hot" slots: empty, capacity 20             (scenario 2)
-- Booking n (0 <= n < bookings) sits in base slot j = n % BASE (BASE = 0.8*K*T; j < 0.3*K*T are the
-- future ones), position i = n / BASE, athlete 1 + (131*j + 769*i) % athletes (distinct within a slot).
-- Every id is a function of its number (bench.*_uuid), so pgbench scripts can name rows.
\set ON_ERROR_STOP 1
SET session_replication_role = replica;
SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';
SET work_mem = '256MB';

CREATE SCHEMA bench;
CREATE TABLE bench.params AS
SELECT :trainers::int AS trainers, :per_trainer::int AS per_trainer, :athletes::int AS athletes,
       :bookings::bigint AS bookings, date_trunc('hour', now()) AS h;

CREATE FUNCTION bench.user_uuid(n bigint) RETURNS uuid LANGUAGE sql IMMUTABLE
RETURN ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid;       -- 0 = admin, 1..T trainers
CREATE FUNCTION bench.athlete_uuid(n bigint) RETURNS uuid LANGUAGE sql IMMUTABLE
RETURN ('00000000-0000-4000-8001-' || lpad(n::text, 12, '0'))::uuid;
CREATE FUNCTION bench.slot_uuid(n bigint) RETURNS uuid LANGUAGE sql IMMUTABLE
RETURN ('00000000-0000-4000-9000-' || lpad(n::text, 12, '0'))::uuid;
CREATE FUNCTION bench.booking_uuid(n bigint) RETURNS uuid LANGUAGE sql IMMUTABLE
RETURN ('00000000-0000-4000-a000-' || lpad(n::text, 12, '0'))::uuid;

-- users ---------------------------------------------------------------------------------
INSERT INTO gym_booking.users (id, email, password_hash, first_name, last_name, role, contact_email)
SELECT bench.user_uuid(0), 'admin@bench.example', '$2a$10$benchbenchbenchbenchbe', 'Ada', 'Admin', 'admin'::gym_booking.user_role, NULL
UNION ALL
SELECT bench.user_uuid(t), 'trainer' || t || '@bench.example', '$2a$10$benchbenchbenchbenchbe',
       'Trainer', t::text, 'trainer', 'trainer' || t || '@bench.example'
  FROM generate_series(1, :trainers) AS t
UNION ALL
SELECT bench.athlete_uuid(a), 'athlete' || a || '@bench.example', '$2a$10$benchbenchbenchbenchbe',
       'Athlete', a::text, 'athlete', NULL
  FROM generate_series(1, :athletes) AS a;

INSERT INTO gym_booking.trainer_directory (trainer_id, display_name, contact_email, contact_phone)
SELECT id, concat_ws(' ', first_name, last_name), contact_email, contact_phone
  FROM gym_booking.users WHERE role = 'trainer';

-- slots ---------------------------------------------------------------------------------
INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes, capacity, notes, created_at, updated_at)
SELECT bench.slot_uuid(k::bigint * p.trainers + t - 1), bench.user_uuid(t), st, st + interval '60 minutes', 60, 20,
       CASE WHEN k % 3 = 0 THEN 'Small group strength' ELSE NULL END,
       least(st, p.h) - interval '30 days', least(st, p.h) - interval '30 days'
  FROM bench.params AS p,
       generate_series(1, p.trainers) AS t,
       generate_series(0, p.per_trainer - 1) AS k,
       LATERAL (SELECT CASE WHEN k < p.per_trainer / 2
                            THEN p.h - interval '2 hours' - (p.per_trainer / 2 - 1 - k) * interval '8 hours'
                            ELSE p.h + interval '1 day' + (k - p.per_trainer / 2) * interval '8 hours'
                       END + (t % 4) * interval '15 minutes' AS st) AS s;

-- bookings --------------------------------------------------------------------------------
CREATE TEMP TABLE b AS
SELECT n, j, i,
       1 + (131 * j + 769 * i) % p.athletes AS a,
       CASE WHEN j < fut THEN p.per_trainer::bigint * p.trainers / 2 + j ELSE j - fut END AS g,
       j < fut AS future
  FROM bench.params AS p,
       LATERAL (SELECT p.per_trainer::bigint * p.trainers * 8 / 10 AS base,
                       p.per_trainer::bigint * p.trainers * 3 / 10 AS fut) AS c,
       generate_series(0, p.bookings - 1) AS n,
       LATERAL (SELECT n % c.base AS j, n / c.base AS i) AS ji;

-- Rows come with their copy of the slot's trainer, as a restore brings them (the trigger that
-- keeps the copies fires under replica too, and keeps a copy that is given).
INSERT INTO gym_booking.bookings (id, slot_id, user_id, status, status_changed_at, auto_processed, created_at, updated_at,
                                  trainer_id)
SELECT bench.booking_uuid(b.n), bench.slot_uuid(b.g), bench.athlete_uuid(b.a), st.status,
       CASE st.status WHEN 'completed' THEN s.end_at + interval '5 minutes'
                      WHEN 'cancelled' THEN s.start_at - interval '2 days'
                      ELSE s.start_at - interval '7 days' END,
       st.status = 'completed',
       s.start_at - interval '7 days', s.start_at - interval '7 days', s.trainer_id
  FROM b
  JOIN gym_booking.slots AS s ON s.id = bench.slot_uuid(b.g)
 CROSS JOIN LATERAL (SELECT (CASE WHEN b.i % 6 = 5 THEN 'cancelled'
                                  WHEN b.future OR b.i < 2 THEN 'reserved'
                                  ELSE 'completed' END)::gym_booking.booking_status AS status) AS st;

-- the history and the audit trail such a database would have --------------------------------
INSERT INTO gym_booking.booking_status_history (booking_id, previous_status, current_status, changed_at, changed_by, auto_processed,
                                                trainer_id)
SELECT id, 'reserved', status, status_changed_at,
       CASE WHEN status = 'cancelled' THEN user_id END, auto_processed, trainer_id
  FROM gym_booking.bookings WHERE status <> 'reserved';

INSERT INTO gym_booking.activity_logs (entity_type, entity_id, action, changed_by, changed_by_role, changed_fields, metadata, created_at,
                                       trainer_id)
SELECT 'booking'::gym_booking.log_entity_type, id, 'create'::gym_booking.log_action_type, user_id, 'athlete'::gym_booking.user_role,
       jsonb_build_object('id', id, 'slot_id', slot_id, 'user_id', user_id, 'status', 'reserved',
                          'auto_processed', false, 'created_at', created_at, 'status_changed_at', created_at),
       '{"db_role": "authenticated", "source": "client"}'::jsonb, created_at, trainer_id
  FROM gym_booking.bookings
UNION ALL
SELECT 'booking', id, CASE WHEN status = 'completed' THEN 'status_auto_update' ELSE 'update' END::gym_booking.log_action_type,
       CASE WHEN status = 'cancelled' THEN user_id END, CASE WHEN status = 'cancelled' THEN 'athlete' END::gym_booking.user_role,
       jsonb_build_object('status', jsonb_build_object('old', 'reserved', 'new', status)),
       jsonb_build_object('db_role', CASE WHEN status = 'cancelled' THEN 'authenticated' ELSE 'postgres' END,
                          'source', CASE WHEN status = 'cancelled' THEN 'client' ELSE 'system' END),
       status_changed_at, trainer_id
  FROM gym_booking.bookings WHERE status <> 'reserved'
UNION ALL
SELECT 'slot', id, 'create', trainer_id, 'trainer',
       jsonb_build_object('id', id, 'trainer_id', trainer_id, 'start_at', start_at, 'end_at', end_at,
                          'capacity', capacity, 'duration_minutes', duration_minutes),
       '{"db_role": "authenticated", "source": "client"}', created_at, trainer_id
  FROM gym_booking.slots;

-- attendance (0.2.2 and later): every completed booking checked in by its slot's trainer ten
-- minutes after the end, one in ten a no-show and one in fifty of those excused by the admin a day
-- later; the two still-reserved ("due") bookings of each past slot stay unmarked. (No log rows for
-- the marks: no scenario reads them.) The report-query scenario reads these marks.
SELECT to_regclass('gym_booking.attendance') IS NOT NULL AS has_attendance \gset
\if :has_attendance
INSERT INTO gym_booking.attendance (booking_id, user_id, slot_id, trainer_id, mark, strike_at, marked_at, marked_by,
                                    excused_at, excused_by)
SELECT bk.id, bk.user_id, bk.slot_id, s.trainer_id,
       (CASE WHEN b.n % 10 = 3 THEN 'no_show' ELSE 'attended' END)::gym_booking.attendance_mark,
       s.start_at, s.end_at + interval '10 minutes', s.trainer_id,
       CASE WHEN b.n % 50 = 3 THEN s.end_at + interval '1 day' END,
       CASE WHEN b.n % 50 = 3 THEN bench.user_uuid(0) END
  FROM b
  JOIN gym_booking.bookings AS bk ON bk.id = bench.booking_uuid(b.n)
  JOIN gym_booking.slots AS s ON s.id = bk.slot_id
 WHERE bk.status = 'completed';
\endif

-- sequences the hot-booking scripts draw from (one per side, so both book the same slots)
CREATE SEQUENCE bench.hot_seq MINVALUE 0 START 0;
CREATE SEQUENCE bench.hot_seq_floor MINVALUE 0 START 0;
GRANT USAGE ON SCHEMA bench TO authenticated, service_role;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA bench TO authenticated, service_role;

RESET session_replication_role;

-- 4a. available_slots for one trainer-week, floor: the function's query, written for this case, as plain SQL.
-- The floor: the same envelope (BEGIN; the claims; the call; COMMIT) run as the superuser,
-- with no role switch, so no RLS; writes go to bench_floor (no triggers, no logs).
\set t random(1, :trainers)
\set d random(0, :days - 8)
\set a random(1, :athletes)
BEGIN;
SELECT set_config('request.jwt.claims', '{"aud":"authenticated","exp": 1893456000,"iat": 1764000000,"iss":"https://bench.supabase.co/auth/v1","sub":"00000000-0000-4000-8001-' || lpad((:a)::text, 12, '0') || '","email":"athlete' || (:a)::text || '@bench.example","phone":"","app_metadata":{"provider":"email","providers":["email"]},"user_metadata":{},"role":"authenticated","aal":"aal1","amr":[{"method":"password","timestamp": 1764000000}],"session_id":"5f1c1f7e-7d8c-4b7e-9a51-3b2f4c1d9e01","is_anonymous": false}', true);
SELECT s.id, s.trainer_id, d.display_name, s.start_at, s.end_at, s.duration_minutes,
       s.capacity, taken.booked, s.capacity - taken.booked, s.notes
  FROM gym_booking.slots AS s
  LEFT JOIN gym_booking.trainer_directory AS d ON d.trainer_id = s.trainer_id
 CROSS JOIN LATERAL (
       SELECT count(*)::integer AS booked
         FROM gym_booking.bookings AS b
        WHERE b.slot_id = s.id AND b.status = 'reserved') AS taken
 WHERE s.start_at >= greatest(date_trunc('hour', now()) + make_interval(days => 1 + :d), now())
   AND s.start_at < date_trunc('hour', now()) + make_interval(days => 8 + :d)
   AND s.cancelled_at IS NULL
   AND s.trainer_id = ('00000000-0000-4000-8000-' || lpad((:t)::text, 12, '0'))::uuid
 ORDER BY s.start_at, s.id;
COMMIT;

-- 5. my_bookings, floor: the function's query as plain SQL, for the athlete named outright.
-- The floor: the same envelope (BEGIN; the claims; the call; COMMIT) run as the superuser,
-- with no role switch, so no RLS; writes go to bench_floor (no triggers, no logs).
\set a random(1, :athletes)
BEGIN;
SELECT set_config('request.jwt.claims', '{"aud":"authenticated","exp": 1893456000,"iat": 1764000000,"iss":"https://bench.supabase.co/auth/v1","sub":"00000000-0000-4000-8001-' || lpad((:a)::text, 12, '0') || '","email":"athlete' || (:a)::text || '@bench.example","phone":"","app_metadata":{"provider":"email","providers":["email"]},"user_metadata":{},"role":"authenticated","aal":"aal1","amr":[{"method":"password","timestamp": 1764000000}],"session_id":"5f1c1f7e-7d8c-4b7e-9a51-3b2f4c1d9e01","is_anonymous": false}', true);
SELECT b.id, s.id, s.trainer_id, d.display_name, s.start_at, s.end_at, b.status,
       b.status_changed_at, s.notes
  FROM gym_booking.bookings AS b
  JOIN gym_booking.slots AS s ON s.id = b.slot_id
  LEFT JOIN gym_booking.trainer_directory AS d ON d.trainer_id = s.trainer_id
 WHERE b.user_id = ('00000000-0000-4000-8001-' || lpad((:a)::text, 12, '0'))::uuid
 ORDER BY s.start_at, b.id;
COMMIT;

-- 4b. available_slots for all trainers, one day.
-- One PostgREST request: BEGIN; role + JWT claims (set_config ..., true); the call; COMMIT.
\set t random(1, :trainers)
\set d random(0, :days - 8)
\set a random(1, :athletes)
BEGIN;
SELECT set_config('role', 'authenticated', true),
       set_config('request.jwt.claims', '{"aud":"authenticated","exp": 1893456000,"iat": 1764000000,"iss":"https://bench.supabase.co/auth/v1","sub":"00000000-0000-4000-8001-' || lpad((:a)::text, 12, '0') || '","email":"athlete' || (:a)::text || '@bench.example","phone":"","app_metadata":{"provider":"email","providers":["email"]},"user_metadata":{},"role":"authenticated","aal":"aal1","amr":[{"method":"password","timestamp": 1764000000}],"session_id":"5f1c1f7e-7d8c-4b7e-9a51-3b2f4c1d9e01","is_anonymous": false}', true);
SELECT * FROM gym_booking.available_slots(date_trunc('hour', now()) + make_interval(days => 1 + :d), date_trunc('hour', now()) + make_interval(days => 2 + :d));
COMMIT;

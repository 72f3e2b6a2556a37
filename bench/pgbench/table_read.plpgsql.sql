-- 5b. GET /bookings?select=id,slot_id,status,status_changed_at: PostgREST reading the table; RLS alone picks the rows.
-- PL/pgSQL baseline (bench/sql/plpgsql.sql): the same request against the hand-written rules and the seed's policies.
-- One PostgREST request: BEGIN; role + JWT claims (set_config ..., true); the call; COMMIT.
\set a random(1, :athletes)
BEGIN;
SELECT set_config('role', 'authenticated', true),
       set_config('request.jwt.claims', '{"aud":"authenticated","exp": 1893456000,"iat": 1764000000,"iss":"https://bench.supabase.co/auth/v1","sub":"00000000-0000-4000-8001-' || lpad((:a)::text, 12, '0') || '","email":"athlete' || (:a)::text || '@bench.example","phone":"","app_metadata":{"provider":"email","providers":["email"]},"user_metadata":{},"role":"authenticated","aal":"aal1","amr":[{"method":"password","timestamp": 1764000000}],"session_id":"5f1c1f7e-7d8c-4b7e-9a51-3b2f4c1d9e01","is_anonymous": false}', true);
SELECT b.id, b.slot_id, b.status, b.status_changed_at FROM bench_plpgsql.bookings AS b;
COMMIT;

-- 3. Cancel and re-book: an athlete cancels one of their reserved future bookings, then books the slot again
-- PL/pgSQL baseline (bench/sql/plpgsql.sql): the same request against the hand-written rules and the seed's policies.
--    (two requests, two transactions; the booking ends reserved, so it can be drawn again).
-- One PostgREST request: BEGIN; role + JWT claims (set_config ..., true); the call; COMMIT.
\set j :client_id + :clients * random(0, :fut / :clients - 1)
\set i random(0, :positions - 1)
\set n :i * :base + :j
\set g :fut0 + :j
\set a 1 + (131 * :j + 769 * :i) % :athletes
BEGIN;
SELECT set_config('role', 'authenticated', true),
       set_config('request.jwt.claims', '{"aud":"authenticated","exp": 1893456000,"iat": 1764000000,"iss":"https://bench.supabase.co/auth/v1","sub":"00000000-0000-4000-8001-' || lpad((:a)::text, 12, '0') || '","email":"athlete' || (:a)::text || '@bench.example","phone":"","app_metadata":{"provider":"email","providers":["email"]},"user_metadata":{},"role":"authenticated","aal":"aal1","amr":[{"method":"password","timestamp": 1764000000}],"session_id":"5f1c1f7e-7d8c-4b7e-9a51-3b2f4c1d9e01","is_anonymous": false}', true);
SELECT * FROM bench_plpgsql.cancel_booking(('00000000-0000-4000-a000-' || lpad((:n)::text, 12, '0'))::uuid);
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true),
       set_config('request.jwt.claims', '{"aud":"authenticated","exp": 1893456000,"iat": 1764000000,"iss":"https://bench.supabase.co/auth/v1","sub":"00000000-0000-4000-8001-' || lpad((:a)::text, 12, '0') || '","email":"athlete' || (:a)::text || '@bench.example","phone":"","app_metadata":{"provider":"email","providers":["email"]},"user_metadata":{},"role":"authenticated","aal":"aal1","amr":[{"method":"password","timestamp": 1764000000}],"session_id":"5f1c1f7e-7d8c-4b7e-9a51-3b2f4c1d9e01","is_anonymous": false}', true);
SELECT * FROM bench_plpgsql.book_slot(('00000000-0000-4000-9000-' || lpad((:g)::text, 12, '0'))::uuid);
COMMIT;

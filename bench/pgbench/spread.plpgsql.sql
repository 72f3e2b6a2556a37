-- 1. Spread booking: book_slot on a random one of the spread slots by a random one of the first :spread_athletes athletes.
-- PL/pgSQL baseline (bench/sql/plpgsql.sql): the same request against the hand-written rules and the seed's policies.
-- Each client books for its own athletes (athlete = client_id + 1 mod clients), so two requests in
-- flight never book the same slot for the same athlete (that race ends in 23505, see the report).
-- One PostgREST request: BEGIN; role + JWT claims (set_config ..., true); the call; COMMIT.
\set g :spread0 + random(0, :spreadn - 1)
\set a 1 + :client_id + :clients * random(0, :spread_athletes / :clients - 1)
BEGIN;
SELECT set_config('role', 'authenticated', true),
       set_config('request.jwt.claims', '{"aud":"authenticated","exp": 1893456000,"iat": 1764000000,"iss":"https://bench.supabase.co/auth/v1","sub":"00000000-0000-4000-8001-' || lpad((:a)::text, 12, '0') || '","email":"athlete' || (:a)::text || '@bench.example","phone":"","app_metadata":{"provider":"email","providers":["email"]},"user_metadata":{},"role":"authenticated","aal":"aal1","amr":[{"method":"password","timestamp": 1764000000}],"session_id":"5f1c1f7e-7d8c-4b7e-9a51-3b2f4c1d9e01","is_anonymous": false}', true);
SELECT * FROM bench_plpgsql.book_slot(('00000000-0000-4000-9000-' || lpad((:g)::text, 12, '0'))::uuid);
COMMIT;

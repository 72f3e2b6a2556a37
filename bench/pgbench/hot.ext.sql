-- 2. Hot booking: 16 clients booking the same slot, one slot after another.
-- One PostgREST request: BEGIN; role + JWT claims (set_config ..., true); the call; COMMIT.
-- A shared sequence hands out booking numbers: 20 in a row go to one hot slot (capacity 20),
-- each to a different athlete, so all 16 clients queue on the same one or two slot locks and
-- every request books (none is refused as full). Drawing the number is one extra round trip,
-- outside the request, on both sides.
SELECT nextval('bench.hot_seq') AS n \gset
\set g :hot0 + (:n / 20) % :hotn
\set a 1 + :n % :spread_athletes
BEGIN;
SELECT set_config('role', 'authenticated', true),
       set_config('request.jwt.claims', '{"aud":"authenticated","exp": 1893456000,"iat": 1764000000,"iss":"https://bench.supabase.co/auth/v1","sub":"00000000-0000-4000-8001-' || lpad((:a)::text, 12, '0') || '","email":"athlete' || (:a)::text || '@bench.example","phone":"","app_metadata":{"provider":"email","providers":["email"]},"user_metadata":{},"role":"authenticated","aal":"aal1","amr":[{"method":"password","timestamp": 1764000000}],"session_id":"5f1c1f7e-7d8c-4b7e-9a51-3b2f4c1d9e01","is_anonymous": false}', true);
SELECT * FROM gym_booking.book_slot(('00000000-0000-4000-9000-' || lpad((:g)::text, 12, '0'))::uuid);
COMMIT;

-- 7. Hot-slot cancellation with waitlist: a full slot (20 places) with athletes waiting (50), 16 clients
--    giving up places in it; each cancellation books the first waiting athlete in the same transaction,
--    and the athlete who cancelled joins the waitlist again at the back (two requests, two transactions;
--    the slot stays full with as many waiting, so the run can last). 20 cycles in a row on one slot,
--    then the next (bench/sql/waitlist.sql): all clients queue on the same one or two slot locks.
-- bench.wl_pick hands the client a place no other client holds (one extra round trip, outside the
-- requests, on every side: a read, as the superuser).
-- PL/pgSQL baseline (bench/sql/plpgsql.sql, plpgsql_week.sql): the same requests against the hand-written
-- rules (the same promotion in an AFTER UPDATE trigger) and the seed's policies.
SELECT booking, athlete, slot FROM bench.wl_pick('bench_plpgsql', 'bench.wl_seq_plpgsql') \gset
BEGIN;
SELECT set_config('role', 'authenticated', true),
       set_config('request.jwt.claims', '{"aud":"authenticated","exp": 1893456000,"iat": 1764000000,"iss":"https://bench.supabase.co/auth/v1","sub":"00000000-0000-4000-8001-' || lpad((:athlete)::text, 12, '0') || '","email":"athlete' || (:athlete)::text || '@bench.example","phone":"","app_metadata":{"provider":"email","providers":["email"]},"user_metadata":{},"role":"authenticated","aal":"aal1","amr":[{"method":"password","timestamp": 1764000000}],"session_id":"5f1c1f7e-7d8c-4b7e-9a51-3b2f4c1d9e01","is_anonymous": false}', true);
SELECT * FROM bench_plpgsql.cancel_booking((:booking)::uuid);
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true),
       set_config('request.jwt.claims', '{"aud":"authenticated","exp": 1893456000,"iat": 1764000000,"iss":"https://bench.supabase.co/auth/v1","sub":"00000000-0000-4000-8001-' || lpad((:athlete)::text, 12, '0') || '","email":"athlete' || (:athlete)::text || '@bench.example","phone":"","app_metadata":{"provider":"email","providers":["email"]},"user_metadata":{},"role":"authenticated","aal":"aal1","amr":[{"method":"password","timestamp": 1764000000}],"session_id":"5f1c1f7e-7d8c-4b7e-9a51-3b2f4c1d9e01","is_anonymous": false}', true);
SELECT * FROM bench_plpgsql.join_waitlist(('00000000-0000-4000-9000-' || lpad((:slot)::text, 12, '0'))::uuid);
COMMIT;

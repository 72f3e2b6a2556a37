-- 6. A trainer's bookings of the last week: their slots that started in the last 7 days, each with its
--    bookings, as PostgREST runs a trainer dashboard's
--    GET /slots?select=id,start_at,bookings(id,user_id,status)&trainer_id=eq.<me>&start_at=gte.…&start_at=lt.…
--    (an embedded resource is a LATERAL subquery per slot).
-- PL/pgSQL baseline: as authenticated, under the seed's policies (bench/sql/plpgsql.sql).
\set t random(1, :trainers)
BEGIN;
SELECT set_config('role', 'authenticated', true),
       set_config('request.jwt.claims', '{"aud":"authenticated","exp": 1893456000,"iat": 1764000000,"iss":"https://bench.supabase.co/auth/v1","sub":"00000000-0000-4000-8000-' || lpad((:t)::text, 12, '0') || '","email":"trainer' || (:t)::text || '@bench.example","phone":"","app_metadata":{"provider":"email","providers":["email"]},"user_metadata":{},"role":"authenticated","aal":"aal1","amr":[{"method":"password","timestamp": 1764000000}],"session_id":"5f1c1f7e-7d8c-4b7e-9a51-3b2f4c1d9e01","is_anonymous": false}', true);
SELECT s.id, s.start_at, coalesce(b_1.bookings, '[]') AS bookings
  FROM bench_plpgsql.slots AS s
  LEFT JOIN LATERAL (
      SELECT json_agg(b_2) AS bookings
        FROM (SELECT b.id, b.user_id, b.status FROM bench_plpgsql.bookings AS b WHERE b.slot_id = s.id) AS b_2
  ) AS b_1 ON true
 WHERE s.trainer_id = ('00000000-0000-4000-8000-' || lpad((:t)::text, 12, '0'))::uuid AND s.start_at >= now() - interval '7 days' AND s.start_at < now()
 ORDER BY s.start_at;
COMMIT;

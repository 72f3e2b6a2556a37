-- 8b. Attendance reports, the studio's month, floor: the three reports' queries written for this case, as
--     plain SQL (the same figures: slots by start, bookings by slot, marks by booking, promotions by
--     booking), run as the superuser with no role switch, so no RLS and no function calls.
BEGIN;
SELECT set_config('request.jwt.claims', '{"aud":"authenticated","exp": 1893456000,"iat": 1764000000,"iss":"https://bench.supabase.co/auth/v1","sub":"00000000-0000-4000-8000-000000000000","email":"admin@bench.example","phone":"","app_metadata":{"provider":"email","providers":["email"]},"user_metadata":{},"role":"authenticated","aal":"aal1","amr":[{"method":"password","timestamp": 1764000000}],"session_id":"5f1c1f7e-7d8c-4b7e-9a51-3b2f4c1d9e01","is_anonymous": false}', true);
SELECT s.id, s.trainer_id, (s.start_at AT TIME ZONE 'UTC')::date, s.start_at, s.capacity::integer,
       f.booked, f.attended, f.no_shows, f.cancellations, f.promotions, round(f.booked::numeric / s.capacity, 4)
  FROM gym_booking.slots AS s
 CROSS JOIN LATERAL (
       SELECT count(*) FILTER (WHERE b.status <> 'cancelled') AS booked,
              count(*) FILTER (WHERE b.status <> 'cancelled' AND a.mark = 'attended') AS attended,
              count(*) FILTER (WHERE b.status <> 'cancelled' AND a.mark = 'no_show') AS no_shows,
              count(*) FILTER (WHERE b.status = 'cancelled') AS cancellations,
              count(w.id) AS promotions
         FROM gym_booking.bookings AS b
         LEFT JOIN gym_booking.attendance AS a ON a.booking_id = b.id
         LEFT JOIN gym_booking.waitlist_entries AS w ON w.booking_id = b.id AND w.state = 'promoted'
        WHERE b.slot_id = s.id) AS f
 WHERE s.cancelled_at IS NULL
   AND s.start_at >= :month_from::date::timestamp AT TIME ZONE 'UTC'
   AND s.start_at < (:month_to::date + 1)::timestamp AT TIME ZONE 'UTC'
 ORDER BY s.start_at, s.id;
COMMIT;
BEGIN;
SELECT set_config('request.jwt.claims', '{"aud":"authenticated","exp": 1893456000,"iat": 1764000000,"iss":"https://bench.supabase.co/auth/v1","sub":"00000000-0000-4000-8000-000000000000","email":"admin@bench.example","phone":"","app_metadata":{"provider":"email","providers":["email"]},"user_metadata":{},"role":"authenticated","aal":"aal1","amr":[{"method":"password","timestamp": 1764000000}],"session_id":"5f1c1f7e-7d8c-4b7e-9a51-3b2f4c1d9e01","is_anonymous": false}', true);
SELECT x.trainer_id, u.first_name, u.last_name, count(*), sum(x.capacity), sum(x.booked), sum(x.attended),
       sum(x.no_shows), sum(x.cancellations), sum(x.promotions), round(sum(x.booked)::numeric / sum(x.capacity), 4)
  FROM (SELECT s.id, s.trainer_id, (s.start_at AT TIME ZONE 'UTC')::date, s.start_at, s.capacity::integer,
       f.booked, f.attended, f.no_shows, f.cancellations, f.promotions, round(f.booked::numeric / s.capacity, 4)
  FROM gym_booking.slots AS s
 CROSS JOIN LATERAL (
       SELECT count(*) FILTER (WHERE b.status <> 'cancelled') AS booked,
              count(*) FILTER (WHERE b.status <> 'cancelled' AND a.mark = 'attended') AS attended,
              count(*) FILTER (WHERE b.status <> 'cancelled' AND a.mark = 'no_show') AS no_shows,
              count(*) FILTER (WHERE b.status = 'cancelled') AS cancellations,
              count(w.id) AS promotions
         FROM gym_booking.bookings AS b
         LEFT JOIN gym_booking.attendance AS a ON a.booking_id = b.id
         LEFT JOIN gym_booking.waitlist_entries AS w ON w.booking_id = b.id AND w.state = 'promoted'
        WHERE b.slot_id = s.id) AS f
 WHERE s.cancelled_at IS NULL
   AND s.start_at >= :month_from::date::timestamp AT TIME ZONE 'UTC'
   AND s.start_at < (:month_to::date + 1)::timestamp AT TIME ZONE 'UTC') AS x (slot_id, trainer_id, day, start_at, capacity, booked, attended, no_shows,
                                  cancellations, promotions, utilization)
  JOIN gym_booking.users AS u ON u.id = x.trainer_id
 GROUP BY x.trainer_id, u.first_name, u.last_name
 ORDER BY x.trainer_id;
COMMIT;
BEGIN;
SELECT set_config('request.jwt.claims', '{"aud":"authenticated","exp": 1893456000,"iat": 1764000000,"iss":"https://bench.supabase.co/auth/v1","sub":"00000000-0000-4000-8000-000000000000","email":"admin@bench.example","phone":"","app_metadata":{"provider":"email","providers":["email"]},"user_metadata":{},"role":"authenticated","aal":"aal1","amr":[{"method":"password","timestamp": 1764000000}],"session_id":"5f1c1f7e-7d8c-4b7e-9a51-3b2f4c1d9e01","is_anonymous": false}', true);
SELECT r.user_id, u.first_name, u.last_name, r.bookings, r.attended, r.no_shows, r.cancellations,
       CASE WHEN r.attended + r.no_shows > 0 THEN round(r.attended::numeric / (r.attended + r.no_shows), 4) END,
       CASE WHEN r.attended + r.no_shows > 0 THEN round(r.no_shows::numeric / (r.attended + r.no_shows), 4) END,
       (SELECT count(*) FROM gym_booking.attendance AS k
         WHERE k.user_id = r.user_id AND k.mark = 'no_show' AND k.excused_at IS NULL
           AND k.strike_at > now() - interval '30 days' AND k.strike_at <= now()),
       NULL::timestamptz
  FROM (SELECT b.user_id,
               count(*) FILTER (WHERE b.status <> 'cancelled') AS bookings,
               count(*) FILTER (WHERE b.status <> 'cancelled' AND a.mark = 'attended') AS attended,
               count(*) FILTER (WHERE b.status <> 'cancelled' AND a.mark = 'no_show') AS no_shows,
               count(*) FILTER (WHERE b.status = 'cancelled') AS cancellations
          FROM gym_booking.slots AS s
          JOIN gym_booking.bookings AS b ON b.slot_id = s.id
          LEFT JOIN gym_booking.attendance AS a ON a.booking_id = b.id
         WHERE s.cancelled_at IS NULL
   AND s.start_at >= :month_from::date::timestamp AT TIME ZONE 'UTC'
   AND s.start_at < (:month_to::date + 1)::timestamp AT TIME ZONE 'UTC'
         GROUP BY b.user_id) AS r
  JOIN gym_booking.users AS u ON u.id = r.user_id
 ORDER BY r.user_id;
COMMIT;

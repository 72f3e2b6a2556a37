-- 4a'. available_slots for one trainer-week, floor, the query alone: one client, plain SQL as the superuser.
\set t random(1, :trainers)
\set d random(0, :days - 8)
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

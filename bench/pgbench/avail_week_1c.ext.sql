-- 4a'. available_slots for one trainer-week, the call alone: one client, one statement per
-- transaction, as authenticated (role set at connection start by PGOPTIONS), so its latency is
-- the call's own, without the envelope's three round trips or queueing behind 15 other clients.
\set t random(1, :trainers)
\set d random(0, :days - 8)
SELECT * FROM gym_booking.available_slots(date_trunc('hour', now()) + make_interval(days => 1 + :d), date_trunc('hour', now()) + make_interval(days => 8 + :d), ('00000000-0000-4000-8000-' || lpad((:t)::text, 12, '0'))::uuid);

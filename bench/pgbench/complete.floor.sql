-- 6. complete_past_bookings, floor: the same batch statement on bench_floor, no history, no log.
-- The floor: the same envelope (BEGIN; the claims; the call; COMMIT) run as the superuser,
-- with no role switch, so no RLS; writes go to bench_floor (no triggers, no logs).
BEGIN;
SELECT set_config('request.jwt.claims', '{"iss":"supabase","ref":"bench","role":"service_role","iat": 1764000000,"exp": 1893456000}', true);
WITH due AS (
    SELECT b.id
      FROM bench_floor.bookings AS b
      JOIN bench_floor.slots AS s ON s.id = b.slot_id
     WHERE b.status = 'reserved' AND s.end_at <= now()
     ORDER BY s.end_at, b.id
     LIMIT :batch
       FOR UPDATE OF b SKIP LOCKED)
UPDATE bench_floor.bookings AS b
   SET status = 'completed', status_changed_at = now(), auto_processed = true
  FROM due WHERE b.id = due.id;
COMMIT;

-- 6. complete_past_bookings(:batch) as service_role (a cron job); 16 callers side by side (SKIP LOCKED).
-- One PostgREST request: BEGIN; role + JWT claims (set_config ..., true); the call; COMMIT.
BEGIN;
SELECT set_config('role', 'service_role', true),
       set_config('request.jwt.claims', '{"iss":"supabase","ref":"bench","role":"service_role","iat": 1764000000,"exp": 1893456000}', true);
SELECT gym_booking.complete_past_bookings(:batch);
COMMIT;

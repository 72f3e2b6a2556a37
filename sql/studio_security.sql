-- Who may see and change the studio's settings, waitlists and events (release 0.2.0).

-- Settings: every client reads them (they say when booking opens, how many may wait); the app
-- admin changes them (the DBA too, as the owner). Nobody but the DBA inserts or deletes the row.
GRANT SELECT ON studio_settings TO anon, authenticated, service_role;
GRANT UPDATE (time_zone, cancellation_window, booking_opens_before, booking_closes_before,
              max_upcoming_bookings, waitlist_enabled, waitlist_max, waitlist_cutoff,
              attendance_grace, auto_no_show, no_show_strike_limit, strike_window, suspension,
              timetable_horizon, event_retention)
    ON studio_settings TO authenticated;
GRANT SELECT ON studio_settings_history TO authenticated, service_role;

ALTER TABLE studio_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE studio_settings_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY everyone_reads ON studio_settings
    FOR SELECT TO anon, authenticated USING (true);
CREATE POLICY admin_changes ON studio_settings
    FOR UPDATE TO authenticated
    USING ((SELECT is_app_admin())) WITH CHECK ((SELECT is_app_admin()));
CREATE POLICY admin_reads ON studio_settings_history
    FOR SELECT TO authenticated USING ((SELECT is_app_admin()));

-- Waitlist entries: read by the athlete, the slot's trainer and the app admin; written only by
-- the API (join_waitlist, leave_waitlist) and the rules, running as the extension's owner.
GRANT SELECT ON waitlist_entries TO authenticated, service_role;
ALTER TABLE waitlist_entries ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_entries ON waitlist_entries
    FOR SELECT TO authenticated USING (user_id = (SELECT active_user_id()));
CREATE POLICY trainer_slot_entries ON waitlist_entries
    FOR SELECT TO authenticated USING (trainer_id = (SELECT active_user_id()));
CREATE POLICY admin_all ON waitlist_entries
    FOR SELECT TO authenticated
    USING (id >= (SELECT CASE WHEN is_app_admin() THEN '00000000-0000-0000-0000-000000000000'::uuid END)
       AND id <= (SELECT 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
       AND joined_at >= (SELECT '-infinity'::timestamptz)
       AND joined_at <= (SELECT 'infinity'::timestamptz));

-- Events: a recipient reads their own (Supabase Realtime streams what RLS lets them read); the
-- delivery worker (service_role) claims and acknowledges them through claim_events and
-- ack_events; the rules write them.
GRANT SELECT ON events TO authenticated, service_role;
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_events ON events
    FOR SELECT TO authenticated USING (recipient_id = (SELECT active_user_id()));
-- The app admin reads them all, as the service role does (the range arm: see security.sql).
CREATE POLICY admin_all ON events
    FOR SELECT TO authenticated
    USING (id >= (SELECT CASE WHEN is_app_admin() THEN -9223372036854775808 END)
       AND id <= (SELECT 9223372036854775807)
       AND created_at >= (SELECT '-infinity'::timestamptz)
       AND created_at <= (SELECT 'infinity'::timestamptz));

-- Sequences: nobody's but the owner's (the rules draw from them), as every sequence here.
REVOKE ALL ON SEQUENCE waitlist_queue, events_id_seq, studio_settings_history_id_seq FROM PUBLIC;

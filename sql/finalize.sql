-- pg_dump leaves an extension's tables out unless they are registered here:
-- registered, a dump of the database keeps every user, slot, booking, log and history row.

SELECT pg_catalog.pg_extension_config_dump('users', '');
SELECT pg_catalog.pg_extension_config_dump('slots', '');
SELECT pg_catalog.pg_extension_config_dump('bookings', '');
SELECT pg_catalog.pg_extension_config_dump('activity_logs', '');
SELECT pg_catalog.pg_extension_config_dump('booking_status_history', '');
SELECT pg_catalog.pg_extension_config_dump('booking_status_history_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('trainer_directory', '');
-- 0.2.0: the settings row (a restored one replaces the row CREATE EXTENSION made), their
-- history, waitlist entries and their order, events.
SELECT pg_catalog.pg_extension_config_dump('studio_settings', '');
SELECT pg_catalog.pg_extension_config_dump('studio_settings_history', '');
SELECT pg_catalog.pg_extension_config_dump('studio_settings_history_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('waitlist_entries', '');
SELECT pg_catalog.pg_extension_config_dump('waitlist_queue', '');
SELECT pg_catalog.pg_extension_config_dump('events', '');
SELECT pg_catalog.pg_extension_config_dump('events_id_seq', '');
-- 0.2.1: weekly series (their occurrences are slots).
SELECT pg_catalog.pg_extension_config_dump('series', '');
-- 0.2.1: calendar feed tokens (their hashes: a restored database's feeds keep working).
SELECT pg_catalog.pg_extension_config_dump('calendar_tokens', '');
-- 0.2.2: attendance marks, and where the auto no-show sweep has got to.
SELECT pg_catalog.pg_extension_config_dump('attendance', '');
SELECT pg_catalog.pg_extension_config_dump('attendance_sweep', '');

-- Function privileges, last, once every function exists. PostgreSQL grants EXECUTE to
-- PUBLIC by default; here nothing runs unless granted. (Trigger functions need no grant.)
-- Names are qualified: pg_catalog comes first in the search_path, and it has a version().
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA gym_booking FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gym_booking.current_user_id(), gym_booking.version()
    TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION active_user_id(), current_app_role(), is_app_admin(), is_trainer(),
    signed_in()
    TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION
    book_slot(uuid),
    cancel_booking(uuid),
    create_slot(timestamptz, integer, integer, text),
    cancel_slot(uuid),
    available_slots(timestamptz, timestamptz, uuid),
    available_slots_counted(timestamptz, timestamptz, uuid),
    my_bookings(timestamptz, timestamptz),
    complete_past_bookings(integer),
    delete_my_account(),
    join_waitlist(uuid),
    leave_waitlist(uuid),
    waitlist_join(uuid),
    waitlist_leave(uuid),
    my_waitlist(),
    lock_booking_slot(uuid),
    promote_waitlists(),
    expire_waitlists(),
    purge_events(integer),
    notify_events(integer),
    create_series(integer[], time, date, date, integer, integer, text, text, uuid),
    edit_series(uuid, integer[], time, integer, integer, text, date, text, boolean),
    cancel_series(uuid, date),
    extend_timetables(),
    series_start_at(date, time, text)
    TO authenticated, service_role;
-- The delivery worker's (service_role, or an app admin: the functions check).
GRANT EXECUTE ON FUNCTION claim_events(integer, interval), ack_events(bigint[]), acts_for_the_gym()
    TO authenticated, service_role;
-- 0.2.1: calendar feeds. Anyone with a token reads its feed (anon: a calendar app has no JWT);
-- tokens are the signed-in person's own. calendar_render() is the feed's, no client's.
GRANT EXECUTE ON FUNCTION calendar_feed(text), calendar_ics(text) TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION calendar_token(), revoke_calendar_token() TO authenticated, service_role;
REVOKE EXECUTE ON FUNCTION calendar_render(jsonb) FROM PUBLIC;
-- 0.2.2: attendance. Check-in, rosters and reports check who asks (the slot's trainer, the
-- gym; an athlete their own report and strikes); the rest is theirs, no client's.
GRANT EXECUTE ON FUNCTION
    mark_attendance(uuid, attendance_mark),
    excuse_no_show(uuid),
    record_no_shows(integer),
    slot_roster(uuid),
    athlete_suspension(uuid),
    slot_report(date, date, uuid),
    trainer_report(date, date, uuid),
    athlete_report(date, date, uuid)
    TO authenticated, service_role;

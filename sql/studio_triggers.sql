-- Release 0.2.0's rules, attached to the tables (src/rules/settings.rs, waitlist.rs, events.rs).

-- studio_settings ---------------------------------------------------------------------
CREATE TRIGGER studio_settings_guard_tg
    BEFORE UPDATE OR DELETE ON studio_settings
    FOR EACH ROW EXECUTE FUNCTION studio_settings_guard();
CREATE TRIGGER studio_settings_history_tg
    AFTER UPDATE ON studio_settings
    FOR EACH ROW EXECUTE FUNCTION studio_settings_history();
-- Enabled ALWAYS: a restored dump's row replaces the row CREATE EXTENSION made, whatever the
-- loader's session_replication_role.
CREATE TRIGGER studio_settings_replace_tg
    BEFORE INSERT ON studio_settings
    FOR EACH ROW EXECUTE FUNCTION studio_settings_replace();
ALTER TABLE studio_settings ENABLE ALWAYS TRIGGER studio_settings_replace_tg;

-- waitlists -----------------------------------------------------------------------------
CREATE TRIGGER waitlist_entries_trainer_tg
    BEFORE INSERT ON waitlist_entries
    FOR EACH ROW EXECUTE FUNCTION follow_slot_trainer();
ALTER TABLE waitlist_entries ENABLE ALWAYS TRIGGER waitlist_entries_trainer_tg;
-- A place added by a larger capacity goes to the waitlist (one freed by a cancellation: the
-- bookings' trigger booking_events_tg below).
CREATE TRIGGER slots_waitlist_promote_tg
    AFTER UPDATE OF capacity ON slots
    FOR EACH ROW WHEN (NEW.capacity > OLD.capacity AND NEW.cancelled_at IS NULL)
    EXECUTE FUNCTION slot_grows();

-- events --------------------------------------------------------------------------------
-- A reserved booking also ends its athlete's waiting for that slot (a promotion, or their
-- own), and a cancelled one hands its place to the waitlist: one trigger (src/rules/events.rs).
CREATE TRIGGER booking_events_tg
    AFTER INSERT OR UPDATE OF status ON bookings
    FOR EACH ROW EXECUTE FUNCTION booking_events();
CREATE TRIGGER slots_changed_events_tg
    AFTER UPDATE OF trainer_id, notes ON slots
    FOR EACH ROW WHEN (OLD.trainer_id IS DISTINCT FROM NEW.trainer_id
                       OR OLD.notes IS DISTINCT FROM NEW.notes)
    EXECUTE FUNCTION slot_changed_events();

-- records are kept ------------------------------------------------------------------------
CREATE TRIGGER studio_settings_truncate_guard_tg
    BEFORE TRUNCATE ON studio_settings FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();
CREATE TRIGGER studio_settings_history_truncate_guard_tg
    BEFORE TRUNCATE ON studio_settings_history FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();
CREATE TRIGGER waitlist_entries_truncate_guard_tg
    BEFORE TRUNCATE ON waitlist_entries FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();

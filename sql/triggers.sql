-- The business rules, attached to the tables. Each function is Rust (src/rules/).
-- Ordinary triggers: they fire for every origin write, whoever writes, and not under
-- session_replication_role = replica (a logical replica applies already-checked rows).
-- Triggers of one kind fire in name order.

-- users ------------------------------------------------------------------------------
CREATE TRIGGER users_soft_delete_tg
    BEFORE INSERT OR UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION users_soft_delete();
CREATE TRIGGER users_delete_as_soft_delete_tg
    BEFORE DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_delete_as_soft_delete();
CREATE TRIGGER users_updated_at_tg
    BEFORE INSERT OR UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER users_activity_log_tg
    AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION activity_log();
CREATE TRIGGER users_soft_delete_cascade_tg
    AFTER UPDATE ON users
    FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
    EXECUTE FUNCTION users_soft_delete_cascade();
CREATE TRIGGER trainer_directory_refresh_tg
    AFTER INSERT OR UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION trainer_directory_refresh();

-- slots ------------------------------------------------------------------------------
-- Before any row: the writer's own users row (the lock order, src/rules/lock_order.rs).
CREATE TRIGGER slots_lock_writer_first_tg
    BEFORE INSERT OR UPDATE OR DELETE ON slots
    FOR EACH STATEMENT EXECUTE FUNCTION lock_writer_first();
CREATE TRIGGER slots_booking_guard_tg
    BEFORE UPDATE ON slots
    FOR EACH ROW EXECUTE FUNCTION slots_booking_guard();
CREATE TRIGGER slots_normalize_tg
    BEFORE INSERT OR UPDATE ON slots
    FOR EACH ROW EXECUTE FUNCTION slots_normalize();
CREATE TRIGGER slots_updated_at_tg
    BEFORE INSERT OR UPDATE ON slots
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER slots_delete_guard_tg
    BEFORE DELETE ON slots
    FOR EACH ROW EXECUTE FUNCTION slots_delete_guard();
CREATE TRIGGER slots_activity_log_tg
    AFTER INSERT OR UPDATE OR DELETE ON slots
    FOR EACH ROW EXECUTE FUNCTION activity_log();
CREATE TRIGGER slots_cancel_cascade_tg
    AFTER UPDATE ON slots
    FOR EACH ROW WHEN (OLD.cancelled_at IS NULL AND NEW.cancelled_at IS NOT NULL)
    EXECUTE FUNCTION slots_cancel_cascade();

-- bookings ---------------------------------------------------------------------------
CREATE TRIGGER bookings_lock_writer_first_tg
    BEFORE INSERT OR UPDATE OR DELETE ON bookings
    FOR EACH STATEMENT EXECUTE FUNCTION lock_writer_first();
CREATE TRIGGER bookings_capacity_guard_tg
    BEFORE INSERT OR UPDATE ON bookings
    FOR EACH ROW EXECUTE FUNCTION bookings_capacity_guard();
CREATE TRIGGER bookings_delete_guard_tg
    BEFORE DELETE ON bookings
    FOR EACH ROW EXECUTE FUNCTION bookings_delete_guard();
CREATE TRIGGER bookings_updated_at_tg
    BEFORE INSERT OR UPDATE ON bookings
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER bookings_activity_log_tg
    AFTER INSERT OR UPDATE OR DELETE ON bookings
    FOR EACH ROW EXECUTE FUNCTION activity_log();
CREATE TRIGGER booking_status_history_tg
    AFTER UPDATE ON bookings
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION booking_status_history();

-- the slot's trainer, copied onto what hangs off a slot (src/rules/trainer.rs) ------------
-- Enabled ALWAYS: a row loaded with the other rules off (session_replication_role = replica)
-- that does not bring its trainer gets it too; one that does keeps it.
CREATE TRIGGER bookings_trainer_tg
    BEFORE INSERT ON bookings
    FOR EACH ROW EXECUTE FUNCTION follow_slot_trainer();
ALTER TABLE bookings ENABLE ALWAYS TRIGGER bookings_trainer_tg;
CREATE TRIGGER bookings_trainer_kept_tg
    BEFORE UPDATE ON bookings
    FOR EACH ROW WHEN (OLD.trainer_id IS DISTINCT FROM NEW.trainer_id)
    EXECUTE FUNCTION follow_slot_trainer();
CREATE TRIGGER booking_status_history_trainer_tg
    BEFORE INSERT ON booking_status_history
    FOR EACH ROW EXECUTE FUNCTION follow_slot_trainer();
ALTER TABLE booking_status_history ENABLE ALWAYS TRIGGER booking_status_history_trainer_tg;
CREATE TRIGGER activity_logs_trainer_tg
    BEFORE INSERT ON activity_logs
    FOR EACH ROW WHEN (NEW.entity_type <> 'user')
    EXECUTE FUNCTION follow_slot_trainer();
ALTER TABLE activity_logs ENABLE ALWAYS TRIGGER activity_logs_trainer_tg;
CREATE TRIGGER slots_trainer_cascade_tg
    AFTER UPDATE ON slots
    FOR EACH ROW WHEN (OLD.trainer_id IS DISTINCT FROM NEW.trainer_id)
    EXECUTE FUNCTION slot_trainer_cascade();
CREATE TRIGGER slots_trainer_forget_tg
    AFTER DELETE ON slots
    FOR EACH ROW EXECUTE FUNCTION slot_trainer_forget();
CREATE TRIGGER bookings_trainer_forget_tg
    AFTER DELETE ON bookings
    FOR EACH ROW EXECUTE FUNCTION slot_trainer_forget();

-- trainer_directory ------------------------------------------------------------------
CREATE TRIGGER trainer_directory_updated_at_tg
    BEFORE UPDATE ON trainer_directory
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- records are kept ----------------------------------------------------------------------
CREATE TRIGGER users_truncate_guard_tg
    BEFORE TRUNCATE ON users FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();
CREATE TRIGGER slots_truncate_guard_tg
    BEFORE TRUNCATE ON slots FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();
CREATE TRIGGER bookings_truncate_guard_tg
    BEFORE TRUNCATE ON bookings FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();
CREATE TRIGGER booking_status_history_truncate_guard_tg
    BEFORE TRUNCATE ON booking_status_history FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();
CREATE TRIGGER activity_logs_truncate_guard_tg
    BEFORE TRUNCATE ON activity_logs FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();

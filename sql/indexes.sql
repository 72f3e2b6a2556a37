-- The seed's named indexes. Primary keys and bookings_slot_user_key bring their own.

CREATE UNIQUE INDEX users_email_idx ON users (email);
CREATE INDEX users_role_active_idx ON users (role, deleted_at);

CREATE INDEX slots_trainer_start_idx ON slots (trainer_id, start_at);
CREATE INDEX slots_time_idx ON slots USING gist (tstzrange(start_at, end_at));

CREATE INDEX bookings_slot_status_idx ON bookings (slot_id, status);
CREATE INDEX bookings_user_status_idx ON bookings (user_id, status);

CREATE INDEX activity_logs_entity_idx ON activity_logs (entity_type, entity_id, created_at DESC);

CREATE INDEX booking_status_history_booking_idx ON booking_status_history (booking_id, changed_at DESC);

-- Beyond the seed: what the policies, available_slots and the completion batch read by.
-- Row-level security on activity_logs picks a caller's own entries by changed_by.
CREATE INDEX activity_logs_changed_by_idx ON activity_logs (changed_by);
-- available_slots for all trainers: bookable slots by start.
CREATE INDEX slots_start_active_idx ON slots (start_at) WHERE cancelled_at IS NULL;
-- complete_past_bookings(): ended slots, oldest first.
CREATE INDEX slots_end_at_idx ON slots (end_at);
-- Row-level security: a trainer's bookings, history and log entries, by the copy of the slot's
-- trainer each carries (src/rules/trainer.rs); log entries about users have none.
CREATE INDEX bookings_trainer_idx ON bookings (trainer_id);
CREATE INDEX booking_status_history_trainer_idx ON booking_status_history (trainer_id);
CREATE INDEX activity_logs_trainer_idx ON activity_logs (trainer_id) WHERE trainer_id IS NOT NULL;

-- What the table constraints refuse. Where a rule (a trigger) meets bad input first, its own
-- error shows instead; 02 to 05 are the rules.
SET search_path = gym_booking, public;
\set VERBOSITY terse

INSERT INTO users (id, email, password_hash, first_name, role, contact_email) VALUES
    ('00000000-0000-4000-a000-000000000011', 'tess@gym.example', 'hash', 'Tess', 'trainer', 'tess@gym.example'),
    ('00000000-0000-4000-a000-000000000101', 'alex@mail.example', 'hash', 'Alex', 'athlete', NULL);

-- Emails are unique whatever their case (citext).
INSERT INTO users (email, password_hash, first_name) VALUES ('ALEX@Mail.Example', 'hash', 'Alex again');

-- A trainer needs a way to be contacted.
INSERT INTO users (email, password_hash, first_name, role) VALUES ('mute@gym.example', 'hash', 'Mute', 'trainer');

-- A user is anonymous exactly when deleted. The rules keep the two in step (04_users: marking
-- a user anonymous deletes the account); the constraint stands behind them, as a row written
-- without the rules shows (session_replication_role = replica: a logical replica's apply).
SET session_replication_role = replica;
UPDATE users SET is_anonymous = true WHERE email = 'alex@mail.example';
RESET session_replication_role;

-- A new user is an athlete with no preferences unless told otherwise.
INSERT INTO users (email, password_hash, first_name) VALUES ('new@mail.example', 'hash', 'New')
RETURNING role, preferences, is_anonymous, deleted_at;

-- Slots: 30 to 240 minutes, 1 to 20 places, and end_at agrees with duration_minutes.
INSERT INTO slots (trainer_id, start_at, end_at, duration_minutes, capacity)
VALUES ('00000000-0000-4000-a000-000000000011', '2030-01-07 09:00+00', '2030-01-07 10:30+00', 90, 4)
RETURNING start_at, end_at, duration_minutes, capacity;
INSERT INTO slots (trainer_id, start_at, end_at, duration_minutes)
VALUES ('00000000-0000-4000-a000-000000000011', '2030-01-07 09:00+00', '2030-01-07 09:15+00', 15);
INSERT INTO slots (trainer_id, start_at, end_at, capacity)
VALUES ('00000000-0000-4000-a000-000000000011', '2030-01-07 09:00+00', '2030-01-07 10:00+00', 21);
INSERT INTO slots (trainer_id, start_at, end_at, duration_minutes)
VALUES ('00000000-0000-4000-a000-000000000011', '2030-01-07 09:00+00', '2030-01-07 10:00+00', 45);
INSERT INTO slots (trainer_id, start_at, end_at)
VALUES ('00000000-0000-4000-a000-000000000011', '2030-01-07 10:00+00', '2030-01-07 09:00+00');

-- One booking per athlete and slot (booking again after cancelling re-activates that row).
INSERT INTO bookings (slot_id, user_id)
SELECT id, '00000000-0000-4000-a000-000000000101' FROM slots
RETURNING status, auto_processed;
INSERT INTO bookings (slot_id, user_id)
SELECT id, '00000000-0000-4000-a000-000000000101' FROM slots;

-- An activity log entry must say what changed: a non-empty JSON object.
INSERT INTO activity_logs (entity_type, entity_id, action, changed_fields)
VALUES ('slot', '00000000-0000-4000-a000-00000000ffff', 'update', '{}');
INSERT INTO activity_logs (entity_type, entity_id, action, changed_fields)
VALUES ('slot', '00000000-0000-4000-a000-00000000ffff', 'update', '["capacity"]');

-- A status history row records a real change.
INSERT INTO booking_status_history (booking_id, previous_status, current_status)
SELECT id, 'reserved', 'reserved' FROM bookings;

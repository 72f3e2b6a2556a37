-- Enumerated types, exactly as the seed design names them.

CREATE TYPE user_role AS ENUM ('admin', 'trainer', 'athlete');
COMMENT ON TYPE user_role IS 'What a user is in the app: admin, trainer or athlete';

CREATE TYPE booking_status AS ENUM ('reserved', 'cancelled', 'completed');
COMMENT ON TYPE booking_status IS 'Lifecycle of a booking: reserved -> cancelled | completed';

CREATE TYPE log_entity_type AS ENUM ('user', 'slot', 'booking');
COMMENT ON TYPE log_entity_type IS 'Kind of row an activity_logs entry is about';

CREATE TYPE log_action_type AS ENUM ('create', 'update', 'delete', 'status_auto_update');
COMMENT ON TYPE log_action_type IS 'What happened to the row an activity_logs entry is about';

-- Tables of the seed design (../shared/seed/schema-design.txt) as DESIGN.md reads it.
-- Constraints state what a constraint can state; the rules that need other rows
-- (capacity, the cancellation window, soft delete, logs) are trigger functions.

CREATE TABLE users (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email         citext      NOT NULL,
    password_hash text        NOT NULL,
    first_name    text        NOT NULL,
    last_name     text,
    role          user_role   NOT NULL DEFAULT 'athlete',
    contact_email citext,
    contact_phone text,
    preferences   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    is_anonymous  boolean     NOT NULL DEFAULT false,
    deleted_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- A deleted trainer is anonymized: no contact channel is left, and none is needed.
    CONSTRAINT users_trainer_contact_check
        CHECK (role <> 'trainer' OR deleted_at IS NOT NULL
               OR contact_email IS NOT NULL OR contact_phone IS NOT NULL),
    -- Soft delete: a deleted row is anonymized, and only a deleted row is.
    CONSTRAINT users_soft_delete_check
        CHECK (is_anonymous = (deleted_at IS NOT NULL)),
    -- Sizes (DESIGN.md): what a person is called and reached by, and a small settings object.
    CONSTRAINT users_email_length_check CHECK (char_length(email) <= 254),
    CONSTRAINT users_first_name_length_check CHECK (char_length(first_name) <= 100),
    CONSTRAINT users_last_name_length_check CHECK (char_length(last_name) <= 100),
    CONSTRAINT users_contact_email_length_check CHECK (char_length(contact_email) <= 254),
    CONSTRAINT users_contact_phone_length_check CHECK (char_length(contact_phone) <= 32),
    CONSTRAINT users_preferences_check
        CHECK (jsonb_typeof(preferences) = 'object' AND octet_length(preferences::text) <= 8192)
);
COMMENT ON TABLE users IS
    'People using the app (athletes, trainers, admins); never hard-deleted: deletion anonymizes the row';
COMMENT ON COLUMN users.password_hash IS 'Credential hash kept in step by the auth system; never returned to clients';
COMMENT ON COLUMN users.deleted_at IS 'Set once, never cleared: the moment the account was deleted and anonymized';

CREATE TABLE slots (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    trainer_id       uuid        NOT NULL REFERENCES users (id),
    start_at         timestamptz NOT NULL,
    end_at           timestamptz NOT NULL,
    duration_minutes smallint    NOT NULL DEFAULT 60,
    capacity         smallint    NOT NULL DEFAULT 1,
    notes            text,
    cancelled_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT slots_time_order_check CHECK (end_at > start_at),
    CONSTRAINT slots_duration_minutes_check CHECK (duration_minutes BETWEEN 30 AND 240),
    CONSTRAINT slots_capacity_check CHECK (capacity BETWEEN 1 AND 20),
    -- duration_minutes and end_at always agree (DESIGN.md); timestamptz - timestamptz is immutable.
    CONSTRAINT slots_duration_matches_times_check
        CHECK (end_at - start_at = make_interval(mins => duration_minutes)),
    CONSTRAINT slots_notes_length_check CHECK (char_length(notes) <= 2000)
);
COMMENT ON TABLE slots IS
    'Sessions a trainer offers; overlapping slots are allowed; cancel (cancelled_at) rather than delete';

CREATE TABLE bookings (
    id                uuid           PRIMARY KEY DEFAULT gen_random_uuid(),
    slot_id           uuid           NOT NULL REFERENCES slots (id) ON DELETE CASCADE,
    user_id           uuid           NOT NULL REFERENCES users (id),
    status            booking_status NOT NULL DEFAULT 'reserved',
    status_changed_at timestamptz    NOT NULL DEFAULT now(),
    auto_processed    boolean        NOT NULL DEFAULT false,
    created_at        timestamptz    NOT NULL DEFAULT now(),
    updated_at        timestamptz    NOT NULL DEFAULT now(),
    -- The slot's trainer, copied by the rules (src/rules/trainer.rs): row-level security finds
    -- a trainer's bookings by it. NULL only for a slot that does not exist (the foreign key
    -- refuses the row).
    trainer_id        uuid,
    -- Booking again after cancelling re-activates this same row.
    CONSTRAINT bookings_slot_user_key UNIQUE (slot_id, user_id)
);
COMMENT ON TABLE bookings IS 'One athlete''s place in one slot; reserved places never exceed the slot''s capacity';

CREATE TABLE activity_logs (
    id              uuid            PRIMARY KEY DEFAULT gen_random_uuid(),
    entity_type     log_entity_type NOT NULL,
    entity_id       uuid            NOT NULL,
    action          log_action_type NOT NULL,
    changed_by      uuid            REFERENCES users (id),
    changed_by_role user_role,
    changed_fields  jsonb           NOT NULL,
    metadata        jsonb           NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz     NOT NULL DEFAULT now(),
    -- For an entry about a slot or a booking: the slot's trainer, copied by the rules
    -- (src/rules/trainer.rs), who may read the entry.
    trainer_id      uuid,
    -- The seed's CHECK is not valid SQL; its intent is: a non-empty JSON object.
    CONSTRAINT activity_logs_changed_fields_check
        CHECK (jsonb_typeof(changed_fields) = 'object' AND changed_fields <> '{}'::jsonb)
);
COMMENT ON TABLE activity_logs IS 'Audit trail of users, slots and bookings, written only by the extension''s triggers';
COMMENT ON COLUMN activity_logs.changed_fields IS 'Only the columns that changed; PII redacted, password_hash never present';

CREATE TABLE booking_status_history (
    id              bigserial      PRIMARY KEY,
    booking_id      uuid           NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    previous_status booking_status NOT NULL,
    current_status  booking_status NOT NULL,
    changed_at      timestamptz    NOT NULL DEFAULT now(),
    changed_by      uuid           REFERENCES users (id),
    auto_processed  boolean        NOT NULL DEFAULT false,
    -- The booking's slot's trainer, copied by the rules (src/rules/trainer.rs).
    trainer_id      uuid,
    CONSTRAINT booking_status_history_change_check CHECK (previous_status <> current_status)
);
COMMENT ON TABLE booking_status_history IS 'One row per booking status change, in order, for analytics';

CREATE TABLE trainer_directory (
    trainer_id    uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    display_name  text        NOT NULL,
    contact_email citext,
    contact_phone text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE trainer_directory IS
    'Public list of active trainers, kept in step with users by trigger; read-only for clients';

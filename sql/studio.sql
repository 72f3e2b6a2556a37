-- Release 0.2.0, the studio's week (DESIGN.md Part 2): studio settings, waitlists and the
-- event outbox. The seed's four enums keep their values; new states live in new types and
-- tables. Rules: src/rules/settings.rs, waitlist.rs, events.rs.

-- Studio settings -------------------------------------------------------------------------

-- One row, made with the extension (and kept by a dump: a restored row replaces the one a new
-- CREATE EXTENSION makes, see studio_settings_restore in triggers). The defaults keep 0.1's
-- behaviour. Intervals are bounded: a setting is a policy of a studio, never a way to make the
-- rules compute a time PostgreSQL cannot store.
CREATE TABLE studio_settings (
    id                    boolean     PRIMARY KEY DEFAULT true
                                      CONSTRAINT studio_settings_one_row CHECK (id),
    time_zone             text        NOT NULL DEFAULT 'UTC'
                                      CONSTRAINT studio_settings_time_zone_length
                                      CHECK (length(time_zone) BETWEEN 1 AND 64),
    cancellation_window   interval    NOT NULL DEFAULT '60 minutes'
                                      CONSTRAINT studio_settings_cancellation_window_range
                                      CHECK (cancellation_window BETWEEN '0' AND '30 days'),
    booking_opens_before  interval    CONSTRAINT studio_settings_booking_opens_before_range
                                      CHECK (booking_opens_before BETWEEN '1 minute' AND '366 days'),
    booking_closes_before interval    NOT NULL DEFAULT '0'
                                      CONSTRAINT studio_settings_booking_closes_before_range
                                      CHECK (booking_closes_before BETWEEN '0' AND '30 days'),
    max_upcoming_bookings integer     CONSTRAINT studio_settings_max_upcoming_bookings_range
                                      CHECK (max_upcoming_bookings BETWEEN 1 AND 1000),
    waitlist_enabled      boolean     NOT NULL DEFAULT true,
    waitlist_max          integer     CONSTRAINT studio_settings_waitlist_max_range
                                      CHECK (waitlist_max BETWEEN 1 AND 1000),
    waitlist_cutoff       interval    CONSTRAINT studio_settings_waitlist_cutoff_range
                                      CHECK (waitlist_cutoff BETWEEN '0' AND '30 days'),
    attendance_grace      interval    NOT NULL DEFAULT '24 hours'
                                      CONSTRAINT studio_settings_attendance_grace_range
                                      CHECK (attendance_grace BETWEEN '0' AND '30 days'),
    auto_no_show          boolean     NOT NULL DEFAULT false,
    no_show_strike_limit  integer     CONSTRAINT studio_settings_no_show_strike_limit_range
                                      CHECK (no_show_strike_limit BETWEEN 1 AND 100),
    strike_window         interval    NOT NULL DEFAULT '30 days'
                                      CONSTRAINT studio_settings_strike_window_range
                                      CHECK (strike_window BETWEEN '1 day' AND '366 days'),
    suspension            interval    NOT NULL DEFAULT '7 days'
                                      CONSTRAINT studio_settings_suspension_range
                                      CHECK (suspension BETWEEN '0' AND '366 days'),
    timetable_horizon     interval    NOT NULL DEFAULT '8 weeks'
                                      CONSTRAINT studio_settings_timetable_horizon_range
                                      CHECK (timetable_horizon BETWEEN '1 day' AND '366 days'),
    event_retention       interval    NOT NULL DEFAULT '30 days'
                                      CONSTRAINT studio_settings_event_retention_range
                                      CHECK (event_retention BETWEEN '1 day' AND '3660 days'),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    updated_by            uuid
);
COMMENT ON TABLE studio_settings IS
    'The studio''s settings: one row (id = true); the DBA or an app admin changes it with UPDATE';
COMMENT ON COLUMN studio_settings.time_zone IS
    'The studio''s wall clock, an IANA name from pg_timezone_names';
COMMENT ON COLUMN studio_settings.waitlist_cutoff IS
    'No joining and no promotion later than this before the start; NULL: the cancellation window';
COMMENT ON COLUMN studio_settings.updated_by IS
    'Who changed the settings last (a user id; NULL: the DBA or the system)';
INSERT INTO studio_settings DEFAULT VALUES;

CREATE TABLE studio_settings_history (
    id              bigserial   PRIMARY KEY,
    changed_at      timestamptz NOT NULL DEFAULT now(),
    changed_by      uuid,
    changed_by_role user_role,
    changed_fields  jsonb       NOT NULL
        CONSTRAINT studio_settings_history_changed_fields_check
        CHECK (jsonb_typeof(changed_fields) = 'object' AND changed_fields <> '{}'::jsonb)
);
COMMENT ON TABLE studio_settings_history IS
    'Every change of the studio settings: who, when, each changed setting as {"old": ..., "new": ...}';

-- Waitlists -------------------------------------------------------------------------------

CREATE TYPE waitlist_state AS ENUM ('waiting', 'promoted', 'left', 'expired', 'removed');
COMMENT ON TYPE waitlist_state IS
    'A waitlist entry: waiting, or ended as promoted (booked from the list), left, expired (the slot started or was cancelled) or removed (the account was deleted)';

CREATE SEQUENCE waitlist_queue;
COMMENT ON SEQUENCE waitlist_queue IS 'First come, first served: the order of waitlist entries';

CREATE TABLE waitlist_entries (
    id         uuid           PRIMARY KEY DEFAULT gen_random_uuid(),
    slot_id    uuid           NOT NULL REFERENCES slots (id),
    user_id    uuid           NOT NULL REFERENCES users (id),
    -- The slot's trainer, copied by the rules (src/rules/trainer.rs), who may read the entry.
    trainer_id uuid,
    queue_no   bigint         NOT NULL DEFAULT nextval('waitlist_queue'),
    joined_at  timestamptz    NOT NULL DEFAULT now(),
    state      waitlist_state NOT NULL DEFAULT 'waiting',
    ended_at   timestamptz,
    booking_id uuid           REFERENCES bookings (id),
    CONSTRAINT waitlist_entries_ended_check CHECK ((state = 'waiting') = (ended_at IS NULL)),
    CONSTRAINT waitlist_entries_promoted_check CHECK ((state = 'promoted') = (booking_id IS NOT NULL))
);
ALTER SEQUENCE waitlist_queue OWNED BY waitlist_entries.queue_no;
COMMENT ON TABLE waitlist_entries IS
    'Athletes waiting for a place in a full slot, first come first served; written only by the API and the rules';

-- One waiting entry per slot and athlete; the queue of a slot, in order; an athlete's entries.
CREATE UNIQUE INDEX waitlist_entries_one_waiting_idx
    ON waitlist_entries (slot_id, user_id) WHERE state = 'waiting';
CREATE INDEX waitlist_entries_queue_idx
    ON waitlist_entries (slot_id, queue_no) WHERE state = 'waiting';
CREATE INDEX waitlist_entries_user_idx ON waitlist_entries (user_id, state);
CREATE INDEX waitlist_entries_trainer_idx ON waitlist_entries (trainer_id);
CREATE INDEX waitlist_entries_booking_idx ON waitlist_entries (booking_id) WHERE booking_id IS NOT NULL;
ALTER TABLE waitlist_entries ALTER COLUMN trainer_id SET (n_distinct = -1);

-- Events: a transactional outbox -----------------------------------------------------------

CREATE TYPE event_kind AS ENUM ('booking_confirmed', 'booking_cancelled', 'waitlist_promoted',
                                'waitlist_expired', 'slot_cancelled', 'slot_changed',
                                'no_show_recorded');
COMMENT ON TYPE event_kind IS 'What an event tells its recipient';

CREATE TABLE events (
    id            bigserial   PRIMARY KEY,
    -- No foreign key: its check would lock the recipient's users row (FOR KEY SHARE) after the
    -- slot and bookings of the change, out of the lock order (an account deletion holds that
    -- row and waits for the slot). The rules write only existing users here.
    recipient_id  uuid        NOT NULL,
    kind          event_kind  NOT NULL,
    slot_id       uuid,
    booking_id    uuid,
    payload       jsonb       NOT NULL DEFAULT '{}'::jsonb
        CONSTRAINT events_payload_check CHECK (jsonb_typeof(payload) = 'object'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    claimed_until timestamptz,
    attempts      integer     NOT NULL DEFAULT 0,
    delivered_at  timestamptz,
    -- When the relay (the background worker, or notify_events()) sent its NOTIFY.
    notified_at   timestamptz
);
COMMENT ON TABLE events IS
    'What people should hear about, written by the rules in the same transaction as the change (NOTIFY gym_booking_events after commit, by the relay)';

-- A recipient's events, newest first; the delivery worker's queue; the relay's. (The purge
-- walks the primary key from the oldest id: no index on created_at for every event to pay.)
CREATE INDEX events_recipient_idx ON events (recipient_id, id);
CREATE INDEX events_undelivered_idx ON events (id) WHERE delivered_at IS NULL;
CREATE INDEX events_unnotified_idx ON events (id) WHERE notified_at IS NULL;

\echo Use "ALTER EXTENSION gym_booking UPDATE TO '0.2.0'" to load this file. \quit

-- ==========================================================================================
-- BEGIN upgrade lock (issue 19; scripts/upgrade_paths.sh copies this section to the top of
-- every direct upgrade script). Clients wait for an upgrade and never deadlock with it.
-- Requests take their tables a statement at a time, in an order that differs from path to
-- path (book_slot reads slots first, cancel_booking updates bookings first, the rules'
-- triggers reach users and the log later), so no order of LOCK TABLE avoids them all: an
-- upgrade holding one table while it waits for the next closes a circle with a request that
-- holds the next and waits for the first, and one of them gets 40P01. So this upgrade never
-- waits long while it holds anything: it takes every table it changes in one statement
-- (slots and bookings first, the tables most requests take first: fewer retries under load),
-- each wait bounded to a tenth of deadlock_timeout (at most 100 ms), so that no request's
-- deadlock check ever finds it; when a table stays busy it lets go of all of them, pauses a
-- moment and tries again. Requests that arrive meanwhile wait for it, briefly. A lock_timeout
-- of the upgrading session bounds the whole wait (55P03), as it bounds a plain LOCK TABLE.
-- ==========================================================================================
DO $upgrade_lock$
DECLARE
    session_lock_timeout text := current_setting('lock_timeout');
    give_up_after interval := nullif(current_setting('lock_timeout'), '0')::interval;
    each_wait interval :=
        least(interval '100 ms', current_setting('deadlock_timeout')::interval / 10);
    started timestamptz := clock_timestamp();
    tries int := 0;
BEGIN
    PERFORM set_config('lock_timeout',
                       greatest(1, (extract(epoch FROM each_wait) * 1000)::int) || 'ms', true);
    LOOP
        BEGIN
            LOCK TABLE slots, bookings, users, activity_logs, booking_status_history
                IN ACCESS EXCLUSIVE MODE;
            EXIT;
        EXCEPTION WHEN lock_not_available THEN
            tries := tries + 1;
            IF clock_timestamp() - started > give_up_after THEN
                RAISE EXCEPTION 'gym_booking''s tables stayed busy for lock_timeout (%): no upgrade',
                                session_lock_timeout
                    USING ERRCODE = 'lock_not_available',
                          HINT = 'Try again, or raise lock_timeout for the upgrading session.';
            END IF;
            PERFORM pg_sleep(random() * least(tries, 10) * 0.01);
        END;
    END LOOP;
    PERFORM set_config('lock_timeout', session_lock_timeout, true);
END
$upgrade_lock$;
-- END upgrade lock

-- Release 0.2.0: studio settings, waitlists, booking windows and limits, the event outbox
-- (issue 12). The rules themselves are in the new library (which keeps a database's 0.1 rules
-- until this script has run); this script adds their tables, triggers, policies and API, and
-- replaces the functions whose SQL changed.

-- Tables, types and indexes (as sql/studio.sql) ---------------------------------------
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

-- A recipient's events, newest first; the delivery worker's queue; the purge.
CREATE INDEX events_recipient_idx ON events (recipient_id, id);
CREATE INDEX events_undelivered_idx ON events (id) WHERE delivered_at IS NULL;
CREATE INDEX events_created_idx ON events (created_at);
CREATE INDEX events_unnotified_idx ON events (id) WHERE notified_at IS NULL;

-- Functions of the library ----------------------------------------------------------------
CREATE  FUNCTION "waitlist_join"(
	"slot_id" uuid /* pgrx :: Uuid */
) RETURNS uuid /* pgrx :: Uuid */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'waitlist_join_wrapper';

CREATE  FUNCTION "waitlist_leave"(
	"slot_id" uuid /* pgrx :: Uuid */
) RETURNS uuid /* pgrx :: Uuid */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'waitlist_leave_wrapper';

CREATE  FUNCTION "promote_waitlists"() RETURNS INT /* i32 */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'promote_waitlists_wrapper';

CREATE  FUNCTION "expire_waitlists"() RETURNS bigint /* i64 */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'expire_waitlists_wrapper';

CREATE  FUNCTION "lock_booking_slot"(
	"booking_id" uuid /* pgrx :: Uuid */
) RETURNS void
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'lock_booking_slot_wrapper';

CREATE  FUNCTION "purge_events"(
	"max_rows" INT DEFAULT 10000 /* i32 */
) RETURNS bigint /* i64 */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'purge_events_wrapper';

CREATE  FUNCTION "notify_events"(
	"max_events" INT DEFAULT 10000 /* i32 */
) RETURNS bigint /* i64 */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'notify_events_wrapper';

CREATE  FUNCTION "acts_for_the_gym"() RETURNS bool /* bool */
STRICT STABLE PARALLEL RESTRICTED
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'acts_for_the_gym_wrapper';

CREATE FUNCTION "studio_settings_guard"()
	RETURNS TRIGGER
	LANGUAGE c
	AS 'MODULE_PATHNAME', 'studio_settings_guard_wrapper';

CREATE FUNCTION "studio_settings_history"()
	RETURNS TRIGGER
	LANGUAGE c
	AS 'MODULE_PATHNAME', 'studio_settings_history_wrapper';

CREATE FUNCTION "studio_settings_replace"()
	RETURNS TRIGGER
	LANGUAGE c
	AS 'MODULE_PATHNAME', 'studio_settings_replace_wrapper';

CREATE FUNCTION "booking_ends_waiting"()
	RETURNS TRIGGER
	LANGUAGE c
	AS 'MODULE_PATHNAME', 'booking_ends_waiting_wrapper';

CREATE FUNCTION "booking_frees_place"()
	RETURNS TRIGGER
	LANGUAGE c
	AS 'MODULE_PATHNAME', 'booking_frees_place_wrapper';

CREATE FUNCTION "slot_grows"()
	RETURNS TRIGGER
	LANGUAGE c
	AS 'MODULE_PATHNAME', 'slot_grows_wrapper';

CREATE FUNCTION "booking_events"()
	RETURNS TRIGGER
	LANGUAGE c
	AS 'MODULE_PATHNAME', 'booking_events_wrapper';

CREATE FUNCTION "slot_changed_events"()
	RETURNS TRIGGER
	LANGUAGE c
	AS 'MODULE_PATHNAME', 'slot_changed_events_wrapper';

-- Triggers (as sql/studio_triggers.sql) ----------------------------------------------------
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
-- A reserved booking ends its athlete's waiting for that slot (a promotion, or their own).
CREATE TRIGGER booking_waitlist_end_tg
    AFTER INSERT OR UPDATE OF status ON bookings
    FOR EACH ROW WHEN (NEW.status = 'reserved')
    EXECUTE FUNCTION booking_ends_waiting();
-- A place freed by a cancellation, or added by a larger capacity, goes to the waitlist.
CREATE TRIGGER booking_waitlist_promote_tg
    AFTER UPDATE OF status ON bookings
    FOR EACH ROW WHEN (OLD.status = 'reserved' AND NEW.status = 'cancelled')
    EXECUTE FUNCTION booking_frees_place();
CREATE TRIGGER slots_waitlist_promote_tg
    AFTER UPDATE OF capacity ON slots
    FOR EACH ROW WHEN (NEW.capacity > OLD.capacity AND NEW.cancelled_at IS NULL)
    EXECUTE FUNCTION slot_grows();

-- events --------------------------------------------------------------------------------
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

-- Grants and row-level security (as sql/studio_security.sql) -------------------------------
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

-- The API (as sql/studio_api.sql, and sql/api.sql for what changed) ------------------------
-- cancel_booking takes the booking's slot first (the lock order: the freed place goes to the
-- waitlist under the slot's lock).
CREATE OR REPLACE FUNCTION cancel_booking(booking_id uuid) RETURNS bookings
LANGUAGE plpgsql VOLATILE STRICT SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    booking gym_booking.bookings;
BEGIN
    IF gym_booking.current_user_id() IS NULL THEN
        RAISE EXCEPTION 'sign in to cancel a booking' USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- The slot before the booking (the lock order): the freed place goes to the waitlist
    -- under the slot's lock.
    PERFORM gym_booking.lock_booking_slot(cancel_booking.booking_id);
    UPDATE gym_booking.bookings AS b SET status = 'cancelled'
     WHERE b.id = cancel_booking.booking_id AND b.status = 'reserved'
    RETURNING * INTO booking;
    IF FOUND THEN
        RETURN booking;
    END IF;
    SELECT * INTO booking FROM gym_booking.bookings AS b WHERE b.id = cancel_booking.booking_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'booking % not found', cancel_booking.booking_id USING ERRCODE = 'undefined_object';
    ELSIF booking.status = 'completed' THEN
        RAISE EXCEPTION 'a completed booking is final' USING ERRCODE = 'invalid_parameter_value';
    ELSIF booking.status = 'reserved' THEN
        -- Visible (a trainer's slot) but not the caller's to change.
        RAISE EXCEPTION 'only the athlete or the gym cancels a booking' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN booking;  -- already cancelled
END
$$;
COMMENT ON FUNCTION cancel_booking(uuid) IS
    'Cancels the caller''s booking (until 60 minutes before the start; an admin any time)';

-- available_slots gains the waiting count (a new result column: dropped and made again).
DROP FUNCTION available_slots(timestamptz, timestamptz, uuid);
DROP FUNCTION available_slots_counted(timestamptz, timestamptz, uuid);
CREATE FUNCTION available_slots_counted(p_from timestamptz, p_to timestamptz, p_trainer_id uuid)
RETURNS TABLE (
    slot_id uuid,
    trainer_id uuid,
    trainer_name text,
    start_at timestamptz,
    end_at timestamptz,
    duration_minutes smallint,
    capacity smallint,
    booked integer,
    available integer,
    waiting integer,
    notes text
)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    -- As reading slots requires: a deleted account's token, or a client's token without a
    -- sub, sees nothing.
    IF NOT gym_booking.signed_in() THEN
        RETURN;
    END IF;
    IF p_trainer_id IS NOT NULL THEN
        RETURN QUERY
        SELECT s.id, s.trainer_id, d.display_name, s.start_at, s.end_at, s.duration_minutes,
               s.capacity, taken.booked, s.capacity - taken.booked, queued.waiting, s.notes
          FROM gym_booking.slots AS s
          LEFT JOIN gym_booking.trainer_directory AS d ON d.trainer_id = s.trainer_id
         CROSS JOIN LATERAL (
               SELECT count(*)::integer AS booked
                 FROM gym_booking.bookings AS b
                WHERE b.slot_id = s.id AND b.status = 'reserved') AS taken
         CROSS JOIN LATERAL (
               SELECT count(*)::integer AS waiting
                 FROM gym_booking.waitlist_entries AS w
                WHERE w.slot_id = s.id AND w.state = 'waiting') AS queued
         WHERE s.trainer_id = p_trainer_id
           AND s.start_at >= greatest(p_from, statement_timestamp())
           AND s.start_at < p_to
           AND s.cancelled_at IS NULL
         ORDER BY s.start_at, s.id;
    ELSE
        RETURN QUERY
        SELECT s.id, s.trainer_id, d.display_name, s.start_at, s.end_at, s.duration_minutes,
               s.capacity, taken.booked, s.capacity - taken.booked, queued.waiting, s.notes
          FROM gym_booking.slots AS s
          LEFT JOIN gym_booking.trainer_directory AS d ON d.trainer_id = s.trainer_id
         CROSS JOIN LATERAL (
               SELECT count(*)::integer AS booked
                 FROM gym_booking.bookings AS b
                WHERE b.slot_id = s.id AND b.status = 'reserved') AS taken
         CROSS JOIN LATERAL (
               SELECT count(*)::integer AS waiting
                 FROM gym_booking.waitlist_entries AS w
                WHERE w.slot_id = s.id AND w.state = 'waiting') AS queued
         WHERE s.start_at >= greatest(p_from, statement_timestamp())
           AND s.start_at < p_to
           AND s.cancelled_at IS NULL
         ORDER BY s.start_at, s.id;
    END IF;
END
$$;
COMMENT ON FUNCTION available_slots_counted(timestamptz, timestamptz, uuid) IS
    'The body of available_slots (call that instead): bookable slots with their counts';

CREATE FUNCTION available_slots(
    "from" timestamptz DEFAULT now(),
    "to" timestamptz DEFAULT now() + interval '7 days',
    trainer_id uuid DEFAULT NULL
) RETURNS TABLE (
    slot_id uuid,
    trainer_id uuid,
    trainer_name text,
    start_at timestamptz,
    end_at timestamptz,
    duration_minutes smallint,
    capacity smallint,
    booked integer,
    available integer,
    waiting integer,
    notes text
)
LANGUAGE sql STABLE SECURITY INVOKER
AS $$
    SELECT * FROM gym_booking.available_slots_counted(available_slots."from", available_slots."to",
                                                      available_slots.trainer_id)
$$;
COMMENT ON FUNCTION available_slots(timestamptz, timestamptz, uuid) IS
    'Bookable slots starting in [from, to) (not before now), optionally of one trainer: capacity, booked, available, waiting';

-- Release 0.2.0's API: waitlists and the event outbox (PostgREST: POST /rpc/<name>).

CREATE FUNCTION join_waitlist(slot_id uuid) RETURNS waitlist_entries
LANGUAGE plpgsql VOLATILE STRICT SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    entry_id uuid := gym_booking.waitlist_join(join_waitlist.slot_id);
    entry gym_booking.waitlist_entries;
BEGIN
    SELECT * INTO entry FROM gym_booking.waitlist_entries AS w WHERE w.id = entry_id;
    RETURN entry;
END
$$;
COMMENT ON FUNCTION join_waitlist(uuid) IS
    'The caller joins the waitlist of a full slot (joining twice is joining once); returns the entry';

CREATE FUNCTION leave_waitlist(slot_id uuid) RETURNS waitlist_entries
LANGUAGE plpgsql VOLATILE STRICT SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    entry_id uuid := gym_booking.waitlist_leave(leave_waitlist.slot_id);
    entry gym_booking.waitlist_entries;
BEGIN
    SELECT * INTO entry FROM gym_booking.waitlist_entries AS w WHERE w.id = entry_id;
    RETURN entry;
END
$$;
COMMENT ON FUNCTION leave_waitlist(uuid) IS
    'The caller leaves the waitlist of a slot (joining again goes to the back); returns the entry';

-- SECURITY DEFINER: a position counts the other athletes waiting ahead, whom row-level
-- security hides from the caller; only counts leave, never who waits.
CREATE FUNCTION my_waitlist() RETURNS TABLE (
    entry_id uuid,
    slot_id uuid,
    trainer_id uuid,
    trainer_name text,
    start_at timestamptz,
    end_at timestamptz,
    "position" integer,
    waiting integer,
    joined_at timestamptz
)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT w.id, s.id, s.trainer_id, d.display_name, s.start_at, s.end_at,
           (SELECT count(*) FROM gym_booking.waitlist_entries AS a
             WHERE a.slot_id = w.slot_id AND a.state = 'waiting' AND a.queue_no <= w.queue_no)::integer,
           (SELECT count(*) FROM gym_booking.waitlist_entries AS a
             WHERE a.slot_id = w.slot_id AND a.state = 'waiting')::integer,
           w.joined_at
      FROM gym_booking.waitlist_entries AS w
      JOIN gym_booking.slots AS s ON s.id = w.slot_id
      LEFT JOIN gym_booking.trainer_directory AS d ON d.trainer_id = s.trainer_id
     WHERE w.user_id = gym_booking.active_user_id() AND w.state = 'waiting'
       AND s.start_at > statement_timestamp()
     ORDER BY s.start_at, w.queue_no
$$;
COMMENT ON FUNCTION my_waitlist() IS
    'The caller''s places on waitlists of slots not yet started: position (1 = next) and how many wait';

-- The delivery worker's (service_role's, or an app admin's: they may do what the service role
-- may): claim a batch, send it, acknowledge it. A claim is a lease: events not acknowledged
-- before it ends are claimed again (at least once).
CREATE FUNCTION claim_events(max_events integer DEFAULT 100, lease interval DEFAULT '5 minutes')
RETURNS SETOF events
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT gym_booking.acts_for_the_gym() THEN
        RAISE EXCEPTION 'only the gym''s delivery worker claims events'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Claim them as service_role (or an app admin); people read their own events.';
    END IF;
    IF max_events IS NULL OR max_events NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'max_events must be between 1 and 10000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lease IS NULL OR lease NOT BETWEEN interval '1 second' AND interval '1 day' THEN
        RAISE EXCEPTION 'lease must be between 1 second and 1 day' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    WITH due AS (
        SELECT e.id FROM gym_booking.events AS e
         WHERE e.delivered_at IS NULL
           AND (e.claimed_until IS NULL OR e.claimed_until <= statement_timestamp())
         ORDER BY e.id
         LIMIT max_events
           FOR UPDATE SKIP LOCKED)
    UPDATE gym_booking.events AS e
       SET claimed_until = statement_timestamp() + lease, attempts = e.attempts + 1
      FROM due WHERE e.id = due.id
    RETURNING e.*;
END
$$;
COMMENT ON FUNCTION claim_events(integer, interval) IS
    'The delivery worker claims up to max_events undelivered events for the lease (oldest first, SKIP LOCKED)';

CREATE FUNCTION ack_events(event_ids bigint[]) RETURNS integer
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    acknowledged integer;
BEGIN
    IF NOT gym_booking.acts_for_the_gym() THEN
        RAISE EXCEPTION 'only the gym''s delivery worker acknowledges events'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE gym_booking.events SET delivered_at = statement_timestamp()
     WHERE id = ANY (ack_events.event_ids) AND delivered_at IS NULL;
    GET DIAGNOSTICS acknowledged = ROW_COUNT;
    RETURN acknowledged;
END
$$;
COMMENT ON FUNCTION ack_events(bigint[]) IS
    'The delivery worker marks events delivered; returns how many were not already';

-- Registered for pg_dump; privileges of the new functions (as sql/finalize.sql) --------------
SELECT pg_catalog.pg_extension_config_dump('studio_settings', '');
SELECT pg_catalog.pg_extension_config_dump('studio_settings_history', '');
SELECT pg_catalog.pg_extension_config_dump('studio_settings_history_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('waitlist_entries', '');
SELECT pg_catalog.pg_extension_config_dump('waitlist_queue', '');
SELECT pg_catalog.pg_extension_config_dump('events', '');
SELECT pg_catalog.pg_extension_config_dump('events_id_seq', '');

REVOKE EXECUTE ON FUNCTION
    waitlist_join(uuid), waitlist_leave(uuid), promote_waitlists(), expire_waitlists(),
    lock_booking_slot(uuid), purge_events(integer), notify_events(integer), acts_for_the_gym(),
    join_waitlist(uuid), leave_waitlist(uuid), my_waitlist(),
    claim_events(integer, interval), ack_events(bigint[]),
    available_slots(timestamptz, timestamptz, uuid),
    available_slots_counted(timestamptz, timestamptz, uuid),
    studio_settings_guard(), studio_settings_history(), studio_settings_replace(),
    booking_ends_waiting(), booking_frees_place(), slot_grows(), booking_events(),
    slot_changed_events()
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    available_slots(timestamptz, timestamptz, uuid),
    available_slots_counted(timestamptz, timestamptz, uuid),
    join_waitlist(uuid),
    leave_waitlist(uuid),
    waitlist_join(uuid),
    waitlist_leave(uuid),
    my_waitlist(),
    lock_booking_slot(uuid),
    promote_waitlists(),
    expire_waitlists(),
    purge_events(integer),
    notify_events(integer)
    TO authenticated, service_role;
-- The delivery worker's (service_role, or an app admin: the functions check).
GRANT EXECUTE ON FUNCTION claim_events(integer, interval), ack_events(bigint[]), acts_for_the_gym()
    TO authenticated, service_role;

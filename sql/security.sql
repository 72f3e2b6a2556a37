-- Who may see and change what: the Supabase roles, their grants, and row-level security.
-- PostgreSQL checks grants first, then policies; triggers (the rules) run after both.
-- Policies call the helpers as (SELECT ...) so they are evaluated once per query, not per row,
-- and name the caller by active_user_id(): a deleted account owns nothing.

-- Roles as Supabase defines them; a plain PostgreSQL gets them here. Roles belong to the
-- cluster, not to the extension: DROP EXTENSION leaves them. Two CREATE EXTENSION in two
-- databases at once may both find a role missing: the second to create it waits for the
-- first and then finds it made (a unique violation on pg_authid), which is as good.
-- A request that runs away is stopped, as Supabase sets it up (PostgREST applies a role's
-- statement_timeout to the requests it makes as that role).
DO $$
DECLARE
    role record;
BEGIN
    FOR role IN
        SELECT * FROM (VALUES ('anon', 'NOLOGIN NOINHERIT', '3s'),
                              ('authenticated', 'NOLOGIN NOINHERIT', '8s'),
                              ('service_role', 'NOLOGIN NOINHERIT BYPASSRLS', NULL))
                   AS r(name, options, statement_timeout)
    LOOP
        CONTINUE WHEN EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = role.name);
        BEGIN
            EXECUTE format('CREATE ROLE %I %s', role.name, role.options);
            IF role.statement_timeout IS NOT NULL THEN
                EXECUTE format('ALTER ROLE %I SET statement_timeout = %L',
                               role.name, role.statement_timeout);
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- made by a concurrent CREATE EXTENSION
        END;
    END LOOP;
END
$$;

-- Helpers the policies and the API use. active_user_id(), is_app_admin() and is_trainer() are
-- Rust (src/identity.rs): they read the caller's users row once per statement, as the
-- extension's owner (users' own policies call them), and never re-plan anything.
COMMENT ON FUNCTION active_user_id() IS 'The caller''s id (JWT sub) while their account is active, else NULL';
COMMENT ON FUNCTION is_app_admin() IS 'Whether the caller is an active app admin';
COMMENT ON FUNCTION is_trainer() IS 'Whether the caller is an active trainer';
COMMENT ON FUNCTION signed_in() IS 'Whether the caller reads as somebody: an active account, or a role that is not a client''s';

-- Plain SQL over them, so PostgreSQL inlines it into the calling query.
CREATE FUNCTION current_app_role() RETURNS user_role
LANGUAGE sql STABLE PARALLEL RESTRICTED
AS $$
    SELECT CASE WHEN gym_booking.is_app_admin() THEN 'admin'
                WHEN gym_booking.is_trainer() THEN 'trainer'
                WHEN gym_booking.active_user_id() IS NOT NULL THEN 'athlete'
           END::gym_booking.user_role
$$;
COMMENT ON FUNCTION current_app_role() IS 'The caller''s app role (admin, trainer, athlete), NULL for no active account';

-- Nothing is anyone's by default (functions: see finalize.sql).
REVOKE ALL ON ALL TABLES IN SCHEMA gym_booking FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA gym_booking FROM PUBLIC;

GRANT USAGE ON SCHEMA gym_booking TO anon, authenticated, service_role;

-- anon: the trainer directory, nothing else.
GRANT SELECT ON trainer_directory TO anon, authenticated, service_role;

-- users: every column but password_hash is readable; what a person may change of their own
-- row the rules decide (only the gym changes role, email, password or deletion).
GRANT SELECT (id, email, first_name, last_name, role, contact_email, contact_phone, preferences,
              is_anonymous, deleted_at, created_at, updated_at)
    ON users TO authenticated, service_role;
GRANT INSERT, DELETE ON users TO authenticated, service_role;
GRANT UPDATE (email, first_name, last_name, role, contact_email, contact_phone, preferences,
              is_anonymous, deleted_at)
    ON users TO authenticated, service_role;
GRANT UPDATE (password_hash) ON users TO service_role;

-- slots: trainers manage their own (policies), everyone signed in reads them.
-- Clients never choose a new row's id: an INSERT naming another row's id would learn from
-- the refusal that the row exists. (Times they send are the rules' to overwrite.)
GRANT SELECT, DELETE ON slots TO authenticated, service_role;
GRANT INSERT ON slots TO service_role;
GRANT INSERT (trainer_id, start_at, end_at, duration_minutes, capacity, notes, cancelled_at,
              created_at, updated_at)
    ON slots TO authenticated;
GRANT UPDATE (trainer_id, start_at, end_at, duration_minutes, capacity, notes, cancelled_at)
    ON slots TO authenticated, service_role;

-- bookings: only the status ever changes; a booking never moves (no UPDATE of slot_id, user_id).
GRANT SELECT ON bookings TO authenticated, service_role;
GRANT INSERT ON bookings TO service_role;
GRANT INSERT (slot_id, user_id, status, status_changed_at, auto_processed, created_at, updated_at)
    ON bookings TO authenticated;
GRANT UPDATE (status) ON bookings TO authenticated, service_role;

-- Logs and history: read only, for everyone. Only the rules (running as the extension's
-- owner) write them.
GRANT SELECT ON activity_logs, booking_status_history TO authenticated, service_role;

-- Row-level security, with the seed's policy names (split per command as <name>_<command>).
-- service_role has BYPASSRLS; app admins get the same through the admin_all policies.
--
-- A request reaches its rows from its own rows, never through a trainer's whole history: the
-- bookings, history and log entries of a slot carry the slot's trainer, so a trainer's arm is
-- `trainer_id = (SELECT active_user_id())`, an index probe that finds nothing for an athlete.
--
-- Written so that a read without a WHERE (PostgREST's GET /bookings) is answered from indexes:
-- PostgreSQL ORs a table's permissive policies together and can use indexes for an OR only
-- when every arm is an index condition (a BitmapOr). Hence:
--   * lists as `col = ANY (ARRAY(SELECT ...))` (an InitPlan, then an index probe), not
--     `col IN (SELECT ...)` (a per-row hashed SubPlan that forces a full scan);
--   * the app admin's "every row" as a primary-key range whose lower bound is NULL unless the
--     caller is an app admin: for anyone else the index scan ends at once, for an admin it
--     covers every key (uuids lie between 00000000-... and ffffffff-...). The always-true
--     range on a NOT NULL timestamp beside it is there for the planner's estimate alone: an
--     unknown range is guessed at 0.5% of the rows, two of them at 0.0025%, so the index plan
--     is kept when PostgREST adds a LIMIT.
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE slots ENABLE ROW LEVEL SECURITY;
ALTER TABLE bookings ENABLE ROW LEVEL SECURITY;
ALTER TABLE activity_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE booking_status_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE trainer_directory ENABLE ROW LEVEL SECURITY;

CREATE POLICY trainer_directory_public ON trainer_directory
    FOR SELECT TO anon, authenticated USING (true);

CREATE POLICY self_access_select ON users
    FOR SELECT TO authenticated USING (id = (SELECT active_user_id()));
CREATE POLICY self_access_update ON users
    FOR UPDATE TO authenticated
    USING (id = (SELECT active_user_id())) WITH CHECK (id = (SELECT active_user_id()));
CREATE POLICY admin_all ON users
    FOR ALL TO authenticated USING ((SELECT is_app_admin())) WITH CHECK ((SELECT is_app_admin()));

CREATE POLICY read_all_authenticated ON slots
    FOR SELECT TO authenticated USING ((SELECT active_user_id()) IS NOT NULL);
CREATE POLICY manage_own_slots_insert ON slots
    FOR INSERT TO authenticated
    WITH CHECK (trainer_id = (SELECT active_user_id()) AND (SELECT is_trainer()));
CREATE POLICY manage_own_slots_update ON slots
    FOR UPDATE TO authenticated
    USING (trainer_id = (SELECT active_user_id()))
    WITH CHECK (trainer_id = (SELECT active_user_id()));
CREATE POLICY manage_own_slots_delete ON slots
    FOR DELETE TO authenticated USING (trainer_id = (SELECT active_user_id()));
CREATE POLICY service_maintenance ON slots
    FOR ALL TO service_role USING (true) WITH CHECK (true);
CREATE POLICY admin_all ON slots
    FOR ALL TO authenticated USING ((SELECT is_app_admin())) WITH CHECK ((SELECT is_app_admin()));

CREATE POLICY athlete_owns_booking_select ON bookings
    FOR SELECT TO authenticated USING (user_id = (SELECT active_user_id()));
CREATE POLICY athlete_owns_booking_update ON bookings
    FOR UPDATE TO authenticated
    USING (user_id = (SELECT active_user_id())) WITH CHECK (user_id = (SELECT active_user_id()));
-- The bookings of the trainer's slots: each booking carries its slot's trainer (trainer_id,
-- kept by the rules, src/rules/trainer.rs), so this is one index probe, whatever the history.
CREATE POLICY trainer_related_booking ON bookings
    FOR SELECT TO authenticated
    USING (trainer_id = (SELECT active_user_id()));
CREATE POLICY create_booking ON bookings
    FOR INSERT TO authenticated
    WITH CHECK (user_id = (SELECT active_user_id()) AND NOT (SELECT is_trainer()));
CREATE POLICY admin_all ON bookings
    FOR ALL TO authenticated
    USING (id >= (SELECT CASE WHEN is_app_admin() THEN '00000000-0000-0000-0000-000000000000'::uuid END)
       AND id <= (SELECT 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
       AND created_at >= (SELECT '-infinity'::timestamptz)
       AND created_at <= (SELECT 'infinity'::timestamptz))
    WITH CHECK ((SELECT is_app_admin()));

CREATE POLICY self_or_admin ON activity_logs
    FOR SELECT TO authenticated
    USING (changed_by = (SELECT active_user_id())
        OR (id >= (SELECT CASE WHEN is_app_admin() THEN '00000000-0000-0000-0000-000000000000'::uuid END)
            AND id <= (SELECT 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
            AND created_at >= (SELECT '-infinity'::timestamptz)
            AND created_at <= (SELECT 'infinity'::timestamptz)));
-- Entries about the trainer's slots and their bookings: such an entry carries the slot's
-- trainer (trainer_id; none once the slot or booking is gone).
CREATE POLICY related_slot_booking ON activity_logs
    FOR SELECT TO authenticated
    USING (trainer_id = (SELECT active_user_id()));

-- The history of every booking the caller may see: their own bookings' (listed by the
-- athlete's index), their slots' (by the trainer the row carries); an app admin's, all of it
-- (by the range arm, without listing every booking first).
CREATE POLICY visible_booking_history ON booking_status_history
    FOR SELECT TO authenticated
    USING (booking_id = ANY (ARRAY(SELECT b.id FROM bookings AS b
                                    WHERE b.user_id = (SELECT active_user_id())))
        OR trainer_id = (SELECT active_user_id())
        OR (id >= (SELECT CASE WHEN is_app_admin() THEN -9223372036854775808 END)
            AND id <= (SELECT 9223372036854775807)
            AND changed_at >= (SELECT '-infinity'::timestamptz)
            AND changed_at <= (SELECT 'infinity'::timestamptz)));

-- Which caller a plan serves is not known when it is made (the caller's id is a parameter), so
-- PostgreSQL would guess a trainer's share of these rows as one over the number of trainers
-- in the statistics: all of the rows in a one-trainer studio, a third with three, and read the
-- whole table for every athlete's request (for whom the trainer arm finds nothing). Told that
-- the column is as distinct as a key, it plans the index probe; a trainer's own reads of all
-- their rows are bitmap scans of the same index, which stay fast for any share.
ALTER TABLE bookings ALTER COLUMN trainer_id SET (n_distinct = -1);
ALTER TABLE booking_status_history ALTER COLUMN trainer_id SET (n_distinct = -1);
ALTER TABLE activity_logs ALTER COLUMN trainer_id SET (n_distinct = -1);

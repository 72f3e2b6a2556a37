-- The PL/pgSQL baseline (issue 10): the seed's rules written by hand, as a competent team would
-- write them for Supabase, on a copy of the same rows. Beside the extension and the floor it
-- shows what the extension's Rust rules and its policies cost or save.
--   * tables: users, slots, bookings, activity_logs, booking_status_history, same columns,
--     keys and the seed's indexes;
--   * rules as PL/pgSQL triggers: the capacity check (lock the slot, count the reserved places),
--     the cancellation window (60 minutes before the start; an admin any time), one history row
--     per status change, an audit log entry per change holding only the changed fields;
--   * row-level security with the seed's policies, the caller read from the JWT claims as
--     Supabase's auth.uid() reads it, wrapped in (SELECT ...) as Supabase's guide advises;
--   * book_slot, cancel_booking and my_bookings as the API has them (SECURITY INVOKER).
\set ON_ERROR_STOP 1
SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';
SET session_replication_role = replica;

CREATE SCHEMA bench_plpgsql;
CREATE TABLE bench_plpgsql.users (LIKE gym_booking.users INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
CREATE TABLE bench_plpgsql.slots (LIKE gym_booking.slots INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
CREATE TABLE bench_plpgsql.bookings (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    slot_id uuid NOT NULL,
    user_id uuid NOT NULL,
    status gym_booking.booking_status NOT NULL DEFAULT 'reserved',
    status_changed_at timestamptz NOT NULL DEFAULT now(),
    auto_processed boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE bench_plpgsql.activity_logs (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    entity_type gym_booking.log_entity_type NOT NULL,
    entity_id uuid NOT NULL,
    action gym_booking.log_action_type NOT NULL,
    changed_by uuid,
    changed_by_role gym_booking.user_role,
    changed_fields jsonb NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE bench_plpgsql.booking_status_history (
    id bigserial PRIMARY KEY,
    booking_id uuid NOT NULL,
    previous_status gym_booking.booking_status NOT NULL,
    current_status gym_booking.booking_status NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    changed_by uuid,
    auto_processed boolean NOT NULL DEFAULT false);

INSERT INTO bench_plpgsql.users SELECT * FROM gym_booking.users;
INSERT INTO bench_plpgsql.slots SELECT * FROM gym_booking.slots;
INSERT INTO bench_plpgsql.bookings
SELECT id, slot_id, user_id, status, status_changed_at, auto_processed, created_at, updated_at
  FROM gym_booking.bookings;
INSERT INTO bench_plpgsql.activity_logs
SELECT id, entity_type, entity_id, action, changed_by, changed_by_role, changed_fields, metadata, created_at
  FROM gym_booking.activity_logs;
INSERT INTO bench_plpgsql.booking_status_history (booking_id, previous_status, current_status, changed_at, changed_by, auto_processed)
SELECT booking_id, previous_status, current_status, changed_at, changed_by, auto_processed
  FROM gym_booking.booking_status_history;

ALTER TABLE bench_plpgsql.users ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX ON bench_plpgsql.users (email);
ALTER TABLE bench_plpgsql.slots ADD PRIMARY KEY (id),
    ADD FOREIGN KEY (trainer_id) REFERENCES bench_plpgsql.users (id);
CREATE INDEX ON bench_plpgsql.slots (trainer_id, start_at);
CREATE INDEX ON bench_plpgsql.slots USING gist (tstzrange(start_at, end_at));
ALTER TABLE bench_plpgsql.bookings ADD PRIMARY KEY (id),
    ADD CONSTRAINT bookings_slot_user_key UNIQUE (slot_id, user_id),
    ADD FOREIGN KEY (slot_id) REFERENCES bench_plpgsql.slots (id) ON DELETE CASCADE,
    ADD FOREIGN KEY (user_id) REFERENCES bench_plpgsql.users (id);
CREATE INDEX ON bench_plpgsql.bookings (slot_id, status);
CREATE INDEX ON bench_plpgsql.bookings (user_id, status);
ALTER TABLE bench_plpgsql.activity_logs ADD PRIMARY KEY (id);
CREATE INDEX ON bench_plpgsql.activity_logs (entity_type, entity_id, created_at DESC);
CREATE INDEX ON bench_plpgsql.activity_logs (changed_by);
CREATE INDEX ON bench_plpgsql.booking_status_history (booking_id, changed_at DESC);
SELECT setval(pg_get_serial_sequence('bench_plpgsql.booking_status_history', 'id'),
              greatest(1, (SELECT max(id) FROM bench_plpgsql.booking_status_history)));

-- auth.uid() and the caller's role, as a Supabase project writes them.
CREATE FUNCTION bench_plpgsql.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT nullif(coalesce(current_setting('request.jwt.claim.sub', true),
                           current_setting('request.jwt.claims', true)::jsonb ->> 'sub'), '')::uuid
$$;
CREATE FUNCTION bench_plpgsql.my_role() RETURNS gym_booking.user_role
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT role FROM bench_plpgsql.users WHERE id = bench_plpgsql.uid() AND deleted_at IS NULL
$$;

-- The rules -----------------------------------------------------------------------------------
CREATE FUNCTION bench_plpgsql.bookings_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    s bench_plpgsql.slots;
    taken bigint;
BEGIN
    NEW.updated_at := now();
    IF TG_OP = 'INSERT' THEN
        NEW.created_at := now();
    ELSIF NEW.status = OLD.status THEN
        RETURN NEW;
    END IF;
    NEW.status_changed_at := now();
    IF NEW.status = 'reserved' THEN
        SELECT * INTO s FROM bench_plpgsql.slots WHERE id = NEW.slot_id FOR UPDATE;
        IF s.cancelled_at IS NOT NULL OR s.start_at <= now() THEN
            RAISE EXCEPTION 'slot % is not bookable', NEW.slot_id USING ERRCODE = '22023';
        END IF;
        SELECT count(*) INTO taken FROM bench_plpgsql.bookings
         WHERE slot_id = NEW.slot_id AND status = 'reserved';
        IF taken >= s.capacity THEN
            RAISE EXCEPTION 'slot % is full', NEW.slot_id USING ERRCODE = '23P01';
        END IF;
    ELSIF TG_OP = 'UPDATE' AND NEW.status = 'cancelled' AND bench_plpgsql.my_role() IS DISTINCT FROM 'admin'
          AND now() > (SELECT start_at - interval '60 minutes' FROM bench_plpgsql.slots WHERE id = NEW.slot_id) THEN
        RAISE EXCEPTION 'too late to cancel' USING ERRCODE = '22023';
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION bench_plpgsql.bookings_history() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    INSERT INTO bench_plpgsql.booking_status_history (booking_id, previous_status, current_status, changed_by)
    VALUES (NEW.id, OLD.status, NEW.status, bench_plpgsql.uid());
    RETURN NULL;
END $$;

CREATE FUNCTION bench_plpgsql.audit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    fields jsonb;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        SELECT jsonb_object_agg(n.key, jsonb_build_object('old', o.value, 'new', n.value)) INTO fields
          FROM jsonb_each(to_jsonb(NEW)) AS n JOIN jsonb_each(to_jsonb(OLD)) AS o USING (key)
         WHERE n.value IS DISTINCT FROM o.value AND n.key <> 'updated_at';
    ELSE
        fields := jsonb_strip_nulls(to_jsonb(coalesce(NEW, OLD))) - 'updated_at';
    END IF;
    IF fields IS NULL OR fields = '{}' THEN
        RETURN NULL;
    END IF;
    INSERT INTO bench_plpgsql.activity_logs (entity_type, entity_id, action, changed_by, changed_by_role,
                                             changed_fields, metadata)
    VALUES ('booking', coalesce(NEW.id, OLD.id),
            CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'DELETE' THEN 'delete' ELSE 'update' END::gym_booking.log_action_type,
            bench_plpgsql.uid(), bench_plpgsql.my_role(), fields,
            jsonb_build_object('db_role', current_user, 'source', 'client'));
    RETURN NULL;
END $$;

CREATE TRIGGER bookings_guard BEFORE INSERT OR UPDATE ON bench_plpgsql.bookings
    FOR EACH ROW EXECUTE FUNCTION bench_plpgsql.bookings_guard();
CREATE TRIGGER bookings_history AFTER UPDATE ON bench_plpgsql.bookings
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION bench_plpgsql.bookings_history();
CREATE TRIGGER bookings_audit AFTER INSERT OR UPDATE OR DELETE ON bench_plpgsql.bookings
    FOR EACH ROW EXECUTE FUNCTION bench_plpgsql.audit();

-- Row-level security: the seed's policies ------------------------------------------------------
ALTER TABLE bench_plpgsql.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE bench_plpgsql.slots ENABLE ROW LEVEL SECURITY;
ALTER TABLE bench_plpgsql.bookings ENABLE ROW LEVEL SECURITY;
ALTER TABLE bench_plpgsql.activity_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE bench_plpgsql.booking_status_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY self_access ON bench_plpgsql.users FOR ALL TO authenticated
    USING (id = (SELECT bench_plpgsql.uid()));
CREATE POLICY admin_all ON bench_plpgsql.users FOR ALL TO authenticated
    USING ((SELECT bench_plpgsql.my_role()) = 'admin');
CREATE POLICY read_all_authenticated ON bench_plpgsql.slots FOR SELECT TO authenticated USING (true);
CREATE POLICY manage_own_slots ON bench_plpgsql.slots FOR ALL TO authenticated
    USING (trainer_id = (SELECT bench_plpgsql.uid()));
CREATE POLICY athlete_owns_booking ON bench_plpgsql.bookings FOR SELECT TO authenticated
    USING (user_id = (SELECT bench_plpgsql.uid()));
CREATE POLICY athlete_owns_booking_update ON bench_plpgsql.bookings FOR UPDATE TO authenticated
    USING (user_id = (SELECT bench_plpgsql.uid()));
CREATE POLICY trainer_related_booking ON bench_plpgsql.bookings FOR SELECT TO authenticated
    USING (EXISTS (SELECT 1 FROM bench_plpgsql.slots AS s
                    WHERE s.id = slot_id AND s.trainer_id = (SELECT bench_plpgsql.uid())));
CREATE POLICY create_booking ON bench_plpgsql.bookings FOR INSERT TO authenticated
    WITH CHECK (user_id = (SELECT bench_plpgsql.uid())
                AND (SELECT bench_plpgsql.my_role()) IS DISTINCT FROM 'trainer');
CREATE POLICY admin_all ON bench_plpgsql.bookings FOR ALL TO authenticated
    USING ((SELECT bench_plpgsql.my_role()) = 'admin');
CREATE POLICY self_or_admin ON bench_plpgsql.activity_logs FOR SELECT TO authenticated
    USING (changed_by = (SELECT bench_plpgsql.uid()) OR (SELECT bench_plpgsql.my_role()) = 'admin');
CREATE POLICY related_slot_booking ON bench_plpgsql.activity_logs FOR SELECT TO authenticated
    USING (EXISTS (SELECT 1 FROM bench_plpgsql.bookings AS b JOIN bench_plpgsql.slots AS s ON s.id = b.slot_id
                    WHERE b.id = entity_id AND s.trainer_id = (SELECT bench_plpgsql.uid())));
CREATE POLICY visible_booking_history ON bench_plpgsql.booking_status_history FOR SELECT TO authenticated
    USING (EXISTS (SELECT 1 FROM bench_plpgsql.bookings AS b WHERE b.id = booking_id));

GRANT USAGE ON SCHEMA bench_plpgsql TO authenticated;
GRANT SELECT ON ALL TABLES IN SCHEMA bench_plpgsql TO authenticated;
GRANT INSERT (slot_id, user_id), UPDATE (status) ON bench_plpgsql.bookings TO authenticated;

-- The API ---------------------------------------------------------------------------------------
CREATE FUNCTION bench_plpgsql.book_slot(p_slot uuid) RETURNS bench_plpgsql.bookings
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog AS $$
DECLARE
    me uuid := bench_plpgsql.uid();
    b bench_plpgsql.bookings;
BEGIN
    INSERT INTO bench_plpgsql.bookings (slot_id, user_id) VALUES (p_slot, me)
    ON CONFLICT ON CONSTRAINT bookings_slot_user_key DO NOTHING
    RETURNING * INTO b;
    IF FOUND THEN
        RETURN b;
    END IF;
    SELECT * INTO b FROM bench_plpgsql.bookings WHERE slot_id = p_slot AND user_id = me;
    IF b.status = 'cancelled' THEN
        UPDATE bench_plpgsql.bookings SET status = 'reserved' WHERE id = b.id RETURNING * INTO b;
    END IF;
    RETURN b;
END $$;

CREATE FUNCTION bench_plpgsql.cancel_booking(p_booking uuid) RETURNS bench_plpgsql.bookings
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog AS $$
DECLARE
    b bench_plpgsql.bookings;
BEGIN
    UPDATE bench_plpgsql.bookings SET status = 'cancelled'
     WHERE id = p_booking AND status = 'reserved' RETURNING * INTO b;
    RETURN b;
END $$;

CREATE FUNCTION bench_plpgsql.my_bookings()
RETURNS TABLE (booking_id uuid, slot_id uuid, trainer_id uuid, start_at timestamptz, end_at timestamptz,
               status gym_booking.booking_status, status_changed_at timestamptz, notes text)
LANGUAGE sql STABLE SECURITY INVOKER AS $$
    SELECT b.id, s.id, s.trainer_id, s.start_at, s.end_at, b.status, b.status_changed_at, s.notes
      FROM bench_plpgsql.bookings AS b JOIN bench_plpgsql.slots AS s ON s.id = b.slot_id
     WHERE b.user_id = bench_plpgsql.uid()
     ORDER BY s.start_at, b.id
$$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA bench_plpgsql TO authenticated;

RESET session_replication_role;
VACUUM ANALYZE bench_plpgsql.users, bench_plpgsql.slots, bench_plpgsql.bookings,
               bench_plpgsql.activity_logs, bench_plpgsql.booking_status_history;

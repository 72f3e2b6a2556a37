-- The hot-slot cancellation scenario's data (issue 12): psql -v wl_slots=… -v wl_capacity=… -v wl_waiting=…
-- Loaded after load.sql, floor.sql and (when the baseline is there) plpgsql.sql + plpgsql_week.sql,
-- on a release with waitlists (0.2.0 and later).
--
-- wl_slots new slots of trainer 1, numbered g = T*K + i (after every slot load.sql made; bench.slot_uuid),
-- following that trainer's 8-hourly timetable, each of capacity wl_capacity and full: wl_capacity
-- athletes hold a place, wl_waiting more wait in line, athlete 1 + (i*(wl_capacity + wl_waiting) + m) % athletes
-- for member m (bookings for m < wl_capacity, waiting entries in order of m after). The same rows
-- on every side: the extension (gym_booking), the floor (bench_floor) and the PL/pgSQL baseline
-- (bench_plpgsql, when loaded). Loaded with the rules off (session_replication_role = replica),
-- consistent by construction.
--
-- The floor gains its waitlist (a plain table) and the two writes as the least SQL with the same
-- effect (cancel_and_promote, join_waitlist); bench.wl_pick hands each pgbench client a place to
-- give up (see bench/pgbench/hot_waitlist.*.sql).
\set ON_ERROR_STOP 1
SET synchronous_commit = off;
SET session_replication_role = replica;

CREATE TABLE bench.wl_params AS
SELECT p.trainers::bigint * p.per_trainer AS g0, :wl_slots::int AS slots, :wl_capacity::int AS capacity,
       :wl_waiting::int AS waiting
  FROM bench.params AS p;

-- the extension -----------------------------------------------------------------------------------
INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes, capacity, notes, created_at, updated_at)
SELECT bench.slot_uuid(w.g0 + i), bench.user_uuid(1), st, st + interval '60 minutes', 60, w.capacity,
       'Hot class with a waitlist', p.h - interval '30 days', p.h - interval '30 days'
  FROM bench.params AS p, bench.wl_params AS w, generate_series(0, w.slots - 1) AS i,
       LATERAL (SELECT p.h + interval '1 day' + (p.per_trainer / 2 + i) * interval '8 hours'
                       + interval '15 minutes' AS st) AS s;

CREATE TEMP TABLE wl_members AS
SELECT i, m, w.g0 + i AS g, 1 + (i * (w.capacity + w.waiting) + m) % p.athletes AS a,
       m < w.capacity AS booked
  FROM bench.params AS p, bench.wl_params AS w, generate_series(0, w.slots - 1) AS i,
       generate_series(0, w.capacity + w.waiting - 1) AS m;

INSERT INTO gym_booking.bookings (id, slot_id, user_id, status, status_changed_at, auto_processed, created_at, updated_at,
                                  trainer_id)
SELECT bench.booking_uuid(p.bookings + i * 1000 + m), bench.slot_uuid(g), bench.athlete_uuid(a), 'reserved',
       p.h - interval '1 day', false, p.h - interval '1 day', p.h - interval '1 day', bench.user_uuid(1)
  FROM bench.params AS p, wl_members WHERE booked;

INSERT INTO gym_booking.waitlist_entries (slot_id, user_id, trainer_id, queue_no, joined_at)
SELECT bench.slot_uuid(g), bench.athlete_uuid(a), bench.user_uuid(1), i * 1000 + m, p.h - interval '1 day'
  FROM bench.params AS p, wl_members WHERE NOT booked ORDER BY i, m;
SELECT setval('gym_booking.waitlist_queue', (SELECT max(queue_no) FROM gym_booking.waitlist_entries));

-- the floor ------------------------------------------------------------------------------------------
INSERT INTO bench_floor.slots SELECT * FROM gym_booking.slots WHERE id IN (SELECT bench.slot_uuid(g) FROM wl_members);
INSERT INTO bench_floor.bookings SELECT * FROM gym_booking.bookings WHERE slot_id IN (SELECT bench.slot_uuid(g) FROM wl_members);

CREATE SEQUENCE bench_floor.waitlist_queue;
CREATE TABLE bench_floor.waitlist_entries (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slot_id uuid NOT NULL REFERENCES bench_floor.slots (id),
    user_id uuid NOT NULL REFERENCES bench_floor.users (id),
    trainer_id uuid,
    queue_no bigint NOT NULL DEFAULT nextval('bench_floor.waitlist_queue'),
    joined_at timestamptz NOT NULL DEFAULT now(),
    state gym_booking.waitlist_state NOT NULL DEFAULT 'waiting',
    ended_at timestamptz,
    booking_id uuid REFERENCES bench_floor.bookings (id));
CREATE UNIQUE INDEX ON bench_floor.waitlist_entries (slot_id, user_id) WHERE state = 'waiting';
CREATE INDEX ON bench_floor.waitlist_entries (slot_id, queue_no) WHERE state = 'waiting';
CREATE INDEX ON bench_floor.waitlist_entries (user_id, state);
INSERT INTO bench_floor.waitlist_entries SELECT * FROM gym_booking.waitlist_entries;
SELECT setval('bench_floor.waitlist_queue', (SELECT max(queue_no) FROM bench_floor.waitlist_entries));

-- cancel_booking without rules, with the promotion: lock the slot; cancel; book the earliest
-- waiting athletes (or re-activate their cancelled booking) while places are free; end their entries.
CREATE FUNCTION bench_floor.cancel_and_promote(p_booking uuid, p_user uuid) RETURNS bench_floor.bookings
LANGUAGE plpgsql AS $$
DECLARE
    b bench_floor.bookings;
    cap smallint;
    free bigint;
    w record;
    bid uuid;
BEGIN
    SELECT capacity INTO cap FROM bench_floor.slots
     WHERE id = (SELECT slot_id FROM bench_floor.bookings WHERE id = p_booking) FOR UPDATE;
    UPDATE bench_floor.bookings SET status = 'cancelled', status_changed_at = now()
     WHERE id = p_booking AND user_id = p_user AND status = 'reserved'
    RETURNING * INTO b;
    IF NOT FOUND THEN
        RETURN b;
    END IF;
    free := cap - (SELECT count(*) FROM bench_floor.bookings WHERE slot_id = b.slot_id AND status = 'reserved');
    FOR w IN SELECT id, user_id FROM bench_floor.waitlist_entries
              WHERE slot_id = b.slot_id AND state = 'waiting' ORDER BY queue_no LIMIT greatest(free, 0)
                FOR UPDATE SKIP LOCKED LOOP
        INSERT INTO bench_floor.bookings (slot_id, user_id, auto_processed) VALUES (b.slot_id, w.user_id, true)
        ON CONFLICT ON CONSTRAINT bookings_slot_user_key
        DO UPDATE SET status = 'reserved', status_changed_at = now(), auto_processed = true
         WHERE bookings.status = 'cancelled'
        RETURNING id INTO bid;
        UPDATE bench_floor.waitlist_entries SET state = 'promoted', ended_at = now(), booking_id = bid WHERE id = w.id;
    END LOOP;
    RETURN b;
END
$$;

-- join_waitlist without rules: lock the slot; the caller's entry if they wait already; refuse a
-- caller holding a place or a slot with a free place; add the entry at the back.
CREATE FUNCTION bench_floor.join_waitlist(p_slot uuid, p_user uuid) RETURNS bench_floor.waitlist_entries
LANGUAGE plpgsql AS $$
DECLARE
    e bench_floor.waitlist_entries;
    cap smallint;
BEGIN
    SELECT capacity INTO cap FROM bench_floor.slots
     WHERE id = p_slot AND cancelled_at IS NULL AND start_at > now() FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'slot not open' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    SELECT * INTO e FROM bench_floor.waitlist_entries WHERE slot_id = p_slot AND user_id = p_user AND state = 'waiting';
    IF FOUND THEN
        RETURN e;
    END IF;
    IF EXISTS (SELECT FROM bench_floor.bookings WHERE slot_id = p_slot AND user_id = p_user AND status = 'reserved') THEN
        RAISE EXCEPTION 'already holds a place' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (SELECT count(*) FROM bench_floor.bookings WHERE slot_id = p_slot AND status = 'reserved') < cap THEN
        RAISE EXCEPTION 'the slot has a free place' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO bench_floor.waitlist_entries (slot_id, user_id) VALUES (p_slot, p_user) RETURNING * INTO e;
    RETURN e;
END
$$;

-- the PL/pgSQL baseline, when this database has it ---------------------------------------------------
DO $$
BEGIN
    IF to_regclass('bench_plpgsql.waitlist_entries') IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO bench_plpgsql.slots SELECT * FROM gym_booking.slots
     WHERE id IN (SELECT bench.slot_uuid(g) FROM wl_members);
    INSERT INTO bench_plpgsql.bookings
    SELECT id, slot_id, user_id, status, status_changed_at, auto_processed, created_at, updated_at
      FROM gym_booking.bookings WHERE slot_id IN (SELECT bench.slot_uuid(g) FROM wl_members);
    INSERT INTO bench_plpgsql.waitlist_entries (id, slot_id, user_id, queue_no, joined_at, state)
    SELECT id, slot_id, user_id, queue_no, joined_at, 'waiting' FROM gym_booking.waitlist_entries;
    PERFORM setval(pg_get_serial_sequence('bench_plpgsql.waitlist_entries', 'queue_no'),
                   (SELECT max(queue_no) FROM bench_plpgsql.waitlist_entries));
END
$$;

-- the pgbench clients' picks -------------------------------------------------------------------------
-- bench.wl_pick(schema, sequence): a place for this client to give up. Draws the next number of the
-- side's sequence (20 in a row on one slot, then the next: every client on the same one or two
-- slots), then a reserved booking of that slot that no other client holds, and holds it with a
-- session advisory lock until the client's next pick (its own cancellation and re-joining are done
-- by then). Only its holder cancels a booking and promotions only add places, so the booking is
-- still reserved when the client cancels it. Run as the superuser, outside the measured requests
-- (like the hot-booking scenario's sequence): one round trip, reads only.
CREATE SEQUENCE bench.wl_seq_ext MINVALUE 0 START 0;
CREATE SEQUENCE bench.wl_seq_plpgsql MINVALUE 0 START 0;
CREATE SEQUENCE bench.wl_seq_floor MINVALUE 0 START 0;
CREATE FUNCTION bench.wl_pick(side text, seq regclass, OUT booking uuid, OUT athlete bigint, OUT slot bigint)
LANGUAGE plpgsql AS $$
DECLARE
    w bench.wl_params;
    r record;
BEGIN
    PERFORM pg_advisory_unlock_all();
    SELECT * INTO w FROM bench.wl_params;
    slot := w.g0 + (nextval(seq) / 20) % w.slots;
    FOR r IN EXECUTE format('SELECT id, user_id FROM %I.bookings WHERE slot_id = $1 AND status = ''reserved'' '
                            'ORDER BY random()', side) USING bench.slot_uuid(slot) LOOP
        IF pg_try_advisory_lock(hashtext(r.id::text)) THEN
            booking := r.id;
            athlete := right(r.user_id::text, 12)::bigint;
            RETURN;
        END IF;
    END LOOP;
    RAISE EXCEPTION 'no free place to give up in slot %', slot;
END
$$;

-- the state of a side's hot slots: places taken, athletes waiting, promotions so far
CREATE FUNCTION bench.wl_state(side text, OUT reserved bigint, OUT waiting bigint, OUT promoted bigint,
                               OUT over_capacity bigint)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT (SELECT count(*) FROM %1$I.bookings WHERE slot_id = ANY ($1) AND status = ''reserved''),
                           (SELECT count(*) FROM %1$I.waitlist_entries WHERE slot_id = ANY ($1) AND state = ''waiting''),
                           (SELECT count(*) FROM %1$I.waitlist_entries WHERE slot_id = ANY ($1) AND state = ''promoted''),
                           (SELECT count(*) FROM (SELECT b.slot_id FROM %1$I.bookings AS b JOIN %1$I.slots AS s ON s.id = b.slot_id
                                                   WHERE b.slot_id = ANY ($1) AND b.status = ''reserved''
                                                   GROUP BY b.slot_id, s.capacity HAVING count(*) > s.capacity) AS x)', side)
       INTO reserved, waiting, promoted, over_capacity
      USING (SELECT array_agg(bench.slot_uuid(w.g0 + i)) FROM bench.wl_params AS w, generate_series(0, w.slots - 1) AS i);
END
$$;

RESET session_replication_role;
ANALYZE gym_booking.slots, gym_booking.bookings, gym_booking.waitlist_entries, bench_floor.slots, bench_floor.bookings,
        bench_floor.waitlist_entries;

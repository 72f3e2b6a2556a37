-- The floor: the least SQL that has the same effect, with no rules, no logs, no RLS.
-- A plain copy of users, slots and bookings (same columns, defaults, CHECKs, keys, foreign keys and
-- indexes as gym_booking's, same rows) without triggers or row-level security, and the API's
-- write paths as plain PL/pgSQL: the same number of round trips as the API call, the same
-- language wrapper, and the same correct capacity check (lock the slot, then count on a fresh
-- READ COMMITTED snapshot, then insert).
\set ON_ERROR_STOP 1
SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';

CREATE SCHEMA bench_floor;
CREATE TABLE bench_floor.users    (LIKE gym_booking.users    INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
CREATE TABLE bench_floor.slots    (LIKE gym_booking.slots    INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
CREATE TABLE bench_floor.bookings (LIKE gym_booking.bookings INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
INSERT INTO bench_floor.users    SELECT * FROM gym_booking.users;
INSERT INTO bench_floor.slots    SELECT * FROM gym_booking.slots;
INSERT INTO bench_floor.bookings SELECT * FROM gym_booking.bookings;

ALTER TABLE bench_floor.users ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX ON bench_floor.users (email);
CREATE INDEX ON bench_floor.users (role, deleted_at);
ALTER TABLE bench_floor.slots ADD PRIMARY KEY (id),
    ADD FOREIGN KEY (trainer_id) REFERENCES bench_floor.users (id);
CREATE INDEX ON bench_floor.slots (trainer_id, start_at);
CREATE INDEX ON bench_floor.slots USING gist (tstzrange(start_at, end_at));
-- gym_booking's own indexes beyond the seed's, for the same reads (bookable slots by start; ended slots).
CREATE INDEX ON bench_floor.slots (start_at) WHERE cancelled_at IS NULL;
CREATE INDEX ON bench_floor.slots (end_at);
ALTER TABLE bench_floor.bookings ADD PRIMARY KEY (id),
    ADD CONSTRAINT bookings_slot_user_key UNIQUE (slot_id, user_id),
    ADD FOREIGN KEY (slot_id) REFERENCES bench_floor.slots (id) ON DELETE CASCADE,
    ADD FOREIGN KEY (user_id) REFERENCES bench_floor.users (id);
CREATE INDEX ON bench_floor.bookings (slot_id, status);
CREATE INDEX ON bench_floor.bookings (user_id, status);

-- book_slot without rules: find the caller's row; lock the slot; check it is bookable; count the
-- reserved places (a new statement, so a new snapshot that sees the previous lock holder's
-- commit); insert, or re-activate a cancelled row.
CREATE FUNCTION bench_floor.book_slot(p_slot uuid, p_user uuid) RETURNS bench_floor.bookings
LANGUAGE plpgsql AS $$
DECLARE
    b bench_floor.bookings;
    cap smallint;
BEGIN
    SELECT * INTO b FROM bench_floor.bookings WHERE slot_id = p_slot AND user_id = p_user;
    IF FOUND AND b.status <> 'cancelled' THEN
        RETURN b;
    END IF;
    SELECT capacity INTO cap FROM bench_floor.slots
     WHERE id = p_slot AND cancelled_at IS NULL AND start_at > now() FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'slot not bookable' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (SELECT count(*) FROM bench_floor.bookings WHERE slot_id = p_slot AND status = 'reserved') >= cap THEN
        RAISE EXCEPTION 'this slot is full' USING ERRCODE = 'exclusion_violation';
    END IF;
    IF b.id IS NULL THEN
        INSERT INTO bench_floor.bookings (slot_id, user_id) VALUES (p_slot, p_user) RETURNING * INTO b;
    ELSE
        UPDATE bench_floor.bookings SET status = 'reserved', status_changed_at = now()
         WHERE id = b.id RETURNING * INTO b;
    END IF;
    RETURN b;
END
$$;

-- cancel_booking without rules: the caller's reserved booking becomes cancelled.
CREATE FUNCTION bench_floor.cancel_booking(p_booking uuid, p_user uuid) RETURNS bench_floor.bookings
LANGUAGE plpgsql AS $$
DECLARE
    b bench_floor.bookings;
BEGIN
    UPDATE bench_floor.bookings SET status = 'cancelled', status_changed_at = now()
     WHERE id = p_booking AND user_id = p_user AND status = 'reserved'
    RETURNING * INTO b;
    RETURN b;
END
$$;

VACUUM ANALYZE bench_floor.users, bench_floor.slots, bench_floor.bookings;

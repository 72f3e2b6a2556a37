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

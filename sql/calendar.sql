-- 0.2.1: calendar feeds (README, "Calendar feeds"). Plain CREATE statements, so the same text
-- goes into the upgrade script; their grants and pg_dump registration are in finalize.sql.

-- PostgREST (v12+) serves a function that returns a domain named like a media type with that
-- Content-Type (its "media type handlers"): GET /rpc/calendar_feed?token=... is text/calendar.
CREATE DOMAIN "text/calendar" AS text;
COMMENT ON DOMAIN "text/calendar" IS
    'An RFC 5545 calendar; PostgREST serves functions returning it as text/calendar';

-- One secret token per person, kept only as its SHA-256: whoever reads this table (a backup,
-- a DBA) cannot open anybody's feed with what is in it. No client reads it (row-level
-- security on, no policy, no grant); calendar_token() and revoke_calendar_token() write it
-- as the extension's owner.
CREATE TABLE calendar_tokens (
    user_id    uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT calendar_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT calendar_tokens_token_hash_check CHECK (octet_length(token_hash) = 32)
);
COMMENT ON TABLE calendar_tokens IS
    'Each person''s calendar feed token, as its SHA-256 only; rotated by calendar_token()';
ALTER TABLE calendar_tokens ENABLE ROW LEVEL SECURITY;

-- An athlete's feed reads their reserved bookings by bookings_user_status_idx and their
-- cancelled and completed ones of the window by this one (partial: booking a place, the hot
-- path, never writes to it), so the feed's cost does not grow with years of history.
CREATE INDEX bookings_user_changed_idx ON bookings (user_id, status_changed_at)
    WHERE status <> 'reserved';

-- The feed: a wrong, rotated, revoked or malformed token gets the same empty calendar, byte
-- for byte, as a person with nothing in it (it tells nothing, not even that a token existed).
-- Only well-formed tokens (64 hex digits) are hashed and looked up, by the unique index.
-- The window: events whose slot starts from 8 weeks before now on (and before the year
-- 10000, the last RFC 5545 can write). An athlete's cancelled or completed bookings are there
-- while they changed in the window: every completed one of the window (it changed after its
-- slot ended), and a cancellation for 8 weeks after it was made. SEQUENCE counts the rows
-- that record each change, which are never deleted or rewritten, so it only grows: for a
-- slot its log entries after 'create', its bookings and their status changes; for a booking
-- its slot's log entries after 'create' and its own status changes. DTSTAMP is the last
-- change, so the same rows give the same bytes.
-- SECURITY DEFINER: anon calls it; it reads the rows of the token's owner only.
CREATE FUNCTION calendar_feed(token text) RETURNS "text/calendar"
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH owner AS (
        SELECT t.user_id AS id,
               statement_timestamp() - interval '8 weeks' AS since,
               timestamptz '10000-01-01 00:00:00+00' AS until
          FROM gym_booking.calendar_tokens AS t
          JOIN gym_booking.users AS u ON u.id = t.user_id
         WHERE t.token_hash = CASE WHEN octet_length(calendar_feed.token) = 64
                                        AND calendar_feed.token ~ '^[0-9a-f]{64}$'
                                   THEN sha256(convert_to(calendar_feed.token, 'UTF8')) END
           AND u.deleted_at IS NULL
    ),
    own_bookings AS (
        SELECT b.id, b.slot_id, b.status, b.created_at, b.updated_at, o.since, o.until
          FROM owner AS o
          JOIN gym_booking.bookings AS b ON b.user_id = o.id AND b.status = 'reserved'
        UNION ALL
        SELECT b.id, b.slot_id, b.status, b.created_at, b.updated_at, o.since, o.until
          FROM owner AS o
          JOIN gym_booking.bookings AS b
            ON b.user_id = o.id AND b.status <> 'reserved' AND b.status_changed_at >= o.since
    ),
    events AS (
        SELECT s.start_at, 'booking-' || b.id || '@gym_booking' AS uid,
               b.status = 'cancelled' OR s.cancelled_at IS NOT NULL AS cancelled,
               coalesce('Training with ' ||
                        (SELECT tu.first_name
                           FROM gym_booking.trainer_directory AS d
                           JOIN gym_booking.users AS tu ON tu.id = d.trainer_id
                          WHERE d.trainer_id = s.trainer_id),
                        'Training') AS summary,
               s.notes, s.end_at, b.created_at,
               greatest(b.updated_at, s.updated_at) AS modified,
               (SELECT count(*) FROM gym_booking.activity_logs AS l
                 WHERE l.entity_type = 'slot' AND l.entity_id = s.id AND l.action <> 'create')
               + (SELECT count(*) FROM gym_booking.booking_status_history AS h
                   WHERE h.booking_id = b.id) AS sequence
          FROM own_bookings AS b
          -- Each booking's slot by its key. (LIMIT keeps this a lookup per booking: joined
          -- plainly, the planner may hash every slot of the studio instead.)
          CROSS JOIN LATERAL (
              SELECT * FROM gym_booking.slots AS one WHERE one.id = b.slot_id LIMIT 1) AS s
         WHERE s.start_at >= b.since AND s.end_at < b.until
        UNION ALL
        SELECT s.start_at, 'slot-' || s.id || '@gym_booking',
               s.cancelled_at IS NOT NULL,
               format('Session: %s/%s booked',
                      (SELECT count(*) FROM gym_booking.bookings AS b
                        WHERE b.slot_id = s.id AND b.status IN ('reserved', 'completed')),
                      s.capacity),
               s.notes, s.end_at, s.created_at,
               greatest(s.updated_at,
                        (SELECT max(b.updated_at) FROM gym_booking.bookings AS b
                          WHERE b.slot_id = s.id)),
               (SELECT count(*) FROM gym_booking.activity_logs AS l
                 WHERE l.entity_type = 'slot' AND l.entity_id = s.id AND l.action <> 'create')
               -- its bookings, each with its status changes (by booking, as the booking's
               -- own SEQUENCE reads them)
               + (SELECT count(*) + coalesce(sum(
                             (SELECT count(*) FROM gym_booking.booking_status_history AS h
                               WHERE h.booking_id = b.id)), 0)
                    FROM gym_booking.bookings AS b WHERE b.slot_id = s.id)
          FROM owner AS o
          JOIN gym_booking.slots AS s
            ON s.trainer_id = o.id AND s.start_at >= o.since AND s.start_at < o.until
               AND s.end_at < o.until
    )
    SELECT gym_booking.calendar_render(coalesce(
               jsonb_agg(jsonb_build_object(
                   'uid', e.uid,
                   'summary', e.summary,
                   'description', e.notes,
                   'status', CASE WHEN e.cancelled THEN 'CANCELLED' ELSE 'CONFIRMED' END,
                   'start', floor(extract(epoch FROM e.start_at))::bigint,
                   'end', floor(extract(epoch FROM e.end_at))::bigint,
                   'created', floor(extract(epoch FROM e.created_at))::bigint,
                   'modified', floor(extract(epoch FROM e.modified))::bigint,
                   'sequence', e.sequence)
                 ORDER BY e.start_at, e.uid),
               '[]'::jsonb))::gym_booking."text/calendar"
      FROM events AS e
$$;
COMMENT ON FUNCTION calendar_feed(text) IS
    'The RFC 5545 calendar of a calendar token''s owner: their bookings and their slots from 8 weeks ago on';

-- The feed for calendar apps, whatever they send as Accept. Apps, browsers and curl send
-- `Accept: */*` (or none), for which PostgREST's JSON handler would answer instead of the
-- "text/calendar" one; a function returning a domain named "*/*" is PostgREST's "any" media
-- type handler: it serves every Accept, with the Content-Type the function sets.
-- GET /rpc/calendar_ics?token=... is the URL to subscribe to.
CREATE DOMAIN "*/*" AS bytea;
COMMENT ON DOMAIN "*/*" IS
    'PostgREST''s "any" media type: served whatever the Accept header, with the Content-Type the function sets';

CREATE FUNCTION calendar_ics(token text) RETURNS "*/*"
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_catalog.set_config('response.headers',
        '[{"Content-Type": "text/calendar; charset=utf-8"}, {"Cache-Control": "private, max-age=300"}]',
        true);
    RETURN pg_catalog.convert_to(gym_booking.calendar_feed(calendar_ics.token), 'UTF8')::gym_booking."*/*";
END
$$;
COMMENT ON FUNCTION calendar_ics(text) IS
    'The calendar feed of calendar_feed(token) for calendar apps: text/calendar whatever the Accept header (PostgREST''s any-handler)';

-- Calendar feeds (0.2.1): a secret token per person, and the RFC 5545 calendar a calendar app
-- subscribes to with it. Each block is one request as PostgREST makes it (role and claims for
-- the transaction only); the feed is fetched as anon, as a calendar app (no JWT) would.
SET search_path = gym_booking, public;
\set VERBOSITY default
\set SHOW_CONTEXT never
\set tess  00000010-0000-4000-a000-000000000001
\set marco 00000010-0000-4000-a000-000000000002
\set amy   00000010-0000-4000-a000-000000000003
\set ben   00000010-0000-4000-a000-000000000004
\set kim   00000010-0000-4000-a000-000000000005
\set as_tess '{"sub": "00000010-0000-4000-a000-000000000001", "role": "authenticated"}'
\set as_amy  '{"sub": "00000010-0000-4000-a000-000000000003", "role": "authenticated"}'
\set as_ben  '{"sub": "00000010-0000-4000-a000-000000000004", "role": "authenticated"}'
\set as_kim  '{"sub": "00000010-0000-4000-a000-000000000005", "role": "authenticated"}'
\set as_nobody '{"role": "authenticated"}'
\set yoga   00000010-0000-4000-b000-000000000001
\set spin   00000010-0000-4000-b000-000000000002
\set boxing 00000010-0000-4000-b000-000000000003
INSERT INTO users (id, email, password_hash, first_name, last_name, role, contact_email) VALUES
    (:'tess',  'tess.cal@gym.example',  'hash', 'Tess',  'Strong', 'trainer', 'tess.cal@gym.example'),
    (:'marco', 'marco.cal@gym.example', 'hash', 'Marco', NULL,     'trainer', 'marco.cal@gym.example'),
    (:'amy',   'amy.cal@mail.example',  'hash', 'Amy',   'Archer', 'athlete', NULL),
    (:'ben',   'ben.cal@mail.example',  'hash', 'Ben',   NULL,     'athlete', NULL),
    (:'kim',   'kim.cal@mail.example',  'hash', 'Kim',   NULL,     'athlete', NULL);
INSERT INTO slots (id, trainer_id, start_at, duration_minutes, capacity, notes) VALUES
    (:'yoga',   :'tess',  '2031-03-03 09:00:00+00', 60, 8, 'Bring a mat'),
    (:'spin',   :'tess',  '2031-03-04 18:30:00+00', 90, 2, NULL),
    (:'boxing', :'marco', '2031-03-05 07:00:00+00', 45, 1, NULL);

-- What a feed shows here: the times a row changed (DTSTAMP, CREATED, LAST-MODIFIED) depend
-- on when this runs, and bookings get ids of their own; both are masked (and checked apart).
CREATE FUNCTION pg_temp.shown(feed text) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(
               regexp_replace(feed, '(DTSTAMP|CREATED|LAST-MODIFIED):\d{8}T\d{6}Z', '\1:<changed>', 'g'),
               'booking-[0-9a-f-]{36}@', 'booking-<id>@', 'g')
$$;
-- A feed's UIDs in order; a booking made by book_slot() (an id of its own) by its slot.
CREATE FUNCTION pg_temp.uids(feed text) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT coalesce('booking of slot ' || b.slot_id, m.uid[1])
      FROM regexp_matches(feed, 'UID:([^\r]*)', 'g') WITH ORDINALITY AS m (uid, n)
      LEFT JOIN gym_booking.bookings AS b
        ON 'booking-' || b.id || '@gym_booking' = m.uid[1] AND b.id::text NOT LIKE '00000010-%'
     ORDER BY m.n
$$;
-- One event's value of a property (after unfolding), by its UID.
CREATE FUNCTION pg_temp.prop(feed text, uid text, name text) RETURNS text LANGUAGE sql AS $$
    SELECT substring(ev FROM '(?:^|\r\n)' || name || '[;:]([^\r]*)')
      FROM regexp_split_to_table(replace(feed, E'\r\n ', ''), 'BEGIN:VEVENT') AS ev
     WHERE ev LIKE '%UID:' || uid || E'\r\n%'
$$;

-- ---- The token ---------------------------------------------------------------------------
-- Only a signed-in person gets one: anon may not call it, a token without a sub is refused.
BEGIN;
SELECT set_config('role', 'anon', true) \gset
SELECT calendar_token();
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_nobody', true) \gset
SELECT calendar_token();
ROLLBACK;
-- Amy's: 256 random bits as 64 hex digits, shown once.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT calendar_token() AS amy_token \gset
COMMIT;
SELECT length(:'amy_token') AS length, :'amy_token' ~ '^[0-9a-f]{64}$' AS hex;
-- Only its SHA-256 is kept.
SELECT user_id = :'amy' AS amys, token_hash = sha256(convert_to(:'amy_token', 'UTF8')) AS hashed,
       position(convert_to(:'amy_token', 'UTF8') IN token_hash) = 0 AS token_not_stored
  FROM calendar_tokens;
-- No client reads the table, whatever its role.
BEGIN;
SELECT set_config('role', 'anon', true) \gset
SELECT count(*) FROM calendar_tokens;
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT count(*) FROM calendar_tokens;
ROLLBACK;
BEGIN;
SELECT set_config('role', 'service_role', true) \gset
SELECT count(*) FROM calendar_tokens;
ROLLBACK;

-- ---- The empty feed, and what a wrong token gets -------------------------------------------
-- Amy has booked nothing yet: a valid calendar with no events (CRLF line ends: \r).
BEGIN;
SELECT set_config('role', 'anon', true) \gset
SELECT calendar_feed(:'amy_token') AS empty_feed \gset
COMMIT;
SELECT :'empty_feed' AS feed;
-- Served as text/calendar by PostgREST: the function returns the domain of that name.
SELECT pg_typeof(calendar_feed(:'amy_token')) AS type;
-- For calendar apps (Accept: */*), calendar_ics serves the same bytes through PostgREST's
-- "any" handler, setting the Content-Type itself.
BEGIN;
SELECT set_config('role', 'anon', true) \gset
SELECT pg_typeof(calendar_ics(:'amy_token')) AS type,
       convert_from(calendar_ics(:'amy_token'), 'UTF8') = :'empty_feed' AS same_feed,
       current_setting('response.headers') AS response_headers;
SELECT convert_from(calendar_ics('wrong'), 'UTF8') = :'empty_feed' AS wrong_token_same_empty_feed;
COMMIT;
-- A wrong token gets exactly the same bytes: a wrong one, NULL, empty, a megabyte, one of
-- the right shape that nobody has, upper case, not hex, not ASCII. Nothing is raised.
BEGIN;
SELECT set_config('role', 'anon', true) \gset
SELECT t.label, calendar_feed(t.token) = :'empty_feed' AS same_empty_feed
  FROM (VALUES ('wrong', 'wrong'), ('null', NULL), ('empty', ''), ('1 MB', repeat('a', 1048576)),
               ('nobody''s', repeat('0', 64)), ('upper case', upper(:'amy_token')),
               ('not hex', repeat('z', 64)), ('not ASCII', repeat('ü', 64)),
               ('with a newline', :'amy_token' || E'\n')) AS t (label, token);
COMMIT;

-- ---- An athlete's feed ---------------------------------------------------------------------
-- Amy books yoga and spin, Ben books yoga.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT status FROM book_slot(:'yoga');
SELECT status FROM book_slot(:'spin');
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ben', true) \gset
SELECT status FROM book_slot(:'yoga');
COMMIT;
-- One VEVENT per booking: times in UTC, the trainer's first name, the slot's notes, nothing
-- about Ben.
BEGIN;
SELECT set_config('role', 'anon', true) \gset
SELECT calendar_feed(:'amy_token') AS amy_feed \gset
COMMIT;
SELECT pg_temp.shown(:'amy_feed') AS feed;
-- Each UID is the booking's id; DTSTAMP and LAST-MODIFIED are its last change (the booking's
-- or its slot's), CREATED when it was made.
SELECT s.notes IS NOT NULL AS has_notes,
       pg_temp.prop(:'amy_feed', 'booking-' || b.id || '@gym_booking', 'DTSTAMP')
         = to_char(greatest(b.updated_at, s.updated_at) AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"') AS dtstamp,
       pg_temp.prop(:'amy_feed', 'booking-' || b.id || '@gym_booking', 'LAST-MODIFIED')
         = to_char(greatest(b.updated_at, s.updated_at) AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"') AS last_modified,
       pg_temp.prop(:'amy_feed', 'booking-' || b.id || '@gym_booking', 'CREATED')
         = to_char(b.created_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"') AS created
  FROM bookings AS b JOIN slots AS s ON s.id = b.slot_id
 WHERE b.user_id = :'amy' ORDER BY s.start_at;
-- The same rows give the same bytes, whenever (and in whatever session time zone) it is read.
SET TimeZone = 'Asia/Tokyo';
SELECT calendar_feed(:'amy_token') = :'amy_feed' AS same_feed;
RESET TimeZone;

-- ---- A trainer's feed ----------------------------------------------------------------------
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT calendar_token() AS tess_token \gset
COMMIT;
-- One VEVENT per slot of hers, with how many are booked: no athlete's name.
BEGIN;
SELECT set_config('role', 'anon', true) \gset
SELECT calendar_feed(:'tess_token') AS tess_feed \gset
COMMIT;
SELECT pg_temp.shown(:'tess_feed') AS feed;

-- ---- Rotation and revocation ---------------------------------------------------------------
-- A new token for Amy: the old one stops working at once (the empty feed), the new one works.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT calendar_token() AS amy_new_token \gset
COMMIT;
SELECT :'amy_new_token' <> :'amy_token' AS new_token,
       calendar_feed(:'amy_token') = :'empty_feed' AS old_token_empty,
       calendar_feed(:'amy_new_token') = :'amy_feed' AS new_token_works;
-- Ben revokes his (he had none: false), gets one, revokes it (true): his feed is closed.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_ben', true) \gset
SELECT revoke_calendar_token() AS had_one;
SELECT calendar_token() AS ben_token \gset
SELECT revoke_calendar_token() AS had_one;
COMMIT;
SELECT calendar_feed(:'ben_token') = :'empty_feed' AS revoked_token_empty;

-- ---- Changes: STATUS, and SEQUENCE that only grows ----------------------------------------
CREATE TEMP TABLE seen (step text, status text, sequence int, trainer_sequence int);
CREATE FUNCTION pg_temp.see(step text, amy_token text, tess_token text) RETURNS text
LANGUAGE sql AS $$
    INSERT INTO seen
    SELECT step,
           pg_temp.prop(gym_booking.calendar_feed(amy_token), 'booking-' || b.id || '@gym_booking', 'STATUS'),
           pg_temp.prop(gym_booking.calendar_feed(amy_token), 'booking-' || b.id || '@gym_booking', 'SEQUENCE')::int,
           pg_temp.prop(gym_booking.calendar_feed(tess_token), 'slot-' || b.slot_id || '@gym_booking', 'SEQUENCE')::int
      FROM gym_booking.bookings AS b
     WHERE b.user_id = '00000010-0000-4000-a000-000000000003'
       AND b.slot_id = '00000010-0000-4000-b000-000000000001'
    RETURNING step
$$;
SELECT pg_temp.see('booked', :'amy_new_token', :'tess_token');
-- Tess changes the yoga class's notes.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
UPDATE slots SET notes = 'Bring a mat and water' WHERE id = :'yoga';
COMMIT;
SELECT pg_temp.see('notes changed', :'amy_new_token', :'tess_token');
-- Amy cancels, then books again.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT status FROM cancel_booking((SELECT id FROM bookings WHERE slot_id = :'yoga' AND user_id = :'amy'));
COMMIT;
SELECT pg_temp.see('cancelled', :'amy_new_token', :'tess_token');
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT status FROM book_slot(:'yoga');
COMMIT;
SELECT pg_temp.see('booked again', :'amy_new_token', :'tess_token');
-- Kim books a place (the trainer's count changes: her SEQUENCE grows, Amy's does not).
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_kim', true) \gset
SELECT status FROM book_slot(:'yoga');
COMMIT;
SELECT pg_temp.see('Kim booked', :'amy_new_token', :'tess_token');
-- Tess cancels the class: Amy's booking and the slot are CANCELLED.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
SELECT cancelled_at IS NOT NULL AS cancelled FROM cancel_slot(:'yoga');
COMMIT;
SELECT pg_temp.see('slot cancelled', :'amy_new_token', :'tess_token');
SELECT * FROM seen;
-- The yoga event in each feed now.
SELECT pg_temp.prop(calendar_feed(:'amy_new_token'), 'booking-' || b.id || '@gym_booking', 'SUMMARY') AS athlete_summary,
       pg_temp.prop(calendar_feed(:'tess_token'), 'slot-' || :'yoga' || '@gym_booking', 'SUMMARY') AS trainer_summary,
       pg_temp.prop(calendar_feed(:'tess_token'), 'slot-' || :'yoga' || '@gym_booking', 'STATUS') AS trainer_status
  FROM bookings AS b WHERE b.slot_id = :'yoga' AND b.user_id = :'amy';

-- ---- Notes are TEXT: escaped, folded at 75 octets, never split inside a character ----------
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_tess', true) \gset
UPDATE slots SET notes = E'Bring: towel, water; mat\\chalk\r\nLevel 2 ' || repeat('Grüße 🏋 ', 12)
 WHERE id = :'spin';
COMMIT;
BEGIN;
SELECT set_config('role', 'anon', true) \gset
SELECT calendar_feed(:'tess_token') AS tess_feed \gset
COMMIT;
SELECT line FROM regexp_split_to_table(:'tess_feed', E'\r\n') WITH ORDINALITY AS l (line, n)
 WHERE n BETWEEN (SELECT n FROM regexp_split_to_table(:'tess_feed', E'\r\n') WITH ORDINALITY AS d (line, n)
                   WHERE line LIKE 'DESCRIPTION:Bring:%')
             AND (SELECT n FROM regexp_split_to_table(:'tess_feed', E'\r\n') WITH ORDINALITY AS d (line, n)
                   WHERE line LIKE 'DTEND:20310304%')
 ORDER BY n;
-- Every line ends in CRLF, none is longer than 75 octets (a fold never splits a character:
-- each line above is valid UTF-8 on its own), and unfolding and unescaping gives the notes
-- back (their CRLF as one line break).
SELECT :'tess_feed' ~ E'\r\n$' AND :'tess_feed' !~ E'[^\r]\n' AS crlf_only,
       (SELECT max(octet_length(line)) FROM regexp_split_to_table(:'tess_feed', E'\r\n') AS line) AS longest_line,
       replace(replace(replace(replace(
           pg_temp.prop(:'tess_feed', 'slot-' || :'spin' || '@gym_booking', 'DESCRIPTION'),
           '\n', E'\n'), '\,', ','), '\;', ';'), '\\', '\')
         = replace(notes, E'\r\n', E'\n') AS notes_back
  FROM slots WHERE id = :'spin';

-- ---- The window: from 8 weeks ago on ------------------------------------------------------
-- Loaded with the rules off, as a restore would: a class 9 weeks ago and one 7 weeks ago,
-- both attended by Amy (completed).
SET session_replication_role = replica;
INSERT INTO slots (id, trainer_id, start_at, end_at, duration_minutes, capacity) VALUES
    ('00000010-0000-4000-b000-000000000009', :'tess', now() - interval '9 weeks', now() - interval '9 weeks' + interval '1 hour', 60, 4),
    ('00000010-0000-4000-b000-000000000007', :'tess', now() - interval '7 weeks', now() - interval '7 weeks' + interval '1 hour', 60, 4);
INSERT INTO bookings (id, slot_id, user_id, status, status_changed_at) VALUES
    ('00000010-0000-4000-c000-000000000009', '00000010-0000-4000-b000-000000000009', :'amy', 'completed', now() - interval '9 weeks' + interval '2 hours'),
    ('00000010-0000-4000-c000-000000000007', '00000010-0000-4000-b000-000000000007', :'amy', 'completed', now() - interval '7 weeks' + interval '2 hours');
RESET session_replication_role;
SELECT pg_temp.uids(calendar_feed(:'amy_new_token')) AS amy_uids;
SELECT pg_temp.uids(calendar_feed(:'tess_token')) AS tess_uids;

-- ---- Both an athlete and a trainer: both sets --------------------------------------------
-- Amy becomes a trainer (the gym changes her role): her bookings stay, her slot joins them.
UPDATE users SET role = 'trainer', contact_email = 'amy.cal@mail.example' WHERE id = :'amy';
INSERT INTO slots (id, trainer_id, start_at, duration_minutes, capacity)
VALUES ('00000010-0000-4000-b000-000000000004', :'amy', '2031-03-06 12:00:00+00', 60, 3);
SELECT pg_temp.uids(calendar_feed(:'amy_new_token')) AS amy_uids;

-- ---- A deleted account loses its token; its feed is empty ----------------------------------
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_kim', true) \gset
SELECT calendar_token() AS kim_token \gset
COMMIT;
SELECT calendar_feed(:'kim_token') <> :'empty_feed' AS kim_has_events;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_kim', true) \gset
SELECT delete_my_account();
COMMIT;
SELECT count(*) AS kims_tokens FROM calendar_tokens WHERE user_id = :'kim';
SELECT calendar_feed(:'kim_token') = :'empty_feed' AS deleted_feed_empty;
-- And a deleted account cannot get a new one.
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_kim', true) \gset
SELECT calendar_token();
ROLLBACK;

-- On a standby (or in any read-only transaction) a token is a write, refused as one.
BEGIN READ ONLY;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT calendar_token();
ROLLBACK;
BEGIN READ ONLY;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT revoke_calendar_token();
ROLLBACK;

-- ---- What clients may call ----------------------------------------------------------------
-- The renderer is the feed's own: no client calls it.
BEGIN;
SELECT set_config('role', 'anon', true) \gset
SELECT calendar_render('[]');
ROLLBACK;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'as_amy', true) \gset
SELECT calendar_render('[]');
ROLLBACK;
-- Bad rows handed to the renderer (by a DBA) are refused as bad input, never an internal error.
SELECT calendar_render('{}');
SELECT calendar_render('[{"uid": "x"}]');
SELECT calendar_render('[{"uid": "x", "summary": "s", "status": "MAYBE", "start": 0, "end": 1, "created": 0, "modified": 0, "sequence": 0}]');
SELECT calendar_render('[{"uid": "x", "summary": "s", "status": "CONFIRMED", "start": 1e300, "end": 1, "created": 0, "modified": 0, "sequence": 0}]');
-- How each function is declared.
SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel, p.prosecdef, p.proconfig,
       pg_get_function_result(p.oid) AS returns,
       has_function_privilege('anon', p.oid, 'EXECUTE') AS anon,
       has_function_privilege('authenticated', p.oid, 'EXECUTE') AS authenticated,
       has_function_privilege('service_role', p.oid, 'EXECUTE') AS service_role
  FROM pg_proc AS p
 WHERE p.pronamespace = 'gym_booking'::regnamespace
   AND p.proname IN ('calendar_feed', 'calendar_ics', 'calendar_token', 'revoke_calendar_token',
                     'calendar_render')
 ORDER BY p.proname;

-- Demo data for a database where gym_booking is installed: an admin, three trainers,
-- six athletes, a week of slots starting tomorrow and a few bookings.
-- Ids are fixed so the README's examples can name them.

INSERT INTO gym_booking.users (id, email, password_hash, first_name, last_name, role, contact_email, contact_phone)
VALUES
    ('00000000-0000-4000-a000-000000000001', 'admin@gym.example',  'demo-not-a-real-hash', 'Ada',   'Admin',    'admin',   NULL, NULL),
    ('00000000-0000-4000-a000-000000000011', 'tess@gym.example',   'demo-not-a-real-hash', 'Tess',  'Strong',   'trainer', 'tess@gym.example', NULL),
    ('00000000-0000-4000-a000-000000000012', 'marco@gym.example',  'demo-not-a-real-hash', 'Marco', 'Ruiz',     'trainer', NULL, '+1 555 0102'),
    ('00000000-0000-4000-a000-000000000013', 'yuki@gym.example',   'demo-not-a-real-hash', 'Yuki',  'Tanaka',   'trainer', 'yuki@gym.example', '+1 555 0103'),
    ('00000000-0000-4000-a000-000000000101', 'alex@mail.example',  'demo-not-a-real-hash', 'Alex',  'Morgan',   'athlete', NULL, NULL),
    ('00000000-0000-4000-a000-000000000102', 'bea@mail.example',   'demo-not-a-real-hash', 'Bea',   'Lopez',    'athlete', NULL, NULL),
    ('00000000-0000-4000-a000-000000000103', 'chen@mail.example',  'demo-not-a-real-hash', 'Chen',  'Wei',      'athlete', NULL, NULL),
    ('00000000-0000-4000-a000-000000000104', 'dana@mail.example',  'demo-not-a-real-hash', 'Dana',  'Okafor',   'athlete', NULL, NULL),
    ('00000000-0000-4000-a000-000000000105', 'eli@mail.example',   'demo-not-a-real-hash', 'Eli',   'Novak',    'athlete', NULL, NULL),
    ('00000000-0000-4000-a000-000000000106', 'fay@mail.example',   'demo-not-a-real-hash', 'Fay',   'Lindqvist','athlete', NULL, NULL);

-- Each trainer, each of the next seven days: a 60-minute one-to-one at 07:00, a 90-minute
-- small group (capacity 4) at 12:00 and a 45-minute class (capacity 8) at 18:00.
INSERT INTO gym_booking.slots (trainer_id, start_at, end_at, duration_minutes, capacity, notes)
SELECT t.id,
       day + s.at,
       day + s.at + make_interval(mins => s.minutes),
       s.minutes,
       s.capacity,
       s.notes
FROM (VALUES ('00000000-0000-4000-a000-000000000011'::uuid),
             ('00000000-0000-4000-a000-000000000012'::uuid),
             ('00000000-0000-4000-a000-000000000013'::uuid)) AS t (id)
CROSS JOIN generate_series(date_trunc('day', now()) + interval '1 day',
                           date_trunc('day', now()) + interval '7 days',
                           interval '1 day') AS day
CROSS JOIN (VALUES (interval '7 hours',  60, 1, 'One-to-one'),
                   (interval '12 hours', 90, 4, 'Small group strength'),
                   (interval '18 hours', 45, 8, 'Evening conditioning')) AS s (at, minutes, capacity, notes);

-- Bookings: athletes fill the first places of a slot, up to half its capacity (at least one).
INSERT INTO gym_booking.bookings (slot_id, user_id)
SELECT sl.id, a.id
FROM gym_booking.slots AS sl
CROSS JOIN LATERAL (
    SELECT u.id
    FROM gym_booking.users AS u
    WHERE u.role = 'athlete'
    ORDER BY md5(u.id::text || sl.id::text)
    LIMIT greatest(1, sl.capacity / 2)
) AS a
WHERE extract(dow FROM sl.start_at) IN (1, 3, 5) OR sl.capacity > 1;

-- Last week, as history (0.2.2 and later: attendance): the same timetable over the past seven
-- days, booked the same way, completed, and checked in: most came, some were no-shows. Past
-- slots cannot be made through the rules (they refuse the past), so this part is loaded the way
-- a dump is restored: a superuser session with row_security and check_function_bodies off. An
-- older release (the upgrade tests load this file into every one) gets the week ahead only.
DO $demo_history$
BEGIN
    IF to_regclass('gym_booking.attendance') IS NOT NULL THEN
        PERFORM set_config('row_security', 'off', true), set_config('check_function_bodies', 'off', true);
        INSERT INTO gym_booking.slots (trainer_id, start_at, end_at, duration_minutes, capacity, notes)
        SELECT t.id, day + s.at, day + s.at + make_interval(mins => s.minutes), s.minutes, s.capacity, s.notes
        FROM (VALUES ('00000000-0000-4000-a000-000000000011'::uuid),
                     ('00000000-0000-4000-a000-000000000012'::uuid),
                     ('00000000-0000-4000-a000-000000000013'::uuid)) AS t (id)
        CROSS JOIN generate_series(date_trunc('day', now()) - interval '7 days',
                                   date_trunc('day', now()) - interval '1 day',
                                   interval '1 day') AS day
        CROSS JOIN (VALUES (interval '7 hours',  60, 1, 'One-to-one'),
                           (interval '12 hours', 90, 4, 'Small group strength'),
                           (interval '18 hours', 45, 8, 'Evening conditioning')) AS s (at, minutes, capacity, notes);
        INSERT INTO gym_booking.bookings (slot_id, user_id, status, trainer_id)
        SELECT sl.id, a.id, 'completed', sl.trainer_id
        FROM gym_booking.slots AS sl
        CROSS JOIN LATERAL (
            SELECT u.id
            FROM gym_booking.users AS u
            WHERE u.role = 'athlete'
            ORDER BY md5(u.id::text || sl.id::text)
            LIMIT greatest(1, sl.capacity * 3 / 4)
        ) AS a
        WHERE sl.end_at < now();
        INSERT INTO gym_booking.attendance (booking_id, user_id, slot_id, trainer_id, mark, strike_at, marked_at, marked_by)
        SELECT b.id, b.user_id, b.slot_id, sl.trainer_id,
               CASE WHEN md5(b.id::text) < '2' THEN 'no_show' ELSE 'attended' END::gym_booking.attendance_mark,
               sl.start_at, sl.start_at + interval '5 minutes', sl.trainer_id
        FROM gym_booking.bookings AS b
        JOIN gym_booking.slots AS sl ON sl.id = b.slot_id
        WHERE b.status = 'completed';
    END IF;
END
$demo_history$;

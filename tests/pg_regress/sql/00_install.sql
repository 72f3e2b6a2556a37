-- Installing gym_booking: one statement. CASCADE brings in citext, which it requires.
CREATE EXTENSION gym_booking CASCADE;

-- Everything lives in schema gym_booking.
-- gym_booking.version() is the loaded library's version; after an upgrade it equals the
-- installed SQL objects' version once ALTER EXTENSION gym_booking UPDATE has run.
SELECT extname, extversion = gym_booking.version() AS up_to_date,
       extnamespace::regnamespace AS schema, extrelocatable
  FROM pg_extension WHERE extname = 'gym_booking';

-- The four enumerated types.
SELECT t.typname AS type, string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder) AS labels
  FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
 WHERE t.typnamespace = 'gym_booking'::regnamespace
 GROUP BY t.typname ORDER BY t.typname;

-- The tables, and what each is for.
SELECT c.relname AS table, obj_description(c.oid, 'pg_class') AS purpose
  FROM pg_class c
 WHERE c.relnamespace = 'gym_booking'::regnamespace AND c.relkind = 'r'
 ORDER BY c.relname;

-- Their columns.
\d gym_booking.users
\d gym_booking.slots
\d gym_booking.bookings
\d gym_booking.activity_logs
\d gym_booking.booking_status_history
\d gym_booking.trainer_directory

-- pg_dump keeps every table's rows (and the history id sequence).
SELECT unnest(extconfig)::regclass AS dumped_with_the_database
  FROM pg_extension WHERE extname = 'gym_booking' ORDER BY 1::text;

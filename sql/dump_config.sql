-- pg_dump leaves an extension's tables out unless they are registered here:
-- registered, a dump of the database keeps every user, slot, booking, log and history row.

SELECT pg_catalog.pg_extension_config_dump('users', '');
SELECT pg_catalog.pg_extension_config_dump('slots', '');
SELECT pg_catalog.pg_extension_config_dump('bookings', '');
SELECT pg_catalog.pg_extension_config_dump('activity_logs', '');
SELECT pg_catalog.pg_extension_config_dump('booking_status_history', '');
SELECT pg_catalog.pg_extension_config_dump('booking_status_history_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('trainer_directory', '');

\echo Use "ALTER EXTENSION gym_booking UPDATE TO '0.1.1'" to load this file. \quit

-- 0.1.1: gym_booking.version(), the version of the library the server has loaded.

CREATE FUNCTION gym_booking.version() RETURNS TEXT
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'version_wrapper';

REVOKE EXECUTE ON FUNCTION gym_booking.version() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gym_booking.version() TO anon, authenticated, service_role;

\echo Use "ALTER EXTENSION gym_booking UPDATE TO '0.1.2'" to load this file. \quit

-- 0.1.2: the hot paths (issue 6).

-- The policies' helpers become Rust (src/identity.rs): the caller's users row is read once
-- per statement instead of planning a SECURITY DEFINER SQL body again at every call.
CREATE OR REPLACE FUNCTION gym_booking.active_user_id() RETURNS uuid
STRICT STABLE PARALLEL RESTRICTED
LANGUAGE c
AS 'MODULE_PATHNAME', 'active_user_id_wrapper';

CREATE OR REPLACE FUNCTION gym_booking.is_app_admin() RETURNS bool
STRICT STABLE PARALLEL RESTRICTED
LANGUAGE c
AS 'MODULE_PATHNAME', 'is_app_admin_wrapper';
COMMENT ON FUNCTION gym_booking.is_app_admin() IS 'Whether the caller is an active app admin';

CREATE OR REPLACE FUNCTION gym_booking.is_trainer() RETURNS bool
STRICT STABLE PARALLEL RESTRICTED
LANGUAGE c
AS 'MODULE_PATHNAME', 'is_trainer_wrapper';
COMMENT ON FUNCTION gym_booking.is_trainer() IS 'Whether the caller is an active trainer';

CREATE OR REPLACE FUNCTION gym_booking.current_app_role() RETURNS gym_booking.user_role
LANGUAGE sql STABLE PARALLEL RESTRICTED
AS $$
    SELECT CASE WHEN gym_booking.is_app_admin() THEN 'admin'
                WHEN gym_booking.is_trainer() THEN 'trainer'
                WHEN gym_booking.active_user_id() IS NOT NULL THEN 'athlete'
           END::gym_booking.user_role
$$;

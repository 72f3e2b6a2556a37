-- Supabase: keep gym_booking.users in step with Supabase Auth's auth.users.
-- Nothing happens until a DBA runs SELECT gym_booking.enable_supabase_auth_sync();

-- The trigger function on auth.users. SECURITY DEFINER: sign-ups run as Supabase's auth
-- role, which has no rights here. The app role is never taken from raw_user_meta_data,
-- which users can edit themselves: everyone starts as an athlete.
CREATE FUNCTION supabase_auth_user_sync() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- ON CONFLICT DO NOTHING: a sign-up never fails because of gym_booking (an email
        -- already used by another account here stays with that account).
        INSERT INTO gym_booking.users (id, email, password_hash, first_name, last_name)
        VALUES (
            NEW.id,
            coalesce(NEW.email, 'user-' || NEW.id || '@no-email.invalid'),
            coalesce(NEW.encrypted_password, ''),
            coalesce(nullif(NEW.raw_user_meta_data ->> 'first_name', ''),
                     nullif(NEW.raw_user_meta_data ->> 'full_name', ''),
                     nullif(NEW.raw_user_meta_data ->> 'name', ''),
                     nullif(split_part(NEW.email, '@', 1), ''),
                     'New user'),
            nullif(NEW.raw_user_meta_data ->> 'last_name', ''))
        ON CONFLICT DO NOTHING;
    ELSIF TG_OP = 'UPDATE' AND NEW.deleted_at IS NOT NULL THEN
        UPDATE gym_booking.users SET deleted_at = now() WHERE id = NEW.id AND deleted_at IS NULL;
    ELSIF TG_OP = 'UPDATE' THEN
        -- An email taken here by another account stays with that account: Supabase's own
        -- change must not fail because of gym_booking.
        UPDATE gym_booking.users
           SET email = CASE WHEN NEW.email IS NULL
                              OR EXISTS (SELECT FROM gym_booking.users AS o
                                          WHERE lower(o.email::text) = lower(NEW.email) AND o.id <> NEW.id)
                            THEN email ELSE NEW.email END,
               password_hash = coalesce(NEW.encrypted_password, password_hash)
         WHERE id = NEW.id AND deleted_at IS NULL
           AND (email::text, password_hash) IS DISTINCT FROM
               (coalesce(NEW.email, email::text), coalesce(NEW.encrypted_password, password_hash));
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE gym_booking.users SET deleted_at = now() WHERE id = OLD.id AND deleted_at IS NULL;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION supabase_auth_user_sync() IS
    'Trigger on auth.users: sign-up creates the user, email/password changes follow, deletion is the soft delete';

-- Installs (or re-installs) the trigger on auth.users and adds the users already signed up.
-- Returns how many were added. For a DBA: no client role may run it.
CREATE FUNCTION enable_supabase_auth_sync() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    added integer;
BEGIN
    IF to_regclass('auth.users') IS NULL THEN
        RAISE EXCEPTION 'auth.users does not exist in this database'
            USING ERRCODE = 'undefined_table',
                  HINT = 'This is for Supabase projects, where Supabase Auth keeps its users in auth.users.';
    END IF;
    DROP TRIGGER IF EXISTS gym_booking_users_sync ON auth.users;
    CREATE TRIGGER gym_booking_users_sync
        AFTER INSERT OR UPDATE OR DELETE ON auth.users
        FOR EACH ROW EXECUTE FUNCTION gym_booking.supabase_auth_user_sync();
    INSERT INTO gym_booking.users (id, email, password_hash, first_name, last_name)
    SELECT a.id,
           coalesce(a.email, 'user-' || a.id || '@no-email.invalid'),
           coalesce(a.encrypted_password, ''),
           coalesce(nullif(a.raw_user_meta_data ->> 'first_name', ''),
                    nullif(a.raw_user_meta_data ->> 'full_name', ''),
                    nullif(a.raw_user_meta_data ->> 'name', ''),
                    nullif(split_part(a.email, '@', 1), ''),
                    'New user'),
           nullif(a.raw_user_meta_data ->> 'last_name', '')
      FROM auth.users AS a
     WHERE a.deleted_at IS NULL
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS added = ROW_COUNT;
    RETURN added;
END
$$;
COMMENT ON FUNCTION enable_supabase_auth_sync() IS
    'Supabase: keeps gym_booking.users in step with auth.users (trigger + backfill); returns users added';

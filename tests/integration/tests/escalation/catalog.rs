//! Not a request: the catalog behind every refusal of the escalation tests.

use gym_booking_integration::access::{self, Fixture};
use gym_booking_integration::TestDb;

/// Not a request: the catalog behind every refusal above. anon may run only
/// current_user_id(); no client role may run a trigger function or the DBA's
/// enable_supabase_auth_sync(); every SECURITY DEFINER function pins its search_path;
/// row-level security is on for every table.
#[test]
fn the_catalog_behind_the_refusals() {
    let db = TestDb::with_extension("escalation_catalog");
    let mut client = db.connect();
    let anon_may: Vec<String> = client
        .query(
            "SELECT p.proname::text FROM pg_proc p
              WHERE p.pronamespace = 'gym_booking'::regnamespace
                AND has_function_privilege('anon', p.oid, 'EXECUTE')
              ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        anon_may,
        // A calendar app has no JWT: it fetches the feed with its secret token (0.2.1).
        [
            "calendar_feed",
            "calendar_ics",
            "current_user_id",
            "version"
        ],
        "functions anon may run"
    );

    let forbidden: Vec<String> = client
        .query(
            "SELECT r.rolname || ' may run ' || p.proname FROM pg_proc p
              CROSS JOIN pg_roles r
              WHERE p.pronamespace = 'gym_booking'::regnamespace
                AND r.rolname IN ('anon', 'authenticated', 'service_role')
                AND has_function_privilege(r.oid, p.oid, 'EXECUTE')
                AND (p.prorettype = 'trigger'::regtype
                     OR p.proname IN ('enable_supabase_auth_sync', 'supabase_auth_user_sync'))
              ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(forbidden.is_empty(), "{forbidden:?}");

    let unpinned: Vec<String> = client
        .query(
            "SELECT p.proname::text FROM pg_proc p
              WHERE p.pronamespace = 'gym_booking'::regnamespace AND p.prosecdef
                AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
              ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        unpinned.is_empty(),
        "SECURITY DEFINER without a search_path: {unpinned:?}"
    );

    let without_rls: Vec<String> = client
        .query(
            "SELECT c.relname::text FROM pg_class c
              WHERE c.relnamespace = 'gym_booking'::regnamespace AND c.relkind = 'r'
                AND NOT c.relrowsecurity
              ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        without_rls.is_empty(),
        "tables without row-level security: {without_rls:?}"
    );

    let sequence_rights: Vec<String> = client
        .query(
            "SELECT r.rolname || ' ' || priv FROM pg_class c
              CROSS JOIN pg_roles r CROSS JOIN unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) AS priv
              WHERE c.relnamespace = 'gym_booking'::regnamespace AND c.relkind = 'S'
                AND r.rolname IN ('anon', 'authenticated', 'service_role')
                AND has_sequence_privilege(r.oid, c.oid, priv)",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        sequence_rights.is_empty(),
        "client rights on sequences: {sequence_rights:?}"
    );
}

/// Not over HTTP: a direct SQL client (DESIGN.md: "whichever client writes — psql, an ORM")
/// whose role is a member of `authenticated` and may create objects in a schema of its own.
/// The rules run their SQL as the extension's owner; the caller's search_path must not let
/// the caller's own functions run there. Here the caller shadows `now()` (its schema first,
/// pg_catalog after, both named explicitly), books a slot, leaves and joins a waitlist and
/// cancels a place someone waits for (the rules promote them and write events as the owner):
/// its function must never run as anyone but the caller.
#[test]
fn rules_never_run_the_callers_functions_as_the_owner() {
    let mut fixture = Fixture::new("escalation_search_path");
    let client = &mut fixture.client;
    client
        .batch_execute(
            "CREATE SCHEMA it_mallory;
             GRANT USAGE, CREATE ON SCHEMA it_mallory TO authenticated;
             CREATE TABLE it_mallory.ran_as (who text NOT NULL, superuser boolean NOT NULL);
             GRANT INSERT, SELECT ON it_mallory.ran_as TO authenticated;",
        )
        .unwrap();
    let mut tx = client.transaction().unwrap();
    tx.batch_execute(&format!(
        "SET LOCAL ROLE authenticated;
         SELECT set_config('request.jwt.claims', '{{\"sub\": \"{a}\", \"role\": \"authenticated\"}}', true);
         CREATE FUNCTION it_mallory.now() RETURNS timestamptz LANGUAGE plpgsql AS $f$
         BEGIN
             INSERT INTO it_mallory.ran_as
             SELECT current_user, rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user;
             RETURN pg_catalog.now();
         END $f$;
         SET LOCAL search_path = it_mallory, pg_catalog;",
        a = access::id("A")
    ))
    .unwrap();
    // Each step on its own savepoint: a step the rules refuse runs nothing of the caller's
    // as the owner either, and the next step still runs.
    let steps = [
        format!(
            "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ('{}', '{}')",
            access::id("T3"),
            access::id("A")
        ),
        format!("SELECT gym_booking.leave_waitlist('{}')", access::id("T4")),
        format!("SELECT gym_booking.join_waitlist('{}')", access::id("T4")),
        // A frees U3, where B waits: the rules book B and write events.
        format!(
            "UPDATE gym_booking.bookings SET status = 'cancelled' WHERE id = '{}'",
            access::id("A@U3")
        ),
    ];
    let mut refused = Vec::new();
    for step in &steps {
        tx.batch_execute("SAVEPOINT step").unwrap();
        match tx.batch_execute(step) {
            Ok(()) => tx.batch_execute("RELEASE SAVEPOINT step").unwrap(),
            Err(e) => {
                refused.push(format!("{step}: {e}"));
                tx.batch_execute("ROLLBACK TO SAVEPOINT step").unwrap();
            }
        }
    }
    let ran_as: Vec<(String, bool)> = tx
        .query(
            "SELECT who, superuser FROM it_mallory.ran_as ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    eprintln!("steps the rules refused under the caller's search_path: {refused:?}");
    tx.rollback().unwrap();
    let elsewhere: Vec<&(String, bool)> = ran_as
        .iter()
        .filter(|(who, _)| who != "authenticated")
        .collect();
    assert!(
        elsewhere.is_empty(),
        "the caller's it_mallory.now() ran as {elsewhere:?} (role, superuser) inside the rules: \
         a member of authenticated with CREATE on any schema can run code as the extension's owner"
    );
}

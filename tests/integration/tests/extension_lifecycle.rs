//! CREATE EXTENSION, DROP EXTENSION and CREATE again, on real databases.

use gym_booking_integration::{load_demo_data, sqlstate, TestDb};

/// Objects that belong to the extension, by kind, as `pg_depend` records them.
const MEMBERS: &str = "
    SELECT pg_describe_object(classid, objid, 0)
      FROM pg_depend
     WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
       AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'gym_booking')
     ORDER BY 1";

#[test]
fn create_drop_and_create_again_leaves_nothing_behind() {
    let db = TestDb::with_extension("lifecycle");
    let mut client = db.connect();

    let members: Vec<String> = client
        .query(MEMBERS, &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for expected in [
        "type gym_booking.user_role",
        "type gym_booking.booking_status",
        "type gym_booking.log_entity_type",
        "type gym_booking.log_action_type",
        "table gym_booking.users",
        "table gym_booking.slots",
        "table gym_booking.bookings",
        "table gym_booking.activity_logs",
        "table gym_booking.booking_status_history",
        "table gym_booking.trainer_directory",
        "sequence gym_booking.booking_status_history_id_seq",
    ] {
        assert!(
            members.iter().any(|m| m == expected),
            "{expected} is not a member: {members:?}"
        );
    }

    client
        .batch_execute("DROP EXTENSION gym_booking CASCADE")
        .unwrap();
    let leftovers: i64 = client
        .query_one(
            "SELECT (SELECT count(*) FROM pg_type WHERE typname IN
                       ('user_role', 'booking_status', 'log_entity_type', 'log_action_type'))
                  + (SELECT count(*) FROM pg_class WHERE relname IN
                       ('users', 'slots', 'bookings', 'activity_logs',
                        'booking_status_history', 'trainer_directory'))
                  + (SELECT count(*) FROM pg_depend d JOIN pg_namespace n ON n.oid = d.refobjid
                      WHERE d.refclassid = 'pg_namespace'::regclass AND n.nspname = 'gym_booking')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(leftovers, 0, "DROP EXTENSION left objects behind");
    // PostgreSQL made the control file's schema for the extension but never counts a schema
    // as a member of an extension living in it: it stays, empty, and is reused.

    client
        .batch_execute("CREATE EXTENSION gym_booking CASCADE")
        .unwrap();
    let again: Vec<String> = client
        .query(MEMBERS, &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        again.len(),
        members.len(),
        "a second CREATE EXTENSION made a different set"
    );
}

#[test]
fn without_cascade_and_without_citext_the_error_says_what_to_do() {
    let db = TestDb::empty("no_cascade");
    let mut client = db.connect();
    let err = client
        .batch_execute("CREATE EXTENSION gym_booking")
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42704");
    let db_err = err.as_db_error().unwrap();
    assert_eq!(
        db_err.message(),
        "required extension \"citext\" is not installed"
    );
    assert!(
        db_err.hint().unwrap_or_default().contains("CASCADE"),
        "{db_err:?}"
    );
    // Nothing was half-created.
    let schemas: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'gym_booking'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(schemas, 0);
    // With citext already there, no CASCADE is needed.
    client
        .batch_execute("CREATE EXTENSION citext; CREATE EXTENSION gym_booking")
        .unwrap();
}

#[test]
fn the_demo_data_of_the_run_command_loads() {
    let db = TestDb::with_extension("demo_data");
    let mut client = db.connect();
    load_demo_data(&mut client);
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM gym_booking.users WHERE role = 'trainer'),
                    (SELECT count(*) FROM gym_booking.users WHERE role = 'athlete'),
                    (SELECT count(*) FROM gym_booking.slots),
                    (SELECT count(*) FROM gym_booking.bookings),
                    (SELECT count(*) FROM gym_booking.slots s
                      WHERE (SELECT count(*) FROM gym_booking.bookings b
                              WHERE b.slot_id = s.id AND b.status <> 'cancelled') > s.capacity),
                    (SELECT count(*) FROM gym_booking.attendance),
                    (SELECT count(*) FROM gym_booking.bookings WHERE status = 'completed')",
            &[],
        )
        .unwrap();
    let counts: Vec<i64> = (0..7).map(|i| row.get(i)).collect();
    // A week ahead and last week, three classes a day for each of three trainers.
    assert_eq!(counts[..3], [3, 6, 126]);
    assert!(counts[3] > 0, "no bookings");
    assert_eq!(counts[4], 0, "an overbooked demo slot");
    // Last week's bookings are completed and checked in.
    assert!(counts[6] > 0, "no history");
    assert_eq!(
        counts[5], counts[6],
        "every completed demo booking has its attendance mark"
    );
}

/// In a brand-new cluster no role of Supabase's exists yet: two `CREATE EXTENSION` in two
/// databases at the same moment both find them missing, and both must succeed (the second to
/// create a role waits for the first and finds it made).
#[test]
fn two_create_extension_at_once_in_a_new_cluster_both_succeed() {
    use gym_booking_integration::cluster::{port_after_test_cluster, Cluster};
    use std::sync::{Arc, Barrier};

    for round in 0..2 {
        let cluster = Cluster::start("two_creates", port_after_test_cluster(20), "", &[]);
        let mut admin = cluster.connect("postgres");
        for db in ["one", "two"] {
            admin
                .batch_execute(&format!("CREATE DATABASE {db}"))
                .unwrap();
        }
        let barrier = Arc::new(Barrier::new(2));
        let creates: Vec<_> = ["one", "two"]
            .into_iter()
            .map(|db| {
                let mut client = cluster.connect(db);
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    client
                        .batch_execute("CREATE EXTENSION gym_booking CASCADE")
                        .map_err(|e| format!("{db}: {e:?}"))
                })
            })
            .collect();
        for create in creates {
            create
                .join()
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
        let roles: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_roles
                  WHERE rolname IN ('anon', 'authenticated', 'service_role')",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(roles, 3);
    }
}

//! A lived-in database survives `pg_dump` + `psql` and `pg_dump -Fc` + `pg_restore`: every
//! row comes back as it was (past, completed, cancelled and ended-but-unprocessed bookings,
//! anonymized users, logs, history, the directory), with no error and no invented log row,
//! and the restored database still enforces the rules.

use gym_booking_integration::{
    connect_to, contents, load_demo_data, restore_plain_dump, run_tool, sqlstate, TestDb,
};

const ADMIN_CLAIMS: &str = r#"{"sub": "00000000-0000-4000-a000-000000000001"}"#;

/// The demo data, a past that the rules no longer let anyone write (loaded as a restore
/// would), and a few weeks of life: cancellations, completions, deletions.
fn live_in(db: &TestDb) {
    let mut client = db.connect();
    load_demo_data(&mut client);
    client
        .batch_execute(
            "BEGIN;
             SET LOCAL session_replication_role = replica;
             -- Last week's sessions, all ended; every athlete booked each of them.
             INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes, capacity, notes)
             SELECT ('00000000-0000-4000-b000-0000000000' || lpad(d::text, 2, '0'))::uuid,
                    '00000000-0000-4000-a000-000000000011',
                    date_trunc('day', now()) - make_interval(days => d) + interval '9 hours',
                    date_trunc('day', now()) - make_interval(days => d) + interval '10 hours',
                    60, 8, 'Past session'
               FROM generate_series(1, 7) AS d;
             INSERT INTO gym_booking.bookings (slot_id, user_id, status, status_changed_at, created_at)
             SELECT s.id, u.id, 'reserved', s.start_at - interval '2 days', s.start_at - interval '2 days'
               FROM gym_booking.slots AS s, gym_booking.users AS u
              WHERE s.notes = 'Past session' AND u.role = 'athlete';
             COMMIT;",
        )
        .expect("the past");
    client
        .batch_execute(&format!(
            "BEGIN;
             SELECT set_config('request.jwt.claims', '{ADMIN_CLAIMS}', true);
             -- Some past bookings complete; the rest stay ended but unprocessed.
             SELECT gym_booking.complete_past_bookings(20);
             -- Athletes cancel a few future bookings; Fay re-books one.
             UPDATE gym_booking.bookings SET status = 'cancelled'
              WHERE id IN (SELECT b.id FROM gym_booking.bookings b JOIN gym_booking.slots s ON s.id = b.slot_id
                            WHERE b.status = 'reserved' AND s.start_at > now() + interval '2 days'
                            ORDER BY b.id LIMIT 6);
             UPDATE gym_booking.bookings SET status = 'reserved'
              WHERE id = (SELECT b.id FROM gym_booking.bookings b JOIN gym_booking.slots s ON s.id = b.slot_id
                           WHERE b.status = 'cancelled' AND s.capacity > 1 ORDER BY b.id LIMIT 1);
             -- Marco cancels a slot; Dana and Marco leave.
             UPDATE gym_booking.slots SET cancelled_at = now()
              WHERE id = (SELECT id FROM gym_booking.slots
                           WHERE trainer_id = '00000000-0000-4000-a000-000000000012' AND start_at > now()
                           ORDER BY start_at LIMIT 1);
             DELETE FROM gym_booking.users WHERE id = '00000000-0000-4000-a000-000000000104';
             DELETE FROM gym_booking.users WHERE id = '00000000-0000-4000-a000-000000000012';
             COMMIT;"
        ))
        .expect("a few weeks of life");
    let kinds: i64 = client
        .query_one(
            "SELECT count(DISTINCT status) FROM gym_booking.bookings",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        kinds, 3,
        "reserved, cancelled and completed bookings to restore"
    );
}

/// The rules hold in a restored database: overbooking, the cancellation window, the log.
fn rules_still_hold(db: &str) {
    let mut client = connect_to(db);
    let full: String = client
        .query_one(
            "SELECT s.id::text FROM gym_booking.slots s
              WHERE s.capacity = 1 AND s.cancelled_at IS NULL AND s.start_at > now()
                AND EXISTS (SELECT FROM gym_booking.bookings b WHERE b.slot_id = s.id AND b.status = 'reserved')
              LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    let err = client
        .batch_execute(&format!(
            "INSERT INTO gym_booking.bookings (slot_id, user_id)
             SELECT '{full}', id FROM gym_booking.users
              WHERE role = 'athlete' AND deleted_at IS NULL
                AND id NOT IN (SELECT user_id FROM gym_booking.bookings WHERE slot_id = '{full}')
              LIMIT 1"
        ))
        .unwrap_err();
    assert_eq!(
        sqlstate(&err),
        "23P01",
        "a full slot stays full after a restore"
    );
    let logs_before: i64 = client
        .query_one("SELECT count(*) FROM gym_booking.activity_logs", &[])
        .unwrap()
        .get(0);
    client
        .batch_execute(
            "INSERT INTO gym_booking.slots (id, trainer_id, start_at, capacity)
             VALUES ('00000000-0000-4000-b000-00000000ffff', '00000000-0000-4000-a000-000000000011',
                     now() + interval '30 minutes', 2);
             INSERT INTO gym_booking.bookings (slot_id, user_id)
             VALUES ('00000000-0000-4000-b000-00000000ffff', '00000000-0000-4000-a000-000000000101');",
        )
        .unwrap();
    let err = client
        .batch_execute(
            "UPDATE gym_booking.bookings SET status = 'cancelled'
              WHERE slot_id = '00000000-0000-4000-b000-00000000ffff'",
        )
        .unwrap_err();
    assert_eq!(
        sqlstate(&err),
        "27000",
        "the cancellation window holds after a restore"
    );
    let logs_after: i64 = client
        .query_one("SELECT count(*) FROM gym_booking.activity_logs", &[])
        .unwrap()
        .get(0);
    assert_eq!(logs_after, logs_before + 2, "new writes are logged again");
}

#[test]
fn plain_dump_restored_with_psql_brings_everything_back() {
    let source = TestDb::with_extension("dump_plain_src");
    live_in(&source);
    let target = restore_plain_dump(&source, "dump_plain_dst");
    assert_eq!(contents(&target.name), contents(&source.name));
    rules_still_hold(&target.name);
}

#[test]
fn custom_dump_restored_with_pg_restore_brings_everything_back() {
    let source = TestDb::with_extension("dump_custom_src");
    live_in(&source);
    let target = TestDb::empty("dump_custom_dst");
    let file = std::env::temp_dir().join(format!("gym_booking_dump_{}.dump", std::process::id()));
    let file = file.to_str().unwrap();
    run_tool("pg_dump", &["-Fc", "-d", &source.name, "-f", file]);
    run_tool("pg_restore", &["--exit-on-error", "-d", &target.name, file]);
    assert_eq!(contents(&target.name), contents(&source.name));
    rules_still_hold(&target.name);
    std::fs::remove_file(file).ok();
}

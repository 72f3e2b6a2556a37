//! The background worker: with `shared_preload_libraries = 'gym_booking'`, the database named
//! in `gym_booking.completion_databases` gets its past bookings completed every
//! `gym_booking.completion_interval` seconds. `scripts/test.sh` starts the test cluster so,
//! for the database `it_completion_worker` at a one-second interval. Each round also keeps the
//! weekly series' occurrences `timetable_horizon` ahead (0.2.1).

use std::time::{Duration, Instant};

use gym_booking_integration::TestDb;

/// One test: the worker serves one database, which each part would make afresh.
#[test]
fn the_worker_completes_past_bookings_and_keeps_timetables_ahead() {
    let db = TestDb::with_extension("completion_worker");
    let mut client = db.connect();
    completes_a_past_booking_within_its_interval(&mut client);
    keeps_timetables_ahead(&mut client);
}

fn completes_a_past_booking_within_its_interval(client: &mut postgres::Client) {
    let settings: Vec<String> = client
        .query(
            "SELECT current_setting('shared_preload_libraries'),
                    current_setting('gym_booking.completion_databases'),
                    current_setting('gym_booking.completion_interval')",
            &[],
        )
        .unwrap()
        .iter()
        .flat_map(|r| (0..3).map(move |i| r.get::<_, String>(i)))
        .collect();
    assert_eq!(
        settings,
        ["gym_booking", "it_completion_worker", "1s"],
        "the cluster's settings"
    );

    // A session that ended an hour ago, with a reserved booking nobody completed: loaded
    // as a restore would load it.
    client
        .batch_execute(
            "INSERT INTO gym_booking.users (id, email, password_hash, first_name, role, contact_email) VALUES
                 ('00000000-0000-4000-a000-0000000000c1', 'coach@w.example', 'h', 'Coach', 'trainer', 'coach@w.example'),
                 ('00000000-0000-4000-a000-0000000000c2', 'ath@w.example', 'h', 'Ath', 'athlete', NULL);
             BEGIN;
             SET LOCAL session_replication_role = replica;
             INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes)
             VALUES ('00000000-0000-4000-b000-0000000000c1', '00000000-0000-4000-a000-0000000000c1',
                     now() - interval '2 hours', now() - interval '1 hour', 60);
             INSERT INTO gym_booking.bookings (id, slot_id, user_id)
             VALUES ('00000000-0000-4000-c000-0000000000c1', '00000000-0000-4000-b000-0000000000c1',
                     '00000000-0000-4000-a000-0000000000c2');
             COMMIT;",
        )
        .unwrap();

    // The launcher may have visited the database between its CREATE DATABASE and CREATE
    // EXTENSION (then it looks again after one interval, then two, ...): a few intervals
    // suffice (about one second here); the deadline is generous for a loaded machine.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let status: String = client
            .query_one(
                "SELECT status::text FROM gym_booking.bookings WHERE id = '00000000-0000-4000-c000-0000000000c1'",
                &[],
            )
            .unwrap()
            .get(0);
        if status == "completed" || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        status, "completed",
        "the worker did not complete the booking"
    );

    let row = client
        .query_one(
            "SELECT b.auto_processed,
                    (SELECT count(*) FROM gym_booking.booking_status_history h
                      WHERE h.booking_id = b.id AND h.previous_status = 'reserved'
                        AND h.current_status = 'completed' AND h.auto_processed),
                    (SELECT count(*) FROM gym_booking.activity_logs l
                      WHERE l.entity_id = b.id AND l.action = 'status_auto_update'
                        AND l.metadata ->> 'source' = 'system')
               FROM gym_booking.bookings b WHERE b.id = '00000000-0000-4000-c000-0000000000c1'",
            &[],
        )
        .unwrap();
    assert!(row.get::<_, bool>(0), "auto_processed");
    assert_eq!(row.get::<_, i64>(1), 1, "one history row");
    assert_eq!(row.get::<_, i64>(2), 1, "one status_auto_update log row");
}

fn keeps_timetables_ahead(client: &mut postgres::Client) {
    // A daily 12:00 UTC class from tomorrow, made one day ahead; then the horizon grows to two
    // weeks and the worker makes the rest, with no call from anyone.
    client
        .batch_execute(
            "INSERT INTO gym_booking.users (id, email, password_hash, first_name, role, contact_email) VALUES
                 ('00000000-0000-4000-a000-0000000000d1', 'daily@w.example', 'h', 'Daily', 'trainer', 'daily@w.example')
             ON CONFLICT DO NOTHING;
             UPDATE gym_booking.studio_settings SET timetable_horizon = '1 day';
             SELECT gym_booking.create_series(ARRAY[1, 2, 3, 4, 5, 6, 7], '12:00',
                        (now() AT TIME ZONE 'UTC')::date + 1, time_zone => 'UTC',
                        trainer_id => '00000000-0000-4000-a000-0000000000d1');",
        )
        .unwrap();
    let made = |client: &mut postgres::Client| -> i64 {
        client
            .query_one(
                "SELECT count(*) FROM gym_booking.slots s JOIN gym_booking.series se ON se.id = s.series_id
                  WHERE se.trainer_id = '00000000-0000-4000-a000-0000000000d1'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    assert_eq!(made(client), 1, "one day ahead: tomorrow's class");
    client
        .batch_execute("UPDATE gym_booking.studio_settings SET timetable_horizon = '14 days'")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while made(client) < 14 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        made(client),
        14,
        "the worker made the series' classes two weeks ahead, each once"
    );
}

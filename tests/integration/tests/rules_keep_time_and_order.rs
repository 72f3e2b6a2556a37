//! Rules that only show across statements and sessions (DESIGN.md, "Amendments to Part 1"):
//! the rules judge time by the clock of the statement that asks, not by when its transaction
//! began; and a trainer's account deletion racing the creation of a slot for that trainer never
//! leaves an open slot behind (slot creation takes the trainer's row as booking takes the
//! athlete's). The in-transaction cases of the same issue are `#[pg_test]`s
//! (`src/request_tests.rs`).

use std::thread;
use std::time::{Duration, Instant};

use gym_booking_integration::{postgrest_request, sqlstate, Caller, TestDb};
use postgres::Client;
use serde_json::json;

const TRAINER: &str = "00000000-0000-4000-8000-0000000000a1";
const ATHLETE: &str = "00000000-0000-4000-8000-0000000000b1";

fn people(client: &mut Client) {
    client
        .batch_execute(&format!(
            "INSERT INTO gym_booking.users (id, email, password_hash, first_name, role, contact_email) VALUES
                 ('{TRAINER}', 'coach@clock.example', 'h', 'Coach', 'trainer', 'coach@clock.example'),
                 ('{ATHLETE}', 'ath@clock.example', 'h', 'Ath', 'athlete', NULL)"
        ))
        .unwrap();
}

/// A slot of TRAINER starting `seconds` from now (the DBA's insert, as a trainer's would be).
fn slot_in(client: &mut Client, seconds: i32) -> String {
    client
        .query_one(
            &format!(
                "INSERT INTO gym_booking.slots (trainer_id, start_at, capacity)
                 VALUES ('{TRAINER}', clock_timestamp() + make_interval(secs => $1::int), 3)
                 RETURNING id::text"
            ),
            &[&seconds],
        )
        .unwrap()
        .get(0)
}

fn athlete() -> Caller {
    Caller::new(
        "authenticated",
        Some(json!({"sub": ATHLETE, "role": "authenticated"})),
    )
}

/// The request's transaction begins, waits `seconds` (a slow client, a long transaction),
/// then runs `sql` with `$1` = the slot id; returns its SQLSTATE or "00000".
fn late_statement(client: &mut Client, seconds: f64, sql: &str, slot: &str) -> String {
    let result = postgrest_request(client, &athlete(), "POST", "/rpc/late", |tx| {
        tx.execute("SELECT pg_sleep($1)", &[&seconds])?;
        tx.execute(sql, &[&slot])
    });
    match result {
        Ok(_) => "00000".into(),
        Err(err) => sqlstate(&err),
    }
}

#[test]
fn a_transaction_begun_before_the_start_cannot_book_after_it() {
    let db = TestDb::with_extension("clock_book_after_start");
    let mut client = db.connect();
    people(&mut client);
    let slot = slot_in(&mut client, 2);
    let code = late_statement(
        &mut client,
        3.0,
        "SELECT gym_booking.book_slot($1::text::uuid)",
        &slot,
    );
    assert_eq!(
        code, "23000",
        "the slot had started when the booking was asked"
    );
    let bookings: i64 = client
        .query_one("SELECT count(*) FROM gym_booking.bookings", &[])
        .unwrap()
        .get(0);
    assert_eq!(bookings, 0);
}

#[test]
fn a_transaction_begun_before_the_window_cannot_cancel_inside_it() {
    let db = TestDb::with_extension("clock_cancel_in_window");
    let mut client = db.connect();
    people(&mut client);
    // Outside the 60-minute window by two seconds when the transaction begins.
    let slot = slot_in(&mut client, 60 * 60 + 2);
    postgrest_request(&mut client, &athlete(), "POST", "/rpc/book_slot", |tx| {
        tx.execute("SELECT gym_booking.book_slot($1::text::uuid)", &[&slot])
    })
    .unwrap();
    let code = late_statement(
        &mut client,
        3.0,
        "UPDATE gym_booking.bookings SET status = 'cancelled' WHERE slot_id = $1::text::uuid",
        &slot,
    );
    assert_eq!(
        code, "27000",
        "inside the window when the cancellation was asked"
    );
    let status: String = client
        .query_one("SELECT status::text FROM gym_booking.bookings", &[])
        .unwrap()
        .get(0);
    assert_eq!(status, "reserved");
}

#[test]
fn a_trainer_deleted_while_creating_a_slot_leaves_no_open_slot() {
    let db = TestDb::with_extension("deleted_trainer_creates_slot");
    let mut setup = db.connect();
    people(&mut setup);

    // The gym deletes the trainer's account; its transaction is still open.
    let mut gym = db.connect();
    gym.batch_execute(&format!(
        "BEGIN; UPDATE gym_booking.users SET deleted_at = now() WHERE id = '{TRAINER}'"
    ))
    .unwrap();

    // Meanwhile the trainer creates a slot.
    let name = db.name.clone();
    let creating = thread::spawn(move || {
        let mut client = gym_booking_integration::connect_to(&name);
        let trainer = Caller::new(
            "authenticated",
            Some(json!({"sub": TRAINER, "role": "authenticated"})),
        );
        postgrest_request(&mut client, &trainer, "POST", "/rpc/create_slot", |tx| {
            tx.query_one(
                "SELECT (gym_booking.create_slot(now() + interval '2 days')).id::text",
                &[],
            )
            .map(|row| row.get::<_, String>(0))
        })
        .map_err(|err| sqlstate(&err))
    });

    // It must wait for the deletion: its slot would otherwise miss the deletion's cascade.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = setup
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .unwrap()
            .get(0);
        if waiting > 0 {
            break;
        }
        assert!(
            !creating.is_finished() && Instant::now() < deadline,
            "the slot's creation did not wait for the trainer's deletion in flight: {:?}",
            creating.is_finished()
        );
        thread::sleep(Duration::from_millis(50));
    }
    gym.batch_execute("COMMIT").unwrap();
    let created = creating.join().unwrap();
    assert_eq!(
        created,
        Err("22023".to_string()),
        "a deleted trainer gets no new slot"
    );
    let open: i64 = setup
        .query_one(
            &format!(
                "SELECT count(*) FROM gym_booking.slots
                  WHERE trainer_id = '{TRAINER}' AND cancelled_at IS NULL AND start_at > now()"
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(open, 0, "an open future slot of a deleted trainer");
}

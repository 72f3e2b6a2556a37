//! The copies of a slot's trainer that bookings, their history and the log entries of slots and
//! bookings carry (src/rules/trainer.rs) are the slot's trainer, whoever writes and however:
//! through the API, as `service_role` naming another trainer, loaded with the rules off, after
//! the slot is handed to another trainer, and after a deletion. Row-level security reads a
//! trainer's rows by them, so a wrong copy would show a trainer another trainer's bookings.

use gym_booking_integration::{postgrest_request, Caller, TestDb};
use postgres::Client;
use serde_json::json;

const ADMIN: &str = "00000000-0000-4000-8000-0000000000a0";
const TOM: &str = "00000000-0000-4000-8000-0000000000a1";
const UMA: &str = "00000000-0000-4000-8000-0000000000a2";
const ANNA: &str = "00000000-0000-4000-8000-0000000000a3";
const S1: &str = "00000000-0000-4000-9000-0000000000a1";
const S2: &str = "00000000-0000-4000-9000-0000000000a2";
const S3: &str = "00000000-0000-4000-9000-0000000000a3";
const S4: &str = "00000000-0000-4000-9000-0000000000a4";

fn caller(id: &str) -> Caller {
    Caller::new(
        "authenticated",
        Some(json!({"sub": id, "role": "authenticated"})),
    )
}

fn as_caller(client: &mut Client, id: &str, sql: &str) {
    postgrest_request(client, &caller(id), "POST", "/", |tx| tx.batch_execute(sql))
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
}

/// What `id` sees of slot S1: its bookings, their history rows, the log entries about the
/// slot and its bookings that `id` did not write (those are theirs by `changed_by`).
fn seen_of_s1(client: &mut Client, id: &str) -> (i64, i64, i64) {
    postgrest_request(client, &caller(id), "GET", "/", |tx| {
        let row = tx.query_one(
            &format!(
                "SELECT (SELECT count(*) FROM gym_booking.bookings WHERE slot_id = '{S1}'),
                        (SELECT count(*) FROM gym_booking.booking_status_history AS h
                          WHERE h.booking_id IN (SELECT id FROM gym_booking.bookings WHERE slot_id = '{S1}')),
                        (SELECT count(*) FROM gym_booking.activity_logs AS l
                          WHERE l.changed_by IS DISTINCT FROM '{id}'
                            AND (l.entity_id = '{S1}'
                                 OR l.entity_id IN (SELECT id FROM gym_booking.bookings WHERE slot_id = '{S1}')))"
            ),
            &[],
        )?;
        Ok((row.get(0), row.get(1), row.get(2)))
    })
    .unwrap()
}

/// Rows whose copy is not their slot's trainer.
fn wrong_copies(client: &mut Client) -> i64 {
    client
        .query_one(
            "SELECT (SELECT count(*) FROM gym_booking.bookings AS b JOIN gym_booking.slots AS s
                       ON s.id = b.slot_id WHERE b.trainer_id IS DISTINCT FROM s.trainer_id)
                  + (SELECT count(*) FROM gym_booking.booking_status_history AS h
                       JOIN gym_booking.bookings AS b ON b.id = h.booking_id
                      WHERE h.trainer_id IS DISTINCT FROM b.trainer_id)
                  + (SELECT count(*) FROM gym_booking.activity_logs AS l
                      WHERE l.trainer_id IS DISTINCT FROM
                            CASE l.entity_type
                                WHEN 'slot' THEN (SELECT s.trainer_id FROM gym_booking.slots AS s WHERE s.id = l.entity_id)
                                WHEN 'booking' THEN (SELECT b.trainer_id FROM gym_booking.bookings AS b WHERE b.id = l.entity_id)
                            END)",
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn every_copy_is_the_slots_trainer() {
    let db = TestDb::with_extension("trainer_copies");
    let mut client = db.connect();
    client
        .batch_execute(&format!(
            "INSERT INTO gym_booking.users (id, email, password_hash, first_name, role, contact_email) VALUES
                 ('{ADMIN}', 'ada@copies.test', 'x', 'Ada', 'admin', NULL),
                 ('{TOM}', 'tom@copies.test', 'x', 'Tom', 'trainer', 'tom@copies.test'),
                 ('{UMA}', 'uma@copies.test', 'x', 'Uma', 'trainer', 'uma@copies.test'),
                 ('{ANNA}', 'anna@copies.test', 'x', 'Anna', 'athlete', NULL);"
        ))
        .unwrap();
    // The trainers' slots, written by the superuser with each trainer's claims (clients do not
    // choose ids).
    for (trainer, slots) in [
        (TOM, vec![(S1, "2 days"), (S3, "3 days")]),
        (UMA, vec![(S2, "2 days")]),
    ] {
        for (slot, when) in slots {
            client
                .batch_execute(&format!(
                    "BEGIN;
                     SET LOCAL request.jwt.claims = '{{\"sub\": \"{trainer}\"}}';
                     INSERT INTO gym_booking.slots (id, trainer_id, start_at, capacity)
                     VALUES ('{slot}', '{trainer}', now() + interval '{when}', 3);
                     COMMIT;"
                ))
                .unwrap();
        }
    }
    // Anna books S1, cancels, books again: a booking, two history rows, three log entries.
    for sql in [
        format!("SELECT gym_booking.book_slot('{S1}')"),
        format!(
            "SELECT gym_booking.cancel_booking(id) FROM gym_booking.bookings WHERE slot_id = '{S1}'"
        ),
        format!("SELECT gym_booking.book_slot('{S1}')"),
    ] {
        as_caller(&mut client, ANNA, &sql);
    }
    assert_eq!(wrong_copies(&mut client), 0, "after booking");
    assert_eq!(seen_of_s1(&mut client, TOM), (1, 2, 3), "Tom, S1's trainer");
    assert_eq!(
        seen_of_s1(&mut client, UMA),
        (0, 0, 0),
        "Uma, another trainer"
    );

    // The gym hands S1 to Uma: what hangs off it follows (Uma also reads Tom's entry creating
    // the slot, and the admin's handing it over).
    as_caller(
        &mut client,
        ADMIN,
        &format!("UPDATE gym_booking.slots SET trainer_id = '{UMA}' WHERE id = '{S1}'"),
    );
    assert_eq!(wrong_copies(&mut client), 0, "after the hand-over");
    assert_eq!(
        seen_of_s1(&mut client, UMA),
        (1, 2, 5),
        "Uma, S1's trainer now"
    );
    assert_eq!(seen_of_s1(&mut client, TOM), (0, 0, 0), "Tom, no longer");
    // The hand-over logged on the slot, not as a change of the booking.
    let booking_updates: i64 = client
        .query_one(
            &format!(
                "SELECT count(*) FROM gym_booking.activity_logs
                  WHERE entity_type = 'booking' AND changed_fields ? 'trainer_id'
                    AND entity_id IN (SELECT id FROM gym_booking.bookings WHERE slot_id = '{S1}')"
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(booking_updates, 0);

    // service_role naming another trainer, and a row loaded with the rules off without one.
    client
        .batch_execute(&format!(
            "BEGIN;
             SET LOCAL role service_role;
             INSERT INTO gym_booking.bookings (slot_id, user_id, trainer_id) VALUES ('{S2}', '{ANNA}', '{TOM}');
             COMMIT;
             BEGIN;
             SET LOCAL session_replication_role = replica;
             INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ('{S3}', '{ANNA}');
             COMMIT;"
        ))
        .unwrap();
    assert_eq!(
        wrong_copies(&mut client),
        0,
        "service_role's and a loaded row"
    );

    // A deleted slot's log entries belong to no trainer (a slot with bookings is cancelled, not
    // deleted: Tom deletes an empty one).
    client
        .batch_execute(&format!(
            "BEGIN;
             SET LOCAL request.jwt.claims = '{{\"sub\": \"{TOM}\"}}';
             INSERT INTO gym_booking.slots (id, trainer_id, start_at) VALUES ('{S4}', '{TOM}', now() + interval '4 days');
             COMMIT;"
        ))
        .unwrap();
    as_caller(
        &mut client,
        TOM,
        &format!("DELETE FROM gym_booking.slots WHERE id = '{S4}'"),
    );
    let kept: i64 = client
        .query_one(
            &format!(
                "SELECT count(*) FROM gym_booking.activity_logs
                  WHERE entity_id = '{S4}' AND trainer_id IS NOT NULL"
            ),
            &[],
        )
        .unwrap()
        .get(0);
    let entries: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM gym_booking.activity_logs WHERE entity_id = '{S4}'"),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(entries, 2, "S4's creation and deletion are logged");
    assert_eq!(kept, 0, "log entries of a deleted slot keep a trainer");
}

//! No request can switch the rules off (issue 17, DESIGN.md "Amendments to Part 1"). The rules
//! stand aside only for a superuser's session loading a dump, which sets `row_security` and
//! `check_function_bodies` off. Here every rule path — booking, cancellation, a slot's
//! cancellation and its cascade, an account's deletion and its cascade, completion, a role
//! change — is sent by every client role that may take it, with those two settings turned off
//! before the statement and inside it. Whatever happens, nothing happens silently: the request
//! is refused, or its change is there with its history and log rows.

use gym_booking_integration::{postgrest_request, Caller, TestDb};
use postgres::Client;
use serde_json::json;

const ADMIN: &str = "00000000-0000-4000-a000-0000000000c1";
const TRAINER: &str = "00000000-0000-4000-a000-0000000000c2";
const ATHLETE: &str = "00000000-0000-4000-a000-0000000000c3";

/// Turns the two settings off inside the statement (a WHERE condition).
const INSIDE: &str = "set_config('row_security', 'off', true) = 'off'
                      AND set_config('check_function_bodies', 'off', true) = 'off'";

#[derive(Clone, Copy, Debug)]
enum When {
    /// `SET LOCAL` both settings before the statement, in the request's transaction.
    Before,
    /// Both settings turned off by the statement itself.
    Inside,
}

/// A fresh case: a slot of the trainer and, for the paths that need them, an athlete of its
/// own with a reserved booking. `ended`: the slot lies in the past (loaded as a restore would).
struct Case {
    slot: String,
    athlete: String,
    booking: String,
}

fn fresh_case(client: &mut Client, n: usize, ended: bool) -> Case {
    let row = client
        .query_one(
            &format!(
                "WITH a AS (
                     INSERT INTO gym_booking.users (email, password_hash, first_name)
                     VALUES ('case{n}@off.example', 'h', 'Case') RETURNING id),
                 s AS (
                     INSERT INTO gym_booking.slots (trainer_id, start_at, capacity)
                     VALUES ('{TRAINER}', now() + interval '2 days' + make_interval(mins => {n}), 3)
                     RETURNING id)
                 SELECT a.id::text, s.id::text FROM a, s"
            ),
            &[],
        )
        .unwrap();
    let (athlete, slot): (String, String) = (row.get(0), row.get(1));
    let booking: String = client
        .query_one(
            "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ($1::text::uuid, $2::text::uuid)
             RETURNING id::text",
            &[&slot, &athlete],
        )
        .unwrap()
        .get(0);
    if ended {
        // As a restore loads the past: the slot ended an hour ago, the booking still reserved.
        client
            .batch_execute(&format!(
                "BEGIN; SET LOCAL session_replication_role = replica;
                 UPDATE gym_booking.slots
                    SET start_at = now() - interval '2 hours', end_at = now() - interval '1 hour'
                  WHERE id = '{slot}';
                 COMMIT;"
            ))
            .unwrap();
    }
    Case {
        slot,
        athlete,
        booking,
    }
}

fn count(client: &mut Client, sql: &str, id: &str) -> i64 {
    client.query_one(sql, &[&id]).unwrap().get::<_, i64>(0)
}

fn history_of(client: &mut Client, booking: &str) -> i64 {
    count(
        client,
        "SELECT count(*) FROM gym_booking.booking_status_history WHERE booking_id = $1::text::uuid",
        booking,
    )
}

fn log_of(client: &mut Client, entity: &str) -> i64 {
    count(
        client,
        "SELECT count(*) FROM gym_booking.activity_logs WHERE entity_id = $1::text::uuid",
        entity,
    )
}

fn status_of(client: &mut Client, booking: &str) -> String {
    client
        .query_one(
            "SELECT status::text FROM gym_booking.bookings WHERE id = $1::text::uuid",
            &[&booking],
        )
        .unwrap()
        .get(0)
}

/// Sends `sql` as `who` with the settings turned off `when`; Ok or the SQLSTATE.
fn attack(client: &mut Client, who: &Caller, when: When, sql: &str) -> Result<(), String> {
    postgrest_request(client, who, "POST", "/attack", |tx| {
        if let When::Before = when {
            tx.batch_execute(
                "SET LOCAL row_security = off; SET LOCAL check_function_bodies = off",
            )?;
        }
        tx.batch_execute(sql)
    })
    .map_err(|e| gym_booking_integration::sqlstate(&e))
}

fn user(id: &str) -> Caller {
    Caller::new(
        "authenticated",
        Some(json!({"sub": id, "role": "authenticated"})),
    )
}

#[test]
fn every_rule_path_by_every_role_is_refused_or_recorded() {
    let db = TestDb::with_extension("rules_not_switched_off");
    let mut client = db.connect();
    client
        .batch_execute(&format!(
            "INSERT INTO gym_booking.users (id, email, password_hash, first_name, role, contact_email) VALUES
                 ('{ADMIN}', 'admin@off.example', 'h', 'Ada', 'admin', NULL),
                 ('{TRAINER}', 'coach@off.example', 'h', 'Coach', 'trainer', 'coach@off.example'),
                 ('{ATHLETE}', 'ath@off.example', 'h', 'Ath', 'athlete', NULL)"
        ))
        .unwrap();
    let service = Caller::new("service_role", Some(json!({"role": "service_role"})));
    let mut silent = Vec::new();
    let (mut recorded, mut refused) = (0, 0);
    let mut n = 0;
    for when in [When::Before, When::Inside] {
        // (path, who, the statement for a fresh case, whether the slot has ended)
        type Statement = fn(&Case) -> String;
        let paths: Vec<(&str, Caller, Statement, bool)> = vec![
            (
                "athlete cancels",
                Caller::new("authenticated", None),
                |c| {
                    format!("UPDATE gym_booking.bookings SET status = 'cancelled' WHERE id = '{}' AND {INSIDE}", c.booking)
                },
                false,
            ),
            (
                "admin cancels",
                user(ADMIN),
                |c| {
                    format!("UPDATE gym_booking.bookings SET status = 'cancelled' WHERE id = '{}' AND {INSIDE}", c.booking)
                },
                false,
            ),
            (
                "service cancels",
                service.clone(),
                |c| {
                    format!("UPDATE gym_booking.bookings SET status = 'cancelled' WHERE id = '{}' AND {INSIDE}", c.booking)
                },
                false,
            ),
            (
                "trainer cancels the slot",
                user(TRAINER),
                |c| {
                    format!("UPDATE gym_booking.slots SET cancelled_at = now() WHERE id = '{}' AND {INSIDE}", c.slot)
                },
                false,
            ),
            (
                "admin cancels the slot",
                user(ADMIN),
                |c| {
                    format!("UPDATE gym_booking.slots SET cancelled_at = now() WHERE id = '{}' AND {INSIDE}", c.slot)
                },
                false,
            ),
            (
                "service cancels the slot",
                service.clone(),
                |c| {
                    format!("UPDATE gym_booking.slots SET cancelled_at = now() WHERE id = '{}' AND {INSIDE}", c.slot)
                },
                false,
            ),
            (
                "admin deletes the athlete",
                user(ADMIN),
                |c| {
                    format!("UPDATE gym_booking.users SET deleted_at = now() WHERE id = '{}' AND {INSIDE}", c.athlete)
                },
                false,
            ),
            (
                "service deletes the athlete",
                service.clone(),
                |c| {
                    format!(
                        "DELETE FROM gym_booking.users WHERE id = '{}' AND {INSIDE}",
                        c.athlete
                    )
                },
                false,
            ),
            (
                "athlete deletes own account",
                Caller::new("authenticated", None),
                |_| format!("SELECT gym_booking.delete_my_account() WHERE {INSIDE}"),
                false,
            ),
            (
                "admin completes",
                user(ADMIN),
                |_| format!("SELECT gym_booking.complete_past_bookings() WHERE {INSIDE}"),
                true,
            ),
            (
                "service completes",
                service.clone(),
                |_| format!("SELECT gym_booking.complete_past_bookings() WHERE {INSIDE}"),
                true,
            ),
        ];
        for (path, who, statement, ended) in paths {
            n += 1;
            let case = fresh_case(&mut client, n, ended);
            // The athlete's own paths: as that case's athlete.
            let who = if who.claims.is_none() && who.role == "authenticated" {
                user(&case.athlete)
            } else {
                who
            };
            let (history, logs) = (
                history_of(&mut client, &case.booking),
                log_of(&mut client, &case.booking),
            );
            let sql = statement(&case);
            let sql = match when {
                // The settings are off already; the statement need not turn them off.
                When::Before => sql.replace(INSIDE, "true"),
                When::Inside => sql,
            };
            let outcome = attack(&mut client, &who, when, &sql);
            let changed = status_of(&mut client, &case.booking) != "reserved";
            let recorded_now = history_of(&mut client, &case.booking) > history
                && log_of(&mut client, &case.booking) > logs;
            match (outcome, changed) {
                (Err(_), false) => refused += 1,
                (Ok(()), true) if recorded_now => recorded += 1,
                (outcome, changed) => silent.push(format!(
                    "{path} ({when:?}): {outcome:?}, booking changed: {changed}, history and log written: {recorded_now}"
                )),
            }
        }
    }
    // A role change and a booking: logged whoever makes them.
    for when in [When::Before, When::Inside] {
        for who in [user(ADMIN), service.clone()] {
            n += 1;
            let case = fresh_case(&mut client, n, false);
            let logs = log_of(&mut client, &case.athlete);
            let inside = if let When::Inside = when {
                INSIDE
            } else {
                "true"
            };
            let outcome = attack(
                &mut client,
                &who,
                when,
                &format!(
                    "UPDATE gym_booking.users SET role = 'trainer', contact_email = 'c@off.example'
                           WHERE id = '{}' AND {inside}",
                    case.athlete
                ),
            );
            match (outcome, log_of(&mut client, &case.athlete) > logs) {
                (Err(_), false) => refused += 1,
                (Ok(()), true) => recorded += 1,
                other => silent.push(format!("role change ({when:?}): {other:?}")),
            }
        }
        let case = fresh_case(
            &mut client,
            {
                n += 1;
                n
            },
            false,
        );
        let outcome = attack(
            &mut client,
            &user(ATHLETE),
            when,
            &format!(
                "SELECT gym_booking.book_slot('{}') WHERE {}",
                case.slot,
                if let When::Inside = when {
                    INSIDE
                } else {
                    "true"
                }
            ),
        );
        let booked = count(
            &mut client,
            &format!("SELECT count(*) FROM gym_booking.bookings WHERE user_id = '{ATHLETE}' AND slot_id = $1::text::uuid"),
            &case.slot,
        );
        match (outcome, booked) {
            (Err(_), 0) => refused += 1,
            (Ok(()), 1) => recorded += 1,
            other => silent.push(format!("athlete books ({when:?}): {other:?}")),
        }
    }
    assert!(
        silent.is_empty(),
        "changes made without their record, or refusals that changed something:\n{}",
        silent.join("\n")
    );
    // Both halves happen: some attempts are refused (RLS with row_security off), and the
    // service role's go through, recorded.
    assert!(
        recorded >= 8 && refused >= 4,
        "recorded {recorded}, refused {refused}"
    );
}

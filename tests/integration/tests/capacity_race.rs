//! Capacity under concurrency (DESIGN.md, "Capacity"): many sessions booking, cancelling and
//! re-booking the same slot at once never leave more reserved bookings than the slot's
//! `capacity`, refuse the surplus with the documented "slot full" SQLSTATE (23P01) and, at
//! READ COMMITTED (what PostgREST uses), with nothing else: no deadlock, no serialization
//! failure, no internal error. Every status change writes exactly one history row, in order.
//!
//! Each session is a real connection of its own, opened before the sessions are released
//! together by a `std::sync::Barrier`, so the bookings really overlap in the server.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use gym_booking_integration::{postgrest_request, Caller, TestDb, XorShift};
use postgres::{Client, IsolationLevel};
use serde_json::json;

/// "Slot full" (DESIGN.md, "Errors").
const SLOT_FULL: &str = "23P01";
/// serialization_failure: acceptable (retryable) at REPEATABLE READ and SERIALIZABLE only.
const SERIALIZATION_FAILURE: &str = "40001";

/// Sessions racing for one slot in each round.
const SESSIONS: usize = 32;
/// Capacities raced for: the smallest, small ones and the largest the schema allows.
const CAPACITIES: [i32; 4] = [1, 2, 5, 20];
/// Rounds per capacity (and per isolation level), each on a fresh slot.
const ROUNDS: usize = 12;

const BOOK: &str = "INSERT INTO gym_booking.bookings (slot_id, user_id)
                    VALUES ($1::text::uuid, $2::text::uuid)";
const RESERVED_COUNT: &str = "SELECT count(*) FROM gym_booking.bookings
                               WHERE slot_id = $1::text::uuid AND status = 'reserved'";

/// How a session's attempt ended: `Ok`, or the error's SQLSTATE and text.
type Outcome = Result<(), Failure>;

#[derive(Debug, Clone)]
struct Failure {
    code: String,
    message: String,
}

impl Failure {
    /// Any error, database or not (a dropped connection is reported, never a panic in a thread).
    fn of(err: &postgres::Error) -> Failure {
        match err.as_db_error() {
            Some(db) => Failure {
                code: db.code().code().to_string(),
                message: db.message().to_string(),
            },
            None => Failure {
                code: "(not a database error)".to_string(),
                message: err.to_string(),
            },
        }
    }
}

/// A trainer (who owns every slot) and `athletes` athletes; returns (trainer id, athlete ids).
fn people(client: &mut Client, athletes: i32) -> (String, Vec<String>) {
    let trainer: String = client
        .query_one(
            "INSERT INTO gym_booking.users (email, password_hash, first_name, role, contact_email)
             VALUES ('race.trainer@example.com', 'x', 'Tess', 'trainer', 'race.trainer@example.com')
             RETURNING id::text",
            &[],
        )
        .expect("create the trainer")
        .get(0);
    let athletes: Vec<String> = client
        .query(
            "INSERT INTO gym_booking.users (email, password_hash, first_name)
             SELECT format('race.athlete%s@example.com', g), 'x', format('Athlete %s', g)
               FROM generate_series(1, $1::int) AS g
             ORDER BY g
             RETURNING id::text",
            &[&athletes],
        )
        .expect("create the athletes")
        .iter()
        .map(|r| r.get(0))
        .collect();
    (trainer, athletes)
}

/// A fresh, bookable slot two days (plus `hours_later` hours) ahead; returns its id.
fn slot(client: &mut Client, trainer: &str, capacity: i32, hours_later: i32) -> String {
    client
        .query_one(
            "INSERT INTO gym_booking.slots (trainer_id, start_at, duration_minutes, capacity)
             VALUES ($1::text::uuid,
                     now() + interval '2 days' + make_interval(hours => $3::int),
                     60, $2::int)
             RETURNING id::text",
            &[&trainer, &capacity, &hours_later],
        )
        .unwrap_or_else(|e| panic!("create a slot of capacity {capacity}: {e:?}"))
        .get(0)
}

fn reserved_count(client: &mut Client, slot: &str) -> i64 {
    client
        .query_one(RESERVED_COUNT, &[&slot])
        .unwrap_or_else(|e| panic!("count reserved bookings of slot {slot}: {e:?}"))
        .get(0)
}

/// The slot's booking rows as (user id, status).
fn bookings_of(client: &mut Client, slot: &str) -> BTreeMap<String, String> {
    client
        .query(
            "SELECT user_id::text, status::text FROM gym_booking.bookings
              WHERE slot_id = $1::text::uuid",
            &[&slot],
        )
        .unwrap_or_else(|e| panic!("read bookings of slot {slot}: {e:?}"))
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn open_sessions(db: &TestDb, n: usize) -> Vec<Client> {
    (0..n).map(|_| db.connect()).collect()
}

/// How many sessions ended each way, for messages: {"ok": 2, "23P01": 30}.
fn tally(outcomes: &[Outcome]) -> BTreeMap<String, usize> {
    let mut tally = BTreeMap::new();
    for outcome in outcomes {
        let key = match outcome {
            Ok(()) => "ok".to_string(),
            Err(f) => f.code.clone(),
        };
        *tally.entry(key).or_insert(0) += 1;
    }
    tally
}

/// The distinct failures other than the `allowed` SQLSTATEs, with their messages.
fn unexpected(outcomes: &[Outcome], allowed: &[&str]) -> BTreeSet<String> {
    outcomes
        .iter()
        .filter_map(|o| o.as_ref().err())
        .filter(|f| !allowed.contains(&f.code.as_str()))
        .map(|f| format!("{}: {}", f.code, f.message))
        .collect()
}

/// The athletes whose attempt succeeded.
fn winners(athletes: &[String], outcomes: &[Outcome]) -> BTreeSet<String> {
    athletes
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| o.is_ok())
        .map(|(a, _)| a.clone())
        .collect()
}

/// At READ COMMITTED, as PostgREST runs every request: 32 sessions book the same fresh slot
/// at once, each for a different athlete, as one request each. For every capacity and round,
/// exactly `capacity` bookings succeed, every other one is refused as "slot full" (23P01) and
/// nothing else ever happens (no 40P01 deadlock, no 40001, no XX000); the slot then has
/// exactly `capacity` reserved bookings, held by exactly the athletes that were told "booked",
/// and a refused booking left no row behind.
#[test]
fn booking_race_read_committed() {
    let db = TestDb::with_extension("capacity_race_rc");
    let mut setup = db.connect();
    let (trainer, athletes) = people(&mut setup, SESSIONS as i32);
    let mut sessions = open_sessions(&db, SESSIONS);

    let mut hours_later = 0;
    for capacity in CAPACITIES {
        for round in 1..=ROUNDS {
            let slot = slot(&mut setup, &trainer, capacity, hours_later);
            hours_later += 2;
            let barrier = Barrier::new(SESSIONS);
            let outcomes: Vec<Outcome> = thread::scope(|s| {
                let handles: Vec<_> = sessions
                    .iter_mut()
                    .zip(&athletes)
                    .map(|(client, athlete)| {
                        let (barrier, slot) = (&barrier, &slot);
                        s.spawn(move || {
                            let caller = Caller::new(
                                "postgres",
                                Some(json!({"sub": athlete, "role": "authenticated"})),
                            );
                            barrier.wait();
                            postgrest_request(client, &caller, "POST", "/bookings", |tx| {
                                tx.execute(BOOK, &[slot, athlete])
                            })
                            .map(|_| ())
                            .map_err(|e| Failure::of(&e))
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a booking thread panicked"))
                    .collect()
            });

            let context = format!(
                "READ COMMITTED, capacity {capacity}, round {round}/{ROUNDS}, slot {slot}: \
                 outcomes {:?}",
                tally(&outcomes)
            );
            let odd = unexpected(&outcomes, &[SLOT_FULL]);
            assert!(
                odd.is_empty(),
                "{context}; errors other than slot full (23P01): {odd:?}"
            );
            let succeeded = outcomes.iter().filter(|o| o.is_ok()).count();
            assert_eq!(
                succeeded, capacity as usize,
                "{context}; expected exactly {capacity} bookings to succeed"
            );
            let reserved = reserved_count(&mut setup, &slot);
            assert_eq!(
                reserved, capacity as i64,
                "{context}; reserved bookings in the table"
            );
            let rows = bookings_of(&mut setup, &slot);
            let holders: BTreeSet<String> = rows.keys().cloned().collect();
            assert_eq!(
                holders,
                winners(&athletes, &outcomes),
                "{context}; the slot's booking rows {rows:?} are not exactly the athletes told \
                 \"booked\" (a refused booking must leave no row)"
            );
        }
    }
}

/// The same race at REPEATABLE READ and at SERIALIZABLE, isolation levels a client may pick.
/// Every session takes its snapshot before the sessions are released (the transaction's first
/// statement runs before the barrier), so every session starts blind to the others' bookings:
/// the worst case for a count-then-insert. A session may now also fail with a retryable
/// serialization failure (40001), but nothing else besides "slot full" (23P01), at least one
/// session books, and the slot never holds more than `capacity` reserved bookings; those it
/// holds belong exactly to the sessions that committed.
#[test]
fn booking_race_repeatable_read_and_serializable() {
    let db = TestDb::with_extension("capacity_race_rr_ser");
    let mut setup = db.connect();
    let (trainer, athletes) = people(&mut setup, SESSIONS as i32);
    let mut sessions = open_sessions(&db, SESSIONS);

    let mut hours_later = 0;
    for (level, level_name) in [
        (IsolationLevel::RepeatableRead, "REPEATABLE READ"),
        (IsolationLevel::Serializable, "SERIALIZABLE"),
    ] {
        for capacity in CAPACITIES {
            for round in 1..=ROUNDS {
                let slot = slot(&mut setup, &trainer, capacity, hours_later);
                hours_later += 2;
                let barrier = Barrier::new(SESSIONS);
                let outcomes: Vec<Outcome> = thread::scope(|s| {
                    let handles: Vec<_> = sessions
                        .iter_mut()
                        .zip(&athletes)
                        .map(|(client, athlete)| {
                            let (barrier, slot) = (&barrier, &slot);
                            s.spawn(move || book_at(client, level, barrier, slot, athlete))
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().expect("a booking thread panicked"))
                        .collect()
                });

                let context = format!(
                    "{level_name}, capacity {capacity}, round {round}/{ROUNDS}, slot {slot}: \
                     outcomes {:?}",
                    tally(&outcomes)
                );
                let odd = unexpected(&outcomes, &[SLOT_FULL, SERIALIZATION_FAILURE]);
                assert!(
                    odd.is_empty(),
                    "{context}; errors other than slot full (23P01) and serialization \
                     failure (40001): {odd:?}"
                );
                let reserved = reserved_count(&mut setup, &slot);
                assert!(
                    reserved <= capacity as i64,
                    "{context}; OVERBOOKED: {reserved} reserved bookings for capacity {capacity}"
                );
                let succeeded = outcomes.iter().filter(|o| o.is_ok()).count();
                assert!(
                    succeeded <= capacity as usize,
                    "{context}; {succeeded} sessions were told \"booked\" for capacity {capacity}"
                );
                assert!(succeeded >= 1, "{context}; nobody could book an empty slot");
                let rows = bookings_of(&mut setup, &slot);
                let holders: BTreeSet<String> = rows.keys().cloned().collect();
                assert_eq!(
                    holders,
                    winners(&athletes, &outcomes),
                    "{context}; the slot's booking rows {rows:?} are not exactly the sessions \
                     that committed"
                );
                assert_eq!(
                    reserved as usize, succeeded,
                    "{context}; every committed booking is reserved"
                );
            }
        }
    }
}

/// One session of the REPEATABLE READ / SERIALIZABLE race: begin at `level`, take the snapshot
/// (first statement, as a request preamble does) before the barrier, then book and commit.
fn book_at(
    client: &mut Client,
    level: IsolationLevel,
    barrier: &Barrier,
    slot: &str,
    athlete: &str,
) -> Outcome {
    let claims = json!({"sub": athlete, "role": "authenticated"}).to_string();
    let mut tx = match client.build_transaction().isolation_level(level).start() {
        Ok(tx) => tx,
        Err(e) => {
            // Still meet the others at the barrier, or they would wait forever.
            barrier.wait();
            return Err(Failure::of(&e));
        }
    };
    let preamble = tx.execute(
        "SELECT set_config('request.jwt.claims', $1, true)",
        &[&claims],
    );
    barrier.wait();
    let result = preamble
        .and_then(|_| tx.execute(BOOK, &[&slot, &athlete]))
        .map(|_| ());
    match result {
        Ok(()) => tx.commit().map_err(|e| Failure::of(&e)),
        Err(e) => {
            let failure = Failure::of(&e);
            tx.rollback()
                .unwrap_or_else(|r| panic!("rollback after {failure:?}: {r:?}"));
            Err(failure)
        }
    }
}

/// Athletes churning on one slot of capacity 3.
const CHURN_CAPACITY: i32 = 3;
const CHURN_ATHLETES: usize = 12;
const CHURN_ITERATIONS: usize = 100;

const CANCEL: &str =
    "UPDATE gym_booking.bookings SET status = 'cancelled' WHERE id = $1::text::uuid";
const REACTIVATE: &str =
    "UPDATE gym_booking.bookings SET status = 'reserved' WHERE id = $1::text::uuid";

/// One athlete's booking and every status it has had, in order (the first is 'reserved',
/// the status a booking is created with).
struct Churner {
    athlete: String,
    booking: String,
    statuses: Vec<&'static str>,
}

impl Churner {
    fn status(&self) -> &'static str {
        self.statuses
            .last()
            .copied()
            .expect("a booking has a status")
    }
}

/// One status change as a PostgREST request by the booking's own athlete.
fn change_status(client: &mut Client, churner: &Churner, to: &'static str) -> Outcome {
    let caller = Caller::new(
        "postgres",
        Some(json!({"sub": churner.athlete, "role": "authenticated"})),
    );
    let sql = if to == "cancelled" {
        CANCEL
    } else {
        REACTIVATE
    };
    let updated = postgrest_request(client, &caller, "PATCH", "/bookings", |tx| {
        tx.execute(sql, &[&churner.booking])
    })
    .map_err(|e| Failure::of(&e))?;
    // Returned, not asserted: a panic in a churn thread would leave the others at the barrier.
    if updated != 1 {
        return Err(Failure {
            code: "(no error)".to_string(),
            message: format!("{to} of booking {} updated {updated} rows", churner.booking),
        });
    }
    Ok(())
}

/// Twelve athletes each hold a booking of one slot of capacity 3 (three reserved, nine
/// cancelled) and, released together for each of 40 iterations, each cancels or re-activates
/// their own booking at random, as PostgREST requests at READ COMMITTED. Proves:
/// - cancelling never fails, and re-activating fails only as "slot full" (23P01);
/// - the slot never holds more than 3 reserved bookings: checked between iterations, when no
///   request is in flight, and sampled continuously from another connection during the churn;
/// - at the end the reserved bookings are exactly those whose athletes were last told
///   "reserved";
/// - `booking_status_history` has exactly one row per successful change (none for a refused
///   re-activation), in order: each row's previous_status is the prior row's current_status,
///   the statuses are exactly the ones each athlete went through, the last one is the
///   booking's status, and none is marked automatic or attributed to someone else.
#[test]
fn cancel_rebook_churn_keeps_capacity_and_history() {
    let db = TestDb::with_extension("capacity_churn");
    let mut setup = db.connect();
    let (trainer, athletes) = people(&mut setup, CHURN_ATHLETES as i32);
    let slot = slot(&mut setup, &trainer, CHURN_CAPACITY, 0);

    // Every athlete books while there is room; all but the last three cancel straight away.
    let mut churners: Vec<Churner> = Vec::new();
    for (i, athlete) in athletes.iter().enumerate() {
        let booking: String = setup
            .query_one(&format!("{BOOK} RETURNING id::text"), &[&slot, athlete])
            .unwrap_or_else(|e| panic!("setup: book for athlete {i}: {e:?}"))
            .get(0);
        let mut churner = Churner {
            athlete: athlete.clone(),
            booking,
            statuses: vec!["reserved"],
        };
        if i < CHURN_ATHLETES - CHURN_CAPACITY as usize {
            change_status(&mut setup, &churner, "cancelled")
                .unwrap_or_else(|f| panic!("setup: cancel for athlete {i}: {f:?}"));
            churner.statuses.push("cancelled");
        }
        churners.push(churner);
    }
    assert_eq!(
        reserved_count(&mut setup, &slot),
        CHURN_CAPACITY as i64,
        "setup: reserved bookings"
    );

    let mut sessions = open_sessions(&db, CHURN_ATHLETES);
    let mut monitor = db.connect();
    let barrier = Barrier::new(CHURN_ATHLETES);
    let churn_over = AtomicBool::new(false);
    let max_seen = AtomicI64::new(0);

    let (results, samples) = thread::scope(|s| {
        // Samples the reserved count while the churn runs.
        let sampler = s.spawn(|| {
            let mut samples = 0u64;
            while !churn_over.load(Ordering::Acquire) {
                let n = reserved_count(&mut monitor, &slot);
                max_seen.fetch_max(n, Ordering::AcqRel);
                samples += 1;
                thread::sleep(Duration::from_micros(500));
            }
            samples
        });

        let handles: Vec<_> = sessions
            .iter_mut()
            .zip(churners.iter_mut())
            .enumerate()
            .map(|(index, (client, churner))| {
                let (barrier, slot, max_seen) = (&barrier, &slot, &max_seen);
                s.spawn(move || churn(client, churner, index, barrier, slot, max_seen))
            })
            .collect();
        let joined: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        // Stop the sampler before anything can panic here, or the scope would wait for it.
        churn_over.store(true, Ordering::Release);
        let samples = sampler.join().expect("the sampler panicked");
        let results: Vec<Result<Refusals, String>> = joined
            .into_iter()
            .map(|r| r.expect("a churn thread panicked"))
            .collect();
        (results, samples)
    });

    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failures.is_empty(), "churn failures: {failures:#?}");
    let refusals: usize = results.iter().map(|r| *r.as_ref().unwrap()).sum();
    let changes: usize = churners.iter().map(|c| c.statuses.len() - 1).sum();
    let summary = format!(
        "{changes} successful status changes, {refusals} re-activations refused as full, \
         {samples} monitor samples"
    );
    let max_seen = max_seen.load(Ordering::Acquire);
    assert!(
        max_seen <= CHURN_CAPACITY as i64,
        "{summary}; OVERBOOKED: {max_seen} reserved bookings seen for capacity {CHURN_CAPACITY}"
    );

    // The table agrees with what every athlete was told.
    let rows = bookings_of(&mut setup, &slot);
    for (i, c) in churners.iter().enumerate() {
        assert_eq!(
            rows.get(&c.athlete).map(String::as_str),
            Some(c.status()),
            "{summary}; athlete {i}'s booking {} after statuses {:?}",
            c.booking,
            c.statuses
        );
    }
    let reserved = reserved_count(&mut setup, &slot);
    assert!(
        reserved <= CHURN_CAPACITY as i64,
        "{summary}; OVERBOOKED at the end: {reserved}"
    );

    // One history row per successful change, chained, in order.
    for (i, c) in churners.iter().enumerate() {
        let history: Vec<(String, String, Option<String>, bool)> = setup
            .query(
                "SELECT previous_status::text, current_status::text, changed_by::text,
                        auto_processed
                   FROM gym_booking.booking_status_history
                  WHERE booking_id = $1::text::uuid
                  ORDER BY id",
                &[&c.booking],
            )
            .unwrap_or_else(|e| panic!("read history of booking {}: {e:?}", c.booking))
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        let context = format!(
            "{summary}; athlete {i}, booking {}: statuses {:?}, history (previous, current, \
             changed_by, auto_processed) {history:?}",
            c.booking, c.statuses
        );
        assert_eq!(
            history.len(),
            c.statuses.len() - 1,
            "{context}; one history row per successful change"
        );
        let mut previous = "reserved";
        for (row, (from, to, by, auto)) in history.iter().enumerate() {
            assert_eq!(
                from, previous,
                "{context}; row {row}: previous_status is not the prior current_status"
            );
            assert_eq!(
                to,
                c.statuses[row + 1],
                "{context}; row {row}: current_status"
            );
            assert!(
                !auto,
                "{context}; row {row}: an athlete's own change is not auto_processed"
            );
            assert!(
                by.as_ref().is_none_or(|by| *by == c.athlete),
                "{context}; row {row}: changed_by names someone other than the athlete"
            );
            previous = to;
        }
        assert_eq!(
            previous,
            c.status(),
            "{context}; the last history row is the booking's status"
        );
    }
}

/// Re-activations refused as "slot full" by one churn thread.
type Refusals = usize;

/// One athlete's churn: `CHURN_ITERATIONS` times, meet the others at the barrier, then
/// (three times in four) toggle the booking: cancel it when reserved, re-activate it when
/// cancelled; then meet again, and the barrier's leader checks the capacity while no request
/// is in flight. Errors are returned as text, with the iteration, for the test to report.
fn churn(
    client: &mut Client,
    churner: &mut Churner,
    index: usize,
    barrier: &Barrier,
    slot: &str,
    max_seen: &AtomicI64,
) -> Result<Refusals, String> {
    let mut rng = XorShift::new(index as u64 + 1);
    let mut refusals = 0;
    let mut error = None;
    for iteration in 0..CHURN_ITERATIONS {
        barrier.wait();
        // After an error keep meeting the others at the barrier, or they would wait forever.
        if error.is_none() && rng.below(4) != 0 {
            let to = if churner.status() == "reserved" {
                "cancelled"
            } else {
                "reserved"
            };
            match change_status(client, churner, to) {
                Ok(()) => churner.statuses.push(to),
                Err(f) if to == "reserved" && f.code == SLOT_FULL => refusals += 1,
                Err(f) => {
                    error = Some(format!(
                        "athlete {index}, iteration {iteration}: {} -> {to} failed: {} {}",
                        churner.status(),
                        f.code,
                        f.message
                    ))
                }
            }
        }
        if barrier.wait().is_leader() {
            match client.query_one(RESERVED_COUNT, &[&slot]) {
                Ok(row) => {
                    let n: i64 = row.get(0);
                    max_seen.fetch_max(n, Ordering::AcqRel);
                    if n > CHURN_CAPACITY as i64 && error.is_none() {
                        error = Some(format!(
                            "after iteration {iteration}: OVERBOOKED, {n} reserved bookings \
                             for capacity {CHURN_CAPACITY}"
                        ));
                    }
                }
                Err(e) if error.is_none() => {
                    error = Some(format!(
                        "after iteration {iteration}: count reserved: {e:?}"
                    ))
                }
                Err(_) => {}
            }
        }
    }
    match error {
        Some(e) => Err(e),
        None => Ok(refusals),
    }
}

/// A double tap: the same athlete's booking request sent several times at once (a client
/// retrying, a user tapping twice). Booking twice is booking once: every request answers
/// with the same booking, one row exists and it holds one place, also when that place is the
/// slot's last one (the other taps must not be told "slot full" or "duplicate").
#[test]
fn a_double_tap_books_once() {
    const TAPS: usize = 8;
    let db = TestDb::with_extension("capacity_double_tap");
    let mut setup = db.connect();
    let (trainer, athletes) = people(&mut setup, 3);
    let (athlete, others) = athletes.split_first().expect("three athletes");
    let mut sessions = open_sessions(&db, TAPS);
    let caller = Caller::new(
        "authenticated",
        Some(json!({"sub": athlete, "role": "authenticated"})),
    );
    for (round, capacity) in [1, 2, 3, 20].into_iter().cycle().take(12).enumerate() {
        let slot = slot(&mut setup, &trainer, capacity, round as i32 * 2);
        // The others hold every place but one (as far as there are others).
        let held = others.iter().take(capacity as usize - 1);
        for other in held.clone() {
            setup
                .execute(BOOK, &[&slot, other])
                .expect("another athlete books");
        }
        let barrier = Barrier::new(TAPS);
        let outcomes: Vec<Result<String, Failure>> = thread::scope(|s| {
            let handles: Vec<_> = sessions
                .iter_mut()
                .map(|client| {
                    let (barrier, slot, caller) = (&barrier, &slot, &caller);
                    s.spawn(move || {
                        barrier.wait();
                        postgrest_request(client, caller, "POST", "/rpc/book_slot", |tx| {
                            tx.query_one(
                                "SELECT (gym_booking.book_slot($1::text::uuid)).id::text",
                                &[slot],
                            )
                        })
                        .map(|row| row.get(0))
                        .map_err(|e| Failure::of(&e))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a booking thread panicked"))
                .collect()
        });
        let context = format!("capacity {capacity}, round {round}, slot {slot}: {outcomes:?}");
        let ids: BTreeSet<&String> = outcomes
            .iter()
            .map(|o| {
                o.as_ref()
                    .unwrap_or_else(|f| panic!("{context}; a tap failed: {f:?}"))
            })
            .collect();
        assert_eq!(ids.len(), 1, "{context}; the taps got different bookings");
        let rows = bookings_of(&mut setup, &slot);
        assert_eq!(
            rows.get(athlete).map(String::as_str),
            Some("reserved"),
            "{context}; rows {rows:?}"
        );
        assert_eq!(rows.len(), held.count() + 1, "{context}; rows {rows:?}");
        assert_eq!(
            reserved_count(&mut setup, &slot),
            rows.len() as i64,
            "{context}"
        );
    }
}

//! Upgrades under load (issue 19): `ALTER EXTENSION gym_booking UPDATE` from every released
//! version while PostgREST-style clients book and cancel. The upgrade takes its locks so that
//! clients wait for it and never deadlock with it: any `40P01` (or an internal error) fails,
//! and so does a request that finds the new library and the old release's schema out of step
//! (`42P01`, `42883`): the clients run before the update too, with the new package installed.
//!
//! `GYM_BOOKING_UPGRADE_ROUNDS` (default 2) upgrades per release, each in a fresh database.
//!
//! From 0.2.0 on, the clients go on into the new release as soon as it is there: they join the
//! waitlists of full one-to-ones, leave them, cancel their places there (the rules promote who
//! waits), and a delivery worker (`service_role`) claims and acknowledges events. Afterwards:
//! the settings row is a fresh install's, no slot holds more than its capacity, nobody waits
//! for a slot they hold a place in, every promoted entry names its athlete's booking of that
//! slot and has the event of the statement that ended it (`waitlist_promoted`, or the
//! athlete's own `booking_confirmed` when they booked the place kept for them), and every
//! event was either delivered or is still there to claim.
//!
//! From 0.2.1 on, a trainer joins them in the new release: creates a weekly class, edits it
//! and now and then cancels it. Afterwards every series has its two occurrences, as the
//! series says they are (cancelled with it when it is).
//!
//! From 0.2.2 on, the trainer also checks in, again and again, the athletes of a class that
//! ended an hour before the update (booked before it), reading its roster and report, while the
//! back office completes bookings and runs the auto no-show sweep. Afterwards every mark is
//! its booking's (athlete, slot, trainer, strike at the start), on a booking that holds a place,
//! each new no-show with its event; and marks were made.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use gym_booking_integration::{
    load_demo_data, postgrest_request, released_versions, texts, Caller, TestDb, XorShift,
};
use postgres::Client;
use serde_json::json;

/// The demo data's athletes: one client each.
const ATHLETES: [&str; 6] = [
    "00000000-0000-4000-a000-000000000101",
    "00000000-0000-4000-a000-000000000102",
    "00000000-0000-4000-a000-000000000103",
    "00000000-0000-4000-a000-000000000104",
    "00000000-0000-4000-a000-000000000105",
    "00000000-0000-4000-a000-000000000106",
];

/// What the clients were told, by outcome ("ok" or the SQLSTATE), with one message per code.
#[derive(Default)]
struct Outcomes {
    counts: BTreeMap<String, usize>,
    messages: BTreeMap<String, String>,
}

impl Outcomes {
    fn note<T>(&mut self, result: &Result<T, postgres::Error>) {
        let (code, message) = match result {
            Ok(_) => ("ok".to_string(), String::new()),
            Err(e) => match e.as_db_error() {
                Some(db) => (db.code().code().to_string(), db.message().to_string()),
                None => ("not a database error".to_string(), e.to_string()),
            },
        };
        *self.counts.entry(code.clone()).or_default() += 1;
        self.messages.entry(code).or_insert(message);
    }
}

/// The new release's requests of one athlete on a full one-to-one: book it (a place held for
/// the waitlist is refused), else join its waitlist; now and then leave it, or give back a
/// place held there (which books whoever waits first).
fn waitlist_round(
    client: &mut Client,
    caller: &Caller,
    athlete: &str,
    slot: &str,
    rng: &mut XorShift,
    seen: &Mutex<Outcomes>,
) {
    let mut on_slot = |path: &str, function: &str| {
        let outcome = postgrest_request(client, caller, "POST", path, |tx| {
            tx.execute(
                &format!("SELECT gym_booking.{function}($1::text::uuid)"),
                &[&slot],
            )
        });
        seen.lock().unwrap().note(&outcome);
        outcome
    };
    match rng.below(4) {
        0 => {
            let _ = on_slot("/rpc/leave_waitlist", "leave_waitlist");
        }
        1 => {
            let outcome = postgrest_request(client, caller, "POST", "/rpc/cancel_booking", |tx| {
                tx.execute(
                    "SELECT gym_booking.cancel_booking(id) FROM gym_booking.bookings
                      WHERE slot_id = $1::text::uuid AND user_id = $2::text::uuid
                        AND status = 'reserved'",
                    &[&slot, &athlete],
                )
            });
            seen.lock().unwrap().note(&outcome);
        }
        _ => {
            let booked = on_slot("/rpc/book_slot", "book_slot");
            if booked.is_err_and(|e| e.code().map(|c| c.code()) == Some("23P01")) {
                let _ = on_slot("/rpc/join_waitlist", "join_waitlist");
            }
        }
    }
}

/// One athlete's requests, over and over: book a slot of the coming week, cancel it; once
/// the new release is in (`upgraded`), a waitlist round on a full one-to-one as well.
#[allow(clippy::too_many_arguments)]
fn client_loop(
    db: &str,
    athlete: &str,
    slots: &[String],
    one_to_ones: &[String],
    upgraded: &AtomicBool,
    stop: &AtomicBool,
    seen: &Mutex<Outcomes>,
) {
    let mut client = TestDb {
        name: db.to_string(),
    }
    .connect();
    let caller = Caller::new(
        "authenticated",
        Some(json!({"sub": athlete, "role": "authenticated"})),
    );
    let mut n = 0;
    let mut rng = XorShift::new(athlete.bytes().map(u64::from).sum());
    while !stop.load(Ordering::Acquire) {
        if upgraded.load(Ordering::Acquire) && !one_to_ones.is_empty() {
            let slot = &one_to_ones[rng.below(one_to_ones.len() as u64) as usize];
            waitlist_round(&mut client, &caller, athlete, slot, &mut rng, seen);
        }
        let slot = &slots[n % slots.len()];
        n += 1;
        let booked = postgrest_request(&mut client, &caller, "POST", "/rpc/book_slot", |tx| {
            let row = tx.query_one(
                "SELECT (gym_booking.book_slot($1::text::uuid)).id::text",
                &[slot],
            )?;
            Ok(row.get::<_, String>(0))
        });
        seen.lock().unwrap().note(&booked);
        if let Ok(booking) = booked {
            let cancelled =
                postgrest_request(&mut client, &caller, "POST", "/rpc/cancel_booking", |tx| {
                    tx.execute(
                        "SELECT gym_booking.cancel_booking($1::text::uuid)",
                        &[&booking],
                    )
                });
            seen.lock().unwrap().note(&cancelled);
        }
    }
}

/// A client of the new release: runs `round` on its own connection, over and over, from the
/// moment the new release is in (`upgraded`) until `stop`.
fn in_new_release(
    db: &str,
    upgraded: &AtomicBool,
    stop: &AtomicBool,
    mut round: impl FnMut(&mut Client),
) {
    let mut client = TestDb {
        name: db.to_string(),
    }
    .connect();
    while !stop.load(Ordering::Acquire) {
        if !upgraded.load(Ordering::Acquire) {
            thread::sleep(Duration::from_millis(20));
            continue;
        }
        round(&mut client);
    }
}

/// The delivery worker: claims a batch of events and acknowledges it, over and over, once
/// the new release is in.
fn delivery_loop(db: &str, upgraded: &AtomicBool, stop: &AtomicBool, seen: &Mutex<Outcomes>) {
    let worker = Caller::new("service_role", Some(json!({"role": "service_role"})));
    in_new_release(db, upgraded, stop, |client| {
        let claimed = postgrest_request(client, &worker, "POST", "/rpc/claim_events", |tx| {
            let ids: Vec<i64> = tx
                .query("SELECT id FROM gym_booking.claim_events(20)", &[])?
                .iter()
                .map(|r| r.get(0))
                .collect();
            Ok(ids)
        });
        seen.lock().unwrap().note(&claimed);
        if let Ok(ids) = claimed {
            let acked = postgrest_request(client, &worker, "POST", "/rpc/ack_events", |tx| {
                tx.execute("SELECT gym_booking.ack_events($1)", &[&ids])
            });
            seen.lock().unwrap().note(&acked);
        }
        thread::sleep(Duration::from_millis(10));
    });
}

/// The demo's trainer who runs timetables (not Tess, whose one-to-ones the waitlist rounds use).
const YUKI: &str = "00000000-0000-4000-a000-000000000013";

/// The new release's trainer: a class every day for two days a week ahead (a new hour each
/// time), an edit of its capacity, and every other time its cancellation, over and over.
fn timetable_loop(db: &str, upgraded: &AtomicBool, stop: &AtomicBool, seen: &Mutex<Outcomes>) {
    let trainer = Caller::new(
        "authenticated",
        Some(json!({"sub": YUKI, "role": "authenticated"})),
    );
    let mut n: i32 = 0;
    in_new_release(db, upgraded, stop, |client| {
        n += 1;
        let created = postgrest_request(client, &trainer, "POST", "/rpc/create_series", |tx| {
            let row = tx.query_one(
                "SELECT id::text FROM gym_booking.create_series(ARRAY[1, 2, 3, 4, 5, 6, 7],
                        make_time($1, 0, 0), (now() AT TIME ZONE 'UTC')::date + 7,
                        (now() AT TIME ZONE 'UTC')::date + 8)",
                &[&(6 + n % 14)],
            )?;
            Ok(row.get::<_, String>(0))
        });
        seen.lock().unwrap().note(&created);
        if let Ok(series) = created {
            let edited = postgrest_request(client, &trainer, "POST", "/rpc/edit_series", |tx| {
                tx.execute(
                    "SELECT * FROM gym_booking.edit_series($1::text::uuid, capacity => 3)",
                    &[&series],
                )
            });
            seen.lock().unwrap().note(&edited);
            if n % 2 == 0 {
                let cancelled =
                    postgrest_request(client, &trainer, "POST", "/rpc/cancel_series", |tx| {
                        tx.execute(
                            "SELECT gym_booking.cancel_series($1::text::uuid)",
                            &[&series],
                        )
                    });
                seen.lock().unwrap().note(&cancelled);
            }
        }
        thread::sleep(Duration::from_millis(10));
    });
}

/// Yuki's class that ended an hour before the update, every athlete of the demo booked in it
/// (loaded as a restore loads it: no client books the past).
const ENDED: &str = "00000000-0000-4000-b000-0000000000e1";

fn ended_class(admin: &mut Client) {
    admin
        .batch_execute(&format!(
            "BEGIN;
             SET LOCAL session_replication_role = replica;
             INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes, capacity)
             VALUES ('{ENDED}', '{YUKI}', date_trunc('minute', now()) - interval '2 hours',
                     date_trunc('minute', now()) - interval '1 hour', 60, 8);
             INSERT INTO gym_booking.bookings (slot_id, user_id, status, status_changed_at)
             SELECT '{ENDED}', id, 'reserved', now() - interval '1 day' FROM gym_booking.users
              WHERE role = 'athlete';
             COMMIT;"
        ))
        .expect("the ended class");
}

/// The new release's check-in: Yuki marks an athlete of the ended class attended or a no-show
/// (a change of mark, or the same again), reads its roster and her report, over and over,
/// once the new release is in.
fn attendance_loop(db: &str, upgraded: &AtomicBool, stop: &AtomicBool, seen: &Mutex<Outcomes>) {
    let trainer = Caller::new(
        "authenticated",
        Some(json!({"sub": YUKI, "role": "authenticated"})),
    );
    let mut rng = XorShift::new(14);
    in_new_release(db, upgraded, stop, |client| {
        let athlete = ATHLETES[rng.below(ATHLETES.len() as u64) as usize];
        let mark = if rng.below(2) == 0 {
            "attended"
        } else {
            "no_show"
        };
        let marked = postgrest_request(client, &trainer, "POST", "/rpc/mark_attendance", |tx| {
            tx.execute(
                "SELECT gym_booking.mark_attendance(id, $3::text::gym_booking.attendance_mark)
                   FROM gym_booking.bookings WHERE slot_id = $1::text::uuid AND user_id = $2::text::uuid",
                &[&ENDED, &athlete, &mark],
            )
        });
        seen.lock().unwrap().note(&marked);
        let read = postgrest_request(client, &trainer, "GET", "/rpc/slot_roster", |tx| {
            tx.query(
                "SELECT * FROM gym_booking.slot_roster($1::text::uuid)",
                &[&ENDED],
            )?;
            tx.query(
                "SELECT * FROM gym_booking.slot_report((now() AT TIME ZONE 'UTC')::date - 1,
                                                       (now() AT TIME ZONE 'UTC')::date + 1)",
                &[],
            )
        });
        seen.lock().unwrap().note(&read);
    });
}

/// The back office's rounds in the new release: completes ended bookings and runs the auto
/// no-show sweep (both the background worker's work), over and over.
fn sweep_loop(db: &str, upgraded: &AtomicBool, stop: &AtomicBool, seen: &Mutex<Outcomes>) {
    let worker = Caller::new("service_role", Some(json!({"role": "service_role"})));
    in_new_release(db, upgraded, stop, |client| {
        for sql in [
            "SELECT gym_booking.complete_past_bookings(2)",
            "SELECT gym_booking.record_no_shows(50)",
        ] {
            let outcome =
                postgrest_request(client, &worker, "POST", "/rpc", |tx| tx.execute(sql, &[]));
            seen.lock().unwrap().note(&outcome);
        }
        thread::sleep(Duration::from_millis(10));
    });
}

/// What must hold after the check-in rounds (from 0.2.2 on); each broken rule with its rows.
/// `marked_before`: the bookings the release's own demo data had marks of (0.2.2 on, loaded
/// with the rules off), which are not the rounds' to answer for.
fn attendance_invariants(admin: &mut Client, marked_before: &[String]) -> Vec<String> {
    let checks = [
        (
            "no mark was made after the update",
            "SELECT 'none' WHERE NOT EXISTS (SELECT FROM gym_booking.attendance a
                                              WHERE a.booking_id::text <> ALL ($1))",
        ),
        (
            "marks that are not their booking's",
            "SELECT a.booking_id::text FROM gym_booking.attendance a
               JOIN gym_booking.bookings b ON b.id = a.booking_id
               JOIN gym_booking.slots s ON s.id = b.slot_id
              WHERE (a.user_id <> b.user_id OR a.slot_id <> s.id OR a.strike_at <> s.start_at
                     OR a.trainer_id IS DISTINCT FROM s.trainer_id OR b.status = 'cancelled')
                AND a.booking_id::text <> ALL ($1)",
        ),
        (
            "no-shows without their event",
            "SELECT a.booking_id::text FROM gym_booking.attendance a
              WHERE a.mark = 'no_show' AND a.booking_id::text <> ALL ($1) AND NOT EXISTS (
                    SELECT FROM gym_booking.events e
                     WHERE e.booking_id = a.booking_id AND e.kind = 'no_show_recorded')",
        ),
        (
            "marks without their log row",
            "SELECT a.booking_id::text FROM gym_booking.attendance a
              WHERE a.booking_id::text <> ALL ($1)
                AND NOT EXISTS (SELECT FROM gym_booking.activity_logs l
                                 WHERE l.entity_id = a.booking_id
                                   AND l.changed_fields -> 'attendance' ->> 'new' = a.mark::text)",
        ),
    ];
    let mut broken = Vec::new();
    for (what, sql) in checks {
        let rows: Vec<String> = admin
            .query(sql, &[&marked_before])
            .unwrap_or_else(|e| panic!("{what}: {e:?}"))
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !rows.is_empty() {
            broken.push(format!("{what}: {rows:?}"));
        }
    }
    broken
}

/// What must hold after the timetable rounds (from 0.2.1 on); each broken rule with the rows
/// that break it. A series the trainer made exists at all, or the rounds proved nothing.
fn timetable_invariants(admin: &mut Client) -> Vec<String> {
    let checks = [
        (
            "no series was made after the update",
            "SELECT 'none' WHERE NOT EXISTS (SELECT FROM gym_booking.series)",
        ),
        (
            "series without exactly their two occurrences",
            "SELECT s.id::text FROM gym_booking.series s
              WHERE (SELECT count(*) FROM gym_booking.slots o WHERE o.series_id = s.id) <> 2",
        ),
        (
            "occurrences of a running series not as the series says",
            "SELECT o.id::text FROM gym_booking.series s
               JOIN gym_booking.slots o ON o.series_id = s.id
              WHERE s.cancelled_from IS NULL
                AND (o.cancelled_at IS NOT NULL OR o.capacity <> s.capacity
                     OR o.start_at <> gym_booking.series_start_at(o.series_date, s.local_start, s.time_zone))",
        ),
        (
            "occurrences of a cancelled series not cancelled",
            "SELECT o.id::text FROM gym_booking.series s
               JOIN gym_booking.slots o ON o.series_id = s.id
              WHERE s.cancelled_from IS NOT NULL AND o.cancelled_at IS NULL",
        ),
    ];
    let mut broken = Vec::new();
    for (what, sql) in checks {
        let rows: Vec<String> = admin
            .query(sql, &[])
            .unwrap_or_else(|e| panic!("{what}: {e:?}"))
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !rows.is_empty() {
            broken.push(format!("{what}: {rows:?}"));
        }
    }
    broken
}

/// What must hold after the load, from 0.2.0 on (see the file's comment); each broken rule
/// with the rows that break it.
fn studio_invariants(admin: &mut Client, fresh_settings: &str) -> Vec<String> {
    let checks = [
        (
            "the settings row is not a fresh install's",
            format!(
                "SELECT (to_jsonb(s) - 'updated_at')::text FROM gym_booking.studio_settings s
                  WHERE (to_jsonb(s) - 'updated_at')::text <> '{}'
                     OR (SELECT count(*) FROM gym_booking.studio_settings) <> 1",
                fresh_settings.replace('\'', "''")
            ),
        ),
        (
            "slots holding more than their capacity",
            "SELECT s.id::text FROM gym_booking.slots s
              WHERE (SELECT count(*) FROM gym_booking.bookings b
                      WHERE b.slot_id = s.id AND b.status = 'reserved') > s.capacity"
                .to_string(),
        ),
        (
            "athletes waiting for a slot they hold a place in",
            "SELECT w.id::text FROM gym_booking.waitlist_entries w
               JOIN gym_booking.bookings b ON b.slot_id = w.slot_id AND b.user_id = w.user_id
              WHERE w.state = 'waiting' AND b.status = 'reserved'"
                .to_string(),
        ),
        (
            "promoted entries without their athlete's booking of the slot",
            "SELECT w.id::text FROM gym_booking.waitlist_entries w
               LEFT JOIN gym_booking.bookings b ON b.id = w.booking_id
              WHERE w.state = 'promoted'
                AND (b.id IS NULL OR b.slot_id <> w.slot_id OR b.user_id <> w.user_id)"
                .to_string(),
        ),
        (
            // An entry ends as promoted by the rules' promotion (`waitlist_promoted`) or by
            // the athlete's own booking while they wait (`booking_confirmed`, by themselves):
            // a promotion skips an athlete whose account a check-in holds, and the place it
            // keeps for them is theirs to book. Either event comes from the statement that
            // ended the entry.
            "promoted entries without the event of the booking that ended them",
            "SELECT w.id::text FROM gym_booking.waitlist_entries w
              WHERE w.state = 'promoted' AND NOT EXISTS (
                    SELECT FROM gym_booking.events e
                     WHERE e.booking_id = w.booking_id AND e.recipient_id = w.user_id
                       AND e.created_at = w.ended_at
                       AND (e.kind = 'waitlist_promoted'
                            OR (e.kind = 'booking_confirmed' AND e.payload->>'by' = 'athlete')))"
                .to_string(),
        ),
    ];
    let mut broken = Vec::new();
    for (what, sql) in checks {
        let rows: Vec<String> = admin
            .query(&sql, &[])
            .unwrap_or_else(|e| panic!("{what}: {e:?}"))
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !rows.is_empty() {
            broken.push(format!("{what}: {rows:?}"));
        }
    }
    broken
}

fn extversion(client: &mut Client) -> String {
    client
        .query_one(
            "SELECT extversion FROM pg_extension WHERE extname = 'gym_booking'",
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn upgrades_from_every_release_under_load_never_deadlock_a_client() {
    let mut fresh = TestDb::with_extension("upgrade_load_fresh").connect();
    let current = extversion(&mut fresh);
    let studio = current.as_str() >= "0.2.0";
    let timetables = current.as_str() >= "0.2.1";
    let attendance = current.as_str() >= "0.2.2";
    let fresh_settings: String = if studio {
        fresh
            .query_one(
                "SELECT (to_jsonb(s) - 'updated_at')::text FROM gym_booking.studio_settings s",
                &[],
            )
            .unwrap()
            .get(0)
    } else {
        String::new()
    };
    let releases = released_versions(&current);
    assert!(!releases.is_empty(), "no earlier release (sql/releases/)");
    let rounds: usize = std::env::var("GYM_BOOKING_UPGRADE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let mut failures = Vec::new();
    for release in &releases {
        for round in 1..=rounds {
            let db = TestDb::empty(&format!(
                "upgrade_load_{}_{round}",
                release.replace('.', "_")
            ));
            let mut admin = db.connect();
            admin
                .batch_execute(&format!(
                    "CREATE EXTENSION gym_booking VERSION '{release}' CASCADE"
                ))
                .unwrap_or_else(|e| panic!("install {release}: {e}"));
            load_demo_data(&mut admin);
            if attendance {
                ended_class(&mut admin);
            }
            // A release with attendance (0.2.2 on) has marks in its demo data already.
            let had_attendance: bool = admin
                .query_one(
                    "SELECT to_regclass('gym_booking.attendance') IS NOT NULL",
                    &[],
                )
                .unwrap()
                .get(0);
            let marked_before = if had_attendance {
                texts(
                    &mut admin,
                    "SELECT booking_id::text FROM gym_booking.attendance",
                )
            } else {
                Vec::new()
            };
            let slots = texts(
                &mut admin,
                "SELECT id::text FROM gym_booking.slots
                  WHERE start_at > now() + interval '2 hours' AND capacity > 1
                  ORDER BY start_at, id",
            );
            // Full one-to-ones (one place, taken) for the waitlist rounds after the update.
            let one_to_ones = if studio {
                texts(
                    &mut admin,
                    "SELECT s.id::text FROM gym_booking.slots s
                      WHERE s.start_at > now() + interval '2 hours' AND s.capacity = 1
                        AND EXISTS (SELECT FROM gym_booking.bookings b
                                     WHERE b.slot_id = s.id AND b.status = 'reserved')
                      ORDER BY s.start_at, s.id",
                )
            } else {
                Vec::new()
            };
            let stop = AtomicBool::new(false);
            let in_new_release = AtomicBool::new(false);
            let seen = Mutex::new(Outcomes::default());
            let took = thread::scope(|s| {
                for (i, athlete) in ATHLETES.iter().enumerate() {
                    let (stop, seen, slots, name) = (&stop, &seen, &slots, &db.name);
                    let (one_to_ones, upgraded) = (&one_to_ones, &in_new_release);
                    let mine: Vec<String> = slots.iter().skip(i % 3).cloned().collect();
                    s.spawn(move || {
                        client_loop(name, athlete, &mine, one_to_ones, upgraded, stop, seen)
                    });
                }
                if studio {
                    let (stop, seen, name, upgraded) = (&stop, &seen, &db.name, &in_new_release);
                    s.spawn(move || delivery_loop(name, upgraded, stop, seen));
                }
                if timetables {
                    let (stop, seen, name, upgraded) = (&stop, &seen, &db.name, &in_new_release);
                    s.spawn(move || timetable_loop(name, upgraded, stop, seen));
                }
                if attendance {
                    let (stop, seen, name, upgraded) = (&stop, &seen, &db.name, &in_new_release);
                    s.spawn(move || attendance_loop(name, upgraded, stop, seen));
                    s.spawn(move || sweep_loop(name, upgraded, stop, seen));
                }
                // The load runs before, during and after the upgrade.
                thread::sleep(Duration::from_millis(400));
                let started = Instant::now();
                let upgraded = admin.batch_execute("ALTER EXTENSION gym_booking UPDATE");
                let took = started.elapsed();
                in_new_release.store(upgraded.is_ok() && studio, Ordering::Release);
                // Long enough for the new release's rounds to meet each other.
                thread::sleep(Duration::from_millis(if studio { 1500 } else { 300 }));
                stop.store(true, Ordering::Release);
                if let Err(e) = upgraded {
                    failures.push(format!("{release} round {round}: the upgrade failed: {e}"));
                }
                took
            });
            let seen = seen.into_inner().unwrap();
            let version = extversion(&mut admin);
            if version != current {
                failures.push(format!(
                    "{release} round {round}: still at {version} after the upgrade"
                ));
            }
            eprintln!(
                "from {release} (round {round}): upgrade took {} ms; clients: {:?}",
                took.as_millis(),
                seen.counts
            );
            for (code, message) in &seen.messages {
                // 42P01 / 42883: a request met a schema its library does not fit (the new
                // library on the old release's tables before the update, or the reverse):
                // clients must keep working on either side of the update.
                let bad = code == "40P01"
                    || code.starts_with("XX")
                    || code == "42P01"
                    || code == "42883"
                    || code == "not a database error";
                if bad {
                    failures.push(format!(
                        "{release} round {round}: {} request(s) got {code}: {message}",
                        seen.counts[code]
                    ));
                }
            }
            if !seen.counts.contains_key("ok") {
                failures.push(format!("{release} round {round}: no request succeeded"));
            }
            if studio {
                for broken in studio_invariants(&mut admin, &fresh_settings) {
                    failures.push(format!("{release} round {round}: {broken}"));
                }
                let promoted: i64 = admin
                    .query_one(
                        "SELECT count(*) FROM gym_booking.waitlist_entries WHERE state = 'promoted'",
                        &[],
                    )
                    .unwrap()
                    .get(0);
                eprintln!("from {release} (round {round}): {promoted} promotions after the update");
            }
            if timetables {
                for broken in timetable_invariants(&mut admin) {
                    failures.push(format!("{release} round {round}: {broken}"));
                }
            }
            if attendance {
                for broken in attendance_invariants(&mut admin, &marked_before) {
                    failures.push(format!("{release} round {round}: {broken}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every path of scripts PostgreSQL takes from a release to the current version (the shortest
/// chain, as `ALTER EXTENSION gym_booking UPDATE` runs it in one transaction) starts with a
/// script whose first statement takes the upgrade lock: later scripts of the chain take locks
/// the transaction already holds. (Scripts written before 0.1.3 have no lock; each of those
/// releases has a direct script to 0.1.3 that starts with it, and that is the shorter way.)
#[test]
fn every_upgrade_path_starts_with_the_upgrade_lock() {
    let db = TestDb::with_extension("upgrade_paths");
    let mut client = db.connect();
    let current: String = client
        .query_one(
            "SELECT extversion FROM pg_extension WHERE extname = 'gym_booking'",
            &[],
        )
        .unwrap()
        .get(0);
    let sql_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sql");
    let mut failures = Vec::new();
    for release in released_versions(&current) {
        let path: Option<String> = client
            .query_one(
                "SELECT path FROM pg_extension_update_paths('gym_booking')
                  WHERE source = $1 AND target = $2",
                &[&release, &current],
            )
            .unwrap()
            .get(0);
        let Some(path) = path else {
            failures.push(format!("no upgrade path from {release} to {current}"));
            continue;
        };
        let steps: Vec<&str> = path.split("--").collect();
        let first = format!("gym_booking--{}--{}.sql", steps[0], steps[1]);
        let text = std::fs::read_to_string(format!("{sql_dir}/{first}"))
            .unwrap_or_else(|e| panic!("{first}: {e}"));
        // The first statement (after the \echo guard and comments) is the lock's DO block.
        let first_statement = text
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty() && !line.starts_with("--") && !line.starts_with('\\'));
        if !text.contains("-- BEGIN upgrade lock") || first_statement != Some("DO $upgrade_lock$") {
            failures.push(format!(
                "the upgrade from {release} runs {path}: its first script {first} does not start with the upgrade lock"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

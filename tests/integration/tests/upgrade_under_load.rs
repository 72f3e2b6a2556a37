//! Upgrades under load (issue 19): `ALTER EXTENSION gym_booking UPDATE` from every released
//! version while PostgREST-style clients book and cancel. The upgrade takes its locks so that
//! clients wait for it and never deadlock with it: any `40P01` (or an internal error) fails.
//!
//! `GYM_BOOKING_UPGRADE_ROUNDS` (default 2) upgrades per release, each in a fresh database.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use gym_booking_integration::{
    load_demo_data, postgrest_request, released_versions, Caller, TestDb,
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

/// One athlete's requests, over and over: book a slot of the coming week, cancel it.
fn client_loop(
    db: &str,
    athlete: &str,
    slots: &[String],
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
    while !stop.load(Ordering::Acquire) {
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
    let current = extversion(&mut TestDb::with_extension("upgrade_load_fresh").connect());
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
            let slots: Vec<String> = admin
                .query(
                    "SELECT id::text FROM gym_booking.slots
                      WHERE start_at > now() + interval '2 hours' AND capacity > 1
                      ORDER BY start_at, id",
                    &[],
                )
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            let stop = AtomicBool::new(false);
            let seen = Mutex::new(Outcomes::default());
            let took = thread::scope(|s| {
                for (i, athlete) in ATHLETES.iter().enumerate() {
                    let (stop, seen, slots, name) = (&stop, &seen, &slots, &db.name);
                    let mine: Vec<String> = slots.iter().skip(i % 3).cloned().collect();
                    s.spawn(move || client_loop(name, athlete, &mine, stop, seen));
                }
                // The load runs before, during and after the upgrade.
                thread::sleep(Duration::from_millis(400));
                let started = Instant::now();
                let upgraded = admin.batch_execute("ALTER EXTENSION gym_booking UPDATE");
                let took = started.elapsed();
                thread::sleep(Duration::from_millis(300));
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
                let bad =
                    code == "40P01" || code.starts_with("XX") || code == "not a database error";
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
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The direct upgrade scripts from older releases are what `scripts/upgrade_paths.sh` makes of
/// the current scripts (the upgrade lock first, then the chain).
#[test]
fn direct_upgrade_scripts_are_up_to_date() {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/upgrade_paths.sh"
    );
    let out = std::process::Command::new("bash")
        .args([script, "--check"])
        .output()
        .expect("run scripts/upgrade_paths.sh --check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

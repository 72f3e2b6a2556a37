//! The reports' plans on a long history (SPEC, "Cost": index-driven, flat as history grows):
//! every statement a report runs — the PL/pgSQL function's queries and the SQL functions under
//! them — is logged with its plan by `auto_explain` (nested statements, sent to the client as
//! NOTICEs), and the transaction's own scan counters (`pg_stat_get_xact_numscans`) count the
//! sequential scans of each table; neither may show one on slots, bookings, attendance or
//! waitlist_entries. Each report runs seven times, so PL/pgSQL's generic plans are seen too.

use std::sync::{Arc, Mutex};

use gym_booking_integration::{postgrest_request, Caller, TestDb};
use postgres::{Client, NoTls};

const TABLES: [&str; 4] = ["slots", "bookings", "attendance", "waitlist_entries"];

/// A connection whose NOTICEs are collected.
fn connect_capturing(db: &TestDb) -> (Client, Arc<Mutex<Vec<String>>>) {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let notices = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&notices);
    let client = postgres::Config::new()
        .host(&var("GYM_BOOKING_TEST_HOST"))
        .port(var("GYM_BOOKING_TEST_PORT").parse().expect("a port number"))
        .user("postgres")
        .dbname(&db.name)
        .notice_callback(move |n| sink.lock().unwrap().push(n.message().to_string()))
        .connect(NoTls)
        .expect("connect with a notice sink");
    (client, notices)
}

/// Runs each (who, caller, report) seven times; returns what read a table sequentially.
pub fn sequential_scans(db: &TestDb, requests: &[(String, Caller, String)]) -> Vec<String> {
    let (mut client, notices) = connect_capturing(db);
    client
        .batch_execute(
            "LOAD 'auto_explain';
             SET auto_explain.log_min_duration = 0;
             SET auto_explain.log_nested_statements = on;
             SET auto_explain.log_level = notice;
             SET auto_explain.log_format = text;",
        )
        .expect("auto_explain");
    let counters = |tx: &mut postgres::Transaction<'_>| -> Result<Vec<i64>, postgres::Error> {
        TABLES
            .iter()
            .map(|t| {
                tx.query_one(
                    &format!("SELECT pg_stat_get_xact_numscans('gym_booking.{t}'::regclass)"),
                    &[],
                )
                .map(|row| row.get(0))
            })
            .collect()
    };
    let mut problems = Vec::new();
    for (name, caller, sql) in requests {
        let mut scanned: Vec<&str> = Vec::new();
        let mut plans: Vec<String> = Vec::new();
        for _ in 0..7 {
            notices.lock().unwrap().clear();
            let (before, rows, after) =
                postgrest_request(&mut client, caller, "POST", "/rpc", |tx| {
                    let before = counters(tx)?;
                    let rows = tx.query(sql.as_str(), &[])?.len();
                    Ok((before, rows, counters(tx)?))
                })
                .unwrap_or_else(|e| panic!("{name}: {sql}: {e:?}"));
            assert!(rows > 0, "{name}: no rows, nothing to plan ({sql})");
            for (n, table) in TABLES.iter().enumerate() {
                if after[n] > before[n] && !scanned.contains(table) {
                    scanned.push(table);
                }
            }
            for plan in notices.lock().unwrap().iter() {
                let seq = TABLES.iter().any(|t| {
                    plan.contains(&format!("Seq Scan on {t} "))
                        || plan.contains(&format!("Seq Scan on {t}\n"))
                });
                if seq && !plans.contains(plan) {
                    plans.push(plan.clone());
                }
            }
        }
        if !scanned.is_empty() || !plans.is_empty() {
            problems.push(format!(
                "{name} read {scanned:?} by a sequential scan (scan counters); plans with a Seq Scan:\n{}",
                plans.join("\n---\n")
            ));
        }
    }
    problems
}

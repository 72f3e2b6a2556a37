//! The attendance reports (issue 14; SPEC "Reports") against an independent count.
//!
//! For several seeds, a studio in Europe/Berlin gets a random history written by the DBA
//! (`attendance_reports/history.rs`: one to three trainers, seven months of slots at any hour,
//! bookings of every status, marks, excuses, promotions, cancelled slots, a deleted athlete).
//! Every figure of `slot_report`, `trainer_report` and `athlete_report` is then computed again
//! in Rust from the raw rows (`attendance_reports/expect.rs`: the studio's day by chrono-tz)
//! and compared line by line, for:
//! - the gym (an app admin; service_role once): everything, one trainer's slots, one athlete;
//! - each trainer: their own slots (trainer_id NULL, and their own id), and in athlete_report
//!   the athletes of their slots with those slots' figures only; another trainer's id: 42501;
//! - athletes: athlete_report of themselves (user_id NULL or their own id); another athlete's
//!   id, slot_report and trainer_report: 42501;
//!
//! over studio months (this one and the four before), the last 366 days, a week, the days
//! around today, and each day the studio's clock changes (23 or 25 hours long).
//!
//! The comparison runs in sessions whose TimeZone is UTC. DESIGN.md: "No result may depend on
//! the server's or the session's TimeZone" — the gym's reports are read again in sessions in
//! Europe/Berlin and America/New_York and must be the same lines. (The history plants strikes
//! where a day-based strike window or suspension reads an hour apart in UTC and in the studio's
//! calendar, so this check has something to find.)
//!
//! The plan test loads four years of the same kind of history and checks that the studio's
//! and a trainer's month reports read slots, bookings, attendance and waitlist entries by
//! index only (`attendance_reports/plans.rs`).

#[path = "attendance_reports/expect.rs"]
mod expect;
#[path = "attendance_reports/history.rs"]
mod history;
#[path = "attendance_reports/plans.rs"]
mod plans;

use chrono::{Datelike, Duration, Months, NaiveDate};
use gym_booking_integration::{postgrest_request, Caller, TestDb};
use postgres::Client;
use serde_json::json;

use expect::{Raw, NULL};
use history::{People, Shape};

const SEEDS: [u64; 4] = [11, 12, 13, 14];
const SHAPE: Shape = Shape {
    days_back: 215,
    days_ahead: 21,
    max_slots_per_day: 3,
    athletes: 40,
};

fn user(id: &str) -> Caller {
    Caller::new(
        "authenticated",
        Some(json!({"sub": id, "role": "authenticated"})),
    )
}

fn service() -> Caller {
    Caller::new("service_role", Some(json!({"role": "service_role"})))
}

/// A report call: its SQL selects one text line per row, NULL as `∅`.
fn report(function: &str, from: NaiveDate, to: NaiveDate, filter: Option<&str>) -> String {
    let columns: &[&str] = match function {
        "slot_report" => &[
            "slot_id",
            "trainer_id",
            "day",
            "(extract(epoch FROM start_at) * 1e6)::bigint",
            "capacity",
            "booked",
            "attended",
            "no_shows",
            "cancellations",
            "promotions",
            "utilization",
        ],
        "trainer_report" => &[
            "trainer_id",
            "first_name",
            "last_name",
            "slots",
            "capacity",
            "booked",
            "attended",
            "no_shows",
            "cancellations",
            "promotions",
            "utilization",
        ],
        _ => &[
            "user_id",
            "first_name",
            "last_name",
            "bookings",
            "attended",
            "no_shows",
            "cancellations",
            "attendance_rate",
            "no_show_rate",
            "strikes",
            "(extract(epoch FROM suspended_until) * 1e6)::bigint",
        ],
    };
    let line: Vec<String> = columns
        .iter()
        .map(|c| format!("coalesce(({c})::text, '{NULL}')"))
        .collect();
    let filter = filter.map_or("NULL".to_string(), |id| format!("'{id}'::uuid"));
    format!(
        "SELECT concat_ws(' | ', {}) FROM gym_booking.{function}('{from}'::date, '{to}'::date, {filter})",
        line.join(", ")
    )
}

/// What a call returned: the statement's time (µs) and the lines, or SQLSTATE and message.
type Fetched = Result<(i64, Vec<String>), (String, String)>;

/// One request, as PostgREST sends it (`None`: the DBA); the statement time is read right
/// before the report, in the same transaction.
fn fetch(client: &mut Client, caller: Option<&Caller>, sql: &str) -> Fetched {
    let body = |tx: &mut postgres::Transaction<'_>| -> Result<(i64, Vec<String>), postgres::Error> {
        let now: i64 = tx
            .query_one(
                "SELECT (extract(epoch FROM statement_timestamp()) * 1e6)::bigint",
                &[],
            )?
            .get(0);
        let lines = tx.query(sql, &[])?.iter().map(|r| r.get(0)).collect();
        Ok((now, lines))
    };
    let result = match caller {
        Some(caller) => postgrest_request(client, caller, "POST", "/rpc", body),
        None => {
            let mut tx = client.transaction().expect("begin");
            body(&mut tx).and_then(|v| tx.commit().map(|()| v))
        }
    };
    result.map_err(|e| match e.as_db_error() {
        Some(db) => (db.code().code().to_string(), db.message().to_string()),
        None => ("(no SQLSTATE)".to_string(), e.to_string()),
    })
}

/// Compares a call's lines with the model's (`want` gets the statement's time).
fn compare(
    what: &str,
    got: Fetched,
    want: impl FnOnce(i64) -> Vec<String>,
    checked: &mut usize,
    problems: &mut Vec<String>,
) {
    let (now, got) = match got {
        Ok(v) => v,
        Err((code, message)) => {
            problems.push(format!("{what}: refused with {code} {message}"));
            return;
        }
    };
    let want = want(now);
    *checked += want.len();
    if got == want {
        return;
    }
    let missing: Vec<&String> = want.iter().filter(|l| !got.contains(l)).take(6).collect();
    let extra: Vec<&String> = got.iter().filter(|l| !want.contains(l)).take(6).collect();
    problems.push(format!(
        "{what}: {} rows, the independent count has {}{}\n     expected (not returned): {missing:#?}\n     returned (not expected): {extra:#?}",
        got.len(),
        want.len(),
        if missing.is_empty() && extra.is_empty() { " (same rows, another order)" } else { "" },
    ));
}

fn refused(what: &str, got: Fetched, code: &str, problems: &mut Vec<String>) {
    match got {
        Err((c, _)) if c == code => {}
        Err((c, m)) => problems.push(format!("{what}: {c} {m}, expected {code}")),
        Ok((_, lines)) => problems.push(format!(
            "{what}: answered {} rows, expected {code}",
            lines.len()
        )),
    }
}

/// The periods compared: studio months, a year, a week, around today, the clock-change days.
fn periods(now_us: i64) -> Vec<(NaiveDate, NaiveDate, String)> {
    let today = history::at(now_us).with_timezone(&history::TZ).date_naive();
    let mut out = Vec::new();
    let mut first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    for _ in 0..5 {
        let next = first + Months::new(1);
        out.push((
            first,
            next - Duration::days(1),
            format!("the month of {first}"),
        ));
        first = first - Months::new(1);
    }
    out.push((
        today - Duration::days(365),
        today,
        "the last 366 days".into(),
    ));
    out.push((
        today - Duration::days(9),
        today - Duration::days(3),
        "a week".into(),
    ));
    out.push((
        today - Duration::days(1),
        today + Duration::days(2),
        "around today".into(),
    ));
    for d in -SHAPE.days_back..=SHAPE.days_ahead {
        let day = today + Duration::days(d);
        if history::day_length_hours(day) != 24 {
            out.push((day, day, format!("{day}, when the studio's clock changes")));
        }
    }
    out
}

/// One seed: history, then every report for every kind of caller; returns what differed.
fn one_seed(seed: u64) -> Vec<String> {
    let db = TestDb::with_extension(&format!("attendance_reports_{seed}"));
    let mut client = db.connect();
    client.batch_execute("SET TimeZone = 'UTC'").unwrap();
    let people = history::load(&mut client, seed, &SHAPE);
    let raw = expect::read(&mut client);
    let shifted = raw
        .slots
        .iter()
        .filter(|s| s.day != history::at(s.start).date_naive())
        .count();
    assert!(
        shifted > 0,
        "seed {seed}: no slot whose studio day differs from its UTC day"
    );

    let mut problems = Vec::new();
    let mut checked = 0;
    let periods = periods(people.now_us);
    for (p, (from, to, label)) in periods.iter().enumerate() {
        let (from, to) = (*from, *to);
        let mut check = |what: String,
                         caller: Option<&Caller>,
                         sql: String,
                         want: &dyn Fn(i64) -> Vec<String>| {
            let got = fetch(&mut client, caller, &sql);
            compare(
                &format!("seed {seed}, {label}: {what}"),
                got,
                want,
                &mut checked,
                &mut problems,
            );
        };
        let admin = user(&people.admin);
        let gym: &[(&str, Option<&Caller>)] = if p == 0 {
            &[
                ("the DBA", None),
                ("service_role", Some(&service())),
                ("an app admin", Some(&admin)),
            ]
        } else {
            &[("an app admin", Some(&admin))]
        };
        gym_reports(&raw, &people, from, to, gym, &mut check);
        for (t, trainer) in people.trainers.iter().enumerate() {
            let caller = user(trainer);
            let filters: &[Option<&str>] = if t == 0 {
                &[None, Some(trainer)]
            } else {
                &[None]
            };
            for filter in filters {
                let tag = format!("trainer {} (filter {filter:?})", t + 1);
                check(
                    format!("{tag}: slot_report"),
                    Some(&caller),
                    report("slot_report", from, to, *filter),
                    &|_| raw.slot_report(from, to, Some(trainer)),
                );
                check(
                    format!("{tag}: trainer_report"),
                    Some(&caller),
                    report("trainer_report", from, to, *filter),
                    &|_| raw.trainer_report(from, to, Some(trainer)),
                );
            }
            check(
                format!("trainer {}: athlete_report", t + 1),
                Some(&caller),
                report("athlete_report", from, to, None),
                &|now| raw.athlete_report(from, to, Some(trainer), None, now),
            );
        }
        for a in [1, 2, 3, 10 + p % 20] {
            let athlete = &people.athletes[a];
            let caller = user(athlete);
            for filter in [None, Some(athlete.as_str())] {
                check(
                    format!("athlete {a} (filter {filter:?}): athlete_report"),
                    Some(&caller),
                    report("athlete_report", from, to, filter),
                    &|now| raw.athlete_report(from, to, None, Some(athlete), now),
                );
            }
        }
    }
    refusals(
        &mut client,
        &people,
        periods[0].0,
        periods[0].1,
        &mut problems,
    );
    zone_independence(&db, &people, &periods, &mut problems);
    println!(
        "seed {seed}: {} trainer(s), {} slots, {} periods, {checked} report rows compared, {} problem(s)",
        people.trainers.len(),
        raw.slots.len(),
        periods.len(),
        problems.len()
    );
    problems
}

type Check<'a> = dyn FnMut(String, Option<&Caller>, String, &dyn Fn(i64) -> Vec<String>) + 'a;

/// The gym's three reports: everything, one trainer's slots, one athlete.
fn gym_reports(
    raw: &Raw,
    people: &People,
    from: NaiveDate,
    to: NaiveDate,
    callers: &[(&str, Option<&Caller>)],
    check: &mut Check<'_>,
) {
    let last_trainer = people.trainers.last().unwrap();
    let athlete = &people.athletes[3];
    for (who, caller) in callers {
        check(
            format!("{who}: slot_report"),
            *caller,
            report("slot_report", from, to, None),
            &|_| raw.slot_report(from, to, None),
        );
        check(
            format!("{who}: trainer_report"),
            *caller,
            report("trainer_report", from, to, None),
            &|_| raw.trainer_report(from, to, None),
        );
        check(
            format!("{who}: athlete_report"),
            *caller,
            report("athlete_report", from, to, None),
            &|now| raw.athlete_report(from, to, None, None, now),
        );
        check(
            format!("{who}: slot_report of the last trainer"),
            *caller,
            report("slot_report", from, to, Some(last_trainer)),
            &|_| raw.slot_report(from, to, Some(last_trainer)),
        );
        check(
            format!("{who}: trainer_report of the last trainer"),
            *caller,
            report("trainer_report", from, to, Some(last_trainer)),
            &|_| raw.trainer_report(from, to, Some(last_trainer)),
        );
        check(
            format!("{who}: athlete_report of athlete 3"),
            *caller,
            report("athlete_report", from, to, Some(athlete)),
            &|now| raw.athlete_report(from, to, None, Some(athlete), now),
        );
    }
}

/// Who may not read what: 42501 each.
fn refusals(
    client: &mut Client,
    people: &People,
    from: NaiveDate,
    to: NaiveDate,
    problems: &mut Vec<String>,
) {
    let athlete = user(&people.athletes[1]);
    for function in ["slot_report", "trainer_report"] {
        let got = fetch(client, Some(&athlete), &report(function, from, to, None));
        refused(&format!("an athlete's {function}"), got, "42501", problems);
    }
    let other = &people.athletes[2];
    let got = fetch(
        client,
        Some(&athlete),
        &report("athlete_report", from, to, Some(other)),
    );
    refused(
        "an athlete's athlete_report of another athlete",
        got,
        "42501",
        problems,
    );
    if let [first, second, ..] = &people.trainers[..] {
        for function in ["slot_report", "trainer_report"] {
            let got = fetch(
                client,
                Some(&user(first)),
                &report(function, from, to, Some(second)),
            );
            refused(
                &format!("a trainer's {function} of another trainer"),
                got,
                "42501",
                problems,
            );
        }
    }
    let anon = Caller::new("anon", Some(json!({"role": "anon"})));
    for function in ["slot_report", "trainer_report", "athlete_report"] {
        let got = fetch(client, Some(&anon), &report(function, from, to, None));
        refused(&format!("anon's {function}"), got, "42501", problems);
    }
}

/// The gym's reports read in sessions of other time zones are the same lines as in UTC.
fn zone_independence(
    db: &TestDb,
    people: &People,
    periods: &[(NaiveDate, NaiveDate, String)],
    problems: &mut Vec<String>,
) {
    let admin = user(&people.admin);
    let mut utc = db.connect();
    utc.batch_execute("SET TimeZone = 'UTC'").unwrap();
    for zone in ["Europe/Berlin", "America/New_York"] {
        let mut other = db.connect();
        other
            .batch_execute(&format!("SET TimeZone = '{zone}'"))
            .unwrap();
        for (from, to, label) in periods.iter().take(6) {
            for function in ["slot_report", "trainer_report", "athlete_report"] {
                let sql = report(function, *from, *to, None);
                let (a, b) = (
                    fetch(&mut utc, Some(&admin), &sql),
                    fetch(&mut other, Some(&admin), &sql),
                );
                let (Ok((_, a)), Ok((_, b))) = (a, b) else {
                    problems.push(format!("{label}: {function} failed in UTC or {zone}"));
                    continue;
                };
                if a != b {
                    let differ: Vec<(&String, &String)> =
                        a.iter().zip(&b).filter(|(x, y)| x != y).take(4).collect();
                    problems.push(format!(
                        "{label}: {function} read in a session in {zone} differs from UTC ({} vs {} rows); \
                         first differences (UTC, {zone}): {differ:#?}",
                        a.len(),
                        b.len()
                    ));
                }
            }
        }
    }
}

/// Every figure of the three reports, for the gym, trainers and athletes, against a count in
/// Rust from the raw rows; several seeds.
#[test]
fn reports_agree_with_an_independent_count() {
    let problems: Vec<String> = SEEDS.iter().flat_map(|seed| one_seed(*seed)).collect();
    assert!(
        problems.is_empty(),
        "{} problem(s):\n - {}",
        problems.len(),
        problems.join("\n - ")
    );
}

/// A studio's and a trainer's month, on four years of history: no sequential scan.
#[test]
fn month_reports_read_by_index() {
    let db = TestDb::with_extension("attendance_reports_plans");
    let mut client = db.connect();
    let shape = Shape {
        days_back: 4 * 365,
        days_ahead: 30,
        max_slots_per_day: 4,
        athletes: 60,
    };
    let people = history::load(&mut client, 99, &shape);
    let today = history::at(people.now_us)
        .with_timezone(&history::TZ)
        .date_naive();
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap() - Months::new(1);
    let last = first + Months::new(1) - Duration::days(1);
    let admin = user(&people.admin);
    let trainer = user(&people.trainers[0]);
    let mut requests = Vec::new();
    for function in ["slot_report", "trainer_report", "athlete_report"] {
        requests.push((
            format!("the studio's month ({first}..{last}): {function}"),
            admin.clone(),
            report(function, first, last, None),
        ));
        requests.push((
            format!("trainer 1's month: {function}"),
            trainer.clone(),
            report(function, first, last, None),
        ));
    }
    let counts: (i64, i64) = {
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM gym_booking.slots), (SELECT count(*) FROM gym_booking.bookings)",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    println!(
        "plan test: {} slots, {} bookings of history",
        counts.0, counts.1
    );
    let problems = plans::sequential_scans(&db, &requests);
    assert!(
        problems.is_empty(),
        "{} report(s) scan a table:\n - {}",
        problems.len(),
        problems.join("\n - ")
    );
}

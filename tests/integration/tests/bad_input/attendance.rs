//! Bad input to release 0.2.2's attendance API (DESIGN.md, "Bad input"; SPEC.md, "API"): every
//! argument NULL, at its type's edges and at the contract's own (a booking before its slot
//! starts, past its attendance period, cancelled; report dates at 2000-01-01 and 2999-12-31,
//! periods of 366 and 367 days, reversed, infinite). The parent file sends `edge_calls` as every
//! client role and checks that each answer is documented; here each call, made as the app admin
//! (who may call them all: the answer is about the argument, not the caller), must give exactly
//! the SQLSTATE SPEC.md names, and never an internal error.

use gym_booking_integration::TestDb;
use postgres::Client;
use serde_json::json;

use super::request;

/// Dates at and past every edge a report's period has, and PostgreSQL's own.
const DATE_EDGES: [&str; 9] = [
    "NULL",
    "'infinity'",
    "'-infinity'",
    "'5874897-12-31'",
    "'4713-01-01 BC'",
    "'1999-12-31'",
    "'2000-01-01'",
    "'2999-12-31'",
    "'3000-01-01'",
];

const UUID_EDGES: [&str; 3] = [
    "NULL",
    "'00000000-0000-0000-0000-000000000000'",
    "'ffffffff-ffff-ffff-ffff-ffffffffffff'",
];

/// Every attendance function with NULL and edge arguments, for the parent file's callers:
/// `booking` is a booking of a slot to come, `slot` a slot.
pub(super) fn edge_calls(booking: &str, slot: &str) -> Vec<String> {
    let mut calls = Vec::new();
    let ids: Vec<String> = UUID_EDGES
        .iter()
        .map(|s| s.to_string())
        .chain([format!("'{booking}'")])
        .collect();
    for id in &ids {
        for mark in ["NULL", "'attended'", "'no_show'"] {
            calls.push(format!(
                "SELECT * FROM gym_booking.mark_attendance({id}, {mark})"
            ));
        }
        calls.push(format!("SELECT * FROM gym_booking.excuse_no_show({id})"));
        calls.push(format!(
            "SELECT * FROM gym_booking.athlete_suspension({id})"
        ));
    }
    for id in UUID_EDGES
        .iter()
        .map(|s| s.to_string())
        .chain([format!("'{slot}'")])
    {
        calls.push(format!("SELECT * FROM gym_booking.slot_roster({id})"));
    }
    for n in ["NULL", "0", "-1", "1", "2147483647", "-2147483648"] {
        calls.push(format!("SELECT gym_booking.record_no_shows({n})"));
    }
    calls.push("SELECT gym_booking.record_no_shows()".into());
    calls.push("SELECT * FROM gym_booking.athlete_suspension()".into());
    for report in ["slot_report", "trainer_report", "athlete_report"] {
        for from in DATE_EDGES {
            for to in DATE_EDGES {
                calls.push(format!(
                    "SELECT count(*) FROM gym_booking.{report}({from}, {to})"
                ));
            }
        }
        for id in UUID_EDGES {
            calls.push(format!(
                "SELECT count(*) FROM gym_booking.{report}('2020-01-01', '2020-12-31', {id})"
            ));
        }
    }
    calls
}

const ADMIN: &str = "00000000-0000-4000-c000-0000000000a1";
const TRAINER: &str = "00000000-0000-4000-c000-0000000000a2";
const ATHLETE: &str = "00000000-0000-4000-c000-0000000000a3";
const OTHER: &str = "00000000-0000-4000-c000-0000000000a4";
/// The athlete's bookings: a slot to come, one running now, one that ended two hours ago
/// (inside its attendance period: 24 hours), one that ended three days ago (past it), and the
/// other athlete's cancelled place in the running one.
const B_FUTURE: &str = "00000000-0000-4000-c000-0000000000b1";
const B_NOW: &str = "00000000-0000-4000-c000-0000000000b2";
const B_ENDED: &str = "00000000-0000-4000-c000-0000000000b3";
const B_OLD: &str = "00000000-0000-4000-c000-0000000000b4";
const B_CANCELLED: &str = "00000000-0000-4000-c000-0000000000b5";
const S_FUTURE: &str = "00000000-0000-4000-c000-0000000000c1";

fn seed(client: &mut Client) {
    client
        .batch_execute(&format!(
            "INSERT INTO gym_booking.users (id, email, password_hash, first_name, last_name, role, contact_email) VALUES
                 ('{ADMIN}', 'admin@att.example', 'h', 'Ada', 'Admin', 'admin', NULL),
                 ('{TRAINER}', 'coach@att.example', 'h', 'Coach', 'Carter', 'trainer', 'coach@att.example'),
                 ('{ATHLETE}', 'ath@att.example', 'h', 'Ath', 'Lete', 'athlete', NULL),
                 ('{OTHER}', 'other@att.example', 'h', 'Oth', 'Er', 'athlete', NULL);
             INSERT INTO gym_booking.slots (id, trainer_id, start_at, capacity)
             VALUES ('{S_FUTURE}', '{TRAINER}', date_trunc('hour', now()) + interval '2 days', 4);
             INSERT INTO gym_booking.bookings (id, slot_id, user_id) VALUES ('{B_FUTURE}', '{S_FUTURE}', '{ATHLETE}');
             BEGIN;
             SET LOCAL session_replication_role = replica;
             INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes, capacity) VALUES
                 ('00000000-0000-4000-c000-0000000000c2', '{TRAINER}', now() - interval '30 minutes',
                  now() + interval '30 minutes', 60, 4),
                 ('00000000-0000-4000-c000-0000000000c3', '{TRAINER}', now() - interval '3 hours',
                  now() - interval '2 hours', 60, 4),
                 ('00000000-0000-4000-c000-0000000000c4', '{TRAINER}', now() - interval '3 days 1 hour',
                  now() - interval '3 days', 60, 4);
             INSERT INTO gym_booking.bookings (id, slot_id, user_id, status, status_changed_at) VALUES
                 ('{B_NOW}', '00000000-0000-4000-c000-0000000000c2', '{ATHLETE}', 'reserved', now() - interval '1 day'),
                 ('{B_ENDED}', '00000000-0000-4000-c000-0000000000c3', '{ATHLETE}', 'reserved', now() - interval '1 day'),
                 ('{B_OLD}', '00000000-0000-4000-c000-0000000000c4', '{ATHLETE}', 'completed', now() - interval '3 days'),
                 ('{B_CANCELLED}', '00000000-0000-4000-c000-0000000000c2', '{OTHER}', 'cancelled', now() - interval '1 day');
             COMMIT;"
        ))
        .expect("seed");
}

/// (call, the SQLSTATEs SPEC.md allows: "ok" for a success). One code, except where SPEC.md
/// says nothing of the case (then what the README's rules allow).
fn cases() -> Vec<(String, Vec<&'static str>)> {
    let one = |code: &'static str| vec![code];
    let mark =
        |id: &str, mark: &str| format!("SELECT * FROM gym_booking.mark_attendance({id}, {mark})");
    let q = |id: &str| format!("'{id}'");
    let mut all = vec![
        // mark_attendance: NULL 22004; unknown 42704; before the start and cancelled 22023;
        // after the period 27000; not a mark: PostgreSQL's 22P02.
        (mark("NULL", "'attended'"), one("22004")),
        (mark(&q(B_ENDED), "NULL"), one("22004")),
        (mark("NULL", "NULL"), one("22004")),
        (mark(UUID_EDGES[1], "'attended'"), one("42704")),
        (mark(UUID_EDGES[2], "'no_show'"), one("42704")),
        (mark(&q(B_FUTURE), "'attended'"), one("22023")),
        (mark(&q(B_CANCELLED), "'attended'"), one("22023")),
        (mark(&q(B_OLD), "'no_show'"), one("27000")),
        (mark(&q(B_ENDED), "'bogus'"), one("22P02")),
        (mark(&q(B_ENDED), "''"), one("22P02")),
        (mark(&q(B_NOW), "'attended'"), one("ok")),
        (mark(&q(B_ENDED), "'no_show'"), one("ok")),
        (mark(&q(B_ENDED), "'no_show'"), one("ok")),
        // excuse_no_show: NULL 22004; unknown 42704; an attendance or an unmarked booking
        // 22023 ("only a no-show"); twice is once.
        (
            "SELECT * FROM gym_booking.excuse_no_show(NULL)".into(),
            one("22004"),
        ),
        (
            format!(
                "SELECT * FROM gym_booking.excuse_no_show({})",
                UUID_EDGES[1]
            ),
            one("42704"),
        ),
        (
            format!("SELECT * FROM gym_booking.excuse_no_show('{B_NOW}')"),
            one("22023"),
        ),
        (
            format!("SELECT * FROM gym_booking.excuse_no_show('{B_FUTURE}')"),
            one("22023"),
        ),
        (
            format!("SELECT * FROM gym_booking.excuse_no_show('{B_ENDED}')"),
            one("ok"),
        ),
        (
            format!("SELECT * FROM gym_booking.excuse_no_show('{B_ENDED}')"),
            one("ok"),
        ),
        // record_no_shows: NULL 22004, below 1 22023.
        (
            "SELECT gym_booking.record_no_shows(NULL)".into(),
            one("22004"),
        ),
        ("SELECT gym_booking.record_no_shows(0)".into(), one("22023")),
        (
            "SELECT gym_booking.record_no_shows(-1)".into(),
            one("22023"),
        ),
        (
            "SELECT gym_booking.record_no_shows(-2147483648)".into(),
            one("22023"),
        ),
        ("SELECT gym_booking.record_no_shows(1)".into(), one("ok")),
        (
            "SELECT gym_booking.record_no_shows(2147483647)".into(),
            one("ok"),
        ),
        // slot_roster: NULL 22004, unknown 42704.
        (
            "SELECT * FROM gym_booking.slot_roster(NULL)".into(),
            one("22004"),
        ),
        (
            format!("SELECT * FROM gym_booking.slot_roster({})", UUID_EDGES[1]),
            one("42704"),
        ),
        (
            format!("SELECT * FROM gym_booking.slot_roster({})", UUID_EDGES[2]),
            one("42704"),
        ),
        (
            format!("SELECT * FROM gym_booking.slot_roster('{S_FUTURE}')"),
            one("ok"),
        ),
        // athlete_suspension: one's own, or any athlete's (an unknown one: SPEC.md does not
        // say).
        (
            "SELECT * FROM gym_booking.athlete_suspension()".into(),
            one("ok"),
        ),
        (
            "SELECT * FROM gym_booking.athlete_suspension(NULL)".into(),
            one("ok"),
        ),
        (
            format!("SELECT * FROM gym_booking.athlete_suspension('{ATHLETE}')"),
            one("ok"),
        ),
        (
            format!(
                "SELECT * FROM gym_booking.athlete_suspension({})",
                UUID_EDGES[1]
            ),
            vec!["ok", "42704"],
        ),
    ];
    // Reports: NULL dates 22004; days outside 2000-01-01..2999-12-31, reversed, or more than
    // 366 of them 22023; text that is no date, PostgreSQL's own codes.
    let periods: [(&str, &str, &[&'static str]); 22] = [
        ("NULL", "'2020-01-01'", &["22004"]),
        ("'2020-01-01'", "NULL", &["22004"]),
        ("NULL", "NULL", &["22004"]),
        ("'2000-01-01'", "'2000-01-01'", &["ok"]),
        ("'2999-12-31'", "'2999-12-31'", &["ok"]),
        ("'2999-01-01'", "'2999-12-31'", &["ok"]),
        ("'1999-12-31'", "'2000-01-01'", &["22023"]),
        ("'2999-12-31'", "'3000-01-01'", &["22023"]),
        ("'infinity'", "'infinity'", &["22023"]),
        ("'-infinity'", "'2020-01-01'", &["22023"]),
        ("'2020-01-01'", "'infinity'", &["22023"]),
        ("'-infinity'", "'infinity'", &["22023"]),
        ("'5874897-12-31'", "'5874897-12-31'", &["22023"]),
        ("'4713-01-01 BC'", "'2000-01-01'", &["22023"]),
        ("'2020-01-02'", "'2020-01-01'", &["22023"]),
        // A leap year is 366 days: at most; one more is too many.
        ("'2024-01-01'", "'2024-12-31'", &["ok"]),
        ("'2023-01-01'", "'2024-01-01'", &["ok"]),
        ("'2023-01-01'", "'2024-01-02'", &["22023"]),
        ("'2020-01-01'", "'2021-12-31'", &["22023"]),
        ("'2020-02-30'", "'2020-03-01'", &["22008"]),
        ("'not a date'", "'2020-03-01'", &["22007"]),
        ("'2020-01-01'::timestamptz::date", "'2020-01-31'", &["ok"]),
    ];
    for report in ["slot_report", "trainer_report", "athlete_report"] {
        for (from, to, codes) in periods {
            all.push((
                format!("SELECT count(*) FROM gym_booking.{report}({from}, {to})"),
                codes.to_vec(),
            ));
        }
        // An id no one has: nothing to report (SPEC.md does not say more).
        for id in &UUID_EDGES[1..] {
            all.push((
                format!(
                    "SELECT count(*) FROM gym_booking.{report}('2020-01-01', '2020-12-31', {id})"
                ),
                vec!["ok", "42704"],
            ));
        }
    }
    all
}

#[test]
fn attendance_api_edges_answer_the_codes_spec_names() {
    let db = TestDb::with_extension("bad_input_attendance");
    let mut client = db.connect();
    seed(&mut client);
    let claims = json!({"sub": ADMIN, "role": "authenticated"}).to_string();
    let mut wrong = Vec::new();
    let cases = cases();
    for (sql, allowed) in &cases {
        let got = match request(&mut client, "authenticated", &claims, sql) {
            Ok(()) => "ok".to_string(),
            Err(code) => code,
        };
        if !allowed.contains(&got.as_str()) {
            wrong.push(format!(
                "  {sql}\n      got {got}, SPEC.md: {}",
                allowed.join(" or ")
            ));
        }
        client
            .query_one("SELECT 1", &[])
            .unwrap_or_else(|e| panic!("the connection did not survive {sql}: {e}"));
    }
    // The successes did what they say: B_NOW attended, B_ENDED a no-show, excused once.
    let marks: Vec<String> = client
        .query(
            "SELECT booking_id::text || ' ' || mark || ' ' || (excused_at IS NOT NULL)
               FROM gym_booking.attendance ORDER BY booking_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        marks,
        [
            format!("{B_NOW} attended false"),
            format!("{B_ENDED} no_show true"),
        ],
        "the marks the valid calls made"
    );
    assert!(
        wrong.is_empty(),
        "{} of {} calls answered otherwise than SPEC.md says:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

//! Bad input for the timetable API (DESIGN.md, "Bad input"): every argument of
//! `create_series`, `edit_series` and `cancel_series` set to NULL, to the edge of its type or
//! past the contract's sizes, sent as PostgREST sends JSON (text cast to the parameter's type
//! by PostgreSQL), is refused with PostgreSQL's own code for it (class 22 or 23), never an
//! internal error, and leaves nothing behind: no series row and no slot after a refused
//! create; the series and its occurrences unchanged after a refused edit or cancellation.

use gym_booking_integration::TestDb;
use postgres::Client;

use crate::common::{self, call, user};
use crate::tz::{self, BERLIN};

/// The arguments of a create_series call, as text (None: SQL NULL).
#[derive(Clone)]
struct Args {
    weekdays: Option<String>,
    local_start: Option<String>,
    first_date: Option<String>,
    last_date: Option<String>,
    duration: Option<String>,
    capacity: Option<String>,
    notes: Option<String>,
    time_zone: Option<String>,
}

/// A change to the good arguments that makes them bad.
type Change = Box<dyn Fn(&mut Args)>;

/// A change that sets one argument (`set!(capacity, s("0"))`).
macro_rules! set {
    ($field:ident, $value:expr) => {
        Box::new(|a: &mut Args| a.$field = $value) as Change
    };
}

fn s(text: &str) -> Option<String> {
    Some(text.to_string())
}

const CREATE: &str = "SELECT s.id::text FROM gym_booking.create_series(
    weekdays => $1::text::int[], local_start => $2::text::time, first_date => $3::text::date,
    last_date => $4::text::date, duration_minutes => $5::text::int, capacity => $6::text::int,
    notes => $7::text, time_zone => $8::text) AS s";

const EDIT: &str = "SELECT count(*) FROM gym_booking.edit_series($1::text::uuid,
    weekdays => $2::text::int[], local_start => $3::text::time, duration_minutes => $4::text::int,
    capacity => $5::text::int, notes => $6::text, last_date => $7::text::date,
    time_zone => $8::text)";

/// How many series and slots there are (nothing half-written by a refused create).
fn counts(client: &mut Client) -> (i64, i64) {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM gym_booking.series),
                    (SELECT count(*) FROM gym_booking.slots)",
            &[],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

/// A refusal is PostgreSQL's own code for bad data: class 22 (data exception) or 23
/// (integrity constraint violation).
fn is_data_refusal(code: &str) -> bool {
    code.starts_with("22") || code.starts_with("23")
}

pub fn every_bad_argument_is_refused_cleanly() {
    let db = TestDb::with_extension("timetables_bad_input");
    let mut c = db.connect();
    let people = common::people(&mut c, 1);
    let trainer = user(&people.trainer);
    let first = BERLIN.date_at(tz::now()).plus(2).to_string();
    let day_before = BERLIN.date_at(tz::now()).plus(1).to_string();
    let base = Args {
        weekdays: s("{1,3}"),
        local_start: s("07:00"),
        first_date: s(&first),
        last_date: None,
        duration: s("60"),
        capacity: s("5"),
        notes: None,
        time_zone: s("Europe/Berlin"),
    };
    let megabyte = "n".repeat(1 << 20);
    let long_zone = "Europe/".to_string() + &"B".repeat(10 * 1024);
    // (what, change to the base arguments)
    let cases: Vec<(String, Change)> = vec![
        ("weekdays NULL".into(), set!(weekdays, None)),
        ("weekdays {}".into(), set!(weekdays, s("{}"))),
        ("weekdays {0}".into(), set!(weekdays, s("{0}"))),
        ("weekdays {8}".into(), set!(weekdays, s("{8}"))),
        ("weekdays {1,NULL}".into(), set!(weekdays, s("{1,NULL}"))),
        ("weekdays {NULL}".into(), set!(weekdays, s("{NULL}"))),
        (
            "weekdays {2147483647}".into(),
            set!(weekdays, s("{2147483647}")),
        ),
        (
            "weekdays {-2147483648}".into(),
            set!(weekdays, s("{-2147483648}")),
        ),
        (
            "weekdays {99999999999}".into(),
            set!(weekdays, s("{99999999999}")),
        ),
        (
            "weekdays {1,7,65536}".into(),
            set!(weekdays, s("{1,7,65536}")),
        ),
        ("local_start NULL".into(), set!(local_start, None)),
        ("local_start 24:00".into(), set!(local_start, s("24:00"))),
        ("local_start 25:00".into(), set!(local_start, s("25:00"))),
        ("first_date NULL".into(), set!(first_date, None)),
        (
            "first_date infinity".into(),
            set!(first_date, s("infinity")),
        ),
        (
            "first_date -infinity".into(),
            set!(first_date, s("-infinity")),
        ),
        (
            "first_date 5000-01-01".into(),
            set!(first_date, s("5000-01-01")),
        ),
        (
            "first_date 4713-01-01 BC".into(),
            set!(first_date, s("4713-01-01 BC")),
        ),
        ("last_date the day before first_date".into(), {
            let day_before = day_before.clone();
            Box::new(move |a: &mut Args| a.last_date = Some(day_before.clone()))
        }),
        ("last_date infinity".into(), set!(last_date, s("infinity"))),
        (
            "last_date 5000-01-01".into(),
            set!(last_date, s("5000-01-01")),
        ),
        ("duration 0".into(), set!(duration, s("0"))),
        ("duration 10000".into(), set!(duration, s("10000"))),
        ("duration -60".into(), set!(duration, s("-60"))),
        ("duration NULL".into(), set!(duration, None)),
        (
            "duration 2147483648".into(),
            set!(duration, s("2147483648")),
        ),
        ("capacity 0".into(), set!(capacity, s("0"))),
        ("capacity 100000".into(), set!(capacity, s("100000"))),
        ("capacity NULL".into(), set!(capacity, None)),
        ("notes of 1 MB".into(), {
            let m = megabyte.clone();
            Box::new(move |a: &mut Args| a.notes = Some(m.clone()))
        }),
        (
            "notes of 2001 characters".into(),
            set!(notes, Some("é".repeat(2001))),
        ),
        (
            "time_zone Mars/Olympus".into(),
            set!(time_zone, s("Mars/Olympus")),
        ),
        ("time_zone ''".into(), set!(time_zone, s(""))),
        (
            "time_zone localtime".into(),
            set!(time_zone, s("localtime")),
        ),
        (
            "time_zone posixrules".into(),
            set!(time_zone, s("posixrules")),
        ),
        ("time_zone +02:00".into(), set!(time_zone, s("+02:00"))),
        ("time_zone of 10 KB".into(), {
            let z = long_zone.clone();
            Box::new(move |a: &mut Args| a.time_zone = Some(z.clone()))
        }),
    ];
    let mut problems = Vec::new();
    let mut table = Vec::new();
    for (what, change) in &cases {
        let mut a = base.clone();
        change(&mut a);
        let answer = call(
            &mut c,
            &trainer,
            CREATE,
            &[
                &a.weekdays,
                &a.local_start,
                &a.first_date,
                &a.last_date,
                &a.duration,
                &a.capacity,
                &a.notes,
                &a.time_zone,
            ],
        );
        match answer {
            Ok(_) => problems.push(format!("create_series with {what}: accepted")),
            Err((code, message)) => {
                table.push(format!("create_series, {what}: {code}"));
                if !is_data_refusal(&code) {
                    problems.push(format!(
                        "create_series with {what}: {}",
                        message.chars().take(200).collect::<String>()
                    ));
                }
            }
        }
        let left = counts(&mut c);
        if left != (0, 0) {
            problems.push(format!(
                "create_series with {what} left {left:?} (series, slots)"
            ));
        }
    }

    // The base is accepted (the cases differ from a good call by one argument), and so are
    // repeated weekdays and the day's edges.
    for (what, weekdays, start) in [
        ("the base", "{1,3}", "07:00"),
        ("weekdays {7,1,1,7}", "{7,1,1,7}", "00:00"),
        ("local_start 23:59:59.999999", "{2}", "23:59:59.999999"),
    ] {
        let mut a = base.clone();
        a.weekdays = s(weekdays);
        a.local_start = s(start);
        if let Err((_, message)) = call(
            &mut c,
            &trainer,
            CREATE,
            &[
                &a.weekdays,
                &a.local_start,
                &a.first_date,
                &a.last_date,
                &a.duration,
                &a.capacity,
                &a.notes,
                &a.time_zone,
            ],
        ) {
            problems.push(format!("create_series with {what}: refused: {message}"));
        }
    }
    let stored: Vec<String> = c
        .query(
            "SELECT weekdays::text FROM gym_booking.series ORDER BY created_at, weekdays::text",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !stored.contains(&"{1,7}".to_string()) {
        problems.push(format!(
            "weekdays {{7,1,1,7}} stored as one of {stored:?}, expected {{1,7}}"
        ));
    }

    // edit_series and cancel_series on a series with a booked occurrence.
    let series = common::create_series(
        &mut c,
        &trainer,
        "{1,2,3,4,5}",
        "06:00",
        &first,
        None,
        2,
        BERLIN.name,
    );
    let occs = common::occurrences(&mut c, &series);
    common::book(&mut c, &people.athletes[0], &occs[0].slot);
    let before = common::digest(&mut c, &series);
    // (what, weekdays, local_start, duration, capacity, notes, last_date, time_zone)
    type EditArgs<'a> = (
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );
    let edits: Vec<EditArgs> = vec![
        (
            "weekdays {}",
            Some("{}"),
            None,
            None,
            None,
            None,
            None,
            None,
        ),
        (
            "weekdays {0}",
            Some("{0}"),
            None,
            None,
            None,
            None,
            None,
            None,
        ),
        (
            "weekdays {8}",
            Some("{8}"),
            None,
            None,
            None,
            None,
            None,
            None,
        ),
        (
            "weekdays {1,NULL}",
            Some("{1,NULL}"),
            None,
            None,
            None,
            None,
            None,
            None,
        ),
        (
            "weekdays {2147483647}",
            Some("{2147483647}"),
            None,
            None,
            None,
            None,
            None,
            None,
        ),
        (
            "weekdays {99999999999}",
            Some("{99999999999}"),
            None,
            None,
            None,
            None,
            None,
            None,
        ),
        (
            "local_start 24:00",
            None,
            Some("24:00"),
            None,
            None,
            None,
            None,
            None,
        ),
        (
            "local_start 25:00",
            None,
            Some("25:00"),
            None,
            None,
            None,
            None,
            None,
        ),
        ("duration 0", None, None, Some("0"), None, None, None, None),
        (
            "duration 10000",
            None,
            None,
            Some("10000"),
            None,
            None,
            None,
            None,
        ),
        ("capacity 0", None, None, None, Some("0"), None, None, None),
        (
            "capacity 100000",
            None,
            None,
            None,
            Some("100000"),
            None,
            None,
            None,
        ),
        (
            "notes of 1 MB",
            None,
            None,
            None,
            None,
            Some(&megabyte),
            None,
            None,
        ),
        (
            "last_date 2000-01-01",
            None,
            None,
            None,
            None,
            None,
            Some("2000-01-01"),
            None,
        ),
        (
            "last_date infinity",
            None,
            None,
            None,
            None,
            None,
            Some("infinity"),
            None,
        ),
        (
            "last_date -infinity",
            None,
            None,
            None,
            None,
            None,
            Some("-infinity"),
            None,
        ),
        (
            "last_date 5000-01-01",
            None,
            None,
            None,
            None,
            None,
            Some("5000-01-01"),
            None,
        ),
        (
            "time_zone Mars/Olympus",
            None,
            None,
            None,
            None,
            None,
            None,
            Some("Mars/Olympus"),
        ),
        ("time_zone ''", None, None, None, None, None, None, Some("")),
        (
            "time_zone localtime",
            None,
            None,
            None,
            None,
            None,
            None,
            Some("localtime"),
        ),
        (
            "time_zone of 10 KB",
            None,
            None,
            None,
            None,
            None,
            None,
            Some(&long_zone),
        ),
    ];
    for (what, w, l, d, cap, n, last, z) in &edits {
        let answer = call(&mut c, &trainer, EDIT, &[&series, w, l, d, cap, n, last, z]);
        match answer {
            Ok(_) => problems.push(format!("edit_series with {what}: accepted")),
            Err((code, message)) => {
                table.push(format!("edit_series, {what}: {code}"));
                if !is_data_refusal(&code) {
                    problems.push(format!("edit_series with {what}: {message}"));
                }
            }
        }
        if common::digest(&mut c, &series) != before {
            problems.push(format!(
                "edit_series with {what} changed the series or its occurrences"
            ));
        }
    }
    let cancel = "SELECT gym_booking.cancel_series($1::text::uuid, $2::text::date)";
    for from in ["infinity", "-infinity", "5000-01-01", "4713-01-01 BC"] {
        match call(&mut c, &trainer, cancel, &[&series, &from]) {
            Ok(rows) => problems.push(format!(
                "cancel_series from {from}: accepted ({} cancelled)",
                rows[0].get::<_, i32>(0)
            )),
            Err((code, message)) => {
                table.push(format!("cancel_series, from {from}: {code}"));
                if !is_data_refusal(&code) {
                    problems.push(format!("cancel_series from {from}: {message}"));
                }
            }
        }
        if common::digest(&mut c, &series) != before {
            problems.push(format!("cancel_series from {from} changed the series"));
        }
    }
    for (what, sql) in [
        (
            "edit_series(NULL)",
            "SELECT count(*) FROM gym_booking.edit_series(NULL)",
        ),
        (
            "cancel_series(NULL)",
            "SELECT gym_booking.cancel_series(NULL)",
        ),
    ] {
        match call(&mut c, &trainer, sql, &[]) {
            Ok(_) => problems.push(format!("{what}: accepted")),
            Err((code, message)) if !is_data_refusal(&code) => {
                problems.push(format!("{what}: {message}"))
            }
            Err((code, _)) => table.push(format!("{what}: {code}")),
        }
    }
    println!("{}", table.join("\n"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

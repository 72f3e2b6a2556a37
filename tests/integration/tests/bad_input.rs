//! Bad input, generated rather than listed (DESIGN.md, "Bad input"; issue 11). For every table
//! of the extension, every column (read from the catalog, so a new column joins by itself),
//! every client role (anon, athlete, trainer, app admin, `service_role`), an INSERT and an
//! UPDATE with NULL and with the edges of the column's type; every API function with NULL and
//! edge arguments; JWT claims that are not JSON, nested, huge, or carry a `sub` of every JSON
//! type. Each answer must be a success or a refusal whose SQLSTATE the README's error table
//! documents (never an internal error), the connection must survive it, and afterwards a plain
//! `pg_dump` of the database must restore with every row.
//!
//! Release 0.2.0: the settings row's columns (intervals, counts, the time zone) as every role,
//! the app admin and `service_role` included, and the API of waitlists and events
//! (`join_waitlist`, `leave_waitlist`, `my_waitlist`, `promote_waitlists`, `claim_events`,
//! `ack_events`) with NULL and edge arguments. The settings are put back to their defaults
//! after the column cases, so the API cases meet the studio as it ships.
//!
//! Release 0.2.1: the series table's columns (no client role may write it: every case is a
//! permission refusal) and the occurrence columns of slots, `series_id` and `series_date`,
//! with the edges of dates, times and weekday arrays. An occurrence is a series and a date
//! together (a CHECK), so a case that sets one to a value sets the other to a valid one: the
//! back office, the one role that may insert them, meets the foreign key and the dates' edges
//! rather than only that CHECK. (The timetable API's arguments are `tests/timetables.rs`'.)
//! Release 0.2.1: the calendar tokens' columns (nobody writes them), `calendar_token`,
//! `revoke_calendar_token`, and `calendar_feed` with a token that is NULL, empty, a megabyte,
//! of every odd character.
//! Release 0.2.2: the attendance marks' and the sweep watermark's columns (nobody writes them:
//! every case is a permission refusal), and the attendance API (`mark_attendance`,
//! `excuse_no_show`, `record_no_shows`, `slot_roster`, `athlete_suspension` and the three
//! reports) with NULL and edge arguments, dates at and past every edge, for every caller. Each
//! answer's exact SQLSTATE, as SPEC.md names it, is `bad_input/attendance.rs`'.

use std::collections::{BTreeMap, BTreeSet};

/// Release 0.2.2's attendance API: every argument's edges, each with its exact SQLSTATE.
#[path = "bad_input/attendance.rs"]
mod attendance;

use gym_booking_integration::access::TABLES;
use gym_booking_integration::{contents, restore_plain_dump, texts, Caller, TestDb};
use postgres::Client;
use serde_json::json;

const ADMIN: &str = "00000000-0000-4000-a000-0000000000a1";
const TRAINER: &str = "00000000-0000-4000-a000-0000000000a2";
const ATHLETE: &str = "00000000-0000-4000-a000-0000000000a3";
/// A slot of one place, taken by someone else: the athlete may join its waitlist.
const FULL_SLOT: &str = "00000000-0000-4000-b000-0000000000f1";
/// The trainer's series, made by the API after the horizon (it has no occurrences yet).
const SERIES_FIRST_DATE: &str = "'2999-12-01'";

/// The SQLSTATEs the README's "Errors" table documents (every backticked five-character code
/// in that section), plus the input errors PostgreSQL itself raises while reading a value.
fn documented_codes() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("read README.md");
    let section = readme
        .split("\n## Errors\n")
        .nth(1)
        .expect("README has an Errors section");
    let section = section.split("\n## ").next().unwrap();
    section
        .split('`')
        .filter(|word| word.len() == 5 && word.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(str::to_string)
        .collect()
}

/// The edges of an interval: zero, negative, tiny, PostgreSQL's largest and smallest, and a
/// mix of months, days and time (a month is not a fixed length of time).
const INTERVAL_EDGES: [&str; 9] = [
    "'0'",
    "'-1 minute'",
    "'1 microsecond'",
    "'178000000 years'",
    "'-178000000 years'",
    "'2147483647 days'",
    "'-2147483648 days 2562047788 hours'",
    "'1 month -30 days'",
    "'P1Y2M3DT4H5M6S'",
];

/// Values of one column beyond its type's edges: names a time zone must not accept.
fn column_edges(column: &Column) -> Vec<String> {
    let mut values = edges(&column.udt, &column.labels);
    if column.table == "studio_settings" && column.name == "time_zone" {
        values.extend(
            [
                "'Mars/Olympus_Mons'",
                "'Europe/Berlin'",
                "'europe/berlin'",
                "'posix/Europe/Berlin'",
                "'+05:00'",
                "'EST5EDT'",
                "'UTC; DROP TABLE gym_booking.slots'",
                "'../../../etc/passwd'",
            ]
            .map(str::to_string),
        );
    }
    values
}

/// Values at the edges of a column's type, as SQL expressions.
fn edges(udt: &str, labels: &[String]) -> Vec<String> {
    let mut values = vec!["NULL".to_string()];
    let typed = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    values.extend(match udt {
        "uuid" => typed(&[
            "'00000000-0000-0000-0000-000000000000'",
            "'ffffffff-ffff-ffff-ffff-ffffffffffff'",
        ]),
        "timestamptz" => typed(&[
            "'infinity'",
            "'-infinity'",
            "'294276-12-31 23:59:59.999999+00'",
            "'4714-11-24 00:00:00+00 BC'",
        ]),
        "int2" => typed(&["0", "-1", "32767", "-32768"]),
        "int4" => typed(&["0", "-1", "2147483647", "-2147483648"]),
        "int8" => typed(&["0", "-1", "9223372036854775807", "-9223372036854775808"]),
        "bool" => typed(&["true", "false"]),
        "interval" => typed(&INTERVAL_EDGES),
        "date" => typed(&[
            "'infinity'",
            "'-infinity'",
            "'5874897-12-31'",
            "'4713-01-01 BC'",
            "'1999-12-31'",
            "'3000-01-01'",
        ]),
        "time" => typed(&["'00:00'", "'23:59:59.999999'", "'24:00'"]),
        // Weekdays: none, a NULL one, outside 1-7, repeated, two dimensions, odd bounds.
        "_int2" => typed(&[
            "'{}'",
            "'{NULL}'",
            "'{0,8}'",
            "'{1,1,1}'",
            "'{{1,2},{3,4}}'",
            "'[5:6]={1,2}'",
            "'{-32768,32767}'",
        ]),
        "text" | "citext" => typed(&[
            "''",
            "repeat('x', 1000000)",
            "E'tab\\there, a quote '' and \\\\ backslash'",
            "'Zoë 🏋️ 健身'",
        ]),
        "jsonb" => typed(&[
            "'[]'",
            "'\"text\"'",
            "'1'",
            "'null'",
            // 2000 levels deep: within PostgreSQL's stack, beyond any sensible settings.
            "(repeat('[', 2000) || repeat(']', 2000))::jsonb",
            "jsonb_build_object('big', repeat('x', 1000000))",
        ]),
        // An enum: each of its labels.
        _ => labels.iter().map(|l| format!("'{l}'")).collect(),
    });
    values
}

struct Column {
    table: String,
    name: String,
    udt: String,
    labels: Vec<String>,
}

fn columns(client: &mut Client) -> Vec<Column> {
    client
        .query(
            "SELECT c.table_name::text, c.column_name::text, c.udt_name::text,
                    coalesce((SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
                                FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
                               WHERE t.typname = c.udt_name), '{}')
               FROM information_schema.columns c
              WHERE c.table_schema = 'gym_booking' AND c.table_name = ANY($1)
              ORDER BY c.table_name, c.ordinal_position",
            &[&TABLES.to_vec()],
        )
        .unwrap()
        .iter()
        .map(|r| Column {
            table: r.get(0),
            name: r.get(1),
            udt: r.get(2),
            labels: r.get(3),
        })
        .collect()
}

/// The people, and pools of rows so each case writes to rows of its own: slots of the
/// trainer, athletes the gym may change, and the athlete's own bookings.
fn seed(client: &mut Client) {
    client
        .batch_execute(&format!(
            "INSERT INTO gym_booking.users (id, email, password_hash, first_name, role, contact_email) VALUES
                 ('{ADMIN}', 'admin@bad.example', 'h', 'Ada', 'admin', NULL),
                 ('{TRAINER}', 'coach@bad.example', 'h', 'Coach', 'trainer', 'coach@bad.example'),
                 ('{ATHLETE}', 'ath@bad.example', 'h', 'Ath', 'athlete', NULL);
             INSERT INTO gym_booking.users (email, password_hash, first_name)
             SELECT format('pool%s@bad.example', g), 'h', format('Pool %s', g)
               FROM generate_series(1, 600) AS g;
             INSERT INTO gym_booking.slots (trainer_id, start_at, capacity)
             SELECT '{TRAINER}', date_trunc('hour', now()) + interval '3 days' + make_interval(hours => g), 20
               FROM generate_series(1, 1500) AS g;
             INSERT INTO gym_booking.bookings (slot_id, user_id)
             SELECT id, '{ATHLETE}' FROM gym_booking.slots ORDER BY start_at LIMIT 600;
             INSERT INTO gym_booking.slots (id, trainer_id, start_at, capacity)
             VALUES ('{FULL_SLOT}', '{TRAINER}', date_trunc('hour', now()) + interval '2 days', 1);
             INSERT INTO gym_booking.bookings (slot_id, user_id)
             SELECT '{FULL_SLOT}', id FROM gym_booking.users WHERE email = 'pool1@bad.example';
             BEGIN;
             SELECT set_config('request.jwt.claims', '{{\"sub\": \"{TRAINER}\"}}', true);
             SELECT gym_booking.create_series(ARRAY[1, 3], '07:00', {SERIES_FIRST_DATE});
             COMMIT;"
        ))
        .expect("seed");
}

struct Pools {
    slots: Vec<String>,
    users: Vec<String>,
    bookings: Vec<String>,
    /// The trainer's series.
    series: String,
}

fn pools(client: &mut Client) -> Pools {
    Pools {
        // Slots nobody booked (the athlete's bookings are in the first 600).
        slots: texts(
            client,
            &format!(
                "SELECT id::text FROM gym_booking.slots WHERE id <> '{FULL_SLOT}'
                  ORDER BY start_at OFFSET 600"
            ),
        ),
        users: texts(
            client,
            "SELECT id::text FROM gym_booking.users WHERE email LIKE 'pool%' ORDER BY email",
        ),
        bookings: texts(
            client,
            &format!(
                "SELECT b.id::text FROM gym_booking.bookings b JOIN gym_booking.slots s ON s.id = b.slot_id
                  WHERE s.id <> '{FULL_SLOT}' ORDER BY s.start_at"
            ),
        ),
        series: texts(client, "SELECT id::text FROM gym_booking.series")
            .pop()
            .expect("the trainer's series"),
    }
}

/// The other half of an occurrence (a series and a date, both or neither): the column a
/// case sets to a value other than NULL brings a valid partner, unique per case.
fn partner(column: &Column, value: &str, case: usize, pools: &Pools) -> Option<(String, String)> {
    if column.table != "slots" || value == "NULL" {
        return None;
    }
    match column.name.as_str() {
        "series_id" => Some(("series_date".into(), format!("'2030-01-01'::date + {case}"))),
        "series_date" => Some(("series_id".into(), format!("'{}'", pools.series))),
        _ => None,
    }
}

/// A caller, as PostgREST would run its request: the role, and the claims exactly as sent.
struct Who {
    name: &'static str,
    role: &'static str,
    claims: String,
    /// The users row an UPDATE of `users` by this caller targets (its own, or one the gym may
    /// change), and whose bookings it writes.
    own: Option<&'static str>,
}

fn callers() -> Vec<Who> {
    let claims = |sub: &str| json!({"sub": sub, "role": "authenticated"}).to_string();
    vec![
        Who {
            name: "anon",
            role: "anon",
            claims: json!({"role": "anon"}).to_string(),
            own: None,
        },
        Who {
            name: "athlete",
            role: "authenticated",
            claims: claims(ATHLETE),
            own: Some(ATHLETE),
        },
        Who {
            name: "trainer",
            role: "authenticated",
            claims: claims(TRAINER),
            own: Some(TRAINER),
        },
        Who {
            name: "admin",
            role: "authenticated",
            claims: claims(ADMIN),
            own: None,
        },
        Who {
            name: "service_role",
            role: "service_role",
            claims: json!({"role": "service_role"}).to_string(),
            own: None,
        },
    ]
}

/// One request: the preamble PostgREST sends, then `sql`. Ok(()) or Err(SQLSTATE); commits
/// on success, as PostgREST does.
fn request(client: &mut Client, role: &str, claims: &str, sql: &str) -> Result<(), String> {
    let caller = Caller::new(role, None);
    gym_booking_integration::postgrest_request(client, &caller, "POST", "/bad", |tx| {
        tx.execute(
            "SELECT set_config('request.jwt.claims', $1, true)",
            &[&claims],
        )?;
        tx.batch_execute(sql)
    })
    .map_err(|err| match err.as_db_error() {
        Some(db) => db.code().code().to_string(),
        None => format!("not a database error: {err}"),
    })
}

/// Every case's outcome, checked as it comes.
#[derive(Default)]
struct Outcomes {
    /// (what was sent, the code) for every answer that is not documented.
    undocumented: Vec<(String, String)>,
    by_code: BTreeMap<String, usize>,
    cases: usize,
}

impl Outcomes {
    fn record(
        &mut self,
        client: &mut Client,
        documented: &BTreeSet<String>,
        label: String,
        outcome: Result<(), String>,
    ) {
        self.cases += 1;
        let code = outcome.err().unwrap_or_else(|| "ok".into());
        *self.by_code.entry(code.clone()).or_default() += 1;
        if code != "ok" && (!documented.contains(&code) || code.starts_with("XX")) {
            self.undocumented.push((label.clone(), code));
        }
        // The connection survives whatever was sent.
        client
            .query_one("SELECT 1", &[])
            .unwrap_or_else(|e| panic!("the connection did not survive {label}: {e}"));
    }
}

/// The values of a new row of `table` that a valid INSERT by `who` would send, column by column.
fn base_row(table: &str, who: &Who, case: usize, pools: &Pools) -> Vec<(String, String)> {
    let slot = &pools.slots[case % pools.slots.len()];
    let booker = who.own.unwrap_or(ATHLETE);
    let row: Vec<(&str, String)> = match table {
        "users" => vec![
            ("email", format!("'new{case}@bad.example'")),
            ("password_hash", "'h'".into()),
            ("first_name", "'New'".into()),
        ],
        "slots" => vec![
            ("trainer_id", format!("'{TRAINER}'")),
            (
                "start_at",
                format!("now() + interval '10 days' + interval '{case} minutes'"),
            ),
        ],
        "bookings" => vec![
            ("slot_id", format!("'{slot}'")),
            ("user_id", format!("'{booker}'")),
        ],
        "activity_logs" => vec![
            ("entity_type", "'slot'".into()),
            ("entity_id", format!("'{slot}'")),
            ("action", "'update'".into()),
            ("changed_fields", "'{\"forged\": true}'".into()),
        ],
        "booking_status_history" => vec![
            ("booking_id", format!("'{}'", pools.bookings[0])),
            ("previous_status", "'reserved'".into()),
            ("current_status", "'cancelled'".into()),
        ],
        "trainer_directory" => vec![
            ("trainer_id", format!("'{TRAINER}'")),
            ("display_name", "'Forged'".into()),
        ],
        // A second settings row (there is one, always).
        "studio_settings" => vec![("time_zone", "'UTC'".into())],
        "studio_settings_history" => vec![
            ("changed_by", format!("'{ADMIN}'")),
            (
                "changed_fields",
                "'{\"waitlist_max\": {\"old\": null, \"new\": 1}}'".into(),
            ),
        ],
        "waitlist_entries" => vec![
            ("slot_id", format!("'{FULL_SLOT}'")),
            ("user_id", format!("'{booker}'")),
        ],
        "events" => vec![
            ("recipient_id", format!("'{booker}'")),
            ("kind", "'booking_confirmed'".into()),
            ("slot_id", format!("'{slot}'")),
        ],
        // A series written directly: every role is refused (only the API writes them).
        "series" => vec![
            ("trainer_id", format!("'{TRAINER}'")),
            ("weekdays", "'{1}'".into()),
            ("local_start", "'07:00'".into()),
            ("time_zone", "'UTC'".into()),
            ("first_date", format!("'2030-01-07'::date + {case}")),
        ],
        // 0.2.1: a token of one's own, chosen by the caller (nobody may write one).
        "calendar_tokens" => vec![
            ("user_id", format!("'{booker}'")),
            ("token_hash", "sha256('chosen'::bytea)".into()),
        ],
        // 0.2.2: a mark of one's own booking, and the sweep's one row (nobody may write them).
        "attendance" => vec![
            (
                "booking_id",
                format!("'{}'", pools.bookings[case % pools.bookings.len()]),
            ),
            ("user_id", format!("'{booker}'")),
            ("slot_id", format!("'{slot}'")),
            ("trainer_id", format!("'{TRAINER}'")),
            ("mark", "'attended'".into()),
            ("strike_at", "now()".into()),
        ],
        "attendance_sweep" => vec![("id", "true".into()), ("swept_until", "now()".into())],
        other => panic!("no base row for {other}"),
    };
    row.into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect()
}

/// The row an UPDATE of `table` by `who` targets, as a WHERE condition.
fn target_row(table: &str, who: &Who, case: usize, pools: &Pools) -> String {
    let pick = |pool: &[String]| pool[case % pool.len()].clone();
    let id = match table {
        "users" => who
            .own
            .map(str::to_string)
            .unwrap_or_else(|| pick(&pools.users)),
        "slots" => pick(&pools.slots),
        "bookings" => pick(&pools.bookings),
        "series" => pools.series.clone(),
        "trainer_directory" => return format!("trainer_id = '{TRAINER}'"),
        // The one row.
        "studio_settings" => return "id".into(),
        _ => return "true".into(),
    };
    format!("id = '{id}'")
}

#[test]
fn every_column_every_role_every_edge_is_refused_cleanly_or_kept() {
    let db = TestDb::with_extension("bad_input");
    let mut client = db.connect();
    seed(&mut client);
    let pools = pools(&mut client);
    let documented = documented_codes();
    assert!(documented.contains("23502") && documented.contains("42501"));
    let mut outcomes = Outcomes::default();
    let mut case = 0;
    for column in columns(&mut client) {
        for value in column_edges(&column) {
            for who in callers() {
                case += 1;
                let mut row = base_row(&column.table, &who, case, &pools);
                row.retain(|(name, _)| *name != column.name);
                row.push((column.name.clone(), value.clone()));
                row.extend(partner(&column, &value, case, &pools));
                let (names, values): (Vec<_>, Vec<_>) = row.into_iter().unzip();
                let insert = format!(
                    "INSERT INTO gym_booking.{} ({}) VALUES ({})",
                    column.table,
                    names.join(", "),
                    values.join(", ")
                );
                let outcome = request(&mut client, who.role, &who.claims, &insert);
                let label = format!(
                    "{} INSERT {}.{} = {}",
                    who.name,
                    column.table,
                    column.name,
                    short(&value)
                );
                outcomes.record(&mut client, &documented, label, outcome);

                let update = format!(
                    "UPDATE gym_booking.{} SET {} = {} WHERE {}",
                    column.table,
                    column.name,
                    value,
                    target_row(&column.table, &who, case, &pools)
                );
                let outcome = request(&mut client, who.role, &who.claims, &update);
                let label = format!(
                    "{} UPDATE {}.{} = {}",
                    who.name,
                    column.table,
                    column.name,
                    short(&value)
                );
                outcomes.record(&mut client, &documented, label, outcome);
            }
        }
    }
    settings_back_to_defaults(&mut client);
    api_and_claims(&mut client, &pools, &documented, &mut outcomes);
    report(&outcomes);

    // Whatever was accepted, PostgreSQL reads back: the database dumps and restores whole.
    let restored = restore_plain_dump(&db, "bad_input_restored");
    assert_eq!(contents(&restored.name), contents(&db.name));
}

/// Whatever the admin's accepted edges left in the settings row, the DBA puts the defaults
/// back (one more change in its history), and the row reads back as a fresh install's.
fn settings_back_to_defaults(client: &mut Client) {
    let settings: Vec<String> = client
        .query(
            "SELECT a.attname::text FROM pg_attribute a
              WHERE a.attrelid = 'gym_booking.studio_settings'::regclass AND a.attnum > 0
                AND NOT a.attisdropped
                AND a.attname NOT IN ('id', 'updated_at', 'updated_by')
              ORDER BY a.attnum",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let set = settings
        .iter()
        .map(|s| format!("{s} = DEFAULT"))
        .collect::<Vec<_>>()
        .join(", ");
    client
        .batch_execute(&format!("UPDATE gym_booking.studio_settings SET {set}"))
        .expect("the DBA puts the settings back to their defaults");
    let rows: i64 = client
        .query_one("SELECT count(*) FROM gym_booking.studio_settings", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1, "the settings are one row, whatever was sent");
}

fn short(value: &str) -> String {
    if value.len() > 48 {
        format!(
            "{}…",
            &value[..value.char_indices().nth(45).map_or(value.len(), |(i, _)| i)]
        )
    } else {
        value.to_string()
    }
}

fn report(outcomes: &Outcomes) {
    eprintln!(
        "{} cases; answers by code: {:?}",
        outcomes.cases, outcomes.by_code
    );
    assert!(
        outcomes.undocumented.is_empty(),
        "{} answers with an undocumented or internal code:\n{}",
        outcomes.undocumented.len(),
        outcomes
            .undocumented
            .iter()
            .map(|(label, code)| format!("  {code}  {label}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // A tier that only ever refuses proves little: the valid base rows were accepted too.
    assert!(
        outcomes.by_code.get("ok").copied().unwrap_or(0) > 100,
        "{:?}",
        outcomes.by_code
    );
}

/// Every API function with NULL and edge arguments, and claims of every odd shape.
fn api_and_claims(
    client: &mut Client,
    pools: &Pools,
    documented: &BTreeSet<String>,
    outcomes: &mut Outcomes,
) {
    let uuid_edges = [
        "NULL",
        "'00000000-0000-0000-0000-000000000000'",
        "'ffffffff-ffff-ffff-ffff-ffffffffffff'",
    ];
    let time_edges = [
        "NULL",
        "'infinity'",
        "'-infinity'",
        "'294276-12-31 23:59:59.999999+00'",
        "'4714-11-24 00:00:00+00 BC'",
        "now() + interval '1 day'",
    ];
    let int_edges = ["NULL", "0", "-1", "30", "2147483647", "-2147483648"];
    let mut calls: Vec<String> = Vec::new();
    let slot = &pools.slots[0];
    for id in uuid_edges.iter().chain([&format!("'{slot}'").as_str()]) {
        calls.push(format!("SELECT gym_booking.book_slot({id})"));
        calls.push(format!("SELECT gym_booking.cancel_booking({id})"));
        calls.push(format!("SELECT gym_booking.cancel_slot({id})"));
        calls.push(format!(
            "SELECT * FROM gym_booking.available_slots(trainer_id => {id})"
        ));
    }
    for t in time_edges {
        for u in time_edges {
            calls.push(format!(
                "SELECT * FROM gym_booking.available_slots({t}, {u})"
            ));
            calls.push(format!("SELECT * FROM gym_booking.my_bookings({t}, {u})"));
        }
        for n in int_edges {
            calls.push(format!(
                "SELECT gym_booking.create_slot({t}, {n}, 2, 'edge')"
            ));
            calls.push(format!("SELECT gym_booking.create_slot(now() + interval '5 days', 60, {n}, repeat('n', 3000))"));
        }
    }
    for n in int_edges {
        calls.push(format!("SELECT gym_booking.complete_past_bookings({n})"));
    }
    // Waitlists: no slot, no such slot, a full one (the athlete may join), one with room.
    for id in uuid_edges
        .iter()
        .map(|id| id.to_string())
        .chain([format!("'{FULL_SLOT}'"), format!("'{slot}'")])
    {
        calls.push(format!("SELECT gym_booking.join_waitlist({id})"));
        calls.push(format!("SELECT gym_booking.join_waitlist({id})"));
        calls.push(format!("SELECT gym_booking.leave_waitlist({id})"));
        calls.push(format!("SELECT gym_booking.leave_waitlist({id})"));
        calls.push(format!("SELECT gym_booking.join_waitlist(slot_id => {id})"));
    }
    calls.push("SELECT * FROM gym_booking.my_waitlist()".into());
    calls.push("SELECT gym_booking.promote_waitlists()".into());
    // Events: batch sizes and leases at their edges, and acknowledgements of ids that are
    // not events, are nobody's, repeat, or are far too many.
    let lease_edges = ["NULL", "'5 minutes'"]
        .into_iter()
        .chain(INTERVAL_EDGES)
        .collect::<Vec<_>>();
    for n in int_edges {
        for lease in &lease_edges {
            calls.push(format!(
                "SELECT count(*) FROM gym_booking.claim_events({n}, {lease})"
            ));
        }
    }
    calls.push("SELECT count(*) FROM gym_booking.claim_events()".into());
    calls.push("SELECT count(*) FROM gym_booking.claim_events(max_events => NULL)".into());
    calls.push("SELECT count(*) FROM gym_booking.claim_events(lease => NULL)".into());
    for ids in [
        "NULL",
        "'{}'",
        "'{NULL}'",
        "ARRAY[NULL, 1]::bigint[]",
        "ARRAY[0, -1, 9223372036854775807, -9223372036854775808]::bigint[]",
        "ARRAY[1, 1, 1]::bigint[]",
        "'{{1, 2}, {3, 4}}'::bigint[]",
        "'[5:6]={1,2}'::bigint[]",
        "ARRAY(SELECT generate_series(1, 200000))::bigint[]",
        "ARRAY(SELECT id FROM gym_booking.events)",
    ] {
        calls.push(format!("SELECT gym_booking.ack_events({ids})"));
    }
    // Calendar feeds (0.2.1): tokens on demand and revoked, and the feed's token argument
    // missing, empty, huge, of the right shape but nobody's, and text no token is made of.
    calls.push("SELECT gym_booking.calendar_token()".into());
    calls.push("SELECT gym_booking.revoke_calendar_token()".into());
    for token in [
        "NULL",
        "''",
        "repeat('a', 1048576)",
        "repeat('f', 64)",
        "repeat('ü', 64)",
        "E'\\x01\\x7f' || repeat('0', 62)",
        "convert_from('\\xc3a9'::bytea, 'UTF8') || chr(1114111) || E'\\n\\r\\t'",
        "'%00' || repeat('z', 61)",
        "(SELECT string_agg(chr(c), '') FROM generate_series(1, 2000) AS c)",
    ] {
        calls.push(format!("SELECT gym_booking.calendar_feed({token})::text"));
        calls.push(format!(
            "SELECT gym_booking.calendar_feed(token => {token})::text"
        ));
    }
    calls.push("SELECT gym_booking.current_user_id(), gym_booking.active_user_id(), gym_booking.current_app_role()".into());
    // Attendance (0.2.2): every function, every argument at its edges.
    calls.extend(attendance::edge_calls(&pools.bookings[0], slot));
    for who in callers() {
        for call in &calls {
            let outcome = request(client, who.role, &who.claims, call);
            outcomes.record(
                client,
                documented,
                format!("{} {}", who.name, short(call)),
                outcome,
            );
        }
    }

    // Claims of every shape, with the calls that read them.
    let deep = format!("{}1{}", "{\"a\":".repeat(500), "}".repeat(500));
    let huge = json!({"sub": ATHLETE, "role": "authenticated", "padding": "x".repeat(1_000_000)})
        .to_string();
    let subs = [
        json!(null),
        json!(42),
        json!(4.2),
        json!(true),
        json!([ATHLETE]),
        json!({"id": ATHLETE}),
        json!(""),
        json!("not-a-uuid"),
        json!(format!("{{{ATHLETE}}}")),
        json!(ATHLETE.to_uppercase()),
    ];
    let mut claims: Vec<String> = vec![
        "{not json".into(),
        "[]".into(),
        "\"text\"".into(),
        "123".into(),
        "null".into(),
        "".into(),
        deep,
        huge,
    ];
    claims.extend(
        subs.iter()
            .map(|sub| json!({"sub": sub, "role": "authenticated"}).to_string()),
    );
    for raw in &claims {
        for call in [
            "SELECT gym_booking.current_user_id()",
            "SELECT count(*) FROM gym_booking.slots",
            "SELECT count(*) FROM gym_booking.available_slots()",
            &format!("SELECT gym_booking.book_slot('{slot}')"),
            "SELECT count(*) FROM gym_booking.my_waitlist()",
            &format!("SELECT gym_booking.join_waitlist('{FULL_SLOT}')"),
            &format!("SELECT gym_booking.leave_waitlist('{FULL_SLOT}')"),
            "SELECT count(*) FROM gym_booking.events",
            "SELECT count(*) FROM gym_booking.claim_events()",
            "UPDATE gym_booking.studio_settings SET waitlist_max = 3",
        ] {
            let outcome = request(client, "authenticated", raw, call);
            outcomes.record(
                client,
                documented,
                format!("claims {} {}", short(raw), short(call)),
                outcome,
            );
        }
    }
}

//! Who may see and change what (DESIGN.md, "Identity and row-level security"): a seeded
//! database with known people, slots, bookings, log and history rows, and a runner that makes
//! ONE PostgREST-style request per case and checks both its answer and what it left behind.
//!
//! Used by `tests/access_matrix.rs` and `tests/escalation.rs`.
//!
//! The seed uses fixed ids, each with a label (`A`, `T1`, `A@T1`, ...). SQL in a case names
//! rows as `{label}` (replaced by the id as a uuid literal); what a case returns is compared
//! after every known id in it has been replaced by its label. A case's rows are compared as a
//! sorted list, so the order a query happens to return does not matter.
//!
//! After every case the runner takes a snapshot of every table as the superuser (count and
//! md5 of the ordered rows, per table) and compares it with the seed's: a read or a
//! refused write must leave every table exactly as seeded, a successful write must change
//! exactly the tables the case names. Then the database is put back as seeded (under
//! `session_replication_role = replica`, so no rule fires), and every case starts from the
//! same data.

use std::collections::{BTreeMap, BTreeSet};

use postgres::Client;
use serde_json::{json, Value};

use crate::{postgrest_request, Caller, TestDb};

/// The extension's tables, in the order the restore reloads them (foreign keys first): the
/// seed's six, with release 0.2.1's series before the slots that are their occurrences
/// (`slots.series_id`), then release 0.2.0's settings (one row), their history, waitlist
/// entries and the event outbox, then 0.2.1's calendar tokens, then 0.2.2's attendance marks
/// (after the bookings they mark) and the auto no-show sweep's watermark (one row).
pub const TABLES: [&str; 14] = [
    "users",
    "series",
    "slots",
    "bookings",
    "activity_logs",
    "booking_status_history",
    "trainer_directory",
    "studio_settings",
    "studio_settings_history",
    "waitlist_entries",
    "events",
    "calendar_tokens",
    "attendance",
    "attendance_sweep",
];

/// The seed's fixed ids. Users: an app admin, trainers T and U, athletes A and B. Slots
/// T1..T4 are T's, U1..U3 are U's, PAST is T's and has ended. Bookings are `user@slot`.
/// T4 and U3 (0.2.0) have one place each, taken: B holds T4 and A waits for it; A holds U3
/// and B waits for it, after leaving its list once. Waitlist entries are `user~slot`.
pub const IDS: [(&str, &str); 25] = [
    ("ADM", "00000000-0000-4000-8000-000000000001"),
    ("T", "00000000-0000-4000-8000-000000000002"),
    ("U", "00000000-0000-4000-8000-000000000003"),
    ("A", "00000000-0000-4000-8000-000000000004"),
    ("B", "00000000-0000-4000-8000-000000000005"),
    ("T1", "00000000-0000-4000-8000-000000000101"),
    ("T2", "00000000-0000-4000-8000-000000000102"),
    ("T3", "00000000-0000-4000-8000-000000000103"),
    ("U1", "00000000-0000-4000-8000-000000000104"),
    ("U2", "00000000-0000-4000-8000-000000000105"),
    ("PAST", "00000000-0000-4000-8000-000000000106"),
    ("A@T1", "00000000-0000-4000-8000-000000000201"),
    ("B@T1", "00000000-0000-4000-8000-000000000202"),
    ("A@T2", "00000000-0000-4000-8000-000000000203"),
    ("B@T2", "00000000-0000-4000-8000-000000000204"),
    ("B@U1", "00000000-0000-4000-8000-000000000205"),
    ("A@U2", "00000000-0000-4000-8000-000000000206"),
    ("A@PAST", "00000000-0000-4000-8000-000000000207"),
    ("T4", "00000000-0000-4000-8000-000000000111"),
    ("U3", "00000000-0000-4000-8000-000000000112"),
    ("B@T4", "00000000-0000-4000-8000-000000000211"),
    ("A@U3", "00000000-0000-4000-8000-000000000212"),
    ("A~T4", "00000000-0000-4000-8000-000000000301"),
    ("B~U3", "00000000-0000-4000-8000-000000000302"),
    ("B~U3.left", "00000000-0000-4000-8000-000000000303"),
];

/// An id in no table: the JWT of an account that does not exist.
pub const GHOST: &str = "00000000-0000-4000-8000-00000000dead";

/// The id of a seed label.
pub fn id(label: &str) -> &'static str {
    IDS.iter()
        .find(|(l, _)| *l == label)
        .map(|(_, id)| *id)
        .unwrap_or_else(|| panic!("no seed row labelled {label}"))
}

/// Every seeded password hash contains this; it must never reach a client, a log or the
/// directory.
pub const HASH_MARK: &str = "seedhash";

/// The seed, written as the superuser (never through a request). Users are created with no
/// JWT (their log rows have no author); the other changes are made with the claims of the
/// person they stand for, so log and history rows name A, B, T, U or the admin as their
/// author, as if made through the app. The ended slot and its reserved booking are loaded
/// as a restore loads them, under `session_replication_role = replica` (no rule fires:
/// the booking is still `reserved`, and has no log row).
///
/// Release 0.2.0's part: the admin changes a setting (one history row); T4 and U3 fill up,
/// A joins T4's waitlist, B joins U3's, leaves and joins again (a `left` entry and a
/// `waiting` one). The entries get fixed ids afterwards (no rule fires). The events are what
/// the rules wrote for all of it.
const SEED: &str = r#"
BEGIN;
INSERT INTO gym_booking.users (id, email, password_hash, first_name, last_name, role, contact_email) VALUES
    ({ADM}, 'ada.admin@gym.test',   '$2a$10$seedhash.ADM', 'Ada',  'Admin',   'admin',   NULL),
    ({T},   'tom.trainer@gym.test', '$2a$10$seedhash.T',   'Tom',  'Trainer', 'trainer', 'tom@gym.test'),
    ({U},   'uma.trainer@gym.test', '$2a$10$seedhash.U',   'Uma',  'Coach',   'trainer', 'uma@gym.test'),
    ({A},   'anna@gym.test',        '$2a$10$seedhash.A',   'Anna', 'Athlete', 'athlete', NULL),
    ({B},   'ben@gym.test',         '$2a$10$seedhash.B',   'Ben',  'Bench',   'athlete', NULL);
COMMIT;

BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-8000-000000000002", "role": "authenticated"}';
INSERT INTO gym_booking.slots (id, trainer_id, start_at, duration_minutes, capacity) VALUES
    ({T1}, {T}, date_trunc('hour', now()) + interval '1 day',  60, 3),
    ({T2}, {T}, date_trunc('hour', now()) + interval '2 days', 60, 2),
    ({T3}, {T}, date_trunc('hour', now()) + interval '3 days', 60, 2);
COMMIT;

BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-8000-000000000003", "role": "authenticated"}';
INSERT INTO gym_booking.slots (id, trainer_id, start_at, duration_minutes, capacity) VALUES
    ({U1}, {U}, date_trunc('hour', now()) + interval '1 day 2 hours',  45, 2),
    ({U2}, {U}, date_trunc('hour', now()) + interval '2 days 2 hours', 90, 2);
COMMIT;

BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-8000-000000000004", "role": "authenticated"}';
INSERT INTO gym_booking.bookings (id, slot_id, user_id) VALUES
    ({A@T1}, {T1}, {A}), ({A@T2}, {T2}, {A}), ({A@U2}, {U2}, {A});
UPDATE gym_booking.bookings SET status = 'cancelled' WHERE id = {A@T2};
COMMIT;

BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-8000-000000000005", "role": "authenticated"}';
INSERT INTO gym_booking.bookings (id, slot_id, user_id) VALUES
    ({B@T1}, {T1}, {B}), ({B@T2}, {T2}, {B}), ({B@U1}, {U1}, {B});
UPDATE gym_booking.bookings SET status = 'cancelled' WHERE id = {B@U1};
UPDATE gym_booking.bookings SET status = 'reserved' WHERE id = {B@U1};
COMMIT;

BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-8000-000000000001", "role": "authenticated"}';
UPDATE gym_booking.bookings SET status = 'cancelled' WHERE id = {B@T2};
COMMIT;

BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes, capacity) VALUES
    ({PAST}, {T}, date_trunc('minute', now()) - interval '3 hours',
                  date_trunc('minute', now()) - interval '2 hours', 60, 4);
INSERT INTO gym_booking.bookings (id, slot_id, user_id, status, status_changed_at) VALUES
    ({A@PAST}, {PAST}, {A}, 'reserved', now() - interval '1 day');
COMMIT;

BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-8000-000000000001", "role": "authenticated"}';
UPDATE gym_booking.studio_settings SET timetable_horizon = interval '10 weeks';
COMMIT;

BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-8000-000000000002", "role": "authenticated"}';
INSERT INTO gym_booking.slots (id, trainer_id, start_at, duration_minutes, capacity) VALUES
    ({T4}, {T}, date_trunc('hour', now()) + interval '4 days', 60, 1);
COMMIT;

BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-8000-000000000003", "role": "authenticated"}';
INSERT INTO gym_booking.slots (id, trainer_id, start_at, duration_minutes, capacity) VALUES
    ({U3}, {U}, date_trunc('hour', now()) + interval '4 days 2 hours', 60, 1);
COMMIT;

BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-8000-000000000005", "role": "authenticated"}';
INSERT INTO gym_booking.bookings (id, slot_id, user_id) VALUES ({B@T4}, {T4}, {B});
COMMIT;

BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-8000-000000000004", "role": "authenticated"}';
INSERT INTO gym_booking.bookings (id, slot_id, user_id) VALUES ({A@U3}, {U3}, {A});
SELECT gym_booking.join_waitlist({T4});
COMMIT;

BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-8000-000000000005", "role": "authenticated"}';
SELECT gym_booking.join_waitlist({U3});
SELECT gym_booking.leave_waitlist({U3});
SELECT gym_booking.join_waitlist({U3});
COMMIT;

BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE gym_booking.waitlist_entries SET id = {A~T4} WHERE slot_id = {T4} AND user_id = {A};
UPDATE gym_booking.waitlist_entries SET id = {B~U3.left}
 WHERE slot_id = {U3} AND user_id = {B} AND state = 'left';
UPDATE gym_booking.waitlist_entries SET id = {B~U3}
 WHERE slot_id = {U3} AND user_id = {B} AND state = 'waiting';
COMMIT;
"#;

/// Release 0.2.1's timetables, made on top of the seed by [`Fixture::with_timetables`]
/// through the API, each with the claims of its trainer (as the seed makes its slots). Dates are the studio's (UTC): both series run every day for two days, five
/// and six days from now. T's series `ST`: 07:00, two places (occurrences `ST.1`, `ST.2`);
/// U's series `SU`: 18:00, one place (`SU.1`, and one on the second day that
/// [`TIMETABLES_BEHIND`] takes back).
const TIMETABLES: &str = r#"
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-8000-000000000002", "role": "authenticated"}';
SELECT gym_booking.create_series(weekdays => ARRAY[1, 2, 3, 4, 5, 6, 7], local_start => '07:00',
       first_date => (now() AT TIME ZONE 'UTC')::date + 5, last_date => (now() AT TIME ZONE 'UTC')::date + 6,
       capacity => 2, notes => 'Morning strength');
COMMIT;

BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-8000-000000000003", "role": "authenticated"}';
SELECT gym_booking.create_series(weekdays => ARRAY[1, 2, 3, 4, 5, 6, 7], local_start => '18:00',
       first_date => (now() AT TIME ZONE 'UTC')::date + 5, last_date => (now() AT TIME ZONE 'UTC')::date + 6,
       capacity => 1, notes => 'Evening mobility');
COMMIT;
"#;

/// The id of A's booking of `ST.1` (`A@ST.1`).
const A_AT_ST1: &str = "00000000-0000-4000-8000-000000000221";

/// Then A books `ST.1`; and U's series is put back to where it was made up to its first day
/// (as if the horizon had reached only that far when it was made: its second occurrence
/// and that one's log row go, loaded as a restore loads rows), so the gym's
/// `extend_timetables()` has exactly one occurrence to make.
const TIMETABLES_BEHIND: &str = r#"
BEGIN;
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-8000-000000000004", "role": "authenticated"}';
INSERT INTO gym_booking.bookings (id, slot_id, user_id) VALUES ({A@ST.1}, {ST.1}, {A});
COMMIT;

BEGIN;
SET LOCAL session_replication_role = replica;
DELETE FROM gym_booking.activity_logs
 WHERE entity_id = (SELECT id FROM gym_booking.slots WHERE series_id = {SU} AND id <> {SU.1});
DELETE FROM gym_booking.slots WHERE series_id = {SU} AND id <> {SU.1};
UPDATE gym_booking.series SET made_until = made_until - 1 WHERE id = {SU};
COMMIT;
"#;

/// Release 0.2.2's attendance, on top of the seed by [`Fixture::with_attendance`]: U's slot
/// `UPAST` ended four hours ago (two places, A's booking `A@UPAST`) and B holds a place in T's
/// `PAST` too (`B@PAST`), both loaded as a restore loads them; then, through the API inside
/// both slots' attendance period (24 hours after the end, the default), T marks B a no-show
/// (a strike, an event to B) and U marks A attended (an event to A). A's place in `PAST` stays
/// unmarked.
const ATTENDANCE: &[(&str, &str)] = &[
    ("UPAST", "00000000-0000-4000-8000-000000000113"),
    ("B@PAST", "00000000-0000-4000-8000-000000000213"),
    ("A@UPAST", "00000000-0000-4000-8000-000000000214"),
];

const ATTENDANCE_SEED: &str = r#"
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes, capacity) VALUES
    ({UPAST}, {U}, date_trunc('minute', now()) - interval '5 hours',
                   date_trunc('minute', now()) - interval '4 hours', 60, 2);
INSERT INTO gym_booking.bookings (id, slot_id, user_id, status, status_changed_at) VALUES
    ({B@PAST}, {PAST}, {B}, 'reserved', now() - interval '1 day'),
    ({A@UPAST}, {UPAST}, {A}, 'reserved', now() - interval '1 day');
COMMIT;

BEGIN;
SET LOCAL ROLE authenticated;
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-8000-000000000002", "role": "authenticated"}';
SELECT gym_booking.mark_attendance({B@PAST}, 'no_show');
COMMIT;

BEGIN;
SET LOCAL ROLE authenticated;
SET LOCAL request.jwt.claims = '{"sub": "00000000-0000-4000-8000-000000000003", "role": "authenticated"}';
SELECT gym_booking.mark_attendance({A@UPAST}, 'attended');
COMMIT;
"#;

/// Labels of ids, for reading what a request returned.
#[derive(Clone)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    pub fn seed() -> Labels {
        Labels(
            IDS.iter()
                .map(|(l, id)| (l.to_string(), id.to_string()))
                .collect(),
        )
    }

    pub fn add(&mut self, label: &str, id: &str) {
        self.0.push((label.to_string(), id.to_string()));
    }

    /// `template` with every `{label}` replaced by `'<id>'::uuid`.
    pub fn sql(&self, template: &str) -> String {
        let mut sql = template.to_string();
        for (label, id) in &self.0 {
            sql = sql.replace(&format!("{{{label}}}"), &format!("'{id}'::uuid"));
        }
        assert!(
            !sql.contains("{A")
                && !sql.contains("{B")
                && !sql.contains("{T")
                && !sql.contains("{U"),
            "unknown label left in {sql}"
        );
        sql
    }

    /// `text` with every known id replaced by its label.
    pub fn read(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (label, id) in &self.0 {
            text = text.replace(id.as_str(), label);
        }
        text
    }
}

/// What a case must do.
#[derive(Clone, Copy, Debug)]
pub enum Expect {
    /// Succeeds, returns exactly these rows (labels, any order), and changes nothing.
    Rows(&'static [&'static str]),
    /// Succeeds, returns exactly these rows, and changes exactly these tables.
    Writes(&'static [&'static str], &'static [&'static str]),
    /// Fails with this SQLSTATE and changes nothing.
    Refused(&'static str),
    /// Fails with one of these SQLSTATEs and changes nothing.
    RefusedAny(&'static [&'static str]),
}

/// One request: who makes it, and the SQL PostgREST would run for it.
pub struct Case<'a> {
    /// The caller's name in messages.
    pub who: &'a str,
    pub caller: &'a Caller,
    /// Claims text that is not JSON at all: replaces the caller's claims for this request.
    pub raw_claims: Option<&'a str>,
    pub method: &'a str,
    pub path: &'a str,
    /// SQL with `{label}` placeholders; returns one column (any type castable to text).
    pub sql: &'a str,
    pub expect: Expect,
    /// For an expected write (`Writes`): a query run as the superuser afterwards that must
    /// return true.
    pub check: Option<&'a str>,
}

/// Per table: (row count, md5 of its ordered rows).
pub type Snapshot = BTreeMap<&'static str, (i64, String)>;

/// How a case went, when not as expected.
pub type Failure = String;

/// The seeded database and a superuser connection to it.
pub struct Fixture {
    pub db: TestDb,
    pub client: Client,
    pub labels: Labels,
    seed: Snapshot,
    pub cases_run: usize,
}

/// The usual callers.
pub fn anon() -> Caller {
    Caller::new("anon", None)
}

/// A signed-in person: role `authenticated`, `sub` = the seed user's id.
pub fn person(label: &str) -> Caller {
    Caller::new(
        "authenticated",
        Some(json!({"sub": id(label), "role": "authenticated", "aud": "authenticated"})),
    )
}

pub fn service() -> Caller {
    Caller::new("service_role", Some(json!({"role": "service_role"})))
}

/// Any caller with any claims.
pub fn caller(role: &str, claims: Value) -> Caller {
    Caller::new(role, Some(claims))
}

impl Fixture {
    /// A database of its own with the extension and the seed.
    pub fn new(test_name: &str) -> Fixture {
        let db = TestDb::with_extension(test_name);
        let mut client = db.connect();
        let labels = Labels::seed();
        client
            .batch_execute(&labels.sql(SEED))
            .expect("seed the database");
        let mut fixture = Fixture {
            db,
            client,
            labels,
            seed: Snapshot::new(),
            cases_run: 0,
        };
        fixture.save();
        fixture
    }

    /// The seed with release 0.2.1's timetables (see [`TIMETABLES`]): series `ST` (T's,
    /// occurrences `ST.1` booked by A as `A@ST.1`, and `ST.2`) and `SU` (U's, occurrence
    /// `SU.1`, made one day short of its last date).
    pub fn with_timetables(test_name: &str) -> Fixture {
        let mut fixture = Fixture::new(test_name);
        fixture
            .client
            .batch_execute(TIMETABLES)
            .unwrap_or_else(|e| panic!("the seed's timetables: {e:?}"));
        for (series, trainer) in [("ST", "T"), ("SU", "U")] {
            let rows = fixture
                .client
                .query(
                    "SELECT s.id::text, array_agg(o.id::text ORDER BY o.series_date)
                       FROM gym_booking.series AS s
                       JOIN gym_booking.slots AS o ON o.series_id = s.id
                      WHERE s.trainer_id = $1::text::uuid
                      GROUP BY s.id",
                    &[&id(trainer)],
                )
                .expect("read the seed's series");
            assert_eq!(rows.len(), 1, "one series of {trainer}");
            let occurrences: Vec<String> = rows[0].get(1);
            assert_eq!(
                occurrences.len(),
                2,
                "create_series made {trainer}'s two occurrences"
            );
            fixture.labels.add(series, &rows[0].get::<_, String>(0));
            fixture.labels.add(&format!("{series}.1"), &occurrences[0]);
            if series == "ST" {
                fixture.labels.add("ST.2", &occurrences[1]);
            }
        }
        fixture.labels.add("A@ST.1", A_AT_ST1);
        fixture.extend(TIMETABLES_BEHIND);
        fixture
    }

    /// The seed with release 0.2.2's attendance (see [`ATTENDANCE_SEED`]): `UPAST` (U's,
    /// ended, `A@UPAST` marked attended by U) and `B@PAST` (marked a no-show by T) beside the
    /// seed's unmarked `A@PAST`.
    pub fn with_attendance(test_name: &str) -> Fixture {
        let mut fixture = Fixture::new(test_name);
        for (label, id) in ATTENDANCE {
            fixture.labels.add(label, id);
        }
        fixture.extend(ATTENDANCE_SEED);
        fixture
    }

    /// More seed (as the superuser), then saved as the state every case starts from.
    pub fn extend(&mut self, template: &str) {
        let sql = self.labels.sql(template);
        self.client
            .batch_execute(&sql)
            .unwrap_or_else(|e| panic!("extend the seed: {e:?}"));
        self.save();
    }

    /// Saves the current data as the seed: a copy in schema `it_seed` (no client role has
    /// any right on it) and its snapshot.
    fn save(&mut self) {
        let mut sql = String::from("DROP SCHEMA IF EXISTS it_seed CASCADE; CREATE SCHEMA it_seed;");
        for table in TABLES {
            sql.push_str(&format!(
                "CREATE TABLE it_seed.{table} AS SELECT * FROM gym_booking.{table};"
            ));
        }
        self.client.batch_execute(&sql).expect("save the seed");
        self.seed = self.snapshot();
    }

    pub fn snapshot(&mut self) -> Snapshot {
        TABLES
            .iter()
            .map(|table| {
                let row = self
                    .client
                    .query_one(
                        &format!(
                            "SELECT count(*), coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '')
                               FROM gym_booking.{table} AS t"
                        ),
                        &[],
                    )
                    .unwrap_or_else(|e| panic!("snapshot of {table}: {e:?}"));
                (*table, (row.get(0), row.get(1)))
            })
            .collect()
    }

    /// Puts every table back as seeded; no rule fires (a restore, as a replica applies it).
    fn restore(&mut self) {
        let mut sql = format!(
            "BEGIN; SET LOCAL session_replication_role = replica; TRUNCATE {};",
            TABLES
                .iter()
                .map(|t| format!("gym_booking.{t}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for table in TABLES {
            sql.push_str(&format!(
                "INSERT INTO gym_booking.{table} SELECT * FROM it_seed.{table};"
            ));
        }
        sql.push_str("COMMIT;");
        self.client.batch_execute(&sql).expect("restore the seed");
        let now = self.snapshot();
        assert_eq!(now, self.seed, "the restore did not bring the seed back");
    }

    /// Tables whose rows differ from the seed's.
    fn changed_tables(&self, now: &Snapshot) -> BTreeSet<&'static str> {
        TABLES
            .iter()
            .copied()
            .filter(|t| now.get(t) != self.seed.get(t))
            .collect()
    }

    /// Runs one case as one request; Ok when it went as expected, else what went otherwise.
    /// Always leaves the database as seeded.
    pub fn run(&mut self, case: &Case<'_>) -> Result<(), Failure> {
        self.cases_run += 1;
        let sql = self.labels.sql(case.sql);
        // A read's one column, whatever its type, as text.
        let wrapped = format!("SELECT q.x::text FROM ({sql}) AS q(x)");
        let raw = case.raw_claims;
        let result: Result<Vec<Option<String>>, postgres::Error> = postgrest_request(
            &mut self.client,
            case.caller,
            case.method,
            case.path,
            |tx| {
                if let Some(raw) = raw {
                    // PostgREST never sends such claims; a broken proxy or a hand-made
                    // request could. Set in the request's preamble, like the others.
                    tx.execute("SELECT set_config('request.jwt.claims', $1, true)", &[&raw])?;
                }
                // Writes cannot be a subquery; they return text (RETURNING ...::text).
                let rows = if is_write(&sql) {
                    tx.query(&sql, &[])?
                } else {
                    tx.query(&wrapped, &[])?
                };
                Ok(rows.iter().map(text_of).collect::<Vec<Option<String>>>())
            },
        );
        let now = self.snapshot();
        let changed = self.changed_tables(&now);
        let verdict = self.judge(case, result, &changed);
        let leak = self.hash_leak();
        if !changed.is_empty() {
            self.restore();
        }
        let mut problems: Vec<String> = Vec::new();
        if let Err(e) = verdict {
            problems.push(e);
        }
        if let Some(leak) = leak {
            problems.push(leak);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "[{} {} {}] {}\n      {}",
                case.who,
                case.method,
                case.path,
                one_line(case.sql),
                problems.join("\n      ")
            ))
        }
    }

    fn judge(
        &mut self,
        case: &Case<'_>,
        result: Result<Vec<Option<String>>, postgres::Error>,
        changed: &BTreeSet<&'static str>,
    ) -> Result<(), String> {
        let got = match &result {
            Ok(rows) => {
                let mut rows: Vec<String> = rows
                    .iter()
                    .map(|r| {
                        r.as_deref()
                            .map(|t| self.labels.read(t))
                            .unwrap_or_else(|| "NULL".into())
                    })
                    .collect();
                rows.sort();
                Ok(rows)
            }
            Err(e) => Err(match e.as_db_error() {
                Some(db) => (db.code().code().to_string(), db.message().to_string()),
                None => ("(no SQLSTATE)".to_string(), e.to_string()),
            }),
        };
        if let Ok(rows) = &got {
            if let Some(leak) = rows.iter().find(|r| r.contains(HASH_MARK)) {
                return Err(format!("a password hash reached the client: {leak}"));
            }
        }
        // Nor in an error: message, DETAIL ("Failing row contains ..."), HINT, CONTEXT.
        if let Err(e) = &result {
            if let Some(db) = e.as_db_error() {
                let said = [Some(db.message()), db.detail(), db.hint(), db.where_()];
                if let Some(leak) = said.iter().flatten().find(|t| t.contains(HASH_MARK)) {
                    return Err(format!(
                        "a password hash reached the client in an error: {leak}"
                    ));
                }
            }
        }
        let changed_list: Vec<&str> = changed.iter().copied().collect();
        let describe_got = || match &got {
            Ok(rows) => format!("success, rows {rows:?}, changed tables {changed_list:?}"),
            Err((code, msg)) => format!("error {code} ({msg}), changed tables {changed_list:?}"),
        };
        match case.expect {
            Expect::Rows(want) | Expect::Writes(want, _) => {
                let want_tables: BTreeSet<&str> = match case.expect {
                    Expect::Writes(_, tables) => tables.iter().copied().collect(),
                    _ => BTreeSet::new(),
                };
                let mut want_rows: Vec<String> = want.iter().map(|s| s.to_string()).collect();
                want_rows.sort();
                let ok = matches!(&got, Ok(rows) if *rows == want_rows)
                    && changed.iter().copied().collect::<BTreeSet<&str>>() == want_tables;
                if !ok {
                    return Err(format!(
                        "expected success, rows {want_rows:?}, changed tables {:?}; got {}",
                        want_tables.iter().collect::<Vec<_>>(),
                        describe_got()
                    ));
                }
                let check = match case.expect {
                    Expect::Writes(..) => case.check,
                    _ => None,
                };
                if let Some(check) = check {
                    let check_sql = self.labels.sql(check);
                    let passed: bool = self
                        .client
                        .query_one(&check_sql, &[])
                        .map(|r| r.get::<_, Option<bool>>(0) == Some(true))
                        .unwrap_or(false);
                    if !passed {
                        return Err(format!("the write's effect is wrong: {check} is not true"));
                    }
                }
                Ok(())
            }
            Expect::Refused(code) => refused_as(&got, changed, &[code], describe_got()),
            Expect::RefusedAny(codes) => refused_as(&got, changed, codes, describe_got()),
        }
    }

    /// A password hash in a log row, the directory, an event (its payload goes to a
    /// recipient, a mail or a push) or the settings' history (as the superuser sees them).
    fn hash_leak(&mut self) -> Option<String> {
        let found: i64 = self
            .client
            .query_one(
                &format!(
                    "SELECT (SELECT count(*) FROM gym_booking.activity_logs AS l
                              WHERE l::text LIKE '%{HASH_MARK}%')
                          + (SELECT count(*) FROM gym_booking.trainer_directory AS d
                              WHERE d::text LIKE '%{HASH_MARK}%')
                          + (SELECT count(*) FROM gym_booking.events AS e
                              WHERE e::text LIKE '%{HASH_MARK}%')
                          + (SELECT count(*) FROM gym_booking.studio_settings_history AS h
                              WHERE h::text LIKE '%{HASH_MARK}%')"
                ),
                &[],
            )
            .expect("look for password hashes")
            .get(0);
        (found > 0).then(|| {
            format!("{found} log/directory/event/settings-history rows hold a password hash")
        })
    }
}

fn refused_as(
    got: &Result<Vec<String>, (String, String)>,
    changed: &BTreeSet<&'static str>,
    codes: &[&str],
    described: String,
) -> Result<(), String> {
    match got {
        Err((code, _)) if codes.contains(&code.as_str()) && changed.is_empty() => Ok(()),
        _ => Err(format!(
            "expected refusal {} with nothing changed; got {described}",
            codes.join(" or ")
        )),
    }
}

fn is_write(sql: &str) -> bool {
    let head = sql.trim_start().to_ascii_uppercase();
    ["INSERT", "UPDATE", "DELETE", "TRUNCATE"]
        .iter()
        .any(|w| head.starts_with(w))
}

/// The first column (text: a read is wrapped, a write returns `...::text`).
fn text_of(row: &postgres::Row) -> Option<String> {
    row.try_get::<_, Option<String>>(0).unwrap_or_else(|_| {
        Some(format!(
            "(a {} column: return text)",
            row.columns()[0].type_().name()
        ))
    })
}

fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs every case, then fails listing every case that did not go as expected.
pub fn run_all(fixture: &mut Fixture, cases: &[Case<'_>]) {
    let failures: Vec<Failure> = cases.iter().filter_map(|c| fixture.run(c).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases did not go as DESIGN.md says:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

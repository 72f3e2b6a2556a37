//! The studio of the timetable tests and the requests its people make, each as PostgREST
//! sends it (`postgrest_request`: role and JWT claims set by the transaction's first
//! statement with `set_config(..., true)`).

use gym_booking_integration::{postgrest_request, sqlstate, Caller};
use postgres::types::ToSql;
use postgres::{Client, Row};
use serde_json::json;

/// The people of a test's studio.
pub struct People {
    pub trainer: String,
    pub other_trainer: String,
    pub admin: String,
    pub athletes: Vec<String>,
}

/// Two trainers, an app admin and `athletes` athletes, written by the DBA.
pub fn people(client: &mut Client, athletes: i32) -> People {
    let mut one = |sql: &str| -> String {
        client
            .query_one(sql, &[])
            .unwrap_or_else(|e| panic!("setup {sql}: {e:?}"))
            .get(0)
    };
    let trainer = one(
        "INSERT INTO gym_booking.users (email, password_hash, first_name, role, contact_email)
         VALUES ('tt.trainer@example.com', 'x', 'Tina', 'trainer', 'tt.trainer@example.com')
         RETURNING id::text",
    );
    let other_trainer = one(
        "INSERT INTO gym_booking.users (email, password_hash, first_name, role, contact_email)
         VALUES ('tt.other@example.com', 'x', 'Otto', 'trainer', 'tt.other@example.com')
         RETURNING id::text",
    );
    let admin = one(
        "INSERT INTO gym_booking.users (email, password_hash, first_name, role)
         VALUES ('tt.admin@example.com', 'x', 'Ada', 'admin') RETURNING id::text",
    );
    let athletes = client
        .query(
            "INSERT INTO gym_booking.users (email, password_hash, first_name)
             SELECT format('tt.athlete%s@example.com', g), 'x', format('Athlete %s', g)
               FROM generate_series(1, $1::int) AS g ORDER BY g
             RETURNING id::text",
            &[&athletes],
        )
        .expect("setup: athletes")
        .iter()
        .map(|r| r.get(0))
        .collect();
    People {
        trainer,
        other_trainer,
        admin,
        athletes,
    }
}

/// A signed-in user's request (`authenticated`, the user's JWT claims).
pub fn user(id: &str) -> Caller {
    Caller::new(
        "authenticated",
        Some(json!({"sub": id, "role": "authenticated"})),
    )
}

pub fn service() -> Caller {
    Caller::new("service_role", Some(json!({"role": "service_role"})))
}

pub fn anon() -> Caller {
    Caller::new("anon", Some(json!({"role": "anon"})))
}

/// A failed request's SQLSTATE and message.
pub fn failure(err: &postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{} {}", db.code().code(), db.message()),
        None => format!("(not a database error) {err}"),
    }
}

/// One request of `caller` running one statement; its rows, or the error's SQLSTATE and message.
pub fn call(
    client: &mut Client,
    caller: &Caller,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, (String, String)> {
    postgrest_request(client, caller, "POST", "/rpc", |tx| tx.query(sql, params))
        .map_err(|e| (sqlstate(&e), failure(&e)))
}

/// As [`call`], when the request must succeed.
pub fn ok(
    client: &mut Client,
    caller: &Caller,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Vec<Row> {
    call(client, caller, sql, params)
        .unwrap_or_else(|(_, message)| panic!("{sql}\nfailed: {message}"))
}

/// The refused request's SQLSTATE (panics when it succeeded).
pub fn refused(
    client: &mut Client,
    caller: &Caller,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> String {
    match call(client, caller, sql, params) {
        Ok(rows) => panic!("{sql}\nsucceeded ({} rows), expected a refusal", rows.len()),
        Err((code, _)) => code,
    }
}

/// The DBA sets the timetable horizon (studio_settings is the DBA's and the app admins').
pub fn set_horizon(client: &mut Client, horizon: &str) {
    client
        .execute(
            "UPDATE gym_booking.studio_settings SET timetable_horizon = $1::text::interval",
            &[&horizon],
        )
        .expect("set timetable_horizon");
}

/// The session's TimeZone, as a client may set it (it must change no result).
pub fn set_session_zone(client: &mut Client, zone: &str) {
    client
        .batch_execute(&format!("SET TimeZone = '{zone}'"))
        .expect("SET TimeZone");
}

/// `create_series` by `caller`; the series id. Arguments as PostgREST passes JSON: text cast.
#[allow(clippy::too_many_arguments)]
pub fn create_series(
    client: &mut Client,
    caller: &Caller,
    weekdays: &str,
    local_start: &str,
    first_date: &str,
    last_date: Option<&str>,
    capacity: i32,
    zone: &str,
) -> String {
    ok(
        client,
        caller,
        "SELECT s.id::text FROM gym_booking.create_series(
             weekdays => $1::text::int[], local_start => $2::text::time,
             first_date => $3::text::date, last_date => $4::text::date,
             capacity => $5::int, time_zone => $6::text) AS s",
        &[
            &weekdays,
            &local_start,
            &first_date,
            &last_date,
            &capacity,
            &zone,
        ],
    )[0]
    .get(0)
}

/// An occurrence as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occurrence {
    pub slot: String,
    pub date: String,
    /// start_at as seconds since the epoch (no time zone involved in reading it).
    pub start: i64,
    /// `start_at AT TIME ZONE <the series' zone>`, "YYYY-MM-DD HH:MM", by PostgreSQL.
    pub local: String,
    /// ISO weekday of that local time, by PostgreSQL.
    pub local_isodow: i32,
    pub minutes: i32,
    pub capacity: i32,
    pub cancelled: bool,
    pub notes: Option<String>,
}

/// Every occurrence of a series, by date, read by the DBA.
pub fn occurrences(client: &mut Client, series: &str) -> Vec<Occurrence> {
    client
        .query(
            "SELECT o.id::text, o.series_date::text, extract(epoch FROM o.start_at)::bigint,
                    to_char(o.start_at AT TIME ZONE s.time_zone, 'YYYY-MM-DD HH24:MI'),
                    extract(isodow FROM o.start_at AT TIME ZONE s.time_zone)::int,
                    o.duration_minutes::int, o.capacity::int, o.cancelled_at IS NOT NULL, o.notes
               FROM gym_booking.slots AS o JOIN gym_booking.series AS s ON s.id = o.series_id
              WHERE o.series_id = $1::text::uuid
              ORDER BY o.series_date",
            &[&series],
        )
        .expect("read occurrences")
        .iter()
        .map(|r| Occurrence {
            slot: r.get(0),
            date: r.get(1),
            start: r.get(2),
            local: r.get(3),
            local_isodow: r.get(4),
            minutes: r.get(5),
            capacity: r.get(6),
            cancelled: r.get(7),
            notes: r.get(8),
        })
        .collect()
}

/// `book_slot` by an athlete; the booking's id.
pub fn book(client: &mut Client, athlete: &str, slot: &str) -> String {
    let rows = ok(
        client,
        &user(athlete),
        "SELECT b.id::text, b.status::text FROM gym_booking.book_slot($1::text::uuid) AS b",
        &[&slot],
    );
    assert_eq!(
        rows[0].get::<_, String>(1),
        "reserved",
        "setup: book {slot}"
    );
    rows[0].get(0)
}

/// `join_waitlist` by an athlete (the slot is full).
pub fn join(client: &mut Client, athlete: &str, slot: &str) {
    let rows = ok(
        client,
        &user(athlete),
        "SELECT e.state::text FROM gym_booking.join_waitlist($1::text::uuid) AS e",
        &[&slot],
    );
    assert_eq!(rows[0].get::<_, String>(0), "waiting", "setup: join {slot}");
}

/// The digest of a series row and all its occurrences (equal exactly when nothing changed).
pub fn digest(client: &mut Client, series: &str) -> String {
    client
        .query_one(
            "SELECT md5(coalesce((SELECT s::text FROM gym_booking.series AS s
                                   WHERE s.id = $1::text::uuid), '-')
                        || coalesce((SELECT string_agg(o::text, E'\\n' ORDER BY o.id)
                                       FROM gym_booking.slots AS o
                                      WHERE o.series_id = $1::text::uuid), '-'))",
            &[&series],
        )
        .expect("digest")
        .get(0)
}

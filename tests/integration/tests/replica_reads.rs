//! A read is a read (issue 18): everything a read request needs — identity, the caller's
//! account behind the policies, `available_slots`, `my_bookings`, plain table reads — runs
//! without a transaction id, so it works on a hot standby (a Supabase read replica, PostgREST
//! sending GETs to a streaming standby) and does not age the database towards wraparound.
//!
//! `scripts/test.sh` starts a real streaming standby of the test cluster (`pg_basebackup -R`,
//! hot standby) and exports where it listens.

use gym_booking_integration::{
    connect_to_standby, load_demo_data, postgrest_request, wait_for_replay, Caller, TestDb,
};
use postgres::Client;
use serde_json::json;

const ADMIN: &str = "00000000-0000-4000-a000-000000000001";
const TRAINER: &str = "00000000-0000-4000-a000-000000000011";
const ATHLETE: &str = "00000000-0000-4000-a000-000000000101";

/// Everyone who reads: anon, an athlete, a trainer, an app admin, the back office.
fn callers() -> Vec<(&'static str, Caller)> {
    let user = |id: &str| {
        Caller::new(
            "authenticated",
            Some(json!({"sub": id, "role": "authenticated"})),
        )
    };
    vec![
        ("anon", Caller::new("anon", Some(json!({"role": "anon"})))),
        ("athlete", user(ATHLETE)),
        ("trainer", user(TRAINER)),
        ("admin", user(ADMIN)),
        (
            "service_role",
            Caller::new("service_role", Some(json!({"role": "service_role"}))),
        ),
    ]
}

/// Every read of the API and of the tables, as PostgREST sends it, each one row per line.
const READS: [(&str, &str); 12] = [
    ("GET /trainer_directory",
     "SELECT trainer_id::text || ' ' || display_name FROM gym_booking.trainer_directory ORDER BY 1"),
    ("GET /rpc/available_slots",
     "SELECT slot_id::text || ' ' || booked || '/' || capacity FROM gym_booking.available_slots() ORDER BY 1"),
    ("GET /rpc/my_bookings",
     "SELECT booking_id::text || ' ' || status FROM gym_booking.my_bookings() ORDER BY 1"),
    ("GET /slots", "SELECT id::text FROM gym_booking.slots ORDER BY 1"),
    ("GET /bookings", "SELECT id::text || ' ' || status FROM gym_booking.bookings ORDER BY 1"),
    ("GET /bookings?limit=5",
     "SELECT id::text FROM gym_booking.bookings ORDER BY created_at DESC, id LIMIT 5"),
    ("GET /users?select=id,first_name,role",
     "SELECT id::text || ' ' || first_name || ' ' || role FROM gym_booking.users ORDER BY 1"),
    ("GET /activity_logs?select=id,action",
     "SELECT id::text || ' ' || action FROM gym_booking.activity_logs ORDER BY 1"),
    ("GET /booking_status_history",
     "SELECT id::text || ' ' || current_status FROM gym_booking.booking_status_history ORDER BY 1"),
    ("GET /rpc/current_user_id", "SELECT coalesce(gym_booking.current_user_id()::text, '-')"),
    ("GET /rpc/current_app_role",
     "SELECT coalesce(gym_booking.current_app_role()::text, '-') || ' '
             || coalesce(gym_booking.active_user_id()::text, '-') || ' '
             || gym_booking.is_trainer() || ' ' || gym_booking.is_app_admin()"),
    ("HEAD /slots (count)", "SELECT count(*)::text FROM gym_booking.slots"),
];

/// The rows a read returns, or the SQLSTATE it is refused with.
type Answer = Result<Vec<String>, String>;

fn read(client: &mut Client, caller: &Caller, path: &str, sql: &str) -> Answer {
    postgrest_request(client, caller, "GET", path, |tx| {
        let rows = tx.query(sql, &[])?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
    })
    .map_err(|err| {
        let db = err.as_db_error().unwrap_or_else(|| panic!("{path}: {err}"));
        format!("{} {}", db.code().code(), db.message())
    })
}

#[test]
fn a_read_request_takes_no_transaction_id() {
    let db = TestDb::with_extension("reads_take_no_xid");
    let mut client = db.connect();
    load_demo_data(&mut client);
    let mut read_somewhere = 0;
    for (name, caller) in callers() {
        for (path, sql) in READS {
            let answer = postgrest_request(&mut client, &caller, "GET", path, |tx| {
                let rows = tx.query(sql, &[]);
                let xid: Option<i64> = tx
                    .query_one("SELECT txid_current_if_assigned()", &[])?
                    .get(0);
                Ok((rows.is_ok(), xid))
            });
            // A refused read (anon on bookings) fails the request: nothing to look at.
            if let Ok((succeeded, xid)) = answer {
                assert_eq!(xid, None, "{name} {path}: the read took a transaction id");
                read_somewhere += usize::from(succeeded);
            }
        }
    }
    assert!(read_somewhere > 40, "only {read_somewhere} reads succeeded");
}

#[test]
fn every_read_answers_on_the_standby_as_on_the_primary() {
    let db = TestDb::with_extension("reads_on_standby");
    let mut primary = db.connect();
    load_demo_data(&mut primary);
    let mut standby = connect_to_standby(&db.name);
    wait_for_replay(&mut primary, &mut standby);
    let in_recovery: bool = standby
        .query_one("SELECT pg_is_in_recovery()", &[])
        .unwrap()
        .get(0);
    assert!(in_recovery, "the standby is a standby");

    let mut differences = Vec::new();
    let mut answered = 0;
    for (name, caller) in callers() {
        for (path, sql) in READS {
            let on_primary = read(&mut primary, &caller, path, sql);
            let on_standby = read(&mut standby, &caller, path, sql);
            answered += usize::from(on_standby.as_ref().is_ok_and(|rows| !rows.is_empty()));
            if on_primary != on_standby {
                differences.push(format!(
                    "{name} {path}\n    primary: {on_primary:?}\n    standby: {on_standby:?}"
                ));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "reads that answer differently on the standby:\n{}",
        differences.join("\n")
    );
    assert!(answered > 30, "only {answered} reads returned rows");

    // Writes there fail with PostgreSQL's read-only error (25006), the API's too.
    let (_, athlete) = callers().swap_remove(1);
    let slot: String = primary
        .query_one(
            "SELECT id::text FROM gym_booking.slots WHERE start_at > now() LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    for sql in [
        format!("SELECT gym_booking.book_slot('{slot}')"),
        format!(
            "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ('{slot}', '{ATHLETE}')"
        ),
        "SELECT gym_booking.delete_my_account()".to_string(),
    ] {
        let code = postgrest_request(&mut standby, &athlete, "POST", "/write", |tx| {
            tx.execute(sql.as_str(), &[])
        })
        .map_err(|err| gym_booking_integration::sqlstate(&err));
        assert_eq!(code, Err("25006".to_string()), "{sql}");
    }
}

//! A request costs the same after years of history, in a studio of any shape (issue 10): the
//! hot requests never read slots, bookings, the log or the history by a sequential scan, in a
//! studio with one trainer owning every slot and in one with three, each with a long history.
//! Plans, not timings: the transaction's own scan counters (`pg_stat_get_xact_numscans`) count
//! every sequential scan the request's statements made, nested ones included (the API's
//! PL/pgSQL, the rules' SPI, row-level security's InitPlans); each request runs seven times, so
//! PL/pgSQL's generic plans are counted too.
//!
//! The second test applies the policies of 0.1.2 (which gathered every slot of the caller before
//! looking at a booking) and checks that this test would have failed on them.

use gym_booking_integration::{postgrest_request, Caller, TestDb};
use postgres::Client;
use serde_json::json;

/// Slots of history (half ended, half to come), bookings, athletes.
const SLOTS: i64 = 20_000;
const BOOKINGS: i64 = 60_000;
const ATHLETES: i64 = 600;

const TABLES: [&str; 4] = [
    "slots",
    "bookings",
    "activity_logs",
    "booking_status_history",
];

fn uuid(kind: u32, n: i64) -> String {
    format!("00000000-0000-4000-{kind:04x}-{n:012}")
}

/// A studio of `trainers` trainers, loaded as a restore would load it (the rules off), then
/// ANALYZEd as autovacuum would. Slot g belongs to trainer 1 + g % trainers and starts g - SLOTS/2
/// hours from now; booking n is athlete 1 + n % ATHLETES's, in slot (n * 7) % SLOTS (distinct
/// per athlete), every sixth cancelled.
fn load(client: &mut Client, trainers: i64) {
    client
        .batch_execute(&format!(
            "SET session_replication_role = replica;
             INSERT INTO gym_booking.users (id, email, password_hash, first_name, role, contact_email)
             SELECT ('00000000-0000-4000-8000-' || lpad(t::text, 12, '0'))::uuid,
                    'trainer' || t || '@shapes.example', 'x', 'Trainer ' || t, 'trainer',
                    'trainer' || t || '@shapes.example'
               FROM generate_series(1, {trainers}) AS t;
             INSERT INTO gym_booking.users (id, email, password_hash, first_name)
             SELECT ('00000000-0000-4000-8001-' || lpad(a::text, 12, '0'))::uuid,
                    'athlete' || a || '@shapes.example', 'x', 'Athlete ' || a
               FROM generate_series(1, {ATHLETES}) AS a;
             INSERT INTO gym_booking.trainer_directory (trainer_id, display_name, contact_email)
             SELECT id, first_name, contact_email FROM gym_booking.users WHERE role = 'trainer';
             INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes, capacity)
             SELECT ('00000000-0000-4000-9000-' || lpad(g::text, 12, '0'))::uuid,
                    ('00000000-0000-4000-8000-' || lpad((1 + g % {trainers})::text, 12, '0'))::uuid,
                    date_trunc('hour', now()) + (g - {half}) * interval '1 hour',
                    date_trunc('hour', now()) + (g - {half}) * interval '1 hour' + interval '30 minutes',
                    30, 20
               FROM generate_series(0, {SLOTS} - 1) AS g;
             INSERT INTO gym_booking.bookings (id, slot_id, user_id, status)
             SELECT ('00000000-0000-4000-a000-' || lpad(n::text, 12, '0'))::uuid,
                    ('00000000-0000-4000-9000-' || lpad(((n * 7) % {SLOTS})::text, 12, '0'))::uuid,
                    ('00000000-0000-4000-8001-' || lpad((1 + n % {ATHLETES})::text, 12, '0'))::uuid,
                    (CASE WHEN n % 6 = 5 THEN 'cancelled' ELSE 'reserved' END)::gym_booking.booking_status
               FROM generate_series(0, {BOOKINGS} - 1) AS n;
             INSERT INTO gym_booking.booking_status_history
                    (booking_id, previous_status, current_status, changed_by)
             SELECT id, 'reserved', 'cancelled', user_id FROM gym_booking.bookings
              WHERE status = 'cancelled';
             INSERT INTO gym_booking.activity_logs (entity_type, entity_id, action, changed_by,
                                                    changed_by_role, changed_fields)
             SELECT 'slot'::gym_booking.log_entity_type, id, 'create'::gym_booking.log_action_type,
                    trainer_id, 'trainer'::gym_booking.user_role, jsonb_build_object('id', id)
               FROM gym_booking.slots
             UNION ALL
             SELECT 'booking', id, 'create', user_id, 'athlete', jsonb_build_object('id', id)
               FROM gym_booking.bookings;
             SET session_replication_role = origin;
             ANALYZE;",
            half = SLOTS / 2,
        ))
        .expect("load the studio");
}

fn caller(kind: u32, n: i64) -> Caller {
    Caller::new(
        "authenticated",
        Some(json!({"sub": uuid(kind, n), "role": "authenticated"})),
    )
}

/// A hot request: who makes it, and its SQL for the i-th of seven runs.
struct Request {
    name: &'static str,
    caller: Caller,
    sql: Box<dyn Fn(i64) -> String>,
}

/// The hot requests of an athlete and a trainer.
fn requests() -> Vec<Request> {
    let athlete = || caller(0x8001, 1);
    let future_slot = |i: i64| uuid(0x9000, SLOTS / 2 + 1 + 2 * i);
    vec![
        Request {
            name: "book_slot",
            caller: athlete(),
            sql: Box::new(move |i| {
                format!("SELECT * FROM gym_booking.book_slot('{}')", future_slot(i))
            }),
        },
        Request {
            name: "cancel_booking",
            caller: athlete(),
            sql: Box::new(|i| {
                // Athlete 1's reserved bookings in slots that start in two hours or later.
                let n = (0..)
                    .map(|k| k * ATHLETES)
                    .filter(|n| (n * 7) % SLOTS >= SLOTS / 2 + 2)
                    .nth(i as usize)
                    .expect("a booking to come");
                format!(
                    "SELECT * FROM gym_booking.cancel_booking('{}')",
                    uuid(0xa000, n)
                )
            }),
        },
        Request {
            name: "my_bookings()",
            caller: athlete(),
            sql: Box::new(|_| "SELECT * FROM gym_booking.my_bookings()".into()),
        },
        Request {
            name: "GET /bookings",
            caller: athlete(),
            sql: Box::new(|_| "SELECT * FROM gym_booking.bookings".into()),
        },
        Request {
            name: "GET /bookings with PostgREST's LIMIT",
            caller: athlete(),
            sql: Box::new(|_| "SELECT * FROM gym_booking.bookings LIMIT 1000".into()),
        },
        Request {
            name: "GET /activity_logs",
            caller: athlete(),
            sql: Box::new(|_| "SELECT * FROM gym_booking.activity_logs".into()),
        },
        Request {
            name: "GET /booking_status_history",
            caller: athlete(),
            sql: Box::new(|_| "SELECT * FROM gym_booking.booking_status_history".into()),
        },
        Request {
            name: "a trainer's bookings of the last week",
            caller: caller(0x8000, 1),
            sql: Box::new(|_| {
                format!(
                    // PostgREST's GET /slots?select=id,start_at,bookings(id,user_id,status)&...
                    "SELECT s.id, s.start_at, coalesce(b_1.bookings, '[]') AS bookings
                       FROM gym_booking.slots AS s
                       LEFT JOIN LATERAL (
                           SELECT json_agg(b_2) AS bookings
                             FROM (SELECT b.id, b.user_id, b.status FROM gym_booking.bookings AS b
                                    WHERE b.slot_id = s.id) AS b_2) AS b_1 ON true
                      WHERE s.trainer_id = '{}' AND s.start_at >= now() - interval '7 days'
                        AND s.start_at < now()",
                    uuid(0x8000, 1)
                )
            }),
        },
    ]
}

/// For each hot request, the tables it read by a sequential scan (in any of seven runs).
fn sequential_scans(client: &mut Client) -> Vec<(&'static str, Vec<&'static str>)> {
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
    requests()
        .into_iter()
        .map(|request| {
            let mut scanned = Vec::new();
            for i in 0..7 {
                let sql = (request.sql)(i);
                let (before, after) =
                    postgrest_request(client, &request.caller, "POST", "/", |tx| {
                        let before = counters(tx)?;
                        tx.query(&sql, &[])?;
                        Ok((before, counters(tx)?))
                    })
                    .unwrap_or_else(|e| panic!("{}: {sql}: {e:?}", request.name));
                for (n, table) in TABLES.iter().enumerate() {
                    if after[n] > before[n] && !scanned.contains(table) {
                        scanned.push(*table);
                    }
                }
            }
            (request.name, scanned)
        })
        .collect()
}

fn studio(name: &str, trainers: i64) -> (TestDb, Client) {
    let db = TestDb::with_extension(&format!("history_plans_{name}_{trainers}t"));
    let mut client = db.connect();
    load(&mut client, trainers);
    (db, client)
}

#[test]
fn hot_requests_read_no_table_in_full_whatever_the_studio() {
    for trainers in [1, 3] {
        let (_db, mut client) = studio("now", trainers);
        let scans: Vec<_> = sequential_scans(&mut client)
            .into_iter()
            .filter(|(_, tables)| !tables.is_empty())
            .collect();
        assert!(
            scans.is_empty(),
            "with {trainers} trainer(s), {SLOTS} slots and {BOOKINGS} bookings, these requests \
             read whole tables (request, tables): {scans:?}"
        );
    }
}

/// 0.1.2's policies, which gathered the caller's slots (all of them) before any booking.
const OLD_POLICIES: &str = "
ALTER POLICY trainer_related_booking ON gym_booking.bookings
    USING (slot_id = ANY (ARRAY(SELECT s.id FROM gym_booking.slots AS s
                                 WHERE s.trainer_id = (SELECT gym_booking.active_user_id()))));
ALTER POLICY related_slot_booking ON gym_booking.activity_logs
    USING ((entity_type = 'slot'
            AND entity_id = ANY (ARRAY(SELECT s.id FROM gym_booking.slots AS s
                                        WHERE s.trainer_id = (SELECT gym_booking.active_user_id()))))
        OR (entity_type = 'booking'
            AND entity_id = ANY (ARRAY(SELECT b.id FROM gym_booking.bookings AS b
                                        WHERE b.slot_id = ANY (ARRAY(SELECT s.id FROM gym_booking.slots AS s
                                                                      WHERE s.trainer_id = (SELECT gym_booking.active_user_id())))))));
ALTER POLICY visible_booking_history ON gym_booking.booking_status_history
    USING (booking_id = ANY (ARRAY(SELECT b.id FROM gym_booking.bookings AS b WHERE NOT gym_booking.is_app_admin()))
        OR (id >= (SELECT CASE WHEN gym_booking.is_app_admin() THEN -9223372036854775808 END)
            AND id <= (SELECT 9223372036854775807)
            AND changed_at >= (SELECT '-infinity'::timestamptz)
            AND changed_at <= (SELECT 'infinity'::timestamptz)));";

#[test]
fn the_old_policies_fail_this_test() {
    let (_db, mut client) = studio("old", 1);
    client
        .batch_execute(OLD_POLICIES)
        .expect("0.1.2's policies");
    let scans = sequential_scans(&mut client);
    let scanned = |name: &str| {
        scans
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, tables)| tables.clone())
            .unwrap_or_default()
    };
    // The athlete's booking and read both went through the trainer's arm: all of slots.
    for name in ["book_slot", "GET /bookings"] {
        assert!(
            scanned(name).contains(&"slots"),
            "with 0.1.2's policies, {name} should read all slots: {scans:?}"
        );
    }
}

//! Reads stay index reads as the tables grow: PostgREST's `GET /bookings` (row-level security
//! alone picks the rows) and the API's reads, planned as PostgREST's prepared statements are,
//! on a few thousand slots and tens of thousands of bookings. A plan that scans every booking
//! for an athlete's hundred rows is a design regression even when the answer is right; how fast
//! the index plans are is the benchmark's business (bench/), not this test's.
//!
//! The answers are checked too: each caller sees exactly their rows.

use gym_booking_integration::{postgrest_request, Caller, TestDb};
use postgres::Client;
use serde_json::{json, Value};

const TRAINERS: i64 = 10;
const SLOTS_PER_TRAINER: i64 = 400;
const ATHLETES: i64 = 500;
/// Bookings per athlete, in distinct slots.
const PER_ATHLETE: i64 = 40;

fn uuid(kind: u32, n: i64) -> String {
    format!("00000000-0000-4000-{kind:04x}-{n:012}")
}

/// Users, slots (half of them in the future) and bookings, loaded set-based with the rules off,
/// as a restore would load them; then ANALYZE, as autovacuum would.
fn load(client: &mut Client) {
    let admin = uuid(0x8000, 0);
    client
        .batch_execute(&format!(
            "SET session_replication_role = replica;
             INSERT INTO gym_booking.users (id, email, password_hash, first_name, role)
             VALUES ('{admin}', 'admin@plans.example', 'x', 'Ada', 'admin');
             INSERT INTO gym_booking.users (id, email, password_hash, first_name, role, contact_email)
             SELECT ('00000000-0000-4000-8000-' || lpad(t::text, 12, '0'))::uuid,
                    'trainer' || t || '@plans.example', 'x', 'Trainer ' || t, 'trainer',
                    'trainer' || t || '@plans.example'
               FROM generate_series(1, {TRAINERS}) AS t;
             INSERT INTO gym_booking.users (id, email, password_hash, first_name)
             SELECT ('00000000-0000-4000-8001-' || lpad(a::text, 12, '0'))::uuid,
                    'athlete' || a || '@plans.example', 'x', 'Athlete ' || a
               FROM generate_series(1, {ATHLETES}) AS a;
             INSERT INTO gym_booking.trainer_directory (trainer_id, display_name, contact_email)
             SELECT id, first_name, contact_email FROM gym_booking.users WHERE role = 'trainer';
             INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes, capacity)
             SELECT ('00000000-0000-4000-9000-' || lpad(g::text, 12, '0'))::uuid,
                    ('00000000-0000-4000-8000-' || lpad((1 + g % {TRAINERS})::text, 12, '0'))::uuid,
                    date_trunc('hour', now()) + (g - {half}) * interval '2 hours',
                    date_trunc('hour', now()) + (g - {half}) * interval '2 hours' + interval '1 hour',
                    60, 20
               FROM generate_series(0, {slots} - 1) AS g;
             INSERT INTO gym_booking.bookings (slot_id, user_id, status)
             SELECT ('00000000-0000-4000-9000-' || lpad(((a * 97 + i * 101) % {slots})::text, 12, '0'))::uuid,
                    ('00000000-0000-4000-8001-' || lpad(a::text, 12, '0'))::uuid,
                    (CASE WHEN i % 5 = 0 THEN 'cancelled' ELSE 'reserved' END)::gym_booking.booking_status
               FROM generate_series(1, {ATHLETES}) AS a, generate_series(0, {PER_ATHLETE} - 1) AS i;
             -- What the rules would have written: a history row per cancelled booking, a log
             -- entry per slot (by its trainer) and per booking (by its athlete).
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
            half = TRAINERS * SLOTS_PER_TRAINER / 2,
            slots = TRAINERS * SLOTS_PER_TRAINER,
        ))
        .expect("load the data");
}

fn athlete(n: i64) -> Caller {
    Caller::new(
        "authenticated",
        Some(json!({"sub": uuid(0x8001, n), "role": "authenticated"})),
    )
}

fn trainer(n: i64) -> Caller {
    Caller::new(
        "authenticated",
        Some(json!({"sub": uuid(0x8000, n), "role": "authenticated"})),
    )
}

/// Every node of a JSON plan, depth first.
fn nodes(plan: &Value) -> Vec<&Value> {
    let mut out = vec![plan];
    if let Some(children) = plan.get("Plans").and_then(Value::as_array) {
        for child in children {
            out.extend(nodes(child));
        }
    }
    out
}

/// The tables a plan reads in full (sequential scans), by name.
fn scanned_in_full(plan: &Value) -> Vec<String> {
    nodes(plan)
        .into_iter()
        .filter(|n| n["Node Type"] == "Seq Scan")
        .map(|n| n["Relation Name"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// The plan of `sql` as `caller` runs it, and the number of rows it returns. (Row-level
/// security's InitPlans are unknown when planning, so PostgREST's prepared statements get this
/// same plan, custom or generic.)
fn plan_and_rows(client: &mut Client, caller: &Caller, sql: &str) -> (Value, i64) {
    client
        .batch_execute(
            "CREATE OR REPLACE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
             DECLARE plan text;
             BEGIN EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan; RETURN plan; END $$",
        )
        .expect("create pg_temp.plan_of");
    postgrest_request(client, caller, "GET", "/", |tx| {
        let rows = tx.query(sql, &[])?.len() as i64;
        let plan: String = tx.query_one("SELECT pg_temp.plan_of($1)", &[&sql])?.get(0);
        let plan: Value = serde_json::from_str(&plan).expect("EXPLAIN's JSON");
        Ok((plan[0]["Plan"].clone(), rows))
    })
    .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
}

#[test]
fn reads_under_row_level_security_use_indexes() {
    let db = TestDb::with_extension("read_plans");
    let mut client = db.connect();
    load(&mut client);

    let cases = [
        // PostgREST's GET /bookings: no WHERE; the policies pick the rows.
        (
            "an athlete",
            athlete(7),
            "SELECT * FROM gym_booking.bookings",
            PER_ATHLETE,
        ),
        (
            "a trainer",
            trainer(3),
            "SELECT * FROM gym_booking.bookings",
            ATHLETES * PER_ATHLETE / TRAINERS,
        ),
        // With PostgREST's db-max-rows (Supabase: 1000) it adds a LIMIT.
        (
            "an athlete, with a LIMIT",
            athlete(8),
            "SELECT * FROM gym_booking.bookings LIMIT 1000",
            PER_ATHLETE,
        ),
        (
            "an athlete, my_bookings()",
            athlete(9),
            "SELECT * FROM gym_booking.my_bookings()",
            PER_ATHLETE,
        ),
        // GET /booking_status_history, GET /activity_logs: their own.
        (
            "an athlete, their bookings' history",
            athlete(10),
            "SELECT * FROM gym_booking.booking_status_history",
            PER_ATHLETE / 5,
        ),
        (
            "an athlete, their log entries",
            athlete(11),
            "SELECT * FROM gym_booking.activity_logs",
            PER_ATHLETE,
        ),
    ];
    for (who, caller, sql, expected_rows) in cases {
        let (plan, rows) = plan_and_rows(&mut client, &caller, sql);
        assert_eq!(rows, expected_rows, "{who}: {sql}");
        let full = scanned_in_full(&plan);
        for table in ["bookings", "booking_status_history", "activity_logs"] {
            assert!(
                !full.iter().any(|t| t == table),
                "{who}: {sql} reads all of {table}:\n{plan:#}"
            );
        }
    }
}

/// `available_slots`' counting runs inside PL/pgSQL, out of EXPLAIN's sight: the
/// transaction's own scan counters (`pg_stat_xact_*`) show what its statements read, over
/// seven calls (PL/pgSQL's first five plans are custom, the rest the generic one it keeps).
#[test]
fn available_slots_reads_by_index() {
    let db = TestDb::with_extension("read_plans_available");
    let mut client = db.connect();
    load(&mut client);
    let cases = [
        (
            "one trainer, a week",
            format!("now(), now() + interval '7 days', '{}'", uuid(0x8000, 4)),
        ),
        (
            "all trainers, a day",
            "now(), now() + interval '1 day', NULL".to_string(),
        ),
    ];
    for (case, args) in cases {
        let (slots, seq_scans, index_scans): (i64, i64, i64) = postgrest_request(
            &mut client,
            &athlete(1),
            "GET",
            "/rpc/available_slots",
            |tx| {
                // The backend's scan counters not yet reported (this transaction's and maybe
                // its predecessors'): for a table its sequential scans, for an index its scans.
                let counters = |tx: &mut postgres::Transaction<'_>| -> Result<(i64, i64), _> {
                    let row = tx.query_one(
                        "SELECT pg_stat_get_xact_numscans('gym_booking.slots'::regclass),
                                (SELECT sum(pg_stat_get_xact_numscans(indexrelid))::bigint
                                   FROM pg_index WHERE indrelid = 'gym_booking.slots'::regclass)",
                        &[],
                    )?;
                    Ok::<_, postgres::Error>((row.get(0), row.get(1)))
                };
                let before = counters(tx)?;
                let sql = format!("SELECT count(*) FROM gym_booking.available_slots({args})");
                let mut slots = 0;
                for _ in 0..7 {
                    slots = tx.query_one(&sql, &[])?.get(0);
                }
                let after = counters(tx)?;
                Ok((slots, after.0 - before.0, after.1 - before.1))
            },
        )
        .unwrap_or_else(|e| panic!("{case}: {e:?}"));
        assert!(slots > 0, "{case}: no bookable slots in the data");
        assert_eq!(seq_scans, 0, "{case}: available_slots read every slot");
        // Which index is the planner's to choose by the data (the trainer's, or bookable
        // slots by start); that the slots are read by one, every call, is the design.
        assert!(
            index_scans >= 7,
            "{case}: slots read by index {index_scans} times in 7 calls"
        );
    }
}

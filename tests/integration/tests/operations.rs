//! Operations (issue 19), on a preloaded cluster of the test's own (the shared test cluster
//! cannot be stopped or given an environment): the completion worker serves a database while
//! another named one is missing and a third has no extension, logging each once; lets go of
//! its database so that `CREATE DATABASE … TEMPLATE` and a plain `DROP DATABASE` work; comes
//! back after a termination; shows itself in `pg_stat_activity`; a fast stop with a large
//! backlog takes seconds. And on that server, started with `RUST_BACKTRACE=1`, an error raised
//! through a rule carries no Rust backtrace and no empty DETAIL.

use std::time::{Duration, Instant};

use gym_booking_integration::cluster::{port_after_test_cluster, Cluster};
use postgres::Client;

const GOOD: &str = "it_ops";
const MISSING: &str = "it_ops_missing";
const NO_EXTENSION: &str = "it_ops_noext";
/// Due bookings in the backlog, and how many a batch completes.
const BACKLOG: i64 = 3000;
const BATCH: i64 = 2;

fn wait_for<T>(what: &str, within: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn one_i64(client: &mut Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

/// The pid of the process of the given backend_type, if one runs.
fn worker_pid(client: &mut Client, backend_type: &str) -> Option<i32> {
    client
        .query_opt(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = $1",
            &[&backend_type],
        )
        .unwrap()
        .map(|r| r.get(0))
}

fn make_served_database(admin: &mut Client, cluster: &Cluster) -> Client {
    admin
        .batch_execute(&format!("CREATE DATABASE {GOOD}"))
        .unwrap();
    let mut client = cluster.connect(GOOD);
    client
        .batch_execute(
            "CREATE EXTENSION gym_booking CASCADE;
             INSERT INTO gym_booking.users (id, email, password_hash, first_name, role, contact_email)
             VALUES ('00000000-0000-4000-a000-0000000000c1', 'coach@ops.example', 'h', 'Coach',
                     'trainer', 'coach@ops.example');",
        )
        .unwrap();
    client
}

/// `athletes` new athletes, each with a reserved booking of a slot that ended an hour ago,
/// loaded as a restore loads them; returns the slot's id.
fn past_bookings(client: &mut Client, athletes: i64) -> String {
    let mut tx = client.transaction().unwrap();
    tx.batch_execute("SET LOCAL session_replication_role = replica")
        .unwrap();
    let slot = tx
        .query_one(
            "WITH slot AS (
                 INSERT INTO gym_booking.slots (trainer_id, start_at, end_at, duration_minutes, capacity)
                 VALUES ('00000000-0000-4000-a000-0000000000c1', now() - interval '2 hours',
                         now() - interval '1 hour', 60, 20)
                 RETURNING id),
             athletes AS (
                 INSERT INTO gym_booking.users (email, password_hash, first_name, role)
                 SELECT format('a%s-%s@ops.example', g, gen_random_uuid()), 'h', 'A', 'athlete'
                   FROM generate_series(1, $1::bigint) AS g
                 RETURNING id),
             booked AS (
                 INSERT INTO gym_booking.bookings (slot_id, user_id)
                 SELECT slot.id, athletes.id FROM slot, athletes)
             SELECT id::text FROM slot",
            &[&athletes],
        )
        .map(|r| r.get(0))
        .unwrap_or_else(|e| panic!("past bookings: {e}"));
    tx.commit().unwrap();
    slot
}

fn reserved_of(client: &mut Client, slot: &str) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM gym_booking.bookings WHERE slot_id = $1::text::uuid
                AND status = 'reserved'",
            &[&slot],
        )
        .unwrap()
        .get(0)
}

/// Lines of the server log that name `needle`.
fn log_lines(cluster: &Cluster, needle: &str) -> Vec<String> {
    std::fs::read_to_string(cluster.log())
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_worker_stops_when_told_never_crash_loops_and_errors_carry_no_rust() {
    let cluster = Cluster::start(
        "operations",
        port_after_test_cluster(10),
        &format!(
            "-c shared_preload_libraries=gym_booking \
             -c gym_booking.completion_databases={GOOD},{MISSING},{NO_EXTENSION} \
             -c gym_booking.completion_interval=1 -c gym_booking.completion_batch_size={BATCH} \
             -c gym_booking.completion_restart_time=1 -c max_connections=40"
        ),
        &[("RUST_BACKTRACE", "1")],
    );
    let started = Instant::now();
    let mut admin = cluster.connect("postgres");
    // Nothing here may hang the test run.
    admin
        .batch_execute("SET statement_timeout = '30s'")
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {NO_EXTENSION}"))
        .unwrap();
    let mut client = make_served_database(&mut admin, &cluster);

    // Served, with a missing database and one without the extension named beside it.
    let slot = past_bookings(&mut client, 1);
    wait_for(
        "the served database's past booking completed",
        Duration::from_secs(10),
        || (reserved_of(&mut client, &slot) == 0).then_some(()),
    );

    // The launcher in pg_stat_activity: who it is, its state, what it does.
    let (app, state, query): (String, String, String) = wait_for(
        "the launcher idle in pg_stat_activity",
        Duration::from_secs(5),
        || {
            admin
                .query_opt(
                    "SELECT application_name, state, query FROM pg_stat_activity
                      WHERE backend_type = 'gym_booking completion launcher' AND state = 'idle'",
                    &[],
                )
                .unwrap()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
        },
    );
    assert_eq!(app, "gym_booking completion launcher");
    assert_eq!(state, "idle");
    assert!(
        query.contains("between rounds"),
        "launcher's query: {query}"
    );

    // Errors through a rule, on a server with RUST_BACKTRACE=1: PostgreSQL's message only.
    errors_carry_no_rust(&cluster, &mut client);

    // The served database is free between runs: copied as a template, dropped without FORCE.
    drop(client);
    admin
        .batch_execute(&format!("CREATE DATABASE it_ops_copy TEMPLATE {GOOD}"))
        .expect("CREATE DATABASE ... TEMPLATE of a served database");
    admin.batch_execute("DROP DATABASE it_ops_copy").unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE {GOOD}"))
        .expect("DROP DATABASE of a served database");
    let mut client = make_served_database(&mut admin, &cluster);

    // A terminated launcher comes back (restart time 1 s) and serves again.
    let launcher = worker_pid(&mut admin, "gym_booking completion launcher").expect("launcher");
    let terminated_at = Instant::now();
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&launcher])
        .unwrap();
    let back = wait_for(
        "the launcher back after its termination",
        Duration::from_secs(10),
        || worker_pid(&mut admin, "gym_booking completion launcher").filter(|pid| *pid != launcher),
    );
    eprintln!(
        "launcher {launcher} terminated; {back} back after {} ms",
        terminated_at.elapsed().as_millis()
    );

    // A large backlog, small batches: the run worker shows its progress, honours a
    // termination at once (the next round goes on), and a fast stop takes seconds.
    let backlog = past_bookings(&mut client, BACKLOG);
    let run = wait_for(
        "the run worker at work on the backlog",
        Duration::from_secs(10),
        || {
            admin
                .query_opt(
                    "SELECT pid, application_name, query FROM pg_stat_activity
                  WHERE backend_type = 'gym_booking completion' AND datname = $1
                    AND state = 'active' AND query LIKE 'completing past bookings: batch%'",
                    &[&GOOD],
                )
                .unwrap()
                .map(|r| {
                    (
                        r.get::<_, i32>(0),
                        r.get::<_, String>(1),
                        r.get::<_, String>(2),
                    )
                })
        },
    );
    assert_eq!(
        run.1, "gym_booking completion",
        "run worker's application_name"
    );
    eprintln!("run worker {}: {}", run.0, run.2);
    let terminated_at = Instant::now();
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&run.0])
        .unwrap();
    wait_for(
        "the terminated run worker gone",
        Duration::from_secs(3),
        || {
            let gone = one_i64(
                &mut admin,
                &format!(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = {}",
                    run.0
                ),
            ) == 0;
            gone.then_some(())
        },
    );
    eprintln!(
        "run worker {} gone {} ms after its termination",
        run.0,
        terminated_at.elapsed().as_millis()
    );
    let left = reserved_of(&mut client, &backlog);
    assert!(left > 0, "the backlog was done before the termination");
    wait_for(
        "completion going on after the termination",
        Duration::from_secs(10),
        || (reserved_of(&mut client, &backlog) < left).then_some(()),
    );

    // Each missing or extension-less database: one line per launcher start (two starts here;
    // the database without the extension was also missing at the first start, one more
    // line), never a FATAL from connecting to it.
    let elapsed = started.elapsed();
    let missing = log_lines(&cluster, MISSING);
    let no_extension = log_lines(&cluster, NO_EXTENSION);
    eprintln!(
        "in {} s: {} log line(s) name {MISSING}, {} name {NO_EXTENSION}",
        elapsed.as_secs(),
        missing.len(),
        no_extension.len()
    );
    assert!(
        missing.len() <= 2 && no_extension.len() <= 3,
        "log lines about the missing database:\n{}\nabout the one without the extension:\n{}",
        missing.join("\n"),
        no_extension.join("\n")
    );
    assert!(
        log_lines(&cluster, "FATAL:  database \"it_ops_missing\"").is_empty(),
        "the worker connected to the missing database"
    );

    // A fast stop with most of the backlog still due.
    let left = reserved_of(&mut client, &backlog);
    assert!(
        left > BACKLOG / 10,
        "the backlog is nearly done ({left} left)"
    );
    drop(client);
    drop(admin);
    let took = cluster.stop_timed("fast");
    eprintln!(
        "fast stop with {left} due bookings: {} ms",
        took.as_millis()
    );
    assert!(
        took < Duration::from_secs(5),
        "a fast stop with a backlog took {took:?}"
    );
}

/// A lock timeout (55P03) and a statement timeout (57014) inside a rule's query, and a
/// refusal with a DETAIL of its own: PostgreSQL's message, no backtrace, no empty DETAIL.
fn errors_carry_no_rust(cluster: &Cluster, client: &mut Client) {
    client
        .batch_execute(
            "INSERT INTO gym_booking.users (id, email, password_hash, first_name, role)
             VALUES ('00000000-0000-4000-a000-0000000000c2', 'ath@ops.example', 'h', 'Ath', 'athlete'),
                    ('00000000-0000-4000-a000-0000000000c3', 'ath2@ops.example', 'h', 'Ath', 'athlete');
             INSERT INTO gym_booking.slots (id, trainer_id, start_at, duration_minutes, capacity)
             VALUES ('00000000-0000-4000-b000-0000000000c1', '00000000-0000-4000-a000-0000000000c1',
                     now() + interval '1 day', 60, 1);",
        )
        .unwrap();
    let book = |who: &str| {
        format!(
            "INSERT INTO gym_booking.bookings (slot_id, user_id)
             VALUES ('00000000-0000-4000-b000-0000000000c1', '00000000-0000-4000-a000-0000000000{who}')"
        )
    };
    let mut holder = cluster.connect(GOOD);
    let mut tx = holder.transaction().unwrap();
    tx.batch_execute(
        "SELECT FROM gym_booking.slots WHERE id = '00000000-0000-4000-b000-0000000000c1' FOR UPDATE",
    )
    .unwrap();
    for (setting, code) in [("lock_timeout", "55P03"), ("statement_timeout", "57014")] {
        client
            .batch_execute(&format!("SET {setting} = '200ms'"))
            .unwrap();
        let err = client.batch_execute(&book("c2")).unwrap_err();
        client.batch_execute(&format!("RESET {setting}")).unwrap();
        let db = err.as_db_error().unwrap_or_else(|| panic!("{err}"));
        assert_eq!(db.code().code(), code, "{db:?}");
        assert_eq!(db.detail(), None, "{code}: DETAIL {:?}", db.detail());
        assert_eq!(db.hint(), None, "{code}: HINT {:?}", db.hint());
        assert!(
            !db.message().contains("::") && !db.message().contains("pgrx"),
            "{code}: {}",
            db.message()
        );
    }
    tx.rollback().unwrap();
    client.batch_execute(&book("c2")).unwrap();
    let err = client.batch_execute(&book("c3")).unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!(db.code().code(), "23P01");
    assert_eq!(db.detail(), Some("Its one place is reserved."), "{db:?}");
}

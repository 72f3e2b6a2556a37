//! Helpers for integration tests over real connections to a throwaway cluster.
//!
//! `scripts/test.sh` starts the cluster, installs the extension and exports
//! `GYM_BOOKING_TEST_HOST` (socket folder) and `GYM_BOOKING_TEST_PORT`. Each test makes a
//! database of its own, so tests run in parallel without seeing each other.

use postgres::{Client, NoTls, Transaction};
use serde_json::Value;

pub mod access;
pub mod cluster;

/// Where the test cluster listens. Missing settings are a setup error, never a skip.
fn cluster() -> (String, String) {
    let get = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the integration tests through `bash scripts/test.sh`")
        })
    };
    (get("GYM_BOOKING_TEST_HOST"), get("GYM_BOOKING_TEST_PORT"))
}

pub fn connect_to(dbname: &str) -> Client {
    let (host, port) = cluster();
    let conn = format!("host={host} port={port} user=postgres dbname={dbname}");
    Client::connect(&conn, NoTls).unwrap_or_else(|e| panic!("connect to {dbname}: {e}"))
}

/// A connection to the hot standby that `scripts/test.sh` streams from the test cluster
/// (`GYM_BOOKING_STANDBY_HOST`, `GYM_BOOKING_STANDBY_PORT`), to database `dbname` once it exists
/// there.
pub fn connect_to_standby(dbname: &str) -> Client {
    let get = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the integration tests through `bash scripts/test.sh`")
        })
    };
    let (host, port) = (
        get("GYM_BOOKING_STANDBY_HOST"),
        get("GYM_BOOKING_STANDBY_PORT"),
    );
    let conn = format!("host={host} port={port} user=postgres dbname={dbname}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match Client::connect(&conn, NoTls) {
            Ok(client) => return client,
            // The standby has not replayed the CREATE DATABASE yet.
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(100))
            }
            Err(e) => panic!("connect to {dbname} on the standby: {e}"),
        }
    }
}

/// Waits until the standby has replayed everything the primary has written so far.
pub fn wait_for_replay(primary: &mut Client, standby: &mut Client) {
    let lsn: String = primary
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .unwrap()
        .get(0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !standby
        .query_one(
            "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn",
            &[&lsn],
        )
        .unwrap()
        .get::<_, bool>(0)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the standby did not replay up to {lsn} within 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A small deterministic PRNG (xorshift64*), seeded per thread or session, so that a failing
/// run can be replayed with the same choices.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        // Never zero; spread small seeds apart.
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `0..n` for choosing actions.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: i32, high: i32) -> i32 {
        low + self.below((high - low + 1) as u64) as i32
    }
}

/// Versions with a frozen script, other than the version being built.
pub fn released_versions(current: &str) -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sql/releases");
    let mut versions: Vec<String> = std::fs::read_dir(dir)
        .expect("sql/releases")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            let version = name.strip_prefix("gym_booking--")?.strip_suffix(".sql")?;
            (!version.contains("--") && version != current).then(|| version.to_string())
        })
        .collect();
    versions.sort();
    versions
}

/// A database of the test's own, made afresh.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    /// A new empty database named after the test (no extension in it).
    pub fn empty(test_name: &str) -> TestDb {
        let name = format!("it_{test_name}");
        let mut admin = connect_to("postgres");
        // Two statements, two calls: neither may run inside a transaction block.
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .expect("drop old test database");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create test database");
        TestDb { name }
    }

    /// A new database with `CREATE EXTENSION gym_booking CASCADE` done.
    pub fn with_extension(test_name: &str) -> TestDb {
        let db = TestDb::empty(test_name);
        db.connect()
            .batch_execute("CREATE EXTENSION gym_booking CASCADE")
            .expect("CREATE EXTENSION gym_booking CASCADE");
        db
    }

    pub fn connect(&self) -> Client {
        connect_to(&self.name)
    }
}

fn pg_bin(tool: &str) -> std::path::PathBuf {
    let bin = std::env::var("GYM_BOOKING_PG_BIN").unwrap_or_else(|_| {
        panic!("GYM_BOOKING_PG_BIN is not set: run the integration tests through `bash scripts/test.sh`")
    });
    std::path::PathBuf::from(bin).join(tool)
}

/// Runs a PostgreSQL client program against the test cluster; panics with its output when it
/// fails or writes an ERROR.
pub fn run_tool(tool: &str, args: &[&str]) {
    let (host, port) = cluster();
    let out = std::process::Command::new(pg_bin(tool))
        .args(["-h", &host, "-p", &port, "-U", "postgres"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("ERROR"),
        "{tool} {args:?} failed ({}):\n{stderr}",
        out.status
    );
}

/// A plain `pg_dump` of `source`, restored with `psql` (stopping at the first error) into a
/// new empty database named after `target_test_name`.
pub fn restore_plain_dump(source: &TestDb, target_test_name: &str) -> TestDb {
    let target = TestDb::empty(target_test_name);
    let file = std::env::temp_dir().join(format!(
        "gym_booking_dump_{}_{}.sql",
        std::process::id(),
        source.name
    ));
    let file = file.to_str().unwrap();
    run_tool("pg_dump", &["-d", &source.name, "-f", file]);
    run_tool(
        "psql",
        &[
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &target.name,
            "-f",
            file,
        ],
    );
    std::fs::remove_file(file).ok();
    target
}

/// The SQLSTATE of a failed statement, or a panic when it was not a database error.
pub fn sqlstate(err: &postgres::Error) -> String {
    err.as_db_error()
        .map(|e| e.code().code().to_string())
        .unwrap_or_else(|| panic!("not a database error: {err}"))
}

/// Who makes an HTTP request through PostgREST: the database role its JWT names
/// (or the anon role) and the JWT's claims.
#[derive(Clone)]
pub struct Caller {
    pub role: String,
    pub claims: Option<Value>,
}

impl Caller {
    pub fn new(role: &str, claims: Option<Value>) -> Caller {
        Caller {
            role: role.to_string(),
            claims,
        }
    }
}

/// Runs `body` as one PostgREST request does (DESIGN.md, "Clients over HTTP"): one READ
/// COMMITTED transaction whose first statement sets the role and the JWT claims with
/// `set_config(..., true)`, so nothing outlives the request. Commits when `body` succeeds;
/// rolls back otherwise, as PostgREST does on an error. Never retries.
pub fn postgrest_request<T>(
    client: &mut Client,
    caller: &Caller,
    method: &str,
    path: &str,
    body: impl FnOnce(&mut Transaction<'_>) -> Result<T, postgres::Error>,
) -> Result<T, postgres::Error> {
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::ReadCommitted)
        .start()?;
    let claims = caller
        .claims
        .as_ref()
        .map(Value::to_string)
        .unwrap_or_default();
    tx.execute(
        "SELECT set_config('role', $1, true),
                set_config('request.jwt.claims', $2, true),
                set_config('request.method', $3, true),
                set_config('request.path', $4, true)",
        &[&caller.role, &claims, &method, &path],
    )?;
    match body(&mut tx) {
        Ok(value) => {
            tx.commit()?;
            Ok(value)
        }
        Err(err) => {
            tx.rollback()?;
            Err(err)
        }
    }
}

/// Loads the run command's demo data (`demo/demo_data.sql`).
/// The first column of every row of `sql`, as text (ids, names).
pub fn texts(client: &mut Client, sql: &str) -> Vec<String> {
    client
        .query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

pub fn load_demo_data(client: &mut Client) {
    let demo = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../demo/demo_data.sql"
    ))
    .expect("read demo/demo_data.sql");
    client.batch_execute(&demo).expect("demo data loads");
}

/// The extension's tables (the same list the access matrix walks).
const DATA_TABLES: &[&str] = &access::TABLES;

/// Every row of every table (count and a digest of the ordered rows), and every sequence of
/// the extension's schema: equal exactly when the data is.
pub fn contents(dbname: &str) -> Vec<(String, i64, String)> {
    contents_but(dbname, &[])
}

/// The copies of a slot's trainer the rules keep on the rows that hang off the slot (0.1.3):
/// an update that adds them adds no data of its own.
pub const TRAINER_COPIES: [(&str, &str); 3] = [
    ("bookings", "trainer_id"),
    ("activity_logs", "trainer_id"),
    ("booking_status_history", "trainer_id"),
];

/// As [`contents`], with the rows read without the columns named in `skip` (table, column).
/// A table the installed version does not have yet (an older release) reads as
/// `(table, -1, "absent")`.
pub fn contents_but(dbname: &str, skip: &[(&str, &str)]) -> Vec<(String, i64, String)> {
    let mut client = connect_to(dbname);
    let mut all: Vec<(String, i64, String)> = DATA_TABLES
        .iter()
        .map(|table| {
            let exists: bool = client
                .query_one(
                    "SELECT to_regclass('gym_booking.' || $1) IS NOT NULL",
                    &[table],
                )
                .unwrap()
                .get(0);
            if !exists {
                return (table.to_string(), -1, "absent".to_string());
            }
            let row_text = skip
                .iter()
                .filter(|(t, _)| t == table)
                .fold("to_jsonb(t)".to_string(), |text, (_, column)| {
                    format!("({text} - '{column}')")
                });
            let row_text = if row_text == "to_jsonb(t)" {
                "t::text".to_string()
            } else {
                format!("{row_text}::text")
            };
            let row = client
                .query_one(
                    &format!(
                        "SELECT count(*), coalesce(md5(string_agg({row_text}, E'\\n' ORDER BY {row_text})), '')
                           FROM gym_booking.{table} AS t"
                    ),
                    &[],
                )
                .unwrap();
            (table.to_string(), row.get(0), row.get(1))
        })
        .collect();
    // Every sequence (history ids, waitlist order, event ids): a restore that forgot one
    // would hand out its numbers again.
    let sequences: Vec<String> = client
        .query(
            "SELECT relname::text FROM pg_class
              WHERE relnamespace = 'gym_booking'::regnamespace AND relkind = 'S' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for seq in sequences {
        let row = client
            .query_one(
                &format!("SELECT last_value, is_called FROM gym_booking.{seq}"),
                &[],
            )
            .unwrap();
        let called = if row.get::<_, bool>(1) { "called" } else { "" };
        all.push((seq, row.get(0), called.to_string()));
    }
    all
}

/// The extension's catalog as sorted lines: every member object with its definition, and
/// the columns, constraints, indexes, triggers, policies, grants and comments of its tables.
/// Two installs with equal lines are the same schema.
pub fn catalog(dbname: &str) -> Vec<String> {
    let mut client = connect_to(dbname);
    client
        .query(CATALOG, &[])
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
}

const CATALOG: &str = "
WITH members AS (
    SELECT d.classid, d.objid FROM pg_depend d
     WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
       AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'gym_booking')),
tables AS (SELECT objid AS oid FROM members WHERE classid = 'pg_class'::regclass),
acl(object, items) AS (
    SELECT p.oid::regprocedure::text, (SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(p.proacl) a)
      FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
    UNION ALL
    SELECT c.oid::regclass::text, (SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(c.relacl) a)
      FROM pg_class c JOIN tables t ON t.oid = c.oid)
SELECT line FROM (
    SELECT 'member ' || pg_describe_object(classid, objid, 0) AS line FROM members
    UNION ALL
    SELECT 'function ' || pg_get_functiondef(m.objid) || coalesce(' comment ' || obj_description(m.objid, 'pg_proc'), '')
      FROM members m JOIN pg_proc p ON p.oid = m.objid
     WHERE m.classid = 'pg_proc'::regclass AND p.prokind <> 'a'
    UNION ALL
    SELECT 'grant ' || object || ' ' || coalesce(items, '-') FROM acl
    UNION ALL
    SELECT 'type ' || t.oid::regtype || ' '
           || coalesce(string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder),
                       'domain of ' || format_type(t.typbasetype, t.typtypmod))
           || coalesce(' comment ' || obj_description(t.oid, 'pg_type'), '')
      FROM pg_type t JOIN members m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
      LEFT JOIN pg_enum e ON e.enumtypid = t.oid
     GROUP BY t.oid
    UNION ALL
    SELECT 'relation ' || c.oid::regclass || ' ' || c.relkind::text || ' rls=' || c.relrowsecurity
           || coalesce(' comment ' || obj_description(c.oid, 'pg_class'), '')
      FROM pg_class c JOIN tables t ON t.oid = c.oid
    UNION ALL
    SELECT 'column ' || a.attrelid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || ' notnull=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
           || ' acl=' || coalesce((SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(a.attacl) x), '-')
           || coalesce(' comment ' || col_description(a.attrelid, a.attnum), '')
      FROM pg_attribute a JOIN tables t ON t.oid = a.attrelid
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'constraint ' || c.conrelid::regclass || '.' || c.conname || ' ' || pg_get_constraintdef(c.oid)
      FROM pg_constraint c JOIN tables t ON t.oid = c.conrelid
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN tables t ON t.oid = i.indrelid
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(g.oid) || ' enabled=' || g.tgenabled::text
      FROM pg_trigger g JOIN tables t ON t.oid = g.tgrelid WHERE NOT g.tgisinternal
    UNION ALL
    SELECT 'policy ' || p.tablename || '.' || p.policyname || ' ' || p.permissive || ' ' || p.roles::text
           || ' ' || p.cmd || ' using ' || coalesce(p.qual, '-') || ' check ' || coalesce(p.with_check, '-')
      FROM pg_policies p WHERE p.schemaname = 'gym_booking'
    UNION ALL
    SELECT 'dumped ' || unnest(extconfig)::regclass FROM pg_extension WHERE extname = 'gym_booking'
) AS lines
ORDER BY line";

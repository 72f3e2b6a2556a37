//! Helpers for integration tests over real connections to a throwaway cluster.
//!
//! `scripts/test.sh` starts the cluster, installs the extension and exports
//! `GYM_BOOKING_TEST_HOST` (socket folder) and `GYM_BOOKING_TEST_PORT`. Each test makes a
//! database of its own, so tests run in parallel without seeing each other.

use postgres::{Client, NoTls, Transaction};
use serde_json::Value;

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

/// The SQLSTATE of a failed statement, or a panic when it was not a database error.
pub fn sqlstate(err: &postgres::Error) -> String {
    err.as_db_error()
        .map(|e| e.code().code().to_string())
        .unwrap_or_else(|| panic!("not a database error: {err}"))
}

/// Who makes an HTTP request through PostgREST: the database role its JWT names
/// (or the anon role) and the JWT's claims.
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

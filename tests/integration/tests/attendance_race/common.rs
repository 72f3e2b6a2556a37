//! The studio of the attendance races and the requests its people make: every client call is
//! what PostgREST sends (role and JWT claims set by the transaction's first statement), at the
//! isolation level the round runs at; history (slots that have started) is written by the DBA
//! as a restore writes it, since the rules refuse a slot in the past to every client.

use std::thread;
use std::time::Duration;

use gym_booking_integration::{postgrest_request, Caller};
use postgres::{Client, IsolationLevel, Transaction};
use serde_json::json;

/// serialization_failure: retryable, and acceptable at REPEATABLE READ only.
pub const SERIALIZATION_FAILURE: &str = "40001";
/// How many times a REPEATABLE READ client sends a request that keeps failing with 40001
/// before the last 40001 is its answer.
const ATTEMPTS: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// What PostgREST uses: the requests are exactly `postgrest_request`s.
    ReadCommitted,
    /// The snapshot is taken by the preamble, before the round's barrier (the worst case for
    /// a rule that reads before it locks); a client retries 40001.
    RepeatableRead,
}

impl Level {
    pub const ALL: [Level; 2] = [Level::ReadCommitted, Level::RepeatableRead];

    pub fn name(self) -> &'static str {
        match self {
            Level::ReadCommitted => "READ COMMITTED",
            Level::RepeatableRead => "REPEATABLE READ",
        }
    }

    fn postgres(self) -> IsolationLevel {
        match self {
            Level::ReadCommitted => IsolationLevel::ReadCommitted,
            Level::RepeatableRead => IsolationLevel::RepeatableRead,
        }
    }
}

/// A failed request: SQLSTATE, message and DETAIL (or a note that it was no database error).
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
}

impl Failure {
    pub fn of(err: &postgres::Error) -> Failure {
        match err.as_db_error() {
            Some(db) => Failure {
                code: db.code().code().to_string(),
                message: db.message().to_string(),
                detail: db.detail().map(str::to_string),
            },
            None => Failure {
                code: "(not a database error)".to_string(),
                message: err.to_string(),
                detail: None,
            },
        }
    }

    pub fn show(&self) -> String {
        match &self.detail {
            Some(d) => format!("{} {} (DETAIL: {d})", self.code, self.message),
            None => format!("{} {}", self.code, self.message),
        }
    }
}

/// What a client was finally told, and how many serialization failures it retried first.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    pub result: Result<T, Failure>,
    pub retries: usize,
}

/// A signed-in user's JWT as PostgREST passes it on.
pub fn user(id: &str) -> Caller {
    Caller::new(
        "authenticated",
        Some(json!({"sub": id, "role": "authenticated"})),
    )
}

pub fn service() -> Caller {
    Caller::new("service_role", Some(json!({"role": "service_role"})))
}

/// Opens a transaction at `level` and runs the PostgREST preamble in it.
pub fn begin<'a>(
    client: &'a mut Client,
    level: Level,
    caller: &Caller,
) -> Result<Transaction<'a>, postgres::Error> {
    let mut tx = client
        .build_transaction()
        .isolation_level(level.postgres())
        .start()?;
    let claims = caller
        .claims
        .as_ref()
        .map(|c| c.to_string())
        .unwrap_or_default();
    tx.execute(
        "SELECT set_config('role', $1, true),
                set_config('request.jwt.claims', $2, true),
                set_config('request.method', 'POST', true),
                set_config('request.path', '/rpc', true)",
        &[&caller.role, &claims],
    )?;
    Ok(tx)
}

/// One request by `caller`. `gate` runs exactly once: at READ COMMITTED before the request
/// (which is then exactly `postgrest_request`); at REPEATABLE READ after the first attempt's
/// preamble, so that attempt's snapshot predates whatever the gate waits for. A REPEATABLE
/// READ client told 40001 sends the request again, up to `ATTEMPTS` times in all.
pub fn request<T>(
    client: &mut Client,
    level: Level,
    caller: &Caller,
    gate: &dyn Fn(),
    mut body: impl FnMut(&mut Transaction<'_>) -> Result<T, postgres::Error>,
) -> Answer<T> {
    if level == Level::ReadCommitted {
        gate();
        let result = postgrest_request(client, caller, "POST", "/rpc", |tx| body(tx))
            .map_err(|e| Failure::of(&e));
        return Answer { result, retries: 0 };
    }
    let mut retries = 0;
    let mut gate = Some(gate);
    loop {
        let result = attempt(client, level, caller, gate.take(), &mut body);
        match result {
            Err(f) if f.code == SERIALIZATION_FAILURE && retries + 1 < ATTEMPTS => {
                retries += 1;
                // Back off by a different amount per session: retrying in step meets again.
                let jitter = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos() % 3_000_000);
                thread::sleep(Duration::from_nanos(
                    retries as u64 * 1_000_000 + u64::from(jitter),
                ));
            }
            result => return Answer { result, retries },
        }
    }
}

/// One transaction at `level`; runs `gate` (when given) exactly once, whatever happens.
fn attempt<T>(
    client: &mut Client,
    level: Level,
    caller: &Caller,
    gate: Option<&dyn Fn()>,
    body: &mut impl FnMut(&mut Transaction<'_>) -> Result<T, postgres::Error>,
) -> Result<T, Failure> {
    let opened = begin(client, level, caller);
    if let Some(gate) = gate {
        gate();
    }
    let mut tx = opened.map_err(|e| Failure::of(&e))?;
    match body(&mut tx) {
        Ok(value) => tx.commit().map(|()| value).map_err(|e| Failure::of(&e)),
        Err(e) => {
            let failure = Failure::of(&e);
            let _ = tx.rollback();
            Err(failure)
        }
    }
}

/// Users made by the DBA: trainers (with the contact a trainer needs) and athletes; `tag`
/// keeps the e-mail addresses of several calls apart. Returns their ids in order.
pub fn users(client: &mut Client, tag: &str, role: &str, n: i32) -> Vec<String> {
    client
        .query(
            "INSERT INTO gym_booking.users (email, password_hash, first_name, last_name, role,
                                            contact_email)
             SELECT format('%s%s@attendance.example', $1::text, g), 'x', format('%s %s', $2::text, g),
                    format('Race%s', g), $2::text::gym_booking.user_role,
                    format('%s%s@attendance.example', $1::text, g)
               FROM generate_series(1, $3::int) AS g ORDER BY g
             RETURNING id::text",
            &[&tag, &role, &n],
        )
        .unwrap_or_else(|e| panic!("setup: {n} {role}s: {e:?}"))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A slot of history, as the DBA writes it: `trainer`'s, ending `ends_in_ms` milliseconds
/// after `base` (an epoch in microseconds, the server's clock), `minutes` long.
pub struct PastSlot {
    pub trainer: String,
    pub ends_in_ms: i64,
    pub minutes: i32,
    pub capacity: i32,
}

/// Writes `slots` with the rules standing aside (a superuser session with `row_security` and
/// `check_function_bodies` off, as `pg_dump`'s scripts run), and their bookings: for slot i,
/// `bookings[i]` as (athlete, status). Returns the slot ids and, per slot, the booking ids in
/// the order given. The copies the rules would keep (`trainer_id`) are written too.
pub fn write_history(
    client: &mut Client,
    base_us: i64,
    slots: &[PastSlot],
    bookings: &[Vec<(String, &str)>],
) -> (Vec<String>, Vec<Vec<String>>) {
    let mut tx = client.transaction().expect("begin the history");
    tx.batch_execute("SET LOCAL row_security = off; SET LOCAL check_function_bodies = false")
        .expect("restore mode");
    let mut slot_ids = Vec::new();
    let mut booking_ids = Vec::new();
    for (slot, people) in slots.iter().zip(bookings) {
        let id: String = tx
            .query_one(
                "INSERT INTO gym_booking.slots (trainer_id, start_at, end_at, duration_minutes,
                                                capacity, created_at, updated_at)
                 SELECT $1::text::uuid, e - make_interval(mins => $3::int), e, $3::int::smallint,
                        $4::int::smallint, e - interval '30 days', e - interval '30 days'
                   FROM (SELECT to_timestamp(($2::bigint + $5::bigint * 1000) / 1e6) AS e) AS t
                 RETURNING id::text",
                &[
                    &slot.trainer,
                    &base_us,
                    &slot.minutes,
                    &slot.capacity,
                    &slot.ends_in_ms,
                ],
            )
            .unwrap_or_else(|e| panic!("setup: a slot of history: {e:?}"))
            .get(0);
        let mut ids = Vec::new();
        for (athlete, status) in people {
            let b: String = tx
                .query_one(
                    "INSERT INTO gym_booking.bookings (slot_id, user_id, status, trainer_id,
                                                       created_at, updated_at, status_changed_at)
                     VALUES ($1::text::uuid, $2::text::uuid, $3::text::gym_booking.booking_status,
                             $4::text::uuid, now() - interval '20 days', now() - interval '20 days',
                             now() - interval '20 days')
                     RETURNING id::text",
                    &[&id, athlete, status, &slot.trainer],
                )
                .unwrap_or_else(|e| panic!("setup: a booking of history: {e:?}"))
                .get(0);
            ids.push(b);
        }
        slot_ids.push(id);
        booking_ids.push(ids);
    }
    tx.commit().expect("commit the history");
    (slot_ids, booking_ids)
}

/// The server's clock now, in microseconds since the epoch.
pub fn server_now_us(client: &mut Client) -> i64 {
    client
        .query_one(
            "SELECT (extract(epoch FROM clock_timestamp()) * 1e6)::bigint",
            &[],
        )
        .unwrap()
        .get(0)
}

/// Each client's backend pid, for watching who waits on a lock.
pub fn pids(clients: &mut [Client]) -> Vec<i32> {
    clients
        .iter_mut()
        .map(|c| c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0))
        .collect()
}

/// Fisher-Yates, with the round's PRNG.
pub fn shuffle<T>(items: &mut [T], rng: &mut gym_booking_integration::XorShift) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i as u64 + 1) as usize);
    }
}

//! The studio of the waitlist races and the requests its people make: every call goes through
//! the API as PostgREST sends it (role and JWT claims set by the transaction's first
//! statement), at the isolation level the round is run at.

use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use gym_booking_integration::{postgrest_request, Caller};
use postgres::{Client, IsolationLevel, Transaction};
use serde_json::json;

/// serialization_failure: retryable, and acceptable at REPEATABLE READ and SERIALIZABLE only.
pub const SERIALIZATION_FAILURE: &str = "40001";
/// How many times a client at REPEATABLE READ or SERIALIZABLE sends a request that keeps
/// failing with 40001 before it gives up (the last 40001 is then its answer).
const ATTEMPTS: usize = 8;

/// The isolation level a round's requests run at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// What PostgREST uses: the requests are exactly `postgrest_request`s.
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl Level {
    pub const ALL: [Level; 3] = [
        Level::ReadCommitted,
        Level::RepeatableRead,
        Level::Serializable,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Level::ReadCommitted => "READ COMMITTED",
            Level::RepeatableRead => "REPEATABLE READ",
            Level::Serializable => "SERIALIZABLE",
        }
    }

    fn postgres(self) -> IsolationLevel {
        match self {
            Level::ReadCommitted => IsolationLevel::ReadCommitted,
            Level::RepeatableRead => IsolationLevel::RepeatableRead,
            Level::Serializable => IsolationLevel::Serializable,
        }
    }

    /// The SQLSTATEs any request may end with at this level besides its own refusals.
    pub fn retryable(self) -> &'static [&'static str] {
        match self {
            Level::ReadCommitted => &[],
            _ => &[SERIALIZATION_FAILURE],
        }
    }
}

/// A failed request: its SQLSTATE and message (or a note that it was no database error).
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: String,
    pub message: String,
}

impl Failure {
    /// Any error, database or not (a dropped connection is reported, never a panic in a thread).
    pub fn of(err: &postgres::Error) -> Failure {
        match err.as_db_error() {
            Some(db) => Failure {
                code: db.code().code().to_string(),
                message: match db.detail() {
                    Some(detail) => format!("{} (DETAIL: {detail})", db.message()),
                    None => db.message().to_string(),
                },
            },
            None => Failure {
                code: "(not a database error)".to_string(),
                message: err.to_string(),
            },
        }
    }
}

/// What a client was finally told, and how many serialization failures it retried first.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    pub result: Result<T, Failure>,
    pub retries: usize,
}

/// An athlete's (or trainer's) JWT as PostgREST passes it on: the `authenticated` role.
pub fn caller(user: &str) -> Caller {
    Caller::new(
        "authenticated",
        Some(json!({"sub": user, "role": "authenticated"})),
    )
}

/// One request by `caller`, released together with the others by `barrier`.
///
/// At READ COMMITTED it is exactly what PostgREST sends (`postgrest_request`, never retried).
/// At REPEATABLE READ and SERIALIZABLE the same preamble runs as the transaction's first
/// statement, before the barrier, so every session's snapshot predates every other session's
/// change (the worst case for a rule that reads before it locks); a client that is told 40001
/// sends the request again, up to `ATTEMPTS` times in all, as a careful client does.
pub fn request<T>(
    client: &mut Client,
    level: Level,
    caller: &Caller,
    (method, path): (&str, &str),
    barrier: &Barrier,
    mut body: impl FnMut(&mut Transaction<'_>) -> Result<T, postgres::Error>,
) -> Answer<T> {
    if level == Level::ReadCommitted {
        barrier.wait();
        let result = postgrest_request(client, caller, method, path, |tx| body(tx))
            .map_err(|e| Failure::of(&e));
        return Answer { result, retries: 0 };
    }
    let mut retries = 0;
    let mut barrier = Some(barrier);
    loop {
        let result = attempt(
            client,
            level,
            caller,
            (method, path),
            barrier.take(),
            &mut body,
        );
        match result {
            Err(f) if f.code == SERIALIZATION_FAILURE && retries + 1 < ATTEMPTS => {
                retries += 1;
                // Back off a little, by a different amount per session, as a careful client
                // does: 32 sessions retrying in step would only meet again.
                let jitter = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos() % 4_000_000);
                thread::sleep(Duration::from_nanos(
                    (retries as u64) * 2_000_000 + u64::from(jitter),
                ));
            }
            result => return Answer { result, retries },
        }
    }
}

/// One transaction at `level`; meets `barrier` (when given) exactly once, whatever happens.
fn attempt<T>(
    client: &mut Client,
    level: Level,
    caller: &Caller,
    (method, path): (&str, &str),
    barrier: Option<&Barrier>,
    body: &mut impl FnMut(&mut Transaction<'_>) -> Result<T, postgres::Error>,
) -> Result<T, Failure> {
    let meet = |barrier: Option<&Barrier>| {
        if let Some(barrier) = barrier {
            barrier.wait();
        }
    };
    let mut tx = match client
        .build_transaction()
        .isolation_level(level.postgres())
        .start()
    {
        Ok(tx) => tx,
        Err(e) => {
            meet(barrier);
            return Err(Failure::of(&e));
        }
    };
    let claims = caller
        .claims
        .as_ref()
        .map(|c| c.to_string())
        .unwrap_or_default();
    let preamble = tx.execute(
        "SELECT set_config('role', $1, true),
                set_config('request.jwt.claims', $2, true),
                set_config('request.method', $3, true),
                set_config('request.path', $4, true)",
        &[&caller.role, &claims, &method, &path],
    );
    meet(barrier);
    match preamble.and_then(|_| body(&mut tx)) {
        Ok(value) => tx.commit().map(|()| value).map_err(|e| Failure::of(&e)),
        Err(e) => {
            let failure = Failure::of(&e);
            // An aborted transaction rolls back; a dropped connection is reported as failed.
            let _ = tx.rollback();
            Err(failure)
        }
    }
}

/// The waitlist entry `join_waitlist` returned.
#[derive(Debug, Clone)]
pub struct Joined {
    pub entry: String,
    pub queue_no: i64,
    pub state: String,
}

/// `POST /rpc/join_waitlist`.
pub fn join(tx: &mut Transaction<'_>, slot: &str) -> Result<Joined, postgres::Error> {
    let row = tx.query_one(
        "SELECT e.id::text, e.queue_no, e.state::text
           FROM gym_booking.join_waitlist($1::text::uuid) AS e",
        &[&slot],
    )?;
    Ok(Joined {
        entry: row.get(0),
        queue_no: row.get(1),
        state: row.get(2),
    })
}

/// `POST /rpc/leave_waitlist`: the entry's state afterwards.
pub fn leave(tx: &mut Transaction<'_>, slot: &str) -> Result<String, postgres::Error> {
    tx.query_one(
        "SELECT e.state::text FROM gym_booking.leave_waitlist($1::text::uuid) AS e",
        &[&slot],
    )
    .map(|row| row.get(0))
}

/// `POST /rpc/book_slot`: the booking's id and status.
pub fn book(tx: &mut Transaction<'_>, slot: &str) -> Result<(String, String), postgres::Error> {
    tx.query_one(
        "SELECT b.id::text, b.status::text FROM gym_booking.book_slot($1::text::uuid) AS b",
        &[&slot],
    )
    .map(|row| (row.get(0), row.get(1)))
}

/// `POST /rpc/cancel_booking`: the booking's status afterwards.
pub fn cancel(tx: &mut Transaction<'_>, booking: &str) -> Result<String, postgres::Error> {
    tx.query_one(
        "SELECT b.status::text FROM gym_booking.cancel_booking($1::text::uuid) AS b",
        &[&booking],
    )
    .map(|row| row.get(0))
}

/// `PATCH /slots?id=eq.<slot>` with `{"capacity": n}`, by the slot's trainer: rows updated.
pub fn set_capacity(
    tx: &mut Transaction<'_>,
    slot: &str,
    capacity: i32,
) -> Result<u64, postgres::Error> {
    tx.execute(
        "UPDATE gym_booking.slots SET capacity = $2::int WHERE id = $1::text::uuid",
        &[&slot, &capacity],
    )
}

/// A trainer (who owns every slot) and `athletes` athletes; returns (trainer id, athlete ids).
pub fn people(client: &mut Client, athletes: i32) -> (String, Vec<String>) {
    let trainer: String = client
        .query_one(
            "INSERT INTO gym_booking.users (email, password_hash, first_name, role, contact_email)
             VALUES ('queue.trainer@example.com', 'x', 'Tess', 'trainer', 'queue.trainer@example.com')
             RETURNING id::text",
            &[],
        )
        .expect("create the trainer")
        .get(0);
    let athletes = client
        .query(
            "INSERT INTO gym_booking.users (email, password_hash, first_name)
             SELECT format('queue.athlete%s@example.com', g), 'x', format('Athlete %s', g)
               FROM generate_series(1, $1::int) AS g
             ORDER BY g
             RETURNING id::text",
            &[&athletes],
        )
        .expect("create the athletes")
        .iter()
        .map(|r| r.get(0))
        .collect();
    (trainer, athletes)
}

/// A fresh slot two days (plus `hours_later` hours) ahead, far from any cutoff or window;
/// returns its id.
pub fn slot(client: &mut Client, trainer: &str, capacity: i32, hours_later: i32) -> String {
    client
        .query_one(
            "INSERT INTO gym_booking.slots (trainer_id, start_at, duration_minutes, capacity)
             VALUES ($1::text::uuid,
                     date_trunc('hour', now()) + interval '2 days'
                         + make_interval(hours => $3::int),
                     60, $2::int)
             RETURNING id::text",
            &[&trainer, &capacity, &hours_later],
        )
        .unwrap_or_else(|e| panic!("create a slot of capacity {capacity}: {e:?}"))
        .get(0)
}

/// Setup: `athlete` books `slot` through the API; returns the booking id.
pub fn book_now(client: &mut Client, athlete: &str, slot: &str) -> String {
    let (id, status) =
        postgrest_request(client, &caller(athlete), "POST", "/rpc/book_slot", |tx| {
            book(tx, slot)
        })
        .unwrap_or_else(|e| panic!("setup: athlete {athlete} books slot {slot}: {e:?}"));
    assert_eq!(status, "reserved", "setup: book_slot's answer");
    id
}

/// Setup: `athlete` joins the full `slot`'s waitlist through the API.
pub fn join_now(client: &mut Client, athlete: &str, slot: &str) -> Joined {
    postgrest_request(
        client,
        &caller(athlete),
        "POST",
        "/rpc/join_waitlist",
        |tx| join(tx, slot),
    )
    .unwrap_or_else(|e| panic!("setup: athlete {athlete} joins the waitlist of {slot}: {e:?}"))
}

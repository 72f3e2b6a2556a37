//! Booking a series' occurrences while its trainer edits or cancels it, and while
//! `extend_timetables()` runs (DESIGN.md, "Timetables"; the lock order in sql/timetable.sql).
//!
//! Each round makes a fresh daily series (capacity 3, Europe/Berlin), then releases at least
//! 32 sessions together with a `std::sync::Barrier`: 32 athletes each booking two random
//! occurrences one after the other (reading, in the booking's own transaction, when the slot
//! starts), the trainer moving the series' time or cancelling it from a date, and in half the
//! rounds `extend_timetables()` (service_role) making the next days at the same moment. At
//! READ COMMITTED exactly as PostgREST sends requests; at REPEATABLE READ with the snapshot
//! taken before the barrier (the worst case for a rule that reads before it locks), where a
//! serialization failure (40001) is an acceptable answer and is counted.
//!
//! After every round: no reserved booking in a cancelled occurrence; every reserved booking's
//! occurrence starts when its athlete saw it start when booking (a booked occurrence never
//! moved); every occurrence that is not at the series' time has a reserved booking; never more
//! reserved than capacity; after a committed cancellation no live occurrence on or after its
//! date (whatever extend_timetables or the edit made concurrently); one occurrence per date;
//! no client met a deadlock (40P01), an internal error (XX000), a lock timeout (55P03) or,
//! at READ COMMITTED, a serialization failure.

use std::collections::BTreeMap;
use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use gym_booking_integration::{postgrest_request, Caller, TestDb, XorShift};
use postgres::{Client, IsolationLevel, Transaction};

use crate::common::{self, failure, occurrences, service, user};
use crate::tz::{self, Date, BERLIN};

const ATHLETES: usize = 32;
const BOOKINGS_EACH: usize = 2;
const ROUNDS: usize = 3;
const CAPACITY: i32 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    ReadCommitted,
    RepeatableRead,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The trainer moves the series by 90 minutes.
    Edit,
    /// The trainer cancels the series from its fourth day on.
    Cancel,
}

/// What a request answered: Ok, or its SQLSTATE and message.
type Answer<T> = Result<T, (String, String)>;

/// One request at `level`. READ COMMITTED: after the barrier, exactly `postgrest_request`.
/// REPEATABLE READ: the transaction's first statement (the PostgREST preamble) runs before
/// the barrier, so its snapshot predates everything the others do.
fn request<T>(
    client: &mut Client,
    level: Level,
    caller: &Caller,
    barrier: Option<&Barrier>,
    delay: Duration,
    body: impl FnOnce(&mut Transaction<'_>) -> Result<T, postgres::Error>,
) -> Answer<T> {
    let code = |e: &postgres::Error| {
        let code = e
            .as_db_error()
            .map_or("(no SQLSTATE)".to_string(), |d| d.code().code().to_string());
        (code, failure(e))
    };
    if level == Level::ReadCommitted {
        if let Some(b) = barrier {
            b.wait();
        }
        thread::sleep(delay);
        return postgrest_request(client, caller, "POST", "/rpc", body).map_err(|e| code(&e));
    }
    let mut tx = match client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .start()
    {
        Ok(tx) => tx,
        Err(e) => {
            if let Some(b) = barrier {
                b.wait();
            }
            return Err(code(&e));
        }
    };
    let claims = caller
        .claims
        .as_ref()
        .map(|c| c.to_string())
        .unwrap_or_default();
    let preamble = tx.execute(
        "SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true),
                set_config('request.method', 'POST', true), set_config('request.path', '/rpc', true)",
        &[&caller.role, &claims],
    );
    if let Some(b) = barrier {
        b.wait();
    }
    thread::sleep(delay);
    match preamble.and_then(|_| body(&mut tx)) {
        Ok(v) => tx.commit().map(|()| v).map_err(|e| code(&e)),
        Err(e) => {
            let answer = code(&e);
            let _ = tx.rollback();
            Err(answer)
        }
    }
}

/// An athlete's booking as they saw it: (slot, booking id, start_at epoch read after booking).
type Seen = (String, String, i64);

/// What the trainer's and the extender's sessions were told.
#[derive(Debug, Default)]
struct Gym {
    change: Option<Answer<String>>,
    extend: Option<Answer<i32>>,
}

/// One round; returns (problems, summary).
#[allow(clippy::too_many_arguments)]
fn round(
    dba: &mut Client,
    sessions: &mut [Client],
    people: &common::People,
    level: Level,
    kind: Kind,
    with_extend: bool,
    seed: u64,
    local_minutes: i64,
) -> (Vec<String>, String) {
    let mut rng = XorShift::new(seed);
    let today = BERLIN.date_at(tz::now());
    // Made 20 days ahead; raised to 26 right before the race when extend_timetables races
    // too, so that it and the edit both have days to make.
    common::set_horizon(dba, "20 days");
    let start = format!("{:02}:{:02}", local_minutes / 60, local_minutes % 60);
    let series = common::create_series(
        dba,
        &user(&people.trainer),
        "{1,2,3,4,5,6,7}",
        &start,
        &today.plus(2).to_string(),
        None,
        CAPACITY,
        BERLIN.name,
    );
    if with_extend {
        common::set_horizon(dba, "26 days");
    }
    let occs = occurrences(dba, &series);
    let slots: Vec<String> = occs.iter().map(|o| o.slot.clone()).collect();
    let cancel_from = Date::parse(&occs[3].date);
    let moved_minutes = local_minutes + 90;
    let moved = format!("{:02}:{:02}", moved_minutes / 60, moved_minutes % 60);

    // Each athlete's two occurrences, and when they start booking (0-20 ms after the barrier:
    // the trainer's change, 2-12 ms after it, lands while some occurrences are still free).
    let plans: Vec<(Vec<String>, Duration)> = (0..ATHLETES)
        .map(|_| {
            let mut mine = slots.clone();
            for i in (1..mine.len()).rev() {
                mine.swap(i, rng.below(i as u64 + 1) as usize);
            }
            mine.truncate(BOOKINGS_EACH);
            (mine, Duration::from_micros(rng.below(20_000)))
        })
        .collect();
    let trainer_delay = Duration::from_micros(2_000 + rng.below(10_000));
    let extend_delay = Duration::from_micros(2_000 + rng.below(10_000));
    let parties = ATHLETES + 1 + usize::from(with_extend);
    let barrier = Barrier::new(parties);

    let (athletes_sessions, gym_sessions) = sessions.split_at_mut(ATHLETES);
    let (answers, gym) = thread::scope(|s| {
        let barrier = &barrier;
        let series = &series;
        let moved = &moved;
        let handles: Vec<_> = athletes_sessions
            .iter_mut()
            .zip(&plans)
            .zip(&people.athletes)
            .map(|((client, (mine, delay)), athlete)| {
                s.spawn(move || {
                    let caller = user(athlete);
                    let mut answers: Vec<Answer<Seen>> = Vec::new();
                    for (i, slot) in mine.iter().enumerate() {
                        let b = (i == 0).then_some(barrier);
                        answers.push(request(client, level, &caller, b, *delay, |tx| {
                            let id: String = tx
                                .query_one(
                                    "SELECT b.id::text FROM gym_booking.book_slot($1::text::uuid) AS b",
                                    &[slot],
                                )?
                                .get(0);
                            let seen: i64 = tx
                                .query_one(
                                    "SELECT extract(epoch FROM start_at)::bigint
                                       FROM gym_booking.slots WHERE id = $1::text::uuid",
                                    &[slot],
                                )?
                                .get(0);
                            Ok((slot.clone(), id, seen))
                        }));
                    }
                    answers
                })
            })
            .collect();
        let (trainer_session, rest) = gym_sessions.split_first_mut().unwrap();
        let trainer = s.spawn(move || {
            let caller = user(&people.trainer);
            request(
                trainer_session,
                level,
                &caller,
                Some(barrier),
                trainer_delay,
                |tx| match kind {
                    Kind::Edit => tx
                        .query(
                            "SELECT outcome FROM gym_booking.edit_series($1::text::uuid,
                                 local_start => $2::text::time)",
                            &[series, moved],
                        )
                        .map(|rows| {
                            let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
                            for r in rows {
                                *outcomes.entry(r.get(0)).or_default() += 1;
                            }
                            format!("{outcomes:?}")
                        }),
                    Kind::Cancel => tx
                        .query_one(
                            "SELECT gym_booking.cancel_series($1::text::uuid, $2::text::date)",
                            &[series, &cancel_from.to_string()],
                        )
                        .map(|r| format!("{} cancelled", r.get::<_, i32>(0))),
                },
            )
        });
        let extender = with_extend.then(|| {
            let session = &mut rest[0];
            s.spawn(move || {
                request(
                    session,
                    level,
                    &service(),
                    Some(barrier),
                    extend_delay,
                    |tx| {
                        tx.query_one("SELECT gym_booking.extend_timetables()", &[])
                            .map(|r| r.get::<_, i32>(0))
                    },
                )
            })
        });
        let answers: Vec<Vec<Answer<Seen>>> = handles
            .into_iter()
            .map(|h| h.join().expect("an athlete's session panicked"))
            .collect();
        let gym = Gym {
            change: Some(trainer.join().expect("the trainer's session panicked")),
            extend: extender.map(|h| h.join().expect("the extender panicked")),
        };
        (answers, gym)
    });

    // What the clients were told.
    let mut problems = Vec::new();
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    let mut serialization_failures = 0;
    let mut forbidden = |who: &str, code: &str, message: &str, problems: &mut Vec<String>| {
        let allowed_40001 = level == Level::RepeatableRead && code == "40001";
        if allowed_40001 {
            serialization_failures += 1;
        }
        if !(allowed_40001 || code.starts_with("22") || code.starts_with("23")) {
            problems.push(format!("{who} was told {message}"));
        }
    };
    let mut seen: Vec<Seen> = Vec::new();
    for (i, answers) in answers.into_iter().enumerate() {
        for a in answers {
            match a {
                Ok(s) => seen.push(s),
                Err((code, message)) => {
                    *codes.entry(code.clone()).or_default() += 1;
                    forbidden(
                        &format!("athlete {}", i + 1),
                        &code,
                        &message,
                        &mut problems,
                    );
                }
            }
        }
    }
    let change_ok = matches!(gym.change, Some(Ok(_)));
    if let Some(Err((code, message))) = &gym.change {
        forbidden("the trainer", code, message, &mut problems);
    }
    if let Some(Err((code, message))) = &gym.extend {
        forbidden("extend_timetables()", code, message, &mut problems);
    }

    // What the tables say.
    let local_start: String = dba
        .query_one(
            "SELECT to_char(local_start, 'HH24:MI') FROM gym_booking.series WHERE id = $1::text::uuid",
            &[&series],
        )
        .unwrap()
        .get(0);
    let minutes_now = if local_start == moved {
        moved_minutes
    } else {
        local_minutes
    };
    if kind == Kind::Edit && change_ok != (local_start == moved) {
        problems.push(format!(
            "the edit answered {:?}, the series starts at {local_start}",
            gym.change
        ));
    }
    let occs = occurrences(dba, &series);
    let reserved: BTreeMap<String, i64> = dba
        .query(
            "SELECT b.slot_id::text, count(*) FROM gym_booking.bookings AS b
               JOIN gym_booking.slots AS o ON o.id = b.slot_id
              WHERE o.series_id = $1::text::uuid AND b.status = 'reserved' GROUP BY 1",
            &[&series],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let status: BTreeMap<String, String> = dba
        .query(
            "SELECT b.id::text, b.status::text FROM gym_booking.bookings AS b
               JOIN gym_booking.slots AS o ON o.id = b.slot_id WHERE o.series_id = $1::text::uuid",
            &[&series],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let by_slot: BTreeMap<&str, &common::Occurrence> =
        occs.iter().map(|o| (o.slot.as_str(), o)).collect();
    let mut dates: Vec<&str> = occs.iter().map(|o| o.date.as_str()).collect();
    dates.dedup();
    if dates.len() != occs.len() {
        problems.push(format!(
            "{} occurrences on {} dates",
            occs.len(),
            dates.len()
        ));
    }
    for o in &occs {
        let held = reserved.get(&o.slot).copied().unwrap_or(0);
        if o.cancelled && held > 0 {
            problems.push(format!("{}: cancelled with {held} reserved", o.date));
        }
        if held > i64::from(o.capacity) {
            problems.push(format!(
                "{}: {held} reserved, capacity {}",
                o.date, o.capacity
            ));
        }
        let at_series_time = o.start == BERLIN.instant(Date::parse(&o.date), minutes_now);
        if !o.cancelled && !at_series_time && held == 0 {
            problems.push(format!(
                "{}: starts {} local, not the series' {local_start}, and nobody holds a place",
                o.date, o.local
            ));
        }
        let after_cancel = kind == Kind::Cancel && change_ok && Date::parse(&o.date) >= cancel_from;
        if after_cancel != o.cancelled {
            problems.push(format!(
                "{}: cancelled {} after cancel_series from {cancel_from} answered {:?}",
                o.date, o.cancelled, gym.change
            ));
        }
    }
    for (slot, booking, start) in &seen {
        let o = by_slot[slot.as_str()];
        match status.get(booking).map(String::as_str) {
            Some("reserved") if o.start != *start => problems.push(format!(
                "{}: booked when it started at {} UTC, now starts {} UTC ({} local)",
                o.date,
                tz::wall(*start),
                tz::wall(o.start),
                o.local
            )),
            Some("reserved") => {}
            Some("cancelled") if o.cancelled => {}
            other => problems.push(format!("{}: booking {booking} is {other:?}", o.date)),
        }
    }
    let summary = format!(
        "{level:?} {kind:?}{} seed {seed}: {} bookings, refusals {codes:?} ({serialization_failures} \
         serialization failures), trainer {:?}, extend {:?}, {} occurrences ({} cancelled)",
        if with_extend { " + extend_timetables" } else { "" },
        seen.len(),
        gym.change,
        gym.extend,
        occs.len(),
        occs.iter().filter(|o| o.cancelled).count()
    );
    (problems, summary)
}

/// Every round of one kind at both levels, with and without extend_timetables racing.
pub fn race(test: &str, kind: Kind, seed_base: u64) {
    let db = TestDb::with_extension(test);
    let mut dba = db.connect();
    let people = common::people(&mut dba, ATHLETES as i32);
    let mut sessions: Vec<Client> = (0..ATHLETES + 2).map(|_| db.connect()).collect();
    let mut failures = Vec::new();
    let mut n = 0;
    for level in [Level::ReadCommitted, Level::RepeatableRead] {
        for with_extend in [false, true] {
            for r in 0..ROUNDS {
                n += 1;
                // A different hour each round, so rounds' classes do not share a time.
                let minutes = 6 * 60 + (n as i64 % 10) * 60;
                let (problems, summary) = round(
                    &mut dba,
                    &mut sessions,
                    &people,
                    level,
                    kind,
                    with_extend,
                    seed_base + n as u64 * 100 + r as u64,
                    minutes,
                );
                println!("{summary}");
                if !problems.is_empty() {
                    failures.push(format!("{summary}\n - {}", problems.join("\n - ")));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} round(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

//! Check-in while the completion runs (SPEC: `mark_attendance` from the slot's start until
//! `attendance_grace` after its end; `record_no_shows` marks what is still unmarked once the
//! grace is over, by the system; `complete_past_bookings` moves reserved to completed).
//!
//! Each round writes 40 slots of 8 trainers that started half an hour ago and end one after
//! the other over ten seconds from now, with a grace of three seconds, so every slot's period
//! ends during the round. Each trainer has four sessions, each owning some of the trainer's
//! bookings with a plan per booking:
//! - early: one to three marks (attended or no-show, so a mark changes) well inside the period;
//! - late: the first mark tens of milliseconds before the grace ends, again every few
//!   milliseconds until refused (27000): it races the sweep for the booking;
//! - forgotten: never marked in time (one try after the period: 27000); the sweep's;
//! - a cancelled booking: one try (22023: it holds no place).
//!
//! Meanwhile `complete_past_bookings()` and `record_no_shows()` (auto_no_show on) loop in four
//! other sessions, as the DBA and as service_role, in batches of 1000 and of 3-5.
//!
//! Afterwards (a last sweep and completion once every grace is over): every booking that holds
//! a place has exactly one mark and is completed, a cancelled one none; a booking the trainer
//! marked keeps the trainer's last mark (the sweep never overwrites it: an auto no-show, if
//! any, came first and was changed by the trainer — or, marked a no-show again by the trainer,
//! stays the system's: the same mark again changes nothing); its activity log is one chain of
//! attendance changes (old -> new) ending at the mark, with one row per change the trainer
//! made and at most one of the system's; the athlete's `no_show_recorded` events are one per
//! change to no-show; the sweeps' counts add up to the system's marks; every client heard
//! success or an expected refusal — never a deadlock, an internal error or 55P03.
//! (`complete_past_bookings()` runs the sweep as well and answers only what it completed, so
//! `record_no_shows()`'s own counts are a part of the system's marks.)

use std::collections::BTreeMap;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use gym_booking_integration::{postgrest_request, TestDb, XorShift};
use postgres::Client;

#[path = "checkin_checks.rs"]
mod checks;

use crate::common::{self, request, service, user, Answer, Failure, Level, PastSlot};
use checks::{check, read_state};

const TRAINERS: usize = 8;
const SESSIONS_PER_TRAINER: usize = 4;
const SLOTS_PER_TRAINER: usize = 5;
const ATHLETES: i32 = 48;
const PLACES: usize = 4;
const ROUNDS: usize = 2;
/// The grace, in milliseconds (studio_settings.attendance_grace).
const GRACE_MS: i64 = 3_000;
/// The first slot ends this long after the round's base, the others every `STEP_MS`.
const FIRST_END_MS: i64 = 1_500;
const STEP_MS: i64 = 250;
/// The round ends this long after the last grace.
const TAIL_MS: i64 = 1_500;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    Early,
    Late,
    Forgotten,
    Cancelled,
}

/// One booking of the round, as set up.
#[derive(Clone, Debug)]
struct Target {
    booking: String,
    slot: usize,
    trainer: usize,
    plan: Plan,
}

/// A trainer's call and what it was told (the returned row: mark, marked_by, marked_at µs).
#[derive(Debug)]
struct Call {
    target: usize,
    mark: &'static str,
    answer: Answer<(String, Option<String>, i64)>,
}

/// What a completion or sweep loop was told.
#[derive(Debug, Default)]
struct Loop {
    name: String,
    calls: usize,
    total: i64,
    failures: Vec<Failure>,
}

pub struct Studio {
    dba: Client,
    sessions: Vec<Client>,
    loops: Vec<Client>,
    trainers: Vec<String>,
    athletes: Vec<String>,
}

impl Studio {
    pub fn new(test: &str) -> Studio {
        let db = TestDb::with_extension(test);
        let mut dba = db.connect();
        dba.batch_execute(&format!(
            "UPDATE gym_booking.studio_settings
                SET attendance_grace = interval '{GRACE_MS} milliseconds', auto_no_show = true"
        ))
        .expect("setup: grace and auto_no_show");
        let trainers = common::users(&mut dba, "checkin.trainer", "trainer", TRAINERS as i32);
        let athletes = common::users(&mut dba, "checkin.athlete", "athlete", ATHLETES);
        Studio {
            sessions: (0..TRAINERS * SESSIONS_PER_TRAINER)
                .map(|_| db.connect())
                .collect(),
            loops: (0..4).map(|_| db.connect()).collect(),
            dba,
            trainers,
            athletes,
        }
    }

    pub fn run_all(&mut self, test: u64) {
        let mut failures = Vec::new();
        for (l, level) in Level::ALL.into_iter().enumerate() {
            for round in 1..=ROUNDS {
                let seed = test * 1_000 + (l * 100 + round) as u64;
                failures.extend(self.round(level, round, seed));
            }
        }
        assert!(
            failures.is_empty(),
            "{} round(s) failed:\n\n{}",
            failures.len(),
            failures.join("\n\n")
        );
    }

    fn round(&mut self, level: Level, round: usize, seed: u64) -> Option<String> {
        let mut rng = XorShift::new(seed);
        let context = format!("{}, round {round}/{ROUNDS} (seed {seed})", level.name());

        // The slots: slot k (of trainer k % TRAINERS) ends FIRST_END_MS + k * STEP_MS after
        // the base, 30 minutes after it started.
        let base_us = common::server_now_us(&mut self.dba) + 1_000_000;
        let base = Instant::now() + Duration::from_secs(1);
        let slot_count = TRAINERS * SLOTS_PER_TRAINER;
        let past: Vec<PastSlot> = (0..slot_count)
            .map(|k| PastSlot {
                trainer: self.trainers[k % TRAINERS].clone(),
                ends_in_ms: FIRST_END_MS + k as i64 * STEP_MS,
                minutes: 30,
                capacity: 6,
            })
            .collect();
        let people: Vec<Vec<(String, &str)>> = (0..slot_count)
            .map(|_| {
                let mut pool = self.athletes.clone();
                common::shuffle(&mut pool, &mut rng);
                pool.into_iter()
                    .take(PLACES + 1)
                    .enumerate()
                    .map(|(i, a)| (a, if i < PLACES { "reserved" } else { "cancelled" }))
                    .collect()
            })
            .collect();
        let (slot_ids, booking_ids) = common::write_history(&mut self.dba, base_us, &past, &people);
        let mut targets = Vec::new();
        for (k, ids) in booking_ids.iter().enumerate() {
            for (i, id) in ids.iter().enumerate() {
                let plan = if i == PLACES {
                    Plan::Cancelled
                } else {
                    match rng.below(4) {
                        0 => Plan::Early,
                        1 => Plan::Forgotten,
                        _ => Plan::Late,
                    }
                };
                targets.push(Target {
                    booking: id.clone(),
                    slot: k,
                    trainer: k % TRAINERS,
                    plan,
                });
            }
        }
        let grace_end = |slot: usize| {
            base + Duration::from_millis((FIRST_END_MS + slot as i64 * STEP_MS + GRACE_MS) as u64)
        };
        let deadline = grace_end(slot_count - 1) + Duration::from_millis(TAIL_MS as u64);

        // Each session's schedule: (when, target, mark), in time order.
        let mut schedules: Vec<Vec<(Instant, usize, &'static str)>> =
            vec![Vec::new(); self.sessions.len()];
        let mut owned_by_trainer = [0usize; TRAINERS];
        for (t, target) in targets.iter().enumerate() {
            let n = owned_by_trainer[target.trainer];
            owned_by_trainer[target.trainer] += 1;
            let session = target.trainer * SESSIONS_PER_TRAINER + n % SESSIONS_PER_TRAINER;
            let end = grace_end(target.slot);
            let mark = |rng: &mut XorShift| {
                if rng.below(3) == 0 {
                    "no_show"
                } else {
                    "attended"
                }
            };
            let at = |ms: i64| {
                if ms >= 0 {
                    end + Duration::from_millis(ms as u64)
                } else {
                    end - Duration::from_millis((-ms) as u64)
                }
            };
            let schedule = &mut schedules[session];
            match target.plan {
                Plan::Early => {
                    // Between the round's start and 800 ms before the grace ends.
                    let span = (end - Duration::from_millis(800)).saturating_duration_since(base);
                    for _ in 0..1 + rng.below(3) {
                        let when = base + span.mul_f64(rng.below(1000) as f64 / 1000.0);
                        schedule.push((when, t, mark(&mut rng)));
                    }
                }
                Plan::Late => {
                    // From 40 ms before the grace ends to 40 ms after, then every 3-8 ms: one
                    // entry per try, the session stops trying once refused.
                    let mut ms = rng.below(80) as i64 - 40;
                    while ms < 400 {
                        schedule.push((at(ms), t, mark(&mut rng)));
                        ms += 3 + rng.below(6) as i64;
                    }
                }
                Plan::Forgotten => {
                    let when = at(200 + rng.below(300) as i64);
                    schedule.push((when, t, mark(&mut rng)))
                }
                Plan::Cancelled => {
                    let span = end.saturating_duration_since(base);
                    let when = base + span.mul_f64(rng.below(1000) as f64 / 1000.0);
                    schedule.push((when, t, mark(&mut rng)));
                }
            }
        }
        for s in &mut schedules {
            s.sort_by_key(|(when, _, _)| *when);
        }

        let (calls, loops) = self.race(level, &targets, &schedules, deadline);

        // The last sweep and completion, once every grace is over.
        thread::sleep(deadline.saturating_duration_since(Instant::now()));
        let mut last_sweep = 0i64;
        loop {
            let n: i64 = self
                .dba
                .query_one("SELECT gym_booking.record_no_shows()", &[])
                .expect("the last sweep")
                .get(0);
            last_sweep += n;
            let completed: i64 = self
                .dba
                .query_one("SELECT gym_booking.complete_past_bookings()", &[])
                .expect("the last completion")
                .get(0);
            if n == 0 && completed == 0 {
                break;
            }
        }

        let state = read_state(&mut self.dba, &targets, &slot_ids);
        let mut problems = Vec::new();
        check(
            level,
            &self.trainers,
            &targets,
            &calls,
            &loops,
            last_sweep,
            &state,
            &mut problems,
        );

        let mut codes: BTreeMap<String, usize> = BTreeMap::new();
        for c in &calls {
            let key = match &c.answer.result {
                Ok(_) => "ok".to_string(),
                Err(f) => f.code.clone(),
            };
            *codes.entry(key).or_default() += 1;
        }
        let retries: usize = calls.iter().map(|c| c.answer.retries).sum();
        let by_system = state
            .marks
            .values()
            .filter(|m| m.marked_by.is_none())
            .count();
        let late_won = targets
            .iter()
            .enumerate()
            .filter(|(t, target)| {
                target.plan == Plan::Late
                    && calls
                        .iter()
                        .any(|c| c.target == *t && c.answer.result.is_ok())
            })
            .count();
        let late = targets.iter().filter(|t| t.plan == Plan::Late).count();
        // In-time calls that met the system's no-show, committed while they waited.
        let met_system = calls
            .iter()
            .filter(|c| c.answer.result.as_ref().is_ok_and(|r| r.1.is_none()))
            .count();
        let summary = format!(
            "{context}: trainers' calls {codes:?} ({retries} retried 40001s, {met_system} answered with \
             the system's no-show); {} marks, {by_system} by the system; late bookings the trainer marked \
             in time: {late_won} of {late}; loops: {}; last sweep {last_sweep}",
            state.marks.len(),
            loops
                .iter()
                .map(|l| format!("{} {} calls ({} marked/completed)", l.name, l.calls, l.total))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!("{summary}");
        (!problems.is_empty()).then(|| {
            format!(
                "{} problem(s):\n - {}\n{summary}",
                problems.len(),
                problems.join("\n - ")
            )
        })
    }

    /// The trainers' sessions and the four loops, released together.
    fn race(
        &mut self,
        level: Level,
        targets: &[Target],
        schedules: &[Vec<(Instant, usize, &'static str)>],
        deadline: Instant,
    ) -> (Vec<Call>, Vec<Loop>) {
        let barrier = Barrier::new(self.sessions.len() + self.loops.len());
        let trainers = &self.trainers;
        thread::scope(|s| {
            let barrier = &barrier;
            let sessions: Vec<_> = self
                .sessions
                .iter_mut()
                .zip(schedules)
                .enumerate()
                .map(|(i, (client, schedule))| {
                    let trainer = &trainers[i / SESSIONS_PER_TRAINER];
                    s.spawn(move || {
                        barrier.wait();
                        let mut calls = Vec::new();
                        let mut refused = vec![false; targets.len()];
                        for &(when, t, mark) in schedule {
                            if refused[t] {
                                continue;
                            }
                            thread::sleep(when.saturating_duration_since(Instant::now()));
                            let answer = request(client, level, &user(trainer), &|| {}, |tx| {
                                let row = tx.query_one(
                                    "SELECT a.mark::text, a.marked_by::text,
                                            (extract(epoch FROM a.marked_at) * 1e6)::bigint
                                       FROM gym_booking.mark_attendance($1::text::uuid,
                                                                        $2::text::gym_booking.attendance_mark) AS a",
                                    &[&targets[t].booking, &mark],
                                )?;
                                Ok((row.get(0), row.get(1), row.get(2)))
                            });
                            refused[t] = answer.result.is_err();
                            calls.push(Call { target: t, mark, answer });
                        }
                        calls
                    })
                })
                .collect();
            let loops: Vec<_> = self
                .loops
                .iter_mut()
                .enumerate()
                .map(|(i, client)| {
                    s.spawn(move || {
                        let (function, batch, as_service) = match i {
                            0 => ("complete_past_bookings", 1000, false),
                            1 => ("complete_past_bookings", 5, true),
                            2 => ("record_no_shows", 1000, false),
                            _ => ("record_no_shows", 3, true),
                        };
                        let mut out = Loop {
                            name: format!(
                                "{function}({batch}) as {}",
                                if as_service {
                                    "service_role"
                                } else {
                                    "the DBA"
                                }
                            ),
                            ..Loop::default()
                        };
                        let sql = format!("SELECT gym_booking.{function}({batch})");
                        barrier.wait();
                        while Instant::now() < deadline {
                            let result = if as_service {
                                postgrest_request(client, &service(), "POST", "/rpc", |tx| {
                                    tx.query_one(sql.as_str(), &[]).map(|r| r.get::<_, i64>(0))
                                })
                            } else {
                                client
                                    .query_one(sql.as_str(), &[])
                                    .map(|r| r.get::<_, i64>(0))
                            };
                            out.calls += 1;
                            match result {
                                Ok(n) => out.total += n,
                                Err(e) => out.failures.push(Failure::of(&e)),
                            }
                            thread::sleep(Duration::from_millis(2 + (out.calls % 4) as u64));
                        }
                        out
                    })
                })
                .collect();
            let calls = sessions
                .into_iter()
                .flat_map(|h| h.join().expect("a trainer's session panicked"))
                .collect();
            let loops = loops
                .into_iter()
                .map(|h| h.join().expect("a loop panicked"))
                .collect();
            (calls, loops)
        })
    }
}

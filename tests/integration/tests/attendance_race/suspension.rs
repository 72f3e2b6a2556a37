//! Bookings racing the no-show that suspends their athlete (SPEC: a booking holds its athlete's
//! users row FOR SHARE, `mark_attendance` takes it FOR NO KEY UPDATE before it writes the mark,
//! so a booking "either commits first or waits and is refused").
//!
//! Each round takes a fresh athlete with two strikes (two no-shows marked by the DBA in slots
//! that started hours ago; strike limit 3) and a third booking of theirs in a slot that has
//! started. The trainer marks that one no-show while 32 sessions of the same athlete book
//! different slots (`book_slot`, a direct INSERT), re-activate cancelled bookings (`book_slot`,
//! a direct UPDATE) and join waitlists of full slots.
//!
//! - `Phase::Held`: the no-show's transaction marks, then holds open; the 32 requests start
//!   after the mark and must all wait for it (none answers before its commit) and then all be
//!   refused with 28000 (at REPEATABLE READ a 40001 retried ends in 28000 too).
//! - `Phase::Free`: everyone is released together. Accepted requests must have committed
//!   before the no-show: right after the mark, while the no-show's transaction still holds the
//!   athlete's row, an observer reads what the athlete holds (a booking that had the row FOR
//!   SHARE before the mark has committed by then; any other must wait for the no-show's commit
//!   and be refused), and every accepted booking and waitlist entry must be in that reading,
//!   and in a REPEATABLE READ snapshot taken right after the no-show's commit.
//!
//! Every client hears success, 28000 or (REPEATABLE READ) 40001 — never a deadlock (40P01), an
//! internal error (XX000) or anything else.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use gym_booking_integration::{postgrest_request, TestDb, XorShift};
use postgres::{Client, Transaction};

#[path = "suspension_checks.rs"]
mod checks;

use crate::common::{self, begin, request, shuffle, user, Answer, Failure, Level, PastSlot};
use checks::{check_answers, check_state, observe, Made, NoShow};

/// Sessions of the suspended athlete released in every round.
const SESSIONS: usize = 32;
/// Rounds per isolation level.
const ROUNDS: usize = 3;
/// Athletes who fill the slots whose waitlists the suspect joins.
const FILLERS: i32 = 4;
/// The refusal SPEC.md gives a suspended athlete.
const SUSPENDED: &str = "28000";
const SUSPENDED_MESSAGE: &str = "you are suspended from booking after repeated no-shows";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The no-show holds open after its mark; the bookings start then.
    Held,
    /// Everyone released together.
    Free,
}

/// What one of the athlete's sessions asks for.
#[derive(Clone, Debug)]
enum Job {
    /// `book_slot` of a slot the athlete has no booking in.
    Book { slot: String },
    /// `POST /bookings`: a direct INSERT.
    Insert { slot: String },
    /// `book_slot` of a slot whose booking the athlete cancelled: a re-activation.
    Reactivate { slot: String, booking: String },
    /// `PATCH /bookings`: a direct re-activation (cancelled -> reserved).
    Patch { booking: String },
    /// `join_waitlist` of a full slot.
    Join { slot: String },
}

pub struct Studio {
    dba: Client,
    observer: Client,
    monitor: Client,
    marker: Client,
    sessions: Vec<Client>,
    pids: Vec<i32>,
    trainer: String,
    fillers: Vec<String>,
    next_hour: i32,
    suspects: usize,
}

impl Studio {
    pub fn new(test: &str) -> Studio {
        let db = TestDb::with_extension(test);
        let mut dba = db.connect();
        dba.batch_execute("UPDATE gym_booking.studio_settings SET no_show_strike_limit = 3")
            .expect("setup: strike limit 3");
        let trainer = common::users(&mut dba, "susp.trainer", "trainer", 1).remove(0);
        let fillers = common::users(&mut dba, "susp.filler", "athlete", FILLERS);
        let mut sessions: Vec<Client> = (0..SESSIONS).map(|_| db.connect()).collect();
        let pids = common::pids(&mut sessions);
        Studio {
            observer: db.connect(),
            monitor: db.connect(),
            marker: db.connect(),
            dba,
            sessions,
            pids,
            trainer,
            fillers,
            next_hour: 0,
            suspects: 0,
        }
    }

    /// Every level, `ROUNDS` times; fails at the end with every failed round.
    pub fn run_all(&mut self, phase: Phase, test: u64) {
        let mut failures = Vec::new();
        for (l, level) in Level::ALL.into_iter().enumerate() {
            for round in 1..=ROUNDS {
                let seed = test * 1_000 + (l * 100 + round) as u64;
                failures.extend(self.round(phase, level, round, seed));
            }
        }
        assert!(
            failures.is_empty(),
            "{} round(s) failed:\n\n{}",
            failures.len(),
            failures.join("\n\n")
        );
    }

    fn round(&mut self, phase: Phase, level: Level, round: usize, seed: u64) -> Option<String> {
        let mut rng = XorShift::new(seed);
        let (athlete, third, jobs) = self.setup_round(&mut rng);
        let context = format!(
            "{phase:?}, {}, round {round}/{ROUNDS} (seed {seed}), athlete {athlete}, no-show of booking {third}",
            level.name()
        );
        // Free-for-all: each session starts 0-60 ms after the barrier, the no-show early, in
        // the middle or late in that spread (by round), so that some requests commit before
        // the mark and some meet it.
        let no_show_at = [1_000, 15_000, 35_000][(round - 1) % 3];
        let delays: Vec<Duration> = (0..=jobs.len())
            .map(|i| match phase {
                Phase::Held => Duration::ZERO,
                Phase::Free if i == jobs.len() => {
                    Duration::from_micros(no_show_at + rng.below(5_000))
                }
                Phase::Free => Duration::from_micros(rng.below(60_000)),
            })
            .collect();
        let (answers, no_show) = self.race(phase, level, &athlete, &third, &jobs, &delays);
        let mut problems = Vec::new();
        check_answers(phase, level, &jobs, &answers, &no_show, &mut problems);
        let end = observe(&mut self.observer, &athlete, false);
        check_state(phase, &answers, &no_show, &end, &mut problems);
        self.check_suspended(&athlete, &third, &mut problems);

        let mut codes: BTreeMap<String, usize> = BTreeMap::new();
        for a in &answers {
            let key = match &a.result {
                Ok(_) => "accepted".to_string(),
                Err(f) => f.code.clone(),
            };
            *codes.entry(key).or_default() += 1;
        }
        let retries: usize = answers.iter().map(|a| a.retries).sum();
        let summary = format!(
            "{context}: {codes:?}, {retries} retried 40001s; no-show: {:?}; {} waited on a lock at its commit; \
             held during the mark: {} booking(s), {} entr(y/ies)",
            no_show.answer.as_ref().map(|a| &a.result),
            no_show.waiting_at_commit,
            no_show.during.as_ref().map_or(0, |h| h.bookings.len()),
            no_show.during.as_ref().map_or(0, |h| h.entries.len()),
        );
        println!("{summary}");
        (!problems.is_empty()).then(|| {
            let lines: Vec<String> = jobs
                .iter()
                .zip(&answers)
                .enumerate()
                .map(|(i, (job, a))| format!("   session {i}: {job:?} -> {:?}", a))
                .collect();
            format!(
                "{} problem(s):\n - {}\n{summary}\n{}",
                problems.len(),
                problems.join("\n - "),
                lines.join("\n")
            )
        })
    }

    /// A fresh athlete with two strikes and a third booking in a slot that has started; the
    /// slots and bookings their sessions will race for. Returns (athlete, third booking, jobs).
    fn setup_round(&mut self, rng: &mut XorShift) -> (String, String, Vec<Job>) {
        self.suspects += 1;
        let athlete = common::users(
            &mut self.dba,
            &format!("susp.athlete{}.", self.suspects),
            "athlete",
            1,
        )
        .remove(0);
        // Three slots that started 5, 4 and 3 hours ago (a minute apart per round), ended an
        // hour later: all inside the 24-hour grace, so they can still be marked.
        let now = common::server_now_us(&mut self.dba);
        let minute = self.suspects as i64;
        let past: Vec<PastSlot> = [4, 3, 2]
            .iter()
            .map(|h| PastSlot {
                trainer: self.trainer.clone(),
                ends_in_ms: -(h * 3_600_000) + minute * 60_000,
                minutes: 60,
                capacity: 3,
            })
            .collect();
        let bookings: Vec<Vec<(String, &str)>> = (0..3)
            .map(|_| vec![(athlete.clone(), "reserved")])
            .collect();
        let (_, past_bookings) = common::write_history(&mut self.dba, now, &past, &bookings);
        for strike in &past_bookings[..2] {
            let mark: String = self
                .dba
                .query_one(
                    "SELECT a.mark::text FROM gym_booking.mark_attendance($1::text::uuid, 'no_show') AS a",
                    &[&strike[0]],
                )
                .unwrap_or_else(|e| panic!("setup: the DBA marks a no-show: {e:?}"))
                .get(0);
            assert_eq!(mark, "no_show", "setup: mark_attendance's answer");
        }
        let (strikes, until): (i64, Option<String>) = {
            let row = self
                .dba
                .query_one(
                    "SELECT strikes, suspended_until::text FROM gym_booking.athlete_suspension($1::text::uuid)",
                    &[&athlete],
                )
                .expect("setup: athlete_suspension");
            (row.get(0), row.get(1))
        };
        assert_eq!(
            (strikes, until),
            (2, None),
            "setup: two no-shows under a limit of three are two strikes and no suspension"
        );

        // The race's slots, three days ahead, an hour apart: one per session.
        let kinds: Vec<u8> = (0..SESSIONS).map(|i| (i % 5) as u8).collect();
        let slots: Vec<String> = self
            .dba
            .query(
                "INSERT INTO gym_booking.slots (trainer_id, start_at, duration_minutes, capacity)
                 SELECT $1::text::uuid,
                        date_trunc('hour', now()) + interval '3 days' + make_interval(hours => $2::int + g),
                        60, CASE WHEN ($3::int[])[g + 1] = 4 THEN 1 ELSE 2 END
                   FROM generate_series(0, $4::int - 1) AS g ORDER BY g
                 RETURNING id::text",
                &[
                    &self.trainer,
                    &self.next_hour,
                    &kinds.iter().map(|k| *k as i32).collect::<Vec<i32>>(),
                    &(SESSIONS as i32),
                ],
            )
            .expect("setup: the race's slots")
            .iter()
            .map(|r| r.get(0))
            .collect();
        self.next_hour += SESSIONS as i32;
        let mut jobs = Vec::new();
        for (i, (slot, kind)) in slots.into_iter().zip(kinds).enumerate() {
            let job = match kind {
                0 => Job::Book { slot },
                1 => Job::Insert { slot },
                2 | 3 => {
                    // Booked and cancelled by the athlete, through the API, before the race.
                    let booking = self.api_book(&athlete, &slot);
                    postgrest_request(
                        &mut self.dba,
                        &user(&athlete),
                        "POST",
                        "/rpc/cancel_booking",
                        |tx| {
                            tx.execute(
                                "SELECT gym_booking.cancel_booking($1::text::uuid)",
                                &[&booking],
                            )
                        },
                    )
                    .unwrap_or_else(|e| panic!("setup: the athlete cancels {booking}: {e:?}"));
                    if kind == 2 {
                        Job::Reactivate { slot, booking }
                    } else {
                        Job::Patch { booking }
                    }
                }
                _ => {
                    // Full (capacity 1): a filler holds the place.
                    let filler = self.fillers[i % self.fillers.len()].clone();
                    self.api_book(&filler, &slot);
                    Job::Join { slot }
                }
            };
            jobs.push(job);
        }
        shuffle(&mut jobs, rng);
        (athlete, past_bookings[2][0].clone(), jobs)
    }

    fn api_book(&mut self, athlete: &str, slot: &str) -> String {
        postgrest_request(
            &mut self.dba,
            &user(athlete),
            "POST",
            "/rpc/book_slot",
            |tx| {
                tx.query_one(
                    "SELECT b.id::text FROM gym_booking.book_slot($1::text::uuid) AS b",
                    &[&slot],
                )
                .map(|r| r.get::<_, String>(0))
            },
        )
        .unwrap_or_else(|e| panic!("setup: {athlete} books {slot}: {e:?}"))
    }

    /// The race: the trainer's no-show against the athlete's 32 sessions.
    fn race(
        &mut self,
        phase: Phase,
        level: Level,
        athlete: &str,
        third: &str,
        jobs: &[Job],
        delays: &[Duration],
    ) -> (Vec<Answer<Made>>, NoShow) {
        let barrier = Barrier::new(jobs.len() + 1);
        let done: Vec<AtomicBool> = jobs.iter().map(|_| AtomicBool::new(false)).collect();
        let trainer = self.trainer.clone();
        let (observer, monitor, marker) = (&mut self.observer, &mut self.monitor, &mut self.marker);
        let pids = &self.pids[..jobs.len()];
        thread::scope(|s| {
            let (barrier, done) = (&barrier, &done);
            let handles: Vec<_> = self
                .sessions
                .iter_mut()
                .zip(jobs)
                .enumerate()
                .map(|(i, (client, job))| {
                    let delay = delays[i];
                    s.spawn(move || {
                        let gate = || {
                            barrier.wait();
                            thread::sleep(delay);
                        };
                        let answer = request(client, level, &user(athlete), &gate, |tx| {
                            perform(tx, athlete, job)
                        });
                        done[i].store(true, Ordering::SeqCst);
                        answer
                    })
                })
                .collect();
            let no_show = s.spawn(move || match phase {
                Phase::Held => held_no_show(
                    marker, observer, monitor, level, &trainer, athlete, third, barrier, pids, done,
                ),
                Phase::Free => {
                    let delay = delays[jobs.len()];
                    free_no_show(
                        marker, observer, level, &trainer, athlete, third, barrier, delay,
                    )
                }
            });
            let answers = handles
                .into_iter()
                .map(|h| h.join().expect("a session panicked"))
                .collect();
            (
                answers,
                no_show.join().expect("the no-show's session panicked"),
            )
        })
    }

    /// One athlete suspended on their own (no race): the refusal of each way to book reads
    /// exactly as SPEC.md gives it, message and DETAIL. Returns what differs.
    pub fn refusal_wording(&mut self) -> Vec<String> {
        let mut rng = XorShift::new(7);
        let (athlete, third, jobs) = self.setup_round(&mut rng);
        postgrest_request(
            &mut self.marker,
            &user(&self.trainer),
            "POST",
            "/rpc/mark_attendance",
            |tx| tx.execute(MARK, &[&third]),
        )
        .expect("the trainer marks the third no-show");
        let expected_until: String = self
            .dba
            .query_one(
                "SELECT to_char((s.start_at + interval '7 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')
                   FROM gym_booking.bookings AS b JOIN gym_booking.slots AS s ON s.id = b.slot_id
                  WHERE b.id = $1::text::uuid",
                &[&third],
            )
            .unwrap()
            .get(0);
        let expected =
            format!("Suspended until {expected_until} (UTC): 3 no-shows within the last 30 days.");
        let mut differences = Vec::new();
        let mut seen = BTreeSet::new();
        for job in &jobs {
            let kind = format!("{job:?}")
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_string();
            if !seen.insert(kind.clone()) {
                continue;
            }
            let answer = postgrest_request(&mut self.dba, &user(&athlete), "POST", "/rpc", |tx| {
                perform(tx, &athlete, job)
            });
            match answer {
                Ok(made) => differences.push(format!("{kind}: accepted {made:?}")),
                Err(e) => {
                    let f = Failure::of(&e);
                    if f.code != SUSPENDED
                        || f.message != SUSPENDED_MESSAGE
                        || f.detail.as_deref() != Some(expected.as_str())
                    {
                        differences.push(format!(
                            "{kind}: {}\n   SPEC.md: {SUSPENDED} {SUSPENDED_MESSAGE} (DETAIL: {expected})",
                            f.show()
                        ));
                    }
                }
            }
        }
        differences
    }
}

/// One of the athlete's requests.
fn perform(tx: &mut Transaction<'_>, athlete: &str, job: &Job) -> Result<Made, postgres::Error> {
    let booking = |row: postgres::Row| Made::Booking(row.get(0));
    match job {
        Job::Book { slot } | Job::Reactivate { slot, .. } => tx
            .query_one(
                "SELECT b.id::text FROM gym_booking.book_slot($1::text::uuid) AS b",
                &[slot],
            )
            .map(booking),
        Job::Insert { slot } => tx
            .query_one(
                "INSERT INTO gym_booking.bookings (slot_id, user_id)
                 VALUES ($1::text::uuid, $2::text::uuid) RETURNING id::text",
                &[slot, &athlete],
            )
            .map(booking),
        Job::Patch { booking: id } => tx
            .query_one(
                "UPDATE gym_booking.bookings SET status = 'reserved'
                  WHERE id = $1::text::uuid RETURNING id::text",
                &[id],
            )
            .map(booking),
        Job::Join { slot } => tx
            .query_one(
                "SELECT e.id::text FROM gym_booking.join_waitlist($1::text::uuid) AS e",
                &[slot],
            )
            .map(|row| Made::Entry(row.get(0))),
    }
}

const MARK: &str =
    "SELECT a.mark::text FROM gym_booking.mark_attendance($1::text::uuid, 'no_show') AS a";

/// Held phase: mark, release the sessions, wait until each of them waits on a lock (or has
/// answered, which it must not), read, commit, read again.
#[allow(clippy::too_many_arguments)]
fn held_no_show(
    marker: &mut Client,
    observer: &mut Client,
    monitor: &mut Client,
    level: Level,
    trainer: &str,
    athlete: &str,
    third: &str,
    barrier: &Barrier,
    pids: &[i32],
    done: &[AtomicBool],
) -> NoShow {
    let mut out = NoShow::default();
    let mut tx = match begin(marker, level, &user(trainer)) {
        Ok(tx) => tx,
        Err(e) => {
            barrier.wait();
            out.answer = Some(Answer {
                result: Err(Failure::of(&e)),
                retries: 0,
            });
            return out;
        }
    };
    let marked = tx.query_one(MARK, &[&third]).map(|r| r.get::<_, String>(0));
    barrier.wait();
    if let Err(e) = marked {
        let _ = tx.rollback();
        out.answer = Some(Answer {
            result: Err(Failure::of(&e)),
            retries: 0,
        });
        return out;
    }
    // Every session reaches the athlete's row and waits (20 s at most: a session that never
    // waits is a finding, reported below, not a hang).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = monitor
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1) AND wait_event_type = 'Lock'",
                &[&pids],
            )
            .expect("monitor")
            .get(0);
        let answered = done.iter().filter(|d| d.load(Ordering::SeqCst)).count();
        out.waiting_at_commit = waiting as usize;
        if waiting as usize + answered >= pids.len() || Instant::now() > deadline {
            break;
        }
        thread::sleep(Duration::from_millis(5));
    }
    out.answered_early = done
        .iter()
        .enumerate()
        .filter(|(_, d)| d.load(Ordering::SeqCst))
        .map(|(i, _)| i)
        .collect();
    out.during = Some(observe(observer, athlete, false));
    let committed = tx.commit();
    out.after = Some(observe(observer, athlete, true));
    out.answer = Some(Answer {
        result: committed
            .map(|()| "no_show".to_string())
            .map_err(|e| Failure::of(&e)),
        retries: 0,
    });
    out
}

/// Free-for-all: released with the sessions; reads between its mark and its commit.
#[allow(clippy::too_many_arguments)]
fn free_no_show(
    marker: &mut Client,
    observer: &mut Client,
    level: Level,
    trainer: &str,
    athlete: &str,
    third: &str,
    barrier: &Barrier,
    delay: Duration,
) -> NoShow {
    let mut during = None;
    let gate = || {
        barrier.wait();
        thread::sleep(delay);
    };
    let answer = request(marker, level, &user(trainer), &gate, |tx| {
        let mark = tx.query_one(MARK, &[&third])?.get::<_, String>(0);
        // Still holding the athlete's row: whatever booking of theirs has committed is here.
        during = Some(observe(observer, athlete, false));
        Ok(mark)
    });
    let after = Some(observe(observer, athlete, true));
    NoShow {
        answer: Some(answer),
        during,
        after,
        ..NoShow::default()
    }
}

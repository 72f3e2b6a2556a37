//! Waitlists under concurrency (issue 12; docs/studio-week.md, "Waitlists"): the failure modes
//! other booking systems shipped — a waitlist that never promotes after a cancellation or a
//! capacity increase, an outsider taking the freed place first, a promoted athlete offered the
//! place again — raced on real connections.
//!
//! Each round makes a fresh slot, fills it (holders book through the API), queues athletes on
//! its waitlist one after the other (so their join order is known), then releases at least 32
//! sessions together with a `std::sync::Barrier`: holders cancelling their places, athletes
//! joining the waitlist, outsiders (neither holding a place nor waiting) calling `book_slot`,
//! and in one test the slot's trainer raising its capacity. Every request is what PostgREST
//! sends (`authenticated`, the athlete's JWT claims), at READ COMMITTED exactly as PostgREST
//! does, and at REPEATABLE READ and SERIALIZABLE, where each session's snapshot is taken before
//! the barrier and a client retries a serialization failure (40001) a few times: 40001 is
//! counted as retryable there, never at READ COMMITTED. Slots of capacity 1, 2 and 20.
//!
//! Checked for every round (`checks::check`), with a summary of the round on failure:
//! - no client meets anything but a documented refusal: no 40P01 (deadlock), no 55P03 (lock
//!   not available), no XX000 (internal error), no 40001 at READ COMMITTED;
//! - never more reserved than capacity, in a monitor's samples during the race and after it;
//!   no sample shows a free place while someone waits (promotion commits with the change that
//!   freed the place);
//! - the freed places go to the queue first, in join order (`queue_no`): the athletes queued
//!   before the race are promoted first, in their order, the order of their `waitlist_promoted`
//!   events is the queue's, and nobody is promoted while someone ahead of them still waits;
//! - nobody is promoted twice (one entry, one event each) and a promoted athlete no longer
//!   waits: their entry ended, with the reserved, `auto_processed` booking it made;
//! - while an eligible athlete waits, no outsider books a freed place (refused as full,
//!   23P01) and no joiner is told a place is free; when more places free than athletes wait,
//!   an outsider books only after the queue was served;
//! - a capacity increase promotes the next waiters;
//! - every table row agrees with what its client was told, and a refused request left none.
//!
//! The churn (`waitlist_race/churn.rs`) then runs 32 athletes on one slot for 20 iterations,
//! each holder cancelling, each waiter leaving or booking the place themselves, everyone else
//! booking or joining, and checks the slot between iterations (nothing in flight).
//!
//! The precise schedules of these races (a join or an outsider's booking in flight while a
//! place frees, a leave racing its own promotion) are isolation specs:
//! tests/isolation/specs/waitlist_*.spec.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::thread;

use gym_booking_integration::{TestDb, XorShift};
use postgres::Client;

#[path = "waitlist_race/checks.rs"]
mod checks;
#[path = "waitlist_race/churn.rs"]
mod churn;
#[path = "waitlist_race/setup.rs"]
mod setup;

use checks::{Job, Reply, Request, Round};
use setup::{caller, request, Level};

/// Sessions released together in every round, at least.
const SESSIONS: usize = 32;
/// Rounds per isolation level and plan, each on a fresh slot with a fresh cast.
const ROUNDS: usize = 3;
/// Athletes of the studio; each round casts some of them.
const ATHLETES: usize = 64;

/// Who does what in a round.
struct Plan {
    /// The slot's capacity; every place is held when the race starts.
    capacity: i32,
    /// The trainer raises the capacity to this during the race.
    raise_to: Option<i32>,
    /// Holders who cancel their place during the race.
    cancellers: usize,
    /// Athletes who joined the waitlist before the race, one after the other.
    queued: usize,
    /// Athletes who join the waitlist during the race.
    joiners: usize,
    /// Athletes who call `book_slot` during the race.
    outsiders: usize,
}

impl Plan {
    fn sessions(&self) -> usize {
        self.cancellers + self.joiners + self.outsiders + usize::from(self.raise_to.is_some())
    }

    fn athletes(&self) -> usize {
        self.capacity as usize + self.queued + self.joiners + self.outsiders
    }
}

/// One test's database: a trainer, the athletes, and a connection per session.
struct Studio {
    setup: Client,
    monitor: Client,
    sessions: Vec<Client>,
    trainer: String,
    athletes: Vec<String>,
    next_hours: i32,
}

impl Studio {
    fn new(test: &str, plans: &[Plan]) -> Studio {
        let db = TestDb::with_extension(test);
        let mut setup = db.connect();
        let (trainer, athletes) = setup::people(&mut setup, ATHLETES as i32);
        let sessions = plans.iter().map(Plan::sessions).fold(SESSIONS, usize::max);
        for plan in plans {
            assert!(
                plan.sessions() >= SESSIONS,
                "a plan races fewer than {SESSIONS} sessions"
            );
            assert!(
                plan.athletes() <= ATHLETES,
                "a plan needs more than {ATHLETES} athletes"
            );
            assert!(plan.cancellers <= plan.capacity as usize);
        }
        Studio {
            monitor: db.connect(),
            sessions: (0..sessions).map(|_| db.connect()).collect(),
            setup,
            trainer,
            athletes,
            next_hours: 0,
        }
    }

    /// Every plan, at every level, `ROUNDS` times; fails at the end with every failed round.
    fn run_all(&mut self, test: u64, plans: &[Plan]) {
        let mut failures = Vec::new();
        for (l, level) in Level::ALL.into_iter().enumerate() {
            for (p, plan) in plans.iter().enumerate() {
                for round in 1..=ROUNDS {
                    let seed = test * 1_000_000 + (l * 1_000 + p * 10 + round) as u64;
                    failures.extend(self.round(level, plan, round, seed));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} round(s) failed:\n\n{}",
            failures.len(),
            failures.join("\n\n")
        );
    }

    /// One round: cast, set up, race, check. Returns what went wrong, with a summary.
    fn round(&mut self, level: Level, plan: &Plan, round: usize, seed: u64) -> Option<String> {
        let mut rng = XorShift::new(seed);
        let mut pool = self.athletes.clone();
        shuffle(&mut pool, &mut rng);
        let mut pool = pool.into_iter();
        let mut cast = |n: usize, role: &str, labels: &mut BTreeMap<String, String>| {
            let people: Vec<String> = pool.by_ref().take(n).collect();
            for (i, person) in people.iter().enumerate() {
                labels.insert(person.clone(), format!("{role} {}", i + 1));
            }
            people
        };
        let mut labels = BTreeMap::from([(self.trainer.clone(), "the trainer".to_string())]);
        let holders = cast(plan.capacity as usize, "holder", &mut labels);
        let queued = cast(plan.queued, "queued", &mut labels);
        let joiners = cast(plan.joiners, "joiner", &mut labels);
        let outsiders = cast(plan.outsiders, "outsider", &mut labels);

        let slot = setup::slot(
            &mut self.setup,
            &self.trainer,
            plan.capacity,
            self.next_hours,
        );
        self.next_hours += 2;
        let holders: Vec<(String, String)> = holders
            .into_iter()
            .map(|a| {
                let booking = setup::book_now(&mut self.setup, &a, &slot);
                (a, booking)
            })
            .collect();
        let queued: Vec<(String, setup::Joined)> = queued
            .into_iter()
            .map(|a| {
                let joined = setup::join_now(&mut self.setup, &a, &slot);
                (a, joined)
            })
            .collect();
        // First come, first served: each join is behind the ones before it.
        for pair in queued.windows(2) {
            assert!(
                pair[0].1.queue_no < pair[1].1.queue_no && pair[1].1.state == "waiting",
                "setup: joins one after the other got {:?} then {:?}",
                pair[0].1,
                pair[1].1
            );
        }

        let mut jobs: Vec<Job> = holders
            .iter()
            .take(plan.cancellers)
            .map(|(athlete, booking)| Job::Cancel {
                athlete: athlete.clone(),
                booking: booking.clone(),
            })
            .chain(plan.raise_to.map(|to| Job::Raise {
                trainer: self.trainer.clone(),
                to,
            }))
            .chain(joiners.into_iter().map(|athlete| Job::Join { athlete }))
            .chain(outsiders.into_iter().map(|athlete| Job::Book { athlete }))
            .collect();
        shuffle(&mut jobs, &mut rng);

        let (requests, watch) = race(&mut self.sessions, &mut self.monitor, level, &slot, &jobs);

        let context = format!(
            "{}, capacity {}{}, round {round}/{ROUNDS} (seed {seed}), slot {slot}",
            level.name(),
            plan.capacity,
            plan.raise_to
                .map(|to| format!(" raised to {to}"))
                .unwrap_or_default()
        );
        let facts = Round {
            context,
            level,
            capacity: plan.capacity,
            holders: &holders,
            queued: &queued,
            labels: &labels,
        };
        let state = match checks::read(&mut self.setup, &slot) {
            Ok(state) => state,
            Err(e) => {
                let summary = checks::summary(&facts, &requests, None, &watch);
                return Some(format!("{e}\n{summary}"));
            }
        };
        let summary = checks::summary(&facts, &requests, Some(&state), &watch);
        println!("{summary}");
        let problems = checks::check(&facts, &requests, &state, &watch);
        (!problems.is_empty()).then(|| {
            format!(
                "{} problem(s):\n - {}\n{summary}",
                problems.len(),
                problems.join("\n - ")
            )
        })
    }
}

/// Runs every job on a session of its own, released together, while the monitor samples.
fn race(
    sessions: &mut [Client],
    monitor: &mut Client,
    level: Level,
    slot: &str,
    jobs: &[Job],
) -> (Vec<Request>, checks::Watch) {
    let barrier = Barrier::new(jobs.len());
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        let (barrier, stop) = (&barrier, &stop);
        let watcher = s.spawn(move || checks::watch(monitor, slot, true, stop));
        let handles: Vec<_> = sessions
            .iter_mut()
            .zip(jobs)
            .map(|(client, job)| s.spawn(move || perform(client, level, job, slot, barrier)))
            .collect();
        let joined: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        // Stop the monitor before anything can panic here, or the scope would wait for it.
        stop.store(true, Ordering::Release);
        let watch = watcher.join().expect("the monitor panicked");
        let requests = joined
            .into_iter()
            .map(|r| r.expect("a session panicked"))
            .collect();
        (requests, watch)
    })
}

/// One session's request, through the API as PostgREST sends it.
fn perform(client: &mut Client, level: Level, job: &Job, slot: &str, barrier: &Barrier) -> Request {
    let answer = match job {
        Job::Cancel { athlete, booking } => request(
            client,
            level,
            &caller(athlete),
            ("POST", "/rpc/cancel_booking"),
            barrier,
            |tx| setup::cancel(tx, booking).map(Reply::Cancelled),
        ),
        Job::Join { athlete } => request(
            client,
            level,
            &caller(athlete),
            ("POST", "/rpc/join_waitlist"),
            barrier,
            |tx| setup::join(tx, slot).map(Reply::Joined),
        ),
        Job::Book { athlete } => request(
            client,
            level,
            &caller(athlete),
            ("POST", "/rpc/book_slot"),
            barrier,
            |tx| setup::book(tx, slot).map(|(booking, status)| Reply::Booked { booking, status }),
        ),
        Job::Raise { trainer, to } => request(
            client,
            level,
            &caller(trainer),
            ("PATCH", "/slots"),
            barrier,
            |tx| setup::set_capacity(tx, slot, *to).map(Reply::Raised),
        ),
    };
    Request {
        job: job.clone(),
        answer,
    }
}

/// Fisher-Yates, with the round's PRNG.
fn shuffle<T>(items: &mut [T], rng: &mut XorShift) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i as u64 + 1) as usize);
    }
}

/// Holders cancel while the queue is longer than the places they free: every freed place goes
/// to the athletes queued before the race, in their order, in the transaction that freed it;
/// the slot is full at every commit, so every outsider is refused (23P01) and every joiner
/// queues behind.
#[test]
fn cancellations_promote_the_queue_in_join_order() {
    let plans = [
        Plan {
            capacity: 1,
            raise_to: None,
            cancellers: 1,
            queued: 2,
            joiners: 16,
            outsiders: 15,
        },
        Plan {
            capacity: 2,
            raise_to: None,
            cancellers: 2,
            queued: 3,
            joiners: 15,
            outsiders: 15,
        },
        Plan {
            capacity: 20,
            raise_to: None,
            cancellers: 12,
            queued: 14,
            joiners: 10,
            outsiders: 10,
        },
    ];
    Studio::new("waitlist_race_queue", &plans).run_all(1, &plans);
}

/// More places free than athletes queued before the race (none at all for capacity 1): the
/// queue is served first, then a joiner whose join meets a full slot waits and is promoted by
/// the next cancellation, or meets a free place and is told to book it (22023), and an
/// outsider may book what nobody waits for — but never a place while someone eligible waits,
/// and never before the queue was served. Afterwards no place is free while anyone waits.
#[test]
fn places_beyond_the_queue_go_to_waiters_before_outsiders() {
    let plans = [
        Plan {
            capacity: 1,
            raise_to: None,
            cancellers: 1,
            queued: 0,
            joiners: 16,
            outsiders: 15,
        },
        Plan {
            capacity: 2,
            raise_to: None,
            cancellers: 2,
            queued: 1,
            joiners: 15,
            outsiders: 15,
        },
        Plan {
            capacity: 20,
            raise_to: None,
            cancellers: 16,
            queued: 4,
            joiners: 8,
            outsiders: 8,
        },
    ];
    Studio::new("waitlist_race_beyond", &plans).run_all(2, &plans);
}

/// The slot's trainer raises its capacity (a plain `UPDATE`, as `PATCH /slots`) while holders
/// cancel, athletes join and outsiders book: the new places go to the next waiters, in join
/// order, in the trainer's transaction; no outsider gets one.
#[test]
fn a_capacity_increase_promotes_the_next_waiters() {
    let plans = [
        Plan {
            capacity: 1,
            raise_to: Some(3),
            cancellers: 1,
            queued: 4,
            joiners: 15,
            outsiders: 15,
        },
        Plan {
            capacity: 2,
            raise_to: Some(5),
            cancellers: 2,
            queued: 6,
            joiners: 15,
            outsiders: 14,
        },
        Plan {
            capacity: 17,
            raise_to: Some(20),
            cancellers: 8,
            queued: 12,
            joiners: 12,
            outsiders: 11,
        },
    ];
    Studio::new("waitlist_race_raise", &plans).run_all(3, &plans);
}

/// The churn (`churn.rs`): 32 athletes on one slot of capacity 1, 2 and 20 cancel, join,
/// leave and book at once for several iterations, each checked while nothing is in flight.
#[test]
fn churn_of_cancellations_joins_leaves_and_bookings() {
    let mut studio = Studio::new("waitlist_race_churn", &[]);
    let mut failures = Vec::new();
    for level in Level::ALL {
        for capacity in [1, 2, 20] {
            let (problems, summary) = churn::churn(
                &mut studio.setup,
                &mut studio.monitor,
                &mut studio.sessions[..SESSIONS],
                (&studio.trainer, &studio.athletes),
                level,
                (capacity, studio.next_hours),
            );
            studio.next_hours += 2;
            println!("{summary}");
            if !problems.is_empty() {
                failures.push(format!("{summary}\n - {}", problems.join("\n - ")));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

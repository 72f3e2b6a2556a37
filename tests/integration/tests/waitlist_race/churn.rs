//! The churn: 32 athletes on one slot, released together for each of `ITERATIONS` rounds,
//! each doing what their place allows — a holder cancels, a waiting athlete leaves the list or
//! books the place themselves, anyone else joins the list or books — while the slot's freed
//! places are promoted under them. Between iterations (nothing in flight) the leader of the
//! barrier reads the slot back and checks it against the contract and against what each
//! athlete was told.
//!
//! A waiting athlete with a request of their own in flight may be skipped by a promotion
//! ("an athlete whose account row or entry another transaction is changing at that moment"),
//! so the order is checked against the waiters who sent nothing in the iteration (the idle
//! ones): nobody is promoted ahead of an idle waiter, and nobody books a place themselves while
//! an idle waiter is ahead of them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;

use gym_booking_integration::XorShift;
use postgres::Client;

use crate::checks::{self, notorious, State};
use crate::setup::{self, caller, request, Failure, Level};

/// Iterations of each churn.
pub const ITERATIONS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Act {
    /// A holder cancels (`cancel_booking`).
    Cancel,
    /// A waiting athlete leaves the list (`leave_waitlist`).
    Leave,
    /// A waiting athlete books the place themselves (`book_slot`).
    BookFromList,
    /// An athlete neither holding a place nor waiting joins the list (`join_waitlist`).
    Join,
    /// An athlete neither holding a place nor waiting books (`book_slot`).
    Book,
}

impl Act {
    /// Documented refusals in the churn (40001 besides, where the level allows it).
    fn refusals(self) -> &'static [&'static str] {
        match self {
            Act::Cancel => &[],
            // 42704: no longer waiting, because promoted meanwhile.
            Act::Leave => &["42704"],
            // 23P01: full, or an eligible athlete waits ahead.
            Act::BookFromList | Act::Book => &["23P01"],
            // 22023: a place is free to book now.
            Act::Join => &["22023"],
        }
    }

    /// What a successful call answers (the status or state of its row).
    fn answer(self) -> &'static str {
        match self {
            Act::Cancel => "cancelled",
            Act::Leave => "left",
            Act::BookFromList | Act::Book => "reserved",
            Act::Join => "waiting",
        }
    }
}

/// An athlete's place, read while nothing is in flight.
#[derive(Debug, Clone)]
struct Before {
    /// (booking id, status)
    booking: Option<(String, String)>,
    waiting: bool,
}

#[derive(Debug)]
struct Step {
    athlete: String,
    act: Act,
    before: Before,
    /// The status or state the call answered, or its failure.
    outcome: Result<String, Failure>,
}

/// What the sessions share.
struct Shared {
    level: Level,
    seed: u64,
    slot: String,
    capacity: i32,
    barrier: Barrier,
    labels: BTreeMap<String, String>,
    steps: Mutex<Vec<Step>>,
    /// The slot as the previous check (or the setup) left it.
    last: Mutex<State>,
    problems: Mutex<Vec<String>>,
    tally: Mutex<BTreeMap<String, usize>>,
}

impl Shared {
    fn label(&self, user: &str) -> String {
        self.labels
            .get(user)
            .cloned()
            .unwrap_or_else(|| format!("unknown user {user}"))
    }

    fn problem(&self, text: String) {
        self.problems.lock().unwrap().push(text);
    }
}

/// One churn on a fresh slot of `capacity`, at `level`, by the first `sessions.len()` of
/// `athletes`: the first `capacity` hold a place, the next 8 wait. Returns the problems found
/// (empty when every check held) and a summary.
pub fn churn(
    setup_client: &mut Client,
    monitor: &mut Client,
    sessions: &mut [Client],
    (trainer, athletes): (&str, &[String]),
    level: Level,
    (capacity, hours_later): (i32, i32),
) -> (Vec<String>, String) {
    let athletes = &athletes[..sessions.len()];
    let slot = setup::slot(setup_client, trainer, capacity, hours_later);
    let mut labels = BTreeMap::new();
    for (i, athlete) in athletes.iter().enumerate() {
        labels.insert(athlete.clone(), format!("athlete {}", i + 1));
        if i < capacity as usize {
            setup::book_now(setup_client, athlete, &slot);
        } else if i < capacity as usize + 8 {
            setup::join_now(setup_client, athlete, &slot);
        }
    }
    let last = match checks::read(setup_client, &slot) {
        Ok(state) => state,
        Err(e) => {
            return (
                vec![format!("read the slot after setup: {e}")],
                String::new(),
            )
        }
    };
    let shared = Shared {
        level,
        seed: (hours_later as u64 + 1) * 1_000,
        slot: slot.clone(),
        capacity,
        barrier: Barrier::new(sessions.len()),
        labels,
        steps: Mutex::new(Vec::new()),
        last: Mutex::new(last),
        problems: Mutex::new(Vec::new()),
        tally: Mutex::new(BTreeMap::new()),
    };
    let stop = AtomicBool::new(false);
    let watch = thread::scope(|s| {
        let (shared, stop, slot) = (&shared, &stop, slot.as_str());
        let watcher = s.spawn(move || checks::watch(monitor, slot, false, stop));
        let handles: Vec<_> = sessions
            .iter_mut()
            .zip(athletes)
            .enumerate()
            .map(|(i, (client, athlete))| s.spawn(move || session(client, athlete, i, shared)))
            .collect();
        let panicked = handles.into_iter().filter_map(|h| h.join().err()).count();
        stop.store(true, Ordering::Release);
        let watch = watcher.join().expect("the monitor panicked");
        assert_eq!(panicked, 0, "churn sessions panicked");
        watch
    });
    let mut problems = shared.problems.into_inner().unwrap();
    for v in &watch.violations {
        problems.push(format!("monitor, {v}"));
    }
    let tally = shared.tally.into_inner().unwrap();
    // A churn that never promoted anyone proved little about promotions.
    let promotions = match checks::read(setup_client, &slot) {
        Ok(state) => state.events_of("waitlist_promoted").count(),
        Err(e) => {
            problems.push(format!("read the slot after the churn: {e}"));
            0
        }
    };
    if promotions == 0 {
        problems.push("nobody was promoted in the whole churn".to_string());
    }
    let summary = format!(
        "churn at {}, capacity {capacity}, slot {slot}, {ITERATIONS} iterations: {tally:?}, \
         {promotions} promotions; monitor: {} samples, at most {} reserved",
        level.name(),
        watch.samples,
        watch.max_reserved
    );
    (problems, summary)
}

/// One athlete's session: each iteration read their place, act on it (or not), and let the
/// barrier's leader check the slot. Never panics: a problem is recorded, and the session keeps
/// meeting the others at the barrier.
fn session(client: &mut Client, athlete: &str, index: usize, shared: &Shared) {
    let mut rng = XorShift::new(shared.seed + index as u64);
    for iteration in 1..=ITERATIONS {
        shared.barrier.wait();
        let before = place(client, &shared.slot, athlete);
        let act = match &before {
            Ok(before) => choose(before, &mut rng),
            Err(e) => {
                shared.problem(format!(
                    "iteration {iteration}: {} could not read their place: {e:?}",
                    shared.label(athlete)
                ));
                None
            }
        };
        match (act, before) {
            (Some(act), Ok(before)) => {
                let outcome = perform(client, shared, athlete, act, &before);
                let key = format!(
                    "{act:?} {}",
                    outcome.as_ref().map_or_else(|f| f.code.as_str(), |_| "ok")
                );
                *shared.tally.lock().unwrap().entry(key).or_default() += 1;
                shared.steps.lock().unwrap().push(Step {
                    athlete: athlete.to_string(),
                    act,
                    before,
                    outcome,
                });
            }
            _ => {
                shared.barrier.wait();
            }
        }
        if shared.barrier.wait().is_leader() {
            check(client, shared, iteration);
        }
    }
}

/// The athlete's booking of the slot and whether they wait, as the DBA reads them.
fn place(client: &mut Client, slot: &str, athlete: &str) -> Result<Before, postgres::Error> {
    let row = client.query_one(
        "SELECT (SELECT id::text FROM gym_booking.bookings
                  WHERE slot_id = $1::text::uuid AND user_id = $2::text::uuid),
                (SELECT status::text FROM gym_booking.bookings
                  WHERE slot_id = $1::text::uuid AND user_id = $2::text::uuid),
                EXISTS (SELECT FROM gym_booking.waitlist_entries
                         WHERE slot_id = $1::text::uuid AND user_id = $2::text::uuid
                           AND state = 'waiting')",
        &[&slot, &athlete],
    )?;
    let (id, status): (Option<String>, Option<String>) = (row.get(0), row.get(1));
    Ok(Before {
        booking: id.zip(status),
        waiting: row.get(2),
    })
}

fn choose(before: &Before, rng: &mut XorShift) -> Option<Act> {
    let holds = before
        .booking
        .as_ref()
        .is_some_and(|(_, status)| status == "reserved");
    // Demand outruns supply: a holder seldom cancels, others mostly try to book, then queue.
    let roll = rng.below(4) as usize;
    if holds {
        (roll == 0).then_some(Act::Cancel)
    } else if before.waiting {
        [Some(Act::Leave), Some(Act::BookFromList), None, None][roll]
    } else {
        [Some(Act::Book), Some(Act::Book), Some(Act::Join), None][roll]
    }
}

/// The act as a PostgREST request; meets the barrier once (inside `request`).
fn perform(
    client: &mut Client,
    shared: &Shared,
    athlete: &str,
    act: Act,
    before: &Before,
) -> Result<String, Failure> {
    let (slot, who, barrier) = (shared.slot.as_str(), caller(athlete), &shared.barrier);
    let answer = match act {
        Act::Cancel => {
            let booking = before.booking.as_ref().map(|(id, _)| id.as_str());
            let booking = booking.unwrap_or("00000000-0000-0000-0000-000000000000");
            request(
                client,
                shared.level,
                &who,
                ("POST", "/rpc/cancel_booking"),
                barrier,
                |tx| setup::cancel(tx, booking),
            )
        }
        Act::Leave => request(
            client,
            shared.level,
            &who,
            ("POST", "/rpc/leave_waitlist"),
            barrier,
            |tx| setup::leave(tx, slot),
        ),
        Act::BookFromList | Act::Book => request(
            client,
            shared.level,
            &who,
            ("POST", "/rpc/book_slot"),
            barrier,
            |tx| setup::book(tx, slot).map(|(_, status)| status),
        ),
        Act::Join => request(
            client,
            shared.level,
            &who,
            ("POST", "/rpc/join_waitlist"),
            barrier,
            |tx| setup::join(tx, slot).map(|j| j.state),
        ),
    };
    answer.result
}

/// The leader's check after an iteration: the slot against the contract, the previous state
/// and the answers.
fn check(client: &mut Client, shared: &Shared, iteration: usize) {
    let steps = std::mem::take(&mut *shared.steps.lock().unwrap());
    let now = match checks::read(client, &shared.slot) {
        Ok(state) => state,
        Err(e) => {
            shared.problem(format!("iteration {iteration}: read the slot: {e}"));
            return;
        }
    };
    let mut last = shared.last.lock().unwrap();
    let problems = judge(shared, &steps, &last, &now);
    if !problems.is_empty() {
        let steps: Vec<String> = steps
            .iter()
            .map(|s| {
                format!(
                    "{} {:?} (was {}{}) -> {}",
                    shared.label(&s.athlete),
                    s.act,
                    s.before.booking.as_ref().map_or("-", |(_, st)| st.as_str()),
                    if s.before.waiting { ", waiting" } else { "" },
                    match &s.outcome {
                        Ok(a) => a.clone(),
                        Err(f) => format!("{} {}", f.code, f.message),
                    }
                )
            })
            .collect();
        let queue: Vec<String> = now
            .entries
            .iter()
            .map(|e| format!("#{} {} {}", e.queue_no, shared.label(&e.user), e.state))
            .collect();
        shared.problem(format!(
            "{} churn, capacity {}, slot {}, iteration {iteration}: {}\n   steps: {steps:#?}\n   \
             {} reserved; waitlist now: {queue:?}",
            shared.level.name(),
            shared.capacity,
            shared.slot,
            problems.join("; "),
            now.reserved()
        ));
    }
    *last = now;
}

/// The problems of one iteration, from `before` (the slot when it started) to `now`.
fn judge(shared: &Shared, steps: &[Step], before: &State, now: &State) -> Vec<String> {
    let mut problems = Vec::new();
    let label = |u: &str| shared.label(u);

    // Only documented refusals reach a client, and each answer is what its table shows.
    for step in steps {
        let who = label(&step.athlete);
        match &step.outcome {
            Err(f) => {
                let code = f.code.as_str();
                if !step.act.refusals().contains(&code) && !shared.level.retryable().contains(&code)
                {
                    problems.push(format!(
                        "{who}: {:?} ended in {}{}: {}",
                        step.act,
                        f.code,
                        notorious(code),
                        f.message
                    ));
                }
            }
            Ok(answer) if answer != step.act.answer() => {
                problems.push(format!("{who}: {:?} answered {answer}", step.act));
            }
            Ok(_) => {}
        }
        let booking = now.bookings.get(&step.athlete).map(|b| b.status.as_str());
        let waits = now.waiting().any(|e| e.user == step.athlete);
        let fine = match (step.act, &step.outcome) {
            (Act::Cancel, Ok(_)) => booking == Some("cancelled") && !waits,
            (Act::Book | Act::BookFromList, Ok(_)) => booking == Some("reserved") && !waits,
            (Act::Join, Ok(_)) => waits || booking == Some("reserved"),
            (Act::Leave, Ok(_)) => !waits && booking != Some("reserved"),
            // Told "not waiting": promoted meanwhile, so holding a place.
            (Act::Leave, Err(f)) if f.code == "42704" => booking == Some("reserved") && !waits,
            _ => true,
        };
        if !fine {
            problems.push(format!(
                "{who}: {:?} answered {:?}, but now their booking is {booking:?} and waiting \
                 is {waits}",
                step.act, step.outcome
            ));
        }
    }

    // Never more reserved than capacity; no free place while anyone waits (nothing in flight).
    let reserved = now.reserved();
    let capacity = now.capacity as usize;
    let waiting = now.waiting().count();
    if reserved > capacity {
        problems.push(format!(
            "OVERBOOKED: {reserved} reserved for capacity {capacity}"
        ));
    }
    if reserved < capacity && waiting > 0 {
        problems.push(format!(
            "{reserved} reserved of {capacity} while {waiting} wait"
        ));
    }

    // One waiting entry at most; a place and a waiting entry never together; every entry in
    // a state this churn can lead to, a promoted one with the booking it made.
    let mut waiters = BTreeSet::new();
    for e in &now.entries {
        let who = label(&e.user);
        let booking = now.bookings.get(&e.user);
        match e.state.as_str() {
            "waiting" => {
                if !waiters.insert(e.user.as_str()) {
                    problems.push(format!("{who} waits twice"));
                }
                if booking.is_some_and(|b| b.status == "reserved") || e.ended {
                    problems.push(format!(
                        "{who} waits while holding a place, or ended: {e:?}"
                    ));
                }
            }
            "promoted" => {
                if !e.ended
                    || e.booking
                        .as_ref()
                        .is_some_and(|id| Some(id) != booking.map(|b| &b.id))
                {
                    problems.push(format!(
                        "{who}'s promoted entry {e:?} does not end with their booking {booking:?}"
                    ));
                }
            }
            "left" => {
                if !e.ended || e.booking.is_some() {
                    problems.push(format!("{who}'s entry {e:?} left with a booking or no end"));
                }
            }
            other => problems.push(format!("{who}'s entry is {other}")),
        }
    }

    // Promotions by the system (a new reservation marked auto_processed), each with one event
    // this iteration; promoted ahead of no idle waiter.
    let acted: BTreeSet<&str> = steps.iter().map(|s| s.athlete.as_str()).collect();
    let idle_waiters: Vec<(i64, &str)> = now
        .waiting()
        .filter(|e| before.waiting().any(|b| b.id == e.id) && !acted.contains(e.user.as_str()))
        .map(|e| (e.queue_no, e.user.as_str()))
        .collect();
    let last_event = before.events.iter().map(|e| e.id).max().unwrap_or(0);
    let mut told: BTreeMap<&str, usize> = BTreeMap::new();
    for ev in now
        .events_of("waitlist_promoted")
        .filter(|ev| ev.id > last_event)
    {
        *told
            .entry(ev.recipient.as_deref().unwrap_or("(nobody)"))
            .or_default() += 1;
    }
    for (user, b) in &now.bookings {
        let was_reserved = before
            .bookings
            .get(user)
            .is_some_and(|old| old.status == "reserved");
        if b.status != "reserved" || was_reserved {
            continue;
        }
        let who = label(user);
        // Their entry promoted in this iteration (joined before it or in it).
        let entry = now
            .promoted()
            .filter(|e| e.user == *user)
            .find(|e| !before.promoted().any(|old| old.id == e.id));
        let events = told.remove(user.as_str()).unwrap_or(0);
        if b.auto {
            // Promoted by the change that freed the place.
            let Some(entry) = entry else {
                problems.push(format!(
                    "{who} got a place by the system, but no entry was promoted"
                ));
                continue;
            };
            if events != 1 {
                problems.push(format!("{who} was promoted and told so {events} times"));
            }
            if let Some((q, idle)) = idle_waiters.iter().find(|(q, _)| *q < entry.queue_no) {
                problems.push(format!(
                    "{who} (#{}) was promoted ahead of {} (#{q}), who waited and sent nothing",
                    entry.queue_no,
                    label(idle)
                ));
            }
        } else {
            // Booked by the athlete: only with no idle waiter ahead of them.
            let mine = entry.map(|e| e.queue_no).unwrap_or(i64::MAX);
            if let Some((q, idle)) = idle_waiters.iter().find(|(q, _)| *q < mine) {
                problems.push(format!(
                    "{who} booked a freed place themselves while {} (#{q}) waited ahead and \
                     sent nothing",
                    label(idle)
                ));
            }
        }
    }
    for (user, n) in told {
        problems.push(format!(
            "{} was told of {n} promotion(s) but got no new place",
            label(user)
        ));
    }
    problems
}

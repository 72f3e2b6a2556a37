//! What a waitlist race left behind, read back after the requests end (and sampled while they
//! run), and every property the contract promises of it (docs/studio-week.md, "Waitlists").

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use postgres::Client;

use crate::setup::{Answer, Joined, Level};

/// A request one session makes in the race.
#[derive(Debug, Clone)]
pub enum Job {
    /// A holder cancels their place (`POST /rpc/cancel_booking`).
    Cancel { athlete: String, booking: String },
    /// An athlete joins the full slot's waitlist (`POST /rpc/join_waitlist`).
    Join { athlete: String },
    /// An outsider, neither holding a place nor waiting, books (`POST /rpc/book_slot`).
    Book { athlete: String },
    /// The slot's trainer raises its capacity (`PATCH /slots`).
    Raise { trainer: String, to: i32 },
}

impl Job {
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Cancel { .. } => "cancel",
            Job::Join { .. } => "join",
            Job::Book { .. } => "book",
            Job::Raise { .. } => "raise",
        }
    }

    pub fn who(&self) -> &str {
        match self {
            Job::Cancel { athlete, .. } | Job::Join { athlete } | Job::Book { athlete } => athlete,
            Job::Raise { trainer, .. } => trainer,
        }
    }

    /// The documented refusals this request may meet in a race (besides 40001 where the
    /// isolation level allows it). Anything else, above all 40P01 (deadlock), 55P03 (lock not
    /// available) and XX000 (internal error), must never reach the client.
    fn refusals(&self) -> &'static [&'static str] {
        match self {
            // The holder's own place, far from the cancellation window: always cancellable.
            Job::Cancel { .. } | Job::Raise { .. } => &[],
            // 22023: a place is free that the caller could book now (only once nobody eligible
            // waits; whether that may happen is checked per round).
            Job::Join { .. } => &["22023"],
            // 23P01: full, or the freed place is held for the waitlist.
            Job::Book { .. } => &["23P01"],
        }
    }
}

/// What a request returned when it succeeded.
#[derive(Debug, Clone)]
pub enum Reply {
    Cancelled(String),
    Joined(Joined),
    Booked { booking: String, status: String },
    Raised(u64),
}

#[derive(Debug, Clone)]
pub struct Request {
    pub job: Job,
    pub answer: Answer<Reply>,
}

/// A round's set-up, as the checks need it.
pub struct Round<'a> {
    /// Level, capacity, round and slot, for messages.
    pub context: String,
    pub level: Level,
    /// The capacity before the race.
    pub capacity: i32,
    /// Athletes holding a place before the race, with their booking ids.
    pub holders: &'a [(String, String)],
    /// Athletes waiting before the race, in the order they joined.
    pub queued: &'a [(String, Joined)],
    /// A readable name for every person (user id -> "queued 3", "outsider 7", ...).
    pub labels: &'a BTreeMap<String, String>,
}

impl Round<'_> {
    fn label(&self, user: &str) -> String {
        self.labels
            .get(user)
            .cloned()
            .unwrap_or_else(|| format!("unknown user {user}"))
    }
}

#[derive(Debug)]
pub struct Entry {
    pub id: String,
    pub user: String,
    pub queue_no: i64,
    pub state: String,
    pub ended: bool,
    pub booking: Option<String>,
}

#[derive(Debug)]
pub struct Booking {
    pub id: String,
    pub status: String,
    pub auto: bool,
}

#[derive(Debug)]
pub struct Event {
    pub id: i64,
    pub kind: String,
    pub recipient: Option<String>,
    pub booking: Option<String>,
}

/// The slot's rows after the race, read by the DBA.
pub struct State {
    pub capacity: i32,
    /// In queue order.
    pub entries: Vec<Entry>,
    /// By athlete.
    pub bookings: BTreeMap<String, Booking>,
    /// In order.
    pub events: Vec<Event>,
}

impl State {
    pub fn reserved(&self) -> usize {
        self.bookings
            .values()
            .filter(|b| b.status == "reserved")
            .count()
    }

    pub fn entries_of(&self, user: &str) -> Vec<&Entry> {
        self.entries.iter().filter(|e| e.user == user).collect()
    }

    pub fn waiting(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.state == "waiting")
    }

    pub fn promoted(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.state == "promoted")
    }

    pub fn events_of(&self, kind: &str) -> impl Iterator<Item = &Event> {
        let kind = kind.to_string();
        self.events.iter().filter(move |e| e.kind == kind)
    }
}

/// Reads the slot's capacity, waitlist entries, bookings and events (as the superuser, so
/// row-level security hides nothing). An error is returned as text for the test to report.
pub fn read(client: &mut Client, slot: &str) -> Result<State, String> {
    let capacity: i32 = client
        .query_one(
            "SELECT capacity::int FROM gym_booking.slots WHERE id = $1::text::uuid",
            &[&slot],
        )
        .map_err(|e| format!("read the slot: {e:?}"))?
        .get(0);
    let entries = client
        .query(
            "SELECT id::text, user_id::text, queue_no, state::text, ended_at IS NOT NULL,
                    booking_id::text
               FROM gym_booking.waitlist_entries
              WHERE slot_id = $1::text::uuid
              ORDER BY queue_no",
            &[&slot],
        )
        .map_err(|e| format!("read the waitlist entries: {e:?}"))?
        .iter()
        .map(|r| Entry {
            id: r.get(0),
            user: r.get(1),
            queue_no: r.get(2),
            state: r.get(3),
            ended: r.get(4),
            booking: r.get(5),
        })
        .collect();
    let bookings = client
        .query(
            "SELECT user_id::text, id::text, status::text, auto_processed
               FROM gym_booking.bookings
              WHERE slot_id = $1::text::uuid",
            &[&slot],
        )
        .map_err(|e| format!("read the bookings: {e:?}"))?
        .iter()
        .map(|r| {
            (
                r.get(0),
                Booking {
                    id: r.get(1),
                    status: r.get(2),
                    auto: r.get(3),
                },
            )
        })
        .collect();
    let events = client
        .query(
            "SELECT id, kind::text, recipient_id::text, booking_id::text
               FROM gym_booking.events
              WHERE slot_id = $1::text::uuid
              ORDER BY id",
            &[&slot],
        )
        .map_err(|e| format!("read the events: {e:?}"))?
        .iter()
        .map(|r| Event {
            id: r.get(0),
            kind: r.get(1),
            recipient: r.get(2),
            booking: r.get(3),
        })
        .collect();
    Ok(State {
        capacity,
        entries,
        bookings,
        events,
    })
}

/// What the monitor saw while the race ran.
#[derive(Debug, Default)]
pub struct Watch {
    pub samples: u64,
    pub max_reserved: i64,
    /// The first few samples that broke a rule (and how many did in all).
    pub violations: Vec<String>,
    pub violating_samples: u64,
}

/// Samples the slot from its own connection until `stop` (and once more after it), each
/// sample one statement, one snapshot: a committed state. After every commit the rules
/// promise (1) never more reserved than capacity and, when `idle_waiters` (every waiting
/// athlete eligible: no window, no limit, and none with a request of their own in flight that
/// a promotion would skip them for), (2) no free place while someone waits, since a promotion
/// commits with the change that freed the place.
pub fn watch(client: &mut Client, slot: &str, idle_waiters: bool, stop: &AtomicBool) -> Watch {
    let mut watch = Watch::default();
    loop {
        let last = stop.load(Ordering::Acquire);
        let sample = client.query_one(
            "SELECT s.capacity::int8,
                    (SELECT count(*) FROM gym_booking.bookings AS b
                      WHERE b.slot_id = s.id AND b.status = 'reserved'),
                    (SELECT count(*) FROM gym_booking.waitlist_entries AS w
                      WHERE w.slot_id = s.id AND w.state = 'waiting')
               FROM gym_booking.slots AS s
              WHERE s.id = $1::text::uuid",
            &[&slot],
        );
        watch.samples += 1;
        let broken = match sample {
            Ok(row) => {
                let (capacity, reserved, waiting): (i64, i64, i64) =
                    (row.get(0), row.get(1), row.get(2));
                watch.max_reserved = watch.max_reserved.max(reserved);
                if reserved > capacity {
                    Some(format!(
                        "OVERBOOKED: {reserved} reserved for capacity {capacity}"
                    ))
                } else if idle_waiters && reserved < capacity && waiting > 0 {
                    Some(format!(
                        "a free place while athletes wait: {reserved} reserved of {capacity}, \
                         {waiting} waiting"
                    ))
                } else {
                    None
                }
            }
            Err(e) => Some(format!("the sample failed: {e:?}")),
        };
        if let Some(broken) = broken {
            watch.violating_samples += 1;
            if watch.violations.len() < 5 {
                watch
                    .violations
                    .push(format!("sample {}: {broken}", watch.samples));
            }
        }
        if last {
            return watch;
        }
        thread::sleep(Duration::from_micros(300));
    }
}

/// Every property of the contract the round can show; empty when all hold.
pub fn check(r: &Round, requests: &[Request], s: &State, w: &Watch) -> Vec<String> {
    let mut problems = Vec::new();
    let mut problem = |text: String| problems.push(text);

    // What reached the clients: documented refusals only (40001 only where retryable).
    for q in requests {
        let who = r.label(q.job.who());
        match &q.answer.result {
            Err(f) => {
                let code = f.code.as_str();
                if !q.job.refusals().contains(&code) && !r.level.retryable().contains(&code) {
                    problem(format!(
                        "{} by {who} ended in {}{}: {}",
                        q.job.kind(),
                        f.code,
                        notorious(code),
                        f.message
                    ));
                }
            }
            Ok(reply) => {
                let wrong = match reply {
                    Reply::Cancelled(status) => status != "cancelled",
                    Reply::Joined(j) => j.state != "waiting",
                    Reply::Booked { status, .. } => status != "reserved",
                    Reply::Raised(rows) => *rows != 1,
                };
                if wrong {
                    problem(format!("{} by {who} answered {reply:?}", q.job.kind()));
                }
            }
        }
    }

    // The table agrees with what every client was told; a refused request left nothing.
    let mut capacity = r.capacity;
    let mut cancelled = 0usize;
    let mut outsiders_booked = Vec::new();
    for q in requests {
        let who = r.label(q.job.who());
        let ok = q.answer.result.as_ref().ok();
        match &q.job {
            Job::Cancel { athlete, booking } => {
                let status = s.bookings.get(athlete).map(|b| (&b.id, b.status.as_str()));
                let expected = if ok.is_some() {
                    "cancelled"
                } else {
                    "reserved"
                };
                if ok.is_some() {
                    cancelled += 1;
                }
                if status != Some((booking, expected)) {
                    problem(format!(
                        "{who} was answered {:?} but their booking is {status:?}, not {expected}",
                        q.answer.result
                    ));
                }
            }
            Job::Book { athlete } => {
                let row = s.bookings.get(athlete);
                match (ok, row) {
                    (Some(Reply::Booked { booking, .. }), Some(b))
                        if *booking == b.id && b.status == "reserved" =>
                    {
                        outsiders_booked.push((athlete.clone(), b.id.clone()))
                    }
                    (None, None) => {}
                    _ => problem(format!(
                        "{who} (an outsider) was answered {:?}; their booking row is {row:?}",
                        q.answer.result
                    )),
                }
                if !s.entries_of(athlete).is_empty() {
                    problem(format!("{who} (an outsider) has waitlist entries"));
                }
            }
            Job::Join { athlete } => {
                let ids: Vec<&str> = s
                    .entries_of(athlete)
                    .iter()
                    .map(|e| e.id.as_str())
                    .collect();
                let fine = match ok {
                    Some(Reply::Joined(j)) => ids == [j.entry.as_str()],
                    _ => ids.is_empty(),
                };
                if !fine {
                    problem(format!(
                        "{who} was answered {:?}; their entries are {ids:?}",
                        q.answer.result
                    ));
                }
            }
            Job::Raise { to, .. } => {
                if ok.is_some() {
                    capacity = *to;
                }
            }
        }
    }
    if s.capacity != capacity {
        problem(format!(
            "the slot's capacity is {}, expected {capacity}",
            s.capacity
        ));
    }
    let freed = cancelled + (capacity - r.capacity) as usize;
    // At READ COMMITTED every cancellation and raise succeeds (above); at REPEATABLE READ and
    // SERIALIZABLE all of them may have ended in 40001 even after retries, and the round then
    // shows only that nobody took a place that was never freed.
    if freed == 0 && r.level == Level::ReadCommitted {
        problem("no place was freed: the round proves nothing".to_string());
    }

    // Never more reserved than capacity, during the race or after it.
    let reserved = s.reserved();
    if reserved > s.capacity as usize {
        problem(format!(
            "OVERBOOKED: {reserved} reserved for capacity {}",
            s.capacity
        ));
    }
    for v in &w.violations {
        problem(format!("monitor, {v}"));
    }
    if w.violating_samples > w.violations.len() as u64 {
        problem(format!(
            "monitor: {} samples broke a rule in all",
            w.violating_samples
        ));
    }

    // Each entry is waiting, or promoted with its booking; a promoted athlete no longer waits.
    let mut seen = BTreeSet::new();
    for e in &s.entries {
        let who = r.label(&e.user);
        if !seen.insert(e.user.as_str()) {
            problem(format!("{who} has more than one waitlist entry"));
        }
        let booking = s.bookings.get(&e.user);
        match e.state.as_str() {
            "waiting" => {
                if e.ended || e.booking.is_some() {
                    problem(format!("{who} waits with an end or a booking: {e:?}"));
                }
                if booking.is_some_and(|b| b.status == "reserved") {
                    problem(format!("{who} holds a place and still waits"));
                }
            }
            "promoted" => {
                let fine = booking.is_some_and(|b| {
                    e.booking.as_ref() == Some(&b.id) && b.status == "reserved" && b.auto
                });
                if !e.ended || !fine {
                    problem(format!(
                        "{who} was promoted, but entry {e:?} and booking {booking:?} do not \
                         show an ended entry with its reserved, auto_processed booking"
                    ));
                }
            }
            other => problem(format!("{who}'s entry is {other}: nobody left or expired")),
        }
    }

    // One waitlist_promoted event per promotion, for its booking; nobody promoted twice.
    let promotions: Vec<&Event> = s.events_of("waitlist_promoted").collect();
    let mut told: BTreeMap<&str, usize> = BTreeMap::new();
    for ev in &promotions {
        let recipient = ev.recipient.as_deref().unwrap_or("(nobody)");
        *told.entry(recipient).or_default() += 1;
        let entry = s
            .promoted()
            .find(|e| Some(e.user.as_str()) == ev.recipient.as_deref());
        if entry.is_none_or(|e| e.booking != ev.booking) {
            problem(format!(
                "event {} tells {} of a promotion, booking {:?}, that no promoted entry shows",
                ev.id,
                r.label(recipient),
                ev.booking
            ));
        }
    }
    for e in s.promoted() {
        let n = told.get(e.user.as_str()).copied().unwrap_or(0);
        if n != 1 {
            problem(format!(
                "{} was promoted and told so {n} times (waitlist_promoted events)",
                r.label(&e.user)
            ));
        }
    }

    // Promotions in join order: in the order of their events, and never someone behind a
    // waiting athlete.
    let by_queue: Vec<&str> = s.promoted().map(|e| e.user.as_str()).collect();
    let by_event: Vec<&str> = promotions
        .iter()
        .filter_map(|ev| ev.recipient.as_deref())
        .collect();
    if by_queue.len() == by_event.len() && by_queue != by_event {
        problem(format!(
            "promotions out of join order: by queue_no {:?}, by event {:?}",
            labels(r, &by_queue),
            labels(r, &by_event)
        ));
    }
    let last_promoted = s.promoted().map(|e| e.queue_no).max();
    let first_waiting = s.waiting().map(|e| e.queue_no).min();
    if let (Some(last), Some(first)) = (last_promoted, first_waiting) {
        if last > first {
            problem(format!(
                "queue_no {last} was promoted while queue_no {first} still waits"
            ));
        }
    }

    // Every place freed went back to the queue first: the athletes queued before the race
    // are promoted first, in their order, as far as places were freed.
    let reached = freed.min(r.queued.len());
    for (i, (athlete, _)) in r.queued.iter().enumerate() {
        let state = s.entries_of(athlete).first().map(|e| e.state.clone());
        let expected = if i < reached { "promoted" } else { "waiting" };
        if state.as_deref() != Some(expected) {
            problem(format!(
                "{} (queued before the race, {} of {}, {freed} places freed) is {state:?}, \
                 expected {expected}",
                r.label(athlete),
                i + 1,
                r.queued.len()
            ));
        }
    }
    // No free place while someone waits, now that nothing is in flight.
    let waiting = s.waiting().count();
    if reserved < s.capacity as usize && waiting > 0 {
        problem(format!(
            "{reserved} reserved of {} while {waiting} athletes wait: freed places were not \
             given to the waitlist",
            s.capacity
        ));
    }
    // Nothing was lost or invented: who holds a place now is who held one, less the
    // cancellations, plus the promotions and the outsiders told "booked".
    let promoted = s.promoted().count();
    let expected = r.holders.len() - cancelled + promoted + outsiders_booked.len();
    if reserved != expected {
        problem(format!(
            "{reserved} reserved, expected {expected} ({} held - {cancelled} cancelled + \
             {promoted} promoted + {} outsiders booked)",
            r.holders.len(),
            outsiders_booked.len()
        ));
    }

    if freed <= r.queued.len() {
        // The queue absorbs every freed place: the slot stays full at every commit, so no
        // outsider books and no joiner is told there is a place to book.
        if reserved != s.capacity as usize {
            problem(format!(
                "{reserved} reserved of {}: every freed place should be refilled from the queue",
                s.capacity
            ));
        }
        for (athlete, _) in &outsiders_booked {
            problem(format!(
                "{} (an outsider) booked a place held for the waitlist",
                r.label(athlete)
            ));
        }
        for q in requests {
            if matches!(q.job, Job::Join { .. })
                && q.answer.result.as_ref().is_err_and(|f| f.code == "22023")
            {
                problem(format!(
                    "{} was told a place is free (22023), but every freed place belonged to \
                     the queue",
                    r.label(q.job.who())
                ));
            }
        }
    } else {
        // More places than the queue: an outsider may book one, but only after every athlete
        // queued before the race was promoted (the events' order is the commit order, as
        // every change to the slot holds its lock until commit).
        let last_queued = promotions
            .iter()
            .filter(|ev| {
                r.queued
                    .iter()
                    .any(|(a, _)| Some(a.as_str()) == ev.recipient.as_deref())
            })
            .map(|ev| ev.id)
            .max();
        for (athlete, booking) in &outsiders_booked {
            let confirmed = s
                .events_of("booking_confirmed")
                .find(|ev| ev.booking.as_deref() == Some(booking.as_str()))
                .map(|ev| ev.id);
            match (confirmed, last_queued) {
                (None, _) => problem(format!(
                    "{}'s booking {booking} has no booking_confirmed event",
                    r.label(athlete)
                )),
                (Some(c), Some(q)) if c < q => problem(format!(
                    "{} booked (event {c}) before the queue was served (last promotion of a \
                     queued athlete: event {q})",
                    r.label(athlete)
                )),
                _ => {}
            }
        }
    }
    problems
}

/// The name of a code that must never reach a client, for messages.
pub fn notorious(code: &str) -> &'static str {
    match code {
        "40P01" => " (DEADLOCK)",
        "40001" => " (serialization failure, at READ COMMITTED)",
        "55P03" => " (lock not available)",
        c if c.starts_with("XX") => " (INTERNAL ERROR)",
        _ => "",
    }
}

fn labels(r: &Round, users: &[&str]) -> Vec<String> {
    users.iter().map(|u| r.label(u)).collect()
}

/// The round at a glance: the requests' outcomes, the queue, the places and the monitor.
pub fn summary(r: &Round, requests: &[Request], s: Option<&State>, w: &Watch) -> String {
    let mut out = format!("{}\n  requests:", r.context);
    let mut tally: BTreeMap<(&str, String), (usize, usize)> = BTreeMap::new();
    for q in requests {
        let outcome = match &q.answer.result {
            Ok(_) => "ok".to_string(),
            Err(f) => f.code.clone(),
        };
        let t = tally.entry((q.job.kind(), outcome)).or_default();
        t.0 += 1;
        t.1 += q.answer.retries;
    }
    for ((kind, outcome), (n, retries)) in &tally {
        let _ = write!(out, " {kind} {outcome} x{n}");
        if *retries > 0 {
            let _ = write!(out, " (after {retries} retried 40001)");
        }
        out.push(';');
    }
    let Some(s) = s else {
        return out;
    };
    let _ = write!(
        out,
        "\n  slot: capacity {} (was {}), {} reserved",
        s.capacity,
        r.capacity,
        s.reserved()
    );
    let holding: Vec<String> = s
        .bookings
        .iter()
        .filter(|(_, b)| b.status == "reserved")
        .map(|(u, b)| format!("{}{}", r.label(u), if b.auto { " (auto)" } else { "" }))
        .collect();
    let _ = write!(out, "\n  holding a place: {holding:?}");
    let queue: Vec<String> = s
        .entries
        .iter()
        .map(|e| format!("#{} {} {}", e.queue_no, r.label(&e.user), e.state))
        .collect();
    let _ = write!(out, "\n  waitlist: {queue:?}");
    let events: Vec<String> = s
        .events
        .iter()
        .filter(|ev| ev.kind != "booking_cancelled")
        .map(|ev| {
            let who = ev.recipient.as_deref().map(|u| r.label(u));
            format!("{} {} {}", ev.id, ev.kind, who.unwrap_or_default())
        })
        .collect();
    let _ = write!(out, "\n  events (cancellations left out): {events:?}");
    let _ = write!(
        out,
        "\n  monitor: {} samples, at most {} reserved, {} samples broke a rule",
        w.samples, w.max_reserved, w.violating_samples
    );
    let failed: BTreeSet<String> = requests
        .iter()
        .filter_map(|q| q.answer.result.as_ref().err())
        .map(|f| format!("{}: {}", f.code, f.message))
        .collect();
    let _ = write!(out, "\n  distinct errors: {failed:#?}");
    out
}

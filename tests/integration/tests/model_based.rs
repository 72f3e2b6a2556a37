//! Seeded, model-based random test: thousands of PostgREST-style requests by random actors
//! (an admin, trainers, athletes, the service role, anon, a token for an account that does not
//! exist, a token whose `sub` is not a uuid), through the API (`book_slot`, `cancel_booking`,
//! `create_slot`, `cancel_slot`, `available_slots`, `my_bookings`, `complete_past_bookings`,
//! `delete_my_account`; from 0.2.0 `join_waitlist`, `leave_waitlist`, `my_waitlist`,
//! `promote_waitlists`), through the tables as PostgREST would write them (an admin changing a
//! slot's capacity, notes or times, cancelling or completing a booking late, promoting or
//! demoting a trainer, deleting an account, a sign-up; an admin changing the studio's settings:
//! cancellation window, booking window, limit of upcoming bookings, waitlists on or off, their
//! size and cutoff, sometimes back to the defaults, sometimes out of range), and forbidden
//! attempts (an athlete cancelling someone else's booking, completing their own, changing their
//! role or email, booking for someone else, moving or deleting a booking; a trainer cancelling
//! another trainer's slot; anyone writing `activity_logs`, `booking_status_history`,
//! `trainer_directory`, `waitlist_entries` or the settings' history, an athlete forging events,
//! anyone but an admin changing the settings, or reading `password_hash`). Waitlists form where
//! they can: bookings and joins go to full slots, and places there are freed, capacities raised
//! and booked by others.
//!
//! Timetables (0.2.1, `model_based/series.rs`, `series_run.rs`): trainers (the gym for any
//! trainer; athletes, other trainers and odd callers refused) create weekly series on random
//! weekdays at a local time, from a date near today for one to four weeks (or open-ended), in
//! Berlin, New York, Sydney, Kolkata, UTC or the studio's zone, now and then with one bad
//! argument (no weekday or one outside 1-7, 24:00, no first date, a last date before it, a
//! duration or capacity out of range, notes over 2000 characters, an unknown zone); edit
//! them (start, weekdays, capacity, notes, duration, last date, zone; sometimes bad) and
//! cancel them from a date; the gym runs `extend_timetables()` and changes
//! `timetable_horizon` (7-21 days: few occurrences, a fast run); athletes book occurrences
//! (and every other request picks them as any slot); trainers move, resize, annotate, cancel
//! and delete one occurrence by hand. The model makes each occurrence itself: the dates by ISO
//! weekday from today (in the series' zone) to the horizon (after `made_until`, or of an edit's
//! new weekdays), the start at the local time in the zone by chrono-tz (checked once against
//! `series_start_at` across 2027's changes), never again on a date that had one (deleted by
//! hand too); it predicts each edit's outcome per occurrence in `edit_series`' order (booked;
//! changed by hand: other than what its series last set on it; cancelled; unchanged; the new
//! time passed; changed; then the dates created), the cascade of a cancellation, who may, and
//! the refusals' SQLSTATEs. Every series and every occurrence (series, date, notes) is
//! compared after each step. Timetable functions read `statement_timestamp()`: each call
//! returns its own, and the model predicts from it.
//!
//! Attendance (0.2.2, `model_based/attendance.rs`, `attendance_run.rs`): check-in by the
//! session's trainer or the gym inside the attendance period, changed marks, excuses, the
//! auto no-show sweep and its watermark, strikes and suspensions (computed by the model from
//! its own marks and the settings: 28000 for a suspended athlete's booking, re-activation or
//! join, the gym exempt, promotions skipping them), and the roster; compared after each step.
//!
//! Accounts get deleted along the way and stay actors, with their tokens. Time is real: slots
//! are created 30-90 minutes ahead (around the cancellation window, the waitlist cutoff and
//! the closing of booking) and days ahead (around the opening of booking; `create_slot` refuses
//! the past); ended and running slots with reserved bookings are loaded under
//! `session_replication_role = replica`, as a restore would load them, at the start and along
//! the way, so `complete_past_bookings` has work. The background worker does not serve these
//! databases: entries of slots that start stay `waiting` (their expiry is the worker's).
//!
//! A model of users, slots, bookings, the settings and the waitlists predicts each request's
//! outcome from the request's own `now()` (read in the same transaction): the result, or the
//! refusal's SQLSTATE, with the DETAIL where the contract words it (when booking opens or
//! closed, how many upcoming bookings are held, a place held for the waitlist). It predicts
//! the booking rule (docs/studio-week.md) for every path, the gym exempt from windows and
//! limit: the slot, the window (44000, 22000), the capacity (23P01), the limit (21000), and the
//! free places held for eligible athletes waiting ahead before the cutoff (23P01); every
//! promotion (after a cancellation by anyone, a capacity increase, an account deletion's
//! cascade, the sweep), in queue order, skipping athletes who may not book now (deleted,
//! outside the window, at the limit), none past the cutoff (across slots, where the order
//! matters, whichever order the database took among the possible ones); who waits where and in
//! which order, whose entry ended how; and every event the step writes (kind, recipient, slot,
//! booking, who made the change). A refusal, or a call that should change nothing, must leave
//! every table as it was (a fingerprint: each table's row count and newest row version's
//! `xmin`, see `FINGERPRINT`). After every step, as the superuser, the database must agree
//! with the model (every booking's status, number of history rows and `auto_processed`; every
//! slot; every user's role and deletion; every waitlist entry in queue order with its state
//! and booking; the settings and the size of their history; the step's events and their
//! `NOTIFY`) and keep every invariant:
//! - no slot holds more reserved bookings than its capacity; none in a cancelled slot;
//! - each booking's history is a chain (first `previous_status` is `reserved`, each next one the
//!   prior `current_status`, the last `current_status` the booking's status, whose
//!   `status_changed_at` and `auto_processed` it carries); no history, no change;
//! - a completed booking's slot has ended;
//! - a deleted account is anonymized, holds no reserved booking of a slot still to start, and
//!   no uncancelled slot still to start has a trainer who is not an active trainer;
//! - `trainer_directory` is exactly the active trainers, as `users` has them;
//! - no personal value of a deleted account survives in `users` or `trainer_directory`; no
//!   personal value or password of anyone ever reaches `activity_logs`; every log row has a
//!   non-empty `changed_fields` object without `password_hash`;
//! - at most one waiting entry per slot and athlete, never one for an athlete holding a place
//!   in that slot, a cancelled slot or a deleted account; entries carry their slot's trainer;
//! - every promoted entry names its athlete's booking of its slot, which has a log row and an
//!   event; every `waitlist_promoted` event has its promoted entry, and a re-activated booking
//!   its automatic history row;
//! - no free place in a slot still before its cutoff while an athlete who may book it waits,
//!   read by the database's own settings (on every slot the model saw settled: a slot where an
//!   athlete became eligible since, with no place freed, waits for the sweep);
//! - no event payload shows another athlete's id or anyone's personal values.
//!
//! An error other than the documented refusals (README, "Errors") fails the test at once, as
//! does any mismatch; the message names the seed, the step, the operation (with the settings)
//! and the last steps.
//!
//! Runs: the test runs seeds 1, 2 and 3 for 1500 steps each, as many side by side as there are
//! cores, each in its own database (`it_model_<seed>`): about 20-40 s per seed on two cores.
//! A step costs more as the data grows (about 40 ms at 8000 steps). A longer run is one
//! command:
//!
//! ```sh
//! GYM_BOOKING_MODEL_SEEDS=1,2,3,4,5,6,7,8 GYM_BOOKING_MODEL_STEPS=20000 \
//!     cargo test -p gym_booking_integration --test model_based -- --nocapture
//! ```
//!
//! Replaying a failure: `GYM_BOOKING_MODEL_SEEDS=<seed> GYM_BOOKING_MODEL_STEPS=<step + 1>`.
//! The choices follow from the seed and the outcomes so far; outcomes depend on the clock only
//! where a slot's time is near (starts, ends, the windows and the cutoff), so a replay takes
//! the same path unless the run crossed such a moment differently.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Instant;

use gym_booking_integration::{postgrest_request, Caller, TestDb};
use postgres::{Client, Statement, Transaction};
use serde_json::json;

// The model and its predictions, the checks, and the run, each in a file of its own.
#[path = "model_based/attendance.rs"]
mod attendance;
#[path = "model_based/attendance_checks.rs"]
mod attendance_checks;
#[path = "model_based/attendance_run.rs"]
mod attendance_run;
#[path = "model_based/checks.rs"]
mod checks;
#[path = "model_based/choose.rs"]
mod choose;
#[path = "model_based/exec.rs"]
mod exec;
#[path = "model_based/expect.rs"]
mod expect;
#[path = "model_based/model.rs"]
mod model;
#[path = "model_based/ops.rs"]
mod ops;
#[path = "model_based/run.rs"]
mod run;
#[path = "model_based/series.rs"]
mod series;
#[path = "model_based/series_run.rs"]
mod series_run;
#[path = "model_based/week.rs"]
mod week;
#[path = "model_based/week_checks.rs"]
mod week_checks;
#[path = "model_based/week_choose.rs"]
mod week_choose;
#[path = "model_based/week_expect.rs"]
mod week_expect;

use checks::{booking_obs, caller_for, slot_obs, SLOT_COLUMNS};
use chrono::NaiveDate;
use ops::Op;
use run::Rng;
use series::{EditPlan, Series};
use week::{Entry, Ev, Setting, Settings, WState};

const DEFAULT_SEEDS: [u64; 3] = [1, 2, 3];
const DEFAULT_STEPS: usize = 1500;
/// The draws (of 1000 + this + `SERIES_WEIGHT`) that choose an operation of 0.2.0
/// (`choose_week`).
const WEEK_WEIGHT: u64 = 160;
/// The draws that choose an operation on timetables, or one on an occurrence
/// (`choose_series`).
const SERIES_WEIGHT: u64 = 110;
/// The draws that choose an operation on attendance (`choose_attendance`).
const ATTENDANCE_WEIGHT: u64 = 200;
/// `timetable_horizon` at the start of a run, in days: a few weeks of occurrences per series
/// keep the slots few (each step reads them all).
const START_HORIZON_DAYS: i64 = 14;

// Refusals (README, "Errors"): FULL, TOO_LATE, ... and DOCUMENTED, every code a refusal may have.
#[path = "model_based/codes.rs"]
mod codes;
use codes::*;

const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
const DAY: i64 = 24 * 60 * MINUTE;

/// The request's own `now()`, in microseconds since the epoch.
const NOW_US: &str = "SELECT (extract(epoch FROM now()) * 1000000)::int8";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Admin,
    Trainer,
    Athlete,
}

impl Role {
    fn sql(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Trainer => "trainer",
            Role::Athlete => "athlete",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Status {
    Reserved,
    Cancelled,
    Completed,
}

impl Status {
    fn sql(self) -> &'static str {
        match self {
            Status::Reserved => "reserved",
            Status::Cancelled => "cancelled",
            Status::Completed => "completed",
        }
    }

    fn parse(text: &str) -> Status {
        match text {
            "reserved" => Status::Reserved,
            "cancelled" => Status::Cancelled,
            "completed" => Status::Completed,
            other => panic!("unknown booking status {other:?}"),
        }
    }
}

#[derive(Clone, Debug)]
struct User {
    id: String,
    label: String,
    role: Role,
    deleted: bool,
    email: String,
    password: String,
    first: String,
    last: Option<String>,
    contact_email: Option<String>,
    phone: Option<String>,
    /// Every personal value the account ever had (and its password).
    secrets: Vec<String>,
}

impl User {
    fn display_name(&self) -> String {
        match &self.last {
            Some(last) => format!("{} {last}", self.first),
            None => self.first.clone(),
        }
    }
}

#[derive(Clone, Debug)]
struct Slot {
    id: String,
    trainer: usize,
    start_s: i64,
    minutes: i64,
    capacity: i64,
    notes: Option<String>,
    /// An occurrence: its series and local date.
    series: Option<(usize, NaiveDate)>,
    /// An occurrence: the start, duration, capacity and notes its series last set on it
    /// (`slots.series_fingerprint`); it is changed by hand while it has others.
    made_as: Option<series::Made>,
    cancelled: bool,
    /// Deleted (a slot nobody ever booked).
    gone: bool,
}

impl Slot {
    fn start_us(&self) -> i64 {
        self.start_s * SECOND
    }

    fn end_us(&self) -> i64 {
        (self.start_s + self.minutes * 60) * SECOND
    }
}

#[derive(Clone, Debug)]
struct Booking {
    id: String,
    slot: usize,
    user: usize,
    status: Status,
    /// Status changes so far: the booking's history rows.
    changes: i64,
    /// `auto_processed` of the last change (false before any).
    auto: bool,
}

/// Who sends a request.
#[derive(Clone, Debug)]
enum Who {
    /// `authenticated` with the user's id as `sub` (also after the account is deleted).
    User(usize),
    /// `service_role`, no `sub` (the gym's back office).
    Service,
    /// `anon`, no `sub`.
    Anon,
    /// `authenticated` with a well-formed `sub` that names no account.
    Ghost(String),
    /// `authenticated` with a `sub` that is not a uuid.
    BadSub,
    /// The DBA (the superuser, not through PostgREST), loading rows as a restore would.
    Dba,
}

#[derive(Clone, Debug)]
enum SlotRef {
    Known(usize),
    Missing(String),
}

#[derive(Clone, Debug)]
enum BookingRef {
    Known(usize),
    Missing(String),
}

/// What a client tries to change about themselves that only the gym may.
#[derive(Clone, Debug)]
enum IdentityChange {
    RoleAdmin,
    Email(String),
    DeletedAt,
    IsAnonymous,
    Password(String),
}

/// What a successful request returned.
#[derive(Clone, Debug, PartialEq)]
enum Obs {
    Rows(u64),
    Booking {
        id: String,
        status: Status,
    },
    Slot {
        id: String,
        shape: String,
    },
    Created {
        id: String,
    },
    Count(i64),
    Done,
    List(Vec<String>),
    Loaded {
        slot: String,
        bookings: Vec<String>,
    },
    /// A waitlist entry returned by `join_waitlist` / `leave_waitlist`.
    Entry {
        id: String,
        slot: String,
        state: String,
    },
    /// A series `create_series` returned.
    Series {
        id: String,
        shape: String,
    },
    /// What `edit_series` says of each occurrence: "slot date start outcome", in its order.
    Outcomes(Vec<String>),
    /// An attendance row `mark_attendance` / `excuse_no_show` returned (marked_by's id).
    Mark {
        booking: String,
        mark: String,
        excused: bool,
        by: Option<String>,
    },
}

/// The id of a row the request creates, in an expected `Obs`: any id the model does not know.
const NEW: &str = "<new>";

impl Obs {
    fn id(&self) -> Option<&str> {
        match self {
            Obs::Booking { id, .. }
            | Obs::Slot { id, .. }
            | Obs::Created { id }
            | Obs::Entry { id, .. }
            | Obs::Series { id, .. } => Some(id),
            _ => None,
        }
    }
}

/// A request that failed.
#[derive(Clone, Debug)]
struct Fail {
    code: String,
    message: String,
    detail: Option<String>,
}

impl Fail {
    fn of(err: postgres::Error) -> Fail {
        match err.as_db_error() {
            Some(db) => Fail {
                code: db.code().code().to_string(),
                message: db.message().to_string(),
                detail: db.detail().map(str::to_string),
            },
            None => Fail {
                code: "(not a database error)".to_string(),
                message: err.to_string(),
                detail: None,
            },
        }
    }
}

/// What the model says a request does.
#[derive(Debug)]
enum Expect {
    /// Refused with this SQLSTATE; nothing changes.
    Refused(&'static str),
    /// Refused with this SQLSTATE and a DETAIL that contains each of these; nothing changes.
    RefusedWith(&'static str, Vec<String>),
    /// A write the caller may not make: refused (42501) or no row reached; nothing changes.
    Denied,
    /// Succeeds with this result and changes nothing.
    Same(Obs),
    /// Succeeds with this result; rows are rewritten (`updated_at`) but nothing the model
    /// tracks changes.
    Touch(Obs),
    /// Succeeds with this result and makes this change.
    Change(Obs, Effect),
}

#[derive(Debug)]
enum Effect {
    NewBooking {
        slot: usize,
        user: usize,
        by: Option<&'static str>,
    },
    Status {
        booking: usize,
        to: Status,
        /// Who made the change, as the event's payload says it.
        by: Option<&'static str>,
    },
    CancelSlot {
        slot: usize,
        by: Option<&'static str>,
    },
    /// The slot's notes changed.
    Notes {
        slot: usize,
        notes: String,
        by: Option<&'static str>,
    },
    NewSlot {
        trainer: usize,
        start_s: i64,
        minutes: i64,
        capacity: i64,
        notes: String,
    },
    DeleteUser {
        user: usize,
    },
    Complete {
        bookings: Vec<usize>,
        /// The auto no-show sweep the completion runs.
        sweep: attendance::Sweep,
    },
    Capacity {
        slot: usize,
        capacity: i64,
    },
    Move {
        slot: usize,
        start_s: i64,
    },
    SlotGone {
        slot: usize,
    },
    Profile {
        user: usize,
        first: String,
        last: Option<String>,
        phone: String,
    },
    Role {
        user: usize,
        role: Role,
    },
    Email {
        user: usize,
        email: String,
    },
    NewUser(Box<User>),
    Loaded {
        trainer: usize,
        start_s: i64,
        minutes: i64,
        capacity: i64,
        athletes: Vec<usize>,
    },
    Join {
        slot: usize,
        user: usize,
    },
    Leave {
        entry: usize,
    },
    Settings {
        settings: Settings,
        changed: i64,
    },
    /// `promote_waitlists()`: promotions in these slots.
    Sweep {
        slots: Vec<usize>,
    },
    /// A series and the occurrences it made (date, start).
    NewSeries {
        series: Box<Series>,
        made: Vec<(NaiveDate, i64)>,
    },
    EditSeries {
        series: usize,
        plan: EditPlan,
        by: Option<&'static str>,
    },
    CancelSeries {
        series: usize,
        cancelled_from: NaiveDate,
        slots: Vec<usize>,
        by: Option<&'static str>,
    },
    /// `extend_timetables()`: per series, the occurrences made and `made_until` after it.
    Extend {
        made: Vec<(usize, series::Dates, NaiveDate)>,
    },
    Horizon {
        days: i64,
    },
    Attendance(attendance::AttEffect),
}

/// Statements the grants refuse whoever (of the client roles) runs them.
const FORBIDDEN_WRITES: [&str; 9] = [
    "INSERT INTO gym_booking.activity_logs (entity_type, entity_id, action, changed_fields)
     VALUES ('user', gen_random_uuid(), 'update', '{\"forged\": true}')",
    "UPDATE gym_booking.activity_logs SET changed_fields = '{\"forged\": true}'",
    "DELETE FROM gym_booking.activity_logs",
    "INSERT INTO gym_booking.booking_status_history (booking_id, previous_status, current_status)
     SELECT id, 'reserved', 'cancelled' FROM gym_booking.bookings LIMIT 1",
    "DELETE FROM gym_booking.booking_status_history",
    "INSERT INTO gym_booking.trainer_directory (trainer_id, display_name)
     VALUES (gen_random_uuid(), 'Forged Trainer')",
    "TRUNCATE gym_booking.bookings",
    "SELECT password_hash FROM gym_booking.users",
    "SELECT * FROM gym_booking.users",
];

/// What anon may not do.
const ANON_FORBIDDEN: [&str; 5] = [
    "SELECT count(*) FROM gym_booking.slots",
    "SELECT count(*) FROM gym_booking.bookings",
    "SELECT id FROM gym_booking.users",
    "SELECT * FROM gym_booking.available_slots()",
    "SELECT * FROM gym_booking.book_slot(gen_random_uuid())",
];

fn slot_shape(start_s: i64, minutes: i64, capacity: i64, cancelled: bool) -> String {
    format!(
        "{start_s}..{} ({minutes} min), capacity {capacity}, cancelled {cancelled}",
        start_s + minutes * 60
    )
}

#[derive(Clone)]
struct Model {
    users: Vec<User>,
    slots: Vec<Slot>,
    bookings: Vec<Booking>,
    by_pair: HashMap<(usize, usize), usize>,
    settings: Settings,
    entries: Vec<Entry>,
    /// The waiting entry of (slot, athlete).
    waiting: HashMap<(usize, usize), usize>,
    /// Events the current step wrote (checked, then cleared, after each step).
    out: Vec<Ev>,
    /// Events written so far, per recipient.
    events_of: HashMap<usize, i64>,
    /// Rows `studio_settings_history` may hold: one per change, or one per changed setting.
    settings_history: (i64, i64),
    /// Who waits where in the database after the current request, read when promotions in
    /// several slots at once may go in more than one order (the contract fixes the order
    /// within a slot, not across slots).
    observed_waiting: Option<HashSet<(usize, usize)>>,
    /// Promotions in several slots at once: how often, and how often the order mattered.
    across_slots: (u32, u32),
    /// Timetables (0.2.1).
    series: Vec<Series>,
    /// `timetable_horizon`, in days.
    horizon_days: i64,
    /// `statement_timestamp()` of the current request's call of a timetable or attendance
    /// function (µs): what it reads the date and the time by.
    stmt_now: Option<i64>,
    /// Attendance (0.2.2): marks and the sweep's watermark.
    att: attendance::AttState,
}

/// The checks' statements, prepared once per run.
struct Checks {
    invariants: Statement,
    fingerprint: Statement,
    bookings: Statement,
    slots: Statement,
    users: Statement,
    week: Statement,
    settled: Statement,
    entries: Statement,
    settings: Statement,
    events: Statement,
    series: Statement,
    att: attendance_checks::AttChecks,
}

struct Run {
    seed: u64,
    client: Client,
    sql: Checks,
    rng: Rng,
    model: Model,
    /// `now()` of the latest request, in microseconds (for choosing; predictions use each
    /// request's own).
    now: i64,
    fingerprint: String,
    log_mark: String,
    /// The newest event's id before the current step.
    event_mark: i64,
    recent: VecDeque<String>,
    /// Per kind of operation, how often it succeeded ("ok") or was refused with each SQLSTATE.
    tally: BTreeMap<&'static str, BTreeMap<String, u32>>,
}

/// Runs `steps` random operations from `seed` in a database of their own; panics with the
/// seed, the step, the operation and the last steps when anything is off. Stops early (without
/// failing) when `stop` is set by another seed's failure.
fn run_model(seed: u64, steps: usize, stop: &AtomicBool) {
    let started = Instant::now();
    let db = TestDb::with_extension(&format!("model_{seed}"));
    let mut run = Run::new(seed, db.connect());
    for step in 0..steps {
        if stop.load(Ordering::Relaxed) {
            eprintln!("seed {seed}: stopped at step {step} (another seed failed)");
            return;
        }
        let op = run.choose();
        let description = run.describe(&op);
        match run.step(&op) {
            Ok(outcome) => {
                run.recent
                    .push_back(format!("step {step}: {} -> {outcome}", op.kind()));
                if run.recent.len() > 12 {
                    run.recent.pop_front();
                }
            }
            Err(why) => {
                stop.store(true, Ordering::Relaxed);
                let recent: Vec<&String> = run.recent.iter().collect();
                panic!(
                    "\nMODEL-BASED TEST FAILED: seed {seed}, step {step} (of {steps}), database {}\n\
                     operation:\n    {description}\n\
                     {why}\n\
                     last steps before it:\n    {}\n\
                     replay: GYM_BOOKING_MODEL_SEEDS={seed} GYM_BOOKING_MODEL_STEPS={} \
                     cargo test -p gym_booking_integration --test model_based -- --nocapture\n",
                    db.name,
                    recent
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join("\n    "),
                    step + 1
                );
            }
        }
    }
    let m = &run.model;
    let count = |st: Status| m.bookings.iter().filter(|b| b.status == st).count();
    let tally: Vec<String> = run
        .tally
        .iter()
        .map(|(kind, outcomes)| {
            let outcomes: Vec<String> = outcomes.iter().map(|(c, n)| format!("{c} {n}")).collect();
            format!("\n    {kind}: {}", outcomes.join(", "))
        })
        .collect();
    let entries: Vec<String> = [
        WState::Waiting,
        WState::Promoted,
        WState::Left,
        WState::Expired,
        WState::Removed,
    ]
    .iter()
    .map(|&st| {
        let n = m.entries.iter().filter(|e| e.state == st).count();
        format!("{n} {}", st.sql())
    })
    .collect();
    eprintln!(
        "seed {seed}: {steps} steps in {:.1} s; {} users ({} deleted), {} slots ({} cancelled), \
         bookings: {} reserved, {} cancelled, {} completed; waitlist entries: {}; \
         promotions in several slots at once: {} (the order mattered in {}); outcomes:{}",
        started.elapsed().as_secs_f64(),
        m.users.len(),
        m.users.iter().filter(|u| u.deleted).count(),
        m.slots.iter().filter(|s| !s.gone).count(),
        m.slots.iter().filter(|s| s.cancelled && !s.gone).count(),
        count(Status::Reserved),
        count(Status::Cancelled),
        count(Status::Completed),
        entries.join(", "),
        m.across_slots.0,
        m.across_slots.1,
        tally.join("")
    );
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(a panic without a message)".into())
}

#[test]
fn random_requests_keep_every_invariant() {
    let seeds: Vec<u64> = match std::env::var("GYM_BOOKING_MODEL_SEEDS") {
        Ok(list) => list
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("GYM_BOOKING_MODEL_SEEDS: {s:?} is not a number"))
            })
            .collect(),
        Err(_) => DEFAULT_SEEDS.to_vec(),
    };
    let steps: usize = match std::env::var("GYM_BOOKING_MODEL_STEPS") {
        Ok(n) => n
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("GYM_BOOKING_MODEL_STEPS: {n:?} is not a number")),
        Err(_) => DEFAULT_STEPS,
    };
    // Seeds run side by side, as many at once as there are cores (the server does the work).
    let workers = thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(seeds.len());
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let failures: Vec<String> = thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut failures = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&seed) = seeds.get(i) else { break };
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let outcome = std::panic::catch_unwind(|| run_model(seed, steps, &stop));
                        if let Err(payload) = outcome {
                            failures.push(panic_text(payload));
                        }
                    }
                    failures
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a worker thread panicked"))
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! Seeded, model-based random test: thousands of PostgREST-style requests by random actors
//! (an admin, trainers, athletes, the service role, anon, a token for an account that does not
//! exist, a token whose `sub` is not a uuid), through the API (`book_slot`, `cancel_booking`,
//! `create_slot`, `cancel_slot`, `available_slots`, `my_bookings`, `complete_past_bookings`,
//! `delete_my_account`), through the tables as PostgREST would write them (an admin changing a
//! slot's capacity, notes or times, cancelling or completing a booking late, promoting or
//! demoting a trainer, deleting an account, a sign-up), and forbidden attempts (an athlete
//! cancelling someone else's booking, completing their own, changing their role or email,
//! booking for someone else, moving or deleting a booking; a trainer cancelling another
//! trainer's slot; anyone writing `activity_logs`, `booking_status_history` or
//! `trainer_directory`, or reading `password_hash`).
//!
//! Accounts get deleted along the way and stay actors, with their tokens. Time is real: slots
//! are created 30-90 minutes ahead (around the 60-minute cancellation window) and days ahead
//! (`create_slot` refuses the past); ended and running slots with reserved bookings are loaded
//! under `session_replication_role = replica`, as a restore would load them, at the start and
//! along the way, so `complete_past_bookings` has work.
//!
//! A model of users, slots and bookings predicts each request's outcome from the request's own
//! `now()` (read in the same transaction): the result, or the refusal's SQLSTATE. A refusal, or a
//! call that should change nothing, must leave every table as it was (a fingerprint: each
//! table's row count and newest row version's `xmin`, see `FINGERPRINT`). After every
//! step, as the superuser, the database must agree with the model (every booking's status,
//! number of history rows and `auto_processed`; every slot; every user's role and deletion) and
//! keep every invariant:
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
//!   non-empty `changed_fields` object without `password_hash`.
//!
//! An error other than the documented refusals (README, "Errors") fails the test at once, as
//! does any mismatch; the message names the seed, the step, the operation and the last steps.
//!
//! Runs: the test runs seeds 1, 2 and 3 for 1500 steps each, as many side by side as there are
//! cores, each in its own database (`it_model_<seed>`): about 15-25 s per seed on two cores.
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
//! where a slot's time is near (starts, ends, the 60-minute window), so a replay takes the same
//! path unless the run crossed such a moment differently.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Instant;

use gym_booking_integration::{postgrest_request, Caller, TestDb};
use postgres::{Client, Statement, Transaction};
use serde_json::json;

const DEFAULT_SEEDS: [u64; 3] = [1, 2, 3];
const DEFAULT_STEPS: usize = 1500;

// Refusals (README, "Errors").
const FULL: &str = "23P01";
const TOO_LATE: &str = "27000";
const NOT_BOOKABLE: &str = "23000";
const RESTRICTED: &str = "23001";
const INVALID: &str = "22023";
const NOT_ALLOWED: &str = "42501";
const NOT_FOUND: &str = "42704";
const DUPLICATE: &str = "23505";
const NO_SUCH_ROW: &str = "23503";
const BAD_CLAIMS: &str = "22P02";
const CHECK: &str = "23514";
/// Every SQLSTATE a refusal may have; anything else (XX000, 40P01, ...) is a bug.
const DOCUMENTED: [&str; 11] = [
    FULL,
    TOO_LATE,
    NOT_BOOKABLE,
    RESTRICTED,
    INVALID,
    NOT_ALLOWED,
    NOT_FOUND,
    DUPLICATE,
    NO_SUCH_ROW,
    BAD_CLAIMS,
    CHECK,
];

const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
const DAY: i64 = 24 * 60 * MINUTE;

/// The request's own `now()`, in microseconds since the epoch.
const NOW_US: &str = "SELECT (extract(epoch FROM now()) * 1000000)::int8";

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len() as u64) as usize].clone())
    }

    /// A unique-enough personal value: prefix and 48 random bits.
    fn token(&mut self, prefix: &str) -> String {
        format!("{prefix}{:012x}", self.next() & 0xffff_ffff_ffff)
    }

    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }
}

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

#[derive(Clone, Debug)]
enum Op {
    Book {
        who: Who,
        slot: SlotRef,
    },
    CancelBooking {
        who: Who,
        booking: BookingRef,
    },
    CreateSlot {
        who: Who,
        start_s: i64,
        minutes: i32,
        capacity: i32,
        notes: String,
    },
    CancelSlot {
        who: Who,
        slot: SlotRef,
    },
    AvailableSlots {
        who: Who,
        trainer: Option<usize>,
    },
    MyBookings {
        who: Who,
    },
    CompletePast {
        who: Who,
        max_rows: i32,
    },
    DeleteMyAccount {
        who: Who,
    },
    /// PATCH /bookings?id=eq.… {"status": …}
    SetStatus {
        who: Who,
        booking: usize,
        to: Status,
    },
    /// POST /bookings {"slot_id": …, "user_id": …}
    InsertBooking {
        who: Who,
        slot: usize,
        user: usize,
    },
    /// DELETE /bookings?id=eq.…
    DeleteBooking {
        who: Who,
        booking: usize,
    },
    /// PATCH /bookings?id=eq.… {"slot_id": …}
    MoveBooking {
        who: Who,
        booking: usize,
        slot: usize,
    },
    /// PATCH /slots?id=eq.… {"capacity": …}
    SlotCapacity {
        who: Who,
        slot: usize,
        capacity: i32,
    },
    /// PATCH /slots?id=eq.… {"notes": …}
    SlotNotes {
        who: Who,
        slot: usize,
        notes: String,
    },
    /// PATCH /slots?id=eq.… {"start_at": start_at + minutes}
    SlotMove {
        who: Who,
        slot: usize,
        minutes: i32,
    },
    /// DELETE /slots?id=eq.…
    DeleteSlot {
        who: Who,
        slot: usize,
    },
    /// PATCH /users?id=eq.… {"first_name", "last_name", "contact_phone"}
    Profile {
        who: Who,
        user: usize,
        first: String,
        last: Option<String>,
        phone: String,
    },
    /// PATCH /users?id=eq.<self> with a column only the gym changes.
    Identity {
        who: Who,
        user: usize,
        change: IdentityChange,
    },
    /// PATCH /users?id=eq.… {"role": …}
    SetRole {
        who: Who,
        user: usize,
        role: Role,
    },
    /// PATCH /users?id=eq.… {"email": …}
    SetEmail {
        who: Who,
        user: usize,
        email: String,
    },
    /// DELETE /users?id=eq.… (a soft delete)
    DeleteUser {
        who: Who,
        user: usize,
    },
    /// POST /users
    SignUp {
        who: Who,
        user: Box<User>,
    },
    /// A statement the caller's grants refuse.
    Forbidden {
        who: Who,
        sql: &'static str,
    },
    /// anon: GET /trainer_directory
    Directory,
    /// The DBA loads a session that has ended (or is running), with reserved bookings or none, under
    /// `session_replication_role = replica`, as a restore would: work for
    /// `complete_past_bookings`.
    LoadPast {
        trainer: usize,
        start_s: i64,
        minutes: i64,
        capacity: i64,
        athletes: Vec<usize>,
    },
}

impl Op {
    fn kind(&self) -> &'static str {
        match self {
            Op::Book { .. } => "book_slot",
            Op::CancelBooking { .. } => "cancel_booking",
            Op::CreateSlot { .. } => "create_slot",
            Op::CancelSlot { .. } => "cancel_slot",
            Op::AvailableSlots { .. } => "available_slots",
            Op::MyBookings { .. } => "my_bookings",
            Op::CompletePast { .. } => "complete_past_bookings",
            Op::DeleteMyAccount { .. } => "delete_my_account",
            Op::SetStatus { .. } => "PATCH bookings.status",
            Op::InsertBooking { .. } => "POST bookings",
            Op::DeleteBooking { .. } => "DELETE bookings",
            Op::MoveBooking { .. } => "PATCH bookings.slot_id",
            Op::SlotCapacity { .. } => "PATCH slots.capacity",
            Op::SlotNotes { .. } => "PATCH slots.notes",
            Op::SlotMove { .. } => "PATCH slots.start_at",
            Op::DeleteSlot { .. } => "DELETE slots",
            Op::Profile { .. } => "PATCH users profile",
            Op::Identity { .. } => "PATCH users identity",
            Op::SetRole { .. } => "PATCH users.role",
            Op::SetEmail { .. } => "PATCH users.email",
            Op::DeleteUser { .. } => "DELETE users",
            Op::SignUp { .. } => "POST users",
            Op::Forbidden { .. } => "forbidden statement",
            Op::Directory => "GET trainer_directory",
            Op::LoadPast { .. } => "DBA loads a past session",
        }
    }

    fn who(&self) -> Who {
        match self {
            Op::Book { who, .. }
            | Op::CancelBooking { who, .. }
            | Op::CreateSlot { who, .. }
            | Op::CancelSlot { who, .. }
            | Op::AvailableSlots { who, .. }
            | Op::MyBookings { who }
            | Op::CompletePast { who, .. }
            | Op::DeleteMyAccount { who }
            | Op::SetStatus { who, .. }
            | Op::InsertBooking { who, .. }
            | Op::DeleteBooking { who, .. }
            | Op::MoveBooking { who, .. }
            | Op::SlotCapacity { who, .. }
            | Op::SlotNotes { who, .. }
            | Op::SlotMove { who, .. }
            | Op::DeleteSlot { who, .. }
            | Op::Profile { who, .. }
            | Op::Identity { who, .. }
            | Op::SetRole { who, .. }
            | Op::SetEmail { who, .. }
            | Op::DeleteUser { who, .. }
            | Op::SignUp { who, .. }
            | Op::Forbidden { who, .. } => who.clone(),
            Op::Directory => Who::Anon,
            Op::LoadPast { .. } => Who::Dba,
        }
    }
}

/// What a successful request returned.
#[derive(Clone, Debug, PartialEq)]
enum Obs {
    Rows(u64),
    Booking { id: String, status: Status },
    Slot { id: String, shape: String },
    Created { id: String },
    Count(i64),
    Done,
    List(Vec<String>),
    Loaded { slot: String, bookings: Vec<String> },
}

/// The id of a row the request creates, in an expected `Obs`: any id the model does not know.
const NEW: &str = "<new>";

impl Obs {
    fn id(&self) -> Option<&str> {
        match self {
            Obs::Booking { id, .. } | Obs::Slot { id, .. } | Obs::Created { id } => Some(id),
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
    },
    Status {
        booking: usize,
        to: Status,
    },
    CancelSlot {
        slot: usize,
    },
    NewSlot {
        trainer: usize,
        start_s: i64,
        minutes: i64,
        capacity: i64,
    },
    DeleteUser {
        user: usize,
    },
    Complete {
        bookings: Vec<usize>,
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

struct Model {
    users: Vec<User>,
    slots: Vec<Slot>,
    bookings: Vec<Booking>,
    by_pair: HashMap<(usize, usize), usize>,
}

impl Model {
    fn me(&self, who: &Who) -> Option<usize> {
        match who {
            Who::User(i) => Some(*i),
            _ => None,
        }
    }

    /// The caller as row-level security names them (`active_user_id()`): a deleted account
    /// owns nothing.
    fn owner(&self, who: &Who) -> Option<usize> {
        self.me(who).filter(|&i| !self.users[i].deleted)
    }

    /// Whether the caller reads slots at all: an active account, or the gym's back office. A
    /// deleted account's token, or one whose sub names no account, reads none.
    fn reads_slots(&self, who: &Who) -> bool {
        matches!(who, Who::Service | Who::Dba) || self.owner(who).is_some()
    }

    fn active_role(&self, who: &Who, role: Role) -> bool {
        self.me(who)
            .is_some_and(|i| self.users[i].role == role && !self.users[i].deleted)
    }

    fn active_admin(&self, who: &Who) -> bool {
        self.active_role(who, Role::Admin)
    }

    fn active_trainer(&self, who: &Who) -> bool {
        self.active_role(who, Role::Trainer)
    }

    /// Acts for the gym: the service role or an active app admin.
    fn gym(&self, who: &Who) -> bool {
        matches!(who, Who::Service) || self.active_admin(who)
    }

    fn reserved(&self, slot: usize) -> i64 {
        self.bookings
            .iter()
            .filter(|b| b.slot == slot && b.status == Status::Reserved)
            .count() as i64
    }

    /// Why a place in the slot cannot be taken now, if it cannot.
    fn place_refusal(&self, slot: usize, now: i64) -> Option<&'static str> {
        let s = &self.slots[slot];
        if s.cancelled || s.start_us() <= now {
            Some(NOT_BOOKABLE)
        } else if self.reserved(slot) >= s.capacity {
            Some(FULL)
        } else {
            None
        }
    }

    fn too_late(&self, slot: usize, now: i64) -> bool {
        now > self.slots[slot].start_us() - 60 * MINUTE
    }

    fn ended(&self, slot: usize, now: i64) -> bool {
        self.slots[slot].end_us() <= now
    }

    fn live_email_taken(&self, email: &str, except: Option<usize>) -> bool {
        self.users
            .iter()
            .enumerate()
            .any(|(i, u)| Some(i) != except && !u.deleted && u.email.eq_ignore_ascii_case(email))
    }

    /// Refusal of an API function before it reads anything: anon has no EXECUTE, a bad `sub`
    /// cannot be read, and (when the function needs to know who calls) no `sub` at all.
    fn api_gate(&self, who: &Who, needs_sub: bool) -> Option<&'static str> {
        match who {
            Who::Anon => Some(NOT_ALLOWED),
            Who::BadSub => Some(BAD_CLAIMS),
            Who::Service if needs_sub => Some(NOT_ALLOWED),
            _ => None,
        }
    }

    /// Whose rows an UPDATE of bookings reaches: their own, everything for the gym.
    fn may_update_booking(&self, who: &Who, booking: usize) -> bool {
        matches!(who, Who::Service)
            || self.owner(who) == Some(self.bookings[booking].user)
            || self.active_admin(who)
    }

    /// Whose slots an UPDATE or DELETE of slots reaches: the trainer's own, everything for
    /// the gym.
    fn may_write_slot(&self, who: &Who, slot: usize) -> bool {
        matches!(who, Who::Service)
            || self.owner(who) == Some(self.slots[slot].trainer)
            || self.active_admin(who)
    }

    fn may_update_user(&self, who: &Who, user: usize) -> bool {
        matches!(who, Who::Service) || self.owner(who) == Some(user) || self.active_admin(who)
    }

    fn upcoming_slots_of(&self, trainer: usize, now: i64) -> bool {
        self.slots
            .iter()
            .any(|s| s.trainer == trainer && !s.gone && !s.cancelled && s.end_us() > now)
    }

    fn available(&self, trainer: Option<usize>, now: i64) -> Vec<String> {
        let mut rows: Vec<(i64, &str, String)> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                !s.gone
                    && !s.cancelled
                    && s.start_us() >= now
                    && s.start_us() < now + 7 * DAY
                    && trainer.is_none_or(|t| s.trainer == t)
            })
            .map(|(i, s)| {
                let booked = self.reserved(i);
                let t = &self.users[s.trainer];
                let name = if t.role == Role::Trainer && !t.deleted {
                    t.display_name()
                } else {
                    "-".to_string()
                };
                (
                    s.start_s,
                    s.id.as_str(),
                    format!(
                        "{} capacity {} booked {booked} available {} trainer {name}",
                        s.id,
                        s.capacity,
                        s.capacity - booked
                    ),
                )
            })
            .collect();
        rows.sort();
        rows.into_iter().map(|r| r.2).collect()
    }

    fn bookings_list(&self, user: usize) -> Vec<String> {
        let mut rows: Vec<(i64, &str, String)> = self
            .bookings
            .iter()
            .filter(|b| b.user == user)
            .map(|b| {
                (
                    self.slots[b.slot].start_s,
                    b.id.as_str(),
                    format!("{} slot {} {}", b.id, self.slots[b.slot].id, b.status.sql()),
                )
            })
            .collect();
        rows.sort();
        rows.into_iter().map(|r| r.2).collect()
    }

    fn directory(&self) -> Vec<String> {
        let mut rows: Vec<String> = self
            .users
            .iter()
            .filter(|u| u.role == Role::Trainer && !u.deleted)
            .map(|u| format!("{} {}", u.id, u.display_name()))
            .collect();
        rows.sort();
        rows
    }

    /// The model's prediction of what `op` does, sent at `now` (the request's `now()`).
    fn expect(&self, op: &Op, now: i64) -> Expect {
        use Expect::{Change, Refused, Same, Touch};
        match op {
            Op::Book { who, slot } => {
                if let Some(code) = self.api_gate(who, true) {
                    return Refused(code);
                }
                let known = match slot {
                    SlotRef::Known(i) if !self.slots[*i].gone => Some(*i),
                    _ => None,
                };
                if !self.reads_slots(who) {
                    // It sees no slot: the rules answer its booking. A deleted account cannot
                    // book an existing slot; anything else it names is not its to book.
                    let deleted = self.me(who).is_some();
                    return Refused(if deleted && known.is_some() {
                        NOT_BOOKABLE
                    } else {
                        NOT_ALLOWED
                    });
                }
                let Some(slot) = known else {
                    return Refused(NOT_FOUND);
                };
                let Some(me) = self.me(who) else {
                    // A token for no account books for nobody the rules know.
                    return Refused(NOT_ALLOWED);
                };
                // A deleted account sees none of its bookings: it always tries a new one.
                let existing = self.owner(who).and_then(|me| self.by_pair.get(&(slot, me)));
                match existing {
                    Some(&b) => {
                        let booking = &self.bookings[b];
                        match booking.status {
                            Status::Reserved => Same(Obs::Booking {
                                id: booking.id.clone(),
                                status: Status::Reserved,
                            }),
                            Status::Completed => Refused(INVALID),
                            Status::Cancelled => {
                                if let Some(code) = self.place_refusal(slot, now) {
                                    return Refused(code);
                                }
                                Change(
                                    Obs::Booking {
                                        id: booking.id.clone(),
                                        status: Status::Reserved,
                                    },
                                    Effect::Status {
                                        booking: b,
                                        to: Status::Reserved,
                                    },
                                )
                            }
                        }
                    }
                    None => {
                        // BEFORE triggers run before the row-level security check.
                        if self.users[me].deleted {
                            return Refused(NOT_BOOKABLE);
                        }
                        if let Some(code) = self.place_refusal(slot, now) {
                            return Refused(code);
                        }
                        if self.active_trainer(who) {
                            return Refused(NOT_ALLOWED);
                        }
                        Change(
                            Obs::Booking {
                                id: NEW.into(),
                                status: Status::Reserved,
                            },
                            Effect::NewBooking { slot, user: me },
                        )
                    }
                }
            }
            Op::CancelBooking { who, booking } => {
                if let Some(code) = self.api_gate(who, true) {
                    return Refused(code);
                }
                let BookingRef::Known(b) = booking else {
                    return Refused(NOT_FOUND);
                };
                let (b, booking) = (*b, &self.bookings[*b]);
                let may_update = self.may_update_booking(who, b);
                if may_update && booking.status == Status::Reserved {
                    let slot = booking.slot;
                    if !self.slots[slot].cancelled && self.too_late(slot, now) && !self.gym(who) {
                        return Refused(TOO_LATE);
                    }
                    return Change(
                        Obs::Booking {
                            id: booking.id.clone(),
                            status: Status::Cancelled,
                        },
                        Effect::Status {
                            booking: b,
                            to: Status::Cancelled,
                        },
                    );
                }
                let visible =
                    may_update || self.owner(who) == Some(self.slots[booking.slot].trainer);
                if !visible {
                    return Refused(NOT_FOUND);
                }
                match booking.status {
                    Status::Completed => Refused(INVALID),
                    Status::Reserved => Refused(NOT_ALLOWED),
                    Status::Cancelled => Same(Obs::Booking {
                        id: booking.id.clone(),
                        status: Status::Cancelled,
                    }),
                }
            }
            Op::CreateSlot {
                who,
                start_s,
                minutes,
                capacity,
                ..
            } => {
                if let Some(code) = self.api_gate(who, true) {
                    return Refused(code);
                }
                if !self.active_trainer(who) {
                    return Refused(NOT_ALLOWED);
                }
                if start_s * SECOND <= now {
                    return Refused(INVALID);
                }
                if !(30..=240).contains(minutes) || !(1..=20).contains(capacity) {
                    return Refused(CHECK);
                }
                let (minutes, capacity) = (i64::from(*minutes), i64::from(*capacity));
                Change(
                    Obs::Slot {
                        id: NEW.into(),
                        shape: slot_shape(*start_s, minutes, capacity, false),
                    },
                    Effect::NewSlot {
                        trainer: self.me(who).expect("a trainer"),
                        start_s: *start_s,
                        minutes,
                        capacity,
                    },
                )
            }
            Op::CancelSlot { who, slot } => {
                if let Some(code) = self.api_gate(who, true) {
                    return Refused(code);
                }
                if self.owner(who).is_none() {
                    return Refused(NOT_ALLOWED);
                }
                let slot = match slot {
                    SlotRef::Known(i) if !self.slots[*i].gone => *i,
                    _ => return Refused(NOT_FOUND),
                };
                let s = &self.slots[slot];
                let cancelled = Obs::Slot {
                    id: s.id.clone(),
                    shape: slot_shape(s.start_s, s.minutes, s.capacity, true),
                };
                if s.cancelled {
                    Same(cancelled)
                } else if self.may_write_slot(who, slot) {
                    Change(cancelled, Effect::CancelSlot { slot })
                } else {
                    Refused(NOT_ALLOWED)
                }
            }
            Op::AvailableSlots { who, trainer } => match self.api_gate(who, false) {
                Some(code) => Refused(code),
                None if !self.reads_slots(who) => Same(Obs::List(Vec::new())),
                None => Same(Obs::List(self.available(*trainer, now))),
            },
            Op::MyBookings { who } => match self.api_gate(who, false) {
                Some(code) => Refused(code),
                None => Same(Obs::List(
                    self.owner(who)
                        .map(|me| self.bookings_list(me))
                        .unwrap_or_default(),
                )),
            },
            Op::CompletePast { who, max_rows } => {
                if let Some(code) = self.api_gate(who, false) {
                    return Refused(code);
                }
                if *max_rows < 1 {
                    return Refused(INVALID);
                }
                if !self.gym(who) {
                    return Refused(NOT_ALLOWED);
                }
                let mut due: Vec<(i64, &str, usize)> = self
                    .bookings
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.status == Status::Reserved && self.ended(b.slot, now))
                    .map(|(i, b)| (self.slots[b.slot].end_us(), b.id.as_str(), i))
                    .collect();
                due.sort();
                due.truncate(*max_rows as usize);
                if due.is_empty() {
                    return Same(Obs::Count(0));
                }
                Change(
                    Obs::Count(due.len() as i64),
                    Effect::Complete {
                        bookings: due.into_iter().map(|d| d.2).collect(),
                    },
                )
            }
            Op::DeleteMyAccount { who } => {
                if let Some(code) = self.api_gate(who, true) {
                    return Refused(code);
                }
                match self.me(who) {
                    None => Refused(NOT_FOUND),
                    Some(me) if self.users[me].deleted => Same(Obs::Done),
                    Some(me) => Change(Obs::Done, Effect::DeleteUser { user: me }),
                }
            }
            Op::SetStatus { who, booking, to } => {
                if matches!(who, Who::Anon) {
                    return Refused(NOT_ALLOWED);
                }
                let (b, booking) = (*booking, &self.bookings[*booking]);
                if !self.may_update_booking(who, b) {
                    return Same(Obs::Rows(0));
                }
                let slot = booking.slot;
                let change = Change(
                    Obs::Rows(1),
                    Effect::Status {
                        booking: b,
                        to: *to,
                    },
                );
                match (booking.status, *to) {
                    (from, to) if from == to => Touch(Obs::Rows(1)),
                    (Status::Reserved, Status::Cancelled) => {
                        if !self.slots[slot].cancelled && self.too_late(slot, now) && !self.gym(who)
                        {
                            Refused(TOO_LATE)
                        } else {
                            change
                        }
                    }
                    (Status::Cancelled, Status::Reserved) => {
                        if self.users[booking.user].deleted {
                            Refused(NOT_BOOKABLE)
                        } else if let Some(code) = self.place_refusal(slot, now) {
                            Refused(code)
                        } else {
                            change
                        }
                    }
                    (Status::Reserved, Status::Completed) => {
                        if !self.gym(who) {
                            Refused(NOT_ALLOWED)
                        } else if !self.ended(slot, now) {
                            Refused(INVALID)
                        } else {
                            change
                        }
                    }
                    _ => Refused(INVALID),
                }
            }
            Op::InsertBooking { who, slot, user } => {
                if matches!(who, Who::Anon) {
                    return Refused(NOT_ALLOWED);
                }
                // A client books only for themselves: refused before anything is looked at.
                if !self.gym(who) && self.me(who) != Some(*user) {
                    return Refused(NOT_ALLOWED);
                }
                if self.users[*user].deleted {
                    return Refused(NOT_BOOKABLE);
                }
                // Full, but the athlete holds one of its places already (a double tap): the
                // unique key answers, below.
                let holds_a_place = self
                    .by_pair
                    .get(&(*slot, *user))
                    .is_some_and(|&b| self.bookings[b].status == Status::Reserved);
                match self.place_refusal(*slot, now) {
                    Some(FULL) if holds_a_place => {}
                    Some(code) => return Refused(code),
                    None => {}
                }
                let own = self.owner(who) == Some(*user) && !self.active_trainer(who);
                if !(self.gym(who) || own) {
                    return Refused(NOT_ALLOWED);
                }
                if self.by_pair.contains_key(&(*slot, *user)) {
                    return Refused(DUPLICATE);
                }
                Change(
                    Obs::Booking {
                        id: NEW.into(),
                        status: Status::Reserved,
                    },
                    Effect::NewBooking {
                        slot: *slot,
                        user: *user,
                    },
                )
            }
            // No DELETE grant on bookings, no UPDATE grant on slot_id, for any client role.
            Op::DeleteBooking { .. } | Op::MoveBooking { .. } => Refused(NOT_ALLOWED),
            Op::SlotCapacity {
                who,
                slot,
                capacity,
            } => {
                if matches!(who, Who::Anon) {
                    return Refused(NOT_ALLOWED);
                }
                let s = &self.slots[*slot];
                if s.gone || !self.may_write_slot(who, *slot) {
                    return Same(Obs::Rows(0));
                }
                let capacity = i64::from(*capacity);
                if capacity == s.capacity {
                    Touch(Obs::Rows(1))
                } else if capacity < s.capacity && capacity < self.reserved(*slot) {
                    Refused(RESTRICTED)
                } else if !(1..=20).contains(&capacity) {
                    Refused(CHECK)
                } else {
                    Change(
                        Obs::Rows(1),
                        Effect::Capacity {
                            slot: *slot,
                            capacity,
                        },
                    )
                }
            }
            Op::SlotNotes { who, slot, .. } => {
                if matches!(who, Who::Anon) {
                    return Refused(NOT_ALLOWED);
                }
                if self.slots[*slot].gone || !self.may_write_slot(who, *slot) {
                    return Same(Obs::Rows(0));
                }
                Touch(Obs::Rows(1))
            }
            Op::SlotMove { who, slot, minutes } => {
                if matches!(who, Who::Anon) {
                    return Refused(NOT_ALLOWED);
                }
                let s = &self.slots[*slot];
                if s.gone || !self.may_write_slot(who, *slot) {
                    return Same(Obs::Rows(0));
                }
                // Reserved or completed bookings hold a slot's times.
                let held = self
                    .bookings
                    .iter()
                    .any(|b| b.slot == *slot && b.status != Status::Cancelled);
                if held {
                    return Refused(RESTRICTED);
                }
                // New times need an active trainer: a deleted or demoted trainer's slot
                // cannot be moved back into the bookable future.
                let trainer = &self.users[s.trainer];
                if trainer.deleted || trainer.role != Role::Trainer {
                    return Refused(INVALID);
                }
                Change(
                    Obs::Rows(1),
                    Effect::Move {
                        slot: *slot,
                        start_s: s.start_s + i64::from(*minutes) * 60,
                    },
                )
            }
            Op::DeleteSlot { who, slot } => {
                if matches!(who, Who::Anon) {
                    return Refused(NOT_ALLOWED);
                }
                if self.slots[*slot].gone || !self.may_write_slot(who, *slot) {
                    return Same(Obs::Rows(0));
                }
                if self.bookings.iter().any(|b| b.slot == *slot) {
                    return Refused(RESTRICTED);
                }
                Change(Obs::Rows(1), Effect::SlotGone { slot: *slot })
            }
            Op::Profile {
                who,
                user,
                first,
                last,
                phone,
            } => {
                if matches!(who, Who::Anon) {
                    return Refused(NOT_ALLOWED);
                }
                if !self.may_update_user(who, *user) {
                    return Same(Obs::Rows(0));
                }
                if self.users[*user].deleted {
                    return Refused(INVALID);
                }
                Change(
                    Obs::Rows(1),
                    Effect::Profile {
                        user: *user,
                        first: first.clone(),
                        last: last.clone(),
                        phone: phone.clone(),
                    },
                )
            }
            Op::Identity { who, user, change } => {
                // Only service_role has the column grant on password_hash.
                if matches!(change, IdentityChange::Password(_)) {
                    return Refused(NOT_ALLOWED);
                }
                if !self.may_update_user(who, *user) {
                    return Same(Obs::Rows(0));
                }
                Refused(NOT_ALLOWED)
            }
            Op::SetRole { who, user, role } => {
                if !self.may_update_user(who, *user) {
                    return Same(Obs::Rows(0));
                }
                let target = &self.users[*user];
                if !self.gym(who) {
                    return Refused(NOT_ALLOWED);
                }
                if target.deleted {
                    return Refused(INVALID);
                }
                if target.role == Role::Trainer
                    && *role != Role::Trainer
                    && self.upcoming_slots_of(*user, now)
                {
                    return Refused(RESTRICTED);
                }
                if *role == Role::Trainer
                    && target.contact_email.is_none()
                    && target.phone.is_none()
                {
                    return Refused(CHECK);
                }
                Change(
                    Obs::Rows(1),
                    Effect::Role {
                        user: *user,
                        role: *role,
                    },
                )
            }
            Op::SetEmail { who, user, email } => {
                if !self.may_update_user(who, *user) {
                    return Same(Obs::Rows(0));
                }
                if !self.gym(who) {
                    return Refused(NOT_ALLOWED);
                }
                if self.users[*user].deleted {
                    return Refused(INVALID);
                }
                if self.live_email_taken(email, Some(*user)) {
                    return Refused(DUPLICATE);
                }
                Change(
                    Obs::Rows(1),
                    Effect::Email {
                        user: *user,
                        email: email.clone(),
                    },
                )
            }
            Op::DeleteUser { who, user } => {
                if matches!(who, Who::Anon) {
                    return Refused(NOT_ALLOWED);
                }
                // Only the gym's policies reach other rows for DELETE; the row is kept
                // (anonymized), so DELETE reports no row either way.
                if !self.gym(who) || self.users[*user].deleted {
                    return Same(Obs::Rows(0));
                }
                Change(Obs::Rows(0), Effect::DeleteUser { user: *user })
            }
            Op::SignUp { who, user } => {
                if !self.gym(who) {
                    return Refused(NOT_ALLOWED);
                }
                if self.live_email_taken(&user.email, None) {
                    return Refused(DUPLICATE);
                }
                Change(
                    Obs::Created { id: NEW.into() },
                    Effect::NewUser(user.clone()),
                )
            }
            Op::Forbidden { .. } => Refused(NOT_ALLOWED),
            Op::Directory => Same(Obs::List(self.directory())),
            Op::LoadPast {
                trainer,
                start_s,
                minutes,
                capacity,
                athletes,
            } => Change(
                Obs::Loaded {
                    slot: NEW.into(),
                    bookings: vec![NEW.into(); athletes.len()],
                },
                Effect::Loaded {
                    trainer: *trainer,
                    start_s: *start_s,
                    minutes: *minutes,
                    capacity: *capacity,
                    athletes: athletes.clone(),
                },
            ),
        }
    }

    fn knows_id(&self, id: &str) -> bool {
        self.users.iter().any(|u| u.id == id)
            || self.slots.iter().any(|s| s.id == id)
            || self.bookings.iter().any(|b| b.id == id)
    }

    fn matches(&self, expected: &Obs, actual: &Obs) -> bool {
        if let (Obs::Loaded { bookings: e, .. }, Obs::Loaded { slot, bookings: a }) =
            (expected, actual)
        {
            return e.len() == a.len()
                && !self.knows_id(slot)
                && a.iter().all(|id| !self.knows_id(id));
        }
        match (expected.id(), actual.id()) {
            (Some(NEW), Some(id)) => {
                let mut expected = expected.clone();
                match &mut expected {
                    Obs::Booking { id: e, .. }
                    | Obs::Slot { id: e, .. }
                    | Obs::Created { id: e } => *e = id.to_string(),
                    _ => unreachable!(),
                }
                !self.knows_id(id) && expected == *actual
            }
            _ => expected == actual,
        }
    }

    fn set_status(&mut self, booking: usize, to: Status, auto: bool) {
        let b = &mut self.bookings[booking];
        assert_ne!(b.status, to, "the model changes a status to itself");
        b.status = to;
        b.changes += 1;
        b.auto = auto;
    }

    /// A cancelled slot cancels its reserved bookings (the system's change).
    fn cancel_slot(&mut self, slot: usize) {
        self.slots[slot].cancelled = true;
        for b in 0..self.bookings.len() {
            if self.bookings[b].slot == slot && self.bookings[b].status == Status::Reserved {
                self.set_status(b, Status::Cancelled, true);
            }
        }
    }

    /// A deleted account: its reserved bookings of slots still to start are cancelled, and its
    /// slots still to start (with their reserved bookings).
    fn delete_user(&mut self, user: usize, now: i64) {
        self.users[user].deleted = true;
        for b in 0..self.bookings.len() {
            let booking = &self.bookings[b];
            if booking.user == user
                && booking.status == Status::Reserved
                && self.slots[booking.slot].start_us() > now
            {
                self.set_status(b, Status::Cancelled, true);
            }
        }
        for s in 0..self.slots.len() {
            let slot = &self.slots[s];
            if slot.trainer == user && !slot.gone && !slot.cancelled && slot.start_us() > now {
                self.cancel_slot(s);
            }
        }
    }

    fn apply(&mut self, effect: Effect, obs: &Obs, now: i64) {
        let new_id = || obs.id().expect("a created row's id").to_string();
        match effect {
            Effect::NewBooking { slot, user } => {
                self.by_pair.insert((slot, user), self.bookings.len());
                self.bookings.push(Booking {
                    id: new_id(),
                    slot,
                    user,
                    status: Status::Reserved,
                    changes: 0,
                    auto: false,
                });
            }
            Effect::Status { booking, to } => self.set_status(booking, to, false),
            Effect::CancelSlot { slot } => self.cancel_slot(slot),
            Effect::NewSlot {
                trainer,
                start_s,
                minutes,
                capacity,
            } => self.slots.push(Slot {
                id: new_id(),
                trainer,
                start_s,
                minutes,
                capacity,
                cancelled: false,
                gone: false,
            }),
            Effect::DeleteUser { user } => self.delete_user(user, now),
            Effect::Complete { bookings } => {
                for b in bookings {
                    self.set_status(b, Status::Completed, true);
                }
            }
            Effect::Capacity { slot, capacity } => self.slots[slot].capacity = capacity,
            Effect::Move { slot, start_s } => self.slots[slot].start_s = start_s,
            Effect::SlotGone { slot } => self.slots[slot].gone = true,
            Effect::Profile {
                user,
                first,
                last,
                phone,
            } => {
                let u = &mut self.users[user];
                u.secrets.push(first.clone());
                u.secrets.extend(last.clone());
                u.secrets.push(phone.clone());
                u.first = first;
                u.last = last;
                u.phone = Some(phone);
            }
            Effect::Role { user, role } => self.users[user].role = role,
            Effect::Email { user, email } => {
                let u = &mut self.users[user];
                u.secrets.push(email.clone());
                u.email = email;
            }
            Effect::NewUser(user) => {
                let mut user = *user;
                user.id = new_id();
                self.users.push(user);
            }
            Effect::Loaded {
                trainer,
                start_s,
                minutes,
                capacity,
                athletes,
            } => {
                let Obs::Loaded { slot: id, bookings } = obs else {
                    unreachable!("checked by matches()")
                };
                self.slots.push(Slot {
                    id: id.clone(),
                    trainer,
                    start_s,
                    minutes,
                    capacity,
                    cancelled: false,
                    gone: false,
                });
                let slot = self.slots.len() - 1;
                for (user, id) in athletes.into_iter().zip(bookings) {
                    self.by_pair.insert((slot, user), self.bookings.len());
                    self.bookings.push(Booking {
                        id: id.clone(),
                        slot,
                        user,
                        status: Status::Reserved,
                        changes: 0,
                        auto: false,
                    });
                }
            }
        }
    }
}

/// The caller as PostgREST would set it up from the JWT.
fn caller_for(model: &Model, who: &Who) -> Caller {
    let authenticated = |sub: &str| {
        Caller::new(
            "authenticated",
            Some(json!({"sub": sub, "role": "authenticated"})),
        )
    };
    match who {
        Who::User(i) => authenticated(&model.users[*i].id),
        Who::Ghost(id) => authenticated(id),
        Who::BadSub => authenticated("not-a-user-id"),
        Who::Service => Caller::new("service_role", Some(json!({"role": "service_role"}))),
        Who::Anon => Caller::new("anon", Some(json!({"role": "anon"}))),
        Who::Dba => Caller::new("postgres", None),
    }
}

fn booking_obs(row: &postgres::Row) -> Obs {
    Obs::Booking {
        id: row.get(0),
        status: Status::parse(row.get(1)),
    }
}

fn slot_obs(row: &postgres::Row) -> Obs {
    let (start, end): (i64, i64) = (row.get(1), row.get(2));
    let (minutes, capacity): (i64, i64) = (row.get(3), row.get(4));
    let cancelled: bool = row.get(5);
    // The shape as the model writes it, but end_at as the database derived it.
    let mut shape = slot_shape(start, minutes, capacity, cancelled);
    if end != start + minutes * 60 {
        shape = format!("{shape} BUT end_at is {end}");
    }
    Obs::Slot {
        id: row.get(0),
        shape,
    }
}

const SLOT_COLUMNS: &str = "id::text, extract(epoch FROM start_at)::int8, \
     extract(epoch FROM end_at)::int8, duration_minutes::int8, capacity::int8, \
     cancelled_at IS NOT NULL";

/// Every invariant, as violations (none: all hold). $1: personal values and passwords of
/// deleted accounts; $2: those of every account ever; $3: log rows from this time on are new.
const INVARIANTS: &str = "
WITH reserved AS (
    SELECT slot_id, count(*) AS n FROM gym_booking.bookings
     WHERE status = 'reserved' GROUP BY slot_id
), hist AS (
    SELECT h.*,
           lag(h.current_status) OVER (PARTITION BY h.booking_id ORDER BY h.id) AS prior,
           row_number() OVER (PARTITION BY h.booking_id ORDER BY h.id DESC) AS from_last
      FROM gym_booking.booking_status_history AS h
), last AS (
    SELECT * FROM hist WHERE from_last = 1
), active_trainers AS (
    SELECT id, concat_ws(' ', first_name, last_name) AS display_name, contact_email, contact_phone
      FROM gym_booking.users WHERE role = 'trainer' AND deleted_at IS NULL
), new_logs AS (
    SELECT * FROM gym_booking.activity_logs WHERE created_at >= $3::text::timestamptz
)
SELECT format('slot %s holds %s reserved bookings for capacity %s', s.id, r.n, s.capacity)
  FROM gym_booking.slots AS s JOIN reserved AS r ON r.slot_id = s.id
 WHERE r.n > s.capacity
UNION ALL
SELECT format('booking %s is reserved in cancelled slot %s', b.id, b.slot_id)
  FROM gym_booking.bookings AS b JOIN gym_booking.slots AS s ON s.id = b.slot_id
 WHERE b.status = 'reserved' AND s.cancelled_at IS NOT NULL
UNION ALL
SELECT format('history row %s of booking %s: previous_status %s, but the status before was %s',
              h.id, h.booking_id, h.previous_status, coalesce(h.prior, 'reserved'))
  FROM hist AS h
 WHERE h.previous_status IS DISTINCT FROM coalesce(h.prior, 'reserved')
UNION ALL
SELECT format('booking %s is %s but its history ends at %s', b.id, b.status,
              coalesce(l.current_status::text, '(no history: reserved)'))
  FROM gym_booking.bookings AS b LEFT JOIN last AS l ON l.booking_id = b.id
 WHERE b.status IS DISTINCT FROM coalesce(l.current_status, 'reserved')
UNION ALL
SELECT format('booking %s: status_changed_at %s, auto_processed %s; its last history row: changed_at %s, auto_processed %s',
              b.id, b.status_changed_at, b.auto_processed, l.changed_at, l.auto_processed)
  FROM gym_booking.bookings AS b JOIN last AS l ON l.booking_id = b.id
 WHERE b.status_changed_at IS DISTINCT FROM l.changed_at
    OR b.auto_processed IS DISTINCT FROM l.auto_processed
UNION ALL
SELECT format('booking %s was completed at %s but its slot %s ends at %s (now %s)',
              b.id, b.status_changed_at, s.id, s.end_at, now())
  FROM gym_booking.bookings AS b JOIN gym_booking.slots AS s ON s.id = b.slot_id
 WHERE b.status = 'completed' AND (s.end_at > now() OR s.end_at > b.status_changed_at)
UNION ALL
SELECT format('deleted user %s is not anonymized: %s', u.id,
              row(u.email, u.first_name, u.last_name, u.contact_email, u.contact_phone,
                  u.preferences, u.is_anonymous))
  FROM gym_booking.users AS u
 WHERE u.deleted_at IS NOT NULL
   AND NOT (u.is_anonymous AND u.first_name = 'Anonymous user' AND u.last_name IS NULL
            AND u.contact_email IS NULL AND u.contact_phone IS NULL AND u.preferences = '{}'
            AND u.email = format('deleted-%s@anonymized.invalid', u.id))
UNION ALL
SELECT format('deleted user %s holds reserved booking %s of slot %s, which starts at %s (now %s)',
              u.id, b.id, s.id, s.start_at, now())
  FROM gym_booking.bookings AS b
  JOIN gym_booking.users AS u ON u.id = b.user_id
  JOIN gym_booking.slots AS s ON s.id = b.slot_id
 WHERE b.status = 'reserved' AND u.deleted_at IS NOT NULL AND s.start_at > now()
UNION ALL
SELECT format('slot %s starts at %s (now %s), is not cancelled, but its trainer %s is %s%s',
              s.id, s.start_at, now(), u.id, u.role,
              CASE WHEN u.deleted_at IS NOT NULL THEN ', deleted' ELSE '' END)
  FROM gym_booking.slots AS s JOIN gym_booking.users AS u ON u.id = s.trainer_id
 WHERE s.cancelled_at IS NULL AND s.start_at > now()
   AND NOT (u.role = 'trainer' AND u.deleted_at IS NULL)
UNION ALL
SELECT format('trainer_directory has %s, the active trainers have %s',
              CASE WHEN d.trainer_id IS NULL THEN 'no row'
                   ELSE row(d.trainer_id, d.display_name, d.contact_email, d.contact_phone)::text END,
              CASE WHEN t.id IS NULL THEN 'no row'
                   ELSE row(t.id, t.display_name, t.contact_email, t.contact_phone)::text END)
  FROM gym_booking.trainer_directory AS d FULL JOIN active_trainers AS t ON t.id = d.trainer_id
 WHERE d.trainer_id IS NULL OR t.id IS NULL
    OR (d.display_name, d.contact_email, d.contact_phone)
       IS DISTINCT FROM (t.display_name, t.contact_email, t.contact_phone)
UNION ALL
SELECT format('personal value %L of a deleted account survives in users row %s', v, u.id)
  FROM unnest($1::text[]) AS v JOIN gym_booking.users AS u ON strpos(u::text, v) > 0
UNION ALL
SELECT format('personal value %L of a deleted account survives in trainer_directory row %s',
              v, d.trainer_id)
  FROM unnest($1::text[]) AS v JOIN gym_booking.trainer_directory AS d ON strpos(d::text, v) > 0
UNION ALL
SELECT format('activity_logs row %s (%s %s %s) has changed_fields %s',
              l.id, l.entity_type, l.action, l.entity_id, l.changed_fields)
  FROM new_logs AS l
 WHERE jsonb_typeof(l.changed_fields) IS DISTINCT FROM 'object' OR l.changed_fields = '{}'
    OR strpos(l.changed_fields::text, 'password_hash') > 0
UNION ALL
SELECT format('activity_logs row %s (%s %s %s) shows the personal value or password %L: %s %s',
              l.id, l.entity_type, l.action, l.entity_id, v, l.changed_fields, l.metadata)
  FROM new_logs AS l JOIN unnest($2::text[]) AS v
    ON strpos(l.changed_fields::text || l.metadata::text, v) > 0
";

/// Whether any table changed: per table, the row count and the newest row version's `xmin`.
/// Every committed INSERT or UPDATE (a trigger's too) leaves row versions stamped with its
/// transaction id, higher than any before it; a DELETE lowers the count (and with an INSERT, a
/// new `xmin` shows); locks do not count. So this pair is the same before and after a request
/// exactly when the request committed no change: as strict as an md5 of the ordered rows (a
/// rewrite to identical values shows too), and cheap on a long run. Also the newest log row's
/// time (the next step's log rows are those from then on).
const FINGERPRINT: &str = "
SELECT concat_ws(' | ',
         (SELECT count(*) || ' users, xmin ' || coalesce(max(t.xmin::text::int8), 0)
            FROM gym_booking.users AS t),
         (SELECT count(*) || ' slots, xmin ' || coalesce(max(t.xmin::text::int8), 0)
            FROM gym_booking.slots AS t),
         (SELECT count(*) || ' bookings, xmin ' || coalesce(max(t.xmin::text::int8), 0)
            FROM gym_booking.bookings AS t),
         (SELECT count(*) || ' directory, xmin ' || coalesce(max(t.xmin::text::int8), 0)
            FROM gym_booking.trainer_directory AS t),
         (SELECT count(*) || ' logs, xmin ' || coalesce(max(t.xmin::text::int8), 0)
            FROM gym_booking.activity_logs AS t),
         (SELECT count(*) || ' history, xmin ' || coalesce(max(t.xmin::text::int8), 0)
            FROM gym_booking.booking_status_history AS t)),
       (SELECT coalesce(max(created_at)::text, '-infinity') FROM gym_booking.activity_logs)";

/// The checks' statements, prepared once per run.
struct Checks {
    invariants: Statement,
    fingerprint: Statement,
    bookings: Statement,
    slots: Statement,
    users: Statement,
}

impl Checks {
    fn prepare(client: &mut Client) -> Result<Checks, postgres::Error> {
        Ok(Checks {
            invariants: client.prepare(INVARIANTS)?,
            fingerprint: client.prepare(FINGERPRINT)?,
            bookings: client.prepare(
                "SELECT b.id::text, b.status::text, b.auto_processed, count(h.id)
                   FROM gym_booking.bookings AS b
                   LEFT JOIN gym_booking.booking_status_history AS h ON h.booking_id = b.id
                  GROUP BY b.id",
            )?,
            slots: client.prepare(
                "SELECT id::text, trainer_id::text, extract(epoch FROM start_at)::int8,
                        duration_minutes::int8, capacity::int8, cancelled_at IS NOT NULL
                   FROM gym_booking.slots",
            )?,
            users: client.prepare(
                "SELECT id::text, role::text, deleted_at IS NOT NULL, email::text, first_name,
                        last_name, contact_phone
                   FROM gym_booking.users",
            )?,
        })
    }
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
    recent: VecDeque<String>,
    /// Per kind of operation, how often it succeeded ("ok") or was refused with each SQLSTATE.
    tally: BTreeMap<&'static str, BTreeMap<String, u32>>,
}

impl Run {
    fn new(seed: u64, mut client: Client) -> Run {
        // `now() + interval '7 days'` (available_slots' default) is exact only where no daylight
        // saving shift falls in the week; the model counts 7 × 24 hours.
        client
            .batch_execute("SET TIME ZONE 'UTC'")
            .expect("set the session's time zone");
        let sql = Checks::prepare(&mut client)
            .unwrap_or_else(|e| panic!("seed {seed}: prepare the checks: {e:?}"));
        let mut run = Run {
            seed,
            client,
            sql,
            rng: Rng::new(seed),
            model: Model {
                users: Vec::new(),
                slots: Vec::new(),
                bookings: Vec::new(),
                by_pair: HashMap::new(),
            },
            now: 0,
            fingerprint: String::new(),
            log_mark: "-infinity".into(),
            recent: VecDeque::new(),
            tally: BTreeMap::new(),
        };
        run.seed_data();
        let (fingerprint, mark) = run.fingerprint();
        run.fingerprint = fingerprint;
        run.log_mark = mark;
        run
    }

    fn new_user(&mut self, role: Role, label: String) -> User {
        let email = format!("{}@example.com", self.rng.token("e"));
        let password = self.rng.token("pw");
        let first = self.rng.token("F");
        let last = (!self.rng.chance(15)).then(|| self.rng.token("L"));
        let contact_email =
            (role == Role::Trainer).then(|| format!("{}@example.com", self.rng.token("c")));
        let phone = (role == Role::Trainer || self.rng.chance(60))
            .then(|| format!("+1-555-{}", self.rng.token("")));
        let preference = self.rng.token("P");
        let mut secrets = vec![email.clone(), password.clone(), first.clone(), preference];
        secrets.extend(last.clone());
        secrets.extend(contact_email.clone());
        secrets.extend(phone.clone());
        User {
            id: String::new(),
            label,
            role,
            deleted: false,
            email,
            password,
            first,
            last,
            contact_email,
            phone,
            secrets,
        }
    }

    fn insert_user(&mut self, user: &User) -> String {
        let preference = json!({ "note": user.secrets[3] }).to_string();
        self.client
            .query_one(
                "INSERT INTO gym_booking.users (email, password_hash, first_name, last_name, role,
                                                contact_email, contact_phone, preferences)
                 VALUES ($1::text, $2::text, $3::text, $4::text, $5::text::gym_booking.user_role,
                         $6::text, $7::text, $8::text::jsonb)
                 RETURNING id::text",
                &[
                    &user.email,
                    &user.password,
                    &user.first,
                    &user.last,
                    &user.role.sql(),
                    &user.contact_email,
                    &user.phone,
                    &preference,
                ],
            )
            .unwrap_or_else(|e| panic!("seed {}: setup: insert user: {e:?}", self.seed))
            .get(0)
    }

    /// Two admins (the second may be deleted), three trainers, ten athletes and a former
    /// trainer whose account is deleted; ended and running slots with reserved bookings, loaded
    /// as a restore would; a few future slots.
    fn seed_data(&mut self) {
        let roles = [(Role::Admin, 2), (Role::Trainer, 3), (Role::Athlete, 10)];
        for (role, n) in roles {
            for k in 0..n {
                let mut user = self.new_user(role, format!("{}{k}", role.sql()));
                user.id = self.insert_user(&user);
                self.model.users.push(user);
            }
        }
        let mut former = self.new_user(Role::Trainer, "former_trainer".into());
        former.id = self.insert_user(&former);
        self.client
            .execute(
                "UPDATE gym_booking.users SET deleted_at = now() WHERE id = $1::text::uuid",
                &[&former.id],
            )
            .expect("delete the former trainer's account");
        former.deleted = true;
        self.model.users.push(former);
        let now: i64 = self
            .client
            .query_one(NOW_US, &[])
            .expect("read now()")
            .get(0);
        self.now = now;
        let minute = now / MINUTE * 60; // this minute, in seconds
        let trainers: Vec<usize> = (2..5).collect();
        let athletes: Vec<usize> = (5..15).collect();

        let mut tx = self.client.transaction().expect("begin setup");
        tx.batch_execute("SET LOCAL session_replication_role = replica")
            .expect("replica mode");
        // Ended slots (hours to days ago) and two running ones (started 20 minutes ago).
        let mut past = Vec::new();
        for k in 0..10 {
            let (start_s, minutes) = if k < 8 {
                (minute - self.rng.range(2, 72) * 3600, 60)
            } else {
                (minute - 20 * 60, 120)
            };
            let trainer = self.rng.pick(&trainers).unwrap();
            let capacity = self.rng.range(1, 4);
            let id: String = tx
                .query_one(
                    "INSERT INTO gym_booking.slots (trainer_id, start_at, end_at, duration_minutes, capacity)
                     VALUES ($1::text::uuid, to_timestamp($2::int8::float8), to_timestamp($3::int8::float8),
                             $4::int8::int2, $5::int8::int2)
                     RETURNING id::text",
                    &[
                        &self.model.users[trainer].id,
                        &start_s,
                        &(start_s + minutes * 60),
                        &minutes,
                        &capacity,
                    ],
                )
                .expect("seed a past slot")
                .get(0);
            self.model.slots.push(Slot {
                id,
                trainer,
                start_s,
                minutes,
                capacity,
                cancelled: false,
                gone: false,
            });
            past.push(self.model.slots.len() - 1);
        }
        for slot in past {
            let mut pool = athletes.clone();
            let n = self.rng.range(1, self.model.slots[slot].capacity);
            for _ in 0..n {
                let user = pool.remove(self.rng.below(pool.len() as u64) as usize);
                let id: String = tx
                    .query_one(
                        "INSERT INTO gym_booking.bookings (slot_id, user_id)
                         VALUES ($1::text::uuid, $2::text::uuid) RETURNING id::text",
                        &[&self.model.slots[slot].id, &self.model.users[user].id],
                    )
                    .expect("seed a past booking")
                    .get(0);
                self.model
                    .by_pair
                    .insert((slot, user), self.model.bookings.len());
                self.model.bookings.push(Booking {
                    id,
                    slot,
                    user,
                    status: Status::Reserved,
                    changes: 0,
                    auto: false,
                });
            }
        }
        tx.commit().expect("commit the seeded past");

        // Future slots, written normally (the rules apply).
        for k in 0..6 {
            let offset_min = if k < 3 {
                self.rng.range(35, 85)
            } else {
                self.rng.range(2, 48) * 60
            };
            let start_s = minute + offset_min * 60;
            let trainer = self.rng.pick(&trainers).unwrap();
            let capacity = self.rng.range(1, 5);
            let id: String = self
                .client
                .query_one(
                    "INSERT INTO gym_booking.slots (trainer_id, start_at, duration_minutes, capacity)
                     VALUES ($1::text::uuid, to_timestamp($2::int8::float8), 60, $3::int8::int2)
                     RETURNING id::text",
                    &[&self.model.users[trainer].id, &start_s, &capacity],
                )
                .expect("seed a future slot")
                .get(0);
            self.model.slots.push(Slot {
                id,
                trainer,
                start_s,
                minutes: 60,
                capacity,
                cancelled: false,
                gone: false,
            });
        }
    }

    // ---- choosing ---------------------------------------------------------------------------

    fn users_where(&self, keep: impl Fn(&User) -> bool) -> Vec<usize> {
        (0..self.model.users.len())
            .filter(|&i| keep(&self.model.users[i]))
            .collect()
    }

    fn someone(&mut self, role: Role) -> Who {
        let all = self.users_where(|u| u.role == role);
        match self.rng.pick(&all) {
            Some(i) => Who::User(i),
            None => Who::User(0),
        }
    }

    /// An athlete; mostly one whose account is active.
    fn athlete(&mut self) -> Who {
        let active = self.users_where(|u| u.role == Role::Athlete && !u.deleted);
        if self.rng.chance(80) {
            if let Some(i) = self.rng.pick(&active) {
                return Who::User(i);
            }
        }
        self.someone(Role::Athlete)
    }

    /// A trainer; mostly an active one.
    fn trainer(&mut self) -> Who {
        let active = self.users_where(|u| u.role == Role::Trainer && !u.deleted);
        if self.rng.chance(85) {
            if let Some(i) = self.rng.pick(&active) {
                return Who::User(i);
            }
        }
        self.someone(Role::Trainer)
    }

    /// The first admin (never deleted), sometimes another one.
    fn admin(&mut self) -> Who {
        if self.rng.chance(85) {
            return Who::User(0);
        }
        self.someone(Role::Admin)
    }

    fn gym(&mut self) -> Who {
        if self.rng.chance(25) {
            Who::Service
        } else {
            self.admin()
        }
    }

    fn anyone(&mut self) -> Who {
        match self.rng.below(10) {
            0 => self.trainer(),
            1 => self.admin(),
            2 => Who::Service,
            _ => self.athlete(),
        }
    }

    fn ghost(&mut self) -> Who {
        Who::Ghost(self.rng.uuid())
    }

    fn live_slots(&self) -> Vec<usize> {
        (0..self.model.slots.len())
            .filter(|&s| !self.model.slots[s].gone)
            .collect()
    }

    fn open_slots(&self) -> Vec<usize> {
        (0..self.model.slots.len())
            .filter(|&s| {
                let slot = &self.model.slots[s];
                !slot.gone && !slot.cancelled && slot.start_us() > self.now
            })
            .collect()
    }

    fn slot_to_book(&mut self) -> SlotRef {
        let r = self.rng.below(100);
        let open = self.open_slots();
        let pick = if r < 75 && !open.is_empty() {
            self.rng.pick(&open)
        } else if r < 97 {
            let all: Vec<usize> = (0..self.model.slots.len()).collect();
            self.rng.pick(&all)
        } else {
            None
        };
        match pick {
            Some(s) => SlotRef::Known(s),
            None => SlotRef::Missing(self.rng.uuid()),
        }
    }

    fn any_live_slot(&mut self) -> usize {
        let live = self.live_slots();
        self.rng.pick(&live).unwrap_or(0)
    }

    fn slot_of(&mut self, trainer: &Who) -> usize {
        let me = self.model.me(trainer);
        let own: Vec<usize> = self
            .live_slots()
            .into_iter()
            .filter(|&s| Some(self.model.slots[s].trainer) == me)
            .collect();
        let uncancelled: Vec<usize> = own
            .iter()
            .copied()
            .filter(|&s| !self.model.slots[s].cancelled)
            .collect();
        if self.rng.chance(75) {
            if let Some(s) = self.rng.pick(&uncancelled) {
                return s;
            }
        }
        match self.rng.pick(&own) {
            Some(s) => s,
            None => self.any_live_slot(),
        }
    }

    fn slot_not_of(&mut self, trainer: &Who) -> usize {
        let me = self.model.me(trainer);
        let others: Vec<usize> = self
            .live_slots()
            .into_iter()
            .filter(|&s| Some(self.model.slots[s].trainer) != me)
            .collect();
        match self.rng.pick(&others) {
            Some(s) => s,
            None => self.any_live_slot(),
        }
    }

    fn any_booking(&mut self) -> Option<usize> {
        let all: Vec<usize> = (0..self.model.bookings.len()).collect();
        self.rng.pick(&all)
    }

    fn booking_where(&mut self, keep: impl Fn(&Booking) -> bool) -> Option<usize> {
        let matching: Vec<usize> = (0..self.model.bookings.len())
            .filter(|&b| keep(&self.model.bookings[b]))
            .collect();
        self.rng.pick(&matching)
    }

    /// One of the caller's bookings, mostly a reserved one.
    fn own_booking(&mut self, who: &Who) -> Option<usize> {
        let me = self.model.me(who);
        if self.rng.chance(70) {
            if let Some(b) =
                self.booking_where(|b| Some(b.user) == me && b.status == Status::Reserved)
            {
                return Some(b);
            }
        }
        self.booking_where(|b| Some(b.user) == me)
    }

    fn fresh_profile(&mut self, who: Who, user: usize) -> Op {
        let first = self.rng.token("F");
        let last = (!self.rng.chance(20)).then(|| self.rng.token("L"));
        let phone = format!("+1-555-{}", self.rng.token(""));
        Op::Profile {
            who,
            user,
            first,
            last,
            phone,
        }
    }

    fn book(&mut self) -> Op {
        let who = match self.rng.below(50) {
            0 | 1 => self.admin(),
            2 | 3 => self.trainer(),
            4 => self.ghost(),
            _ => self.athlete(),
        };
        let slot = self.slot_to_book();
        Op::Book { who, slot }
    }

    fn choose(&mut self) -> Op {
        let r = self.rng.below(1000);
        match r {
            // Book a slot.
            0..=179 | 895..=999 => self.book(),
            885..=894 => {
                // Often a trainer who has left since (their sessions stay in the records).
                let former = self.users_where(|u| u.role == Role::Trainer && u.deleted);
                let trainers = self.users_where(|u| u.role == Role::Trainer);
                let trainer = match self.rng.pick(&former) {
                    Some(t) if self.rng.chance(50) => t,
                    _ => self.rng.pick(&trainers).unwrap_or(2),
                };
                let minutes = [45, 60, 90, 120][self.rng.below(4) as usize];
                // Ended an hour to two days ago; sometimes still running.
                let ago = if self.rng.chance(15) {
                    self.rng.range(1, minutes - 1)
                } else {
                    minutes + self.rng.range(60, 48 * 60)
                };
                let capacity = self.rng.range(1, 6);
                let mut pool = self.users_where(|u| u.role == Role::Athlete);
                let mut athletes = Vec::new();
                // Sometimes a session nobody booked.
                let booked = if self.rng.chance(35) {
                    0
                } else {
                    self.rng.range(1, capacity)
                };
                for _ in 0..booked {
                    if pool.is_empty() {
                        break;
                    }
                    athletes.push(pool.remove(self.rng.below(pool.len() as u64) as usize));
                }
                Op::LoadPast {
                    trainer,
                    start_s: self.now / MINUTE * 60 - ago * 60,
                    minutes,
                    capacity,
                    athletes,
                }
            }
            // Cancel one's own booking.
            180..=269 => {
                let who = self.athlete();
                let booking = match self.own_booking(&who).or_else(|| self.any_booking()) {
                    Some(b) => BookingRef::Known(b),
                    None => BookingRef::Missing(self.rng.uuid()),
                };
                Op::CancelBooking { who, booking }
            }
            // The gym cancels a booking, late or not.
            270..=299 => {
                let who = self.admin();
                let booking = self
                    .booking_where(|b| b.status == Status::Reserved)
                    .or_else(|| self.any_booking());
                match booking {
                    Some(b) => Op::CancelBooking {
                        who,
                        booking: BookingRef::Known(b),
                    },
                    None => self.book(),
                }
            }
            // Someone else's booking: another athlete's, or a trainer's athlete's.
            300..=324 => {
                let (who, booking) = if self.rng.chance(50) {
                    let who = self.athlete();
                    let me = self.model.me(&who);
                    (who, self.booking_where(|b| Some(b.user) != me))
                } else {
                    let who = self.trainer();
                    let me = self.model.me(&who);
                    let slots = &self.model.slots;
                    let mine: Vec<usize> = (0..self.model.bookings.len())
                        .filter(|&b| Some(slots[self.model.bookings[b].slot].trainer) == me)
                        .collect();
                    let pick = self.rng.pick(&mine);
                    (who, pick.or_else(|| self.any_booking()))
                };
                match booking {
                    Some(b) => Op::CancelBooking {
                        who,
                        booking: BookingRef::Known(b),
                    },
                    None => self.book(),
                }
            }
            // Odd callers: no such booking, the service role (no sub), a bad sub, anon.
            325..=334 => {
                let booking = match self.any_booking() {
                    Some(b) if self.rng.chance(70) => BookingRef::Known(b),
                    _ => BookingRef::Missing(self.rng.uuid()),
                };
                let who = match self.rng.below(4) {
                    0 => Who::Service,
                    1 => Who::BadSub,
                    2 => Who::Anon,
                    _ => self.ghost(),
                };
                Op::CancelBooking { who, booking }
            }
            // A trainer (mostly) creates a slot.
            335..=444 => {
                let who = if self.rng.chance(90) {
                    self.trainer()
                } else {
                    self.anyone()
                };
                let offset_min = match self.rng.below(20) {
                    0..=9 => self.rng.range(30, 90),
                    10..=16 => self.rng.range(2, 72) * 60,
                    17 => self.rng.range(1, 29),
                    _ => -self.rng.range(1, 600),
                };
                let minutes = if self.rng.chance(96) {
                    [30, 45, 60, 90, 120, 240][self.rng.below(6) as usize]
                } else {
                    [20, 300][self.rng.below(2) as usize]
                };
                let capacity = match self.rng.below(50) {
                    0 => 0,
                    1 => 21,
                    2 | 3 => 20,
                    _ => self.rng.range(1, 5) as i32,
                };
                let notes = self.rng.token("note-");
                Op::CreateSlot {
                    who,
                    start_s: self.now / MINUTE * 60 + offset_min * 60,
                    minutes,
                    capacity,
                    notes,
                }
            }
            // A trainer cancels their own slot.
            445..=474 => {
                let who = self.trainer();
                let slot = SlotRef::Known(self.slot_of(&who));
                Op::CancelSlot { who, slot }
            }
            // Someone cancels a slot that is not theirs.
            475..=489 => {
                let who = if self.rng.chance(60) {
                    self.trainer()
                } else {
                    self.athlete()
                };
                let slot = SlotRef::Known(self.slot_not_of(&who));
                Op::CancelSlot { who, slot }
            }
            // The gym cancels a slot; or odd callers.
            490..=499 => {
                let who = match self.rng.below(6) {
                    0 => self.ghost(),
                    1 => Who::BadSub,
                    2 => Who::Service,
                    _ => self.admin(),
                };
                let slot = if self.rng.chance(90) {
                    SlotRef::Known(self.any_live_slot())
                } else {
                    SlotRef::Missing(self.rng.uuid())
                };
                Op::CancelSlot { who, slot }
            }
            500..=539 => {
                let who = if self.rng.chance(5) {
                    Who::Anon
                } else {
                    self.anyone()
                };
                let trainers = self.users_where(|u| u.role == Role::Trainer);
                let trainer = if self.rng.chance(50) {
                    self.rng.pick(&trainers)
                } else {
                    None
                };
                Op::AvailableSlots { who, trainer }
            }
            540..=569 => {
                let who = match self.rng.below(20) {
                    0 => self.ghost(),
                    1 => Who::Service,
                    2 => self.trainer(),
                    _ => self.athlete(),
                };
                Op::MyBookings { who }
            }
            570..=604 => {
                let who = match self.rng.below(20) {
                    0..=8 => self.admin(),
                    9..=16 => Who::Service,
                    17 => self.trainer(),
                    _ => self.athlete(),
                };
                let max_rows = match self.rng.below(20) {
                    0 => 0,
                    1..=9 => self.rng.range(1, 3) as i32,
                    _ => 1000,
                };
                Op::CompletePast { who, max_rows }
            }
            // An athlete marks their own booking completed.
            605..=614 => {
                let who = self.athlete();
                match self.own_booking(&who) {
                    Some(booking) => Op::SetStatus {
                        who,
                        booking,
                        to: Status::Completed,
                    },
                    None => self.book(),
                }
            }
            // The gym sets a booking's status directly.
            615..=629 => {
                let who = self.gym();
                let to = [Status::Reserved, Status::Cancelled, Status::Completed]
                    [self.rng.below(3) as usize];
                let booking = if to == Status::Completed && self.rng.chance(70) {
                    let now = self.now;
                    let slots = &self.model.slots;
                    let ended: Vec<usize> = (0..self.model.bookings.len())
                        .filter(|&b| {
                            let b = &self.model.bookings[b];
                            b.status == Status::Reserved && slots[b.slot].end_us() <= now
                        })
                        .collect();
                    self.rng.pick(&ended).or_else(|| self.any_booking())
                } else {
                    self.any_booking()
                };
                match booking {
                    Some(booking) => Op::SetStatus { who, booking, to },
                    None => self.book(),
                }
            }
            // An athlete cancels or re-books their own booking directly.
            630..=644 => {
                let who = self.athlete();
                match self.own_booking(&who) {
                    Some(booking) => {
                        let to = if self.model.bookings[booking].status == Status::Reserved {
                            Status::Cancelled
                        } else {
                            Status::Reserved
                        };
                        Op::SetStatus { who, booking, to }
                    }
                    None => self.book(),
                }
            }
            // An athlete changes someone else's booking directly.
            645..=654 => {
                let who = self.athlete();
                let me = self.model.me(&who);
                match self.booking_where(|b| Some(b.user) != me) {
                    Some(booking) => {
                        let to = [Status::Reserved, Status::Cancelled, Status::Completed]
                            [self.rng.below(3) as usize];
                        Op::SetStatus { who, booking, to }
                    }
                    None => self.book(),
                }
            }
            // POST /bookings: for someone else (an athlete: refused; the gym: allowed) or self.
            655..=669 => {
                let who = match self.rng.below(10) {
                    0..=5 => self.athlete(),
                    6 | 7 => self.gym(),
                    _ => self.trainer(),
                };
                let user = if self.rng.chance(20) {
                    self.model.me(&who).unwrap_or(5)
                } else {
                    let athletes = self.users_where(|u| u.role == Role::Athlete);
                    self.rng.pick(&athletes).unwrap_or(5)
                };
                let slot = match self.slot_to_book() {
                    SlotRef::Known(s) if !self.model.slots[s].gone => s,
                    _ => self.any_live_slot(),
                };
                Op::InsertBooking { who, slot, user }
            }
            // Delete a booking, or move it to another slot.
            670..=679 => {
                let who = self.anyone();
                let Some(booking) = self.own_booking(&who).or_else(|| self.any_booking()) else {
                    return self.book();
                };
                if self.rng.chance(50) {
                    Op::DeleteBooking { who, booking }
                } else {
                    let slot = self.any_live_slot();
                    Op::MoveBooking { who, booking, slot }
                }
            }
            // Change a slot's capacity: the gym, its trainer, another trainer.
            680..=709 => {
                let (who, slot) = match self.rng.below(10) {
                    0..=5 => {
                        let who = self.gym();
                        (who, self.any_live_slot())
                    }
                    6..=8 => {
                        let who = self.trainer();
                        let slot = self.slot_of(&who);
                        (who, slot)
                    }
                    _ => {
                        let who = self.trainer();
                        let slot = self.slot_not_of(&who);
                        (who, slot)
                    }
                };
                let current = self.model.slots[slot].capacity as i32;
                let capacity = match self.rng.below(10) {
                    0 => [0, 21][self.rng.below(2) as usize],
                    _ => (current + self.rng.range(-3, 3) as i32).clamp(1, 20),
                };
                Op::SlotCapacity {
                    who,
                    slot,
                    capacity,
                }
            }
            710..=724 => {
                let who = match self.rng.below(3) {
                    0 => self.gym(),
                    _ => self.trainer(),
                };
                let slot = if self.rng.chance(70) {
                    self.slot_of(&who)
                } else {
                    self.slot_not_of(&who)
                };
                let notes = self.rng.token("note-");
                Op::SlotNotes { who, slot, notes }
            }
            // Move a slot in time: the gym (any slot; often one that has started or ended) or
            // its trainer.
            725..=734 => {
                let (who, slot) = if self.rng.chance(60) {
                    let who = self.gym();
                    let now = self.now;
                    // Started slots nobody holds a place in: the ones whose times may move.
                    let bookings = &self.model.bookings;
                    let started: Vec<usize> = (0..self.model.slots.len())
                        .filter(|&s| {
                            !self.model.slots[s].gone
                                && self.model.slots[s].start_us() <= now
                                && !bookings
                                    .iter()
                                    .any(|b| b.slot == s && b.status != Status::Cancelled)
                        })
                        .collect();
                    let slot = match self.rng.pick(&started) {
                        Some(s) if self.rng.chance(40) => s,
                        _ => self.any_live_slot(),
                    };
                    (who, slot)
                } else {
                    let who = self.trainer();
                    let slot = self.slot_of(&who);
                    (who, slot)
                };
                let minutes = self.rng.range(2, 96) as i32 * 30;
                let start = self.model.slots[slot].start_us();
                let minutes = if start <= self.now && self.rng.chance(70) {
                    // A session that has started, rescheduled to later: into the future.
                    ((self.now - start) / MINUTE) as i32 + minutes
                } else if self.rng.chance(50) {
                    minutes
                } else {
                    -minutes
                };
                Op::SlotMove { who, slot, minutes }
            }
            735..=744 => {
                let who = match self.rng.below(3) {
                    0 => self.gym(),
                    _ => self.trainer(),
                };
                let slot = if self.rng.chance(70) {
                    self.slot_of(&who)
                } else {
                    self.slot_not_of(&who)
                };
                Op::DeleteSlot { who, slot }
            }
            // Profile changes: one's own, someone else's (refused unless the gym).
            745..=774 => {
                let all: Vec<usize> = (0..self.model.users.len()).collect();
                let user = self.rng.pick(&all).unwrap_or(0);
                let who = match self.rng.below(10) {
                    0..=6 => Who::User(user),
                    7 => self.athlete(),
                    _ => self.gym(),
                };
                self.fresh_profile(who, user)
            }
            // An athlete or trainer changes what only the gym changes about them.
            775..=794 => {
                let who = if self.rng.chance(70) {
                    self.athlete()
                } else {
                    self.trainer()
                };
                let user = self.model.me(&who).unwrap_or(5);
                let change = match self.rng.below(5) {
                    0 => IdentityChange::RoleAdmin,
                    1 => IdentityChange::Email(format!("{}@example.com", self.rng.token("e"))),
                    2 => IdentityChange::DeletedAt,
                    3 => IdentityChange::IsAnonymous,
                    _ => IdentityChange::Password(self.rng.token("pw")),
                };
                Op::Identity { who, user, change }
            }
            // The gym promotes an athlete or demotes a trainer (an athlete tries it too).
            795..=804 => {
                let who = if self.rng.chance(90) {
                    self.gym()
                } else {
                    self.athlete()
                };
                let candidates = self.users_where(|u| u.role != Role::Admin);
                let user = self.rng.pick(&candidates).unwrap_or(5);
                let role = if self.model.users[user].role == Role::Trainer {
                    Role::Athlete
                } else {
                    Role::Trainer
                };
                Op::SetRole { who, user, role }
            }
            // The gym changes an email; sometimes to one that is taken.
            805..=814 => {
                let who = self.gym();
                let candidates: Vec<usize> = (1..self.model.users.len()).collect();
                let user = self.rng.pick(&candidates).unwrap_or(5);
                let taken: Vec<usize> = self.users_where(|u| !u.deleted);
                let email = match self.rng.pick(&taken) {
                    Some(other) if other != user && self.rng.chance(30) => {
                        self.model.users[other].email.to_uppercase()
                    }
                    _ => format!("{}@example.com", self.rng.token("e")),
                };
                Op::SetEmail { who, user, email }
            }
            815..=829 => {
                let who = self.anyone();
                let sql = self.rng.pick(&FORBIDDEN_WRITES).unwrap();
                Op::Forbidden { who, sql }
            }
            830..=839 => {
                if self.rng.chance(40) {
                    Op::Directory
                } else {
                    let sql = self.rng.pick(&ANON_FORBIDDEN).unwrap();
                    Op::Forbidden {
                        who: Who::Anon,
                        sql,
                    }
                }
            }
            // A sub that is not a uuid.
            840..=849 => {
                let who = Who::BadSub;
                match self.rng.below(4) {
                    0 => Op::Book {
                        who,
                        slot: self.slot_to_book(),
                    },
                    1 => Op::DeleteMyAccount { who },
                    2 => Op::CreateSlot {
                        who,
                        start_s: self.now / MINUTE * 60 + 3600,
                        minutes: 60,
                        capacity: 2,
                        notes: "bad sub".into(),
                    },
                    _ => Op::CancelSlot {
                        who,
                        slot: SlotRef::Known(self.any_live_slot()),
                    },
                }
            }
            // An athlete deletes a user row directly (refused by RLS: no row); a token for no
            // account deletes "its" account.
            850..=859 => {
                if self.rng.chance(50) {
                    let who = self.athlete();
                    let all: Vec<usize> = (0..self.model.users.len()).collect();
                    let user = self.rng.pick(&all).unwrap_or(0);
                    Op::DeleteUser { who, user }
                } else {
                    Op::DeleteMyAccount { who: self.ghost() }
                }
            }
            860..=861 => Op::DeleteMyAccount {
                who: self.athlete(),
            },
            862 => {
                let who = if self.rng.chance(80) {
                    self.trainer()
                } else {
                    self.someone(Role::Admin)
                };
                // The first admin stays.
                match who {
                    Who::User(0) => self.book(),
                    who => Op::DeleteMyAccount { who },
                }
            }
            863..=864 => {
                let who = self.gym();
                let candidates: Vec<usize> = (1..self.model.users.len())
                    .filter(|&u| self.model.me(&who) != Some(u))
                    .collect();
                match self.rng.pick(&candidates) {
                    Some(user) => Op::DeleteUser { who, user },
                    None => self.book(),
                }
            }
            // Sign-ups keep the gym populated; an athlete signing someone up is refused; an
            // email that is taken is refused.
            _ => {
                let athletes = self.users_where(|u| u.role == Role::Athlete && !u.deleted);
                let trainers = self.users_where(|u| u.role == Role::Trainer && !u.deleted);
                let role = if trainers.len() < 3 {
                    Role::Trainer
                } else {
                    Role::Athlete
                };
                let label = format!("{}{}", role.sql(), self.model.users.len());
                let mut user = self.new_user(role, label);
                let who = if athletes.len() < 8 || trainers.len() < 3 {
                    self.gym()
                } else if self.rng.chance(50) {
                    let live = self.users_where(|u| !u.deleted);
                    let other = self.rng.pick(&live).unwrap_or(0);
                    user.email = self.model.users[other].email.to_uppercase();
                    self.gym()
                } else {
                    self.athlete()
                };
                Op::SignUp {
                    who,
                    user: Box::new(user),
                }
            }
        }
    }

    // ---- describing -------------------------------------------------------------------------

    fn who_label(&self, who: &Who) -> String {
        match who {
            Who::User(i) => {
                let u = &self.model.users[*i];
                format!(
                    "{} {} ({}{})",
                    u.label,
                    u.id,
                    u.role.sql(),
                    if u.deleted { ", deleted" } else { "" }
                )
            }
            other => format!("{other:?}"),
        }
    }

    fn slot_label(&self, s: usize) -> String {
        let slot = &self.model.slots[s];
        format!(
            "slot#{s} {} of {}: starts {:+} min from now, {} min, capacity {}, {} reserved{}{}",
            slot.id,
            self.model.users[slot.trainer].label,
            (slot.start_us() - self.now) / MINUTE,
            slot.minutes,
            slot.capacity,
            self.model.reserved(s),
            if slot.cancelled { ", cancelled" } else { "" },
            if slot.gone { ", deleted" } else { "" },
        )
    }

    fn booking_label(&self, b: usize) -> String {
        let booking = &self.model.bookings[b];
        format!(
            "booking#{b} {} of {} ({} so far, {} changes) in {}",
            booking.id,
            self.model.users[booking.user].label,
            booking.status.sql(),
            booking.changes,
            self.slot_label(booking.slot)
        )
    }

    fn describe(&self, op: &Op) -> String {
        let mut parts = vec![
            format!("{op:?}"),
            format!("caller: {}", self.who_label(&op.who())),
        ];
        if let Op::CreateSlot { start_s, .. } = op {
            parts.push(format!(
                "start: {:+} min from now",
                (start_s * SECOND - self.now) / MINUTE
            ));
        }
        let (slot, booking, user) = match op {
            Op::Book {
                slot: SlotRef::Known(s),
                ..
            }
            | Op::CancelSlot {
                slot: SlotRef::Known(s),
                ..
            } => (Some(*s), None, None),
            Op::CancelBooking {
                booking: BookingRef::Known(b),
                ..
            }
            | Op::SetStatus { booking: b, .. }
            | Op::DeleteBooking { booking: b, .. } => (None, Some(*b), None),
            Op::MoveBooking { booking, slot, .. } => (Some(*slot), Some(*booking), None),
            Op::InsertBooking { slot, user, .. } => (Some(*slot), None, Some(*user)),
            Op::LoadPast { trainer, .. } => (None, None, Some(*trainer)),
            Op::SlotCapacity { slot, .. }
            | Op::SlotNotes { slot, .. }
            | Op::SlotMove { slot, .. }
            | Op::DeleteSlot { slot, .. } => (Some(*slot), None, None),
            Op::Profile { user, .. }
            | Op::Identity { user, .. }
            | Op::SetRole { user, .. }
            | Op::SetEmail { user, .. }
            | Op::DeleteUser { user, .. } => (None, None, Some(*user)),
            _ => (None, None, None),
        };
        if let Some(s) = slot {
            parts.push(self.slot_label(s));
        }
        if let Some(b) = booking {
            parts.push(self.booking_label(b));
        }
        if let Some(u) = user {
            parts.push(format!("target: {}", self.who_label(&Who::User(u))));
        }
        parts.join("\n    ")
    }

    // ---- executing --------------------------------------------------------------------------

    /// One PostgREST request; returns its `now()` and its result.
    fn call(
        &mut self,
        who: &Who,
        method: &str,
        path: &str,
        body: impl FnOnce(&mut Transaction<'_>) -> Result<Obs, postgres::Error>,
    ) -> (i64, Result<Obs, Fail>) {
        let caller = caller_for(&self.model, who);
        let mut now = None;
        let result = postgrest_request(&mut self.client, &caller, method, path, |tx| {
            now = Some(tx.query_one(NOW_US, &[])?.get::<_, i64>(0));
            body(tx)
        });
        (now.unwrap_or(self.now), result.map_err(Fail::of))
    }

    fn rows(
        tx: &mut Transaction<'_>,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Obs, postgres::Error> {
        tx.execute(sql, params).map(Obs::Rows)
    }

    fn exec(&mut self, op: &Op) -> (i64, Result<Obs, Fail>) {
        let who = op.who();
        let slot_id = |m: &Model, s: &SlotRef| match s {
            SlotRef::Known(i) => m.slots[*i].id.clone(),
            SlotRef::Missing(id) => id.clone(),
        };
        match op {
            Op::Book { slot, .. } => {
                let id = slot_id(&self.model, slot);
                self.call(&who, "POST", "/rpc/book_slot", |tx| {
                    tx.query_one(
                        "SELECT id::text, status::text FROM gym_booking.book_slot($1::text::uuid)",
                        &[&id],
                    )
                    .map(|r| booking_obs(&r))
                })
            }
            Op::CancelBooking { booking, .. } => {
                let id = match booking {
                    BookingRef::Known(b) => self.model.bookings[*b].id.clone(),
                    BookingRef::Missing(id) => id.clone(),
                };
                self.call(&who, "POST", "/rpc/cancel_booking", |tx| {
                    tx.query_one(
                        "SELECT id::text, status::text FROM gym_booking.cancel_booking($1::text::uuid)",
                        &[&id],
                    )
                    .map(|r| booking_obs(&r))
                })
            }
            Op::CreateSlot {
                start_s,
                minutes,
                capacity,
                notes,
                ..
            } => self.call(&who, "POST", "/rpc/create_slot", |tx| {
                tx.query_one(
                    &format!(
                        "SELECT {SLOT_COLUMNS} FROM gym_booking.create_slot(
                             to_timestamp($1::int8::float8), $2::int4, $3::int4, $4::text)"
                    ),
                    &[start_s, minutes, capacity, notes],
                )
                .map(|r| slot_obs(&r))
            }),
            Op::CancelSlot { slot, .. } => {
                let id = slot_id(&self.model, slot);
                self.call(&who, "POST", "/rpc/cancel_slot", |tx| {
                    tx.query_one(
                        &format!(
                            "SELECT {SLOT_COLUMNS} FROM gym_booking.cancel_slot($1::text::uuid)"
                        ),
                        &[&id],
                    )
                    .map(|r| slot_obs(&r))
                })
            }
            Op::AvailableSlots { trainer, .. } => {
                let trainer = trainer.map(|t| self.model.users[t].id.clone());
                self.call(&who, "GET", "/rpc/available_slots", |tx| {
                    let rows = tx.query(
                        "SELECT format('%s capacity %s booked %s available %s trainer %s',
                                       slot_id, capacity, booked, available, coalesce(trainer_name, '-'))
                           FROM gym_booking.available_slots(trainer_id => $1::text::uuid)",
                        &[&trainer],
                    )?;
                    Ok(Obs::List(rows.iter().map(|r| r.get(0)).collect()))
                })
            }
            Op::MyBookings { .. } => self.call(&who, "GET", "/rpc/my_bookings", |tx| {
                let rows = tx.query(
                    "SELECT format('%s slot %s %s', booking_id, slot_id, status)
                       FROM gym_booking.my_bookings()",
                    &[],
                )?;
                Ok(Obs::List(rows.iter().map(|r| r.get(0)).collect()))
            }),
            Op::CompletePast { max_rows, .. } => {
                self.call(&who, "POST", "/rpc/complete_past_bookings", |tx| {
                    tx.query_one(
                        "SELECT gym_booking.complete_past_bookings($1::int4)",
                        &[max_rows],
                    )
                    .map(|r| Obs::Count(r.get(0)))
                })
            }
            Op::DeleteMyAccount { .. } => {
                self.call(&who, "POST", "/rpc/delete_my_account", |tx| {
                    tx.execute("SELECT gym_booking.delete_my_account()", &[])
                        .map(|_| Obs::Done)
                })
            }
            Op::SetStatus { booking, to, .. } => {
                let id = self.model.bookings[*booking].id.clone();
                self.call(&who, "PATCH", "/bookings", |tx| {
                    Self::rows(
                        tx,
                        "UPDATE gym_booking.bookings SET status = $2::text::gym_booking.booking_status
                          WHERE id = $1::text::uuid",
                        &[&id, &to.sql()],
                    )
                })
            }
            Op::InsertBooking { slot, user, .. } => {
                let (slot, user) = (
                    self.model.slots[*slot].id.clone(),
                    self.model.users[*user].id.clone(),
                );
                self.call(&who, "POST", "/bookings", |tx| {
                    tx.query_one(
                        "INSERT INTO gym_booking.bookings (slot_id, user_id)
                         VALUES ($1::text::uuid, $2::text::uuid) RETURNING id::text, status::text",
                        &[&slot, &user],
                    )
                    .map(|r| booking_obs(&r))
                })
            }
            Op::DeleteBooking { booking, .. } => {
                let id = self.model.bookings[*booking].id.clone();
                self.call(&who, "DELETE", "/bookings", |tx| {
                    Self::rows(
                        tx,
                        "DELETE FROM gym_booking.bookings WHERE id = $1::text::uuid",
                        &[&id],
                    )
                })
            }
            Op::MoveBooking { booking, slot, .. } => {
                let (id, slot) = (
                    self.model.bookings[*booking].id.clone(),
                    self.model.slots[*slot].id.clone(),
                );
                self.call(&who, "PATCH", "/bookings", |tx| {
                    Self::rows(
                        tx,
                        "UPDATE gym_booking.bookings SET slot_id = $2::text::uuid
                          WHERE id = $1::text::uuid",
                        &[&id, &slot],
                    )
                })
            }
            Op::SlotCapacity { slot, capacity, .. } => {
                let id = self.model.slots[*slot].id.clone();
                self.call(&who, "PATCH", "/slots", |tx| {
                    Self::rows(
                        tx,
                        "UPDATE gym_booking.slots SET capacity = $2::int4 WHERE id = $1::text::uuid",
                        &[&id, capacity],
                    )
                })
            }
            Op::SlotNotes { slot, notes, .. } => {
                let id = self.model.slots[*slot].id.clone();
                self.call(&who, "PATCH", "/slots", |tx| {
                    Self::rows(
                        tx,
                        "UPDATE gym_booking.slots SET notes = $2::text WHERE id = $1::text::uuid",
                        &[&id, notes],
                    )
                })
            }
            Op::SlotMove { slot, minutes, .. } => {
                let id = self.model.slots[*slot].id.clone();
                self.call(&who, "PATCH", "/slots", |tx| {
                    Self::rows(
                        tx,
                        "UPDATE gym_booking.slots SET start_at = start_at + make_interval(mins => $2::int4)
                          WHERE id = $1::text::uuid",
                        &[&id, minutes],
                    )
                })
            }
            Op::DeleteSlot { slot, .. } => {
                let id = self.model.slots[*slot].id.clone();
                self.call(&who, "DELETE", "/slots", |tx| {
                    Self::rows(
                        tx,
                        "DELETE FROM gym_booking.slots WHERE id = $1::text::uuid",
                        &[&id],
                    )
                })
            }
            Op::Profile {
                user,
                first,
                last,
                phone,
                ..
            } => {
                let id = self.model.users[*user].id.clone();
                self.call(&who, "PATCH", "/users", |tx| {
                    Self::rows(
                        tx,
                        "UPDATE gym_booking.users
                            SET first_name = $2::text, last_name = $3::text, contact_phone = $4::text
                          WHERE id = $1::text::uuid",
                        &[&id, first, last, phone],
                    )
                })
            }
            Op::Identity { user, change, .. } => {
                let id = self.model.users[*user].id.clone();
                self.call(&who, "PATCH", "/users", |tx| match change {
                    IdentityChange::RoleAdmin => Self::rows(
                        tx,
                        "UPDATE gym_booking.users SET role = 'admin' WHERE id = $1::text::uuid",
                        &[&id],
                    ),
                    IdentityChange::Email(email) => Self::rows(
                        tx,
                        "UPDATE gym_booking.users SET email = $2::text WHERE id = $1::text::uuid",
                        &[&id, email],
                    ),
                    IdentityChange::DeletedAt => Self::rows(
                        tx,
                        "UPDATE gym_booking.users SET deleted_at = now() WHERE id = $1::text::uuid",
                        &[&id],
                    ),
                    IdentityChange::IsAnonymous => Self::rows(
                        tx,
                        "UPDATE gym_booking.users SET is_anonymous = true WHERE id = $1::text::uuid",
                        &[&id],
                    ),
                    IdentityChange::Password(hash) => Self::rows(
                        tx,
                        "UPDATE gym_booking.users SET password_hash = $2::text WHERE id = $1::text::uuid",
                        &[&id, hash],
                    ),
                })
            }
            Op::SetRole { user, role, .. } => {
                let id = self.model.users[*user].id.clone();
                self.call(&who, "PATCH", "/users", |tx| {
                    Self::rows(
                        tx,
                        "UPDATE gym_booking.users SET role = $2::text::gym_booking.user_role
                          WHERE id = $1::text::uuid",
                        &[&id, &role.sql()],
                    )
                })
            }
            Op::SetEmail { user, email, .. } => {
                let id = self.model.users[*user].id.clone();
                self.call(&who, "PATCH", "/users", |tx| {
                    Self::rows(
                        tx,
                        "UPDATE gym_booking.users SET email = $2::text WHERE id = $1::text::uuid",
                        &[&id, email],
                    )
                })
            }
            Op::DeleteUser { user, .. } => {
                let id = self.model.users[*user].id.clone();
                self.call(&who, "DELETE", "/users", |tx| {
                    Self::rows(
                        tx,
                        "DELETE FROM gym_booking.users WHERE id = $1::text::uuid",
                        &[&id],
                    )
                })
            }
            Op::SignUp { user, .. } => {
                let preference = json!({ "note": user.secrets[3] }).to_string();
                self.call(&who, "POST", "/users", |tx| {
                    tx.query_one(
                        "INSERT INTO gym_booking.users (email, password_hash, first_name, last_name, role,
                                                        contact_email, contact_phone, preferences)
                         VALUES ($1::text, $2::text, $3::text, $4::text, $5::text::gym_booking.user_role,
                                 $6::text, $7::text, $8::text::jsonb)
                         RETURNING id::text",
                        &[
                            &user.email,
                            &user.password,
                            &user.first,
                            &user.last,
                            &user.role.sql(),
                            &user.contact_email,
                            &user.phone,
                            &preference,
                        ],
                    )
                    .map(|r| Obs::Created { id: r.get(0) })
                })
            }
            Op::Forbidden { sql, .. } => {
                self.call(&who, "POST", "/forbidden", |tx| Self::rows(tx, sql, &[]))
            }
            Op::LoadPast {
                trainer,
                start_s,
                minutes,
                capacity,
                athletes,
            } => {
                let trainer = self.model.users[*trainer].id.clone();
                let athletes: Vec<String> = athletes
                    .iter()
                    .map(|&a| self.model.users[a].id.clone())
                    .collect();
                let mut now = self.now;
                let result = (|| {
                    let mut tx = self.client.transaction()?;
                    now = tx.query_one(NOW_US, &[])?.get(0);
                    tx.batch_execute("SET LOCAL session_replication_role = replica")?;
                    let slot: String = tx
                        .query_one(
                            "INSERT INTO gym_booking.slots
                                 (trainer_id, start_at, end_at, duration_minutes, capacity)
                             VALUES ($1::text::uuid, to_timestamp($2::int8::float8),
                                     to_timestamp($3::int8::float8), $4::int8::int2, $5::int8::int2)
                             RETURNING id::text",
                            &[&trainer, start_s, &(start_s + minutes * 60), minutes, capacity],
                        )?
                        .get(0);
                    let mut bookings = Vec::new();
                    for athlete in &athletes {
                        bookings.push(
                            tx.query_one(
                                "INSERT INTO gym_booking.bookings (slot_id, user_id)
                                 VALUES ($1::text::uuid, $2::text::uuid) RETURNING id::text",
                                &[&slot, athlete],
                            )?
                            .get(0),
                        );
                    }
                    tx.commit()?;
                    Ok(Obs::Loaded { slot, bookings })
                })();
                (now, result.map_err(Fail::of))
            }
            Op::Directory => self.call(&who, "GET", "/trainer_directory", |tx| {
                let rows = tx.query(
                    "SELECT trainer_id::text || ' ' || display_name FROM gym_booking.trainer_directory
                      ORDER BY 1",
                    &[],
                )?;
                Ok(Obs::List(rows.iter().map(|r| r.get(0)).collect()))
            }),
        }
    }

    // ---- checking ---------------------------------------------------------------------------

    fn fingerprint(&mut self) -> (String, String) {
        let row = self
            .client
            .query_one(&self.sql.fingerprint, &[])
            .unwrap_or_else(|e| panic!("seed {}: fingerprint: {e:?}", self.seed));
        (row.get(0), row.get(1))
    }

    fn invariants(&mut self) -> Result<(), String> {
        let mut deleted = Vec::new();
        let mut everyone = Vec::new();
        for u in &self.model.users {
            if u.deleted {
                deleted.extend(u.secrets.iter().cloned());
            }
            everyone.extend(u.secrets.iter().cloned());
        }
        let rows = self
            .client
            .query(&self.sql.invariants, &[&deleted, &everyone, &self.log_mark])
            .map_err(|e| format!("the invariants query failed: {e:?}"))?;
        if rows.is_empty() {
            return Ok(());
        }
        let violations: Vec<String> = rows.iter().take(20).map(|r| r.get(0)).collect();
        Err(format!(
            "INVARIANT BROKEN ({} violations):\n    {}",
            rows.len(),
            violations.join("\n    ")
        ))
    }

    /// The database holds exactly what the model holds.
    fn compare(&mut self) -> Result<(), String> {
        let q = |client: &mut Client, sql: &Statement| {
            client
                .query(sql, &[])
                .map_err(|e| format!("reading the state failed: {e:?}"))
        };
        let mut problems = Vec::new();

        let mut db: HashMap<String, (String, bool, i64)> = q(&mut self.client, &self.sql.bookings)?
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
            .collect();
        for (i, b) in self.model.bookings.iter().enumerate() {
            let expected = (b.status.sql().to_string(), b.auto, b.changes);
            match db.remove(&b.id) {
                None => problems.push(format!("booking#{i} {} is missing", b.id)),
                Some(found) if found != expected => problems.push(format!(
                    "booking#{i} {}: (status, auto_processed, history rows) is {found:?}, the model says {expected:?}",
                    b.id
                )),
                Some(_) => {}
            }
        }
        problems.extend(
            db.keys()
                .map(|id| format!("booking {id} is not in the model")),
        );

        let mut db: HashMap<String, (String, i64, i64, i64, bool)> =
            q(&mut self.client, &self.sql.slots)?
                .iter()
                .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3), r.get(4), r.get(5))))
                .collect();
        for (i, s) in self.model.slots.iter().enumerate() {
            let expected = (
                self.model.users[s.trainer].id.clone(),
                s.start_s,
                s.minutes,
                s.capacity,
                s.cancelled,
            );
            match (db.remove(&s.id), s.gone) {
                (None, true) => {}
                (Some(_), true) => problems.push(format!("slot#{i} {} should be deleted", s.id)),
                (None, false) => problems.push(format!("slot#{i} {} is missing", s.id)),
                (Some(found), false) if found != expected => problems.push(format!(
                    "slot#{i} {}: (trainer, start, minutes, capacity, cancelled) is {found:?}, the model says {expected:?}",
                    s.id
                )),
                (Some(_), false) => {}
            }
        }
        problems.extend(db.keys().map(|id| format!("slot {id} is not in the model")));

        type Person = (
            String,
            bool,
            Option<(String, String, Option<String>, Option<String>)>,
        );
        let mut db: HashMap<String, Person> = q(&mut self.client, &self.sql.users)?
            .iter()
            .map(|r| {
                let deleted: bool = r.get(2);
                let person = (!deleted).then(|| (r.get(3), r.get(4), r.get(5), r.get(6)));
                (r.get(0), (r.get(1), deleted, person))
            })
            .collect();
        for u in &self.model.users {
            // A live account's personal fields as last set (a deleted one's: see INVARIANTS).
            let person = (!u.deleted).then(|| {
                (
                    u.email.clone(),
                    u.first.clone(),
                    u.last.clone(),
                    u.phone.clone(),
                )
            });
            let expected = (u.role.sql().to_string(), u.deleted, person);
            match db.remove(&u.id) {
                None => problems.push(format!("user {} {} is missing", u.label, u.id)),
                Some(found) if found != expected => problems.push(format!(
                    "user {} {}: (role, deleted, (email, first, last, phone)) is {found:?}, the model says {expected:?}",
                    u.label, u.id
                )),
                Some(_) => {}
            }
        }
        problems.extend(db.keys().map(|id| format!("user {id} is not in the model")));

        if problems.is_empty() {
            Ok(())
        } else {
            problems.truncate(20);
            Err(format!(
                "THE DATABASE AND THE MODEL DISAGREE:\n    {}",
                problems.join("\n    ")
            ))
        }
    }

    /// Runs one operation and every check; returns a one-line outcome for the log of recent
    /// steps, or why the step failed.
    fn step(&mut self, op: &Op) -> Result<String, String> {
        let (now, actual) = self.exec(op);
        self.now = now;
        let expect = self.model.expect(op, now);
        let outcome = match &actual {
            Ok(obs) => format!("ok {obs:?}"),
            Err(f) => format!("{} {}", f.code, f.message),
        };
        let outcome = if outcome.len() > 160 {
            format!(
                "{}…",
                &outcome[..outcome
                    .char_indices()
                    .nth(160)
                    .map_or(outcome.len(), |c| c.0)]
            )
        } else {
            outcome
        };
        if let Err(f) = &actual {
            if !DOCUMENTED.contains(&f.code.as_str()) {
                return Err(format!(
                    "UNEXPECTED ERROR KIND {}: {} (detail: {:?}); the model expected {expect:?}",
                    f.code, f.message, f.detail
                ));
            }
        }
        let class = match &actual {
            Ok(_) => "ok".to_string(),
            Err(f) => f.code.clone(),
        };
        let unchanged = match (expect, actual) {
            (Expect::Refused(code), Err(f)) if f.code == code => true,
            (Expect::Refused(code), Err(f)) => {
                return Err(format!(
                    "REFUSED WITH THE WRONG SQLSTATE: expected {code}, got {} {} (detail: {:?})",
                    f.code, f.message, f.detail
                ))
            }
            (Expect::Refused(code), Ok(obs)) => {
                return Err(format!(
                    "EXPECTED A REFUSAL ({code}) BUT THE CALL SUCCEEDED: {obs:?}"
                ))
            }
            (expect, Err(f)) => {
                return Err(format!(
                    "EXPECTED SUCCESS ({expect:?}) BUT THE CALL FAILED: {} {} (detail: {:?})",
                    f.code, f.message, f.detail
                ))
            }
            (Expect::Same(expected), Ok(obs)) | (Expect::Touch(expected), Ok(obs))
                if !self.model.matches(&expected, &obs) =>
            {
                return Err(format!(
                    "WRONG RESULT:\n    expected {expected:?}\n    got      {obs:?}"
                ))
            }
            (Expect::Change(expected, _), Ok(obs)) if !self.model.matches(&expected, &obs) => {
                return Err(format!(
                    "WRONG RESULT:\n    expected {expected:?}\n    got      {obs:?}"
                ))
            }
            (Expect::Same(_), Ok(_)) => true,
            (Expect::Touch(_), Ok(_)) => false,
            (Expect::Change(_, effect), Ok(obs)) => {
                self.model.apply(effect, &obs, now);
                false
            }
        };
        *self
            .tally
            .entry(op.kind())
            .or_default()
            .entry(class)
            .or_default() += 1;
        let (fingerprint, mark) = self.fingerprint();
        if unchanged && fingerprint != self.fingerprint {
            return Err(format!(
                "A REFUSED OR NO-OP CALL CHANGED THE DATABASE:\n    before {}\n    after  {fingerprint}",
                self.fingerprint
            ));
        }
        self.invariants()?;
        self.compare()?;
        self.fingerprint = fingerprint;
        self.log_mark = mark;
        Ok(outcome)
    }
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
    eprintln!(
        "seed {seed}: {steps} steps in {:.1} s; {} users ({} deleted), {} slots ({} cancelled), \
         bookings: {} reserved, {} cancelled, {} completed; outcomes:{}",
        started.elapsed().as_secs_f64(),
        m.users.len(),
        m.users.iter().filter(|u| u.deleted).count(),
        m.slots.iter().filter(|s| !s.gone).count(),
        m.slots.iter().filter(|s| s.cancelled && !s.gone).count(),
        count(Status::Reserved),
        count(Status::Cancelled),
        count(Status::Completed),
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

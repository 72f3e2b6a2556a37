//! Bookings: capacity, the 60-minute cancellation window, the allowed status moves, and the
//! status history.
//!
//! Capacity is the one rule that races: two athletes booking the last place at once. The
//! guard locks the slot row (`FOR UPDATE`) before it counts, so bookers of one slot take
//! turns, and counts on the latest committed state, so a turn sees every booking made by the
//! turns before it at any isolation level. A REPEATABLE READ or SERIALIZABLE transaction
//! whose snapshot is too old to lock the slot gets PostgreSQL's retryable 40001 instead.

use pgrx::pg_sys;
use pgrx::prelude::*;

use super::held_slot::{self, CancelTiming};
use super::{
    attendance, fire, lock_order, settings, trainer, waitlist, Op, Outcome, TriggerResult,
};
use crate::errors::{RuleError, RuleResult};
use crate::identity::{self, Account, Actor};
use crate::plans::{self, Sql};
use crate::row::{statement_now, Row, RowEdit};
use crate::system;

// What booking a slot needs to know of the athlete and the slot, with what the studio's
// settings say about booking it now (the settings row is read, not locked); `seed`: the same
// for a database still at a release before 0.2.0 (no studio settings: see
// `settings::installed`), by the seed's rules (always within the window, no limit, no
// waitlist). `$locks` names the locks, taken in that order: the athlete's row FOR SHARE (it
// waits for an account deletion in flight, whose cascade would miss this booking), then the
// slot FOR UPDATE (bookers of one slot take turns).
macro_rules! athlete_and_slot {
    ($locks:literal) => {
        concat!(
            "SELECT u.deleted_at IS NULL, u.role::text,
                    s.capacity, s.cancelled_at IS NOT NULL, s.start_at <= statement_timestamp(),
                    statement_timestamp() < ",
            studio_minus!("s.start_at", "st.booking_opens_before"),
            ",
                    st.booking_closes_before > interval '0'
                        AND statement_timestamp() >= ",
            studio_minus!("s.start_at", "st.booking_closes_before"),
            ",
                    st.max_upcoming_bookings,
                    statement_timestamp() < ",
            studio_minus!(
                "s.start_at",
                "coalesce(st.waitlist_cutoff, st.cancellation_window)"
            ),
            ",
                    st.no_show_strike_limit IS NOT NULL, s.start_at, s.end_at, s.trainer_id
               FROM gym_booking.users AS u, gym_booking.slots AS s,
                    gym_booking.studio_settings AS st
              WHERE u.id = $1 AND s.id = $2 ",
            $locks
        )
    };
    (seed, $locks:literal) => {
        concat!(
            "SELECT u.deleted_at IS NULL, u.role::text,
                    s.capacity, s.cancelled_at IS NOT NULL, s.start_at <= statement_timestamp(),
                    false, false, NULL::integer, false, false, s.start_at, s.end_at, s.trainer_id
               FROM gym_booking.users AS u, gym_booking.slots AS s
              WHERE u.id = $1 AND s.id = $2 ",
            $locks
        )
    };
}

static LOCK_ATHLETE_AND_SLOT: Sql = Sql {
    text: athlete_and_slot!("FOR SHARE OF u FOR UPDATE OF s"),
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID],
};

static LOCK_ATHLETE_AND_SLOT_01: Sql = Sql {
    text: athlete_and_slot!(seed, "FOR SHARE OF u FOR UPDATE OF s"),
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID],
};

// The same locks for a re-activation, which already holds its booking: PostgreSQL locks the
// row an UPDATE changes before the row's BEFORE triggers run, so this path holds a booking
// before its slot, out of the lock order (`lock_order`). It must not wait in that state: a
// slot cancellation (or an account deletion) holding the slot (or the athlete) waits for this
// very booking. So it takes the locks only when they are free, and tries again a little later
// when they are not (`wait_out_of_order`).
static TRY_LOCK_ATHLETE_AND_SLOT: Sql = Sql {
    text: athlete_and_slot!("FOR SHARE OF u SKIP LOCKED FOR UPDATE OF s SKIP LOCKED"),
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID],
};

static TRY_LOCK_ATHLETE_AND_SLOT_01: Sql = Sql {
    text: athlete_and_slot!(
        seed,
        "FOR SHARE OF u SKIP LOCKED FOR UPDATE OF s SKIP LOCKED"
    ),
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID],
};

static ATHLETE_AND_SLOT_EXIST: Sql = Sql {
    text:
        "SELECT FROM gym_booking.users AS u, gym_booking.slots AS s WHERE u.id = $1 AND s.id = $2",
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID],
};

/// How long a change holding a booking tries for its slot before it gives up (about
/// PostgreSQL's default `deadlock_timeout`, after which a real circle would be broken anyway).
const OUT_OF_ORDER_PATIENCE_MS: u64 = 1000;

/// Places taken in a slot (run on the latest snapshot, with the slot locked).
pub static RESERVED_IN_SLOT: Sql = Sql {
    text: "SELECT count(*) FROM gym_booking.bookings WHERE slot_id = $1 AND status = 'reserved'",
    args: &[pg_sys::UUIDOID],
};

/// The athlete's reserved place in the slot (run on the latest snapshot).
static ATHLETE_IN_SLOT: Sql = Sql {
    text: "SELECT count(*) FROM gym_booking.bookings
            WHERE slot_id = $1 AND user_id = $2 AND status = 'reserved'",
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID],
};

// The cancellation window is the studio's setting (60 minutes unless changed).
static SLOT_TIMING_01: Sql = Sql {
    text:
        "SELECT cancelled_at IS NOT NULL, statement_timestamp() > start_at - interval '60 minutes',
                  start_at::text, 3600::bigint, end_at <= statement_timestamp()
             FROM gym_booking.slots WHERE id = $1",
    args: &[pg_sys::UUIDOID],
};

// What the cancellation rule asks of a slot `s` (`st`: the settings): cancelled, inside the
// cancellation window, its start in the studio's time, the window in seconds.
macro_rules! cancel_timing_columns {
    () => {
        concat!(
            "s.cancelled_at IS NOT NULL,
                  statement_timestamp() > ",
            studio_minus!("s.start_at", "st.cancellation_window"),
            ",
                  to_char(s.start_at AT TIME ZONE st.time_zone, 'YYYY-MM-DD HH24:MI')
                      || ' (' || st.time_zone || ')',
                  extract(epoch FROM st.cancellation_window)::bigint"
        )
    };
}

static SLOT_TIMING: Sql = Sql {
    text: concat!(
        "SELECT ",
        cancel_timing_columns!(),
        ", s.end_at <= statement_timestamp()
             FROM gym_booking.slots AS s, gym_booking.studio_settings AS st WHERE s.id = $1"
    ),
    args: &[pg_sys::UUIDOID],
};

// Bookers of one athlete take turns when the studio limits upcoming bookings: counting and
// booking must not interleave. A transaction-scoped advisory lock on the athlete (the class
// is this extension's: 'gymb'), taken after the slot.
const ATHLETE_LIMIT_LOCK_CLASS: i32 = 0x6779_6d62;

static LOCK_ATHLETE_LIMIT: Sql = Sql {
    text: "SELECT pg_catalog.pg_advisory_xact_lock($1, pg_catalog.hashtext($2::text))",
    args: &[pg_sys::INT4OID, pg_sys::UUIDOID],
};

static TRY_LOCK_ATHLETE_LIMIT: Sql = Sql {
    text: "SELECT pg_catalog.pg_try_advisory_xact_lock($1, pg_catalog.hashtext($2::text))",
    args: &[pg_sys::INT4OID, pg_sys::UUIDOID],
};

/// The athlete's reserved bookings of slots that have not started (latest snapshot).
pub static UPCOMING_OF: Sql = Sql {
    text: "SELECT count(*) FROM gym_booking.bookings AS b
             JOIN gym_booking.slots AS s ON s.id = b.slot_id
            WHERE b.user_id = $1 AND b.status = 'reserved' AND s.start_at > statement_timestamp()",
    args: &[pg_sys::UUIDOID],
};

// A cancellation holds its slot (a freed place goes to the waitlist under that lock).
static TRY_LOCK_SLOT: Sql = Sql {
    text: "SELECT FROM gym_booking.slots WHERE id = $1 FOR UPDATE SKIP LOCKED",
    args: &[pg_sys::UUIDOID],
};

static SLOT_EXISTS: Sql = Sql {
    text: "SELECT FROM gym_booking.slots WHERE id = $1",
    args: &[pg_sys::UUIDOID],
};

// The slot of a booking, locked, with what its cancellation will ask (`held_slot`).
static LOCK_SLOT_OF_BOOKING: Sql = Sql {
    text: concat!(
        "SELECT s.id, s.start_at, s.end_at, s.trainer_id, ",
        cancel_timing_columns!(),
        "
             FROM gym_booking.slots AS s, gym_booking.studio_settings AS st
            WHERE s.id = (SELECT b.slot_id FROM gym_booking.bookings AS b WHERE b.id = $1)
              FOR UPDATE OF s"
    ),
    args: &[pg_sys::UUIDOID],
};

static RECORD_HISTORY: Sql = Sql {
    text: "INSERT INTO gym_booking.booking_status_history
               (booking_id, previous_status, current_status, changed_at, changed_by, auto_processed)
           VALUES ($1, $2::gym_booking.booking_status, $3::gym_booking.booking_status, statement_timestamp(), $4, $5)",
    args: &[pg_sys::UUIDOID, pg_sys::TEXTOID, pg_sys::TEXTOID, pg_sys::UUIDOID, pg_sys::BOOLOID],
};

/// The athlete and the slot, read under their locks.
struct AthleteAndSlot {
    active: bool,
    role: Option<String>,
    capacity: i16,
    cancelled: bool,
    started: bool,
    /// Outside the studio's booking window (not open yet, or closed).
    outside_window: bool,
    max_upcoming: Option<i32>,
    before_cutoff: bool,
    /// The studio suspends athletes after repeated no-shows (`no_show_strike_limit`).
    strikes_count: bool,
}

/// Locks the athlete's row and the slot; `None` when either does not exist or (with
/// `TRY_LOCK_ATHLETE_AND_SLOT`) either is locked by another transaction.
fn lock_athlete_and_slot(sql: &Sql, args: &[pgrx::Uuid; 2]) -> RuleResult<Option<AthleteAndSlot>> {
    plans::run(sql, &[args[0].into(), args[1].into()], |t| {
        if t.is_empty() {
            return Ok(None);
        }
        let t = t.first();
        if let (Some(start_at), Some(end_at)) = (t.get(11)?, t.get(12)?) {
            held_slot::remember(held_slot::Read {
                slot: args[1],
                start_at,
                end_at,
                trainer: t.get(13)?,
                athlete: (t.get::<bool>(1)? == Some(true)).then_some(args[0]),
                cancel: None,
            });
        }
        Ok(Some(AthleteAndSlot {
            active: t.get::<bool>(1)? == Some(true),
            role: t.get::<String>(2)?,
            capacity: t.get::<i16>(3)?.unwrap_or(0),
            cancelled: t.get::<bool>(4)? == Some(true),
            started: t.get::<bool>(5)? == Some(true),
            outside_window: t.get::<bool>(6)? == Some(true) || t.get::<bool>(7)? == Some(true),
            max_upcoming: t.get::<i32>(8)?,
            before_cutoff: t.get::<bool>(9)? == Some(true),
            strikes_count: t.get::<bool>(10)? == Some(true),
        }))
    })
}

/// Runs `try_take` (which takes locks only when they are free) until it succeeds, pausing a
/// little longer each time while another transaction holds them (a booker of the same slot,
/// normally, for a few milliseconds), and refuses with 55P03 after `OUT_OF_ORDER_PATIENCE_MS`.
/// For a change that already holds its booking: never queued behind the holder, so never part
/// of a circle. `try_take` answers `Some(None)` when what it locks does not exist.
fn patiently<T>(
    mut try_take: impl FnMut() -> RuleResult<Option<Option<T>>>,
) -> RuleResult<Option<T>> {
    let (mut waited_ms, mut pause_ms) = (0, 1);
    loop {
        if let Some(taken) = try_take()? {
            return Ok(taken);
        }
        if waited_ms >= OUT_OF_ORDER_PATIENCE_MS {
            return Err(RuleError::Busy {
                message: "the slot is being changed by another transaction: try again".into(),
                hint: "gym_booking.book_slot() and cancel_booking() do not meet this: they \
                       take the slot before the booking and wait their turn.",
            });
        }
        // SAFETY: plain sleep; interrupts (a cancel, statement_timeout) are served right after.
        unsafe { pg_sys::pg_usleep((pause_ms * 1000) as std::ffi::c_long) };
        pgrx::check_for_interrupts!();
        waited_ms += pause_ms;
        pause_ms = (pause_ms * 2).min(50);
    }
}

/// The locks of `take_place` for a change that already holds its booking.
fn wait_out_of_order(args: &[pgrx::Uuid; 2]) -> RuleResult<Option<AthleteAndSlot>> {
    patiently(|| {
        let sql = if settings::installed() {
            &TRY_LOCK_ATHLETE_AND_SLOT
        } else {
            &TRY_LOCK_ATHLETE_AND_SLOT_01
        };
        if let Some(locked) = lock_athlete_and_slot(sql, args)? {
            return Ok(Some(Some(locked)));
        }
        let exists = plans::run(
            &ATHLETE_AND_SLOT_EXIST,
            &[args[0].into(), args[1].into()],
            |t| Ok(!t.is_empty()),
        )?;
        Ok((!exists).then_some(None))
    })
}

/// The slot of a booking being cancelled, for a change that already holds the booking.
fn take_slot_out_of_order(slot: pgrx::Uuid) -> RuleResult<()> {
    patiently(|| {
        if plans::execute(&TRY_LOCK_SLOT, &[slot.into()])? == 1 {
            return Ok(Some(Some(())));
        }
        let exists = plans::execute(&SLOT_EXISTS, &[slot.into()])? == 1;
        Ok((!exists).then_some(None))
    })?;
    Ok(())
}

/// Takes the athlete's limit lock (see `ATHLETE_LIMIT_LOCK_CLASS`), waiting for it.
fn lock_athlete_limit(athlete: pgrx::Uuid) -> RuleResult<()> {
    plans::execute(
        &LOCK_ATHLETE_LIMIT,
        &[ATHLETE_LIMIT_LOCK_CLASS.into(), athlete.into()],
    )?;
    Ok(())
}

/// Takes the athlete's limit lock if it is free (a promotion, which holds a slot, never waits).
pub fn try_lock_athlete_limit(athlete: pgrx::Uuid) -> RuleResult<bool> {
    Ok(plans::one::<bool>(
        &TRY_LOCK_ATHLETE_LIMIT,
        &[ATHLETE_LIMIT_LOCK_CLASS.into(), athlete.into()],
    )? == Some(true))
}

/// Refuses with 40001 when this transaction's snapshot (REPEATABLE READ or SERIALIZABLE)
/// counts fewer rows of `sql` than the latest committed state: a cascade run on it would miss
/// the rest (bookings made after the transaction began). At READ COMMITTED each statement
/// sees every committed row.
pub fn refuse_stale_snapshot(sql: &Sql, arg: pgrx::Uuid, what: &str) -> RuleResult<()> {
    // SAFETY: reads the transaction's isolation level.
    if unsafe { pg_sys::XactIsoLevel } < pg_sys::XACT_REPEATABLE_READ as i32 {
        return Ok(());
    }
    let seen = plans::one::<i64>(sql, &[arg.into()])?.unwrap_or(0);
    if plans::latest_i64(sql, &[arg])? > seen {
        return Err(RuleError::Serialization {
            message: format!(
                "could not serialize access: {what} changed after this transaction began"
            ),
        });
    }
    Ok(())
}

/// The athlete's upcoming reserved bookings, counted on the latest committed state.
pub fn upcoming_of(athlete: pgrx::Uuid) -> RuleResult<i64> {
    plans::latest_i64(&UPCOMING_OF, &[athlete])
}

thread_local! {
    /// (statement, slot, athlete): a new booking's place was taken in this statement, with
    /// the athlete and the slot locked. `book_slot`'s re-activation is an INSERT that meets the
    /// athlete's cancelled row and updates it (ON CONFLICT DO UPDATE): its BEFORE UPDATE check
    /// would take the same locks and count the same places again. A rolled-back savepoint
    /// (which lets the locks go) moves the statement's epoch on (`memo`), so this is then
    /// forgotten.
    static PLACE_TAKEN: std::cell::Cell<Option<(crate::memo::Epoch, pgrx::Uuid, pgrx::Uuid)>> =
        const { std::cell::Cell::new(None) };
}

/// Whether this statement already took a place in `slot` for `athlete` (and forgets it).
fn place_taken_in_this_statement(slot: pgrx::Uuid, athlete: pgrx::Uuid) -> bool {
    PLACE_TAKEN.with(|p| {
        p.get() == Some((crate::memo::Epoch::now(), slot, athlete)) && {
            p.set(None);
            true
        }
    })
}

/// Takes a place in the slot for the athlete, or refuses: locks the athlete's row and the
/// slot, checks both, counts. `newcomer`: the booking is a new row (INSERT).
fn take_place(user_id: pgrx::Uuid, slot_id: pgrx::Uuid, newcomer: bool) -> RuleResult<()> {
    PLACE_TAKEN.with(|p| p.set(None));
    take_place_checked(user_id, slot_id, newcomer)?;
    if newcomer {
        PLACE_TAKEN.with(|p| p.set(Some((crate::memo::Epoch::now(), slot_id, user_id))));
    }
    Ok(())
}

fn take_place_checked(user_id: pgrx::Uuid, slot_id: pgrx::Uuid, newcomer: bool) -> RuleResult<()> {
    let args = [user_id, slot_id];
    let locked = if newcomer {
        let sql = if settings::installed() {
            &LOCK_ATHLETE_AND_SLOT
        } else {
            &LOCK_ATHLETE_AND_SLOT_01
        };
        lock_athlete_and_slot(sql, &args)?
    } else {
        wait_out_of_order(&args)?
    };
    // No such athlete or slot: the foreign keys report it.
    let Some(locked) = locked else {
        return Ok(());
    };
    let capacity = locked.capacity;
    // Read under lock, so at least as fresh as what the caller's look-up would read.
    if identity::claimed_user_id()? == Some(user_id) {
        identity::remember(Account {
            id: user_id,
            role: locked.role.clone(),
            active: locked.active,
        });
    }
    if !locked.active {
        return Err(RuleError::NotBookable {
            reason: "the athlete's account has been deleted",
        });
    }
    if locked.cancelled {
        return Err(RuleError::NotBookable {
            reason: "it has been cancelled",
        });
    }
    if locked.started {
        return Err(RuleError::NotBookable {
            reason: "it has already started",
        });
    }
    let promotion = waitlist::promoting(slot_id, user_id);
    // The gym booking for an athlete (an app admin, service_role, the DBA) is exempt from the
    // studio's windows and limits; a promotion is the athlete's own booking made by the system.
    let exempt = !promotion && Actor::current()?.is_privileged();
    // A suspended athlete books nothing, not even by promotion (which checks first and skips
    // them); read under their users row, which a no-show that suspends holds exclusively.
    if locked.strikes_count && !exempt {
        attendance::refuse_if_suspended(user_id)?;
    }
    if locked.outside_window && !exempt {
        // The refusal says when, in the studio's time.
        if let Some(terms) = waitlist::terms(slot_id)? {
            terms.window()?;
        }
    }
    // One statement for the places taken, how many wait, and whether the athlete waits (a
    // release before 0.2.0 has no waitlist).
    let (reserved, waiting) = if settings::installed() {
        let places = waitlist::places(slot_id, user_id)?;
        (places.reserved, places.waiting)
    } else {
        (plans::latest_i64(&RESERVED_IN_SLOT, &[slot_id])?, 0)
    };
    if reserved >= i64::from(capacity) {
        // A second insert of a place the athlete already holds (their own double tap): the
        // unique key answers it (ON CONFLICT in book_slot), not "full" while they hold a place.
        if newcomer && plans::latest_i64(&ATHLETE_IN_SLOT, &[slot_id, user_id])? > 0 {
            return Ok(());
        }
        return Err(RuleError::SlotFull { capacity });
    }
    if let (Some(limit), false) = (locked.max_upcoming, exempt) {
        if newcomer {
            lock_athlete_limit(user_id)?;
        } else {
            patiently(|| Ok(try_lock_athlete_limit(user_id)?.then_some(Some(()))))?;
        }
        let held = upcoming_of(user_id)?;
        if held >= i64::from(limit) {
            return Err(RuleError::LimitReached { held, limit });
        }
    }
    // A free place is not for anyone while an eligible athlete waits ahead of them (outside
    // the booking window nobody waiting is: a promotion books nobody then).
    if !promotion && locked.before_cutoff && !locked.outside_window && waiting > 0 {
        let held = waitlist::held_for_waitlist(slot_id, user_id)?;
        if i64::from(capacity) - reserved <= held {
            return Err(RuleError::HeldForWaitlist { waiting: held });
        }
    }
    Ok(())
}

/// reserved -> cancelled: the owner until 60 minutes before the start; the gym any time;
/// always when the slot itself was cancelled or the change is the system's.
fn check_cancel(slot_id: pgrx::Uuid) -> RuleResult<()> {
    // The freed place goes to the waitlist under the slot's lock: cancellations and joins (and
    // bookers) of one slot take turns. The API and the cascades hold the slot already.
    if !held_slot::is_held(slot_id) {
        take_slot_out_of_order(slot_id)?;
    }
    if system::active() {
        return Ok(());
    }
    let timing = match held_slot::cancel_timing(slot_id) {
        Some(timing) => timing,
        None => slot_timing(slot_id)?,
    };
    if timing.cancelled || !timing.too_late || Actor::current()?.is_admin() {
        return Ok(());
    }
    Err(RuleError::TooLateToCancel {
        start_at: timing.start_at,
        window: span(timing.window_secs),
    })
}

/// What the cancellation rule asks of a slot, read now.
fn slot_timing(slot_id: pgrx::Uuid) -> RuleResult<CancelTiming> {
    let timing_sql = if settings::installed() {
        &SLOT_TIMING
    } else {
        &SLOT_TIMING_01
    };
    plans::run(timing_sql, &[slot_id.into()], |t| {
        cancel_timing(&t.first(), 1)
    })
}

/// The `cancel_timing_columns!()` of a row, from column `first` on.
fn cancel_timing(
    row: &pgrx::spi::SpiTupleTable<'_>,
    first: usize,
) -> Result<CancelTiming, pgrx::spi::Error> {
    Ok(CancelTiming {
        cancelled: row.get::<bool>(first)? == Some(true),
        too_late: row.get::<bool>(first + 1)? == Some(true),
        start_at: row.get::<String>(first + 2)?.unwrap_or_default(),
        window_secs: row.get::<i64>(first + 3)?.unwrap_or(3600),
    })
}

/// A span of seconds as a person says it: "60 minutes" (the seed's words), "2 hours", "1 day".
fn span(seconds: i64) -> String {
    let minutes = seconds / 60;
    let (n, unit) = match minutes {
        m if m >= 1440 && m % 1440 == 0 => (m / 1440, "day"),
        m if m > 60 && m % 60 == 0 => (m / 60, "hour"),
        m => (m, "minute"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// Takes the slot of a booking before the booking itself (the lock order), for the API's
/// cancellation: the rules then find the slot held and never wait out of order. Locks nothing
/// for a booking that does not exist.
#[pg_extern(volatile, strict, parallel_unsafe)]
fn lock_booking_slot(booking_id: pgrx::Uuid) {
    crate::errors::refuse_if_read_only(c"cancel_booking()");
    lock_order::lock_writer().unwrap_or_else(|e| crate::errors::raise(e));
    lock_slot_of_booking(booking_id).unwrap_or_else(|e| crate::errors::raise(e));
}

fn lock_slot_of_booking(booking_id: pgrx::Uuid) -> RuleResult<()> {
    plans::run(&LOCK_SLOT_OF_BOOKING, &[booking_id.into()], |t| {
        if t.is_empty() {
            return Ok(());
        }
        let t = t.first();
        if let (Some(slot), Some(start_at), Some(end_at)) = (t.get(1)?, t.get(2)?, t.get(3)?) {
            held_slot::remember(held_slot::Read {
                slot,
                start_at,
                end_at,
                trainer: t.get(4)?,
                athlete: None,
                cancel: Some(cancel_timing(&t, 5)?),
            });
        }
        Ok(())
    })
}

/// reserved -> completed: by the gym (or the system), once the slot has ended.
fn check_complete(slot_id: pgrx::Uuid) -> RuleResult<()> {
    if !system::active() && !Actor::current()?.is_admin() {
        return Err(RuleError::NotAllowed {
            message: "only the gym marks a booking completed".into(),
            hint: Some(
                "Bookings of ended slots are completed by gym_booking.complete_past_bookings().",
            ),
        });
    }
    let timing_sql = if settings::installed() {
        &SLOT_TIMING
    } else {
        &SLOT_TIMING_01
    };
    let ended = plans::run(timing_sql, &[slot_id.into()], |t| t.first().get::<bool>(5))?;
    if ended != Some(true) {
        return Err(RuleError::invalid(
            "a booking can be completed only after its slot has ended",
        ));
    }
    Ok(())
}

/// The booking's status; NULL is refused as the column's NOT NULL would refuse it.
fn status(row: &Row) -> RuleResult<String> {
    row.text("status")?.ok_or_else(|| RuleError::NullValue {
        column: "status".into(),
        table: "bookings".into(),
    })
}

fn on_insert(new: &Row) -> RuleResult<Outcome> {
    if status(new)? != "reserved" {
        return Err(RuleError::InvalidInput {
            message: "a new booking must be reserved".into(),
            detail: None,
            hint: Some("Book first; cancel or complete the booking afterwards."),
        });
    }
    let user_id = new.uuid("user_id")?;
    // Row-level security says the same, but only after this trigger: refuse a client's
    // booking for someone else before anything else is looked at (or locked). Booking for
    // the id in one's own token needs no look-up.
    if identity::claimed_user_id()? != Some(user_id) {
        let actor = Actor::current()?;
        if !actor.is_privileged() && actor.user_id != Some(user_id) {
            return Err(RuleError::not_allowed("you can book only for yourself"));
        }
    }
    take_place(user_id, new.uuid("slot_id")?, true)?;
    let mut edit = RowEdit::default();
    edit.set_micros(new, "status_changed_at", statement_now())?;
    // The system's booking (a promotion from the waitlist) is auto_processed.
    edit.set(new, "auto_processed", Some(system::active()))?;
    Ok(Outcome::Edit(edit))
}

fn on_update(old: &Row, new: &Row) -> RuleResult<Outcome> {
    if !new.same(old, "slot_id")? || !new.same(old, "user_id")? {
        return Err(RuleError::InvalidInput {
            message: "a booking cannot move to another slot or athlete".into(),
            detail: None,
            hint: Some("Cancel this booking and book the other slot."),
        });
    }
    let mut edit = RowEdit::default();
    let (from, to) = (status(old)?, status(new)?);
    if from == to {
        // Only a status change moves these; clients cannot set them.
        edit.keep(new, old, "status_changed_at")?;
        edit.keep(new, old, "auto_processed")?;
        return Ok(Outcome::Edit(edit));
    }
    let slot_id = new.uuid("slot_id")?;
    match (from.as_str(), to.as_str()) {
        ("reserved", "cancelled") => check_cancel(slot_id)?,
        ("cancelled", "reserved") => {
            let athlete = new.uuid("user_id")?;
            if !place_taken_in_this_statement(slot_id, athlete) {
                take_place(athlete, slot_id, false)?
            }
        }
        ("reserved", "completed") => check_complete(slot_id)?,
        ("completed", _) => return Err(RuleError::invalid("a completed booking is final")),
        (from, to) => {
            return Err(RuleError::invalid(format!(
                "a booking cannot go from {from} to {to}"
            )))
        }
    }
    edit.set_micros(new, "status_changed_at", statement_now())?;
    edit.set(new, "auto_processed", Some(system::active()))?;
    Ok(Outcome::Edit(edit))
}

/// BEFORE INSERT OR UPDATE on bookings.
#[pg_trigger]
fn bookings_capacity_guard<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| match fired.op {
        Op::Insert => on_insert(fired.new_row()?),
        Op::Update => on_update(fired.old_row()?, fired.new_row()?),
        Op::Delete => Ok(Outcome::Proceed),
    })
}

/// BEFORE DELETE on bookings: a booking is history; it is cancelled, never deleted.
#[pg_trigger]
fn bookings_delete_guard<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |_| {
        Err(RuleError::Restricted {
            what: "bookings are never deleted".into(),
            hint: "Cancel it instead: set its status to 'cancelled'.",
        })
    })
}

/// AFTER UPDATE on bookings, when the status changed: one history row per change.
#[pg_trigger]
fn booking_status_history<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        let (old, new) = (fired.old_row()?, fired.new_row()?);
        // A promotion is the system's: it names nobody (the canceller must not learn who).
        let changed_by = match waitlist::in_promotion() {
            true => None,
            false => Actor::current()?.user_id,
        };
        if new.has("trainer_id") {
            // The history row is the booking's trainer's (`trainer::follow_slot_trainer`).
            trainer::writing_about(new.uuid("id")?, new.get("trainer_id")?);
        }
        plans::execute(
            &RECORD_HISTORY,
            &[
                new.uuid("id")?.into(),
                old.text("status")?.into(),
                new.text("status")?.into(),
                changed_by.into(),
                new.get::<bool>("auto_processed")?.into(),
            ],
        )?;
        Ok(Outcome::Proceed)
    })
}

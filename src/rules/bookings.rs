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

use super::{fire, Op, Outcome, TriggerResult};
use crate::errors::{RuleError, RuleResult};
use crate::identity::{self, Account, Actor};
use crate::plans::{self, Sql};
use crate::row::{statement_now, Row, RowEdit};
use crate::system;

// The athlete's row FOR SHARE first (it waits for an account deletion in flight, whose
// cascade would miss this booking), then the slot FOR UPDATE (bookers of one slot take turns):
// one statement, the locks taken in that order.
static LOCK_ATHLETE_AND_SLOT: Sql = Sql {
    text: "SELECT u.deleted_at IS NULL, u.role::text,
                  s.capacity, s.cancelled_at IS NOT NULL, s.start_at <= statement_timestamp()
             FROM gym_booking.users AS u, gym_booking.slots AS s
            WHERE u.id = $1 AND s.id = $2
              FOR SHARE OF u FOR UPDATE OF s",
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID],
};

// The same locks for a re-activation, which already holds its booking: PostgreSQL locks the
// row an UPDATE changes before the row's BEFORE triggers run, so this path holds a booking
// before its slot, out of the lock order (`lock_order`). It must not wait in that state: a
// slot cancellation (or an account deletion) holding the slot (or the athlete) waits for this
// very booking. So it takes the locks only when they are free, and tries again a little later
// when they are not (`wait_out_of_order`).
static TRY_LOCK_ATHLETE_AND_SLOT: Sql = Sql {
    text: "SELECT u.deleted_at IS NULL, u.role::text,
                  s.capacity, s.cancelled_at IS NOT NULL, s.start_at <= statement_timestamp()
             FROM gym_booking.users AS u, gym_booking.slots AS s
            WHERE u.id = $1 AND s.id = $2
              FOR SHARE OF u SKIP LOCKED FOR UPDATE OF s SKIP LOCKED",
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

static SLOT_TIMING: Sql = Sql {
    text:
        "SELECT cancelled_at IS NOT NULL, statement_timestamp() > start_at - interval '60 minutes',
                  end_at <= statement_timestamp(), start_at::text
             FROM gym_booking.slots WHERE id = $1",
    args: &[pg_sys::UUIDOID],
};

static RECORD_HISTORY: Sql = Sql {
    text: "INSERT INTO gym_booking.booking_status_history
               (booking_id, previous_status, current_status, changed_at, changed_by, auto_processed)
           VALUES ($1, $2::gym_booking.booking_status, $3::gym_booking.booking_status, statement_timestamp(), $4, $5)",
    args: &[pg_sys::UUIDOID, pg_sys::TEXTOID, pg_sys::TEXTOID, pg_sys::UUIDOID, pg_sys::BOOLOID],
};

type AthleteAndSlot = (
    Option<bool>,
    Option<String>,
    Option<i16>,
    Option<bool>,
    Option<bool>,
);

/// Locks the athlete's row and the slot; `None` when either does not exist or (with
/// `TRY_LOCK_ATHLETE_AND_SLOT`) either is locked by another transaction.
fn lock_athlete_and_slot(sql: &Sql, args: &[pgrx::Uuid; 2]) -> RuleResult<Option<AthleteAndSlot>> {
    plans::run(sql, &[args[0].into(), args[1].into()], |t| {
        if t.is_empty() {
            return Ok(None);
        }
        let t = t.first();
        Ok(Some((
            t.get::<bool>(1)?,
            t.get::<String>(2)?,
            t.get::<i16>(3)?,
            t.get::<bool>(4)?,
            t.get::<bool>(5)?,
        )))
    })
}

/// The locks of `take_place` for a change that already holds its booking: taken when free,
/// tried again after a short, growing pause while another transaction holds them (a booker of
/// the same slot, normally, for a few milliseconds), and refused with 55P03 after
/// `OUT_OF_ORDER_PATIENCE_MS`. Never queued behind the holder, so never part of a circle.
fn wait_out_of_order(args: &[pgrx::Uuid; 2]) -> RuleResult<Option<AthleteAndSlot>> {
    let (mut waited_ms, mut pause_ms) = (0, 1);
    loop {
        if let Some(locked) = lock_athlete_and_slot(&TRY_LOCK_ATHLETE_AND_SLOT, args)? {
            return Ok(Some(locked));
        }
        let exists = plans::run(
            &ATHLETE_AND_SLOT_EXIST,
            &[args[0].into(), args[1].into()],
            |t| Ok(!t.is_empty()),
        )?;
        if !exists {
            return Ok(None);
        }
        if waited_ms >= OUT_OF_ORDER_PATIENCE_MS {
            return Err(RuleError::Busy {
                message: "the slot is being changed by another transaction: try again".into(),
                hint: "gym_booking.book_slot() re-activates a booking without meeting this: it \
                       takes the slot before the booking and waits its turn.",
            });
        }
        // SAFETY: plain sleep; interrupts (a cancel, statement_timeout) are served right after.
        unsafe { pg_sys::pg_usleep((pause_ms * 1000) as std::ffi::c_long) };
        pgrx::check_for_interrupts!();
        waited_ms += pause_ms;
        pause_ms = (pause_ms * 2).min(50);
    }
}

/// Takes a place in the slot for the athlete, or refuses: locks the athlete's row and the
/// slot, checks both, counts. `newcomer`: the booking is a new row (INSERT).
fn take_place(user_id: pgrx::Uuid, slot_id: pgrx::Uuid, newcomer: bool) -> RuleResult<()> {
    let args = [user_id, slot_id];
    let locked = if newcomer {
        lock_athlete_and_slot(&LOCK_ATHLETE_AND_SLOT, &args)?
    } else {
        wait_out_of_order(&args)?
    };
    // No such athlete or slot: the foreign keys report it.
    let Some((active, role, capacity, cancelled, started)) = locked else {
        return Ok(());
    };
    let active = active == Some(true);
    // Read under lock, so at least as fresh as what the caller's look-up would read.
    if identity::claimed_user_id()? == Some(user_id) {
        identity::remember(Account {
            id: user_id,
            role,
            active,
        });
    }
    if !active {
        return Err(RuleError::NotBookable {
            reason: "the athlete's account has been deleted",
        });
    }
    if cancelled == Some(true) {
        return Err(RuleError::NotBookable {
            reason: "it has been cancelled",
        });
    }
    if started == Some(true) {
        return Err(RuleError::NotBookable {
            reason: "it has already started",
        });
    }
    let capacity = capacity.unwrap_or(0);
    if plans::latest_i64(&RESERVED_IN_SLOT, &[slot_id])? < i64::from(capacity) {
        return Ok(());
    }
    // A second insert of a place the athlete already holds (their own double tap): the
    // unique key answers it (ON CONFLICT in book_slot), not "full" while they hold a place.
    if newcomer && plans::latest_i64(&ATHLETE_IN_SLOT, &[slot_id, user_id])? > 0 {
        return Ok(());
    }
    Err(RuleError::SlotFull { capacity })
}

/// reserved -> cancelled: the owner until 60 minutes before the start; the gym any time;
/// always when the slot itself was cancelled or the change is the system's.
fn check_cancel(slot_id: pgrx::Uuid) -> RuleResult<()> {
    if system::active() {
        return Ok(());
    }
    let timing = plans::run(&SLOT_TIMING, &[slot_id.into()], |t| {
        let t = t.first();
        Ok((t.get::<bool>(1)?, t.get::<bool>(2)?, t.get::<String>(4)?))
    })?;
    let (slot_cancelled, too_late, start_at) = timing;
    if slot_cancelled == Some(true) || too_late != Some(true) || Actor::current()?.is_admin() {
        return Ok(());
    }
    Err(RuleError::TooLateToCancel {
        start_at: start_at.unwrap_or_default(),
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
    let ended = plans::run(&SLOT_TIMING, &[slot_id.into()], |t| {
        t.first().get::<bool>(3)
    })?;
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
    edit.set(new, "auto_processed", Some(false))?;
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
        ("cancelled", "reserved") => take_place(new.uuid("user_id")?, slot_id, false)?,
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
        let changed_by = Actor::current()?.user_id;
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

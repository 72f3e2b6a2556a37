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
use crate::identity::Actor;
use crate::plans::{self, Sql};
use crate::row::{now_micros, Row, RowEdit};
use crate::system;

static LOCK_SLOT: Sql = Sql {
    text: "SELECT capacity, cancelled_at IS NOT NULL, start_at <= now()
             FROM gym_booking.slots WHERE id = $1 FOR UPDATE",
    args: &[pg_sys::UUIDOID],
};

/// Places taken in a slot (run on the latest snapshot, with the slot locked).
pub static RESERVED_IN_SLOT: Sql = Sql {
    text: "SELECT count(*) FROM gym_booking.bookings WHERE slot_id = $1 AND status = 'reserved'",
    args: &[pg_sys::UUIDOID],
};

// FOR SHARE waits for an account deletion in flight, whose cascade would miss this booking.
static USER_IS_ACTIVE: Sql = Sql {
    text: "SELECT deleted_at IS NULL FROM gym_booking.users WHERE id = $1 FOR SHARE",
    args: &[pg_sys::UUIDOID],
};

static SLOT_TIMING: Sql = Sql {
    text: "SELECT cancelled_at IS NOT NULL, now() > start_at - interval '60 minutes',
                  end_at <= now(), start_at::text
             FROM gym_booking.slots WHERE id = $1",
    args: &[pg_sys::UUIDOID],
};

static RECORD_HISTORY: Sql = Sql {
    text: "INSERT INTO gym_booking.booking_status_history
               (booking_id, previous_status, current_status, changed_at, changed_by, auto_processed)
           VALUES ($1, $2::gym_booking.booking_status, $3::gym_booking.booking_status, now(), $4, $5)",
    args: &[pg_sys::UUIDOID, pg_sys::TEXTOID, pg_sys::TEXTOID, pg_sys::UUIDOID, pg_sys::BOOLOID],
};

/// Takes a place in the slot, or refuses: locks the slot, checks it can be booked, counts.
fn reserve_place(slot_id: pgrx::Uuid) -> RuleResult<()> {
    let slot = plans::run(&LOCK_SLOT, &[slot_id.into()], |t| {
        if t.is_empty() {
            return Ok(None);
        }
        let t = t.first();
        Ok(Some((
            t.get::<i16>(1)?,
            t.get::<bool>(2)?,
            t.get::<bool>(3)?,
        )))
    })?;
    // No such slot: the foreign key reports it.
    let Some((capacity, cancelled, started)) = slot else {
        return Ok(());
    };
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
    if plans::latest_i64(&RESERVED_IN_SLOT, slot_id)? >= i64::from(capacity) {
        return Err(RuleError::SlotFull { capacity });
    }
    Ok(())
}

/// A deleted account books nothing. An unknown user is left to the foreign key.
fn require_active_user(user_id: pgrx::Uuid) -> RuleResult<()> {
    match plans::one::<bool>(&USER_IS_ACTIVE, &[user_id.into()])? {
        Some(false) => Err(RuleError::NotBookable {
            reason: "the athlete's account has been deleted",
        }),
        _ => Ok(()),
    }
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

fn on_insert(new: &Row) -> RuleResult<Outcome> {
    if new.text("status")?.as_deref() != Some("reserved") {
        return Err(RuleError::InvalidInput {
            message: "a new booking must be reserved".into(),
            detail: None,
            hint: Some("Book first; cancel or complete the booking afterwards."),
        });
    }
    let user_id = new.uuid("user_id")?;
    // Row-level security says the same, but only after this trigger: refuse a client's
    // booking for someone else before anything else is looked at (or locked).
    let actor = Actor::current()?;
    if !actor.is_privileged() && actor.user_id != Some(user_id) {
        return Err(RuleError::not_allowed("you can book only for yourself"));
    }
    require_active_user(user_id)?;
    reserve_place(new.uuid("slot_id")?)?;
    let mut edit = RowEdit::default();
    edit.set_micros(new, "status_changed_at", now_micros())?;
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
    let (from, to) = (old.text("status")?, new.text("status")?);
    if from == to {
        // Only a status change moves these; clients cannot set them.
        edit.keep(new, old, "status_changed_at")?;
        edit.keep(new, old, "auto_processed")?;
        return Ok(Outcome::Edit(edit));
    }
    let slot_id = new.uuid("slot_id")?;
    match (
        from.as_deref().unwrap_or_default(),
        to.as_deref().unwrap_or_default(),
    ) {
        ("reserved", "cancelled") => check_cancel(slot_id)?,
        ("cancelled", "reserved") => {
            require_active_user(new.uuid("user_id")?)?;
            reserve_place(slot_id)?;
        }
        ("reserved", "completed") => check_complete(slot_id)?,
        ("completed", _) => return Err(RuleError::invalid("a completed booking is final")),
        (from, to) => {
            return Err(RuleError::invalid(format!(
                "a booking cannot go from {from} to {to}"
            )))
        }
    }
    edit.set_micros(new, "status_changed_at", now_micros())?;
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

//! Slots: `duration_minutes` and `end_at` agree, the trainer is an active trainer, a slot with
//! reserved bookings keeps its times and enough capacity, a cancelled slot stays cancelled
//! and cancels its bookings, and a slot with bookings is cancelled rather than deleted.

use pgrx::pg_sys;
use pgrx::prelude::*;

use super::bookings::RESERVED_IN_SLOT;
use super::{events, fire, settings, waitlist, Fired, Op, Outcome, TriggerResult};
use crate::errors::{RuleError, RuleResult};
use crate::identity::Actor;
use crate::plans::{self, Sql};
use crate::row::{statement_now, RowEdit, END_OF_TIMESTAMPS, MICROS_PER_MINUTE};
use crate::system::SystemChange;

const DEFAULT_DURATION: i16 = 60;

static TRAINER_IS_ACTIVE: Sql = Sql {
    text: "SELECT role = 'trainer' AND deleted_at IS NULL FROM gym_booking.users WHERE id = $1",
    args: &[pg_sys::UUIDOID],
};

// A slot that gets a trainer takes the trainer's row FOR SHARE, as a booking takes its
// athlete's: it waits for an account deletion in flight (whose cascade would miss this slot)
// and then reads the deleted row. Not for a slot that only moves: it already holds its own row,
// which that deletion's cascade waits for (users before slots; see lock_order.rs).
static LOCK_TRAINER: Sql = Sql {
    text: "SELECT role = 'trainer' AND deleted_at IS NULL FROM gym_booking.users WHERE id = $1
              FOR SHARE",
    args: &[pg_sys::UUIDOID],
};

// Every slot ever made has a log entry; a deleted slot's stays. Its id is not given again.
static SLOT_ID_USED: Sql = Sql {
    text: "SELECT count(*) FROM (SELECT FROM gym_booking.activity_logs
                                  WHERE entity_type = 'slot' AND entity_id = $1 LIMIT 1) AS l",
    args: &[pg_sys::UUIDOID],
};

/// How many slots one client request (transaction) may create: a month of daily classes
/// several times over, not an unbounded flood that every athlete's `available_slots` returns.
pub const MAX_SLOTS_PER_REQUEST: u32 = 100;

thread_local! {
    /// Slots created by a client in the current transaction (its id), counted.
    static CREATED: std::cell::Cell<(u64, u32)> = const { std::cell::Cell::new((0, 0)) };
}

/// Counts a client's new slot against [`MAX_SLOTS_PER_REQUEST`].
fn count_created_slot() -> RuleResult<()> {
    // SAFETY: an INSERT runs in a transaction that has (or now gets) its id.
    let xid = unsafe { pg_sys::GetTopFullTransactionId() }.value;
    let (seen_in, count) = CREATED.with(|c| c.get());
    let count = if seen_in == xid { count + 1 } else { 1 };
    CREATED.with(|c| c.set((xid, count)));
    if count > MAX_SLOTS_PER_REQUEST {
        return Err(RuleError::TooMany {
            message: format!("a request may create at most {MAX_SLOTS_PER_REQUEST} slots"),
            hint: "Create them in several requests.",
        });
    }
    Ok(())
}

static HELD_IN_SLOT: Sql = Sql {
    text: "SELECT count(*) FROM gym_booking.bookings WHERE slot_id = $1 AND status <> 'cancelled'",
    args: &[pg_sys::UUIDOID],
};

static ANY_BOOKING_IN_SLOT: Sql = Sql {
    text: "SELECT count(*) FROM (SELECT FROM gym_booking.bookings WHERE slot_id = $1 LIMIT 1) AS b",
    args: &[pg_sys::UUIDOID],
};

static CANCEL_RESERVED_BOOKINGS: Sql = Sql {
    text: "UPDATE gym_booking.bookings SET status = 'cancelled'
            WHERE slot_id = $1 AND status = 'reserved'",
    args: &[pg_sys::UUIDOID],
};

fn invalid_duration(detail: String) -> RuleError {
    RuleError::InvalidInput {
        message: "duration_minutes and end_at disagree".into(),
        detail: Some(detail),
        hint: Some("Give start_at with either duration_minutes or end_at; the other is derived."),
    }
}

/// Minutes between two instants, when it is a whole number of them.
fn whole_minutes(start: i64, end: i64) -> Option<i16> {
    let span = end.checked_sub(start)?;
    (span % MICROS_PER_MINUTE == 0).then(|| i16::try_from(span / MICROS_PER_MINUTE).ok())?
}

/// Derives `end_at` from `duration_minutes` or the other way round, and checks the trainer.
fn normalize(fired: &Fired) -> RuleResult<Outcome> {
    let new = fired.new_row()?;
    let mut edit = RowEdit::default();
    let (Some(start), Some(duration)) =
        (new.micros("start_at")?, new.get::<i16>("duration_minutes")?)
    else {
        return Ok(Outcome::Proceed); // NOT NULL reports it.
    };
    if start == i64::MAX || start == i64::MIN {
        return Err(RuleError::invalid("a slot needs a finite start_at"));
    }
    if fired.op == Op::Insert {
        let id = new.uuid("id")?;
        if plans::one::<i64>(&SLOT_ID_USED, &[id.into()])? != Some(0) {
            return Err(RuleError::IdReused {
                what: "slot",
                id: id.to_string(),
            });
        }
    }
    // Cancelled now, by the rules' clock, whatever moment the writer gave.
    let cancelling = match fired.op {
        Op::Insert => !new.is_null("cancelled_at")?,
        _ => fired.old_row()?.is_null("cancelled_at")? && !new.is_null("cancelled_at")?,
    };
    if cancelling {
        edit.set_micros(new, "cancelled_at", statement_now())?;
    }
    let end = new.micros("end_at")?;
    let end_given = match fired.op {
        Op::Insert => end.is_some(),
        _ => fired.changed("end_at")?,
    };
    let duration_given = match fired.op {
        // 60 is also the column default: beside an explicit end_at it counts as not given.
        Op::Insert => duration != DEFAULT_DURATION || !end_given,
        _ => fired.changed("duration_minutes")?,
    };
    match (end_given, end) {
        (true, Some(end)) => {
            let derived = whole_minutes(start, end);
            if duration_given && derived != Some(duration) {
                return Err(invalid_duration(format!(
                    "duration_minutes is {duration} but end_at is {} minutes after start_at",
                    (end - start) / MICROS_PER_MINUTE
                )));
            }
            match derived {
                Some(minutes) => edit.set(new, "duration_minutes", Some(minutes))?,
                None => {
                    return Err(RuleError::invalid(
                        "a slot lasts a whole number of minutes, from 30 to 240",
                    ))
                }
            }
        }
        _ => {
            // Past the last instant PostgreSQL can read back, a dump would not restore.
            let end = start
                .checked_add(i64::from(duration) * MICROS_PER_MINUTE)
                .filter(|end| *end < END_OF_TIMESTAMPS)
                .ok_or_else(|| RuleError::OutOfRange {
                    message: "the slot would end after the last timestamp PostgreSQL can store"
                        .into(),
                })?;
            edit.set_micros(new, "end_at", end)?
        }
    }
    // A slot that gets a trainer, or new times, must have an active trainer: a deleted or
    // demoted trainer's old slot cannot be moved back into the bookable future.
    let new_trainer = fired.changed("trainer_id")?;
    let moved = fired.changed("start_at")?
        || fired.changed("end_at")?
        || fired.changed("duration_minutes")?;
    if new_trainer || moved {
        let trainer = new.uuid("trainer_id")?;
        if new_trainer {
            // Row-level security says the same, but only after this trigger.
            let actor = Actor::current()?;
            let own_trainer = actor.user_id == Some(trainer)
                && actor.active
                && actor.role.as_deref() == Some("trainer");
            if !actor.is_privileged() && !own_trainer {
                return Err(RuleError::not_allowed(
                    "trainers create and manage only their own slots",
                ));
            }
            if fired.op == Op::Insert && !actor.is_privileged() {
                count_created_slot()?;
            }
        }
        let check = if new_trainer {
            &LOCK_TRAINER
        } else {
            &TRAINER_IS_ACTIVE
        };
        if plans::one::<bool>(check, &[trainer.into()])? == Some(false) {
            return Err(RuleError::InvalidInput {
                message: "a slot's trainer must be an active user with the trainer role".into(),
                detail: Some(format!("User {trainer} is not an active trainer.")),
                hint: None,
            });
        }
    }
    Ok(Outcome::Edit(edit))
}

/// BEFORE INSERT OR UPDATE on slots.
#[pg_trigger]
fn slots_normalize<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, normalize)
}

/// BEFORE UPDATE on slots: what the slot's bookings restrict.
#[pg_trigger]
fn slots_booking_guard<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        // What a booking change read of a slot it holds may no longer be so.
        super::held_slot::forget();
        let (old, new) = (fired.old_row()?, fired.new_row()?);
        if !old.is_null("cancelled_at")? && fired.changed("cancelled_at")? {
            return Err(RuleError::InvalidInput {
                message: "a cancelled slot stays cancelled".into(),
                detail: None,
                hint: Some("Create a new slot instead."),
            });
        }
        let moved = fired.changed("start_at")?
            || fired.changed("end_at")?
            || fired.changed("duration_minutes")?;
        let capacity = new.get::<i16>("capacity")?.unwrap_or(0);
        let shrunk = capacity < old.get::<i16>("capacity")?.unwrap_or(0);
        if !moved && !shrunk {
            return Ok(Outcome::Proceed);
        }
        // This UPDATE holds the slot's row lock, so no booking can be added while we count.
        let id = new.uuid("id")?;
        // A completed booking is history: the session it records happened at these times.
        if moved && plans::latest_i64(&HELD_IN_SLOT, &[id])? > 0 {
            return Err(RuleError::Restricted {
                what: "a slot's times cannot change while it has reserved or completed bookings"
                    .into(),
                hint: "Cancel the slot and create a new one at the new time.",
            });
        }
        let reserved = plans::latest_i64(&RESERVED_IN_SLOT, &[id])?;
        if i64::from(capacity) < reserved {
            return Err(RuleError::Restricted {
                what: format!("capacity cannot drop below the {reserved} places already reserved"),
                hint: "Raise the capacity, or cancel bookings first.",
            });
        }
        Ok(Outcome::Proceed)
    })
}

/// BEFORE DELETE on slots: only a slot nobody ever booked may be deleted.
#[pg_trigger]
fn slots_delete_guard<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        if plans::latest_i64(&ANY_BOOKING_IN_SLOT, &[fired.old_row()?.uuid("id")?])? > 0 {
            return Err(RuleError::Restricted {
                what: "a slot with bookings cannot be deleted".into(),
                hint: "Cancel it instead: UPDATE gym_booking.slots SET cancelled_at = now() WHERE id = ...",
            });
        }
        Ok(Outcome::Proceed)
    })
}

/// AFTER UPDATE on slots, when `cancelled_at` was just set: its reserved bookings are
/// cancelled by the system, whatever the 60-minute window.
#[pg_trigger]
fn slots_cancel_cascade<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        let new = fired.new_row()?;
        let slot = new.uuid("id")?;
        // Told by whoever cancelled it, before the cascade (the system's) takes the places away.
        let by = events::by(None, new.get::<pgrx::Uuid>("trainer_id")?)?;
        // A booking committed after a REPEATABLE READ snapshot would keep its place in a
        // cancelled slot: such a cancellation is retried instead.
        super::bookings::refuse_stale_snapshot(&RESERVED_IN_SLOT, slot, "the slot's bookings")?;
        let _system = SystemChange::begin();
        if settings::installed() {
            events::slot_event(slot, "slot_cancelled", by, "{}")?;
            waitlist::expire_slot(slot)?;
        }
        plans::execute(&CANCEL_RESERVED_BOOKINGS, &[slot.into()])?;
        Ok(Outcome::Proceed)
    })
}

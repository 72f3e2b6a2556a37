//! Every row that hangs off a slot carries the slot's trainer: `bookings.trainer_id`,
//! `booking_status_history.trainer_id` and `activity_logs.trainer_id` (for entries about a
//! slot or a booking) are copies of `slots.trainer_id`, kept in step here.
//!
//! Why: a trainer may read the bookings, history and log entries of their own slots. With the
//! trainer on the row itself, row-level security picks those rows by an index on the row's own
//! column (`trainer_id = active_user_id()`), instead of first gathering every slot the trainer
//! ever ran (which grows with the studio's history, and which the planner reads by scanning all
//! slots when a studio has one or three trainers). The copies are never a client's to write:
//! no grant names them, and a value sent anyway (by `service_role`) is overwritten.
//!
//! The copies follow the slot: a slot handed to another trainer takes its bookings, their
//! history and their log entries along; a deleted slot or booking leaves its earlier log
//! entries to nobody (as before, when a trainer's entries were those of slots that still exist).

use std::cell::Cell;

use pgrx::pg_sys;
use pgrx::prelude::*;

use super::{fire, held_slot, Fired, Op, Outcome, TriggerResult};
use crate::errors::{RuleError, RuleResult};
use crate::memo::Epoch;
use crate::plans::{self, Sql};
use crate::row::RowEdit;

static SLOT_TRAINER: Sql = Sql {
    text: "SELECT trainer_id FROM gym_booking.slots WHERE id = $1",
    args: &[pg_sys::UUIDOID],
};

static BOOKING_TRAINER: Sql = Sql {
    text: "SELECT trainer_id FROM gym_booking.bookings WHERE id = $1",
    args: &[pg_sys::UUIDOID],
};

// A slot handed over: its bookings (whose BEFORE UPDATE trigger reads the slot's trainer again),
// their history and the log entries of the slot and of its bookings.
static BOOKINGS_FOLLOW: Sql = Sql {
    text: "UPDATE gym_booking.bookings SET trainer_id = $2
            WHERE slot_id = $1 AND trainer_id IS DISTINCT FROM $2",
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID],
};

static ENTRIES_FOLLOW: Sql = Sql {
    text: "UPDATE gym_booking.waitlist_entries SET trainer_id = $2
            WHERE slot_id = $1 AND trainer_id IS DISTINCT FROM $2",
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID],
};

static HISTORY_FOLLOWS: Sql = Sql {
    text: "UPDATE gym_booking.booking_status_history AS h SET trainer_id = $2
             FROM gym_booking.bookings AS b
            WHERE b.slot_id = $1 AND h.booking_id = b.id AND h.trainer_id IS DISTINCT FROM $2",
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID],
};

static LOG_FOLLOWS: Sql = Sql {
    text: "UPDATE gym_booking.activity_logs SET trainer_id = $2
            WHERE ((entity_type = 'slot' AND entity_id = $1)
                OR (entity_type = 'booking'
                    AND entity_id = ANY (ARRAY(SELECT b.id FROM gym_booking.bookings AS b
                                                WHERE b.slot_id = $1))))
              AND trainer_id IS DISTINCT FROM $2",
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID],
};

static LOG_FORGETS: Sql = Sql {
    text: "UPDATE gym_booking.activity_logs SET trainer_id = NULL
            WHERE entity_type = $1::gym_booking.log_entity_type AND entity_id = $2
              AND trainer_id IS NOT NULL",
    args: &[pg_sys::TEXTOID, pg_sys::UUIDOID],
};

/// Whether the session applies rows as a replica does (a logical replica, or a loader that
/// switched the rules off): rows that come with their trainer keep it.
fn applying_as_replica() -> bool {
    // SAFETY: reads an integer setting of this backend.
    unsafe { pg_sys::SessionReplicationRole == pg_sys::SESSION_REPLICATION_ROLE_REPLICA as i32 }
}

thread_local! {
    /// (statement, row, its trainer): a rule about to write the log entry or the history row
    /// of a slot or booking it has in hand says whose that row is, so that the new entry's
    /// trainer is not read back from the row. Taken by the next entry about that row.
    static WRITING_ABOUT: Cell<Option<(Epoch, pgrx::Uuid, Option<pgrx::Uuid>)>> =
        const { Cell::new(None) };
}

/// The next log entry or history row written about `row` (a slot or a booking, as it is now)
/// belongs to `trainer`.
pub fn writing_about(row: pgrx::Uuid, trainer: Option<pgrx::Uuid>) {
    WRITING_ABOUT.with(|w| w.set(Some((Epoch::now(), row, trainer))));
}

/// The trainer `writing_about` said for `row` in this statement (forgotten once asked).
fn said_of(row: pgrx::Uuid) -> Option<Option<pgrx::Uuid>> {
    WRITING_ABOUT.with(|w| match w.take() {
        Some((epoch, about, trainer)) if about == row && epoch == Epoch::now() => Some(trainer),
        _ => None,
    })
}

/// The trainer of `row` from `sql`, unless the writer said it.
fn trainer_by(sql: &Sql, row: pgrx::Uuid) -> RuleResult<Option<pgrx::Uuid>> {
    match said_of(row) {
        Some(trainer) => Ok(trainer),
        None => plans::one(sql, &[row.into()]),
    }
}

/// The trainer a new (or re-pointed) row of `fired.table` belongs to, read from its slot (or
/// taken from what the booking rule read of the slot under its lock, in this statement).
fn trainer_of(fired: &Fired) -> RuleResult<Option<pgrx::Uuid>> {
    let row = fired.new_row()?;
    match fired.table.as_str() {
        "bookings" | "waitlist_entries" => {
            let slot = row.uuid("slot_id")?;
            match held_slot::trainer(slot) {
                Some(trainer) => Ok(trainer),
                None => plans::one(&SLOT_TRAINER, &[slot.into()]),
            }
        }
        "booking_status_history" => trainer_by(&BOOKING_TRAINER, row.uuid("booking_id")?),
        "activity_logs" => match row.text("entity_type")?.as_deref() {
            Some("slot") => trainer_by(&SLOT_TRAINER, row.uuid("entity_id")?),
            Some("booking") => trainer_by(&BOOKING_TRAINER, row.uuid("entity_id")?),
            _ => Ok(None),
        },
        other => Err(RuleError::Internal(format!("no slot trainer for {other}"))),
    }
}

/// BEFORE INSERT on bookings, booking_status_history and activity_logs (enabled ALWAYS, so rows
/// loaded with the other rules off get their trainer too), and BEFORE UPDATE on bookings when
/// `trainer_id` changed: the row's `trainer_id` is its slot's.
#[pg_trigger]
fn follow_slot_trainer<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        let new = fired.new_row()?;
        if fired.op == Op::Insert && applying_as_replica() && !new.is_null("trainer_id")? {
            return Ok(Outcome::Proceed);
        }
        let mut edit = RowEdit::default();
        edit.set(new, "trainer_id", trainer_of(fired)?)?;
        Ok(Outcome::Edit(edit))
    })
}

/// AFTER UPDATE on slots, when the trainer changed: the slot's bookings, their history and the
/// log entries of the slot and its bookings follow it.
#[pg_trigger]
fn slot_trainer_cascade<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        let new = fired.new_row()?;
        let (slot, trainer) = (new.uuid("id")?, new.uuid("trainer_id")?);
        // The lock order: slots, then waitlist entries, then bookings, then what hangs off them.
        for sql in [
            &ENTRIES_FOLLOW,
            &BOOKINGS_FOLLOW,
            &HISTORY_FOLLOWS,
            &LOG_FOLLOWS,
        ] {
            plans::execute(sql, &[slot.into(), trainer.into()])?;
        }
        Ok(Outcome::Proceed)
    })
}

/// AFTER DELETE on slots and bookings: the log entries of a row that is gone belong to no
/// trainer any more.
#[pg_trigger]
fn slot_trainer_forget<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        let entity = match fired.table.as_str() {
            "slots" => "slot",
            "bookings" => "booking",
            other => return Err(RuleError::Internal(format!("no log entity for {other}"))),
        };
        let id = fired.old_row()?.uuid("id")?;
        plans::execute(&LOG_FORGETS, &[entity.into(), id.into()])?;
        Ok(Outcome::Proceed)
    })
}

//! The slot a booking change holds. The booking rule locks the slot (FOR UPDATE) before it
//! counts places, and the API's cancellation locks it before the booking; both read the slot
//! under that lock. What they read is kept for the rest of the statement, and the lock for the
//! rest of the transaction, so that the statement's other rules need not read the slot again
//! (the cancellation window, the times an event tells) nor try to lock what is already held.
//!
//! Kept by statement and transaction (`memo::Epoch`): a new statement reads again, a
//! rolled-back savepoint (which lets its locks go) forgets the lock, and any write to a slot
//! forgets it all (`forget`, from the slots' BEFORE UPDATE rule).

use std::cell::RefCell;

use pgrx::datum::TimestampWithTimeZone;

use crate::memo::Epoch;

/// What the cancellation rule asks of a slot, read with the slot locked.
#[derive(Clone)]
pub struct CancelTiming {
    pub cancelled: bool,
    /// The cancellation window has begun (`cancellation_window` before the start).
    pub too_late: bool,
    /// The start in the studio's time zone, for the refusal's message.
    pub start_at: String,
    pub window_secs: i64,
}

struct Held {
    epoch: Epoch,
    slot: pgrx::Uuid,
    start_at: TimestampWithTimeZone,
    end_at: TimestampWithTimeZone,
    trainer: Option<pgrx::Uuid>,
    athlete: Option<pgrx::Uuid>,
    cancel: Option<CancelTiming>,
}

thread_local! {
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// What a statement read of a slot it locked FOR UPDATE.
pub struct Read {
    pub slot: pgrx::Uuid,
    pub start_at: TimestampWithTimeZone,
    pub end_at: TimestampWithTimeZone,
    pub trainer: Option<pgrx::Uuid>,
    /// An athlete whose account the same statement found active and locked FOR SHARE (a
    /// deletion waits for us), when the statement booked for them.
    pub athlete: Option<pgrx::Uuid>,
    pub cancel: Option<CancelTiming>,
}

/// The slot is locked FOR UPDATE by this transaction now, and this is what the statement
/// read of it under the lock.
pub fn remember(read: Read) {
    HELD.with(|h| {
        *h.borrow_mut() = Some(Held {
            epoch: Epoch::now(),
            slot: read.slot,
            start_at: read.start_at,
            end_at: read.end_at,
            trainer: read.trainer,
            athlete: read.athlete,
            cancel: read.cancel,
        })
    });
}

/// Whether this transaction holds `slot` locked FOR UPDATE (as far as remembered).
pub fn is_held(slot: pgrx::Uuid) -> bool {
    HELD.with(|h| {
        h.borrow()
            .as_ref()
            .is_some_and(|h| h.slot == slot && h.epoch.in_this_transaction())
    })
}

fn read_in_this_statement<T>(slot: pgrx::Uuid, read: impl FnOnce(&Held) -> T) -> Option<T> {
    HELD.with(|h| {
        h.borrow()
            .as_ref()
            .filter(|h| h.slot == slot && h.epoch == Epoch::now())
            .map(read)
    })
}

/// The slot's start and end, when this statement read them under its lock.
pub fn times(slot: pgrx::Uuid) -> Option<(TimestampWithTimeZone, TimestampWithTimeZone)> {
    read_in_this_statement(slot, |h| (h.start_at, h.end_at))
}

/// The slot's trainer, when this statement read it under its lock.
pub fn trainer(slot: pgrx::Uuid) -> Option<Option<pgrx::Uuid>> {
    read_in_this_statement(slot, |h| h.trainer)
}

/// Whether this statement found `athlete`'s account active and holds it (with the slot).
pub fn athlete_held_active(slot: pgrx::Uuid, athlete: pgrx::Uuid) -> bool {
    read_in_this_statement(slot, |h| h.athlete == Some(athlete)) == Some(true)
}

/// The cancellation rule's answers for the slot, when this statement read them under its lock.
pub fn cancel_timing(slot: pgrx::Uuid) -> Option<CancelTiming> {
    read_in_this_statement(slot, |h| h.cancel.clone()).flatten()
}

/// A slot is being written: what was read of any slot may be out of date.
pub fn forget() {
    HELD.with(|h| *h.borrow_mut() = None);
}

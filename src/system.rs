//! Changes the extension makes by itself: cancelling the bookings of a cancelled slot or a
//! deleted account, completing bookings of ended slots.
//!
//! While one runs, the booking rules know the change is the system's (no cancellation window,
//! `auto_processed = true`, logged as `status_auto_update`). The marker lives in this backend's
//! memory, where no client can set it, unlike a GUC.

use std::cell::Cell;

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Marks the system's own changes until dropped (also when an error unwinds through it).
pub struct SystemChange(());

impl SystemChange {
    pub fn begin() -> SystemChange {
        DEPTH.with(|d| d.set(d.get() + 1));
        SystemChange(())
    }
}

impl Drop for SystemChange {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Whether the change being made now is the system's.
pub fn active() -> bool {
    DEPTH.with(|d| d.get() > 0)
}

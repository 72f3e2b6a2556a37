//! What one statement looks up once: a booking request fires several policies and triggers,
//! and each of them needs the caller. (The extension's owner is kept longer: `plans.rs`.)
//!
//! Entries are tagged with an [`Epoch`]: the transaction (a generation number that moves on at
//! every transaction end and every subtransaction abort) and the top-level statement (its start
//! time, which nested statements, functions and triggers share). A new client statement, a new
//! transaction or a rolled-back savepoint therefore looks everything up again, as PostgreSQL's
//! own STABLE functions would see it. Writes to `users` call [`forget`] (the users triggers do).

use std::cell::Cell;

use pgrx::pg_sys;

thread_local! {
    static GENERATION: Cell<u64> = const { Cell::new(1) };
}

/// The transaction and top-level statement an entry belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Epoch {
    generation: u64,
    statement: pg_sys::TimestampTz,
}

impl Epoch {
    /// Now: the current transaction's generation and top-level statement.
    pub fn now() -> Epoch {
        Epoch {
            generation: GENERATION.with(|g| g.get()),
            // SAFETY: reads a timestamp the backend keeps for the current statement.
            statement: unsafe { pg_sys::GetCurrentStatementStartTimestamp() },
        }
    }

    /// The current transaction's generation, whatever the statement.
    pub fn transaction() -> u64 {
        GENERATION.with(|g| g.get())
    }

    /// Whether this entry was made in the current transaction (and no savepoint rolled back
    /// since), whatever the statement.
    pub fn in_this_transaction(&self) -> bool {
        self.generation == Epoch::transaction()
    }
}

/// Every entry made so far is stale.
pub fn forget() {
    GENERATION.with(|g| g.set(g.get().wrapping_add(1)));
}

// Cannot fail: a counter moves on.
unsafe extern "C-unwind" fn on_transaction_end(
    event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
    use pg_sys::XactEvent::*;
    if matches!(
        event,
        XACT_EVENT_COMMIT | XACT_EVENT_ABORT | XACT_EVENT_PREPARE | XACT_EVENT_PARALLEL_ABORT
    ) {
        forget();
    }
}

// Cannot fail: a counter moves on.
unsafe extern "C-unwind" fn on_subtransaction_end(
    event: pg_sys::SubXactEvent::Type,
    _my_subid: pg_sys::SubTransactionId,
    _parent_subid: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    if event == pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB {
        forget();
    }
}

/// Called once, when the library is loaded.
pub fn register_callbacks() {
    // SAFETY: plain registrations of static functions, once per process.
    unsafe {
        pg_sys::RegisterXactCallback(Some(on_transaction_end), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(on_subtransaction_end), std::ptr::null_mut());
    }
}

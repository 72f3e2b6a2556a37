//! One lock order for every path, so that no two callers ever wait for each other in a circle:
//!
//! 1. `users` rows: the writer's own row first (FOR SHARE, here), then the people a
//!    change is about (the athlete a booking is for: FOR SHARE, by the capacity guard; a
//!    new slot's trainer: FOR SHARE, by `slots_normalize`; an account being deleted or
//!    changed: the UPDATE's own row lock; an athlete being checked in or marked a no-show:
//!    FOR NO KEY UPDATE, by `mark_attendance`, `excuse_no_show` and `record_no_shows` in
//!    `sql/attendance.sql`, so a booking of theirs, which holds the row FOR SHARE, is either
//!    done before the mark or counts it: the sweep takes the watermark row first, then its
//!    batch's athletes by id);
//! 2. `slots` rows (a booking's slot FOR UPDATE; the slot an UPDATE changes);
//! 3. `waitlist_entries` rows (joining, leaving, promotion, expiry);
//! 4. `bookings` rows;
//! 5. what hangs off them: `booking_status_history`, `activity_logs`, `events` (inserts only),
//!    `attendance` (its foreign key takes the booking FOR KEY SHARE; check-in holds the booking
//!    FOR SHARE, so a cancellation waits for it).
//!
//! One path cannot keep the order: an UPDATE of a booking that needs its slot (a direct
//! re-activation, cancelled -> reserved), because PostgreSQL locks the row an UPDATE changes
//! before the row's BEFORE triggers run. It never queues for the slot while holding the booking
//! (`bookings::wait_out_of_order`: take when free, pause, give up with 55P03), so nobody who
//! holds the slot and waits for the booking is kept waiting for long. `book_slot()` re-activates
//! through an insert that meets the row instead, which takes the slot first.
//!
//! Why the writer's row comes first: every history and log row names who made the change
//! (`changed_by`), and its foreign key takes FOR KEY SHARE on that users row *after* the
//! booking or slot it records is locked. An account deletion in flight holds the users row FOR
//! UPDATE (anonymizing changes `email`, a unique key) and its cascade waits for those same
//! bookings and slots: the classic circle. Taking the writer's row before the statement
//! touches any booking or slot turns it into a plain wait.
//!
//! Why FOR SHARE and not the FOR KEY SHARE the foreign key needs: a lock on a users row is
//! never strengthened later in the same transaction, since an upgrade is itself a circle in
//! waiting. The capacity guard takes its athlete's row FOR SHARE; had the statement taken the
//! same row FOR KEY SHARE before it, an account deletion could slip in between (its first
//! lock, FOR NO KEY UPDATE, allows a KEY SHARE), wait for that KEY SHARE when it anonymizes the
//! key, and be waited for by the guard's SHARE: the deadlock the mixed-load test found. Writes to `users` itself start with
//! the row they change (an UPDATE locks it before any trigger runs); their cascades then come
//! here for the writer's row, which by then is either the same row or one nobody waits on us
//! for.

use pgrx::pg_sys;
use pgrx::prelude::*;

use super::{restoring, TriggerResult};
use crate::errors::{raise, RuleResult};
use crate::identity;
use crate::memo::Epoch;
use crate::plans::{self, Sql};

static LOCK_WRITER: Sql = Sql {
    text: "SELECT FROM gym_booking.users WHERE id = $1 FOR SHARE",
    args: &[pg_sys::UUIDOID],
};

thread_local! {
    /// The writer whose row this transaction (generation) already holds.
    static HELD: std::cell::Cell<Option<(u64, pgrx::Uuid)>> = const { std::cell::Cell::new(None) };
}

/// Takes the writer's own users row (FOR SHARE), once per transaction.
pub fn lock_writer() -> RuleResult<()> {
    let Some(writer) = identity::claimed_user_id()? else {
        return Ok(()); // The system, a DBA, service_role without a sub: no row to name.
    };
    let generation = Epoch::transaction();
    if HELD.with(|h| h.get()) == Some((generation, writer)) {
        return Ok(());
    }
    plans::execute(&LOCK_WRITER, &[writer.into()])?;
    HELD.with(|h| h.set(Some((generation, writer))));
    Ok(())
}

/// BEFORE INSERT OR UPDATE OR DELETE FOR EACH STATEMENT on slots and bookings: the writer's
/// users row before any row of the table.
#[pg_trigger]
fn lock_writer_first<'a>(_trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    if !restoring() {
        lock_writer().unwrap_or_else(|e| raise(e));
    }
    Ok(None)
}

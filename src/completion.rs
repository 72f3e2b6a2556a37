//! Bookings complete themselves: once a slot has ended, its reserved bookings become
//! `completed`, by the system (`auto_processed`, history row, `status_auto_update` log).

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::errors::{raise, RuleError, RuleResult};
use crate::identity::Actor;
use crate::plans::{self, Sql};
use crate::system::SystemChange;

// SKIP LOCKED: a booking someone is changing right now waits for the next run, so calls run
// side by side with each other and with bookings without waiting or deadlocking.
static COMPLETE_DUE: Sql = Sql {
    text: "WITH due AS (
               SELECT b.id
                 FROM gym_booking.bookings AS b
                 JOIN gym_booking.slots AS s ON s.id = b.slot_id
                WHERE b.status = 'reserved' AND s.end_at <= statement_timestamp()
                ORDER BY s.end_at, b.id
                LIMIT $1
                  FOR UPDATE OF b SKIP LOCKED)
           UPDATE gym_booking.bookings AS b SET status = 'completed'
             FROM due WHERE b.id = due.id",
    args: &[pg_sys::INT4OID],
};

pub fn complete_due(max_rows: i32) -> RuleResult<i64> {
    if max_rows < 1 {
        return Err(RuleError::invalid("max_rows must be at least 1"));
    }
    if !Actor::current()?.is_privileged() {
        return Err(RuleError::NotAllowed {
            message: "only the gym completes bookings".into(),
            hint: Some("Run it as service_role, an app admin, or from the background worker."),
        });
    }
    let _system = SystemChange::begin();
    Ok(plans::execute(&COMPLETE_DUE, &[max_rows.into()])? as i64)
}

/// Marks reserved bookings of slots that have ended completed, at most `max_rows` of them
/// (oldest first); returns how many. Call again until it returns 0. With the studio's
/// `auto_no_show` on, it also records the no-shows whose grace has ended (at most `max_rows`:
/// `record_no_shows`), as the background worker does each round.
#[pg_extern(volatile, parallel_unsafe)]
fn complete_past_bookings(max_rows: default!(i32, 1000)) -> i64 {
    // The no-shows first: their sweep takes athletes' users rows, which come before bookings
    // in the lock order (completing first would hold bookings while waiting for those rows).
    // (A caller who may not complete bookings is refused by `complete_due`, as before.)
    let gym = Actor::current().is_ok_and(|actor| actor.is_privileged());
    if max_rows >= 1 && gym {
        crate::rules::attendance::record_no_shows(max_rows).unwrap_or_else(|e| raise(e));
    }
    complete_due(max_rows).unwrap_or_else(|e| raise(e))
}

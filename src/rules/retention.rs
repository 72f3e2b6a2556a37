//! What the gym has recorded is not wiped in bulk: TRUNCATE skips every row trigger, so it
//! would slip past the rules that keep bookings, history and logs.

use pgrx::prelude::*;

use super::TriggerResult;
use crate::errors::{raise, RuleError};

/// BEFORE TRUNCATE on users, slots, bookings, booking_status_history and activity_logs.
#[pg_trigger]
fn refuse_truncate<'a>(_trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    raise(RuleError::Restricted {
        what: "gym_booking keeps its records: TRUNCATE is refused".into(),
        hint: "To reset test data, run it with session_replication_role = replica, or DROP EXTENSION gym_booking CASCADE.",
    })
}

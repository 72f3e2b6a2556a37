//! Attendance (0.2.2): strikes suspend booking. The marks, the check-in, the auto no-show sweep,
//! rosters and reports are SQL (`sql/attendance.sql`); here is what the booking rule and the
//! waitlist ask of them, and the background worker's sweep.
//!
//! A suspension is computed from the marks (`athlete_suspended_until`), never stored: an excuse
//! or a change of the studio's settings holds at once. The booking rule asks on the latest
//! committed state, holding the athlete's users row FOR SHARE; a no-show is written holding it
//! FOR NO KEY UPDATE. So a booking racing the no-show that suspends its athlete either commits
//! first or waits for it and is refused: never accepted after the suspension committed.

use pgrx::pg_sys;

use crate::errors::{RuleError, RuleResult};
use crate::plans::{self, Sql};

/// Whether this database's gym_booking has attendance (0.2.2 or later): a server may run this
/// library before `ALTER EXTENSION gym_booking UPDATE`, and an older database keeps the rules
/// of its release (strikes suspend nobody there).
pub fn installed() -> bool {
    // SAFETY: syscache look-ups by name; a missing schema or table answers InvalidOid.
    unsafe {
        let schema = pg_sys::get_namespace_oid(c"gym_booking".as_ptr(), true);
        schema != pg_sys::InvalidOid
            && pg_sys::get_relname_relid(c"attendance".as_ptr(), schema) != pg_sys::InvalidOid
    }
}

static SUSPENSION_DETAIL: Sql = Sql {
    text: "SELECT gym_booking.suspension_detail($1)",
    args: &[pg_sys::UUIDOID],
};

/// The refusal of a suspended athlete's booking (or waitlist join), read on the latest
/// committed state; the caller holds the athlete's users row.
pub fn refuse_if_suspended(athlete: pgrx::Uuid) -> RuleResult<()> {
    if !installed() {
        return Ok(());
    }
    let rows = plans::latest(&SUSPENSION_DETAIL, &[athlete], 1)?;
    match rows.first().and_then(|r| r.first()).cloned().flatten() {
        Some(detail) => Err(RuleError::Suspended { detail }),
        None => Ok(()),
    }
}

// Whether an athlete is suspended, without the refusal's DETAIL (a promotion asks it of
// each athlete it looks at).
static SUSPENDED: Sql = Sql {
    text: "SELECT count(*) FROM (SELECT gym_booking.athlete_suspended_until($1) AS until) AS s
            WHERE s.until IS NOT NULL",
    args: &[pg_sys::UUIDOID],
};

/// Whether the athlete is suspended now, on the latest committed state (a promotion skips
/// them: they keep their place).
pub fn suspended(athlete: pgrx::Uuid) -> RuleResult<bool> {
    if !installed() {
        return Ok(false);
    }
    Ok(plans::latest_i64(&SUSPENDED, &[athlete])? > 0)
}

// The SQL function (sql/attendance.sql) the gym's cron job may call too.
static RECORD_NO_SHOWS: Sql = Sql {
    text: "SELECT gym_booking.record_no_shows($1)",
    args: &[pg_sys::INT4OID],
};

/// One batch of the auto no-show sweep (the worker's round, and `complete_past_bookings`);
/// how many bookings it marked. Nothing for a database whose extension is older than 0.2.2.
pub fn record_no_shows(batch: i32) -> RuleResult<i64> {
    if !installed() {
        return Ok(0);
    }
    Ok(plans::one::<i64>(&RECORD_NO_SHOWS, &[batch.into()])?.unwrap_or(0))
}

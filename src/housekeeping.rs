//! The studio's housekeeping, done by the background worker after completing past bookings
//! (and callable by the gym, e.g. from a cron job): waitlists of slots that have started
//! expire, places still free go to athletes still waiting, new events are announced (the
//! outbox's relay: `NOTIFY gym_booking_events`, one per recipient), old events are purged.

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::errors::{raise, RuleError, RuleResult};
use crate::identity::Actor;
use crate::plans::{self, Sql};
use crate::rules::waitlist;

// Events written longer ago than the retention (delivered or not: one that old is news to
// nobody), in batches: of the oldest ids (the primary key's order, which is the order they
// were written in but for transactions that overlapped), those old enough. A younger event
// among them holds back older ones behind it only until it is old enough itself.
static PURGE_EVENTS: Sql = Sql {
    text: "WITH head AS (
               SELECT e.id, e.created_at FROM gym_booking.events AS e
                ORDER BY e.id
                LIMIT $1
                  FOR UPDATE OF e SKIP LOCKED)
           DELETE FROM gym_booking.events AS e USING head
            WHERE e.id = head.id
              AND head.created_at < statement_timestamp()
                                    - (SELECT st.event_retention FROM gym_booking.studio_settings AS st)",
    args: &[pg_sys::INT4OID],
};

// Events nobody has announced yet, oldest first, in a batch: marked, and one notification per
// recipient (PostgreSQL sends them when this commits). SKIP LOCKED: relays side by side share
// the work.
static NOTIFY: Sql = Sql {
    text: "WITH due AS (
               SELECT e.id FROM gym_booking.events AS e
                WHERE e.notified_at IS NULL
                ORDER BY e.id
                LIMIT $1
                  FOR UPDATE OF e SKIP LOCKED),
           marked AS (
               UPDATE gym_booking.events AS e SET notified_at = statement_timestamp()
                 FROM due WHERE e.id = due.id
               RETURNING e.recipient_id)
           SELECT count(*) FROM (SELECT pg_catalog.pg_notify('gym_booking_events', r::text)
                                   FROM (SELECT DISTINCT recipient_id AS r FROM marked) AS d) AS n",
    args: &[pg_sys::INT4OID],
};

static TIMETABLES_INSTALLED: Sql = Sql {
    text: "SELECT pg_catalog.to_regclass('gym_booking.series') IS NOT NULL",
    args: &[],
};

// The SQL function (sql/timetable.sql) the gym's cron job may call too.
static EXTEND_TIMETABLES: Sql = Sql {
    text: "SELECT gym_booking.extend_timetables()",
    args: &[],
};

static INSTALLED: Sql = Sql {
    text: "SELECT pg_catalog.to_regclass('gym_booking.waitlist_entries') IS NOT NULL",
    args: &[],
};

pub fn purge(max_rows: i32) -> RuleResult<i64> {
    if max_rows < 1 {
        return Err(RuleError::invalid("max_rows must be at least 1"));
    }
    if !Actor::current()?.is_privileged() {
        return Err(RuleError::NotAllowed {
            message: "only the gym purges events".into(),
            hint: Some("Run it as service_role, an app admin, or from the background worker."),
        });
    }
    Ok(plans::execute(&PURGE_EVENTS, &[max_rows.into()])? as i64)
}

pub fn notify(max_rows: i32) -> RuleResult<i64> {
    if max_rows < 1 {
        return Err(RuleError::invalid("max_events must be at least 1"));
    }
    if !Actor::current()?.is_privileged() {
        return Err(RuleError::NotAllowed {
            message: "only the gym announces events".into(),
            hint: Some("The background worker does it each round; or run it as service_role or an app admin."),
        });
    }
    Ok(plans::one::<i64>(&NOTIFY, &[max_rows.into()])?.unwrap_or(0))
}

/// Announces events not announced yet: `NOTIFY gym_booking_events` once per recipient (payload:
/// their id), sent when this transaction commits; at most `max_events` events (oldest first).
/// Returns how many notifications. The background worker runs it each round; a cron job or a
/// delivery worker may call it more often.
#[pg_extern(volatile, parallel_unsafe)]
fn notify_events(max_events: default!(i32, 10000)) -> i64 {
    crate::errors::refuse_if_read_only(c"notify_events()");
    notify(max_events).unwrap_or_else(|e| raise(e))
}

/// Deletes events written longer ago than the `event_retention` setting, at most `max_rows` of
/// them (oldest first); returns how many. Call again until it returns 0.
#[pg_extern(volatile, parallel_unsafe)]
fn purge_events(max_rows: default!(i32, 10000)) -> i64 {
    crate::errors::refuse_if_read_only(c"purge_events()");
    purge(max_rows).unwrap_or_else(|e| raise(e))
}

/// One round of housekeeping, in the worker's transaction: (expired entries, promotions,
/// notifications, purged events). Nothing for a database whose extension is older than 0.2.0.
pub fn round(batch: i32) -> RuleResult<(i64, i32, i64, i64)> {
    if plans::one::<bool>(&INSTALLED, &[])? != Some(true) {
        return Ok((0, 0, 0, 0));
    }
    let expired = waitlist::expire_all()?;
    let promoted = waitlist::promote_all()?;
    let notified = notify(batch.saturating_mul(20))?;
    let purged = purge(batch)?;
    Ok((expired, promoted, notified, purged))
}

/// Keeps every running series' occurrences `timetable_horizon` ahead (the worker's round, in a
/// transaction of its own); how many occurrences it made. Nothing for a database whose
/// extension is older than 0.2.1.
pub fn extend_timetables() -> RuleResult<i32> {
    if plans::one::<bool>(&TIMETABLES_INSTALLED, &[])? != Some(true) {
        return Ok(0);
    }
    Ok(plans::one::<i32>(&EXTEND_TIMETABLES, &[])?.unwrap_or(0))
}

//! The business rules, one module per table or concern, each a set of `#[pg_trigger]`
//! functions. `sql/triggers.sql` attaches them to the tables.
//!
//! Every trigger goes through [`fire`]: it hands the rule a [`Fired`] (operation, OLD, NEW) and
//! turns the rule's [`Outcome`] into what PostgreSQL expects back, or raises the rule's
//! refusal with its own SQLSTATE.

/// SQL for `$at - $by` on the studio's clock (`st`: the studio_settings row in the query), as
/// PostgreSQL subtracts an interval from a timestamptz but in the studio's time zone instead of
/// the session's: the interval's days (and months) are the studio's calendar days, its hours
/// and minutes elapsed time. "Booking opens 14 days before" means the same wall-clock time 14
/// dates earlier in the studio, whatever the TimeZone of the session that books (DESIGN.md: no
/// result depends on it). `sql/attendance.sql` has the same as `studio_shift()`.
macro_rules! studio_minus {
    ($at:literal, $by:literal) => {
        concat!(
            "(CASE WHEN date_trunc('day', ",
            $by,
            ") = interval '0' THEN ",
            $at,
            " - ",
            $by,
            " ELSE ((",
            $at,
            " AT TIME ZONE st.time_zone) - date_trunc('day', ",
            $by,
            ")) AT TIME ZONE st.time_zone - (",
            $by,
            " - date_trunc('day', ",
            $by,
            ")) END)"
        )
    };
}

pub mod attendance;
pub mod audit;
pub mod bookings;
pub mod directory;
pub mod events;
pub mod held_slot;
pub mod lock_order;
pub mod retention;
pub mod settings;
pub mod slots;
pub mod timestamps;
pub mod trainer;
pub mod users;
pub mod waitlist;

use std::convert::Infallible;

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::errors::{raise, RuleError, RuleResult};
use crate::memo;
use crate::row::{Row, RowEdit};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Op {
    Insert,
    Update,
    Delete,
}

/// What a trigger was fired for.
pub struct Fired {
    pub op: Op,
    pub old: Option<Row>,
    pub new: Option<Row>,
    pub table: String,
}

impl Fired {
    /// The row as it will be (INSERT, UPDATE) or as it was (DELETE).
    pub fn row(&self) -> &Row {
        self.new
            .as_ref()
            .or(self.old.as_ref())
            .expect("a row-level trigger has a row")
    }

    pub fn new_row(&self) -> RuleResult<&Row> {
        self.new
            .as_ref()
            .ok_or_else(|| RuleError::Internal("trigger has no NEW row".into()))
    }

    pub fn old_row(&self) -> RuleResult<&Row> {
        self.old
            .as_ref()
            .ok_or_else(|| RuleError::Internal("trigger has no OLD row".into()))
    }

    /// Whether UPDATE changed the column (always true for INSERT and DELETE).
    pub fn changed(&self, column: &str) -> RuleResult<bool> {
        match (&self.old, &self.new) {
            (Some(old), Some(new)) => Ok(!new.same(old, column)?),
            _ => Ok(true),
        }
    }
}

/// What a rule decided.
pub enum Outcome {
    /// Go ahead with the row as it is.
    Proceed,
    /// Go ahead with these columns changed (BEFORE INSERT/UPDATE only).
    Edit(RowEdit),
    /// Silently skip the operation for this row (BEFORE only).
    Skip,
}

pub type TriggerResult<'a> = Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, Infallible>;

/// A superuser loading a dump: `pg_dump`'s scripts and `pg_restore` both set
/// `row_security = off` and `check_function_bodies = false` before loading data, which
/// no application does. The rows were checked when first written; the rules stand aside, as
/// they do under `session_replication_role = replica`, so a restore brings every row back as
/// it was (cancelled and completed bookings, past slots) without inventing log rows.
///
/// Whose session it is decides, never who runs the statement now: the user who connected
/// and the role the session acts as (`SET ROLE`) must both be superusers. The rules' own
/// switch to the extension's owner (a superuser), or a SECURITY DEFINER function, changes
/// neither; so a client role that turns both settings off, before or inside a statement,
/// still meets every rule.
pub fn restoring() -> bool {
    // SAFETY: reads two settings' values and two roles' superuser flags.
    unsafe {
        let off = |name: &std::ffi::CStr| {
            let value = pg_sys::GetConfigOption(name.as_ptr(), true, false);
            !value.is_null() && std::ffi::CStr::from_ptr(value).to_bytes() == b"off"
        };
        off(c"row_security")
            && off(c"check_function_bodies")
            && pg_sys::superuser_arg(pg_sys::GetSessionUserId())
            && pg_sys::superuser_arg(pg_sys::GetOuterUserId())
    }
}

/// Runs a rule for a row-level trigger. A refusal is raised here, at the edge, with its
/// SQLSTATE, DETAIL and HINT: pgrx would turn a returned `Err` into an internal error.
pub fn fire<'a>(
    trigger: &'a PgTrigger<'a>,
    rule: impl FnOnce(&Fired) -> RuleResult<Outcome>,
) -> TriggerResult<'a> {
    let data = trigger.trigger_data();
    let event = data.tg_event;
    let table = trigger.table_name().unwrap_or_default();
    if table == "users" {
        // Whoever the request names may be changing: look them up again.
        memo::forget();
    }
    if restoring() {
        let before = event & pg_sys::TRIGGER_EVENT_TIMINGMASK == pg_sys::TRIGGER_EVENT_BEFORE;
        let deleting = event & pg_sys::TRIGGER_EVENT_OPMASK == pg_sys::TRIGGER_EVENT_DELETE;
        return Ok(match (before, deleting) {
            (false, _) => None,
            (true, true) => trigger.old(),
            (true, false) => trigger.new(),
        });
    }
    let op = match event & pg_sys::TRIGGER_EVENT_OPMASK {
        pg_sys::TRIGGER_EVENT_INSERT => Op::Insert,
        pg_sys::TRIGGER_EVENT_UPDATE => Op::Update,
        pg_sys::TRIGGER_EVENT_DELETE => Op::Delete,
        _ => raise(RuleError::Internal(
            "gym_booking triggers are row-level DML triggers".into(),
        )),
    };
    // SAFETY: PostgreSQL hands the trigger valid tuples and the relation's descriptor.
    let desc = unsafe { (*data.tg_relation).rd_att };
    let (old, new) = unsafe {
        match op {
            Op::Insert => (None, Some(Row::new(data.tg_trigtuple, desc))),
            Op::Update => (
                Some(Row::new(data.tg_trigtuple, desc)),
                Some(Row::new(data.tg_newtuple, desc)),
            ),
            Op::Delete => (Some(Row::new(data.tg_trigtuple, desc)), None),
        }
    };
    let fired = Fired {
        op,
        old,
        new,
        table,
    };
    let before = event & pg_sys::TRIGGER_EVENT_TIMINGMASK == pg_sys::TRIGGER_EVENT_BEFORE;
    let outcome = rule(&fired).unwrap_or_else(|e| raise(e));
    if !before {
        return Ok(None);
    }
    Ok(match outcome {
        Outcome::Skip => None,
        Outcome::Proceed => match op {
            Op::Delete => trigger.old(),
            _ => trigger.new(),
        },
        Outcome::Edit(edit) if edit.is_empty() => trigger.new(),
        Outcome::Edit(edit) => {
            let tuple = edit.apply(fired.new_row().unwrap_or_else(|e| raise(e)));
            // SAFETY: a tuple of this relation, just built in the trigger's memory context.
            Some(unsafe {
                PgHeapTuple::from_heap_tuple(pgrx::PgTupleDesc::from_pg_unchecked(desc), tuple)
            })
        }
    })
}

//! What the tables record about time is the rules' to say, never the client's: `created_at`
//! is the moment of the INSERT and never moves, `updated_at` moves on every write. Both come
//! from the rules' clock (the statement's start; see `row::statement_now`).

use pgrx::prelude::*;

use super::{fire, Op, Outcome, TriggerResult};
use crate::row::{statement_now, RowEdit};

/// BEFORE INSERT OR UPDATE on every table with an `updated_at` (and perhaps a `created_at`).
/// The name is older than the INSERT half: released versions' scripts name this function.
#[pg_trigger]
fn set_updated_at<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        let new = fired.new_row()?;
        let has_created_at = new.columns().any(|(_, attr)| attr.name() == "created_at");
        let mut edit = RowEdit::default();
        let now = statement_now();
        edit.set_micros(new, "updated_at", now)?;
        if has_created_at {
            match fired.op {
                Op::Update => edit.keep(new, fired.old_row()?, "created_at")?,
                _ => edit.set_micros(new, "created_at", now)?,
            }
        }
        Ok(Outcome::Edit(edit))
    })
}

//! `updated_at` moves on every UPDATE; `created_at` never does.

use pgrx::prelude::*;

use super::{fire, Outcome, TriggerResult};
use crate::row::RowEdit;

/// BEFORE UPDATE on every table with an `updated_at`.
#[pg_trigger]
fn set_updated_at<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        let (new, old) = (fired.new_row()?, fired.old_row()?);
        let mut edit = RowEdit::default();
        edit.set_micros(new, "updated_at", crate::row::now_micros())?;
        if new.columns().any(|(_, attr)| attr.name() == "created_at") {
            edit.keep(new, old, "created_at")?;
        }
        Ok(Outcome::Edit(edit))
    })
}

//! Accounts are soft-deleted: setting `deleted_at` (or `DELETE`) anonymizes the row for good,
//! cancels the person's future bookings and, for a trainer, their future slots.

use pgrx::pg_sys;
use pgrx::prelude::*;

use super::{fire, Fired, Outcome, TriggerResult};
use crate::errors::{RuleError, RuleResult};
use crate::identity::Actor;
use crate::plans::{self, Sql};
use crate::row::{statement_now, Row, RowEdit};
use crate::system::SystemChange;

/// What an anonymized account shows instead of a name.
pub const ANONYMOUS_NAME: &str = "Anonymous user";

/// Columns that identify a person: blanked on deletion, redacted in the activity log.
pub const PII_COLUMNS: &[&str] = &[
    "email",
    "first_name",
    "last_name",
    "contact_email",
    "contact_phone",
    "preferences",
];

static UPCOMING_SLOTS_OF: Sql = Sql {
    text: "SELECT count(*) FROM gym_booking.slots
            WHERE trainer_id = $1 AND cancelled_at IS NULL AND end_at > statement_timestamp()",
    args: &[pg_sys::UUIDOID],
};

static SOFT_DELETE: Sql = Sql {
    text: "UPDATE gym_booking.users SET deleted_at = statement_timestamp() WHERE id = $1 AND deleted_at IS NULL",
    args: &[pg_sys::UUIDOID],
};

static CANCEL_FUTURE_BOOKINGS: Sql = Sql {
    text: "UPDATE gym_booking.bookings AS b SET status = 'cancelled'
             FROM gym_booking.slots AS s
            WHERE b.user_id = $1 AND b.status = 'reserved' AND s.id = b.slot_id AND s.start_at > statement_timestamp()",
    args: &[pg_sys::UUIDOID],
};

// The slots of the bookings about to be cancelled, before the bookings (the lock order: a
// cancellation hands its place to the waitlist under the slot's lock).
static LOCK_SLOTS_OF_FUTURE_BOOKINGS: Sql = Sql {
    text: "SELECT FROM gym_booking.slots AS s
            WHERE s.id = ANY (ARRAY(SELECT b.slot_id FROM gym_booking.bookings AS b
                                     WHERE b.user_id = $1 AND b.status = 'reserved'))
              AND s.start_at > statement_timestamp()
            ORDER BY s.id
              FOR UPDATE OF s",
    args: &[pg_sys::UUIDOID],
};

// A deleted account waits for nothing any more.
static REMOVE_FROM_WAITLISTS: Sql = Sql {
    text:
        "UPDATE gym_booking.waitlist_entries SET state = 'removed', ended_at = statement_timestamp()
            WHERE user_id = $1 AND state = 'waiting'",
    args: &[pg_sys::UUIDOID],
};

static CANCEL_FUTURE_SLOTS: Sql = Sql {
    text: "UPDATE gym_booking.slots SET cancelled_at = statement_timestamp()
            WHERE trainer_id = $1 AND cancelled_at IS NULL AND start_at > statement_timestamp()",
    args: &[pg_sys::UUIDOID],
};

/// Blanks every personal field; the email becomes a unique address that cannot receive mail
/// (RFC 2606 reserves `.invalid`), the password one no hash can match.
fn anonymize(new: &Row, edit: &mut RowEdit) -> RuleResult<()> {
    let id = new.uuid("id")?;
    // Deleted now, by the rules' clock, whatever moment the writer gave.
    edit.set_micros(new, "deleted_at", statement_now())?;
    edit.set(new, "is_anonymous", Some(true))?;
    edit.set_text(
        new,
        "email",
        Some(&format!("deleted-{id}@anonymized.invalid")),
    )?;
    edit.set_text(new, "password_hash", Some("!deleted"))?;
    edit.set_text(new, "first_name", Some(ANONYMOUS_NAME))?;
    edit.set_text(new, "last_name", None)?;
    edit.set_text(new, "contact_email", None)?;
    edit.set_text(new, "contact_phone", None)?;
    edit.set_text(new, "preferences", Some("{}"))?;
    Ok(())
}

/// Columns only the gym changes: who someone is, how they sign in, whether the account exists.
/// A person deletes their own account with `gym_booking.delete_my_account()`.
const IDENTITY_COLUMNS: &[&str] = &[
    "id",
    "email",
    "password_hash",
    "role",
    "deleted_at",
    "is_anonymous",
    "created_at",
];

fn guard_identity(fired: &Fired) -> RuleResult<()> {
    let mut changed = Vec::new();
    for column in IDENTITY_COLUMNS {
        if fired.changed(column)? {
            changed.push(*column);
        }
    }
    if changed.is_empty() || fired.op != super::Op::Update || Actor::current()?.is_privileged() {
        return Ok(());
    }
    let deleting = changed
        .iter()
        .any(|c| *c == "deleted_at" || *c == "is_anonymous");
    Err(RuleError::NotAllowed {
        message: format!("only the gym changes {}", changed.join(", ")),
        hint: Some(if deleting {
            "To delete your own account, call gym_booking.delete_my_account()."
        } else {
            "Ask the gym (an admin) to make this change."
        }),
    })
}

fn soft_delete(fired: &Fired) -> RuleResult<Outcome> {
    guard_identity(fired)?;
    let new = fired.new_row()?;
    let mut edit = RowEdit::default();
    if let Some(old) = &fired.old {
        if !old.is_null("deleted_at")? {
            let changed = new
                .columns()
                .filter(|(_, attr)| attr.name() != "updated_at")
                .any(|(n, attr)| !new.cell_at(n, attr).same(&old.cell_at(n, attr)));
            if changed {
                return Err(RuleError::InvalidInput {
                    message: "a deleted account cannot be changed or restored".into(),
                    detail: None,
                    hint: Some("Deletion is final; the person can sign up again."),
                });
            }
            return Ok(Outcome::Proceed);
        }
    }
    let deleting = !new.is_null("deleted_at")? || new.get::<bool>("is_anonymous")? == Some(true);
    if deleting {
        anonymize(new, &mut edit)?;
    } else if let Some(old) = &fired.old {
        let was_trainer = old.text("role")?.as_deref() == Some("trainer");
        if was_trainer && new.text("role")?.as_deref() != Some("trainer") {
            let upcoming = plans::one::<i64>(&UPCOMING_SLOTS_OF, &[new.uuid("id")?.into()])?;
            if upcoming.unwrap_or(0) > 0 {
                return Err(RuleError::Restricted {
                    what: "a trainer with upcoming slots stays a trainer".into(),
                    hint: "Cancel their upcoming slots first (set cancelled_at).",
                });
            }
        }
    }
    Ok(Outcome::Edit(edit))
}

/// BEFORE INSERT OR UPDATE on users.
#[pg_trigger]
fn users_soft_delete<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, soft_delete)
}

/// BEFORE DELETE on users: the row stays, anonymized, so that bookings and history keep
/// pointing at it.
#[pg_trigger]
fn users_delete_as_soft_delete<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        plans::execute(&SOFT_DELETE, &[fired.old_row()?.uuid("id")?.into()])?;
        Ok(Outcome::Skip)
    })
}

/// AFTER UPDATE on users, when `deleted_at` was just set.
#[pg_trigger]
fn users_soft_delete_cascade<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        let id = fired.new_row()?.uuid("id")?;
        let _system = SystemChange::begin();
        // Slots of the trainer's own first (users, slots, entries, bookings), then the
        // athlete's places and their slots.
        super::bookings::refuse_stale_snapshot(&UPCOMING_SLOTS_OF, id, "the trainer's slots")?;
        plans::execute(&CANCEL_FUTURE_SLOTS, &[id.into()])?;
        plans::execute(&LOCK_SLOTS_OF_FUTURE_BOOKINGS, &[id.into()])?;
        // A booking committed after a REPEATABLE READ snapshot would outlive the account:
        // such a deletion is retried instead.
        super::bookings::refuse_stale_snapshot(
            &super::bookings::UPCOMING_OF,
            id,
            "the account's bookings",
        )?;
        // On the latest committed state: entries joined after a REPEATABLE READ snapshot too.
        if super::settings::installed() {
            plans::latest(&REMOVE_FROM_WAITLISTS, &[id], 0)?;
        }
        // Its calendar feed closes with it (0.2.1 databases).
        crate::calendar::forget_token_of(id)?;
        plans::execute(&CANCEL_FUTURE_BOOKINGS, &[id.into()])?;
        Ok(Outcome::Proceed)
    })
}

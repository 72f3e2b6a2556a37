//! `trainer_directory`: the public list of active trainers, kept in step with `users`.

use pgrx::pg_sys;
use pgrx::prelude::*;

use super::{fire, Outcome, TriggerResult};
use crate::plans::{self, Sql};

static PUBLISH: Sql = Sql {
    text: "INSERT INTO gym_booking.trainer_directory AS d
                (trainer_id, display_name, contact_email, contact_phone, updated_at)
           SELECT id, concat_ws(' ', first_name, last_name), contact_email, contact_phone, statement_timestamp()
             FROM gym_booking.users
            WHERE id = $1 AND role = 'trainer' AND deleted_at IS NULL
           ON CONFLICT (trainer_id) DO UPDATE
              SET display_name = excluded.display_name,
                  contact_email = excluded.contact_email,
                  contact_phone = excluded.contact_phone
            WHERE (d.display_name, d.contact_email, d.contact_phone)
                  IS DISTINCT FROM (excluded.display_name, excluded.contact_email, excluded.contact_phone)",
    args: &[pg_sys::UUIDOID],
};

static WITHDRAW: Sql = Sql {
    text: "DELETE FROM gym_booking.trainer_directory AS d
            WHERE d.trainer_id = $1
              AND NOT EXISTS (SELECT FROM gym_booking.users AS u
                               WHERE u.id = d.trainer_id AND u.role = 'trainer' AND u.deleted_at IS NULL)",
    args: &[pg_sys::UUIDOID],
};

const LISTED_COLUMNS: &[&str] = &[
    "role",
    "deleted_at",
    "first_name",
    "last_name",
    "contact_email",
    "contact_phone",
];

/// AFTER INSERT OR UPDATE on users.
#[pg_trigger]
fn trainer_directory_refresh<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        let mut relevant = false;
        for column in LISTED_COLUMNS {
            relevant |= fired.changed(column)?;
        }
        if relevant {
            let id = fired.new_row()?.uuid("id")?;
            plans::execute(&PUBLISH, &[id.into()])?;
            plans::execute(&WITHDRAW, &[id.into()])?;
        }
        Ok(Outcome::Proceed)
    })
}

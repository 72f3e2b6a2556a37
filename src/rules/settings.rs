//! The studio's settings: one row, changed by the DBA or an app admin, every change recorded.
//!
//! The row is made with the extension. A dump keeps it (the table is registered with
//! `pg_extension_config_dump`); restoring it into a new database, whose CREATE EXTENSION made a
//! row of defaults already, replaces that row (`studio_settings_replace`), so the studio comes
//! back with its own settings.

use pgrx::pg_sys;
use pgrx::prelude::*;

use super::{fire, Op, Outcome, TriggerResult};
use crate::errors::{raise, RuleError};
use crate::identity::Actor;
use crate::plans::{self, Sql};
use crate::row::{statement_now, RowEdit};

/// The settings a change is recorded for (every column but the row's id and bookkeeping).
const SETTINGS: &[&str] = &[
    "time_zone",
    "cancellation_window",
    "booking_opens_before",
    "booking_closes_before",
    "max_upcoming_bookings",
    "waitlist_enabled",
    "waitlist_max",
    "waitlist_cutoff",
    "attendance_grace",
    "auto_no_show",
    "no_show_strike_limit",
    "strike_window",
    "suspension",
    "timetable_horizon",
    "event_retention",
];

// The same list PostgreSQL's own AT TIME ZONE accepts by name, minus abbreviations and POSIX
// offsets ("UTC+3" means three hours *west*): an IANA name, which follows daylight saving. Not
// "localtime" (whatever the server's clock says) nor the tz database's internal names.
static KNOWN_TIME_ZONE: Sql = Sql {
    text: "SELECT count(*) FROM pg_catalog.pg_timezone_names
            WHERE name = $1 AND name NOT IN ('localtime', 'posixrules', 'Factory')",
    args: &[pg_sys::TEXTOID],
};

static REMOVE_ROW: Sql = Sql {
    text: "DELETE FROM gym_booking.studio_settings",
    args: &[],
};

static RECORD_CHANGE: Sql = Sql {
    text: "INSERT INTO gym_booking.studio_settings_history
               (changed_at, changed_by, changed_by_role, changed_fields)
           VALUES (statement_timestamp(), $1, $2::gym_booking.user_role, $3::jsonb)",
    args: &[pg_sys::UUIDOID, pg_sys::TEXTOID, pg_sys::TEXTOID],
};

/// Whether this database's gym_booking is 0.2.0 or later (has the studio's tables). A server
/// runs the newest library for every database, and a database keeps its older release until
/// `ALTER EXTENSION gym_booking UPDATE`: until then the rules keep that release's behaviour
/// (no settings, waitlists or events; the seed's 60-minute window), so installing the package
/// never breaks a database that has not been updated yet. Two catalog cache look-ups.
pub fn installed() -> bool {
    // SAFETY: syscache look-ups by name; a missing schema or table answers InvalidOid.
    unsafe {
        let schema = pg_sys::get_namespace_oid(c"gym_booking".as_ptr(), true);
        schema != pg_sys::InvalidOid
            && pg_sys::get_relname_relid(c"studio_settings".as_ptr(), schema) != pg_sys::InvalidOid
    }
}

thread_local! {
    /// Set while `studio_settings_replace` removes the old row for a new one.
    static REPLACING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// BEFORE UPDATE OR DELETE on studio_settings: a known time zone; who and when; the row is
/// never deleted (only replaced by an INSERT of a new one).
#[pg_trigger]
fn studio_settings_guard<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        if fired.op == Op::Delete {
            if REPLACING.with(|r| r.get()) {
                return Ok(Outcome::Proceed);
            }
            return Err(RuleError::Restricted {
                what: "the studio settings row is never deleted".into(),
                hint: "Change the settings with UPDATE gym_booking.studio_settings SET ...",
            });
        }
        let new = fired.new_row()?;
        if fired.changed("time_zone")? {
            let zone = new.text("time_zone")?.unwrap_or_default();
            if plans::one::<i64>(&KNOWN_TIME_ZONE, &[zone.as_str().into()])? != Some(1) {
                return Err(RuleError::InvalidInput {
                    message: format!("\"{zone}\" is not a time zone PostgreSQL knows by name"),
                    detail: None,
                    hint: Some("Use an IANA name such as Europe/Berlin (see pg_timezone_names)."),
                });
            }
        }
        let mut edit = RowEdit::default();
        edit.set_micros(new, "updated_at", statement_now())?;
        edit.set(new, "updated_by", Actor::current()?.user_id)?;
        Ok(Outcome::Edit(edit))
    })
}

/// Intervals written as ISO 8601 ("PT2H", "P30D") until dropped, whatever the session's
/// IntervalStyle: the history reads the same from every client.
struct IsoIntervals(i32);

impl IsoIntervals {
    fn enter() -> IsoIntervals {
        // SAFETY: a GUC nest level popped in Drop, as fmgr_security_definer does.
        unsafe {
            let level = pg_sys::NewGUCNestLevel();
            pg_sys::set_config_option(
                c"intervalstyle".as_ptr(),
                c"iso_8601".as_ptr(),
                pg_sys::GucContext::PGC_USERSET,
                pg_sys::GucSource::PGC_S_SESSION,
                pg_sys::GucAction::GUC_ACTION_SAVE,
                true,
                0,
                false,
            );
            IsoIntervals(level)
        }
    }
}

impl Drop for IsoIntervals {
    fn drop(&mut self) {
        // SAFETY: restores what enter() saved.
        unsafe { pg_sys::AtEOXact_GUC(true, self.0) };
    }
}

/// AFTER UPDATE on studio_settings: one history row naming each changed setting.
#[pg_trigger]
fn studio_settings_history<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        let (old, new) = (fired.old_row()?, fired.new_row()?);
        let mut changed = serde_json::Map::new();
        let iso = IsoIntervals::enter();
        for setting in SETTINGS {
            if !new.same(old, setting)? {
                let value = |text: Option<String>| {
                    text.map_or(serde_json::Value::Null, serde_json::Value::String)
                };
                changed.insert(
                    setting.to_string(),
                    serde_json::json!({ "old": value(old.text(setting)?),
                                        "new": value(new.text(setting)?) }),
                );
            }
        }
        drop(iso);
        if changed.is_empty() {
            return Ok(Outcome::Proceed);
        }
        let actor = Actor::current()?;
        let role = actor.user_id.and(actor.role.clone());
        plans::execute(
            &RECORD_CHANGE,
            &[
                actor.user_id.into(),
                role.into(),
                serde_json::Value::Object(changed).to_string().into(),
            ],
        )?;
        Ok(Outcome::Proceed)
    })
}

/// BEFORE INSERT on studio_settings (enabled ALWAYS): a new row replaces the one there is, so a
/// restored dump's row takes the place of the defaults CREATE EXTENSION made. (Only the DBA
/// inserts: no client role has the grant.)
#[pg_trigger]
fn studio_settings_replace<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    REPLACING.with(|r| r.set(true));
    let removed = plans::execute(&REMOVE_ROW, &[]);
    REPLACING.with(|r| r.set(false));
    removed.unwrap_or_else(|e| raise(e));
    Ok(trigger.new())
}

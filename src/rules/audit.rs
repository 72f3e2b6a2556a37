//! The activity log: one row per change to users, slots and bookings, naming who made it and
//! holding only what changed. Personal data is redacted and `password_hash` never written.

use pgrx::pg_sys;
use pgrx::prelude::*;
use serde_json::{json, Map, Value};

use super::users::PII_COLUMNS;
use super::{fire, Fired, Op, Outcome, TriggerResult};
use crate::errors::{RuleError, RuleResult};
use crate::identity::Actor;
use crate::plans::{self, Sql};
use crate::system;

const REDACTED: &str = "[redacted]";

/// Never logged, not even redacted: a change shows only as `"password": "[redacted]"`.
const SECRET_COLUMNS: &[&str] = &["password_hash"];

/// Bookkeeping every change touches; on its own it is not worth a log row.
const BOOKKEEPING_COLUMNS: &[&str] = &["updated_at"];

/// Copies the rules keep of another table's column (src/rules/trainer.rs): logged where they
/// change, on the slot.
const COPIED_COLUMNS: &[(&str, &str)] = &[("bookings", "trainer_id")];

// created_at is the clock's time, not the transaction's: entries of one transaction keep
// their order. The metadata (the database role, the source) is built here, not passed as a
// document PostgreSQL would parse again.
static RECORD: Sql = Sql {
    text: "INSERT INTO gym_booking.activity_logs
               (id, entity_type, entity_id, action, changed_by, changed_by_role, changed_fields,
                metadata, created_at)
           VALUES ($1, $2::gym_booking.log_entity_type, $3, $4::gym_booking.log_action_type,
                   $5, $6::gym_booking.user_role, $7,
                   jsonb_build_object('db_role', $8::text, 'source', $9::text), clock_timestamp())",
    args: &[
        pg_sys::UUIDOID,
        pg_sys::TEXTOID,
        pg_sys::UUIDOID,
        pg_sys::TEXTOID,
        pg_sys::UUIDOID,
        pg_sys::TEXTOID,
        pg_sys::JSONBOID,
        pg_sys::TEXTOID,
        pg_sys::TEXTOID,
    ],
};

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const UNIX_TO_POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A new entry's id: a version 7 uuid (RFC 9562: the Unix time in milliseconds, then random
/// bits). The log only grows, so its entries land on the primary key's last pages instead of a
/// random one each: fewer pages written, and fewer full-page images in the WAL. The random
/// bits need to be unique, not secret (a log id grants nothing): they come from the backend's
/// own generator, which PostgreSQL seeds from strong random bytes when the backend starts,
/// instead of a read of the system's strong source per entry (half a percent of a booking).
fn entry_id() -> RuleResult<pgrx::Uuid> {
    let mut bytes = [0u8; 16];
    // SAFETY: the backend's generator; a backend runs one thread.
    for half in bytes.chunks_exact_mut(8) {
        let random = unsafe { pg_sys::pg_prng_uint64(&raw mut pg_sys::pg_global_prng_state) };
        half.copy_from_slice(&random.to_ne_bytes());
    }
    // SAFETY: reads the clock.
    let now = unsafe { pg_sys::GetCurrentTimestamp() };
    let millis = ((now + UNIX_TO_POSTGRES_EPOCH_MICROS) / 1000) as u64;
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6] = (bytes[6] & 0x0f) | 0x70; // version 7
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC variant
    Ok(pgrx::Uuid::from_bytes(bytes))
}

fn entity_type(table: &str) -> RuleResult<&'static str> {
    match table {
        "users" => Ok("user"),
        "slots" => Ok("slot"),
        "bookings" => Ok("booking"),
        other => Err(RuleError::Internal(format!(
            "no activity log for table {other}"
        ))),
    }
}

fn logged_value(table: &str, column: &str, value: Value) -> Value {
    if table == "users" && PII_COLUMNS.contains(&column) && !value.is_null() {
        Value::String(REDACTED.into())
    } else {
        value
    }
}

/// INSERT: the new row's values; DELETE: the old row's; UPDATE: `{"old": .., "new": ..}` for
/// each column that changed.
fn changed_fields(fired: &Fired) -> Map<String, Value> {
    let mut fields = Map::new();
    let row = fired.row();
    for (n, attr) in row.columns() {
        let name = attr.name();
        if BOOKKEEPING_COLUMNS.contains(&name)
            || COPIED_COLUMNS.contains(&(fired.table.as_str(), name))
        {
            continue;
        }
        if SECRET_COLUMNS.contains(&name) {
            if let (Some(old), Some(new)) = (&fired.old, &fired.new) {
                if !old.cell_at(n, attr).same(&new.cell_at(n, attr)) {
                    fields.insert("password".into(), Value::String(REDACTED.into()));
                }
            }
            continue;
        }
        let value = match (&fired.old, &fired.new) {
            (Some(old), Some(new)) => {
                let (before, after) = (old.cell_at(n, attr), new.cell_at(n, attr));
                if before.same(&after) {
                    continue;
                }
                json!({
                    "old": logged_value(&fired.table, name, before.json()),
                    "new": logged_value(&fired.table, name, after.json()),
                })
            }
            _ => {
                let cell = row.cell_at(n, attr);
                if cell.datum.is_none() {
                    continue;
                }
                logged_value(&fired.table, name, cell.json())
            }
        };
        fields.insert(name.to_string(), value);
    }
    fields
}

fn action(fired: &Fired) -> RuleResult<&'static str> {
    Ok(match fired.op {
        Op::Insert => "create",
        Op::Delete => "delete",
        // A soft delete is the deletion of an account.
        Op::Update
            if fired.table == "users"
                && fired.old_row()?.is_null("deleted_at")?
                && !fired.new_row()?.is_null("deleted_at")? =>
        {
            "delete"
        }
        Op::Update if fired.table == "bookings" && fired.changed("status")? && system::active() => {
            "status_auto_update"
        }
        Op::Update => "update",
    })
}

/// AFTER INSERT OR UPDATE OR DELETE on users, slots and bookings.
#[pg_trigger]
fn activity_log<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        let fields = changed_fields(fired);
        if fields.is_empty() {
            return Ok(Outcome::Proceed);
        }
        let mut actor = Actor::current()?;
        if super::waitlist::in_promotion() {
            // The system's booking: it names nobody (the canceller must not learn who).
            actor.user_id = None;
            actor.role = None;
        }
        let row = fired.row();
        if fired.op != Op::Delete && fired.table != "users" && row.has("trainer_id") {
            // The entry about a slot or a booking is its trainer's (`follow_slot_trainer`).
            super::trainer::writing_about(row.uuid("id")?, row.get("trainer_id")?);
        }
        let source = if system::active() { "system" } else { "client" };
        plans::execute(
            &RECORD,
            &[
                entry_id()?.into(),
                entity_type(&fired.table)?.into(),
                fired.row().uuid("id")?.into(),
                action(fired)?.into(),
                actor.user_id.into(),
                actor.role.into(),
                pgrx::JsonB(Value::Object(fields)).into(),
                outer_role_name().into(),
                source.into(),
            ],
        )?;
        Ok(Outcome::Proceed)
    })
}

/// The database role the request runs as (PostgREST's `SET ROLE`), not a function owner's.
fn outer_role_name() -> Option<String> {
    // SAFETY: a catalog lookup of an existing role's name.
    unsafe {
        let name = pg_sys::GetUserNameFromId(pg_sys::GetOuterUserId(), true);
        (!name.is_null()).then(|| {
            std::ffi::CStr::from_ptr(name)
                .to_string_lossy()
                .into_owned()
        })
    }
}

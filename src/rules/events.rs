//! Events: a transactional outbox. Every change a person should hear about writes one row in
//! `events`, in the same transaction as the change; a payload holds only what its recipient may
//! see. The notification (`NOTIFY gym_booking_events` with the recipient's id) is the relay's
//! (`housekeeping::notify`: the background worker each round, or `notify_events()`), after
//! the change has committed: a NOTIFY inside the change would take PostgreSQL's one
//! notification lock through every commit, so that bookings would commit one at a time.
//!
//! Who changed a booking decides what its athlete is told: their own change or the gym's (a
//! trainer, an admin) as `booking_confirmed` / `booking_cancelled` with `by`; the system's
//! cascades tell it themselves (`slot_cancelled` before a cancelled slot's bookings go, a
//! promotion as `waitlist_promoted`), and a deleted account is told nothing.

use pgrx::pg_sys;
use pgrx::prelude::*;

use super::{fire, held_slot, waitlist, Op, Outcome, TriggerResult};
use crate::errors::RuleResult;
use crate::identity::Actor;
use crate::plans::{self, Sql};
use crate::system;

// The parameters of a booking's event: recipient, kind, slot, booking, by (and the slot's times).
macro_rules! booking_event_args {
    ($($times:expr),*) => {
        &[
            pg_sys::UUIDOID,
            pg_sys::TEXTOID,
            pg_sys::UUIDOID,
            pg_sys::UUIDOID,
            pg_sys::TEXTOID,
            $($times),*
        ]
    };
}

static BOOKING_EVENT: Sql = Sql {
    text: "INSERT INTO gym_booking.events (recipient_id, kind, slot_id, booking_id, payload, created_at)
               SELECT $1, $2::gym_booking.event_kind, s.id, $4,
                      jsonb_build_object('start_at', s.start_at, 'end_at', s.end_at, 'by', $5::text),
                      statement_timestamp()
                 FROM gym_booking.slots AS s
                 JOIN gym_booking.users AS u ON u.id = $1 AND u.deleted_at IS NULL
                WHERE s.id = $3",
    args: booking_event_args!(),
};

// The same when the statement read the slot's times under its lock (`held_slot`): $6, $7.
static BOOKING_EVENT_AT: Sql = Sql {
    text: "INSERT INTO gym_booking.events (recipient_id, kind, slot_id, booking_id, payload, created_at)
               SELECT $1, $2::gym_booking.event_kind, $3, $4,
                      jsonb_build_object('start_at', $6, 'end_at', $7, 'by', $5::text),
                      statement_timestamp()
                 FROM gym_booking.users AS u
                WHERE u.id = $1 AND u.deleted_at IS NULL",
    args: booking_event_args!(pg_sys::TIMESTAMPTZOID, pg_sys::TIMESTAMPTZOID),
};

// The same for an athlete whose account the statement found active and holds (`held_slot`):
// nothing to look up.
static BOOKING_EVENT_HELD: Sql = Sql {
    text: "INSERT INTO gym_booking.events (recipient_id, kind, slot_id, booking_id, payload, created_at)
           VALUES ($1, $2::gym_booking.event_kind, $3, $4,
                   jsonb_build_object('start_at', $6, 'end_at', $7, 'by', $5::text),
                   statement_timestamp())",
    args: booking_event_args!(pg_sys::TIMESTAMPTZOID, pg_sys::TIMESTAMPTZOID),
};

// Everyone holding a place in the slot (before its cancellation takes them away, or after a
// change to it): one event each.
static SLOT_EVENT: Sql = Sql {
    text: "INSERT INTO gym_booking.events (recipient_id, kind, slot_id, booking_id, payload, created_at)
               SELECT b.user_id, $2::gym_booking.event_kind, s.id, b.id,
                      jsonb_build_object('start_at', s.start_at, 'end_at', s.end_at, 'by', $3::text)
                          || $4::jsonb,
                      statement_timestamp()
                 FROM gym_booking.slots AS s
                 JOIN gym_booking.bookings AS b ON b.slot_id = s.id AND b.status = 'reserved'
                 JOIN gym_booking.users AS u ON u.id = b.user_id AND u.deleted_at IS NULL
                WHERE s.id = $1
                ORDER BY b.user_id",
    args: &[
        pg_sys::UUIDOID,
        pg_sys::TEXTOID,
        pg_sys::TEXTOID,
        pg_sys::TEXTOID,
    ],
};

/// Who made a change, as its recipient is told: themselves, the slot's trainer, the gym, or
/// the system.
pub fn by(athlete: Option<pgrx::Uuid>, trainer: Option<pgrx::Uuid>) -> RuleResult<&'static str> {
    if system::active() {
        return Ok("system");
    }
    let actor = Actor::current()?;
    Ok(match actor.user_id {
        Some(id) if Some(id) == athlete => "athlete",
        Some(id) if Some(id) == trainer => "trainer",
        _ if actor.is_admin() || !actor.client => "admin",
        _ => "athlete",
    })
}

/// One event about a booking to its athlete (nothing to a deleted account).
pub fn booking_event(
    kind: &str,
    athlete: pgrx::Uuid,
    slot: pgrx::Uuid,
    booking: pgrx::Uuid,
    by: &str,
) -> RuleResult<()> {
    let mut args = vec![
        athlete.into(),
        kind.into(),
        slot.into(),
        booking.into(),
        by.into(),
    ];
    let sql = match held_slot::times(slot) {
        Some((start_at, end_at)) => {
            args.extend([start_at.into(), end_at.into()]);
            if held_slot::athlete_held_active(slot, athlete) {
                &BOOKING_EVENT_HELD
            } else {
                &BOOKING_EVENT_AT
            }
        }
        None => &BOOKING_EVENT,
    };
    plans::execute(sql, &args)?;
    Ok(())
}

/// One event to every athlete holding a place in the slot; `extra` is a JSON object merged
/// into each payload.
pub fn slot_event(slot: pgrx::Uuid, kind: &str, by: &str, extra: &str) -> RuleResult<()> {
    plans::execute(
        &SLOT_EVENT,
        &[slot.into(), kind.into(), by.into(), extra.into()],
    )?;
    Ok(())
}

/// AFTER INSERT OR UPDATE OF status on bookings, the waitlist's and the outbox's part of a
/// booking's change, in one trigger (a booking pays for one trigger call):
/// - a reserved booking ends its athlete's waiting for the slot (a promotion, or their own
///   booking; the UPDATE runs only when they waited);
/// - the athlete hears of their booking made, re-activated or cancelled by a person (the
///   system's own changes, cascades, completion, promotion, write their events themselves,
///   or none);
/// - a reserved booking's cancellation, by anyone, hands its place to the waitlist, under
///   the slot's lock the cancellation holds (`bookings::check_cancel`), after its event.
#[pg_trigger]
fn booking_events<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        let new = fired.new_row()?;
        let status = new.text("status")?;
        if fired.op == Op::Update && !fired.changed("status")? {
            return Ok(Outcome::Proceed);
        }
        let (athlete, slot) = (new.uuid("user_id")?, new.uuid("slot_id")?);
        if status.as_deref() == Some("reserved") {
            waitlist::end_own_entry(slot, athlete, new.uuid("id")?)?;
        }
        let kind = match (fired.op, status.as_deref()) {
            (_, Some("reserved")) => Some("booking_confirmed"),
            (Op::Update, Some("cancelled")) => Some("booking_cancelled"),
            _ => None,
        };
        if let (Some(kind), false) = (kind, system::active()) {
            let by = by(Some(athlete), new.get::<pgrx::Uuid>("trainer_id")?)?;
            booking_event(kind, athlete, slot, new.uuid("id")?, by)?;
        }
        if fired.op == Op::Update
            && status.as_deref() == Some("cancelled")
            && fired.old_row()?.text("status")?.as_deref() == Some("reserved")
        {
            waitlist::promote(slot)?;
        }
        Ok(Outcome::Proceed)
    })
}

/// AFTER UPDATE on slots, when its trainer or notes changed (its times cannot change while it
/// has bookings): every athlete holding a place hears of it.
#[pg_trigger]
fn slot_changed_events<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        let (old, new) = (fired.old_row()?, fired.new_row()?);
        if !new.is_null("cancelled_at")? {
            return Ok(Outcome::Proceed);
        }
        let mut changed = serde_json::Map::new();
        for column in ["trainer_id", "notes"] {
            if !new.same(old, column)? {
                changed.insert(
                    column.to_string(),
                    new.text(column)?
                        .map_or(serde_json::Value::Null, serde_json::Value::String),
                );
            }
        }
        if changed.is_empty() {
            return Ok(Outcome::Proceed);
        }
        let trainer = new.get::<pgrx::Uuid>("trainer_id")?;
        let by = by(None, trainer)?;
        let extra = serde_json::json!({ "changed": changed }).to_string();
        slot_event(new.uuid("id")?, "slot_changed", by, &extra)?;
        Ok(Outcome::Proceed)
    })
}

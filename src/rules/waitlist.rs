//! Waitlists: athletes wait for a place in a full slot, first come first served, and a place
//! that frees is booked for the earliest eligible of them in the same transaction, under the
//! same slot lock (DESIGN.md, "Waitlists").
//!
//! Locks, in the order of `lock_order`: the writer's users row, the slot (FOR UPDATE: joining,
//! promoting and booking take turns on it), then entries, then bookings. A promotion holds
//! the slot while it looks at each waiting athlete; it never queues for anything else: an entry
//! or an athlete's row another transaction holds (leaving, an account being changed or deleted)
//! is skipped, and so is an athlete whose booking limit another of their bookings is checking
//! right now. Skipped athletes keep their place in the queue.

use pgrx::pg_sys;
use pgrx::prelude::*;

use super::{fire, lock_order, Outcome, TriggerResult};
use crate::errors::{raise, RuleError, RuleResult};
use crate::identity::{self, Actor};
use crate::plans::{self, Sql};
use crate::rules::{attendance, bookings, events};
use crate::system::SystemChange;

/// What the studio's settings say about booking (or waiting for) one slot, now.
pub struct Terms {
    pub capacity: i16,
    pub cancelled: bool,
    pub started: bool,
    /// Booking opens at this studio time, later than now.
    pub opens_at: Option<String>,
    /// Booking closed at this studio time, not later than now.
    pub closed_at: Option<String>,
    pub max_upcoming: Option<i32>,
    pub before_cutoff: bool,
    pub waitlist_enabled: bool,
    pub waitlist_max: Option<i32>,
}

static TERMS: Sql = Sql {
    text: concat!(
        "SELECT s.capacity, s.cancelled_at IS NOT NULL, s.start_at <= statement_timestamp(),
                  CASE WHEN statement_timestamp() < o.opens
                       THEN to_char(o.opens AT TIME ZONE st.time_zone, 'YYYY-MM-DD HH24:MI')
                            || ' (' || st.time_zone || ')' END,
                  CASE WHEN st.booking_closes_before > interval '0'
                        AND statement_timestamp() >= o.closes
                       THEN to_char(o.closes AT TIME ZONE st.time_zone, 'YYYY-MM-DD HH24:MI')
                            || ' (' || st.time_zone || ')' END,
                  st.max_upcoming_bookings,
                  statement_timestamp() < o.cutoff,
                  st.waitlist_enabled, st.waitlist_max
             FROM gym_booking.slots AS s, gym_booking.studio_settings AS st,
                  LATERAL (SELECT ",
        studio_minus!("s.start_at", "st.booking_opens_before"),
        " AS opens, ",
        studio_minus!("s.start_at", "st.booking_closes_before"),
        " AS closes, ",
        studio_minus!(
            "s.start_at",
            "coalesce(st.waitlist_cutoff, st.cancellation_window)"
        ),
        " AS cutoff) AS o
            WHERE s.id = $1"
    ),
    args: &[pg_sys::UUIDOID],
};

/// The terms of `slot`, `None` when there is no such slot.
pub fn terms(slot: pgrx::Uuid) -> RuleResult<Option<Terms>> {
    plans::run(&TERMS, &[slot.into()], |t| {
        if t.is_empty() {
            return Ok(None);
        }
        let t = t.first();
        Ok(Some(Terms {
            capacity: t.get::<i16>(1)?.unwrap_or(0),
            cancelled: t.get::<bool>(2)? == Some(true),
            started: t.get::<bool>(3)? == Some(true),
            opens_at: t.get::<String>(4)?,
            closed_at: t.get::<String>(5)?,
            max_upcoming: t.get::<i32>(6)?,
            before_cutoff: t.get::<bool>(7)? == Some(true),
            waitlist_enabled: t.get::<bool>(8)? != Some(false),
            waitlist_max: t.get::<i32>(9)?,
        }))
    })
}

impl Terms {
    /// The booking window's refusal, if now is outside it.
    pub fn window(&self) -> RuleResult<()> {
        if let Some(at) = &self.opens_at {
            return Err(RuleError::NotOpenYet { at: at.clone() });
        }
        if let Some(at) = &self.closed_at {
            return Err(RuleError::Closed { at: at.clone() });
        }
        Ok(())
    }
}

// Eligible athletes waiting ahead of $2 (everyone waiting, when $2 is not) before the cutoff:
// those a promotion would book (see `TAKE_WAITER`: an active account that is no trainer's,
// under the studio's limit, not suspended; the window is the caller's to check). Run on the
// latest snapshot, with the slot locked. `$suspended`: the clause for suspensions (0.2.2).
macro_rules! held_for_waitlist {
    ($suspended:literal) => {
        concat!(
            "SELECT count(*)
               FROM gym_booking.waitlist_entries AS w
               JOIN gym_booking.users AS u
                 ON u.id = w.user_id AND u.deleted_at IS NULL AND u.role <> 'trainer',
                    gym_booking.studio_settings AS st
              WHERE w.slot_id = $1 AND w.state = 'waiting' AND w.user_id <> $2
                AND w.queue_no < coalesce((SELECT m.queue_no FROM gym_booking.waitlist_entries AS m
                                            WHERE m.slot_id = $1 AND m.user_id = $2
                                              AND m.state = 'waiting'),
                                          9223372036854775807)
                AND (st.max_upcoming_bookings IS NULL
                     OR (SELECT count(*) FROM gym_booking.bookings AS b
                           JOIN gym_booking.slots AS s ON s.id = b.slot_id
                          WHERE b.user_id = w.user_id AND b.status = 'reserved'
                            AND s.start_at > statement_timestamp()) < st.max_upcoming_bookings)",
            $suspended
        )
    };
}

static HELD_FOR_WAITLIST: Sql = Sql {
    text: held_for_waitlist!(
        "
                AND (st.no_show_strike_limit IS NULL
                     OR gym_booking.athlete_suspended_until(w.user_id) IS NULL)"
    ),
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID],
};

// The same for a database at 0.2.0 or 0.2.1 (no attendance: nobody is suspended).
static HELD_FOR_WAITLIST_021: Sql = Sql {
    text: held_for_waitlist!(""),
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID],
};

// What the booking rule needs to know of a slot's places, in one small statement on the
// latest snapshot with the slot locked: places taken, athletes waiting for it, and whether $2
// is one of them. (Who of them a free place is held for, `HELD_FOR_WAITLIST`, is asked only
// when someone waits: its plan is large, and most slots have nobody waiting.)
static PLACES: Sql = Sql {
    text: "SELECT (SELECT count(*) FROM gym_booking.bookings WHERE slot_id = $1 AND status = 'reserved'),
                  w.waiting, w.athlete_waits
             FROM (SELECT count(*) AS waiting, count(*) FILTER (WHERE user_id = $2) AS athlete_waits
                     FROM gym_booking.waitlist_entries WHERE slot_id = $1 AND state = 'waiting') AS w",
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID],
};

/// A slot's places as the booking rule sees them with the slot locked.
pub struct Places {
    pub reserved: i64,
    /// Athletes waiting for the slot (the booker among them or not).
    pub waiting: i64,
    /// Whether the booker is waiting for the slot.
    pub athlete_waits: bool,
}

/// The places of `slot` for a booking of `athlete` (latest snapshot). Remembers for this
/// statement whether the athlete waits, so that the booking's AFTER trigger ends their entry
/// only when there is one (`end_own_entry`).
pub fn places(slot: pgrx::Uuid, athlete: pgrx::Uuid) -> RuleResult<Places> {
    let rows = plans::latest(&PLACES, &[slot, athlete], 1)?;
    let number = |i: usize| -> RuleResult<i64> {
        rows.first()
            .and_then(|r| r.get(i))
            .cloned()
            .flatten()
            .ok_or_else(|| RuleError::Internal(format!("{} returned no row", PLACES.text)))?
            .parse::<i64>()
            .map_err(|e| RuleError::Internal(e.to_string()))
    };
    let places = Places {
        reserved: number(0)?,
        waiting: number(1)?,
        athlete_waits: number(2)? > 0,
    };
    NOT_WAITING.with(|n| {
        n.set((!places.athlete_waits).then(|| (crate::memo::Epoch::now(), slot, athlete)))
    });
    Ok(places)
}

thread_local! {
    /// (statement, slot, athlete): the booking rule found, with the slot locked, that the
    /// athlete is not waiting for the slot. No entry of a slot another transaction holds can
    /// be written (joining locks the slot; any insert's foreign-key check waits for it), so
    /// it stays true until the booking's AFTER trigger, in the same statement, reads it.
    static NOT_WAITING: std::cell::Cell<Option<(crate::memo::Epoch, pgrx::Uuid, pgrx::Uuid)>> =
        const { std::cell::Cell::new(None) };
}

/// How many of the slot's free places eligible athletes waiting ahead of `athlete` hold.
pub fn held_for_waitlist(slot: pgrx::Uuid, athlete: pgrx::Uuid) -> RuleResult<i64> {
    let sql = if attendance::installed() {
        &HELD_FOR_WAITLIST
    } else {
        &HELD_FOR_WAITLIST_021
    };
    plans::latest_i64(sql, &[slot, athlete])
}

static ANY_WAITING: Sql = Sql {
    text: "SELECT count(*) FROM (SELECT FROM gym_booking.waitlist_entries
                                  WHERE slot_id = $1 AND state = 'waiting' LIMIT 1) AS w",
    args: &[pg_sys::UUIDOID],
};

static WAITING_IN_ORDER: Sql = Sql {
    text: "SELECT id, user_id FROM gym_booking.waitlist_entries
            WHERE slot_id = $1 AND state = 'waiting' ORDER BY queue_no",
    args: &[pg_sys::UUIDOID],
};

// The entry and its athlete's row, only when nobody else holds them (and the entry still waits).
static TAKE_WAITER: Sql = Sql {
    text: "SELECT u.id
             FROM gym_booking.waitlist_entries AS w
             JOIN gym_booking.users AS u ON u.id = w.user_id
            WHERE w.id = $1 AND w.state = 'waiting' AND u.deleted_at IS NULL
              AND u.role <> 'trainer'
              FOR UPDATE OF w SKIP LOCKED FOR SHARE OF u SKIP LOCKED",
    args: &[pg_sys::UUIDOID],
};

// Books the athlete, or brings back their cancelled booking of the slot. (Their own entry ends
// as promoted by the bookings' trigger `booking_ends_waiting`.)
static BOOK_WAITER: Sql = Sql {
    text: "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ($1, $2)
           ON CONFLICT ON CONSTRAINT bookings_slot_user_key
           DO UPDATE SET status = 'reserved' WHERE bookings.status = 'cancelled'
           RETURNING id",
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID],
};

static RESERVED_IN_SLOT: &Sql = &bookings::RESERVED_IN_SLOT;

/// A uuid as `plans::latest` returns it (its text).
fn uuid(text: &Option<String>) -> RuleResult<pgrx::Uuid> {
    let hex: String = text
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter(|c| *c != '-')
        .collect();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .filter_map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect();
    pgrx::Uuid::from_slice(&bytes).map_err(RuleError::Internal)
}

thread_local! {
    /// The (slot, athlete) a promotion is booking right now: the booking rule lets it take the
    /// place the waitlist holds, and checks it as the athlete's own booking otherwise.
    static PROMOTING: std::cell::Cell<Option<(pgrx::Uuid, pgrx::Uuid)>> =
        const { std::cell::Cell::new(None) };
}

/// Whether a promotion is being made now (its writes name nobody: see the audit log).
pub fn in_promotion() -> bool {
    PROMOTING.with(|p| p.get()).is_some()
}

/// Whether the booking of `athlete` in `slot` being made now is a promotion.
pub fn promoting(slot: pgrx::Uuid, athlete: pgrx::Uuid) -> bool {
    PROMOTING.with(|p| p.get()) == Some((slot, athlete))
}

struct Promoting;

impl Promoting {
    fn begin(slot: pgrx::Uuid, athlete: pgrx::Uuid) -> Promoting {
        PROMOTING.with(|p| p.set(Some((slot, athlete))));
        Promoting
    }
}

impl Drop for Promoting {
    fn drop(&mut self) {
        PROMOTING.with(|p| p.set(None));
    }
}

/// Books the earliest eligible waiting athletes into the free places of `slot`, which the
/// caller holds locked; returns how many were booked.
pub fn promote(slot: pgrx::Uuid) -> RuleResult<i32> {
    // Entries are read on the latest committed state: under REPEATABLE READ an athlete who
    // joined after this transaction's snapshot (holding the slot before us) waits too.
    if plans::latest_i64(&ANY_WAITING, &[slot])? != 1 {
        return Ok(0);
    }
    let Some(terms) = terms(slot)? else {
        return Ok(0);
    };
    if terms.cancelled || terms.started || !terms.before_cutoff || terms.window().is_err() {
        return Ok(0);
    }
    let mut free = i64::from(terms.capacity) - plans::latest_i64(RESERVED_IN_SLOT, &[slot])?;
    if free <= 0 {
        return Ok(0);
    }
    let mut waiting = Vec::new();
    for row in plans::latest(&WAITING_IN_ORDER, &[slot], 0)? {
        waiting.push((uuid(&row[0])?, uuid(&row[1])?));
    }
    let mut promoted = 0;
    for (entry, athlete) in waiting {
        if free <= 0 {
            break;
        }
        if plans::latest(&TAKE_WAITER, &[entry], 1)?.is_empty() {
            continue; // Someone else holds the entry or the account, or it is gone: skipped.
        }
        // A suspended athlete keeps their place in the queue (we hold their row FOR SHARE).
        if attendance::suspended(athlete)? {
            continue;
        }
        if let Some(limit) = terms.max_upcoming {
            if !bookings::try_lock_athlete_limit(athlete)?
                || bookings::upcoming_of(athlete)? >= i64::from(limit)
            {
                continue;
            }
        }
        let booking = {
            let _system = SystemChange::begin();
            let _promoting = Promoting::begin(slot, athlete);
            plans::one::<pgrx::Uuid>(&BOOK_WAITER, &[slot.into(), athlete.into()])?
        };
        if let Some(booking) = booking {
            events::booking_event("waitlist_promoted", athlete, slot, booking, "system")?;
            promoted += 1;
            free -= 1;
        }
    }
    Ok(promoted)
}

// ---- the API's writes ----------------------------------------------------------------------

static LOCK_SLOT: Sql = Sql {
    text: "SELECT FROM gym_booking.slots WHERE id = $1 FOR UPDATE",
    args: &[pg_sys::UUIDOID],
};

static HOLDS_PLACE: Sql = Sql {
    text: "SELECT count(*) FROM gym_booking.bookings
            WHERE slot_id = $1 AND user_id = $2 AND status = 'reserved'",
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID],
};

static OWN_ENTRY: Sql = Sql {
    text: "SELECT id FROM gym_booking.waitlist_entries
            WHERE slot_id = $1 AND user_id = $2 AND state = 'waiting'",
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID],
};

static WAITING_COUNT: Sql = Sql {
    text:
        "SELECT count(*) FROM gym_booking.waitlist_entries WHERE slot_id = $1 AND state = 'waiting'",
    args: &[pg_sys::UUIDOID],
};

static JOIN: Sql = Sql {
    text: "INSERT INTO gym_booking.waitlist_entries (slot_id, user_id, trainer_id, joined_at)
           SELECT s.id, $2, s.trainer_id, statement_timestamp() FROM gym_booking.slots AS s
            WHERE s.id = $1
           RETURNING id",
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID],
};

static LEAVE: Sql = Sql {
    text: "UPDATE gym_booking.waitlist_entries SET state = 'left', ended_at = statement_timestamp()
            WHERE slot_id = $1 AND user_id = $2 AND state = 'waiting'
           RETURNING id",
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID],
};

/// The caller, who must be signed in with an active account.
fn athlete(action: &str) -> RuleResult<pgrx::Uuid> {
    let actor = Actor::current()?;
    // No token, or one naming no account: not signed in (as book_slot answers it).
    let (Some(me), Some(_)) = (identity::claimed_user_id()?, actor.user_id) else {
        return Err(RuleError::not_allowed(format!("sign in to {action}")));
    };
    if !actor.active {
        return Err(RuleError::NotBookable {
            reason: "the athlete's account has been deleted",
        });
    }
    // As row-level security refuses a trainer's booking (they teach classes, not take them).
    if actor.role.as_deref() == Some("trainer") {
        return Err(RuleError::not_allowed("trainers do not join waitlists"));
    }
    Ok(me)
}

static ACTIVE: Sql = Sql {
    text: "SELECT count(*) FROM gym_booking.users WHERE id = $1 AND deleted_at IS NULL",
    args: &[pg_sys::UUIDOID],
};

fn join(slot: pgrx::Uuid) -> RuleResult<pgrx::Uuid> {
    let me = athlete("join a waitlist")?;
    // The caller's row first (an account deletion in flight holds it), then read under it.
    lock_order::lock_writer()?;
    if plans::latest_i64(&ACTIVE, &[me])? != 1 {
        return Err(RuleError::NotBookable {
            reason: "the athlete's account has been deleted",
        });
    }
    if plans::execute(&LOCK_SLOT, &[slot.into()])? == 0 {
        return Err(RuleError::NotFound {
            what: format!("slot {slot}"),
        });
    }
    let terms = terms(slot)?.ok_or_else(|| RuleError::NotFound {
        what: format!("slot {slot}"),
    })?;
    if terms.cancelled {
        return Err(RuleError::NotBookable {
            reason: "it has been cancelled",
        });
    }
    if terms.started {
        return Err(RuleError::NotBookable {
            reason: "it has already started",
        });
    }
    if !terms.waitlist_enabled {
        return Err(RuleError::Unsupported {
            message: "this studio has no waitlists".into(),
        });
    }
    if !terms.before_cutoff {
        return Err(RuleError::NotBookable {
            reason: "its waitlist has closed",
        });
    }
    terms.window()?;
    attendance::refuse_if_suspended(me)?;
    if let Some(row) = plans::latest(&OWN_ENTRY, &[slot, me], 1)?.first() {
        return uuid(&row[0]); // Joining twice is joining once.
    }
    if plans::latest_i64(&HOLDS_PLACE, &[slot, me])? > 0 {
        return Err(RuleError::invalid("you already hold a place in this slot"));
    }
    let free = i64::from(terms.capacity) - plans::latest_i64(RESERVED_IN_SLOT, &[slot])?;
    if free > held_for_waitlist(slot, me)? {
        return Err(RuleError::InvalidInput {
            message: "this slot has a free place".into(),
            detail: None,
            hint: Some("Book it with gym_booking.book_slot()."),
        });
    }
    if let Some(max) = terms.waitlist_max {
        if plans::latest_i64(&WAITING_COUNT, &[slot])? >= i64::from(max) {
            return Err(RuleError::WaitlistFull { max });
        }
    }
    plans::one::<pgrx::Uuid>(&JOIN, &[slot.into(), me.into()])?
        .ok_or_else(|| RuleError::Internal("the waitlist entry was not made".into()))
}

fn leave(slot: pgrx::Uuid) -> RuleResult<pgrx::Uuid> {
    let Some(me) = identity::claimed_user_id()? else {
        return Err(RuleError::not_allowed("sign in to leave a waitlist"));
    };
    lock_order::lock_writer()?;
    match plans::latest(&LEAVE, &[slot, me], 0)?.first() {
        Some(row) => uuid(&row[0]),
        None => Err(RuleError::NotFound {
            what: format!("your place on the waitlist of slot {slot}"),
        }),
    }
}

/// The caller joins the waitlist of a full slot; returns the entry's id. (The API's
/// `join_waitlist` returns the entry itself.)
#[pg_extern(volatile, strict, parallel_unsafe)]
fn waitlist_join(slot_id: pgrx::Uuid) -> pgrx::Uuid {
    crate::errors::refuse_if_read_only(c"join_waitlist()");
    join(slot_id).unwrap_or_else(|e| raise(e))
}

/// The caller leaves the waitlist of a slot; returns the entry's id.
#[pg_extern(volatile, strict, parallel_unsafe)]
fn waitlist_leave(slot_id: pgrx::Uuid) -> pgrx::Uuid {
    crate::errors::refuse_if_read_only(c"leave_waitlist()");
    leave(slot_id).unwrap_or_else(|e| raise(e))
}

// ---- the system's sweeps -------------------------------------------------------------------

// Upcoming slots, not cancelled, with someone waiting and a free place (their ids), locked one
// at a time by the sweep; one busy with another transaction is left for the next sweep.
static SLOTS_TO_PROMOTE: Sql = Sql {
    text: "SELECT s.id FROM gym_booking.slots AS s
            WHERE s.id IN (SELECT w.slot_id FROM gym_booking.waitlist_entries AS w
                            WHERE w.state = 'waiting')
              AND s.cancelled_at IS NULL AND s.start_at > statement_timestamp()
              AND s.capacity > (SELECT count(*) FROM gym_booking.bookings AS b
                                 WHERE b.slot_id = s.id AND b.status = 'reserved')
            ORDER BY s.start_at, s.id",
    args: &[],
};

static TRY_LOCK_SLOT: Sql = Sql {
    text: "SELECT FROM gym_booking.slots WHERE id = $1 FOR UPDATE SKIP LOCKED",
    args: &[pg_sys::UUIDOID],
};

// Waiting entries that wait no more (`$which`: which ones), each with a `waitlist_expired`
// event.
macro_rules! expire_entries {
    ($which:literal) => {
        concat!(
            "WITH ended AS (
                 UPDATE gym_booking.waitlist_entries AS w
                    SET state = 'expired', ended_at = statement_timestamp()
                   FROM gym_booking.slots AS s
                  WHERE w.state = 'waiting' AND s.id = w.slot_id AND ",
            $which,
            "
                 RETURNING w.user_id, w.slot_id, s.start_at, s.end_at),
             e AS (
                 INSERT INTO gym_booking.events (recipient_id, kind, slot_id, payload, created_at)
                 SELECT ended.user_id, 'waitlist_expired', ended.slot_id,
                        jsonb_build_object('start_at', ended.start_at, 'end_at', ended.end_at),
                        statement_timestamp()
                   FROM ended
                 RETURNING recipient_id)
             SELECT count(*) FROM e"
        )
    };
}

// Entries of slots that have started (or were cancelled).
static EXPIRE_STARTED: Sql = Sql {
    text: expire_entries!("(s.start_at <= statement_timestamp() OR s.cancelled_at IS NOT NULL)"),
    args: &[],
};

// The entries of one slot (just cancelled).
static EXPIRE_SLOT: Sql = Sql {
    text: expire_entries!("w.slot_id = $1"),
    args: &[pg_sys::UUIDOID],
};

/// The waiting entries of a slot just cancelled expire, each with an event.
pub fn expire_slot(slot: pgrx::Uuid) -> RuleResult<()> {
    plans::latest(&EXPIRE_SLOT, &[slot], 0)?;
    Ok(())
}

fn only_the_gym(what: &str) -> RuleResult<()> {
    if !Actor::current()?.is_privileged() {
        return Err(RuleError::NotAllowed {
            message: format!("only the gym {what}"),
            hint: Some("Run it as service_role, an app admin, or from the background worker."),
        });
    }
    Ok(())
}

pub fn promote_all() -> RuleResult<i32> {
    only_the_gym("runs the waitlist sweep")?;
    let slots = plans::run(&SLOTS_TO_PROMOTE, &[], |t| {
        let mut ids = Vec::new();
        for row in t {
            if let Some(id) = row.get::<pgrx::Uuid>(1)? {
                ids.push(id);
            }
        }
        Ok(ids)
    })?;
    let mut promoted = 0;
    for slot in slots {
        if plans::execute(&TRY_LOCK_SLOT, &[slot.into()])? == 1 {
            promoted += promote(slot)?;
        }
    }
    Ok(promoted)
}

pub fn expire_all() -> RuleResult<i64> {
    only_the_gym("expires waitlists")?;
    let _system = SystemChange::begin();
    Ok(plans::one::<i64>(&EXPIRE_STARTED, &[])?.unwrap_or(0))
}

/// Books waiting athletes wherever a place is free and they may book it (normally done in the
/// transaction that frees the place; this sweep catches athletes skipped then). Returns how
/// many were booked. The gym's (service_role, an app admin) and the background worker's.
#[pg_extern(volatile, parallel_unsafe)]
fn promote_waitlists() -> i32 {
    crate::errors::refuse_if_read_only(c"promote_waitlists()");
    promote_all().unwrap_or_else(|e| raise(e))
}

/// Ends the waiting entries of slots that have started (each athlete gets a `waitlist_expired`
/// event); returns how many. The gym's and the background worker's.
#[pg_extern(volatile, parallel_unsafe)]
fn expire_waitlists() -> i64 {
    crate::errors::refuse_if_read_only(c"expire_waitlists()");
    expire_all().unwrap_or_else(|e| raise(e))
}

// ---- triggers ------------------------------------------------------------------------------

static END_OWN_ENTRY: Sql = Sql {
    text: "UPDATE gym_booking.waitlist_entries
              SET state = 'promoted', ended_at = statement_timestamp(), booking_id = $3
            WHERE slot_id = $1 AND user_id = $2 AND state = 'waiting'
           RETURNING id",
    args: &[pg_sys::UUIDOID, pg_sys::UUIDOID, pg_sys::UUIDOID],
};

/// A reserved booking ends its athlete's waiting for the slot (a promotion, or their own
/// booking), unless the booking rule found in this statement that they were not waiting.
pub fn end_own_entry(slot: pgrx::Uuid, athlete: pgrx::Uuid, booking: pgrx::Uuid) -> RuleResult<()> {
    let known_not_waiting = NOT_WAITING.with(|n| {
        n.get() == Some((crate::memo::Epoch::now(), slot, athlete)) && {
            n.set(None);
            true
        }
    });
    if !known_not_waiting {
        plans::latest(&END_OWN_ENTRY, &[slot, athlete, booking], 0)?;
    }
    Ok(())
}

/// The trigger of release 0.2.0 (`booking_waitlist_end_tg`), kept for a database not yet
/// updated from it: from 0.2.1 `events::booking_events` ends the entry. AFTER INSERT OR UPDATE
/// OF status on bookings, when the booking is reserved.
#[pg_trigger]
fn booking_ends_waiting<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        let new = fired.new_row()?;
        end_own_entry(new.uuid("slot_id")?, new.uuid("user_id")?, new.uuid("id")?)?;
        Ok(Outcome::Proceed)
    })
}

/// The trigger of release 0.2.0 (`booking_waitlist_promote_tg`), kept for a database not yet
/// updated from it: from 0.2.1 `events::booking_events` hands the place on. AFTER UPDATE OF
/// status on bookings, when a reserved booking was cancelled: its place goes to the waitlist
/// (the cancellation holds the slot: `bookings::check_cancel`).
#[pg_trigger]
fn booking_frees_place<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        promote(fired.new_row()?.uuid("slot_id")?)?;
        Ok(Outcome::Proceed)
    })
}

/// AFTER UPDATE OF capacity on slots, when it grew: the new places go to the waitlist (this
/// UPDATE holds the slot).
#[pg_trigger]
fn slot_grows<'a>(trigger: &'a PgTrigger<'a>) -> TriggerResult<'a> {
    fire(trigger, |fired| {
        promote(fired.new_row()?.uuid("id")?)?;
        Ok(Outcome::Proceed)
    })
}

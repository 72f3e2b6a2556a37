//! Nobody raises their own privileges (DESIGN.md, "Identity and row-level security"): each
//! hardening point attempted directly on the tables and, where one exists, through the API,
//! each attempt ONE PostgREST-style request; then forged and malformed JWT claims.
//!
//! Same seed and runner as the access matrix (`gym_booking_integration::access`), plus a
//! deleted admin (DEL). Every refused or hidden attempt must leave every table exactly as
//! seeded; a refusal must carry the documented SQLSTATE (42501 for grants, policies and the
//! rules' permission checks; 22P02 for unreadable claims), never XX000.
//!
//! Release 0.2.0 (docs/studio-week.md): nobody but an app admin (or the DBA) changes the
//! studio's settings, and nobody rewrites their record; nobody writes waitlist entries or
//! events but the API and the rules (not an admin, not `service_role`, which claims and
//! acknowledges events only through `claim_events` / `ack_events`); nobody jumps a queue,
//! promotes themselves, or reads someone else's entries or events.
//!
//! Release 0.2.1 (README, "Timetables"): nobody writes or truncates series but the API, nobody
//! points a slot at a series or moves an occurrence to another series or date, and only a
//! series' trainer and the gym edit or cancel it.
//!
//! Release 0.2.2 (DESIGN.md, "Attendance"): nobody marks but a slot's trainer and the gym,
//! nobody excuses but the gym, nobody writes, deletes or truncates a mark or moves the sweep's
//! watermark but the API, and a trainer reads the roster and figures of their own slots only.

use gym_booking_integration::access::{self, caller, run_all, Case, Expect, Fixture, GHOST};
use gym_booking_integration::Caller;
use serde_json::json;

use Expect::{Refused, RefusedAny, Rows, Writes};

/// Release 0.2.0: settings, waitlists, events.
#[path = "escalation/studio.rs"]
mod studio;

/// Release 0.2.1: series and their occurrences.
#[path = "escalation/timetable.rs"]
mod timetable;

/// The catalog behind every refusal (not a request).
#[path = "escalation/catalog.rs"]
mod catalog;

/// Release 0.2.2: attendance marks, excuses, the sweep, rosters and reports.
#[path = "escalation/attendance.rs"]
mod attendance;

const DENIED: Expect = Refused("42501");
const NOTHING: Expect = Rows(&[]);
const BAD_CLAIMS: Expect = Refused("22P02");

const SLOTS: &str = "slots";
const BOOKINGS: &str = "bookings";
const LOGS: &str = "activity_logs";
const EVENTS: &str = "events";

/// An admin whose account was deleted: the row stays (anonymized, role still admin).
const DELETED_ADMIN: &str = "00000000-0000-4000-8000-000000000006";

/// A trainer whose account was deleted, with a slot that had a booking of B (DT1) and one
/// that had none (DT2): the deletion cancelled both and the booking.
const DELETED_TRAINER: &str = "00000000-0000-4000-8000-000000000007";

const EXTRA_SEED: &str = "
INSERT INTO gym_booking.users (id, email, password_hash, first_name, role, contact_email) VALUES
    ({DEL}, 'old.admin@gym.test', '$2a$10$seedhash.DEL', 'Olga', 'admin', NULL),
    ({DT}, 'old.trainer@gym.test', '$2a$10$seedhash.DT', 'Otto', 'trainer', 'otto@gym.test');
INSERT INTO gym_booking.slots (id, trainer_id, start_at) VALUES
    ({DT1}, {DT}, date_trunc('hour', now()) + interval '4 days'),
    ({DT2}, {DT}, date_trunc('hour', now()) + interval '5 days');
INSERT INTO gym_booking.bookings (id, slot_id, user_id) VALUES ({B@DT1}, {DT1}, {B});
UPDATE gym_booking.users SET deleted_at = now() WHERE id IN ({DEL}, {DT});
";

/// A request and what it must do.
struct Attempt {
    who: &'static str,
    raw_claims: Option<&'static str>,
    method: &'static str,
    path: &'static str,
    sql: &'static str,
    expect: Expect,
}

fn by(
    who: &'static str,
    method: &'static str,
    path: &'static str,
    sql: &'static str,
    expect: Expect,
) -> Attempt {
    Attempt {
        who,
        raw_claims: None,
        method,
        path,
        sql,
        expect,
    }
}

/// The callers of this file, by name.
fn caller_named(name: &str) -> Caller {
    let sub =
        |s: serde_json::Value| caller("authenticated", json!({"sub": s, "role": "authenticated"}));
    match name {
        "anon" => access::anon(),
        "SRV" => access::service(),
        "A" | "B" | "T" | "U" | "ADM" => access::person(name),
        // role authenticated, but the claims say service_role
        "A+srv-claim" => caller(
            "authenticated",
            json!({"sub": access::id("A"), "role": "service_role"}),
        ),
        "srv-claim-no-sub" => caller("authenticated", json!({"role": "service_role"})),
        // admin written where a user can edit it (user_metadata) or where the app might
        // look (app_metadata, a custom claim): none of it is the app role
        "A+admin-metadata" => caller(
            "authenticated",
            json!({"sub": access::id("A"), "role": "authenticated",
                   "user_metadata": {"role": "admin"}, "app_metadata": {"role": "admin"},
                   "user_role": "admin"}),
        ),
        "anon+sub" => caller("anon", json!({"sub": access::id("A"), "role": "anon"})),
        "sub-not-uuid" => sub(json!("not-a-uuid")),
        "sub-number" => sub(json!(42)),
        "sub-injection" => sub(json!("' OR true --")),
        "sub-empty" => sub(json!("")),
        "sub-null" => sub(json!(null)),
        "ghost" => sub(json!(GHOST)),
        "deleted-admin" => sub(json!(DELETED_ADMIN)),
        "deleted-trainer" => sub(json!(DELETED_TRAINER)),
        // claims that are not JSON: the raw text replaces them in the request
        "claims-not-json" | "claims-truncated" => Caller::new("authenticated", None),
        other => panic!("no caller {other}"),
    }
}

fn raw(
    who: &'static str,
    text: &'static str,
    method: &'static str,
    path: &'static str,
    sql: &'static str,
    expect: Expect,
) -> Attempt {
    Attempt {
        who,
        raw_claims: Some(text),
        method,
        path,
        sql,
        expect,
    }
}

/// An athlete's and a trainer's own row, someone else's, new accounts.
fn identity() -> Vec<Attempt> {
    vec![
        by("A", "PATCH", "/users?id=eq.A", "UPDATE gym_booking.users SET role = 'admin' WHERE id = {A} RETURNING id::text", DENIED),
        by("A", "PATCH", "/users?id=eq.A",
            "UPDATE gym_booking.users SET role = 'trainer', contact_email = 'anna@gym.test' WHERE id = {A} RETURNING id::text", DENIED),
        by("A", "PATCH", "/users?id=eq.A", "UPDATE gym_booking.users SET email = 'anna.new@gym.test' WHERE id = {A} RETURNING id::text", DENIED),
        // not even granted (only service_role may set it)
        by("A", "PATCH", "/users?id=eq.A", "UPDATE gym_booking.users SET password_hash = 'x' WHERE id = {A} RETURNING id::text", DENIED),
        by("A", "PATCH", "/users?id=eq.A", "UPDATE gym_booking.users SET deleted_at = now() WHERE id = {A} RETURNING id::text", DENIED),
        by("A", "PATCH", "/users?id=eq.A", "UPDATE gym_booking.users SET is_anonymous = true WHERE id = {A} RETURNING id::text", DENIED),
        by("A", "PATCH", "/users?id=eq.A",
            "UPDATE gym_booking.users SET deleted_at = now(), is_anonymous = true WHERE id = {A} RETURNING id::text", DENIED),
        by("A", "PATCH", "/users?id=eq.A", "UPDATE gym_booking.users SET id = gen_random_uuid() WHERE id = {A} RETURNING id::text", DENIED),
        by("A", "PATCH", "/users?id=eq.A",
            "UPDATE gym_booking.users SET created_at = now() - interval '1 year' WHERE id = {A} RETURNING id::text", DENIED),
        by("A", "PATCH", "/users?id=eq.A", "UPDATE gym_booking.users SET updated_at = now() - interval '1 year' WHERE id = {A} RETURNING id::text", DENIED),
        // the gym sets a password; the log says only that it changed (a new hash must not
        // reach activity_logs: the runner looks for it in every log row)
        by("SRV", "PATCH", "/users?id=eq.A",
            "UPDATE gym_booking.users SET password_hash = '$2a$10$seedhash.new' WHERE id = {A} RETURNING id::text",
            Writes(&["A"], &["users", LOGS])),
        // refusals of the gym's own writes: the error (DETAIL "Failing row contains ...")
        // must not carry a stored password hash (the runner looks at every error's text).
        // PostgreSQL does echo the values a caller itself supplies, so the new rows here
        // carry hashes without the seed's mark.
        by("SRV", "PATCH", "/users?id=eq.A", "UPDATE gym_booking.users SET role = 'trainer' WHERE id = {A} RETURNING id::text", Refused("23514")),
        by("ADM", "PATCH", "/users?id=eq.A", "UPDATE gym_booking.users SET role = 'trainer' WHERE id = {A} RETURNING id::text", Refused("23514")),
        by("SRV", "PATCH", "/users?id=eq.A", "UPDATE gym_booking.users SET email = 'ben@gym.test' WHERE id = {A} RETURNING id::text", Refused("23505")),
        by("SRV", "POST", "/users",
            "INSERT INTO gym_booking.users (id, email, password_hash, first_name) VALUES ({A}, 'x@gym.test', '$2a$10$new.x', 'X') RETURNING id::text",
            Refused("23505")),
        by("SRV", "POST", "/users",
            "INSERT INTO gym_booking.users (email, password_hash, first_name, role) VALUES ('t2@gym.test', '$2a$10$new.y', 'Y', 'trainer') RETURNING id::text",
            Refused("23514")),
        by("ADM", "POST", "/users",
            "INSERT INTO gym_booking.users (email, password_hash, first_name, role) VALUES ('t2@gym.test', '$2a$10$new.y', 'Y', 'trainer') RETURNING id::text",
            Refused("23514")),
        // someone else's row is not even visible
        by("A", "PATCH", "/users?id=eq.B", "UPDATE gym_booking.users SET role = 'admin' WHERE id = {B} RETURNING id::text", NOTHING),
        by("A", "PATCH", "/users?id=eq.ADM", "UPDATE gym_booking.users SET first_name = 'Pwned' WHERE id = {ADM} RETURNING id::text", NOTHING),
        by("T", "PATCH", "/users?id=eq.T", "UPDATE gym_booking.users SET role = 'admin' WHERE id = {T} RETURNING id::text", DENIED),
        by("T", "PATCH", "/users?id=eq.T", "UPDATE gym_booking.users SET email = 'tom@evil.test' WHERE id = {T} RETURNING id::text", DENIED),
        by("T", "PATCH", "/users?id=eq.A", "UPDATE gym_booking.users SET role = 'trainer', contact_email = 'x@gym.test' WHERE id = {A} RETURNING id::text", NOTHING),
        // a new account, as admin or at all: only the gym creates accounts
        by("A", "POST", "/users",
            "INSERT INTO gym_booking.users (email, password_hash, first_name, role)
             VALUES ('evil@gym.test', 'x', 'Evil', 'admin') RETURNING id::text", DENIED),
        by("ghost", "POST", "/users",
            "INSERT INTO gym_booking.users (id, email, password_hash, first_name)
             VALUES ('00000000-0000-4000-8000-00000000dead', 'ghost@gym.test', 'x', 'Ghost') RETURNING id::text", DENIED),
        // DBA functions and trigger functions are not callable
        by("A", "POST", "/rpc/enable_supabase_auth_sync", "SELECT gym_booking.enable_supabase_auth_sync()", DENIED),
        by("ADM", "POST", "/rpc/enable_supabase_auth_sync", "SELECT gym_booking.enable_supabase_auth_sync()", DENIED),
        by("SRV", "POST", "/rpc/enable_supabase_auth_sync", "SELECT gym_booking.enable_supabase_auth_sync()", DENIED),
        // (PostgreSQL refuses a trigger function outside a trigger before it checks EXECUTE.)
        by("A", "POST", "/rpc/users_soft_delete", "SELECT gym_booking.users_soft_delete()", RefusedAny(&["42501", "0A000"])),
    ]
}

fn bookings() -> Vec<Attempt> {
    vec![
        // for someone else (the API books for the caller only: see the access matrix)
        by("A", "POST", "/bookings", "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ({T3}, {B}) RETURNING id::text", DENIED),
        by("T", "POST", "/bookings", "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ({T3}, {A}) RETURNING id::text", DENIED),
        // ... whatever the slot: "not allowed" comes before what the rules say about the slot
        by("A", "POST", "/bookings", "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ({PAST}, {B}) RETURNING id::text", DENIED),
        by("A", "POST", "/bookings", "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ({T3}, {DEL}) RETURNING id::text", DENIED),
        // born completed, or with the system's marks: refused, or the marks are not taken
        by("A", "POST", "/bookings",
            "INSERT INTO gym_booking.bookings (slot_id, user_id, status) VALUES ({T3}, {A}, 'completed') RETURNING id::text",
            Refused("22023")),
        by("A", "POST", "/bookings",
            "INSERT INTO gym_booking.bookings (slot_id, user_id, auto_processed, status_changed_at)
             VALUES ({T3}, {A}, true, now() - interval '1 year')
             RETURNING user_id::text || '@' || slot_id::text || ' ' || auto_processed
                       || ' ' || (status_changed_at > now() - interval '1 minute')",
            Writes(&["A@T3 false true"], &[BOOKINGS, LOGS, EVENTS])),
        // moving a booking: slot_id and user_id are not granted, to anyone
        by("A", "PATCH", "/bookings?id=eq.A@T1", "UPDATE gym_booking.bookings SET slot_id = {T3} WHERE id = {A@T1} RETURNING id::text", DENIED),
        by("A", "PATCH", "/bookings?id=eq.A@T1", "UPDATE gym_booking.bookings SET user_id = {B} WHERE id = {A@T1} RETURNING id::text", DENIED),
        by("ADM", "PATCH", "/bookings?id=eq.A@T1", "UPDATE gym_booking.bookings SET slot_id = {T3} WHERE id = {A@T1} RETURNING id::text", DENIED),
        by("SRV", "PATCH", "/bookings?id=eq.A@T1", "UPDATE gym_booking.bookings SET user_id = {B} WHERE id = {A@T1} RETURNING id::text", DENIED),
        by("A", "PATCH", "/bookings?id=eq.A@T1", "UPDATE gym_booking.bookings SET auto_processed = true WHERE id = {A@T1} RETURNING id::text", DENIED),
        by("A", "PATCH", "/bookings?id=eq.A@T1",
            "UPDATE gym_booking.bookings SET status_changed_at = now() - interval '1 year' WHERE id = {A@T1} RETURNING id::text", DENIED),
        // completing: only the gym, once the slot has ended
        by("A", "PATCH", "/bookings?id=eq.A@PAST", "UPDATE gym_booking.bookings SET status = 'completed' WHERE id = {A@PAST} RETURNING id::text", DENIED),
        by("A", "PATCH", "/bookings?id=eq.A@T1", "UPDATE gym_booking.bookings SET status = 'completed' WHERE id = {A@T1} RETURNING id::text", DENIED),
        by("A", "POST", "/rpc/complete_past_bookings", "SELECT gym_booking.complete_past_bookings()", DENIED),
        by("T", "PATCH", "/bookings?id=eq.A@PAST", "UPDATE gym_booking.bookings SET status = 'completed' WHERE id = {A@PAST} RETURNING id::text", NOTHING),
        by("T", "POST", "/rpc/complete_past_bookings", "SELECT gym_booking.complete_past_bookings()", DENIED),
        // someone else's booking
        by("A", "PATCH", "/bookings?id=eq.B@T1", "UPDATE gym_booking.bookings SET status = 'cancelled' WHERE id = {B@T1} RETURNING id::text", NOTHING),
        by("A", "POST", "/rpc/cancel_booking", "SELECT gym_booking.cancel_booking({B@T1})", Refused("42704")),
        by("T", "PATCH", "/bookings?id=eq.A@T1", "UPDATE gym_booking.bookings SET status = 'cancelled' WHERE id = {A@T1} RETURNING id::text", NOTHING),
        by("T", "POST", "/rpc/cancel_booking", "SELECT gym_booking.cancel_booking({A@T1})", DENIED),
        by("U", "POST", "/rpc/cancel_booking", "SELECT gym_booking.cancel_booking({A@T1})", Refused("42704")),
    ]
}

fn slots() -> Vec<Attempt> {
    vec![
        // another trainer's slot: hidden from every write
        by("T", "PATCH", "/slots?id=eq.U1", "UPDATE gym_booking.slots SET notes = 'mine now' WHERE id = {U1} RETURNING id::text", NOTHING),
        by("T", "PATCH", "/slots?id=eq.U1", "UPDATE gym_booking.slots SET cancelled_at = now() WHERE id = {U1} RETURNING id::text", NOTHING),
        by("T", "PATCH", "/slots?id=eq.U1", "UPDATE gym_booking.slots SET trainer_id = {T} WHERE id = {U1} RETURNING id::text", NOTHING),
        by("T", "PATCH", "/slots?id=eq.U2", "UPDATE gym_booking.slots SET capacity = 20 WHERE id = {U2} RETURNING id::text", NOTHING),
        by("T", "DELETE", "/slots?id=eq.U1", "DELETE FROM gym_booking.slots WHERE id = {U1} RETURNING id::text", NOTHING),
        by("T", "POST", "/rpc/cancel_slot", "SELECT gym_booking.cancel_slot({U1})", DENIED),
        // giving a slot away, or creating one for another trainer
        by("T", "PATCH", "/slots?id=eq.T3", "UPDATE gym_booking.slots SET trainer_id = {U} WHERE id = {T3} RETURNING id::text", DENIED),
        by("T", "POST", "/slots",
            "INSERT INTO gym_booking.slots (trainer_id, start_at) VALUES ({U}, date_trunc('hour', now()) + interval '5 days') RETURNING id::text",
            DENIED),
        // create_slot has no trainer parameter: it makes the caller's own slot
        by("T", "POST", "/rpc/create_slot",
            "SELECT trainer_id::text FROM gym_booking.create_slot(date_trunc('hour', now()) + interval '5 days')",
            Writes(&["T"], &[SLOTS, LOGS])),
        by("T", "POST", "/slots",
            "INSERT INTO gym_booking.slots (trainer_id, start_at) VALUES ({A}, date_trunc('hour', now()) + interval '5 days') RETURNING id::text",
            DENIED),
        // athletes create and manage no slots
        by("A", "POST", "/slots",
            "INSERT INTO gym_booking.slots (trainer_id, start_at) VALUES ({A}, date_trunc('hour', now()) + interval '5 days') RETURNING id::text",
            DENIED),
        by("A", "POST", "/slots",
            "INSERT INTO gym_booking.slots (trainer_id, start_at) VALUES ({T}, date_trunc('hour', now()) + interval '5 days') RETURNING id::text",
            DENIED),
        by("A", "POST", "/rpc/create_slot", "SELECT gym_booking.create_slot(date_trunc('hour', now()) + interval '5 days')", DENIED),
        by("A", "PATCH", "/slots?id=eq.T1", "UPDATE gym_booking.slots SET capacity = 20 WHERE id = {T1} RETURNING id::text", NOTHING),
        by("A", "DELETE", "/slots?id=eq.T3", "DELETE FROM gym_booking.slots WHERE id = {T3} RETURNING id::text", NOTHING),
        by("A", "POST", "/rpc/cancel_slot", "SELECT gym_booking.cancel_slot({T1})", DENIED),
    ]
}

/// Nobody but the rules writes activity_logs, booking_status_history, the settings' history,
/// waitlist entries and events, nor draws their numbers; nobody truncates.
fn records() -> Vec<Attempt> {
    const WHO: [&str; 5] = ["anon", "A", "T", "ADM", "SRV"];
    const WRITES: [(&str, &str, &str); 30] = [
        ("POST", "/activity_logs",
         "INSERT INTO gym_booking.activity_logs (entity_type, entity_id, action, changed_fields)
          VALUES ('booking', {A@T1}, 'update', '{\"status\": {\"old\": \"reserved\", \"new\": \"completed\"}}')"),
        ("PATCH", "/activity_logs", "UPDATE gym_booking.activity_logs SET changed_by = NULL"),
        ("DELETE", "/activity_logs", "DELETE FROM gym_booking.activity_logs"),
        ("POST", "/booking_status_history",
         "INSERT INTO gym_booking.booking_status_history (booking_id, previous_status, current_status)
          VALUES ({A@T1}, 'reserved', 'completed')"),
        ("PATCH", "/booking_status_history", "UPDATE gym_booking.booking_status_history SET auto_processed = true"),
        ("DELETE", "/booking_status_history", "DELETE FROM gym_booking.booking_status_history"),
        ("POST", "/rpc/nextval", "SELECT nextval('gym_booking.booking_status_history_id_seq')"),
        ("POST", "/studio_settings_history",
         "INSERT INTO gym_booking.studio_settings_history (changed_by, changed_fields)
          VALUES ({ADM}, '{\"waitlist_max\": {\"old\": null, \"new\": 1}}')"),
        ("PATCH", "/studio_settings_history", "UPDATE gym_booking.studio_settings_history SET changed_by = {A}"),
        ("DELETE", "/studio_settings_history", "DELETE FROM gym_booking.studio_settings_history"),
        ("POST", "/waitlist_entries",
         "INSERT INTO gym_booking.waitlist_entries (slot_id, user_id, queue_no) VALUES ({U3}, {A}, 0)"),
        ("POST", "/waitlist_entries",
         "INSERT INTO gym_booking.waitlist_entries (slot_id, user_id, state, ended_at, booking_id)
          VALUES ({T4}, {A}, 'promoted', now(), {B@T4})"),
        ("PATCH", "/waitlist_entries", "UPDATE gym_booking.waitlist_entries SET queue_no = -1 WHERE id = {A~T4}"),
        ("PATCH", "/waitlist_entries", "UPDATE gym_booking.waitlist_entries SET user_id = {B} WHERE id = {A~T4}"),
        ("DELETE", "/waitlist_entries", "DELETE FROM gym_booking.waitlist_entries WHERE id = {B~U3}"),
        ("POST", "/events",
         "INSERT INTO gym_booking.events (recipient_id, kind, slot_id, payload)
          VALUES ({B}, 'slot_cancelled', {T1}, '{\"by\": \"trainer\"}')"),
        ("PATCH", "/events", "UPDATE gym_booking.events SET delivered_at = now(), attempts = 1"),
        ("PATCH", "/events", "UPDATE gym_booking.events SET recipient_id = {A}"),
        ("DELETE", "/events", "DELETE FROM gym_booking.events"),
        ("POST", "/rpc/nextval", "SELECT nextval('gym_booking.waitlist_queue')"),
        ("POST", "/rpc/nextval", "SELECT nextval('gym_booking.events_id_seq')"),
        ("POST", "/rpc/nextval", "SELECT nextval('gym_booking.studio_settings_history_id_seq')"),
        // 0.2.1: nobody plants, reads back or swaps a calendar token but through the API.
        ("POST", "/calendar_tokens",
         "INSERT INTO gym_booking.calendar_tokens (user_id, token_hash) VALUES ({A}, sha256('mine'::bytea))"),
        ("PATCH", "/calendar_tokens", "UPDATE gym_booking.calendar_tokens SET token_hash = sha256('mine'::bytea)"),
        ("DELETE", "/calendar_tokens", "DELETE FROM gym_booking.calendar_tokens"),
        // 0.2.2: nobody marks, excuses or forgives a no-show but through the API, nor moves the
        // sweep's watermark (back, it would mark years of history; ahead, it would mark none).
        ("POST", "/attendance",
         "INSERT INTO gym_booking.attendance (booking_id, user_id, slot_id, trainer_id, mark, strike_at)
          VALUES ({A@PAST}, {A}, {PAST}, {T}, 'no_show', now())"),
        ("PATCH", "/attendance", "UPDATE gym_booking.attendance SET excused_at = now()"),
        ("DELETE", "/attendance", "DELETE FROM gym_booking.attendance"),
        ("PATCH", "/attendance_sweep", "UPDATE gym_booking.attendance_sweep SET swept_until = 'infinity'"),
        ("POST", "/attendance_sweep", "INSERT INTO gym_booking.attendance_sweep (id, swept_until) VALUES (true, now())"),
    ];
    const TRUNCATES: [&str; 14] = [
        "TRUNCATE gym_booking.users CASCADE",
        "TRUNCATE gym_booking.series CASCADE",
        "TRUNCATE gym_booking.slots CASCADE",
        "TRUNCATE gym_booking.bookings CASCADE",
        "TRUNCATE gym_booking.activity_logs",
        "TRUNCATE gym_booking.booking_status_history",
        "TRUNCATE gym_booking.trainer_directory",
        "TRUNCATE gym_booking.studio_settings",
        "TRUNCATE gym_booking.studio_settings_history",
        "TRUNCATE gym_booking.waitlist_entries",
        "TRUNCATE gym_booking.events",
        "TRUNCATE gym_booking.calendar_tokens",
        "TRUNCATE gym_booking.attendance",
        "TRUNCATE gym_booking.attendance_sweep",
    ];
    let mut all = Vec::new();
    for who in WHO {
        for (method, path, sql) in WRITES {
            all.push(by(who, method, path, sql, DENIED));
        }
        for sql in TRUNCATES {
            all.push(by(who, "TRUNCATE", "-", sql, DENIED));
        }
    }
    all
}

fn claims() -> Vec<Attempt> {
    let mut all = vec![
        // the database role decides, not the role claim
        by("A+srv-claim", "GET", "/rpc/whoami", "SELECT current_user", Rows(&["authenticated"])),
        by("A+srv-claim", "GET", "/users", "SELECT id FROM gym_booking.users", Rows(&["A"])),
        by("A+srv-claim", "GET", "/bookings", "SELECT id FROM gym_booking.bookings", Rows(&["A@T1", "A@T2", "A@U2", "A@PAST", "A@U3"])),
        by("A+srv-claim", "POST", "/rpc/complete_past_bookings", "SELECT gym_booking.complete_past_bookings()", DENIED),
        by("A+srv-claim", "PATCH", "/users?id=eq.A", "UPDATE gym_booking.users SET role = 'admin' WHERE id = {A} RETURNING id::text", DENIED),
        by("A+srv-claim", "PATCH", "/bookings?id=eq.B@T1",
            "UPDATE gym_booking.bookings SET status = 'cancelled' WHERE id = {B@T1} RETURNING id::text", NOTHING),
        by("srv-claim-no-sub", "GET", "/users", "SELECT id FROM gym_booking.users", NOTHING),
        by("srv-claim-no-sub", "GET", "/bookings", "SELECT id FROM gym_booking.bookings", NOTHING),
        by("srv-claim-no-sub", "GET", "/activity_logs", "SELECT id FROM gym_booking.activity_logs", NOTHING),
        by("srv-claim-no-sub", "POST", "/rpc/book_slot", "SELECT gym_booking.book_slot({T3})", DENIED),
        by("srv-claim-no-sub", "POST", "/rpc/cancel_slot", "SELECT gym_booking.cancel_slot({T1})", DENIED),
        by("srv-claim-no-sub", "POST", "/rpc/complete_past_bookings", "SELECT gym_booking.complete_past_bookings()", DENIED),
        by("srv-claim-no-sub", "PATCH", "/bookings", "UPDATE gym_booking.bookings SET status = 'cancelled' RETURNING id::text", NOTHING),
        by("A+admin-metadata", "GET", "/users", "SELECT id FROM gym_booking.users", Rows(&["A"])),
        by("A+admin-metadata", "POST", "/rpc/complete_past_bookings", "SELECT gym_booking.complete_past_bookings()", DENIED),
        by("A+admin-metadata", "DELETE", "/users?id=eq.B", "DELETE FROM gym_booking.users WHERE id = {B} RETURNING id::text", NOTHING),
        // anon with a sub is still anon
        by("anon+sub", "GET", "/users", "SELECT id FROM gym_booking.users", DENIED),
        by("anon+sub", "GET", "/bookings", "SELECT id FROM gym_booking.bookings", DENIED),
        by("anon+sub", "GET", "/rpc/my_bookings", "SELECT booking_id FROM gym_booking.my_bookings()", DENIED),
        by("anon+sub", "POST", "/rpc/book_slot", "SELECT gym_booking.book_slot({T3})", DENIED),
        by("anon+sub", "GET", "/trainer_directory", "SELECT trainer_id FROM gym_booking.trainer_directory", Rows(&["T", "U"])),
        // an empty or null sub is no one
        by("sub-empty", "GET", "/rpc/current_user_id", "SELECT gym_booking.current_user_id()", Rows(&["NULL"])),
        by("sub-null", "GET", "/rpc/current_user_id", "SELECT gym_booking.current_user_id()", Rows(&["NULL"])),
        by("sub-null", "GET", "/users", "SELECT id FROM gym_booking.users", NOTHING),
        by("sub-null", "POST", "/rpc/book_slot", "SELECT gym_booking.book_slot({T3})", DENIED),
        // a sub naming no account: no rights, and every write a clean refusal
        by("ghost", "GET", "/rpc/current_user_id", "SELECT gym_booking.current_user_id()", Rows(&["GHOST"])),
        by("ghost", "GET", "/users", "SELECT id FROM gym_booking.users", NOTHING),
        by("ghost", "GET", "/bookings", "SELECT id FROM gym_booking.bookings", NOTHING),
        by("ghost", "GET", "/activity_logs", "SELECT id FROM gym_booking.activity_logs", NOTHING),
        by("ghost", "GET", "/booking_status_history", "SELECT id FROM gym_booking.booking_status_history", NOTHING),
        by("ghost", "GET", "/rpc/my_bookings", "SELECT booking_id FROM gym_booking.my_bookings()", NOTHING),
        // book_slot tries to insert a booking for a user not in users: the foreign key
        // (23503, "unknown user" in the README) or a permission refusal, never a booking
        by("ghost", "POST", "/rpc/book_slot", "SELECT gym_booking.book_slot({T3})", RefusedAny(&["23503", "42501"])),
        by("ghost", "POST", "/bookings",
            "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ({T3}, '00000000-0000-4000-8000-00000000dead') RETURNING id::text",
            RefusedAny(&["23503", "42501"])),
        by("ghost", "POST", "/rpc/create_slot", "SELECT gym_booking.create_slot(date_trunc('hour', now()) + interval '5 days')", DENIED),
        by("ghost", "POST", "/rpc/cancel_booking", "SELECT gym_booking.cancel_booking({A@T1})", Refused("42704")),
        by("ghost", "POST", "/rpc/cancel_slot", "SELECT gym_booking.cancel_slot({T1})", DENIED),
        by("ghost", "POST", "/rpc/delete_my_account", "SELECT gym_booking.delete_my_account()", Refused("42704")),
        by("ghost", "POST", "/rpc/complete_past_bookings", "SELECT gym_booking.complete_past_bookings()", DENIED),
        // a deleted admin is nobody's admin any more
        // A deleted account's token, valid until it expires, owns and sees nothing, its own
        // (anonymized) row included.
        by("deleted-admin", "GET", "/users", "SELECT id FROM gym_booking.users", NOTHING),
        by("deleted-admin", "GET", "/bookings", "SELECT id FROM gym_booking.bookings", NOTHING),
        by("deleted-admin", "GET", "/activity_logs", "SELECT id FROM gym_booking.activity_logs", NOTHING),
        by("deleted-admin", "POST", "/rpc/complete_past_bookings", "SELECT gym_booking.complete_past_bookings()", DENIED),
        by("deleted-admin", "PATCH", "/users?id=eq.A", "UPDATE gym_booking.users SET first_name = 'x' WHERE id = {A} RETURNING id::text", NOTHING),
        by("deleted-admin", "DELETE", "/users?id=eq.B", "DELETE FROM gym_booking.users WHERE id = {B} RETURNING id::text", NOTHING),
        by("deleted-admin", "PATCH", "/users?id=eq.DEL",
            "UPDATE gym_booking.users SET deleted_at = NULL, is_anonymous = false WHERE id = {DEL} RETURNING id::text", NOTHING),
        by("deleted-admin", "POST", "/rpc/book_slot", "SELECT gym_booking.book_slot({T3})", Refused("23000")),
        by("deleted-admin", "POST", "/rpc/cancel_booking", "SELECT gym_booking.cancel_booking({A@T1})", Refused("42704")),
        by("deleted-admin", "POST", "/rpc/cancel_slot", "SELECT gym_booking.cancel_slot({T1})", DENIED),
        // a deleted trainer no longer manages slots nor sees the bookings and logs of them
        // (their JWT can outlive the account until it expires)
        by("deleted-trainer", "GET", "/bookings", "SELECT id FROM gym_booking.bookings", NOTHING),
        by("deleted-trainer", "GET", "/activity_logs", "SELECT id FROM gym_booking.activity_logs", NOTHING),
        by("deleted-trainer", "PATCH", "/slots?id=eq.DT1",
            "UPDATE gym_booking.slots SET notes = 'still mine' WHERE id = {DT1} RETURNING id::text", NOTHING),
        by("deleted-trainer", "DELETE", "/slots?id=eq.DT2", "DELETE FROM gym_booking.slots WHERE id = {DT2} RETURNING id::text", NOTHING),
        by("deleted-trainer", "POST", "/slots",
            "INSERT INTO gym_booking.slots (trainer_id, start_at) VALUES ({DT}, date_trunc('hour', now()) + interval '5 days') RETURNING id::text",
            DENIED),
        by("deleted-trainer", "POST", "/rpc/create_slot", "SELECT gym_booking.create_slot(date_trunc('hour', now()) + interval '5 days')", DENIED),
    ];
    // A sub that is not a uuid, and claims that are not JSON: 22P02 on anything that reads
    // the caller's identity (policies, the API), as Supabase's auth.uid() fails.
    const READS_IDENTITY: [(&str, &str, &str); 18] = [
        ("GET", "/rpc/current_user_id", "SELECT gym_booking.current_user_id()"),
        ("GET", "/users", "SELECT id FROM gym_booking.users"),
        ("GET", "/bookings", "SELECT id FROM gym_booking.bookings"),
        ("GET", "/activity_logs", "SELECT id FROM gym_booking.activity_logs"),
        ("GET", "/booking_status_history", "SELECT id FROM gym_booking.booking_status_history"),
        ("GET", "/rpc/my_bookings", "SELECT booking_id FROM gym_booking.my_bookings()"),
        ("POST", "/rpc/book_slot", "SELECT gym_booking.book_slot({T3})"),
        ("POST", "/rpc/cancel_booking", "SELECT gym_booking.cancel_booking({A@T1})"),
        ("POST", "/rpc/create_slot", "SELECT gym_booking.create_slot(date_trunc('hour', now()) + interval '5 days')"),
        ("POST", "/rpc/delete_my_account", "SELECT gym_booking.delete_my_account()"),
        ("PATCH", "/users", "UPDATE gym_booking.users SET first_name = 'x' RETURNING id::text"),
        ("POST", "/bookings", "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ({T3}, {A}) RETURNING id::text"),
        ("GET", "/waitlist_entries", "SELECT id FROM gym_booking.waitlist_entries"),
        ("GET", "/events", "SELECT id FROM gym_booking.events"),
        ("GET", "/studio_settings_history", "SELECT id FROM gym_booking.studio_settings_history"),
        ("GET", "/rpc/my_waitlist", "SELECT entry_id FROM gym_booking.my_waitlist()"),
        ("POST", "/rpc/join_waitlist", "SELECT id FROM gym_booking.join_waitlist({U3})"),
        ("POST", "/rpc/leave_waitlist", "SELECT id FROM gym_booking.leave_waitlist({U3})"),
    ];
    for who in ["sub-not-uuid", "sub-number", "sub-injection"] {
        for (method, path, sql) in READS_IDENTITY {
            all.push(by(who, method, path, sql, BAD_CLAIMS));
        }
        // the directory and the settings do not depend on who asks
        all.push(by(
            who,
            "GET",
            "/trainer_directory",
            "SELECT trainer_id FROM gym_booking.trainer_directory",
            Rows(&["T", "U"]),
        ));
        all.push(by(
            who,
            "GET",
            "/studio_settings",
            "SELECT id FROM gym_booking.studio_settings",
            Rows(&["true"]),
        ));
    }
    for (who, text) in [
        (
            "claims-not-json",
            "sub=00000000-0000-4000-8000-000000000004",
        ),
        (
            "claims-truncated",
            "{\"sub\": \"00000000-0000-4000-8000-000000000004\"",
        ),
    ] {
        for (method, path, sql) in READS_IDENTITY {
            all.push(raw(who, text, method, path, sql, BAD_CLAIMS));
        }
    }
    for (method, path, sql) in [
        (
            "POST",
            "/rpc/book_slot",
            "SELECT gym_booking.book_slot({T3})",
        ),
        (
            "POST",
            "/rpc/cancel_booking",
            "SELECT gym_booking.cancel_booking({A@T1})",
        ),
        (
            "POST",
            "/rpc/create_slot",
            "SELECT gym_booking.create_slot(date_trunc('hour', now()) + interval '5 days')",
        ),
        (
            "POST",
            "/rpc/cancel_slot",
            "SELECT gym_booking.cancel_slot({T1})",
        ),
        (
            "POST",
            "/rpc/delete_my_account",
            "SELECT gym_booking.delete_my_account()",
        ),
        (
            "POST",
            "/rpc/complete_past_bookings",
            "SELECT gym_booking.complete_past_bookings()",
        ),
        (
            "POST",
            "/rpc/join_waitlist",
            "SELECT gym_booking.join_waitlist({U3})",
        ),
        (
            "POST",
            "/rpc/leave_waitlist",
            "SELECT gym_booking.leave_waitlist({U3})",
        ),
        (
            "POST",
            "/rpc/promote_waitlists",
            "SELECT gym_booking.promote_waitlists()",
        ),
        (
            "POST",
            "/rpc/claim_events",
            "SELECT id FROM gym_booking.claim_events()",
        ),
    ] {
        all.push(by("sub-empty", method, path, sql, DENIED));
    }
    for (path, sql) in [
        ("/users", "SELECT id FROM gym_booking.users"),
        ("/bookings", "SELECT id FROM gym_booking.bookings"),
        (
            "/rpc/my_bookings",
            "SELECT booking_id FROM gym_booking.my_bookings()",
        ),
        (
            "/waitlist_entries",
            "SELECT id FROM gym_booking.waitlist_entries",
        ),
        ("/events", "SELECT id FROM gym_booking.events"),
        (
            "/rpc/my_waitlist",
            "SELECT entry_id FROM gym_booking.my_waitlist()",
        ),
    ] {
        all.push(by("sub-empty", "GET", path, sql, NOTHING));
    }
    all
}

fn run(test_name: &str, attempts: Vec<Attempt>) {
    run_on(Fixture::new(test_name), test_name, attempts);
}

/// As [`run`], on a seed of the caller's choice (the deleted accounts are added to it).
fn run_on(mut fixture: Fixture, test_name: &str, attempts: Vec<Attempt>) {
    fixture.labels.add("GHOST", GHOST);
    fixture.labels.add("DEL", DELETED_ADMIN);
    fixture.labels.add("DT", DELETED_TRAINER);
    fixture
        .labels
        .add("DT1", "00000000-0000-4000-8000-000000000107");
    fixture
        .labels
        .add("DT2", "00000000-0000-4000-8000-000000000108");
    fixture
        .labels
        .add("B@DT1", "00000000-0000-4000-8000-000000000208");
    fixture.extend(EXTRA_SEED);
    let callers: Vec<Caller> = attempts.iter().map(|a| caller_named(a.who)).collect();
    let cases: Vec<Case<'_>> = attempts
        .iter()
        .zip(&callers)
        .map(|(a, caller)| Case {
            who: a.who,
            caller,
            raw_claims: a.raw_claims,
            method: a.method,
            path: a.path,
            sql: a.sql,
            expect: a.expect,
            check: None,
        })
        .collect();
    let started = std::time::Instant::now();
    run_all(&mut fixture, &cases);
    eprintln!(
        "{test_name}: {} cases in {:.1?}",
        fixture.cases_run,
        started.elapsed()
    );
}

#[test]
fn nobody_changes_their_own_identity() {
    run("escalation_identity", identity());
}

#[test]
fn bookings_stay_where_and_whose_they_are() {
    run("escalation_bookings", bookings());
}

#[test]
fn trainers_manage_only_their_own_slots() {
    run("escalation_slots", slots());
}

#[test]
fn only_the_rules_write_logs_and_history() {
    run("escalation_records", records());
}

#[test]
fn nobody_but_the_rules_writes_waitlists_events_and_settings() {
    run("escalation_studio", studio::attempts());
}

#[test]
fn series_are_their_trainers_and_the_gyms_through_the_api_only() {
    let name = "escalation_timetable";
    run_on(Fixture::with_timetables(name), name, timetable::attempts());
}

#[test]
fn marks_are_their_trainers_and_excuses_the_gyms_through_the_api_only() {
    let name = "escalation_attendance";
    run_on(Fixture::with_attendance(name), name, attendance::attempts());
}

#[test]
fn forged_and_malformed_claims() {
    run("escalation_claims", claims());
}

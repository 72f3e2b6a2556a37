//! The access matrix (DESIGN.md, "Identity and row-level security", "API"): every caller ×
//! every table × read / insert / update / delete, and every API function, each case ONE
//! PostgREST-style request (`postgrest_request`: role and claims set with `set_config`).
//!
//! Callers: `anon` (no claims); athletes A and B; trainers T and U; an app admin (role
//! `authenticated`, `sub` = an admin user); `service_role` (claims `{"role":"service_role"}`).
//! The seed (`gym_booking_integration::access`, written as the superuser) has T's slots T1..T3
//! and U's U1, U2 in the future with bookings of A and B, T's slot PAST that has ended with
//! A's booking still reserved (loaded as a restore loads it), and the log and history rows
//! the changes made. Bookings are labelled `athlete@slot`, log rows `entity action by author`,
//! history rows `booking from>to by author`.
//!
//! Release 0.2.0 (docs/studio-week.md): the settings row (every client reads it, only an app
//! admin changes it, each change in its history), waitlist entries (read by the athlete, the
//! slot's trainer and an admin; written by the API and the rules only) and the event outbox
//! (the recipient reads their own; `service_role` claims and acknowledges through
//! `claim_events` / `ack_events`, never by writing the table). In the seed T4 and U3 are full
//! with one athlete waiting each, so a freed place there promotes the waiting one: the cases
//! that free one say so by the tables they change. Entries are `user~slot`, events
//! `recipient kind booking`.
//!
//! Release 0.2.1 (README, "Timetables"): series (every signed-in caller reads them, nobody
//! writes them but the API), the occurrence columns of slots (no client changes which series
//! and date a slot belongs to) and who may create, edit and cancel a series or run the
//! timetables' sweep; on the seed with two series (`Fixture::with_timetables`), so that a
//! successful call shows what it made and a cancellation its cascade.
//!
//! Release 0.2.2 (DESIGN.md, "Attendance"): attendance marks (the athlete's own, the slot's
//! trainer's, the gym's all; nobody writes them but the API), the auto no-show sweep's watermark
//! (no client's) and who may mark, excuse, sweep, read rosters, suspensions and the reports; on
//! the seed with two ended slots inside their attendance period (`Fixture::with_attendance`).
//! `complete_past_bookings()` runs the sweep too: its watermark moves even with `auto_no_show`
//! off.
//!
//! Reads assert WHICH rows the caller sees; writes assert success (with the rows returned and
//! the tables changed) or the SQLSTATE of the refusal, and that a refused or hidden write
//! changed nothing at all (an UPDATE/DELETE that row-level security hides affects 0 rows).
//! Every case starts from the seed (see `access::Fixture::run`).

use gym_booking_integration::access::{self, run_all, Case, Expect, Fixture};
use gym_booking_integration::Caller;

use Expect::{Refused, RefusedAny, Rows, Writes};

/// Release 0.2.0's tables and API.
#[path = "access_matrix/studio.rs"]
mod studio;

/// Release 0.2.1's calendar tokens and feeds.
#[path = "access_matrix/calendar.rs"]
mod calendar;
/// Release 0.2.1's series, occurrences and timetable API.
#[path = "access_matrix/timetable.rs"]
mod timetable;

/// Release 0.2.2's attendance marks, the sweep's watermark and the attendance API.
#[path = "access_matrix/attendance.rs"]
mod attendance;

/// Refused by a grant or a policy.
const DENIED: Expect = Refused("42501");
/// Succeeds, sees or changes nothing.
const NOTHING: Expect = Rows(&[]);

const USERS: &str = "users";
const SLOTS: &str = "slots";
const BOOKINGS: &str = "bookings";
const LOGS: &str = "activity_logs";
const HISTORY: &str = "booking_status_history";
const DIRECTORY: &str = "trainer_directory";
const SETTINGS: &str = "studio_settings";
const SETTINGS_HISTORY: &str = "studio_settings_history";
const WAITLIST: &str = "waitlist_entries";
const EVENTS: &str = "events";
const SERIES: &str = "series";
const CALENDAR_TOKENS: &str = "calendar_tokens";
const ATTENDANCE: &str = "attendance";
const SWEEP: &str = "attendance_sweep";

/// The callers, in the order of each row's expectations.
const CALLERS: [&str; 7] = ["anon", "A", "B", "T", "U", "ADM", "SRV"];

const ALL_USERS: &[&str] = &["ADM", "T", "U", "A", "B"];
const ALL_SLOTS: &[&str] = &["T1", "T2", "T3", "T4", "U1", "U2", "U3", "PAST"];
const ALL_BOOKINGS: &[&str] = &[
    "A@T1", "B@T1", "A@T2", "B@T2", "B@U1", "A@U2", "A@PAST", "B@T4", "A@U3",
];

const ALL_LOGS: &[&str] = &[
    "ADM create by -",
    "T create by -",
    "U create by -",
    "A create by -",
    "B create by -",
    "T1 create by T",
    "T2 create by T",
    "T3 create by T",
    "U1 create by U",
    "U2 create by U",
    "A@T1 create by A",
    "A@T2 create by A",
    "A@U2 create by A",
    "A@T2 update by A",
    "B@T1 create by B",
    "B@T2 create by B",
    "B@U1 create by B",
    "B@U1 update by B",
    "B@U1 update by B",
    "B@T2 update by ADM",
    "T4 create by T",
    "U3 create by U",
    "B@T4 create by B",
    "A@U3 create by A",
];
/// What A made.
const LOGS_A: &[&str] = &[
    "A@T1 create by A",
    "A@T2 create by A",
    "A@U2 create by A",
    "A@T2 update by A",
    "A@U3 create by A",
];
/// What B made (not the admin's cancellation of B's booking).
const LOGS_B: &[&str] = &[
    "B@T1 create by B",
    "B@T2 create by B",
    "B@U1 create by B",
    "B@U1 update by B",
    "B@U1 update by B",
    "B@T4 create by B",
];
/// T's slots and the bookings of T's slots, whoever made them.
const LOGS_T: &[&str] = &[
    "T1 create by T",
    "T2 create by T",
    "T3 create by T",
    "A@T1 create by A",
    "A@T2 create by A",
    "A@T2 update by A",
    "B@T1 create by B",
    "B@T2 create by B",
    "B@T2 update by ADM",
    "T4 create by T",
    "B@T4 create by B",
];
const LOGS_U: &[&str] = &[
    "U1 create by U",
    "U2 create by U",
    "B@U1 create by B",
    "B@U1 update by B",
    "B@U1 update by B",
    "A@U2 create by A",
    "U3 create by U",
    "A@U3 create by A",
];

const ALL_HISTORY: &[&str] = &[
    "A@T2 reserved>cancelled by A",
    "B@U1 reserved>cancelled by B",
    "B@U1 cancelled>reserved by B",
    "B@T2 reserved>cancelled by ADM",
];

/// One line of the matrix: a request and what each caller must get from it.
struct Line {
    method: &'static str,
    path: &'static str,
    /// `{label}` names a seed row; `{me}` is the caller's own user (A for anon and
    /// service_role, who have none).
    sql: &'static str,
    /// anon, A, B, T, U, ADM, SRV.
    expect: [Expect; 7],
    /// Run as the superuser after each successful write; must return true.
    check: Option<&'static str>,
}

const fn line(
    method: &'static str,
    path: &'static str,
    sql: &'static str,
    expect: [Expect; 7],
) -> Line {
    Line {
        method,
        path,
        sql,
        expect,
        check: None,
    }
}

const fn checked(
    method: &'static str,
    path: &'static str,
    sql: &'static str,
    expect: [Expect; 7],
    check: &'static str,
) -> Line {
    Line {
        method,
        path,
        sql,
        expect,
        check: Some(check),
    }
}

const ALL_DENIED: [Expect; 7] = [DENIED; 7];

fn tables() -> Vec<Line> {
    vec![
        // users ------------------------------------------------------------------------
        line("GET", "/users?select=id", "SELECT id FROM gym_booking.users", [
            DENIED, Rows(&["A"]), Rows(&["B"]), Rows(&["T"]), Rows(&["U"]),
            Rows(ALL_USERS), Rows(ALL_USERS),
        ]),
        // password_hash is the one column no client role may SELECT (column grants), so
        // `select *` (PostgREST's default select) is refused for every client role, the
        // service role included: clients list the columns they want.
        line("GET", "/users", "SELECT * FROM gym_booking.users", ALL_DENIED),
        line("GET", "/users?select=password_hash", "SELECT password_hash FROM gym_booking.users", ALL_DENIED),
        // Nor can a filter on it be used as an oracle, nor a whole-row reference read it.
        line("GET", "/users?password_hash=like.$2a$*",
            "SELECT id FROM gym_booking.users WHERE password_hash LIKE '$2a$%'", ALL_DENIED),
        line("GET", "/rpc/row_to_json", "SELECT to_jsonb(u) FROM gym_booking.users AS u", ALL_DENIED),
        line("POST", "/users",
            "INSERT INTO gym_booking.users (email, password_hash, first_name)
             VALUES ('new.member@gym.test', '$2a$10$new', 'Nina') RETURNING email::text", [
            DENIED, DENIED, DENIED, DENIED, DENIED,
            Writes(&["new.member@gym.test"], &[USERS, LOGS]),
            Writes(&["new.member@gym.test"], &[USERS, LOGS]),
        ]),
        line("PATCH", "/users",
            "UPDATE gym_booking.users SET preferences = preferences || '{\"theme\": \"dark\"}'
             RETURNING id::text", [
            DENIED,
            Writes(&["A"], &[USERS, LOGS]),
            Writes(&["B"], &[USERS, LOGS]),
            Writes(&["T"], &[USERS, LOGS]),
            Writes(&["U"], &[USERS, LOGS]),
            Writes(ALL_USERS, &[USERS, LOGS]),
            Writes(ALL_USERS, &[USERS, LOGS]),
        ]),
        // DELETE on users is the soft delete (the row stays, anonymized; the statement
        // reports 0 rows). Only the gym deletes someone else; a person deletes their own
        // account with delete_my_account(), not with DELETE. B's place in T4 frees: A, who
        // waits for it, is booked (an event tells A); B's entries end as `removed`.
        checked("DELETE", "/users?id=eq.B",
            "DELETE FROM gym_booking.users WHERE id = {B} RETURNING id::text", [
            DENIED, NOTHING, NOTHING, NOTHING, NOTHING,
            Writes(&[], &[USERS, BOOKINGS, HISTORY, LOGS, WAITLIST, EVENTS]),
            Writes(&[], &[USERS, BOOKINGS, HISTORY, LOGS, WAITLIST, EVENTS]),
        ], "SELECT is_anonymous AND first_name = 'Anonymous user'
                  AND email = 'deleted-' || id || '@anonymized.invalid'
                  AND NOT EXISTS (SELECT FROM gym_booking.bookings
                                   WHERE user_id = {B} AND status = 'reserved')
                  AND NOT EXISTS (SELECT FROM gym_booking.waitlist_entries
                                   WHERE user_id = {B} AND state <> 'removed'
                                     AND id <> {B~U3.left})
                  AND EXISTS (SELECT FROM gym_booking.waitlist_entries w
                                JOIN gym_booking.bookings b ON b.id = w.booking_id
                               WHERE w.id = {A~T4} AND w.state = 'promoted'
                                 AND b.user_id = {A} AND b.slot_id = {T4}
                                 AND b.status = 'reserved' AND b.auto_processed)
             FROM gym_booking.users WHERE id = {B}"),
        // slots ------------------------------------------------------------------------
        line("GET", "/slots?select=id", "SELECT id FROM gym_booking.slots", [
            DENIED, Rows(ALL_SLOTS), Rows(ALL_SLOTS), Rows(ALL_SLOTS), Rows(ALL_SLOTS),
            Rows(ALL_SLOTS), Rows(ALL_SLOTS),
        ]),
        line("POST", "/slots",
            "INSERT INTO gym_booking.slots (trainer_id, start_at, capacity)
             VALUES ({T}, date_trunc('hour', now()) + interval '5 days', 4)
             RETURNING trainer_id::text", [
            DENIED, DENIED, DENIED,
            Writes(&["T"], &[SLOTS, LOGS]),
            DENIED,
            Writes(&["T"], &[SLOTS, LOGS]),
            Writes(&["T"], &[SLOTS, LOGS]),
        ]),
        // A changed slot is news to whoever holds a place in it (slot_changed events).
        checked("PATCH", "/slots", "UPDATE gym_booking.slots SET notes = 'Bring a towel' RETURNING id::text", [
            DENIED, NOTHING, NOTHING,
            Writes(&["T1", "T2", "T3", "T4", "PAST"], &[SLOTS, LOGS, EVENTS]),
            Writes(&["U1", "U2", "U3"], &[SLOTS, LOGS, EVENTS]),
            Writes(ALL_SLOTS, &[SLOTS, LOGS, EVENTS]),
            Writes(ALL_SLOTS, &[SLOTS, LOGS, EVENTS]),
        ], "SELECT bool_and(EXISTS (SELECT FROM gym_booking.bookings b
                                     WHERE b.id = e.booking_id AND b.user_id = e.recipient_id
                                       AND b.status = 'reserved'))
              FROM gym_booking.events e WHERE e.kind = 'slot_changed'"),
        line("DELETE", "/slots?id=eq.T3", "DELETE FROM gym_booking.slots WHERE id = {T3} RETURNING id::text", [
            DENIED, NOTHING, NOTHING,
            Writes(&["T3"], &[SLOTS, LOGS]),
            NOTHING,
            Writes(&["T3"], &[SLOTS, LOGS]),
            Writes(&["T3"], &[SLOTS, LOGS]),
        ]),
        // A slot with bookings is cancelled, never deleted (23001), whoever asks.
        line("DELETE", "/slots?id=eq.T1", "DELETE FROM gym_booking.slots WHERE id = {T1} RETURNING id::text", [
            DENIED, NOTHING, NOTHING, Refused("23001"), NOTHING, Refused("23001"), Refused("23001"),
        ]),
        // A capacity increase frees a place: A, who waits for T4, is booked in the same
        // statement, by the system (DESIGN.md Part 2, "Waitlists").
        checked("PATCH", "/slots?id=eq.T4",
            "UPDATE gym_booking.slots SET capacity = 2 WHERE id = {T4} RETURNING id::text", [
            DENIED, NOTHING, NOTHING,
            Writes(&["T4"], &[SLOTS, BOOKINGS, LOGS, WAITLIST, EVENTS]),
            NOTHING,
            Writes(&["T4"], &[SLOTS, BOOKINGS, LOGS, WAITLIST, EVENTS]),
            Writes(&["T4"], &[SLOTS, BOOKINGS, LOGS, WAITLIST, EVENTS]),
        ], PROMOTED_A_T4),
        // bookings ---------------------------------------------------------------------
        line("GET", "/bookings?select=id", "SELECT id FROM gym_booking.bookings", [
            DENIED,
            Rows(&["A@T1", "A@T2", "A@U2", "A@PAST", "A@U3"]),
            Rows(&["B@T1", "B@T2", "B@U1", "B@T4"]),
            Rows(&["A@T1", "B@T1", "A@T2", "B@T2", "A@PAST", "B@T4"]),
            Rows(&["B@U1", "A@U2", "A@U3"]),
            Rows(ALL_BOOKINGS),
            Rows(ALL_BOOKINGS),
        ]),
        line("POST", "/bookings",
            "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ({T3}, {me})
             RETURNING user_id::text || '@' || slot_id::text", [
            DENIED,
            Writes(&["A@T3"], &[BOOKINGS, LOGS, EVENTS]),
            Writes(&["B@T3"], &[BOOKINGS, LOGS, EVENTS]),
            DENIED, // trainers do not book
            DENIED,
            Writes(&["ADM@T3"], &[BOOKINGS, LOGS, EVENTS]),
            Writes(&["A@T3"], &[BOOKINGS, LOGS, EVENTS]),
        ]),
        line("POST", "/bookings",
            "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ({T3}, {B})
             RETURNING user_id::text || '@' || slot_id::text", [
            DENIED,
            DENIED, // not for someone else
            Writes(&["B@T3"], &[BOOKINGS, LOGS, EVENTS]),
            DENIED,
            DENIED,
            Writes(&["B@T3"], &[BOOKINGS, LOGS, EVENTS]),
            Writes(&["B@T3"], &[BOOKINGS, LOGS, EVENTS]),
        ]),
        // A full slot stays full for everyone, whoever waits (capacity binds admins and
        // service_role too); B already holds T4's place (one booking row per slot and
        // athlete).
        line("POST", "/bookings",
            "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ({T4}, {me})
             RETURNING id::text", [
            // (A trainer is refused either way: the capacity rule, a BEFORE trigger, runs
            // before PostgreSQL checks the policy's WITH CHECK.)
            DENIED, Refused("23P01"), Refused("23505"),
            RefusedAny(&["42501", "23P01"]), RefusedAny(&["42501", "23P01"]),
            Refused("23P01"), Refused("23P01"),
        ]),
        // Cancelling A@U3 books B from U3's waitlist, cancelling B@T4 books A from T4's, in
        // the same statement: the waitlist and the events change with the bookings.
        line("PATCH", "/bookings?status=eq.reserved",
            "UPDATE gym_booking.bookings SET status = 'cancelled'
              WHERE status = 'reserved' AND slot_id <> {PAST} RETURNING id::text", [
            DENIED,
            Writes(&["A@T1", "A@U2", "A@U3"], &[BOOKINGS, HISTORY, LOGS, WAITLIST, EVENTS]),
            Writes(&["B@T1", "B@U1", "B@T4"], &[BOOKINGS, HISTORY, LOGS, WAITLIST, EVENTS]),
            NOTHING, // a trainer sees the bookings of their slots but does not change them
            NOTHING,
            Writes(&["A@T1", "B@T1", "B@U1", "A@U2", "B@T4", "A@U3"],
                   &[BOOKINGS, HISTORY, LOGS, WAITLIST, EVENTS]),
            Writes(&["A@T1", "B@T1", "B@U1", "A@U2", "B@T4", "A@U3"],
                   &[BOOKINGS, HISTORY, LOGS, WAITLIST, EVENTS]),
        ]),
        // The promotion itself: B's cancellation of T4 books A, by the system, with its log
        // row and an event to A; A's entry ends as `promoted`, naming the booking.
        checked("PATCH", "/bookings?id=eq.B@T4",
            "UPDATE gym_booking.bookings SET status = 'cancelled' WHERE id = {B@T4} RETURNING id::text", [
            DENIED, NOTHING,
            Writes(&["B@T4"], &[BOOKINGS, HISTORY, LOGS, WAITLIST, EVENTS]),
            NOTHING, NOTHING,
            Writes(&["B@T4"], &[BOOKINGS, HISTORY, LOGS, WAITLIST, EVENTS]),
            Writes(&["B@T4"], &[BOOKINGS, HISTORY, LOGS, WAITLIST, EVENTS]),
        ], PROMOTED_A_T4),
        // Bookings are never deleted: not even granted.
        line("DELETE", "/bookings?id=eq.A@T2", "DELETE FROM gym_booking.bookings WHERE id = {A@T2}", ALL_DENIED),
        // activity_logs ------------------------------------------------------------------
        line("GET", "/activity_logs",
            "SELECT entity_id::text || ' ' || action || ' by ' || coalesce(changed_by::text, '-')
               FROM gym_booking.activity_logs", [
            DENIED, Rows(LOGS_A), Rows(LOGS_B), Rows(LOGS_T), Rows(LOGS_U),
            Rows(ALL_LOGS), Rows(ALL_LOGS),
        ]),
        line("POST", "/activity_logs",
            "INSERT INTO gym_booking.activity_logs (entity_type, entity_id, action, changed_fields)
             VALUES ('slot', {T1}, 'update', '{\"notes\": \"forged\"}')", ALL_DENIED),
        line("PATCH", "/activity_logs", "UPDATE gym_booking.activity_logs SET metadata = '{\"forged\": true}'", ALL_DENIED),
        line("DELETE", "/activity_logs", "DELETE FROM gym_booking.activity_logs", ALL_DENIED),
        // booking_status_history ---------------------------------------------------------
        line("GET", "/booking_status_history",
            "SELECT booking_id::text || ' ' || previous_status || '>' || current_status
                    || ' by ' || coalesce(changed_by::text, '-')
               FROM gym_booking.booking_status_history", [
            DENIED,
            Rows(&["A@T2 reserved>cancelled by A"]),
            Rows(&["B@U1 reserved>cancelled by B", "B@U1 cancelled>reserved by B",
                   "B@T2 reserved>cancelled by ADM"]),
            Rows(&["A@T2 reserved>cancelled by A", "B@T2 reserved>cancelled by ADM"]),
            Rows(&["B@U1 reserved>cancelled by B", "B@U1 cancelled>reserved by B"]),
            Rows(ALL_HISTORY),
            Rows(ALL_HISTORY),
        ]),
        line("POST", "/booking_status_history",
            "INSERT INTO gym_booking.booking_status_history (booking_id, previous_status, current_status)
             VALUES ({A@T1}, 'reserved', 'completed')", ALL_DENIED),
        line("PATCH", "/booking_status_history", "UPDATE gym_booking.booking_status_history SET changed_by = NULL", ALL_DENIED),
        line("DELETE", "/booking_status_history", "DELETE FROM gym_booking.booking_status_history", ALL_DENIED),
        // trainer_directory: readable by everyone, written only by the rules ---------------
        line("GET", "/trainer_directory", "SELECT trainer_id FROM gym_booking.trainer_directory",
            [Rows(&["T", "U"]); 7]),
        line("POST", "/trainer_directory",
            "INSERT INTO gym_booking.trainer_directory (trainer_id, display_name) VALUES ({A}, 'Fake Trainer')",
            ALL_DENIED),
        line("PATCH", "/trainer_directory", "UPDATE gym_booking.trainer_directory SET display_name = 'Hacked'", ALL_DENIED),
        line("DELETE", "/trainer_directory", "DELETE FROM gym_booking.trainer_directory", ALL_DENIED),
    ]
}

fn api() -> Vec<Line> {
    vec![
        // The API is not anon's; service_role has no person to act as, so the functions
        // that act for "me" refuse it (it changes the tables directly instead).
        line("POST", "/rpc/book_slot",
            "SELECT user_id::text || '@' || slot_id::text FROM gym_booking.book_slot({T3})", [
            DENIED,
            Writes(&["A@T3"], &[BOOKINGS, LOGS, EVENTS]),
            Writes(&["B@T3"], &[BOOKINGS, LOGS, EVENTS]),
            DENIED,
            DENIED,
            Writes(&["ADM@T3"], &[BOOKINGS, LOGS, EVENTS]),
            DENIED,
        ]),
        line("POST", "/rpc/cancel_booking",
            "SELECT id::text || ' ' || status FROM gym_booking.cancel_booking({A@T1})", [
            DENIED,
            Writes(&["A@T1 cancelled"], &[BOOKINGS, HISTORY, LOGS, EVENTS]),
            Refused("42704"), // B cannot see it: not found
            DENIED,           // T sees it (their slot) but may not cancel it
            Refused("42704"),
            Writes(&["A@T1 cancelled"], &[BOOKINGS, HISTORY, LOGS, EVENTS]),
            DENIED,
        ]),
        // Cancelling A's place in U3 books B, who waits for it, in the same call.
        checked("POST", "/rpc/cancel_booking",
            "SELECT id::text || ' ' || status FROM gym_booking.cancel_booking({A@U3})", [
            DENIED,
            Writes(&["A@U3 cancelled"], &[BOOKINGS, HISTORY, LOGS, WAITLIST, EVENTS]),
            Refused("42704"),
            Refused("42704"),
            DENIED, // U sees it (their slot) but may not cancel it
            Writes(&["A@U3 cancelled"], &[BOOKINGS, HISTORY, LOGS, WAITLIST, EVENTS]),
            DENIED,
        ], "SELECT b.status = 'reserved' AND b.auto_processed AND w.state = 'promoted'
                   AND w.booking_id = b.id
              FROM gym_booking.bookings b, gym_booking.waitlist_entries w
             WHERE b.slot_id = {U3} AND b.user_id = {B} AND w.id = {B~U3}"),
        line("POST", "/rpc/create_slot",
            "SELECT trainer_id::text FROM gym_booking.create_slot(
                 date_trunc('hour', now()) + interval '4 days', 45, 3, 'Kettlebells')", [
            DENIED, DENIED, DENIED,
            Writes(&["T"], &[SLOTS, LOGS]),
            Writes(&["U"], &[SLOTS, LOGS]),
            DENIED, // creates the caller's own slot: an admin is not a trainer
            DENIED,
        ]),
        checked("POST", "/rpc/cancel_slot",
            "SELECT id::text || ' ' || (cancelled_at IS NOT NULL) FROM gym_booking.cancel_slot({T1})", [
            DENIED, DENIED, DENIED,
            Writes(&["T1 true"], &[SLOTS, BOOKINGS, HISTORY, LOGS, EVENTS]),
            DENIED,
            Writes(&["T1 true"], &[SLOTS, BOOKINGS, HISTORY, LOGS, EVENTS]),
            DENIED,
        ], "SELECT NOT EXISTS (SELECT FROM gym_booking.bookings
                                WHERE slot_id = {T1} AND status = 'reserved')"),
        // A cancelled slot's waiting entries expire, each with an event to its athlete.
        checked("POST", "/rpc/cancel_slot",
            "SELECT id::text || ' ' || (cancelled_at IS NOT NULL) FROM gym_booking.cancel_slot({T4})", [
            DENIED, DENIED, DENIED,
            Writes(&["T4 true"], &[SLOTS, BOOKINGS, HISTORY, LOGS, WAITLIST, EVENTS]),
            DENIED,
            Writes(&["T4 true"], &[SLOTS, BOOKINGS, HISTORY, LOGS, WAITLIST, EVENTS]),
            DENIED,
        ], "SELECT w.state = 'expired' AND w.ended_at IS NOT NULL
                   AND EXISTS (SELECT FROM gym_booking.events
                                WHERE recipient_id = {A} AND kind = 'waitlist_expired'
                                  AND slot_id = {T4})
                   AND EXISTS (SELECT FROM gym_booking.events
                                WHERE recipient_id = {B} AND kind = 'slot_cancelled'
                                  AND slot_id = {T4})
                   AND NOT EXISTS (SELECT FROM gym_booking.bookings
                                    WHERE slot_id = {T4} AND status = 'reserved')
              FROM gym_booking.waitlist_entries w WHERE w.id = {A~T4}"),
        // Counts of every athlete's bookings, never who booked.
        line("GET", "/rpc/available_slots",
            "SELECT slot_id::text || ' ' || booked || '/' || capacity || ' ' || available || ' ' || waiting
               FROM gym_booking.available_slots()", [
            DENIED,
            Rows(AVAILABLE), Rows(AVAILABLE), Rows(AVAILABLE), Rows(AVAILABLE),
            Rows(AVAILABLE), Rows(AVAILABLE),
        ]),
        line("GET", "/rpc/my_bookings",
            "SELECT booking_id::text || ' ' || status FROM gym_booking.my_bookings()", [
            DENIED,
            Rows(&["A@T1 reserved", "A@T2 cancelled", "A@U2 reserved", "A@PAST reserved",
                   "A@U3 reserved"]),
            Rows(&["B@T1 reserved", "B@T2 cancelled", "B@U1 reserved", "B@T4 reserved"]),
            NOTHING, NOTHING, NOTHING, NOTHING,
        ]),
        // (It runs the auto no-show sweep too: off by default, it marks nobody, but its
        // watermark moves on.)
        checked("POST", "/rpc/complete_past_bookings", "SELECT gym_booking.complete_past_bookings()", [
            DENIED, DENIED, DENIED, DENIED, DENIED,
            Writes(&["1"], &[BOOKINGS, HISTORY, LOGS, SWEEP]),
            Writes(&["1"], &[BOOKINGS, HISTORY, LOGS, SWEEP]),
        ], "SELECT status = 'completed' AND auto_processed FROM gym_booking.bookings WHERE id = {A@PAST}"),
        checked("POST", "/rpc/delete_my_account", "SELECT gym_booking.delete_my_account()", [
            DENIED,
            // An athlete's places free (U3's books B, T4's books A) and their entries end
            // as `removed`; a trainer's slots are cancelled, their waiting entries expire.
            Writes(&[""], &[USERS, BOOKINGS, HISTORY, LOGS, WAITLIST, EVENTS]),
            Writes(&[""], &[USERS, BOOKINGS, HISTORY, LOGS, WAITLIST, EVENTS]),
            Writes(&[""], &[USERS, SLOTS, BOOKINGS, HISTORY, LOGS, DIRECTORY, WAITLIST, EVENTS]),
            Writes(&[""], &[USERS, SLOTS, BOOKINGS, HISTORY, LOGS, DIRECTORY, WAITLIST, EVENTS]),
            Writes(&[""], &[USERS, LOGS]),
            DENIED,
        ], "SELECT u.is_anonymous AND u.deleted_at IS NOT NULL
                   AND NOT EXISTS (SELECT FROM gym_booking.waitlist_entries w
                                    WHERE w.state = 'waiting'
                                      AND (w.user_id = u.id OR w.trainer_id = u.id))
              FROM gym_booking.users u WHERE u.id = {me}"),
        line("GET", "/rpc/current_user_id", "SELECT gym_booking.current_user_id()", [
            Rows(&["NULL"]), Rows(&["A"]), Rows(&["B"]), Rows(&["T"]), Rows(&["U"]),
            Rows(&["ADM"]), Rows(&["NULL"]),
        ]),
    ]
}

/// Future slots in the next 7 days, not cancelled: reserved / capacity, available, waiting.
const AVAILABLE: &[&str] = &[
    "T1 2/3 1 0",
    "T2 0/2 2 0",
    "T3 0/2 2 0",
    "T4 1/1 0 1",
    "U1 1/2 1 0",
    "U2 1/2 1 0",
    "U3 1/1 0 1",
];

/// A was booked into T4 from its waitlist: by the system, its entry promoted and naming the
/// booking, an event to A about it.
const PROMOTED_A_T4: &str = "SELECT b.status = 'reserved' AND b.auto_processed
        AND w.state = 'promoted' AND w.booking_id = b.id AND w.ended_at IS NOT NULL
        AND EXISTS (SELECT FROM gym_booking.events e
                     WHERE e.recipient_id = {A} AND e.kind = 'waitlist_promoted'
                       AND e.booking_id = b.id AND e.slot_id = {T4})
        AND EXISTS (SELECT FROM gym_booking.activity_logs l
                     WHERE l.entity_id = b.id AND l.metadata ->> 'source' = 'system')
   FROM gym_booking.bookings b, gym_booking.waitlist_entries w
  WHERE b.slot_id = {T4} AND b.user_id = {A} AND w.id = {A~T4}";

fn caller_of(name: &str) -> Caller {
    match name {
        "anon" => access::anon(),
        "SRV" => access::service(),
        person => access::person(person),
    }
}

fn run_matrix(test_name: &str, lines: Vec<Line>) {
    run_matrix_on(Fixture::new(test_name), test_name, lines);
}

fn run_matrix_on(mut fixture: Fixture, test_name: &str, lines: Vec<Line>) {
    let callers: Vec<Caller> = CALLERS.iter().map(|c| caller_of(c)).collect();
    let mut sqls: Vec<(usize, usize, String, Option<String>)> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        for (j, who) in CALLERS.iter().enumerate() {
            let me = match *who {
                "anon" | "SRV" => "{A}".to_string(),
                person => format!("{{{person}}}"),
            };
            sqls.push((
                i,
                j,
                l.sql.replace("{me}", &me),
                l.check.map(|c| c.replace("{me}", &me)),
            ));
        }
    }
    let cases: Vec<Case<'_>> = sqls
        .iter()
        .map(|(i, j, sql, check)| Case {
            who: CALLERS[*j],
            caller: &callers[*j],
            raw_claims: None,
            method: lines[*i].method,
            path: lines[*i].path,
            sql,
            expect: lines[*i].expect[*j],
            check: check.as_deref(),
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
fn every_caller_on_every_table() {
    run_matrix("access_matrix_tables", tables());
}

#[test]
fn every_caller_on_every_api_function() {
    run_matrix("access_matrix_api", api());
}

#[test]
fn every_caller_on_every_studio_table() {
    run_matrix("access_matrix_studio_tables", studio::tables());
}

#[test]
fn every_caller_on_every_studio_api_function() {
    run_matrix("access_matrix_studio_api", studio::api());
}

#[test]
fn every_caller_on_series_and_occurrences() {
    let name = "access_matrix_timetable_tables";
    run_matrix_on(Fixture::with_timetables(name), name, timetable::tables());
}

#[test]
fn every_caller_on_every_timetable_api_function() {
    let name = "access_matrix_timetable_api";
    run_matrix_on(Fixture::with_timetables(name), name, timetable::api());
}

#[test]
fn every_caller_on_calendar_tokens_and_feeds() {
    let mut lines = calendar::tables();
    lines.extend(calendar::api());
    run_matrix("access_matrix_calendar", lines);
}

#[test]
fn every_caller_on_attendance_and_the_sweep() {
    let name = "access_matrix_attendance_tables";
    run_matrix_on(Fixture::with_attendance(name), name, attendance::tables());
}

#[test]
fn every_caller_on_every_attendance_api_function() {
    let name = "access_matrix_attendance_api";
    run_matrix_on(Fixture::with_attendance(name), name, attendance::api());
}

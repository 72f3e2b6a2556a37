//! The access matrix of release 0.2.0 (docs/studio-week.md): the settings row, its
//! history, waitlist entries and events, and the API of waitlists and of the delivery worker.
//! Same callers, seed and runner as the parent file.

use super::{
    checked, line, Line, ALL_DENIED, DENIED, EVENTS, NOTHING, SETTINGS, SETTINGS_HISTORY, WAITLIST,
};
use gym_booking_integration::access::Expect::{Refused, RefusedAny, Rows, Writes};

/// The waitlist entries of the seed.
const ALL_ENTRIES: &[&str] = &["A~T4 waiting T", "B~U3 waiting U", "B~U3.left left U"];

/// The events the rules wrote while the seed was made: each booking confirmed, each
/// cancellation (by the athlete or, for B@T2, the admin), B@U1's booking again. Nobody was
/// promoted, no slot was cancelled or moved, nobody was told about a slot being made or a
/// waitlist being joined.
const EVENTS_A: &[&str] = &[
    "A booking_confirmed A@T1",
    "A booking_confirmed A@T2",
    "A booking_confirmed A@U2",
    "A booking_cancelled A@T2",
    "A booking_confirmed A@U3",
];
const EVENTS_B: &[&str] = &[
    "B booking_confirmed B@T1",
    "B booking_confirmed B@T2",
    "B booking_confirmed B@U1",
    "B booking_cancelled B@U1",
    "B booking_confirmed B@U1",
    "B booking_cancelled B@T2",
    "B booking_confirmed B@T4",
];

/// Release 0.2.0's tables: the settings row, its history, waitlist entries, events.
pub(crate) fn tables() -> Vec<Line> {
    vec![
        // studio_settings: one row every client reads ------------------------------------
        line("GET", "/studio_settings",
            "SELECT id::text || ' ' || time_zone || ' ' || cancellation_window || ' '
                    || waitlist_enabled || ' ' || timetable_horizon
               FROM gym_booking.studio_settings",
            [Rows(&["true UTC 01:00:00 true 70 days"]); 7]),
        // The row is the extension's: nobody adds or removes one.
        line("POST", "/studio_settings",
            "INSERT INTO gym_booking.studio_settings (id) VALUES (false) RETURNING id::text", ALL_DENIED),
        line("POST", "/studio_settings",
            "INSERT INTO gym_booking.studio_settings (time_zone) VALUES ('UTC') RETURNING id::text", ALL_DENIED),
        line("DELETE", "/studio_settings", "DELETE FROM gym_booking.studio_settings RETURNING id::text", ALL_DENIED),
        // Only an app admin changes it (the DBA too, as the owner); the change is recorded
        // with who made it and each setting's old and new value. Other signed-in people
        // update nothing (the row is not theirs to change); anon and service_role hold no
        // UPDATE right at all.
        checked("PATCH", "/studio_settings",
            "UPDATE gym_booking.studio_settings SET waitlist_max = 5, time_zone = 'Europe/Berlin'
             RETURNING waitlist_max || ' ' || time_zone", [
            DENIED, NOTHING, NOTHING, NOTHING, NOTHING,
            Writes(&["5 Europe/Berlin"], &[SETTINGS, SETTINGS_HISTORY]),
            DENIED,
        ], "SELECT h.changed_by = {ADM} AND h.changed_by_role = 'admin'
                   AND h.changed_fields -> 'waitlist_max' ->> 'new' = '5'
                   AND h.changed_fields -> 'waitlist_max' -> 'old' = 'null'::jsonb
                   AND h.changed_fields -> 'time_zone' = '{\"old\": \"UTC\", \"new\": \"Europe/Berlin\"}'::jsonb
                   AND NOT h.changed_fields ? 'cancellation_window'
              FROM gym_booking.studio_settings_history h ORDER BY h.id DESC LIMIT 1"),
        // Nor is anything written when the admin's value is refused.
        line("PATCH", "/studio_settings",
            "UPDATE gym_booking.studio_settings SET time_zone = 'Mars/Olympus_Mons' RETURNING time_zone", [
            DENIED, NOTHING, NOTHING, NOTHING, NOTHING, Refused("22023"), DENIED,
        ]),
        line("PATCH", "/studio_settings",
            "UPDATE gym_booking.studio_settings SET cancellation_window = interval '-1 hour'
             RETURNING time_zone", [
            DENIED, NOTHING, NOTHING, NOTHING, NOTHING, Refused("23514"), DENIED,
        ]),
        // Its one row, its id and its record of changes are not the admin's to rewrite.
        line("PATCH", "/studio_settings",
            "UPDATE gym_booking.studio_settings SET id = false RETURNING time_zone", ALL_DENIED),
        line("PATCH", "/studio_settings",
            "UPDATE gym_booking.studio_settings SET updated_by = {A} RETURNING time_zone", ALL_DENIED),
        // studio_settings_history: the admin's and the gym's ------------------------------
        line("GET", "/studio_settings_history",
            "SELECT coalesce(changed_by::text, '-') || ' '
                    || (SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(changed_fields) AS k)
               FROM gym_booking.studio_settings_history", [
            DENIED, NOTHING, NOTHING, NOTHING, NOTHING,
            Rows(&["ADM timetable_horizon"]), Rows(&["ADM timetable_horizon"]),
        ]),
        line("POST", "/studio_settings_history",
            "INSERT INTO gym_booking.studio_settings_history (changed_fields)
             VALUES ('{\"time_zone\": {\"old\": \"UTC\", \"new\": \"UTC\"}}')", ALL_DENIED),
        line("PATCH", "/studio_settings_history",
            "UPDATE gym_booking.studio_settings_history SET changed_by = NULL", ALL_DENIED),
        line("DELETE", "/studio_settings_history", "DELETE FROM gym_booking.studio_settings_history", ALL_DENIED),
        // waitlist_entries: own, the slot's trainer's, the admin's all; nobody writes ------
        line("GET", "/waitlist_entries",
            "SELECT id::text || ' ' || state || ' ' || coalesce(trainer_id::text, '-')
               FROM gym_booking.waitlist_entries", [
            DENIED,
            Rows(&["A~T4 waiting T"]),
            Rows(&["B~U3 waiting U", "B~U3.left left U"]),
            Rows(&["A~T4 waiting T"]),
            Rows(&["B~U3 waiting U", "B~U3.left left U"]),
            Rows(ALL_ENTRIES),
            Rows(ALL_ENTRIES),
        ]),
        line("POST", "/waitlist_entries",
            "INSERT INTO gym_booking.waitlist_entries (slot_id, user_id) VALUES ({U3}, {me})
             RETURNING id::text", ALL_DENIED),
        // Jumping the queue, or promoting oneself.
        line("PATCH", "/waitlist_entries",
            "UPDATE gym_booking.waitlist_entries SET queue_no = 0 RETURNING id::text", ALL_DENIED),
        line("PATCH", "/waitlist_entries",
            "UPDATE gym_booking.waitlist_entries SET state = 'left', ended_at = now() RETURNING id::text",
            ALL_DENIED),
        line("DELETE", "/waitlist_entries", "DELETE FROM gym_booking.waitlist_entries", ALL_DENIED),
        // events: the recipient's own; service_role (the delivery worker) and the app admin,
        // who may do what the service role may, read all ------------------------------------
        line("GET", "/events",
            "SELECT recipient_id::text || ' ' || kind || ' ' || coalesce(booking_id::text, slot_id::text, '-')
               FROM gym_booking.events", [
            DENIED, Rows(EVENTS_A), Rows(EVENTS_B), NOTHING, NOTHING, Rows(ALL_EVENTS),
            Rows(ALL_EVENTS),
        ]),
        line("POST", "/events",
            "INSERT INTO gym_booking.events (recipient_id, kind, payload)
             VALUES ({me}, 'waitlist_promoted', '{\"forged\": true}') RETURNING id::text", ALL_DENIED),
        // Marking delivered goes through ack_events, never the table.
        line("PATCH", "/events",
            "UPDATE gym_booking.events SET delivered_at = now() RETURNING id::text", ALL_DENIED),
        line("PATCH", "/events",
            "UPDATE gym_booking.events SET payload = '{}' RETURNING id::text", ALL_DENIED),
        line("DELETE", "/events", "DELETE FROM gym_booking.events", ALL_DENIED),
    ]
}

/// Every event of the seed (what service_role reads): `EVENTS_A` and `EVENTS_B`.
const ALL_EVENTS: &[&str] = &[
    "A booking_confirmed A@T1",
    "A booking_confirmed A@T2",
    "A booking_confirmed A@U2",
    "A booking_cancelled A@T2",
    "A booking_confirmed A@U3",
    "B booking_confirmed B@T1",
    "B booking_confirmed B@T2",
    "B booking_confirmed B@U1",
    "B booking_cancelled B@U1",
    "B booking_confirmed B@U1",
    "B booking_cancelled B@T2",
    "B booking_confirmed B@T4",
];

/// Release 0.2.0's API: joining and leaving a waitlist, one's entries, the sweep, and the
/// delivery worker's claim and acknowledgement of events.
pub(crate) fn api() -> Vec<Line> {
    vec![
        // Joining: only a full slot, only someone who could book (an athlete, or the admin,
        // who books too; not a trainer, whom book_slot refuses, nor the back office), and
        // joining twice gives the same entry back.
        line("POST", "/rpc/join_waitlist",
            "SELECT user_id::text || '~' || slot_id::text || ' ' || state || ' ' || (ended_at IS NULL)
               FROM gym_booking.join_waitlist({T4})", [
            DENIED,
            Rows(&["A~T4 waiting true"]),
            Refused("22023"), // holds the place
            DENIED,
            DENIED,
            Writes(&["ADM~T4 waiting true"], &[WAITLIST]),
            DENIED,
        ]),
        checked("POST", "/rpc/join_waitlist",
            "SELECT user_id::text || '~' || slot_id::text || ' ' || state
               FROM gym_booking.join_waitlist({U3})", [
            DENIED,
            Refused("22023"),
            Rows(&["B~U3 waiting"]),
            DENIED,
            DENIED,
            Writes(&["ADM~U3 waiting"], &[WAITLIST]),
            DENIED,
        ], "SELECT (SELECT queue_no FROM gym_booking.waitlist_entries WHERE slot_id = {U3} AND user_id = {me}
                                                                          AND state = 'waiting')
                   > (SELECT queue_no FROM gym_booking.waitlist_entries WHERE id = {B~U3})"),
        // A slot with a free place is booked, not waited for (the hint says so).
        line("POST", "/rpc/join_waitlist", "SELECT state FROM gym_booking.join_waitlist({T3})", [
            DENIED, Refused("22023"), Refused("22023"), DENIED, DENIED, Refused("22023"), DENIED,
        ]),
        // A started slot has no list to join (A also holds a place in it).
        line("POST", "/rpc/join_waitlist", "SELECT state FROM gym_booking.join_waitlist({PAST})", [
            DENIED, RefusedAny(&["23000", "22023"]), Refused("23000"), DENIED, DENIED,
            Refused("23000"), DENIED,
        ]),
        line("POST", "/rpc/join_waitlist",
            "SELECT state FROM gym_booking.join_waitlist('00000000-0000-4000-8000-00000000beef')", [
            DENIED, Refused("42704"), Refused("42704"), DENIED, DENIED, Refused("42704"), DENIED,
        ]),
        // Leaving ends one's own waiting entry; nobody else's.
        checked("POST", "/rpc/leave_waitlist",
            "SELECT id::text || ' ' || state FROM gym_booking.leave_waitlist({T4})", [
            DENIED,
            Writes(&["A~T4 left"], &[WAITLIST]),
            Refused("42704"),
            Refused("42704"),
            Refused("42704"),
            Refused("42704"),
            DENIED,
        ], "SELECT ended_at IS NOT NULL AND booking_id IS NULL
              FROM gym_booking.waitlist_entries WHERE id = {A~T4}"),
        line("GET", "/rpc/my_waitlist",
            "SELECT entry_id::text || ' ' || slot_id::text || ' ' || trainer_id::text || ' '
                    || \"position\" || '/' || waiting
               FROM gym_booking.my_waitlist()", [
            DENIED,
            Rows(&["A~T4 T4 T 1/1"]),
            Rows(&["B~U3 U3 U 1/1"]),
            NOTHING, NOTHING, NOTHING, NOTHING,
        ]),
        // The sweep: the admin's and the back office's; nothing is free, nobody is booked.
        line("POST", "/rpc/promote_waitlists", "SELECT gym_booking.promote_waitlists()", [
            DENIED, DENIED, DENIED, DENIED, DENIED, Rows(&["0"]), Rows(&["0"]),
        ]),
        // The delivery worker claims undelivered events, oldest first, each with a lease.
        checked("POST", "/rpc/claim_events",
            "SELECT recipient_id::text || ' ' || kind || ' ' || coalesce(booking_id::text, slot_id::text, '-')
                    || ' ' || attempts
               FROM gym_booking.claim_events(2, interval '1 minute')", [
            // (The delivery worker's: service_role's, and the app admin's, who may do what the
            // service role may.)
            DENIED, DENIED, DENIED, DENIED, DENIED,
            Writes(&["A booking_confirmed A@T1 1", "A booking_confirmed A@T2 1"], &[EVENTS]),
            Writes(&["A booking_confirmed A@T1 1", "A booking_confirmed A@T2 1"], &[EVENTS]),
        ], "SELECT count(*) FILTER (WHERE claimed_until > now()) = 2
                   AND count(*) FILTER (WHERE claimed_until > now() + interval '61 seconds') = 0
                   AND count(*) FILTER (WHERE delivered_at IS NOT NULL) = 0
              FROM gym_booking.events"),
        checked("POST", "/rpc/ack_events",
            "SELECT gym_booking.ack_events(ARRAY(SELECT id FROM gym_booking.events))", [
            DENIED, DENIED, DENIED, DENIED, DENIED,
            Writes(&["12"], &[EVENTS]),
            Writes(&["12"], &[EVENTS]),
        ], "SELECT bool_and(delivered_at IS NOT NULL) FROM gym_booking.events"),
    ]
}

//! The access matrix of release 0.2.2 (DESIGN.md, "Attendance"): attendance marks (the athlete
//! reads their own, the slot's trainer those of their slots, the gym all; no client writes
//! them), the auto no-show sweep's watermark (nobody's to read or write), and who may mark,
//! excuse, sweep, read a roster, a suspension and the reports. Same callers and runner as the
//! parent file, on the seed with attendance (`Fixture::with_attendance`): T's ended slot PAST
//! with A's place unmarked and B's marked a no-show by T (`B@PAST`), U's ended slot UPAST with
//! A's place marked attended by U (`A@UPAST`). Both slots are inside their attendance period.

use super::{checked, line, Line, ALL_DENIED, ATTENDANCE, DENIED, EVENTS, LOGS, NOTHING, SWEEP};
use gym_booking_integration::access::Expect::{Refused, Rows, Writes};

/// The seed's marks as each reader sees them: booking, mark, athlete, slot, the slot's
/// trainer (the row's copy), who marked, excused.
const MARK_B_PAST: &str = "B@PAST no_show B PAST T T false";
const MARK_A_UPAST: &str = "A@UPAST attended A UPAST U U false";

/// The attendance and attendance_sweep tables, read and written directly.
pub(crate) fn tables() -> Vec<Line> {
    vec![
        // attendance: own, the slot's trainer's, the gym's all; anon holds no right --------
        line("GET", "/attendance",
            "SELECT booking_id::text || ' ' || mark || ' ' || user_id::text || ' ' || slot_id::text
                    || ' ' || trainer_id::text || ' ' || coalesce(marked_by::text, '-')
                    || ' ' || (excused_at IS NOT NULL)
               FROM gym_booking.attendance", [
            DENIED,
            Rows(&[MARK_A_UPAST]),
            Rows(&[MARK_B_PAST]),
            Rows(&[MARK_B_PAST]),
            Rows(&[MARK_A_UPAST]),
            Rows(&[MARK_B_PAST, MARK_A_UPAST]),
            Rows(&[MARK_B_PAST, MARK_A_UPAST]),
        ]),
        // A strike is the slot's start, whoever reads it.
        line("GET", "/attendance?mark=eq.no_show",
            "SELECT booking_id::text || ' ' || (a.strike_at = s.start_at)
               FROM gym_booking.attendance AS a JOIN gym_booking.slots AS s ON s.id = a.slot_id
              WHERE a.mark = 'no_show'", [
            DENIED, NOTHING, Rows(&["B@PAST true"]), Rows(&["B@PAST true"]), NOTHING,
            Rows(&["B@PAST true"]), Rows(&["B@PAST true"]),
        ]),
        // Nobody writes a mark but the API: not the trainer who may mark, not the gym (no
        // INSERT, UPDATE or DELETE grant to any client role).
        line("POST", "/attendance",
            "INSERT INTO gym_booking.attendance (booking_id, user_id, slot_id, trainer_id, mark, strike_at)
             VALUES ({A@PAST}, {A}, {PAST}, {T}, 'attended', now()) RETURNING booking_id::text",
            ALL_DENIED),
        line("PATCH", "/attendance",
            "UPDATE gym_booking.attendance SET mark = 'attended' RETURNING booking_id::text", ALL_DENIED),
        // An excuse (or a strike moved out of the window) is the API's, with its log row.
        line("PATCH", "/attendance",
            "UPDATE gym_booking.attendance SET excused_at = now(), excused_by = {me}
             RETURNING booking_id::text", ALL_DENIED),
        line("PATCH", "/attendance",
            "UPDATE gym_booking.attendance SET strike_at = strike_at - interval '1 year'
             RETURNING booking_id::text", ALL_DENIED),
        line("DELETE", "/attendance",
            "DELETE FROM gym_booking.attendance RETURNING booking_id::text", ALL_DENIED),
        // attendance_sweep: the sweep's own; no client reads or moves it ------------------
        line("GET", "/attendance_sweep",
            "SELECT swept_until::text FROM gym_booking.attendance_sweep", ALL_DENIED),
        line("POST", "/attendance_sweep",
            "INSERT INTO gym_booking.attendance_sweep (id, swept_until) VALUES (false, now())
             RETURNING id::text", ALL_DENIED),
        // Moved back, the next sweep would mark years of history.
        line("PATCH", "/attendance_sweep",
            "UPDATE gym_booking.attendance_sweep SET swept_until = '-infinity' RETURNING id::text",
            ALL_DENIED),
        line("DELETE", "/attendance_sweep",
            "DELETE FROM gym_booking.attendance_sweep RETURNING id::text", ALL_DENIED),
    ]
}

/// A mark as the API returns it: booking, mark, who marked.
macro_rules! mark {
    ($booking:literal, $mark:literal) => {
        concat!(
            "SELECT booking_id::text || ' ' || mark || ' ' || coalesce(marked_by::text, '-')
               FROM gym_booking.mark_attendance({",
            $booking,
            "}, '",
            $mark,
            "')"
        )
    };
}

/// The log row a mark leaves: its booking, `update`, the mark's old and new value.
macro_rules! logged {
    ($booking:literal, $old:literal, $new:literal) => {
        concat!(
            "SELECT count(*) = 1 FROM gym_booking.activity_logs
              WHERE entity_type = 'booking' AND entity_id = {",
            $booking,
            "} AND action = 'update'
                AND changed_fields -> 'attendance' = '{\"old\": ",
            $old,
            ", \"new\": ",
            $new,
            "}'::jsonb"
        )
    };
}

/// The period the reports cover: the studio's (UTC) days from two days ago to six days
/// ahead, every slot of the seed inside it whatever the time of day.
macro_rules! period {
    ($function:literal, $extra:literal) => {
        concat!(
            "FROM gym_booking.",
            $function,
            "((now() AT TIME ZONE 'UTC')::date - 2, (now() AT TIME ZONE 'UTC')::date + 6",
            $extra,
            ")"
        )
    };
}

/// One line of slot_report: slot, trainer, capacity, booked, attended, no-shows,
/// cancellations, promotions, utilization.
macro_rules! slot_report {
    ($extra:literal) => {
        concat!(
            "SELECT slot_id::text || ' ' || trainer_id::text || ' ' || capacity || ' ' || booked
                    || ' ' || attended || ' ' || no_shows || ' ' || cancellations || ' '
                    || promotions || ' ' || round(utilization, 4) ",
            period!("slot_report", $extra)
        )
    };
}

/// The seed's slots in slot_report, T's and U's (B@U1 was cancelled and booked again: it holds
/// a place; T2's two bookings are cancelled).
const SLOTS_T: &[&str] = &[
    "T1 T 3 2 0 0 0 0 0.6667",
    "T2 T 2 0 0 0 2 0 0.0000",
    "T3 T 2 0 0 0 0 0 0.0000",
    "T4 T 1 1 0 0 0 0 1.0000",
    "PAST T 4 2 0 1 0 0 0.5000",
];
const SLOTS_U: &[&str] = &[
    "U1 U 2 1 0 0 0 0 0.5000",
    "U2 U 2 1 0 0 0 0 0.5000",
    "U3 U 1 1 0 0 0 0 1.0000",
    "UPAST U 2 1 1 0 0 0 0.5000",
];
const SLOTS_ALL: &[&str] = &[
    "T1 T 3 2 0 0 0 0 0.6667",
    "T2 T 2 0 0 0 2 0 0.0000",
    "T3 T 2 0 0 0 0 0 0.0000",
    "T4 T 1 1 0 0 0 0 1.0000",
    "PAST T 4 2 0 1 0 0 0.5000",
    "U1 U 2 1 0 0 0 0 0.5000",
    "U2 U 2 1 0 0 0 0 0.5000",
    "U3 U 1 1 0 0 0 0 1.0000",
    "UPAST U 2 1 1 0 0 0 0.5000",
];

/// trainer_report: trainer, first name, slots, capacity, booked, attended, no-shows,
/// cancellations, promotions, utilization (sum booked / sum capacity).
const TRAINER_T: &str = "T Tom 5 12 5 0 1 2 0 0.4167";
const TRAINER_U: &str = "U Uma 4 7 4 1 0 0 0 0.5714";

/// athlete_report: athlete, bookings holding a place, attended, no-shows, cancellations,
/// attendance rate, no-show rate (`-` when nothing is marked), strikes now, suspended until.
/// The gym's figures are over every slot; a trainer's over their own slots only (strikes are
/// the athlete's now, as athlete_suspension says).
const ATHLETE_A: &str = "A 5 1 0 1 1.0000 0.0000 0 -";
const ATHLETE_B: &str = "B 4 0 1 1 0.0000 1.0000 1 -";
const A_FOR_T: &str = "A 2 0 0 1 - - 0 -";
const B_FOR_T: &str = "B 3 0 1 1 0.0000 1.0000 1 -";
const A_FOR_U: &str = "A 3 1 0 0 1.0000 0.0000 0 -";
const B_FOR_U: &str = "B 1 0 0 0 - - 1 -";

macro_rules! athlete_report {
    ($extra:literal) => {
        concat!(
            "SELECT user_id::text || ' ' || bookings || ' ' || attended || ' ' || no_shows || ' '
                    || cancellations || ' ' || coalesce(round(attendance_rate, 4)::text, '-') || ' '
                    || coalesce(round(no_show_rate, 4)::text, '-') || ' ' || strikes || ' '
                    || coalesce(suspended_until::text, '-') ",
            period!("athlete_report", $extra)
        )
    };
}

/// The roster of a slot: booking (`-` for a waiting athlete), athlete, names, booking status,
/// waitlist position, mark, excused.
macro_rules! roster {
    ($slot:literal) => {
        concat!(
            "SELECT coalesce(booking_id::text, '-') || ' ' || athlete_id::text || ' ' || first_name
                    || ' ' || last_name || ' ' || coalesce(booking_status::text, '-') || ' '
                    || coalesce(waitlist_position::text, '-') || ' ' || coalesce(mark::text, '-')
                    || ' ' || coalesce(excused, false)
               FROM gym_booking.slot_roster({",
            $slot,
            "})"
        )
    };
}

/// The attendance API: marking, excusing, the sweep, rosters, suspensions, reports.
pub(crate) fn api() -> Vec<Line> {
    vec![
        // Marking: the slot's trainer and the gym, inside the period; athletes and anon are
        // refused, and another trainer's booking is one a trainer cannot see: not found (as
        // sql/attendance.sql says). Every mark is logged and tells the athlete (an event:
        // attendance_marked, or no_show_recorded).
        checked("POST", "/rpc/mark_attendance", mark!("A@PAST", "attended"), [
            DENIED, DENIED, DENIED,
            Writes(&["A@PAST attended T"], &[ATTENDANCE, LOGS, EVENTS]),
            Refused("42704"),
            Writes(&["A@PAST attended ADM"], &[ATTENDANCE, LOGS, EVENTS]),
            Writes(&["A@PAST attended -"], &[ATTENDANCE, LOGS, EVENTS]),
        ], concat!(logged!("A@PAST", "null", "\"attended\""),
                   " AND EXISTS (SELECT FROM gym_booking.events e
                                  WHERE e.recipient_id = {A} AND e.kind = 'attendance_marked'
                                    AND e.booking_id = {A@PAST} AND e.payload ->> 'mark' = 'attended')")),
        checked("POST", "/rpc/mark_attendance", mark!("A@PAST", "no_show"), [
            DENIED, DENIED, DENIED,
            Writes(&["A@PAST no_show T"], &[ATTENDANCE, LOGS, EVENTS]),
            Refused("42704"),
            Writes(&["A@PAST no_show ADM"], &[ATTENDANCE, LOGS, EVENTS]),
            Writes(&["A@PAST no_show -"], &[ATTENDANCE, LOGS, EVENTS]),
        ], "SELECT a.strike_at = s.start_at AND a.user_id = {A} AND a.trainer_id = {T}
                   AND EXISTS (SELECT FROM gym_booking.events e
                                WHERE e.recipient_id = {A} AND e.kind = 'no_show_recorded'
                                  AND e.booking_id = {A@PAST}
                                  AND (e.payload ->> 'start_at')::timestamptz = s.start_at
                                  AND (e.payload ->> 'end_at')::timestamptz = s.end_at
                                  AND NOT e.payload ? 'suspended_until')
              FROM gym_booking.attendance a JOIN gym_booking.slots s ON s.id = a.slot_id
             WHERE a.booking_id = {A@PAST}"),
        // Changing a mark inside the period: logged, and the athlete told of the correction.
        checked("POST", "/rpc/mark_attendance", mark!("B@PAST", "attended"), [
            DENIED, DENIED, DENIED,
            Writes(&["B@PAST attended T"], &[ATTENDANCE, LOGS, EVENTS]),
            Refused("42704"),
            Writes(&["B@PAST attended ADM"], &[ATTENDANCE, LOGS, EVENTS]),
            Writes(&["B@PAST attended -"], &[ATTENDANCE, LOGS, EVENTS]),
        ], concat!(logged!("B@PAST", "\"no_show\"", "\"attended\""),
                   " AND EXISTS (SELECT FROM gym_booking.events e
                                  WHERE e.recipient_id = {B} AND e.kind = 'attendance_marked'
                                    AND e.booking_id = {B@PAST} AND e.payload ->> 'previous' = 'no_show')")),
        // The same mark again changes and writes nothing (T's mark stays T's).
        line("POST", "/rpc/mark_attendance", mark!("B@PAST", "no_show"), [
            DENIED, DENIED, DENIED,
            Rows(&["B@PAST no_show T"]),
            Refused("42704"),
            Rows(&["B@PAST no_show T"]),
            Rows(&["B@PAST no_show T"]),
        ]),
        // U's slot: U marks; T does not find it.
        line("POST", "/rpc/mark_attendance", mark!("A@UPAST", "no_show"), [
            DENIED, DENIED, DENIED, Refused("42704"),
            Writes(&["A@UPAST no_show U"], &[ATTENDANCE, LOGS, EVENTS]),
            Writes(&["A@UPAST no_show ADM"], &[ATTENDANCE, LOGS, EVENTS]),
            Writes(&["A@UPAST no_show -"], &[ATTENDANCE, LOGS, EVENTS]),
        ]),
        // Before the slot starts there is nothing to mark (22023, for whoever may mark).
        line("POST", "/rpc/mark_attendance", mark!("A@T1", "attended"), [
            DENIED, DENIED, DENIED, Refused("22023"), Refused("42704"), Refused("22023"),
            Refused("22023"),
        ]),
        // A cancelled booking holds no place to mark.
        line("POST", "/rpc/mark_attendance", mark!("A@T2", "no_show"), [
            DENIED, DENIED, DENIED, Refused("22023"), Refused("42704"), Refused("22023"),
            Refused("22023"),
        ]),
        line("POST", "/rpc/mark_attendance",
            "SELECT mark FROM gym_booking.mark_attendance('00000000-0000-4000-8000-00000000beef', 'attended')", [
            DENIED, DENIED, DENIED, Refused("42704"), Refused("42704"), Refused("42704"),
            Refused("42704"),
        ]),
        // Excusing: the gym's alone; it keeps the mark, is logged and tells the athlete.
        checked("POST", "/rpc/excuse_no_show",
            "SELECT booking_id::text || ' ' || mark || ' ' || (excused_at IS NOT NULL) || ' '
                    || coalesce(excused_by::text, '-')
               FROM gym_booking.excuse_no_show({B@PAST})", [
            DENIED, DENIED, DENIED, DENIED, DENIED,
            Writes(&["B@PAST no_show true ADM"], &[ATTENDANCE, LOGS, EVENTS]),
            Writes(&["B@PAST no_show true -"], &[ATTENDANCE, LOGS, EVENTS]),
        ], "SELECT count(*) = 1
                   AND EXISTS (SELECT FROM gym_booking.events e
                                WHERE e.recipient_id = {B} AND e.kind = 'no_show_excused'
                                  AND e.booking_id = {B@PAST})
              FROM gym_booking.activity_logs
             WHERE entity_id = {B@PAST}
               AND changed_fields -> 'excused' = '{\"old\": false, \"new\": true}'::jsonb"),
        // Only a no-show is excused: not an attendance, not a booking without a mark (SPEC:
        // 22023 for both).
        line("POST", "/rpc/excuse_no_show", "SELECT mark FROM gym_booking.excuse_no_show({A@UPAST})", [
            DENIED, DENIED, DENIED, DENIED, DENIED, Refused("22023"), Refused("22023"),
        ]),
        line("POST", "/rpc/excuse_no_show", "SELECT mark FROM gym_booking.excuse_no_show({A@PAST})", [
            DENIED, DENIED, DENIED, DENIED, DENIED, Refused("22023"), Refused("22023"),
        ]),
        // The sweep is the gym's. With auto_no_show off (the default) it marks nobody, but its
        // watermark moves on.
        line("POST", "/rpc/record_no_shows", "SELECT gym_booking.record_no_shows()", [
            DENIED, DENIED, DENIED, DENIED, DENIED,
            Writes(&["0"], &[SWEEP]),
            Writes(&["0"], &[SWEEP]),
        ]),
        // Rosters: the slot's trainer and the gym; names and marks of the booked, then the
        // waiting by position.
        line("GET", "/rpc/slot_roster", roster!("PAST"), [
            DENIED, DENIED, DENIED,
            Rows(ROSTER_PAST), DENIED, Rows(ROSTER_PAST), Rows(ROSTER_PAST),
        ]),
        line("GET", "/rpc/slot_roster", roster!("T4"), [
            DENIED, DENIED, DENIED,
            Rows(ROSTER_T4), DENIED, Rows(ROSTER_T4), Rows(ROSTER_T4),
        ]),
        line("GET", "/rpc/slot_roster", roster!("UPAST"), [
            DENIED, DENIED, DENIED, DENIED,
            Rows(ROSTER_UPAST), Rows(ROSTER_UPAST), Rows(ROSTER_UPAST),
        ]),
        // Suspensions: one's own (a trainer's and an admin's are none); any athlete's for the
        // gym. The back office has no own.
        line("GET", "/rpc/athlete_suspension",
            "SELECT strikes || ' ' || coalesce(suspended_until::text, '-')
               FROM gym_booking.athlete_suspension({B})", [
            DENIED, DENIED, Rows(&["1 -"]), DENIED, DENIED, Rows(&["1 -"]), Rows(&["1 -"]),
        ]),
        line("GET", "/rpc/athlete_suspension",
            "SELECT strikes || ' ' || coalesce(suspended_until::text, '-')
               FROM gym_booking.athlete_suspension()", [
            DENIED, Rows(&["0 -"]), Rows(&["1 -"]), Rows(&["0 -"]), Rows(&["0 -"]), Rows(&["0 -"]),
            DENIED,
        ]),
        // Reports: the gym all, a trainer their own slots, athletes none of the slots'.
        line("GET", "/rpc/slot_report", slot_report!(""), [
            DENIED, DENIED, DENIED, Rows(SLOTS_T), Rows(SLOTS_U), Rows(SLOTS_ALL), Rows(SLOTS_ALL),
        ]),
        line("GET", "/rpc/slot_report", slot_report!(", for_trainer => {U}"), [
            DENIED, DENIED, DENIED, DENIED, Rows(SLOTS_U), Rows(SLOTS_U), Rows(SLOTS_U),
        ]),
        line("GET", "/rpc/trainer_report",
            concat!(
                "SELECT trainer_id::text || ' ' || first_name || ' ' || slots || ' ' || capacity
                        || ' ' || booked || ' ' || attended || ' ' || no_shows || ' ' || cancellations
                        || ' ' || promotions || ' ' || round(utilization, 4) ",
                period!("trainer_report", "")
            ), [
            DENIED, DENIED, DENIED, Rows(&[TRAINER_T]), Rows(&[TRAINER_U]),
            Rows(&[TRAINER_T, TRAINER_U]), Rows(&[TRAINER_T, TRAINER_U]),
        ]),
        line("GET", "/rpc/trainer_report",
            concat!("SELECT trainer_id::text ", period!("trainer_report", ", for_trainer => {T}")), [
            DENIED, DENIED, DENIED, Rows(&["T"]), DENIED, Rows(&["T"]), Rows(&["T"]),
        ]),
        line("GET", "/rpc/athlete_report", athlete_report!(""), [
            DENIED, Rows(&[ATHLETE_A]), Rows(&[ATHLETE_B]), Rows(&[A_FOR_T, B_FOR_T]),
            Rows(&[A_FOR_U, B_FOR_U]), Rows(&[ATHLETE_A, ATHLETE_B]), Rows(&[ATHLETE_A, ATHLETE_B]),
        ]),
        line("GET", "/rpc/athlete_report", athlete_report!(", for_athlete => {B}"), [
            DENIED, DENIED, Rows(&[ATHLETE_B]), Rows(&[B_FOR_T]),
            Rows(&[B_FOR_U]), Rows(&[ATHLETE_B]), Rows(&[ATHLETE_B]),
        ]),
    ]
}

/// PAST's roster: A's place unmarked, B's a no-show (by last name: Athlete, Bench).
const ROSTER_PAST: &[&str] = &[
    "A@PAST A Anna Athlete reserved - - false",
    "B@PAST B Ben Bench reserved - no_show false",
];
/// T4's: B holds the one place, A waits first.
const ROSTER_T4: &[&str] = &[
    "B@T4 B Ben Bench reserved - - false",
    "- A Anna Athlete - 1 - false",
];
const ROSTER_UPAST: &[&str] = &["A@UPAST A Anna Athlete reserved - attended false"];

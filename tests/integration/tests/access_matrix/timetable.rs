//! The access matrix of release 0.2.1 (README, "Timetables"): series, the occurrence columns
//! of slots (`series_id`, `series_date`) and the timetable API. Same callers and runner as the
//! parent file, on the seed with timetables (`Fixture::with_timetables`): T's series ST with
//! occurrences ST.1 (A holds a place, `A@ST.1`) and ST.2, U's series SU with occurrence SU.1,
//! made one day short of its last date.
//!
//! Everyone signed in reads series, as they read slots; nobody writes them but the API, not
//! even the gym. An occurrence is a slot like any other (its trainer changes or deletes it),
//! but which series and date it belongs to is the API's to say: no client role may change
//! `series_id` or `series_date`, and only `service_role` (the back office, which inserts any
//! slot) may set them in a new row.

use super::{
    checked, line, Line, ALL_DENIED, BOOKINGS, DENIED, EVENTS, HISTORY, LOGS, NOTHING, SERIES,
    SLOTS,
};
use gym_booking_integration::access::Expect::{Refused, Rows, Writes};

/// The seed's series as every signed-in caller reads them: id, trainer, local start,
/// capacity, and how many days past its first date it is made.
const ALL_SERIES: &[&str] = &["ST T 07:00:00 2 1", "SU U 18:00:00 1 0"];

/// The seed's occurrences: slot, series, days after the series' first date.
const ALL_OCCURRENCES: &[&str] = &["ST.1 ST 0", "ST.2 ST 1", "SU.1 SU 0"];

/// Series and the occurrence columns, read and written directly.
pub(crate) fn tables() -> Vec<Line> {
    vec![
        // series: every signed-in caller reads all; anon holds no right -----------------
        line("GET", "/series",
            "SELECT id::text || ' ' || trainer_id::text || ' ' || local_start || ' ' || capacity
                    || ' ' || (made_until - first_date)
               FROM gym_booking.series", [
            DENIED, Rows(ALL_SERIES), Rows(ALL_SERIES), Rows(ALL_SERIES), Rows(ALL_SERIES),
            Rows(ALL_SERIES), Rows(ALL_SERIES),
        ]),
        // Nobody writes a series but the API (no write grant, not even to the gym): a
        // series made by hand would have no occurrences, one changed by hand would disagree
        // with them.
        line("POST", "/series",
            "INSERT INTO gym_booking.series (trainer_id, weekdays, local_start, time_zone, first_date)
             VALUES ({me}, '{1}', '07:00', 'UTC', '2030-01-07') RETURNING id::text", ALL_DENIED),
        line("PATCH", "/series", "UPDATE gym_booking.series SET capacity = 20 RETURNING id::text", ALL_DENIED),
        line("PATCH", "/series",
            "UPDATE gym_booking.series SET trainer_id = {me} WHERE id = {SU} RETURNING id::text", ALL_DENIED),
        line("PATCH", "/series",
            "UPDATE gym_booking.series SET cancelled_from = NULL, made_until = NULL RETURNING id::text",
            ALL_DENIED),
        line("DELETE", "/series", "DELETE FROM gym_booking.series WHERE id = {SU} RETURNING id::text", ALL_DENIED),
        // occurrences: slots, read as slots are --------------------------------------------
        line("GET", "/slots?series_id=not.is.null",
            "SELECT o.id::text || ' ' || o.series_id::text || ' '
                    || (o.series_date - (SELECT s.first_date FROM gym_booking.series AS s
                                          WHERE s.id = o.series_id))
               FROM gym_booking.slots AS o WHERE o.series_id IS NOT NULL", [
            DENIED, Rows(ALL_OCCURRENCES), Rows(ALL_OCCURRENCES), Rows(ALL_OCCURRENCES),
            Rows(ALL_OCCURRENCES), Rows(ALL_OCCURRENCES), Rows(ALL_OCCURRENCES),
        ]),
        // A new slot naming its series: only the back office's INSERT (it inserts any
        // slot); every other role is refused by the column grants, the admin included.
        checked("POST", "/slots",
            "INSERT INTO gym_booking.slots (trainer_id, start_at, capacity, series_id, series_date)
             VALUES ({T}, date_trunc('hour', now()) + interval '8 days', 2, {ST},
                     (now() AT TIME ZONE 'UTC')::date + 8)
             RETURNING trainer_id::text || ' ' || series_id::text", [
            DENIED, DENIED, DENIED, DENIED, DENIED, DENIED,
            Writes(&["T ST"], &[SLOTS, LOGS]),
        ], "SELECT count(*) = 3 FROM gym_booking.slots WHERE series_id = {ST}"),
        // ... and then an occurrence is a series and a date, both or neither (a CHECK).
        line("POST", "/slots",
            "INSERT INTO gym_booking.slots (trainer_id, start_at, capacity, series_date)
             VALUES ({T}, date_trunc('hour', now()) + interval '8 days', 2,
                     (now() AT TIME ZONE 'UTC')::date + 8)
             RETURNING id::text", [
            DENIED, DENIED, DENIED, DENIED, DENIED, DENIED, Refused("23514"),
        ]),
        // Nobody moves an occurrence to another series or date, or detaches it: the series
        // would make it again, or edit a slot that is no longer its own.
        line("PATCH", "/slots?id=eq.ST.2",
            "UPDATE gym_booking.slots SET series_id = {SU} WHERE id = {ST.2} RETURNING id::text", ALL_DENIED),
        line("PATCH", "/slots?series_id=not.is.null",
            "UPDATE gym_booking.slots SET series_date = series_date + 7 WHERE series_id IS NOT NULL
             RETURNING id::text", ALL_DENIED),
        line("PATCH", "/slots?id=eq.ST.2",
            "UPDATE gym_booking.slots SET series_id = NULL, series_date = NULL WHERE id = {ST.2}
             RETURNING id::text", ALL_DENIED),
        // One occurrence is changed or deleted as any slot is, by its trainer, the admin or
        // the back office; it stays in its series (the series itself is not touched).
        checked("PATCH", "/slots?id=eq.ST.2",
            "UPDATE gym_booking.slots SET notes = 'Bring a mat' WHERE id = {ST.2}
             RETURNING id::text || ' ' || series_id::text", [
            DENIED, NOTHING, NOTHING,
            Writes(&["ST.2 ST"], &[SLOTS, LOGS]),
            NOTHING,
            Writes(&["ST.2 ST"], &[SLOTS, LOGS]),
            Writes(&["ST.2 ST"], &[SLOTS, LOGS]),
        ], "SELECT series_id = {ST} AND series_date IS NOT NULL FROM gym_booking.slots WHERE id = {ST.2}"),
        line("DELETE", "/slots?id=eq.ST.2",
            "DELETE FROM gym_booking.slots WHERE id = {ST.2} RETURNING id::text", [
            DENIED, NOTHING, NOTHING,
            Writes(&["ST.2"], &[SLOTS, LOGS]),
            NOTHING,
            Writes(&["ST.2"], &[SLOTS, LOGS]),
            Writes(&["ST.2"], &[SLOTS, LOGS]),
        ]),
    ]
}

/// A new series, every day for two days eight and nine days from now (studio time).
macro_rules! new_series {
    ($extra:literal) => {
        concat!(
            "SELECT trainer_id::text || ' ' || local_start || ' ' || (made_until - first_date)
               FROM gym_booking.create_series(ARRAY[1, 2, 3, 4, 5, 6, 7], '09:00',
                    (now() AT TIME ZONE 'UTC')::date + 8, (now() AT TIME ZONE 'UTC')::date + 9",
            $extra,
            ")"
        )
    };
}

/// The new series' two occurrences are the trainer's, at 09:00 UTC on their dates.
macro_rules! made_09 {
    ($trainer:literal) => {
        concat!(
            "SELECT count(*) = 2
                    AND bool_and(o.trainer_id = s.trainer_id
                                 AND o.start_at = (o.series_date + time '09:00') AT TIME ZONE 'UTC'
                                 AND o.capacity = 1 AND o.cancelled_at IS NULL)
               FROM gym_booking.series AS s JOIN gym_booking.slots AS o ON o.series_id = s.id
              WHERE s.local_start = '09:00' AND s.trainer_id = ",
            $trainer
        )
    };
}

/// The timetable API: who may create, edit and cancel a series, run the sweep, read a start.
pub(crate) fn api() -> Vec<Line> {
    vec![
        // A trainer creates their own series (and its occurrences, in the same call). The
        // admin and the back office are the gym: they name the trainer (below); the admin,
        // who is no trainer, cannot be one (23503, as for an unknown trainer); service_role
        // has no account at all.
        checked("POST", "/rpc/create_series", new_series!(""), [
            DENIED, DENIED, DENIED,
            Writes(&["T 09:00:00 1"], &[SERIES, SLOTS, LOGS]),
            Writes(&["U 09:00:00 1"], &[SERIES, SLOTS, LOGS]),
            Refused("23503"),
            DENIED,
        ], made_09!("{me}")),
        checked("POST", "/rpc/create_series", new_series!(", trainer_id => {T}"), [
            DENIED, DENIED, DENIED,
            Writes(&["T 09:00:00 1"], &[SERIES, SLOTS, LOGS]),
            DENIED, // not another trainer's
            Writes(&["T 09:00:00 1"], &[SERIES, SLOTS, LOGS]),
            Writes(&["T 09:00:00 1"], &[SERIES, SLOTS, LOGS]),
        ], made_09!("{T}")),
        // Nor anyone's series for someone who is not a trainer.
        line("POST", "/rpc/create_series", new_series!(", trainer_id => {A}"), [
            DENIED, DENIED, DENIED, DENIED, DENIED, Refused("23503"), Refused("23503"),
        ]),
        // Editing: the series' trainer and the gym; A's booking keeps ST.1 as it is.
        checked("POST", "/rpc/edit_series",
            "SELECT slot_id::text || ' ' || outcome FROM gym_booking.edit_series({ST}, capacity => 3)", [
            DENIED, DENIED, DENIED,
            Writes(&["ST.1 kept: booked", "ST.2 changed"], &[SERIES, SLOTS, LOGS]),
            DENIED,
            Writes(&["ST.1 kept: booked", "ST.2 changed"], &[SERIES, SLOTS, LOGS]),
            Writes(&["ST.1 kept: booked", "ST.2 changed"], &[SERIES, SLOTS, LOGS]),
        ], "SELECT (SELECT capacity FROM gym_booking.series WHERE id = {ST}) = 3
                   AND (SELECT capacity FROM gym_booking.slots WHERE id = {ST.2}) = 3
                   AND (SELECT capacity FROM gym_booking.slots WHERE id = {ST.1}) = 2"),
        // (U's edit also makes the occurrence SU was short of, up to the horizon, and says so:
        // its id is new, so the answer shows it by its outcome alone.)
        checked("POST", "/rpc/edit_series",
            "SELECT CASE WHEN outcome = 'created' THEN outcome ELSE slot_id::text || ' ' || outcome END
               FROM gym_booking.edit_series({SU}, notes => 'Bring a band')", [
            DENIED, DENIED, DENIED, DENIED,
            Writes(&["SU.1 changed", "created"], &[SERIES, SLOTS, LOGS]),
            Writes(&["SU.1 changed", "created"], &[SERIES, SLOTS, LOGS]),
            Writes(&["SU.1 changed", "created"], &[SERIES, SLOTS, LOGS]),
        ], "SELECT (SELECT notes FROM gym_booking.slots WHERE id = {SU.1}) = 'Bring a band'
                   AND (SELECT notes FROM gym_booking.series WHERE id = {SU}) = 'Bring a band'
                   AND (SELECT count(*) FROM gym_booking.slots
                         WHERE series_id = {SU} AND notes = 'Bring a band') = 2"),
        // Cancelling: every occurrence not started, with the cascade of a slot cancellation
        // (A's place in ST.1 is cancelled by the system and A is told).
        checked("POST", "/rpc/cancel_series", "SELECT gym_booking.cancel_series({ST})", [
            DENIED, DENIED, DENIED,
            Writes(&["2"], &[SERIES, SLOTS, BOOKINGS, HISTORY, LOGS, EVENTS]),
            DENIED,
            Writes(&["2"], &[SERIES, SLOTS, BOOKINGS, HISTORY, LOGS, EVENTS]),
            Writes(&["2"], &[SERIES, SLOTS, BOOKINGS, HISTORY, LOGS, EVENTS]),
        ], "SELECT s.cancelled_from IS NOT NULL
                   AND NOT EXISTS (SELECT FROM gym_booking.slots o
                                    WHERE o.series_id = s.id AND o.cancelled_at IS NULL)
                   AND EXISTS (SELECT FROM gym_booking.bookings b
                                WHERE b.id = {A@ST.1} AND b.status = 'cancelled' AND b.auto_processed)
                   AND EXISTS (SELECT FROM gym_booking.events e
                                WHERE e.recipient_id = {A} AND e.kind = 'slot_cancelled'
                                  AND e.slot_id = {ST.1})
              FROM gym_booking.series s WHERE s.id = {ST}"),
        line("POST", "/rpc/cancel_series", "SELECT gym_booking.cancel_series({SU})", [
            DENIED, DENIED, DENIED, DENIED,
            Writes(&["1"], &[SERIES, SLOTS, LOGS]),
            Writes(&["1"], &[SERIES, SLOTS, LOGS]),
            Writes(&["1"], &[SERIES, SLOTS, LOGS]),
        ]),
        // The sweep is the gym's: it makes the one occurrence SU is short of.
        checked("POST", "/rpc/extend_timetables", "SELECT gym_booking.extend_timetables()", [
            DENIED, DENIED, DENIED, DENIED, DENIED,
            Writes(&["1"], &[SERIES, SLOTS, LOGS]),
            Writes(&["1"], &[SERIES, SLOTS, LOGS]),
        ], "SELECT s.made_until = s.last_date
                   AND (SELECT count(*) FROM gym_booking.slots o WHERE o.series_id = s.id) = 2
              FROM gym_booking.series s WHERE s.id = {SU}"),
        // When an occurrence starts: everyone signed in (02:30 does not exist in Berlin that
        // night; it is read with the offset before the change).
        line("GET", "/rpc/series_start_at",
            "SELECT (gym_booking.series_start_at('2027-03-28', '02:30', 'Europe/Berlin')
                     AT TIME ZONE 'UTC')::text", [
            DENIED,
            Rows(&["2027-03-28 01:30:00"]), Rows(&["2027-03-28 01:30:00"]),
            Rows(&["2027-03-28 01:30:00"]), Rows(&["2027-03-28 01:30:00"]),
            Rows(&["2027-03-28 01:30:00"]), Rows(&["2027-03-28 01:30:00"]),
        ]),
    ]
}

//! Timetables (issue 13; DESIGN.md, "Timetables"; sql/timetable.sql): weekly series whose
//! occurrences are slots, over real connections, every request as PostgREST sends it.
//!
//! - `dst`: occurrences at their local time on their ISO weekday across the spring and autumn
//!   changes of Europe/Berlin, America/New_York and Australia/Sydney, the spring gap and the
//!   autumn overlap by the documented rule, whatever the session's TimeZone, also when
//!   `extend_timetables()` makes them later; checked against an independent model (`tz`).
//! - `edits`: edits move only occurrences nobody booked and nobody changed by hand, and say
//!   what became of each; cancelling from a date cascades as a slot cancellation; who may.
//! - `bad_input`: every API argument NULL, at its type's edge or past the contract's sizes
//!   is refused with PostgreSQL's own code (class 22 or 23) and leaves nothing half-written.
//! - `race`: 32 athletes booking while the trainer edits or cancels the series, with and
//!   without `extend_timetables()` at the same moment, at READ COMMITTED and REPEATABLE READ.

#[path = "timetables/bad_input.rs"]
mod bad_input;
#[path = "timetables/common.rs"]
mod common;
#[path = "timetables/dst.rs"]
mod dst;
#[path = "timetables/edits.rs"]
mod edits;
#[path = "timetables/race.rs"]
mod race;
#[path = "timetables/tz.rs"]
mod tz;

#[test]
fn occurrences_keep_their_local_time_across_daylight_saving() {
    dst::occurrences_keep_their_local_time();
}

#[test]
fn extend_timetables_crosses_a_change_at_local_time() {
    dst::extending_crosses_a_change_at_local_time();
}

#[test]
fn edits_keep_booked_and_hand_changed_occurrences() {
    edits::edits_keep_booked_and_hand_changed_occurrences();
}

#[test]
fn cancelling_a_series_from_a_date_cascades() {
    edits::cancelling_from_a_date_cascades();
}

#[test]
fn who_may_manage_a_series() {
    edits::who_may_manage_a_series();
}

#[test]
fn booking_while_the_series_is_edited() {
    race::race("timetables_race_edit", race::Kind::Edit, 1_000);
}

#[test]
fn booking_while_the_series_is_cancelled() {
    race::race("timetables_race_cancel", race::Kind::Cancel, 2_000);
}

#[test]
fn bad_arguments_are_refused_cleanly() {
    bad_input::every_bad_argument_is_refused_cleanly();
}

//! Attendance under concurrency (issue 14; DESIGN.md "Attendance", /tmp/i14/SPEC.md), on real
//! connections, every client request as PostgREST sends it, at READ COMMITTED (PostgREST's
//! level, never retried) and at REPEATABLE READ (the snapshot taken before the race's barrier,
//! a 40001 retried by the client a few times and counted).
//!
//! - `attendance_race/suspension.rs`: the no-show that suspends an athlete (strike limit 3,
//!   two strikes already) against 32 sessions of that athlete booking, re-activating and
//!   joining waitlists; after the no-show's commit nothing of theirs is accepted.
//! - `attendance_race/checkin.rs`: eight trainers' sessions marking bookings of slots whose
//!   periods end during the round while `complete_past_bookings()` and `record_no_shows()`
//!   (auto_no_show on) loop; every booking ends with one mark, the trainer's never overwritten
//!   by the system's, and the log and events match the marks.
//! - the refusal itself, once, without a race: SPEC.md's SQLSTATE, message and DETAIL.
//!
//! History (slots that started hours or half an hour ago) is written by the DBA with the
//! rules standing aside, as a restore writes it: no client may make a slot in the past.

#[path = "attendance_race/checkin.rs"]
mod checkin;
#[path = "attendance_race/common.rs"]
mod common;
#[path = "attendance_race/suspension.rs"]
mod suspension;

use suspension::Phase;

/// The trainer's no-show marks and holds its transaction open; the athlete's 32 requests start
/// then: each waits for the athlete's users row and, once the no-show commits, is refused
/// with 28000.
#[test]
fn requests_after_the_suspending_no_show_wait_for_it_and_are_refused() {
    suspension::Studio::new("attendance_race_held").run_all(Phase::Held, 1);
}

/// The trainer's no-show and the athlete's 32 requests released together: whatever was
/// accepted had committed before the no-show (it is in the athlete's holdings read while the
/// no-show held their row after its mark); the rest is refused with 28000.
#[test]
fn requests_racing_the_suspending_no_show_commit_before_it_or_are_refused() {
    suspension::Studio::new("attendance_race_free").run_all(Phase::Free, 2);
}

/// The refusal itself, once, without a race: SPEC.md's SQLSTATE, message and DETAIL
/// ("Suspended until YYYY-MM-DD HH24:MI (Zone): N no-shows within the last <window>.") for
/// each way the athlete books (book_slot, INSERT, re-activations, join_waitlist).
#[test]
fn a_suspended_athlete_is_told_until_when() {
    let differences = suspension::Studio::new("attendance_race_wording").refusal_wording();
    assert!(
        differences.is_empty(),
        "the refusal differs from SPEC.md:\n - {}",
        differences.join("\n - ")
    );
}

/// Trainers check in while the completion and the auto no-show sweep run.
#[test]
fn check_in_while_the_completion_and_the_sweep_run() {
    checkin::Studio::new("attendance_race_checkin").run_all(3);
}

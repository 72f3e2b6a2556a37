//! The checks of the check-in race (`checkin.rs`): the marks, logs and events of every booking
//! against what the trainers and the loops were told.

use std::collections::BTreeMap;

use postgres::Client;

use super::{Call, Loop, Plan, Target, GRACE_MS};
use crate::common::{Level, SERIALIZATION_FAILURE};

/// A mark as the table holds it.
#[derive(Debug)]
pub(super) struct Mark {
    user: String,
    slot: String,
    trainer: Option<String>,
    mark: String,
    strike_at: i64,
    marked_at: i64,
    pub(super) marked_by: Option<String>,
    excused: bool,
}

/// An attendance entry of a booking's activity log.
#[derive(Debug)]
struct LogRow {
    action: String,
    changed_by: Option<String>,
    old: Option<String>,
    new: Option<String>,
}

/// A booking as the table holds it, with its slot's times (µs).
#[derive(Debug)]
struct BookingRow {
    status: String,
    user: String,
    slot: String,
    start: i64,
    end: i64,
}

pub(super) struct State {
    bookings: BTreeMap<String, BookingRow>,
    pub(super) marks: BTreeMap<String, Mark>,
    logs: BTreeMap<String, Vec<LogRow>>,
    events: BTreeMap<String, usize>,
}

pub(super) fn read_state(dba: &mut Client, targets: &[Target], slots: &[String]) -> State {
    let ids: Vec<String> = targets.iter().map(|t| t.booking.clone()).collect();
    let bookings = dba
        .query(
            "SELECT b.id::text, b.status::text, b.user_id::text, b.slot_id::text,
                    (extract(epoch FROM s.start_at) * 1e6)::bigint, (extract(epoch FROM s.end_at) * 1e6)::bigint
               FROM gym_booking.bookings AS b JOIN gym_booking.slots AS s ON s.id = b.slot_id
              WHERE b.slot_id = ANY($1::text[]::uuid[])",
            &[&slots],
        )
        .expect("read the bookings")
        .iter()
        .map(|r| {
            (
                r.get(0),
                BookingRow {
                    status: r.get(1),
                    user: r.get(2),
                    slot: r.get(3),
                    start: r.get(4),
                    end: r.get(5),
                },
            )
        })
        .collect();
    let marks = dba
        .query(
            "SELECT booking_id::text, user_id::text, slot_id::text, trainer_id::text, mark::text,
                    (extract(epoch FROM strike_at) * 1e6)::bigint,
                    (extract(epoch FROM marked_at) * 1e6)::bigint, marked_by::text,
                    excused_at IS NOT NULL OR excused_by IS NOT NULL
               FROM gym_booking.attendance WHERE booking_id = ANY($1::text[]::uuid[])",
            &[&ids],
        )
        .expect("read the marks")
        .iter()
        .map(|r| {
            (
                r.get(0),
                Mark {
                    user: r.get(1),
                    slot: r.get(2),
                    trainer: r.get(3),
                    mark: r.get(4),
                    strike_at: r.get(5),
                    marked_at: r.get(6),
                    marked_by: r.get(7),
                    excused: r.get(8),
                },
            )
        })
        .collect();
    let mut logs: BTreeMap<String, Vec<LogRow>> = BTreeMap::new();
    for r in dba
        .query(
            "SELECT entity_id::text, action::text, changed_by::text,
                    changed_fields->'attendance'->>'old', changed_fields->'attendance'->>'new'
               FROM gym_booking.activity_logs
              WHERE entity_type = 'booking' AND entity_id = ANY($1::text[]::uuid[])
                AND changed_fields ? 'attendance'
              ORDER BY created_at, id",
            &[&ids],
        )
        .expect("read the log")
    {
        logs.entry(r.get(0)).or_default().push(LogRow {
            action: r.get(1),
            changed_by: r.get(2),
            old: r.get(3),
            new: r.get(4),
        });
    }
    let events = dba
        .query(
            "SELECT booking_id::text, count(*) FROM gym_booking.events
              WHERE kind = 'no_show_recorded' AND booking_id = ANY($1::text[]::uuid[])
              GROUP BY booking_id",
            &[&ids],
        )
        .expect("read the events")
        .iter()
        .map(|r| (r.get(0), r.get::<_, i64>(1) as usize))
        .collect();
    State {
        bookings,
        marks,
        logs,
        events,
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn check(
    level: Level,
    trainers: &[String],
    targets: &[Target],
    calls: &[Call],
    loops: &[Loop],
    last_sweep: i64,
    state: &State,
    problems: &mut Vec<String>,
) {
    // What the clients heard.
    for c in calls {
        let target = &targets[c.target];
        if level == Level::ReadCommitted && c.answer.retries > 0 {
            problems.push(format!(
                "a trainer's call met 40001 at READ COMMITTED: {c:?}"
            ));
        }
        match &c.answer.result {
            Ok((mark, by, _)) => {
                // The trainer's own row, or — a no-show marked again where the system's
                // no-show committed first — the system's row unchanged (the same mark again
                // changes nothing; checked against the log below).
                let by_trainer = by.as_deref() == Some(trainers[target.trainer].as_str());
                let kept_systems = by.is_none() && c.mark == "no_show";
                if target.plan == Plan::Cancelled || mark != c.mark || !(by_trainer || kept_systems)
                {
                    problems.push(format!(
                        "{target:?}: the trainer's mark {} returned {mark} by {by:?}",
                        c.mark
                    ));
                }
            }
            Err(f) if f.code == "27000" && target.plan != Plan::Cancelled => {}
            Err(f) if f.code == "22023" && target.plan == Plan::Cancelled => {}
            Err(f) if f.code == SERIALIZATION_FAILURE && level == Level::RepeatableRead => {}
            Err(f) => problems.push(format!(
                "{target:?}: marking {} was told {}",
                c.mark,
                f.show()
            )),
        }
    }
    for l in loops {
        for f in &l.failures {
            problems.push(format!("{} was told {}", l.name, f.show()));
        }
    }

    // Every booking.
    let mut system_marks = 0i64;
    for (t, target) in targets.iter().enumerate() {
        let who = format!(
            "booking {} ({:?}, slot {})",
            target.booking, target.plan, target.slot
        );
        let Some(booking) = state.bookings.get(&target.booking) else {
            problems.push(format!("{who} is gone"));
            continue;
        };
        let (status, start, grace_end) = (
            &booking.status,
            booking.start,
            booking.end + GRACE_MS * 1000,
        );
        let mark = state.marks.get(&target.booking);
        let log: &[LogRow] = state.logs.get(&target.booking).map_or(&[], |l| &l[..]);
        let events = state.events.get(&target.booking).copied().unwrap_or(0);
        if target.plan == Plan::Cancelled {
            if status != "cancelled" || mark.is_some() || !log.is_empty() || events > 0 {
                problems.push(format!(
                    "{who}: a cancelled booking ended {status} with mark {mark:?}, log {log:?}, {events} events"
                ));
            }
            continue;
        }
        if status != "completed" {
            problems.push(format!("{who} is {status} after the last completion"));
        }
        let Some(mark) = mark else {
            problems.push(format!(
                "{who} holds a place past its grace and has no mark"
            ));
            continue;
        };
        let trainer = &trainers[target.trainer];
        if mark.user != booking.user
            || mark.slot != booking.slot
            || mark.trainer.as_deref() != Some(trainer.as_str())
            || mark.strike_at != start
            || mark.excused
        {
            problems.push(format!("{who}: the mark's copies are wrong: {mark:?}"));
        }
        // The trainer's successful marks, in order (one session owns the booking).
        let made: Vec<&str> = calls
            .iter()
            .filter(|c| c.target == t && c.answer.result.is_ok())
            .map(|c| c.mark)
            .collect();
        // The log: one chain from no mark to the mark.
        let mut state_mark: Option<&str> = None;
        let (mut system_rows, mut trainer_rows, mut to_no_show) = (0, 0, 0);
        for (i, row) in log.iter().enumerate() {
            if row.old.as_deref() != state_mark {
                problems.push(format!(
                    "{who}: log row {i} changes {:?}, the mark was {state_mark:?}: {log:?}",
                    row.old
                ));
            }
            state_mark = row.new.as_deref();
            if row.new.as_deref() == Some("no_show") {
                to_no_show += 1;
            }
            match (row.action.as_str(), row.changed_by.as_deref()) {
                ("status_auto_update", None) => {
                    system_rows += 1;
                    if i != 0 || row.new.as_deref() != Some("no_show") {
                        problems.push(format!(
                            "{who}: the system's log row is not the first, a no-show: {log:?}"
                        ));
                    }
                }
                ("update", Some(by)) if by == trainer => trainer_rows += 1,
                _ => problems.push(format!("{who}: an attendance log row {row:?}")),
            }
        }
        if state_mark != Some(mark.mark.as_str()) {
            problems.push(format!(
                "{who}: the log ends at {state_mark:?}, the mark is {}",
                mark.mark
            ));
        }
        system_marks += system_rows;
        // The trainer's changes: each successful call that differed from the mark before it.
        let mut current = (system_rows > 0).then_some("no_show");
        let mut changes = 0;
        for m in &made {
            if current != Some(*m) {
                changes += 1;
            }
            current = Some(*m);
        }
        if trainer_rows != changes {
            problems.push(format!(
                "{who}: the trainer's successful marks {made:?} changed the mark {changes} times, the log has \
                 {trainer_rows} rows of theirs"
            ));
        }
        match made.last() {
            Some(last) => {
                // The trainer's last mark stands, as theirs unless each call of theirs was the
                // system's no-show again.
                let by = (trainer_rows > 0).then_some(trainer.as_str());
                if mark.mark != *last || mark.marked_by.as_deref() != by {
                    problems.push(format!(
                        "{who}: the trainer's last mark was {last} ({trainer_rows} change(s) of theirs), \
                         the table holds {} by {:?} (overwritten)",
                        mark.mark, mark.marked_by
                    ));
                }
                if by.is_none() && system_rows != 1 {
                    problems.push(format!(
                        "{who}: the trainer's calls {made:?} changed nothing, yet no system mark: {log:?}"
                    ));
                }
                let ok_times: Vec<i64> = calls
                    .iter()
                    .filter(|c| c.target == t)
                    .filter_map(|c| c.answer.result.as_ref().ok())
                    .filter(|r| r.1.as_deref() == Some(trainer.as_str()))
                    .map(|r| r.2)
                    .collect();
                if ok_times.iter().any(|at| *at < start || *at > grace_end) {
                    problems.push(format!(
                        "{who}: a trainer's mark at {ok_times:?} (µs) outside its period [{start}, {grace_end}]"
                    ));
                }
            }
            None => {
                if mark.mark != "no_show" || mark.marked_by.is_some() || system_rows != 1 {
                    problems.push(format!(
                        "{who}: never marked by the trainer, yet {mark:?}; log {log:?}"
                    ));
                } else if mark.marked_at <= grace_end {
                    problems.push(format!(
                        "{who}: the system marked a no-show at {} before the grace ended at {grace_end}",
                        mark.marked_at
                    ));
                }
            }
        }
        if events != to_no_show {
            problems.push(format!(
                "{who}: {events} no_show_recorded events for {to_no_show} change(s) to no-show in the log"
            ));
        }
    }
    let swept: i64 = loops
        .iter()
        .filter(|l| l.name.starts_with("record_no_shows"))
        .map(|l| l.total)
        .sum::<i64>()
        + last_sweep;
    // complete_past_bookings() sweeps too (and answers only what it completed): the sweeps'
    // own counts are a part of the system's marks, never more.
    if swept > system_marks {
        problems.push(format!(
            "record_no_shows() said it marked {swept}, the log has {system_marks} marks by the system"
        ));
    }
}

//! What attendance under the load is checked against afterwards (`broken_attendance`):
//!
//! - refusals: 28000 (suspended) only for booking and joining, never for anything else; the
//!   requests of people who may not mark, excuse or sweep never succeed;
//! - the sweep: after one more (as the background worker would run it), no booking that holds
//!   a place in a slot whose grace has ended since the watermark is unmarked; the sweep's marks
//!   in the log are at least what its calls reported;
//! - every mark: on a booking of a slot that had started, by its trainer or an admin (or the
//!   system, only after the grace), copies that match the booking; its log entries chain
//!   (none -> mark -> other mark ..., an excuse only of a no-show, the system never
//!   overwriting a mark) and end in the row as it is; its events are exactly its log entries
//!   (`no_show_recorded` per change to no-show, `attendance_marked` per change to attended,
//!   `no_show_excused` per excuse; for an athlete deleted since, the ones before the deletion);
//! - no athlete books after the commit that suspended them (`booked_while_suspended`).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use postgres::Client;

use super::{Ledger, NOT_THEIRS};
use crate::{Tally, OK};

/// The requests SPEC.md refuses with 28000 for a suspended athlete.
const SUSPENDABLE: [&str; 5] = [
    "(suspended athlete books)",
    "athlete books",
    "athlete books again",
    "athlete books occurrence",
    "athlete joins waitlist",
];

pub(crate) fn broken_attendance(
    client: &mut Client,
    ledger: &Ledger,
    tally: &Tally,
) -> Vec<String> {
    let mut broken = Vec::new();
    for (op, outcomes) in &tally.counts {
        if outcomes.contains_key("28000") && !SUSPENDABLE.contains(op) {
            broken.push(format!(
                "{op}: refused with 28000 (only booking and joining are)"
            ));
        }
    }
    if tally
        .counts
        .get(NOT_THEIRS)
        .is_some_and(|o| o.contains_key(OK))
    {
        broken.push(format!(
            "{NOT_THEIRS}: accepted {:?}",
            tally.counts[NOT_THEIRS]
        ));
    }
    broken.extend(unswept(client, ledger));
    broken.extend(wrong_marks(client));
    broken.extend(booked_while_suspended(client, ledger));
    broken
}

/// One more sweep, until it is done; then nothing that the sweep should have marked since the
/// watermark of before the load is unmarked, and the log shows at least the marks the calls
/// reported (`complete_past_bookings` sweeps without saying how many).
fn unswept(client: &mut Client, ledger: &Ledger) -> Vec<String> {
    let mut broken = Vec::new();
    let sweep = "SELECT gym_booking.record_no_shows(1000),
                        (extract(epoch FROM gym_booking.studio_shift(statement_timestamp(),
                                                                     -st.attendance_grace)) * 1e6)::int8
                   FROM gym_booking.studio_settings AS st";
    let mut last = 0;
    let grace_over: i64 = loop {
        let row = client.query_one(sweep, &[]).expect("the last sweep");
        let marked: i64 = row.get(0);
        last += marked;
        if marked < 1000 {
            break row.get(1);
        }
    };
    let watermark = ledger.watermark.load(Ordering::Acquire);
    let rows = client
        .query(
            "SELECT 'booking ' || b.id || ' (' || b.status || ') of a slot that ended ' || s.end_at
               FROM gym_booking.bookings AS b
               JOIN gym_booking.slots AS s ON s.id = b.slot_id
               JOIN gym_booking.users AS u ON u.id = b.user_id
              WHERE b.status <> 'cancelled' AND s.cancelled_at IS NULL AND u.deleted_at IS NULL
                AND (extract(epoch FROM s.end_at) * 1e6)::int8 >= $1::int8
                AND (extract(epoch FROM s.end_at) * 1e6)::int8 < $2::int8
                AND NOT EXISTS (SELECT FROM gym_booking.attendance AS a WHERE a.booking_id = b.id)",
            &[&watermark, &grace_over],
        )
        .expect("unswept bookings");
    if !rows.is_empty() {
        let some: Vec<String> = rows.iter().take(5).map(|r| r.get(0)).collect();
        broken.push(format!(
            "after the last sweep, {} booking(s) whose grace ended are unmarked, e.g. {some:?}",
            rows.len()
        ));
    }
    let logged: i64 = client
        .query_one(
            "SELECT count(*) FROM gym_booking.activity_logs
              WHERE action = 'status_auto_update' AND changed_fields ? 'attendance'",
            &[],
        )
        .expect("the sweep's log entries")
        .get(0);
    let reported = ledger.swept.load(Ordering::Acquire) + last;
    if logged < reported || logged == 0 {
        broken.push(format!(
            "the sweep's calls reported {reported} no-shows, the log shows {logged} (none: it never had work)"
        ));
    }
    broken
}

/// A log entry about a booking's attendance, in the order they were written.
struct Step {
    action: String,
    by: Option<String>,
    old: Option<String>,
    new: Option<String>,
    excuse: bool,
    /// Only the attendance (or the excuse) changed, and the entry says so as SPEC.md does.
    shaped: bool,
    /// Written after its slot had started (or the booking has been cancelled since: its
    /// slot may have moved).
    after_start: bool,
}

impl Step {
    /// The event the athlete should have been sent for it.
    fn event(&self) -> String {
        match (self.excuse, self.new.as_deref()) {
            (true, _) => "no_show_excused".to_string(),
            (false, new) => format!(
                "{} {}>{}",
                ["attendance_marked", "no_show_recorded"][usize::from(new == Some("no_show"))],
                self.old.as_deref().unwrap_or("-"),
                new.unwrap_or("?")
            ),
        }
    }
}

/// The attendance rows, their log entries and events, booking by booking (see the module's
/// comment). At most five bookings are named per kind of wrong.
fn wrong_marks(client: &mut Client) -> Vec<String> {
    let mut wrong: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut note = |what: &'static str, booking: &str| {
        wrong.entry(what).or_default().push(booking.to_string());
    };
    let mut steps: BTreeMap<String, (bool, Vec<Step>)> = BTreeMap::new();
    for row in client
        .query(
            "SELECT l.entity_id::text, l.action::text, l.changed_by::text,
                    l.changed_fields -> 'attendance' ->> 'old', l.changed_fields -> 'attendance' ->> 'new',
                    l.changed_fields ? 'excused',
                    l.changed_fields = '{\"excused\": {\"old\": false, \"new\": true}}'::jsonb
                    OR l.changed_fields ? 'attendance' AND NOT l.changed_fields ? 'excused'
                       AND (SELECT count(*) FROM jsonb_object_keys(l.changed_fields)) = 1
                       AND (SELECT count(*) FROM jsonb_object_keys(l.changed_fields -> 'attendance')) = 2,
                    b.status = 'cancelled' OR l.created_at >= s.start_at,
                    u.deleted_at IS NOT NULL
               FROM gym_booking.activity_logs AS l
               JOIN gym_booking.bookings AS b ON b.id = l.entity_id
               JOIN gym_booking.slots AS s ON s.id = b.slot_id
               JOIN gym_booking.users AS u ON u.id = b.user_id
              WHERE l.entity_type = 'booking'
                AND (l.changed_fields ? 'attendance' OR l.changed_fields ? 'excused')
              ORDER BY l.entity_id, l.created_at, l.id",
            &[],
        )
        .expect("the attendance log")
    {
        let entry = steps.entry(row.get(0)).or_insert((row.get(8), Vec::new()));
        entry.1.push(Step {
            action: row.get(1),
            by: row.get(2),
            old: row.get(3),
            new: row.get(4),
            excuse: row.get(5),
            shaped: row.get(6),
            after_start: row.get(7),
        });
    }
    // Each row: (mark, excused, marked_by, marked after the grace (unknown once the booking
    // is cancelled: its slot may have moved since), the times), and what is wrong with it on
    // its own.
    type Mark = (String, bool, Option<String>, Option<bool>, String);
    let mut marks: BTreeMap<String, Mark> = BTreeMap::new();
    for row in client
        .query(
            "SELECT a.booking_id::text, a.mark::text, a.excused_at IS NOT NULL, a.marked_by::text,
                    CASE WHEN b.status <> 'cancelled'
                         THEN a.marked_at > gym_booking.studio_shift(s.end_at, st.attendance_grace)
                    END,
                    'marked at ' || a.marked_at || ', the slot ended at ' || s.end_at,
                    concat_ws('; ',
                        CASE WHEN a.user_id <> b.user_id THEN 'user_id is not the booking''s athlete' END,
                        CASE WHEN a.slot_id <> b.slot_id THEN 'slot_id is not the booking''s slot' END,
                        CASE WHEN a.trainer_id IS DISTINCT FROM s.trainer_id
                             THEN 'trainer_id is not the slot''s trainer' END,
                        CASE WHEN b.status <> 'cancelled' AND a.strike_at <> s.start_at
                             THEN 'strike_at is not the slot''s start' END,
                        CASE WHEN a.marked_at < a.strike_at THEN 'marked before its slot started' END,
                        CASE WHEN a.marked_by <> s.trainer_id AND mu.role IS DISTINCT FROM 'admin'
                             THEN 'marked by neither the slot''s trainer nor an admin' END,
                        CASE WHEN a.excused_by IS NOT NULL AND eu.role IS DISTINCT FROM 'admin'
                             THEN 'excused by someone not an admin' END)
               FROM gym_booking.attendance AS a
               JOIN gym_booking.bookings AS b ON b.id = a.booking_id
               JOIN gym_booking.slots AS s ON s.id = b.slot_id
              CROSS JOIN gym_booking.studio_settings AS st
               LEFT JOIN gym_booking.users AS mu ON mu.id = a.marked_by
               LEFT JOIN gym_booking.users AS eu ON eu.id = a.excused_by",
            &[],
        )
        .expect("the marks")
    {
        let booking: String = row.get(0);
        let own: String = row.get(6);
        if !own.is_empty() {
            note("a mark's own columns are wrong", &format!("{booking}: {own}"));
        }
        let mark = (row.get(1), row.get(2), row.get(3), row.get(4), row.get(5));
        marks.insert(booking, mark);
    }
    let mut events: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    for row in client
        .query(
            "SELECT e.booking_id::text,
                    e.kind || CASE WHEN e.kind = 'no_show_excused' THEN ''
                                   ELSE ' ' || coalesce(e.payload ->> 'previous', '-') || '>'
                                        || coalesce(e.payload ->> 'mark', '?') END,
                    e.recipient_id = b.user_id AND e.slot_id = b.slot_id
                    AND (b.status = 'cancelled'
                         OR (e.payload ->> 'start_at')::timestamptz = s.start_at
                            AND (e.payload ->> 'end_at')::timestamptz = s.end_at)
               FROM gym_booking.events AS e
               JOIN gym_booking.bookings AS b ON b.id = e.booking_id
               JOIN gym_booking.slots AS s ON s.id = b.slot_id
              WHERE e.kind IN ('no_show_recorded', 'attendance_marked', 'no_show_excused')
              ORDER BY e.booking_id, e.id",
            &[],
        )
        .expect("the attendance events")
    {
        let entry = events.entry(row.get(0)).or_default();
        entry.push((row.get(1), row.get(2)));
    }
    for (booking, (deleted, steps)) in &steps {
        // The mark in force, whether it is excused, and the last mark's author and kind.
        let (mut mark, mut excused, mut by, mut auto) = (None, false, None, false);
        for step in steps {
            if !step.shaped {
                note(
                    "a log entry of attendance is not shaped as SPEC.md says",
                    booking,
                );
            }
            if !step.after_start {
                note("a mark was logged before its slot started", booking);
            }
            if step.excuse {
                if mark.as_deref() != Some("no_show") || excused {
                    note(
                        "an excuse of what is not an unexcused no-show was logged",
                        booking,
                    );
                }
                excused = true;
                continue;
            }
            if step.old != mark || step.new == step.old || step.new.is_none() {
                note(
                    "a mark's log entries do not chain (old = the mark before)",
                    booking,
                );
            }
            auto = step.action == "status_auto_update";
            let manual = step.action == "update" && !auto;
            if auto
                && (step.old.is_some()
                    || step.new.as_deref() != Some("no_show")
                    || step.by.is_some())
                || !auto && !manual
            {
                note(
                    "a system mark overwrote a mark, or a log entry has another action",
                    booking,
                );
            }
            (mark, excused, by) = (step.new.clone(), false, step.by.clone());
        }
        match marks.remove(booking) {
            None => note(
                "log entries of attendance for a booking with no mark",
                booking,
            ),
            Some(row) => {
                if Some(&row.0) != mark.as_ref() || row.1 != excused || row.2 != by {
                    note("a mark is not what its last log entries say", booking);
                }
                if row.3.is_some_and(|after| after != auto) {
                    note(
                        "a person's mark after the grace, or the system's within it",
                        &format!("{booking} ({}, by the system: {auto})", row.4),
                    );
                }
            }
        }
        let sent = events.remove(booking).unwrap_or_default();
        let expected: Vec<String> = steps.iter().map(Step::event).collect();
        let kinds: Vec<String> = sent.iter().map(|e| e.0.clone()).collect();
        // An athlete deleted since heard of the marks before the deletion only.
        let told = match deleted {
            true => expected.starts_with(&kinds),
            false => expected == kinds,
        };
        if !told {
            note(
                "the athlete's events are not the mark's log entries",
                booking,
            );
        }
        if sent.iter().any(|e| !e.1) {
            note(
                "an event names another athlete, slot or time than its booking's",
                booking,
            );
        }
    }
    for booking in marks.keys() {
        note("a mark without log entries", booking);
    }
    for booking in events.keys() {
        note(
            "attendance events for a booking whose attendance was never logged",
            booking,
        );
    }
    wrong
        .into_iter()
        .map(|(what, bookings)| {
            let some: Vec<&String> = bookings.iter().take(5).collect();
            format!("{what}: {} booking(s), e.g. {some:?}", bookings.len())
        })
        .collect()
}

/// No athlete books (or joins a waitlist) after the commit that suspended them.
///
/// A reading of an athlete's suspension (after the commit of a no-show, or an athlete's,
/// trainer's or the gym's read of it) saw a snapshot taken after `from` and before `at`: every
/// commit that made the athlete suspended came before `at`. A booking made (or re-activated,
/// or joined) later than `at` committed after all of them, so SPEC.md's "either commits first
/// or waits and is refused" says it must have been refused, unless the suspension was lifted
/// in between. The ways to lift one, and how each is accounted for:
/// - a no-show marked attended, an excuse: requests of this module, timed (`Timed`); one that
///   ended before `from` is in the reading already, one that began after the booking's end
///   cannot have mattered, any other may have;
/// - a cancellation of a marked booking (by the athlete, the admin, a cancelled slot or
///   series): from the booking's history, whose time is its statement's start;
/// - nothing else: a role changes nothing of a suspension (the booking rule asks whoever
///   books; a finding about someone whose role changed during the load says so), a deleted
///   account keeps its strikes, strikes only age in days (none of the load's expires), and
///   nothing changes the strike settings during the load.
///
/// Two checks: every booking and entry in the database, against the readings of its athlete
/// after which nothing ever lifted anything for them (`made`: creation or last re-activation
/// from the history, promotions included); and every timed attempt of a suspended athlete
/// (`suspended_athlete_books`) against each reading before it and the lifts around it.
fn booked_while_suspended(client: &mut Client, ledger: &Ledger) -> Vec<String> {
    let readings = ledger.readings.lock().unwrap().clone();
    let lifts = ledger.lifts.lock().unwrap().clone();
    let attempts = ledger.attempts.lock().unwrap().clone();
    let column = |f: fn(&super::Reading) -> i64| readings.iter().map(f).collect::<Vec<i64>>();
    let athletes: Vec<&str> = readings.iter().map(|r| r.athlete.as_str()).collect();
    let mut tx = client.transaction().expect("the ordering check");
    tx.batch_execute(
        "CREATE TEMP TABLE att_readings (athlete uuid, from_us int8, at_us int8, until_us int8)
             ON COMMIT DROP;
         CREATE TEMP TABLE att_lifts (athlete uuid, start_us int8, done_us int8) ON COMMIT DROP;
         CREATE TEMP TABLE att_attempts (athlete uuid, what text, start_us int8, done_us int8)
             ON COMMIT DROP;
         -- Cancellations of marked bookings (when their statements began), and people whose
         -- role changed (named in a finding).
         CREATE TEMP TABLE att_lost ON COMMIT DROP AS
         SELECT b.user_id AS athlete, (extract(epoch FROM h.changed_at) * 1e6)::int8 AS at_us
           FROM gym_booking.bookings AS b
           JOIN gym_booking.booking_status_history AS h
             ON h.booking_id = b.id AND h.current_status = 'cancelled'
          WHERE EXISTS (SELECT FROM gym_booking.activity_logs AS l
                         WHERE l.entity_type = 'booking' AND l.entity_id = b.id
                           AND l.changed_fields ? 'attendance');
         CREATE TEMP TABLE att_recast ON COMMIT DROP AS
         SELECT u.id AS athlete FROM gym_booking.users AS u
          WHERE u.role <> 'athlete'
             OR EXISTS (SELECT FROM gym_booking.activity_logs AS l
                         WHERE l.entity_type = 'user' AND l.entity_id = u.id
                           AND l.action = 'update' AND l.changed_fields ? 'role')",
    )
    .expect("the readings' tables");
    tx.execute(
        "INSERT INTO att_readings
         SELECT * FROM unnest($1::text[]::uuid[], $2::int8[], $3::int8[], $4::int8[])",
        &[
            &athletes,
            &column(|r| r.from),
            &column(|r| r.at),
            &column(|r| r.until),
        ],
    )
    .expect("store the readings");
    for (table, rows) in [("att_lifts", &lifts), ("att_attempts", &attempts)] {
        let athletes: Vec<&str> = rows.iter().map(|l| l.athlete.as_str()).collect();
        let what: Vec<&str> = rows.iter().map(|l| l.what.as_str()).collect();
        let start: Vec<i64> = rows.iter().map(|l| l.start).collect();
        let done: Vec<i64> = rows.iter().map(|l| l.done).collect();
        let columns = match table {
            "att_lifts" => "a, s, d",
            _ => "a, w, s, d",
        };
        tx.execute(
            &format!(
                "INSERT INTO {table} SELECT {columns}
                   FROM unnest($1::text[]::uuid[], $2::text[], $3::int8[], $4::int8[])
                        AS x (a, w, s, d)"
            ),
            &[&athletes, &what, &start, &done],
        )
        .expect("store the lifts and attempts");
    }
    // Per athlete, the first reading after which nothing lifted anything of theirs.
    let covered = "SELECT r.athlete, min(r.at_us) AS at_us FROM att_readings AS r
          WHERE r.athlete NOT IN (SELECT athlete FROM att_lost)
            AND NOT EXISTS (SELECT FROM att_lifts AS l
                             WHERE l.athlete = r.athlete AND l.done_us >= r.from_us)
          GROUP BY r.athlete";
    let made = format!(
        "WITH covered AS ({covered}),
              made AS (
             SELECT b.user_id, 'booking ' || b.id || ' (' || b.status || ')' AS what,
                    greatest(b.created_at, (SELECT max(h.changed_at)
                                              FROM gym_booking.booking_status_history AS h
                                             WHERE h.booking_id = b.id
                                               AND h.current_status = 'reserved')) AS at
               FROM gym_booking.bookings AS b WHERE b.status <> 'cancelled'
             UNION ALL
             SELECT w.user_id, 'waitlist entry ' || w.id || ' (' || w.state || ')', w.joined_at
               FROM gym_booking.waitlist_entries AS w)
         SELECT m.what || ' of athlete ' || m.user_id || ' made at ' || m.at
                || ', after a reading at ' || to_timestamp(c.at_us / 1e6) || ' saw them suspended'
                || CASE WHEN m.user_id IN (SELECT athlete FROM att_recast)
                        THEN ' (their role changed during the load)' ELSE '' END
           FROM made AS m JOIN covered AS c ON c.athlete = m.user_id
          WHERE (extract(epoch FROM m.at) * 1e6)::int8 > c.at_us"
    );
    let made = tx
        .query(made.as_str(), &[])
        .expect("bookings after a suspension");
    // Each attempt, with the earliest reading before it that no lift may have undone by its
    // end: it had to be refused.
    let judged = tx
        .query(
            "SELECT DISTINCT ON (q.athlete, q.start_us) q.what,
                    q.what || ' by athlete ' || q.athlete || ', asked '
                    || (q.start_us - r.at_us) / 1000 || ' ms after a reading saw them suspended'
                    || CASE WHEN q.athlete IN (SELECT athlete FROM att_recast)
                            THEN ' (their role changed during the load)' ELSE '' END
               FROM att_attempts AS q
               JOIN att_readings AS r ON r.athlete = q.athlete AND r.at_us < q.start_us
              WHERE NOT EXISTS (SELECT FROM att_lost AS c
                                 WHERE c.athlete = q.athlete AND c.at_us <= q.done_us)
                AND NOT EXISTS (SELECT FROM att_lifts AS l
                                 WHERE l.athlete = q.athlete AND l.done_us >= r.from_us
                                   AND l.start_us <= q.done_us)
              ORDER BY q.athlete, q.start_us, r.at_us",
            &[],
        )
        .expect("attempts after a suspension");
    let covered: i64 = tx
        .query_one(&format!("SELECT count(*) FROM ({covered}) AS c"), &[])
        .expect("the check's coverage")
        .get(0);
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for row in &judged {
        let what: String = row.get(0);
        let key = match what.split_once(' ') {
            Some(("refused", _)) => what,
            Some(("held", _)) => "held already".to_string(),
            _ => "accepted".to_string(),
        };
        *outcomes.entry(key).or_default() += 1;
    }
    let seen: std::collections::BTreeSet<&str> = athletes.iter().copied().collect();
    eprintln!(
        "suspension checks: {} readings of {} suspended athletes, {covered} of them never \
         lifted after one; {} attempts of suspended athletes, {} of them judged: {outcomes:?}",
        readings.len(),
        seen.len(),
        attempts.len(),
        judged.len()
    );
    let mut broken = Vec::new();
    if !made.is_empty() {
        let some: Vec<String> = made.iter().take(5).map(|r| r.get(0)).collect();
        broken.push(format!(
            "{} booking(s) or waitlist entries made after the commit that suspended their \
             athlete: {some:?}",
            made.len()
        ));
    }
    let accepted: Vec<String> = judged
        .iter()
        .filter(|r| !r.get::<_, String>(0).starts_with("refused"))
        .filter(|r| !r.get::<_, String>(0).starts_with("held already"))
        .map(|r| r.get(1))
        .collect();
    if !accepted.is_empty() {
        broken.push(format!(
            "{} request(s) of an athlete accepted after the commit that suspended them: {:?}",
            accepted.len(),
            &accepted[..accepted.len().min(5)]
        ));
    }
    // Checks that judged nothing prove nothing.
    if covered == 0 || judged.is_empty() {
        broken.push(format!(
            "the suspension checks judged too little: {covered} athletes never lifted after a \
             reading, {} attempts after a reading",
            judged.len()
        ));
    }
    broken
}

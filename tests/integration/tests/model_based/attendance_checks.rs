//! What is compared after each step for attendance (0.2.2): every mark and its log rows,
//! the sweep's watermark, every athlete's strikes and suspension as `athlete_suspension()`
//! computes them (against the model's own computation), and what the step's no-show events
//! say of a suspension.

use super::*;
use attendance::Mark;
use postgres::types::ToSql;

/// Every mark, as (booking, athlete, slot, trainer, mark, strike_at µs, marked_by, excused,
/// excused_by, whether marked_at is set).
pub(crate) const MARKS: &str = "
SELECT booking_id::text, user_id::text, slot_id::text, trainer_id::text, mark::text,
       (extract(epoch FROM strike_at) * 1000000)::int8, coalesce(marked_by::text, '-'),
       excused_at IS NOT NULL, coalesce(excused_by::text, '-'), marked_at IS NOT NULL
  FROM gym_booking.attendance";

/// Per booking, its log rows that changed the mark and that excused it, and the latest
/// change's action and new mark.
pub(crate) const MARK_LOGS: &str = "
SELECT entity_id::text,
       count(*) FILTER (WHERE changed_fields ? 'attendance'),
       count(*) FILTER (WHERE changed_fields -> 'excused' ->> 'new' = 'true'),
       coalesce((array_agg(action::text ORDER BY created_at DESC)
                 FILTER (WHERE changed_fields ? 'attendance'))[1], '-'),
       coalesce((array_agg(changed_fields -> 'attendance' ->> 'new' ORDER BY created_at DESC)
                 FILTER (WHERE changed_fields ? 'attendance'))[1], '-')
  FROM gym_booking.activity_logs
 WHERE entity_type = 'booking' AND (changed_fields ? 'attendance' OR changed_fields ? 'excused')
 GROUP BY entity_id";

/// Every athlete's strikes and suspension as `athlete_suspension()` (as the DBA) has them now,
/// with that now (µs); and the watermark.
pub(crate) const SUSPENSIONS: &str = "
SELECT u.id::text, a.strikes, (extract(epoch FROM a.suspended_until) * 1000000)::int8,
       (extract(epoch FROM statement_timestamp()) * 1000000)::int8
  FROM gym_booking.users AS u CROSS JOIN LATERAL gym_booking.athlete_suspension(u.id) AS a
 WHERE u.id = ANY ($1::text[]::uuid[])";

pub(crate) const WATERMARK: &str = "
SELECT (extract(epoch FROM swept_until) * 1000000)::int8, (SELECT count(*) FROM gym_booking.attendance_sweep)
  FROM gym_booking.attendance_sweep";

/// The step's events of marks: booking, kind, the payload's mark, previous mark ('-': none)
/// and suspended_until (µs), the payload.
pub(crate) const MARK_EVENTS: &str = "
SELECT coalesce(booking_id::text, ''), kind::text, coalesce(payload ->> 'mark', '-'),
       coalesce(payload ->> 'previous', '-'),
       (extract(epoch FROM (payload ->> 'suspended_until')::timestamptz) * 1000000)::int8,
       payload::text
  FROM gym_booking.events
 WHERE id > $1 AND kind IN ('no_show_recorded', 'attendance_marked')";

/// The checks' statements of attendance, prepared once per run.
pub(crate) struct AttChecks {
    marks: Statement,
    logs: Statement,
    suspensions: Statement,
    watermark: Statement,
    events: Statement,
}

impl AttChecks {
    pub(crate) fn prepare(client: &mut Client) -> Result<AttChecks, postgres::Error> {
        Ok(AttChecks {
            marks: client.prepare(MARKS)?,
            logs: client.prepare(MARK_LOGS)?,
            suspensions: client.prepare(SUSPENSIONS)?,
            watermark: client.prepare(WATERMARK)?,
            events: client.prepare(MARK_EVENTS)?,
        })
    }
}

impl Run {
    /// After each step: every mark (and its log rows) as the model has it, the watermark,
    /// every athlete's strikes and suspension as `athlete_suspension()` computes them, and
    /// what the step's events of marks say (the mark, the one before, until when a no-show
    /// leaves the athlete suspended). Clears the step's marks.
    pub(crate) fn check_attendance(&mut self) -> Result<(), String> {
        let read = |client: &mut Client, sql: &Statement, params: &[&(dyn ToSql + Sync)]| {
            client
                .query(sql, params)
                .map_err(|e| format!("reading attendance failed: {e:?}"))
        };
        let mut problems = Vec::new();
        let m = &self.model;
        let user_id = |u: Option<usize>| u.map_or("-".to_string(), |u| m.users[u].id.clone());

        type MarkRow = (
            String,
            String,
            String,
            String,
            i64,
            String,
            bool,
            String,
            bool,
        );
        let rows = read(&mut self.client, &self.sql.att.marks, &[])?;
        let mut db: HashMap<String, MarkRow> = rows
            .iter()
            .map(|r| {
                let row = (r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6));
                let row = (
                    row.0,
                    row.1,
                    row.2,
                    row.3,
                    row.4,
                    row.5,
                    r.get(7),
                    r.get(8),
                    r.get(9),
                );
                (r.get(0), row)
            })
            .collect();
        for (&b, a) in &m.att.marks {
            let booking = &m.bookings[b];
            let expected: MarkRow = (
                m.users[booking.user].id.clone(),
                m.slots[booking.slot].id.clone(),
                m.users[m.slots[booking.slot].trainer].id.clone(),
                a.mark.sql().to_string(),
                a.strike_at,
                user_id(a.by),
                a.excused.is_some(),
                user_id(a.excused.flatten()),
                true,
            );
            match db.remove(&booking.id) {
                None => problems.push(format!(
                    "booking#{b} {} has no attendance row; the model has {expected:?}",
                    booking.id
                )),
                Some(found) if found != expected => problems.push(format!(
                    "booking#{b} {}'s attendance (athlete, slot, trainer, mark, strike_at, marked_by, \
                     excused, excused_by, marked_at set) is {found:?}, the model says {expected:?}",
                    booking.id
                )),
                Some(_) => {}
            }
        }
        problems.extend(db.iter().map(|(id, row)| {
            format!("booking {id} has an attendance row the model has not: {row:?}")
        }));

        type LogRow = (i64, i64, String, String);
        let rows = read(&mut self.client, &self.sql.att.logs, &[])?;
        let mut db: HashMap<String, LogRow> = rows
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3), r.get(4))))
            .collect();
        for (&b, a) in &m.att.marks {
            let expected: LogRow = (
                a.logs,
                a.excuse_logs,
                if a.auto {
                    "status_auto_update"
                } else {
                    "update"
                }
                .to_string(),
                a.mark.sql().to_string(),
            );
            let found = db.remove(&m.bookings[b].id);
            if found.as_ref() != Some(&expected) {
                problems.push(format!(
                    "booking#{b} {}'s log rows (mark changes, excuses, latest action, latest new \
                     mark) are {found:?}, the model says {expected:?}",
                    m.bookings[b].id
                ));
            }
        }
        problems.extend(db.iter().map(|(id, row)| {
            format!("booking {id} has attendance log rows {row:?}, the model none")
        }));

        let rows = read(&mut self.client, &self.sql.att.watermark, &[])?;
        let watermark: Option<(i64, i64)> = rows.first().map(|r| (r.get(0), r.get(1)));
        if watermark != Some((m.att.swept_until, 1)) {
            problems.push(format!(
                "the sweep's watermark (µs, rows) is {watermark:?}, the model says ({}, 1)",
                m.att.swept_until
            ));
        }

        let ids: Vec<String> = m
            .users
            .iter()
            .filter(|u| u.role == Role::Athlete)
            .map(|u| u.id.clone())
            .collect();
        let rows = read(&mut self.client, &self.sql.att.suspensions, &[&ids])?;
        if rows.len() != ids.len() {
            problems.push(format!(
                "athlete_suspension() answered for {} of {} athletes",
                rows.len(),
                ids.len()
            ));
        }
        for r in &rows {
            let (id, strikes, until, now): (String, i64, Option<i64>, i64) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            let Some(u) = m.users.iter().position(|x| x.id == id) else {
                continue;
            };
            let expected = (m.strikes(u, now), m.suspended_until(u, now));
            if (strikes, until) != expected {
                problems.push(format!(
                    "{} {id}: athlete_suspension() says (strikes, suspended_until) = {:?}, the \
                     model {expected:?} (now {now}; strikes at {:?})",
                    m.users[u].label,
                    (strikes, until),
                    m.att
                        .marks
                        .iter()
                        .filter(|(&b, a)| m.bookings[b].user == u && a.mark == Mark::NoShow)
                        .map(|(_, a)| (a.strike_at, a.excused.is_some()))
                        .collect::<Vec<_>>()
                ));
            }
        }

        let rows = read(&mut self.client, &self.sql.att.events, &[&self.event_mark])?;
        for &(b, mark, before, until) in &m.att.new_marks {
            let id = &m.bookings[b].id;
            let event = rows.iter().find(|r| r.get::<_, String>(0) == *id);
            // (A missing event: compare_events names it.)
            let Some(r) = event else { continue };
            let said: (String, String, String, Option<i64>) =
                (r.get(1), r.get(2), r.get(3), r.get(4));
            let expected = (
                match mark {
                    Mark::NoShow => "no_show_recorded",
                    Mark::Attended => "attendance_marked",
                }
                .to_string(),
                mark.sql().to_string(),
                before.map_or("-", Mark::sql).to_string(),
                until,
            );
            if said != expected {
                problems.push(format!(
                    "the event of booking#{b} {id}'s mark (kind, mark, previous, suspended_until \
                     µs) says {said:?}; the model {expected:?}: {}",
                    r.get::<_, String>(5)
                ));
            }
        }
        // What attendance did, for the run's summary.
        let mut seen: Vec<&'static str> = Vec::new();
        for &(_, mark, _, until) in &self.model.att.new_marks {
            seen.push(match (mark, until) {
                (Mark::Attended, _) => "attended",
                (Mark::NoShow, Some(_)) => "no-show, the athlete suspended after it",
                (Mark::NoShow, None) => "no-show, the athlete not suspended",
            });
        }
        let skipped = std::mem::take(&mut self.model.att.skipped_suspended) as usize;
        seen.extend(std::iter::repeat_n(
            "a promotion skipped a suspended athlete",
            skipped,
        ));
        for what in seen {
            *self
                .tally
                .entry("(attendance)")
                .or_default()
                .entry(what.to_string())
                .or_default() += 1;
        }
        self.model.att.new_marks.clear();

        if problems.is_empty() {
            return Ok(());
        }
        problems.truncate(20);
        Err(format!(
            "ATTENDANCE AND THE MODEL DISAGREE:\n    {}",
            problems.join("\n    ")
        ))
    }
}

//! The reading requests of attendance under the load: athletes read their strikes and their
//! report, trainers and the gym read the reports (per slot, per trainer, per athlete). Each
//! row's figures are checked against each other (attended and no-shows among the booked,
//! utilization and rates as SPEC.md defines them; a trainer sees their own slots, an athlete
//! themselves), and every strike count with its suspension is a `Reading`.

use postgres::Row;

use super::{any, Session, PERIOD};
use crate::pick;

impl Session<'_> {
    /// An athlete (one with history, or any) reads their strikes.
    pub(super) fn read_suspension(&mut self) {
        let athlete = match self.rng.below(2) {
            0 => any(&mut self.rng, &self.studio.attendance.historic),
            _ => pick(&mut self.rng, &self.studio.athletes),
        };
        let Some(athlete) = athlete else { return };
        let sql = concat!(
            "SELECT $1::text, s.strikes, ",
            micros!("s.suspended_until"),
            ", ",
            micros!("now()"),
            ", ",
            micros!("clock_timestamp()"),
            " FROM gym_booking.athlete_suspension() AS s"
        );
        let path = "POST /rpc/athlete_suspension";
        // A deleted account may not sign in (42501).
        let answer = self.ask(
            "athlete reads suspension",
            Some(&athlete),
            path,
            &["42501"],
            |tx| tx.query_one(sql, &[&athlete]),
        );
        if let Some(row) = answer {
            self.note_reading("(athlete's own reading)", &row);
        }
    }

    /// `athlete_report` rows: (user, strikes, until, from, at) readings, and the figures
    /// agree with each other. Returns the users the rows are about.
    fn report_rows(&self, what: &'static str, rows: &[Row]) -> Vec<String> {
        for row in rows {
            if !row.get::<_, bool>(5) {
                self.anomaly(format!("{what}: figures that disagree: {row:?}"));
            }
            self.note_reading(what, row);
        }
        rows.iter().map(|r| r.get(0)).collect()
    }

    /// An athlete reads their own report: only their own row.
    pub(super) fn read_own_report(&mut self) {
        let athlete = match self.rng.below(2) {
            0 => any(&mut self.rng, &self.studio.attendance.historic),
            _ => pick(&mut self.rng, &self.studio.athletes),
        };
        let Some(athlete) = athlete else { return };
        let sql = athlete_report_sql();
        let path = "POST /rpc/athlete_report";
        let answer = self.ask(
            "athlete reads report",
            Some(&athlete),
            path,
            &["42501"],
            |tx| tx.query(&sql, &[]),
        );
        let Some(rows) = answer else { return };
        let users = self.report_rows("(athlete's own report)", &rows);
        // (An athlete made a trainer meanwhile reads their slots' athletes instead.)
        let promoted = self.studio.trainers.lock().unwrap().contains(&athlete);
        if !promoted && users.iter().any(|u| *u != athlete) {
            self.anomaly(format!("athlete_report by {athlete} shows {users:?}"));
        }
    }

    /// The gym (the app admin or the back office) reads a report over the studio's days.
    pub(super) fn gym_reads_reports(&mut self) {
        let admin = self.studio.admin.clone();
        let sub = (self.rng.below(2) == 0).then_some(admin.as_str());
        self.read_report("gym reads reports", sub, None);
    }

    /// A trainer reads a report of their own slots (a demoted or deleted one: 42501).
    pub(super) fn trainer_reads_reports(&mut self) {
        let Some(trainer) = pick(&mut self.rng, &self.studio.trainers) else {
            return;
        };
        self.read_report("trainer reads reports", Some(&trainer), Some(&trainer));
    }

    /// One of the three reports: per slot and per trainer, each row's figures checked against
    /// each other (and, for a trainer, only their own rows); per athlete, readings.
    fn read_report(&mut self, op: &'static str, sub: Option<&str>, trainer: Option<&str>) {
        let (kind, path) = match self.rng.below(3) {
            0 => ("slot_report", "POST /rpc/slot_report"),
            1 => ("trainer_report", "POST /rpc/trainer_report"),
            _ => ("athlete_report", "POST /rpc/athlete_report"),
        };
        let allowed: &[&str] = if trainer.is_some() { &["42501"] } else { &[] };
        if kind == "athlete_report" {
            let sql = athlete_report_sql();
            if let Some(rows) = self.ask(op, sub, path, allowed, |tx| tx.query(&sql, &[])) {
                self.report_rows("(athlete report rows)", &rows);
            }
            return;
        }
        let figures = match kind {
            "slot_report" => "r.slot_id::text",
            _ => "r.trainer_id::text || ' (' || r.slots || ' slots)'",
        };
        let sql = format!(
            "SELECT r.trainer_id::text, {figures},
                    r.attended + r.no_shows <= r.booked AND r.cancellations >= 0
                    AND r.utilization = round(r.booked::numeric / r.capacity, 4)
               FROM gym_booking.{kind}({PERIOD}) AS r"
        );
        let Some(rows) = self.ask(op, sub, path, allowed, |tx| tx.query(&sql, &[])) else {
            return;
        };
        for row in &rows {
            let (of, what, fine): (String, String, bool) = (row.get(0), row.get(1), row.get(2));
            if !fine || trainer.is_some_and(|t| t != of) {
                self.anomaly(format!(
                    "{kind} for {sub:?}: row {what} of trainer {of} (figures agree: {fine})"
                ));
            }
        }
    }
}

/// `athlete_report` over `PERIOD` as readings: (user, strikes, until, from, at, figures agree).
fn athlete_report_sql() -> String {
    format!(
        "SELECT r.user_id::text, r.strikes, {}, {}, {},
                r.attended + r.no_shows <= r.bookings AND r.cancellations >= 0
                AND r.attendance_rate IS NOT DISTINCT FROM CASE WHEN r.attended + r.no_shows > 0
                    THEN round(r.attended::numeric / (r.attended + r.no_shows), 4) END
                AND r.no_show_rate IS NOT DISTINCT FROM CASE WHEN r.attended + r.no_shows > 0
                    THEN round(r.no_shows::numeric / (r.attended + r.no_shows), 4) END
           FROM gym_booking.athlete_report({PERIOD}) AS r",
        micros!("r.suspended_until"),
        micros!("now()"),
        micros!("clock_timestamp()"),
    )
}

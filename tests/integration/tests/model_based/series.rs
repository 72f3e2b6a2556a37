//! Timetables in the model (0.2.1, sql/timetable.sql): weekly series in a time zone, their
//! occurrences (slots that point at them), and the model's prediction of `create_series`,
//! `edit_series`, `cancel_series`, `extend_timetables()` and an admin changing
//! `timetable_horizon`.
//!
//! Local time is the model's own reading of the IANA rules (chrono-tz), never PostgreSQL's: an
//! occurrence on a local date starts at `local_start` on that date in the series' zone; a
//! local time in the spring gap is read with the offset in force before the change, one that
//! exists twice (the autumn overlap) with the offset after it (README, "Daylight saving").

use super::*;
use chrono::{Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone};
use chrono_tz::Tz;

/// Zones a series is created in: three that change their clocks (on different dates, two
/// hemispheres), one with a half-hour offset, and UTC.
pub(crate) const ZONES: [&str; 5] = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "UTC",
];
/// Names PostgreSQL does not know as a zone (or refuses: `localtime`): 22023.
pub(crate) const BAD_ZONES: [&str; 4] = ["Mars/Olympus_Mons", "Europe/Berlinn", "localtime", ""];
/// The studio's zone (its default, which the runs keep): a series made without one is in it.
pub(crate) const STUDIO_ZONE: &str = "UTC";

/// Occurrences to make: their local dates and starts (seconds since the epoch).
pub(crate) type Dates = Vec<(NaiveDate, i64)>;

/// What a series sets on an occurrence: start (seconds), duration, capacity, notes.
pub(crate) type Made = (i64, i64, i64, Option<String>);

/// A series as the model holds it.
#[derive(Clone, Debug)]
pub(crate) struct Series {
    pub(crate) id: String,
    pub(crate) trainer: usize,
    /// ISO weekdays, distinct and sorted.
    pub(crate) weekdays: Vec<u32>,
    /// Seconds after local midnight.
    pub(crate) local_start: u32,
    pub(crate) minutes: i64,
    pub(crate) capacity: i64,
    pub(crate) notes: Option<String>,
    pub(crate) zone: String,
    pub(crate) first: NaiveDate,
    pub(crate) last: Option<NaiveDate>,
    pub(crate) cancelled_from: Option<NaiveDate>,
    pub(crate) made_until: Option<NaiveDate>,
    /// Every date an occurrence was made for, with its slot; one deleted by hand stays here,
    /// so it is not made again (README: only an edit that adds its weekday back makes it).
    pub(crate) made: BTreeMap<NaiveDate, usize>,
}

/// A series named in a request: one the model knows, or a uuid that names none.
#[derive(Clone, Debug)]
pub(crate) enum Ref {
    Known(usize),
    Missing(String),
}

/// What `edit_series` says became of an occurrence.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Outcome {
    Booked,
    ByHand,
    Cancelled,
    Unchanged,
    Passed,
    /// Moved to this start (and the series' duration, capacity and notes).
    Changed(i64),
}

impl Outcome {
    fn sql(&self) -> &'static str {
        match self {
            Outcome::Booked => "kept: booked",
            Outcome::ByHand => "kept: changed by hand",
            Outcome::Cancelled => "cancelled",
            Outcome::Unchanged => "unchanged",
            Outcome::Passed => "kept: the new time has passed",
            Outcome::Changed(_) => "changed",
        }
    }
}

/// The changes an edit asks for (None: keep).
#[derive(Clone, Debug, Default)]
pub(crate) struct Edit {
    pub(crate) weekdays: Option<Vec<i32>>,
    pub(crate) local_start: Option<u32>,
    pub(crate) minutes: Option<i32>,
    pub(crate) capacity: Option<i32>,
    pub(crate) notes: Option<String>,
    pub(crate) last: Option<NaiveDate>,
    pub(crate) zone: Option<String>,
    pub(crate) clear_last: bool,
}

/// What a successful edit does: the series after it, each occurrence's outcome (in date
/// order), the dates it makes (`created`: new weekdays, and up to the horizon), and
/// `made_until` after it.
#[derive(Debug)]
pub(crate) struct EditPlan {
    pub(crate) after: Box<Series>,
    pub(crate) rows: Vec<(usize, Outcome)>,
    pub(crate) created: Dates,
    pub(crate) made_until: Option<NaiveDate>,
}

pub(crate) fn date_sql(d: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

pub(crate) fn time_sql(secs: u32) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn tz(zone: &str) -> Tz {
    zone.parse()
        .unwrap_or_else(|_| panic!("chrono-tz does not know {zone:?}"))
}

fn utc(us: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(us.div_euclid(SECOND), 0)
        .expect("a time chrono can hold")
        .naive_utc()
}

/// The local date in `zone` at the instant `us`.
pub(crate) fn today(zone: &str, us: i64) -> NaiveDate {
    tz(zone).from_utc_datetime(&utc(us)).date_naive()
}

/// When an occurrence on local date `d` at `local_start` in `zone` starts, in seconds since
/// the epoch (`series_start_at`).
pub(crate) fn start_at(d: NaiveDate, local_start: u32, zone: &str) -> i64 {
    let tz = tz(zone);
    let local = d.and_hms_opt(0, 0, 0).unwrap() + TimeDelta::seconds(i64::from(local_start));
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.timestamp(),
        // The autumn overlap: the offset after the change (the smaller one: the later instant).
        LocalResult::Ambiguous(a, b) => a.timestamp().max(b.timestamp()),
        // The spring gap: the offset in force before the change (a day earlier is before it).
        LocalResult::None => {
            let before = tz
                .offset_from_utc_datetime(&(local - TimeDelta::days(1)))
                .fix()
                .local_minus_utc();
            local.and_utc().timestamp() - i64::from(before)
        }
    }
}

pub(crate) fn iso_weekday(d: NaiveDate) -> u32 {
    d.weekday().number_from_monday()
}

fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

impl Series {
    pub(crate) fn start_on(&self, d: NaiveDate) -> i64 {
        start_at(d, self.local_start, &self.zone)
    }

    /// The row as the checks read it (`SERIES_COLUMNS` less the id).
    pub(crate) fn shape(&self, users: &[User]) -> String {
        let weekdays: Vec<String> = self.weekdays.iter().map(u32::to_string).collect();
        format!(
            "trainer {} weekdays {{{}}} at {} for {} min, capacity {}, notes {:?}, zone {}, \
             {}..{}, cancelled from {}, made until {}",
            users[self.trainer].id,
            weekdays.join(","),
            time_sql(self.local_start),
            self.minutes,
            self.capacity,
            self.notes,
            self.zone,
            date_sql(self.first),
            self.last.map_or("-".into(), date_sql),
            self.cancelled_from.map_or("-".into(), date_sql),
            self.made_until.map_or("-".into(), date_sql),
        )
    }
}

/// Distinct and sorted, as the series stores them.
fn weekday_set(weekdays: &[i32]) -> Vec<u32> {
    let mut set: Vec<u32> = weekdays.iter().map(|&w| w as u32).collect();
    set.sort_unstable();
    set.dedup();
    set
}

fn bad_weekdays(weekdays: &[i32]) -> bool {
    weekdays.is_empty() || weekdays.iter().any(|w| !(1..=7).contains(w))
}

impl Model {
    /// The series' trainer is an active trainer: only then are occurrences made.
    pub(crate) fn series_runs(&self, s: &Series) -> bool {
        let t = &self.users[s.trainer];
        s.cancelled_from.is_none() && t.role == Role::Trainer && !t.deleted
    }

    /// `may_manage_series`: the gym, or the series' trainer signed in as an active trainer.
    pub(crate) fn may_manage(&self, who: &Who, trainer: Option<usize>) -> bool {
        self.gym(who)
            || (trainer.is_some() && self.owner(who) == trainer && self.active_trainer(who))
    }

    /// `make_occurrences(series, weekdays_before)` at the statement time `stmt` (µs): every
    /// date of the series from today (in its zone) up to the horizon (or where it was made
    /// up to, if further; never past its last date) that is after `made_until`, or of a
    /// weekday not in `before` (an edit's new weekdays), whose start is still to come, and
    /// that has no occurrence (one deleted by hand is made again only when an edit adds its
    /// weekday back: README, "Timetables"); with
    /// `made_until` after it. None when the series does not run (cancelled, or its trainer is
    /// not an active trainer): nothing is made, nothing changes.
    pub(crate) fn make_occurrences(
        &self,
        s: &Series,
        before: &[u32],
        stmt: i64,
    ) -> Option<(Dates, NaiveDate)> {
        if !self.series_runs(s) {
            return None;
        }
        let today = today(&s.zone, stmt);
        let mut until = today + TimeDelta::days(self.horizon_days);
        if let Some(m) = s.made_until {
            until = until.max(m);
        }
        if let Some(last) = s.last {
            until = until.min(last);
        }
        let made = days(s.first.max(today), until)
            .filter(|d| {
                let w = iso_weekday(*d);
                s.weekdays.contains(&w)
                    && (s.made_until.is_none_or(|m| *d > m) || !before.contains(&w))
            })
            .map(|d| (d, s.start_on(d)))
            .filter(|&(d, at)| {
                // A date whose occurrence is there is never made again; one deleted by hand
                // only when an edit adds its weekday (back) to the series.
                let made = s.made.get(&d);
                let there = made.is_some_and(|&slot| !self.slots[slot].gone);
                let deleted = made.is_some_and(|&slot| self.slots[slot].gone);
                at * SECOND > stmt && !there && (!deleted || !before.contains(&iso_weekday(d)))
            })
            .collect();
        Some((made, until))
    }

    /// `occurrence_as_made`: the slot has the start, duration, capacity and notes its series
    /// last set on it (not changed by hand since; one an edit kept because it was booked
    /// then is as made too).
    fn as_made(&self, slot: usize) -> bool {
        let o = &self.slots[slot];
        o.made_as.as_ref() == Some(&(o.start_s, o.minutes, o.capacity, o.notes.clone()))
    }

    /// The slot has what series `s` gives its date.
    fn as_series_has_it(&self, slot: usize, s: &Series) -> bool {
        let o = &self.slots[slot];
        let (_, date) = o.series.expect("an occurrence");
        o.start_s == s.start_on(date)
            && o.minutes == s.minutes
            && o.capacity == s.capacity
            && o.notes == s.notes
    }

    /// The occurrences of series `s` an edit or a cancellation looks at: not cancelled, not
    /// deleted, not started, on `from` or later; in date order.
    fn future_occurrences(&self, s: usize, from: NaiveDate, stmt: i64) -> Vec<usize> {
        self.series[s]
            .made
            .range(from..)
            .map(|(_, &slot)| slot)
            .filter(|&o| {
                let slot = &self.slots[o];
                !slot.gone && !slot.cancelled && slot.start_us() > stmt
            })
            .collect()
    }

    pub(crate) fn plan_edit(&self, s: usize, after: Series, stmt: i64) -> EditPlan {
        let was = &self.series[s];
        let today = today(&after.zone, stmt);
        let mut rows = Vec::new();
        for o in self.future_occurrences(s, today - TimeDelta::days(1), stmt) {
            let (_, date) = self.slots[o].series.unwrap();
            let held = self
                .bookings
                .iter()
                .any(|b| b.slot == o && b.status != Status::Cancelled);
            let outcome = if held {
                Outcome::Booked
            } else if !self.as_made(o) {
                Outcome::ByHand
            } else if !after.weekdays.contains(&iso_weekday(date))
                || after.last.is_some_and(|last| date > last)
            {
                Outcome::Cancelled
            } else if self.as_series_has_it(o, &after) {
                Outcome::Unchanged
            } else if after.start_on(date) * SECOND <= stmt {
                Outcome::Passed
            } else {
                Outcome::Changed(after.start_on(date))
            };
            rows.push((o, outcome));
        }
        // Dates the series now has that it had not: its new weekdays, and up to the horizon.
        let (created, made_until) = match self.make_occurrences(&after, &was.weekdays, stmt) {
            Some((made, until)) => (made, Some(until)),
            None => (Vec::new(), after.made_until),
        };
        EditPlan {
            after: Box::new(after),
            rows,
            created,
            made_until,
        }
    }

    /// The prediction of an operation on timetables; None for the others.
    pub(crate) fn expect_series(&self, op: &Op, now: i64) -> Option<Expect> {
        use Expect::{Change, Refused, Same, Touch};
        let stmt = self.stmt_now.unwrap_or(now);
        Some(match op {
            Op::CreateSeries {
                who,
                trainer,
                weekdays,
                local_start,
                first,
                last,
                minutes,
                capacity,
                notes,
                zone,
            } => {
                if let Some(code) = self.api_gate(who, false) {
                    return Some(Refused(code));
                }
                let me = self.owner(who).map(Ref::Known);
                let Some(trainer) = trainer.clone().or(me) else {
                    return Some(Refused(NOT_ALLOWED));
                };
                let known = match &trainer {
                    Ref::Known(t) => Some(*t),
                    Ref::Missing(_) => None,
                };
                if !self.may_manage(who, known) {
                    return Some(Refused(NOT_ALLOWED));
                }
                let Some(first) = *first else {
                    return Some(Refused(NULL_ARG));
                };
                if !(30..=240).contains(minutes) || !(1..=20).contains(capacity) {
                    return Some(Refused(CHECK));
                }
                if bad_weekdays(weekdays) {
                    return Some(Refused(CHECK));
                }
                let active = known
                    .filter(|&t| self.users[t].role == Role::Trainer && !self.users[t].deleted);
                let Some(trainer) = active else {
                    return Some(Refused(NO_SUCH_ROW));
                };
                let zone = zone.clone().unwrap_or_else(|| STUDIO_ZONE.to_string());
                if !ZONES.contains(&zone.as_str()) {
                    return Some(Refused(INVALID));
                }
                if *local_start >= 86_400
                    || notes.as_ref().is_some_and(|n| n.chars().count() > 2000)
                    || last.is_some_and(|l| l < first)
                {
                    return Some(Refused(CHECK));
                }
                let mut series = Series {
                    id: NEW.into(),
                    trainer,
                    weekdays: weekday_set(weekdays),
                    local_start: *local_start,
                    minutes: i64::from(*minutes),
                    capacity: i64::from(*capacity),
                    notes: notes.clone(),
                    zone,
                    first,
                    last: *last,
                    cancelled_from: None,
                    made_until: None,
                    made: BTreeMap::new(),
                };
                let weekdays = series.weekdays.clone();
                let (made, made_until) = self
                    .make_occurrences(&series, &weekdays, stmt)
                    .expect("an active trainer's new series runs");
                series.made_until = Some(made_until);
                Change(
                    Obs::Series {
                        id: NEW.into(),
                        shape: series.shape(&self.users),
                    },
                    Effect::NewSeries {
                        series: Box::new(series),
                        made,
                    },
                )
            }
            Op::EditSeries { who, series, edit } => {
                if matches!(who, Who::Anon) {
                    return Some(Refused(NOT_ALLOWED));
                }
                let Ref::Known(s) = series else {
                    return Some(Refused(NOT_FOUND));
                };
                if matches!(who, Who::BadSub) {
                    return Some(Refused(BAD_CLAIMS));
                }
                let was = &self.series[*s];
                if !self.may_manage(who, Some(was.trainer)) {
                    return Some(Refused(NOT_ALLOWED));
                }
                if was.cancelled_from.is_some() {
                    return Some(Refused(INVALID));
                }
                if edit.minutes.is_some_and(|m| !(30..=240).contains(&m))
                    || edit.capacity.is_some_and(|c| !(1..=20).contains(&c))
                    || edit.weekdays.as_ref().is_some_and(|w| bad_weekdays(w))
                {
                    return Some(Refused(CHECK));
                }
                if edit
                    .zone
                    .as_ref()
                    .is_some_and(|z| !ZONES.contains(&z.as_str()))
                {
                    return Some(Refused(INVALID));
                }
                let mut after = was.clone();
                if let Some(w) = &edit.weekdays {
                    after.weekdays = weekday_set(w);
                }
                after.local_start = edit.local_start.unwrap_or(after.local_start);
                after.minutes = edit.minutes.map_or(after.minutes, i64::from);
                after.capacity = edit.capacity.map_or(after.capacity, i64::from);
                if let Some(notes) = &edit.notes {
                    after.notes = (!notes.is_empty()).then(|| notes.clone());
                }
                after.last = if edit.clear_last {
                    None
                } else {
                    edit.last.or(after.last)
                };
                if let Some(zone) = &edit.zone {
                    after.zone = zone.clone();
                }
                if after.local_start >= 86_400
                    || after
                        .notes
                        .as_ref()
                        .is_some_and(|n| n.chars().count() > 2000)
                    || after.last.is_some_and(|l| l < after.first)
                {
                    return Some(Refused(CHECK));
                }
                let plan = self.plan_edit(*s, after, stmt);
                let mut rows: Vec<String> = plan
                    .rows
                    .iter()
                    .map(|(o, outcome)| {
                        let slot = &self.slots[*o];
                        let start = match outcome {
                            Outcome::Changed(at) => *at,
                            _ => slot.start_s,
                        };
                        let date = date_sql(slot.series.unwrap().1);
                        format!("{} {date} {start} {}", slot.id, outcome.sql())
                    })
                    .collect();
                rows.extend(
                    plan.created
                        .iter()
                        .map(|(d, at)| format!("{NEW} {} {at} created", date_sql(*d))),
                );
                let by = self.by(who, None, self.slot_of_series(*s));
                Change(
                    Obs::Outcomes(rows),
                    Effect::EditSeries {
                        series: *s,
                        plan,
                        by,
                    },
                )
            }
            Op::CancelSeries { who, series, from } => {
                if matches!(who, Who::Anon) {
                    return Some(Refused(NOT_ALLOWED));
                }
                let Ref::Known(s) = series else {
                    return Some(Refused(NOT_FOUND));
                };
                if matches!(who, Who::BadSub) {
                    return Some(Refused(BAD_CLAIMS));
                }
                let se = &self.series[*s];
                if !self.may_manage(who, Some(se.trainer)) {
                    return Some(Refused(NOT_ALLOWED));
                }
                let from = from.unwrap_or_else(|| today(&se.zone, stmt));
                let cancelled_from = se.cancelled_from.map_or(from, |c| c.min(from));
                let slots = self.future_occurrences(*s, from, stmt);
                let by = self.by(who, None, self.slot_of_series(*s));
                Change(
                    Obs::Count(slots.len() as i64),
                    Effect::CancelSeries {
                        series: *s,
                        cancelled_from,
                        slots,
                        by,
                    },
                )
            }
            Op::ExtendTimetables { who } => {
                if let Some(code) = self.api_gate(who, false) {
                    return Some(Refused(code));
                }
                if !self.gym(who) {
                    return Some(Refused(NOT_ALLOWED));
                }
                let mut made = Vec::new();
                for (i, s) in self.series.iter().enumerate() {
                    let horizon = today(&s.zone, stmt) + TimeDelta::days(self.horizon_days);
                    let behind = s
                        .made_until
                        .is_none_or(|m| m < horizon && s.last.is_none_or(|last| m < last));
                    if !behind {
                        continue;
                    }
                    if let Some((dates, until)) = self.make_occurrences(s, &s.weekdays, stmt) {
                        made.push((i, dates, until));
                    }
                }
                let n: usize = made.iter().map(|m| m.1.len()).sum();
                if made.is_empty() {
                    Same(Obs::Count(0))
                } else {
                    Change(Obs::Count(n as i64), Effect::Extend { made })
                }
            }
            Op::SetHorizon { who, days } => {
                if matches!(who, Who::Anon) {
                    return Some(Refused(NOT_ALLOWED));
                }
                if !(self.active_admin(who) || matches!(who, Who::Dba)) {
                    return Some(Expect::Denied);
                }
                if !(1..=366).contains(days) {
                    Refused(CHECK)
                } else if *days == self.horizon_days {
                    Touch(Obs::Rows(1))
                } else {
                    Change(Obs::Rows(1), Effect::Horizon { days: *days })
                }
            }
            _ => return None,
        })
    }

    /// A slot of the series' trainer, for `by` (who the cancelled athletes are told did it):
    /// any occurrence will do, or a stand-in with the same trainer.
    fn slot_of_series(&self, s: usize) -> usize {
        let trainer = self.series[s].trainer;
        self.series[s]
            .made
            .values()
            .copied()
            .next()
            .or_else(|| self.slots.iter().position(|x| x.trainer == trainer))
            .unwrap_or(0)
    }

    /// A new occurrence of series `s` on `date`, starting at `start_s`, as the series makes
    /// it; its id is `id` (NEW: read from the database after the step).
    fn add_occurrence(&mut self, s: usize, date: NaiveDate, start_s: i64, id: String) {
        let se = &self.series[s];
        self.slots.push(Slot {
            id,
            trainer: se.trainer,
            start_s,
            minutes: se.minutes,
            capacity: se.capacity,
            notes: se.notes.clone(),
            series: Some((s, date)),
            made_as: Some((start_s, se.minutes, se.capacity, se.notes.clone())),
            cancelled: false,
            gone: false,
        });
        let slot = self.slots.len() - 1;
        self.series[s].made.insert(date, slot);
    }

    pub(crate) fn apply_series(&mut self, effect: Effect, obs: &Obs, now: i64) -> Option<Effect> {
        let stmt = self.stmt_now.unwrap_or(now);
        match effect {
            Effect::NewSeries { mut series, made } => {
                series.id = obs.id().expect("the series' id").to_string();
                self.series.push(*series);
                let s = self.series.len() - 1;
                for (d, at) in made {
                    self.add_occurrence(s, d, at, NEW.into());
                }
            }
            Effect::EditSeries { series, plan, by } => {
                let made = self.series[series].made.clone();
                self.series[series] = *plan.after;
                self.series[series].made = made;
                let after = self.series[series].clone();
                for (o, outcome) in plan.rows {
                    match outcome {
                        Outcome::Cancelled => self.cancel_slot(o, by),
                        Outcome::Changed(at) => {
                            let slot = &mut self.slots[o];
                            let raised = after.capacity > slot.capacity;
                            slot.start_s = at;
                            slot.minutes = after.minutes;
                            slot.capacity = after.capacity;
                            slot.notes = after.notes.clone();
                            slot.made_as =
                                Some((at, after.minutes, after.capacity, after.notes.clone()));
                            if raised {
                                self.promote(o, stmt);
                            }
                        }
                        _ => {}
                    }
                }
                let Obs::Outcomes(rows) = obs else {
                    unreachable!("checked by matches()")
                };
                let ids: Vec<String> = rows[rows.len() - plan.created.len()..]
                    .iter()
                    .map(|r| r.split(' ').next().unwrap().to_string())
                    .collect();
                for ((d, at), id) in plan.created.into_iter().zip(ids) {
                    self.add_occurrence(series, d, at, id);
                }
                self.series[series].made_until = plan.made_until;
            }
            Effect::CancelSeries {
                series,
                cancelled_from,
                slots,
                by,
            } => {
                self.series[series].cancelled_from = Some(cancelled_from);
                for o in slots {
                    self.cancel_slot(o, by);
                }
            }
            Effect::Extend { made } => {
                for (s, dates, until) in made {
                    for (d, at) in dates {
                        self.add_occurrence(s, d, at, NEW.into());
                    }
                    self.series[s].made_until = Some(until);
                }
            }
            Effect::Horizon { days } => {
                self.horizon_days = days;
                self.settings_history.0 += 1;
                self.settings_history.1 += 1;
            }
            other => return Some(other),
        }
        None
    }
}

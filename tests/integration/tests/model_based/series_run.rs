//! Choosing and sending the operations on timetables (0.2.1): trainers (and the gym) create,
//! edit and cancel series, sometimes with bad input or for someone they may not; the gym keeps
//! timetables ahead and changes the horizon; athletes book occurrences; trainers change one
//! occurrence by hand. After each step the series are compared with the model.

use super::*;
use chrono::TimeDelta;
use series::{date_sql, time_sql, today, Edit, Ref, BAD_ZONES, ZONES};

/// After each step, in one round trip: the timetables' invariants (`SERIES_INVARIANTS`) as
/// ('violation', text), every series as ('series', id, what `Series::shape` writes), and
/// ('horizon', days).
pub(crate) const SERIES: &str = "
SELECT 'violation', v, '' FROM (SERIES_INVARIANTS) AS v (v)
UNION ALL
SELECT 'horizon', extract(day FROM timetable_horizon)::text, '' FROM gym_booking.studio_settings
UNION ALL
SELECT 'series', id::text,
       format('trainer %s weekdays %s at %s for %s min, capacity %s, notes %s, zone %s, %s..%s, cancelled from %s, made until %s',
              trainer_id, weekdays, local_start, duration_minutes, capacity,
              CASE WHEN notes IS NULL THEN 'None' ELSE 'Some(' || to_json(notes) || ')' END,
              time_zone, first_date, coalesce(last_date::text, '-'),
              coalesce(cancelled_from::text, '-'), coalesce(made_until::text, '-'))
  FROM gym_booking.series";

/// The columns `create_series` returns, as `SERIES` reads them.
const CREATED: &str = "id::text,
       format('trainer %s weekdays %s at %s for %s min, capacity %s, notes %s, zone %s, %s..%s, cancelled from %s, made until %s',
              trainer_id, weekdays, local_start, duration_minutes, capacity,
              CASE WHEN notes IS NULL THEN 'None' ELSE 'Some(' || to_json(notes) || ')' END,
              time_zone, first_date, coalesce(last_date::text, '-'),
              coalesce(cancelled_from::text, '-'), coalesce(made_until::text, '-'))";

/// Timetables' invariants, as violations (in `SERIES`).
const SERIES_INVARIANTS: &str = "
SELECT format('occurrence %s of series %s has trainer %s, its series %s', o.id, s.id, o.trainer_id, s.trainer_id)
  FROM gym_booking.slots AS o JOIN gym_booking.series AS s ON s.id = o.series_id
 WHERE o.trainer_id <> s.trainer_id
UNION ALL
SELECT format('occurrence %s of series %s on %s (from which it is cancelled) is not cancelled, and starts at %s, after the cancellation at %s',
              o.id, s.id, o.series_date, o.start_at, s.updated_at)
  FROM gym_booking.slots AS o JOIN gym_booking.series AS s ON s.id = o.series_id
 WHERE s.cancelled_from IS NOT NULL AND o.series_date >= s.cancelled_from
   AND o.cancelled_at IS NULL AND o.start_at > s.updated_at
UNION ALL
SELECT format('occurrence %s of series %s is on %s, outside %s..%s', o.id, s.id, o.series_date,
              s.first_date, s.last_date)
  FROM gym_booking.slots AS o JOIN gym_booking.series AS s ON s.id = o.series_id
 WHERE o.series_date < s.first_date";

/// A start as "HH:MM" for a request (whole minutes; 86400 is "24:00").
fn hhmm(secs: u32) -> String {
    format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

impl Run {
    /// One of the operations on timetables; `r` is below `SERIES_WEIGHT`.
    pub(crate) fn choose_series(&mut self, r: u64) -> Op {
        match r {
            0..=21 => self.create_series(),
            22..=46 => self.edit_series(),
            47..=54 => {
                let (who, series) = self.series_and_manager();
                let from = match self.rng.below(10) {
                    0..=4 => None,
                    _ => Some(self.today_utc() + TimeDelta::days(self.rng.range(-2, 10))),
                };
                Op::CancelSeries { who, series, from }
            }
            55..=61 => {
                let who = match self.rng.below(20) {
                    0..=8 => Who::Service,
                    9..=15 => self.admin(),
                    16 => self.trainer(),
                    17 => self.athlete(),
                    18 => Who::Anon,
                    _ => Who::BadSub,
                };
                Op::ExtendTimetables { who }
            }
            62..=66 => {
                let who = match self.rng.below(10) {
                    0..=6 => Who::User(0),
                    7 => Who::Service,
                    8 => self.trainer(),
                    _ => self.someone(Role::Admin),
                };
                let days = match self.rng.below(20) {
                    0 => [0, 367][self.rng.below(2) as usize],
                    _ => [7, 10, 14, 21][self.rng.below(4) as usize],
                };
                Op::SetHorizon { who, days }
            }
            67..=89 => self.book_occurrence(),
            _ => self.change_occurrence(),
        }
    }

    fn today_utc(&self) -> NaiveDate {
        today("UTC", self.now)
    }

    /// Mostly a trainer's own series on their weekdays near now, with good input; sometimes
    /// the gym for a trainer (or for someone who is not one), and one bad argument at a time.
    fn create_series(&mut self) -> Op {
        let mut trainer = None;
        let who = match self.rng.below(20) {
            0..=14 => self.trainer(),
            15 | 16 => {
                let trainers = self.users_where(|u| u.role == Role::Trainer);
                let others: Vec<usize> = (0..self.model.users.len()).collect();
                trainer = Some(match self.rng.below(10) {
                    0..=6 => Ref::Known(self.rng.pick(&trainers).unwrap_or(2)),
                    7 | 8 => Ref::Known(self.rng.pick(&others).unwrap_or(5)),
                    _ => Ref::Missing(self.rng.uuid()),
                });
                self.gym()
            }
            17 => {
                // A trainer naming another trainer (or themselves).
                let trainers = self.users_where(|u| u.role == Role::Trainer);
                trainer = self.rng.pick(&trainers).map(Ref::Known);
                self.trainer()
            }
            18 => self.athlete(),
            _ => [Who::Anon, Who::BadSub, Who::Service, self.ghost()][self.rng.below(4) as usize]
                .clone(),
        };
        let n = self.rng.range(1, 3);
        let mut weekdays: Vec<i32> = (0..n).map(|_| self.rng.range(1, 7) as i32).collect();
        // Mostly on the hour or half-hour; sometimes soon after now (today's occurrence is near).
        let local_start = if self.rng.chance(15) {
            let secs = (self.now.div_euclid(SECOND)).rem_euclid(86_400) as u32;
            (secs / 300 * 300 + self.rng.range(1, 24) as u32 * 300) % 86_400
        } else {
            self.rng.range(12, 43) as u32 * 1800
        };
        let first = self.today_utc() + TimeDelta::days(self.rng.range(-3, 6));
        let last =
            (!self.rng.chance(25)).then(|| first + TimeDelta::days(7 * self.rng.range(1, 4) - 1));
        let mut op = Op::CreateSeries {
            who,
            trainer,
            weekdays: Vec::new(),
            local_start,
            first: Some(first),
            last,
            minutes: [30, 45, 60, 90][self.rng.below(4) as usize],
            capacity: self.rng.range(1, 4) as i32,
            notes: self.rng.chance(70).then(|| self.rng.token("class-")),
            zone: self.zone(),
        };
        if let Op::CreateSeries {
            weekdays: w,
            local_start,
            first,
            last,
            minutes,
            capacity,
            notes,
            zone,
            ..
        } = &mut op
        {
            // Now and then one bad argument.
            match self.rng.below(40) {
                0 => weekdays = Vec::new(),
                1 => weekdays.push([0, 8][self.rng.below(2) as usize]),
                2 => *local_start = 86_400,
                3 => *first = None,
                4 => *last = Some(first.unwrap() - TimeDelta::days(1)),
                5 => *minutes = [20, 300][self.rng.below(2) as usize],
                6 => *capacity = [0, 21][self.rng.below(2) as usize],
                7 => *notes = Some("n".repeat(2001)),
                8 => *zone = Some(BAD_ZONES[self.rng.below(4) as usize].into()),
                // A weekday twice: the series keeps it once.
                9 => weekdays.push(weekdays[0]),
                _ => {}
            }
            *w = weekdays;
        }
        op
    }

    /// A zone of the set; sometimes none (the studio's).
    fn zone(&mut self) -> Option<String> {
        if self.rng.chance(15) {
            None
        } else {
            Some(ZONES[self.rng.below(ZONES.len() as u64) as usize].into())
        }
    }

    /// A series (mostly a running one) and who acts on it: mostly its trainer, sometimes the
    /// gym, another trainer, an athlete or an odd caller; now and then no such series.
    fn series_and_manager(&mut self) -> (Who, Ref) {
        let running: Vec<usize> = (0..self.model.series.len())
            .filter(|&s| self.model.series[s].cancelled_from.is_none())
            .collect();
        let all: Vec<usize> = (0..self.model.series.len()).collect();
        let pick = match self.rng.pick(&running) {
            Some(s) if self.rng.chance(85) => Some(s),
            _ => self.rng.pick(&all),
        };
        let series = match pick {
            Some(s) if self.rng.chance(97) => Ref::Known(s),
            _ => Ref::Missing(self.rng.uuid()),
        };
        let who = match (self.rng.below(20), &series) {
            (0..=13, Ref::Known(s)) => Who::User(self.model.series[*s].trainer),
            (0..=15, _) => self.gym(),
            (16 | 17, _) => self.trainer(),
            (18, _) => self.athlete(),
            _ => [Who::Anon, Who::BadSub, self.ghost()][self.rng.below(3) as usize].clone(),
        };
        (who, series)
    }

    /// An edit of one to three things: the start, the weekdays, the capacity, the notes
    /// (sometimes cleared), the duration, the last date, the zone; now and then a bad one.
    fn edit_series(&mut self) -> Op {
        let (who, series) = self.series_and_manager();
        let mut edit = Edit::default();
        let n = self.rng.range(1, 3);
        for _ in 0..n {
            match self.rng.below(20) {
                0..=5 => {
                    edit.local_start = Some(self.rng.range(12, 43) as u32 * 1800);
                }
                6..=9 => {
                    let k = self.rng.range(1, 4);
                    let mut weekdays: Vec<i32> =
                        (0..k).map(|_| self.rng.range(1, 7) as i32).collect();
                    // Half of the time a weekday of its occurrences comes back (where one was
                    // deleted by hand, it is not made again; one the series cancelled stays
                    // cancelled), or one of its weekdays goes.
                    if let (Ref::Known(s), true) = (&series, self.rng.chance(50)) {
                        let se = &self.model.series[*s];
                        let current: Vec<i32> = se.weekdays.iter().map(|&w| w as i32).collect();
                        let gone: Vec<i32> = se
                            .made
                            .keys()
                            .map(|d| series::iso_weekday(*d) as i32)
                            .filter(|w| !current.contains(w))
                            .collect();
                        weekdays = current.clone();
                        match self.rng.pick(&gone) {
                            Some(w) => weekdays.push(w),
                            None if current.len() > 1 => {
                                weekdays.remove(self.rng.below(current.len() as u64) as usize);
                            }
                            None => weekdays.push(self.rng.range(1, 7) as i32),
                        }
                    }
                    edit.weekdays = Some(weekdays);
                }
                10..=12 => edit.capacity = Some(self.rng.range(1, 5) as i32),
                13..=14 => {
                    edit.notes = Some(if self.rng.chance(25) {
                        String::new()
                    } else {
                        self.rng.token("class-")
                    })
                }
                15 => edit.minutes = Some([30, 45, 60, 90][self.rng.below(4) as usize]),
                16 | 17 => {
                    if self.rng.chance(30) {
                        edit.clear_last = true;
                    } else {
                        let first = match &series {
                            Ref::Known(s) => self.model.series[*s].first,
                            Ref::Missing(_) => self.today_utc(),
                        };
                        edit.last = Some(first + TimeDelta::days(self.rng.range(6, 27)));
                    }
                }
                _ => edit.zone = self.zone(),
            }
        }
        match self.rng.below(40) {
            0 => edit.weekdays = Some(vec![]),
            1 => edit.capacity = Some(21),
            2 => edit.minutes = Some(20),
            3 => edit.zone = Some(BAD_ZONES[self.rng.below(4) as usize].into()),
            4 => edit.local_start = Some(86_400),
            5 => {
                if let Ref::Known(s) = &series {
                    edit.last = Some(self.model.series[*s].first - TimeDelta::days(1));
                }
            }
            _ => {}
        }
        Op::EditSeries { who, series, edit }
    }

    /// Open occurrences (not cancelled, not started).
    fn open_occurrences(&self) -> Vec<usize> {
        self.open_slots()
            .into_iter()
            .filter(|&s| self.model.slots[s].series.is_some())
            .collect()
    }

    /// An athlete books an occurrence (book_slot, or POST /bookings).
    fn book_occurrence(&mut self) -> Op {
        let open = self.open_occurrences();
        let Some(slot) = self.rng.pick(&open) else {
            return self.create_series();
        };
        let who = self.athlete();
        match who {
            Who::User(user) if self.rng.chance(20) => Op::InsertBooking { who, slot, user },
            who => Op::Book {
                who,
                slot: SlotRef::Known(slot),
            },
        }
    }

    /// Its trainer (or the gym) changes one occurrence by hand: moves it, changes its notes or
    /// capacity (sometimes back to the series'), cancels or deletes it.
    fn change_occurrence(&mut self) -> Op {
        let open = self.open_occurrences();
        let all: Vec<usize> = (0..self.model.slots.len())
            .filter(|&s| self.model.slots[s].series.is_some() && !self.model.slots[s].gone)
            .collect();
        let pick = match self.rng.pick(&open) {
            Some(s) if self.rng.chance(85) => Some(s),
            _ => self.rng.pick(&all),
        };
        let Some(slot) = pick else {
            return self.create_series();
        };
        let who = if self.rng.chance(75) {
            Who::User(self.model.slots[slot].trainer)
        } else {
            self.gym()
        };
        match self.rng.below(10) {
            0..=2 => Op::SlotMove {
                who,
                slot,
                minutes: [-60, -30, 30, 60, 120][self.rng.below(5) as usize],
            },
            3 | 4 => Op::SlotNotes {
                who,
                slot,
                notes: self.rng.token("note-"),
            },
            5..=7 => {
                let (s, _) = self.model.slots[slot].series.unwrap();
                let capacity = if self.rng.chance(40) {
                    self.model.series[s].capacity
                } else {
                    self.model.slots[slot].capacity + self.rng.range(-1, 2)
                };
                Op::SlotCapacity {
                    who,
                    slot,
                    capacity: capacity.clamp(1, 20) as i32,
                }
            }
            8 => Op::CancelSlot {
                who,
                slot: SlotRef::Known(slot),
            },
            _ => Op::DeleteSlot { who, slot },
        }
    }

    /// Sends an operation on timetables; None for the others. Each call also reads its
    /// `statement_timestamp()` (the time the functions read), kept in `model.stmt_now`.
    pub(crate) fn exec_series(&mut self, op: &Op) -> Option<(i64, Result<Obs, Fail>)> {
        const STMT: &str = "(extract(epoch FROM statement_timestamp()) * 1000000)::int8";
        let who = op.who();
        let series_id = |m: &Model, s: &Ref| match s {
            Ref::Known(i) => m.series[*i].id.clone(),
            Ref::Missing(id) => id.clone(),
        };
        let mut stmt = None;
        let sent = match op {
            Op::CreateSeries {
                trainer,
                weekdays,
                local_start,
                first,
                last,
                minutes,
                capacity,
                notes,
                zone,
                ..
            } => {
                let trainer = trainer.as_ref().map(|t| match t {
                    Ref::Known(u) => self.model.users[*u].id.clone(),
                    Ref::Missing(id) => id.clone(),
                });
                let (start, first, last) =
                    (hhmm(*local_start), first.map(date_sql), last.map(date_sql));
                self.call(&who, "POST", "/rpc/create_series", |tx| {
                    let row = tx.query_one(
                        &format!(
                            "SELECT {STMT}, {CREATED} FROM gym_booking.create_series(
                                 weekdays => $1::int4[], local_start => $2::text::time,
                                 first_date => $3::text::date, last_date => $4::text::date,
                                 duration_minutes => $5::int4, capacity => $6::int4,
                                 notes => $7::text, time_zone => $8::text,
                                 trainer_id => $9::text::uuid)"
                        ),
                        &[
                            weekdays, &start, &first, &last, minutes, capacity, notes, zone,
                            &trainer,
                        ],
                    )?;
                    stmt = Some(row.get(0));
                    Ok(Obs::Series {
                        id: row.get(1),
                        shape: row.get(2),
                    })
                })
            }
            Op::EditSeries { series, edit, .. } => {
                let id = series_id(&self.model, series);
                let start = edit.local_start.map(hhmm);
                let last = edit.last.map(date_sql);
                self.call(&who, "POST", "/rpc/edit_series", |tx| {
                    let row = tx.query_one(
                        &format!(
                            "SELECT {STMT}, coalesce(array_agg(format('%s %s %s %s', e.slot_id,
                                        e.occurs_on, extract(epoch FROM e.start_at)::int8, e.outcome)
                                    ORDER BY e.n), '{{}}')
                               FROM gym_booking.edit_series(series_id => $1::text::uuid,
                                        weekdays => $2::int4[], local_start => $3::text::time,
                                        duration_minutes => $4::int4, capacity => $5::int4,
                                        notes => $6::text, last_date => $7::text::date,
                                        time_zone => $8::text, clear_last_date => $9::bool)
                                    WITH ORDINALITY AS e (slot_id, occurs_on, start_at, outcome, n)"
                        ),
                        &[
                            &id,
                            &edit.weekdays,
                            &start,
                            &edit.minutes,
                            &edit.capacity,
                            &edit.notes,
                            &last,
                            &edit.zone,
                            &edit.clear_last,
                        ],
                    )?;
                    stmt = Some(row.get(0));
                    Ok(Obs::Outcomes(row.get(1)))
                })
            }
            Op::CancelSeries { series, from, .. } => {
                let id = series_id(&self.model, series);
                let from = from.map(date_sql);
                self.call(&who, "POST", "/rpc/cancel_series", |tx| {
                    let row = tx.query_one(
                        &format!(
                            "SELECT {STMT}, gym_booking.cancel_series($1::text::uuid, $2::text::date)"
                        ),
                        &[&id, &from],
                    )?;
                    stmt = Some(row.get(0));
                    Ok(Obs::Count(i64::from(row.get::<_, i32>(1))))
                })
            }
            Op::ExtendTimetables { .. } => {
                self.call(&who, "POST", "/rpc/extend_timetables", |tx| {
                    let row = tx.query_one(
                        &format!("SELECT {STMT}, gym_booking.extend_timetables()"),
                        &[],
                    )?;
                    stmt = Some(row.get(0));
                    Ok(Obs::Count(i64::from(row.get::<_, i32>(1))))
                })
            }
            Op::SetHorizon { days, .. } => self.call(&who, "PATCH", "/studio_settings", |tx| {
                Self::rows(
                    tx,
                    "UPDATE gym_booking.studio_settings
                            SET timetable_horizon = make_interval(days => $1::int8::int4) WHERE id",
                    &[days],
                )
            }),
            _ => return None,
        };
        self.model.stmt_now = stmt;
        // What the edits said, for the run's summary (each outcome should come up).
        if let (_, Ok(Obs::Outcomes(rows))) = &sent {
            for row in rows {
                let outcome = row.splitn(4, ' ').nth(3).unwrap_or("?").to_string();
                *self
                    .tally
                    .entry("(edit outcomes)")
                    .or_default()
                    .entry(outcome)
                    .or_default() += 1;
            }
        }
        Some(sent)
    }

    /// Before the run: the model's reading of local time (chrono-tz) and the server's
    /// (`series_start_at`) agree on the 2027 daylight-saving changes of the zones that have
    /// them, at the changes (the spring gap, the autumn overlap) and around them. The random
    /// series keep within a few weeks of today, which may cross no change; the rule they
    /// share is checked here once.
    pub(crate) fn check_local_time(&mut self) {
        let changes = [
            ("Europe/Berlin", [(2027, 3, 28), (2027, 10, 31)]),
            ("America/New_York", [(2027, 3, 14), (2027, 11, 7)]),
            ("Australia/Sydney", [(2027, 4, 4), (2027, 10, 3)]),
            ("Asia/Kolkata", [(2027, 3, 28), (2027, 10, 31)]),
            ("UTC", [(2027, 3, 28), (2027, 10, 31)]),
        ];
        for (zone, dates) in changes {
            for (y, m, d) in dates {
                let day = NaiveDate::from_ymd_opt(y, m, d).unwrap();
                for date in [day - TimeDelta::days(1), day, day + TimeDelta::days(1)] {
                    for local in [0, 5400, 7200, 9000, 10800, 25200, 84600] {
                        let model = series::start_at(date, local, zone);
                        let server: i64 = self
                            .client
                            .query_one(
                                "SELECT extract(epoch FROM gym_booking.series_start_at(
                                            $1::text::date, $2::text::time, $3::text))::int8",
                                &[&date_sql(date), &time_sql(local), &zone],
                            )
                            .unwrap_or_else(|e| panic!("series_start_at: {e:?}"))
                            .get(0);
                        assert_eq!(
                            model,
                            server,
                            "seed {}: {} {} in {zone}: the model (chrono-tz) says epoch {model}, \
                             series_start_at says {server}",
                            self.seed,
                            date_sql(date),
                            time_sql(local)
                        );
                    }
                }
            }
        }
    }

    /// Occurrences the model made this step: their ids, from the database.
    pub(crate) fn resolve_new_occurrences(&mut self) -> Result<(), String> {
        for o in 0..self.model.slots.len() {
            let slot = &self.model.slots[o];
            if slot.id != NEW {
                continue;
            }
            let (s, date) = slot
                .series
                .expect("a new slot of the model's is an occurrence");
            let rows = self
                .client
                .query(
                    "SELECT id::text FROM gym_booking.slots
                      WHERE series_id = $1::text::uuid AND series_date = $2::text::date",
                    &[&self.model.series[s].id, &date_sql(date)],
                )
                .map_err(|e| format!("reading an occurrence failed: {e:?}"))?;
            match rows.first() {
                Some(row) => self.model.slots[o].id = row.get(0),
                None => {
                    return Err(format!(
                        "THE MODEL MADE AN OCCURRENCE OF series#{s} ON {}, THE DATABASE HAS NONE",
                        date_sql(date)
                    ))
                }
            }
        }
        Ok(())
    }

    /// After each step: the timetables' invariants, every series as the model has it, and no
    /// occurrence on a date whose occurrence was deleted by hand.
    pub(crate) fn check_series(&mut self) -> Result<(), String> {
        let rows = self
            .client
            .query(&self.sql.series, &[])
            .map_err(|e| format!("reading the series failed: {e:?}"))?;
        let (mut violations, mut horizon) = (Vec::new(), String::new());
        let mut db: HashMap<String, String> = HashMap::new();
        for r in &rows {
            let (kind, a, b): (&str, String, String) = (r.get(0), r.get(1), r.get(2));
            match kind {
                "violation" => violations.push(a),
                "horizon" => horizon = a,
                _ => {
                    db.insert(a, b);
                }
            }
        }
        if !violations.is_empty() {
            let n = violations.len();
            violations.truncate(20);
            return Err(format!(
                "TIMETABLE INVARIANT BROKEN ({n} violations):\n    {}",
                violations.join("\n    ")
            ));
        }
        let mut problems = Vec::new();
        for (i, s) in self.model.series.iter().enumerate() {
            let expected = s.shape(&self.model.users);
            match db.remove(&s.id) {
                None => problems.push(format!("series#{i} {} is missing", s.id)),
                Some(found) if found != expected => problems.push(format!(
                    "series#{i} {}:\n        database {found}\n        model    {expected}",
                    s.id
                )),
                Some(_) => {}
            }
        }
        problems.extend(
            db.keys()
                .map(|id| format!("series {id} is not in the model")),
        );
        if horizon != self.model.horizon_days.to_string() {
            problems.push(format!(
                "timetable_horizon is {horizon} days, the model says {}",
                self.model.horizon_days
            ));
        }
        if problems.is_empty() {
            return Ok(());
        }
        problems.truncate(12);
        Err(format!(
            "THE SERIES AND THE MODEL DISAGREE:\n    {}",
            problems.join("\n    ")
        ))
    }

    pub(crate) fn series_label(&self, s: usize) -> String {
        let se = &self.model.series[s];
        let deleted: Vec<String> = se
            .made
            .iter()
            .filter(|(_, &o)| self.model.slots[o].gone)
            .map(|(d, _)| date_sql(*d))
            .collect();
        format!(
            "series#{s} {} of {}: {}; {} occurrences made, deleted by hand on {deleted:?}",
            se.id,
            self.model.users[se.trainer].label,
            se.shape(&self.model.users),
            se.made.len()
        )
    }

    /// The series an operation names, for the failure message.
    pub(crate) fn describe_series(&self, op: &Op) -> Vec<String> {
        let mut parts = Vec::new();
        match op {
            Op::EditSeries {
                series: Ref::Known(s),
                ..
            }
            | Op::CancelSeries {
                series: Ref::Known(s),
                ..
            } => {
                parts.push(self.series_label(*s));
                let se = &self.model.series[*s];
                for (d, &o) in &se.made {
                    parts.push(format!("  {}: {}", date_sql(*d), self.slot_label(o)));
                }
            }
            Op::CreateSeries { local_start, .. } => parts.push(format!(
                "local start {}; today (UTC) {}",
                time_sql(*local_start),
                date_sql(self.today_utc())
            )),
            _ => {}
        }
        if matches!(
            op,
            Op::CreateSeries { .. }
                | Op::EditSeries { .. }
                | Op::CancelSeries { .. }
                | Op::ExtendTimetables { .. }
                | Op::SetHorizon { .. }
        ) {
            parts.push(format!(
                "timetable_horizon: {} days; the last call's statement time {:?}",
                self.model.horizon_days, self.model.stmt_now
            ));
        }
        parts
    }
}

/// `SERIES` with its invariants in place.
pub(crate) fn series_query() -> String {
    SERIES.replace("SERIES_INVARIANTS", SERIES_INVARIANTS)
}

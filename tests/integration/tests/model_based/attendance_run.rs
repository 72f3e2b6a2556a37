//! Choosing and sending the attendance operations (0.2.2); the checks after each step are in
//! `attendance_checks.rs`.

use super::*;
use attendance::{Att, Mark};
use postgres::types::ToSql;

/// Writes to attendance and reads of the sweep's watermark: no client role may make them (the
/// service role neither).
const ATTENDANCE_FORBIDDEN: [&str; 6] = [
    "INSERT INTO gym_booking.attendance (booking_id, user_id, slot_id, trainer_id, mark, strike_at)
     SELECT b.id, b.user_id, b.slot_id, s.trainer_id, 'no_show', s.start_at
       FROM gym_booking.bookings AS b JOIN gym_booking.slots AS s ON s.id = b.slot_id LIMIT 1",
    "UPDATE gym_booking.attendance SET mark = 'attended'",
    "DELETE FROM gym_booking.attendance",
    "TRUNCATE gym_booking.attendance",
    "SELECT * FROM gym_booking.attendance_sweep",
    "UPDATE gym_booking.attendance_sweep SET swept_until = now()",
];

/// `statement_timestamp()` of the call itself, in µs: what the attendance functions judge
/// time by.
const STMT: &str = "(extract(epoch FROM statement_timestamp()) * 1000000)::int8";

fn mark_obs(row: &postgres::Row) -> Obs {
    Obs::Mark {
        booking: row.get(1),
        mark: row.get(2),
        excused: row.get(3),
        by: row.get(4),
    }
}

impl Run {
    /// At the start of a run: the sweep's watermark restored to four days back (as from an
    /// older dump), so the loaded sessions (ended up to three days ago) are the sweep's.
    pub(crate) fn start_attendance(&mut self) {
        let row = self
            .client
            .query_one(
                "UPDATE gym_booking.attendance_sweep SET swept_until = now() - interval '4 days'
                 RETURNING (extract(epoch FROM swept_until) * 1000000)::int8",
                &[],
            )
            .unwrap_or_else(|e| panic!("seed {}: restore the sweep's watermark: {e:?}", self.seed));
        self.model.att.swept_until = row.get(0);
    }

    /// Bookings holding a place in sessions that have started and whose grace has not
    /// ended: the ones to mark.
    fn markable(&self) -> Vec<usize> {
        let now = self.now;
        let m = &self.model;
        (0..m.bookings.len())
            .filter(|&b| {
                let booking = &m.bookings[b];
                let slot = &m.slots[booking.slot];
                booking.status != Status::Cancelled
                    && slot.start_us() <= now
                    && now <= slot.end_us() + m.settings.attendance_grace
            })
            .collect()
    }

    /// Athletes suspended now.
    fn suspended_athletes(&self) -> Vec<usize> {
        self.users_where(|u| u.role == Role::Athlete && !u.deleted)
            .into_iter()
            .filter(|&u| self.model.suspended(u, self.now))
            .collect()
    }

    /// One of the attendance operations; `r` is below `ATTENDANCE_WEIGHT`.
    pub(crate) fn choose_attendance(&mut self, r: u64) -> Op {
        match r {
            0..=79 => self.mark(),
            80..=95 => self.excuse(),
            96..=107 => {
                let who = match self.rng.below(20) {
                    0..=8 => Who::Service,
                    9..=15 => self.admin(),
                    16 => Who::Dba,
                    17 => self.trainer(),
                    18 => self.athlete(),
                    _ => [Who::Anon, Who::BadSub][self.rng.below(2) as usize].clone(),
                };
                let max_rows = match self.rng.below(20) {
                    0 => 0,
                    1..=7 => self.rng.range(1, 2) as i32,
                    _ => 1000,
                };
                Op::RecordNoShows { who, max_rows }
            }
            108..=123 => self.roster(),
            124..=139 => self.suspension(),
            140..=145 => {
                let who = match self.rng.below(10) {
                    0..=3 => self.athlete(),
                    4..=6 => self.trainer(),
                    7 => self.admin(),
                    8 => Who::Service,
                    _ => [Who::Anon, self.ghost()][self.rng.below(2) as usize].clone(),
                };
                Op::ReadAttendance { who }
            }
            146..=151 => {
                let who = self.anyone();
                let sql = self.rng.pick(&ATTENDANCE_FORBIDDEN).unwrap();
                Op::Forbidden { who, sql }
            }
            152 | 153 => Op::RestoreSweep {
                minutes: self.rng.range(60, 3 * 24 * 60),
            },
            154..=163 => self.load_session(),
            164..=169 => self.reassign(),
            170..=181 => self.attendance_settings(),
            _ => self.suspended_tries(),
        }
    }

    /// The gym hands a session (mostly one that has started, with marks; never an
    /// occurrence of a series, which keeps its series' trainer) to another trainer; now and
    /// then to someone who is no active trainer, or a trainer tries it.
    fn reassign(&mut self) -> Op {
        let now = self.now;
        let m = &self.model;
        let candidates: Vec<usize> = (0..m.slots.len())
            .filter(|&s| !m.slots[s].gone && m.slots[s].series.is_none())
            .collect();
        let started: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&s| m.slots[s].start_us() <= now)
            .collect();
        let slot = match self.rng.pick(&started) {
            Some(s) if self.rng.chance(75) => s,
            _ => match self.rng.pick(&candidates) {
                Some(s) => s,
                None => return self.mark(),
            },
        };
        let trainers = self.users_where(|u| u.role == Role::Trainer && !u.deleted);
        let trainer = match self.rng.below(10) {
            0 => self.rng.below(self.model.users.len() as u64) as usize,
            _ => self.rng.pick(&trainers).unwrap_or(2),
        };
        let who = match self.rng.below(10) {
            0 => Who::User(self.model.slots[slot].trainer),
            1 => self.trainer(),
            _ => self.gym(),
        };
        Op::Reassign { who, slot, trainer }
    }

    /// An admin (mostly) changes one or two of attendance's settings.
    fn attendance_settings(&mut self) -> Op {
        const ATTENDANCE: [Setting; 5] = [
            Setting::AttendanceGrace,
            Setting::AutoNoShow,
            Setting::StrikeLimit,
            Setting::StrikeWindow,
            Setting::Suspension,
        ];
        let who = match self.rng.below(20) {
            0 => Who::Service,
            1 => self.trainer(),
            2 => self.athlete(),
            3 => Who::Dba,
            _ => Who::User(0),
        };
        let mut changes: Vec<(Setting, Option<i64>)> = Vec::new();
        for _ in 0..self.rng.range(1, 2) {
            let setting = self.rng.pick(&ATTENDANCE).unwrap();
            if changes.iter().all(|(s, _)| *s != setting) {
                let value = self.setting_value(setting);
                changes.push((setting, value));
            }
        }
        Op::SetSettings { who, changes }
    }

    /// Mostly the session's trainer marking a booking that may be marked (a no-show a
    /// little more often, or a mark changed); sometimes the gym, someone who may not, a
    /// booking outside its period or holding no place, one that does not exist, a NULL.
    fn mark(&mut self) -> Op {
        let markable = self.markable();
        let marked: Vec<usize> = markable
            .iter()
            .copied()
            .filter(|b| self.model.att.marks.contains_key(b))
            .collect();
        let booking = match self.rng.below(100) {
            0..=14 if !marked.is_empty() => self.rng.pick(&marked),
            0..=84 if !markable.is_empty() => self.rng.pick(&markable),
            0..=96 => self.any_booking(),
            _ => None,
        };
        let Some(b) = booking else {
            return Op::MarkAttendance {
                who: self.gym(),
                booking: Some(BookingRef::Missing(self.rng.uuid())),
                mark: Some(Mark::NoShow),
            };
        };
        let (slot, athlete) = (self.model.bookings[b].slot, self.model.bookings[b].user);
        let mark = match self.model.att.marks.get(&b) {
            // Mostly a change of the mark.
            Some(a) if self.rng.chance(75) => match a.mark {
                Mark::Attended => Mark::NoShow,
                Mark::NoShow => Mark::Attended,
            },
            _ if self.rng.chance(60) => Mark::NoShow,
            _ => Mark::Attended,
        };
        let (who, booking, mark) = match self.rng.below(100) {
            0..=57 => (
                Who::User(self.model.slots[slot].trainer),
                Some(b),
                Some(mark),
            ),
            58..=77 => (self.gym(), Some(b), Some(mark)),
            78..=81 => (Who::Dba, Some(b), Some(mark)),
            82..=86 => (Who::User(athlete), Some(b), Some(mark)),
            87..=91 => {
                let who = self.trainer();
                (who, Some(b), Some(mark))
            }
            92 => (self.ghost(), Some(b), Some(mark)),
            93 => (Who::Anon, Some(b), Some(mark)),
            94 => (Who::BadSub, Some(b), Some(mark)),
            95..=97 => (self.gym(), Some(b), None),
            _ => (Who::User(self.model.slots[slot].trainer), None, Some(mark)),
        };
        Op::MarkAttendance {
            who,
            booking: booking.map(BookingRef::Known),
            mark,
        }
    }

    /// Mostly the gym excusing a no-show; sometimes a trainer or an athlete trying, a mark
    /// that is no no-show, an unmarked booking, one that does not exist.
    fn excuse(&mut self) -> Op {
        let no_shows: Vec<usize> = self
            .model
            .att
            .marks
            .iter()
            .filter(|(_, a)| a.mark == Mark::NoShow)
            .map(|(&b, _)| b)
            .collect();
        let marked: Vec<usize> = self.model.att.marks.keys().copied().collect();
        let booking = match self.rng.below(20) {
            0..=13 => self.rng.pick(&no_shows),
            14..=16 => self.rng.pick(&marked),
            17 | 18 => self.any_booking(),
            _ => None,
        };
        let booking = match booking {
            Some(b) => BookingRef::Known(b),
            None => BookingRef::Missing(self.rng.uuid()),
        };
        let who = match (self.rng.below(20), &booking) {
            (0..=13, _) => self.gym(),
            (14, _) => Who::Dba,
            (15 | 16, BookingRef::Known(b)) => {
                Who::User(self.model.slots[self.model.bookings[*b].slot].trainer)
            }
            (17, BookingRef::Known(b)) => Who::User(self.model.bookings[*b].user),
            (18, _) => self.trainer(),
            _ => [Who::Anon, self.ghost(), self.athlete()][self.rng.below(3) as usize].clone(),
        };
        Op::ExcuseNoShow { who, booking }
    }

    /// Mostly a trainer's roster of one of their sessions that has started or is near
    /// (someone booked or waiting); sometimes the gym, another trainer, an athlete.
    fn roster(&mut self) -> Op {
        let who = match self.rng.below(20) {
            0..=11 => self.trainer(),
            12..=15 => self.gym(),
            16 => Who::Dba,
            17 => self.athlete(),
            18 => self.ghost(),
            _ => [Who::Anon, Who::BadSub][self.rng.below(2) as usize].clone(),
        };
        let slot = if self.rng.chance(4) {
            SlotRef::Missing(self.rng.uuid())
        } else if self.model.active_trainer(&who) && self.rng.chance(85) {
            SlotRef::Known(self.slot_of(&who))
        } else {
            SlotRef::Known(self.any_live_slot())
        };
        Op::Roster { who, slot }
    }

    /// Mostly an athlete asking for their own strikes, or the gym for an athlete's; sometimes
    /// someone else's, or an id that names nobody.
    fn suspension(&mut self) -> Op {
        let athletes = self.users_where(|u| u.role == Role::Athlete);
        let any = self.rng.pick(&athletes).unwrap_or(5);
        let (who, user) = match self.rng.below(20) {
            0..=6 => (self.athlete(), None),
            7..=8 => {
                let who = self.athlete();
                let me = self.model.me(&who).unwrap_or(5);
                (who, Some(series::Ref::Known(me)))
            }
            9..=10 => (self.athlete(), Some(series::Ref::Known(any))),
            11..=15 => (self.gym(), Some(series::Ref::Known(any))),
            16 => (Who::Dba, Some(series::Ref::Known(any))),
            17 => (self.gym(), Some(series::Ref::Missing(self.rng.uuid()))),
            18 => (self.trainer(), Some(series::Ref::Known(any))),
            _ => (
                [Who::Anon, Who::BadSub][self.rng.below(2) as usize].clone(),
                None,
            ),
        };
        Op::Suspension { who, user }
    }

    /// A session the DBA loads (as a restore would): mostly one that ended within the day
    /// or is running, with athletes who hold strikes already among those booked.
    fn load_session(&mut self) -> Op {
        let trainers = self.users_where(|u| u.role == Role::Trainer && !u.deleted);
        let trainer = match self.rng.pick(&trainers) {
            Some(t) if self.rng.chance(90) => t,
            _ => {
                let all = self.users_where(|u| u.role == Role::Trainer);
                self.rng.pick(&all).unwrap_or(2)
            }
        };
        let minutes = [45, 60, 90][self.rng.below(3) as usize];
        let ago = match self.rng.below(10) {
            0 | 1 => self.rng.range(1, minutes - 1),
            2..=7 => minutes + self.rng.range(5, 20 * 60),
            _ => minutes + self.rng.range(20 * 60, 60 * 60),
        };
        let capacity = self.rng.range(2, 6);
        let mut pool = self.users_where(|u| u.role == Role::Athlete && !u.deleted);
        let struck: Vec<usize> = pool
            .iter()
            .copied()
            .filter(|&u| self.model.strikes(u, self.now) > 0)
            .collect();
        let mut athletes = Vec::new();
        for _ in 0..self.rng.range(1, capacity) {
            let from_struck: Vec<usize> = struck
                .iter()
                .copied()
                .filter(|u| pool.contains(u))
                .collect();
            let pick = match self.rng.pick(&from_struck) {
                Some(u) if self.rng.chance(50) => Some(u),
                _ => self.rng.pick(&pool),
            };
            let Some(u) = pick else { break };
            pool.retain(|&x| x != u);
            athletes.push(u);
        }
        Op::LoadPast {
            trainer,
            start_s: self.now / MINUTE * 60 - ago * 60,
            minutes,
            capacity,
            athletes,
        }
    }

    /// A suspended athlete (or, when none is, any athlete) books, re-activates a cancelled
    /// booking, joins a waitlist; or the gym books for them (exempt).
    fn suspended_tries(&mut self) -> Op {
        let suspended = self.suspended_athletes();
        let athlete = match self.rng.pick(&suspended) {
            Some(u) => u,
            None => return self.book(),
        };
        let who = Who::User(athlete);
        match self.rng.below(10) {
            0..=3 => Op::Book {
                who,
                slot: self.slot_to_book(),
            },
            4 | 5 => {
                let cancelled =
                    self.booking_where(|b| b.user == athlete && b.status == Status::Cancelled);
                match cancelled {
                    Some(booking) => Op::SetStatus {
                        who,
                        booking,
                        to: Status::Reserved,
                    },
                    None => Op::JoinWaitlist {
                        who,
                        slot: self.slot_to_book(),
                    },
                }
            }
            6 | 7 => {
                let hot = self.hot_slots();
                let slot = match self.rng.pick(&hot) {
                    Some(s) => SlotRef::Known(s),
                    None => self.slot_to_book(),
                };
                Op::JoinWaitlist { who, slot }
            }
            8 => {
                let slot = match self.slot_to_book() {
                    SlotRef::Known(s) if !self.model.slots[s].gone => s,
                    _ => self.any_live_slot(),
                };
                Op::InsertBooking {
                    who,
                    slot,
                    user: athlete,
                }
            }
            _ => {
                let open = self.open_slots();
                let slot = self.rng.pick(&open).unwrap_or_else(|| self.any_live_slot());
                Op::InsertBooking {
                    who: self.gym(),
                    slot,
                    user: athlete,
                }
            }
        }
    }

    /// Sends an attendance operation; None for the others. The functions' calls also read
    /// their `statement_timestamp()`, kept in `model.stmt_now`.
    pub(crate) fn exec_attendance(&mut self, op: &Op) -> Option<(i64, Result<Obs, Fail>)> {
        let who = op.who();
        let booking_id = |m: &Model, b: &BookingRef| match b {
            BookingRef::Known(i) => m.bookings[*i].id.clone(),
            BookingRef::Missing(id) => id.clone(),
        };
        let mut stmt = None;
        let sent = match op {
            Op::MarkAttendance { booking, mark, .. } => {
                let id = booking.as_ref().map(|b| booking_id(&self.model, b));
                let mark = mark.map(Mark::sql);
                self.call(&who, "POST", "/rpc/mark_attendance", |tx| {
                    let row = tx.query_one(
                        &format!(
                            "SELECT {STMT}, booking_id::text, mark::text, excused_at IS NOT NULL,
                                    marked_by::text
                               FROM gym_booking.mark_attendance($1::text::uuid,
                                        $2::text::gym_booking.attendance_mark)"
                        ),
                        &[&id, &mark],
                    )?;
                    stmt = Some(row.get(0));
                    Ok(mark_obs(&row))
                })
            }
            Op::ExcuseNoShow { booking, .. } => {
                let id = booking_id(&self.model, booking);
                self.call(&who, "POST", "/rpc/excuse_no_show", |tx| {
                    let row = tx.query_one(
                        &format!(
                            "SELECT {STMT}, booking_id::text, mark::text, excused_at IS NOT NULL,
                                    marked_by::text
                               FROM gym_booking.excuse_no_show($1::text::uuid)"
                        ),
                        &[&id],
                    )?;
                    stmt = Some(row.get(0));
                    Ok(mark_obs(&row))
                })
            }
            Op::RecordNoShows { max_rows, .. } => {
                self.call(&who, "POST", "/rpc/record_no_shows", |tx| {
                    let row = tx.query_one(
                        &format!("SELECT {STMT}, gym_booking.record_no_shows($1::int4)"),
                        &[max_rows],
                    )?;
                    stmt = Some(row.get(0));
                    Ok(Obs::Count(row.get(1)))
                })
            }
            Op::Roster { slot, .. } => {
                let id = match slot {
                    SlotRef::Known(s) => self.model.slots[*s].id.clone(),
                    SlotRef::Missing(id) => id.clone(),
                };
                self.call(&who, "GET", "/rpc/slot_roster", |tx| {
                    let rows = tx.query(
                        "SELECT CASE WHEN waitlist_position IS NULL
                                THEN format('%s %s %s booking %s %s mark %s excused %s marked %s',
                                            athlete_id, first_name, coalesce(last_name, '-'),
                                            booking_id, booking_status, coalesce(mark::text, '-'),
                                            coalesce(excused, false)::text,
                                            (marked_at IS NOT NULL)::text)
                                ELSE format('%s %s %s waiting %s', athlete_id, first_name,
                                            coalesce(last_name, '-'), waitlist_position) END,
                                waitlist_position IS NULL, last_name, first_name
                           FROM gym_booking.slot_roster($1::text::uuid)",
                        &[&id],
                    )?;
                    // Athletes with the same names (deleted accounts: 'Anonymous user') may
                    // come in any order among themselves: each such run is sorted here.
                    let mut out: Vec<String> = Vec::new();
                    let mut run: Vec<String> = Vec::new();
                    let mut key: Option<(bool, Option<String>, String)> = None;
                    for r in &rows {
                        let k = (r.get::<_, bool>(1), r.get(2), r.get(3));
                        if key.as_ref() != Some(&k) || !k.0 {
                            run.sort();
                            out.append(&mut run);
                        }
                        run.push(r.get(0));
                        key = Some(k);
                    }
                    run.sort();
                    out.append(&mut run);
                    Ok(Obs::List(out))
                })
            }
            Op::Suspension { user, .. } => {
                let id = user.as_ref().map(|u| match u {
                    series::Ref::Known(i) => self.model.users[*i].id.clone(),
                    series::Ref::Missing(id) => id.clone(),
                });
                self.call(&who, "GET", "/rpc/athlete_suspension", |tx| {
                    let sql = format!(
                        "SELECT {STMT}, strikes,
                                (extract(epoch FROM suspended_until) * 1000000)::int8
                           FROM gym_booking.athlete_suspension({})",
                        if id.is_some() { "$1::text::uuid" } else { "" }
                    );
                    let params: Vec<&(dyn ToSql + Sync)> = match &id {
                        Some(id) => vec![id],
                        None => vec![],
                    };
                    let rows = tx.query(&sql, &params)?;
                    if let Some(row) = rows.first() {
                        stmt = Some(row.get(0));
                    }
                    Ok(Obs::List(
                        rows.iter()
                            .map(|r| {
                                let until: Option<i64> = r.get(2);
                                format!("strikes {} until {until:?}", r.get::<_, i64>(1))
                            })
                            .collect(),
                    ))
                })
            }
            Op::ReadAttendance { .. } => self.call(&who, "GET", "/attendance", |tx| {
                tx.query_one("SELECT count(*) FROM gym_booking.attendance", &[])
                    .map(|r| Obs::Count(r.get(0)))
            }),
            Op::Reassign { slot, trainer, .. } => {
                let (slot, trainer) = (
                    self.model.slots[*slot].id.clone(),
                    self.model.users[*trainer].id.clone(),
                );
                self.call(&who, "PATCH", "/slots", |tx| {
                    Self::rows(
                        tx,
                        "UPDATE gym_booking.slots SET trainer_id = $2::text::uuid
                          WHERE id = $1::text::uuid",
                        &[&slot, &trainer],
                    )
                })
            }
            Op::RestoreSweep { minutes } => {
                let mut now = self.now;
                let result = (|| {
                    let mut tx = self.client.transaction()?;
                    now = tx.query_one(NOW_US, &[])?.get(0);
                    let n = tx.execute(
                        "UPDATE gym_booking.attendance_sweep
                            SET swept_until = now() - make_interval(mins => $1::int8::int4)",
                        &[minutes],
                    )?;
                    tx.commit()?;
                    Ok(Obs::Rows(n))
                })();
                (now, result.map_err(Fail::of))
            }
            _ => return None,
        };
        self.model.stmt_now = stmt;
        Some(sent)
    }

    /// The marks' part of a failing step's description.
    pub(crate) fn describe_attendance(&self, op: &Op) -> Vec<String> {
        let b = match op {
            Op::MarkAttendance {
                booking: Some(BookingRef::Known(b)),
                ..
            }
            | Op::ExcuseNoShow {
                booking: BookingRef::Known(b),
                ..
            } => *b,
            Op::Roster {
                slot: SlotRef::Known(s),
                ..
            } => return vec![self.slot_label(*s)],
            Op::Reassign { slot, trainer, .. } => {
                return vec![
                    self.slot_label(*slot),
                    format!("to: {}", self.who_label(&Who::User(*trainer))),
                ]
            }
            _ => return Vec::new(),
        };
        let mark = |a: &Att| {
            format!(
                "{} by {:?}{}",
                a.mark.sql(),
                a.by.map(|u| self.model.users[u].label.clone()),
                if a.excused.is_some() { ", excused" } else { "" }
            )
        };
        let slot = &self.model.slots[self.model.bookings[b].slot];
        vec![
            self.booking_label(b),
            format!(
                "mark so far: {}; the period: {:+} .. {:+} min from now",
                self.model.att.marks.get(&b).map_or("none".into(), mark),
                (slot.start_us() - self.now) / MINUTE,
                (slot.end_us() + self.model.settings.attendance_grace - self.now) / MINUTE
            ),
        ]
    }
}

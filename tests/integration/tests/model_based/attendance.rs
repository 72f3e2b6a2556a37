//! Attendance in the model (0.2.2, sql/attendance.sql, src/rules/attendance.rs): check-in
//! (`mark_attendance` by the slot's active trainer or the gym, from the slot's start until
//! `attendance_grace` after its end, a mark changed inside that period), excuses by the gym,
//! the auto no-show sweep (`record_no_shows`, and `complete_past_bookings` which runs it) with
//! its watermark, strikes and suspensions, the roster, and what a caller reads of the marks.
//!
//! The model keeps its own record of every mark (who, when it counts as a strike, excused or
//! not) and computes strikes and `suspended_until` from it and the settings, as the contract
//! words them (never read back from the database): a no-show that is not excused is a strike
//! at its slot's start; a strike `s` that is the N-th or later inside `strike_window` (N
//! strikes in `(s - strike_window, s]`, N = `no_show_strike_limit`) suspends the athlete until
//! `s + suspension`. A suspended athlete is refused booking (`book_slot`, a direct insert, a
//! re-activation) and joining a waitlist with 28000 unless the gym books for them; promotions
//! skip them (they keep their place) and no free place is held for them (`week.rs`).
//!
//! Time: sessions that have started are loaded by the DBA under
//! `session_replication_role = replica`, as a restore would (`Op::LoadPast`; ended an hour to
//! two days ago, or still running), and the sweep's watermark is restored to a few days back at
//! the start of a run (and now and then along the way), so the sweep has sessions to mark.
//! The background worker serves none of these databases: the sweep runs when a step calls
//! `record_no_shows` or `complete_past_bookings`.

use super::*;
use series::STUDIO_ZONE;
use week::wall_clock;

/// A mark (`attendance_mark`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mark {
    Attended,
    NoShow,
}

impl Mark {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Mark::Attended => "attended",
            Mark::NoShow => "no_show",
        }
    }
}

/// Who marked or excused, as `marked_by` / `excused_by` name them: an account, or nobody
/// (the sweep, the service role, the DBA).
pub(crate) type By = Option<usize>;

/// A booking's row in `attendance`.
#[derive(Clone, Debug)]
pub(crate) struct Att {
    pub(crate) mark: Mark,
    pub(crate) by: By,
    /// Excused, and by whom.
    pub(crate) excused: Option<By>,
    /// When a no-show counts as a strike: the slot's start when it was first marked (µs).
    pub(crate) strike_at: i64,
    /// `activity_logs` rows of the booking that changed its mark, and that excused it.
    pub(crate) logs: i64,
    pub(crate) excuse_logs: i64,
    /// The latest change of the mark was the sweep's (logged as `status_auto_update`).
    pub(crate) auto: bool,
}

/// The model's attendance.
#[derive(Clone, Debug, Default)]
pub(crate) struct AttState {
    /// Per booking, its mark.
    pub(crate) marks: BTreeMap<usize, Att>,
    /// `attendance_sweep.swept_until` (µs): sessions that ended at or before it are swept.
    pub(crate) swept_until: i64,
    /// The current step's marks the athlete hears of; checked, then cleared, after each
    /// step.
    pub(crate) new_marks: Vec<MarkEvent>,
    /// Promotions that skipped a suspended athlete (for the run's summary).
    pub(crate) skipped_suspended: u32,
}

/// A mark's event (`no_show_recorded`, `attendance_marked`): the booking, the mark and the
/// one before it, and for a no-show until when the athlete is suspended right after it.
pub(crate) type MarkEvent = (usize, Mark, Option<Mark>, Option<i64>);

/// A span as the DETAILs say it (`span_text`): whole days in days, whole hours in hours,
/// else minutes.
pub(crate) fn span_text(us: i64) -> String {
    let m = us / MINUTE;
    let (n, unit) = if m != 0 && m % (24 * 60) == 0 {
        (m / (24 * 60), "day")
    } else if m != 0 && m % 60 == 0 {
        (m / 60, "hour")
    } else {
        (m, "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// What the sweep does: the bookings it marks no-show, in order, and its watermark after.
#[derive(Clone, Debug)]
pub(crate) struct Sweep {
    pub(crate) bookings: Vec<usize>,
    pub(crate) swept_until: i64,
}

impl Sweep {
    pub(crate) fn changes(&self, m: &Model) -> bool {
        !self.bookings.is_empty() || self.swept_until != m.att.swept_until
    }
}

#[derive(Debug)]
pub(crate) enum AttEffect {
    /// A slot handed to another trainer: everyone holding a place hears `slot_changed`.
    Reassign {
        slot: usize,
        trainer: usize,
        by: Option<&'static str>,
    },
    Mark {
        booking: usize,
        mark: Mark,
        by: By,
    },
    Excuse {
        booking: usize,
        by: By,
    },
    Sweep(Sweep),
    Watermark(i64),
}

/// A mark as `mark_attendance` / `excuse_no_show` return it.
fn mark_obs(m: &Model, b: usize, a: &Att) -> Obs {
    Obs::Mark {
        booking: m.bookings[b].id.clone(),
        mark: a.mark.sql().into(),
        excused: a.excused.is_some(),
        by: a.by.map(|u| m.users[u].id.clone()),
    }
}

impl Model {
    /// Acts for the gym where attendance is concerned: an active app admin, the service role,
    /// the DBA.
    pub(crate) fn back_office(&self, who: &Who) -> bool {
        self.gym(who) || matches!(who, Who::Dba)
    }

    /// The athlete's strikes, in order: the starts of their no-shows that are not excused, of
    /// bookings that still hold their place (a booking the gym cancels afterwards takes its
    /// strike with it).
    fn strike_times(&self, user: usize) -> Vec<i64> {
        let mut times: Vec<i64> = self
            .att
            .marks
            .iter()
            .filter(|(&b, a)| {
                let booking = &self.bookings[b];
                booking.user == user
                    && booking.status != Status::Cancelled
                    && a.mark == Mark::NoShow
                    && a.excused.is_none()
            })
            .map(|(_, a)| a.strike_at)
            .collect();
        times.sort_unstable();
        times
    }

    /// Strikes that count now: in `(now - strike_window, now]`.
    pub(crate) fn strikes(&self, user: usize, now: i64) -> i64 {
        let window = self.settings.strike_window;
        self.strike_times(user)
            .into_iter()
            .filter(|&s| s > now - window && s <= now)
            .count() as i64
    }

    /// Whether the strike at `s` is the N-th or later inside the window that ends at it.
    fn strike_suspends(&self, times: &[i64], s: i64) -> bool {
        let Some(limit) = self.settings.strike_limit else {
            return false;
        };
        let window = self.settings.strike_window;
        times.iter().filter(|&&t| t > s - window && t <= s).count() as i64 >= limit
    }

    /// Until when the athlete is suspended now (None: not suspended).
    pub(crate) fn suspended_until(&self, user: usize, now: i64) -> Option<i64> {
        let times = self.strike_times(user);
        times
            .iter()
            .filter(|&&s| self.strike_suspends(&times, s))
            .map(|&s| s + self.settings.suspension)
            .max()
            .filter(|&until| until > now)
    }

    pub(crate) fn suspended(&self, user: usize, now: i64) -> bool {
        self.suspended_until(user, now).is_some()
    }

    /// The suspension's refusal of `user` booking or joining now: 28000, its DETAIL saying
    /// until when in studio time and how many no-shows count now, in which window
    /// ("Suspended until 2026-12-06 07:00 (UTC): 3 no-shows within the last 30 days.").
    pub(crate) fn suspension_refusal(&self, user: usize, now: i64) -> Option<Expect> {
        let until = self.suspended_until(user, now)?;
        let n = self.strikes(user, now);
        Some(Expect::RefusedWith(
            SUSPENDED,
            vec![format!(
                "Suspended until {} ({STUDIO_ZONE}): {n} no-show{} within the last {}.",
                wall_clock(until),
                if n == 1 { "" } else { "s" },
                span_text(self.settings.strike_window)
            )],
        ))
    }

    /// The sweep at `stmt`: with `auto_no_show` on, the bookings holding a place (reserved or
    /// completed) of sessions not cancelled that ended after the watermark and whose grace
    /// has ended, unmarked, of accounts not deleted: the first `max_rows` by their session's
    /// end and id, marked in the order of their ids. The watermark moves to the end of the
    /// grace (never back), also with the sweep off, when fewer than `max_rows` were due.
    pub(crate) fn sweep_plan(&self, max_rows: i64, stmt: i64) -> Sweep {
        let cut = stmt - self.settings.attendance_grace;
        let watermark = self.att.swept_until;
        let mut due: Vec<(i64, &str, usize)> = Vec::new();
        if self.settings.auto_no_show {
            for (b, booking) in self.bookings.iter().enumerate() {
                let slot = &self.slots[booking.slot];
                if booking.status != Status::Cancelled
                    && !slot.cancelled
                    && !slot.gone
                    && !self.users[booking.user].deleted
                    && !self.att.marks.contains_key(&b)
                    && slot.end_us() >= watermark
                    && slot.end_us() < cut
                {
                    due.push((slot.end_us(), booking.id.as_str(), b));
                }
            }
        }
        due.sort();
        due.truncate(max_rows.max(0) as usize);
        let moves = (due.len() as i64) < max_rows;
        let mut bookings: Vec<(&str, usize)> = due.into_iter().map(|d| (d.1, d.2)).collect();
        bookings.sort();
        Sweep {
            bookings: bookings.into_iter().map(|d| d.1).collect(),
            swept_until: if moves { watermark.max(cut) } else { watermark },
        }
    }

    /// The prediction of an attendance operation; None for the others.
    pub(crate) fn expect_attendance(&self, op: &Op, now: i64) -> Option<Expect> {
        use Expect::{Change, Refused, Same, Touch};
        let stmt = self.stmt_now.unwrap_or(now);
        Some(match op {
            Op::MarkAttendance { who, booking, mark } => {
                self.expect_mark(who, booking.as_ref(), *mark, stmt)
            }
            // The gym only; an unknown booking is not found; only a no-show is excused
            // (SPEC: "Only a no-show (else 22023)": a booking without a mark, or an attended
            // one); excusing twice is excusing once.
            Op::ExcuseNoShow { who, booking } => {
                if let Some(code) = self.api_gate(who, false) {
                    return Some(Refused(code));
                }
                if !self.back_office(who) {
                    return Some(Refused(NOT_ALLOWED));
                }
                let BookingRef::Known(b) = booking else {
                    return Some(Refused(NOT_FOUND));
                };
                match self.att.marks.get(b) {
                    Some(a) if a.mark == Mark::NoShow => {
                        if a.excused.is_some() {
                            Same(mark_obs(self, *b, a))
                        } else {
                            let mut after = a.clone();
                            after.excused = Some(self.me(who));
                            Change(
                                mark_obs(self, *b, &after),
                                Effect::Attendance(AttEffect::Excuse {
                                    booking: *b,
                                    by: self.me(who),
                                }),
                            )
                        }
                    }
                    _ => Refused(INVALID),
                }
            }
            // max_rows first, then who.
            Op::RecordNoShows { who, max_rows } => {
                if matches!(who, Who::Anon) {
                    return Some(Refused(NOT_ALLOWED));
                }
                if *max_rows < 1 {
                    return Some(Refused(INVALID));
                }
                if let Some(code) = self.api_gate(who, false) {
                    return Some(Refused(code));
                }
                if !self.back_office(who) {
                    return Some(Refused(NOT_ALLOWED));
                }
                let sweep = self.sweep_plan(i64::from(*max_rows), stmt);
                let marked = Obs::Count(sweep.bookings.len() as i64);
                if sweep.changes(self) {
                    Change(marked, Effect::Attendance(AttEffect::Sweep(sweep)))
                } else {
                    Same(marked)
                }
            }
            // The slot first (unknown: 42704), then who: its active trainer, the gym.
            Op::Roster { who, slot } => {
                if matches!(who, Who::Anon) {
                    return Some(Refused(NOT_ALLOWED));
                }
                let slot = match slot {
                    SlotRef::Known(s) if !self.slots[*s].gone => *s,
                    _ => return Some(Refused(NOT_FOUND)),
                };
                if let Some(code) = self.api_gate(who, false) {
                    return Some(Refused(code));
                }
                let own =
                    self.active_trainer(who) && self.me(who) == Some(self.slots[slot].trainer);
                if !(self.back_office(who) || own) {
                    return Some(Refused(NOT_ALLOWED));
                }
                Same(Obs::List(self.roster(slot)))
            }
            // The caller's own (an active account), or anyone's for the gym: an id that
            // names nobody has no strikes.
            Op::Suspension { who, user } => {
                if let Some(code) = self.api_gate(who, false) {
                    return Some(Refused(code));
                }
                let me = self.owner(who);
                let row = match user {
                    None => match me {
                        Some(me) => self.suspension_row(me, stmt),
                        None => return Some(Refused(NOT_ALLOWED)),
                    },
                    Some(series::Ref::Known(u)) => {
                        if me != Some(*u) && !self.back_office(who) {
                            return Some(Refused(NOT_ALLOWED));
                        }
                        self.suspension_row(*u, stmt)
                    }
                    Some(series::Ref::Missing(_)) => {
                        if !self.back_office(who) {
                            return Some(Refused(NOT_ALLOWED));
                        }
                        "strikes 0 until None".into()
                    }
                };
                Same(Obs::List(vec![row]))
            }
            Op::ReadAttendance { who } => {
                if matches!(who, Who::Anon) {
                    return Some(Refused(NOT_ALLOWED));
                }
                Same(Obs::Count(self.visible_marks(who)))
            }
            // The gym hands a session to another active trainer (a trainer may not: only
            // their own slots, to themselves); the marks follow it.
            Op::Reassign { who, slot, trainer } => {
                if matches!(who, Who::Anon) {
                    return Some(Refused(NOT_ALLOWED));
                }
                if self.slots[*slot].gone || !self.may_write_slot(who, *slot) {
                    return Some(Same(Obs::Rows(0)));
                }
                if self.slots[*slot].trainer == *trainer {
                    return Some(Touch(Obs::Rows(1)));
                }
                let own = self.active_trainer(who) && self.me(who) == Some(*trainer);
                if !(self.gym(who) || own) {
                    return Some(Refused(NOT_ALLOWED));
                }
                let t = &self.users[*trainer];
                if t.deleted || t.role != Role::Trainer {
                    return Some(Refused(INVALID));
                }
                let by = self.gym(who).then_some("admin");
                Change(
                    Obs::Rows(1),
                    Effect::Attendance(AttEffect::Reassign {
                        slot: *slot,
                        trainer: *trainer,
                        by,
                    }),
                )
            }
            Op::RestoreSweep { minutes } => Change(
                Obs::Rows(1),
                Effect::Attendance(AttEffect::Watermark(now - minutes * MINUTE)),
            ),
            _ => return None,
        })
    }

    /// `athlete_suspension()`'s row as the model has it.
    pub(crate) fn suspension_row(&self, user: usize, now: i64) -> String {
        format!(
            "strikes {} until {:?}",
            self.strikes(user, now),
            self.suspended_until(user, now)
        )
    }

    /// `mark_attendance`: who (the slot's active trainer, the gym), which booking (one
    /// holding a place), when (from the start until the grace after the end); the same mark
    /// again changes nothing. Where several refusals apply, the build's order.
    fn expect_mark(
        &self,
        who: &Who,
        booking: Option<&BookingRef>,
        mark: Option<Mark>,
        now: i64,
    ) -> Expect {
        use Expect::{Change, Refused, RefusedWith, Same};
        if matches!(who, Who::Anon) {
            return Refused(NOT_ALLOWED);
        }
        let (Some(booking), Some(mark)) = (booking, mark) else {
            return Refused(NULL_ARG);
        };
        if let Some(code) = self.api_gate(who, false) {
            return Refused(code);
        }
        // Athletes, deleted accounts, tokens for no account: never.
        if !(self.back_office(who) || self.active_trainer(who)) {
            return Refused(NOT_ALLOWED);
        }
        let BookingRef::Known(b) = booking else {
            return Refused(NOT_FOUND);
        };
        let (b, booking) = (*b, &self.bookings[*b]);
        let slot = &self.slots[booking.slot];
        // Another trainer's session: a booking they cannot see (sql/attendance.sql), where
        // the SPEC said 42501.
        if !self.back_office(who) && self.me(who) != Some(slot.trainer) {
            return Refused(NOT_FOUND);
        }
        // A cancelled booking (a cancelled session's too) holds no place to mark.
        if booking.status == Status::Cancelled {
            return Refused(INVALID);
        }
        if now < slot.start_us() {
            let at = wall_clock(slot.start_us());
            return RefusedWith(INVALID, vec![format!("{at} ({STUDIO_ZONE})")]);
        }
        let until = slot.end_us() + self.settings.attendance_grace;
        if now > until {
            let at = wall_clock(until);
            return RefusedWith(TOO_LATE, vec![format!("{at} ({STUDIO_ZONE})")]);
        }
        match self.att.marks.get(&b) {
            Some(a) if a.mark == mark => Same(mark_obs(self, b, a)),
            _ => Change(
                Obs::Mark {
                    booking: booking.id.clone(),
                    mark: mark.sql().into(),
                    excused: false,
                    by: self.me(who).map(|u| self.users[u].id.clone()),
                },
                Effect::Attendance(AttEffect::Mark {
                    booking: b,
                    mark,
                    by: self.me(who),
                }),
            ),
        }
    }

    /// A mark set (new or changed; a change clears an excuse): its log row, and the
    /// athlete's event (`no_show_recorded` for a no-show, `attendance_marked` otherwise).
    fn record_mark(&mut self, b: usize, mark: Mark, by: By, auto: bool, now: i64) {
        let (slot, user) = (self.bookings[b].slot, self.bookings[b].user);
        let strike_at = self.slots[slot].start_us();
        let before = self.att.marks.get(&b).map(|a| a.mark);
        let a = self.att.marks.entry(b).or_insert(Att {
            mark,
            by,
            excused: None,
            strike_at,
            logs: 0,
            excuse_logs: 0,
            auto,
        });
        a.mark = mark;
        a.by = by;
        a.excused = None;
        a.logs += 1;
        a.auto = auto;
        // A no-show's event says until when the athlete is suspended right after it (the
        // build: whenever they are, where the SPEC says "when the no-show suspends").
        let until = match mark {
            Mark::NoShow => self.suspended_until(user, now),
            Mark::Attended => None,
        };
        if !self.users[user].deleted {
            self.att.new_marks.push((b, mark, before, until));
        }
        let kind = match mark {
            Mark::NoShow => "no_show_recorded",
            Mark::Attended => "attendance_marked",
        };
        self.event(kind, user, slot, Some(b), None);
    }

    pub(crate) fn apply_sweep(&mut self, sweep: Sweep, now: i64) {
        for b in sweep.bookings {
            self.record_mark(b, Mark::NoShow, None, true, now);
        }
        self.att.swept_until = sweep.swept_until;
    }

    pub(crate) fn apply_attendance(&mut self, effect: AttEffect, now: i64) {
        let stmt = self.stmt_now.unwrap_or(now);
        match effect {
            AttEffect::Reassign { slot, trainer, by } => {
                self.slots[slot].trainer = trainer;
                if !self.slots[slot].cancelled {
                    self.notes_changed(slot, by);
                }
            }
            AttEffect::Mark { booking, mark, by } => {
                self.record_mark(booking, mark, by, false, stmt)
            }
            AttEffect::Excuse { booking, by } => {
                let a = self
                    .att
                    .marks
                    .get_mut(&booking)
                    .expect("a no-show to excuse");
                a.excused = Some(by);
                a.excuse_logs += 1;
                let (slot, user) = (self.bookings[booking].slot, self.bookings[booking].user);
                self.event("no_show_excused", user, slot, Some(booking), None);
            }
            AttEffect::Sweep(sweep) => self.apply_sweep(sweep, stmt),
            AttEffect::Watermark(at) => self.att.swept_until = at,
        }
    }

    /// A slot's roster: the athletes holding a place, by last name (none last) and first
    /// name, then those waiting, by position. Each row: id, names, then the booking (status,
    /// mark, excused, whether marked) or the position.
    pub(crate) fn roster(&self, slot: usize) -> Vec<String> {
        let names = |u: usize| {
            let user = &self.users[u];
            if user.deleted {
                ("Anonymous user".to_string(), None)
            } else {
                (user.first.clone(), user.last.clone())
            }
        };
        // Sorted by (no last name, last name, first name), then the row.
        type Key = (bool, Option<String>, String);
        let mut booked: Vec<(Key, String)> = self
            .bookings
            .iter()
            .enumerate()
            .filter(|(_, b)| b.slot == slot && b.status != Status::Cancelled)
            .map(|(i, b)| {
                let (first, last) = names(b.user);
                let a = self.att.marks.get(&i);
                let row = format!(
                    "{} {first} {} booking {} {} mark {} excused {} marked {}",
                    self.users[b.user].id,
                    last.as_deref().unwrap_or("-"),
                    b.id,
                    b.status.sql(),
                    a.map_or("-", |a| a.mark.sql()),
                    a.is_some_and(|a| a.excused.is_some()),
                    a.is_some()
                );
                ((last.is_none(), last, first), row)
            })
            .collect();
        booked.sort();
        let mut rows: Vec<String> = booked.into_iter().map(|r| r.1).collect();
        for (i, e) in self.waiting_in(slot).into_iter().enumerate() {
            let user = self.entries[e].user;
            let (first, last) = names(user);
            rows.push(format!(
                "{} {first} {} waiting {}",
                self.users[user].id,
                last.as_deref().unwrap_or("-"),
                i + 1
            ));
        }
        rows
    }

    /// The marks a caller reads in `attendance`: the gym all; an athlete their own, a
    /// trainer those of their sessions; nothing for a deleted account or a token for none.
    pub(crate) fn visible_marks(&self, who: &Who) -> i64 {
        if self.gym(who) {
            return self.att.marks.len() as i64;
        }
        let Some(me) = self.owner(who) else {
            return 0;
        };
        self.att
            .marks
            .keys()
            .filter(|&&b| {
                let booking = &self.bookings[b];
                booking.user == me || self.slots[booking.slot].trainer == me
            })
            .count() as i64
    }
}

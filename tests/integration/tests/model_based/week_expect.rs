//! The model's prediction of the operations 0.2.0 adds: the waitlist API, the studio's
//! settings, the sweep, and what a caller reads of entries and events.

use super::*;

impl Setting {
    pub(crate) const ALL: [Setting; 12] = [
        Setting::CancellationWindow,
        Setting::OpensBefore,
        Setting::ClosesBefore,
        Setting::MaxUpcoming,
        Setting::WaitlistEnabled,
        Setting::WaitlistMax,
        Setting::WaitlistCutoff,
        Setting::AttendanceGrace,
        Setting::AutoNoShow,
        Setting::StrikeLimit,
        Setting::StrikeWindow,
        Setting::Suspension,
    ];

    pub(crate) fn column(self) -> &'static str {
        match self {
            Setting::CancellationWindow => "cancellation_window",
            Setting::OpensBefore => "booking_opens_before",
            Setting::ClosesBefore => "booking_closes_before",
            Setting::MaxUpcoming => "max_upcoming_bookings",
            Setting::WaitlistEnabled => "waitlist_enabled",
            Setting::WaitlistMax => "waitlist_max",
            Setting::WaitlistCutoff => "waitlist_cutoff",
            Setting::AttendanceGrace => "attendance_grace",
            Setting::AutoNoShow => "auto_no_show",
            Setting::StrikeLimit => "no_show_strike_limit",
            Setting::StrikeWindow => "strike_window",
            Setting::Suspension => "suspension",
        }
    }

    /// The value as SQL: minutes for an interval, a count, 0/1 for the switch.
    pub(crate) fn literal(self, value: Option<i64>) -> String {
        match (self, value) {
            (_, None) => "NULL".into(),
            (Setting::WaitlistEnabled | Setting::AutoNoShow, Some(v)) => (v != 0).to_string(),
            (Setting::MaxUpcoming | Setting::WaitlistMax | Setting::StrikeLimit, Some(v)) => {
                v.to_string()
            }
            // Whole days as days (a suspension's DETAIL says the strike window as it reads).
            (Setting::StrikeWindow | Setting::Suspension, Some(v)) if v % (24 * 60) == 0 => {
                format!("make_interval(days => {})", v / (24 * 60))
            }
            (_, Some(v)) => format!("make_interval(mins => {v})"),
        }
    }

    /// Out of range: the table's CHECK constraints refuse it.
    pub(crate) fn out_of_range(self, value: Option<i64>) -> bool {
        match (self, value) {
            (_, None) => false,
            (Setting::WaitlistEnabled | Setting::AutoNoShow, _) => false,
            (Setting::MaxUpcoming | Setting::WaitlistMax, Some(v)) => v < 1,
            // Attendance (studio_settings' CHECKs): a grace of 0 to 30 days, a limit of 1 to
            // 100 strikes, a window of 1 to 366 days, a suspension of 0 to 366 days.
            (Setting::AttendanceGrace, Some(v)) => !(0..=30 * 24 * 60).contains(&v),
            (Setting::StrikeLimit, Some(v)) => !(1..=100).contains(&v),
            (Setting::StrikeWindow, Some(v)) => !(24 * 60..=366 * 24 * 60).contains(&v),
            (Setting::Suspension, Some(v)) => !(0..=366 * 24 * 60).contains(&v),
            (_, Some(v)) => v < 0,
        }
    }

    /// `settings` with this setting at `value`.
    pub(crate) fn set(self, settings: &mut Settings, value: Option<i64>) {
        let interval = value.map(|v| v * MINUTE);
        match self {
            Setting::CancellationWindow => {
                settings.cancellation_window = interval.expect("a window, never NULL")
            }
            Setting::OpensBefore => settings.opens_before = interval,
            Setting::ClosesBefore => {
                settings.closes_before = interval.expect("a closing time, never NULL")
            }
            Setting::MaxUpcoming => settings.max_upcoming = value,
            Setting::WaitlistEnabled => settings.waitlist_enabled = value == Some(1),
            Setting::WaitlistMax => settings.waitlist_max = value,
            Setting::WaitlistCutoff => settings.waitlist_cutoff = interval,
            Setting::AttendanceGrace => {
                settings.attendance_grace = interval.expect("a grace, never NULL")
            }
            Setting::AutoNoShow => settings.auto_no_show = value == Some(1),
            Setting::StrikeLimit => settings.strike_limit = value,
            Setting::StrikeWindow => {
                settings.strike_window = interval.expect("a strike window, never NULL")
            }
            Setting::Suspension => {
                settings.suspension = interval.expect("a suspension, never NULL")
            }
        }
    }
}

impl Model {
    /// The prediction of an operation 0.2.0 adds; None for the others.
    pub(crate) fn expect_week(&self, op: &Op, now: i64) -> Option<Expect> {
        use Expect::{Change, Refused, Same};
        Some(match op {
            Op::JoinWaitlist { who, slot } => self.expect_join(who, slot, now),
            Op::LeaveWaitlist { who, slot } => {
                if let Some(code) = self.api_gate(who, true) {
                    return Some(Refused(code));
                }
                // A token whose sub names no account waits nowhere (as a deleted account).
                let entry = match (slot, self.me(who)) {
                    (SlotRef::Known(s), Some(me)) => self.waiting.get(&(*s, me)).copied(),
                    _ => None,
                };
                match entry {
                    None => Refused(NOT_FOUND),
                    Some(e) => Change(
                        Obs::Entry {
                            id: self.entries[e].id.clone(),
                            slot: self.slots[self.entries[e].slot].id.clone(),
                            state: WState::Left.sql().into(),
                        },
                        Effect::Leave { entry: e },
                    ),
                }
            }
            Op::MyWaitlist { who } => match self.api_gate(who, false) {
                Some(code) => Refused(code),
                None => Same(Obs::List(
                    self.owner(who)
                        .map(|me| self.my_waitlist(me, now))
                        .unwrap_or_default(),
                )),
            },
            Op::SetSettings { who, changes } => {
                if matches!(who, Who::Anon) {
                    return Some(Refused(NOT_ALLOWED));
                }
                // The DBA or an app admin (the contract names no one else; not the service
                // role).
                if !(self.active_admin(who) || matches!(who, Who::Dba)) {
                    return Some(Expect::Denied);
                }
                if changes.iter().any(|(s, v)| s.out_of_range(*v)) {
                    return Some(Refused(CHECK));
                }
                let mut settings = self.settings.clone();
                let mut changed = 0;
                for (setting, value) in changes {
                    let before = settings.clone();
                    setting.set(&mut settings, *value);
                    changed += i64::from(settings != before);
                }
                if changed == 0 {
                    Expect::Touch(Obs::Rows(1))
                } else {
                    Change(Obs::Rows(1), Effect::Settings { settings, changed })
                }
            }
            Op::PromoteWaitlists { who } => {
                if let Some(code) = self.api_gate(who, false) {
                    return Some(Refused(code));
                }
                if !self.gym(who) {
                    return Some(Refused(NOT_ALLOWED));
                }
                let slots = self.slots_with_waiting();
                let mut after = self.clone();
                let before = after.out.len();
                after.promote_many(&slots, now);
                let promoted = after.out[before..]
                    .iter()
                    .filter(|e| e.kind == "waitlist_promoted")
                    .count() as i64;
                if promoted == 0 {
                    Same(Obs::Count(0))
                } else {
                    Change(Obs::Count(promoted), Effect::Sweep { slots })
                }
            }
            Op::ReadEntries { who } => {
                if matches!(who, Who::Anon) {
                    return Some(Refused(NOT_ALLOWED));
                }
                let n = if self.gym(who) {
                    self.entries.len()
                } else if let Some(me) = self.owner(who) {
                    self.entries
                        .iter()
                        .filter(|e| e.user == me || self.slots[e.slot].trainer == me)
                        .count()
                } else {
                    0
                };
                Same(Obs::Count(n as i64))
            }
            Op::ReadEvents { who } => {
                if matches!(who, Who::Anon) {
                    return Some(Refused(NOT_ALLOWED));
                }
                let n = match who {
                    Who::Service => self.events_of.values().sum(),
                    _ => self
                        .owner(who)
                        .map(|me| self.events_of.get(&me).copied().unwrap_or(0))
                        .unwrap_or(0),
                };
                Same(Obs::Count(n))
            }
            _ => return None,
        })
    }

    /// `join_waitlist`: its refusals (the contract's; where several apply, the build's order:
    /// the account, the slot, the switch, the cutoff, the window); joining twice returns the
    /// same entry.
    fn expect_join(&self, who: &Who, slot: &SlotRef, now: i64) -> Expect {
        use Expect::{Change, Refused, Same};
        if let Some(code) = self.api_gate(who, true) {
            return Refused(code);
        }
        // Not signed in: a token whose sub names no account (as book_slot answers it).
        let Some(me) = self.me(who) else {
            return Refused(NOT_ALLOWED);
        };
        if self.users[me].deleted {
            return Refused(NOT_BOOKABLE);
        }
        // Trainers teach classes, they do not take them (as row-level security refuses their
        // bookings).
        if self.users[me].role == Role::Trainer {
            return Refused(NOT_ALLOWED);
        }
        let slot = match slot {
            SlotRef::Known(s) if !self.slots[*s].gone => *s,
            _ => return Refused(NOT_FOUND),
        };
        let s = &self.slots[slot];
        if s.cancelled || s.start_us() <= now {
            return Refused(NOT_BOOKABLE);
        }
        if !self.settings.waitlist_enabled {
            return Refused(WAITLIST_OFF);
        }
        if !self.promotable(slot, now) {
            return Refused(NOT_BOOKABLE);
        }
        if let Some(refusal) = self.window_refusal(slot, now) {
            return refusal;
        }
        // Suspended after repeated no-shows (0.2.2): also one who waits already.
        if let Some(refusal) = self.suspension_refusal(me, now) {
            return refusal;
        }
        if let Some(&e) = self.waiting.get(&(slot, me)) {
            return Same(Obs::Entry {
                id: self.entries[e].id.clone(),
                slot: s.id.clone(),
                state: WState::Waiting.sql().into(),
            });
        }
        let holds_a_place = self
            .by_pair
            .get(&(slot, me))
            .is_some_and(|&b| self.bookings[b].status == Status::Reserved);
        if holds_a_place {
            return Refused(INVALID);
        }
        // A place the caller could take now: book it instead.
        if self.reserved(slot) < s.capacity && !self.held_for(me, slot, now) {
            return Refused(INVALID);
        }
        if self
            .settings
            .waitlist_max
            .is_some_and(|max| self.waiting_in(slot).len() as i64 >= max)
        {
            return Refused(FULL);
        }
        Change(
            Obs::Entry {
                id: NEW.into(),
                slot: s.id.clone(),
                state: WState::Waiting.sql().into(),
            },
            Effect::Join { slot, user: me },
        )
    }
}

//! The studio's week in the model (0.2.0, docs/studio-week.md): the settings the booking rule
//! reads, booking windows and the per-athlete limit, waitlists with their promotions, and the
//! events the rules write for each change.

use super::*;

/// The studio's settings the booking rules read (docs/studio-week.md): times in microseconds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Settings {
    pub(crate) cancellation_window: i64,
    /// NULL: booking is always open.
    pub(crate) opens_before: Option<i64>,
    pub(crate) closes_before: i64,
    pub(crate) max_upcoming: Option<i64>,
    pub(crate) waitlist_enabled: bool,
    pub(crate) waitlist_max: Option<i64>,
    /// NULL: the cancellation window.
    pub(crate) waitlist_cutoff: Option<i64>,
    /// Attendance (0.2.2, `model_based/attendance.rs`): how long after a slot's end it may
    /// still be marked, and the sweep's switch.
    pub(crate) attendance_grace: i64,
    pub(crate) auto_no_show: bool,
    /// NULL: strikes never suspend.
    pub(crate) strike_limit: Option<i64>,
    pub(crate) strike_window: i64,
    pub(crate) suspension: i64,
}

impl Default for Settings {
    /// The defaults, which keep 0.1's behaviour.
    fn default() -> Settings {
        Settings {
            cancellation_window: 60 * MINUTE,
            opens_before: None,
            closes_before: 0,
            max_upcoming: None,
            waitlist_enabled: true,
            waitlist_max: None,
            waitlist_cutoff: None,
            attendance_grace: 24 * 60 * MINUTE,
            auto_no_show: false,
            strike_limit: None,
            strike_window: 30 * DAY,
            suspension: 7 * DAY,
        }
    }
}

/// A setting an admin changes, with its column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Setting {
    CancellationWindow,
    OpensBefore,
    ClosesBefore,
    MaxUpcoming,
    WaitlistEnabled,
    WaitlistMax,
    WaitlistCutoff,
    AttendanceGrace,
    AutoNoShow,
    StrikeLimit,
    StrikeWindow,
    Suspension,
}

/// A waitlist entry's state (`waitlist_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WState {
    Waiting,
    Promoted,
    Left,
    Expired,
    Removed,
}

impl WState {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            WState::Waiting => "waiting",
            WState::Promoted => "promoted",
            WState::Left => "left",
            WState::Expired => "expired",
            WState::Removed => "removed",
        }
    }
}

/// A waitlist entry; the model's entries are in `queue_no` order.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) slot: usize,
    pub(crate) user: usize,
    pub(crate) state: WState,
    /// The booking a promotion (or the athlete's own booking) made or re-activated.
    pub(crate) booking: Option<usize>,
}

/// An event the rules write to the outbox: kind, recipient, slot, booking, and who made the
/// change, as the payload says it (`athlete`, `trainer`, `admin`, `system`).
#[derive(Clone, Debug)]
pub(crate) struct Ev {
    pub(crate) kind: &'static str,
    pub(crate) user: usize,
    pub(crate) slot: usize,
    pub(crate) booking: Option<usize>,
    pub(crate) by: Option<&'static str>,
}

/// A time as the studio's wall clock shows it in a DETAIL (`2026-12-05 07:00`); the runs keep
/// the studio's time zone at its default, UTC.
pub(crate) fn wall_clock(us: i64) -> String {
    let secs = us.div_euclid(SECOND);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60
    )
}

/// Every order of `items` (for a handful of slots).
fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first);
            all.push(tail);
        }
    }
    all
}

impl Model {
    pub(crate) fn event(
        &mut self,
        kind: &'static str,
        user: usize,
        slot: usize,
        booking: Option<usize>,
        by: Option<&'static str>,
    ) {
        // A deleted account is told nothing.
        if self.users[user].deleted {
            return;
        }
        self.out.push(Ev {
            kind,
            user,
            slot,
            booking,
            by,
        });
        *self.events_of.entry(user).or_default() += 1;
    }

    pub(crate) fn add_booking(
        &mut self,
        id: String,
        slot: usize,
        user: usize,
        auto: bool,
    ) -> usize {
        self.by_pair.insert((slot, user), self.bookings.len());
        self.bookings.push(Booking {
            id,
            slot,
            user,
            status: Status::Reserved,
            changes: 0,
            auto,
        });
        self.bookings.len() - 1
    }

    /// The slot's waiting entries, in queue order.
    pub(crate) fn waiting_in(&self, slot: usize) -> Vec<usize> {
        let mut entries: Vec<usize> = self
            .waiting
            .iter()
            .filter(|((s, _), _)| *s == slot)
            .map(|(_, &e)| e)
            .collect();
        entries.sort_unstable();
        entries
    }

    /// Who waits where: (slot, athlete).
    pub(crate) fn waiting_set(&self) -> HashSet<(usize, usize)> {
        self.waiting.keys().copied().collect()
    }

    pub(crate) fn end_entry(&mut self, e: usize, state: WState, booking: Option<usize>) {
        let entry = &mut self.entries[e];
        assert_eq!(
            entry.state,
            WState::Waiting,
            "the model ends an entry twice"
        );
        entry.state = state;
        entry.booking = booking;
        let key = (entry.slot, entry.user);
        self.waiting.remove(&key);
    }

    /// A booking took a place (new or re-activated), not by a promotion: the athlete hears
    /// `booking_confirmed`, and their waiting entry for the slot ends as `promoted`.
    pub(crate) fn booked(&mut self, b: usize, by: Option<&'static str>) {
        let (slot, user) = (self.bookings[b].slot, self.bookings[b].user);
        if let Some(&e) = self.waiting.get(&(slot, user)) {
            self.end_entry(e, WState::Promoted, Some(b));
        }
        self.event("booking_confirmed", user, slot, Some(b), by);
    }

    /// How long before the start joining and promotion stop.
    pub(crate) fn cutoff(&self) -> i64 {
        self.settings
            .waitlist_cutoff
            .unwrap_or(self.settings.cancellation_window)
    }

    /// Not cancelled, not started, not past its waitlist cutoff: a freed place goes to the list.
    pub(crate) fn promotable(&self, slot: usize, now: i64) -> bool {
        let s = &self.slots[slot];
        !s.gone && !s.cancelled && s.start_us() > now && now <= s.start_us() - self.cutoff()
    }

    pub(crate) fn window_open(&self, slot: usize, now: i64) -> bool {
        let start = self.slots[slot].start_us();
        self.settings.opens_before.is_none_or(|o| now >= start - o)
            && now <= start - self.settings.closes_before
    }

    /// The booking window's refusal of a booking (or a join) now, with its DETAIL.
    pub(crate) fn window_refusal(&self, slot: usize, now: i64) -> Option<Expect> {
        let start = self.slots[slot].start_us();
        if let Some(opens) = self.settings.opens_before {
            if now < start - opens {
                let at = wall_clock(start - opens);
                return Some(Expect::RefusedWith(
                    NOT_OPEN,
                    vec![format!("Booking opens at {at}")],
                ));
            }
        }
        let closes = start - self.settings.closes_before;
        (now > closes).then(|| {
            let at = wall_clock(closes);
            Expect::RefusedWith(CLOSED, vec![format!("Booking closed at {at}")])
        })
    }

    /// Reserved bookings of slots not yet started.
    pub(crate) fn upcoming(&self, user: usize, now: i64) -> i64 {
        self.bookings
            .iter()
            .filter(|b| {
                b.user == user
                    && b.status == Status::Reserved
                    && self.slots[b.slot].start_us() > now
            })
            .count() as i64
    }

    pub(crate) fn limit_refusal(&self, user: usize, now: i64) -> Option<Expect> {
        let max = self.settings.max_upcoming?;
        let held = self.upcoming(user, now);
        (held >= max).then(|| {
            Expect::RefusedWith(
                LIMIT,
                vec![
                    format!("You hold {held} upcoming booking"),
                    format!("the studio allows {max}"),
                ],
            )
        })
    }

    /// Whether the rules would book the waiting athlete into the slot now: an active account
    /// that is not a trainer's (one promoted since they joined: trainers do not take classes),
    /// inside the booking window, under the limit (a promotion obeys both).
    pub(crate) fn eligible(&self, user: usize, slot: usize, now: i64) -> bool {
        !self.users[user].deleted
            && self.users[user].role != Role::Trainer
            && !self.suspended(user, now)
            && self.window_open(slot, now)
            && self
                .settings
                .max_upcoming
                .is_none_or(|max| self.upcoming(user, now) < max)
    }

    /// Whether every free place of the slot is held for the waitlist: before the cutoff, at
    /// least as many eligible athletes wait ahead of `user` (ahead of their own entry, if they
    /// wait too) as places are free. A place is held for each of them; one beyond is anyone's.
    pub(crate) fn held_for(&self, user: usize, slot: usize, now: i64) -> bool {
        if !self.promotable(slot, now) {
            return false;
        }
        let mine = self.waiting.get(&(slot, user)).copied();
        let ahead = self
            .waiting_in(slot)
            .into_iter()
            .take_while(|&e| Some(e) != mine)
            .filter(|&e| self.eligible(self.entries[e].user, slot, now))
            .count() as i64;
        self.slots[slot].capacity - self.reserved(slot) <= ahead
    }

    /// Why the booking rule refuses `user` a place in `slot` (new or re-activated) written by
    /// `who` now: the slot (cancelled, started), the window (not for the gym), the capacity,
    /// the limit (not for the gym), and the places held for the waitlist (for everyone). The
    /// contract fixes no order among them; this is the build's. `holds_a_place`: a second
    /// insert of a place the athlete holds, which the unique key answers.
    pub(crate) fn place_refusal(
        &self,
        who: &Who,
        user: usize,
        slot: usize,
        now: i64,
        holds_a_place: bool,
    ) -> Option<Expect> {
        let s = &self.slots[slot];
        if s.cancelled || s.start_us() <= now {
            return Some(Expect::Refused(NOT_BOOKABLE));
        }
        let exempt = self.gym(who);
        // Suspended after repeated no-shows (0.2.2), the gym exempt.
        if !exempt {
            if let Some(refusal) = self.suspension_refusal(user, now) {
                return Some(refusal);
            }
        }
        if !exempt {
            if let Some(refusal) = self.window_refusal(slot, now) {
                return Some(refusal);
            }
        }
        if self.reserved(slot) >= s.capacity {
            return (!holds_a_place).then_some(Expect::Refused(FULL));
        }
        if !exempt {
            if let Some(refusal) = self.limit_refusal(user, now) {
                return Some(refusal);
            }
        }
        if self.held_for(user, slot, now) {
            return Some(Expect::RefusedWith(FULL, vec!["waitlist".into()]));
        }
        None
    }

    /// The system books the waiting athlete of entry `e` (re-activating their cancelled
    /// booking, or a new one): `auto_processed`, `waitlist_promoted`.
    fn promote_entry(&mut self, e: usize) {
        let (slot, user) = (self.entries[e].slot, self.entries[e].user);
        let b = match self.by_pair.get(&(slot, user)).copied() {
            Some(b) => {
                self.set_status(b, Status::Reserved, true);
                b
            }
            // Its id is read from the database after the step (`resolve_new_bookings`).
            None => self.add_booking(NEW.into(), slot, user, true),
        };
        self.end_entry(e, WState::Promoted, Some(b));
        self.event("waitlist_promoted", user, slot, Some(b), None);
    }

    fn has_room(&self, slot: usize) -> bool {
        self.reserved(slot) < self.slots[slot].capacity
    }

    /// Places free in the slot go to its waitlist: the earliest eligible athletes, in queue
    /// order, skipping the others (who keep their place), until the slot is full.
    pub(crate) fn promote(&mut self, slot: usize, now: i64) {
        if !self.promotable(slot, now) {
            return;
        }
        for e in self.waiting_in(slot) {
            if !self.has_room(slot) {
                break;
            }
            let user = self.entries[e].user;
            if self.eligible(user, slot, now) {
                self.promote_entry(e);
            } else if self.suspended(user, now) {
                // (Counted for the run's summary: the suspension's part of promotions.)
                self.att.skipped_suspended += 1;
            }
        }
    }

    /// A promotion may happen in the slot now.
    fn promotion_due(&self, slot: usize, now: i64) -> bool {
        self.promotable(slot, now)
            && self.has_room(slot)
            && self
                .waiting_in(slot)
                .into_iter()
                .any(|e| self.eligible(self.entries[e].user, slot, now))
    }

    /// Promotions in several slots in one transaction (an account deletion's cascade, the
    /// sweep). Within a slot the order is the queue's; across slots the contract fixes none,
    /// and it matters only where one athlete waits in several and the limit stops them after
    /// the first. Every order of the slots (or, beyond four, a few natural ones: by start, by
    /// id, by the earliest entry; and one queue across all of them) is a valid outcome: the
    /// one the database shows (`observed_waiting`) is taken, or the first.
    pub(crate) fn promote_many(&mut self, slots: &[usize], now: i64) {
        let mut due: Vec<usize> = Vec::new();
        for &s in slots {
            if !due.contains(&s) && self.promotion_due(s, now) {
                due.push(s);
            }
        }
        if due.len() <= 1 {
            for s in due {
                self.promote(s, now);
            }
            return;
        }
        let orders = if due.len() <= 4 {
            permutations(&due)
        } else {
            let mut by_start = due.clone();
            by_start.sort_by_key(|&s| (self.slots[s].start_s, self.slots[s].id.clone()));
            let mut by_id = due.clone();
            by_id.sort_by_key(|&s| self.slots[s].id.clone());
            let mut by_entry = due.clone();
            by_entry.sort_by_key(|&s| self.waiting_in(s).first().copied());
            vec![by_start, by_id, by_entry]
        };
        let observed = self.observed_waiting.take();
        let mut outcomes: Vec<Model> = orders
            .into_iter()
            .map(|order| {
                let mut m = self.clone();
                for s in order {
                    m.promote(s, now);
                }
                m
            })
            .collect();
        let mut one_queue = self.clone();
        let mut queue: Vec<usize> = due.iter().flat_map(|&s| self.waiting_in(s)).collect();
        queue.sort_unstable();
        for e in queue {
            let (slot, user) = (one_queue.entries[e].slot, one_queue.entries[e].user);
            if one_queue.has_room(slot) && one_queue.eligible(user, slot, now) {
                one_queue.promote_entry(e);
            }
        }
        outcomes.push(one_queue);
        let in_due = |set: HashSet<(usize, usize)>| -> HashSet<(usize, usize)> {
            set.into_iter().filter(|(s, _)| due.contains(s)).collect()
        };
        let pick = observed
            .as_ref()
            .and_then(|seen| {
                let seen = in_due(seen.clone());
                outcomes
                    .iter()
                    .position(|m| in_due(m.waiting_set()) == seen)
            })
            .unwrap_or(0);
        let first = in_due(outcomes[0].waiting_set());
        let mattered = outcomes.iter().any(|m| in_due(m.waiting_set()) != first);
        let across = self.across_slots;
        *self = outcomes.swap_remove(pick);
        self.observed_waiting = observed;
        self.across_slots = (across.0 + 1, across.1 + u32::from(mattered));
    }

    /// Slots that anyone waits for (the sweep's ground).
    pub(crate) fn slots_with_waiting(&self) -> Vec<usize> {
        let mut slots: Vec<usize> = self.waiting.keys().map(|&(s, _)| s).collect();
        slots.sort_unstable();
        slots.dedup();
        slots
    }

    /// Open slots where no free place waits for an eligible athlete: what the contract
    /// promises after every promotion (the database is checked on them; a slot where an
    /// athlete became eligible since, with no place freed, waits for the sweep).
    pub(crate) fn settled_slots(&self, now: i64) -> Vec<String> {
        (0..self.slots.len())
            .filter(|&s| self.promotable(s, now) && !self.promotion_due(s, now))
            .map(|s| self.slots[s].id.clone())
            .collect()
    }

    /// Who changed a booking of `athlete` in `slot` (or the slot), as an event's payload says
    /// it: the athlete themselves, the slot's trainer, or the gym (an app admin, the service
    /// role).
    pub(crate) fn by(
        &self,
        who: &Who,
        athlete: Option<usize>,
        slot: usize,
    ) -> Option<&'static str> {
        let me = self.me(who);
        if me.is_some() && me == athlete {
            Some("athlete")
        } else if me == Some(self.slots[slot].trainer) {
            Some("trainer")
        } else if self.gym(who) {
            Some("admin")
        } else {
            None
        }
    }

    /// A slot's notes changed: everyone holding a place hears `slot_changed`.
    pub(crate) fn notes_changed(&mut self, slot: usize, by: Option<&'static str>) {
        for b in 0..self.bookings.len() {
            if self.bookings[b].slot == slot && self.bookings[b].status == Status::Reserved {
                let user = self.bookings[b].user;
                self.event("slot_changed", user, slot, Some(b), by);
            }
        }
    }

    /// The caller's waiting entries of slots not yet started, as `my_waitlist()` lists them.
    pub(crate) fn my_waitlist(&self, user: usize, now: i64) -> Vec<String> {
        let mut rows: Vec<String> = self
            .waiting
            .iter()
            .filter(|(&(s, u), _)| u == user && self.slots[s].start_us() > now)
            .map(|(&(s, _), &e)| {
                let queue = self.waiting_in(s);
                let position = queue.iter().position(|&x| x == e).expect("in its queue") + 1;
                format!(
                    "{} position {position} waiting {}",
                    self.slots[s].id,
                    queue.len()
                )
            })
            .collect();
        rows.sort();
        rows
    }
}

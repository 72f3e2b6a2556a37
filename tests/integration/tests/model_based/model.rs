//! The model's state: who may do what, what a slot or booking looks like, and how a
//! successful request changes it (`apply`).

use super::*;

impl Model {
    pub(crate) fn me(&self, who: &Who) -> Option<usize> {
        match who {
            Who::User(i) => Some(*i),
            _ => None,
        }
    }

    /// The caller as row-level security names them (`active_user_id()`): a deleted account
    /// owns nothing.
    pub(crate) fn owner(&self, who: &Who) -> Option<usize> {
        self.me(who).filter(|&i| !self.users[i].deleted)
    }

    /// Whether the caller reads slots at all: an active account, or the gym's back office. A
    /// deleted account's token, or one whose sub names no account, reads none.
    pub(crate) fn reads_slots(&self, who: &Who) -> bool {
        matches!(who, Who::Service | Who::Dba) || self.owner(who).is_some()
    }

    pub(crate) fn active_role(&self, who: &Who, role: Role) -> bool {
        self.me(who)
            .is_some_and(|i| self.users[i].role == role && !self.users[i].deleted)
    }

    pub(crate) fn active_admin(&self, who: &Who) -> bool {
        self.active_role(who, Role::Admin)
    }

    pub(crate) fn active_trainer(&self, who: &Who) -> bool {
        self.active_role(who, Role::Trainer)
    }

    /// Acts for the gym: the service role or an active app admin.
    pub(crate) fn gym(&self, who: &Who) -> bool {
        matches!(who, Who::Service) || self.active_admin(who)
    }

    pub(crate) fn reserved(&self, slot: usize) -> i64 {
        self.bookings
            .iter()
            .filter(|b| b.slot == slot && b.status == Status::Reserved)
            .count() as i64
    }

    /// Too late for an athlete to cancel: within the studio's cancellation window.
    pub(crate) fn too_late(&self, slot: usize, now: i64) -> bool {
        now > self.slots[slot].start_us() - self.settings.cancellation_window
    }

    pub(crate) fn ended(&self, slot: usize, now: i64) -> bool {
        self.slots[slot].end_us() <= now
    }

    pub(crate) fn live_email_taken(&self, email: &str, except: Option<usize>) -> bool {
        self.users
            .iter()
            .enumerate()
            .any(|(i, u)| Some(i) != except && !u.deleted && u.email.eq_ignore_ascii_case(email))
    }

    /// Refusal of an API function before it reads anything: anon has no EXECUTE, a bad `sub`
    /// cannot be read, and (when the function needs to know who calls) no `sub` at all.
    pub(crate) fn api_gate(&self, who: &Who, needs_sub: bool) -> Option<&'static str> {
        match who {
            Who::Anon => Some(NOT_ALLOWED),
            Who::BadSub => Some(BAD_CLAIMS),
            Who::Service if needs_sub => Some(NOT_ALLOWED),
            _ => None,
        }
    }

    /// Whose rows an UPDATE of bookings reaches: their own, everything for the gym.
    pub(crate) fn may_update_booking(&self, who: &Who, booking: usize) -> bool {
        matches!(who, Who::Service)
            || self.owner(who) == Some(self.bookings[booking].user)
            || self.active_admin(who)
    }

    /// Whose slots an UPDATE or DELETE of slots reaches: the trainer's own, everything for
    /// the gym.
    pub(crate) fn may_write_slot(&self, who: &Who, slot: usize) -> bool {
        matches!(who, Who::Service)
            || self.owner(who) == Some(self.slots[slot].trainer)
            || self.active_admin(who)
    }

    pub(crate) fn may_update_user(&self, who: &Who, user: usize) -> bool {
        matches!(who, Who::Service) || self.owner(who) == Some(user) || self.active_admin(who)
    }

    pub(crate) fn upcoming_slots_of(&self, trainer: usize, now: i64) -> bool {
        self.slots
            .iter()
            .any(|s| s.trainer == trainer && !s.gone && !s.cancelled && s.end_us() > now)
    }

    pub(crate) fn available(&self, trainer: Option<usize>, now: i64) -> Vec<String> {
        let mut rows: Vec<(i64, &str, String)> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                !s.gone
                    && !s.cancelled
                    && s.start_us() >= now
                    && s.start_us() < now + 7 * DAY
                    && trainer.is_none_or(|t| s.trainer == t)
            })
            .map(|(i, s)| {
                let booked = self.reserved(i);
                let waiting = self.waiting_in(i).len();
                let t = &self.users[s.trainer];
                let name = if t.role == Role::Trainer && !t.deleted {
                    t.display_name()
                } else {
                    "-".to_string()
                };
                (
                    s.start_s,
                    s.id.as_str(),
                    format!(
                        "{} capacity {} booked {booked} available {} waiting {waiting} trainer {name}",
                        s.id,
                        s.capacity,
                        s.capacity - booked
                    ),
                )
            })
            .collect();
        rows.sort();
        rows.into_iter().map(|r| r.2).collect()
    }

    pub(crate) fn bookings_list(&self, user: usize) -> Vec<String> {
        let mut rows: Vec<(i64, &str, String)> = self
            .bookings
            .iter()
            .filter(|b| b.user == user)
            .map(|b| {
                (
                    self.slots[b.slot].start_s,
                    b.id.as_str(),
                    format!("{} slot {} {}", b.id, self.slots[b.slot].id, b.status.sql()),
                )
            })
            .collect();
        rows.sort();
        rows.into_iter().map(|r| r.2).collect()
    }

    pub(crate) fn directory(&self) -> Vec<String> {
        let mut rows: Vec<String> = self
            .users
            .iter()
            .filter(|u| u.role == Role::Trainer && !u.deleted)
            .map(|u| format!("{} {}", u.id, u.display_name()))
            .collect();
        rows.sort();
        rows
    }

    pub(crate) fn knows_id(&self, id: &str) -> bool {
        self.users.iter().any(|u| u.id == id)
            || self.slots.iter().any(|s| s.id == id)
            || self.bookings.iter().any(|b| b.id == id)
            || self.entries.iter().any(|e| e.id == id)
            || self.series.iter().any(|s| s.id == id)
    }

    pub(crate) fn matches(&self, expected: &Obs, actual: &Obs) -> bool {
        if let (Obs::Loaded { bookings: e, .. }, Obs::Loaded { slot, bookings: a }) =
            (expected, actual)
        {
            return e.len() == a.len()
                && !self.knows_id(slot)
                && a.iter().all(|id| !self.knows_id(id));
        }
        if let (Obs::Outcomes(e), Obs::Outcomes(a)) = (expected, actual) {
            // A created occurrence's id is one the model does not know.
            return e.len() == a.len()
                && e.iter().zip(a).all(|(e, a)| match e.strip_prefix(NEW) {
                    Some(rest) => a
                        .split_once(' ')
                        .is_some_and(|(id, tail)| !self.knows_id(id) && format!(" {tail}") == rest),
                    None => e == a,
                });
        }
        match (expected.id(), actual.id()) {
            (Some(NEW), Some(id)) => {
                let mut expected = expected.clone();
                match &mut expected {
                    Obs::Booking { id: e, .. }
                    | Obs::Slot { id: e, .. }
                    | Obs::Created { id: e }
                    | Obs::Entry { id: e, .. }
                    | Obs::Series { id: e, .. } => *e = id.to_string(),
                    _ => unreachable!(),
                }
                !self.knows_id(id) && expected == *actual
            }
            _ => expected == actual,
        }
    }

    pub(crate) fn set_status(&mut self, booking: usize, to: Status, auto: bool) {
        let b = &mut self.bookings[booking];
        assert_ne!(b.status, to, "the model changes a status to itself");
        b.status = to;
        b.changes += 1;
        b.auto = auto;
    }

    /// A cancelled slot cancels its reserved bookings (the system's change; each athlete hears
    /// `slot_cancelled`) and expires its waiting entries (`waitlist_expired`).
    pub(crate) fn cancel_slot(&mut self, slot: usize, by: Option<&'static str>) {
        self.slots[slot].cancelled = true;
        for b in 0..self.bookings.len() {
            if self.bookings[b].slot == slot && self.bookings[b].status == Status::Reserved {
                self.set_status(b, Status::Cancelled, true);
                let user = self.bookings[b].user;
                self.event("slot_cancelled", user, slot, Some(b), by);
            }
        }
        for e in self.waiting_in(slot) {
            self.end_entry(e, WState::Expired, None);
            let user = self.entries[e].user;
            self.event("waitlist_expired", user, slot, None, None);
        }
    }

    /// A deleted account: its waiting entries end (`removed`), its reserved bookings of slots
    /// still to start are cancelled (each freed place goes to the waitlist), and its slots
    /// still to start are cancelled (with their reserved bookings and waiting entries).
    pub(crate) fn delete_user(&mut self, user: usize, now: i64) {
        self.users[user].deleted = true;
        let entries: Vec<usize> = self
            .waiting
            .iter()
            .filter(|((_, u), _)| *u == user)
            .map(|(_, &e)| e)
            .collect();
        for e in entries {
            self.end_entry(e, WState::Removed, None);
        }
        let mut freed = Vec::new();
        for b in 0..self.bookings.len() {
            let booking = &self.bookings[b];
            if booking.user == user
                && booking.status == Status::Reserved
                && self.slots[booking.slot].start_us() > now
            {
                freed.push(booking.slot);
                self.set_status(b, Status::Cancelled, true);
            }
        }
        self.promote_many(&freed, now);
        for s in 0..self.slots.len() {
            let slot = &self.slots[s];
            if slot.trainer == user && !slot.gone && !slot.cancelled && slot.start_us() > now {
                self.cancel_slot(s, Some("system"));
            }
        }
    }

    pub(crate) fn apply(&mut self, effect: Effect, obs: &Obs, now: i64) {
        let Some(effect) = self.apply_series(effect, obs, now) else {
            return;
        };
        let new_id = || obs.id().expect("a created row's id").to_string();
        match effect {
            Effect::NewBooking { slot, user, by } => {
                let b = self.add_booking(new_id(), slot, user, false);
                self.booked(b, by);
            }
            Effect::Status { booking, to, by } => {
                self.set_status(booking, to, false);
                let (slot, user) = (self.bookings[booking].slot, self.bookings[booking].user);
                match to {
                    Status::Reserved => self.booked(booking, by),
                    Status::Cancelled => {
                        self.event("booking_cancelled", user, slot, Some(booking), by);
                        self.promote(slot, now);
                    }
                    Status::Completed => {}
                }
            }
            Effect::CancelSlot { slot, by } => self.cancel_slot(slot, by),
            Effect::Notes { slot, notes, by } => {
                self.slots[slot].notes = Some(notes);
                self.notes_changed(slot, by)
            }
            Effect::NewSlot {
                trainer,
                start_s,
                minutes,
                capacity,
                notes,
            } => self.slots.push(Slot {
                id: new_id(),
                trainer,
                start_s,
                minutes,
                capacity,
                notes: Some(notes),
                series: None,
                made_as: None,
                cancelled: false,
                gone: false,
            }),
            Effect::DeleteUser { user } => self.delete_user(user, now),
            Effect::Complete { bookings, sweep } => {
                for b in bookings {
                    self.set_status(b, Status::Completed, true);
                }
                let stmt = self.stmt_now.unwrap_or(now);
                self.apply_sweep(sweep, stmt);
            }
            Effect::Capacity { slot, capacity } => {
                let raised = capacity > self.slots[slot].capacity;
                self.slots[slot].capacity = capacity;
                if raised {
                    self.promote(slot, now);
                }
            }
            // Times move only while nobody holds a place: nobody is told (the athletes
            // waiting for it neither, as the build has it).
            Effect::Move { slot, start_s } => self.slots[slot].start_s = start_s,
            Effect::SlotGone { slot } => self.slots[slot].gone = true,
            Effect::Profile {
                user,
                first,
                last,
                phone,
            } => {
                let u = &mut self.users[user];
                u.secrets.push(first.clone());
                u.secrets.extend(last.clone());
                u.secrets.push(phone.clone());
                u.first = first;
                u.last = last;
                u.phone = Some(phone);
            }
            Effect::Role { user, role } => self.users[user].role = role,
            Effect::Email { user, email } => {
                let u = &mut self.users[user];
                u.secrets.push(email.clone());
                u.email = email;
            }
            Effect::NewUser(user) => {
                let mut user = *user;
                user.id = new_id();
                self.users.push(user);
            }
            Effect::Loaded {
                trainer,
                start_s,
                minutes,
                capacity,
                athletes,
            } => {
                let Obs::Loaded { slot: id, bookings } = obs else {
                    unreachable!("checked by matches()")
                };
                self.slots.push(Slot {
                    id: id.clone(),
                    trainer,
                    start_s,
                    minutes,
                    capacity,
                    notes: None,
                    series: None,
                    made_as: None,
                    cancelled: false,
                    gone: false,
                });
                let slot = self.slots.len() - 1;
                for (user, id) in athletes.into_iter().zip(bookings) {
                    self.add_booking(id.clone(), slot, user, false);
                }
            }
            Effect::Join { slot, user } => {
                self.waiting.insert((slot, user), self.entries.len());
                self.entries.push(Entry {
                    id: new_id(),
                    slot,
                    user,
                    state: WState::Waiting,
                    booking: None,
                });
            }
            Effect::Leave { entry } => self.end_entry(entry, WState::Left, None),
            Effect::Settings { settings, changed } => {
                self.settings = settings;
                self.settings_history.0 += 1;
                self.settings_history.1 += changed;
            }
            Effect::Sweep { slots } => self.promote_many(&slots, now),
            Effect::NewSeries { .. }
            | Effect::EditSeries { .. }
            | Effect::CancelSeries { .. }
            | Effect::Extend { .. }
            | Effect::Horizon { .. } => unreachable!("applied by apply_series"),
            Effect::Attendance(effect) => self.apply_attendance(effect, now),
        }
    }
}

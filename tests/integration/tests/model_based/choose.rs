//! Choosing the next operation: a weighted draw over every kind of request and caller.

use super::*;

impl Run {
    pub(crate) fn choose(&mut self) -> Op {
        // 0..1000: the operations of 0.1; from 1000 on, those of 0.2.0 (`choose_week`).
        let r = self
            .rng
            .below(1000 + WEEK_WEIGHT + SERIES_WEIGHT + ATTENDANCE_WEIGHT);
        match r {
            1000.. if r >= 1000 + WEEK_WEIGHT + SERIES_WEIGHT => {
                self.choose_attendance(r - 1000 - WEEK_WEIGHT - SERIES_WEIGHT)
            }
            1000.. if r >= 1000 + WEEK_WEIGHT => self.choose_series(r - 1000 - WEEK_WEIGHT),
            1000.. => self.choose_week(r - 1000),
            // Book a slot.
            0..=179 | 895..=999 => self.book(),
            885..=894 => {
                // Often a trainer who has left since (their sessions stay in the records).
                let former = self.users_where(|u| u.role == Role::Trainer && u.deleted);
                let trainers = self.users_where(|u| u.role == Role::Trainer);
                let trainer = match self.rng.pick(&former) {
                    Some(t) if self.rng.chance(50) => t,
                    _ => self.rng.pick(&trainers).unwrap_or(2),
                };
                let minutes = [45, 60, 90, 120][self.rng.below(4) as usize];
                // Ended an hour to two days ago; sometimes still running.
                let ago = if self.rng.chance(15) {
                    self.rng.range(1, minutes - 1)
                } else {
                    minutes + self.rng.range(60, 48 * 60)
                };
                let capacity = self.rng.range(1, 6);
                let mut pool = self.users_where(|u| u.role == Role::Athlete);
                let mut athletes = Vec::new();
                // Sometimes a session nobody booked.
                let booked = if self.rng.chance(35) {
                    0
                } else {
                    self.rng.range(1, capacity)
                };
                for _ in 0..booked {
                    if pool.is_empty() {
                        break;
                    }
                    athletes.push(pool.remove(self.rng.below(pool.len() as u64) as usize));
                }
                Op::LoadPast {
                    trainer,
                    start_s: self.now / MINUTE * 60 - ago * 60,
                    minutes,
                    capacity,
                    athletes,
                }
            }
            // Cancel one's own booking.
            180..=269 => {
                let who = self.athlete();
                let booking = match self.own_booking(&who).or_else(|| self.any_booking()) {
                    Some(b) => BookingRef::Known(b),
                    None => BookingRef::Missing(self.rng.uuid()),
                };
                Op::CancelBooking { who, booking }
            }
            // The gym cancels a booking, late or not.
            270..=299 => {
                let who = self.admin();
                let booking = self
                    .booking_where(|b| b.status == Status::Reserved)
                    .or_else(|| self.any_booking());
                match booking {
                    Some(b) => Op::CancelBooking {
                        who,
                        booking: BookingRef::Known(b),
                    },
                    None => self.book(),
                }
            }
            // Someone else's booking: another athlete's, or a trainer's athlete's.
            300..=324 => {
                let (who, booking) = if self.rng.chance(50) {
                    let who = self.athlete();
                    let me = self.model.me(&who);
                    (who, self.booking_where(|b| Some(b.user) != me))
                } else {
                    let who = self.trainer();
                    let me = self.model.me(&who);
                    let slots = &self.model.slots;
                    let mine: Vec<usize> = (0..self.model.bookings.len())
                        .filter(|&b| Some(slots[self.model.bookings[b].slot].trainer) == me)
                        .collect();
                    let pick = self.rng.pick(&mine);
                    (who, pick.or_else(|| self.any_booking()))
                };
                match booking {
                    Some(b) => Op::CancelBooking {
                        who,
                        booking: BookingRef::Known(b),
                    },
                    None => self.book(),
                }
            }
            // Odd callers: no such booking, the service role (no sub), a bad sub, anon.
            325..=334 => {
                let booking = match self.any_booking() {
                    Some(b) if self.rng.chance(70) => BookingRef::Known(b),
                    _ => BookingRef::Missing(self.rng.uuid()),
                };
                let who = match self.rng.below(4) {
                    0 => Who::Service,
                    1 => Who::BadSub,
                    2 => Who::Anon,
                    _ => self.ghost(),
                };
                Op::CancelBooking { who, booking }
            }
            // A trainer (mostly) creates a slot.
            335..=444 => {
                let who = if self.rng.chance(90) {
                    self.trainer()
                } else {
                    self.anyone()
                };
                let offset_min = match self.rng.below(20) {
                    0..=9 => self.rng.range(30, 90),
                    10..=16 => self.rng.range(2, 72) * 60,
                    17 => self.rng.range(1, 29),
                    _ => -self.rng.range(1, 600),
                };
                let minutes = if self.rng.chance(96) {
                    [30, 45, 60, 90, 120, 240][self.rng.below(6) as usize]
                } else {
                    [20, 300][self.rng.below(2) as usize]
                };
                let capacity = match self.rng.below(50) {
                    0 => 0,
                    1 => 21,
                    2 | 3 => 20,
                    _ => self.rng.range(1, 5) as i32,
                };
                let notes = self.rng.token("note-");
                Op::CreateSlot {
                    who,
                    start_s: self.now / MINUTE * 60 + offset_min * 60,
                    minutes,
                    capacity,
                    notes,
                }
            }
            // A trainer cancels their own slot.
            445..=474 => {
                let who = self.trainer();
                let slot = SlotRef::Known(self.slot_of(&who));
                Op::CancelSlot { who, slot }
            }
            // Someone cancels a slot that is not theirs.
            475..=489 => {
                let who = if self.rng.chance(60) {
                    self.trainer()
                } else {
                    self.athlete()
                };
                let slot = SlotRef::Known(self.slot_not_of(&who));
                Op::CancelSlot { who, slot }
            }
            // The gym cancels a slot; or odd callers.
            490..=499 => {
                let who = match self.rng.below(6) {
                    0 => self.ghost(),
                    1 => Who::BadSub,
                    2 => Who::Service,
                    _ => self.admin(),
                };
                let slot = if self.rng.chance(90) {
                    SlotRef::Known(self.any_live_slot())
                } else {
                    SlotRef::Missing(self.rng.uuid())
                };
                Op::CancelSlot { who, slot }
            }
            500..=539 => {
                let who = if self.rng.chance(5) {
                    Who::Anon
                } else {
                    self.anyone()
                };
                let trainers = self.users_where(|u| u.role == Role::Trainer);
                let trainer = if self.rng.chance(50) {
                    self.rng.pick(&trainers)
                } else {
                    None
                };
                Op::AvailableSlots { who, trainer }
            }
            540..=569 => {
                let who = match self.rng.below(20) {
                    0 => self.ghost(),
                    1 => Who::Service,
                    2 => self.trainer(),
                    _ => self.athlete(),
                };
                Op::MyBookings { who }
            }
            570..=604 => {
                let who = match self.rng.below(20) {
                    0..=8 => self.admin(),
                    9..=16 => Who::Service,
                    17 => self.trainer(),
                    _ => self.athlete(),
                };
                let max_rows = match self.rng.below(20) {
                    0 => 0,
                    1..=9 => self.rng.range(1, 3) as i32,
                    _ => 1000,
                };
                Op::CompletePast { who, max_rows }
            }
            // An athlete marks their own booking completed.
            605..=614 => {
                let who = self.athlete();
                match self.own_booking(&who) {
                    Some(booking) => Op::SetStatus {
                        who,
                        booking,
                        to: Status::Completed,
                    },
                    None => self.book(),
                }
            }
            // The gym sets a booking's status directly.
            615..=629 => {
                let who = self.gym();
                let to = [Status::Reserved, Status::Cancelled, Status::Completed]
                    [self.rng.below(3) as usize];
                let booking = if to == Status::Completed && self.rng.chance(70) {
                    let now = self.now;
                    let slots = &self.model.slots;
                    let ended: Vec<usize> = (0..self.model.bookings.len())
                        .filter(|&b| {
                            let b = &self.model.bookings[b];
                            b.status == Status::Reserved && slots[b.slot].end_us() <= now
                        })
                        .collect();
                    self.rng.pick(&ended).or_else(|| self.any_booking())
                } else {
                    self.any_booking()
                };
                match booking {
                    Some(booking) => Op::SetStatus { who, booking, to },
                    None => self.book(),
                }
            }
            // An athlete cancels or re-books their own booking directly.
            630..=644 => {
                let who = self.athlete();
                match self.own_booking(&who) {
                    Some(booking) => {
                        let to = if self.model.bookings[booking].status == Status::Reserved {
                            Status::Cancelled
                        } else {
                            Status::Reserved
                        };
                        Op::SetStatus { who, booking, to }
                    }
                    None => self.book(),
                }
            }
            // An athlete changes someone else's booking directly.
            645..=654 => {
                let who = self.athlete();
                let me = self.model.me(&who);
                match self.booking_where(|b| Some(b.user) != me) {
                    Some(booking) => {
                        let to = [Status::Reserved, Status::Cancelled, Status::Completed]
                            [self.rng.below(3) as usize];
                        Op::SetStatus { who, booking, to }
                    }
                    None => self.book(),
                }
            }
            // POST /bookings: for someone else (an athlete: refused; the gym: allowed) or self.
            655..=669 => {
                let who = match self.rng.below(10) {
                    0..=5 => self.athlete(),
                    6 | 7 => self.gym(),
                    _ => self.trainer(),
                };
                let user = if self.rng.chance(20) {
                    self.model.me(&who).unwrap_or(5)
                } else {
                    let athletes = self.users_where(|u| u.role == Role::Athlete);
                    self.rng.pick(&athletes).unwrap_or(5)
                };
                let slot = match self.slot_to_book() {
                    SlotRef::Known(s) if !self.model.slots[s].gone => s,
                    _ => self.any_live_slot(),
                };
                Op::InsertBooking { who, slot, user }
            }
            // Delete a booking, or move it to another slot.
            670..=679 => {
                let who = self.anyone();
                let Some(booking) = self.own_booking(&who).or_else(|| self.any_booking()) else {
                    return self.book();
                };
                if self.rng.chance(50) {
                    Op::DeleteBooking { who, booking }
                } else {
                    let slot = self.any_live_slot();
                    Op::MoveBooking { who, booking, slot }
                }
            }
            // Change a slot's capacity: the gym, its trainer, another trainer.
            680..=709 => {
                let (who, slot) = match self.rng.below(10) {
                    0..=5 => {
                        let who = self.gym();
                        (who, self.any_live_slot())
                    }
                    6..=8 => {
                        let who = self.trainer();
                        let slot = self.slot_of(&who);
                        (who, slot)
                    }
                    _ => {
                        let who = self.trainer();
                        let slot = self.slot_not_of(&who);
                        (who, slot)
                    }
                };
                let current = self.model.slots[slot].capacity as i32;
                let capacity = match self.rng.below(10) {
                    0 => [0, 21][self.rng.below(2) as usize],
                    _ => (current + self.rng.range(-3, 3) as i32).clamp(1, 20),
                };
                Op::SlotCapacity {
                    who,
                    slot,
                    capacity,
                }
            }
            710..=724 => {
                let who = match self.rng.below(3) {
                    0 => self.gym(),
                    _ => self.trainer(),
                };
                let slot = if self.rng.chance(70) {
                    self.slot_of(&who)
                } else {
                    self.slot_not_of(&who)
                };
                let notes = self.rng.token("note-");
                Op::SlotNotes { who, slot, notes }
            }
            // Move a slot in time: the gym (any slot; often one that has started or ended) or
            // its trainer.
            725..=734 => {
                let (who, slot) = if self.rng.chance(60) {
                    let who = self.gym();
                    let now = self.now;
                    // Started slots nobody holds a place in: the ones whose times may move.
                    let bookings = &self.model.bookings;
                    let started: Vec<usize> = (0..self.model.slots.len())
                        .filter(|&s| {
                            !self.model.slots[s].gone
                                && self.model.slots[s].start_us() <= now
                                && !bookings
                                    .iter()
                                    .any(|b| b.slot == s && b.status != Status::Cancelled)
                        })
                        .collect();
                    let slot = match self.rng.pick(&started) {
                        Some(s) if self.rng.chance(40) => s,
                        _ => self.any_live_slot(),
                    };
                    (who, slot)
                } else {
                    let who = self.trainer();
                    let slot = self.slot_of(&who);
                    (who, slot)
                };
                let minutes = self.rng.range(2, 96) as i32 * 30;
                let start = self.model.slots[slot].start_us();
                let minutes = if start <= self.now && self.rng.chance(70) {
                    // A session that has started, rescheduled to later: into the future.
                    ((self.now - start) / MINUTE) as i32 + minutes
                } else if self.rng.chance(50) {
                    minutes
                } else {
                    -minutes
                };
                Op::SlotMove { who, slot, minutes }
            }
            735..=744 => {
                let who = match self.rng.below(3) {
                    0 => self.gym(),
                    _ => self.trainer(),
                };
                let slot = if self.rng.chance(70) {
                    self.slot_of(&who)
                } else {
                    self.slot_not_of(&who)
                };
                Op::DeleteSlot { who, slot }
            }
            // Profile changes: one's own, someone else's (refused unless the gym).
            745..=774 => {
                let all: Vec<usize> = (0..self.model.users.len()).collect();
                let user = self.rng.pick(&all).unwrap_or(0);
                let who = match self.rng.below(10) {
                    0..=6 => Who::User(user),
                    7 => self.athlete(),
                    _ => self.gym(),
                };
                self.fresh_profile(who, user)
            }
            // An athlete or trainer changes what only the gym changes about them.
            775..=794 => {
                let who = if self.rng.chance(70) {
                    self.athlete()
                } else {
                    self.trainer()
                };
                let user = self.model.me(&who).unwrap_or(5);
                let change = match self.rng.below(5) {
                    0 => IdentityChange::RoleAdmin,
                    1 => IdentityChange::Email(format!("{}@example.com", self.rng.token("e"))),
                    2 => IdentityChange::DeletedAt,
                    3 => IdentityChange::IsAnonymous,
                    _ => IdentityChange::Password(self.rng.token("pw")),
                };
                Op::Identity { who, user, change }
            }
            // The gym promotes an athlete or demotes a trainer (an athlete tries it too).
            795..=804 => {
                let who = if self.rng.chance(90) {
                    self.gym()
                } else {
                    self.athlete()
                };
                let candidates = self.users_where(|u| u.role != Role::Admin);
                let user = self.rng.pick(&candidates).unwrap_or(5);
                let role = if self.model.users[user].role == Role::Trainer {
                    Role::Athlete
                } else {
                    Role::Trainer
                };
                Op::SetRole { who, user, role }
            }
            // The gym changes an email; sometimes to one that is taken.
            805..=814 => {
                let who = self.gym();
                let candidates: Vec<usize> = (1..self.model.users.len()).collect();
                let user = self.rng.pick(&candidates).unwrap_or(5);
                let taken: Vec<usize> = self.users_where(|u| !u.deleted);
                let email = match self.rng.pick(&taken) {
                    Some(other) if other != user && self.rng.chance(30) => {
                        self.model.users[other].email.to_uppercase()
                    }
                    _ => format!("{}@example.com", self.rng.token("e")),
                };
                Op::SetEmail { who, user, email }
            }
            815..=829 => {
                let who = self.anyone();
                let sql = self.rng.pick(&FORBIDDEN_WRITES).unwrap();
                Op::Forbidden { who, sql }
            }
            830..=839 => {
                if self.rng.chance(40) {
                    Op::Directory
                } else {
                    let sql = self.rng.pick(&ANON_FORBIDDEN).unwrap();
                    Op::Forbidden {
                        who: Who::Anon,
                        sql,
                    }
                }
            }
            // A sub that is not a uuid.
            840..=849 => {
                let who = Who::BadSub;
                match self.rng.below(4) {
                    0 => Op::Book {
                        who,
                        slot: self.slot_to_book(),
                    },
                    1 => Op::DeleteMyAccount { who },
                    2 => Op::CreateSlot {
                        who,
                        start_s: self.now / MINUTE * 60 + 3600,
                        minutes: 60,
                        capacity: 2,
                        notes: "bad sub".into(),
                    },
                    _ => Op::CancelSlot {
                        who,
                        slot: SlotRef::Known(self.any_live_slot()),
                    },
                }
            }
            // An athlete deletes a user row directly (refused by RLS: no row); a token for no
            // account deletes "its" account.
            850..=859 => {
                if self.rng.chance(50) {
                    let who = self.athlete();
                    let all: Vec<usize> = (0..self.model.users.len()).collect();
                    let user = self.rng.pick(&all).unwrap_or(0);
                    Op::DeleteUser { who, user }
                } else {
                    Op::DeleteMyAccount { who: self.ghost() }
                }
            }
            860..=861 => Op::DeleteMyAccount {
                who: self.athlete(),
            },
            862 => {
                let who = if self.rng.chance(80) {
                    self.trainer()
                } else {
                    self.someone(Role::Admin)
                };
                // The first admin stays.
                match who {
                    Who::User(0) => self.book(),
                    who => Op::DeleteMyAccount { who },
                }
            }
            863..=864 => {
                let who = self.gym();
                let candidates: Vec<usize> = (1..self.model.users.len())
                    .filter(|&u| self.model.me(&who) != Some(u))
                    .collect();
                match self.rng.pick(&candidates) {
                    Some(user) => Op::DeleteUser { who, user },
                    None => self.book(),
                }
            }
            // Sign-ups keep the gym populated; an athlete signing someone up is refused; an
            // email that is taken is refused.
            _ => {
                let athletes = self.users_where(|u| u.role == Role::Athlete && !u.deleted);
                let trainers = self.users_where(|u| u.role == Role::Trainer && !u.deleted);
                let role = if trainers.len() < 3 {
                    Role::Trainer
                } else {
                    Role::Athlete
                };
                let label = format!("{}{}", role.sql(), self.model.users.len());
                let mut user = self.new_user(role, label);
                let who = if athletes.len() < 8 || trainers.len() < 3 {
                    self.gym()
                } else if self.rng.chance(50) {
                    let live = self.users_where(|u| !u.deleted);
                    let other = self.rng.pick(&live).unwrap_or(0);
                    user.email = self.model.users[other].email.to_uppercase();
                    self.gym()
                } else {
                    self.athlete()
                };
                Op::SignUp {
                    who,
                    user: Box::new(user),
                }
            }
        }
    }
}

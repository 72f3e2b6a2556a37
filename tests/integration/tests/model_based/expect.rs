//! The model's prediction of every operation: a change, the same state, or a refusal with
//! its SQLSTATE.

use super::*;

impl Model {
    /// The model's prediction of what `op` does, sent at `now` (the request's `now()`).
    pub(crate) fn expect(&self, op: &Op, now: i64) -> Expect {
        use Expect::{Change, Refused, Same, Touch};
        if let Some(expect) = self.expect_week(op, now) {
            return expect;
        }
        if let Some(expect) = self.expect_series(op, now) {
            return expect;
        }
        if let Some(expect) = self.expect_attendance(op, now) {
            return expect;
        }
        match op {
            Op::Book { who, slot } => {
                if let Some(code) = self.api_gate(who, true) {
                    return Refused(code);
                }
                let known = match slot {
                    SlotRef::Known(i) if !self.slots[*i].gone => Some(*i),
                    _ => None,
                };
                if !self.reads_slots(who) {
                    // It sees no slot: the rules answer its booking. A deleted account cannot
                    // book an existing slot; anything else it names is not its to book.
                    let deleted = self.me(who).is_some();
                    return Refused(if deleted && known.is_some() {
                        NOT_BOOKABLE
                    } else {
                        NOT_ALLOWED
                    });
                }
                let Some(slot) = known else {
                    return Refused(NOT_FOUND);
                };
                let Some(me) = self.me(who) else {
                    // A token for no account books for nobody the rules know.
                    return Refused(NOT_ALLOWED);
                };
                // A deleted account sees none of its bookings: it always tries a new one.
                let existing = self.owner(who).and_then(|me| self.by_pair.get(&(slot, me)));
                match existing {
                    Some(&b) => {
                        let booking = &self.bookings[b];
                        match booking.status {
                            Status::Reserved => Same(Obs::Booking {
                                id: booking.id.clone(),
                                status: Status::Reserved,
                            }),
                            Status::Completed => Refused(INVALID),
                            Status::Cancelled => {
                                if let Some(refusal) = self.place_refusal(who, me, slot, now, false)
                                {
                                    return refusal;
                                }
                                // book_slot brings a booking back through an insert that meets
                                // the row: a trainer (an athlete promoted since) may not book.
                                if self.active_trainer(who) {
                                    return Refused(NOT_ALLOWED);
                                }
                                Change(
                                    Obs::Booking {
                                        id: booking.id.clone(),
                                        status: Status::Reserved,
                                    },
                                    Effect::Status {
                                        booking: b,
                                        to: Status::Reserved,
                                        by: self.by(who, Some(me), slot),
                                    },
                                )
                            }
                        }
                    }
                    None => {
                        // BEFORE triggers run before the row-level security check.
                        if self.users[me].deleted {
                            return Refused(NOT_BOOKABLE);
                        }
                        if let Some(refusal) = self.place_refusal(who, me, slot, now, false) {
                            return refusal;
                        }
                        if self.active_trainer(who) {
                            return Refused(NOT_ALLOWED);
                        }
                        Change(
                            Obs::Booking {
                                id: NEW.into(),
                                status: Status::Reserved,
                            },
                            Effect::NewBooking {
                                slot,
                                user: me,
                                by: self.by(who, Some(me), slot),
                            },
                        )
                    }
                }
            }
            Op::CancelBooking { who, booking } => {
                if let Some(code) = self.api_gate(who, true) {
                    return Refused(code);
                }
                let BookingRef::Known(b) = booking else {
                    return Refused(NOT_FOUND);
                };
                let (b, booking) = (*b, &self.bookings[*b]);
                let may_update = self.may_update_booking(who, b);
                if may_update && booking.status == Status::Reserved {
                    let slot = booking.slot;
                    if !self.slots[slot].cancelled && self.too_late(slot, now) && !self.gym(who) {
                        return Refused(TOO_LATE);
                    }
                    return Change(
                        Obs::Booking {
                            id: booking.id.clone(),
                            status: Status::Cancelled,
                        },
                        Effect::Status {
                            booking: b,
                            to: Status::Cancelled,
                            by: self.by(who, Some(booking.user), slot),
                        },
                    );
                }
                let visible =
                    may_update || self.owner(who) == Some(self.slots[booking.slot].trainer);
                if !visible {
                    return Refused(NOT_FOUND);
                }
                match booking.status {
                    Status::Completed => Refused(INVALID),
                    Status::Reserved => Refused(NOT_ALLOWED),
                    Status::Cancelled => Same(Obs::Booking {
                        id: booking.id.clone(),
                        status: Status::Cancelled,
                    }),
                }
            }
            Op::CreateSlot {
                who,
                start_s,
                minutes,
                capacity,
                notes,
            } => {
                if let Some(code) = self.api_gate(who, true) {
                    return Refused(code);
                }
                if !self.active_trainer(who) {
                    return Refused(NOT_ALLOWED);
                }
                if start_s * SECOND <= now {
                    return Refused(INVALID);
                }
                if !(30..=240).contains(minutes) || !(1..=20).contains(capacity) {
                    return Refused(CHECK);
                }
                let (minutes, capacity) = (i64::from(*minutes), i64::from(*capacity));
                Change(
                    Obs::Slot {
                        id: NEW.into(),
                        shape: slot_shape(*start_s, minutes, capacity, false),
                    },
                    Effect::NewSlot {
                        trainer: self.me(who).expect("a trainer"),
                        start_s: *start_s,
                        minutes,
                        capacity,
                        notes: notes.clone(),
                    },
                )
            }
            Op::CancelSlot { who, slot } => {
                if let Some(code) = self.api_gate(who, true) {
                    return Refused(code);
                }
                if self.owner(who).is_none() {
                    return Refused(NOT_ALLOWED);
                }
                let slot = match slot {
                    SlotRef::Known(i) if !self.slots[*i].gone => *i,
                    _ => return Refused(NOT_FOUND),
                };
                let s = &self.slots[slot];
                let cancelled = Obs::Slot {
                    id: s.id.clone(),
                    shape: slot_shape(s.start_s, s.minutes, s.capacity, true),
                };
                if s.cancelled {
                    Same(cancelled)
                } else if self.may_write_slot(who, slot) {
                    let by = self.by(who, None, slot);
                    Change(cancelled, Effect::CancelSlot { slot, by })
                } else {
                    Refused(NOT_ALLOWED)
                }
            }
            Op::AvailableSlots { who, trainer } => match self.api_gate(who, false) {
                Some(code) => Refused(code),
                None if !self.reads_slots(who) => Same(Obs::List(Vec::new())),
                None => Same(Obs::List(self.available(*trainer, now))),
            },
            Op::MyBookings { who } => match self.api_gate(who, false) {
                Some(code) => Refused(code),
                None => Same(Obs::List(
                    self.owner(who)
                        .map(|me| self.bookings_list(me))
                        .unwrap_or_default(),
                )),
            },
            Op::CompletePast { who, max_rows } => {
                if let Some(code) = self.api_gate(who, false) {
                    return Refused(code);
                }
                if *max_rows < 1 {
                    return Refused(INVALID);
                }
                if !self.gym(who) {
                    return Refused(NOT_ALLOWED);
                }
                let mut due: Vec<(i64, &str, usize)> = self
                    .bookings
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.status == Status::Reserved && self.ended(b.slot, now))
                    .map(|(i, b)| (self.slots[b.slot].end_us(), b.id.as_str(), i))
                    .collect();
                due.sort();
                due.truncate(*max_rows as usize);
                // The completion runs the auto no-show sweep too (0.2.2), as many rows, at its statement's
                // time.
                let sweep = self.sweep_plan(i64::from(*max_rows), self.stmt_now.unwrap_or(now));
                if due.is_empty() && !sweep.changes(self) {
                    return Same(Obs::Count(0));
                }
                Change(
                    Obs::Count(due.len() as i64),
                    Effect::Complete {
                        bookings: due.into_iter().map(|d| d.2).collect(),
                        sweep,
                    },
                )
            }
            Op::DeleteMyAccount { who } => {
                if let Some(code) = self.api_gate(who, true) {
                    return Refused(code);
                }
                match self.me(who) {
                    None => Refused(NOT_FOUND),
                    Some(me) if self.users[me].deleted => Same(Obs::Done),
                    Some(me) => Change(Obs::Done, Effect::DeleteUser { user: me }),
                }
            }
            Op::SetStatus { who, booking, to } => {
                if matches!(who, Who::Anon) {
                    return Refused(NOT_ALLOWED);
                }
                let (b, booking) = (*booking, &self.bookings[*booking]);
                if !self.may_update_booking(who, b) {
                    return Same(Obs::Rows(0));
                }
                let slot = booking.slot;
                let change = Change(
                    Obs::Rows(1),
                    Effect::Status {
                        booking: b,
                        to: *to,
                        by: self.by(who, Some(booking.user), slot),
                    },
                );
                match (booking.status, *to) {
                    (from, to) if from == to => Touch(Obs::Rows(1)),
                    (Status::Reserved, Status::Cancelled) => {
                        if !self.slots[slot].cancelled && self.too_late(slot, now) && !self.gym(who)
                        {
                            Refused(TOO_LATE)
                        } else {
                            change
                        }
                    }
                    (Status::Cancelled, Status::Reserved) => {
                        if self.users[booking.user].deleted {
                            Refused(NOT_BOOKABLE)
                        } else if let Some(refusal) =
                            self.place_refusal(who, booking.user, slot, now, false)
                        {
                            refusal
                        } else {
                            change
                        }
                    }
                    (Status::Reserved, Status::Completed) => {
                        if !self.gym(who) {
                            Refused(NOT_ALLOWED)
                        } else if !self.ended(slot, now) {
                            Refused(INVALID)
                        } else {
                            change
                        }
                    }
                    _ => Refused(INVALID),
                }
            }
            Op::InsertBooking { who, slot, user } => {
                if matches!(who, Who::Anon) {
                    return Refused(NOT_ALLOWED);
                }
                // A client books only for themselves: refused before anything is looked at.
                if !self.gym(who) && self.me(who) != Some(*user) {
                    return Refused(NOT_ALLOWED);
                }
                if self.users[*user].deleted {
                    return Refused(NOT_BOOKABLE);
                }
                // Full, but the athlete holds one of its places already (a double tap): the
                // unique key answers, below.
                let holds_a_place = self
                    .by_pair
                    .get(&(*slot, *user))
                    .is_some_and(|&b| self.bookings[b].status == Status::Reserved);
                if let Some(refusal) = self.place_refusal(who, *user, *slot, now, holds_a_place) {
                    return refusal;
                }
                let own = self.owner(who) == Some(*user) && !self.active_trainer(who);
                if !(self.gym(who) || own) {
                    return Refused(NOT_ALLOWED);
                }
                if self.by_pair.contains_key(&(*slot, *user)) {
                    return Refused(DUPLICATE);
                }
                Change(
                    Obs::Booking {
                        id: NEW.into(),
                        status: Status::Reserved,
                    },
                    Effect::NewBooking {
                        slot: *slot,
                        user: *user,
                        by: self.by(who, Some(*user), *slot),
                    },
                )
            }
            // No DELETE grant on bookings, no UPDATE grant on slot_id, for any client role.
            Op::DeleteBooking { .. } | Op::MoveBooking { .. } => Refused(NOT_ALLOWED),
            Op::SlotCapacity {
                who,
                slot,
                capacity,
            } => {
                if matches!(who, Who::Anon) {
                    return Refused(NOT_ALLOWED);
                }
                let s = &self.slots[*slot];
                if s.gone || !self.may_write_slot(who, *slot) {
                    return Same(Obs::Rows(0));
                }
                let capacity = i64::from(*capacity);
                if capacity == s.capacity {
                    Touch(Obs::Rows(1))
                } else if capacity < s.capacity && capacity < self.reserved(*slot) {
                    Refused(RESTRICTED)
                } else if !(1..=20).contains(&capacity) {
                    Refused(CHECK)
                } else {
                    Change(
                        Obs::Rows(1),
                        Effect::Capacity {
                            slot: *slot,
                            capacity,
                        },
                    )
                }
            }
            Op::SlotNotes { who, slot, notes } => {
                if matches!(who, Who::Anon) {
                    return Refused(NOT_ALLOWED);
                }
                if self.slots[*slot].gone || !self.may_write_slot(who, *slot) {
                    return Same(Obs::Rows(0));
                }
                // New notes (always: a fresh token); the athletes holding a place hear of it
                // (none in a cancelled slot).
                let by = self.by(who, None, *slot);
                Change(
                    Obs::Rows(1),
                    Effect::Notes {
                        slot: *slot,
                        notes: notes.clone(),
                        by,
                    },
                )
            }
            Op::SlotMove { who, slot, minutes } => {
                if matches!(who, Who::Anon) {
                    return Refused(NOT_ALLOWED);
                }
                let s = &self.slots[*slot];
                if s.gone || !self.may_write_slot(who, *slot) {
                    return Same(Obs::Rows(0));
                }
                // Reserved or completed bookings hold a slot's times.
                let held = self
                    .bookings
                    .iter()
                    .any(|b| b.slot == *slot && b.status != Status::Cancelled);
                if held {
                    return Refused(RESTRICTED);
                }
                // New times need an active trainer: a deleted or demoted trainer's slot
                // cannot be moved back into the bookable future.
                let trainer = &self.users[s.trainer];
                if trainer.deleted || trainer.role != Role::Trainer {
                    return Refused(INVALID);
                }
                Change(
                    Obs::Rows(1),
                    Effect::Move {
                        slot: *slot,
                        start_s: s.start_s + i64::from(*minutes) * 60,
                    },
                )
            }
            Op::DeleteSlot { who, slot } => {
                if matches!(who, Who::Anon) {
                    return Refused(NOT_ALLOWED);
                }
                if self.slots[*slot].gone || !self.may_write_slot(who, *slot) {
                    return Same(Obs::Rows(0));
                }
                if self.bookings.iter().any(|b| b.slot == *slot) {
                    return Refused(RESTRICTED);
                }
                Change(Obs::Rows(1), Effect::SlotGone { slot: *slot })
            }
            Op::Profile {
                who,
                user,
                first,
                last,
                phone,
            } => {
                if matches!(who, Who::Anon) {
                    return Refused(NOT_ALLOWED);
                }
                if !self.may_update_user(who, *user) {
                    return Same(Obs::Rows(0));
                }
                if self.users[*user].deleted {
                    return Refused(INVALID);
                }
                Change(
                    Obs::Rows(1),
                    Effect::Profile {
                        user: *user,
                        first: first.clone(),
                        last: last.clone(),
                        phone: phone.clone(),
                    },
                )
            }
            Op::Identity { who, user, change } => {
                // Only service_role has the column grant on password_hash.
                if matches!(change, IdentityChange::Password(_)) {
                    return Refused(NOT_ALLOWED);
                }
                if !self.may_update_user(who, *user) {
                    return Same(Obs::Rows(0));
                }
                Refused(NOT_ALLOWED)
            }
            Op::SetRole { who, user, role } => {
                if !self.may_update_user(who, *user) {
                    return Same(Obs::Rows(0));
                }
                let target = &self.users[*user];
                if !self.gym(who) {
                    return Refused(NOT_ALLOWED);
                }
                if target.deleted {
                    return Refused(INVALID);
                }
                if target.role == Role::Trainer
                    && *role != Role::Trainer
                    && self.upcoming_slots_of(*user, now)
                {
                    return Refused(RESTRICTED);
                }
                if *role == Role::Trainer
                    && target.contact_email.is_none()
                    && target.phone.is_none()
                {
                    return Refused(CHECK);
                }
                Change(
                    Obs::Rows(1),
                    Effect::Role {
                        user: *user,
                        role: *role,
                    },
                )
            }
            Op::SetEmail { who, user, email } => {
                if !self.may_update_user(who, *user) {
                    return Same(Obs::Rows(0));
                }
                if !self.gym(who) {
                    return Refused(NOT_ALLOWED);
                }
                if self.users[*user].deleted {
                    return Refused(INVALID);
                }
                if self.live_email_taken(email, Some(*user)) {
                    return Refused(DUPLICATE);
                }
                Change(
                    Obs::Rows(1),
                    Effect::Email {
                        user: *user,
                        email: email.clone(),
                    },
                )
            }
            Op::DeleteUser { who, user } => {
                if matches!(who, Who::Anon) {
                    return Refused(NOT_ALLOWED);
                }
                // Only the gym's policies reach other rows for DELETE; the row is kept
                // (anonymized), so DELETE reports no row either way.
                if !self.gym(who) || self.users[*user].deleted {
                    return Same(Obs::Rows(0));
                }
                Change(Obs::Rows(0), Effect::DeleteUser { user: *user })
            }
            Op::SignUp { who, user } => {
                if !self.gym(who) {
                    return Refused(NOT_ALLOWED);
                }
                if self.live_email_taken(&user.email, None) {
                    return Refused(DUPLICATE);
                }
                Change(
                    Obs::Created { id: NEW.into() },
                    Effect::NewUser(user.clone()),
                )
            }
            Op::Forbidden { .. } => Refused(NOT_ALLOWED),
            Op::Directory => Same(Obs::List(self.directory())),
            Op::JoinWaitlist { .. }
            | Op::LeaveWaitlist { .. }
            | Op::MyWaitlist { .. }
            | Op::SetSettings { .. }
            | Op::PromoteWaitlists { .. }
            | Op::ReadEntries { .. }
            | Op::ReadEvents { .. } => unreachable!("answered by expect_week"),
            Op::CreateSeries { .. }
            | Op::EditSeries { .. }
            | Op::CancelSeries { .. }
            | Op::ExtendTimetables { .. }
            | Op::SetHorizon { .. } => unreachable!("answered by expect_series"),
            Op::MarkAttendance { .. }
            | Op::ExcuseNoShow { .. }
            | Op::RecordNoShows { .. }
            | Op::Roster { .. }
            | Op::Suspension { .. }
            | Op::ReadAttendance { .. }
            | Op::RestoreSweep { .. }
            | Op::Reassign { .. } => unreachable!("answered by expect_attendance"),
            Op::LoadPast {
                trainer,
                start_s,
                minutes,
                capacity,
                athletes,
            } => Change(
                Obs::Loaded {
                    slot: NEW.into(),
                    bookings: vec![NEW.into(); athletes.len()],
                },
                Effect::Loaded {
                    trainer: *trainer,
                    start_s: *start_s,
                    minutes: *minutes,
                    capacity: *capacity,
                    athletes: athletes.clone(),
                },
            ),
        }
    }
}

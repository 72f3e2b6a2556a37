//! Choosing and sending the operations 0.2.0 adds: joining and leaving waitlists, the
//! caller's waitlist, an admin changing the studio's settings, the sweep, reading entries and
//! events, and writes to the new tables that no client may make.

use super::*;

/// Writes to the waitlist and the settings' history: only the API and the rules make them,
/// whoever the client (the service role too).
const WEEK_FORBIDDEN: [&str; 5] = [
    "INSERT INTO gym_booking.waitlist_entries (slot_id, user_id)
     SELECT id, trainer_id FROM gym_booking.slots LIMIT 1",
    "UPDATE gym_booking.waitlist_entries SET state = 'promoted'",
    "DELETE FROM gym_booking.waitlist_entries",
    "INSERT INTO gym_booking.studio_settings_history DEFAULT VALUES",
    "DELETE FROM gym_booking.studio_settings_history",
];

/// An athlete or a trainer forging or hiding events (the outbox is the rules' and the
/// delivery worker's).
const EVENT_FORGERY: [&str; 3] = [
    "INSERT INTO gym_booking.events (recipient_id, kind)
     VALUES (gym_booking.current_user_id(), 'booking_confirmed')",
    "UPDATE gym_booking.events SET delivered_at = now()",
    "DELETE FROM gym_booking.events",
];

fn entry_obs(row: &postgres::Row) -> Obs {
    Obs::Entry {
        id: row.get(0),
        slot: row.get(1),
        state: row.get(2),
    }
}

impl Run {
    /// One of the operations of 0.2.0; `r` is below `WEEK_WEIGHT`.
    pub(crate) fn choose_week(&mut self, r: u64) -> Op {
        match r {
            0..=44 | 113..=119 => self.join(),
            120..=159 => self.at_a_waitlist(r),
            45..=54 => self.leave(),
            55..=68 => self.settings_change(),
            69..=76 => {
                let who = match self.rng.below(20) {
                    0..=8 => Who::Service,
                    9..=16 => self.admin(),
                    17 => self.athlete(),
                    18 => self.trainer(),
                    _ => [Who::Anon, Who::BadSub][self.rng.below(2) as usize].clone(),
                };
                Op::PromoteWaitlists { who }
            }
            77..=88 => {
                let waiting: Vec<usize> = self.model.waiting.keys().map(|&(_, u)| u).collect();
                let who = match self.rng.below(20) {
                    0..=11 => match self.rng.pick(&waiting) {
                        Some(u) => Who::User(u),
                        None => self.athlete(),
                    },
                    12..=14 => self.athlete(),
                    15 => self.trainer(),
                    16 => self.ghost(),
                    17 => Who::Service,
                    18 => Who::Anon,
                    _ => Who::BadSub,
                };
                Op::MyWaitlist { who }
            }
            89..=97 => {
                let who = match self.rng.below(10) {
                    0..=3 => self.athlete(),
                    4 | 5 => self.trainer(),
                    6 => self.admin(),
                    7 => Who::Service,
                    8 => Who::Anon,
                    _ => self.ghost(),
                };
                Op::ReadEntries { who }
            }
            98..=106 => {
                let who = match self.rng.below(10) {
                    0..=4 => self.athlete(),
                    5 => self.someone(Role::Athlete),
                    6 => self.trainer(),
                    7 => Who::Service,
                    8 => Who::Anon,
                    _ => self.ghost(),
                };
                Op::ReadEvents { who }
            }
            _ => {
                if self.rng.chance(60) {
                    let who = self.anyone();
                    let sql = self.rng.pick(&WEEK_FORBIDDEN).unwrap();
                    Op::Forbidden { who, sql }
                } else {
                    let who = if self.rng.chance(70) {
                        self.athlete()
                    } else {
                        self.trainer()
                    };
                    let sql = self.rng.pick(&EVENT_FORGERY).unwrap();
                    Op::Forbidden { who, sql }
                }
            }
        }
    }

    /// Where people wait: a place freed (its athlete cancels, or the gym does), a capacity
    /// raised (its trainer, the gym), or someone else trying to book it (held for the
    /// waitlist, or not: a free place beyond those held, an ineligible queue).
    fn at_a_waitlist(&mut self, r: u64) -> Op {
        // Mostly a slot before its cutoff, where a freed place goes to the list.
        let now = self.now;
        let slots = self.model.slots_with_waiting();
        let open: Vec<usize> = slots
            .iter()
            .copied()
            .filter(|&s| self.model.promotable(s, now))
            .collect();
        let pick = match self.rng.pick(&open) {
            Some(s) if self.rng.chance(80) => Some(s),
            _ => self.rng.pick(&slots),
        };
        let Some(slot) = pick else {
            return self.join();
        };
        let places: Vec<usize> = (0..self.model.bookings.len())
            .filter(|&b| {
                self.model.bookings[b].slot == slot
                    && self.model.bookings[b].status == Status::Reserved
            })
            .collect();
        match r {
            // The gym makes a waiting athlete a trainer: they keep their place in the queue,
            // but are never promoted (trainers do not take classes).
            157.. => {
                let waiting: Vec<usize> = self
                    .model
                    .waiting_in(slot)
                    .into_iter()
                    .map(|e| self.model.entries[e].user)
                    .collect();
                let user = self.rng.pick(&waiting).unwrap_or(5);
                let role = if self.model.users[user].role == Role::Trainer {
                    Role::Athlete
                } else {
                    Role::Trainer
                };
                Op::SetRole {
                    who: self.gym(),
                    user,
                    role,
                }
            }
            120..=137 => {
                let Some(b) = self.rng.pick(&places) else {
                    return self.join();
                };
                let owner = self.model.bookings[b].user;
                let who = if self.rng.chance(75) {
                    Who::User(owner)
                } else {
                    self.gym()
                };
                if self.rng.chance(70) {
                    Op::CancelBooking {
                        who,
                        booking: BookingRef::Known(b),
                    }
                } else {
                    Op::SetStatus {
                        who,
                        booking: b,
                        to: Status::Cancelled,
                    }
                }
            }
            138..=149 => {
                let who = if self.rng.chance(50) {
                    Who::User(self.model.slots[slot].trainer)
                } else {
                    self.gym()
                };
                let capacity = (self.model.slots[slot].capacity + self.rng.range(1, 2)) as i32;
                Op::SlotCapacity {
                    who,
                    slot,
                    capacity: capacity.min(20),
                }
            }
            _ => {
                let who = match self.rng.below(10) {
                    0 | 1 => self.gym(),
                    _ => self.athlete(),
                };
                match who {
                    Who::User(u) if self.rng.chance(30) => Op::InsertBooking { who, slot, user: u },
                    Who::User(_) => Op::Book {
                        who,
                        slot: SlotRef::Known(slot),
                    },
                    _ => {
                        let athletes = self.users_where(|u| u.role == Role::Athlete);
                        let user = self.rng.pick(&athletes).unwrap_or(5);
                        Op::InsertBooking { who, slot, user }
                    }
                }
            }
        }
    }

    /// Mostly an athlete joining a full slot they hold no place in; sometimes a slot with
    /// room, a closed or cancelled one, one that does not exist, or an odd caller.
    fn join(&mut self) -> Op {
        let who = match self.rng.below(50) {
            0 => self.ghost(),
            1 => Who::Service,
            2 => Who::Anon,
            3 => Who::BadSub,
            4 => self.trainer(),
            5 | 6 => self.someone(Role::Athlete),
            _ => self.athlete(),
        };
        let me = self.model.me(&who);
        let full: Vec<usize> = self
            .open_slots()
            .into_iter()
            .filter(|&s| {
                self.model.reserved(s) >= self.model.slots[s].capacity
                    && me.is_none_or(|u| {
                        self.model
                            .by_pair
                            .get(&(s, u))
                            .is_none_or(|&b| self.model.bookings[b].status != Status::Reserved)
                    })
            })
            .collect();
        // Mostly one still before its cutoff, where joining is possible.
        let now = self.now;
        let before_cutoff: Vec<usize> = full
            .iter()
            .copied()
            .filter(|&s| self.model.promotable(s, now))
            .collect();
        let slot = match (self.rng.below(10), self.rng.pick(&before_cutoff)) {
            (0..=5, Some(s)) => SlotRef::Known(s),
            (0..=7, _) if !full.is_empty() => SlotRef::Known(self.rng.pick(&full).unwrap()),
            _ => self.slot_to_book(),
        };
        Op::JoinWaitlist { who, slot }
    }

    /// Mostly a waiting athlete leaving one of their lists.
    fn leave(&mut self) -> Op {
        let waiting: Vec<(usize, usize)> = self.model.waiting.keys().copied().collect();
        match self.rng.pick(&waiting) {
            Some((slot, user)) if self.rng.chance(80) => Op::LeaveWaitlist {
                who: Who::User(user),
                slot: SlotRef::Known(slot),
            },
            _ => {
                let who = match self.rng.below(10) {
                    0 => self.ghost(),
                    1 => Who::Anon,
                    _ => self.athlete(),
                };
                let slot = self.slot_to_book();
                Op::LeaveWaitlist { who, slot }
            }
        }
    }

    /// A value for one setting: often its default, otherwise one that matters against the
    /// slots' times (30-90 minutes and hours to days ahead).
    pub(crate) fn setting_value(&mut self, setting: Setting) -> Option<i64> {
        let default = self.rng.chance(35);
        let pick = |rng: &mut Rng, values: &[i64]| rng.pick(values).unwrap();
        match setting {
            Setting::CancellationWindow => Some(if default {
                60
            } else {
                pick(&mut self.rng, &[30, 45, 90, 120])
            }),
            Setting::OpensBefore => {
                (!default).then(|| pick(&mut self.rng, &[120, 180, 24 * 60, 48 * 60]))
            }
            Setting::ClosesBefore => Some(if default {
                0
            } else {
                pick(&mut self.rng, &[10, 30, 45])
            }),
            Setting::MaxUpcoming => (!default).then(|| pick(&mut self.rng, &[1, 2, 3, 5])),
            Setting::WaitlistEnabled => {
                // Switched off only while nobody waits for a slot still to come: the contract
                // says what "off" does to joining, not to entries already waiting.
                let now = self.now;
                let waits = self
                    .model
                    .waiting
                    .keys()
                    .any(|&(s, _)| self.model.slots[s].start_us() > now);
                Some(i64::from(default || waits || self.rng.chance(50)))
            }
            Setting::WaitlistMax => (!default).then(|| pick(&mut self.rng, &[1, 2, 3])),
            Setting::WaitlistCutoff => (!default).then(|| pick(&mut self.rng, &[0, 30, 60, 90])),
            // Attendance: a grace that has ended for some loaded sessions and not for others
            // (they ended an hour to two days ago), the sweep mostly on, a few strikes
            // suspending, windows and suspensions around the loaded sessions' starts.
            Setting::AttendanceGrace => Some(if default {
                24 * 60
            } else {
                pick(&mut self.rng, &[0, 30, 120, 6 * 60])
            }),
            Setting::AutoNoShow => Some(i64::from(!default && self.rng.chance(80))),
            Setting::StrikeLimit => (!default).then(|| pick(&mut self.rng, &[1, 2, 3])),
            Setting::StrikeWindow => Some(if default {
                30 * 24 * 60
            } else {
                pick(&mut self.rng, &[24 * 60, 2 * 24 * 60, 3 * 24 * 60])
            }),
            Setting::Suspension => Some(if default {
                7 * 24 * 60
            } else {
                pick(&mut self.rng, &[0, 60, 6 * 60, 2 * 24 * 60])
            }),
        }
    }

    /// An admin (mostly) changes one to three settings, at least one of them to a new value;
    /// now and then a value out of range, or a caller who may not.
    fn settings_change(&mut self) -> Op {
        let who = match self.rng.below(40) {
            0 | 1 => Who::Service,
            2 => Who::Dba,
            3 | 4 => self.athlete(),
            5 => self.trainer(),
            6 => self.someone(Role::Admin),
            7 => Who::Anon,
            _ => Who::User(0),
        };
        let mut changes: Vec<(Setting, Option<i64>)> = Vec::new();
        for _attempt in 0..5 {
            changes.clear();
            let n = self.rng.range(1, 3);
            while changes.len() < n as usize {
                let setting = self.rng.pick(&Setting::ALL).unwrap();
                if changes.iter().all(|(s, _)| *s != setting) {
                    let value = self.setting_value(setting);
                    changes.push((setting, value));
                }
            }
            let mut after = self.model.settings.clone();
            for (setting, value) in &changes {
                setting.set(&mut after, *value);
            }
            if after != self.model.settings {
                break;
            }
        }
        if self.rng.chance(5) {
            let (setting, value) = &mut changes[0];
            *value = Some(match setting {
                Setting::WaitlistEnabled | Setting::AutoNoShow => 1,
                Setting::MaxUpcoming | Setting::WaitlistMax => -1,
                Setting::StrikeLimit => 101,
                _ => -30,
            });
        }
        Op::SetSettings { who, changes }
    }

    /// Sends an operation of 0.2.0; None for the others.
    pub(crate) fn exec_week(&mut self, op: &Op) -> Option<(i64, Result<Obs, Fail>)> {
        let who = op.who();
        let slot_id = |m: &Model, s: &SlotRef| match s {
            SlotRef::Known(i) => m.slots[*i].id.clone(),
            SlotRef::Missing(id) => id.clone(),
        };
        Some(match op {
            Op::JoinWaitlist { slot, .. } => {
                let id = slot_id(&self.model, slot);
                self.call(&who, "POST", "/rpc/join_waitlist", |tx| {
                    tx.query_one(
                        "SELECT id::text, slot_id::text, state::text
                           FROM gym_booking.join_waitlist($1::text::uuid)",
                        &[&id],
                    )
                    .map(|r| entry_obs(&r))
                })
            }
            Op::LeaveWaitlist { slot, .. } => {
                let id = slot_id(&self.model, slot);
                self.call(&who, "POST", "/rpc/leave_waitlist", |tx| {
                    tx.query_one(
                        "SELECT id::text, slot_id::text, state::text
                           FROM gym_booking.leave_waitlist($1::text::uuid)",
                        &[&id],
                    )
                    .map(|r| entry_obs(&r))
                })
            }
            Op::MyWaitlist { .. } => self.call(&who, "GET", "/rpc/my_waitlist", |tx| {
                let rows = tx.query(
                    "SELECT format('%s position %s waiting %s', slot_id, \"position\", waiting)
                       FROM gym_booking.my_waitlist()",
                    &[],
                )?;
                let mut list: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
                list.sort();
                Ok(Obs::List(list))
            }),
            Op::SetSettings { changes, .. } => {
                let sets: Vec<String> = changes
                    .iter()
                    .map(|(s, v)| format!("{} = {}", s.column(), s.literal(*v)))
                    .collect();
                let sql = format!(
                    "UPDATE gym_booking.studio_settings SET {} WHERE id",
                    sets.join(", ")
                );
                self.call(&who, "PATCH", "/studio_settings", |tx| {
                    Self::rows(tx, &sql, &[])
                })
            }
            Op::PromoteWaitlists { .. } => {
                self.call(&who, "POST", "/rpc/promote_waitlists", |tx| {
                    tx.query_one("SELECT gym_booking.promote_waitlists()", &[])
                        .map(|r| Obs::Count(i64::from(r.get::<_, i32>(0))))
                })
            }
            Op::ReadEntries { .. } => self.call(&who, "GET", "/waitlist_entries", |tx| {
                tx.query_one("SELECT count(*) FROM gym_booking.waitlist_entries", &[])
                    .map(|r| Obs::Count(r.get(0)))
            }),
            Op::ReadEvents { .. } => self.call(&who, "GET", "/events", |tx| {
                tx.query_one("SELECT count(*) FROM gym_booking.events", &[])
                    .map(|r| Obs::Count(r.get(0)))
            }),
            _ => return None,
        })
    }
}

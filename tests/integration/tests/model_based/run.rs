//! A run: its seed data, the pickers that choose who acts on which row, and how a step is
//! described when it fails.

use super::*;

impl Run {
    pub(crate) fn new(seed: u64, mut client: Client) -> Run {
        // `now() + interval '7 days'` (available_slots' default) is exact only where no daylight
        // saving shift falls in the week; the model counts 7 × 24 hours.
        client
            .batch_execute("SET TIME ZONE 'UTC'")
            .expect("set the session's time zone");
        let sql = Checks::prepare(&mut client)
            .unwrap_or_else(|e| panic!("seed {seed}: prepare the checks: {e:?}"));
        let mut run = Run {
            seed,
            client,
            sql,
            rng: Rng::new(seed),
            model: Model {
                users: Vec::new(),
                slots: Vec::new(),
                bookings: Vec::new(),
                by_pair: HashMap::new(),
                settings: Settings::default(),
                entries: Vec::new(),
                waiting: HashMap::new(),
                out: Vec::new(),
                events_of: HashMap::new(),
                settings_history: (0, 0),
                observed_waiting: None,
                across_slots: (0, 0),
                series: Vec::new(),
                horizon_days: START_HORIZON_DAYS,
                stmt_now: None,
                att: attendance::AttState::default(),
            },
            now: 0,
            fingerprint: String::new(),
            log_mark: "-infinity".into(),
            event_mark: 0,
            recent: VecDeque::new(),
            tally: BTreeMap::new(),
        };
        run.check_local_time();
        run.seed_data();
        run.start_attendance();
        run.start_week();
        let (fingerprint, mark) = run.fingerprint();
        run.fingerprint = fingerprint;
        run.log_mark = mark;
        run
    }

    pub(crate) fn new_user(&mut self, role: Role, label: String) -> User {
        let email = format!("{}@example.com", self.rng.token("e"));
        let password = self.rng.token("pw");
        let first = self.rng.token("F");
        let last = (!self.rng.chance(15)).then(|| self.rng.token("L"));
        let contact_email =
            (role == Role::Trainer).then(|| format!("{}@example.com", self.rng.token("c")));
        let phone = (role == Role::Trainer || self.rng.chance(60))
            .then(|| format!("+1-555-{}", self.rng.token("")));
        let preference = self.rng.token("P");
        let mut secrets = vec![email.clone(), password.clone(), first.clone(), preference];
        secrets.extend(last.clone());
        secrets.extend(contact_email.clone());
        secrets.extend(phone.clone());
        User {
            id: String::new(),
            label,
            role,
            deleted: false,
            email,
            password,
            first,
            last,
            contact_email,
            phone,
            secrets,
        }
    }

    pub(crate) fn insert_user(&mut self, user: &User) -> String {
        let preference = json!({ "note": user.secrets[3] }).to_string();
        self.client
            .query_one(
                "INSERT INTO gym_booking.users (email, password_hash, first_name, last_name, role,
                                                contact_email, contact_phone, preferences)
                 VALUES ($1::text, $2::text, $3::text, $4::text, $5::text::gym_booking.user_role,
                         $6::text, $7::text, $8::text::jsonb)
                 RETURNING id::text",
                &[
                    &user.email,
                    &user.password,
                    &user.first,
                    &user.last,
                    &user.role.sql(),
                    &user.contact_email,
                    &user.phone,
                    &preference,
                ],
            )
            .unwrap_or_else(|e| panic!("seed {}: setup: insert user: {e:?}", self.seed))
            .get(0)
    }

    /// Two admins (the second may be deleted), three trainers, ten athletes and a former
    /// trainer whose account is deleted; ended and running slots with reserved bookings, loaded
    /// as a restore would; a few future slots.
    pub(crate) fn seed_data(&mut self) {
        // A short timetable horizon: a series makes a few weeks of occurrences.
        self.client
            .execute(
                "UPDATE gym_booking.studio_settings
                    SET timetable_horizon = make_interval(days => $1::int8::int4)",
                &[&START_HORIZON_DAYS],
            )
            .expect("set timetable_horizon");
        let roles = [(Role::Admin, 2), (Role::Trainer, 3), (Role::Athlete, 10)];
        for (role, n) in roles {
            for k in 0..n {
                let mut user = self.new_user(role, format!("{}{k}", role.sql()));
                user.id = self.insert_user(&user);
                self.model.users.push(user);
            }
        }
        let mut former = self.new_user(Role::Trainer, "former_trainer".into());
        former.id = self.insert_user(&former);
        self.client
            .execute(
                "UPDATE gym_booking.users SET deleted_at = now() WHERE id = $1::text::uuid",
                &[&former.id],
            )
            .expect("delete the former trainer's account");
        former.deleted = true;
        self.model.users.push(former);
        let now: i64 = self
            .client
            .query_one(NOW_US, &[])
            .expect("read now()")
            .get(0);
        self.now = now;
        let minute = now / MINUTE * 60; // this minute, in seconds
        let trainers: Vec<usize> = (2..5).collect();
        let athletes: Vec<usize> = (5..15).collect();

        let mut tx = self.client.transaction().expect("begin setup");
        tx.batch_execute("SET LOCAL session_replication_role = replica")
            .expect("replica mode");
        // Ended slots (hours to days ago) and two running ones (started 20 minutes ago).
        let mut past = Vec::new();
        for k in 0..10 {
            let (start_s, minutes) = if k < 8 {
                (minute - self.rng.range(2, 72) * 3600, 60)
            } else {
                (minute - 20 * 60, 120)
            };
            let trainer = self.rng.pick(&trainers).unwrap();
            let capacity = self.rng.range(1, 4);
            let id: String = tx
                .query_one(
                    "INSERT INTO gym_booking.slots (trainer_id, start_at, end_at, duration_minutes, capacity)
                     VALUES ($1::text::uuid, to_timestamp($2::int8::float8), to_timestamp($3::int8::float8),
                             $4::int8::int2, $5::int8::int2)
                     RETURNING id::text",
                    &[
                        &self.model.users[trainer].id,
                        &start_s,
                        &(start_s + minutes * 60),
                        &minutes,
                        &capacity,
                    ],
                )
                .expect("seed a past slot")
                .get(0);
            self.model.slots.push(Slot {
                id,
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
            past.push(self.model.slots.len() - 1);
        }
        for slot in past {
            let mut pool = athletes.clone();
            let n = self.rng.range(1, self.model.slots[slot].capacity);
            for _ in 0..n {
                let user = pool.remove(self.rng.below(pool.len() as u64) as usize);
                let id: String = tx
                    .query_one(
                        "INSERT INTO gym_booking.bookings (slot_id, user_id)
                         VALUES ($1::text::uuid, $2::text::uuid) RETURNING id::text",
                        &[&self.model.slots[slot].id, &self.model.users[user].id],
                    )
                    .expect("seed a past booking")
                    .get(0);
                self.model
                    .by_pair
                    .insert((slot, user), self.model.bookings.len());
                self.model.bookings.push(Booking {
                    id,
                    slot,
                    user,
                    status: Status::Reserved,
                    changes: 0,
                    auto: false,
                });
            }
        }
        tx.commit().expect("commit the seeded past");

        // Future slots, written normally (the rules apply).
        for k in 0..6 {
            let offset_min = if k < 3 {
                self.rng.range(35, 85)
            } else {
                self.rng.range(2, 48) * 60
            };
            let start_s = minute + offset_min * 60;
            let trainer = self.rng.pick(&trainers).unwrap();
            let capacity = self.rng.range(1, 5);
            let id: String = self
                .client
                .query_one(
                    "INSERT INTO gym_booking.slots (trainer_id, start_at, duration_minutes, capacity)
                     VALUES ($1::text::uuid, to_timestamp($2::int8::float8), 60, $3::int8::int2)
                     RETURNING id::text",
                    &[&self.model.users[trainer].id, &start_s, &capacity],
                )
                .expect("seed a future slot")
                .get(0);
            self.model.slots.push(Slot {
                id,
                trainer,
                start_s,
                minutes: 60,
                capacity,
                notes: None,
                series: None,
                made_as: None,
                cancelled: false,
                gone: false,
            });
        }
    }

    // ---- choosing ---------------------------------------------------------------------------

    pub(crate) fn users_where(&self, keep: impl Fn(&User) -> bool) -> Vec<usize> {
        (0..self.model.users.len())
            .filter(|&i| keep(&self.model.users[i]))
            .collect()
    }

    pub(crate) fn someone(&mut self, role: Role) -> Who {
        let all = self.users_where(|u| u.role == role);
        match self.rng.pick(&all) {
            Some(i) => Who::User(i),
            None => Who::User(0),
        }
    }

    /// An athlete; mostly one whose account is active.
    pub(crate) fn athlete(&mut self) -> Who {
        let active = self.users_where(|u| u.role == Role::Athlete && !u.deleted);
        if self.rng.chance(80) {
            if let Some(i) = self.rng.pick(&active) {
                return Who::User(i);
            }
        }
        self.someone(Role::Athlete)
    }

    /// A trainer; mostly an active one.
    pub(crate) fn trainer(&mut self) -> Who {
        let active = self.users_where(|u| u.role == Role::Trainer && !u.deleted);
        if self.rng.chance(85) {
            if let Some(i) = self.rng.pick(&active) {
                return Who::User(i);
            }
        }
        self.someone(Role::Trainer)
    }

    /// The first admin (never deleted), sometimes another one.
    pub(crate) fn admin(&mut self) -> Who {
        if self.rng.chance(85) {
            return Who::User(0);
        }
        self.someone(Role::Admin)
    }

    pub(crate) fn gym(&mut self) -> Who {
        if self.rng.chance(25) {
            Who::Service
        } else {
            self.admin()
        }
    }

    pub(crate) fn anyone(&mut self) -> Who {
        match self.rng.below(10) {
            0 => self.trainer(),
            1 => self.admin(),
            2 => Who::Service,
            _ => self.athlete(),
        }
    }

    pub(crate) fn ghost(&mut self) -> Who {
        Who::Ghost(self.rng.uuid())
    }

    pub(crate) fn live_slots(&self) -> Vec<usize> {
        (0..self.model.slots.len())
            .filter(|&s| !self.model.slots[s].gone)
            .collect()
    }

    pub(crate) fn open_slots(&self) -> Vec<usize> {
        (0..self.model.slots.len())
            .filter(|&s| {
                let slot = &self.model.slots[s];
                !slot.gone && !slot.cancelled && slot.start_us() > self.now
            })
            .collect()
    }

    /// Open slots that are full or have one place left: where waitlists form.
    pub(crate) fn hot_slots(&self) -> Vec<usize> {
        self.open_slots()
            .into_iter()
            .filter(|&s| self.model.reserved(s) + 1 >= self.model.slots[s].capacity)
            .collect()
    }

    pub(crate) fn slot_to_book(&mut self) -> SlotRef {
        let r = self.rng.below(100);
        let open = self.open_slots();
        let hot = self.hot_slots();
        let pick = if r < 30 && !hot.is_empty() {
            self.rng.pick(&hot)
        } else if r < 75 && !open.is_empty() {
            self.rng.pick(&open)
        } else if r < 97 {
            let all: Vec<usize> = (0..self.model.slots.len()).collect();
            self.rng.pick(&all)
        } else {
            None
        };
        match pick {
            Some(s) => SlotRef::Known(s),
            None => SlotRef::Missing(self.rng.uuid()),
        }
    }

    pub(crate) fn any_live_slot(&mut self) -> usize {
        let live = self.live_slots();
        self.rng.pick(&live).unwrap_or(0)
    }

    pub(crate) fn slot_of(&mut self, trainer: &Who) -> usize {
        let me = self.model.me(trainer);
        let own: Vec<usize> = self
            .live_slots()
            .into_iter()
            .filter(|&s| Some(self.model.slots[s].trainer) == me)
            .collect();
        let uncancelled: Vec<usize> = own
            .iter()
            .copied()
            .filter(|&s| !self.model.slots[s].cancelled)
            .collect();
        if self.rng.chance(75) {
            if let Some(s) = self.rng.pick(&uncancelled) {
                return s;
            }
        }
        match self.rng.pick(&own) {
            Some(s) => s,
            None => self.any_live_slot(),
        }
    }

    pub(crate) fn slot_not_of(&mut self, trainer: &Who) -> usize {
        let me = self.model.me(trainer);
        let others: Vec<usize> = self
            .live_slots()
            .into_iter()
            .filter(|&s| Some(self.model.slots[s].trainer) != me)
            .collect();
        match self.rng.pick(&others) {
            Some(s) => s,
            None => self.any_live_slot(),
        }
    }

    pub(crate) fn any_booking(&mut self) -> Option<usize> {
        let all: Vec<usize> = (0..self.model.bookings.len()).collect();
        self.rng.pick(&all)
    }

    pub(crate) fn booking_where(&mut self, keep: impl Fn(&Booking) -> bool) -> Option<usize> {
        let matching: Vec<usize> = (0..self.model.bookings.len())
            .filter(|&b| keep(&self.model.bookings[b]))
            .collect();
        self.rng.pick(&matching)
    }

    /// One of the caller's bookings, mostly a reserved one.
    pub(crate) fn own_booking(&mut self, who: &Who) -> Option<usize> {
        let me = self.model.me(who);
        if self.rng.chance(70) {
            if let Some(b) =
                self.booking_where(|b| Some(b.user) == me && b.status == Status::Reserved)
            {
                return Some(b);
            }
        }
        self.booking_where(|b| Some(b.user) == me)
    }

    pub(crate) fn fresh_profile(&mut self, who: Who, user: usize) -> Op {
        let first = self.rng.token("F");
        let last = (!self.rng.chance(20)).then(|| self.rng.token("L"));
        let phone = format!("+1-555-{}", self.rng.token(""));
        Op::Profile {
            who,
            user,
            first,
            last,
            phone,
        }
    }

    pub(crate) fn book(&mut self) -> Op {
        let who = match self.rng.below(50) {
            0 | 1 => self.admin(),
            2 | 3 => self.trainer(),
            4 => self.ghost(),
            _ => self.athlete(),
        };
        let slot = self.slot_to_book();
        Op::Book { who, slot }
    }

    // ---- describing -------------------------------------------------------------------------

    pub(crate) fn who_label(&self, who: &Who) -> String {
        match who {
            Who::User(i) => {
                let u = &self.model.users[*i];
                format!(
                    "{} {} ({}{})",
                    u.label,
                    u.id,
                    u.role.sql(),
                    if u.deleted { ", deleted" } else { "" }
                )
            }
            other => format!("{other:?}"),
        }
    }

    pub(crate) fn slot_label(&self, s: usize) -> String {
        let slot = &self.model.slots[s];
        format!(
            "slot#{s} {} of {}: starts {:+} min from now, {} min, capacity {}, {} reserved, \
             waiting {:?}{}{}",
            slot.id,
            self.model.users[slot.trainer].label,
            (slot.start_us() - self.now) / MINUTE,
            slot.minutes,
            slot.capacity,
            self.model.reserved(s),
            self.model
                .waiting_in(s)
                .into_iter()
                .map(|e| self.model.users[self.model.entries[e].user].label.clone())
                .collect::<Vec<_>>(),
            if slot.cancelled { ", cancelled" } else { "" },
            if slot.gone { ", deleted" } else { "" },
        ) + &slot.series.map_or(String::new(), |(se, d)| {
            format!(", occurrence of series#{se} on {}", series::date_sql(d))
        })
    }

    pub(crate) fn booking_label(&self, b: usize) -> String {
        let booking = &self.model.bookings[b];
        format!(
            "booking#{b} {} of {} ({} so far, {} changes) in {}",
            booking.id,
            self.model.users[booking.user].label,
            booking.status.sql(),
            booking.changes,
            self.slot_label(booking.slot)
        )
    }

    pub(crate) fn describe(&self, op: &Op) -> String {
        let mut parts = vec![
            format!("{op:?}"),
            format!("caller: {}", self.who_label(&op.who())),
        ];
        if let Op::CreateSlot { start_s, .. } = op {
            parts.push(format!(
                "start: {:+} min from now",
                (start_s * SECOND - self.now) / MINUTE
            ));
        }
        let (slot, booking, user) = match op {
            Op::Book {
                slot: SlotRef::Known(s),
                ..
            }
            | Op::CancelSlot {
                slot: SlotRef::Known(s),
                ..
            }
            | Op::JoinWaitlist {
                slot: SlotRef::Known(s),
                ..
            }
            | Op::LeaveWaitlist {
                slot: SlotRef::Known(s),
                ..
            } => (Some(*s), None, None),
            Op::CancelBooking {
                booking: BookingRef::Known(b),
                ..
            }
            | Op::SetStatus { booking: b, .. }
            | Op::DeleteBooking { booking: b, .. } => (None, Some(*b), None),
            Op::MoveBooking { booking, slot, .. } => (Some(*slot), Some(*booking), None),
            Op::InsertBooking { slot, user, .. } => (Some(*slot), None, Some(*user)),
            Op::LoadPast { trainer, .. } => (None, None, Some(*trainer)),
            Op::SlotCapacity { slot, .. }
            | Op::SlotNotes { slot, .. }
            | Op::SlotMove { slot, .. }
            | Op::DeleteSlot { slot, .. } => (Some(*slot), None, None),
            Op::Profile { user, .. }
            | Op::Identity { user, .. }
            | Op::SetRole { user, .. }
            | Op::SetEmail { user, .. }
            | Op::DeleteUser { user, .. } => (None, None, Some(*user)),
            _ => (None, None, None),
        };
        if let Some(s) = slot {
            parts.push(self.slot_label(s));
        }
        parts.extend(self.describe_series(op));
        parts.extend(self.describe_attendance(op));
        if let Some(b) = booking {
            parts.push(self.booking_label(b));
        }
        if let Some(u) = user {
            parts.push(format!("target: {}", self.who_label(&Who::User(u))));
        }
        parts.push(format!("settings: {:?}", self.model.settings));
        parts.join("\n    ")
    }
}

/// A small deterministic PRNG (xorshift64*).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub(crate) fn pick<T: Clone>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len() as u64) as usize].clone())
    }

    /// A unique-enough personal value: prefix and 48 random bits.
    pub(crate) fn token(&mut self, prefix: &str) -> String {
        format!("{prefix}{:012x}", self.next() & 0xffff_ffff_ffff)
    }

    pub(crate) fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }
}

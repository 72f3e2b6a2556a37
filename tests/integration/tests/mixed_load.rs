//! A busy studio, every kind of caller at once (issue 16): athletes book, cancel, book again,
//! join and leave waitlists, read and delete their accounts; trainers create, resize, move and
//! cancel their slots; an app admin cancels bookings, completes them, deletes accounts, changes
//! roles and the studio's settings; the back office (`service_role`) completes past bookings,
//! signs new athletes up and runs the waitlist sweep (issue 12); trainers create, edit and
//! cancel weekly series, the back office keeps timetables ahead and athletes book their
//! occurrences (0.2.1, `timetables.rs`; `timetable_horizon` 14 days); trainers check in
//! their slots, the gym excuses no-shows and sweeps, suspended athletes are refused (0.2.2,
//! `attendance.rs`, with its own checks). Every request is
//! what PostgREST sends (`postgrest_request`: one READ COMMITTED transaction, role and JWT
//! claims by `set_config`, never retried), on 41 real connections released together by a
//! barrier, for a bounded time.
//!
//! Proved for the run:
//! - no request ends in a deadlock (40P01), a serialization failure (40001: PostgREST never
//!   retries), an internal error (XX...), a code the README does not document, or an error
//!   that is not the database's (a dropped connection). Documented refusals (slot full, too
//!   late, not bookable, restricted, not allowed, ...) are counted, never failures;
//! - every kind of request succeeded at least once: a load that did nothing proves nothing;
//! - no write a caller was told about is lost: every booking `book_slot` returned, every slot
//!   `create_slot` returned and every signed-up account exists as returned; booking again
//!   re-activates the same row; every account whose deletion succeeded is deleted; every
//!   booking `cancel_booking` answered "cancelled" has that change in its history; the
//!   completions the calls reported are exactly the completions in the history;
//! - afterwards every invariant of the rules holds over the whole database (`INVARIANTS`);
//!   and the timetables': one occurrence per series and date, no reserved booking in a
//!   cancelled occurrence, no occurrence moved while it held a booking (what its athlete was
//!   shown when booking, the booking unchanged since), every series a request was told of.
//!
//! CI runs it for `GYM_BOOKING_MIXED_SECONDS` seconds (default 20). The long run issue 16 asks
//! for (ten minutes without a deadlock) goes against the cluster `scripts/test.sh` starts, or
//! any cluster with the extension installed:
//!
//! ```sh
//! GYM_BOOKING_MIXED_SECONDS=600 GYM_BOOKING_TEST_HOST=<socket dir> GYM_BOOKING_TEST_PORT=<port> \
//!     cargo test -p gym_booking_integration --test mixed_load -- --nocapture
//! ```
//!
//! Each session draws its choices from its own PRNG, seeded from `GYM_BOOKING_MIXED_SEED` and
//! its number, so a run's choices can be replayed; the interleaving is the server's.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use gym_booking_integration::{postgrest_request, Caller, TestDb, XorShift};
use postgres::types::ToSql;
use postgres::{Client, Transaction};
use serde_json::json;

#[path = "mixed_load/attendance.rs"]
mod attendance;
#[path = "mixed_load/checks.rs"]
mod checks;
#[path = "mixed_load/timetables.rs"]
mod timetables;
use checks::{broken_invariants, lost_writes};
use timetables::{broken_timetables, Seen};

type Args<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Sessions per kind of caller (athletes, trainers, the admin, the back office, the front
/// desk's attendance requests): what one of them does per request, and how many there are.
type Turn = fn(&mut Session<'_>);
const SESSIONS: [(Turn, usize); 5] = [
    (|s| s.athlete_turn(), 22),
    (|s| s.trainer_turn(), 8),
    (|s| s.admin_turn(), 3),
    (|s| s.back_office_turn(), 3),
    (|s| s.attendance_turn(), 5),
];
const TRAINERS: i32 = 6;
const ATHLETES: i32 = 48;
/// Three choices in four go to the newest few athletes, trainers, slots and bookings, so that
/// one person's requests overlap each other's and the admin's: that is where lock cycles are.
const HOT: u64 = 8;

/// The refusals the README documents (its "Errors" table): the caller is told why and
/// nothing was written. Any other code fails the test: 40P01 (deadlock), 40001 (PostgREST
/// never retries), XX... (internal errors), and whatever nobody documented. (28000, a
/// suspended athlete, only where attendance.rs's checks allow it.)
const REFUSALS: &[&str] = &[
    "23P01", "27000", "23000", "23001", "22023", "42501", "42704", "22004", "23514", "23505",
    "23503", "23502", "22008", "44000", "22000", "21000", "0A000", "28000",
];
const NOT_A_DB_ERROR: &str = "not a database error";
const OK: &str = "ok";
/// A request that succeeded but matched no row (say, a resize of a slot RLS hides).
const NO_ROW: &str = "ok, no row";
/// How many kinds of request the sessions make; each must succeed at least once. (Tallies
/// whose name is in parentheses count answers, or requests that need not succeed.)
const OPERATIONS: usize = 28 + attendance::OPERATIONS;

#[derive(Clone, Debug)]
struct Booking {
    id: String,
    slot: String,
    user: String,
}

#[derive(Clone, Debug)]
struct Slot {
    id: String,
    trainer: String,
}

/// What the sessions share: who and what exists, as far as the requests were told, and what
/// the requests were told they changed, for the checks afterwards.
#[derive(Default)]
struct Studio {
    admin: String,
    athletes: Mutex<Vec<String>>,
    trainers: Mutex<Vec<String>>,
    slots: Mutex<Vec<Slot>>,
    bookings: Mutex<Vec<Booking>>,
    signed_up: Mutex<Vec<String>>,
    deleted: Mutex<Vec<String>>,
    cancelled: Mutex<Vec<String>>,
    /// Waitlist entries join_waitlist returned (entry id, slot, athlete).
    waiting: Mutex<Vec<(String, String, String)>>,
    /// Series create_series returned (id, trainer).
    series: Mutex<Vec<(String, String)>>,
    /// What athletes booking occurrences were shown.
    seen: Mutex<Vec<Seen>>,
    completed: AtomicI64,
    attendance: attendance::Ledger,
    tally: Mutex<Tally>,
}

/// One of `items`, mostly one of the newest `HOT`.
fn pick<T: Clone>(rng: &mut XorShift, items: &Mutex<Vec<T>>) -> Option<T> {
    let items = items.lock().unwrap();
    let n = items.len() as u64;
    let i = match (n, rng.below(4)) {
        (0, _) => return None,
        (_, 0) => rng.below(n),
        _ => n - 1 - rng.below(n.min(HOT)),
    };
    Some(items[i as usize].clone())
}

/// Outcomes per operation ("ok", "ok, no row" or the SQLSTATE) with how often each came, the
/// first message of each failing code, and wrong answers.
#[derive(Default)]
struct Tally {
    counts: BTreeMap<&'static str, BTreeMap<String, u64>>,
    failures: BTreeMap<(&'static str, String), String>,
    anomalies: Vec<String>,
}

impl Tally {
    fn add(&mut self, op: &'static str, outcome: &str) {
        let outcomes = self.counts.entry(op).or_default();
        *outcomes.entry(outcome.to_string()).or_insert(0) += 1;
    }

    fn summary(&self) -> String {
        let mut out = String::new();
        for (op, outcomes) in &self.counts {
            let total: u64 = outcomes.values().sum();
            let _ = writeln!(out, "  {op:<30} {total:>7}  {outcomes:?}");
        }
        out
    }
}

/// One database connection acting as one kind of caller, request after request.
struct Session<'a> {
    client: Client,
    rng: XorShift,
    studio: &'a Studio,
}

impl Session<'_> {
    fn count(&self, op: &'static str, outcome: &str) {
        self.studio.tally.lock().unwrap().add(op, outcome);
    }

    fn anomaly(&self, what: String) {
        self.studio.tally.lock().unwrap().anomalies.push(what);
    }

    /// One PostgREST request by `sub` (a user id), or by the back office (`None`); `path` is
    /// the HTTP request it stands for. Counts a failure; the caller counts the success.
    fn attempt<T>(
        &mut self,
        op: &'static str,
        sub: Option<&str>,
        path: &str,
        body: impl FnOnce(&mut Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Option<T> {
        let caller = match sub {
            Some(sub) => Caller::new(
                "authenticated",
                Some(json!({"sub": sub, "role": "authenticated"})),
            ),
            None => Caller::new("service_role", Some(json!({"role": "service_role"}))),
        };
        let (method, path) = path.split_once(' ').expect("\"METHOD /path\"");
        let err = match postgrest_request(&mut self.client, &caller, method, path, body) {
            Ok(value) => return Some(value),
            Err(err) => err,
        };
        let (code, message) = match err.as_db_error() {
            Some(db) => (db.code().code().to_string(), db.message().to_string()),
            None => (NOT_A_DB_ERROR.to_string(), err.to_string()),
        };
        let mut tally = self.studio.tally.lock().unwrap();
        if !REFUSALS.contains(&code.as_str()) {
            tally.failures.entry((op, code.clone())).or_insert(message);
        }
        tally.add(op, &code);
        None
    }

    /// A request whose answer is its success.
    fn request<T>(
        &mut self,
        op: &'static str,
        sub: Option<&str>,
        path: &str,
        body: impl FnOnce(&mut Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Option<T> {
        let answer = self.attempt(op, sub, path, body);
        if answer.is_some() {
            self.count(op, OK);
        }
        answer
    }

    fn read(&mut self, op: &'static str, sub: Option<&str>, path: &str, sql: &str) {
        self.request(op, sub, path, |tx| tx.query(sql, &[]));
    }

    /// An UPDATE: true when it changed a row.
    fn update(&mut self, op: &'static str, sub: &str, sql: &str, args: Args<'_>) -> bool {
        let path = ["PATCH /slots", "PATCH /users"][usize::from(sql.contains(".users"))];
        let changed = self.attempt(op, Some(sub), path, |tx| tx.execute(sql, args));
        match changed {
            Some(0) => self.count(op, NO_ROW),
            Some(_) => self.count(op, OK),
            None => {}
        }
        changed.is_some_and(|n| n > 0)
    }

    fn athlete_turn(&mut self) {
        let Some(me) = pick(&mut self.rng, &self.studio.athletes) else {
            return;
        };
        // A booking to cancel or book again: theirs, whoever made it.
        let mine = pick(&mut self.rng, &self.studio.bookings);
        match (self.rng.below(1000), mine) {
            (0..=259, _) => self.book(&me),
            (260..=299, _) => self.join_waitlist(&me),
            (300..=499, Some(booking)) => self.cancel("athlete cancels", &booking, &booking.user),
            (500..=609, Some(booking)) => self.book_again(&booking),
            (610..=629, _) => self.leave_waitlist(),
            (630..=719, _) => self.read(
                "athlete reads my_bookings",
                Some(&me),
                "GET /rpc/my_bookings",
                "SELECT * FROM gym_booking.my_bookings()",
            ),
            (720..=809, _) => {
                // Half of the time one trainer's week (GET /rpc/available_slots?trainer_id=...).
                let trainer = match self.rng.below(2) {
                    0 => pick(&mut self.rng, &self.studio.trainers),
                    _ => None,
                };
                let sql = format!(
                    "SELECT * FROM gym_booking.available_slots(trainer_id => {})",
                    trainer.map_or("NULL".to_string(), |t| format!("'{t}'"))
                );
                self.read(
                    "athlete reads available",
                    Some(&me),
                    "GET /rpc/available_slots",
                    &sql,
                )
            }
            (810..=869, _) => self.book_occurrence(&me),
            (870..=994, _) => self.read(
                "athlete reads bookings",
                Some(&me),
                "GET /bookings",
                "SELECT id, slot_id, status FROM gym_booking.bookings WHERE status = 'reserved'",
            ),
            (995.., _) => {
                let sql = "SELECT gym_booking.delete_my_account()";
                let path = "POST /rpc/delete_my_account";
                let op = "athlete deletes account";
                let done = self.request(op, Some(&me), path, |tx| tx.execute(sql, &[]));
                if done.is_some() {
                    self.studio.deleted.lock().unwrap().push(me);
                }
            }
            _ => {}
        }
    }

    fn trainer_turn(&mut self) {
        let Some(slot) = pick(&mut self.rng, &self.studio.slots) else {
            return;
        };
        let (capacity, minutes) = (self.rng.between(1, 8), self.rng.between(-120, 120));
        let (id, trainer) = (&slot.id, slot.trainer.as_str());
        match self.rng.below(100) {
            0..=29 => self.create_slot(),
            30..=54 => {
                let sql =
                    "UPDATE gym_booking.slots SET capacity = $2::int WHERE id = $1::text::uuid";
                self.update("trainer resizes slot", trainer, sql, &[id, &capacity]);
            }
            55..=76 => {
                let sql = "UPDATE gym_booking.slots
                              SET start_at = start_at + $2::int * interval '1 minute'
                            WHERE id = $1::text::uuid";
                self.update("trainer moves slot", trainer, sql, &[id, &minutes]);
            }
            77..=79 => {
                let sql = "SELECT cancelled_at FROM gym_booking.cancel_slot($1::text::uuid)";
                let path = "POST /rpc/cancel_slot";
                self.request("trainer cancels slot", Some(trainer), path, |tx| {
                    tx.query_one(sql, &[id])
                });
            }
            80..=89 => self.timetable_turn(),
            _ => self.read(
                "trainer reads bookings",
                Some(trainer),
                "GET /bookings",
                "SELECT id, status FROM gym_booking.bookings WHERE status = 'reserved'",
            ),
        }
    }

    fn admin_turn(&mut self) {
        let admin = self.studio.admin.clone();
        let (athlete, trainer) = (
            pick(&mut self.rng, &self.studio.athletes).unwrap_or_default(),
            pick(&mut self.rng, &self.studio.trainers).unwrap_or_default(),
        );
        match self.rng.below(100) {
            0..=34 => {
                if let Some(booking) = pick(&mut self.rng, &self.studio.bookings) {
                    self.cancel("admin cancels booking", &booking, &admin);
                }
            }
            35..=51 => self.complete("admin completes", Some(&admin)),
            52..=54 => self.change_settings(&admin),
            // Mostly an athlete's account, now and then a trainer's.
            55..=59 => match self.rng.below(5) {
                0 => self.admin_deletes_account(&admin, trainer),
                _ => self.admin_deletes_account(&admin, athlete),
            },
            60..=79 => {
                let contact = format!("pii-coach-{}@example.com", self.rng.below(1_000_000));
                let sql = "UPDATE gym_booking.users SET role = 'trainer', contact_email = $2
                            WHERE id = $1::text::uuid AND role = 'athlete' AND deleted_at IS NULL";
                if self.update("admin promotes athlete", &admin, sql, &[&athlete, &contact]) {
                    self.studio.trainers.lock().unwrap().push(athlete);
                }
            }
            _ => {
                // A trainer the admin's screen shows without upcoming slots.
                let sql = "UPDATE gym_booking.users AS u SET role = 'athlete'
                            WHERE u.id = $1::text::uuid AND u.role = 'trainer'
                              AND u.deleted_at IS NULL
                              AND NOT EXISTS (SELECT FROM gym_booking.slots AS s
                                               WHERE s.trainer_id = u.id AND s.cancelled_at IS NULL
                                                 AND s.end_at > now())";
                if self.update("admin demotes trainer", &admin, sql, &[&trainer]) {
                    self.studio.athletes.lock().unwrap().push(trainer);
                }
            }
        }
    }

    fn back_office_turn(&mut self) {
        match self.rng.below(10) {
            0 => self.sign_up(),
            1 => {
                let sql = "SELECT gym_booking.promote_waitlists()";
                let path = "POST /rpc/promote_waitlists";
                self.request("back office sweeps waitlists", None, path, |tx| {
                    tx.query_one(sql, &[])
                });
            }
            2 => self.extend_timetables(),
            _ => self.complete("back office completes", None),
        }
    }

    fn book(&mut self, athlete: &str) {
        let Some(slot) = pick(&mut self.rng, &self.studio.slots) else {
            return;
        };
        let sql = "SELECT b.id::text, b.slot_id::text, b.user_id::text, b.status::text
                     FROM gym_booking.book_slot($1::text::uuid) AS b";
        let path = "POST /rpc/book_slot";
        let Some(row) = self.request("athlete books", Some(athlete), path, |tx| {
            tx.query_one(sql, &[&slot.id])
        }) else {
            return;
        };
        let [id, booked, user, status]: [String; 4] = std::array::from_fn(|i| row.get(i));
        let booking = Booking {
            id,
            slot: booked,
            user,
        };
        if booking.slot != slot.id || booking.user != athlete || status != "reserved" {
            self.anomaly(format!(
                "book_slot({}) by {athlete}: {booking:?} {status}",
                slot.id
            ));
        }
        self.studio.bookings.lock().unwrap().push(booking);
    }

    /// Joins the waitlist of a slot: half of the time one the athlete's screen shows full
    /// (`available_slots`, as the app offers "join the waitlist"), otherwise one of the hot
    /// slots (full ones mostly: the hot slots are the booked ones).
    fn join_waitlist(&mut self, athlete: &str) {
        let Some(hot) = pick(&mut self.rng, &self.studio.slots) else {
            return;
        };
        let (screen, salt) = (self.rng.below(2) == 0, self.rng.below(1000).to_string());
        let full = "SELECT slot_id::text FROM gym_booking.available_slots() WHERE available <= 0
                     ORDER BY md5(slot_id::text || $1::text) LIMIT 1";
        let sql = "SELECT id::text, slot_id::text, state::text
                     FROM gym_booking.join_waitlist($1::text::uuid)";
        let path = "POST /rpc/join_waitlist";
        let Some(row) = self.request("athlete joins waitlist", Some(athlete), path, |tx| {
            let shown = match screen {
                true => tx.query_opt(full, &[&salt])?.map(|r| r.get::<_, String>(0)),
                false => None,
            };
            tx.query_one(sql, &[&shown.unwrap_or(hot.id)])
        }) else {
            return;
        };
        let (id, slot, state): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        // Joining twice is joining once; a promotion may already have ended the entry when
        // the same athlete's other request asks again, never in this one.
        if state != "waiting" {
            self.anomaly(format!("join_waitlist({slot}) by {athlete}: {state}"));
        }
        let entry = (id, slot, athlete.to_string());
        self.studio.waiting.lock().unwrap().push(entry);
    }

    /// Leaves a waitlist someone joined (still waiting or not).
    fn leave_waitlist(&mut self) {
        let Some((_, slot, athlete)) = pick(&mut self.rng, &self.studio.waiting) else {
            return;
        };
        let sql = "SELECT state::text FROM gym_booking.leave_waitlist($1::text::uuid)";
        let path = "POST /rpc/leave_waitlist";
        let answer = self.request("athlete leaves waitlist", Some(&athlete), path, |tx| {
            tx.query_one(sql, &[&slot])
        });
        if let Some(state) = answer.map(|row| row.get::<_, String>(0)) {
            if state != "left" {
                self.anomaly(format!("leave_waitlist({slot}) by {athlete}: {state}"));
            }
        }
    }

    /// The app admin changes the studio's cancellation window and waitlist settings (limits
    /// and booking windows stay off: every waiting athlete is eligible, which the checks use).
    fn change_settings(&mut self, admin: &str) {
        let (window, cutoff, max) = (
            self.rng.between(30, 90),
            self.rng.between(0, 120),
            self.rng.between(0, 6),
        );
        let sql = "UPDATE gym_booking.studio_settings
                      SET cancellation_window = $1::int * interval '1 minute',
                          waitlist_cutoff = nullif($2::int, 0) * interval '1 minute',
                          waitlist_max = nullif($3::int, 0)";
        self.update(
            "admin changes settings",
            admin,
            sql,
            &[&window, &cutoff, &max],
        );
    }

    /// Booking a slot booked before re-activates that same row (or finds it still reserved).
    fn book_again(&mut self, booking: &Booking) {
        let sql = "SELECT id::text FROM gym_booking.book_slot($1::text::uuid)";
        let path = "POST /rpc/book_slot";
        let answer = self.request("athlete books again", Some(&booking.user), path, |tx| {
            tx.query_one(sql, &[&booking.slot])
        });
        if let Some(id) = answer.map(|row| row.get::<_, String>(0)) {
            if id != booking.id {
                self.anomaly(format!("booking {booking:?} again answered booking {id}"));
            }
        }
    }

    fn cancel(&mut self, op: &'static str, booking: &Booking, sub: &str) {
        let sql = "SELECT status::text FROM gym_booking.cancel_booking($1::text::uuid)";
        let path = "POST /rpc/cancel_booking";
        let answer = self.request(op, Some(sub), path, |tx| tx.query_one(sql, &[&booking.id]));
        if let Some(status) = answer.map(|row| row.get::<_, String>(0)) {
            if status != "cancelled" {
                self.anomaly(format!("cancel_booking({}) answered {status}", booking.id));
            }
            let mut cancelled = self.studio.cancelled.lock().unwrap();
            cancelled.push(booking.id.clone());
        }
    }

    fn create_slot(&mut self) {
        let Some(trainer) = pick(&mut self.rng, &self.studio.trainers) else {
            return;
        };
        // From 90 minutes to ten days ahead.
        let minutes_ahead = self.rng.between(90, 14_400);
        let duration = [30, 45, 60, 90, 120][self.rng.below(5) as usize];
        let capacity = self.rng.between(1, 8);
        let sql = "SELECT id::text FROM gym_booking.create_slot(
                       now() + make_interval(mins => $1::int), $2::int, $3::int, 'mixed load')";
        let path = "POST /rpc/create_slot";
        let answer = self.request("trainer creates slot", Some(&trainer), path, |tx| {
            tx.query_one(sql, &[&minutes_ahead, &duration, &capacity])
        });
        if let Some(id) = answer.map(|row| row.get(0)) {
            self.studio.slots.lock().unwrap().push(Slot { id, trainer });
        }
    }

    fn complete(&mut self, op: &'static str, sub: Option<&str>) {
        let sql = "SELECT gym_booking.complete_past_bookings(50)";
        let path = "POST /rpc/complete_past_bookings";
        // Nothing due is an answer too; that completion happens at all is checked on the sum.
        if let Some(row) = self.request(op, sub, path, |tx| tx.query_one(sql, &[])) {
            let completed: i64 = row.get(0);
            self.studio.completed.fetch_add(completed, Ordering::AcqRel);
        }
    }

    /// Half by `PATCH /users` (`deleted_at`), half by `DELETE /users`: the same soft delete,
    /// which reports no row deleted.
    fn admin_deletes_account(&mut self, admin: &str, person: String) {
        const OP: &str = "admin deletes account";
        let deleted = match self.rng.below(2) {
            0 => {
                let sql = "UPDATE gym_booking.users SET deleted_at = now()
                            WHERE id = $1::text::uuid AND deleted_at IS NULL";
                self.update(OP, admin, sql, &[&person])
            }
            _ => {
                let sql = "DELETE FROM gym_booking.users WHERE id = $1::text::uuid";
                let done = self.request(OP, Some(admin), "DELETE /users", |tx| {
                    tx.execute(sql, &[&person])
                });
                done.is_some()
            }
        };
        if deleted {
            self.studio.deleted.lock().unwrap().push(person);
        }
    }

    /// A sign-up, as the auth sync writes it; the new athlete joins the hot end of the list.
    fn sign_up(&mut self) {
        let n = self.rng.next_u64().to_string();
        let sql = "INSERT INTO gym_booking.users
                          (email, password_hash, first_name, last_name, contact_phone, preferences)
                   VALUES (format('pii-signup-%s@example.com', $1::text), 'x',
                           format('Pii %s', $1::text), 'Pii', '+1 555 0100 pii', '{\"pii\": 3}')
                   RETURNING id::text";
        let answer = self.request("back office signs up", None, "POST /users", |tx| {
            tx.query_one(sql, &[&n])
        });
        if let Some(id) = answer.map(|row| row.get::<_, String>(0)) {
            self.studio.signed_up.lock().unwrap().push(id.clone());
            self.studio.athletes.lock().unwrap().push(id);
        }
    }
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .map(|s| s.parse().unwrap_or_else(|_| panic!("{name} is a number")))
        .unwrap_or(default)
}

#[test]
fn every_caller_at_once_keeps_every_rule_without_deadlock() {
    let seconds = setting("GYM_BOOKING_MIXED_SECONDS", 20);
    let seed = setting("GYM_BOOKING_MIXED_SEED", 16);
    let db = TestDb::with_extension("mixed_load");
    let mut setup = db.connect();
    let studio = open_studio(&mut setup, seconds);
    attendance::open_history(&mut setup, &studio, seconds);

    let turns: Vec<Turn> = SESSIONS
        .iter()
        .flat_map(|&(turn, n)| std::iter::repeat_n(turn, n))
        .collect();
    let barrier = Barrier::new(turns.len());
    let started = Instant::now();
    thread::scope(|s| {
        for (index, &turn) in turns.iter().enumerate() {
            let (studio, barrier, client) = (&studio, &barrier, db.connect());
            s.spawn(move || {
                let rng = XorShift::new(seed.wrapping_mul(1000) + index as u64);
                let mut session = Session {
                    client,
                    rng,
                    studio,
                };
                barrier.wait();
                let deadline = Instant::now() + Duration::from_secs(seconds);
                while Instant::now() < deadline {
                    turn(&mut session);
                }
            });
        }
    });
    let tally = studio.tally.lock().unwrap();
    let requests: u64 = tally.counts.values().flat_map(|o| o.values()).sum();
    let summary = format!(
        "{requests} requests in {:.1} s by {} sessions (seed {seed}):\n{}",
        started.elapsed().as_secs_f64(),
        turns.len(),
        tally.summary()
    );
    let mut problems: Vec<String> = tally
        .failures
        .iter()
        .map(|((op, code), message)| format!("{op}: {code} {message}"))
        .collect();
    problems.extend(tally.anomalies.iter().take(20).cloned());
    for (op, outcomes) in &tally.counts {
        if !outcomes.contains_key(OK) && !op.starts_with('(') {
            problems.push(format!("{op}: never succeeded"));
        }
    }
    let ran = tally
        .counts
        .keys()
        .filter(|op| !op.starts_with('('))
        .count();
    if ran != OPERATIONS {
        problems.push(format!("{ran} kinds of request ran, not {OPERATIONS}"));
    }
    if studio.completed.load(Ordering::Acquire) == 0 {
        problems.push("no call completed any booking".to_string());
    }
    problems.extend(lost_writes(&mut setup, &studio));
    problems.extend(broken_invariants(&mut setup));
    let series: Vec<String> = studio
        .series
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.0.clone())
        .collect();
    problems.extend(broken_timetables(
        &mut setup,
        &studio.seen.lock().unwrap(),
        &series,
    ));
    problems.extend(attendance::broken_attendance(
        &mut setup,
        &studio.attendance,
        &tally,
    ));
    if problems.is_empty() {
        eprintln!("{summary}");
    }
    assert!(
        problems.is_empty(),
        "{summary}\n{} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

/// The studio as the doors open: an admin, trainers and athletes whose personal data all
/// carries the marker "pii" (so that a leak into the log can be searched for), two weeks of
/// slots with some bookings, slots that start while the load runs, and slots whose ends fall
/// from five minutes before the run to its end, with reserved bookings, loaded as a restore
/// loads them (they started in the past) so that completion has work all along.
fn open_studio(client: &mut Client, seconds: u64) -> Studio {
    let ending = 40 + seconds / 2;
    client
        .batch_execute(&format!(
            "UPDATE gym_booking.studio_settings SET timetable_horizon = '14 days';
             INSERT INTO gym_booking.users (email, password_hash, first_name, last_name, role,
                                            contact_email, contact_phone, preferences)
             SELECT 'pii-admin@example.com', 'x', 'Pii Admin', 'Pii',
                    'admin'::gym_booking.user_role, NULL, NULL, '{{}}'::jsonb
             UNION ALL
             SELECT format('pii-trainer-%s@example.com', g), 'x', format('Pii Trainer %s', g),
                    'Pii', 'trainer', format('pii-trainer-%s@example.com', g), '+1 555 0101 pii',
                    '{{\"pii\": 1}}'
               FROM generate_series(1, {TRAINERS}) AS g
             UNION ALL
             SELECT format('pii-athlete-%s@example.com', g), 'x', format('Pii Athlete %s', g),
                    'Pii', 'athlete', NULL, '+1 555 0102 pii', '{{\"pii\": 2}}'
               FROM generate_series(1, {ATHLETES}) AS g;
             CREATE TEMP VIEW coaches AS
                 SELECT id, row_number() OVER (ORDER BY email)::int AS n
                   FROM gym_booking.users WHERE role = 'trainer';
             CREATE TEMP VIEW places AS
                 SELECT s.id AS slot_id, a.id AS user_id FROM gym_booking.slots AS s
                  CROSS JOIN LATERAL (SELECT u.id FROM gym_booking.users AS u
                                       WHERE u.role = 'athlete'
                                       ORDER BY md5(u.id::text || s.id::text)
                                       LIMIT greatest(1, s.capacity / 2)) AS a;
             INSERT INTO gym_booking.slots (trainer_id, start_at, duration_minutes, capacity, notes)
             SELECT c.id,
                    date_trunc('minute', now()) + (75 + k * 181 + c.n * 37) * interval '1 minute',
                    60, 1 + (k + c.n) % 6, 'mixed load'
               FROM coaches AS c, generate_series(1, 12) AS k
             UNION ALL
             SELECT c.id, now() + (k * {seconds} / 4.0 + c.n) * interval '1 second', 30, 3,
                    'mixed load'
               FROM coaches AS c, generate_series(1, 6) AS k;
             INSERT INTO gym_booking.bookings (slot_id, user_id) SELECT * FROM places;
             BEGIN;
             SET LOCAL session_replication_role = replica;
             INSERT INTO gym_booking.slots
                    (trainer_id, start_at, end_at, duration_minutes, capacity, notes)
             SELECT c.id, e.at - interval '30 minutes', e.at, 30, 3, 'mixed load'
               FROM generate_series(1, {ending}) AS k
               JOIN coaches AS c ON c.n = 1 + k % {TRAINERS},
                    LATERAL (SELECT now() - interval '5 minutes'
                                    + k * ({seconds} + 300.0) / {ending} * interval '1 second')
                    AS e (at);
             INSERT INTO gym_booking.bookings (slot_id, user_id)
             SELECT p.* FROM places AS p JOIN gym_booking.slots AS s ON s.id = p.slot_id
              WHERE s.start_at < now();
             COMMIT;"
        ))
        .expect("set up the studio");
    let mut studio = Studio::default();
    let rows = client
        .query(
            "SELECT 'user', role::text, id::text, '' FROM gym_booking.users
             UNION ALL SELECT 'slot', trainer_id::text, id::text, '' FROM gym_booking.slots
             UNION ALL
             SELECT 'booking', user_id::text, id::text, slot_id::text FROM gym_booking.bookings",
            &[],
        )
        .expect("read the studio");
    let (slots, bookings) = (studio.slots.get_mut(), studio.bookings.get_mut());
    let (slots, bookings) = (slots.unwrap(), bookings.unwrap());
    for row in rows {
        let [what, who, id, slot]: [String; 4] = std::array::from_fn(|i| row.get(i));
        match (what.as_str(), who.as_str()) {
            ("user", "admin") => studio.admin = id,
            ("user", "trainer") => studio.trainers.get_mut().unwrap().push(id),
            ("user", _) => studio.athletes.get_mut().unwrap().push(id),
            ("slot", _) => slots.push(Slot { id, trainer: who }),
            _ => bookings.push(Booking {
                id,
                slot,
                user: who,
            }),
        }
    }
    studio
}

//! Attendance under the load (0.2.2, issue 14; /tmp/i14/SPEC.md): trainers open the roster of
//! a slot that has started and mark its bookings attended or no-show (and change marks), the
//! gym corrects marks and excuses no-shows, the back office runs the auto no-show sweep
//! (`record_no_shows`; `complete_past_bookings` runs it too), athletes read their strikes and
//! their report, trainers and the gym read the reports; people who may not mark, excuse or
//! sweep try now and then and must be refused. The studio suspends after two no-shows within
//! 30 days (for 7 days) and marks no-shows itself two minutes after a slot's end, so athletes
//! of the load are suspended while they book: their bookings and joins are refused with 28000.
//!
//! History (slots that started, some whose grace ends while the load runs, some whose grace
//! ended before it, some older than the sweep's watermark) is written by the DBA with the rules
//! standing aside (`session_replication_role = replica`), as a restore writes it: no client
//! may make a slot in the past.
//!
//! A quarter of these requests run at REPEATABLE READ (a client that is not PostgREST: the
//! front desk's own app), where 40001 is a possible answer; the rest exactly as PostgREST sends
//! them. What each may be refused with is listed per request; anything else fails the test.
//!
//! For the ordering checks in `attendance_checks.rs` (nobody books after the commit that
//! suspended them), on the server's clock: every no-show a request records is followed, after
//! its commit, by a reading of its athlete's suspension; every read of a suspension keeps its
//! snapshot's bounds (`Reading`); every request that may lift a suspension (a no-show marked
//! attended, an excuse) and every attempt of a suspended athlete to book or join is timed
//! (`Timed`).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use gym_booking_integration::{Caller, XorShift};
use postgres::{Client, IsolationLevel, Row, Transaction};
use serde_json::json;

use super::{pick, Booking, Session, Slot, Studio, NOT_A_DB_ERROR, OK};

/// The microseconds of a timestamptz, in SQL.
macro_rules! micros {
    ($e:literal) => {
        concat!("(extract(epoch FROM ", $e, ") * 1e6)::int8")
    };
}

#[path = "attendance_checks.rs"]
mod checks;
#[path = "attendance_reads.rs"]
mod reads;
pub(crate) use checks::broken_attendance;

/// Kinds of request this module adds, each of which must succeed at least once (the tallies
/// in parentheses are not counted: "(refused: not theirs)" must never succeed).
pub(crate) const OPERATIONS: usize = 10;
/// no_show_strike_limit during the load (strike_window 30 days, suspension 7 days).
pub(crate) const STRIKE_LIMIT: i64 = 2;
/// attendance_grace: short, so that the grace of slots ends while the load runs.
pub(crate) const GRACE_SECONDS: i64 = 120;
/// The tally of requests by people who may not make them (another trainer's or an athlete's
/// mark, an athlete's excuse, sweep or roster): never accepted.
pub(crate) const NOT_THEIRS: &str = "(refused: not theirs)";
/// The trainer's and the gym's marking may be refused: the slot has not started or the
/// booking was cancelled (22023), the grace is over (27000); a trainer demoted or deleted
/// meanwhile (42501).
const MARK_REFUSALS: [&str; 3] = ["22023", "27000", "42501"];
/// A period every report covers (studio days around today).
const PERIOD: &str = "current_date - 3, current_date + 14";

/// What the attendance requests share, and what they saw, for the checks afterwards.
#[derive(Default)]
pub(crate) struct Ledger {
    /// Slots to check in: those that start before the load ends (the history among them).
    checkin: Mutex<Vec<Slot>>,
    /// Athletes with bookings in the history.
    historic: Mutex<Vec<String>>,
    /// Bookings marked no-show by a request (booking, athlete, the slot's trainer).
    pub(crate) no_shows: Mutex<Vec<(String, String, String)>>,
    /// Readings that showed an athlete suspended.
    pub(crate) readings: Mutex<Vec<Reading>>,
    /// Requests that may have lifted an athlete's suspension (a no-show marked attended, an
    /// excuse).
    pub(crate) lifts: Mutex<Vec<Timed>>,
    /// Bookings and waitlist joins by athletes a reading had seen suspended, with what they
    /// made ("booking <id>", "waitlist entry <id>"), or "held already: ..." (a place or entry
    /// they held before, answered as it is), or their refusal ("refused <SQLSTATE>").
    pub(crate) attempts: Mutex<Vec<Timed>>,
    /// What `record_no_shows` calls reported marking.
    pub(crate) swept: AtomicI64,
    /// The sweep's watermark before the load (microseconds since the epoch).
    pub(crate) watermark: AtomicI64,
}

/// A timed request about `athlete`: `start` (its transaction's `now()`, or the clock read
/// before it) is before anything it reads, `done` (the clock read after its end) after its
/// commit; microseconds, the server's clock. `what`: its outcome (nothing for a lift).
#[derive(Clone, Debug)]
pub(crate) struct Timed {
    pub(crate) athlete: String,
    pub(crate) what: String,
    pub(crate) start: i64,
    pub(crate) done: i64,
}

/// One look at an athlete's suspension in one snapshot: `from` (the reading transaction's
/// start, `now()`) is no later than the snapshot, `at` (`clock_timestamp()` in the reading
/// statement) no earlier; microseconds since the epoch, the server's clock.
#[derive(Clone, Debug)]
pub(crate) struct Reading {
    pub(crate) athlete: String,
    pub(crate) from: i64,
    pub(crate) at: i64,
    pub(crate) until: i64,
}

/// The studio's attendance settings and the history, after `open_studio`: the new slots and
/// bookings join the studio's lists at the cold end (picked now and then: cancelled by the
/// admin, booked again, resized, cancelled by their trainer).
pub(crate) fn open_history(client: &mut Client, studio: &Studio, seconds: u64) {
    // Four kinds of history slot, 30 minutes each, 3/4 of their capacity booked:
    // - closing: the grace ends while the load runs (marked by trainers, then by the sweep);
    // - open: started 5 to 10 minutes ago, markable throughout (a load of up to 20 minutes);
    // - closed: the grace ended an hour ago, after the watermark (the first sweep marks them);
    // - ancient: ended before the watermark (never swept; too late to mark).
    client
        .batch_execute(&format!(
            "UPDATE gym_booking.studio_settings
                SET no_show_strike_limit = {STRIKE_LIMIT}, strike_window = '30 days',
                    suspension = '7 days', auto_no_show = true,
                    attendance_grace = make_interval(secs => {GRACE_SECONDS});
             BEGIN;
             SET LOCAL session_replication_role = replica;
             INSERT INTO gym_booking.slots
                    (trainer_id, start_at, end_at, duration_minutes, capacity, notes)
             SELECT c.id, e.at - interval '30 minutes', e.at, 30, g.capacity,
                    'mixed load history'
               FROM (VALUES ('closing', 8, 8), ('open', 6, 8), ('closed', 2, 4), ('ancient', 2, 4))
                    AS g (kind, n, capacity)
              CROSS JOIN LATERAL generate_series(1, g.n) AS k
              CROSS JOIN LATERAL (SELECT CASE g.kind
                    WHEN 'closing' THEN now() + (k * {seconds} / 8.0 - {GRACE_SECONDS}) * interval '1 second'
                    WHEN 'open' THEN now() + (19 + k) * interval '1 minute'
                    WHEN 'closed' THEN now() - (30 + 30 * k) * interval '1 minute'
                    ELSE now() - interval '2 days' - k * interval '1 hour' END) AS e (at)
               JOIN coaches AS c ON c.n = 1 + (k + g.capacity) % {trainers};
             INSERT INTO gym_booking.bookings (slot_id, user_id, trainer_id)
             SELECT s.id, a.id, s.trainer_id FROM gym_booking.slots AS s
              CROSS JOIN LATERAL (SELECT u.id FROM gym_booking.users AS u WHERE u.role = 'athlete'
                                   ORDER BY md5(u.id::text || s.id::text || 'history')
                                   LIMIT s.capacity * 3 / 4) AS a
              WHERE s.notes = 'mixed load history';
             COMMIT;",
            trainers = super::TRAINERS,
        ))
        .expect("set up the attendance history");
    let rows = client
        .query(
            "SELECT 'slot', s.id::text, s.trainer_id::text, '' FROM gym_booking.slots AS s
              WHERE s.notes = 'mixed load history'
             UNION ALL
             SELECT 'booking', b.id::text, b.slot_id::text, b.user_id::text
               FROM gym_booking.bookings AS b JOIN gym_booking.slots AS s ON s.id = b.slot_id
              WHERE s.notes = 'mixed load history'
             UNION ALL
             SELECT 'checkin', s.id::text, s.trainer_id::text, '' FROM gym_booking.slots AS s
              WHERE s.start_at < now() + make_interval(secs => $1::int8 + 60)
             UNION ALL
             SELECT 'watermark', (extract(epoch FROM w.swept_until) * 1e6)::int8::text, '', ''
               FROM gym_booking.attendance_sweep AS w",
            &[&(seconds as i64)],
        )
        .expect("read the attendance history");
    let ledger = &studio.attendance;
    let (mut slots, mut bookings) = (Vec::new(), Vec::new());
    for row in rows {
        let [what, id, other, athlete]: [String; 4] = std::array::from_fn(|i| row.get(i));
        match what.as_str() {
            "slot" => slots.push(Slot { id, trainer: other }),
            "booking" => {
                ledger.historic.lock().unwrap().push(athlete.clone());
                bookings.push(Booking {
                    id,
                    slot: other,
                    user: athlete,
                })
            }
            "checkin" => ledger
                .checkin
                .lock()
                .unwrap()
                .push(Slot { id, trainer: other }),
            _ => ledger
                .watermark
                .store(id.parse().expect("microseconds"), Ordering::Release),
        }
    }
    let mut historic = ledger.historic.lock().unwrap();
    historic.sort();
    historic.dedup();
    studio.slots.lock().unwrap().splice(0..0, slots);
    studio.bookings.lock().unwrap().splice(0..0, bookings);
}

/// Any one of `items`, uniformly.
fn any<T: Clone>(rng: &mut XorShift, items: &Mutex<Vec<T>>) -> Option<T> {
    let items = items.lock().unwrap();
    match items.len() as u64 {
        0 => None,
        n => Some(items[rng.below(n) as usize].clone()),
    }
}

/// One request at `level`, as PostgREST sends it (the first statement sets the role and the
/// JWT claims for the transaction only); committed when `body` succeeds, never retried.
fn request_at<T>(
    client: &mut Client,
    level: IsolationLevel,
    caller: &Caller,
    path: &str,
    body: impl FnOnce(&mut Transaction<'_>) -> Result<T, postgres::Error>,
) -> Result<T, postgres::Error> {
    let (method, path) = path.split_once(' ').expect("\"METHOD /path\"");
    let mut tx = client.build_transaction().isolation_level(level).start()?;
    let claims = caller.claims.as_ref().map(|c| c.to_string());
    tx.execute(
        "SELECT set_config('role', $1, true),
                set_config('request.jwt.claims', $2, true),
                set_config('request.method', $3, true),
                set_config('request.path', $4, true)",
        &[&caller.role, &claims.unwrap_or_default(), &method, &path],
    )?;
    let value = body(&mut tx)?;
    tx.commit()?;
    Ok(value)
}

/// The request's transaction's start: before any commit it depends on is seen.
const NOW: &str = concat!("SELECT ", micros!("now()"));

impl Session<'_> {
    pub(crate) fn attendance_turn(&mut self) {
        match self.rng.below(100) {
            0..=39 => self.check_in(),
            40..=44 => self.gym_corrects_mark(),
            45..=49 => self.excuse(),
            50..=56 => self.sweep(),
            57..=64 => self.read_suspension(),
            65..=70 => self.read_own_report(),
            71..=78 => self.gym_reads_reports(),
            79..=85 => self.trainer_reads_reports(),
            86..=95 => self.suspended_athlete_books(),
            _ => self.not_theirs(),
        }
    }

    /// An attendance request by `sub` (or the back office: `None`), a quarter of them at
    /// REPEATABLE READ. Counts the outcome: a refusal in `allowed` (or 40001 at REPEATABLE
    /// READ) is an answer; any other error is a failure of the test, kept with its message
    /// and DETAIL.
    fn ask<T>(
        &mut self,
        op: &'static str,
        sub: Option<&str>,
        path: &str,
        allowed: &[&str],
        body: impl FnOnce(&mut Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Option<T> {
        self.ask_code(op, sub, path, allowed, body).ok()
    }

    /// As `ask`, telling the SQLSTATE of a refusal.
    fn ask_code<T>(
        &mut self,
        op: &'static str,
        sub: Option<&str>,
        path: &str,
        allowed: &[&str],
        body: impl FnOnce(&mut Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Result<T, String> {
        let repeatable = self.rng.below(4) == 0;
        let level = match repeatable {
            true => IsolationLevel::RepeatableRead,
            false => IsolationLevel::ReadCommitted,
        };
        let caller = match sub {
            Some(sub) => Caller::new(
                "authenticated",
                Some(json!({"sub": sub, "role": "authenticated"})),
            ),
            None => Caller::new("service_role", Some(json!({"role": "service_role"}))),
        };
        let result = request_at(&mut self.client, level, &caller, path, body);
        let mut tally = self.studio.tally.lock().unwrap();
        if repeatable {
            tally.add("(at repeatable read)", op);
        }
        let err = match result {
            Ok(value) => {
                tally.add(op, OK);
                return Ok(value);
            }
            Err(err) => err,
        };
        let (code, message) = match err.as_db_error() {
            Some(db) => (
                db.code().code().to_string(),
                match db.detail() {
                    Some(detail) => format!("{} (DETAIL: {detail})", db.message()),
                    None => db.message().to_string(),
                },
            ),
            None => (NOT_A_DB_ERROR.to_string(), err.to_string()),
        };
        if !(allowed.contains(&code.as_str()) || repeatable && code == "40001") {
            tally.failures.entry((op, code.clone())).or_insert(message);
        }
        tally.add(op, &code);
        Err(code)
    }

    /// The server's clock, in a statement of its own between requests: after the previous
    /// one's commit, before the next one's start (microseconds).
    fn clock_after(&mut self) -> i64 {
        let sql = concat!("SELECT ", micros!("clock_timestamp()"));
        self.client.query_one(sql, &[]).expect(sql).get(0)
    }

    /// Right after a request that recorded no-shows committed: each athlete's strikes and
    /// suspension, read by the DBA in a statement of its own (a snapshot after that commit).
    fn read_after(&mut self, athletes: Vec<String>) {
        if athletes.is_empty() {
            return;
        }
        let sql = concat!(
            "SELECT a::text, gym_booking.athlete_strikes(a), ",
            micros!("gym_booking.athlete_suspended_until(a)"),
            ", ",
            micros!("now()"),
            ", ",
            micros!("clock_timestamp()"),
            " FROM unnest($1::text[]::uuid[]) AS a"
        );
        let rows = self.client.query(sql, &[&athletes]).expect(sql);
        for row in rows {
            self.note_reading("(reading after a no-show)", &row);
        }
    }

    /// A reading (athlete, strikes, suspended until, from, at): strikes and suspension agree
    /// (every strike of the load is younger than the suspension, so `STRIKE_LIMIT` strikes
    /// suspend and fewer do not), and a suspension is kept for the ordering check.
    fn note_reading(&self, what: &'static str, row: &Row) {
        let (athlete, strikes): (String, i64) = (row.get(0), row.get(1));
        let (until, from, at): (Option<i64>, i64, i64) = (row.get(2), row.get(3), row.get(4));
        if (strikes >= STRIKE_LIMIT) != until.is_some() {
            self.anomaly(format!(
                "{what}: athlete {athlete} has {strikes} strike(s), suspended until {until:?}"
            ));
        }
        self.count(what, if until.is_some() { "suspended" } else { "free" });
        if let Some(until) = until {
            let reading = Reading {
                athlete,
                from,
                at,
                until,
            };
            self.studio
                .attendance
                .readings
                .lock()
                .unwrap()
                .push(reading);
        }
    }

    /// A trainer checks in: the roster of a slot (mostly one that starts before the load
    /// ends), then a mark of one of its booked athletes (an unmarked one mostly), attended or
    /// no-show; a marked one gets the other mark ("changes mark") or the same again.
    fn check_in(&mut self) {
        let slot = match self.rng.below(6) {
            0 => pick(&mut self.rng, &self.studio.slots),
            _ => any(&mut self.rng, &self.studio.attendance.checkin),
        };
        let Some(slot) = slot else { return };
        let sql = "SELECT athlete_id::text, booking_id::text, booking_status::text,
                          waitlist_position, mark::text, excused
                     FROM gym_booking.slot_roster($1::text::uuid)";
        let Some(rows) = self.ask(
            "trainer reads roster",
            Some(&slot.trainer),
            "POST /rpc/slot_roster",
            &["42501"],
            |tx| tx.query(sql, &[&slot.id]),
        ) else {
            return;
        };
        let booked = self.check_roster(&slot.id, &rows);
        let unmarked: Vec<_> = booked.iter().filter(|b| b.2.is_none()).collect();
        let (athlete, booking, was) = match (unmarked.len() as u64, booked.len() as u64) {
            (_, 0) => return,
            (n, _) if n > 0 && self.rng.below(4) > 0 => {
                unmarked[self.rng.below(n) as usize].clone()
            }
            (_, n) => booked[self.rng.below(n) as usize].clone(),
        };
        let mark =
            ["attended", "attended", "attended", "no_show", "no_show"][self.rng.below(5) as usize];
        let op = match was {
            Some(was) if was != mark => "trainer changes mark",
            _ => "trainer marks attendance",
        };
        let trainer = slot.trainer.clone();
        self.mark(op, Some(&trainer), &trainer, &booking, &athlete, mark);
    }

    /// The roster's order and shape: booked athletes (reserved or completed, with their
    /// booking), then those waiting, numbered 1, 2, ...; an excuse only on a no-show. Returns
    /// the booked (athlete, booking, mark).
    fn check_roster(&self, slot: &str, rows: &[Row]) -> Vec<(String, String, Option<String>)> {
        let mut booked = Vec::new();
        let mut waiting = 0;
        for row in rows {
            let (athlete, booking): (String, Option<String>) = (row.get(0), row.get(1));
            let (status, position): (Option<String>, Option<i32>) = (row.get(2), row.get(3));
            let (mark, excused): (Option<String>, Option<bool>) = (row.get(4), row.get(5));
            let fine = match (booking, position) {
                (Some(booking), None) if waiting == 0 => {
                    let ok = matches!(status.as_deref(), Some("reserved" | "completed"))
                        && (excused != Some(true) || mark.as_deref() == Some("no_show"));
                    booked.push((athlete, booking, mark.clone()));
                    ok
                }
                (None, Some(position)) => {
                    waiting += 1;
                    position == waiting && status.is_none() && mark.is_none()
                }
                _ => false,
            };
            if !fine {
                self.anomaly(format!(
                    "slot_roster({slot}): row {row:?} out of shape or order"
                ));
            }
        }
        booked
    }

    /// `mark_attendance` by `sub` (`None`: the back office) of a booking of a slot of
    /// `trainer`. After a no-show, the athlete's suspension is read; after an attended mark,
    /// the moment it may have lifted one is noted.
    fn mark(
        &mut self,
        op: &'static str,
        sub: Option<&str>,
        trainer: &str,
        booking: &str,
        athlete: &str,
        mark: &str,
    ) {
        let sql = "SELECT booking_id::text, user_id::text, mark::text
                     FROM gym_booking.mark_attendance($1::text::uuid,
                                                      $2::text::gym_booking.attendance_mark)";
        // Whether the mark changed a no-show to attended (lifting a strike): the booking's
        // latest attendance log entry, read after the mark, which holds the athlete's row
        // until the commit (a mark that changed nothing reads an older entry: counted as a
        // lift when that one was, which only narrows the ordering check).
        let lifted =
            "SELECT coalesce((SELECT l.changed_fields -> 'attendance' ->> 'old' = 'no_show'
                                         FROM gym_booking.activity_logs AS l
                                        WHERE l.entity_type = 'booking'
                                          AND l.entity_id = $1::text::uuid
                                          AND l.changed_fields ? 'attendance'
                                        ORDER BY l.created_at DESC LIMIT 1), false)";
        let path = "POST /rpc/mark_attendance";
        let Some((start, row, lifted)) = self.ask(op, sub, path, &MARK_REFUSALS, |tx| {
            let start: i64 = tx.query_one(NOW, &[])?.get(0);
            let row = tx.query_one(sql, &[&booking, &mark])?;
            Ok((
                start,
                row,
                tx.query_one(lifted, &[&booking])?.get::<_, bool>(0),
            ))
        }) else {
            return;
        };
        let answer: [String; 3] = std::array::from_fn(|i| row.get(i));
        if answer != [booking, athlete, mark].map(str::to_string) {
            self.anomaly(format!(
                "mark_attendance({booking}, {mark}) of athlete {athlete} answered {answer:?}"
            ));
        }
        let athlete = athlete.to_string();
        if mark == "no_show" {
            let entry = (booking.to_string(), athlete.clone(), trainer.to_string());
            self.studio.attendance.no_shows.lock().unwrap().push(entry);
            self.read_after(vec![athlete]);
        } else if lifted {
            self.lifted(athlete, start);
        }
    }

    /// The gym (the app admin, or the back office) corrects a no-show: attended after all,
    /// now and then no-show again.
    fn gym_corrects_mark(&mut self) {
        let Some((booking, athlete, trainer)) =
            pick(&mut self.rng, &self.studio.attendance.no_shows)
        else {
            return;
        };
        let admin = self.studio.admin.clone();
        let sub = (self.rng.below(3) > 0).then_some(admin.as_str());
        let mark = ["attended", "attended", "no_show"][self.rng.below(3) as usize];
        self.mark("gym corrects mark", sub, &trainer, &booking, &athlete, mark);
    }

    /// The gym excuses a no-show (one that was corrected to attended meanwhile: 22023).
    fn excuse(&mut self) {
        let Some((booking, athlete, _)) = pick(&mut self.rng, &self.studio.attendance.no_shows)
        else {
            return;
        };
        let admin = self.studio.admin.clone();
        let sub = (self.rng.below(4) > 0).then_some(admin.as_str());
        let sql = "SELECT booking_id::text, user_id::text, mark::text, excused_at IS NOT NULL
                     FROM gym_booking.excuse_no_show($1::text::uuid)";
        let path = "POST /rpc/excuse_no_show";
        let Some((start, row)) = self.ask("gym excuses no-show", sub, path, &["22023"], |tx| {
            let start: i64 = tx.query_one(NOW, &[])?.get(0);
            Ok((start, tx.query_one(sql, &[&booking])?))
        }) else {
            return;
        };
        let (b, u, mark, excused): (String, String, String, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        if b != booking || u != athlete || mark != "no_show" || !excused {
            self.anomaly(format!(
                "excuse_no_show({booking}) answered {b} {u} {mark} excused {excused}"
            ));
        }
        self.lifted(athlete, start);
    }

    /// A request that began at `start` may have lifted `athlete`'s suspension; it has just
    /// committed.
    fn lifted(&mut self, athlete: String, start: i64) {
        let done = self.clock_after();
        let lift = Timed {
            athlete,
            what: String::new(),
            start,
            done,
        };
        self.studio.attendance.lifts.lock().unwrap().push(lift);
    }

    /// An athlete a reading saw suspended (a recent reading mostly) books a slot (the newest
    /// mostly) or joins its waitlist, in a request of its own: refused with 28000 unless a
    /// lift came between (or refused otherwise). Judged afterwards, with the lifts.
    fn suspended_athlete_books(&mut self) {
        let Some(reading) = pick(&mut self.rng, &self.studio.attendance.readings) else {
            return;
        };
        // (A deleted account may not book at all: 23000, nothing to learn.)
        if self
            .studio
            .deleted
            .lock()
            .unwrap()
            .contains(&reading.athlete)
        {
            return;
        }
        let Some(slot) = pick(&mut self.rng, &self.studio.slots) else {
            return;
        };
        // With the moment the row was made or re-activated: a place (or an entry) the athlete
        // already held is answered as it is, and is nothing new.
        let (sql, path) = match self.rng.below(3) {
            0 => (
                concat!(
                    "SELECT id::text, 'waitlist entry', ",
                    micros!("joined_at"),
                    " FROM gym_booking.join_waitlist($1::text::uuid)"
                ),
                "POST /rpc/join_waitlist",
            ),
            _ => (
                concat!(
                    "SELECT id::text, 'booking', ",
                    micros!("greatest(created_at, status_changed_at)"),
                    " FROM gym_booking.book_slot($1::text::uuid)"
                ),
                "POST /rpc/book_slot",
            ),
        };
        let athlete = reading.athlete;
        let op = "(suspended athlete books)";
        let start = self.clock_after();
        let answer = self.ask_code(op, Some(&athlete), path, super::REFUSALS, |tx| {
            tx.query_one(sql, &[&slot.id])
        });
        let done = self.clock_after();
        let what = match &answer {
            Ok(row) if row.get::<_, i64>(2) < start => {
                format!(
                    "held already: {} {}",
                    row.get::<_, String>(1),
                    row.get::<_, String>(0)
                )
            }
            Ok(row) => format!("{} {}", row.get::<_, String>(1), row.get::<_, String>(0)),
            Err(code) => format!("refused {code}"),
        };
        let attempt = Timed {
            athlete: athlete.clone(),
            what,
            start,
            done,
        };
        self.studio
            .attendance
            .attempts
            .lock()
            .unwrap()
            .push(attempt);
        match answer.map(|row| (row.get::<_, String>(0), row.get::<_, String>(1))) {
            Ok((id, kind)) if kind == "booking" => {
                let booking = Booking {
                    id,
                    slot: slot.id,
                    user: athlete,
                };
                self.studio.bookings.lock().unwrap().push(booking);
            }
            _ => {}
        }
    }

    /// The auto no-show sweep, by the back office (or the app admin); the no-shows it wrote
    /// (read in the same request) join those the gym may excuse, and their athletes'
    /// suspensions are read after the commit.
    fn sweep(&mut self) {
        let admin = self.studio.admin.clone();
        let sub = (self.rng.below(4) == 0).then_some(admin.as_str());
        let sql = "SELECT gym_booking.record_no_shows(50)";
        let written = "SELECT a.booking_id::text, a.user_id::text, a.trainer_id::text
                         FROM gym_booking.attendance AS a
                        WHERE a.marked_by IS NULL AND a.mark = 'no_show' AND a.marked_at >= now()";
        let path = "POST /rpc/record_no_shows";
        let Some((marked, rows)) = self.ask("gym records no-shows", sub, path, &[], |tx| {
            let marked: i64 = tx.query_one(sql, &[])?.get(0);
            Ok((marked, tx.query(written, &[])?))
        }) else {
            return;
        };
        self.studio
            .attendance
            .swept
            .fetch_add(marked, Ordering::AcqRel);
        let athletes: Vec<String> = rows.iter().map(|r| r.get(1)).collect();
        self.studio
            .attendance
            .no_shows
            .lock()
            .unwrap()
            .extend(rows.iter().map(|r| {
                (
                    r.get(0),
                    r.get(1),
                    r.get::<_, Option<String>>(2).unwrap_or_default(),
                )
            }));
        self.read_after(athletes);
    }

    /// People who may not: another trainer marks a booking (42704: they cannot see it), the
    /// athlete marks their own booking, excuses it, runs the sweep or reads a roster (42501;
    /// an athlete made a trainer meanwhile is another trainer: 42704).
    fn not_theirs(&mut self) {
        let Some((booking, athlete, trainer)) =
            pick(&mut self.rng, &self.studio.attendance.no_shows)
        else {
            return;
        };
        let other = pick(&mut self.rng, &self.studio.trainers).filter(|t| *t != trainer);
        let slot = any(&mut self.rng, &self.studio.attendance.checkin).map(|s| s.id);
        let mark = "SELECT mark::text FROM gym_booking.mark_attendance($1::text::uuid, 'attended')";
        let (sub, sql, path, arg) = match (self.rng.below(5), other, slot) {
            (0, Some(other), _) => (other, mark, "POST /rpc/mark_attendance", booking),
            (0 | 1, _, _) => (athlete, mark, "POST /rpc/mark_attendance", booking),
            (2, _, _) => (
                athlete,
                "SELECT mark::text FROM gym_booking.excuse_no_show($1::text::uuid)",
                "POST /rpc/excuse_no_show",
                booking,
            ),
            (3, _, Some(slot)) => (
                athlete,
                "SELECT first_name FROM gym_booking.slot_roster($1::text::uuid)",
                "POST /rpc/slot_roster",
                slot,
            ),
            _ => (
                athlete,
                "SELECT gym_booking.record_no_shows(1)::text WHERE $1::text IS NOT NULL",
                "POST /rpc/record_no_shows",
                booking,
            ),
        };
        self.ask(NOT_THEIRS, Some(&sub), path, &["42501", "42704"], |tx| {
            tx.query(sql, &[&arg])
        });
    }
}

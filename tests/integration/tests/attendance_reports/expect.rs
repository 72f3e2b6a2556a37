//! The reports' figures computed again, in Rust, from the raw rows (read by the DBA): the
//! studio's day of a slot by chrono-tz (never PostgreSQL's `AT TIME ZONE`), the counts, the
//! rates and utilization rounded half away from zero to four places, strikes and suspension
//! from the marks. Each report row is one line of text, NULL written as `∅`; the database's rows
//! are read into the same form (`attendance_reports.rs`).
//!
//! Durations (strike window, suspension) are the studio's days: a strike 30 days back is at the
//! same wall-clock time 30 dates back in the studio's zone (chrono-tz), a day across a clock
//! change being 23 or 25 hours; a wall-clock time the change skips is read with the offset
//! before it, one it repeats as the later of the two (PostgreSQL's rule for AT TIME ZONE).
//! Sessions in other zones must get the same figures (checked apart).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono_tz::Tz;
use postgres::Client;

use crate::history::at;

pub const NULL: &str = "∅";

pub struct SlotRow {
    pub id: String,
    pub trainer: String,
    pub start: i64,
    pub capacity: i64,
    pub cancelled: bool,
    pub day: NaiveDate,
}

struct BookingRow {
    id: String,
    user: String,
    status: String,
}

/// The raw rows, as the DBA reads them.
pub struct Raw {
    limit: Option<i64>,
    zone: Tz,
    /// The strike window and the suspension, in days.
    window: i64,
    suspension: i64,
    names: BTreeMap<String, (String, Option<String>)>,
    pub slots: Vec<SlotRow>,
    bookings: BTreeMap<String, Vec<BookingRow>>,
    /// Per booking: its mark.
    marks: BTreeMap<String, String>,
    /// Per slot: its waitlist entries in state 'promoted'.
    promotions: BTreeMap<String, i64>,
    /// Per athlete: the times (µs) of their strikes, in order: no-shows not excused, of
    /// bookings that still hold their place (SPEC as amended by the lead's 88f03aa: a booking
    /// the gym cancels after its no-show takes its strike with it).
    strikes: BTreeMap<String, Vec<i64>>,
}

pub fn read(client: &mut Client) -> Raw {
    let row = client
        .query_one(
            "SELECT time_zone, no_show_strike_limit::bigint,
                    extract(day FROM strike_window)::bigint, extract(day FROM suspension)::bigint
               FROM gym_booking.studio_settings",
            &[],
        )
        .unwrap();
    let zone: Tz = row
        .get::<_, String>(0)
        .parse()
        .expect("chrono-tz knows the studio's zone");
    let (limit, window, suspension) = (row.get(1), row.get(2), row.get(3));
    let names = client
        .query(
            "SELECT id::text, first_name::text, last_name::text FROM gym_booking.users",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let slots = client
        .query(
            "SELECT id::text, trainer_id::text, (extract(epoch FROM start_at) * 1e6)::bigint,
                    capacity::bigint, cancelled_at IS NOT NULL
               FROM gym_booking.slots",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| {
            let start: i64 = r.get(2);
            SlotRow {
                id: r.get(0),
                trainer: r.get(1),
                start,
                capacity: r.get(3),
                cancelled: r.get(4),
                day: at(start).with_timezone(&zone).date_naive(),
            }
        })
        .collect();
    let mut bookings: BTreeMap<String, Vec<BookingRow>> = BTreeMap::new();
    for r in client
        .query(
            "SELECT slot_id::text, id::text, user_id::text, status::text FROM gym_booking.bookings",
            &[],
        )
        .unwrap()
    {
        bookings.entry(r.get(0)).or_default().push(BookingRow {
            id: r.get(1),
            user: r.get(2),
            status: r.get(3),
        });
    }
    let mut marks = BTreeMap::new();
    let mut strikes: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in client
        .query(
            "SELECT a.booking_id::text, a.mark::text, a.user_id::text,
                    a.excused_at IS NULL AND b.status <> 'cancelled',
                    (extract(epoch FROM a.strike_at) * 1e6)::bigint
               FROM gym_booking.attendance AS a JOIN gym_booking.bookings AS b ON b.id = a.booking_id",
            &[],
        )
        .unwrap()
    {
        let mark: String = r.get(1);
        if mark == "no_show" && r.get::<_, bool>(3) {
            strikes.entry(r.get(2)).or_default().push(r.get(4));
        }
        marks.insert(r.get(0), mark);
    }
    for s in strikes.values_mut() {
        s.sort_unstable();
    }
    let promotions = client
        .query(
            "SELECT slot_id::text, count(*) FROM gym_booking.waitlist_entries
              WHERE state = 'promoted' GROUP BY slot_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Raw {
        limit,
        zone,
        window,
        suspension,
        names,
        slots,
        bookings,
        marks,
        promotions,
        strikes,
    }
}

/// `part / whole` rounded half away from zero to four places, as numeric text ("0.6667").
fn ratio(part: i64, whole: i64) -> String {
    if whole == 0 {
        return NULL.to_string();
    }
    let q = (2 * part * 10_000 + whole) / (2 * whole);
    format!("{}.{:04}", q / 10_000, q % 10_000)
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| NULL.to_string())
}

#[derive(Default, Clone, Copy)]
struct Figures {
    booked: i64,
    attended: i64,
    no_shows: i64,
    cancellations: i64,
}

impl Figures {
    fn add(&mut self, other: Figures) {
        self.booked += other.booked;
        self.attended += other.attended;
        self.no_shows += other.no_shows;
        self.cancellations += other.cancellations;
    }
}

impl Raw {
    /// The slots a report counts: not cancelled, on the studio's days `from..=to`, of
    /// `trainer` (or all); by start, then id.
    fn counted(&self, from: NaiveDate, to: NaiveDate, trainer: Option<&str>) -> Vec<&SlotRow> {
        let mut slots: Vec<&SlotRow> = self
            .slots
            .iter()
            .filter(|s| !s.cancelled && s.day >= from && s.day <= to)
            .filter(|s| trainer.is_none_or(|t| s.trainer == t))
            .collect();
        slots.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        slots
    }

    /// One slot's figures.
    fn figures(&self, slot: &str) -> Figures {
        let mut f = Figures::default();
        for b in self.bookings.get(slot).map_or(&[][..], |v| &v[..]) {
            if b.status == "cancelled" {
                f.cancellations += 1;
                continue;
            }
            f.booked += 1;
            match self.marks.get(&b.id).map(String::as_str) {
                Some("attended") => f.attended += 1,
                Some("no_show") => f.no_shows += 1,
                _ => {}
            }
        }
        f
    }

    fn promotions(&self, slot: &str) -> i64 {
        self.promotions.get(slot).copied().unwrap_or(0)
    }

    fn name(&self, user: &str) -> (String, String) {
        let (first, last) = self.names.get(user).cloned().unwrap_or_default();
        (first, text(&last))
    }

    /// `us` moved by `days` of the studio's calendar (see the module's comment).
    fn shift(&self, us: i64, days: i64) -> i64 {
        use chrono::{LocalResult, Offset, TimeZone};
        let local = at(us).with_timezone(&self.zone).naive_local() + chrono::Duration::days(days);
        let utc = match self.zone.from_local_datetime(&local) {
            LocalResult::Single(t) => t.naive_utc(),
            LocalResult::Ambiguous(_, later) => later.naive_utc(),
            LocalResult::None => {
                // Skipped by the change: the offset before it (a day earlier's).
                let before = self
                    .zone
                    .offset_from_utc_datetime(&(local - chrono::Duration::days(1)))
                    .fix()
                    .local_minus_utc();
                local - chrono::Duration::seconds(i64::from(before))
            }
        };
        utc.and_utc().timestamp_micros()
    }

    /// Strikes now: unexcused no-shows in (now - window, now].
    fn strikes(&self, user: &str, now: i64) -> i64 {
        let from = self.shift(now, -self.window);
        self.strikes.get(user).map_or(0, |s| {
            s.iter().filter(|t| **t > from && **t <= now).count() as i64
        })
    }

    /// The end of the athlete's suspension now: the latest s + suspension over strikes s
    /// that are the limit-th or later within (s - window, s], if it is still to come.
    fn suspended_until(&self, user: &str, now: i64) -> Option<i64> {
        let limit = self.limit?;
        let strikes = self.strikes.get(user)?;
        strikes
            .iter()
            .filter(|s| **s <= now)
            .filter(|s| {
                strikes
                    .iter()
                    .filter(|w| **w > self.shift(**s, -self.window) && **w <= **s)
                    .count() as i64
                    >= limit
            })
            .map(|s| self.shift(*s, self.suspension))
            .max()
            .filter(|until| *until > now)
    }

    pub fn slot_report(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        trainer: Option<&str>,
    ) -> Vec<String> {
        self.counted(from, to, trainer)
            .into_iter()
            .map(|s| {
                let f = self.figures(&s.id);
                [
                    s.id.clone(),
                    s.trainer.clone(),
                    s.day.to_string(),
                    s.start.to_string(),
                    s.capacity.to_string(),
                    f.booked.to_string(),
                    f.attended.to_string(),
                    f.no_shows.to_string(),
                    f.cancellations.to_string(),
                    self.promotions(&s.id).to_string(),
                    ratio(f.booked, s.capacity),
                ]
                .join(" | ")
            })
            .collect()
    }

    pub fn trainer_report(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        trainer: Option<&str>,
    ) -> Vec<String> {
        let mut per: BTreeMap<&str, (i64, i64, Figures, i64)> = BTreeMap::new();
        for s in self.counted(from, to, trainer) {
            let e = per.entry(&s.trainer).or_default();
            e.0 += 1;
            e.1 += s.capacity;
            e.2.add(self.figures(&s.id));
            e.3 += self.promotions(&s.id);
        }
        per.into_iter()
            .map(|(t, (slots, capacity, f, promotions))| {
                let (first, last) = self.name(t);
                [
                    t.to_string(),
                    first,
                    last,
                    slots.to_string(),
                    capacity.to_string(),
                    f.booked.to_string(),
                    f.attended.to_string(),
                    f.no_shows.to_string(),
                    f.cancellations.to_string(),
                    promotions.to_string(),
                    ratio(f.booked, capacity),
                ]
                .join(" | ")
            })
            .collect()
    }

    /// Per athlete with a booking (any status) in the counted slots (of `trainer` only, when
    /// a trainer reads it), `athlete` alone when given; strikes and suspension at `now`.
    pub fn athlete_report(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        trainer: Option<&str>,
        athlete: Option<&str>,
        now: i64,
    ) -> Vec<String> {
        let mut per: BTreeMap<&str, Figures> = BTreeMap::new();
        for s in self.counted(from, to, trainer) {
            for b in self.bookings.get(&s.id).map_or(&[][..], |v| &v[..]) {
                if athlete.is_some_and(|a| a != b.user) {
                    continue;
                }
                let f = per.entry(&b.user).or_default();
                if b.status == "cancelled" {
                    f.cancellations += 1;
                    continue;
                }
                f.booked += 1;
                match self.marks.get(&b.id).map(String::as_str) {
                    Some("attended") => f.attended += 1,
                    Some("no_show") => f.no_shows += 1,
                    _ => {}
                }
            }
        }
        per.into_iter()
            .map(|(u, f)| {
                let (first, last) = self.name(u);
                let marked = f.attended + f.no_shows;
                [
                    u.to_string(),
                    first,
                    last,
                    f.booked.to_string(),
                    f.attended.to_string(),
                    f.no_shows.to_string(),
                    f.cancellations.to_string(),
                    ratio(f.attended, marked),
                    ratio(f.no_shows, marked),
                    self.strikes(u, now).to_string(),
                    self.suspended_until(u, now)
                        .map_or(NULL.to_string(), |t| t.to_string()),
                ]
                .join(" | ")
            })
            .collect()
    }
}

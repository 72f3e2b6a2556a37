//! An independent model of the civil calendar and of the daylight-saving rules of the three
//! zones the timetable tests cross, written from the published rules (EU directive 2000/84/EC,
//! the US Energy Policy Act of 2005, the NSW Daylight Saving Act as amended in 2007) — not from
//! PostgreSQL's tz database, so the tests compare the server's answer with a second opinion.
//!
//! Instants are seconds since 1970-01-01 00:00 UTC; dates are days since 1970-01-01.

use std::fmt;

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// A civil date, as days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub i64);

impl Date {
    /// Howard Hinnant's `days_from_civil`.
    pub fn ymd(y: i64, m: u32, d: u32) -> Date {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(m);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Date(era * 146_097 + doe - 719_468)
    }

    /// Howard Hinnant's `civil_from_days`.
    pub fn to_ymd(self) -> (i64, u32, u32) {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        (yoe + era * 400 + i64::from(m <= 2), m, d)
    }

    /// ISO weekday: 1 = Monday ... 7 = Sunday (1970-01-01 was a Thursday).
    pub fn iso_weekday(self) -> u32 {
        ((self.0 + 3).rem_euclid(7) + 1) as u32
    }

    pub fn plus(self, days: i64) -> Date {
        Date(self.0 + days)
    }

    /// "YYYY-MM-DD", as PostgreSQL's `date::text` writes it (ISO DateStyle).
    pub fn parse(text: &str) -> Date {
        let parts: Vec<&str> = text.split('-').collect();
        assert_eq!(parts.len(), 3, "not a date: {text}");
        Date::ymd(
            parts[0].parse().unwrap(),
            parts[1].parse().unwrap(),
            parts[2].parse().unwrap(),
        )
    }

    /// The `n`th (1-based) given ISO weekday of a month; `n = 0` is the last one.
    fn nth_weekday(y: i64, m: u32, weekday: u32, n: i64) -> Date {
        if n == 0 {
            let next_month = if m == 12 {
                Date::ymd(y + 1, 1, 1)
            } else {
                Date::ymd(y, m + 1, 1)
            };
            let last = next_month.plus(-1);
            let back = (i64::from(last.iso_weekday()) - i64::from(weekday)).rem_euclid(7);
            return last.plus(-back);
        }
        let first = Date::ymd(y, m, 1);
        let ahead = (i64::from(weekday) - i64::from(first.iso_weekday())).rem_euclid(7);
        first.plus(ahead + 7 * (n - 1))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.to_ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// Seconds since the epoch, now, by the test's own clock.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// "YYYY-MM-DD HH:MM" of a wall-clock time given as seconds since the local epoch.
pub fn wall(local: i64) -> String {
    let date = Date(local.div_euclid(DAY));
    let secs = local.rem_euclid(DAY);
    format!("{date} {:02}:{:02}", secs / HOUR, secs % HOUR / 60)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// European Union: last Sunday of March to last Sunday of October, 01:00 UTC.
    Eu,
    /// United States: second Sunday of March 02:00 local standard time to first Sunday of
    /// November 02:00 local daylight time.
    Us,
    /// New South Wales: first Sunday of October 02:00 local standard time to first Sunday of
    /// April 03:00 local daylight time.
    Nsw,
}

/// A clock change: the instant, and the offsets (seconds east of UTC) before and after.
#[derive(Clone, Copy, Debug)]
pub struct Change {
    pub at: i64,
    pub before: i64,
    pub after: i64,
}

impl Change {
    /// Spring: the clocks go forward (a gap); autumn: back (an overlap).
    pub fn is_spring(&self) -> bool {
        self.after > self.before
    }

    /// The local date of the change.
    pub fn local_date(&self) -> Date {
        Date((self.at + self.before).div_euclid(DAY))
    }

    /// The wall-clock time inside the gap or the overlap, half an hour after the wall clock
    /// the change starts from (gap) or returns to (overlap): 02:30 in Berlin and Sydney both
    /// ways; 02:30 and 01:30 in New York.
    pub fn critical_minutes(&self) -> i64 {
        let wall_clock = if self.is_spring() {
            self.at + self.before
        } else {
            self.at + self.after
        };
        wall_clock.rem_euclid(DAY) / 60 + 30
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Zone {
    pub name: &'static str,
    pub standard: i64,
    pub daylight: i64,
    pub rule: Rule,
}

pub const BERLIN: Zone = Zone {
    name: "Europe/Berlin",
    standard: HOUR,
    daylight: 2 * HOUR,
    rule: Rule::Eu,
};
pub const NEW_YORK: Zone = Zone {
    name: "America/New_York",
    standard: -5 * HOUR,
    daylight: -4 * HOUR,
    rule: Rule::Us,
};
pub const SYDNEY: Zone = Zone {
    name: "Australia/Sydney",
    standard: 10 * HOUR,
    daylight: 11 * HOUR,
    rule: Rule::Nsw,
};
pub const ZONES: [Zone; 3] = [BERLIN, NEW_YORK, SYDNEY];

impl Zone {
    /// The two changes of a calendar year (by their local dates), in any order.
    pub fn changes_in(&self, y: i64) -> [Change; 2] {
        let (std, dst) = (self.standard, self.daylight);
        // A local wall-clock time on a date, read with a given offset.
        let at = |date: Date, hour: i64, offset: i64| date.0 * DAY + hour * HOUR - offset;
        match self.rule {
            Rule::Eu => [
                Change {
                    at: at(Date::nth_weekday(y, 3, 7, 0), 1, 0),
                    before: std,
                    after: dst,
                },
                Change {
                    at: at(Date::nth_weekday(y, 10, 7, 0), 1, 0),
                    before: dst,
                    after: std,
                },
            ],
            Rule::Us => [
                Change {
                    at: at(Date::nth_weekday(y, 3, 7, 2), 2, std),
                    before: std,
                    after: dst,
                },
                Change {
                    at: at(Date::nth_weekday(y, 11, 7, 1), 2, dst),
                    before: dst,
                    after: std,
                },
            ],
            Rule::Nsw => [
                Change {
                    at: at(Date::nth_weekday(y, 4, 7, 1), 3, dst),
                    before: dst,
                    after: std,
                },
                Change {
                    at: at(Date::nth_weekday(y, 10, 7, 1), 2, std),
                    before: std,
                    after: dst,
                },
            ],
        }
    }

    /// Every change from the year before `instant` to the year after, in time order.
    fn changes_around(&self, instant: i64) -> Vec<Change> {
        let (y, _, _) = Date(instant.div_euclid(DAY)).to_ymd();
        let mut all: Vec<Change> = (y - 1..=y + 1).flat_map(|y| self.changes_in(y)).collect();
        all.sort_by_key(|c| c.at);
        all
    }

    /// The offset in force at an instant.
    pub fn offset_at(&self, instant: i64) -> i64 {
        self.changes_around(instant)
            .iter()
            .rev()
            .find(|c| c.at <= instant)
            .map(|c| c.after)
            .expect("a change in the year before")
    }

    /// The wall clock ("YYYY-MM-DD HH:MM") at an instant.
    pub fn wall_at(&self, instant: i64) -> String {
        wall(instant + self.offset_at(instant))
    }

    /// The local date at an instant.
    pub fn date_at(&self, instant: i64) -> Date {
        Date((instant + self.offset_at(instant)).div_euclid(DAY))
    }

    /// The instant a wall-clock time on a date names, by the rule sql/timetable.sql states:
    /// a time in the spring gap is read with the offset before the change, a time in the
    /// autumn overlap with the offset after it.
    pub fn instant(&self, date: Date, minutes: i64) -> i64 {
        let local = date.0 * DAY + minutes * 60;
        for c in self.changes_around(local) {
            let (from, to) = (c.at + c.before, c.at + c.after);
            if c.is_spring() && (from..to).contains(&local) {
                return local - c.before;
            }
            if !c.is_spring() && (to..from).contains(&local) {
                return local - c.after;
            }
        }
        // Not in a gap nor an overlap: exactly one offset reads it back.
        [self.standard, self.daylight]
            .into_iter()
            .map(|offset| local - offset)
            .find(|&instant| self.wall_at(instant) == wall(local))
            .expect("one offset reads a time outside gaps and overlaps")
    }

    /// The first spring and the first autumn change after `instant`.
    pub fn next_changes(&self, instant: i64) -> (Change, Change) {
        let (y, _, _) = Date(instant.div_euclid(DAY)).to_ymd();
        let mut all: Vec<Change> = (y..=y + 2).flat_map(|y| self.changes_in(y)).collect();
        all.sort_by_key(|c| c.at);
        let next = |spring: bool| {
            *all.iter()
                .find(|c| c.at > instant && c.is_spring() == spring)
                .unwrap()
        };
        (next(true), next(false))
    }
}

/// The model agrees with dates everyone can look up (timeanddate.com): the changes of 2027
/// the tests were written around, and some wall clocks around them.
pub fn self_check() {
    let check = |zone: &Zone, y: i64, expect: [&str; 2]| {
        let mut got: Vec<String> = zone
            .changes_in(y)
            .iter()
            .map(|c| format!("{} {}", wall(c.at), c.local_date()))
            .collect();
        got.sort();
        assert_eq!(got, expect, "{} changes in {y}", zone.name);
    };
    // UTC instant of the change, and its local date.
    check(
        &BERLIN,
        2027,
        ["2027-03-28 01:00 2027-03-28", "2027-10-31 01:00 2027-10-31"],
    );
    check(
        &NEW_YORK,
        2027,
        ["2027-03-14 07:00 2027-03-14", "2027-11-07 06:00 2027-11-07"],
    );
    check(
        &SYDNEY,
        2027,
        ["2027-04-03 16:00 2027-04-04", "2027-10-02 16:00 2027-10-03"],
    );
    assert_eq!(
        Date::ymd(2026, 11, 29).iso_weekday(),
        7,
        "2026-11-29 is a Sunday"
    );
    assert_eq!(Date::parse("2027-03-28").to_string(), "2027-03-28");
    let b = |d: &str, m: i64| BERLIN.instant(Date::parse(d), m);
    // 02:30 in the gap reads as 01:30 UTC (offset +1 before), shown as 03:30.
    assert_eq!(wall(b("2027-03-28", 150)), "2027-03-28 01:30");
    assert_eq!(BERLIN.wall_at(b("2027-03-28", 150)), "2027-03-28 03:30");
    // 02:30 in the overlap is the second one: 01:30 UTC (offset +1 after), not 00:30.
    assert_eq!(wall(b("2027-10-31", 150)), "2027-10-31 01:30");
    assert_eq!(
        BERLIN.wall_at(b("2027-10-31", 150) - HOUR),
        "2027-10-31 02:30"
    );
    assert_eq!(wall(b("2027-07-01", 420)), "2027-07-01 05:00");
    assert_eq!(wall(b("2027-01-01", 420)), "2027-01-01 06:00");
    let ny = NEW_YORK.instant(Date::parse("2027-11-07"), 90);
    assert_eq!(
        wall(ny),
        "2027-11-07 06:30",
        "New York 01:30 overlap: the EST one"
    );
    let syd = SYDNEY.instant(Date::parse("2027-10-03"), 150);
    assert_eq!(SYDNEY.wall_at(syd), "2027-10-03 03:30", "Sydney spring gap");
}

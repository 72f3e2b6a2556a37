//! Daylight saving (DESIGN.md, "Timetables"; the header of sql/timetable.sql): every
//! occurrence starts at the series' wall-clock time on its ISO weekday in its zone, a time in
//! the spring gap reads with the offset before the change (02:30 shows as 03:30), a time in
//! the autumn overlap is the second one (the offset after), and the session's TimeZone changes
//! nothing. Each expectation is computed by `tz` (the published rules), not by PostgreSQL.

use gym_booking_integration::TestDb;
use postgres::Client;

use crate::common::{self, occurrences, set_horizon, set_session_zone, Occurrence};
use crate::tz::{self, Change, Date, Zone, ZONES};

/// The session time zones every series is created (and read) under: the server's default and
/// one nine hours east with no daylight saving, where "today" is often another date.
const SESSION_ZONES: [&str; 2] = ["UTC", "Asia/Tokyo"];

/// An occurrence as made: (date, start as epoch seconds, local wall clock by PostgreSQL).
type Made = (String, i64, String);

/// "HH:MM" of minutes after midnight.
fn hhmm(minutes: i64) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Checks the occurrences of a series of `weekdays` at `minutes` local time from `first` to
/// `last` (both inside the horizon) against the model; what is wrong, as sentences.
fn check_series(
    zone: &Zone,
    weekdays: &[u32],
    minutes: i64,
    (first, last): (Date, Date),
    change: Option<&Change>,
    occs: &[Occurrence],
) -> Vec<String> {
    let mut problems = Vec::new();
    let expected: Vec<Date> = (first.0..=last.0)
        .map(Date)
        .filter(|d| weekdays.contains(&d.iso_weekday()))
        .collect();
    let got: Vec<Date> = occs.iter().map(|o| Date::parse(&o.date)).collect();
    if got != expected {
        problems.push(format!(
            "dates {:?}, expected every {weekdays:?} from {first} to {last}: {:?}",
            got.iter().map(Date::to_string).collect::<Vec<_>>(),
            expected.iter().map(Date::to_string).collect::<Vec<_>>()
        ));
    }
    for o in occs {
        let date = Date::parse(&o.date);
        let want = zone.instant(date, minutes);
        let mut say = |what: String| problems.push(format!("{} {}: {what}", zone.name, o.date));
        if o.start != want {
            say(format!(
                "starts at {} UTC, the model says {} UTC ({} local)",
                tz::wall(o.start),
                tz::wall(want),
                hhmm(minutes)
            ));
        }
        // PostgreSQL's own reading of the instant in the zone agrees with the model's.
        if o.local != zone.wall_at(o.start) {
            say(format!(
                "PostgreSQL shows {} local, the model {} for the same instant",
                o.local,
                zone.wall_at(o.start)
            ));
        }
        let local = date.0 * 86_400 + minutes * 60;
        // The wall clocks a change skips (spring) or shows twice (autumn).
        let inside = |c: &&Change| {
            let (from, to) = (c.at + c.before, c.at + c.after);
            (from.min(to)..from.max(to)).contains(&local)
        };
        let critical = change.filter(inside);
        let in_gap = critical.is_some_and(|c| c.is_spring());
        let shown = if in_gap {
            // Read with the offset before the change: one hour later on the new clock.
            format!("{date} {}", hhmm(minutes + 60))
        } else {
            format!("{date} {}", hhmm(minutes))
        };
        if o.local != shown {
            say(format!("shows {} local, expected {shown}", o.local));
        }
        if o.local_isodow as u32 != date.iso_weekday() || !weekdays.contains(&date.iso_weekday()) {
            say(format!(
                "local ISO weekday {} on a date of weekday {}",
                o.local_isodow,
                date.iso_weekday()
            ));
        }
        if o.minutes != 60 || o.cancelled {
            say(format!("{} minutes, cancelled {}", o.minutes, o.cancelled));
        }
        if let Some(c) = critical {
            let (offset, which) = if c.is_spring() {
                (c.before, "the offset before the change")
            } else {
                (c.after, "the offset after the change")
            };
            if o.start != local - offset {
                say(format!(
                    "the change's date at {}: {} UTC, not read with {which}",
                    hhmm(minutes),
                    tz::wall(o.start)
                ));
            }
            // In the overlap, an hour earlier shows the same wall clock: this is the second.
            if !c.is_spring() && zone.wall_at(o.start - 3600) != o.local {
                say(format!(
                    "{} is not the second {} of the overlap",
                    tz::wall(o.start),
                    hhmm(minutes)
                ));
            }
        }
    }
    problems
}

/// The window around a change a series covers, or None when the horizon (366 days) cannot
/// reach the day after the change (a few days a year, for the change a year ahead).
fn window(zone: &Zone, change: &Change) -> Option<(Date, Date)> {
    let today = zone.date_at(tz::now());
    let day = change.local_date();
    // A day short of the horizon, so a test that runs across local midnight agrees.
    let first = day.plus(-14).max(today.plus(2));
    let last = day.plus(14).min(today.plus(365));
    (day.plus(1) <= last).then_some((first, last))
}

/// Series across the next spring and autumn change of Berlin, New York and Sydney, created
/// with the session TimeZone set to UTC and to Asia/Tokyo.
pub fn occurrences_keep_their_local_time() {
    tz::self_check();
    let db = TestDb::with_extension("timetables_dst");
    let mut dba = db.connect();
    let people = common::people(&mut dba, 0);
    set_horizon(&mut dba, "366 days");
    let trainer = common::user(&people.trainer);
    let mut client = db.connect();
    let mut problems = Vec::new();
    let mut critical_checked = 0;
    for zone in ZONES {
        let (spring, autumn) = zone.next_changes(tz::now() + 3 * 86_400);
        for change in [spring, autumn] {
            let Some((first, last)) = window(&zone, &change) else {
                println!(
                    "{} {}: beyond the 366-day horizon today, not checked",
                    zone.name,
                    change.local_date()
                );
                continue;
            };
            // The wall clock in the gap or overlap on the change's date (a Sunday everywhere),
            // and an ordinary morning class on other weekdays.
            let series = [
                (vec![2, 4, 7], change.critical_minutes()),
                (vec![1, 3, 5, 6, 7], 7 * 60),
            ];
            for (weekdays, minutes) in series {
                let days = format!(
                    "{{{}}}",
                    weekdays
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                );
                let mut seen: Vec<(String, Vec<Made>)> = Vec::new();
                for session in SESSION_ZONES {
                    set_session_zone(&mut client, session);
                    set_session_zone(&mut dba, session);
                    let id = common::create_series(
                        &mut client,
                        &trainer,
                        &days,
                        &hhmm(minutes),
                        &first.to_string(),
                        Some(&last.to_string()),
                        4,
                        zone.name,
                    );
                    let occs = occurrences(&mut dba, &id);
                    let label = format!(
                        "{} {days} {} around {} (session {session})",
                        zone.name,
                        hhmm(minutes),
                        change.local_date()
                    );
                    problems.extend(
                        check_series(
                            &zone,
                            &weekdays,
                            minutes,
                            (first, last),
                            Some(&change),
                            &occs,
                        )
                        .into_iter()
                        .map(|p| format!("{label}: {p}")),
                    );
                    if minutes == change.critical_minutes()
                        && occs
                            .iter()
                            .any(|o| o.date == change.local_date().to_string())
                    {
                        critical_checked += 1;
                    }
                    seen.push((
                        session.to_string(),
                        occs.into_iter()
                            .map(|o| (o.date, o.start, o.local))
                            .collect(),
                    ));
                    // Moving the morning class into the gap or overlap's wall clock (edit_series)
                    // lands every occurrence by the same rule as creating it there.
                    if minutes != change.critical_minutes() {
                        let to = change.critical_minutes() + 15;
                        let outcomes: Vec<String> = common::ok(
                            &mut client,
                            &trainer,
                            "SELECT outcome FROM gym_booking.edit_series($1::text::uuid,
                                 local_start => $2::text::time)",
                            &[&id, &hhmm(to)],
                        )
                        .iter()
                        .map(|r| r.get(0))
                        .collect();
                        if outcomes.iter().any(|o| o != "changed") {
                            problems.push(format!("{label}: edit to {}: {outcomes:?}", hhmm(to)));
                        }
                        problems.extend(
                            check_series(
                                &zone,
                                &weekdays,
                                to,
                                (first, last),
                                Some(&change),
                                &occurrences(&mut dba, &id),
                            )
                            .into_iter()
                            .map(|p| format!("{label}, moved to {}: {p}", hhmm(to))),
                        );
                    }
                }
                // The session's TimeZone changes nothing: the same dates at the same instants.
                if seen[0].1 != seen[1].1 {
                    problems.push(format!(
                        "{} {days} {}: created under {} {:?}\nbut under {} {:?}",
                        zone.name,
                        hhmm(minutes),
                        seen[0].0,
                        seen[0].1,
                        seen[1].0,
                        seen[1].1
                    ));
                }
            }
        }
    }
    // Every spring change of the three zones had its gap checked, under both session zones
    // (the autumn overlaps too, but for the few days a year they are out of reach).
    assert!(
        critical_checked >= 3 * 2,
        "only {critical_checked} series had an occurrence in a gap or an overlap"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The first change of a zone more than `after_days` ahead (local dates).
fn change_after(zone: &Zone, after_days: i64) -> Change {
    let today = zone.date_at(tz::now());
    let (y, _, _) = today.to_ymd();
    let mut all: Vec<Change> = (y..=y + 2).flat_map(|y| zone.changes_in(y)).collect();
    all.sort_by_key(|c| c.at);
    *all.iter()
        .find(|c| c.local_date() > today.plus(after_days))
        .unwrap()
}

/// The total `extend_timetables()` made, called by `caller`.
fn extend(client: &mut Client, caller: &gym_booking_integration::Caller) -> i32 {
    common::ok(
        client,
        caller,
        "SELECT gym_booking.extend_timetables()",
        &[],
    )[0]
    .get(0)
}

/// A series made 8 weeks ahead (the default horizon) is extended across the next change by
/// `extend_timetables()` once the horizon grows: the later occurrences still start at their
/// local time; calling it again makes nothing.
pub fn extending_crosses_a_change_at_local_time() {
    let db = TestDb::with_extension("timetables_extend");
    let mut dba = db.connect();
    let people = common::people(&mut dba, 0);
    let horizon: String = dba
        .query_one(
            "SELECT timetable_horizon::text FROM gym_booking.studio_settings",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(horizon, "56 days", "the default horizon is 8 weeks");
    let trainer = common::user(&people.trainer);
    let mut client = db.connect();
    let mut made = Vec::new();
    for (i, zone) in ZONES.iter().enumerate() {
        // A change beyond the first 8 weeks (60 days: a margin for the test's own clock).
        let change = change_after(zone, 60);
        let first = zone.date_at(tz::now()).plus(1);
        let minutes = change.critical_minutes();
        set_session_zone(&mut client, SESSION_ZONES[i % 2]);
        let id = common::create_series(
            &mut client,
            &trainer,
            "{1,7}",
            &hhmm(minutes),
            &first.to_string(),
            None,
            3,
            zone.name,
        );
        let occs = occurrences(&mut dba, &id);
        let latest = occs.iter().map(|o| Date::parse(&o.date)).max().unwrap();
        let until = zone.date_at(tz::now()).plus(56);
        assert!(
            latest <= until.plus(1) && latest >= until.plus(-7),
            "{}: made up to {latest}, the horizon is {until}",
            zone.name
        );
        assert!(
            latest < change.local_date(),
            "{}: change within 8 weeks",
            zone.name
        );
        made.push((*zone, id, change, first, occs.len()));
    }
    let service = common::service();
    set_session_zone(&mut client, "Asia/Tokyo");
    assert_eq!(
        extend(&mut client, &service),
        0,
        "every series is already made to the horizon"
    );
    // The horizon grows past every change by ten days (the DBA's setting).
    let reach = made
        .iter()
        .map(|(zone, _, change, _, _)| change.local_date().0 - zone.date_at(tz::now()).0 + 10)
        .max()
        .unwrap();
    set_horizon(&mut dba, &format!("{reach} days"));
    let total = extend(&mut client, &service);
    let mut problems = Vec::new();
    let mut new_rows = 0;
    for (zone, id, change, first, before) in &made {
        let occs = occurrences(&mut dba, id);
        new_rows += occs.len() - before;
        // Occurrences are made up to the local date `reach` days ahead; the last day may be
        // one off when the test's clock crosses local midnight, so check up to the day before.
        let last = zone.date_at(tz::now()).plus(reach - 1);
        let upto: Vec<Occurrence> = occs
            .iter()
            .filter(|o| Date::parse(&o.date) <= last)
            .cloned()
            .collect();
        problems.extend(
            check_series(
                zone,
                &[1, 7],
                change.critical_minutes(),
                (*first, last),
                Some(change),
                &upto,
            )
            .into_iter()
            .map(|p| format!("after extend_timetables: {p}")),
        );
        assert!(
            upto.iter()
                .any(|o| o.date == change.local_date().to_string()),
            "{}: no occurrence on the change's date {}",
            zone.name,
            change.local_date()
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(
        total as usize, new_rows,
        "extend_timetables() says it made {total}, the table has {new_rows} more"
    );
    // Idempotent: again, by service_role and by an app admin, nothing.
    assert_eq!(
        extend(&mut client, &service),
        0,
        "second extend_timetables()"
    );
    assert_eq!(
        extend(&mut client, &common::user(&people.admin)),
        0,
        "extend_timetables() by an app admin"
    );
    let dupes: i64 = dba
        .query_one(
            "SELECT count(*) - count(DISTINCT (series_id, series_date))
               FROM gym_booking.slots WHERE series_id IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(dupes, 0);
}

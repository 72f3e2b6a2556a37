//! Editing and cancelling a series with booked, waitlisted and hand-changed occurrences
//! (DESIGN.md, "Timetables": an edit changes only future occurrences with no reserved
//! bookings that were not changed by hand, and says which it kept; cancelling from a date
//! cascades like a slot cancellation), and who may do either.

use std::collections::BTreeMap;

use gym_booking_integration::{Caller, TestDb};
use postgres::Client;

use crate::common::{self, anon, book, join, occurrences, ok, refused, service, user, Occurrence};
use crate::tz::{self, Date, BERLIN};

/// `edit_series` by `caller`: (slot, date, start as epoch seconds, outcome) per row.
fn edit(
    client: &mut Client,
    caller: &Caller,
    series: &str,
    weekdays: Option<&str>,
    local_start: Option<&str>,
) -> Vec<(String, String, i64, String)> {
    ok(
        client,
        caller,
        "SELECT e.slot_id::text, e.occurs_on::text, extract(epoch FROM e.start_at)::bigint,
                e.outcome
           FROM gym_booking.edit_series($1::text::uuid, weekdays => $2::text::int[],
                                        local_start => $3::text::time) AS e",
        &[&series, &weekdays, &local_start],
    )
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

/// A Berlin series of the trainer's, Mondays, Wednesdays and Fridays at 07:00, capacity 2,
/// from the day after tomorrow, made 8 weeks ahead; its id and occurrences.
fn mwf_series(client: &mut Client, trainer: &str) -> (String, Vec<Occurrence>) {
    let first = BERLIN.date_at(tz::now()).plus(2);
    let id = common::create_series(
        client,
        &user(trainer),
        "{1,3,5}",
        "07:00",
        &first.to_string(),
        None,
        2,
        BERLIN.name,
    );
    (id.clone(), occurrences(client, &id))
}

/// The `n`th (0-based) occurrence on an ISO weekday.
fn nth(occs: &[Occurrence], weekday: u32, n: usize) -> Occurrence {
    occs.iter()
        .filter(|o| Date::parse(&o.date).iso_weekday() == weekday)
        .nth(n)
        .unwrap()
        .clone()
}

/// Moving a series' time and changing its weekdays moves only what nobody booked and nobody
/// changed by hand, and says so for each occurrence.
pub fn edits_keep_booked_and_hand_changed_occurrences() {
    let db = TestDb::with_extension("timetables_edits");
    let mut c = db.connect();
    let people = common::people(&mut c, 6);
    let a = &people.athletes;
    let trainer = user(&people.trainer);
    let (series, occs) = mwf_series(&mut c, &people.trainer);
    assert!(occs.len() >= 20, "8 weeks of Mon/Wed/Fri: {}", occs.len());

    // A booked Wednesday; a full Friday with two athletes waiting; a Monday the trainer moved
    // by an hour and a Wednesday whose notes the trainer changed (PATCH /slots, by hand); a
    // Monday booked and then cancelled by its athlete (no reserved booking left).
    let booked = nth(&occs, 3, 0);
    let full = nth(&occs, 5, 0);
    let moved = nth(&occs, 1, 0);
    let noted = nth(&occs, 3, 1);
    let freed = nth(&occs, 1, 1);
    book(&mut c, &a[0], &booked.slot);
    book(&mut c, &a[0], &full.slot);
    book(&mut c, &a[1], &full.slot);
    join(&mut c, &a[2], &full.slot);
    join(&mut c, &a[3], &full.slot);
    ok(
        &mut c,
        &trainer,
        "UPDATE gym_booking.slots SET start_at = start_at + interval '1 hour'
          WHERE id = $1::text::uuid",
        &[&moved.slot],
    );
    ok(
        &mut c,
        &trainer,
        "UPDATE gym_booking.slots SET notes = 'bring a mat' WHERE id = $1::text::uuid",
        &[&noted.slot],
    );
    let cancelled_booking = book(&mut c, &a[4], &freed.slot);
    ok(
        &mut c,
        &user(&a[4]),
        "SELECT gym_booking.cancel_booking($1::text::uuid)",
        &[&cancelled_booking],
    );
    let before: BTreeMap<String, Occurrence> = occurrences(&mut c, &series)
        .into_iter()
        .map(|o| (o.slot.clone(), o))
        .collect();

    // 1. The class moves to 08:30.
    let rows = edit(&mut c, &trainer, &series, None, Some("08:30"));
    let after: BTreeMap<String, Occurrence> = occurrences(&mut c, &series)
        .into_iter()
        .map(|o| (o.slot.clone(), o))
        .collect();
    let mut problems = Vec::new();
    let expected = |slot: &str| -> &str {
        match slot {
            s if s == booked.slot || s == full.slot => "kept: booked",
            s if s == moved.slot || s == noted.slot => "kept: changed by hand",
            _ => "changed",
        }
    };
    let reported: Vec<&String> = rows.iter().map(|r| &r.0).collect();
    let all: Vec<&String> = before.keys().collect();
    let mut sorted = reported.clone();
    sorted.sort();
    if sorted != all {
        problems.push(format!(
            "one row per occurrence expected: {} rows for {} occurrences",
            rows.len(),
            all.len()
        ));
    }
    for (slot, date, start, outcome) in &rows {
        let (was, now) = (&before[slot], &after[slot]);
        let want = expected(slot);
        if outcome != want {
            problems.push(format!("{date}: outcome {outcome:?}, expected {want:?}"));
        }
        if *start != now.start {
            problems.push(format!(
                "{date}: reported start {start}, stored {}",
                now.start
            ));
        }
        let new_time = BERLIN.instant(Date::parse(date), 8 * 60 + 30);
        match want {
            "changed" if now.start != new_time || now.local != format!("{date} 08:30") => {
                problems.push(format!("{date}: changed, but starts {} local", now.local))
            }
            "changed" => {}
            _ if now != was => problems.push(format!("{date}: kept, but now {now:?}, was {was:?}")),
            _ => {}
        }
    }
    let statuses: Vec<(String, String)> = c
        .query(
            "SELECT b.slot_id::text, b.status::text FROM gym_booking.bookings AS b
              WHERE b.slot_id = ANY ($1::text[]::uuid[]) ORDER BY 1, 2",
            &[&vec![booked.slot.clone(), full.slot.clone()]],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        statuses.len(),
        3,
        "the kept occurrences keep their bookings"
    );
    assert!(
        statuses.iter().all(|(_, s)| s == "reserved"),
        "{statuses:?}"
    );

    // 2. Wednesdays leave the series, Tuesdays join it.
    let before = after;
    let rows = edit(&mut c, &trainer, &series, Some("{5,1,2,2}"), None);
    let after: BTreeMap<String, Occurrence> = occurrences(&mut c, &series)
        .into_iter()
        .map(|o| (o.slot.clone(), o))
        .collect();
    let made_until: String = c
        .query_one(
            "SELECT made_until::text FROM gym_booking.series WHERE id = $1::text::uuid",
            &[&series],
        )
        .unwrap()
        .get(0);
    let mut created = 0;
    for (slot, date, _, outcome) in &rows {
        let weekday = Date::parse(date).iso_weekday();
        let want = if slot == &booked.slot || slot == &full.slot {
            "kept: booked"
        } else if slot == &moved.slot || slot == &noted.slot {
            "kept: changed by hand"
        } else if !before.contains_key(slot) {
            "created"
        } else if weekday == 3 {
            "cancelled"
        } else {
            "unchanged"
        };
        if outcome != want {
            problems.push(format!(
                "weekdays edit, {date}: {outcome:?}, expected {want:?}"
            ));
        }
        let now = &after[slot];
        match want {
            "cancelled" if !now.cancelled => {
                problems.push(format!("{date}: reported cancelled, is not"))
            }
            "created" => {
                created += 1;
                if weekday != 2 || now.local != format!("{date} 08:30") || now.cancelled {
                    problems.push(format!("{date}: created as {now:?}"));
                }
            }
            "cancelled" => {}
            _ if *now != before[slot] => problems.push(format!("{date}: {want}, but changed")),
            _ => {}
        }
    }
    // Every Tuesday from the day after tomorrow to where the series was made.
    let first = BERLIN.date_at(tz::now()).plus(2);
    let tuesdays = (first.0..=Date::parse(&made_until).0)
        .filter(|d| Date(*d).iso_weekday() == 2)
        .count();
    if created != tuesdays {
        problems.push(format!(
            "{created} Tuesdays created, {tuesdays} up to {made_until}"
        ));
    }
    let series_days: String = c
        .query_one(
            "SELECT weekdays::text || ' ' || local_start::text FROM gym_booking.series
              WHERE id = $1::text::uuid",
            &[&series],
        )
        .unwrap()
        .get(0);
    assert_eq!(series_days, "{1,2,5} 08:30:00", "the series row");

    // 3. The same edit again changes no occurrence.
    let rows = edit(&mut c, &trainer, &series, Some("{1,2,5}"), Some("08:30"));
    for (_, date, _, outcome) in &rows {
        if !(outcome == "unchanged" || outcome.starts_with("kept: ")) {
            problems.push(format!("a repeated edit: {date} {outcome}"));
        }
    }
    let mut expected_now: Vec<Occurrence> = after.values().cloned().collect();
    expected_now.sort_by(|x, y| x.date.cmp(&y.date));
    assert_eq!(
        occurrences(&mut c, &series),
        expected_now,
        "a repeated edit changed occurrences"
    );

    // 4. The full Friday empties (the waiting athletes leave, the holders cancel): nobody
    // changed it by hand and nobody holds a place, so the next edit moves it with the others.
    for athlete in [&a[2], &a[3]] {
        ok(
            &mut c,
            &user(athlete),
            "SELECT gym_booking.leave_waitlist($1::text::uuid)",
            &[&full.slot],
        );
    }
    let held: Vec<(String, String)> = c
        .query(
            "SELECT id::text, user_id::text FROM gym_booking.bookings
              WHERE slot_id = $1::text::uuid AND status = 'reserved'",
            &[&full.slot],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(held.len(), 2, "the full Friday's holders");
    for (booking, athlete) in &held {
        ok(
            &mut c,
            &user(athlete),
            "SELECT gym_booking.cancel_booking($1::text::uuid)",
            &[booking],
        );
    }
    let rows = edit(&mut c, &trainer, &series, None, Some("09:00"));
    let outcome = rows.iter().find(|r| r.0 == full.slot).map(|r| r.3.clone());
    if outcome.as_deref() != Some("changed") {
        problems.push(format!(
            "{}: kept at its old time by an earlier edit while booked, now with no reserved \
             booking and never changed by hand: {outcome:?}, expected \"changed\"",
            full.date
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// (kind, recipient label) of every event about a slot, sorted.
fn events_of(client: &mut Client, slot: &str, labels: &BTreeMap<String, String>) -> Vec<String> {
    let mut kinds: Vec<String> = client
        .query(
            "SELECT kind::text, recipient_id::text FROM gym_booking.events
              WHERE slot_id = $1::text::uuid",
            &[&slot],
        )
        .unwrap()
        .iter()
        .map(|r| {
            let who: String = r.get(1);
            format!(
                "{} to {}",
                r.get::<_, String>(0),
                labels.get(&who).cloned().unwrap_or(who)
            )
        })
        .collect();
    kinds.sort();
    kinds
}

/// What became of a slot's bookings and waitlist entries: (label, status, auto_processed),
/// (label, state).
fn cascade_of(
    client: &mut Client,
    slot: &str,
    labels: &BTreeMap<String, String>,
) -> (Vec<String>, Vec<String>) {
    let label = |id: String| labels.get(&id).cloned().unwrap_or(id);
    let mut bookings: Vec<String> = client
        .query(
            "SELECT user_id::text, status::text, auto_processed FROM gym_booking.bookings
              WHERE slot_id = $1::text::uuid",
            &[&slot],
        )
        .unwrap()
        .into_iter()
        .map(|r| {
            format!(
                "{} {} auto={}",
                label(r.get(0)),
                r.get::<_, String>(1),
                r.get::<_, bool>(2)
            )
        })
        .collect();
    let mut entries: Vec<String> = client
        .query(
            "SELECT user_id::text, state::text FROM gym_booking.waitlist_entries
              WHERE slot_id = $1::text::uuid",
            &[&slot],
        )
        .unwrap()
        .into_iter()
        .map(|r| format!("{} {}", label(r.get(0)), r.get::<_, String>(1)))
        .collect();
    bookings.sort();
    entries.sort();
    (bookings, entries)
}

/// Cancelling a series from a date cancels its occurrences from that date with every cascade
/// of a slot cancellation (compared with a plain slot of the same bookings cancelled by its
/// trainer); occurrences before the date stay; no more are made.
pub fn cancelling_from_a_date_cascades() {
    let db = TestDb::with_extension("timetables_cancel");
    let mut c = db.connect();
    let people = common::people(&mut c, 8);
    let a = &people.athletes;
    let trainer = user(&people.trainer);
    let (series, occs) = mwf_series(&mut c, &people.trainer);
    let labels: BTreeMap<String, String> = a
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), format!("athlete {}", i + 1)))
        .chain([(people.trainer.clone(), "the trainer".to_string())])
        .collect();
    // Before the date: a booking that stays. From the date: a booked occurrence, a full one
    // with a waitlist, and a booked one further on.
    let (early, from, full, later) = (&occs[0], &occs[2], &occs[3], &occs[7]);
    book(&mut c, &a[0], &early.slot);
    book(&mut c, &a[1], &from.slot);
    for athlete in &a[2..4] {
        book(&mut c, athlete, &full.slot);
    }
    join(&mut c, &a[4], &full.slot);
    book(&mut c, &a[5], &later.slot);

    // The same bookings and waitlist on a plain slot, cancelled by its trainer as any slot.
    let plain: String = ok(
        &mut c,
        &trainer,
        "INSERT INTO gym_booking.slots (trainer_id, start_at, duration_minutes, capacity)
         VALUES ($1::text::uuid, date_trunc('hour', now()) + interval '3 days 5 hours', 60, 2)
         RETURNING id::text",
        &[&people.trainer],
    )[0]
    .get(0);
    book(&mut c, &a[2], &plain);
    book(&mut c, &a[3], &plain);
    join(&mut c, &a[4], &plain);
    ok(
        &mut c,
        &trainer,
        "UPDATE gym_booking.slots SET cancelled_at = now() WHERE id = $1::text::uuid",
        &[&plain],
    );

    // An occurrence from the date on that is already under way (its start moved to ten
    // minutes ago by the DBA, as if the class were running now): a cancellation leaves it.
    let running = &occs[4];
    c.execute(
        "UPDATE gym_booking.slots SET start_at = now() - interval '10 minutes'
          WHERE id = $1::text::uuid",
        &[&running.slot],
    )
    .expect("the DBA moves an occurrence to ten minutes ago");

    let cancelled: i32 = ok(
        &mut c,
        &trainer,
        "SELECT gym_booking.cancel_series($1::text::uuid, $2::text::date)",
        &[&series, &from.date],
    )[0]
    .get(0);
    let now = occurrences(&mut c, &series);
    let from_date = Date::parse(&from.date);
    let expect_cancelled = now
        .iter()
        .filter(|o| Date::parse(&o.date) >= from_date && o.slot != running.slot)
        .count();
    assert_eq!(cancelled as usize, expect_cancelled, "cancel_series' count");
    for o in &now {
        assert_eq!(
            o.cancelled,
            Date::parse(&o.date) >= from_date && o.slot != running.slot,
            "{}: cancelled {} (from {from_date})",
            o.date,
            o.cancelled
        );
    }
    // Bookings and waitlist entries as a slot cancellation leaves them.
    assert_eq!(
        cascade_of(&mut c, &full.slot, &labels),
        cascade_of(&mut c, &plain, &labels),
        "a cancelled occurrence's bookings and waitlist vs a cancelled slot's"
    );
    let (bookings, entries) = cascade_of(&mut c, &full.slot, &labels);
    assert_eq!(
        bookings,
        [
            "athlete 3 cancelled auto=true",
            "athlete 4 cancelled auto=true"
        ],
        "the full occurrence's bookings"
    );
    assert_eq!(entries, ["athlete 5 expired"], "its waitlist");
    assert_eq!(
        events_of(&mut c, &full.slot, &labels)
            .into_iter()
            .filter(|e| !e.starts_with("booking_confirmed"))
            .collect::<Vec<_>>(),
        events_of(&mut c, &plain, &labels)
            .into_iter()
            .filter(|e| !e.starts_with("booking_confirmed"))
            .collect::<Vec<_>>(),
        "a cancelled occurrence's events vs a cancelled slot's"
    );
    let slot_cancelled = events_of(&mut c, &full.slot, &labels);
    assert!(
        slot_cancelled.contains(&"slot_cancelled to athlete 3".to_string())
            && slot_cancelled.contains(&"slot_cancelled to athlete 4".to_string()),
        "slot_cancelled events: {slot_cancelled:?}"
    );
    for (o, athlete) in [(from, "athlete 2"), (later, "athlete 6")] {
        assert_eq!(
            cascade_of(&mut c, &o.slot, &labels).0,
            [format!("{athlete} cancelled auto=true")]
        );
        assert!(
            events_of(&mut c, &o.slot, &labels).contains(&format!("slot_cancelled to {athlete}"))
        );
    }
    assert_eq!(
        cascade_of(&mut c, &early.slot, &labels).0,
        ["athlete 1 reserved auto=false"],
        "before the date, the booking stays"
    );
    // Nobody books a cancelled occurrence.
    let code = refused(
        &mut c,
        &user(&a[6]),
        "SELECT gym_booking.book_slot($1::text::uuid)",
        &[&later.slot],
    );
    assert!(
        code.starts_with("22") || code.starts_with("23"),
        "booking a cancelled occurrence: {code}"
    );

    // No more are made, however far the horizon grows; a cancelled series is not edited.
    common::set_horizon(&mut c, "366 days");
    let made: i32 = ok(
        &mut c,
        &service(),
        "SELECT gym_booking.extend_timetables()",
        &[],
    )[0]
    .get(0);
    assert_eq!(made, 0, "extend_timetables() after the cancellation");
    assert_eq!(occurrences(&mut c, &series).len(), now.len());
    let code = refused(
        &mut c,
        &trainer,
        "SELECT * FROM gym_booking.edit_series($1::text::uuid, local_start => '09:00')",
        &[&series],
    );
    assert_eq!(code, "22023", "editing a cancelled series");
    // Cancelling again from the same date cancels nothing more.
    let again: i32 = ok(
        &mut c,
        &trainer,
        "SELECT gym_booking.cancel_series($1::text::uuid, $2::text::date)",
        &[&series, &from.date],
    )[0]
    .get(0);
    assert_eq!(again, 0);
}

/// Trainers manage their own series, admins (and service_role) all; another trainer or an
/// athlete is refused (42501), an unknown series is 42704, anon cannot call the API.
pub fn who_may_manage_a_series() {
    let db = TestDb::with_extension("timetables_access");
    let mut c = db.connect();
    let people = common::people(&mut c, 1);
    let (series, _) = mwf_series(&mut c, &people.trainer);
    let unknown = "00000000-0000-4000-8000-000000000000";
    let edit_sql = "SELECT * FROM gym_booking.edit_series($1::text::uuid, local_start => '09:15')";
    let cancel_sql = "SELECT gym_booking.cancel_series($1::text::uuid, current_date + 30)";
    let before = common::digest(&mut c, &series);
    for (who, caller) in [
        ("another trainer", user(&people.other_trainer)),
        ("an athlete", user(&people.athletes[0])),
    ] {
        for sql in [edit_sql, cancel_sql] {
            assert_eq!(
                refused(&mut c, &caller, sql, &[&series]),
                "42501",
                "{who}: {sql}"
            );
            assert_eq!(
                refused(&mut c, &caller, sql, &[&unknown]),
                "42704",
                "{who}: unknown, {sql}"
            );
        }
        assert_eq!(
            refused(
                &mut c,
                &caller,
                "SELECT gym_booking.extend_timetables()",
                &[]
            ),
            "42501",
            "{who}: extend_timetables()"
        );
    }
    for sql in [
        edit_sql,
        cancel_sql,
        "SELECT gym_booking.extend_timetables()",
    ] {
        let params: &[&(dyn postgres::types::ToSql + Sync)] =
            if sql.contains("$1") { &[&series] } else { &[] };
        assert_eq!(
            refused(&mut c, &anon(), sql, params),
            "42501",
            "anon: {sql}"
        );
    }
    let create_for_tina =
        "SELECT id FROM gym_booking.create_series('{2}', '10:00', current_date + 3,
                               time_zone => 'Europe/Berlin', trainer_id => $1::text::uuid)";
    assert_eq!(
        refused(
            &mut c,
            &user(&people.other_trainer),
            create_for_tina,
            &[&people.trainer]
        ),
        "42501",
        "a trainer creating another trainer's series"
    );
    assert_eq!(
        refused(
            &mut c,
            &user(&people.athletes[0]),
            create_for_tina,
            &[&people.athletes[0]]
        ),
        "42501",
        "an athlete creating a series"
    );
    assert_eq!(
        before,
        common::digest(&mut c, &series),
        "a refused call changed the series"
    );
    assert_eq!(
        refused(&mut c, &user(&people.trainer), edit_sql, &[&unknown]),
        "42704",
        "the trainer, an unknown series"
    );

    // An admin edits any series (and creates one for a trainer); service_role too.
    let rows = ok(&mut c, &user(&people.admin), edit_sql, &[&series]);
    assert!(
        rows.iter()
            .all(|r| r.get::<_, String>("outcome") == "changed"),
        "admin's edit"
    );
    assert!(occurrences(&mut c, &series)
        .iter()
        .all(|o| o.local.ends_with("09:15")));
    ok(
        &mut c,
        &user(&people.admin),
        create_for_tina,
        &[&people.trainer],
    );
    ok(
        &mut c,
        &service(),
        "SELECT * FROM gym_booking.edit_series($1::text::uuid, local_start => '09:45')",
        &[&series],
    );
    assert!(occurrences(&mut c, &series)
        .iter()
        .all(|o| o.local.ends_with("09:45")));
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM gym_booking.series WHERE trainer_id = $1::text::uuid",
            &[&people.trainer],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 2, "the admin's series is the trainer's");
}

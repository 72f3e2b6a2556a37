//! A studio's history, random but seeded (`XorShift`): one to three trainers, months of slots
//! at any hour of the UTC day (so that late evening UTC is the next day in Europe/Berlin),
//! bookings of every status, attendance marks (some by the system, some excused, some no-shows
//! of bookings the gym cancelled afterwards), waitlist
//! entries in every state (a promoted booking now and then promoted twice), cancelled slots,
//! a deleted athlete. Written by the DBA as a restore writes it (row_security and
//! check_function_bodies off in a superuser session: the rules stand aside), with the copies
//! the rules would keep (`trainer_id`) written too, since no client may write the past.
//!
//! The strike settings are chosen so that the studio's daylight-saving change matters: the
//! strike window and the suspension span an odd number of changes, and two athletes' no-shows
//! sit where "now - strike_window" and "strike + suspension" differ by an hour between UTC and
//! studio-calendar arithmetic (see `attendance_reports.rs`, session time zones).

use chrono::{DateTime, Duration, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use gym_booking_integration::XorShift;
use postgres::Client;

pub const ZONE: &str = "Europe/Berlin";
pub const TZ: Tz = chrono_tz::Europe::Berlin;
const MINUTE: i64 = 60_000_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// How much history.
pub struct Shape {
    pub days_back: i64,
    pub days_ahead: i64,
    /// Slots per trainer and day: 0 to this many.
    pub max_slots_per_day: u64,
    pub athletes: usize,
}

/// Who is in the studio (ids), and when the history was written (µs since the epoch).
pub struct People {
    pub trainers: Vec<String>,
    pub athletes: Vec<String>,
    pub admin: String,
    pub deleted: String,
    pub now_us: i64,
}

fn uuid(rng: &mut XorShift) -> String {
    let (a, b) = (rng.next_u64(), rng.next_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

pub fn at(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).expect("a time chrono holds")
}

/// The studio's UTC offset (seconds) at an instant.
fn offset(us: i64) -> i32 {
    TZ.offset_from_utc_datetime(&at(us).naive_utc())
        .fix()
        .local_minus_utc()
}

/// How long the studio's day is, in hours: 23 or 25 when its clock changes.
pub fn day_length_hours(day: NaiveDate) -> i64 {
    let start = |d: NaiveDate| {
        TZ.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
            .earliest()
            .expect("midnight exists in the studio's zone")
            .timestamp()
    };
    (start(day + Duration::days(1)) - start(day)) / 3600
}

/// `us` minus `days` days on the studio's calendar (wall clock kept), in µs.
fn studio_days_before(us: i64, days: i64) -> i64 {
    let local = at(us).with_timezone(&TZ).naive_local() - Duration::days(days);
    TZ.from_local_datetime(&local)
        .earliest()
        .unwrap_or_else(|| TZ.from_utc_datetime(&local))
        .timestamp_micros()
}

/// Days from 20 on such that the studio's offset `days` before `from` differs from its offset
/// at `from`: an interval of that many days crosses an odd number of daylight-saving changes.
fn days_across_a_change(from: i64) -> i64 {
    (20..=366)
        .find(|d| offset(from - d * DAY) != offset(from))
        .expect("both offsets within a year")
}

struct Slot {
    id: String,
    trainer: usize,
    start: i64,
    minutes: i32,
    capacity: i32,
    cancelled: bool,
}

struct Booking {
    id: String,
    slot: usize,
    user: usize,
    status: &'static str,
}

struct Mark {
    booking: usize,
    mark: &'static str,
    by_trainer: bool,
    excused: bool,
}

struct Entry {
    slot: usize,
    user: usize,
    state: &'static str,
    booking: Option<usize>,
}

/// Makes the people, the settings and the history; returns who is who.
pub fn load(client: &mut Client, seed: u64, shape: &Shape) -> People {
    let mut rng = XorShift::new(seed);
    let now_us: i64 = client
        .query_one("SELECT (extract(epoch FROM now()) * 1e6)::bigint", &[])
        .unwrap()
        .get(0);
    let people = make_people(client, &mut rng, shape, now_us);

    // Settings: the studio's zone, and strikes whose window and suspension cross a change.
    let window_days = days_across_a_change(now_us);
    let suspension_days = days_across_a_change(now_us + DAY);
    let limit = 2 + rng.below(3) as i32;
    client
        .execute(
            "UPDATE gym_booking.studio_settings
                SET time_zone = $1, no_show_strike_limit = $2::int,
                    strike_window = make_interval(days => $3::int),
                    suspension = make_interval(days => $4::int)",
            &[
                &ZONE,
                &limit,
                &(window_days as i32),
                &(suspension_days as i32),
            ],
        )
        .expect("setup: settings");

    let mut slots: Vec<Slot> = Vec::new();
    let mut bookings: Vec<Booking> = Vec::new();
    let mut marks: Vec<Mark> = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    let today = at(now_us).date_naive();
    let athletes = people.athletes.len();
    let deleted = athletes; // index of the deleted athlete in `users` below
    for d in -shape.days_back..=shape.days_ahead {
        let day: NaiveDate = today + Duration::days(d);
        let midnight = day
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_micros();
        for trainer in 0..people.trainers.len() {
            for _ in 0..rng.below(shape.max_slots_per_day + 1) {
                let start = midnight + rng.below(96) as i64 * 15 * MINUTE;
                let minutes = [30, 45, 60, 90, 120][rng.below(5) as usize];
                let capacity = if rng.below(10) == 0 {
                    20
                } else {
                    1 + rng.below(8) as i32
                };
                let cancelled = rng.below(100) < 7;
                slots.push(Slot {
                    id: uuid(&mut rng),
                    trainer,
                    start,
                    minutes,
                    capacity,
                    cancelled,
                });
            }
        }
    }
    // The planted no-shows: athlete 1's one strike in the hour where "now - strike_window"
    // differs between UTC and the studio's calendar; athlete 2's `limit` strikes whose
    // suspension ends an hour apart in the two. (Athletes 3-6 are unreliable.)
    let boundary = (now_us - window_days * DAY + studio_days_before(now_us, window_days)) / 2;
    let suspending = (now_us - suspension_days * DAY + DAY) / HOUR * HOUR;
    let first_planted = slots.len();
    let mut planted: Vec<(usize, i64)> = vec![(1, boundary / MINUTE * MINUTE)];
    planted.extend((0..limit as i64).map(|k| (2, suspending - k * HOUR)));
    for &(athlete, start) in &planted {
        slots.push(Slot {
            id: uuid(&mut rng),
            trainer: 0,
            start,
            minutes: 60,
            capacity: 5,
            cancelled: false,
        });
        bookings.push(Booking {
            id: uuid(&mut rng),
            slot: slots.len() - 1,
            user: athlete,
            status: "completed",
        });
        marks.push(Mark {
            booking: bookings.len() - 1,
            mark: "no_show",
            by_trainer: true,
            excused: false,
        });
    }

    for (s, slot) in slots.iter().enumerate() {
        if s >= first_planted {
            continue; // a planted slot: its one booking is made
        }
        let started = slot.start <= now_us;
        let ended = slot.start + slot.minutes as i64 * MINUTE <= now_us;
        let mut pool: Vec<usize> = (0..=athletes)
            .filter(|&a| started || a != deleted)
            .collect();
        for i in (1..pool.len()).rev() {
            pool.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let wanted = rng.below(slot.capacity as u64 + 4) as usize;
        let mut held = 0;
        let first_booking = bookings.len();
        for &user in pool.iter().take(wanted) {
            let status = if slot.cancelled || rng.below(100) < 18 || held >= slot.capacity {
                "cancelled"
            } else {
                held += 1;
                if ended && rng.below(100) < 85 {
                    "completed"
                } else {
                    "reserved"
                }
            };
            bookings.push(Booking {
                id: uuid(&mut rng),
                slot: s,
                user,
                status,
            });
            if status == "cancelled" && started && !slot.cancelled && rng.below(100) < 25 {
                // Marked a no-show, then cancelled by the gym: no place, no strike.
                marks.push(Mark {
                    booking: bookings.len() - 1,
                    mark: "no_show",
                    by_trainer: true,
                    excused: false,
                });
            } else if status != "cancelled" && started {
                let unreliable = (3..=6).contains(&user);
                let u = rng.below(100);
                let mark = if u < if unreliable { 45 } else { 10 } {
                    Some("no_show")
                } else if u < 85 {
                    Some("attended")
                } else {
                    None
                };
                if let Some(mark) = mark {
                    marks.push(Mark {
                        booking: bookings.len() - 1,
                        mark,
                        by_trainer: rng.below(5) > 0,
                        excused: mark == "no_show" && rng.below(100) < 15,
                    });
                }
            }
        }
        // Waitlist entries: promotions into some of the slot's bookings (now and then the
        // same booking promoted twice), and athletes who left, expired or still wait.
        if rng.below(100) < (if slot.cancelled { 20 } else { 35 }) {
            let booked: Vec<usize> = (first_booking..bookings.len()).collect();
            for &b in booked.iter().take(rng.below(3) as usize) {
                let times = if rng.below(10) == 0 { 2 } else { 1 };
                for _ in 0..times {
                    entries.push(Entry {
                        slot: s,
                        user: bookings[b].user,
                        state: "promoted",
                        booking: Some(b),
                    });
                }
            }
            for &user in pool.iter().skip(wanted).take(rng.below(3) as usize) {
                let state = match rng.below(3) {
                    0 if !started && !slot.cancelled && user != deleted => "waiting",
                    1 => "left",
                    _ if started || slot.cancelled => "expired",
                    _ => "left",
                };
                entries.push(Entry {
                    slot: s,
                    user,
                    state,
                    booking: None,
                });
            }
        }
    }
    write(client, &people, &slots, &bookings, &marks, &entries);
    people
}

fn make_people(client: &mut Client, rng: &mut XorShift, shape: &Shape, now_us: i64) -> People {
    const LAST: [&str; 8] = [
        "Becker", "Schmidt", "Yilmaz", "Nowak", "Rossi", "Dubois", "Svensson", "Okafor",
    ];
    let trainers = 1 + rng.below(3) as i32;
    let names: Vec<String> = (0..trainers)
        .map(|_| LAST[rng.below(LAST.len() as u64) as usize].to_string())
        .collect();
    let trainer_ids = client
        .query(
            "INSERT INTO gym_booking.users (email, password_hash, first_name, last_name, role,
                                            contact_email)
             SELECT format('report.trainer%s@example.com', g), 'x', format('Trainer %s', g),
                    ($1::text[])[g], 'trainer', format('report.trainer%s@example.com', g)
               FROM generate_series(1, $2::int) AS g ORDER BY g
             RETURNING id::text",
            &[&names, &trainers],
        )
        .expect("setup: trainers")
        .iter()
        .map(|r| r.get(0))
        .collect();
    // Athletes, a few without a last name; then one more, deleted (anonymized) before any of
    // the history is written.
    let last: Vec<Option<String>> = (0..=shape.athletes)
        .map(|_| {
            (rng.below(6) > 0).then(|| LAST[rng.below(LAST.len() as u64) as usize].to_string())
        })
        .collect();
    let mut athletes: Vec<String> = client
        .query(
            "INSERT INTO gym_booking.users (email, password_hash, first_name, last_name)
             SELECT format('report.athlete%s@example.com', g), 'x', format('Athlete %s', g),
                    ($1::text[])[g]
               FROM generate_series(1, $2::int) AS g ORDER BY g
             RETURNING id::text",
            &[&last, &(shape.athletes as i32 + 1)],
        )
        .expect("setup: athletes")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let deleted = athletes.pop().unwrap();
    client
        .execute(
            "DELETE FROM gym_booking.users WHERE id = $1::text::uuid",
            &[&deleted],
        )
        .expect("setup: delete an athlete");
    let admin = client
        .query_one(
            "INSERT INTO gym_booking.users (email, password_hash, first_name, role)
             VALUES ('report.admin@example.com', 'x', 'Ada', 'admin') RETURNING id::text",
            &[],
        )
        .expect("setup: admin")
        .get(0);
    People {
        trainers: trainer_ids,
        athletes,
        admin,
        deleted,
        now_us,
    }
}

/// Writes the history in one restore-mode transaction, then ANALYZEs (as autovacuum would).
fn write(
    client: &mut Client,
    people: &People,
    slots: &[Slot],
    bookings: &[Booking],
    marks: &[Mark],
    entries: &[Entry],
) {
    let user = |i: usize| {
        if i == people.athletes.len() {
            people.deleted.clone()
        } else {
            people.athletes[i].clone()
        }
    };
    let trainer_of = |s: usize| people.trainers[slots[s].trainer].clone();
    let mut tx = client.transaction().unwrap();
    tx.batch_execute("SET LOCAL row_security = off; SET LOCAL check_function_bodies = false")
        .unwrap();
    tx.execute(
        "INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes,
                                        capacity, cancelled_at, created_at, updated_at)
         SELECT id::uuid, trainer::uuid, to_timestamp(start / 1000000),
                to_timestamp(start / 1000000) + make_interval(mins => minutes), minutes, capacity,
                CASE WHEN cancelled THEN least(to_timestamp(start / 1000000) - interval '1 day', now()) END,
                to_timestamp(start / 1000000) - interval '20 days',
                to_timestamp(start / 1000000) - interval '20 days'
           FROM unnest($1::text[], $2::text[], $3::int8[], $4::int4[], $5::int4[], $6::bool[])
                AS t(id, trainer, start, minutes, capacity, cancelled)",
        &[
            &slots.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
            &(0..slots.len()).map(trainer_of).collect::<Vec<_>>(),
            &slots.iter().map(|s| s.start).collect::<Vec<_>>(),
            &slots.iter().map(|s| s.minutes).collect::<Vec<_>>(),
            &slots.iter().map(|s| s.capacity).collect::<Vec<_>>(),
            &slots.iter().map(|s| s.cancelled).collect::<Vec<_>>(),
        ],
    )
    .expect("history: slots");
    tx.execute(
        "INSERT INTO gym_booking.bookings (id, slot_id, user_id, status, trainer_id, created_at,
                                           updated_at, status_changed_at)
         SELECT t.id::uuid, t.slot::uuid, t.usr::uuid, t.status::gym_booking.booking_status,
                t.trainer::uuid, s.start_at - interval '5 days', s.start_at - interval '5 days',
                least(s.start_at, now())
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
                AS t(id, slot, usr, status, trainer)
           JOIN gym_booking.slots AS s ON s.id = t.slot::uuid",
        &[
            &bookings.iter().map(|b| b.id.clone()).collect::<Vec<_>>(),
            &bookings
                .iter()
                .map(|b| slots[b.slot].id.clone())
                .collect::<Vec<_>>(),
            &bookings.iter().map(|b| user(b.user)).collect::<Vec<_>>(),
            &bookings
                .iter()
                .map(|b| b.status.to_string())
                .collect::<Vec<_>>(),
            &bookings
                .iter()
                .map(|b| trainer_of(b.slot))
                .collect::<Vec<_>>(),
        ],
    )
    .expect("history: bookings");
    tx.execute(
        "INSERT INTO gym_booking.attendance (booking_id, user_id, slot_id, trainer_id, mark,
                                             strike_at, marked_at, marked_by, excused_at, excused_by)
         SELECT b.id, b.user_id, b.slot_id, s.trainer_id, t.mark::gym_booking.attendance_mark,
                s.start_at, least(s.start_at + interval '10 minutes', now()),
                CASE WHEN t.by_trainer THEN s.trainer_id END,
                CASE WHEN t.excused THEN least(s.end_at + interval '1 day', now()) END,
                CASE WHEN t.excused THEN $5::text::uuid END
           FROM unnest($1::text[], $2::text[], $3::bool[], $4::bool[])
                AS t(booking, mark, by_trainer, excused)
           JOIN gym_booking.bookings AS b ON b.id = t.booking::uuid
           JOIN gym_booking.slots AS s ON s.id = b.slot_id",
        &[
            &marks.iter().map(|m| bookings[m.booking].id.clone()).collect::<Vec<_>>(),
            &marks.iter().map(|m| m.mark.to_string()).collect::<Vec<_>>(),
            &marks.iter().map(|m| m.by_trainer).collect::<Vec<_>>(),
            &marks.iter().map(|m| m.excused).collect::<Vec<_>>(),
            &people.admin,
        ],
    )
    .expect("history: attendance");
    tx.execute(
        "INSERT INTO gym_booking.waitlist_entries (slot_id, user_id, trainer_id, joined_at, state,
                                                   ended_at, booking_id)
         SELECT s.id, t.usr::uuid, s.trainer_id, s.start_at - interval '3 days',
                t.state::gym_booking.waitlist_state,
                CASE WHEN t.state <> 'waiting' THEN least(s.start_at - interval '2 days', now()) END,
                t.booking::uuid
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(slot, usr, state, booking)
           JOIN gym_booking.slots AS s ON s.id = t.slot::uuid",
        &[
            &entries.iter().map(|e| slots[e.slot].id.clone()).collect::<Vec<_>>(),
            &entries.iter().map(|e| user(e.user)).collect::<Vec<_>>(),
            &entries.iter().map(|e| e.state.to_string()).collect::<Vec<_>>(),
            &entries
                .iter()
                .map(|e| e.booking.map(|b| bookings[b].id.clone()))
                .collect::<Vec<Option<String>>>(),
        ],
    )
    .expect("history: waitlist entries");
    tx.commit().unwrap();
    client.batch_execute("ANALYZE").unwrap();
}

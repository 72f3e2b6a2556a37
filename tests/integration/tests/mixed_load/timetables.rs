//! Timetables under the load (0.2.1): trainers create, edit and cancel their weekly series
//! (in Berlin, New York, Sydney or UTC), the back office keeps timetables ahead, athletes book
//! occurrences; their occurrences join the slots every other request picks (resized, moved,
//! cancelled by hand, booked, waited for). Checked afterwards: no occurrence moved while it held
//! a booking its athlete saw (the booking unchanged since, its slot's start is the one the
//! athlete was shown), one occurrence per series and date, every series a request was told of.

use postgres::Client;

use super::{pick, Session, Slot};

/// The zones series are made in.
const ZONES: [&str; 4] = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "UTC",
];

/// What an athlete was shown when booking an occurrence: the booking, its row version
/// (`xmin`) and the slot's start (epoch seconds) in the same transaction, after the booking
/// took its place. While that booking row is not changed again, the slot must start then.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    booking: String,
    slot: String,
    xmin: String,
    start: i64,
}

impl Session<'_> {
    /// A trainer's request on their timetable: create (most), edit, cancel.
    pub(crate) fn timetable_turn(&mut self) {
        match self.rng.below(20) {
            0..=8 => self.create_series(),
            9..=17 => self.edit_series(),
            _ => self.cancel_series(),
        }
    }

    fn create_series(&mut self) {
        let Some(trainer) = pick(&mut self.rng, &self.studio.trainers) else {
            return;
        };
        let n = self.rng.between(1, 3);
        let weekdays: Vec<i32> = (0..n).map(|_| self.rng.between(1, 7)).collect();
        let start = format!(
            "{:02}:{:02}",
            self.rng.between(6, 21),
            15 * self.rng.between(0, 3)
        );
        let (first, weeks) = (self.rng.between(-2, 3), self.rng.between(1, 4));
        let last = (self.rng.below(4) > 0).then_some(first + 7 * weeks - 1);
        let zone = ZONES[self.rng.below(ZONES.len() as u64) as usize];
        let capacity = self.rng.between(1, 6);
        let sql = "SELECT s.id::text,
                          array(SELECT o.id::text FROM gym_booking.slots AS o WHERE o.series_id = s.id)
                     FROM gym_booking.create_series(weekdays => $1::int4[], local_start => $2::text::time,
                              first_date => current_date + $3::int4,
                              last_date => current_date + $4::int4, capacity => $5::int4,
                              notes => 'mixed load', time_zone => $6::text) AS s";
        let answer = self.request(
            "trainer creates series",
            Some(&trainer),
            "POST /rpc/create_series",
            |tx| tx.query_one(sql, &[&weekdays, &start, &first, &last, &capacity, &zone]),
        );
        let Some(row) = answer else { return };
        let (id, occurrences): (String, Vec<String>) = (row.get(0), row.get(1));
        self.studio
            .series
            .lock()
            .unwrap()
            .push((id, trainer.clone()));
        // One occurrence joins the slots every request picks from (resized, moved, cancelled
        // by hand, booked, waited for); all of them would crowd out the booked slots that
        // waitlists form at.
        if let Some(id) = occurrences.into_iter().next() {
            self.studio.slots.lock().unwrap().push(Slot { id, trainer });
        }
    }

    /// Its trainer edits a series: the start, the weekdays, the capacity or the notes; an
    /// occurrence it made joins the slots everyone uses.
    fn edit_series(&mut self) {
        let Some((series, trainer)) = pick(&mut self.rng, &self.studio.series) else {
            return;
        };
        let (mut start, mut weekdays, mut capacity, mut notes) = (None, None, None, None);
        match self.rng.below(4) {
            0 => {
                start = Some(format!(
                    "{:02}:{:02}",
                    self.rng.between(6, 21),
                    15 * self.rng.between(0, 3)
                ))
            }
            1 => {
                let n = self.rng.between(1, 4);
                weekdays = Some((0..n).map(|_| self.rng.between(1, 7)).collect::<Vec<i32>>())
            }
            2 => capacity = Some(self.rng.between(1, 8)),
            _ => notes = Some(format!("mixed load {}", self.rng.below(100))),
        }
        let sql = "SELECT e.slot_id::text, e.outcome
                     FROM gym_booking.edit_series(series_id => $1::text::uuid,
                              weekdays => $2::int4[], local_start => $3::text::time,
                              capacity => $4::int4, notes => $5::text) AS e";
        let answer = self.request(
            "trainer edits series",
            Some(&trainer),
            "POST /rpc/edit_series",
            |tx| tx.query(sql, &[&series, &weekdays, &start, &capacity, &notes]),
        );
        let Some(rows) = answer else { return };
        let mut created = None;
        for row in rows {
            let (slot, outcome): (String, String) = (row.get(0), row.get(1));
            self.count("(edit outcomes)", &outcome);
            if outcome == "created" {
                created = Some(slot);
            }
        }
        if let Some(id) = created {
            self.studio.slots.lock().unwrap().push(Slot { id, trainer });
        }
    }

    fn cancel_series(&mut self) {
        let Some((series, trainer)) = pick(&mut self.rng, &self.studio.series) else {
            return;
        };
        let days = self.rng.between(0, 10);
        let sql = "SELECT gym_booking.cancel_series($1::text::uuid, current_date + $2::int4)";
        self.request(
            "trainer cancels series",
            Some(&trainer),
            "POST /rpc/cancel_series",
            |tx| tx.query_one(sql, &[&series, &days]),
        );
    }

    /// The back office keeps every series' occurrences ahead (as the background worker does
    /// each round); what it makes is found by the next create or edit of the same series.
    pub(crate) fn extend_timetables(&mut self) {
        let sql = "SELECT gym_booking.extend_timetables()";
        self.request(
            "back office extends timetables",
            None,
            "POST /rpc/extend_timetables",
            |tx| tx.query_one(sql, &[]),
        );
    }

    /// An athlete books an occurrence (of the newest series mostly) and is shown its start.
    pub(crate) fn book_occurrence(&mut self, athlete: &str) {
        let Some((series, _)) = pick(&mut self.rng, &self.studio.series) else {
            return;
        };
        // Its next open occurrence, as the app lists it (GET /slots?series_id=eq....).
        let next = "SELECT o.id::text FROM gym_booking.slots AS o
                     WHERE o.series_id = $1::text::uuid AND o.cancelled_at IS NULL
                       AND o.start_at > now()
                     ORDER BY o.start_at LIMIT 1";
        let sql = "SELECT b.id::text, b.slot_id::text, b.status::text
                     FROM gym_booking.book_slot($1::text::uuid) AS b";
        // Read after book_slot holds the slot (a second statement): what the athlete is shown.
        let shown = "SELECT b.xmin::text, extract(epoch FROM s.start_at)::int8
                       FROM gym_booking.bookings AS b JOIN gym_booking.slots AS s ON s.id = b.slot_id
                      WHERE b.id = $1::text::uuid";
        const OP: &str = "athlete books occurrence";
        let answer = self.attempt(OP, Some(athlete), "POST /rpc/book_slot", |tx| {
            let Some(next) = tx.query_opt(next, &[&series])? else {
                return Ok(None);
            };
            let row = tx.query_one(sql, &[&next.get::<_, String>(0)])?;
            let (id, slot, status): (String, String, String) = (row.get(0), row.get(1), row.get(2));
            let seen = tx.query_one(shown, &[&id])?;
            Ok(Some((id, slot, status, seen.get(0), seen.get(1))))
        });
        let Some(answer) = answer else { return };
        let Some((booking, slot, status, xmin, start)) = answer else {
            self.count(OP, super::NO_ROW);
            return;
        };
        self.count(OP, super::OK);
        if status != "reserved" {
            self.anomaly(format!(
                "book_slot(occurrence {slot}) by {athlete}: {status}"
            ));
        }
        self.studio.seen.lock().unwrap().push(Seen {
            booking: booking.clone(),
            slot: slot.clone(),
            xmin,
            start,
        });
        self.studio.bookings.lock().unwrap().push(super::Booking {
            id: booking,
            slot,
            user: athlete.to_string(),
        });
    }
}

/// The timetables' checks after the load.
pub(crate) fn broken_timetables(
    client: &mut Client,
    seen: &[Seen],
    series: &[String],
) -> Vec<String> {
    let mut broken = Vec::new();
    // A booking row unchanged since its athlete was shown the start, still reserved: its
    // occurrence never moved (an edit, or a trainer's hand, moved only unbooked ones).
    let (mut moved, mut unchanged) = (Vec::new(), 0);
    for s in seen {
        let row = client
            .query_one(
                "SELECT b.xmin::text, b.status::text, extract(epoch FROM o.start_at)::int8
                   FROM gym_booking.bookings AS b JOIN gym_booking.slots AS o ON o.id = b.slot_id
                  WHERE b.id = $1::text::uuid",
                &[&s.booking],
            )
            .expect("read a booking of an occurrence");
        let (xmin, status, start): (String, String, i64) = (row.get(0), row.get(1), row.get(2));
        let held = xmin == s.xmin && status == "reserved";
        unchanged += usize::from(held);
        if held && start != s.start {
            moved.push(format!(
                "occurrence {} of booking {} starts at {start}, its athlete was shown {}",
                s.slot, s.booking, s.start
            ));
        }
    }
    // A check that looked at no booking proves nothing.
    if unchanged == 0 {
        broken.push(format!(
            "none of the {} bookings of occurrences stayed as their athlete saw them",
            seen.len()
        ));
    }
    if !moved.is_empty() {
        broken.push(format!(
            "an occurrence moved while it held a reserved booking: {} e.g. {:?}",
            moved.len(),
            &moved[..moved.len().min(5)]
        ));
    }
    let checks: [(&str, &str); 4] = [
        (
            "two occurrences of a series on one date",
            "SELECT series_id || ' ' || series_date FROM gym_booking.slots
              WHERE series_id IS NOT NULL GROUP BY series_id, series_date HAVING count(*) > 1",
        ),
        (
            "an occurrence has another trainer than its series",
            "SELECT o.id::text FROM gym_booking.slots AS o
               JOIN gym_booking.series AS s ON s.id = o.series_id WHERE o.trainer_id <> s.trainer_id",
        ),
        (
            "an occurrence of a cancelled series on or after its date, starting after the \
             cancellation, is not cancelled",
            "SELECT o.id::text FROM gym_booking.slots AS o
               JOIN gym_booking.series AS s ON s.id = o.series_id
              WHERE s.cancelled_from IS NOT NULL AND o.series_date >= s.cancelled_from
                AND o.cancelled_at IS NULL AND o.start_at > s.updated_at",
        ),
        (
            "a reserved booking in a cancelled occurrence",
            "SELECT b.id::text FROM gym_booking.bookings AS b
               JOIN gym_booking.slots AS o ON o.id = b.slot_id
              WHERE o.series_id IS NOT NULL AND o.cancelled_at IS NOT NULL AND b.status = 'reserved'",
        ),
    ];
    for (name, sql) in checks {
        let rows = client
            .query(sql, &[])
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        if !rows.is_empty() {
            let some: Vec<String> = rows.iter().take(5).map(|r| r.get(0)).collect();
            broken.push(format!("{name}: {} row(s), e.g. {some:?}", rows.len()));
        }
    }
    let stored: Vec<String> = client
        .query("SELECT id::text FROM gym_booking.series", &[])
        .expect("read the series")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let lost: Vec<&String> = series.iter().filter(|s| !stored.contains(s)).collect();
    if !lost.is_empty() {
        broken.push(format!(
            "{} series create_series returned are gone: {:?}",
            lost.len(),
            &lost[..lost.len().min(10)]
        ));
    }
    broken
}

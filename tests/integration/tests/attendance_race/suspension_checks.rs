//! The checks of the suspension races (`suspension.rs`): what the clients were told, what the
//! tables hold, and the athlete's suspension after each round.

use std::collections::BTreeSet;

use gym_booking_integration::postgrest_request;
use postgres::{Client, Transaction};

use super::{Job, Phase, Studio, SUSPENDED, SUSPENDED_MESSAGE};
use crate::common::{user, Answer, Failure, Level, SERIALIZATION_FAILURE};

/// What an accepted request made: a reserved booking or a waiting entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Made {
    Booking(String),
    Entry(String),
}

/// The athlete's holdings in the race's slots, as one snapshot saw them.
#[derive(Clone, Debug, Default)]
pub(super) struct Holdings {
    pub(super) bookings: BTreeSet<String>,
    pub(super) entries: BTreeSet<String>,
}

impl Holdings {
    fn holds(&self, made: &Made) -> bool {
        match made {
            Made::Booking(id) => self.bookings.contains(id),
            Made::Entry(id) => self.entries.contains(id),
        }
    }
}

/// What the trainer's no-show transaction saw and was told.
#[derive(Debug, Default)]
pub(super) struct NoShow {
    pub(super) answer: Option<Answer<String>>,
    /// Held phase: sessions that had answered before the no-show committed, and how many
    /// waited on a lock when it did.
    pub(super) answered_early: Vec<usize>,
    pub(super) waiting_at_commit: usize,
    /// Read while the no-show held the athlete's row, after its mark (`Free`: of the attempt
    /// that committed).
    pub(super) during: Option<Holdings>,
    /// A REPEATABLE READ snapshot taken right after the commit.
    pub(super) after: Option<Holdings>,
}

impl Studio {
    /// After the round: three strikes, suspended until a week after the third no-show's slot
    /// started; a booking now is refused with SPEC's SQLSTATE and message, its DETAIL saying
    /// until when (the rest of its wording: `refusal_wording`); the athlete was told of each
    /// no-show once, the third with the suspension.
    pub(super) fn check_suspended(
        &mut self,
        athlete: &str,
        third: &str,
        problems: &mut Vec<String>,
    ) {
        let row = self
            .dba
            .query_one(
                "SELECT x.strikes, x.suspended_until = s.start_at + interval '7 days',
                        x.suspended_until::text,
                        to_char((s.start_at + interval '7 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')
                   FROM gym_booking.athlete_suspension($1::text::uuid) AS x,
                        gym_booking.bookings AS b JOIN gym_booking.slots AS s ON s.id = b.slot_id
                  WHERE b.id = $2::text::uuid",
                &[&athlete, &third],
            )
            .expect("athlete_suspension after the round");
        let (strikes, until_right, until, expected_until): (
            i64,
            Option<bool>,
            Option<String>,
            String,
        ) = (row.get(0), row.get(1), row.get(2), row.get(3));
        if strikes != 3 || until_right != Some(true) {
            problems.push(format!(
                "after the round athlete_suspension says {strikes} strikes, suspended until {until:?}; \
                 expected 3, until {expected_until} UTC (the third no-show's start + 7 days)"
            ));
        }
        let events: Vec<(String, Option<String>)> = self
            .dba
            .query(
                "SELECT booking_id::text, payload->>'suspended_until' FROM gym_booking.events
                  WHERE recipient_id = $1::text::uuid AND kind = 'no_show_recorded' ORDER BY id",
                &[&athlete],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        if events.len() != 3
            || events[2].0 != third
            || events[2].1.is_none()
            || events[..2].iter().any(|e| e.1.is_some())
        {
            problems.push(format!(
                "the athlete's no_show_recorded events {events:?}: expected three, only the third \
                 ({third}) with suspended_until"
            ));
        }
        // A probe after the race, one request on its own.
        let slot: String = self
            .dba
            .query_one(
                "INSERT INTO gym_booking.slots (trainer_id, start_at, duration_minutes, capacity)
                 VALUES ($1::text::uuid, date_trunc('hour', now()) + interval '2 days', 60, 5)
                 RETURNING id::text",
                &[&self.trainer],
            )
            .unwrap()
            .get(0);
        let probe = postgrest_request(
            &mut self.dba,
            &user(athlete),
            "POST",
            "/rpc/book_slot",
            |tx| tx.execute("SELECT gym_booking.book_slot($1::text::uuid)", &[&slot]),
        );
        // Until when, in the studio's time (UTC here); the rest of the DETAIL's wording is
        // `the_refusal_reads_as_spec`'s.
        let until_when = format!("Suspended until {expected_until} (UTC)");
        match probe {
            Ok(_) => problems.push("after the round the suspended athlete booked a slot".into()),
            Err(e) => {
                let f = Failure::of(&e);
                if f.code != SUSPENDED
                    || f.message != SUSPENDED_MESSAGE
                    || !f
                        .detail
                        .as_deref()
                        .is_some_and(|d| d.starts_with(&until_when))
                {
                    problems.push(format!(
                        "the suspended athlete's booking was refused with {}; SPEC.md: {SUSPENDED} \
                         {SUSPENDED_MESSAGE} (DETAIL: {until_when}...)",
                        f.show()
                    ));
                }
            }
        }
    }
}

/// The athlete's reserved bookings of slots to come and waiting entries, by the DBA (no
/// row-level security); at REPEATABLE READ when `repeatable`.
pub(super) fn observe(client: &mut Client, athlete: &str, repeatable: bool) -> Holdings {
    let mut tx = if repeatable {
        client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .start()
    } else {
        client.transaction()
    }
    .expect("observer: begin");
    let ids = |tx: &mut Transaction<'_>, sql: &str| -> BTreeSet<String> {
        tx.query(sql, &[&athlete])
            .expect("observer: read")
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let bookings = ids(
        &mut tx,
        "SELECT b.id::text FROM gym_booking.bookings AS b JOIN gym_booking.slots AS s ON s.id = b.slot_id
          WHERE b.user_id = $1::text::uuid AND b.status = 'reserved' AND s.start_at > now()",
    );
    let entries = ids(
        &mut tx,
        "SELECT id::text FROM gym_booking.waitlist_entries
          WHERE user_id = $1::text::uuid AND state = 'waiting'",
    );
    tx.commit().expect("observer: commit");
    Holdings { bookings, entries }
}

/// What the clients were told.
pub(super) fn check_answers(
    phase: Phase,
    level: Level,
    jobs: &[Job],
    answers: &[Answer<Made>],
    no_show: &NoShow,
    problems: &mut Vec<String>,
) {
    match no_show.answer.as_ref().map(|a| &a.result) {
        Some(Ok(mark)) if mark == "no_show" => {}
        other => problems.push(format!("the trainer's no-show was answered {other:?}")),
    }
    for (i, (job, a)) in jobs.iter().zip(answers).enumerate() {
        if level == Level::ReadCommitted && a.retries > 0 {
            problems.push(format!("session {i} ({job:?}) met 40001 at READ COMMITTED"));
        }
        match &a.result {
            Ok(made) if phase == Phase::Held => problems.push(format!(
                "session {i} ({job:?}) started after the suspending no-show's mark and was accepted: {made:?}"
            )),
            Ok(made) => {
                let same_row = match (job, made) {
                    (Job::Reactivate { booking, .. } | Job::Patch { booking }, Made::Booking(id)) => {
                        id == booking
                    }
                    (Job::Join { .. }, Made::Entry(_)) => true,
                    (Job::Book { .. } | Job::Insert { .. }, Made::Booking(_)) => true,
                    _ => false,
                };
                if !same_row {
                    problems.push(format!("session {i} ({job:?}) was answered {made:?}"));
                }
            }
            Err(f) if f.code == SUSPENDED => {
                if f.message != SUSPENDED_MESSAGE
                    || !f.detail.as_deref().is_some_and(|d| d.starts_with("Suspended until "))
                {
                    problems.push(format!("session {i} ({job:?}): 28000 reads {}", f.show()));
                }
            }
            Err(f) if f.code == SERIALIZATION_FAILURE && level == Level::RepeatableRead => {
                // A retried request that still met 40001 after every attempt: acceptable, rare.
            }
            Err(f) => problems.push(format!("session {i} ({job:?}) was told {}", f.show())),
        }
    }
    if phase == Phase::Held && !no_show.answered_early.is_empty() {
        problems.push(format!(
            "sessions {:?} answered while the suspending no-show was still open (they never \
             waited for the athlete's row); {} were waiting on a lock",
            no_show.answered_early, no_show.waiting_at_commit
        ));
    }
}

/// What the tables say against what the clients were told.
pub(super) fn check_state(
    phase: Phase,
    answers: &[Answer<Made>],
    no_show: &NoShow,
    end: &Holdings,
    problems: &mut Vec<String>,
) {
    let accepted: Vec<&Made> = answers
        .iter()
        .filter_map(|a| a.result.as_ref().ok())
        .collect();
    // Every accepted request committed before the no-show did.
    if let (Some(during), Some(after)) = (&no_show.during, &no_show.after) {
        for made in &accepted {
            if !during.holds(made) {
                problems.push(format!(
                    "{made:?} was accepted but had not committed when the no-show held the athlete's \
                     row after its mark (it committed after the suspending no-show)"
                ));
            }
            if !after.holds(made) {
                problems.push(format!(
                    "{made:?} was accepted but is not visible to a snapshot taken right after the \
                     no-show's commit"
                ));
            }
        }
        if !during.bookings.is_subset(&after.bookings) || !during.entries.is_subset(&after.entries)
        {
            problems.push(format!(
                "the athlete's holdings shrank across the no-show's commit: {during:?} then {after:?}"
            ));
        }
    } else if phase == Phase::Free {
        problems.push("the no-show never committed a mark: no reading to compare".into());
    }
    // The tables hold exactly what was accepted; a refused request left nothing.
    let expected = Holdings {
        bookings: accepted
            .iter()
            .filter_map(|m| match m {
                Made::Booking(id) => Some(id.clone()),
                Made::Entry(_) => None,
            })
            .collect(),
        entries: accepted
            .iter()
            .filter_map(|m| match m {
                Made::Entry(id) => Some(id.clone()),
                Made::Booking(_) => None,
            })
            .collect(),
    };
    if expected.bookings != end.bookings || expected.entries != end.entries {
        problems.push(format!(
            "after the round the athlete holds {end:?}; the clients were told of {expected:?}"
        ));
    }
}

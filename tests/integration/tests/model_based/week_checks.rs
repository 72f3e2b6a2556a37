//! What is compared after each step for 0.2.0: the waitlist's invariants over the whole
//! database, the promise that no free place waits while an eligible athlete does, every
//! entry, the settings, and the events the step wrote.

use super::*;
use postgres::fallible_iterator::FallibleIterator;

/// The waitlist's invariants, as violations (none: all hold).
pub(crate) const WEEK_INVARIANTS: &str = "
WITH w AS (SELECT * FROM gym_booking.waitlist_entries)
SELECT format('athlete %s has %s waiting entries for slot %s', user_id, count(*), slot_id)
  FROM w WHERE state = 'waiting' GROUP BY slot_id, user_id HAVING count(*) > 1
UNION ALL
SELECT format('athlete %s waits for slot %s (entry %s) while holding its reserved booking %s',
              w.user_id, w.slot_id, w.id, b.id)
  FROM w JOIN gym_booking.bookings AS b ON b.slot_id = w.slot_id AND b.user_id = w.user_id
 WHERE w.state = 'waiting' AND b.status = 'reserved'
UNION ALL
SELECT format('entry %s still waits for cancelled slot %s', w.id, w.slot_id)
  FROM w JOIN gym_booking.slots AS s ON s.id = w.slot_id
 WHERE w.state = 'waiting' AND s.cancelled_at IS NOT NULL
UNION ALL
SELECT format('entry %s of deleted account %s still waits', w.id, w.user_id)
  FROM w JOIN gym_booking.users AS u ON u.id = w.user_id
 WHERE w.state = 'waiting' AND u.deleted_at IS NOT NULL
UNION ALL
SELECT format('entry %s is %s with ended_at %s', w.id, w.state, w.ended_at)
  FROM w WHERE (w.state = 'waiting') = (w.ended_at IS NOT NULL)
UNION ALL
SELECT format('entry %s has trainer_id %s; its slot %s has trainer %s',
              w.id, w.trainer_id, s.id, s.trainer_id)
  FROM w JOIN gym_booking.slots AS s ON s.id = w.slot_id
 WHERE w.trainer_id IS DISTINCT FROM s.trainer_id
UNION ALL
SELECT format('promoted entry %s (slot %s, athlete %s) points at booking %s, not at theirs',
              w.id, w.slot_id, w.user_id, w.booking_id)
  FROM w LEFT JOIN gym_booking.bookings AS b ON b.id = w.booking_id
 WHERE w.state = 'promoted'
   AND (b.id IS NULL OR b.slot_id <> w.slot_id OR b.user_id <> w.user_id)
UNION ALL
SELECT format('promoted entry %s: its booking %s has no activity_logs row', w.id, w.booking_id)
  FROM w
 WHERE w.state = 'promoted'
   AND NOT EXISTS (SELECT FROM gym_booking.activity_logs AS l
                    WHERE l.entity_type = 'booking' AND l.entity_id = w.booking_id)
UNION ALL
SELECT format('promoted entry %s: no waitlist_promoted or booking_confirmed event to %s about booking %s',
              w.id, w.user_id, w.booking_id)
  FROM w
 WHERE w.state = 'promoted'
   AND NOT EXISTS (SELECT FROM gym_booking.events AS e
                    WHERE e.booking_id = w.booking_id AND e.recipient_id = w.user_id
                      AND e.kind IN ('waitlist_promoted', 'booking_confirmed'))
UNION ALL
SELECT format('waitlist_promoted event %s (athlete %s, slot %s, booking %s): no promoted entry of theirs points at the booking',
              e.id, e.recipient_id, e.slot_id, e.booking_id)
  FROM gym_booking.events AS e
 WHERE e.kind = 'waitlist_promoted'
   AND NOT EXISTS (SELECT FROM w
                    WHERE w.booking_id = e.booking_id AND w.user_id = e.recipient_id
                      AND w.slot_id = e.slot_id AND w.state = 'promoted')
UNION ALL
SELECT format('waitlist_promoted event %s re-activated booking %s, but its history shows no automatic change to reserved',
              e.id, e.booking_id)
  FROM gym_booking.events AS e
 WHERE e.kind = 'waitlist_promoted'
   AND EXISTS (SELECT FROM gym_booking.booking_status_history AS h
                WHERE h.booking_id = e.booking_id AND h.changed_at < e.created_at)
   AND NOT EXISTS (SELECT FROM gym_booking.booking_status_history AS h
                    WHERE h.booking_id = e.booking_id AND h.current_status = 'reserved'
                      AND h.auto_processed)
UNION ALL
SELECT format('%s event %s about booking %s (athlete %s, slot %s) goes to %s, slot %s',
              e.kind, e.id, b.id, b.user_id, b.slot_id, e.recipient_id, e.slot_id)
  FROM gym_booking.events AS e JOIN gym_booking.bookings AS b ON b.id = e.booking_id
 WHERE e.recipient_id <> b.user_id OR e.slot_id IS DISTINCT FROM b.slot_id
UNION ALL
SELECT format('%s event %s names no booking', e.kind, e.id)
  FROM gym_booking.events AS e
 WHERE e.kind IN ('booking_confirmed', 'booking_cancelled', 'waitlist_promoted')
   AND e.booking_id IS NULL
";

/// No free place while an eligible athlete waits before the cutoff, in the slots given ($1):
/// the database's own reading of eligibility (an active account, the booking window, the
/// limit), after every promotion the model ran.
pub(crate) const SETTLED: &str = "
WITH st AS (SELECT * FROM gym_booking.studio_settings),
target AS (
    SELECT s.id, s.start_at,
           s.capacity - (SELECT count(*) FROM gym_booking.bookings AS b
                          WHERE b.slot_id = s.id AND b.status = 'reserved') AS free
      FROM gym_booking.slots AS s, st
     WHERE s.id = ANY ($1::text[]::uuid[]) AND s.cancelled_at IS NULL
       AND s.start_at > statement_timestamp()
       AND statement_timestamp() <= s.start_at - coalesce(st.waitlist_cutoff, st.cancellation_window))
SELECT format('slot %s has %s free place(s) while athlete %s waits (entry %s, queue_no %s) and may book it',
              t.id, t.free, w.user_id, w.id, w.queue_no)
  FROM target AS t
  JOIN gym_booking.waitlist_entries AS w ON w.slot_id = t.id AND w.state = 'waiting'
  JOIN gym_booking.users AS u ON u.id = w.user_id
 CROSS JOIN st
 WHERE t.free > 0 AND u.deleted_at IS NULL AND u.role <> 'trainer'
   AND (st.booking_opens_before IS NULL
        OR statement_timestamp() >= t.start_at - st.booking_opens_before)
   AND statement_timestamp() <= t.start_at - coalesce(st.booking_closes_before, '0')
   AND (st.max_upcoming_bookings IS NULL
        OR (SELECT count(*) FROM gym_booking.bookings AS b
              JOIN gym_booking.slots AS s2 ON s2.id = b.slot_id
             WHERE b.user_id = w.user_id AND b.status = 'reserved'
               AND s2.start_at > statement_timestamp()) < st.max_upcoming_bookings)
   -- A suspended athlete keeps their place, and no place is held for them (0.2.2).
   AND (SELECT a.suspended_until FROM gym_booking.athlete_suspension(w.user_id) AS a) IS NULL
";

pub(crate) const ENTRIES: &str = "
SELECT id::text, slot_id::text, user_id::text, state::text, booking_id::text
  FROM gym_booking.waitlist_entries ORDER BY queue_no";

pub(crate) const SETTINGS: &str = "
SELECT (extract(epoch FROM cancellation_window) * 1000000)::int8,
       (extract(epoch FROM booking_opens_before) * 1000000)::int8,
       (extract(epoch FROM booking_closes_before) * 1000000)::int8,
       max_upcoming_bookings::int8, waitlist_enabled, waitlist_max::int8,
       (extract(epoch FROM waitlist_cutoff) * 1000000)::int8,
       (SELECT count(*) FROM gym_booking.studio_settings_history),
       (SELECT count(*) FROM gym_booking.studio_settings),
       (extract(epoch FROM attendance_grace) * 1000000)::int8, auto_no_show,
       no_show_strike_limit::int8, (extract(epoch FROM strike_window) * 1000000)::int8,
       (extract(epoch FROM suspension) * 1000000)::int8
  FROM gym_booking.studio_settings";

pub(crate) const EVENTS: &str = "
SELECT id, kind::text, recipient_id::text, coalesce(slot_id::text, ''),
       coalesce(booking_id::text, ''), payload::text
  FROM gym_booking.events WHERE id > $1 ORDER BY id";

/// The kinds about one booking: their booking is compared too.
const BOOKING_KINDS: [&str; 6] = [
    "booking_confirmed",
    "booking_cancelled",
    "waitlist_promoted",
    "no_show_recorded",
    "attendance_marked",
    "no_show_excused",
];

impl Run {
    /// The marks the checks start from: the newest event, the settings' history.
    pub(crate) fn start_week(&mut self) {
        let row = self
            .client
            .query_one(
                "SELECT (SELECT coalesce(max(id), 0) FROM gym_booking.events),
                        (SELECT count(*) FROM gym_booking.studio_settings_history)",
                &[],
            )
            .unwrap_or_else(|e| panic!("seed {}: read the events and settings: {e:?}", self.seed));
        self.event_mark = row.get(0);
        let history: i64 = row.get(1);
        self.model.settings_history = (history, history);
        // The relay's notifications (notify_events(), run after each step as the background
        // worker runs it each round) come back to this session; what came before is announced
        // and drained first.
        self.client
            .batch_execute("SELECT gym_booking.notify_events(); LISTEN gym_booking_events")
            .unwrap_or_else(|e| panic!("seed {}: LISTEN: {e:?}", self.seed));
    }

    /// Who waits where, as the database has it now.
    pub(crate) fn db_waiting(&mut self) -> Result<HashSet<(usize, usize)>, String> {
        let slots: HashMap<&str, usize> = (0..self.model.slots.len())
            .map(|s| (self.model.slots[s].id.as_str(), s))
            .collect();
        let users: HashMap<&str, usize> = (0..self.model.users.len())
            .map(|u| (self.model.users[u].id.as_str(), u))
            .collect();
        let rows = self
            .client
            .query(
                "SELECT slot_id::text, user_id::text FROM gym_booking.waitlist_entries
                  WHERE state = 'waiting'",
                &[],
            )
            .map_err(|e| format!("reading the waitlists failed: {e:?}"))?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let (s, u): (&str, &str) = (r.get(0), r.get(1));
                Some((*slots.get(s)?, *users.get(u)?))
            })
            .collect())
    }

    /// Bookings a promotion made: their ids, from the database.
    pub(crate) fn resolve_new_bookings(&mut self) -> Result<(), String> {
        for b in 0..self.model.bookings.len() {
            if self.model.bookings[b].id != NEW {
                continue;
            }
            let (slot, user) = (self.model.bookings[b].slot, self.model.bookings[b].user);
            let rows = self
                .client
                .query(
                    "SELECT id::text FROM gym_booking.bookings
                      WHERE slot_id = $1::text::uuid AND user_id = $2::text::uuid",
                    &[&self.model.slots[slot].id, &self.model.users[user].id],
                )
                .map_err(|e| format!("reading a promoted booking failed: {e:?}"))?;
            match rows.first() {
                Some(row) => self.model.bookings[b].id = row.get(0),
                None => {
                    return Err(format!(
                        "THE MODEL PROMOTED {} INTO {}, BUT THE DATABASE HAS NO BOOKING OF THEIRS THERE",
                        self.model.users[user].label,
                        self.slot_label(slot)
                    ))
                }
            }
        }
        Ok(())
    }

    fn violations(rows: &[postgres::Row], what: &str) -> Result<(), String> {
        if rows.is_empty() {
            return Ok(());
        }
        let violations: Vec<String> = rows.iter().take(20).map(|r| r.get(0)).collect();
        Err(format!(
            "{what} ({} violations):\n    {}",
            rows.len(),
            violations.join("\n    ")
        ))
    }

    /// The checks of 0.2.0 after a step: invariants, settled slots, entries, settings and the
    /// step's events. Clears the model's events of the step.
    pub(crate) fn check_week(&mut self) -> Result<(), String> {
        let rows = self
            .client
            .query(&self.sql.week, &[])
            .map_err(|e| format!("the waitlist invariants query failed: {e:?}"))?;
        Self::violations(&rows, "WAITLIST INVARIANT BROKEN")?;
        let settled = self.model.settled_slots(self.now);
        let rows = self
            .client
            .query(&self.sql.settled, &[&settled])
            .map_err(|e| format!("the settled-slots query failed: {e:?}"))?;
        Self::violations(&rows, "A FREE PLACE WAITS WHILE AN ELIGIBLE ATHLETE DOES")?;
        self.compare_entries()?;
        self.compare_settings()?;
        self.compare_events()
    }

    fn compare_entries(&mut self) -> Result<(), String> {
        let rows = self
            .client
            .query(&self.sql.entries, &[])
            .map_err(|e| format!("reading the waitlists failed: {e:?}"))?;
        type Row = (String, String, String, String, Option<String>);
        let db: Vec<Row> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect();
        let m = &self.model;
        let model: Vec<Row> = m
            .entries
            .iter()
            .map(|e| {
                (
                    e.id.clone(),
                    m.slots[e.slot].id.clone(),
                    m.users[e.user].id.clone(),
                    e.state.sql().to_string(),
                    e.booking.map(|b| m.bookings[b].id.clone()),
                )
            })
            .collect();
        if db == model {
            return Ok(());
        }
        let mut problems = Vec::new();
        for i in 0..db.len().max(model.len()) {
            match (db.get(i), model.get(i)) {
                (Some(d), Some(e)) if d == e => {}
                (d, e) => {
                    let who = e.map(|_| {
                        let entry = &m.entries[i];
                        format!(" ({} in slot#{})", m.users[entry.user].label, entry.slot)
                    });
                    problems.push(format!(
                        "entry #{i} in queue order (id, slot, athlete, state, booking): the database has {d:?}, the model {e:?}{}",
                        who.unwrap_or_default()
                    ));
                }
            }
        }
        problems.truncate(12);
        Err(format!(
            "THE WAITLISTS AND THE MODEL DISAGREE:\n    {}",
            problems.join("\n    ")
        ))
    }

    fn compare_settings(&mut self) -> Result<(), String> {
        let row = self
            .client
            .query_one(&self.sql.settings, &[])
            .map_err(|e| format!("reading studio_settings (one row) failed: {e:?}"))?;
        let s = &self.model.settings;
        type Seen = (
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<bool>,
            Option<i64>,
            Option<i64>,
        );
        let db: Seen = (
            row.get(0),
            row.get(1),
            row.get(2),
            row.get(3),
            row.get(4),
            row.get(5),
            row.get(6),
        );
        let model: Seen = (
            Some(s.cancellation_window),
            s.opens_before,
            Some(s.closes_before),
            s.max_upcoming,
            Some(s.waitlist_enabled),
            s.waitlist_max,
            s.waitlist_cutoff,
        );
        if db != model {
            return Err(format!(
                "THE SETTINGS AND THE MODEL DISAGREE (µs, counts):\n    database {db:?}\n    model    {model:?}"
            ));
        }
        // Attendance's settings (grace, sweep, limit, window, suspension).
        type Att = (i64, bool, Option<i64>, i64, i64);
        let db: Att = (
            row.get(9),
            row.get(10),
            row.get(11),
            row.get(12),
            row.get(13),
        );
        let model: Att = (
            s.attendance_grace,
            s.auto_no_show,
            s.strike_limit,
            s.strike_window,
            s.suspension,
        );
        if db != model {
            return Err(format!(
                "THE ATTENDANCE SETTINGS AND THE MODEL DISAGREE (grace, auto_no_show, limit, window, \
                 suspension; µs):\n    database {db:?}\n    model    {model:?}"
            ));
        }
        let (history, rows): (i64, i64) = (row.get(7), row.get(8));
        let (lo, hi) = self.model.settings_history;
        if rows != 1 || !(lo..=hi).contains(&history) {
            return Err(format!(
                "studio_settings has {rows} rows and its history {history}; the model expects one \
                 row and {lo} (a row per change) to {hi} (a row per changed setting) in the history"
            ));
        }
        Ok(())
    }

    fn compare_events(&mut self) -> Result<(), String> {
        let rows = self
            .client
            .query(&self.sql.events, &[&self.event_mark])
            .map_err(|e| format!("reading the events failed: {e:?}"))?;
        // The relay announces the step's events (committed): one notification per recipient,
        // carrying their id; none for a step that wrote no event.
        self.client
            .batch_execute("SELECT gym_booking.notify_events()")
            .map_err(|e| format!("the relay failed: {e:?}"))?;
        let mut notified: Vec<String> = Vec::new();
        let mut pending = self.client.notifications();
        let mut iter = pending.iter();
        while let Some(n) = iter
            .next()
            .map_err(|e| format!("reading notifications failed: {e:?}"))?
        {
            if n.channel() == "gym_booking_events" {
                notified.push(n.payload().to_string());
            }
        }
        notified.sort();
        notified.dedup();
        let out = std::mem::take(&mut self.model.out);
        let m = &self.model;
        let key = |kind: &str, recipient: &str, slot: &str, booking: &str| {
            let booking = if BOOKING_KINDS.contains(&kind) {
                booking
            } else {
                ""
            };
            format!("{kind} to {recipient} slot {slot} booking {booking}")
        };
        let label = |id: &str| {
            m.users
                .iter()
                .find(|u| u.id == id)
                .map_or(id.to_string(), |u| u.label.clone())
        };
        let mut expected: Vec<(String, Option<&'static str>, String)> = out
            .iter()
            .map(|e| {
                let booking = e
                    .booking
                    .map_or(String::new(), |b| m.bookings[b].id.clone());
                let recipient = &m.users[e.user].id;
                (
                    key(e.kind, recipient, &m.slots[e.slot].id, &booking),
                    e.by,
                    format!("{} to {} (slot#{})", e.kind, m.users[e.user].label, e.slot),
                )
            })
            .collect();
        let mut seen: Vec<(String, String, String)> = rows
            .iter()
            .map(|r| {
                let (kind, recipient): (&str, &str) = (r.get(1), r.get(2));
                (
                    key(kind, recipient, r.get(3), r.get(4)),
                    r.get(5),
                    format!("{kind} to {}", label(recipient)),
                )
            })
            .collect();
        expected.sort();
        seen.sort();
        let keys_expected: Vec<&String> = expected.iter().map(|e| &e.0).collect();
        let keys_seen: Vec<&String> = seen.iter().map(|e| &e.0).collect();
        if keys_expected != keys_seen {
            let show = |v: Vec<&String>| {
                if v.is_empty() {
                    "(none)".to_string()
                } else {
                    v.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join("\n        ")
                }
            };
            return Err(format!(
                "THE STEP'S EVENTS AND THE MODEL'S DISAGREE:\n    the database wrote:\n        {}\n    \
                 the model expects:\n        {}",
                show(seen.iter().map(|e| &e.2).collect()),
                show(expected.iter().map(|e| &e.2).collect()),
            ));
        }
        // Who cancelled, where the payload must say so; nothing personal in any payload, and
        // no one else's id.
        for (k, by, what) in &expected {
            if let Some(by) = by {
                let said = seen
                    .iter()
                    .any(|(key, payload, _)| key == k && payload.contains(&format!("\"{by}\"")));
                if !said {
                    return Err(format!(
                        "the payload of {what} does not say that the {by} cancelled"
                    ));
                }
            }
        }
        for r in &rows {
            let (id, recipient, slot, payload): (i64, &str, &str, &str) =
                (r.get(0), r.get(2), r.get(3), r.get(5));
            let trainer = m
                .slots
                .iter()
                .find(|s| s.id == slot)
                .map(|s| m.users[s.trainer].id.as_str());
            for u in &m.users {
                let public_trainer = Some(u.id.as_str()) == trainer;
                if u.id != recipient && !public_trainer && payload.contains(&u.id) {
                    return Err(format!(
                        "event {id} to {} shows another account's id ({}): {payload}",
                        label(recipient),
                        u.label
                    ));
                }
                // The slot's trainer is in the public directory (name, contacts); their
                // login email and password are not.
                let private = if public_trainer {
                    &u.secrets[..2]
                } else {
                    &u.secrets[..]
                };
                if let Some(secret) = private.iter().find(|s| payload.contains(s.as_str())) {
                    return Err(format!(
                        "event {id} to {} shows a personal value {secret:?} of {}: {payload}",
                        label(recipient),
                        u.label
                    ));
                }
            }
        }
        let mut recipients: Vec<String> = rows.iter().map(|r| r.get(2)).collect();
        recipients.sort();
        recipients.dedup();
        if notified != recipients {
            return Err(format!(
                "NOTIFY gym_booking_events went to {:?}; the step's events are for {:?}",
                notified.iter().map(|id| label(id)).collect::<Vec<_>>(),
                recipients.iter().map(|id| label(id)).collect::<Vec<_>>()
            ));
        }
        for r in &rows {
            *self
                .tally
                .entry("(events written)")
                .or_default()
                .entry(r.get::<_, String>(1))
                .or_default() += 1;
        }
        if let Some(last) = rows.last() {
            self.event_mark = last.get(0);
        }
        Ok(())
    }
}

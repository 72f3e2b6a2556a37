//! What the mixed load is checked against afterwards: the writes its requests were told about,
//! and every rule's invariant over the whole database.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use postgres::Client;

use super::Studio;

/// Writes the requests were told about that the database does not show (at most ten of each
/// kind are named).
pub(crate) fn lost_writes(client: &mut Client, studio: &Studio) -> Vec<String> {
    let told = |items: &Mutex<Vec<String>>| items.lock().unwrap().clone();
    let (bookings, slots) = (
        studio.bookings.lock().unwrap(),
        studio.slots.lock().unwrap(),
    );
    let checks: [(&str, Vec<String>, &str); 7] = [
        (
            "bookings book_slot returned are gone or changed (id slot athlete)",
            bookings
                .iter()
                .map(|b| format!("{} {} {}", b.id, b.slot, b.user))
                .collect(),
            "SELECT id || ' ' || slot_id || ' ' || user_id FROM gym_booking.bookings",
        ),
        (
            "slots create_slot returned are gone or changed (id trainer)",
            slots
                .iter()
                .map(|s| format!("{} {}", s.id, s.trainer))
                .collect(),
            "SELECT id || ' ' || trainer_id FROM gym_booking.slots",
        ),
        (
            "signed-up accounts are gone",
            told(&studio.signed_up),
            "SELECT id::text FROM gym_booking.users",
        ),
        (
            "accounts whose deletion succeeded are not deleted",
            told(&studio.deleted),
            "SELECT id::text FROM gym_booking.users WHERE deleted_at IS NOT NULL",
        ),
        (
            "bookings cancel_booking answered \"cancelled\" show no cancellation in their history",
            told(&studio.cancelled),
            "SELECT booking_id::text FROM gym_booking.booking_status_history
              WHERE current_status = 'cancelled'",
        ),
        (
            "waitlist entries join_waitlist returned are gone or changed (id slot athlete)",
            studio
                .waiting
                .lock()
                .unwrap()
                .iter()
                .map(|(id, slot, athlete)| format!("{id} {slot} {athlete}"))
                .collect(),
            "SELECT id || ' ' || slot_id || ' ' || user_id FROM gym_booking.waitlist_entries",
        ),
        (
            "completions the calls reported are not the completions in the history",
            vec![studio.completed.load(Ordering::Acquire).to_string()],
            "SELECT count(*)::text FROM gym_booking.booking_status_history
              WHERE current_status = 'completed'",
        ),
    ];
    let mut lost = Vec::new();
    for (what, told, sql) in checks {
        let rows = client.query(sql, &[]).expect(sql);
        let stored: BTreeSet<String> = rows.iter().map(|r| r.get(0)).collect();
        let gone: BTreeSet<String> = told.into_iter().filter(|t| !stored.contains(t)).collect();
        if !gone.is_empty() {
            let some: Vec<&String> = gone.iter().take(10).collect();
            lost.push(format!("{} {what}: {some:?}", gone.len()));
        }
    }
    lost
}

/// Every rule's invariant over the whole database: what it forbids, and a query of the rows
/// that break it.
const INVARIANTS: &[(&str, &str)] = &[
    (
        "a slot holds more reserved bookings than its capacity",
        "SELECT s.id || ': capacity ' || s.capacity || ', reserved ' || count(*)
           FROM gym_booking.slots AS s JOIN gym_booking.bookings AS b ON b.slot_id = s.id
          WHERE b.status = 'reserved' GROUP BY s.id HAVING count(*) > s.capacity",
    ),
    (
        "a reserved booking in a cancelled slot",
        "SELECT b.id::text FROM gym_booking.bookings AS b
           JOIN gym_booking.slots AS s ON s.id = b.slot_id
          WHERE b.status = 'reserved' AND s.cancelled_at IS NOT NULL",
    ),
    (
        "a deleted account holds a reserved booking in a slot that starts after the deletion",
        "SELECT b.id::text FROM gym_booking.bookings AS b
           JOIN gym_booking.users AS u ON u.id = b.user_id
           JOIN gym_booking.slots AS s ON s.id = b.slot_id
          WHERE b.status = 'reserved' AND s.start_at > u.deleted_at",
    ),
    (
        "a deleted trainer has an open slot that starts after the deletion",
        "SELECT s.id::text FROM gym_booking.slots AS s
           JOIN gym_booking.users AS u ON u.id = s.trainer_id
          WHERE s.cancelled_at IS NULL AND s.start_at > u.deleted_at",
    ),
    (
        "an open upcoming slot belongs to someone who is not an active trainer",
        "SELECT s.id || ' of ' || u.id || ' (' || u.role || ', deleted '
                || coalesce(u.deleted_at::text, 'never') || ')'
           FROM gym_booking.slots AS s JOIN gym_booking.users AS u ON u.id = s.trainer_id
          WHERE s.cancelled_at IS NULL AND s.start_at > now()
            AND (u.role <> 'trainer' OR u.deleted_at IS NOT NULL)",
    ),
    (
        "a booking's status history is unchained, does not end in its status, or leaves completed",
        "SELECT 'history ' || h.id || ' of booking ' || h.booking_id || ': '
                || h.previous_status || ' -> ' || h.current_status
           FROM (SELECT *, lag(current_status) OVER (PARTITION BY booking_id ORDER BY id) AS before
                   FROM gym_booking.booking_status_history) AS h
          WHERE h.previous_status <> coalesce(h.before, 'reserved')
             OR h.previous_status = 'completed'
         UNION ALL
         SELECT 'booking ' || b.id || ' is ' || b.status || ', its history ends in '
                || coalesce(last.current_status::text, '(nothing: reserved)')
           FROM gym_booking.bookings AS b
           LEFT JOIN LATERAL (SELECT h.current_status FROM gym_booking.booking_status_history AS h
                               WHERE h.booking_id = b.id ORDER BY h.id DESC LIMIT 1) AS last ON true
          WHERE b.status <> coalesce(last.current_status, 'reserved')",
    ),
    (
        "a deleted account still carries personal data",
        "SELECT u.id::text FROM gym_booking.users AS u
          WHERE u.deleted_at IS NOT NULL
            AND NOT (u.is_anonymous AND u.first_name = 'Anonymous user' AND u.last_name IS NULL
                     AND u.contact_email IS NULL AND u.contact_phone IS NULL
                     AND u.preferences = '{}' AND u.email::text LIKE 'deleted-%@anonymized.invalid'
                     AND u::text NOT ILIKE '%pii%')",
    ),
    (
        "the trainer directory is not exactly the active trainers",
        "SELECT coalesce(d.trainer_id, u.id)::text FROM gym_booking.trainer_directory AS d
           FULL JOIN (SELECT id FROM gym_booking.users
                       WHERE role = 'trainer' AND deleted_at IS NULL) AS u ON u.id = d.trainer_id
          WHERE d.trainer_id IS NULL OR u.id IS NULL",
    ),
    (
        "a log entry shows personal data (every personal value carries the marker \"pii\")",
        "SELECT l.id || ': ' || l.changed_fields FROM gym_booking.activity_logs AS l
          WHERE (l.changed_fields::text || l.metadata::text) ILIKE '%pii%'",
    ),
    (
        "a log entry of a user shows a personal field other than as \"[redacted]\"",
        "SELECT l.id || ' ' || f.key || ' = ' || f.value
           FROM gym_booking.activity_logs AS l, jsonb_each(l.changed_fields) AS f
          WHERE l.entity_type = 'user'
            AND f.key IN ('email', 'first_name', 'last_name', 'contact_email', 'contact_phone',
                          'preferences')
            AND NOT (f.value IN ('\"[redacted]\"', 'null')
                     OR (jsonb_typeof(f.value) = 'object'
                         AND coalesce(f.value -> 'old', 'null') IN ('\"[redacted]\"', 'null')
                         AND coalesce(f.value -> 'new', 'null') IN ('\"[redacted]\"', 'null')))",
    ),
];

/// Waitlists (issue 12). Checked after one more sweep of the waitlists (the background
/// worker's job): a promotion skips an athlete whose account another request is changing at
/// that moment, and the sweep books them once it can.
const WAITLIST_INVARIANTS: &[(&str, &str)] = &[
    (
        "an athlete waits for a slot in which they hold a reserved place",
        "SELECT w.id::text FROM gym_booking.waitlist_entries AS w
           JOIN gym_booking.bookings AS b
             ON b.slot_id = w.slot_id AND b.user_id = w.user_id AND b.status = 'reserved'
          WHERE w.state = 'waiting'",
    ),
    (
        "a promoted entry names another slot's or athlete's booking",
        "SELECT w.id::text FROM gym_booking.waitlist_entries AS w
           JOIN gym_booking.bookings AS b ON b.id = w.booking_id
          WHERE w.state = 'promoted' AND (b.slot_id <> w.slot_id OR b.user_id <> w.user_id)",
    ),
    (
        "a deleted account still waits",
        "SELECT w.id::text FROM gym_booking.waitlist_entries AS w
           JOIN gym_booking.users AS u ON u.id = w.user_id
          WHERE w.state = 'waiting' AND u.deleted_at IS NOT NULL",
    ),
    (
        // (Athletes: one made a trainer since they joined keeps their entry, and is never
        // promoted: trainers do not take classes.)
        "a place is free in an open slot before its cutoff while athletes wait for it",
        "SELECT s.id || ': capacity ' || s.capacity || ', waiting ' || count(*)
           FROM gym_booking.slots AS s
           JOIN gym_booking.waitlist_entries AS w ON w.slot_id = s.id AND w.state = 'waiting'
           JOIN gym_booking.users AS u ON u.id = w.user_id AND u.role = 'athlete',
                gym_booking.studio_settings AS st
          WHERE s.cancelled_at IS NULL
            AND s.start_at - coalesce(st.waitlist_cutoff, st.cancellation_window) > now()
          GROUP BY s.id, s.capacity
         HAVING s.capacity > (SELECT count(*) FROM gym_booking.bookings AS b
                               WHERE b.slot_id = s.id AND b.status = 'reserved')",
    ),
];

pub(crate) fn broken_invariants(client: &mut Client) -> Vec<String> {
    let mut broken = broken_rows(client, INVARIANTS);
    client
        .query_one("SELECT gym_booking.promote_waitlists()", &[])
        .expect("the waitlist sweep");
    broken.extend(broken_rows(client, WAITLIST_INVARIANTS));
    broken
}

fn broken_rows(client: &mut Client, invariants: &[(&str, &str)]) -> Vec<String> {
    let mut broken = Vec::new();
    for (name, sql) in invariants {
        let rows = client
            .query(*sql, &[])
            .unwrap_or_else(|e| panic!("check \"{name}\": {e:?}"));
        if !rows.is_empty() {
            let some: Vec<String> = rows.iter().take(5).map(|r| r.get(0)).collect();
            broken.push(format!("{name}: {} row(s), e.g. {some:?}", rows.len()));
        }
    }
    broken
}

//! Nobody raises their own privileges over release 0.2.0's settings, waitlists and events
//! (docs/studio-week.md), and a promotion shows nobody who got the place. Same seed, callers
//! and runner as the parent file.

use gym_booking_integration::access::{self, Fixture};
use gym_booking_integration::{postgrest_request, TestDb};

use super::{by, Attempt, DENIED, NOTHING};
use gym_booking_integration::access::Expect::{Refused, RefusedAny, Rows};

/// The studio's settings, waitlists and events (0.2.0): what each caller may not do.
pub(crate) fn attempts() -> Vec<Attempt> {
    vec![
        // Settings: an athlete, a trainer, an admin in name only, a deleted admin change
        // nothing; service_role holds no right to change them; the admin's own changes are
        // limited to the settings (not the row's id, nor who changed it last).
        by("A", "PATCH", "/studio_settings", "UPDATE gym_booking.studio_settings SET cancellation_window = '0' RETURNING id::text", NOTHING),
        by("T", "PATCH", "/studio_settings", "UPDATE gym_booking.studio_settings SET booking_opens_before = NULL RETURNING id::text", NOTHING),
        by("A+admin-metadata", "PATCH", "/studio_settings", "UPDATE gym_booking.studio_settings SET max_upcoming_bookings = NULL RETURNING id::text", NOTHING),
        by("A+srv-claim", "PATCH", "/studio_settings", "UPDATE gym_booking.studio_settings SET waitlist_enabled = false RETURNING id::text", NOTHING),
        by("deleted-admin", "PATCH", "/studio_settings", "UPDATE gym_booking.studio_settings SET waitlist_max = 1 RETURNING id::text", NOTHING),
        by("ghost", "PATCH", "/studio_settings", "UPDATE gym_booking.studio_settings SET waitlist_max = 1 RETURNING id::text", NOTHING),
        by("SRV", "PATCH", "/studio_settings", "UPDATE gym_booking.studio_settings SET waitlist_max = 1 RETURNING id::text", DENIED),
        by("anon", "PATCH", "/studio_settings", "UPDATE gym_booking.studio_settings SET waitlist_max = 1 RETURNING id::text", DENIED),
        by("ADM", "PATCH", "/studio_settings", "UPDATE gym_booking.studio_settings SET updated_by = {B} RETURNING id::text", DENIED),
        by("ADM", "PATCH", "/studio_settings",
            "UPDATE gym_booking.studio_settings SET updated_at = now() - interval '1 year' RETURNING id::text", DENIED),
        by("ADM", "POST", "/studio_settings", "INSERT INTO gym_booking.studio_settings DEFAULT VALUES RETURNING id::text", DENIED),
        by("SRV", "DELETE", "/studio_settings", "DELETE FROM gym_booking.studio_settings RETURNING id::text", DENIED),
        // The settings' record is read by the admin and the gym only.
        by("A", "GET", "/studio_settings_history", "SELECT id FROM gym_booking.studio_settings_history", NOTHING),
        by("T", "GET", "/studio_settings_history", "SELECT id FROM gym_booking.studio_settings_history", NOTHING),
        by("deleted-admin", "GET", "/studio_settings_history", "SELECT id FROM gym_booking.studio_settings_history", NOTHING),
        by("A+admin-metadata", "GET", "/studio_settings_history", "SELECT id FROM gym_booking.studio_settings_history", NOTHING),
        // Waitlist entries: someone else's are not visible, to an athlete or another
        // trainer; a deleted trainer no longer sees those of their (cancelled) slots.
        by("A", "GET", "/waitlist_entries?user_id=eq.B", "SELECT id FROM gym_booking.waitlist_entries WHERE user_id = {B}", NOTHING),
        by("T", "GET", "/waitlist_entries?slot_id=eq.U3", "SELECT id FROM gym_booking.waitlist_entries WHERE slot_id = {U3}", NOTHING),
        by("deleted-admin", "GET", "/waitlist_entries", "SELECT id FROM gym_booking.waitlist_entries", NOTHING),
        by("deleted-trainer", "GET", "/waitlist_entries", "SELECT id FROM gym_booking.waitlist_entries", NOTHING),
        by("A+admin-metadata", "GET", "/waitlist_entries", "SELECT id::text FROM gym_booking.waitlist_entries", Rows(&["A~T4"])),
        // ... nor reachable through the API: leave_waitlist ends the caller's own entry only.
        by("A", "POST", "/rpc/leave_waitlist", "SELECT id FROM gym_booking.leave_waitlist({U3})", Refused("42704")),
        by("T", "POST", "/rpc/leave_waitlist", "SELECT id FROM gym_booking.leave_waitlist({T4})", Refused("42704")),
        by("ADM", "POST", "/rpc/leave_waitlist", "SELECT id FROM gym_booking.leave_waitlist({T4})", Refused("42704")),
        // A trainer or the back office cannot put an athlete on a list; a deleted account
        // cannot join one.
        by("T", "POST", "/rpc/join_waitlist", "SELECT id FROM gym_booking.join_waitlist({U3})", DENIED),
        by("SRV", "POST", "/rpc/join_waitlist", "SELECT id FROM gym_booking.join_waitlist({U3})", DENIED),
        by("srv-claim-no-sub", "POST", "/rpc/join_waitlist", "SELECT id FROM gym_booking.join_waitlist({U3})", DENIED),
        by("deleted-admin", "POST", "/rpc/join_waitlist", "SELECT id FROM gym_booking.join_waitlist({U3})", Refused("23000")),
        // (An account that does not exist is refused as a deleted one, 23000, or as book_slot
        // refuses it.)
        by("ghost", "POST", "/rpc/join_waitlist", "SELECT id FROM gym_booking.join_waitlist({U3})", RefusedAny(&["23000", "23503", "42501"])),
        // Booking a place directly does not jump the queue: T4 is full, and so it stays.
        by("A", "POST", "/bookings", "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ({T4}, {A}) RETURNING id::text", Refused("23P01")),
        by("A", "POST", "/rpc/book_slot", "SELECT gym_booking.book_slot({T4})", Refused("23P01")),
        // The sweep is the gym's.
        by("A", "POST", "/rpc/promote_waitlists", "SELECT gym_booking.promote_waitlists()", DENIED),
        by("T", "POST", "/rpc/promote_waitlists", "SELECT gym_booking.promote_waitlists()", DENIED),
        by("A+srv-claim", "POST", "/rpc/promote_waitlists", "SELECT gym_booking.promote_waitlists()", DENIED),
        by("deleted-admin", "POST", "/rpc/promote_waitlists", "SELECT gym_booking.promote_waitlists()", DENIED),
        // Events: one's own only; the delivery functions are the back office's.
        by("A", "GET", "/events?recipient_id=eq.B", "SELECT id FROM gym_booking.events WHERE recipient_id = {B}", NOTHING),
        by("T", "GET", "/events", "SELECT id FROM gym_booking.events", NOTHING),
        by("deleted-admin", "GET", "/events", "SELECT id FROM gym_booking.events", NOTHING),
        by("A+srv-claim", "GET", "/events?recipient_id=eq.B", "SELECT id FROM gym_booking.events WHERE recipient_id = {B}", NOTHING),
        by("A", "POST", "/rpc/claim_events", "SELECT id FROM gym_booking.claim_events()", DENIED),
        by("A", "POST", "/rpc/ack_events",
            "SELECT gym_booking.ack_events(ARRAY(SELECT id FROM gym_booking.events))", DENIED),
        by("T", "POST", "/rpc/claim_events", "SELECT id FROM gym_booking.claim_events()", DENIED),
        by("A+srv-claim", "POST", "/rpc/claim_events", "SELECT id FROM gym_booking.claim_events()", DENIED),
        by("A+srv-claim", "POST", "/rpc/ack_events", "SELECT gym_booking.ack_events(ARRAY[1, 2, 3]::bigint[])", DENIED),
        by("srv-claim-no-sub", "POST", "/rpc/claim_events", "SELECT id FROM gym_booking.claim_events()", DENIED),
        by("deleted-admin", "POST", "/rpc/claim_events", "SELECT id FROM gym_booking.claim_events()", DENIED),
        by("anon", "POST", "/rpc/ack_events", "SELECT gym_booking.ack_events(ARRAY[1]::bigint[])", DENIED),
        // The back office claims and acknowledges; it does not rewrite what it delivers.
        by("SRV", "POST", "/rpc/ack_events", "SELECT gym_booking.ack_events(ARRAY[]::bigint[])", Rows(&["0"])),
        by("SRV", "PATCH", "/events", "UPDATE gym_booking.events SET claimed_until = NULL RETURNING id::text", DENIED),
    ]
}

/// A promotion is the system's change (DESIGN.md Part 2, "Waitlists"): the athlete whose
/// cancellation freed the place learns nothing of who got it, as `available_slots` shows
/// counts and never who booked. B gives back T4's place, A (waiting) is booked; then nothing
/// B may read — the tables, the API — names A, A's entry or A's new booking.
#[test]
fn a_promotion_tells_whoever_freed_the_place_nothing_of_who_got_it() {
    let mut fixture = Fixture::new("escalation_promotion_privacy");
    let b = access::person("B");
    postgrest_request(
        &mut fixture.client,
        &b,
        "PATCH",
        "/bookings?id=eq.B@T4",
        |tx| {
            tx.execute(
                "UPDATE gym_booking.bookings SET status = 'cancelled' WHERE id = $1::text::uuid",
                &[&access::id("B@T4")],
            )
        },
    )
    .expect("B cancels T4's place");
    let promoted: String = fixture
        .client
        .query_one(
            "SELECT id::text FROM gym_booking.bookings
              WHERE slot_id = $1::text::uuid AND user_id = $2::text::uuid AND status = 'reserved'",
            &[&access::id("T4"), &access::id("A")],
        )
        .expect("A was booked into T4 from its waitlist")
        .get(0);
    fixture.labels.add("A@T4", &promoted);
    let about_a = [access::id("A"), access::id("A~T4"), promoted.as_str()];
    let reads = [
        (
            "/activity_logs",
            "SELECT to_jsonb(t)::text FROM gym_booking.activity_logs AS t",
        ),
        (
            "/booking_status_history",
            "SELECT to_jsonb(t)::text FROM gym_booking.booking_status_history AS t",
        ),
        (
            "/bookings",
            "SELECT to_jsonb(t)::text FROM gym_booking.bookings AS t",
        ),
        (
            "/waitlist_entries",
            "SELECT to_jsonb(t)::text FROM gym_booking.waitlist_entries AS t",
        ),
        (
            "/events",
            "SELECT to_jsonb(t)::text FROM gym_booking.events AS t",
        ),
        (
            "/rpc/my_bookings",
            "SELECT to_jsonb(t)::text FROM gym_booking.my_bookings() AS t",
        ),
        (
            "/rpc/my_waitlist",
            "SELECT to_jsonb(t)::text FROM gym_booking.my_waitlist() AS t",
        ),
        (
            "/rpc/available_slots",
            "SELECT to_jsonb(t)::text FROM gym_booking.available_slots() AS t",
        ),
    ];
    let mut leaks = Vec::new();
    for (path, sql) in reads {
        let rows: Vec<String> = postgrest_request(&mut fixture.client, &b, "GET", path, |tx| {
            Ok(tx.query(sql, &[])?.iter().map(|r| r.get(0)).collect())
        })
        .unwrap_or_else(|e| panic!("B's GET {path}: {e:?}"));
        for row in rows {
            if about_a.iter().any(|id| row.contains(id)) {
                leaks.push(format!("GET {path}: {}", fixture.labels.read(&row)));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "B, who freed T4's place, reads who got it:\n  {}",
        leaks.join("\n  ")
    );
}

/// Not a request: the catalog behind the refusals above (see `the_catalog_behind_the_refusals`).
#[test]
fn the_catalog_behind_the_studio_refusals() {
    let db = TestDb::with_extension("escalation_studio_catalog");
    let mut client = db.connect();
    // 0.2.0: no client role writes waitlist entries, events or the settings' history (the
    // API and the rules do, as the extension's owner), nor adds, removes or truncates the
    // settings row; only authenticated may update it (the app admin, by policy), and only
    // the settings themselves, not the row's id or its record of who changed it.
    let writers: Vec<String> = client
        .query(
            "SELECT r.rolname || ' may ' || priv || ' ' || t
               FROM unnest(ARRAY['waitlist_entries', 'events', 'studio_settings_history',
                                 'studio_settings']) AS t
              CROSS JOIN pg_roles r
              CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES',
                                      'TRIGGER']) AS priv
              WHERE r.rolname IN ('anon', 'authenticated', 'service_role')
                AND (has_table_privilege(r.oid, 'gym_booking.' || t, priv)
                     OR (priv IN ('INSERT', 'UPDATE', 'REFERENCES')
                         AND has_any_column_privilege(r.oid, 'gym_booking.' || t, priv)))
                AND NOT (t = 'studio_settings' AND priv = 'UPDATE' AND r.rolname = 'authenticated')
              ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(writers.is_empty(), "client write rights: {writers:?}");
    let updatable: String = client
        .query_one(
            "SELECT string_agg(a.attname::text, ',' ORDER BY a.attnum) FROM pg_attribute a
              WHERE a.attrelid = 'gym_booking.studio_settings'::regclass AND a.attnum > 0
                AND NOT a.attisdropped
                AND has_column_privilege('authenticated', a.attrelid, a.attnum, 'UPDATE')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        updatable,
        "time_zone,cancellation_window,booking_opens_before,booking_closes_before,\
         max_upcoming_bookings,waitlist_enabled,waitlist_max,waitlist_cutoff,attendance_grace,\
         auto_no_show,no_show_strike_limit,strike_window,suspension,timetable_horizon,\
         event_retention",
        "the columns of studio_settings a client may update"
    );
}

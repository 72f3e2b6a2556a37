//! Calendar feeds (0.2.1) as a calendar app gets them: `GET /rpc/calendar_feed?token=...` as
//! anon, every feed read by an independent iCalendar parser (the `ical` crate, not the
//! `icalendar` crate the extension writes with), and checked against the rows: UIDs, UTC times,
//! STATUS, SEQUENCE growing with every change; wrong, rotated and revoked tokens get the empty
//! feed; and the feed reads by index, whatever the history.

use std::collections::BTreeMap;

use gym_booking_integration::{postgrest_request, sqlstate, Caller, TestDb};
use postgres::Client;
use serde_json::json;

const TESS: &str = "00000000-0000-4000-a000-00000000c001";
const AMY: &str = "00000000-0000-4000-a000-00000000c002";
const BEN: &str = "00000000-0000-4000-a000-00000000c003";

fn person(id: &str) -> Caller {
    Caller::new(
        "authenticated",
        Some(json!({"sub": id, "role": "authenticated"})),
    )
}

fn people(client: &mut Client) {
    client
        .batch_execute(&format!(
            "INSERT INTO gym_booking.users (id, email, password_hash, first_name, last_name, role, contact_email)
             VALUES ('{TESS}', 'tess@feeds.example', 'x', 'Tess', 'Strong', 'trainer', 'tess@feeds.example'),
                    ('{AMY}', 'amy@feeds.example', 'x', 'Amy', NULL, 'athlete', NULL),
                    ('{BEN}', 'ben@feeds.example', 'x', 'Ben', NULL, 'athlete', NULL)"
        ))
        .expect("people");
}

/// `POST /rpc/calendar_token` as `user`: their new token.
fn new_token(client: &mut Client, user: &str) -> String {
    postgrest_request(client, &person(user), "POST", "/rpc/calendar_token", |tx| {
        Ok(tx
            .query_one("SELECT gym_booking.calendar_token()", &[])?
            .get(0))
    })
    .expect("calendar_token()")
}

/// `GET /rpc/calendar_feed?token=...` as anon (a calendar app has no JWT).
fn feed(client: &mut Client, token: Option<&str>) -> String {
    postgrest_request(
        client,
        &Caller::new("anon", None),
        "GET",
        "/rpc/calendar_feed",
        |tx| {
            Ok(tx
                .query_one("SELECT gym_booking.calendar_feed($1)::text", &[&token])?
                .get(0))
        },
    )
    .expect("calendar_feed()")
}

/// One VEVENT as the independent parser reads it (TEXT values unescaped here).
#[derive(Debug, Clone)]
struct Event {
    start: String,
    end: String,
    status: String,
    sequence: i64,
    summary: String,
    description: Option<String>,
    stamp: String,
}

/// RFC 5545 3.3.11, by hand: the parser hands TEXT values over as written.
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') | Some('N') => out.push('\n'),
            Some(other) => out.push(other),
            None => panic!("a TEXT value ends in a lone backslash: {text:?}"),
        }
    }
    out
}

/// Parses a feed: RFC 5545's line rules checked on the raw text, then every VEVENT by UID.
fn parse(feed: &str) -> BTreeMap<String, Event> {
    assert!(feed.ends_with("\r\n"), "the feed ends with CRLF");
    for line in feed.trim_end_matches("\r\n").split("\r\n") {
        assert!(
            !line.contains('\n') && !line.contains('\r'),
            "a bare line break in {line:?}"
        );
        assert!(
            line.len() <= 75,
            "a line of {} octets: {line:?}",
            line.len()
        );
    }
    let mut calendars = ical::IcalParser::new(feed.as_bytes());
    let calendar = calendars
        .next()
        .expect("one calendar")
        .unwrap_or_else(|e| panic!("the parser refuses the feed: {e}\n{feed}"));
    assert!(calendars.next().is_none(), "exactly one calendar");
    let calendar_property = |name: &str| {
        calendar
            .properties
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.value.clone())
    };
    assert_eq!(calendar_property("VERSION").as_deref(), Some("2.0"));
    assert_eq!(
        calendar_property("PRODID").as_deref(),
        Some("-//gym_booking//gym_booking 0.2//EN")
    );
    let mut events = BTreeMap::new();
    for vevent in &calendar.events {
        let value = |name: &str| {
            vevent
                .properties
                .iter()
                .find(|p| p.name == name)
                .and_then(|p| p.value.clone())
        };
        let required = |name: &str| {
            value(name).unwrap_or_else(|| panic!("a VEVENT without {name}: {vevent:?}"))
        };
        let uid = required("UID");
        let event = Event {
            start: required("DTSTART"),
            end: required("DTEND"),
            status: required("STATUS"),
            sequence: required("SEQUENCE").parse().expect("SEQUENCE is a number"),
            summary: unescape(&required("SUMMARY")),
            description: value("DESCRIPTION").map(|d| unescape(&d)),
            stamp: required("DTSTAMP"),
        };
        assert!(
            events.insert(uid.clone(), event).is_none(),
            "UID {uid} twice"
        );
    }
    events
}

/// The rows' UTC times as RFC 5545 writes them (never the session's time zone).
fn utc(client: &mut Client, sql: &str) -> Vec<(String, String, String)> {
    client
        .query(sql, &[])
        .expect(sql)
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

const ICS_TIME: &str = r#"'YYYYMMDD"T"HH24MISS"Z"'"#;

fn create_slot(client: &mut Client, start: &str, capacity: i32, notes: Option<&str>) -> String {
    postgrest_request(client, &person(TESS), "POST", "/rpc/create_slot", |tx| {
        Ok(tx
            .query_one(
                "SELECT id::text FROM gym_booking.create_slot($1::text::timestamptz, 60, $2, $3)",
                &[&start, &capacity, &notes],
            )?
            .get(0))
    })
    .expect("create_slot()")
}

fn call(client: &mut Client, user: &str, sql: &str) {
    postgrest_request(client, &person(user), "POST", "/rpc", |tx| {
        tx.batch_execute(sql)
    })
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn booking_id(client: &mut Client, slot: &str, user: &str) -> String {
    client
        .query_one(
            "SELECT id::text FROM gym_booking.bookings WHERE slot_id = $1::text::uuid AND user_id = $2::text::uuid",
            &[&slot, &user],
        )
        .expect("the booking")
        .get(0)
}

#[test]
fn feeds_follow_the_rows_and_sequence_only_grows() {
    let db = TestDb::with_extension("calendar_feeds");
    let mut client = db.connect();
    // A session time zone far from UTC: the feed's times must not follow it.
    client.batch_execute("SET TimeZone = 'Asia/Tokyo'").unwrap();
    people(&mut client);
    // (Not ending in a space: the parser trims what ends a line.)
    let notes = "Bring: towel, water; mat\\chalk\nLevel 2 — Grüße 🏋 "
        .repeat(4)
        .trim_end()
        .to_string();
    let yoga = create_slot(&mut client, "2031-03-03 09:00:00+00", 8, Some(&notes));
    let spin = create_slot(&mut client, "2031-03-04 18:30:00+01", 2, None);
    for (user, slot) in [(AMY, &yoga), (AMY, &spin), (BEN, &yoga)] {
        call(
            &mut client,
            user,
            &format!("SELECT gym_booking.book_slot('{slot}')"),
        );
    }
    let amy_token = new_token(&mut client, AMY);
    let tess_token = new_token(&mut client, TESS);

    // Amy's feed: her two bookings, at their slots' UTC times, nothing of Ben's.
    let amy_feed = parse(&feed(&mut client, Some(&amy_token)));
    let rows = utc(
        &mut client,
        &format!(
            "SELECT 'booking-' || b.id || '@gym_booking',
                    to_char(s.start_at AT TIME ZONE 'UTC', {ICS_TIME}) || '/' ||
                    to_char(s.end_at AT TIME ZONE 'UTC', {ICS_TIME}),
                    coalesce(s.notes, '')
               FROM gym_booking.bookings AS b JOIN gym_booking.slots AS s ON s.id = b.slot_id
              WHERE b.user_id = '{AMY}' ORDER BY 1"
        ),
    );
    assert_eq!(
        amy_feed.keys().cloned().collect::<Vec<_>>(),
        rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>()
    );
    for (uid, times, row_notes) in &rows {
        let event = &amy_feed[uid];
        assert_eq!(&format!("{}/{}", event.start, event.end), times, "{uid}");
        assert_eq!(event.status, "CONFIRMED");
        assert_eq!(event.sequence, 0);
        assert_eq!(event.summary, "Training with Tess");
        assert_eq!(event.description.clone().unwrap_or_default(), *row_notes);
    }
    assert!(amy_feed.values().any(|e| e.start == "20310304T173000Z"));
    assert!(!feed(&mut client, Some(&amy_token)).contains("Ben"));

    // Tess's feed: her slots with their counts, no athlete's name.
    let tess_raw = feed(&mut client, Some(&tess_token));
    assert!(!tess_raw.contains("Amy") && !tess_raw.contains("Ben"));
    let tess_feed = parse(&tess_raw);
    let yoga_uid = format!("slot-{yoga}@gym_booking");
    let spin_uid = format!("slot-{spin}@gym_booking");
    assert_eq!(tess_feed[&yoga_uid].summary, "Session: 2/8 booked");
    assert_eq!(tess_feed[&spin_uid].summary, "Session: 1/2 booked");
    assert_eq!(tess_feed[&yoga_uid].start, "20310303T090000Z");
    assert_eq!(
        tess_feed[&yoga_uid].description.as_deref(),
        Some(notes.as_str())
    );

    // Each change: Amy's yoga booking and Tess's yoga slot as the feeds show them after it.
    let amy_yoga = format!(
        "booking-{}@gym_booking",
        booking_id(&mut client, &yoga, AMY)
    );
    let mut last = (amy_feed[&amy_yoga].sequence, tess_feed[&yoga_uid].sequence);
    let changes: [(&str, &str, String, &str, &str); 4] = [
        (
            "notes changed",
            TESS,
            format!("UPDATE gym_booking.slots SET notes = 'Bring water' WHERE id = '{yoga}'"),
            "CONFIRMED",
            "CONFIRMED",
        ),
        (
            "booking cancelled",
            AMY,
            format!(
                "SELECT gym_booking.cancel_booking((SELECT id FROM gym_booking.bookings
                  WHERE slot_id = '{yoga}' AND user_id = '{AMY}'))"
            ),
            "CANCELLED",
            "CONFIRMED",
        ),
        (
            "booked again",
            AMY,
            format!("SELECT gym_booking.book_slot('{yoga}')"),
            "CONFIRMED",
            "CONFIRMED",
        ),
        (
            "slot cancelled",
            TESS,
            format!("SELECT gym_booking.cancel_slot('{yoga}')"),
            "CANCELLED",
            "CANCELLED",
        ),
    ];
    for (change, user, sql, athlete_status, trainer_status) in changes {
        call(&mut client, user, &sql);
        let athlete = parse(&feed(&mut client, Some(&amy_token)))[&amy_yoga].clone();
        let trainer = parse(&feed(&mut client, Some(&tess_token)))[&yoga_uid].clone();
        assert_eq!(athlete.status, athlete_status, "{change}: Amy's STATUS");
        assert_eq!(trainer.status, trainer_status, "{change}: Tess's STATUS");
        assert!(
            athlete.sequence > last.0,
            "{change}: Amy's SEQUENCE {} after {}",
            athlete.sequence,
            last.0
        );
        assert!(
            trainer.sequence > last.1,
            "{change}: Tess's SEQUENCE {} after {}",
            trainer.sequence,
            last.1
        );
        // DTSTAMP is the last change of the rows, not the time of the request.
        assert!(athlete.stamp.starts_with("20") && athlete.stamp.ends_with('Z'));
        last = (athlete.sequence, trainer.sequence);
    }
    // The same rows, fetched again: the same bytes.
    assert_eq!(
        feed(&mut client, Some(&amy_token)),
        feed(&mut client, Some(&amy_token))
    );
}

#[test]
fn wrong_rotated_and_revoked_tokens_get_the_empty_feed() {
    let db = TestDb::with_extension("calendar_tokens");
    let mut client = db.connect();
    people(&mut client);
    // Ben has booked nothing: his feed is the empty calendar a wrong token must get too.
    let ben_token = new_token(&mut client, BEN);
    let empty = feed(&mut client, Some(&ben_token));
    assert!(parse(&empty).is_empty());
    let slot = create_slot(&mut client, "2031-05-01 08:00:00+00", 4, None);
    call(
        &mut client,
        AMY,
        &format!("SELECT gym_booking.book_slot('{slot}')"),
    );
    let first = new_token(&mut client, AMY);
    assert_eq!(parse(&feed(&mut client, Some(&first))).len(), 1);

    let megabyte = "a".repeat(1 << 20);
    let nobodys = "0".repeat(64);
    let upper = first.to_uppercase();
    for wrong in [
        None,
        Some(""),
        Some("wrong"),
        Some(megabyte.as_str()),
        Some(nobodys.as_str()),
        Some(upper.as_str()),
        Some("ü\u{1F3CB}"),
    ] {
        assert_eq!(
            feed(&mut client, wrong),
            empty,
            "token {:?}",
            wrong.map(|t| &t[..t.len().min(20)])
        );
    }
    // Rotation: the old token stops working at once.
    let second = new_token(&mut client, AMY);
    assert_ne!(first, second);
    assert_eq!(feed(&mut client, Some(&first)), empty);
    assert_eq!(parse(&feed(&mut client, Some(&second))).len(), 1);
    // Revocation.
    let revoked: bool = postgrest_request(
        &mut client,
        &person(AMY),
        "POST",
        "/rpc/revoke_calendar_token",
        |tx| {
            Ok(tx
                .query_one("SELECT gym_booking.revoke_calendar_token()", &[])?
                .get(0))
        },
    )
    .unwrap();
    assert!(revoked);
    assert_eq!(feed(&mut client, Some(&second)), empty);
    // Anon gets no token; the table is nobody's to read.
    let refused = postgrest_request(
        &mut client,
        &Caller::new("anon", None),
        "POST",
        "/rpc/calendar_token",
        |tx| {
            tx.query_one("SELECT gym_booking.calendar_token()", &[])
                .map(|_| ())
        },
    )
    .expect_err("anon gets no token");
    assert_eq!(sqlstate(&refused), "42501");
    for caller in [
        Caller::new("anon", None),
        person(AMY),
        Caller::new("service_role", Some(json!({"role": "service_role"}))),
    ] {
        let refused = postgrest_request(&mut client, &caller, "GET", "/calendar_tokens", |tx| {
            tx.query("SELECT * FROM gym_booking.calendar_tokens", &[])
                .map(|_| ())
        })
        .expect_err("calendar_tokens is nobody's to read");
        assert_eq!(sqlstate(&refused), "42501", "{}", caller.role);
    }
}

/// The feed's statements read by index: an athlete with years of history and a trainer with
/// thousands of slots, among tens of thousands of bookings; the token by its hash among
/// everybody's. Counted by the transaction's own
/// statistics (the feed is a SQL function, out of EXPLAIN's sight): no sequential scan of the
/// tables it reads, and the athlete's booking rows fetched stay those of the window.
#[test]
fn the_feed_reads_by_index_whatever_the_history() {
    let db = TestDb::with_extension("calendar_plans");
    let mut client = db.connect();
    people(&mut client);
    // 20 trainers x 500 slots two hours apart, 2 years back and some weeks ahead; 400 athletes
    // with 60 bookings each; Amy with a booking in every one of Tess's slots (completed in
    // the past, reserved ahead): years of history. Loaded as a restore would, then ANALYZE.
    client
        .batch_execute(&format!(
            "SET session_replication_role = replica;
             INSERT INTO gym_booking.users (id, email, password_hash, first_name, role, contact_email)
             SELECT ('00000000-0000-4000-b000-' || lpad(t::text, 12, '0'))::uuid,
                    't' || t || '@plans.example', 'x', 'Trainer ' || t, 'trainer', 't' || t || '@plans.example'
               FROM generate_series(1, 20) AS t;
             INSERT INTO gym_booking.users (id, email, password_hash, first_name)
             SELECT ('00000000-0000-4000-b001-' || lpad(a::text, 12, '0'))::uuid,
                    'a' || a || '@plans.example', 'x', 'Athlete ' || a
               FROM generate_series(1, 400) AS a;
             INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes, capacity)
             SELECT ('00000000-0000-4000-9000-' || lpad(g::text, 12, '0'))::uuid,
                    CASE WHEN g % 21 = 0 THEN '{TESS}'::uuid
                         ELSE ('00000000-0000-4000-b000-' || lpad((1 + g % 20)::text, 12, '0'))::uuid END,
                    date_trunc('hour', now()) - interval '2 years' + g * interval '100 minutes',
                    date_trunc('hour', now()) - interval '2 years' + g * interval '100 minutes' + interval '1 hour',
                    60, 20
               FROM generate_series(0, 11000) AS g;
             INSERT INTO gym_booking.bookings (slot_id, user_id, status, status_changed_at, trainer_id)
             SELECT s.id, '{AMY}', CASE WHEN s.end_at < now() THEN 'completed' ELSE 'reserved' END::gym_booking.booking_status,
                    CASE WHEN s.end_at < now() THEN s.end_at + interval '1 hour' ELSE s.start_at - interval '3 days' END,
                    s.trainer_id
               FROM gym_booking.slots AS s WHERE s.trainer_id = '{TESS}';
             INSERT INTO gym_booking.bookings (slot_id, user_id, status, trainer_id)
             SELECT DISTINCT ON (s.id, a) s.id, ('00000000-0000-4000-b001-' || lpad(a::text, 12, '0'))::uuid,
                    'reserved', s.trainer_id
               FROM generate_series(1, 400) AS a CROSS JOIN generate_series(0, 59) AS i
               JOIN gym_booking.slots AS s
                 ON s.id = ('00000000-0000-4000-9000-' || lpad(((a * 97 + i * 101) % 11000)::text, 12, '0'))::uuid
              WHERE s.trainer_id <> '{TESS}'
             ON CONFLICT DO NOTHING;
             -- A fifth of the others cancelled, with their history.
             UPDATE gym_booking.bookings SET status = 'cancelled'
              WHERE user_id <> '{AMY}' AND get_byte(uuid_send(id), 15) % 5 = 0;
             INSERT INTO gym_booking.booking_status_history (booking_id, previous_status, current_status, trainer_id)
             SELECT id, 'reserved', status, trainer_id FROM gym_booking.bookings WHERE status <> 'reserved';
             INSERT INTO gym_booking.activity_logs (entity_type, entity_id, action, changed_fields, trainer_id)
             SELECT 'slot'::gym_booking.log_entity_type, id, 'create'::gym_booking.log_action_type,
                    jsonb_build_object('id', id), trainer_id FROM gym_booking.slots
             UNION ALL
             SELECT 'slot', id, 'update', jsonb_build_object('notes', 'x'), trainer_id FROM gym_booking.slots;
             -- Everybody has a token (Amy's and Tess's are made anew below).
             INSERT INTO gym_booking.calendar_tokens (user_id, token_hash)
             SELECT id, sha256(uuid_send(id)) FROM gym_booking.users;
             SET session_replication_role = origin;
             ANALYZE;"
        ))
        .expect("load the history");
    let amy_history: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM gym_booking.bookings WHERE user_id = '{AMY}'"),
            &[],
        )
        .unwrap()
        .get(0);
    assert!(amy_history > 400, "Amy's history: {amy_history} bookings");
    let amy_token = new_token(&mut client, AMY);
    let tess_token = new_token(&mut client, TESS);

    let tables = [
        "bookings",
        "slots",
        "activity_logs",
        "booking_status_history",
        "calendar_tokens",
    ];
    for (who, token) in [("the athlete", &amy_token), ("the trainer", &tess_token)] {
        let (events, seq_scans, fetched) = postgrest_request(
            &mut client,
            &Caller::new("anon", None),
            "GET",
            "/rpc/calendar_feed",
            |tx| {
                let counters = |tx: &mut postgres::Transaction<'_>| -> Result<Vec<(i64, i64)>, postgres::Error> {
                    tables
                        .iter()
                        .map(|t| {
                            let row = tx.query_one(
                                "SELECT pg_stat_get_xact_numscans(('gym_booking.' || $1)::regclass),
                                        pg_stat_get_xact_tuples_fetched(('gym_booking.' || $1)::regclass)",
                                &[t],
                            )?;
                            Ok((row.get(0), row.get(1)))
                        })
                        .collect()
                };
                let before = counters(tx)?;
                let mut text = String::new();
                for _ in 0..3 {
                    text = tx
                        .query_one("SELECT gym_booking.calendar_feed($1)::text", &[token])?
                        .get(0);
                }
                let after = counters(tx)?;
                let seq_scans: Vec<(&str, i64)> = tables
                    .iter()
                    .zip(before.iter().zip(&after))
                    .map(|(t, (b, a))| (*t, a.0 - b.0))
                    .collect();
                Ok((parse(&text).len() as i64, seq_scans, after[0].1 - before[0].1))
            },
        )
        .unwrap_or_else(|e| panic!("{who}: {e}"));
        assert!(events > 0, "{who}: an empty feed");
        for (table, scans) in seq_scans {
            assert_eq!(
                scans, 0,
                "{who}: {table} read in full ({scans} sequential scans)"
            );
        }
        // Three feeds: the rows of the window (and their slots' counts), not Amy's years.
        assert!(
            fetched <= 3 * (events * 25 + 50),
            "{who}: {fetched} booking rows fetched for {events} events in three feeds"
        );
        if who == "the athlete" {
            assert!(
                fetched < amy_history,
                "{who}: fetched {fetched} booking rows, her whole history is {amy_history}"
            );
        }
    }
}

//! A lived-in database survives `pg_dump` + `psql` and `pg_dump -Fc` + `pg_restore`: every
//! row comes back as it was (past, completed, cancelled and ended-but-unprocessed bookings,
//! anonymized users, logs, history, the directory), with no error and no invented log row,
//! and the restored database still enforces the rules.
//!
//! Release 0.2.0: the studio's settings as the admin changed them (the restored row is the
//! changed one, not the default a new CREATE EXTENSION makes) with their history; waitlist
//! entries waiting, promoted, left, expired and removed; events delivered, claimed and not
//! yet claimed; and every sequence where it was, so the restored database goes on numbering
//! queues and events after the restored ones and its waitlists still promote.
//!
//! Release 0.2.1: weekly series in the studio's time zone and their occurrences (slots that
//! point at them), booked, changed by hand, cancelled with their series or with their
//! trainer's account, come back exactly; in the restored database the timetables' sweep finds
//! nothing to make and an edit of a restored series still tells booked and hand-changed
//! occurrences from the ones it moves.
//! Release 0.2.1: calendar tokens (their hashes) come back, and a token opens the same feed
//! in the restored database.
//!
//! Release 0.2.2: attendance marks (attended, no-shows, an excused one, the auto no-show
//! sweep's), the sweep's watermark (the restored row, not the one CREATE EXTENSION makes) and
//! a suspension come back: the suspended athlete is still refused, marks still change inside
//! their period, and the sweep does not go back over what it had passed.

use gym_booking_integration::{
    connect_to, contents, load_demo_data, postgrest_request, restore_plain_dump, run_tool,
    sqlstate, Caller, TestDb,
};
use postgres::Client;
use serde_json::json;

/// Release 0.2.2: marks, excuses, the sweep's watermark, suspensions.
#[path = "dump_restore/attendance.rs"]
mod attendance;

const ADMIN_CLAIMS: &str = r#"{"sub": "00000000-0000-4000-a000-000000000001"}"#;
const ADMIN: &str = "00000000-0000-4000-a000-000000000001";
/// Tess, whose one-to-ones get waitlists; Marco, who is deleted (his slots are cancelled).
const TESS: &str = "00000000-0000-4000-a000-000000000011";
const MARCO: &str = "00000000-0000-4000-a000-000000000012";
/// Dana, whose account is deleted while she waits.
const DANA: &str = "00000000-0000-4000-a000-000000000104";

/// The settings the admin changes: none is a default.
const CHANGED_SETTINGS: &str = "time_zone = 'Europe/Berlin', cancellation_window = '90 minutes',
    booking_opens_before = '30 days', waitlist_max = 4, event_retention = '60 days',
    timetable_horizon = '12 weeks'";

fn person(id: &str) -> Caller {
    Caller::new(
        "authenticated",
        Some(json!({"sub": id, "role": "authenticated"})),
    )
}

fn service() -> Caller {
    Caller::new("service_role", Some(json!({"role": "service_role"})))
}

/// One request as `caller`, which must succeed.
fn as_caller(client: &mut Client, caller: &Caller, sql: &str) {
    postgrest_request(client, caller, "POST", "/rpc", |tx| tx.batch_execute(sql))
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
}

/// An athlete who holds the one place of every slot with a waitlist.
const ALEX: &str = "00000000-0000-4000-a000-000000000101";

/// Slots of one place for waitlists: Tess's W1..W4, Marco's M1 and M2 (his deletion cancels
/// them). Alex holds every place.
const WAITLIST_SLOTS: [(&str, &str, &str); 6] = [
    (
        "00000000-0000-4000-b000-000000000201",
        TESS,
        "3 days 5 hours",
    ),
    (
        "00000000-0000-4000-b000-000000000202",
        TESS,
        "4 days 5 hours",
    ),
    (
        "00000000-0000-4000-b000-000000000203",
        TESS,
        "5 days 5 hours",
    ),
    (
        "00000000-0000-4000-b000-000000000204",
        TESS,
        "6 days 5 hours",
    ),
    (
        "00000000-0000-4000-b000-000000000205",
        MARCO,
        "3 days 6 hours",
    ),
    (
        "00000000-0000-4000-b000-000000000206",
        MARCO,
        "4 days 6 hours",
    ),
];
const W1: &str = WAITLIST_SLOTS[0].0;
const W2: &str = WAITLIST_SLOTS[1].0;
const W3: &str = WAITLIST_SLOTS[2].0;

/// The demo's other athletes, in a fixed order (Dana among them).
fn others(client: &mut Client, holder: &str) -> Vec<String> {
    client
        .query(
            "SELECT id::text FROM gym_booking.users
              WHERE role = 'athlete' AND deleted_at IS NULL AND id <> $1::text::uuid ORDER BY id",
            &[&holder],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn join(client: &mut Client, athlete: &str, slot: &str) {
    as_caller(
        client,
        &person(athlete),
        &format!("SELECT gym_booking.join_waitlist('{slot}')"),
    );
}

/// Settings changed, waitlists joined, left and promoted (before the weeks of life end
/// some of them: Marco's deletion cancels his slots, Dana's removes her entries).
fn studio_life(client: &mut Client) {
    as_caller(
        client,
        &person(ADMIN),
        &format!("UPDATE gym_booking.studio_settings SET {CHANGED_SETTINGS}"),
    );
    // Alex's places have the largest ids, so the weeks of life (which cancel the first few
    // bookings by id) leave them be.
    for (n, (slot, trainer, after)) in WAITLIST_SLOTS.into_iter().enumerate() {
        client
            .batch_execute(&format!(
                "INSERT INTO gym_booking.slots (id, trainer_id, start_at, capacity, notes)
                 VALUES ('{slot}', '{trainer}', date_trunc('day', now()) + interval '{after}', 1,
                         'Waitlist');
                 BEGIN;
                 SELECT set_config('request.jwt.claims', '{{\"sub\": \"{ALEX}\"}}', true);
                 INSERT INTO gym_booking.bookings (id, slot_id, user_id)
                 VALUES ('ffffffff-0000-4000-b000-00000000030{n}', '{slot}', '{ALEX}');
                 COMMIT;"
            ))
            .unwrap();
    }
    let athletes = others(client, ALEX);
    let (bea, chen, eli, fay) = (&athletes[0], &athletes[1], &athletes[3], &athletes[4]);
    assert_eq!(athletes[2], DANA);
    // W1: Bea, Chen and Dana wait; Eli joins and leaves; Alex cancels: Bea is promoted.
    for athlete in [bea, chen, &DANA.to_string()] {
        join(client, athlete, W1);
    }
    as_caller(
        client,
        &person(eli),
        &format!(
            "SELECT gym_booking.join_waitlist('{W1}'); SELECT gym_booking.leave_waitlist('{W1}')"
        ),
    );
    as_caller(
        client,
        &person(ALEX),
        &format!(
            "SELECT gym_booking.cancel_booking(id) FROM gym_booking.bookings
              WHERE slot_id = '{W1}' AND user_id = '{ALEX}'"
        ),
    );
    // W2: Fay waits on, past the dump.
    join(client, fay, W2);
    // Marco's: two wait for each; his deletion expires them.
    for (slot, _, _) in &WAITLIST_SLOTS[4..] {
        join(client, eli, slot);
        join(client, fay, slot);
    }
}

/// The delivery worker's round: it claims a batch, acknowledges part of it and crashes on
/// the rest (claimed, leased, undelivered); later events are not claimed yet.
fn deliver_some(client: &mut Client) {
    let claimed: Vec<i64> =
        postgrest_request(client, &service(), "POST", "/rpc/claim_events", |tx| {
            Ok(tx
                .query(
                    "SELECT id FROM gym_booking.claim_events(10, interval '10 minutes')",
                    &[],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
        .unwrap();
    assert_eq!(claimed.len(), 10, "a batch of events to deliver");
    let acked: i32 = postgrest_request(client, &service(), "POST", "/rpc/ack_events", |tx| {
        Ok(tx
            .query_one(
                "SELECT gym_booking.ack_events($1)",
                &[&claimed[..6].to_vec()],
            )?
            .get(0))
    })
    .unwrap();
    assert_eq!(acked, 6, "six events delivered");
}

/// The demo data, a past that the rules no longer let anyone write (loaded as a restore
/// would), and a few weeks of life: cancellations, completions, deletions.
fn live_in(db: &TestDb) {
    let mut client = db.connect();
    load_demo_data(&mut client);
    client
        .batch_execute(
            "BEGIN;
             SET LOCAL session_replication_role = replica;
             -- Last week's sessions, all ended; every athlete booked each of them.
             INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes, capacity, notes)
             SELECT ('00000000-0000-4000-b000-0000000000' || lpad(d::text, 2, '0'))::uuid,
                    '00000000-0000-4000-a000-000000000011',
                    date_trunc('day', now()) - make_interval(days => d) + interval '9 hours',
                    date_trunc('day', now()) - make_interval(days => d) + interval '10 hours',
                    60, 8, 'Past session'
               FROM generate_series(1, 7) AS d;
             INSERT INTO gym_booking.bookings (slot_id, user_id, status, status_changed_at, created_at)
             SELECT s.id, u.id, 'reserved', s.start_at - interval '2 days', s.start_at - interval '2 days'
               FROM gym_booking.slots AS s, gym_booking.users AS u
              WHERE s.notes = 'Past session' AND u.role = 'athlete';
             COMMIT;",
        )
        .expect("the past");
    studio_life(&mut client);
    // Marco's class, before his account goes (its occurrences go with it).
    as_caller(
        &mut client,
        &person(MARCO),
        "SELECT gym_booking.create_series(ARRAY[1, 3], '18:00',
                (now() AT TIME ZONE 'Europe/Berlin')::date + 1, capacity => 6, notes => 'Evening HIIT')",
    );
    client
        .batch_execute(&format!(
            "BEGIN;
             SELECT set_config('request.jwt.claims', '{ADMIN_CLAIMS}', true);
             -- Some past bookings complete; the rest stay ended but unprocessed.
             SELECT gym_booking.complete_past_bookings(20);
             -- Athletes cancel a few future bookings; Fay re-books one.
             UPDATE gym_booking.bookings SET status = 'cancelled'
              WHERE id IN (SELECT b.id FROM gym_booking.bookings b JOIN gym_booking.slots s ON s.id = b.slot_id
                            WHERE b.status = 'reserved' AND s.start_at > now() + interval '2 days'
                            ORDER BY b.id LIMIT 6);
             UPDATE gym_booking.bookings SET status = 'reserved'
              WHERE id = (SELECT b.id FROM gym_booking.bookings b JOIN gym_booking.slots s ON s.id = b.slot_id
                           WHERE b.status = 'cancelled' AND s.capacity > 1 ORDER BY b.id LIMIT 1);
             -- Marco cancels a slot; Dana and Marco leave.
             UPDATE gym_booking.slots SET cancelled_at = now()
              WHERE id = (SELECT id FROM gym_booking.slots
                           WHERE trainer_id = '00000000-0000-4000-a000-000000000012' AND start_at > now()
                           ORDER BY start_at LIMIT 1);
             DELETE FROM gym_booking.users WHERE id = '00000000-0000-4000-a000-000000000104';
             DELETE FROM gym_booking.users WHERE id = '00000000-0000-4000-a000-000000000012';
             COMMIT;"
        ))
        .expect("a few weeks of life");
    // Someone joins a list after all that, and waits on past the dump.
    let chen = others(&mut client, ALEX).remove(1);
    join(&mut client, &chen, W3);
    timetables_life(&mut client);
    attendance::attendance_life(&mut client);
    deliver_some(&mut client);
    // Everything 0.2.0 keeps is there to dump.
    let lived: Vec<String> = client
        .query(
            "SELECT 'entries ' || state, count(*) FROM gym_booking.waitlist_entries GROUP BY state
             UNION ALL
             SELECT 'events ' || CASE WHEN delivered_at IS NOT NULL THEN 'delivered'
                                      WHEN claimed_until IS NOT NULL THEN 'claimed'
                                      ELSE 'new' END, count(*)
               FROM gym_booking.events GROUP BY 1
             UNION ALL
             SELECT 'settings history', count(*) FROM gym_booking.studio_settings_history
             ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    assert_eq!(
        lived,
        [
            "entries expired",
            "entries left",
            "entries promoted",
            "entries removed",
            "entries waiting",
            "events claimed",
            "events delivered",
            "events new",
            "settings history",
        ],
        "what the studio's life left to dump"
    );
    let kinds: i64 = client
        .query_one(
            "SELECT count(DISTINCT status) FROM gym_booking.bookings",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        kinds, 3,
        "reserved, cancelled and completed bookings to restore"
    );
}

/// Tess's classes (studio time, Berlin): Strength, Tuesdays and Thursdays at 07:30, four
/// places, open-ended; Yoga, Saturdays at 10:00, for six weeks, cancelled from its third.
/// Two athletes book Strength's first two occurrences and one Yoga's first; Tess moves the
/// third Strength by hand. Then the sweep runs, as the background worker would, so the
/// dump holds every series made up to the horizon.
fn timetables_life(client: &mut Client) {
    let tess = person(TESS);
    let mut create = |sql: &str| -> String {
        postgrest_request(client, &tess, "POST", "/rpc/create_series", |tx| {
            Ok(tx.query_one(sql, &[])?.get(0))
        })
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
    };
    let strength = create(
        "SELECT id::text FROM gym_booking.create_series(ARRAY[2, 4], '07:30',
                (now() AT TIME ZONE 'Europe/Berlin')::date + 1, capacity => 4, notes => 'Strength')",
    );
    let yoga = create(
        "SELECT id::text FROM gym_booking.create_series(ARRAY[6], '10:00',
                (now() AT TIME ZONE 'Europe/Berlin')::date + 1,
                (now() AT TIME ZONE 'Europe/Berlin')::date + 42, capacity => 8, notes => 'Yoga')",
    );
    let nth = |n: usize, series: &str| {
        format!(
            "(SELECT id FROM gym_booking.slots WHERE series_id = '{series}'
               ORDER BY series_date OFFSET {n} LIMIT 1)"
        )
    };
    let athletes = others(client, ALEX);
    for (athlete, slots) in [
        (&athletes[0], vec![nth(0, &strength), nth(1, &strength)]),
        (&athletes[1], vec![nth(0, &strength), nth(0, &yoga)]),
    ] {
        for slot in slots {
            as_caller(
                client,
                &person(athlete),
                &format!("SELECT gym_booking.book_slot({slot})"),
            );
        }
    }
    as_caller(
        client,
        &tess,
        &format!(
            "UPDATE gym_booking.slots SET notes = 'Strength (bring a mat)' WHERE id = {}",
            nth(2, &strength)
        ),
    );
    as_caller(
        client,
        &tess,
        &format!(
            "SELECT gym_booking.cancel_series('{yoga}',
                    (SELECT first_date + 14 FROM gym_booking.series WHERE id = '{yoga}'))"
        ),
    );
    as_caller(client, &service(), "SELECT gym_booking.extend_timetables()");
    // What the timetables left to dump: three series (one cancelled from a date, Marco's
    // stopped with his account), occurrences booked, changed by hand and cancelled.
    let lived: String = client
        .query_one(
            "SELECT (SELECT count(*) FROM gym_booking.series) || ' series, '
                    || (SELECT count(*) FROM gym_booking.series WHERE cancelled_from IS NOT NULL)
                    || ' cancelled; occurrences: '
                    || (SELECT count(DISTINCT b.slot_id) FROM gym_booking.bookings b
                          JOIN gym_booking.slots o ON o.id = b.slot_id
                         WHERE o.series_id IS NOT NULL AND b.status = 'reserved') || ' booked, '
                    || (SELECT count(*) FROM gym_booking.slots WHERE notes = 'Strength (bring a mat)')
                    || ' changed by hand, Marco''s cancelled '
                    || (SELECT bool_and(o.cancelled_at IS NOT NULL) FROM gym_booking.slots o
                          JOIN gym_booking.series s ON s.id = o.series_id
                         WHERE s.trainer_id = $1::text::uuid)
                    || ', Yoga''s cancelled '
                    || (SELECT count(*) FILTER (WHERE cancelled_at IS NOT NULL) || '/' || count(*)
                          FROM gym_booking.slots WHERE series_id = $2::text::uuid)",
            &[&MARCO, &yoga],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        lived,
        "3 series, 1 cancelled; occurrences: 3 booked, 1 changed by hand, Marco's cancelled true, \
         Yoga's cancelled 4/6",
        "what the timetables left to dump"
    );
}

/// The restored timetables run on: the sweep (the back office's, as a cron job calls it)
/// makes nothing new, and Tess's restored Strength moves to 08:00 except where it is booked
/// or was changed by hand, as the restored rows say.
fn timetables_still_run(db: &str) {
    let mut client = connect_to(db);
    let count = |client: &mut Client| -> i64 {
        client
            .query_one("SELECT count(*) FROM gym_booking.slots", &[])
            .unwrap()
            .get(0)
    };
    let slots_before = count(&mut client);
    let made: i32 = postgrest_request(
        &mut client,
        &service(),
        "POST",
        "/rpc/extend_timetables",
        |tx| {
            Ok(tx
                .query_one("SELECT gym_booking.extend_timetables()", &[])?
                .get(0))
        },
    )
    .unwrap();
    assert_eq!(made, 0, "the sweep made occurrences in a restored database");
    assert_eq!(count(&mut client), slots_before, "slots after the sweep");

    let outcomes: Vec<(String, String)> = postgrest_request(
        &mut client,
        &person(TESS),
        "POST",
        "/rpc/edit_series",
        |tx| {
            Ok(tx
                .query(
                    "SELECT outcome, slot_id::text FROM gym_booking.edit_series(
                         (SELECT id FROM gym_booking.series WHERE notes = 'Strength'),
                         local_start => '08:00')",
                    &[],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        },
    )
    .unwrap_or_else(|e| panic!("Tess edits her restored series: {e:?}"));
    let mut tally = std::collections::BTreeMap::new();
    for (outcome, _) in &outcomes {
        *tally.entry(outcome.as_str()).or_insert(0) += 1;
    }
    let changed: Vec<&String> = outcomes
        .iter()
        .filter(|(o, _)| o == "changed")
        .map(|(_, id)| id)
        .collect();
    assert!(
        tally.get("kept: booked") == Some(&2)
            && tally.get("kept: changed by hand") == Some(&1)
            && changed.len() >= 10
            && tally.len() == 3,
        "the edit of the restored series: {tally:?}"
    );
    let at_eight: bool = client
        .query_one(
            "SELECT bool_and(to_char(start_at AT TIME ZONE 'Europe/Berlin', 'HH24:MI') = '08:00')
               FROM gym_booking.slots WHERE id::text = ANY($1)",
            &[&changed],
        )
        .unwrap()
        .get(0);
    assert!(at_eight, "the moved occurrences start at 08:00 in Berlin");
}

/// The rules hold in a restored database: overbooking, the cancellation window, the log.
fn rules_still_hold(db: &str) {
    let mut client = connect_to(db);
    let full: String = client
        .query_one(
            "SELECT s.id::text FROM gym_booking.slots s
              WHERE s.capacity = 1 AND s.cancelled_at IS NULL AND s.start_at > now()
                AND EXISTS (SELECT FROM gym_booking.bookings b WHERE b.slot_id = s.id AND b.status = 'reserved')
              LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    let err = client
        .batch_execute(&format!(
            "INSERT INTO gym_booking.bookings (slot_id, user_id)
             SELECT '{full}', id FROM gym_booking.users
              WHERE role = 'athlete' AND deleted_at IS NULL
                AND id NOT IN (SELECT user_id FROM gym_booking.bookings WHERE slot_id = '{full}')
              LIMIT 1"
        ))
        .unwrap_err();
    assert_eq!(
        sqlstate(&err),
        "23P01",
        "a full slot stays full after a restore"
    );
    let logs_before: i64 = client
        .query_one("SELECT count(*) FROM gym_booking.activity_logs", &[])
        .unwrap()
        .get(0);
    client
        .batch_execute(
            "INSERT INTO gym_booking.slots (id, trainer_id, start_at, capacity)
             VALUES ('00000000-0000-4000-b000-00000000ffff', '00000000-0000-4000-a000-000000000011',
                     now() + interval '30 minutes', 2);
             INSERT INTO gym_booking.bookings (slot_id, user_id)
             VALUES ('00000000-0000-4000-b000-00000000ffff', '00000000-0000-4000-a000-000000000101');",
        )
        .unwrap();
    let err = client
        .batch_execute(
            "UPDATE gym_booking.bookings SET status = 'cancelled'
              WHERE slot_id = '00000000-0000-4000-b000-00000000ffff'",
        )
        .unwrap_err();
    assert_eq!(
        sqlstate(&err),
        "27000",
        "the cancellation window holds after a restore"
    );
    let logs_after: i64 = client
        .query_one("SELECT count(*) FROM gym_booking.activity_logs", &[])
        .unwrap()
        .get(0);
    assert_eq!(logs_after, logs_before + 2, "new writes are logged again");
}

/// The restored studio: its settings are the changed ones and in force, its waitlists promote,
/// and its queues, events and settings' history go on numbering after the restored rows.
fn studio_rules_still_hold(db: &str) {
    let mut client = connect_to(db);
    let settings: String = client
        .query_one(
            &format!(
                "SELECT count(*) || ' ' || bool_and(({}) IS NOT DISTINCT FROM true)::text
                   FROM gym_booking.studio_settings",
                CHANGED_SETTINGS.replace(',', " AND")
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        settings, "1 true",
        "one settings row, the admin's, not a new install's defaults"
    );
    let max =
        |client: &mut Client, sql: &str| -> i64 { client.query_one(sql, &[]).unwrap().get(0) };
    let queue_before = max(
        &mut client,
        "SELECT max(queue_no) FROM gym_booking.waitlist_entries",
    );
    let event_before = max(&mut client, "SELECT max(id) FROM gym_booking.events");
    let history_before = max(
        &mut client,
        "SELECT max(id) FROM gym_booking.studio_settings_history",
    );

    // The earliest restored waiting entry is promoted when its slot's place frees.
    let row = client
        .query_one(
            "SELECT w.id::text, w.slot_id::text, w.user_id::text, b.user_id::text
               FROM gym_booking.waitlist_entries w
               JOIN gym_booking.bookings b ON b.slot_id = w.slot_id AND b.status = 'reserved'
              WHERE w.state = 'waiting' ORDER BY w.queue_no LIMIT 1",
            &[],
        )
        .unwrap();
    let (entry, slot, waiter, holder): (String, String, String, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    as_caller(
        &mut client,
        &person(&holder),
        &format!(
            "SELECT gym_booking.cancel_booking(id) FROM gym_booking.bookings
              WHERE slot_id = '{slot}' AND user_id = '{holder}'"
        ),
    );
    let promoted: bool = client
        .query_one(
            "SELECT w.state = 'promoted' AND b.status = 'reserved' AND b.auto_processed
                    AND b.user_id = $2::text::uuid
                    AND EXISTS (SELECT FROM gym_booking.events e
                                 WHERE e.booking_id = b.id AND e.kind = 'waitlist_promoted'
                                   AND e.recipient_id = $2::text::uuid AND e.id > $3)
               FROM gym_booking.waitlist_entries w JOIN gym_booking.bookings b ON b.id = w.booking_id
              WHERE w.id = $1::text::uuid",
            &[&entry, &waiter, &event_before],
        )
        .map(|r| r.get(0))
        .unwrap_or(false);
    assert!(
        promoted,
        "the restored waiting entry {entry} was not promoted into {slot} (with its event, numbered after the restored ones)"
    );

    // A new entry queues after every restored one.
    let (slot, holder) = client
        .query_one(
            "SELECT s.id::text, b.user_id::text FROM gym_booking.slots s
               JOIN gym_booking.bookings b ON b.slot_id = s.id AND b.status = 'reserved'
              WHERE s.capacity = 1 AND s.cancelled_at IS NULL AND s.start_at > now() + interval '2 days'
                AND NOT EXISTS (SELECT FROM gym_booking.waitlist_entries w
                                 WHERE w.slot_id = s.id AND w.state = 'waiting')
              ORDER BY s.start_at, s.id LIMIT 1",
            &[],
        )
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .unwrap();
    let athlete = others(&mut client, &holder).remove(0);
    let queue_no: i64 = postgrest_request(
        &mut client,
        &person(&athlete),
        "POST",
        "/rpc/join_waitlist",
        |tx| {
            Ok(tx
                .query_one(
                    "SELECT queue_no FROM gym_booking.join_waitlist($1::text::uuid)",
                    &[&slot],
                )?
                .get(0))
        },
    )
    .unwrap();
    assert!(
        queue_no > queue_before,
        "a new waitlist entry got queue_no {queue_no}, not after the restored {queue_before}"
    );

    // The restored settings are in force: booking opens 30 days before the start.
    client
        .batch_execute(&format!(
            "INSERT INTO gym_booking.slots (id, trainer_id, start_at, capacity)
             VALUES ('00000000-0000-4000-b000-00000000fffe', '{TESS}', now() + interval '40 days', 2)"
        ))
        .unwrap();
    let early = postgrest_request(
        &mut client,
        &person(&athlete),
        "POST",
        "/rpc/book_slot",
        |tx| {
            tx.execute(
                "SELECT gym_booking.book_slot('00000000-0000-4000-b000-00000000fffe')",
                &[],
            )
        },
    )
    .map_err(|e| sqlstate(&e));
    assert_eq!(
        early,
        Err("44000".to_string()),
        "booking 40 days ahead while the restored settings open booking 30 days ahead"
    );

    // A settings change is recorded after the restored history.
    as_caller(
        &mut client,
        &person(ADMIN),
        "UPDATE gym_booking.studio_settings SET waitlist_max = 5",
    );
    let history_after = max(
        &mut client,
        "SELECT max(id) FROM gym_booking.studio_settings_history",
    );
    assert!(
        history_after > history_before,
        "the settings' history numbered {history_after} after the restored {history_before}"
    );
}

/// Tess's calendar token (0.2.1), made through the API before the dump.
fn calendar_token_of_tess(db: &TestDb) -> String {
    postgrest_request(
        &mut db.connect(),
        &person(TESS),
        "POST",
        "/rpc/calendar_token",
        |tx| {
            Ok(tx
                .query_one("SELECT gym_booking.calendar_token()", &[])?
                .get(0))
        },
    )
    .expect("calendar_token()")
}

/// The feed a token opens in a database (as a calendar app fetches it: anon).
fn feed(db: &str, token: &str) -> String {
    postgrest_request(
        &mut connect_to(db),
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

/// A restored database keeps the token's hash: the same token opens the same feed there.
fn calendar_feed_still_open(source: &str, target: &str, token: &str) {
    let restored = feed(target, token);
    assert!(
        restored.contains("BEGIN:VEVENT"),
        "no event in the restored feed"
    );
    assert!(
        restored == feed(source, token),
        "the token opens another feed in the restored database"
    );
}

#[test]
fn plain_dump_restored_with_psql_brings_everything_back() {
    let source = TestDb::with_extension("dump_plain_src");
    live_in(&source);
    let token = calendar_token_of_tess(&source);
    let target = restore_plain_dump(&source, "dump_plain_dst");
    assert_eq!(contents(&target.name), contents(&source.name));
    calendar_feed_still_open(&source.name, &target.name, &token);
    rules_still_hold(&target.name);
    studio_rules_still_hold(&target.name);
    timetables_still_run(&target.name);
    attendance::attendance_still_holds(&source.name, &target.name);
}

#[test]
fn custom_dump_restored_with_pg_restore_brings_everything_back() {
    let source = TestDb::with_extension("dump_custom_src");
    live_in(&source);
    let token = calendar_token_of_tess(&source);
    let target = TestDb::empty("dump_custom_dst");
    let file = std::env::temp_dir().join(format!("gym_booking_dump_{}.dump", std::process::id()));
    let file = file.to_str().unwrap();
    run_tool("pg_dump", &["-Fc", "-d", &source.name, "-f", file]);
    run_tool("pg_restore", &["--exit-on-error", "-d", &target.name, file]);
    assert_eq!(contents(&target.name), contents(&source.name));
    calendar_feed_still_open(&source.name, &target.name, &token);
    rules_still_hold(&target.name);
    studio_rules_still_hold(&target.name);
    timetables_still_run(&target.name);
    attendance::attendance_still_holds(&source.name, &target.name);
    std::fs::remove_file(file).ok();
}

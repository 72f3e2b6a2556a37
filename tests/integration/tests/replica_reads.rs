//! A read is a read (issue 18): everything a read request needs — identity, the caller's
//! account behind the policies, `available_slots`, `my_bookings`, plain table reads — runs
//! without a transaction id, so it works on a hot standby (a Supabase read replica, PostgREST
//! sending GETs to a streaming standby) and does not age the database towards wraparound.
//!
//! `scripts/test.sh` starts a real streaming standby of the test cluster (`pg_basebackup -R`,
//! hot standby) and exports where it listens.
//!
//! Release 0.2.0's reads join them: the settings and their history, waitlist entries, events,
//! `my_waitlist()` and `available_slots()` with its `waiting` count, over a demo with a
//! changed setting, full slots with athletes waiting, and a promotion (so every new table and
//! function has rows to show).
//!
//! Release 0.2.1's too: series (`GET /series`), their occurrences (slots that point at them)
//! and `series_start_at()`, over a weekly class of the trainer's with a booked occurrence;
//! and the timetable API's writes (`create_series`, `edit_series`, `cancel_series`, the gym's
//! `extend_timetables`) answer PostgreSQL's read-only error on the standby.
//! Release 0.2.1: a calendar feed reads the same on the standby; a token is a write (25006).
//!
//! Release 0.2.2's reads too: attendance marks (`GET /attendance`), a slot's roster, an
//! athlete's strikes and suspension, and the three reports (STABLE functions), over a class of
//! the trainer's that ended an hour ago, its athletes marked a no-show (suspended: the studio
//! suspends at the first strike) and attended, beside the demo's last week of check-ins; and the attendance API's writes
//! (`mark_attendance`, `excuse_no_show`, the gym's `record_no_shows`) answer 25006 there.

use gym_booking_integration::{
    connect_to_standby, load_demo_data, postgrest_request, wait_for_replay, Caller, TestDb,
};
use postgres::Client;
use serde_json::json;

const ADMIN: &str = "00000000-0000-4000-a000-000000000001";
const TRAINER: &str = "00000000-0000-4000-a000-000000000011";
const ATHLETE: &str = "00000000-0000-4000-a000-000000000101";
/// A slot of one place that ATHLETE holds.
const FULL: &str = "00000000-0000-4000-b000-0000000000f1";
/// A slot of one place that another athlete holds and ATHLETE waits for.
const WAITED: &str = "00000000-0000-4000-b000-0000000000f2";

/// Everyone who reads: anon, an athlete, a trainer, an app admin, the back office.
fn callers() -> Vec<(&'static str, Caller)> {
    let user = |id: &str| {
        Caller::new(
            "authenticated",
            Some(json!({"sub": id, "role": "authenticated"})),
        )
    };
    vec![
        ("anon", Caller::new("anon", Some(json!({"role": "anon"})))),
        ("athlete", user(ATHLETE)),
        ("trainer", user(TRAINER)),
        ("admin", user(ADMIN)),
        (
            "service_role",
            Caller::new("service_role", Some(json!({"role": "service_role"}))),
        ),
    ]
}

/// Every read of the API and of the tables, as PostgREST sends it, each one row per line.
const READS: [(&str, &str); 21] = [
    ("GET /trainer_directory",
     "SELECT trainer_id::text || ' ' || display_name FROM gym_booking.trainer_directory ORDER BY 1"),
    ("GET /rpc/available_slots",
     "SELECT slot_id::text || ' ' || booked || '/' || capacity FROM gym_booking.available_slots() ORDER BY 1"),
    ("GET /rpc/my_bookings",
     "SELECT booking_id::text || ' ' || status FROM gym_booking.my_bookings() ORDER BY 1"),
    ("GET /slots", "SELECT id::text FROM gym_booking.slots ORDER BY 1"),
    ("GET /bookings", "SELECT id::text || ' ' || status FROM gym_booking.bookings ORDER BY 1"),
    ("GET /bookings?limit=5",
     "SELECT id::text FROM gym_booking.bookings ORDER BY created_at DESC, id LIMIT 5"),
    ("GET /users?select=id,first_name,role",
     "SELECT id::text || ' ' || first_name || ' ' || role FROM gym_booking.users ORDER BY 1"),
    ("GET /activity_logs?select=id,action",
     "SELECT id::text || ' ' || action FROM gym_booking.activity_logs ORDER BY 1"),
    ("GET /booking_status_history",
     "SELECT id::text || ' ' || current_status FROM gym_booking.booking_status_history ORDER BY 1"),
    ("GET /rpc/current_user_id", "SELECT coalesce(gym_booking.current_user_id()::text, '-')"),
    ("GET /rpc/current_app_role",
     "SELECT coalesce(gym_booking.current_app_role()::text, '-') || ' '
             || coalesce(gym_booking.active_user_id()::text, '-') || ' '
             || gym_booking.is_trainer() || ' ' || gym_booking.is_app_admin()"),
    ("HEAD /slots (count)", "SELECT count(*)::text FROM gym_booking.slots"),
    ("GET /rpc/available_slots (waiting)",
     "SELECT slot_id::text || ' ' || booked || '/' || capacity || ' ' || available || ' ' || waiting
        FROM gym_booking.available_slots() ORDER BY 1"),
    ("GET /rpc/my_waitlist",
     "SELECT entry_id::text || ' ' || slot_id::text || ' ' || trainer_name || ' '
             || \"position\" || '/' || waiting || ' ' || start_at
        FROM gym_booking.my_waitlist() ORDER BY 1"),
    ("GET /studio_settings", "SELECT to_jsonb(s)::text FROM gym_booking.studio_settings AS s"),
    ("GET /studio_settings_history",
     "SELECT id::text || ' ' || changed_fields::text FROM gym_booking.studio_settings_history ORDER BY 1"),
    ("GET /waitlist_entries",
     "SELECT id::text || ' ' || state || ' ' || queue_no FROM gym_booking.waitlist_entries ORDER BY 1"),
    ("GET /events",
     "SELECT id::text || ' ' || kind || ' ' || recipient_id::text || ' ' || payload::text
        FROM gym_booking.events ORDER BY id"),
    ("GET /series",
     "SELECT id::text || ' ' || trainer_id::text || ' ' || weekdays::text || ' ' || local_start
             || ' ' || time_zone || ' ' || first_date || ' ' || made_until
        FROM gym_booking.series ORDER BY 1"),
    ("GET /slots?series_id=not.is.null",
     "SELECT id::text || ' ' || series_id::text || ' ' || series_date || ' '
             || (start_at AT TIME ZONE 'UTC')
        FROM gym_booking.slots WHERE series_id IS NOT NULL ORDER BY series_date"),
    ("GET /rpc/series_start_at",
     "SELECT (gym_booking.series_start_at(series_date, '07:00', 'Europe/Berlin') AT TIME ZONE 'UTC')::text
        FROM gym_booking.slots WHERE series_id IS NOT NULL ORDER BY series_date LIMIT 3"),
];

/// The trainer's class that ended an hour ago (0.2.2): ATHLETE is marked a no-show in it, the
/// demo's first other athlete attended.
const ENDED: &str = "00000000-0000-4000-b000-0000000000e1";

/// Release 0.2.2's reads: (request, SQL, who it concerns: an index into `callers()`, whose
/// answer must have rows). Dates are the studio's (Berlin, as the admin set it).
const ATTENDANCE_READS: [(&str, &str, usize); 6] = [
    ("GET /attendance",
     "SELECT booking_id::text || ' ' || mark || ' ' || strike_at || ' ' || coalesce(marked_by::text, '-')
        FROM gym_booking.attendance ORDER BY 1", 1),
    ("GET /rpc/slot_roster",
     "SELECT athlete_id::text || ' ' || first_name || ' ' || last_name || ' '
             || coalesce(booking_status::text, '-') || ' ' || coalesce(mark::text, '-') || ' ' || excused
        FROM gym_booking.slot_roster('00000000-0000-4000-b000-0000000000e1')", 2),
    ("GET /rpc/athlete_suspension",
     "SELECT strikes || ' ' || coalesce(suspended_until::text, '-')
        FROM gym_booking.athlete_suspension()", 1),
    ("GET /rpc/slot_report",
     "SELECT slot_id::text || ' ' || day || ' ' || booked || ' ' || attended || ' ' || no_shows
             || ' ' || utilization
        FROM gym_booking.slot_report((now() AT TIME ZONE 'Europe/Berlin')::date - 1,
                                     (now() AT TIME ZONE 'Europe/Berlin')::date + 30)", 2),
    ("GET /rpc/trainer_report",
     "SELECT trainer_id::text || ' ' || slots || ' ' || booked || ' ' || no_shows || ' ' || utilization
        FROM gym_booking.trainer_report((now() AT TIME ZONE 'Europe/Berlin')::date - 1,
                                        (now() AT TIME ZONE 'Europe/Berlin')::date + 30)", 3),
    ("GET /rpc/athlete_report",
     "SELECT user_id::text || ' ' || bookings || ' ' || no_shows || ' ' || coalesce(no_show_rate::text, '-')
             || ' ' || strikes || ' ' || coalesce(suspended_until::text, '-')
        FROM gym_booking.athlete_report((now() AT TIME ZONE 'Europe/Berlin')::date - 1,
                                        (now() AT TIME ZONE 'Europe/Berlin')::date + 30)", 1),
];

/// Every read: 0.2.1's and before, then 0.2.2's.
fn all_reads() -> Vec<(&'static str, &'static str)> {
    READS
        .iter()
        .copied()
        .chain(ATTENDANCE_READS.iter().map(|(path, sql, _)| (*path, *sql)))
        .collect()
}

/// The demo, lived in a little under 0.2.0: the admin changes a setting; in WAITED (one
/// place, held by another athlete) ATHLETE and two more wait; in FULL (ATHLETE's) one waits,
/// and the holder of a third slot cancels so the one waiting there is promoted.
fn live_a_little(client: &mut Client) {
    let others: Vec<String> = client
        .query(
            "SELECT id::text FROM gym_booking.users WHERE role = 'athlete' AND id <> $1::text::uuid
              ORDER BY id",
            &[&ATHLETE],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let as_person = |client: &mut Client, id: &str, sql: &str| {
        let caller = Caller::new(
            "authenticated",
            Some(json!({"sub": id, "role": "authenticated"})),
        );
        postgrest_request(client, &caller, "POST", "/rpc", |tx| tx.batch_execute(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    };
    as_person(
        client,
        ADMIN,
        "UPDATE gym_booking.studio_settings SET time_zone = 'Europe/Berlin', waitlist_max = 10",
    );
    let promoted = "00000000-0000-4000-b000-0000000000f3";
    for (slot, hours) in [(FULL, 50), (WAITED, 52), (promoted, 54)] {
        client
            .batch_execute(&format!(
                "INSERT INTO gym_booking.slots (id, trainer_id, start_at, capacity)
                 VALUES ('{slot}', '{TRAINER}', date_trunc('hour', now()) + interval '{hours} hours', 1)"
            ))
            .unwrap();
    }
    let book = |slot: &str| format!("SELECT gym_booking.book_slot('{slot}')");
    let join = |slot: &str| format!("SELECT gym_booking.join_waitlist('{slot}')");
    as_person(client, ATHLETE, &book(FULL));
    as_person(client, &others[0], &book(WAITED));
    as_person(client, &others[1], &book(promoted));
    as_person(client, &others[1], &join(FULL));
    for athlete in [ATHLETE, &others[2], &others[3]] {
        as_person(client, athlete, &join(WAITED));
    }
    as_person(client, ATHLETE, &join(promoted));
    // 0.2.1: the trainer's weekly class (studio time, Berlin, as the admin set it), made three
    // weeks ahead; ATHLETE books its first occurrence.
    as_person(
        client,
        TRAINER,
        "SELECT gym_booking.create_series(ARRAY[2, 4], '07:00',
                (now() AT TIME ZONE 'Europe/Berlin')::date + 1,
                (now() AT TIME ZONE 'Europe/Berlin')::date + 21, capacity => 6, notes => 'Strength')",
    );
    as_person(
        client,
        ATHLETE,
        "SELECT gym_booking.book_slot(id) FROM gym_booking.slots
          WHERE series_id IS NOT NULL ORDER BY series_date LIMIT 1",
    );
    as_person(
        client,
        &others[1],
        &format!(
            "SELECT gym_booking.cancel_booking(id) FROM gym_booking.bookings
              WHERE slot_id = '{promoted}' AND user_id = '{}'",
            others[1]
        ),
    );
    // 0.2.2: the trainer's class that ended an hour ago, loaded as a restore loads it (no
    // client makes a slot in the past); the studio suspends at the first strike; the trainer
    // checks ATHLETE's absence and the other athlete's presence.
    client
        .batch_execute(&format!(
            "BEGIN;
             SET LOCAL session_replication_role = replica;
             INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes, capacity)
             VALUES ('{ENDED}', '{TRAINER}', date_trunc('minute', now()) - interval '2 hours',
                     date_trunc('minute', now()) - interval '1 hour', 60, 4);
             INSERT INTO gym_booking.bookings (slot_id, user_id, status, status_changed_at)
             VALUES ('{ENDED}', '{ATHLETE}', 'reserved', now() - interval '1 day'),
                    ('{ENDED}', '{}', 'reserved', now() - interval '1 day');
             COMMIT;",
            others[0]
        ))
        .unwrap();
    as_person(
        client,
        ADMIN,
        "UPDATE gym_booking.studio_settings SET no_show_strike_limit = 1",
    );
    as_person(
        client,
        TRAINER,
        &format!(
            "SELECT gym_booking.mark_attendance(id, CASE WHEN user_id = '{ATHLETE}'
                                                         THEN 'no_show' ELSE 'attended' END::gym_booking.attendance_mark)
               FROM gym_booking.bookings WHERE slot_id = '{ENDED}' ORDER BY id"
        ),
    );
}

/// The rows a read returns, or the SQLSTATE it is refused with.
type Answer = Result<Vec<String>, String>;

fn read(client: &mut Client, caller: &Caller, path: &str, sql: &str) -> Answer {
    postgrest_request(client, caller, "GET", path, |tx| {
        let rows = tx.query(sql, &[])?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
    })
    .map_err(|err| {
        let db = err.as_db_error().unwrap_or_else(|| panic!("{path}: {err}"));
        format!("{} {}", db.code().code(), db.message())
    })
}

#[test]
fn a_read_request_takes_no_transaction_id() {
    let db = TestDb::with_extension("reads_take_no_xid");
    let mut client = db.connect();
    load_demo_data(&mut client);
    live_a_little(&mut client);
    let mut read_somewhere = 0;
    for (name, caller) in callers() {
        for (path, sql) in all_reads() {
            let answer = postgrest_request(&mut client, &caller, "GET", path, |tx| {
                let rows = tx.query(sql, &[]);
                let xid: Option<i64> = tx
                    .query_one("SELECT txid_current_if_assigned()", &[])?
                    .get(0);
                Ok((rows.is_ok(), xid))
            });
            // A refused read (anon on bookings) fails the request: nothing to look at.
            if let Ok((succeeded, xid)) = answer {
                assert_eq!(xid, None, "{name} {path}: the read took a transaction id");
                read_somewhere += usize::from(succeeded);
            }
        }
    }
    assert!(read_somewhere > 75, "only {read_somewhere} reads succeeded");
}

#[test]
fn every_read_answers_on_the_standby_as_on_the_primary() {
    let db = TestDb::with_extension("reads_on_standby");
    let mut primary = db.connect();
    load_demo_data(&mut primary);
    live_a_little(&mut primary);
    // 0.2.1: the athlete's and the trainer's calendar tokens, made on the primary.
    let tokens: Vec<String> = [ATHLETE, TRAINER]
        .iter()
        .map(|id| {
            let caller = Caller::new(
                "authenticated",
                Some(json!({"sub": id, "role": "authenticated"})),
            );
            postgrest_request(&mut primary, &caller, "POST", "/rpc/calendar_token", |tx| {
                Ok(tx
                    .query_one("SELECT gym_booking.calendar_token()", &[])?
                    .get(0))
            })
            .expect("calendar_token()")
        })
        .collect();
    let mut standby = connect_to_standby(&db.name);
    wait_for_replay(&mut primary, &mut standby);
    let in_recovery: bool = standby
        .query_one("SELECT pg_is_in_recovery()", &[])
        .unwrap()
        .get(0);
    assert!(in_recovery, "the standby is a standby");

    let mut differences = Vec::new();
    let mut answered = 0;
    for (name, caller) in callers() {
        for (path, sql) in all_reads() {
            let on_primary = read(&mut primary, &caller, path, sql);
            let on_standby = read(&mut standby, &caller, path, sql);
            answered += usize::from(on_standby.as_ref().is_ok_and(|rows| !rows.is_empty()));
            if on_primary != on_standby {
                differences.push(format!(
                    "{name} {path}\n    primary: {on_primary:?}\n    standby: {on_standby:?}"
                ));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "reads that answer differently on the standby:\n{}",
        differences.join("\n")
    );
    assert!(answered > 55, "only {answered} reads returned rows");
    // The new reads return rows there too, for the people they concern: the athlete's
    // waitlist, entries and events, the settings; the admin's history of them.
    let readers = callers();
    for (path, sql) in READS.iter().skip(12) {
        let (who, caller) = if path.contains("history") {
            &readers[3]
        } else {
            &readers[1]
        };
        let rows = read(&mut standby, caller, path, sql);
        assert!(
            rows.as_ref().is_ok_and(|rows| !rows.is_empty()),
            "the {who}'s {path} on the standby: {rows:?}"
        );
    }
    // 0.2.2's: the marks, the roster and the reports for whom they concern; the athlete's
    // suspension reads as one (a strike, suspended until a week after it).
    for (path, sql, reader) in ATTENDANCE_READS {
        let (who, caller) = &readers[reader];
        let rows = read(&mut standby, caller, path, sql);
        assert!(
            rows.as_ref().is_ok_and(|rows| !rows.is_empty()),
            "the {who}'s {path} on the standby: {rows:?}"
        );
    }
    // (The demo's last week has no-shows of its own: at least the one above.)
    let suspension = read(
        &mut standby,
        &readers[1].1,
        ATTENDANCE_READS[2].0,
        ATTENDANCE_READS[2].1,
    );
    assert!(
        suspension.as_ref().is_ok_and(|rows| {
            rows.len() == 1
                && rows[0]
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse::<i64>().ok())
                    >= Some(1)
                && !rows[0].ends_with(" -")
        }),
        "the athlete's strikes and suspension on the standby: {suspension:?}"
    );

    // A calendar app's request for a feed (anon, with the token) reads on the standby what it
    // reads on the primary: the same bytes, with events in them.
    let anon = &readers[0].1;
    for token in &tokens {
        let feed = |client: &mut Client| {
            postgrest_request(client, anon, "GET", "/rpc/calendar_feed", |tx| {
                Ok(tx
                    .query_one("SELECT gym_booking.calendar_feed($1)::text", &[token])?
                    .get::<_, String>(0))
            })
            .expect("calendar_feed()")
        };
        let on_standby = feed(&mut standby);
        assert_eq!(feed(&mut primary), on_standby, "a feed on the standby");
        assert!(on_standby.contains("BEGIN:VEVENT"), "{on_standby}");
    }

    // Writes there fail with PostgreSQL's read-only error (25006), the API's too: the
    // athlete's, the admin's (settings), the back office's (the sweep, the delivery worker).
    let slot: String = primary
        .query_one(
            "SELECT id::text FROM gym_booking.slots WHERE start_at > now() LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    let (athlete, admin, service) = (&readers[1].1, &readers[3].1, &readers[4].1);
    let trainer = &readers[2].1;
    let series: String = primary
        .query_one("SELECT id::text FROM gym_booking.series", &[])
        .unwrap()
        .get(0);
    let writes = [
        (athlete, format!("SELECT gym_booking.book_slot('{slot}')")),
        (
            athlete,
            format!("SELECT gym_booking.join_waitlist('{WAITED}')"),
        ),
        (
            athlete,
            format!("SELECT gym_booking.leave_waitlist('{WAITED}')"),
        ),
        (
            athlete,
            format!(
                "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ('{slot}', '{ATHLETE}')"
            ),
        ),
        (
            athlete,
            "SELECT gym_booking.delete_my_account()".to_string(),
        ),
        (athlete, "SELECT gym_booking.calendar_token()".to_string()),
        (
            athlete,
            "SELECT gym_booking.revoke_calendar_token()".to_string(),
        ),
        (
            admin,
            "UPDATE gym_booking.studio_settings SET waitlist_max = 3".to_string(),
        ),
        (admin, "SELECT gym_booking.promote_waitlists()".to_string()),
        (
            service,
            "SELECT gym_booking.promote_waitlists()".to_string(),
        ),
        (
            service,
            "SELECT count(*) FROM gym_booking.claim_events()".to_string(),
        ),
        (
            service,
            "SELECT gym_booking.ack_events(ARRAY[1, 2]::bigint[])".to_string(),
        ),
        // The timetable API: the trainer's series, the gym's sweep.
        (
            trainer,
            "SELECT gym_booking.create_series(ARRAY[1], '09:00',
                    (now() AT TIME ZONE 'Europe/Berlin')::date + 1)"
                .to_string(),
        ),
        (
            trainer,
            format!("SELECT * FROM gym_booking.edit_series('{series}', capacity => 8)"),
        ),
        (
            trainer,
            format!("SELECT gym_booking.cancel_series('{series}')"),
        ),
        (admin, "SELECT gym_booking.extend_timetables()".to_string()),
        (
            service,
            "SELECT gym_booking.extend_timetables()".to_string(),
        ),
        // The attendance API: the trainer's check-in, the gym's excuse and sweep.
        (
            trainer,
            format!(
                "SELECT gym_booking.mark_attendance(id, 'attended') FROM gym_booking.bookings
                  WHERE slot_id = '{ENDED}' AND user_id = '{ATHLETE}'"
            ),
        ),
        (
            admin,
            format!(
                "SELECT gym_booking.excuse_no_show(id) FROM gym_booking.bookings
                  WHERE slot_id = '{ENDED}' AND user_id = '{ATHLETE}'"
            ),
        ),
        (admin, "SELECT gym_booking.record_no_shows()".to_string()),
        (
            service,
            "SELECT gym_booking.record_no_shows(10)".to_string(),
        ),
    ];
    let mut wrong = Vec::new();
    for (caller, sql) in &writes {
        let code = postgrest_request(&mut standby, caller, "POST", "/write", |tx| {
            tx.execute(sql.as_str(), &[])
        })
        .map_err(|err| gym_booking_integration::sqlstate(&err));
        if code != Err("25006".to_string()) {
            wrong.push(format!("{sql}: {code:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "writes on the standby answered otherwise than 25006:\n  {}",
        wrong.join("\n  ")
    );
}

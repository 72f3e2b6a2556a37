//! Release 0.2.2's part of the lived-in database: attendance marks (attended, no-shows, one
//! excused, one the auto no-show sweep's), a suspension, and the sweep's watermark; and what
//! must hold once restored: the suspended athlete is still refused, marks can still be
//! changed inside their period, and the restored watermark (not the one a new CREATE EXTENSION
//! makes) keeps the sweep off the classes it had already passed.

use gym_booking_integration::{connect_to, postgrest_request, sqlstate};
use postgres::Client;

use super::{as_caller, person, service, ADMIN, TESS};

/// Tess's classes that ended two and four hours ago (inside their attendance period), and one
/// that ends a moment after the sweep's watermark was last moved (for the sweep to mark).
const ATT1: &str = "00000000-0000-4000-b000-000000000401";
const ATT2: &str = "00000000-0000-4000-b000-000000000402";
const SWEPT: &str = "00000000-0000-4000-b000-000000000403";
const BEA: &str = "00000000-0000-4000-a000-000000000102";
const CHEN: &str = "00000000-0000-4000-a000-000000000103";
/// Eli is suspended: two no-shows, and the studio suspends at the second.
const ELI: &str = "00000000-0000-4000-a000-000000000105";
const FAY: &str = "00000000-0000-4000-a000-000000000106";

/// Chen's place in ATT2, never marked: it ended before the watermark, so no sweep marks it.
const CHEN_ATT2: &str = "ffffffff-0000-4000-b000-000000000413";

fn mark(client: &mut Client, who: &str, slot: &str, athlete: &str, mark: &str) {
    as_caller(
        client,
        &person(who),
        &format!(
            "SELECT gym_booking.mark_attendance(id, '{mark}') FROM gym_booking.bookings
              WHERE slot_id = '{slot}' AND user_id = '{athlete}'"
        ),
    );
}

/// Marks by Tess, an excuse and a suspension by the admin's settings, an auto no-show by the
/// sweep, then the studio's settings as they were but for the strike limit.
pub(super) fn attendance_life(client: &mut Client) {
    client
        .batch_execute(&format!(
            "BEGIN;
             SET LOCAL session_replication_role = replica;
             INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes, capacity, notes) VALUES
                 ('{ATT1}', '{TESS}', date_trunc('minute', now()) - interval '3 hours',
                  date_trunc('minute', now()) - interval '2 hours', 60, 8, 'Checked in'),
                 ('{ATT2}', '{TESS}', date_trunc('minute', now()) - interval '5 hours',
                  date_trunc('minute', now()) - interval '4 hours', 60, 8, 'Checked in');
             INSERT INTO gym_booking.bookings (id, slot_id, user_id, status, status_changed_at) VALUES
                 ('ffffffff-0000-4000-b000-000000000411', '{ATT1}', '{BEA}', 'reserved', now() - interval '2 days'),
                 ('ffffffff-0000-4000-b000-000000000412', '{ATT1}', '{CHEN}', 'reserved', now() - interval '2 days'),
                 ('ffffffff-0000-4000-b000-000000000414', '{ATT1}', '{ELI}', 'reserved', now() - interval '2 days'),
                 ('ffffffff-0000-4000-b000-000000000415', '{ATT2}', '{ELI}', 'completed', now() - interval '3 hours'),
                 ('{CHEN_ATT2}', '{ATT2}', '{CHEN}', 'completed', now() - interval '3 hours');
             COMMIT;"
        ))
        .expect("Tess's ended classes");
    // The demo's last week has no-shows of its own (drawn at random): the admin excuses them,
    // so the strike limit below suspends the one athlete this test means to.
    as_caller(
        client,
        &person(ADMIN),
        "SELECT gym_booking.excuse_no_show(booking_id) FROM gym_booking.attendance
          WHERE mark = 'no_show' AND excused_at IS NULL",
    );
    mark(client, TESS, ATT1, BEA, "no_show");
    mark(client, TESS, ATT1, CHEN, "attended");
    mark(client, TESS, ATT1, ELI, "no_show");
    mark(client, TESS, ATT2, ELI, "no_show");
    as_caller(
        client,
        &person(ADMIN),
        &format!(
            "UPDATE gym_booking.studio_settings SET no_show_strike_limit = 2;
             SELECT gym_booking.excuse_no_show(id) FROM gym_booking.bookings
              WHERE slot_id = '{ATT1}' AND user_id = '{BEA}'"
        ),
    );
    // The sweep: no grace, so the watermark moves up to now; then a class that ends just after
    // it, Fay booked and never checked in; once it has ended, auto_no_show marks her.
    as_caller(
        client,
        &person(ADMIN),
        "UPDATE gym_booking.studio_settings SET attendance_grace = '0'",
    );
    client
        .batch_execute(&format!(
            "BEGIN;
             SET LOCAL session_replication_role = replica;
             INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes, capacity, notes)
             VALUES ('{SWEPT}', '{TESS}', date_trunc('second', now()) - interval '60 minutes' + interval '2 seconds',
                     date_trunc('second', now()) + interval '2 seconds', 60, 8, 'Swept');
             INSERT INTO gym_booking.bookings (id, slot_id, user_id, status, status_changed_at)
             VALUES ('ffffffff-0000-4000-b000-000000000416', '{SWEPT}', '{FAY}', 'reserved', now() - interval '2 days');
             COMMIT;"
        ))
        .expect("the class to sweep");
    as_caller(client, &service(), "SELECT gym_booking.record_no_shows()");
    while !client
        .query_one(
            "SELECT end_at < now() FROM gym_booking.slots WHERE id = $1::text::uuid",
            &[&SWEPT],
        )
        .unwrap()
        .get::<_, bool>(0)
    {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    as_caller(
        client,
        &person(ADMIN),
        "UPDATE gym_booking.studio_settings SET auto_no_show = true",
    );
    let swept: i64 = postgrest_request(client, &service(), "POST", "/rpc/record_no_shows", |tx| {
        Ok(tx
            .query_one("SELECT gym_booking.record_no_shows()", &[])?
            .get(0))
    })
    .expect("record_no_shows()");
    assert_eq!(
        swept, 1,
        "the sweep marks Fay, and nobody before the watermark"
    );
    as_caller(
        client,
        &person(ADMIN),
        "UPDATE gym_booking.studio_settings SET attendance_grace = '24 hours', auto_no_show = false",
    );
    let lived = marks_and_suspensions(client);
    assert_eq!(
        lived,
        [
            "Bea no_show excused by Tess",
            "Chen attended by Tess",
            "Chen unmarked",
            "Eli no_show by Tess",
            "Eli no_show by Tess",
            "Fay no_show by the system",
            "Eli suspended: 2 strikes",
        ],
        "what attendance left to dump"
    );
}

/// Every mark of Tess's ended classes (athlete, mark, by whom), and who is suspended now.
fn marks_and_suspensions(client: &mut Client) -> Vec<String> {
    client
        .query(
            "SELECT line FROM (
                 SELECT 1 AS part, u.first_name || ' ' || coalesce(a.mark::text, 'unmarked')
                        || CASE WHEN a.excused_at IS NOT NULL THEN ' excused' ELSE '' END
                        || CASE WHEN a.booking_id IS NULL THEN ''
                                ELSE ' by ' || coalesce(m.first_name, 'the system') END AS line
                   FROM gym_booking.bookings b
                   JOIN gym_booking.users u ON u.id = b.user_id
                   LEFT JOIN gym_booking.attendance a ON a.booking_id = b.id
                   LEFT JOIN gym_booking.users m ON m.id = a.marked_by
                  WHERE b.slot_id IN ($1::text::uuid, $2::text::uuid, $3::text::uuid)
                 UNION ALL
                 SELECT 2, u.first_name || ' suspended: ' || s.strikes || ' strikes'
                   FROM gym_booking.users u, gym_booking.athlete_suspension(u.id) s
                  WHERE u.role = 'athlete' AND s.suspended_until IS NOT NULL
             ) x ORDER BY part, line",
            &[&ATT1, &ATT2, &SWEPT],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The restored attendance: the same marks and the same suspension (Eli is refused a booking and
/// a waitlist with 28000, until the same time); Tess still changes a mark inside its period; the
/// sweep, switched on with no grace, marks nothing it had passed before the dump (Chen's place
/// in ATT2 ended before the watermark).
pub(super) fn attendance_still_holds(source: &str, target: &str) {
    let mut restored = connect_to(target);
    let mut original = connect_to(source);
    assert_eq!(
        marks_and_suspensions(&mut restored),
        marks_and_suspensions(&mut original),
        "marks and suspensions in the restored database"
    );
    let until = |client: &mut Client| -> String {
        client
            .query_one(
                "SELECT suspended_until::text FROM gym_booking.athlete_suspension($1::text::uuid)",
                &[&ELI],
            )
            .unwrap()
            .get(0)
    };
    assert_eq!(
        until(&mut restored),
        until(&mut original),
        "Eli's suspension"
    );

    let room: String = restored
        .query_one(
            "SELECT s.id::text FROM gym_booking.slots s
              WHERE s.capacity = 8 AND s.cancelled_at IS NULL AND s.start_at > now() + interval '1 day'
                AND s.trainer_id = $1::text::uuid
                AND NOT EXISTS (SELECT FROM gym_booking.bookings b
                                 WHERE b.slot_id = s.id AND b.user_id = $2::text::uuid)
              ORDER BY s.start_at LIMIT 1",
            &[&TESS, &ELI],
        )
        .unwrap()
        .get(0);
    let full: String = restored
        .query_one(
            "SELECT s.id::text FROM gym_booking.slots s
              WHERE s.capacity = 1 AND s.cancelled_at IS NULL AND s.start_at > now() + interval '1 day'
                AND EXISTS (SELECT FROM gym_booking.bookings b WHERE b.slot_id = s.id AND b.status = 'reserved')
                AND NOT EXISTS (SELECT FROM gym_booking.bookings b
                                 WHERE b.slot_id = s.id AND b.user_id = $1::text::uuid)
              ORDER BY s.start_at LIMIT 1",
            &[&ELI],
        )
        .unwrap()
        .get(0);
    for (path, sql) in [
        (
            "/rpc/book_slot",
            format!("SELECT gym_booking.book_slot('{room}')"),
        ),
        (
            "/rpc/join_waitlist",
            format!("SELECT gym_booking.join_waitlist('{full}')"),
        ),
    ] {
        let refused = postgrest_request(&mut restored, &person(ELI), "POST", path, |tx| {
            tx.execute(sql.as_str(), &[])
        })
        .expect_err("a suspended athlete's request after the restore");
        let detail = refused
            .as_db_error()
            .and_then(|e| e.detail())
            .unwrap_or_default()
            .to_string();
        // SPEC.md: "Suspended until YYYY-MM-DD HH24:MI (Zone): N no-shows within the last
        // <window>." (the restored settings: Berlin, 30 days).
        let until_studio: String = restored
            .query_one(
                "SELECT to_char(suspended_until AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD HH24:MI')
                   FROM gym_booking.athlete_suspension($1::text::uuid)",
                &[&ELI],
            )
            .unwrap()
            .get(0);
        let want = format!(
            "Suspended until {until_studio} (Europe/Berlin): 2 no-shows within the last 30 days."
        );
        assert!(
            sqlstate(&refused) == "28000" && detail == want,
            "{path} by Eli, suspended, after the restore: {} ({detail}; SPEC.md: {want})",
            sqlstate(&refused)
        );
    }

    // Tess changes a mark inside its period: a log row, and the mark.
    mark(&mut restored, TESS, ATT1, CHEN, "no_show");
    let changed: bool = restored
        .query_one(
            "SELECT a.mark = 'no_show' AND EXISTS (
                    SELECT FROM gym_booking.activity_logs l
                     WHERE l.entity_id = a.booking_id
                       AND l.changed_fields -> 'attendance' = '{\"old\": \"attended\", \"new\": \"no_show\"}')
               FROM gym_booking.attendance a JOIN gym_booking.bookings b ON b.id = a.booking_id
              WHERE b.slot_id = $1::text::uuid AND b.user_id = $2::text::uuid",
            &[&ATT1, &CHEN],
        )
        .unwrap()
        .get(0);
    assert!(changed, "Tess's changed mark in the restored database");

    // The restored watermark: the sweep, on with no grace, finds nothing to mark (a new
    // install's watermark, 24 hours before the restore, would let it mark Chen's ATT2).
    as_caller(
        &mut restored,
        &person(ADMIN),
        "UPDATE gym_booking.studio_settings SET attendance_grace = '0', auto_no_show = true",
    );
    let swept: i64 = postgrest_request(
        &mut restored,
        &service(),
        "POST",
        "/rpc/record_no_shows",
        |tx| {
            Ok(tx
                .query_one("SELECT gym_booking.record_no_shows()", &[])?
                .get(0))
        },
    )
    .expect("record_no_shows() after the restore");
    let chen_att2: bool = restored
        .query_one(
            "SELECT NOT EXISTS (SELECT FROM gym_booking.attendance WHERE booking_id = $1::text::uuid)",
            &[&CHEN_ATT2],
        )
        .unwrap()
        .get(0);
    assert!(
        swept == 0 && chen_att2,
        "the sweep after the restore marked {swept} booking(s) it had passed before the dump"
    );
}

//! Upgrades: every released version (its frozen script in `sql/releases/`) installs, takes
//! data, and `ALTER EXTENSION gym_booking UPDATE` brings it to the current version with
//! the same catalog as a fresh install and the data as it was. A schema change without an
//! upgrade script that makes the same change fails here.
//!
//! 0.2.0 adds tables: the update keeps every row of the old ones, makes the settings row with
//! the defaults (as CREATE EXTENSION does), invents no entries, events or history, and the
//! updated database runs the new rules (a cancellation books the athlete waiting, with its
//! event). The catalog comparison is widened here with what `catalog()` does not read and an
//! update script can still get wrong: column and table options, sequences, extension
//! configuration filters, forced row-level security.
//!
//! 0.2.1 adds series and the occurrence columns of slots: every slot the update finds is made
//! on its own (no series), and a trainer of the updated database creates a weekly class whose
//! occurrences are made at once.
//!
//! 0.2.2 adds attendance: the update invents no mark, and starts the auto no-show sweep's
//! watermark at its own moment less the grace (as CREATE EXTENSION does), so switching
//! `auto_no_show` on never marks the history before it; a trainer of the updated database marks
//! a booking made before the update. From a release with waitlists, series and calendar tokens,
//! the database lived in a little first (an athlete waiting, events claimed, a weekly class, a
//! token): the update keeps all of it.

use gym_booking_integration::{
    catalog, connect_to, contents_but, load_demo_data, postgrest_request, released_versions,
    Caller, TestDb, TRAINER_COPIES,
};
use postgres::Client;
use serde_json::json;

/// Columns an update adds to existing rows, empty in them: the rules' trainer copies (0.1.3)
/// and an occurrence's series (0.2.1, NULL for every slot made before); and the auto no-show
/// sweep's watermark (0.2.2), which is the moment of the install or the update, checked apart.
const ADDED_COLUMNS: [(&str, &str); 7] = [
    TRAINER_COPIES[0],
    TRAINER_COPIES[1],
    TRAINER_COPIES[2],
    ("slots", "series_id"),
    ("slots", "series_date"),
    ("slots", "series_fingerprint"),
    ("attendance_sweep", "swept_until"),
];

/// A class of Yuki's that ended an hour before the update (its attendance period runs on past
/// it) and one that ended ten days before: both booked, loaded as a restore loads them.
const ENDED: &str = "00000000-0000-4000-b000-0000000000e1";
const OLD: &str = "00000000-0000-4000-b000-0000000000e2";
const YUKI: &str = "00000000-0000-4000-a000-000000000013";
const ENDED_CLASSES: &str = "
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes, capacity) VALUES
    ('00000000-0000-4000-b000-0000000000e1', '00000000-0000-4000-a000-000000000013',
     date_trunc('minute', now()) - interval '2 hours', date_trunc('minute', now()) - interval '1 hour', 60, 4),
    ('00000000-0000-4000-b000-0000000000e2', '00000000-0000-4000-a000-000000000013',
     date_trunc('minute', now()) - interval '10 days 1 hour', date_trunc('minute', now()) - interval '10 days', 60, 4);
INSERT INTO gym_booking.bookings (slot_id, user_id, status, status_changed_at)
SELECT s.id, u.id, 'reserved', now() - interval '11 days'
  FROM gym_booking.slots AS s, gym_booking.users AS u
 WHERE s.id IN ('00000000-0000-4000-b000-0000000000e1', '00000000-0000-4000-b000-0000000000e2')
   AND u.id IN ('00000000-0000-4000-a000-000000000101', '00000000-0000-4000-a000-000000000102');
COMMIT;";

/// Every release before 0.2.0: each must update to it.
const RELEASES_BEFORE_0_2: [&str; 4] = ["0.1.0", "0.1.1", "0.1.2", "0.1.3"];

/// What `catalog()` leaves out and an update script can still get wrong, as sorted lines:
/// per-column options (n_distinct), storage options of tables and indexes, sequences (type,
/// bounds, owner column), the filters of the tables a dump keeps (`pg_extension_config_dump`),
/// forced row-level security, comments on sequences and indexes.
fn catalog_beyond(dbname: &str) -> Vec<String> {
    connect_to(dbname)
        .query(
            "SELECT line FROM (
                SELECT 'column options ' || a.attrelid::regclass || '.' || a.attname || ' '
                       || array_to_string(a.attoptions, ',') AS line
                  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                 WHERE c.relnamespace = 'gym_booking'::regnamespace AND a.attoptions IS NOT NULL
                UNION ALL
                SELECT 'relation options ' || c.oid::regclass || ' ' || coalesce(array_to_string(c.reloptions, ','), '-')
                       || ' force_rls=' || c.relforcerowsecurity || ' persistence=' || c.relpersistence::text
                       || ' replica_identity=' || c.relreplident::text
                       || coalesce(' comment ' || obj_description(c.oid, 'pg_class'), '')
                  FROM pg_class c WHERE c.relnamespace = 'gym_booking'::regnamespace
                UNION ALL
                SELECT 'sequence ' || s.seqrelid::regclass || ' ' || format_type(s.seqtypid, NULL)
                       || ' ' || s.seqstart || ' ' || s.seqincrement || ' ' || s.seqmin || ' ' || s.seqmax
                       || ' ' || s.seqcache || ' ' || s.seqcycle || ' owned by '
                       || coalesce((SELECT d.refobjid::regclass || '.' || a.attname FROM pg_depend d
                                      JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                                     WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid
                                       AND d.deptype IN ('a', 'i')), '-')
                  FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
                 WHERE c.relnamespace = 'gym_booking'::regnamespace
                UNION ALL
                SELECT 'dump filter ' || cfg::regclass || ' ' || coalesce(cond, '-')
                  FROM pg_extension e,
                       unnest(e.extconfig, e.extcondition) AS x(cfg, cond)
                 WHERE e.extname = 'gym_booking'
                UNION ALL
                SELECT 'extension ' || extname || ' relocatable=' || extrelocatable || ' schema='
                       || extnamespace::regnamespace
                  FROM pg_extension WHERE extname = 'gym_booking'
            ) AS lines ORDER BY line",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The settings row without the moment it was made.
fn settings_row(client: &mut Client) -> Vec<String> {
    client
        .query(
            "SELECT (to_jsonb(s) - 'updated_at')::text FROM gym_booking.studio_settings AS s",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Lines only in `a` and only in `b`, for a message.
fn differences(a: &[String], b: &[String]) -> (Vec<String>, Vec<String>) {
    (
        a.iter().filter(|l| !b.contains(l)).cloned().collect(),
        b.iter().filter(|l| !a.contains(l)).cloned().collect(),
    )
}

/// The updated database runs 0.2.0's rules: a full one-to-one of the demo, an athlete
/// joins its waitlist, the holder cancels, the athlete is booked by the system, with an
/// event; the background of the demo's bookings is untouched.
fn waitlists_work(client: &mut Client, release: &str) {
    let row = client
        .query_one(
            "SELECT s.id::text, b.user_id::text,
                    (SELECT u.id::text FROM gym_booking.users u
                      WHERE u.role = 'athlete' AND u.id <> b.user_id ORDER BY u.id LIMIT 1)
               FROM gym_booking.slots s
               JOIN gym_booking.bookings b ON b.slot_id = s.id AND b.status = 'reserved'
              WHERE s.capacity = 1 AND s.start_at > now() + interval '2 hours'
              ORDER BY s.start_at, s.id LIMIT 1",
            &[],
        )
        .unwrap();
    let (slot, holder, athlete): (String, String, String) = (row.get(0), row.get(1), row.get(2));
    let person = |id: &str| {
        Caller::new(
            "authenticated",
            Some(json!({"sub": id, "role": "authenticated"})),
        )
    };
    postgrest_request(
        client,
        &person(&athlete),
        "POST",
        "/rpc/join_waitlist",
        |tx| tx.execute("SELECT gym_booking.join_waitlist($1::text::uuid)", &[&slot]),
    )
    .unwrap_or_else(|e| panic!("after the update from {release}: join_waitlist: {e:?}"));
    postgrest_request(
        client,
        &person(&holder),
        "POST",
        "/rpc/cancel_booking",
        |tx| {
            tx.execute(
                "SELECT gym_booking.cancel_booking(id) FROM gym_booking.bookings
              WHERE slot_id = $1::text::uuid AND user_id = $2::text::uuid",
                &[&slot, &holder],
            )
        },
    )
    .unwrap_or_else(|e| panic!("after the update from {release}: cancel_booking: {e:?}"));
    let promoted: bool = client
        .query_one(
            "SELECT EXISTS (SELECT FROM gym_booking.bookings b
                              JOIN gym_booking.waitlist_entries w ON w.booking_id = b.id
                              JOIN gym_booking.events e ON e.booking_id = b.id
                             WHERE b.slot_id = $1::text::uuid AND b.user_id = $2::text::uuid
                               AND b.status = 'reserved' AND b.auto_processed
                               AND w.state = 'promoted' AND e.kind = 'waitlist_promoted')",
            &[&slot, &athlete],
        )
        .unwrap()
        .get(0);
    assert!(
        promoted,
        "after the update from {release}: a cancellation did not book the athlete waiting"
    );
}

/// The updated database runs 0.2.1's timetables: a trainer of the demo creates a class for
/// the next three days (studio time, UTC as the update leaves it) and its three occurrences
/// are made, theirs, at 07:00.
fn timetables_work(client: &mut Client, release: &str) {
    let trainer: String = client
        .query_one(
            "SELECT id::text FROM gym_booking.users
              WHERE role = 'trainer' AND deleted_at IS NULL ORDER BY id LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    let caller = Caller::new(
        "authenticated",
        Some(json!({"sub": trainer, "role": "authenticated"})),
    );
    let series: String = postgrest_request(client, &caller, "POST", "/rpc/create_series", |tx| {
        Ok(tx
            .query_one(
                "SELECT id::text FROM gym_booking.create_series(ARRAY[1, 2, 3, 4, 5, 6, 7], '07:00',
                        (now() AT TIME ZONE 'UTC')::date + 1, (now() AT TIME ZONE 'UTC')::date + 3)",
                &[],
            )?
            .get(0))
    })
    .unwrap_or_else(|e| panic!("after the update from {release}: create_series: {e:?}"));
    let occurrences: Vec<String> = client
        .query(
            "SELECT (o.series_date - s.first_date) || ' ' || to_char(o.start_at AT TIME ZONE 'UTC', 'HH24:MI')
                    || ' ' || (o.trainer_id = s.trainer_id)
               FROM gym_booking.slots o JOIN gym_booking.series s ON s.id = o.series_id
              WHERE s.id = $1::text::uuid ORDER BY o.series_date",
            &[&series],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        occurrences,
        ["0 07:00 true", "1 07:00 true", "2 07:00 true"],
        "after the update from {release}: the occurrences of a new series"
    );
}

/// One PostgREST request as `id`, which must succeed.
fn as_person(client: &mut Client, id: &str, sql: &str, what: &str) {
    let caller = Caller::new(
        "authenticated",
        Some(json!({"sub": id, "role": "authenticated"})),
    );
    postgrest_request(client, &caller, "POST", "/rpc", |tx| tx.batch_execute(sql))
        .unwrap_or_else(|e| panic!("{what}: {sql}: {e:?}"));
}

/// The old release lived in a little (whatever of it the release has), so that the update has
/// every kind of row to keep: from 0.2.0, Fay waits for the last full one-to-one and the
/// delivery worker claims and acknowledges events; from 0.2.1, Yuki runs a weekly class (a
/// week ahead, at 09:00) and Fay has a calendar token.
fn live_before_update(client: &mut Client, release: &str) {
    const FAY: &str = "00000000-0000-4000-a000-000000000106";
    if release >= "0.2.0" {
        let full: String = client
            .query_one(
                "SELECT s.id::text FROM gym_booking.slots s
                  WHERE s.capacity = 1 AND s.start_at > now() + interval '1 day'
                    AND EXISTS (SELECT FROM gym_booking.bookings b
                                 WHERE b.slot_id = s.id AND b.status = 'reserved')
                    AND NOT EXISTS (SELECT FROM gym_booking.bookings b
                                     WHERE b.slot_id = s.id AND b.user_id = $1::text::uuid)
                  ORDER BY s.start_at DESC, s.id LIMIT 1",
                &[&FAY],
            )
            .unwrap()
            .get(0);
        as_person(
            client,
            FAY,
            &format!("SELECT gym_booking.join_waitlist('{full}')"),
            &format!("under {release}"),
        );
        let worker = Caller::new("service_role", Some(json!({"role": "service_role"})));
        postgrest_request(client, &worker, "POST", "/rpc/claim_events", |tx| {
            tx.batch_execute(
                "SELECT gym_booking.ack_events(ARRAY(SELECT id FROM gym_booking.claim_events(5)))",
            )
        })
        .unwrap_or_else(|e| panic!("under {release}: the delivery worker: {e:?}"));
    }
    if release >= "0.2.1" {
        as_person(
            client,
            YUKI,
            "SELECT gym_booking.create_series(ARRAY[1, 3, 5], '09:00',
                    (now() AT TIME ZONE 'UTC')::date + 8, (now() AT TIME ZONE 'UTC')::date + 21,
                    capacity => 4, notes => 'Mobility')",
            &format!("under {release}"),
        );
        as_person(
            client,
            FAY,
            "SELECT gym_booking.calendar_token()",
            &format!("under {release}"),
        );
    }
}

/// The updated database runs 0.2.2's attendance. The watermark is the moment attendance came
/// less the grace: the update's (`updated`: the server's clock just before and after it), or,
/// from a release that had attendance already, its installation's, before the update. Yuki marks
/// a booking made before the update; with no grace and `auto_no_show` on, the sweep marks the
/// other booking of the class that ended an hour before the update (inside its grace then),
/// and nothing of the one ten days older: the history before the update stays unmarked.
fn attendance_works(client: &mut Client, release: &str, updated: (&str, &str)) {
    // Attendance came with the update: its watermark is the update's moment less the grace,
    // and the update marked nothing. A release that had it already (its demo data holds marks
    // of its own): the watermark its installation set, before the update, and no mark of the
    // two classes here.
    let came_with_the_update = release < "0.2.2";
    let (watermark, no_marks) = if came_with_the_update {
        (
            "w.swept_until BETWEEN $1::text::timestamptz - st.attendance_grace
                               AND $2::text::timestamptz - st.attendance_grace",
            "NOT EXISTS (SELECT FROM gym_booking.attendance)",
        )
    } else {
        (
            "w.swept_until < $1::text::timestamptz - st.attendance_grace AND $2::text IS NOT NULL",
            "NOT EXISTS (SELECT FROM gym_booking.attendance a
                          WHERE a.slot_id IN ($3::text::uuid, $4::text::uuid))",
        )
    };
    let params: &[&(dyn postgres::types::ToSql + Sync)] = if came_with_the_update {
        &[&updated.0, &updated.1]
    } else {
        &[&updated.0, &updated.1, &ENDED, &OLD]
    };
    let as_expected: bool = client
        .query_one(
            &format!(
                "SELECT {watermark}
                        AND (SELECT count(*) FROM gym_booking.attendance_sweep) = 1
                        AND {no_marks}
                   FROM gym_booking.attendance_sweep w, gym_booking.studio_settings st"
            ),
            params,
        )
        .unwrap()
        .get(0);
    assert!(
        as_expected,
        "after the update from {release}: the sweep's watermark is not the moment attendance came \
         (the update's, or {release}'s installation's) less the grace, or a mark was made"
    );
    let alex = "00000000-0000-4000-a000-000000000101";
    as_person(
        client,
        YUKI,
        &format!(
            "SELECT gym_booking.mark_attendance(id, 'attended') FROM gym_booking.bookings
              WHERE slot_id = '{ENDED}' AND user_id = '{alex}'"
        ),
        &format!("after the update from {release}: mark_attendance"),
    );
    let admin = "00000000-0000-4000-a000-000000000001";
    as_person(
        client,
        admin,
        "UPDATE gym_booking.studio_settings SET attendance_grace = '0', auto_no_show = true;
         SELECT gym_booking.record_no_shows();
         UPDATE gym_booking.studio_settings SET attendance_grace = DEFAULT, auto_no_show = DEFAULT;",
        &format!("after the update from {release}: the sweep"),
    );
    let marks: Vec<String> = client
        .query(
            "SELECT CASE s.id WHEN $1::text::uuid THEN 'ended' WHEN $2::text::uuid THEN 'old' END
                    || ' ' || u.first_name || ' ' || coalesce(a.mark::text, '-') || ' '
                    || coalesce((SELECT m.first_name FROM gym_booking.users m WHERE m.id = a.marked_by),
                                CASE WHEN a.booking_id IS NULL THEN '-' ELSE 'the system' END)
                    || CASE WHEN a.booking_id IS NULL THEN ''
                            ELSE ' ' || (a.strike_at = s.start_at AND a.trainer_id = s.trainer_id
                                         AND a.user_id = b.user_id AND a.slot_id = s.id)::text END
               FROM gym_booking.slots s
               JOIN gym_booking.bookings b ON b.slot_id = s.id
               JOIN gym_booking.users u ON u.id = b.user_id
               LEFT JOIN gym_booking.attendance a ON a.booking_id = b.id
              WHERE s.id IN ($1::text::uuid, $2::text::uuid)
              ORDER BY 1",
            &[&ENDED, &OLD],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        marks,
        [
            "ended Alex attended Yuki true",
            "ended Bea no_show the system true",
            "old Alex - -",
            "old Bea - -",
        ],
        "after the update from {release}: the marks"
    );
}

#[test]
fn every_release_upgrades_to_the_current_version_like_a_fresh_install() {
    let fresh = TestDb::with_extension("upgrade_fresh");
    let current: String = fresh
        .connect()
        .query_one(
            "SELECT extversion FROM pg_extension WHERE extname = 'gym_booking'",
            &[],
        )
        .unwrap()
        .get(0);
    let releases = released_versions(&current);
    assert!(
        !releases.is_empty(),
        "no earlier release to upgrade from (sql/releases/)"
    );
    if current.as_str() >= "0.2.0" {
        let missing: Vec<&str> = RELEASES_BEFORE_0_2
            .into_iter()
            .filter(|r| !releases.iter().any(|have| have == r))
            .collect();
        assert!(
            missing.is_empty(),
            "releases without a frozen script in sql/releases/ (every one must update to {current}): {missing:?}"
        );
    }
    let expected_catalog = catalog(&fresh.name);
    let expected_beyond = catalog_beyond(&fresh.name);
    let expected_settings = settings_row(&mut fresh.connect());
    let fresh_contents = contents_but(&fresh.name, &ADDED_COLUMNS);

    for release in releases {
        let db = TestDb::empty(&format!("upgrade_from_{}", release.replace('.', "_")));
        let mut client = db.connect();
        client
            .batch_execute(&format!(
                "CREATE EXTENSION gym_booking VERSION '{release}' CASCADE"
            ))
            .unwrap_or_else(|e| panic!("install {release}: {e}"));
        load_demo_data(&mut client);
        client
            .batch_execute(ENDED_CLASSES)
            .unwrap_or_else(|e| panic!("ended classes under {release}: {e}"));
        live_before_update(&mut client, &release);
        // The tables the release has (a newer one's read as absent).
        let before: Vec<_> = contents_but(&db.name, &ADDED_COLUMNS)
            .into_iter()
            .filter(|(_, rows, _)| *rows >= 0)
            .collect();

        let clock = |client: &mut Client| -> String {
            client
                .query_one("SELECT clock_timestamp()::text", &[])
                .unwrap()
                .get(0)
        };
        let update_began = clock(&mut client);
        client
            .batch_execute("ALTER EXTENSION gym_booking UPDATE")
            .unwrap_or_else(|e| panic!("update from {release}: {e}"));
        let update_ended = clock(&mut client);
        let version: String = client
            .query_one(
                "SELECT extversion FROM pg_extension WHERE extname = 'gym_booking'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(version, current, "ALTER EXTENSION UPDATE from {release}");
        let after = contents_but(&db.name, &ADDED_COLUMNS);
        let kept: Vec<_> = after
            .iter()
            .filter(|(name, _, _)| before.iter().any(|(had, _, _)| had == name))
            .cloned()
            .collect();
        assert_eq!(kept, before, "data changed by the update from {release}");
        // What the update added holds what a fresh install holds: one settings row with the
        // defaults, no entries, no events, no history of settings, sequences not yet used.
        let added: Vec<_> = after
            .iter()
            .filter(|(name, _, _)| {
                name != "studio_settings" && !before.iter().any(|(had, _, _)| had == name)
            })
            .cloned()
            .collect();
        let fresh_added: Vec<_> = fresh_contents
            .iter()
            .filter(|(name, _, _)| added.iter().any(|(new, _, _)| new == name))
            .cloned()
            .collect();
        assert_eq!(
            added, fresh_added,
            "what the update from {release} added differs from a fresh install's"
        );
        assert_eq!(
            settings_row(&mut client),
            expected_settings,
            "the settings row after the update from {release} (a fresh install's, with the defaults)"
        );
        // The copies of the slots' trainers the update added are the slots' trainers.
        let wrong: i64 = client
            .query_one(
                "SELECT (SELECT count(*) FROM gym_booking.bookings AS b JOIN gym_booking.slots AS s
                           ON s.id = b.slot_id WHERE b.trainer_id IS DISTINCT FROM s.trainer_id)
                      + (SELECT count(*) FROM gym_booking.booking_status_history AS h
                           JOIN gym_booking.bookings AS b ON b.id = h.booking_id
                          WHERE h.trainer_id IS DISTINCT FROM b.trainer_id)
                      + (SELECT count(*) FROM gym_booking.activity_logs AS l
                          WHERE l.trainer_id IS DISTINCT FROM
                                CASE l.entity_type
                                    WHEN 'slot' THEN (SELECT s.trainer_id FROM gym_booking.slots AS s WHERE s.id = l.entity_id)
                                    WHEN 'booking' THEN (SELECT b.trainer_id FROM gym_booking.bookings AS b WHERE b.id = l.entity_id)
                                END)",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(
            wrong, 0,
            "rows whose trainer_id is not their slot's after the update from {release}"
        );

        let upgraded = catalog(&db.name);
        let missing: Vec<_> = expected_catalog
            .iter()
            .filter(|l| !upgraded.contains(l))
            .collect();
        let extra: Vec<_> = upgraded
            .iter()
            .filter(|l| !expected_catalog.contains(l))
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{release} updated to {current} differs from a fresh install of {current}.\n\
             Write (or fix) sql/gym_booking--{release}--{current}.sql.\n\
             only in a fresh install:\n  {}\nonly after the update:\n  {}",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n  "),
            extra
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n  "),
        );

        let upgraded_beyond = catalog_beyond(&db.name);
        let (missing, extra) = differences(&expected_beyond, &upgraded_beyond);
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{release} updated to {current} differs from a fresh install (beyond catalog()).\n\
             only in a fresh install:\n  {}\nonly after the update:\n  {}",
            missing.join("\n  "),
            extra.join("\n  "),
        );
        if current.as_str() >= "0.2.0" {
            waitlists_work(&mut client, &release);
        }
        if current.as_str() >= "0.2.1" {
            timetables_work(&mut client, &release);
        }
        if current.as_str() >= "0.2.2" {
            attendance_works(&mut client, &release, (&update_began, &update_ended));
        }

        // The updated database keeps working under the rules.
        client
            .batch_execute(
                "BEGIN;
                 SELECT set_config('request.jwt.claims', '{\"sub\": \"00000000-0000-4000-a000-000000000001\"}', true);
                 SELECT gym_booking.complete_past_bookings();
                 COMMIT;",
            )
            .unwrap();
    }
}

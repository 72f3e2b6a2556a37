//! Upgrades: every released version (its frozen script in `sql/releases/`) installs, takes
//! data, and `ALTER EXTENSION gym_booking UPDATE` brings it to the current version with
//! the same catalog as a fresh install and the data as it was. A schema change without an
//! upgrade script that makes the same change fails here.

use gym_booking_integration::{
    catalog, contents_but, load_demo_data, released_versions, TestDb, TRAINER_COPIES,
};

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
    let expected_catalog = catalog(&fresh.name);

    for release in releases {
        let db = TestDb::empty(&format!("upgrade_from_{}", release.replace('.', "_")));
        let mut client = db.connect();
        client
            .batch_execute(&format!(
                "CREATE EXTENSION gym_booking VERSION '{release}' CASCADE"
            ))
            .unwrap_or_else(|e| panic!("install {release}: {e}"));
        load_demo_data(&mut client);
        let before = contents_but(&db.name, &TRAINER_COPIES);

        client
            .batch_execute("ALTER EXTENSION gym_booking UPDATE")
            .unwrap_or_else(|e| panic!("update from {release}: {e}"));
        let version: String = client
            .query_one(
                "SELECT extversion FROM pg_extension WHERE extname = 'gym_booking'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(version, current, "ALTER EXTENSION UPDATE from {release}");
        assert_eq!(
            contents_but(&db.name, &TRAINER_COPIES),
            before,
            "data changed by the update from {release}"
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

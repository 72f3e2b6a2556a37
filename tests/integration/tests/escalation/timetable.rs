//! Nobody raises their own privileges over release 0.2.1's timetables (README, "Timetables"):
//! a series is its trainer's and the gym's to change, through the API only; which series and
//! date a slot belongs to is the API's to say. Same callers and runner as the parent file, on
//! the seed with timetables (`Fixture::with_timetables`): T's series ST (occurrences ST.1,
//! booked by A, and ST.2), U's series SU (occurrence SU.1). Every attempt here is refused or
//! finds nothing, and leaves every table, series included, as seeded.

use gym_booking_integration::TestDb;

use super::{by, raw, Attempt, BAD_CLAIMS, DENIED, NOTHING};

/// A new series of the caller (or of `trainer_id`), every day for two days from tomorrow.
macro_rules! create_series {
    ($extra:literal) => {
        concat!(
            "SELECT id FROM gym_booking.create_series(ARRAY[1, 2, 3, 4, 5, 6, 7], '06:00',
                    (now() AT TIME ZONE 'UTC')::date + 1, (now() AT TIME ZONE 'UTC')::date + 2",
            $extra,
            ")"
        )
    };
}

const EDIT_ST: &str = "SELECT slot_id FROM gym_booking.edit_series({ST}, capacity => 20)";
const CANCEL_ST: &str = "SELECT gym_booking.cancel_series({ST})";
const EXTEND: &str = "SELECT gym_booking.extend_timetables()";

/// What each caller may not do to series and occurrences.
pub(crate) fn attempts() -> Vec<Attempt> {
    let mut all = vec![
        // A trainer's hand-made slot does not join another trainer's series (nor their own:
        // the series would not know it, and an edit would move it), by an UPDATE or born so.
        by("T", "PATCH", "/slots?id=eq.T3",
            "UPDATE gym_booking.slots SET series_id = {SU},
                    series_date = (SELECT first_date + 1 FROM gym_booking.series WHERE id = {SU})
              WHERE id = {T3} RETURNING id::text", DENIED),
        by("T", "PATCH", "/slots?id=eq.T3",
            "UPDATE gym_booking.slots SET series_id = {ST},
                    series_date = (SELECT last_date + 1 FROM gym_booking.series WHERE id = {ST})
              WHERE id = {T3} RETURNING id::text", DENIED),
        by("T", "POST", "/slots",
            "INSERT INTO gym_booking.slots (trainer_id, start_at, series_id, series_date)
             VALUES ({T}, date_trunc('hour', now()) + interval '9 days', {SU}, (now() AT TIME ZONE 'UTC')::date + 9)
             RETURNING id::text", DENIED),
        by("ADM", "PATCH", "/slots?id=eq.T3",
            "UPDATE gym_booking.slots SET series_id = {SU},
                    series_date = (SELECT first_date + 1 FROM gym_booking.series WHERE id = {SU})
              WHERE id = {T3} RETURNING id::text", DENIED),
        // An occurrence does not move to another series or date, nor leave its series: not
        // by its trainer, the admin or the back office.
        by("T", "PATCH", "/slots?id=eq.ST.2",
            "UPDATE gym_booking.slots SET series_id = {SU} WHERE id = {ST.2} RETURNING id::text", DENIED),
        by("T", "PATCH", "/slots?id=eq.ST.2",
            "UPDATE gym_booking.slots SET series_date = series_date + 7 WHERE id = {ST.2} RETURNING id::text", DENIED),
        by("T", "PATCH", "/slots?id=eq.ST.1",
            "UPDATE gym_booking.slots SET series_id = NULL, series_date = NULL WHERE id = {ST.1} RETURNING id::text",
            DENIED),
        by("ADM", "PATCH", "/slots?id=eq.ST.2",
            "UPDATE gym_booking.slots SET series_id = {SU} WHERE id = {ST.2} RETURNING id::text", DENIED),
        by("SRV", "PATCH", "/slots?id=eq.ST.2",
            "UPDATE gym_booking.slots SET series_id = {SU} WHERE id = {ST.2} RETURNING id::text", DENIED),
        // U's occurrence is U's slot: hidden from T's writes, refused by T's cancel_slot.
        by("T", "PATCH", "/slots?id=eq.SU.1",
            "UPDATE gym_booking.slots SET notes = 'mine now', trainer_id = {T} WHERE id = {SU.1} RETURNING id::text",
            NOTHING),
        by("T", "DELETE", "/slots?id=eq.SU.1", "DELETE FROM gym_booking.slots WHERE id = {SU.1} RETURNING id::text", NOTHING),
        by("T", "POST", "/rpc/cancel_slot", "SELECT gym_booking.cancel_slot({SU.1})", DENIED),
        // The series table: nobody takes over, stretches, removes, forges or truncates one.
        by("T", "PATCH", "/series?id=eq.SU",
            "UPDATE gym_booking.series SET trainer_id = {T} WHERE id = {SU} RETURNING id::text", DENIED),
        by("U", "PATCH", "/series?id=eq.SU",
            "UPDATE gym_booking.series SET made_until = made_until + 365 WHERE id = {SU} RETURNING id::text", DENIED),
        by("ADM", "DELETE", "/series", "DELETE FROM gym_booking.series RETURNING id::text", DENIED),
        by("SRV", "POST", "/series",
            "INSERT INTO gym_booking.series (trainer_id, weekdays, local_start, time_zone, first_date)
             VALUES ({U}, '{1}', '07:00', 'UTC', '2030-01-07') RETURNING id::text", DENIED),
        by("T", "TRUNCATE", "-", "TRUNCATE gym_booking.series CASCADE", DENIED),
        by("ADM", "TRUNCATE", "-", "TRUNCATE gym_booking.series CASCADE", DENIED),
        by("SRV", "TRUNCATE", "-", "TRUNCATE gym_booking.series CASCADE", DENIED),
        // The API: another trainer's series is not U's to edit, cancel or add to.
        by("U", "POST", "/rpc/edit_series", EDIT_ST, DENIED),
        by("U", "POST", "/rpc/cancel_series", CANCEL_ST, DENIED),
        by("U", "POST", "/rpc/create_series", create_series!(", trainer_id => {T}"), DENIED),
        // An athlete manages no series, theirs or a trainer's; the sweep is the gym's.
        by("A", "POST", "/rpc/edit_series", EDIT_ST, DENIED),
        by("A", "POST", "/rpc/edit_series", "SELECT slot_id FROM gym_booking.edit_series({ST}, notes => '')", DENIED),
        by("A", "POST", "/rpc/cancel_series", CANCEL_ST, DENIED),
        by("A", "POST", "/rpc/create_series", create_series!(""), DENIED),
        by("A", "POST", "/rpc/create_series", create_series!(", trainer_id => {T}"), DENIED),
        by("A", "POST", "/rpc/extend_timetables", EXTEND, DENIED),
        by("T", "POST", "/rpc/extend_timetables", EXTEND, DENIED),
        // Claims that name the gym or an admin without being either, accounts that are gone.
        by("A+admin-metadata", "POST", "/rpc/edit_series", EDIT_ST, DENIED),
        by("A+admin-metadata", "POST", "/rpc/create_series", create_series!(", trainer_id => {T}"), DENIED),
        by("A+srv-claim", "POST", "/rpc/extend_timetables", EXTEND, DENIED),
        by("A+srv-claim", "POST", "/rpc/cancel_series", "SELECT gym_booking.cancel_series({SU})", DENIED),
        by("srv-claim-no-sub", "POST", "/rpc/create_series", create_series!(", trainer_id => {T}"), DENIED),
        by("srv-claim-no-sub", "POST", "/rpc/extend_timetables", EXTEND, DENIED),
        by("deleted-admin", "POST", "/rpc/edit_series", EDIT_ST, DENIED),
        by("deleted-admin", "POST", "/rpc/extend_timetables", EXTEND, DENIED),
        by("deleted-trainer", "POST", "/rpc/create_series", create_series!(""), DENIED),
        by("ghost", "POST", "/rpc/create_series", create_series!(""), DENIED),
        by("ghost", "POST", "/rpc/cancel_series", CANCEL_ST, DENIED),
        by("sub-empty", "POST", "/rpc/create_series", create_series!(""), DENIED),
        by("anon", "POST", "/rpc/create_series", create_series!(", trainer_id => {T}"), DENIED),
        by("anon", "POST", "/rpc/extend_timetables", EXTEND, DENIED),
        // Reading the timetable takes an active account (or the gym's role).
        by("anon", "GET", "/series", "SELECT id FROM gym_booking.series", DENIED),
        by("anon+sub", "GET", "/series", "SELECT id FROM gym_booking.series", DENIED),
        by("deleted-trainer", "GET", "/series", "SELECT id FROM gym_booking.series", NOTHING),
        by("deleted-admin", "GET", "/series", "SELECT id FROM gym_booking.series", NOTHING),
        by("ghost", "GET", "/series", "SELECT id FROM gym_booking.series", NOTHING),
        by("sub-empty", "GET", "/series", "SELECT id FROM gym_booking.series", NOTHING),
        by("srv-claim-no-sub", "GET", "/series", "SELECT id FROM gym_booking.series", NOTHING),
    ];
    // Unreadable claims: 22P02 on the timetable's reads and API as on every other.
    const READS_IDENTITY: [(&str, &str, &str); 4] = [
        ("GET", "/series", "SELECT id FROM gym_booking.series"),
        ("POST", "/rpc/create_series", create_series!("")),
        ("POST", "/rpc/edit_series", EDIT_ST),
        ("POST", "/rpc/cancel_series", CANCEL_ST),
    ];
    for who in ["sub-not-uuid", "sub-number", "sub-injection"] {
        for (method, path, sql) in READS_IDENTITY {
            all.push(by(who, method, path, sql, BAD_CLAIMS));
        }
    }
    for (who, text) in [
        (
            "claims-not-json",
            "sub=00000000-0000-4000-8000-000000000002",
        ),
        (
            "claims-truncated",
            "{\"sub\": \"00000000-0000-4000-8000-000000000002\"",
        ),
    ] {
        for (method, path, sql) in READS_IDENTITY {
            all.push(raw(who, text, method, path, sql, BAD_CLAIMS));
        }
    }
    all
}

/// Not a request: the catalog behind the refusals above. No client role holds a write right
/// on series; on slots, no client role may UPDATE `series_id` or `series_date`, and only
/// `service_role` may INSERT them; anon may run no timetable function.
#[test]
fn the_catalog_behind_the_timetable_refusals() {
    let db = TestDb::with_extension("escalation_timetable_catalog");
    let mut client = db.connect();
    let rights: Vec<String> = client
        .query(
            "SELECT r.rolname || ' may ' || priv || ' series' FROM pg_roles r
              CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES',
                                      'TRIGGER']) AS priv
              WHERE r.rolname IN ('anon', 'authenticated', 'service_role')
                AND (has_table_privilege(r.oid, 'gym_booking.series', priv)
                     OR (priv IN ('INSERT', 'UPDATE', 'REFERENCES')
                         AND has_any_column_privilege(r.oid, 'gym_booking.series', priv)))
             UNION ALL
             SELECT r.rolname || ' may ' || priv || ' slots.' || c
               FROM pg_roles r
              CROSS JOIN unnest(ARRAY['series_id', 'series_date']) AS c
              CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'REFERENCES']) AS priv
              WHERE r.rolname IN ('anon', 'authenticated', 'service_role')
                AND has_column_privilege(r.oid, 'gym_booking.slots', c, priv)
             UNION ALL
             SELECT 'anon may run ' || p.proname FROM pg_proc p
              WHERE p.pronamespace = 'gym_booking'::regnamespace
                AND p.proname IN ('create_series', 'edit_series', 'cancel_series',
                                  'extend_timetables', 'series_start_at')
                AND has_function_privilege('anon', p.oid, 'EXECUTE')
              ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        rights,
        [
            "service_role may INSERT slots.series_date",
            "service_role may INSERT slots.series_id",
        ],
        "client rights on series, the occurrence columns and the timetable API"
    );
}

//! Nobody raises their own privileges over release 0.2.2's attendance (DESIGN.md,
//! "Attendance"): a mark is its slot's trainer's and the gym's to make, an excuse the gym's
//! alone, both through the API; nobody writes, deletes or truncates a mark or moves the sweep's
//! watermark; a roster and a trainer's figures are the trainer's own slots'. Same callers and
//! runner as the parent file, on the seed with attendance (`Fixture::with_attendance`): T's
//! ended PAST (A's place unmarked, B's a no-show: `B@PAST`), U's ended UPAST (A attended:
//! `A@UPAST`). Every attempt here is refused or finds nothing, and leaves every table as seeded.

use gym_booking_integration::TestDb;

use super::{by, raw, Attempt, BAD_CLAIMS, DENIED, NOTHING};
use gym_booking_integration::access::Expect::Refused;

const MARK_A_PAST: &str = "SELECT mark FROM gym_booking.mark_attendance({A@PAST}, 'attended')";
const FORGIVE_B_PAST: &str = "SELECT mark FROM gym_booking.mark_attendance({B@PAST}, 'attended')";
const EXCUSE_B_PAST: &str = "SELECT mark FROM gym_booking.excuse_no_show({B@PAST})";
const SWEEP: &str = "SELECT gym_booking.record_no_shows()";
const ROSTER_PAST: &str = "SELECT athlete_id FROM gym_booking.slot_roster({PAST})";
const SLOT_REPORT: &str = "SELECT slot_id FROM gym_booking.slot_report(
        (now() AT TIME ZONE 'UTC')::date - 2, (now() AT TIME ZONE 'UTC')::date + 6)";
const ATHLETE_REPORT: &str = "SELECT user_id FROM gym_booking.athlete_report(
        (now() AT TIME ZONE 'UTC')::date - 2, (now() AT TIME ZONE 'UTC')::date + 6)";
const SUSPENSION: &str = "SELECT strikes FROM gym_booking.athlete_suspension()";
const MARKS: &str = "SELECT booking_id FROM gym_booking.attendance";

/// What each caller may not do to marks, excuses, the sweep, rosters and reports.
pub(crate) fn attempts() -> Vec<Attempt> {
    let mut all = vec![
        // An athlete checks nobody in, themselves least of all, and cannot forgive a no-show.
        by("A", "POST", "/rpc/mark_attendance", MARK_A_PAST, DENIED),
        by("B", "POST", "/rpc/mark_attendance", FORGIVE_B_PAST, DENIED),
        by("B", "POST", "/rpc/excuse_no_show", EXCUSE_B_PAST, DENIED),
        // Nor by writing the table: no client role holds INSERT, UPDATE or DELETE on it.
        by("B", "PATCH", "/attendance?booking_id=eq.B@PAST",
            "UPDATE gym_booking.attendance SET mark = 'attended' WHERE booking_id = {B@PAST}
             RETURNING booking_id::text", DENIED),
        by("B", "DELETE", "/attendance?booking_id=eq.B@PAST",
            "DELETE FROM gym_booking.attendance WHERE booking_id = {B@PAST} RETURNING booking_id::text",
            DENIED),
        by("A", "POST", "/attendance",
            "INSERT INTO gym_booking.attendance (booking_id, user_id, slot_id, trainer_id, mark, strike_at)
             VALUES ({A@PAST}, {A}, {PAST}, {T}, 'attended', now()) RETURNING booking_id::text", DENIED),
        // A trainer marks their own slots' bookings, never excuses, never writes the table.
        by("T", "POST", "/rpc/excuse_no_show", EXCUSE_B_PAST, DENIED),
        by("T", "PATCH", "/attendance?booking_id=eq.B@PAST",
            "UPDATE gym_booking.attendance SET excused_at = now(), excused_by = {T}
              WHERE booking_id = {B@PAST} RETURNING booking_id::text", DENIED),
        by("T", "POST", "/attendance",
            "INSERT INTO gym_booking.attendance (booking_id, user_id, slot_id, trainer_id, mark, strike_at, marked_by)
             VALUES ({A@PAST}, {A}, {PAST}, {T}, 'no_show', now(), {T}) RETURNING booking_id::text", DENIED),
        // ... and another trainer's slot is one they do not find.
        by("U", "POST", "/rpc/mark_attendance", FORGIVE_B_PAST, Refused("42704")),
        by("U", "POST", "/rpc/excuse_no_show", EXCUSE_B_PAST, DENIED),
        by("U", "GET", "/rpc/slot_roster", ROSTER_PAST, DENIED),
        by("U", "PATCH", "/attendance?booking_id=eq.B@PAST",
            "UPDATE gym_booking.attendance SET trainer_id = {U} WHERE booking_id = {B@PAST}
             RETURNING booking_id::text", DENIED),
        by("U", "GET", "/attendance?slot_id=eq.PAST",
            "SELECT booking_id FROM gym_booking.attendance WHERE slot_id = {PAST}", NOTHING),
        by("T", "GET", "/rpc/slot_roster", "SELECT athlete_id FROM gym_booking.slot_roster({UPAST})", DENIED),
        by("T", "GET", "/rpc/slot_report",
            "SELECT slot_id FROM gym_booking.slot_report((now() AT TIME ZONE 'UTC')::date - 2,
                    (now() AT TIME ZONE 'UTC')::date + 6, for_trainer => {U})", DENIED),
        by("T", "GET", "/rpc/trainer_report",
            "SELECT trainer_id FROM gym_booking.trainer_report((now() AT TIME ZONE 'UTC')::date - 2,
                    (now() AT TIME ZONE 'UTC')::date + 6, for_trainer => {U})", DENIED),
        by("T", "GET", "/rpc/athlete_suspension",
            "SELECT strikes FROM gym_booking.athlete_suspension({B})", DENIED),
        // A roster shows a trainer names and marks, not the athletes' users rows.
        by("T", "GET", "/users?id=eq.B", "SELECT id FROM gym_booking.users WHERE id = {B}", NOTHING),
        // An athlete reads their own report and strikes, nobody else's, and no slot's figures.
        by("A", "GET", "/rpc/athlete_report",
            "SELECT user_id FROM gym_booking.athlete_report((now() AT TIME ZONE 'UTC')::date - 2,
                    (now() AT TIME ZONE 'UTC')::date + 6, for_athlete => {B})", DENIED),
        by("A", "GET", "/rpc/athlete_suspension",
            "SELECT strikes FROM gym_booking.athlete_suspension({B})", DENIED),
        by("A", "GET", "/rpc/slot_report", SLOT_REPORT, DENIED),
        by("A", "GET", "/rpc/slot_roster", "SELECT athlete_id FROM gym_booking.slot_roster({UPAST})", DENIED),
        by("A", "GET", "/attendance?user_id=eq.B",
            "SELECT booking_id FROM gym_booking.attendance WHERE user_id = {B}", NOTHING),
        // The sweep and its watermark are the gym's; the watermark is not even the gym's to
        // move by hand, nor to read.
        by("A", "POST", "/rpc/record_no_shows", SWEEP, DENIED),
        by("T", "POST", "/rpc/record_no_shows", SWEEP, DENIED),
        by("T", "GET", "/attendance_sweep", "SELECT swept_until FROM gym_booking.attendance_sweep", DENIED),
        by("ADM", "PATCH", "/attendance_sweep",
            "UPDATE gym_booking.attendance_sweep SET swept_until = now() + interval '10 years' RETURNING id::text",
            DENIED),
        by("SRV", "PATCH", "/attendance_sweep",
            "UPDATE gym_booking.attendance_sweep SET swept_until = '-infinity' RETURNING id::text", DENIED),
        // The gym excuses through the API only: the table is not the admin's or the back
        // office's to write either.
        by("ADM", "PATCH", "/attendance",
            "UPDATE gym_booking.attendance SET excused_at = now(), excused_by = {ADM} RETURNING booking_id::text",
            DENIED),
        by("SRV", "DELETE", "/attendance", "DELETE FROM gym_booking.attendance RETURNING booking_id::text", DENIED),
        by("SRV", "POST", "/attendance",
            "INSERT INTO gym_booking.attendance (booking_id, user_id, slot_id, trainer_id, mark, strike_at)
             VALUES ({A@PAST}, {A}, {PAST}, {T}, 'no_show', now()) RETURNING booking_id::text", DENIED),
        by("T", "TRUNCATE", "-", "TRUNCATE gym_booking.attendance", DENIED),
        by("ADM", "TRUNCATE", "-", "TRUNCATE gym_booking.attendance", DENIED),
        by("SRV", "TRUNCATE", "-", "TRUNCATE gym_booking.attendance_sweep", DENIED),
        // Claims that name the gym or an admin without being either, accounts that are gone.
        by("A+admin-metadata", "POST", "/rpc/excuse_no_show", EXCUSE_B_PAST, DENIED),
        by("A+admin-metadata", "POST", "/rpc/mark_attendance", MARK_A_PAST, DENIED),
        by("A+admin-metadata", "POST", "/rpc/record_no_shows", SWEEP, DENIED),
        by("A+admin-metadata", "GET", "/rpc/slot_roster", ROSTER_PAST, DENIED),
        by("A+admin-metadata", "GET", "/rpc/slot_report", SLOT_REPORT, DENIED),
        by("A+srv-claim", "POST", "/rpc/record_no_shows", SWEEP, DENIED),
        by("A+srv-claim", "POST", "/rpc/excuse_no_show", EXCUSE_B_PAST, DENIED),
        by("A+srv-claim", "POST", "/rpc/mark_attendance", MARK_A_PAST, DENIED),
        by("srv-claim-no-sub", "POST", "/rpc/mark_attendance", MARK_A_PAST, DENIED),
        by("srv-claim-no-sub", "POST", "/rpc/excuse_no_show", EXCUSE_B_PAST, DENIED),
        by("srv-claim-no-sub", "POST", "/rpc/record_no_shows", SWEEP, DENIED),
        by("srv-claim-no-sub", "GET", "/rpc/slot_roster", ROSTER_PAST, DENIED),
        by("srv-claim-no-sub", "GET", "/rpc/slot_report", SLOT_REPORT, DENIED),
        by("srv-claim-no-sub", "GET", "/rpc/athlete_report", ATHLETE_REPORT, DENIED),
        by("srv-claim-no-sub", "GET", "/attendance", MARKS, NOTHING),
        by("deleted-admin", "POST", "/rpc/excuse_no_show", EXCUSE_B_PAST, DENIED),
        by("deleted-admin", "POST", "/rpc/mark_attendance", MARK_A_PAST, DENIED),
        by("deleted-admin", "POST", "/rpc/record_no_shows", SWEEP, DENIED),
        by("deleted-admin", "GET", "/rpc/slot_report", SLOT_REPORT, DENIED),
        by("deleted-admin", "GET", "/attendance", MARKS, NOTHING),
        // A deleted trainer's JWT can outlive the account: it marks and reads nothing.
        by("deleted-trainer", "POST", "/rpc/mark_attendance",
            "SELECT mark FROM gym_booking.mark_attendance({B@DT1}, 'no_show')", DENIED),
        by("deleted-trainer", "GET", "/rpc/slot_roster",
            "SELECT athlete_id FROM gym_booking.slot_roster({DT1})", DENIED),
        by("deleted-trainer", "GET", "/rpc/slot_report", SLOT_REPORT, DENIED),
        by("deleted-trainer", "GET", "/attendance", MARKS, NOTHING),
        by("ghost", "POST", "/rpc/mark_attendance", MARK_A_PAST, DENIED),
        by("ghost", "POST", "/rpc/excuse_no_show", EXCUSE_B_PAST, DENIED),
        by("ghost", "GET", "/rpc/slot_report", SLOT_REPORT, DENIED),
        by("ghost", "GET", "/attendance", MARKS, NOTHING),
        by("sub-empty", "POST", "/rpc/mark_attendance", MARK_A_PAST, DENIED),
        by("sub-empty", "POST", "/rpc/record_no_shows", SWEEP, DENIED),
        by("sub-empty", "GET", "/rpc/athlete_suspension", SUSPENSION, DENIED),
        by("sub-empty", "GET", "/attendance", MARKS, NOTHING),
        by("anon", "POST", "/rpc/mark_attendance", MARK_A_PAST, DENIED),
        by("anon", "POST", "/rpc/excuse_no_show", EXCUSE_B_PAST, DENIED),
        by("anon", "POST", "/rpc/record_no_shows", SWEEP, DENIED),
        by("anon", "GET", "/rpc/slot_roster", ROSTER_PAST, DENIED),
        by("anon", "GET", "/rpc/athlete_suspension", SUSPENSION, DENIED),
        by("anon", "GET", "/rpc/athlete_report", ATHLETE_REPORT, DENIED),
        by("anon", "GET", "/attendance", MARKS, DENIED),
        by("anon+sub", "GET", "/rpc/slot_roster", ROSTER_PAST, DENIED),
        by("anon+sub", "GET", "/attendance", MARKS, DENIED),
    ];
    // Unreadable claims: 22P02 on attendance's reads and API as on every other.
    const READS_IDENTITY: [(&str, &str, &str); 7] = [
        ("GET", "/attendance", MARKS),
        ("POST", "/rpc/mark_attendance", MARK_A_PAST),
        ("POST", "/rpc/excuse_no_show", EXCUSE_B_PAST),
        ("GET", "/rpc/slot_roster", ROSTER_PAST),
        ("GET", "/rpc/athlete_suspension", SUSPENSION),
        ("GET", "/rpc/slot_report", SLOT_REPORT),
        ("GET", "/rpc/athlete_report", ATHLETE_REPORT),
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

/// Rows of `sql` (one text column each).
fn lines(client: &mut postgres::Client, sql: &str) -> Vec<String> {
    client
        .query(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Not a request: the catalog behind the refusals above. Client roles read marks (SELECT, under
/// the row-level security of SELECT policies only) and hold no other right on them, none at all
/// on the sweep's watermark; the attendance API is `authenticated`'s and `service_role`'s, never
/// anon's; rosters, suspensions and reports are STABLE (they run on a read replica), the writes
/// VOLATILE; both tables are dumped, guarded against TRUNCATE (the DBA's too), and keep what
/// SPEC.md names: one mark per booking, an excuse only of a no-show, the strikes' index.
#[test]
fn the_catalog_behind_the_attendance_refusals() {
    let db = TestDb::with_extension("escalation_attendance_catalog");
    let mut client = db.connect();
    let rights = lines(
        &mut client,
        "SELECT r.rolname || ' may ' || priv || ' ' || t FROM pg_roles r
          CROSS JOIN unnest(ARRAY['attendance', 'attendance_sweep']) AS t
          CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES',
                                  'TRIGGER']) AS priv
          WHERE r.rolname IN ('anon', 'authenticated', 'service_role')
            AND (has_table_privilege(r.oid, 'gym_booking.' || t, priv)
                 OR (priv IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
                     AND has_any_column_privilege(r.oid, 'gym_booking.' || t, priv)))
          ORDER BY 1",
    );
    assert_eq!(
        rights,
        [
            "authenticated may SELECT attendance",
            "service_role may SELECT attendance",
        ],
        "client rights on attendance and attendance_sweep"
    );

    let functions = [
        ("mark_attendance", 'v'),
        ("excuse_no_show", 'v'),
        ("record_no_shows", 'v'),
        ("slot_roster", 's'),
        ("athlete_suspension", 's'),
        ("slot_report", 's'),
        ("trainer_report", 's'),
        ("athlete_report", 's'),
    ];
    let mut want = Vec::new();
    for (name, volatility) in functions {
        for role in ["authenticated", "service_role"] {
            want.push(format!("{role} may run {name} ({volatility})"));
        }
    }
    want.sort();
    let names: Vec<&str> = functions.iter().map(|(n, _)| *n).collect();
    let got = lines(
        &mut client,
        &format!(
            "SELECT r.rolname || ' may run ' || p.proname || ' (' || p.provolatile::text || ')'
               FROM pg_proc p CROSS JOIN pg_roles r
              WHERE p.pronamespace = 'gym_booking'::regnamespace
                AND p.proname = ANY ('{{{}}}')
                AND r.rolname IN ('anon', 'authenticated', 'service_role')
                AND has_function_privilege(r.oid, p.oid, 'EXECUTE')
              ORDER BY 1",
            names.join(",")
        ),
    );
    assert_eq!(
        got, want,
        "who may run the attendance API, and its volatility"
    );

    let shape = lines(
        &mut client,
        "SELECT 'policy ' || tablename || ' ' || cmd FROM pg_policies
          WHERE schemaname = 'gym_booking' AND tablename IN ('attendance', 'attendance_sweep')
            AND cmd <> 'SELECT'
         UNION ALL
         SELECT 'no row-level security on ' || c.relname FROM pg_class c
          WHERE c.oid IN ('gym_booking.attendance'::regclass, 'gym_booking.attendance_sweep'::regclass)
            AND NOT c.relrowsecurity
         UNION ALL
         SELECT 'not dumped: ' || t FROM unnest(ARRAY['attendance', 'attendance_sweep']) AS t
          WHERE NOT EXISTS (SELECT FROM pg_extension e, unnest(e.extconfig) AS c
                             WHERE e.extname = 'gym_booking'
                               AND c = ('gym_booking.' || t)::regclass)
         UNION ALL
         SELECT 'no TRUNCATE guard on ' || t FROM unnest(ARRAY['attendance', 'attendance_sweep']) AS t
          WHERE NOT EXISTS (SELECT FROM pg_trigger g
                             WHERE g.tgrelid = ('gym_booking.' || t)::regclass
                               AND g.tgtype & 32 <> 0 AND NOT g.tgisinternal)
         UNION ALL
         SELECT 'attendance: ' || what FROM (VALUES
             ('no primary key on booking_id', NOT EXISTS (
                 SELECT FROM pg_constraint WHERE conrelid = 'gym_booking.attendance'::regclass
                    AND contype = 'p'
                    AND pg_get_constraintdef(oid) = 'PRIMARY KEY (booking_id)')),
             ('no partial index of strikes', NOT EXISTS (
                 SELECT FROM pg_index i WHERE i.indrelid = 'gym_booking.attendance'::regclass
                    AND pg_get_indexdef(i.indexrelid) LIKE '%(user_id, strike_at) WHERE%no_show%excused_at IS NULL%'))
         ) AS x(what, broken) WHERE broken
         ORDER BY 1",
    );
    assert!(shape.is_empty(), "{shape:?}");

    // The DBA's TRUNCATE is refused too (a trigger, not a grant), and an excuse of a mark that
    // is no no-show is refused by the table itself.
    for table in ["attendance", "attendance_sweep"] {
        let err = client
            .batch_execute(&format!("TRUNCATE gym_booking.{table}"))
            .expect_err("TRUNCATE as the DBA");
        assert_eq!(
            gym_booking_integration::sqlstate(&err),
            "23001",
            "TRUNCATE {table} as the DBA"
        );
    }
}

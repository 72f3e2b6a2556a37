//! Timetables (0.2.1), inside one transaction: weekly series, their occurrences in the series'
//! time zone whatever the session's, edits that keep booked and hand-changed occurrences,
//! cancellation from a date with the slot cancellation's cascade, the sweep that keeps them
//! ahead. Requests run as the client role PostgREST uses after `act_as`.

#[pgrx::pg_schema]
mod tests {
    use crate::test_support::fixtures::*;
    use crate::test_support::{act_as, rows, run, sqlstate_as, value};
    use pgrx::prelude::*;

    /// Runs `sql` as `user` through the client role; the SQLSTATE it raised, or 00000.
    fn as_user(user: &str, sql: &str) -> String {
        act_as(user);
        sqlstate_as("authenticated", sql)
    }

    /// TRAINER's Mon/Wed/Fri 07:00 series in Berlin, from the day after tomorrow for four
    /// weeks (four of each weekday), made in a session whose TimeZone is Asia/Tokyo; its id.
    fn berlin_series() -> String {
        run("SET LOCAL TIME ZONE 'Asia/Tokyo'");
        assert_eq!(
            as_user(
                TRAINER,
                "SELECT gym_booking.create_series(ARRAY[1, 3, 5], '07:00', current_date + 2,
                                                  current_date + 29, capacity => 2,
                                                  time_zone => 'Europe/Berlin')"
            ),
            "00000"
        );
        value(&format!(
            "SELECT id::text FROM gym_booking.series WHERE trainer_id = '{TRAINER}'"
        ))
        .expect("the series")
    }

    fn occurrence(series: &str, nth: usize) -> String {
        value(&format!(
            "SELECT id::text FROM gym_booking.slots WHERE series_id = '{series}'
              ORDER BY start_at OFFSET {nth} LIMIT 1"
        ))
        .expect("an occurrence")
    }

    #[pg_test]
    fn a_series_makes_its_occurrences_at_local_time() {
        people();
        let series = berlin_series();
        let made = rows(&format!(
            "SELECT count(*)::text,
                    string_agg(DISTINCT to_char(start_at AT TIME ZONE 'Europe/Berlin', 'Dy HH24:MI'), ','),
                    bool_and(series_date = (start_at AT TIME ZONE 'Europe/Berlin')::date)::text
               FROM gym_booking.slots WHERE series_id = '{series}'"
        ));
        assert_eq!(
            made,
            vec![vec!["12", "Fri 07:00,Mon 07:00,Wed 07:00", "true"]]
        );
        // Again: nothing new (the gym's sweep, as the background worker runs it).
        run("RESET ROLE");
        assert_eq!(
            value("SELECT gym_booking.extend_timetables()::text").as_deref(),
            Some("0")
        );
    }

    #[pg_test]
    fn local_time_follows_the_zone_across_its_changes() {
        // 07:00 in Berlin is 06:00 UTC in winter and 05:00 UTC in summer; 02:30 on the spring
        // night does not exist (03:30 CEST), on the autumn night it is the second one (CET).
        run("SET LOCAL TIME ZONE 'America/New_York'");
        let starts = rows(
            "SELECT (gym_booking.series_start_at(d, t, 'Europe/Berlin') AT TIME ZONE 'UTC')::text
               FROM (VALUES (date '2027-03-27', time '07:00'), ('2027-03-29', '07:00'),
                            ('2027-03-28', '02:30'), ('2027-10-31', '02:30')) AS v (d, t)",
        );
        assert_eq!(
            starts,
            vec![
                vec!["2027-03-27 06:00:00"],
                vec!["2027-03-29 05:00:00"],
                vec!["2027-03-28 01:30:00"],
                vec!["2027-10-31 01:30:00"],
            ]
        );
    }

    #[pg_test]
    fn an_edit_keeps_booked_and_hand_changed_occurrences() {
        people();
        let series = berlin_series();
        let booked = occurrence(&series, 0);
        let by_hand = occurrence(&series, 1);
        assert_eq!(
            as_user(ATH1, &format!("SELECT gym_booking.book_slot('{booked}')")),
            "00000"
        );
        run("RESET ROLE");
        run(&format!(
            "UPDATE gym_booking.slots SET notes = 'mats' WHERE id = '{by_hand}'"
        ));
        assert_eq!(
            as_user(
                TRAINER,
                &format!(
                    "CREATE TEMP TABLE edited AS
                     SELECT * FROM gym_booking.edit_series('{series}', local_start => '08:00')"
                )
            ),
            "00000"
        );
        run("RESET ROLE");
        let outcomes =
            rows("SELECT outcome, count(*)::text FROM edited GROUP BY outcome ORDER BY outcome");
        assert_eq!(
            outcomes,
            vec![
                vec!["changed", "10"],
                vec!["kept: booked", "1"],
                vec!["kept: changed by hand", "1"],
            ]
        );
        let local = |id: &str| {
            value(&format!(
                "SELECT to_char(start_at AT TIME ZONE 'Europe/Berlin', 'HH24:MI')
                   FROM gym_booking.slots WHERE id = '{id}'"
            ))
        };
        assert_eq!(local(&booked).as_deref(), Some("07:00"));
        assert_eq!(local(&by_hand).as_deref(), Some("07:00"));
        assert_eq!(local(&occurrence(&series, 2)).as_deref(), Some("08:00"));
        // Only the trainer (or the gym) edits it.
        assert_eq!(
            as_user(
                TRAINER2,
                &format!("SELECT * FROM gym_booking.edit_series('{series}', capacity => 3)")
            ),
            "42501"
        );
        assert_eq!(
            as_user(
                ATH1,
                &format!("SELECT * FROM gym_booking.edit_series('{series}', capacity => 3)")
            ),
            "42501"
        );
    }

    #[pg_test]
    fn cancelling_a_series_cascades_like_a_slot_cancellation() {
        people();
        let series = berlin_series();
        let last = value(&format!(
            "SELECT id::text FROM gym_booking.slots WHERE series_id = '{series}'
              ORDER BY start_at DESC LIMIT 1"
        ))
        .unwrap();
        assert_eq!(
            as_user(ATH1, &format!("SELECT gym_booking.book_slot('{last}')")),
            "00000"
        );
        assert_eq!(
            as_user(
                TRAINER,
                &format!("SELECT gym_booking.cancel_series('{series}', current_date + 16)")
            ),
            "00000"
        );
        run("RESET ROLE");
        let state = rows(&format!(
            "SELECT (series_date >= current_date + 16)::text, bool_and(cancelled_at IS NOT NULL)::text,
                    bool_or(cancelled_at IS NOT NULL)::text
               FROM gym_booking.slots WHERE series_id = '{series}' GROUP BY 1 ORDER BY 1"
        ));
        assert_eq!(
            state,
            vec![
                vec!["false", "false", "false"],
                vec!["true", "true", "true"]
            ]
        );
        assert_eq!(status(&last, ATH1), "cancelled/true");
        assert_eq!(
            value(&format!(
                "SELECT kind::text FROM gym_booking.events WHERE recipient_id = '{ATH1}'
                  ORDER BY id DESC LIMIT 1"
            ))
            .as_deref(),
            Some("slot_cancelled")
        );
        // It stays cancelled, and makes nothing more.
        assert_eq!(
            value("SELECT gym_booking.extend_timetables()::text").as_deref(),
            Some("0")
        );
        assert_eq!(
            as_user(
                TRAINER,
                &format!("SELECT * FROM gym_booking.edit_series('{series}', capacity => 3)")
            ),
            "22023"
        );
    }

    #[pg_test]
    fn bad_series_are_refused_with_postgres_codes() {
        people();
        let create = |args: &str| {
            as_user(
                TRAINER,
                &format!("SELECT gym_booking.create_series({args})"),
            )
        };
        assert_eq!(create("NULL, '07:00', current_date + 2"), "22004");
        assert_eq!(create("ARRAY[]::int[], '07:00', current_date + 2"), "23514");
        assert_eq!(create("ARRAY[8], '07:00', current_date + 2"), "23514");
        assert_eq!(create("ARRAY[1], '24:00', current_date + 2"), "23514");
        assert_eq!(create("ARRAY[1], '07:00', 'infinity'"), "23514");
        assert_eq!(
            create("ARRAY[1], '07:00', current_date + 2, time_zone => 'localtime'"),
            "22023"
        );
        assert_eq!(
            create("ARRAY[1], '07:00', current_date + 2, capacity => 100000"),
            "23514"
        );
        assert_eq!(
            as_user(
                ATH1,
                "SELECT gym_booking.create_series(ARRAY[1], '07:00', current_date + 2)"
            ),
            "42501"
        );
        run("RESET ROLE");
        assert_eq!(
            value("SELECT count(*)::text FROM gym_booking.series").as_deref(),
            Some("0")
        );
    }
}

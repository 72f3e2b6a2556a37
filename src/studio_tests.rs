//! The studio's week, part 1 (0.2.0), inside one transaction: settings, booking windows and
//! limits, waitlists and promotion, events. Requests run as the client role PostgREST uses
//! (`sqlstate_as("authenticated", ...)` after `act_as`): the gym's own roles are exempt from
//! windows and limits.

#[pgrx::pg_schema]
mod tests {
    use crate::test_support::fixtures::*;
    use crate::test_support::{act_as, rows, run, sqlstate_as, sqlstate_of, value};
    use pgrx::prelude::*;

    const S3: &str = "b0000000-0000-4000-8000-000000000003";

    /// Runs `sql` as `user` through the client role; the SQLSTATE it raised, or 00000.
    fn as_user(user: &str, sql: &str) -> String {
        act_as(user);
        sqlstate_as("authenticated", sql)
    }

    fn book_as(user: &str, slot: &str) -> String {
        as_user(user, &format!("SELECT gym_booking.book_slot('{slot}')"))
    }

    fn join_as(user: &str, slot: &str) -> String {
        as_user(user, &format!("SELECT gym_booking.join_waitlist('{slot}')"))
    }

    fn cancel_as(user: &str, slot: &str) -> String {
        as_user(
            user,
            &format!(
                "SELECT gym_booking.cancel_booking((SELECT id FROM gym_booking.bookings
                  WHERE slot_id = '{slot}' AND user_id = '{user}'))"
            ),
        )
    }

    fn setting(assignments: &str) {
        run(&format!(
            "UPDATE gym_booking.studio_settings SET {assignments}"
        ));
    }

    /// Each waiting athlete's entry state in queue order, as "user:state".
    fn queue(slot: &str) -> Vec<String> {
        rows(&format!(
            "SELECT user_id::text || ':' || state::text FROM gym_booking.waitlist_entries
              WHERE slot_id = '{slot}' ORDER BY queue_no"
        ))
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
    }

    /// The athlete's booking of the slot as "status/auto_processed", or "none".
    fn booking_of(slot: &str, user: &str) -> String {
        value(&format!(
            "SELECT coalesce((SELECT status::text || '/' || auto_processed FROM gym_booking.bookings
                               WHERE slot_id = '{slot}' AND user_id = '{user}'), 'none')"
        ))
        .unwrap_or_default()
    }

    fn events_of(user: &str) -> Vec<String> {
        rows(&format!(
            "SELECT kind::text || '/' || coalesce(payload->>'by', '-') FROM gym_booking.events
              WHERE recipient_id = '{user}' ORDER BY id"
        ))
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
    }

    // --- settings ------------------------------------------------------------------------

    #[pg_test]
    fn the_default_settings_keep_the_seed_rules() {
        let defaults = rows(
            "SELECT time_zone, cancellation_window::text, (booking_opens_before IS NULL)::text,
                    booking_closes_before::text, (max_upcoming_bookings IS NULL)::text,
                    waitlist_enabled::text, (waitlist_cutoff IS NULL)::text
               FROM gym_booking.studio_settings",
        );
        assert_eq!(
            defaults,
            vec![vec![
                "UTC", "01:00:00", "true", "00:00:00", "true", "true", "true"
            ]]
        );
        people();
        slot(S1, "59 minutes", 2);
        assert_eq!(book_as(ATH1, S1), "00000");
        assert_eq!(cancel_as(ATH1, S1), "27000", "the seed's 60-minute window");
    }

    #[pg_test]
    fn the_cancellation_window_is_the_setting() {
        people();
        slot(S1, "90 minutes", 2);
        assert_eq!(book_as(ATH1, S1), "00000");
        setting("cancellation_window = '2 hours'");
        assert_eq!(cancel_as(ATH1, S1), "27000");
        setting("cancellation_window = '30 minutes'");
        assert_eq!(cancel_as(ATH1, S1), "00000");
    }

    #[pg_test]
    fn only_the_app_admin_or_the_dba_changes_settings_and_every_change_is_recorded() {
        people();
        assert_eq!(
            as_user(
                ATH1,
                "UPDATE gym_booking.studio_settings SET waitlist_max = 3"
            ),
            "00000",
            "an athlete's UPDATE finds no row it may change"
        );
        assert_eq!(
            value("SELECT coalesce(waitlist_max::text, 'none') FROM gym_booking.studio_settings"),
            Some("none".into())
        );
        assert_eq!(
            as_user(
                ATH1,
                "INSERT INTO gym_booking.studio_settings DEFAULT VALUES"
            ),
            "42501"
        );
        assert_eq!(
            as_user(
                ADMIN,
                "UPDATE gym_booking.studio_settings SET waitlist_max = 3, time_zone = 'Asia/Tokyo'"
            ),
            "00000"
        );
        assert_eq!(
            rows(
                "SELECT changed_by::text, changed_by_role::text, changed_fields::text
                   FROM gym_booking.studio_settings_history"
            ),
            vec![vec![
                ADMIN.to_string(),
                "admin".to_string(),
                r#"{"time_zone": {"new": "Asia/Tokyo", "old": "UTC"}, "waitlist_max": {"new": "3", "old": null}}"#
                    .to_string()
            ]]
        );
        assert_eq!(
            as_user(
                ADMIN,
                "UPDATE gym_booking.studio_settings SET time_zone = 'Mars/Olympus'"
            ),
            "22023",
            "a time zone PostgreSQL does not know"
        );
        assert_eq!(
            as_user(
                ADMIN,
                "UPDATE gym_booking.studio_settings SET booking_opens_before = '-1 day'"
            ),
            "23514"
        );
        assert_eq!(
            sqlstate_of("DELETE FROM gym_booking.studio_settings"),
            "23001"
        );
    }

    #[pg_test]
    fn a_new_settings_row_replaces_the_old_one_as_a_restore_does() {
        run("INSERT INTO gym_booking.studio_settings (time_zone, waitlist_max) VALUES ('Europe/Oslo', 9)");
        assert_eq!(
            rows("SELECT time_zone, waitlist_max::text FROM gym_booking.studio_settings"),
            vec![vec!["Europe/Oslo", "9"]]
        );
    }

    // --- booking windows and limits --------------------------------------------------------

    #[pg_test]
    fn booking_opens_and_closes_by_the_settings_for_athletes_not_for_the_gym() {
        people();
        setting("booking_opens_before = '1 day', booking_closes_before = '2 hours'");
        slot(S1, "3 days", 5);
        slot(S2, "1 hour", 5);
        slot(S3, "10 hours", 5);
        assert_eq!(book_as(ATH1, S1), "44000", "not open yet");
        assert_eq!(book_as(ATH1, S2), "22000", "closed");
        assert_eq!(book_as(ATH1, S3), "00000");
        assert_eq!(
            as_user(
                ATH2,
                &format!(
                    "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ('{S1}', '{ATH2}')"
                )
            ),
            "44000",
            "a table write meets the same rule"
        );
        assert_eq!(
            book(S1, ATH2),
            "00000",
            "the DBA books for an athlete whenever"
        );
        assert_eq!(
            as_user(
                ADMIN,
                &format!(
                    "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ('{S2}', '{ATH2}')"
                )
            ),
            "00000",
            "so does the app admin"
        );
    }

    /// The DETAIL of ATH1's booking of `slot` through the client role, in a session whose
    /// TimeZone is `zone`.
    fn refusal_detail_in(zone: &str, slot: &str) -> String {
        act_as(ATH1);
        run(&format!("SET LOCAL TIME ZONE '{zone}'"));
        run(
            "CREATE OR REPLACE FUNCTION pg_temp.detail_of(stmt text) RETURNS text
             LANGUAGE plpgsql AS $$
             DECLARE d text;
             BEGIN
                 SET LOCAL ROLE authenticated;
                 EXECUTE stmt;
                 RESET ROLE;
                 RETURN 'booked';
             EXCEPTION WHEN OTHERS THEN
                 GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
                 RETURN SQLSTATE || ': ' || d;
             END $$",
        );
        value(&format!(
            "SELECT pg_temp.detail_of('SELECT gym_booking.book_slot(''{slot}'')')"
        ))
        .unwrap_or_default()
    }

    #[pg_test]
    fn booking_windows_count_the_studios_days_whatever_the_sessions_time_zone() {
        // Berlin's clocks go forward on 2027-03-28: the day before a 07:00 class that morning
        // is 07:00 on the 27th (CET), 23 hours earlier, not 24.
        people();
        setting("time_zone = 'Europe/Berlin', booking_opens_before = '1 day'");
        run(&format!(
            "INSERT INTO gym_booking.slots (id, trainer_id, start_at, capacity)
             VALUES ('{S1}', '{TRAINER}', '2027-03-28 07:00 Europe/Berlin', 5)"
        ));
        for zone in ["UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo"] {
            assert_eq!(
                refusal_detail_in(zone, S1),
                "44000: Booking opens at 2027-03-27 07:00 (Europe/Berlin).",
                "in a session in {zone}"
            );
        }
    }

    #[pg_test]
    fn an_athlete_holds_at_most_the_upcoming_bookings_the_studio_allows() {
        people();
        setting("max_upcoming_bookings = 2");
        slot(S1, "1 day", 5);
        slot(S2, "2 days", 5);
        slot(S3, "3 days", 5);
        assert_eq!(book_as(ATH1, S1), "00000");
        assert_eq!(book_as(ATH1, S2), "00000");
        assert_eq!(book_as(ATH1, S3), "21000");
        assert_eq!(cancel_as(ATH1, S2), "00000");
        assert_eq!(
            book_as(ATH1, S3),
            "00000",
            "a cancelled booking no longer counts"
        );
        assert_eq!(
            book_as(ATH1, S2),
            "21000",
            "re-activation counts as booking"
        );
        assert_eq!(book(S2, ATH2), "00000");
        assert_eq!(
            as_user(ADMIN, &format!("UPDATE gym_booking.bookings SET status = 'reserved' WHERE slot_id = '{S2}' AND user_id = '{ATH1}'")),
            "00000",
            "the gym is exempt"
        );
    }

    // --- waitlists -----------------------------------------------------------------------

    #[pg_test]
    fn joining_a_waitlist_needs_a_full_slot_and_a_caller_without_a_place() {
        people();
        slot(S1, "2 days", 1);
        assert_eq!(join_as(ATH1, S1), "22023", "a free place: book it");
        assert_eq!(book_as(ATH1, S1), "00000");
        assert_eq!(join_as(ATH1, S1), "22023", "already holds the place");
        assert_eq!(join_as(ATH2, S1), "00000");
        assert_eq!(join_as(ATH2, S1), "00000", "joining twice is joining once");
        assert_eq!(queue(S1), vec![format!("{ATH2}:waiting")]);
        setting("waitlist_max = 1");
        assert_eq!(join_as(ATH3, S1), "23P01", "the list is full");
        setting("waitlist_max = NULL, waitlist_enabled = false");
        assert_eq!(join_as(ATH3, S1), "0A000");
        setting("waitlist_enabled = true");
        act_as(ATH3);
        assert_eq!(
            sqlstate_as("anon", &format!("SELECT gym_booking.join_waitlist('{S1}')")),
            "42501"
        );
        assert_eq!(
            join_as(ATH3, "b0000000-0000-4000-8000-00000000ffff"),
            "42704",
            "no such slot"
        );
        slot(S2, "30 minutes", 1);
        assert_eq!(book_as(ATH1, S2), "00000");
        assert_eq!(
            join_as(ATH2, S2),
            "23000",
            "past the cutoff (the cancellation window)"
        );
        assert_eq!(
            as_user(ATH2, "UPDATE gym_booking.waitlist_entries SET queue_no = 0"),
            "42501",
            "nobody writes entries but the API and the rules"
        );
    }

    #[pg_test]
    fn a_cancellation_books_the_first_waiting_athlete_in_the_same_transaction() {
        people();
        slot(S1, "2 days", 1);
        assert_eq!(book_as(ATH1, S1), "00000");
        assert_eq!(join_as(ATH2, S1), "00000");
        assert_eq!(join_as(ATH3, S1), "00000");
        assert_eq!(cancel_as(ATH1, S1), "00000");
        assert_eq!(status(S1, ATH2), "reserved/true", "booked by the system");
        assert_eq!(reserved(S1), 1);
        assert_eq!(
            queue(S1),
            vec![format!("{ATH2}:promoted"), format!("{ATH3}:waiting")]
        );
        assert_eq!(events_of(ATH2), vec!["waitlist_promoted/system"]);
        assert_eq!(
            events_of(ATH1),
            vec!["booking_confirmed/athlete", "booking_cancelled/athlete"]
        );
        assert_eq!(
            value(&format!(
                "SELECT action::text FROM gym_booking.activity_logs l JOIN gym_booking.bookings b
                   ON b.id = l.entity_id WHERE b.user_id = '{ATH2}'"
            )),
            Some("create".into())
        );
        // ATH3 now waits first: her position is 1 of 1.
        act_as(ATH3);
        assert_eq!(
            rows("SELECT \"position\"::text, waiting::text FROM gym_booking.my_waitlist()"),
            vec![vec!["1", "1"]]
        );
    }

    #[pg_test]
    fn an_athlete_at_their_limit_is_skipped_and_keeps_their_place() {
        people();
        setting("max_upcoming_bookings = 1");
        slot(S1, "2 days", 1);
        slot(S2, "3 days", 5);
        assert_eq!(book_as(ATH1, S1), "00000");
        assert_eq!(join_as(ATH2, S1), "00000");
        assert_eq!(join_as(ATH3, S1), "00000");
        assert_eq!(book_as(ATH2, S2), "00000", "ATH2 is now at her limit");
        assert_eq!(cancel_as(ATH1, S1), "00000");
        assert_eq!(
            status(S1, ATH3),
            "reserved/true",
            "the next eligible athlete"
        );
        assert_eq!(
            queue(S1),
            vec![format!("{ATH2}:waiting"), format!("{ATH3}:promoted")]
        );
    }

    #[pg_test]
    fn a_free_place_is_held_for_an_eligible_athlete_waiting_ahead() {
        people();
        setting("max_upcoming_bookings = 1");
        slot(S1, "2 days", 1);
        slot(S2, "3 days", 5);
        assert_eq!(book_as(ATH1, S1), "00000");
        assert_eq!(join_as(ATH2, S1), "00000");
        assert_eq!(book_as(ATH2, S2), "00000");
        assert_eq!(cancel_as(ATH1, S1), "00000", "ATH2 skipped: at her limit");
        assert_eq!(reserved(S1), 0);
        setting("max_upcoming_bookings = NULL");
        assert_eq!(book_as(ATH3, S1), "23P01", "held for ATH2, eligible again");
        assert_eq!(
            book_as(ATH2, S1),
            "00000",
            "the athlete it is held for books it"
        );
        assert_eq!(queue(S1), vec![format!("{ATH2}:promoted")]);
    }

    #[pg_test]
    fn a_larger_capacity_and_the_sweep_promote() {
        people();
        slot(S1, "2 days", 1);
        assert_eq!(book_as(ATH1, S1), "00000");
        assert_eq!(join_as(ATH2, S1), "00000");
        assert_eq!(join_as(ATH3, S1), "00000");
        run(&format!(
            "UPDATE gym_booking.slots SET capacity = 2 WHERE id = '{S1}'"
        ));
        assert_eq!(status(S1, ATH2), "reserved/true");
        assert_eq!(booking_of(S1, ATH3), "none", "one new place, one promotion");
        // A place freed while nobody could take it (the waitlist cutoff moved) is found by
        // the sweep once it can be.
        setting("waitlist_cutoff = '3 days'");
        assert_eq!(cancel_as(ATH1, S1), "00000");
        assert_eq!(
            booking_of(S1, ATH3),
            "none",
            "past the cutoff nobody is promoted"
        );
        setting("waitlist_cutoff = NULL");
        assert_eq!(
            Spi::get_one::<i32>("SELECT gym_booking.promote_waitlists()").unwrap(),
            Some(1)
        );
        assert_eq!(status(S1, ATH3), "reserved/true");
    }

    #[pg_test]
    fn leaving_ends_the_entry_and_joining_again_goes_to_the_back() {
        people();
        slot(S1, "2 days", 1);
        assert_eq!(book_as(ATH1, S1), "00000");
        assert_eq!(join_as(ATH2, S1), "00000");
        assert_eq!(join_as(ATH3, S1), "00000");
        assert_eq!(
            as_user(ATH2, &format!("SELECT gym_booking.leave_waitlist('{S1}')")),
            "00000"
        );
        assert_eq!(
            as_user(ATH2, &format!("SELECT gym_booking.leave_waitlist('{S1}')")),
            "42704"
        );
        assert_eq!(join_as(ATH2, S1), "00000");
        assert_eq!(
            queue(S1),
            vec![
                format!("{ATH2}:left"),
                format!("{ATH3}:waiting"),
                format!("{ATH2}:waiting")
            ]
        );
    }

    #[pg_test]
    fn a_cancelled_slot_expires_its_waitlist_and_tells_everyone() {
        people();
        slot(S1, "2 days", 1);
        assert_eq!(book_as(ATH1, S1), "00000");
        assert_eq!(join_as(ATH2, S1), "00000");
        assert_eq!(
            as_user(TRAINER, &format!("SELECT gym_booking.cancel_slot('{S1}')")),
            "00000"
        );
        assert_eq!(queue(S1), vec![format!("{ATH2}:expired")]);
        assert_eq!(events_of(ATH2), vec!["waitlist_expired/-"]);
        assert_eq!(
            events_of(ATH1),
            vec!["booking_confirmed/athlete", "slot_cancelled/trainer"]
        );
        assert_eq!(status(S1, ATH1), "cancelled/true");
    }

    #[pg_test]
    fn a_deleted_account_leaves_its_waitlists_and_its_place_goes_to_the_next() {
        people();
        slot(S1, "2 days", 1);
        slot(S2, "2 days", 1);
        assert_eq!(book_as(ATH1, S1), "00000");
        assert_eq!(book_as(ATH2, S2), "00000");
        assert_eq!(join_as(ATH2, S1), "00000");
        assert_eq!(join_as(ATH3, S2), "00000");
        run(&format!(
            "UPDATE gym_booking.users SET deleted_at = now() WHERE id = '{ATH2}'"
        ));
        assert_eq!(queue(S1), vec![format!("{ATH2}:removed")]);
        assert_eq!(
            status(S2, ATH3),
            "reserved/true",
            "ATH2's place went to ATH3"
        );
        assert_eq!(
            events_of(ATH2),
            vec!["booking_confirmed/athlete"],
            "a deleted account is told nothing"
        );
        assert_eq!(events_of(ATH3), vec!["waitlist_promoted/system"]);
    }

    // --- events --------------------------------------------------------------------------

    #[pg_test]
    fn events_say_who_changed_a_booking_and_are_read_by_their_recipient_only() {
        people();
        slot(S1, "2 days", 3);
        assert_eq!(book_as(ATH1, S1), "00000");
        assert_eq!(
            as_user(
                ADMIN,
                &format!(
                    "UPDATE gym_booking.bookings SET status = 'cancelled' WHERE user_id = '{ATH1}'"
                )
            ),
            "00000"
        );
        assert_eq!(
            events_of(ATH1),
            vec!["booking_confirmed/athlete", "booking_cancelled/admin"]
        );
        assert_eq!(book_as(ATH2, S1), "00000");
        assert_eq!(
            as_user(
                TRAINER,
                &format!("UPDATE gym_booking.slots SET notes = 'Room 2' WHERE id = '{S1}'")
            ),
            "00000"
        );
        assert_eq!(
            events_of(ATH2),
            vec!["booking_confirmed/athlete", "slot_changed/trainer"]
        );
        act_as(ATH2);
        run("SET LOCAL ROLE authenticated");
        let seen = rows("SELECT DISTINCT recipient_id::text FROM gym_booking.events");
        run("RESET ROLE");
        assert_eq!(seen, vec![vec![ATH2.to_string()]]);
        assert_eq!(
            sqlstate_as("authenticated", "SELECT gym_booking.claim_events(10)"),
            "42501",
            "only the delivery worker claims"
        );
    }

    #[pg_test]
    fn the_delivery_worker_claims_each_event_once_per_lease_and_acknowledges() {
        people();
        slot(S1, "2 days", 3);
        assert_eq!(book_as(ATH1, S1), "00000");
        assert_eq!(book_as(ATH2, S1), "00000");
        run("SET LOCAL ROLE service_role");
        let first = rows("SELECT id::text FROM gym_booking.claim_events(1)");
        let second = rows("SELECT id::text FROM gym_booking.claim_events(10)");
        let again = rows("SELECT id::text FROM gym_booking.claim_events(10)");
        let acked = Spi::get_one::<i32>(
            "SELECT gym_booking.ack_events(ARRAY(SELECT id FROM gym_booking.events))",
        )
        .unwrap();
        run("RESET ROLE");
        assert_eq!((first.len(), second.len(), again.len()), (1, 1, 0));
        assert_eq!(acked, Some(2));
        assert_eq!(
            sqlstate_as("service_role", "SELECT gym_booking.claim_events(0)"),
            "22023"
        );
    }

    #[pg_test]
    fn a_bookings_event_tells_its_slots_times_and_its_log_and_history_name_the_trainer() {
        // What the booking rule read of the slot under its lock (src/rules/held_slot.rs) is
        // what the event, the log entry and the history row get: the same as the slot says,
        // whatever the session's TimeZone.
        people();
        slot(S1, "2 days", 1);
        run("SET LOCAL TimeZone = 'Asia/Kolkata'");
        assert_eq!(book_as(ATH1, S1), "00000");
        assert_eq!(join_as(ATH2, S1), "00000");
        assert_eq!(cancel_as(ATH1, S1), "00000", "and ATH2 is promoted");
        assert_eq!(cancel_as(ATH2, S1), "00000");
        assert_eq!(book_as(ATH1, S1), "00000", "a re-activation");
        assert_eq!(
            rows(&format!(
                "SELECT kind::text, count(*)::text FROM gym_booking.events
                  WHERE slot_id = '{S1}' GROUP BY 1 ORDER BY 1"
            )),
            vec![
                vec!["booking_cancelled", "2"],
                vec!["booking_confirmed", "2"],
                vec!["waitlist_promoted", "1"],
            ]
        );
        let off_slot = |sql: &str| value(&sql.replace("{S1}", S1)).unwrap_or_default();
        assert_eq!(
            off_slot(
                "SELECT count(*)::text FROM gym_booking.events AS e
                   JOIN gym_booking.slots AS s ON s.id = e.slot_id
                  WHERE s.id = '{S1}'
                    AND ((e.payload->>'start_at')::timestamptz IS DISTINCT FROM s.start_at
                         OR (e.payload->>'end_at')::timestamptz IS DISTINCT FROM s.end_at)"
            ),
            "0"
        );
        for (written, expected) in [
            (
                "gym_booking.activity_logs AS x JOIN gym_booking.bookings AS b
                   ON x.entity_type = 'booking' AND b.id = x.entity_id",
                "0/5",
            ),
            (
                "gym_booking.booking_status_history AS x JOIN gym_booking.bookings AS b
                   ON b.id = x.booking_id",
                "0/3",
            ),
        ] {
            assert_eq!(
                off_slot(&format!(
                    "SELECT count(*) FILTER (WHERE x.trainer_id IS DISTINCT FROM s.trainer_id)
                            || '/' || count(*)
                       FROM {written} JOIN gym_booking.slots AS s ON s.id = b.slot_id
                      WHERE s.id = '{{S1}}'"
                )),
                expected,
                "every log entry (five) and status change (three) is the slot's trainer's"
            );
        }
    }
}

//! What no request can do, whatever it sends (issue 17): switch the rules off, choose what the
//! rules record, reuse a deleted row's id, send values too large to serve back, or read slots
//! with a deleted account. And what bad input gets: PostgreSQL's own code, never XX000.

#[pgrx::pg_schema]
mod tests {
    use crate::test_support::fixtures::*;
    use crate::test_support::{act_as, act_as_nobody, run, sqlstate_as, sqlstate_of, value};
    use pgrx::prelude::*;

    /// A WHERE condition that turns off, in the middle of the statement, the two settings a
    /// dump's load turns off.
    const SWITCH_OFF: &str = "set_config('row_security', 'off', true) = 'off'
                              AND set_config('check_function_bodies', 'off', true) = 'off'";

    /// The two settings back on (what a request changed stays for its transaction).
    fn switch_on() {
        run("SET LOCAL row_security = on");
        run("SET LOCAL check_function_bodies = on");
    }

    /// The same settings turned off before the statement, as a role that may (service_role
    /// bypasses row-level security, so PostgreSQL lets it read with row_security off).
    fn switch_off_before() {
        run("SET LOCAL row_security = off");
        run("SET LOCAL check_function_bodies = off");
    }

    fn count(sql: &str) -> i64 {
        Spi::get_one::<i64>(sql).unwrap().unwrap()
    }

    fn history_rows() -> i64 {
        count("SELECT count(*) FROM gym_booking.booking_status_history")
    }

    fn log_rows() -> i64 {
        count("SELECT count(*) FROM gym_booking.activity_logs")
    }

    #[pg_test]
    fn a_trainer_cannot_cancel_a_slot_without_its_history() {
        people();
        slot(S1, "2 days", 3);
        assert_eq!(book(S1, ATH1), "00000");
        let (history, logs) = (history_rows(), log_rows());
        act_as(TRAINER);
        let cancel = format!(
            "UPDATE gym_booking.slots SET cancelled_at = now() WHERE id = '{S1}' AND {SWITCH_OFF}"
        );
        assert_eq!(sqlstate_as("authenticated", &cancel), "00000");
        switch_on();
        assert_eq!(status(S1, ATH1), "cancelled/true");
        assert_eq!(history_rows(), history + 1, "the cascade's history row");
        // The slot's change and the booking's, each logged.
        assert_eq!(log_rows(), logs + 2);
    }

    #[pg_test]
    fn an_athlete_cannot_book_or_cancel_past_the_rules() {
        people();
        slot(S1, "2 days", 1);
        slot(S2, "30 minutes", 3);
        assert_eq!(book(S1, ATH2), "00000");
        assert_eq!(book(S2, ATH1), "00000");
        act_as(ATH1);
        let full = format!(
            "INSERT INTO gym_booking.bookings (slot_id, user_id)
             SELECT '{S1}', '{ATH1}' WHERE {SWITCH_OFF}"
        );
        assert_eq!(sqlstate_as("authenticated", &full), "23P01");
        switch_on();
        let too_late = format!(
            "UPDATE gym_booking.bookings SET status = 'cancelled'
              WHERE slot_id = '{S2}' AND user_id = '{ATH1}' AND {SWITCH_OFF}"
        );
        assert_eq!(sqlstate_as("authenticated", &too_late), "27000");
        switch_on();
        let api = format!(
            "SELECT gym_booking.book_slot('{S1}') FROM (SELECT 1 WHERE {SWITCH_OFF}) AS off"
        );
        // The API's statements are planned after the switch: PostgreSQL itself refuses a
        // client's query under row-level security with row_security off.
        assert_eq!(sqlstate_as("authenticated", &api), "42501");
    }

    #[pg_test]
    fn the_service_role_cannot_delete_a_trainer_past_the_cascade() {
        people();
        slot(S1, "2 days", 3);
        assert_eq!(book(S1, ATH1), "00000");
        act_as_nobody();
        switch_off_before();
        let delete = format!(
            "UPDATE gym_booking.users SET deleted_at = now() WHERE id = '{TRAINER}' AND {SWITCH_OFF}"
        );
        assert_eq!(sqlstate_as("service_role", &delete), "00000");
        switch_on();
        let open = count(&format!(
            "SELECT count(*) FROM gym_booking.slots WHERE id = '{S1}' AND cancelled_at IS NULL"
        ));
        assert_eq!(open, 0, "the deleted trainer's slot is cancelled");
        assert_eq!(status(S1, ATH1), "cancelled/true");
        let anonymous = value(&format!(
            "SELECT first_name FROM gym_booking.users WHERE id = '{TRAINER}'"
        ));
        assert_eq!(anonymous.as_deref(), Some("Anonymous user"));
    }

    #[pg_test]
    fn the_service_role_cannot_complete_or_change_roles_unlogged() {
        people();
        ended_slot_with_booking(S1, B1);
        act_as_nobody();
        switch_off_before();
        let history = history_rows();
        let complete = format!("SELECT gym_booking.complete_past_bookings() WHERE {SWITCH_OFF}");
        assert_eq!(sqlstate_as("service_role", &complete), "00000");
        switch_on();
        assert_eq!(status(S1, ATH1), "completed/true");
        assert_eq!(history_rows(), history + 1);
        switch_off_before();
        let logs = log_rows();
        let promote = format!(
            "UPDATE gym_booking.users SET role = 'admin' WHERE id = '{ATH2}' AND {SWITCH_OFF}"
        );
        assert_eq!(sqlstate_as("service_role", &promote), "00000");
        switch_on();
        assert_eq!(log_rows(), logs + 1, "the role change is logged");
    }

    #[pg_test]
    fn a_superuser_session_loading_a_dump_still_stands_the_rules_aside() {
        people();
        switch_off_before();
        // As pg_restore loads a past slot: kept as it was, nothing logged.
        let logs = log_rows();
        run(&format!(
            "INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes, created_at)
             VALUES ('{S1}', '{TRAINER}', '2001-01-01 10:00+00', '2001-01-01 11:00+00', 60, '2000-12-01')"
        ));
        switch_on();
        assert_eq!(log_rows(), logs);
        let created = value(&format!(
            "SELECT created_at::date::text FROM gym_booking.slots WHERE id = '{S1}'"
        ));
        assert_eq!(created.as_deref(), Some("2000-12-01"));
    }

    #[pg_test]
    fn the_rules_record_the_times_and_clients_choose_no_ids() {
        people();
        act_as(TRAINER);
        // A DBA's insert: the rules still set when it was made.
        run(&format!(
            "INSERT INTO gym_booking.slots (id, trainer_id, start_at, capacity, created_at, updated_at)
             VALUES ('{S1}', '{TRAINER}', now() + interval '1 day', 3, '2001-01-01', '2001-01-01')"
        ));
        let stamps = value(&format!(
            "SELECT (created_at = statement_timestamp())::text || '/' || (updated_at = statement_timestamp())
               FROM gym_booking.slots WHERE id = '{S1}'"
        ));
        assert_eq!(stamps.as_deref(), Some("true/true"));
        // A client names neither a new row's id nor its times.
        let with_id = format!(
            "INSERT INTO gym_booking.slots (id, trainer_id, start_at)
             VALUES ('{S2}', '{TRAINER}', now() + interval '2 days')"
        );
        assert_eq!(sqlstate_as("authenticated", &with_id), "42501");
        act_as(ATH1);
        let with_created_at = format!(
            "INSERT INTO gym_booking.bookings (slot_id, user_id, created_at)
             VALUES ('{S1}', '{ATH1}', '2001-01-01')"
        );
        assert_eq!(sqlstate_as("authenticated", &with_created_at), "00000");
        let created = value(&format!(
            "SELECT (created_at = statement_timestamp())::text FROM gym_booking.bookings
              WHERE user_id = '{ATH1}'"
        ));
        assert_eq!(created.as_deref(), Some("true"));
        // Another athlete's booking id answers as any id would: not the client's to give.
        assert_eq!(book(S1, ATH2), "00000");
        let taken = value(&format!(
            "SELECT id::text FROM gym_booking.bookings WHERE user_id = '{ATH2}'"
        ))
        .unwrap();
        let with_taken_id = format!(
            "INSERT INTO gym_booking.bookings (id, slot_id, user_id) VALUES ('{taken}', '{S1}', '{ATH1}')"
        );
        assert_eq!(sqlstate_as("authenticated", &with_taken_id), "42501");
        // A cancellation's moment is the rules' too.
        act_as(TRAINER);
        let cancel =
            format!("UPDATE gym_booking.slots SET cancelled_at = '2001-01-01' WHERE id = '{S1}'");
        assert_eq!(sqlstate_as("authenticated", &cancel), "00000");
        let when = value(&format!(
            "SELECT (cancelled_at = statement_timestamp())::text FROM gym_booking.slots WHERE id = '{S1}'"
        ));
        assert_eq!(when.as_deref(), Some("true"));
    }

    #[pg_test]
    fn a_deleted_slots_id_is_never_given_again() {
        people();
        slot(S1, "2 days", 3);
        run(&format!("DELETE FROM gym_booking.slots WHERE id = '{S1}'"));
        // Even a DBA: the old slot's log must not become the new slot's.
        let again = format!(
            "INSERT INTO gym_booking.slots (id, trainer_id, start_at)
             VALUES ('{S1}', '{TRAINER2}', now() + interval '3 days')"
        );
        assert_eq!(sqlstate_of(&again), "23505");
    }

    #[pg_test]
    fn sizes_are_part_of_the_contract() {
        people();
        slot(S1, "2 days", 3);
        let update_user = |set: &str| {
            sqlstate_of(&format!(
                "UPDATE gym_booking.users SET {set} WHERE id = '{ATH1}'"
            ))
        };
        assert_eq!(update_user("first_name = repeat('x', 100)"), "00000");
        assert_eq!(update_user("first_name = repeat('x', 101)"), "23514");
        assert_eq!(update_user("last_name = repeat('x', 101)"), "23514");
        assert_eq!(update_user("contact_phone = repeat('1', 33)"), "23514");
        assert_eq!(
            update_user("contact_email = repeat('x', 250) || '@e.example'"),
            "23514"
        );
        assert_eq!(update_user("preferences = '[]'"), "23514");
        assert_eq!(update_user("preferences = '\"text\"'"), "23514");
        assert_eq!(
            update_user("preferences = jsonb_build_object('big', repeat('x', 9000))"),
            "23514"
        );
        assert_eq!(update_user("preferences = '{\"lang\": \"de\"}'"), "00000");
        let notes = |n: i32| {
            sqlstate_of(&format!(
                "UPDATE gym_booking.slots SET notes = repeat('n', {n}) WHERE id = '{S1}'"
            ))
        };
        assert_eq!(notes(2000), "00000");
        assert_eq!(notes(2001), "23514");
    }

    #[pg_test]
    fn a_request_creates_a_bounded_number_of_slots() {
        people();
        act_as(TRAINER);
        let create = |n: i32, days: i32| {
            format!(
                "INSERT INTO gym_booking.slots (trainer_id, start_at)
                 SELECT '{TRAINER}', now() + make_interval(days => {days}, hours => g)
                   FROM generate_series(1, {n}) AS g"
            )
        };
        assert_eq!(sqlstate_as("authenticated", &create(60, 1)), "00000");
        assert_eq!(sqlstate_as("authenticated", &create(40, 10)), "00000");
        // The 101st of this request.
        assert_eq!(sqlstate_as("authenticated", &create(1, 20)), "54000");
        // The gym is not limited.
        assert_eq!(sqlstate_as("service_role", &create(150, 30)), "00000");
    }

    #[pg_test]
    fn a_deleted_account_or_no_account_reads_no_slot() {
        people();
        slot(S1, "2 days", 3);
        let visible = || {
            run("CREATE OR REPLACE FUNCTION pg_temp.slots_seen() RETURNS text LANGUAGE plpgsql AS $$
                 DECLARE n bigint; m bigint;
                 BEGIN
                     SET LOCAL ROLE authenticated;
                     SELECT count(*) INTO n FROM gym_booking.slots;
                     SELECT count(*) INTO m FROM gym_booking.available_slots();
                     RESET ROLE;
                     RETURN n || '/' || m;
                 END $$");
            value("SELECT pg_temp.slots_seen()").unwrap()
        };
        act_as(ATH1);
        assert_eq!(visible(), "1/1");
        act_as_nobody();
        assert_eq!(visible(), "0/0", "a token without a sub");
        run(&format!(
            "UPDATE gym_booking.users SET deleted_at = now() WHERE id = '{ATH1}'"
        ));
        act_as(ATH1);
        assert_eq!(visible(), "0/0", "a deleted account's token");
    }

    #[pg_test]
    fn missing_values_get_not_null_violations() {
        people();
        slot(S1, "2 days", 3);
        act_as(TRAINER);
        let no_trainer =
            "INSERT INTO gym_booking.slots (trainer_id, start_at) VALUES (NULL, now() + interval '1 day')";
        assert_eq!(sqlstate_as("authenticated", no_trainer), "23502");
        assert_eq!(sqlstate_as("service_role", no_trainer), "23502");
        let drop_trainer =
            format!("UPDATE gym_booking.slots SET trainer_id = NULL WHERE id = '{S1}'");
        assert_eq!(sqlstate_as("service_role", &drop_trainer), "23502");
        act_as(ATH1);
        let no_slot =
            format!("INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES (NULL, '{ATH1}')");
        assert_eq!(sqlstate_as("authenticated", &no_slot), "23502");
        assert_eq!(book(S1, ATH1), "00000");
        let no_status = format!(
            "UPDATE gym_booking.bookings SET status = NULL WHERE slot_id = '{S1}' AND user_id = '{ATH1}'"
        );
        assert_eq!(sqlstate_as("authenticated", &no_status), "23502");
    }

    #[pg_test]
    fn a_slot_ends_before_the_last_timestamp() {
        people();
        act_as(TRAINER);
        let at = |start: &str| {
            sqlstate_as(
                "authenticated",
                &format!(
                    "INSERT INTO gym_booking.slots (trainer_id, start_at)
                     VALUES ('{TRAINER}', '{start}')"
                ),
            )
        };
        assert_eq!(at("294276-12-31 23:30:00+00"), "22008");
        assert_eq!(at("infinity"), "22023");
        assert_eq!(at("294276-12-31 22:00:00+00"), "00000");
    }
}

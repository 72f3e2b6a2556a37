//! The business rules inside one transaction: people, the activity log and identity
//! (bookings and slots are in `rule_tests.rs`).
//! `now()` is fixed within a test's transaction, so times are set relative to it; the rules'
//! clock, `statement_timestamp()`, is fixed too (a test is one statement, `SELECT test()`).

#[pgrx::pg_schema]
mod tests {
    use crate::test_support::fixtures::*;
    use crate::test_support::{act_as, act_as_nobody, rows, run, sqlstate_as, sqlstate_of, value};
    use pgrx::prelude::*;

    // --- users ----------------------------------------------------------------------------

    fn user_summary(id: &str) -> String {
        value(&format!(
            "SELECT concat_ws('|', email, first_name, coalesce(last_name, '-'), coalesce(contact_email, '-'),
                              coalesce(contact_phone, '-'), preferences, password_hash, is_anonymous, deleted_at IS NOT NULL)
               FROM gym_booking.users WHERE id = '{id}'"
        ))
        .unwrap_or_default()
    }

    #[pg_test]
    fn deleting_an_account_anonymizes_it_for_good() {
        people();
        run(&format!(
            "UPDATE gym_booking.users SET preferences = '{{\"lang\": \"fr\"}}' WHERE id = '{ATH1}'"
        ));
        run(&format!(
            "UPDATE gym_booking.users SET deleted_at = now() WHERE id = '{ATH1}'"
        ));
        assert_eq!(
            user_summary(ATH1),
            format!("deleted-{ATH1}@anonymized.invalid|Anonymous user|-|-|-|{{}}|!deleted|t|t")
        );
        let update = |set: &str| {
            sqlstate_of(&format!(
                "UPDATE gym_booking.users SET {set} WHERE id = '{ATH1}'"
            ))
        };
        assert_eq!(
            update("deleted_at = NULL, is_anonymous = false"),
            "22023",
            "no undo"
        );
        assert_eq!(update("first_name = 'Alex'"), "22023");
        assert_eq!(
            update("updated_at = now()"),
            "00000",
            "touching nothing is fine"
        );
        // Setting is_anonymous alone is the same deletion.
        run(&format!(
            "UPDATE gym_booking.users SET is_anonymous = true WHERE id = '{ATH2}'"
        ));
        assert!(user_summary(ATH2).ends_with("|t|t"));
    }

    #[pg_test]
    fn delete_on_users_is_the_soft_delete() {
        people();
        slot(S1, "2 days", 3);
        assert_eq!(book(S1, ATH1), "00000");
        run(&format!(
            "DELETE FROM gym_booking.users WHERE id = '{ATH1}'"
        ));
        assert_eq!(
            user_summary(ATH1),
            format!("deleted-{ATH1}@anonymized.invalid|Anonymous user|-|-|-|{{}}|!deleted|t|t")
        );
        assert_eq!(
            status(S1, ATH1),
            "cancelled/true",
            "the booking stays, cancelled"
        );
        run(&format!(
            "DELETE FROM gym_booking.users WHERE id = '{ATH1}'"
        ));
        assert_eq!(
            value(&format!(
                "SELECT count(*)::text FROM gym_booking.users WHERE id = '{ATH1}'"
            ))
            .as_deref(),
            Some("1")
        );
    }

    #[pg_test]
    fn deletion_cancels_future_bookings_and_keeps_the_past() {
        people();
        ended_slot_with_booking(S1, B1);
        slot(S2, "30 minutes", 3);
        assert_eq!(book(S2, ATH1), "00000");
        run(&format!(
            "UPDATE gym_booking.users SET deleted_at = now() WHERE id = '{ATH1}'"
        ));
        assert_eq!(
            status(S1, ATH1),
            "reserved/false",
            "the past stays as it was"
        );
        assert_eq!(
            status(S2, ATH1),
            "cancelled/true",
            "the future is cancelled, window or not"
        );
    }

    #[pg_test]
    fn a_deleted_trainers_future_slots_are_cancelled() {
        people();
        slot(S1, "2 days", 3);
        ended_slot_with_booking(S2, B1);
        assert_eq!(book(S1, ATH2), "00000");
        run(&format!(
            "DELETE FROM gym_booking.users WHERE id = '{TRAINER}'"
        ));
        let cancelled = |id: &str| {
            value(&format!(
                "SELECT (cancelled_at IS NOT NULL)::text FROM gym_booking.slots WHERE id = '{id}'"
            ))
        };
        assert_eq!(cancelled(S1).as_deref(), Some("true"));
        assert_eq!(cancelled(S2).as_deref(), Some("false"), "past slots stay");
        assert_eq!(status(S1, ATH2), "cancelled/true");
    }

    #[pg_test]
    fn the_trainer_directory_follows_users() {
        people();
        let directory = || {
            rows("SELECT trainer_id::text, display_name, coalesce(contact_email::text, '-'), coalesce(contact_phone, '-') FROM gym_booking.trainer_directory ORDER BY display_name")
        };
        let entry = |id: &str, name: &str, email: &str, phone: &str| {
            vec![
                id.to_string(),
                name.to_string(),
                email.to_string(),
                phone.to_string(),
            ]
        };
        assert_eq!(
            directory(),
            vec![
                entry(TRAINER2, "Marco", "-", "+1 555 0102"),
                entry(TRAINER, "Tess Strong", "tess@t.example", "-")
            ]
        );
        run(&format!(
            "UPDATE gym_booking.users SET last_name = 'Ruiz' WHERE id = '{TRAINER2}'"
        ));
        run(&format!("UPDATE gym_booking.users SET role = 'trainer', contact_phone = '+1 555 0103' WHERE id = '{ATH3}'"));
        run(&format!(
            "UPDATE gym_booking.users SET role = 'admin' WHERE id = '{TRAINER}'"
        ));
        assert_eq!(
            directory(),
            vec![
                entry(ATH3, "Chen", "-", "+1 555 0103"),
                entry(TRAINER2, "Marco Ruiz", "-", "+1 555 0102")
            ]
        );
        run(&format!(
            "DELETE FROM gym_booking.users WHERE id = '{TRAINER2}'"
        ));
        assert_eq!(directory(), vec![entry(ATH3, "Chen", "-", "+1 555 0103")]);
    }

    // --- activity log ---------------------------------------------------------------------

    fn log_of(id: &str) -> Vec<Vec<String>> {
        rows(&format!(
            "SELECT action::text, changed_fields::text, coalesce(changed_by::text, '-'), coalesce(changed_by_role::text, '-')
               FROM gym_booking.activity_logs WHERE entity_id = '{id}' ORDER BY created_at, id"
        ))
    }

    #[pg_test]
    fn the_log_holds_only_what_changed_and_who_changed_it() {
        people();
        act_as(TRAINER);
        slot(S1, "2 days", 3);
        run(&format!(
            "UPDATE gym_booking.slots SET notes = 'bring water', capacity = 4 WHERE id = '{S1}'"
        ));
        run(&format!(
            "UPDATE gym_booking.slots SET notes = 'bring water' WHERE id = '{S1}'"
        ));
        run(&format!("DELETE FROM gym_booking.slots WHERE id = '{S1}'"));
        let log = log_of(S1);
        assert_eq!(
            log.len(),
            3,
            "create, update, delete; the no-op update wrote nothing: {log:?}"
        );
        assert_eq!(log[0][0], "create");
        assert_eq!(log[1][0..2], [
            "update".to_string(),
            r#"{"notes": {"new": "bring water", "old": null}, "capacity": {"new": 4, "old": 3}}"#.to_string(),
        ]);
        assert_eq!(log[2][0], "delete");
        for entry in &log {
            assert_eq!(entry[2..], [TRAINER.to_string(), "trainer".to_string()]);
        }
    }

    #[pg_test]
    fn personal_data_is_redacted_and_passwords_never_logged() {
        people();
        run(&format!(
            "UPDATE gym_booking.users SET password_hash = 'new-hash' WHERE id = '{ATH1}'"
        ));
        run(&format!("UPDATE gym_booking.users SET contact_phone = '+1 555 0000', password_hash = 'x2' WHERE id = '{ATH1}'"));
        let log = log_of(ATH1);
        assert_eq!(log.len(), 3, "{log:?}");
        assert_eq!(
            log[2][1],
            r#"{"password": "[redacted]", "contact_phone": {"new": "[redacted]", "old": "[redacted]"}}"#
        );
        let leaks = value(
            "SELECT count(*)::text FROM gym_booking.activity_logs
              WHERE changed_fields::text ~ '(password_hash|new-hash|x2|a1@t.example|Alex|Morgan|555 0199|alex@home)'",
        );
        assert_eq!(leaks.as_deref(), Some("0"));
    }

    #[pg_test]
    fn updated_at_moves_and_created_at_does_not() {
        people();
        slot(S1, "2 days", 3);
        run(&format!(
            "UPDATE gym_booking.slots SET created_at = '2001-01-01', updated_at = '2001-01-01', notes = 'x' WHERE id = '{S1}'"
        ));
        let stamps = value(&format!(
            "SELECT (created_at = statement_timestamp())::text || '/' || (updated_at = statement_timestamp())
               FROM gym_booking.slots WHERE id = '{S1}'"
        ));
        assert_eq!(stamps.as_deref(), Some("true/true"));
    }

    // --- identity -------------------------------------------------------------------------

    #[pg_test]
    fn current_user_id_reads_the_jwt_claims() {
        let id = || value("SELECT coalesce(gym_booking.current_user_id()::text, 'NULL')").unwrap();
        assert_eq!(id(), "NULL");
        act_as(ATH1);
        assert_eq!(id(), ATH1);
        run("SELECT set_config('request.jwt.claims', '{\"sub\": \"\"}', true)");
        assert_eq!(id(), "NULL", "an empty sub is no one");
        run("SELECT set_config('request.jwt.claims', '{\"role\": \"anon\"}', true)");
        assert_eq!(id(), "NULL");
        run("SELECT set_config('request.jwt.claim.sub', 'A0000000-0000-4000-8000-000000000102', true)");
        assert_eq!(id(), ATH2, "the older per-claim setting, in any case");
        run("SELECT set_config('request.jwt.claim.sub', '', true)");
        run("SELECT set_config('request.jwt.claims', '{\"sub\": \"not-a-uuid\"}', true)");
        assert_eq!(sqlstate_of("SELECT gym_booking.current_user_id()"), "22P02");
        run("SELECT set_config('request.jwt.claims', '{not json', true)");
        assert_eq!(sqlstate_of("SELECT gym_booking.current_user_id()"), "22P02");
    }

    #[pg_test]
    fn the_sub_claim_is_read_as_jsonb_reads_it() {
        // Supabase's auth.uid(): (claims::jsonb ->> 'sub')::uuid. The rules read only `sub`
        // and skip the rest of the document; whatever the document, they must agree.
        let documents = [
            format!("{{\"sub\": \"{ATH1}\", \"sub\": \"{ATH2}\"}}"),
            format!("{{\"app_metadata\": {{\"sub\": \"{ATH1}\"}}, \"role\": \"x\"}}"),
            format!("{{\"s\\u0075b\": \"{ATH1}\"}}"),
            format!(
                "{{\"sub\": \"{ATH2}\", \"amr\": [1, {{\"sub\": 2}}], \"n\": 1.5e3, \"b\": true}}"
            ),
            format!("[\"{ATH1}\"]"),
            format!("\"{ATH1}\""),
            "{\"sub\": null}".to_string(),
            "null".to_string(),
            "17".to_string(),
        ];
        for document in documents {
            run(&format!(
                "SELECT set_config('request.jwt.claims', '{document}', true)"
            ));
            let (ours, jsonb) = (
                value("SELECT coalesce(gym_booking.current_user_id()::text, 'NULL')").unwrap(),
                value(
                    "SELECT coalesce(nullif(current_setting('request.jwt.claims')::jsonb ->> 'sub', '')::uuid::text, 'NULL')",
                )
                .unwrap(),
            );
            assert_eq!(ours, jsonb, "claims {document}");
        }
        run(&format!(
            "SELECT set_config('request.jwt.claims', '{{\"sub\": \"{ATH1}\"}} x', true)"
        ));
        assert_eq!(
            sqlstate_of("SELECT gym_booking.current_user_id()"),
            "22P02",
            "not JSON"
        );
    }

    #[pg_test]
    fn a_trainer_with_upcoming_slots_stays_a_trainer() {
        people();
        slot(S1, "2 days", 3);
        let demote =
            format!("UPDATE gym_booking.users SET role = 'athlete' WHERE id = '{TRAINER}'");
        assert_eq!(sqlstate_of(&demote), "23001");
        run(&format!(
            "UPDATE gym_booking.slots SET cancelled_at = now() WHERE id = '{S1}'"
        ));
        assert_eq!(sqlstate_of(&demote), "00000");
    }

    #[pg_test]
    fn records_are_not_truncated() {
        people();
        for table in [
            "users",
            "slots",
            "bookings",
            "booking_status_history",
            "activity_logs",
        ] {
            let truncate = format!("TRUNCATE gym_booking.{table} CASCADE");
            assert_eq!(sqlstate_of(&truncate), "23001", "{table}");
        }
    }

    #[pg_test]
    fn an_account_is_deleted_now_not_later() {
        people();
        run(&format!(
            "UPDATE gym_booking.users SET deleted_at = now() + interval '1 year' WHERE id = '{ATH1}'"
        ));
        let when = value(&format!(
            "SELECT (deleted_at = statement_timestamp())::text FROM gym_booking.users WHERE id = '{ATH1}'"
        ));
        assert_eq!(when.as_deref(), Some("true"));
    }

    #[pg_test]
    fn a_password_change_leaves_a_redacted_trace() {
        people();
        run(&format!(
            "UPDATE gym_booking.users SET password_hash = 'new-hash' WHERE id = '{ATH1}'"
        ));
        let log = log_of(ATH1);
        assert_eq!(log.len(), 2, "{log:?}");
        assert_eq!(log[1][1], r#"{"password": "[redacted]"}"#);
    }

    #[pg_test]
    fn logged_times_are_iso_utc_whatever_the_session_settings() {
        people();
        run("SET LOCAL DateStyle = 'SQL, DMY'");
        run("SET LOCAL TimeZone = 'America/Los_Angeles'");
        run(&format!(
            "INSERT INTO gym_booking.slots (id, trainer_id, start_at) VALUES ('{S1}', '{TRAINER}', '2030-05-07 18:00:00.25+00')"
        ));
        let start = value(&format!(
            "SELECT changed_fields ->> 'start_at' FROM gym_booking.activity_logs WHERE entity_id = '{S1}'"
        ));
        assert_eq!(start.as_deref(), Some("2030-05-07T18:00:00.250000Z"));
        assert_eq!(crate::row::iso_utc(0), "2000-01-01T00:00:00Z");
        assert_eq!(crate::row::iso_utc(-1), "1999-12-31T23:59:59.999999Z");
        assert_eq!(
            crate::row::iso_utc(59 * 86_400_000_000),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            crate::row::iso_utc(60 * 86_400_000_000),
            "2000-03-01T00:00:00Z"
        );
    }

    #[pg_test]
    fn deleting_ones_own_account_is_logged_with_ones_role() {
        people();
        act_as(ATH1);
        run(&format!(
            "DELETE FROM gym_booking.users WHERE id = '{ATH1}'"
        ));
        let log = log_of(ATH1);
        let last = log.last().expect("a log entry");
        assert_eq!(
            (last[0].as_str(), last[2].as_str(), last[3].as_str()),
            ("delete", ATH1, "athlete")
        );
    }

    #[pg_test]
    fn a_sub_is_read_exactly_as_postgresql_reads_a_uuid() {
        let accepted = |sub: &str| {
            let claims = format!("{{\"sub\": \"{sub}\"}}");
            run(&format!(
                "SELECT set_config('request.jwt.claims', '{claims}', true)"
            ));
            sqlstate_of("SELECT gym_booking.current_user_id()") == "00000"
        };
        for sub in [
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
        ] {
            assert!(accepted(sub), "{sub}");
        }
        for sub in [
            "a-0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0eebc999c0b4ef8bb6d6bb9bd380a1-1",
            "a0eebc999-c0b4ef8bb6d6bb9bd380a11",
            "+0+0+0+0+0+0+0+0+0+0+0+0+0+0+0+0",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
        ] {
            assert!(!accepted(sub), "{sub}");
            let cast = format!("SELECT '{sub}'::uuid");
            assert_eq!(sqlstate_of(&cast), "22P02", "PostgreSQL refuses {sub} too");
        }
    }

    #[pg_test]
    fn a_slot_with_completed_bookings_keeps_its_times() {
        people();
        ended_slot_with_booking(S1, B1);
        act_as(ADMIN);
        assert_eq!(set_status(S1, ATH1, "completed"), "00000");
        let moved = format!(
            "UPDATE gym_booking.slots SET start_at = now() + interval '1 day' WHERE id = '{S1}'"
        );
        assert_eq!(sqlstate_of(&moved), "23001");
    }

    #[pg_test]
    fn a_deleted_trainers_old_slot_cannot_be_moved_back_into_the_future() {
        people();
        ended_slot_with_booking(S1, B1);
        run(&format!(
            "UPDATE gym_booking.users SET deleted_at = now() WHERE id = '{TRAINER}'"
        ));
        act_as(ADMIN);
        assert_eq!(set_status(S1, ATH1, "cancelled"), "00000");
        let moved = format!(
            "UPDATE gym_booking.slots SET start_at = now() + interval '1 day' WHERE id = '{S1}'"
        );
        assert_eq!(sqlstate_of(&moved), "22023");
    }

    // Identity is read once per statement (src/memo.rs). A #[pg_test] is one statement, so
    // these show that what one statement remembers never outlives what it was read from.

    fn is_app_admin() -> bool {
        Spi::get_one::<bool>("SELECT gym_booking.is_app_admin()")
            .unwrap()
            .unwrap()
    }

    #[pg_test]
    fn a_change_to_the_callers_row_is_seen_at_once() {
        people();
        act_as(ADMIN);
        assert!(is_app_admin());
        run(&format!(
            "UPDATE gym_booking.users SET role = 'athlete' WHERE id = '{ADMIN}'"
        ));
        assert!(!is_app_admin());
        assert_eq!(
            value("SELECT gym_booking.current_app_role()::text").as_deref(),
            Some("athlete")
        );
        run(&format!(
            "UPDATE gym_booking.users SET deleted_at = now() WHERE id = '{ADMIN}'"
        ));
        assert_eq!(value("SELECT gym_booking.active_user_id()::text"), None);
        assert_eq!(value("SELECT gym_booking.current_app_role()::text"), None);
    }

    #[pg_test]
    fn a_rolled_back_change_is_forgotten() {
        people();
        act_as(ADMIN);
        assert!(is_app_admin());
        // Read (and remembered) inside a savepoint that is then rolled back.
        run(&format!(
            "DO $$ BEGIN
                 UPDATE gym_booking.users SET role = 'athlete' WHERE id = '{ADMIN}';
                 IF gym_booking.is_app_admin() THEN RAISE 'still an admin'; END IF;
                 RAISE EXCEPTION 'roll back';
             EXCEPTION WHEN raise_exception THEN
                 IF SQLERRM <> 'roll back' THEN RAISE; END IF;
             END $$"
        ));
        assert!(is_app_admin());
    }

    #[pg_test]
    fn new_claims_name_a_new_caller() {
        people();
        act_as(ADMIN);
        assert!(is_app_admin());
        act_as(ATH1);
        assert!(!is_app_admin());
        assert_eq!(
            value("SELECT gym_booking.active_user_id()::text").as_deref(),
            Some(ATH1)
        );
        act_as("not-a-uuid");
        assert_eq!(sqlstate_of("SELECT gym_booking.active_user_id()"), "22P02");
        act_as_nobody();
        assert_eq!(value("SELECT gym_booking.active_user_id()::text"), None);
        act_as(TRAINER);
        assert_eq!(
            value("SELECT gym_booking.current_app_role()::text").as_deref(),
            Some("trainer")
        );
    }

    #[pg_test]
    fn the_writers_role_is_read_again_when_it_changes() {
        people();
        slot(S1, "30 minutes", 5);
        assert_eq!(book(S1, ATH1), "00000");
        assert_eq!(book(S1, ATH2), "00000");
        act_as(ATH1);
        let cancel = |role: &str, user: &str| {
            sqlstate_as(
                role,
                &format!(
                    "UPDATE gym_booking.bookings SET status = 'cancelled'
                      WHERE slot_id = '{S1}' AND user_id = '{user}'"
                ),
            )
        };
        // The gym cancels any time; the athlete, with the same claims, not within the hour.
        assert_eq!(cancel("service_role", ATH2), "00000");
        assert_eq!(cancel("authenticated", ATH1), "27000");
    }

    #[pg_test]
    fn log_entry_ids_are_time_ordered_uuids() {
        people();
        slot(S1, "1 day", 3);
        assert_eq!(book(S1, ATH1), "00000");
        // Version 7 (RFC 9562): the first 48 bits are the Unix time in milliseconds, here the
        // entry's own time; the version digit is 7 and the variant bits are 10.
        let odd = value(
            "SELECT count(*)::text FROM gym_booking.activity_logs
              WHERE substr(id::text, 15, 1) <> '7'
                 OR substr(id::text, 20, 1) NOT IN ('8', '9', 'a', 'b')
                 OR abs(('x' || substr(replace(id::text, '-', ''), 1, 12))::bit(48)::bigint
                        - floor(extract(epoch FROM created_at) * 1000)::bigint) > 1000",
        );
        let entries = value("SELECT count(*)::text FROM gym_booking.activity_logs");
        assert_ne!(entries.as_deref(), Some("0"));
        assert_eq!(odd.as_deref(), Some("0"));
    }
}

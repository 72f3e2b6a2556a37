//! The business rules inside one transaction: every rule's allowed and refused paths
//! (bookings and slots here; people, the log and identity in `rule_tests_people.rs`).
//! `now()` is fixed within a test's transaction, so times are set relative to it; the rules'
//! clock, `statement_timestamp()`, is fixed too (a test is one statement, `SELECT test()`).

#[pgrx::pg_schema]
mod tests {
    use crate::test_support::fixtures::*;
    use crate::test_support::{act_as, act_as_nobody, rows, run, sqlstate_of, value};
    use pgrx::prelude::*;

    // --- bookings -------------------------------------------------------------------------

    #[pg_test]
    fn bookings_fill_a_slot_up_to_its_capacity() {
        people();
        slot(S1, "2 days", 2);
        assert_eq!(book(S1, ATH1), "00000");
        assert_eq!(book(S1, ATH2), "00000");
        assert_eq!(book(S1, ATH3), "23P01", "a third booking of a 2-place slot");
        assert_eq!(reserved(S1), 2);
    }

    #[pg_test]
    fn booking_again_after_cancelling_reactivates_the_same_row() {
        people();
        slot(S1, "2 days", 1);
        assert_eq!(book(S1, ATH1), "00000");
        let id = value(&format!(
            "SELECT id::text FROM gym_booking.bookings WHERE user_id = '{ATH1}'"
        ));
        assert_eq!(set_status(S1, ATH1, "cancelled"), "00000");
        assert_eq!(
            book(S1, ATH1),
            "23505",
            "a second row for the same athlete and slot"
        );
        assert_eq!(set_status(S1, ATH1, "reserved"), "00000");
        let again = value(&format!(
            "SELECT id::text FROM gym_booking.bookings WHERE user_id = '{ATH1}'"
        ));
        assert_eq!(id, again);
        assert_eq!(status(S1, ATH1), "reserved/false");
    }

    #[pg_test]
    fn reactivation_respects_capacity() {
        people();
        slot(S1, "2 days", 1);
        assert_eq!(book(S1, ATH1), "00000");
        assert_eq!(set_status(S1, ATH1, "cancelled"), "00000");
        assert_eq!(book(S1, ATH2), "00000");
        assert_eq!(set_status(S1, ATH1, "reserved"), "23P01");
        assert_eq!(status(S1, ATH1), "cancelled/false");
    }

    #[pg_test]
    fn cancelled_and_started_slots_cannot_be_booked() {
        people();
        slot(S1, "2 days", 3);
        run(&format!(
            "UPDATE gym_booking.slots SET cancelled_at = now() WHERE id = '{S1}'"
        ));
        assert_eq!(book(S1, ATH1), "23000");
        slot(S2, "-10 minutes", 3);
        assert_eq!(book(S2, ATH1), "23000");
        assert_eq!(
            book("b0000000-0000-4000-8000-00000000ffff", ATH1),
            "23503",
            "no such slot"
        );
    }

    #[pg_test]
    fn a_deleted_account_cannot_book() {
        people();
        slot(S1, "2 days", 3);
        run(&format!(
            "UPDATE gym_booking.users SET deleted_at = now() WHERE id = '{ATH1}'"
        ));
        assert_eq!(book(S1, ATH1), "23000");
    }

    #[pg_test]
    fn athletes_cancel_until_sixty_minutes_before_the_start() {
        people();
        slot(S1, "61 minutes", 3);
        slot(S2, "30 minutes", 3);
        for s in [S1, S2] {
            assert_eq!(book(s, ATH1), "00000");
            assert_eq!(book(s, ATH2), "00000");
        }
        act_as(ATH1);
        assert_eq!(
            set_status(S1, ATH1, "cancelled"),
            "00000",
            "61 minutes ahead"
        );
        assert_eq!(
            set_status(S2, ATH1, "cancelled"),
            "27000",
            "30 minutes ahead"
        );
        act_as_nobody();
        assert_eq!(
            set_status(S2, ATH2, "cancelled"),
            "27000",
            "no JWT: no exemption"
        );
        act_as(ADMIN);
        assert_eq!(
            set_status(S2, ATH2, "cancelled"),
            "00000",
            "an admin may, any time"
        );
        assert_eq!(status(S2, ATH1), "reserved/false");
        assert_eq!(status(S2, ATH2), "cancelled/false");
    }

    #[pg_test]
    fn completion_is_the_gyms_after_the_slot_ends_and_is_final() {
        people();
        ended_slot_with_booking(S1, B1);
        slot(S2, "2 days", 3);
        assert_eq!(book(S2, ATH1), "00000");

        act_as(ATH1);
        assert_eq!(
            set_status(S1, ATH1, "completed"),
            "42501",
            "no self-completion"
        );
        act_as(ADMIN);
        assert_eq!(
            set_status(S2, ATH1, "completed"),
            "22023",
            "the slot has not ended"
        );
        assert_eq!(set_status(S1, ATH1, "completed"), "00000");
        assert_eq!(status(S1, ATH1), "completed/false");
        assert_eq!(
            set_status(S1, ATH1, "reserved"),
            "22023",
            "completed is final"
        );
        assert_eq!(
            set_status(S1, ATH1, "cancelled"),
            "22023",
            "completed is final"
        );

        assert_eq!(set_status(S2, ATH1, "cancelled"), "00000");
        assert_eq!(
            set_status(S2, ATH1, "completed"),
            "22023",
            "cancelled -> completed"
        );
    }

    #[pg_test]
    fn a_booking_keeps_its_slot_and_athlete() {
        people();
        slot(S1, "2 days", 3);
        slot(S2, "3 days", 3);
        assert_eq!(book(S1, ATH1), "00000");
        let moved = sqlstate_of(&format!(
            "UPDATE gym_booking.bookings SET slot_id = '{S2}' WHERE user_id = '{ATH1}'"
        ));
        assert_eq!(moved, "22023");
        let handed = sqlstate_of(&format!(
            "UPDATE gym_booking.bookings SET user_id = '{ATH2}' WHERE user_id = '{ATH1}'"
        ));
        assert_eq!(handed, "22023");
    }

    #[pg_test]
    fn clients_cannot_set_the_status_bookkeeping() {
        people();
        slot(S1, "2 days", 3);
        run(&format!(
            "INSERT INTO gym_booking.bookings (slot_id, user_id, auto_processed, status_changed_at)
             VALUES ('{S1}', '{ATH1}', true, '2001-01-01')"
        ));
        let forged = format!(
            "SELECT auto_processed::text || '/' || (status_changed_at = statement_timestamp())
               FROM gym_booking.bookings WHERE user_id = '{ATH1}'"
        );
        assert_eq!(value(&forged).as_deref(), Some("false/true"));
        run(&format!(
            "UPDATE gym_booking.bookings SET auto_processed = true, status_changed_at = '2001-01-01'
              WHERE user_id = '{ATH1}'"
        ));
        assert_eq!(value(&forged).as_deref(), Some("false/true"));
        let not_reserved = format!(
            "INSERT INTO gym_booking.bookings (slot_id, user_id, status) VALUES ('{S1}', '{ATH2}', 'completed')"
        );
        assert_eq!(sqlstate_of(&not_reserved), "22023");
    }

    #[pg_test]
    fn every_status_change_has_one_history_row() {
        people();
        slot(S1, "2 days", 3);
        act_as(ATH1);
        assert_eq!(book(S1, ATH1), "00000");
        assert_eq!(set_status(S1, ATH1, "cancelled"), "00000");
        assert_eq!(set_status(S1, ATH1, "reserved"), "00000");
        assert_eq!(
            set_status(S1, ATH1, "reserved"),
            "00000",
            "no change, no row"
        );
        assert_eq!(set_status(S1, ATH1, "cancelled"), "00000");
        let history = rows(&format!(
            "SELECT previous_status::text, current_status::text, h.changed_by::text, h.auto_processed::text
               FROM gym_booking.booking_status_history h
               JOIN gym_booking.bookings b ON b.id = h.booking_id
              WHERE b.user_id = '{ATH1}' ORDER BY h.id"
        ));
        let row = |from: &str, to: &str| {
            vec![
                from.to_string(),
                to.to_string(),
                ATH1.to_string(),
                "false".to_string(),
            ]
        };
        assert_eq!(
            history,
            vec![
                row("reserved", "cancelled"),
                row("cancelled", "reserved"),
                row("reserved", "cancelled")
            ]
        );
    }

    #[pg_test]
    fn bookings_are_never_deleted() {
        people();
        slot(S1, "2 days", 3);
        assert_eq!(book(S1, ATH1), "00000");
        assert_eq!(sqlstate_of("DELETE FROM gym_booking.bookings"), "23001");
        assert_eq!(reserved(S1), 1);
    }

    // --- slots ----------------------------------------------------------------------------

    fn slot_shape(id: &str) -> String {
        value(&format!(
            "SELECT duration_minutes || ' min, ends ' || (end_at - start_at)::text
               FROM gym_booking.slots WHERE id = '{id}'"
        ))
        .unwrap_or_default()
    }

    #[pg_test]
    fn duration_and_end_at_always_agree() {
        people();
        let insert = |id: &str, extra_cols: &str, extra_vals: &str| {
            sqlstate_of(&format!(
                "INSERT INTO gym_booking.slots (id, trainer_id, start_at{extra_cols})
                 VALUES ('{id}', '{TRAINER}', '2030-01-07 09:00+00'{extra_vals})"
            ))
        };
        let ids: Vec<String> = (1..=6)
            .map(|i| format!("b0000000-0000-4000-8000-00000000010{i}"))
            .collect();
        assert_eq!(insert(&ids[0], "", ""), "00000");
        assert_eq!(
            slot_shape(&ids[0]),
            "60 min, ends 01:00:00",
            "neither given: 60 minutes"
        );
        assert_eq!(insert(&ids[1], ", duration_minutes", ", 90"), "00000");
        assert_eq!(slot_shape(&ids[1]), "90 min, ends 01:30:00");
        assert_eq!(
            insert(&ids[2], ", end_at", ", '2030-01-07 11:00+00'"),
            "00000"
        );
        assert_eq!(slot_shape(&ids[2]), "120 min, ends 02:00:00");
        assert_eq!(
            insert(
                &ids[3],
                ", end_at, duration_minutes",
                ", '2030-01-07 09:45+00', 45"
            ),
            "00000"
        );
        assert_eq!(
            insert(
                &ids[4],
                ", end_at, duration_minutes",
                ", '2030-01-07 09:45+00', 90"
            ),
            "22023"
        );
        assert_eq!(
            insert(&ids[5], ", end_at", ", '2030-01-07 09:45:30+00'"),
            "22023",
            "not whole minutes"
        );
        assert_eq!(
            insert(&ids[5], ", duration_minutes", ", 300"),
            "23514",
            "longer than 240"
        );

        // Moving the start keeps the duration; changing either of the others derives the other.
        run(&format!(
            "UPDATE gym_booking.slots SET start_at = start_at + interval '1 day' WHERE id = '{}'",
            ids[1]
        ));
        assert_eq!(slot_shape(&ids[1]), "90 min, ends 01:30:00");
        run(&format!(
            "UPDATE gym_booking.slots SET duration_minutes = 30 WHERE id = '{}'",
            ids[1]
        ));
        assert_eq!(slot_shape(&ids[1]), "30 min, ends 00:30:00");
        run(&format!("UPDATE gym_booking.slots SET end_at = start_at + interval '40 minutes' WHERE id = '{}'", ids[1]));
        assert_eq!(slot_shape(&ids[1]), "40 min, ends 00:40:00");
    }

    #[pg_test]
    fn a_slots_trainer_is_an_active_trainer() {
        people();
        let with_trainer = |trainer: &str| {
            sqlstate_of(&format!(
                "INSERT INTO gym_booking.slots (trainer_id, start_at) VALUES ('{trainer}', now() + interval '1 day')"
            ))
        };
        assert_eq!(with_trainer(TRAINER), "00000");
        assert_eq!(with_trainer(ATH1), "22023", "an athlete");
        assert_eq!(with_trainer(ADMIN), "22023", "an admin");
        run(&format!(
            "UPDATE gym_booking.users SET deleted_at = now() WHERE id = '{TRAINER2}'"
        ));
        assert_eq!(with_trainer(TRAINER2), "22023", "a deleted trainer");
        slot(S1, "2 days", 2);
        let hand_over = |to: &str| {
            sqlstate_of(&format!(
                "UPDATE gym_booking.slots SET trainer_id = '{to}' WHERE id = '{S1}'"
            ))
        };
        assert_eq!(hand_over(ATH2), "22023");
    }

    #[pg_test]
    fn reserved_bookings_fix_a_slots_times_and_floor_its_capacity() {
        people();
        slot(S1, "2 days", 3);
        assert_eq!(book(S1, ATH1), "00000");
        assert_eq!(book(S1, ATH2), "00000");
        let update = |set: &str| {
            sqlstate_of(&format!(
                "UPDATE gym_booking.slots SET {set} WHERE id = '{S1}'"
            ))
        };
        assert_eq!(update("capacity = 2"), "00000");
        assert_eq!(update("capacity = 1"), "23001");
        assert_eq!(update("start_at = start_at + interval '1 hour'"), "23001");
        assert_eq!(update("duration_minutes = 90"), "23001");
        assert_eq!(update("notes = 'bring water'"), "00000");
        assert_eq!(set_status(S1, ATH1, "cancelled"), "00000");
        assert_eq!(set_status(S1, ATH2, "cancelled"), "00000");
        assert_eq!(
            update("start_at = start_at + interval '1 hour'"),
            "00000",
            "no reserved booking left"
        );
        assert_eq!(update("capacity = 1"), "00000");
    }

    #[pg_test]
    fn cancelling_a_slot_cancels_its_bookings_in_any_window() {
        people();
        slot(S1, "30 minutes", 3);
        assert_eq!(book(S1, ATH1), "00000");
        assert_eq!(book(S1, ATH2), "00000");
        assert_eq!(set_status(S1, ATH2, "cancelled"), "27000");
        act_as(TRAINER);
        run(&format!(
            "UPDATE gym_booking.slots SET cancelled_at = now() WHERE id = '{S1}'"
        ));
        assert_eq!(status(S1, ATH1), "cancelled/true");
        assert_eq!(status(S1, ATH2), "cancelled/true");
        let history = value(&format!(
            "SELECT string_agg(previous_status || '>' || current_status || ':' || h.auto_processed || ':' || (changed_by = '{TRAINER}'), ',')
               FROM gym_booking.booking_status_history h JOIN gym_booking.bookings b ON b.id = h.booking_id
              WHERE b.slot_id = '{S1}'"
        ));
        assert_eq!(
            history.as_deref(),
            Some("reserved>cancelled:true:true,reserved>cancelled:true:true")
        );
        let logged = value(&format!(
            "SELECT string_agg(DISTINCT l.action::text, ',') FROM gym_booking.activity_logs l
               JOIN gym_booking.bookings b ON b.id = l.entity_id
              WHERE b.slot_id = '{S1}' AND l.action <> 'create'"
        ));
        assert_eq!(logged.as_deref(), Some("status_auto_update"));
    }

    #[pg_test]
    fn a_cancelled_slot_stays_cancelled() {
        people();
        slot(S1, "2 days", 3);
        run(&format!(
            "UPDATE gym_booking.slots SET cancelled_at = now() WHERE id = '{S1}'"
        ));
        let reopen = format!("UPDATE gym_booking.slots SET cancelled_at = NULL WHERE id = '{S1}'");
        assert_eq!(sqlstate_of(&reopen), "22023");
    }

    #[pg_test]
    fn a_slot_with_any_booking_is_cancelled_not_deleted() {
        people();
        slot(S1, "2 days", 3);
        slot(S2, "2 days", 3);
        assert_eq!(book(S1, ATH1), "00000");
        assert_eq!(set_status(S1, ATH1, "cancelled"), "00000");
        let delete =
            |id: &str| sqlstate_of(&format!("DELETE FROM gym_booking.slots WHERE id = '{id}'"));
        assert_eq!(
            delete(S1),
            "23001",
            "even a cancelled booking keeps the slot"
        );
        assert_eq!(delete(S2), "00000", "never booked");
    }

    // --- whose rights the rules use ----------------------------------------------------------

    /// The rules run as the extension's owner, which they keep between requests: a change of
    /// owner comes with a change to the extension's members (REASSIGN OWNED moves them
    /// together), and the rules see that and read the owner again.
    #[pg_test]
    fn the_rules_run_as_the_owner_the_catalog_names_now() {
        people();
        slot(S1, "2 days", 3);
        assert_eq!(book(S1, ATH1), "00000", "the rules have read their owner");
        let owner = value(
            "SELECT extowner::regrole::text FROM pg_catalog.pg_extension WHERE extname = 'gym_booking'",
        )
        .unwrap();
        run("CREATE ROLE gym_booking_test_powerless NOLOGIN");
        // The test's owner is the bootstrap superuser, whose objects REASSIGN OWNED refuses to
        // move: its two halves by hand, the extension's row and then a member's catalog row.
        run(
            "UPDATE pg_catalog.pg_extension SET extowner = 'gym_booking_test_powerless'::regrole
              WHERE extname = 'gym_booking'",
        );
        run("ANALYZE gym_booking.slots");
        assert_eq!(
            book(S1, ATH2),
            "42501",
            "the new owner, without rights on the tables, cannot book"
        );
        run(&format!(
            "UPDATE pg_catalog.pg_extension SET extowner = '{owner}'::regrole
              WHERE extname = 'gym_booking'"
        ));
        run("ANALYZE gym_booking.slots");
        assert_eq!(book(S1, ATH2), "00000", "the owner back");
    }
}

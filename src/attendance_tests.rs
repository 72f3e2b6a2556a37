//! Attendance (0.2.2), inside one transaction: check-in by the slot's trainer inside the
//! attendance period, strikes that suspend booking and waitlist joins, excuses, the auto no-show
//! sweep behind its watermark, rosters and reports by the studio's days. Requests run as the
//! client role PostgREST uses after `act_as`.

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

    /// A 60-minute slot of TRAINER that started `started_ago` (an interval) before now, with a
    /// reserved booking of each athlete in `athletes` (booking ids: the slot's id with the
    /// athlete's last digit), loaded as a restore loads history (the rules stand aside).
    fn past_slot(id: &str, started_ago: &str, athletes: &[&str]) {
        run("SET LOCAL session_replication_role = replica");
        run(&format!(
            "INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes, capacity)
             VALUES ('{id}', '{TRAINER}', now() - interval '{started_ago}',
                     now() - interval '{started_ago}' + interval '60 minutes', 60, 5)"
        ));
        for athlete in athletes {
            run(&format!(
                "INSERT INTO gym_booking.bookings (id, slot_id, user_id, trainer_id)
                 VALUES ('{}', '{id}', '{athlete}', '{TRAINER}')",
                booking_of(id, athlete)
            ));
        }
        run("SET LOCAL session_replication_role = origin");
    }

    /// The booking `past_slot` made for `athlete` in slot `id`: e…-<slot's last 6><athlete's last 6>.
    fn booking_of(slot_id: &str, athlete: &str) -> String {
        format!("e{}{}{}", &slot_id[1..24], &slot_id[30..], &athlete[30..])
    }

    fn mark(user: &str, booking: &str, mark: &str) -> String {
        as_user(
            user,
            &format!("SELECT gym_booking.mark_attendance('{booking}', '{mark}')"),
        )
    }

    fn slot_id(n: u32) -> String {
        format!("d0000000-0000-4000-8000-{n:012}")
    }

    #[pg_test]
    fn the_trainer_marks_inside_the_period_and_may_change_the_mark() {
        people();
        let s = slot_id(1);
        past_slot(&s, "3 hours", &[ATH1, ATH2]);
        let (b1, b2) = (booking_of(&s, ATH1), booking_of(&s, ATH2));
        assert_eq!(mark(TRAINER, &b1, "attended"), "00000");
        assert_eq!(mark(TRAINER, &b2, "attended"), "00000");
        assert_eq!(mark(TRAINER, &b2, "no_show"), "00000");
        // The same mark again changes nothing (no second log row).
        assert_eq!(mark(TRAINER, &b2, "no_show"), "00000");
        run("RESET ROLE");
        assert_eq!(
            rows(&format!(
                "SELECT booking_id::text, mark::text, marked_by::text FROM gym_booking.attendance
                  WHERE slot_id = '{s}' ORDER BY booking_id"
            )),
            vec![
                vec![b1.clone(), "attended".into(), TRAINER.into()],
                vec![b2.clone(), "no_show".into(), TRAINER.into()],
            ]
        );
        assert_eq!(
            rows(&format!(
                "SELECT changed_fields::text FROM gym_booking.activity_logs
                  WHERE entity_id = '{b2}' ORDER BY created_at"
            )),
            vec![
                vec![r#"{"attendance": {"new": "attended", "old": null}}"#],
                vec![r#"{"attendance": {"new": "no_show", "old": "attended"}}"#],
            ]
        );
        // The athlete hears of each mark; the seed's status is untouched.
        assert_eq!(
            rows(&format!(
                "SELECT kind::text, payload->>'mark', coalesce(payload->>'previous', '-')
                   FROM gym_booking.events WHERE booking_id = '{b2}' ORDER BY id"
            )),
            vec![
                vec!["attendance_marked", "attended", "-"],
                vec!["no_show_recorded", "no_show", "attended"],
            ]
        );
        assert_eq!(
            value(&format!(
                "SELECT count(*)::text FROM gym_booking.events
                  WHERE kind = 'no_show_recorded' AND recipient_id = '{ATH2}' AND booking_id = '{b2}'"
            ))
            .as_deref(),
            Some("1")
        );
        assert_eq!(status(&s, ATH2), "reserved/false");
    }

    #[pg_test]
    fn marks_are_made_from_the_start_until_the_grace_after_the_end() {
        people();
        run("UPDATE gym_booking.studio_settings SET attendance_grace = '2 hours'");
        let (early, inside, late) = (slot_id(1), slot_id(2), slot_id(3));
        // Starts in ten minutes; ended 1 h 50 min ago; ended 2 h 10 min ago.
        past_slot(&early, "-10 minutes", &[ATH1]);
        past_slot(&inside, "170 minutes", &[ATH1]);
        past_slot(&late, "190 minutes", &[ATH1]);
        assert_eq!(
            mark(TRAINER, &booking_of(&early, ATH1), "attended"),
            "22023"
        );
        assert_eq!(
            mark(TRAINER, &booking_of(&inside, ATH1), "attended"),
            "00000"
        );
        assert_eq!(mark(TRAINER, &booking_of(&late, ATH1), "attended"), "27000");
        // The period holds for changes too.
        run("RESET ROLE");
        run("UPDATE gym_booking.studio_settings SET attendance_grace = '1 hour'");
        assert_eq!(
            mark(TRAINER, &booking_of(&inside, ATH1), "no_show"),
            "27000"
        );
    }

    #[pg_test]
    fn only_the_slots_trainer_and_the_gym_mark() {
        people();
        let s = slot_id(1);
        past_slot(&s, "3 hours", &[ATH1]);
        let b = booking_of(&s, ATH1);
        assert_eq!(mark(ATH1, &b, "attended"), "42501");
        assert_eq!(mark(TRAINER2, &b, "attended"), "42704"); // not theirs to see
        assert_eq!(mark(ADMIN, &b, "attended"), "00000");
        assert_eq!(
            sqlstate_as(
                "service_role",
                &format!("SELECT gym_booking.mark_attendance('{b}', 'no_show')")
            ),
            "00000"
        );
        // Nobody writes the table but the API.
        assert_eq!(
            as_user(
                TRAINER,
                &format!(
                    "UPDATE gym_booking.attendance SET mark = 'attended' WHERE booking_id = '{b}'"
                )
            ),
            "42501"
        );
        // A cancelled booking holds no place: no mark.
        run("RESET ROLE");
        run("SET LOCAL session_replication_role = replica");
        run(&format!(
            "UPDATE gym_booking.bookings SET status = 'cancelled' WHERE id = '{b}'"
        ));
        run("SET LOCAL session_replication_role = origin");
        assert_eq!(mark(TRAINER, &b, "attended"), "22023");
        assert_eq!(
            mark(TRAINER, "d0000000-0000-4000-8000-00000000dead", "attended"),
            "42704"
        );
    }

    #[pg_test]
    fn the_third_strike_in_the_window_suspends_booking_until_the_excuse() {
        people();
        run("UPDATE gym_booking.studio_settings SET no_show_strike_limit = 3, strike_window = '30 days', suspension = '7 days', attendance_grace = '30 days'");
        for (n, ago) in [(1, "10 days"), (2, "5 days"), (3, "2 days")] {
            past_slot(&slot_id(n), ago, &[ATH1]);
        }
        slot(S1, "2 days", 5);
        for n in [1, 2] {
            assert_eq!(
                mark(TRAINER, &booking_of(&slot_id(n), ATH1), "no_show"),
                "00000"
            );
        }
        // Two strikes: still books.
        assert_eq!(
            as_user(ATH1, &format!("SELECT gym_booking.book_slot('{S1}')")),
            "00000"
        );
        assert_eq!(as_user(ATH1, &format!("SELECT gym_booking.cancel_booking(id) FROM gym_booking.bookings WHERE slot_id = '{S1}'")), "00000");
        assert_eq!(
            mark(TRAINER, &booking_of(&slot_id(3), ATH1), "no_show"),
            "00000"
        );
        // The third: suspended until 7 days after it, by the API, a table write, a re-activation.
        assert_eq!(
            as_user(ATH1, &format!("SELECT gym_booking.book_slot('{S1}')")),
            "28000"
        );
        assert_eq!(
            as_user(
                ATH1,
                &format!(
                    "UPDATE gym_booking.bookings SET status = 'reserved' WHERE slot_id = '{S1}'"
                )
            ),
            "28000"
        );
        slot(S2, "3 days", 5);
        assert_eq!(book_as(ATH1, S2), "28000");
        run("RESET ROLE");
        assert_eq!(
            value(&format!(
                "SELECT (suspended_until = (SELECT strike_at FROM gym_booking.attendance
                                             WHERE booking_id = '{}') + interval '7 days')::text || '/' || strikes
                   FROM gym_booking.athlete_suspension('{ATH1}')",
                booking_of(&slot_id(3), ATH1)
            ))
            .as_deref(),
            Some("true/3")
        );
        // The gym booking for the athlete is exempt.
        assert_eq!(
            as_user(
                ADMIN,
                &format!(
                    "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ('{S2}', '{ATH1}')"
                )
            ),
            "00000"
        );
        // An admin excuses one no-show: two strikes, booking again.
        assert_eq!(
            as_user(
                TRAINER,
                &format!(
                    "SELECT gym_booking.excuse_no_show('{}')",
                    booking_of(&slot_id(2), ATH1)
                )
            ),
            "42501"
        );
        assert_eq!(
            as_user(
                ADMIN,
                &format!(
                    "SELECT gym_booking.excuse_no_show('{}')",
                    booking_of(&slot_id(2), ATH1)
                )
            ),
            "00000"
        );
        run("RESET ROLE");
        assert_eq!(
            value(&format!(
                "SELECT count(*)::text FROM gym_booking.events WHERE kind = 'no_show_excused' AND booking_id = '{}'",
                booking_of(&slot_id(2), ATH1)
            ))
            .as_deref(),
            Some("1")
        );
        assert_eq!(
            as_user(ATH1, &format!("SELECT gym_booking.book_slot('{S1}')")),
            "00000"
        );
    }

    /// ATH's booking of `slot` as a table INSERT (PostgREST's POST /bookings).
    fn book_as(athlete: &str, slot: &str) -> String {
        as_user(
            athlete,
            &format!("INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ('{slot}', '{athlete}')"),
        )
    }

    #[pg_test]
    fn strikes_outside_the_window_suspend_nobody() {
        people();
        run("UPDATE gym_booking.studio_settings SET no_show_strike_limit = 2, strike_window = '3 days', suspension = '20 days', attendance_grace = '30 days'");
        past_slot(&slot_id(1), "10 days", &[ATH1]);
        past_slot(&slot_id(2), "6 days", &[ATH1]);
        for n in [1, 2] {
            assert_eq!(
                mark(TRAINER, &booking_of(&slot_id(n), ATH1), "no_show"),
                "00000"
            );
        }
        slot(S1, "2 days", 5);
        // Four days apart: never two inside three days.
        assert_eq!(
            as_user(ATH1, &format!("SELECT gym_booking.book_slot('{S1}')")),
            "00000"
        );
        // A wider window: the second strike suspends for 20 days after it (14 days from now).
        run("RESET ROLE");
        run("UPDATE gym_booking.studio_settings SET strike_window = '5 days'");
        slot(S2, "3 days", 5);
        assert_eq!(book_as(ATH1, S2), "28000");
    }

    #[pg_test]
    fn a_booking_the_gym_cancels_after_its_no_show_takes_its_strike_with_it() {
        people();
        run("UPDATE gym_booking.studio_settings SET no_show_strike_limit = 1, attendance_grace = '30 days'");
        past_slot(&slot_id(1), "3 hours", &[ATH1]);
        let b = booking_of(&slot_id(1), ATH1);
        assert_eq!(mark(TRAINER, &b, "no_show"), "00000");
        slot(S1, "2 days", 5);
        assert_eq!(book_as(ATH1, S1), "28000");
        assert_eq!(
            as_user(
                ADMIN,
                &format!("UPDATE gym_booking.bookings SET status = 'cancelled' WHERE id = '{b}'")
            ),
            "00000"
        );
        run("RESET ROLE");
        assert_eq!(
            value(&format!(
                "SELECT strikes::text FROM gym_booking.athlete_suspension('{ATH1}')"
            ))
            .as_deref(),
            Some("0")
        );
        assert_eq!(book_as(ATH1, S1), "00000");
    }

    #[pg_test]
    fn a_suspended_athlete_cannot_join_and_is_skipped_by_promotion() {
        people();
        run("UPDATE gym_booking.studio_settings SET no_show_strike_limit = 1, attendance_grace = '30 days'");
        slot(S1, "2 days", 1);
        assert_eq!(book_as(ATH3, S1), "00000");
        assert_eq!(
            as_user(ATH1, &format!("SELECT gym_booking.join_waitlist('{S1}')")),
            "00000"
        );
        assert_eq!(
            as_user(ATH2, &format!("SELECT gym_booking.join_waitlist('{S1}')")),
            "00000"
        );
        past_slot(&slot_id(1), "3 hours", &[ATH1]);
        assert_eq!(
            mark(TRAINER, &booking_of(&slot_id(1), ATH1), "no_show"),
            "00000"
        );
        // ATH1 waits first but is suspended: the freed place goes to ATH2; ATH1 keeps waiting.
        assert_eq!(
            as_user(ATH3, &format!("SELECT gym_booking.cancel_booking(id) FROM gym_booking.bookings WHERE slot_id = '{S1}' AND user_id = '{ATH3}'")),
            "00000"
        );
        assert_eq!(status(S1, ATH2), "reserved/true");
        run("RESET ROLE");
        assert_eq!(
            value(&format!("SELECT state::text FROM gym_booking.waitlist_entries WHERE slot_id = '{S1}' AND user_id = '{ATH1}'")).as_deref(),
            Some("waiting")
        );
        slot(S2, "3 days", 1);
        assert_eq!(book_as(ATH3, S2), "00000");
        assert_eq!(
            as_user(ATH1, &format!("SELECT gym_booking.join_waitlist('{S2}')")),
            "28000"
        );
    }

    #[pg_test]
    fn the_sweep_marks_what_is_left_unmarked_after_the_grace_and_no_history() {
        people();
        // Ended 2 hours ago; the trainer marked one of its two bookings.
        past_slot(&slot_id(1), "3 hours", &[ATH1, ATH2]);
        assert_eq!(
            mark(TRAINER, &booking_of(&slot_id(1), ATH2), "attended"),
            "00000"
        );
        run("RESET ROLE");
        run("UPDATE gym_booking.studio_settings SET attendance_grace = '1 hour', auto_no_show = true");
        // A watermark after the slot's end: the slot is history to the sweep, left as it is.
        run("UPDATE gym_booking.attendance_sweep SET swept_until = now() - interval '90 minutes'");
        assert_eq!(
            value("SELECT gym_booking.record_no_shows()::text").as_deref(),
            Some("0")
        );
        // A day back: the slot's unmarked booking becomes the system's no-show; the
        // trainer's mark stays.
        run("UPDATE gym_booking.attendance_sweep SET swept_until = now() - interval '1 day'");
        assert_eq!(
            value("SELECT gym_booking.record_no_shows()::text").as_deref(),
            Some("1")
        );
        assert_eq!(
            rows(&format!(
                "SELECT user_id::text, mark::text, coalesce(marked_by::text, 'system') FROM gym_booking.attendance
                  WHERE slot_id = '{}' ORDER BY user_id",
                slot_id(1)
            )),
            vec![
                vec![ATH1.to_string(), "no_show".into(), "system".into()],
                vec![ATH2.to_string(), "attended".into(), TRAINER.into()],
            ]
        );
        assert_eq!(
            value(&format!(
                "SELECT action::text FROM gym_booking.activity_logs WHERE entity_id = '{}'",
                booking_of(&slot_id(1), ATH1)
            ))
            .as_deref(),
            Some("status_auto_update")
        );
        // Again: nothing; and the watermark has moved on to the grace's end.
        assert_eq!(
            value("SELECT gym_booking.record_no_shows()::text").as_deref(),
            Some("0")
        );
        assert_eq!(
            value("SELECT (swept_until > now() - interval '61 minutes')::text FROM gym_booking.attendance_sweep").as_deref(),
            Some("true")
        );
        // With auto_no_show off the watermark moves on all the same, marking nothing.
        run("UPDATE gym_booking.studio_settings SET auto_no_show = false");
        run("UPDATE gym_booking.attendance_sweep SET swept_until = now() - interval '1 day'");
        past_slot(&slot_id(2), "4 hours", &[ATH3]);
        assert_eq!(
            value("SELECT gym_booking.record_no_shows()::text").as_deref(),
            Some("0")
        );
        assert_eq!(
            value("SELECT (swept_until > now() - interval '61 minutes')::text FROM gym_booking.attendance_sweep").as_deref(),
            Some("true")
        );
        assert_eq!(
            as_user(TRAINER, "SELECT gym_booking.record_no_shows()"),
            "42501"
        );
    }

    #[pg_test]
    fn roster_names_the_booked_and_the_waiting_for_the_trainer_only() {
        people();
        slot(S1, "2 days", 1);
        assert_eq!(book_as(ATH1, S1), "00000");
        assert_eq!(
            as_user(ATH2, &format!("SELECT gym_booking.join_waitlist('{S1}')")),
            "00000"
        );
        act_as(TRAINER);
        run("SET LOCAL ROLE authenticated");
        let roster = rows(&format!(
            "SELECT first_name, coalesce(booking_status::text, '-'), coalesce(waitlist_position::text, '-')
               FROM gym_booking.slot_roster('{S1}')"
        ));
        run("RESET ROLE");
        assert_eq!(
            roster,
            vec![vec!["Alex", "reserved", "-"], vec!["Bea", "-", "1"]]
        );
        assert_eq!(
            as_user(
                TRAINER2,
                &format!("SELECT * FROM gym_booking.slot_roster('{S1}')")
            ),
            "42501"
        );
        assert_eq!(
            as_user(
                ATH1,
                &format!("SELECT * FROM gym_booking.slot_roster('{S1}')")
            ),
            "42501"
        );
    }

    #[pg_test]
    fn reports_count_by_the_studios_days() {
        people();
        run("UPDATE gym_booking.studio_settings SET time_zone = 'Pacific/Auckland', attendance_grace = '30 days'");
        // 3 hours ago is, in Auckland, some local day D; the report of D alone counts it.
        past_slot(&slot_id(1), "3 hours", &[ATH1, ATH2]);
        assert_eq!(
            mark(TRAINER, &booking_of(&slot_id(1), ATH1), "attended"),
            "00000"
        );
        assert_eq!(
            mark(TRAINER, &booking_of(&slot_id(1), ATH2), "no_show"),
            "00000"
        );
        let day = value(
            "SELECT ((now() - interval '3 hours') AT TIME ZONE 'Pacific/Auckland')::date::text",
        )
        .expect("the local day");
        run("RESET ROLE");
        run(&format!(
            "SELECT set_config('request.jwt.claims', '{{\"sub\": \"{TRAINER}\", \"role\": \"authenticated\"}}', true)"
        ));
        run("SET LOCAL ROLE authenticated");
        let report = rows(&format!(
            "SELECT day::text, capacity::text, booked::text, attended::text, no_shows::text, utilization::text
               FROM gym_booking.slot_report('{day}', '{day}')"
        ));
        let trainer = rows(&format!(
            "SELECT slots::text, booked::text, utilization::text FROM gym_booking.trainer_report('{day}', '{day}')"
        ));
        let before = rows(&format!(
            "SELECT count(*)::text FROM gym_booking.slot_report('{day}'::date - 1, '{day}'::date - 1)"
        ));
        run("RESET ROLE");
        assert_eq!(
            report,
            vec![vec![day.as_str(), "5", "2", "1", "1", "0.4000"]]
        );
        assert_eq!(trainer, vec![vec!["1", "2", "0.4000"]]);
        assert_eq!(before, vec![vec!["0"]]);
        let athlete = {
            act_as(ATH2);
            run("SET LOCAL ROLE authenticated");
            let r = rows(&format!(
                "SELECT bookings::text, no_shows::text, no_show_rate::text, strikes::text
                   FROM gym_booking.athlete_report('{day}', '{day}')"
            ));
            run("RESET ROLE");
            r
        };
        assert_eq!(athlete, vec![vec!["1", "1", "1.0000", "1"]]);
        assert_eq!(
            as_user(
                ATH2,
                &format!("SELECT * FROM gym_booking.slot_report('{day}', '{day}')")
            ),
            "42501"
        );
        assert_eq!(
            as_user(
                ATH2,
                &format!("SELECT * FROM gym_booking.athlete_report('{day}', '{day}', '{ATH1}')")
            ),
            "42501"
        );
        assert_eq!(
            as_user(
                TRAINER,
                &format!("SELECT * FROM gym_booking.slot_report('{day}', '{day}', '{TRAINER2}')")
            ),
            "42501"
        );
        assert_eq!(
            as_user(
                ADMIN,
                "SELECT * FROM gym_booking.slot_report('2026-01-02', '2026-01-01')"
            ),
            "22023"
        );
        assert_eq!(
            as_user(
                ADMIN,
                "SELECT * FROM gym_booking.slot_report('2026-01-01', '2027-01-02')"
            ),
            "22023"
        );
        assert_eq!(
            as_user(
                ADMIN,
                "SELECT * FROM gym_booking.slot_report(NULL, '2026-01-01')"
            ),
            "22004"
        );
    }
}

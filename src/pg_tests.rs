//! In-transaction tests: each `#[pg_test]` runs inside one transaction that is rolled back.
//! They live in their own schema, `tests`, so they never mix with the extension's objects.

#[pgrx::pg_schema]
mod tests {

    use crate::test_support::{rows, sqlstate_of};
    use pgrx::prelude::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    const TRAINER: &str = "11111111-1111-1111-1111-111111111111";
    const ATHLETE: &str = "22222222-2222-2222-2222-222222222222";
    const SLOT: &str = "33333333-3333-3333-3333-333333333333";

    fn seed_people_and_slot() {
        Spi::run(&format!(
            "INSERT INTO gym_booking.users (id, email, password_hash, first_name, role, contact_email)
             VALUES ('{TRAINER}', 'coach@example.com', 'x', 'Coach', 'trainer', 'coach@example.com'),
                    ('{ATHLETE}', 'ath@example.com', 'x', 'Ath', 'athlete', NULL);
             INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes, capacity)
             VALUES ('{SLOT}', '{TRAINER}', now() + interval '1 day',
                     now() + interval '1 day 90 minutes', 90, 2);"
        ))
        .expect("seed rows");
    }

    #[pg_test]
    fn every_table_has_its_columns_and_types() {
        let expected: &[(&str, &[&str])] = &[
            (
                "activity_logs",
                &[
                    "id uuid",
                    "entity_type log_entity_type",
                    "entity_id uuid",
                    "action log_action_type",
                    "changed_by uuid",
                    "changed_by_role user_role",
                    "changed_fields jsonb",
                    "metadata jsonb",
                    "created_at timestamptz",
                    "trainer_id uuid",
                ],
            ),
            (
                "attendance",
                &[
                    "booking_id uuid",
                    "user_id uuid",
                    "slot_id uuid",
                    "trainer_id uuid",
                    "mark attendance_mark",
                    "strike_at timestamptz",
                    "marked_at timestamptz",
                    "marked_by uuid",
                    "excused_at timestamptz",
                    "excused_by uuid",
                ],
            ),
            ("attendance_sweep", &["id bool", "swept_until timestamptz"]),
            (
                "booking_status_history",
                &[
                    "id int8",
                    "booking_id uuid",
                    "previous_status booking_status",
                    "current_status booking_status",
                    "changed_at timestamptz",
                    "changed_by uuid",
                    "auto_processed bool",
                    "trainer_id uuid",
                ],
            ),
            (
                "bookings",
                &[
                    "id uuid",
                    "slot_id uuid",
                    "user_id uuid",
                    "status booking_status",
                    "status_changed_at timestamptz",
                    "auto_processed bool",
                    "created_at timestamptz",
                    "updated_at timestamptz",
                    "trainer_id uuid",
                ],
            ),
            (
                "calendar_tokens",
                &["user_id uuid", "token_hash bytea", "created_at timestamptz"],
            ),
            (
                "events",
                &[
                    "id int8",
                    "recipient_id uuid",
                    "kind event_kind",
                    "slot_id uuid",
                    "booking_id uuid",
                    "payload jsonb",
                    "created_at timestamptz",
                    "claimed_until timestamptz",
                    "attempts int4",
                    "delivered_at timestamptz",
                    "notified_at timestamptz",
                ],
            ),
            (
                "series",
                &[
                    "id uuid",
                    "trainer_id uuid",
                    "weekdays _int2",
                    "local_start time",
                    "duration_minutes int2",
                    "capacity int2",
                    "notes text",
                    "time_zone text",
                    "first_date date",
                    "last_date date",
                    "cancelled_from date",
                    "made_until date",
                    "created_at timestamptz",
                    "updated_at timestamptz",
                ],
            ),
            (
                "slots",
                &[
                    "id uuid",
                    "trainer_id uuid",
                    "start_at timestamptz",
                    "end_at timestamptz",
                    "duration_minutes int2",
                    "capacity int2",
                    "notes text",
                    "cancelled_at timestamptz",
                    "created_at timestamptz",
                    "updated_at timestamptz",
                    "series_id uuid",
                    "series_date date",
                    "series_fingerprint text",
                ],
            ),
            (
                "studio_settings",
                &[
                    "id bool",
                    "time_zone text",
                    "cancellation_window interval",
                    "booking_opens_before interval",
                    "booking_closes_before interval",
                    "max_upcoming_bookings int4",
                    "waitlist_enabled bool",
                    "waitlist_max int4",
                    "waitlist_cutoff interval",
                    "attendance_grace interval",
                    "auto_no_show bool",
                    "no_show_strike_limit int4",
                    "strike_window interval",
                    "suspension interval",
                    "timetable_horizon interval",
                    "event_retention interval",
                    "updated_at timestamptz",
                    "updated_by uuid",
                ],
            ),
            (
                "studio_settings_history",
                &[
                    "id int8",
                    "changed_at timestamptz",
                    "changed_by uuid",
                    "changed_by_role user_role",
                    "changed_fields jsonb",
                ],
            ),
            (
                "trainer_directory",
                &[
                    "trainer_id uuid",
                    "display_name text",
                    "contact_email citext",
                    "contact_phone text",
                    "updated_at timestamptz",
                ],
            ),
            (
                "users",
                &[
                    "id uuid",
                    "email citext",
                    "password_hash text",
                    "first_name text",
                    "last_name text",
                    "role user_role",
                    "contact_email citext",
                    "contact_phone text",
                    "preferences jsonb",
                    "is_anonymous bool",
                    "deleted_at timestamptz",
                    "created_at timestamptz",
                    "updated_at timestamptz",
                ],
            ),
            (
                "waitlist_entries",
                &[
                    "id uuid",
                    "slot_id uuid",
                    "user_id uuid",
                    "trainer_id uuid",
                    "queue_no int8",
                    "joined_at timestamptz",
                    "state waitlist_state",
                    "ended_at timestamptz",
                    "booking_id uuid",
                ],
            ),
        ];
        let actual = rows(
            "SELECT c.relname::text, string_agg(a.attname || ' ' || t.typname, ',' ORDER BY a.attnum)
               FROM pg_class c
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
               JOIN pg_type t ON t.oid = a.atttypid
              WHERE c.relnamespace = 'gym_booking'::regnamespace AND c.relkind = 'r'
              GROUP BY c.relname ORDER BY c.relname",
        );
        let expected: Vec<Vec<String>> = expected
            .iter()
            .map(|(table, cols)| vec![table.to_string(), cols.join(",")])
            .collect();
        assert_eq!(actual, expected);
    }

    #[pg_test]
    fn enums_have_their_labels_in_order() {
        let actual = rows(
            "SELECT t.typname::text, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
               FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
              WHERE t.typnamespace = 'gym_booking'::regnamespace
              GROUP BY t.typname ORDER BY t.typname",
        );
        assert_eq!(
            actual,
            vec![
                strings(&["attendance_mark", "attended,no_show"]),
                strings(&["booking_status", "reserved,cancelled,completed"]),
                strings(&[
                    "event_kind",
                    "booking_confirmed,booking_cancelled,waitlist_promoted,waitlist_expired,\
                     slot_cancelled,slot_changed,no_show_recorded,attendance_marked,no_show_excused"
                ]),
                strings(&["log_action_type", "create,update,delete,status_auto_update"]),
                strings(&["log_entity_type", "user,slot,booking"]),
                strings(&["user_role", "admin,trainer,athlete"]),
                strings(&["waitlist_state", "waiting,promoted,left,expired,removed"]),
            ]
        );
    }

    #[pg_test]
    fn named_indexes_exist_with_their_methods_and_keys() {
        let actual = rows(
            "SELECT i.relname::text, am.amname::text, pg_get_indexdef(i.oid)
               FROM pg_index x
               JOIN pg_class i ON i.oid = x.indexrelid
               JOIN pg_am am ON am.oid = i.relam
              WHERE i.relnamespace = 'gym_booking'::regnamespace
                AND i.relname LIKE '%\\_idx'
              ORDER BY i.relname",
        );
        let defs: Vec<(String, String, String)> = actual
            .into_iter()
            .map(|r| (r[0].clone(), r[1].clone(), r[2].replace("gym_booking.", "")))
            .collect();
        // The seed's, three the policies, available_slots and the completion batch read by, the
        // copies of the slot's trainer that row-level security reads a trainer's rows by, and
        // 0.2.0's: a slot's queue, one waiting entry per athlete, a recipient's events; 0.2.1's:
        // an athlete's cancelled and completed bookings by when they changed (calendar feeds);
        // 0.2.2's: an athlete's strikes, a slot's and a trainer's attendance marks.
        let expected = [
            (
                "activity_logs_changed_by_idx",
                "btree",
                "ON activity_logs USING btree (changed_by)",
            ),
            (
                "activity_logs_entity_idx",
                "btree",
                "ON activity_logs USING btree (entity_type, entity_id, created_at DESC)",
            ),
            (
                "activity_logs_trainer_idx",
                "btree",
                "ON activity_logs USING btree (trainer_id) WHERE (trainer_id IS NOT NULL)",
            ),
            (
                "attendance_slot_idx",
                "btree",
                "ON attendance USING btree (slot_id)",
            ),
            (
                "attendance_strikes_idx",
                "btree",
                "ON attendance USING btree (user_id, strike_at) \
                 WHERE ((mark = 'no_show'::attendance_mark) AND (excused_at IS NULL))",
            ),
            (
                "attendance_trainer_idx",
                "btree",
                "ON attendance USING btree (trainer_id)",
            ),
            (
                "booking_status_history_booking_idx",
                "btree",
                "ON booking_status_history USING btree (booking_id, changed_at DESC)",
            ),
            (
                "booking_status_history_trainer_idx",
                "btree",
                "ON booking_status_history USING btree (trainer_id)",
            ),
            (
                "bookings_slot_status_idx",
                "btree",
                "ON bookings USING btree (slot_id, status)",
            ),
            (
                "bookings_trainer_idx",
                "btree",
                "ON bookings USING btree (trainer_id)",
            ),
            (
                "bookings_user_changed_idx",
                "btree",
                "ON bookings USING btree (user_id, status_changed_at) WHERE (status <> 'reserved'::booking_status)",
            ),
            (
                "bookings_user_status_idx",
                "btree",
                "ON bookings USING btree (user_id, status)",
            ),
            (
                "events_recipient_idx",
                "btree",
                "ON events USING btree (recipient_id, id)",
            ),
            (
                "events_undelivered_idx",
                "btree",
                "ON events USING btree (id) WHERE (delivered_at IS NULL)",
            ),
            (
                "events_unnotified_idx",
                "btree",
                "ON events USING btree (id) WHERE (notified_at IS NULL)",
            ),
            (
                "series_running_idx",
                "btree",
                "ON series USING btree (made_until) WHERE (cancelled_from IS NULL)",
            ),
            (
                "series_trainer_idx",
                "btree",
                "ON series USING btree (trainer_id)",
            ),
            ("slots_end_at_idx", "btree", "ON slots USING btree (end_at)"),
            (
                "slots_start_active_idx",
                "btree",
                "ON slots USING btree (start_at) WHERE (cancelled_at IS NULL)",
            ),
            (
                "slots_time_idx",
                "gist",
                "ON slots USING gist (tstzrange(start_at, end_at))",
            ),
            (
                "slots_trainer_start_idx",
                "btree",
                "ON slots USING btree (trainer_id, start_at)",
            ),
            (
                "users_email_idx",
                "btree",
                "CREATE UNIQUE INDEX users_email_idx ON users USING btree (email)",
            ),
            (
                "users_role_active_idx",
                "btree",
                "ON users USING btree (role, deleted_at)",
            ),
            (
                "waitlist_entries_booking_idx",
                "btree",
                "ON waitlist_entries USING btree (booking_id) WHERE (booking_id IS NOT NULL)",
            ),
            (
                "waitlist_entries_one_waiting_idx",
                "btree",
                "CREATE UNIQUE INDEX waitlist_entries_one_waiting_idx ON waitlist_entries USING btree (slot_id, user_id) WHERE (state = 'waiting'::waitlist_state)",
            ),
            (
                "waitlist_entries_queue_idx",
                "btree",
                "ON waitlist_entries USING btree (slot_id, queue_no) WHERE (state = 'waiting'::waitlist_state)",
            ),
            (
                "waitlist_entries_trainer_idx",
                "btree",
                "ON waitlist_entries USING btree (trainer_id)",
            ),
            (
                "waitlist_entries_user_idx",
                "btree",
                "ON waitlist_entries USING btree (user_id, state)",
            ),
        ];
        assert_eq!(defs.len(), expected.len(), "{defs:?}");
        for ((name, method, def), (want_name, want_method, want_def)) in defs.iter().zip(expected) {
            assert_eq!((name.as_str(), method.as_str()), (want_name, want_method));
            assert!(def.ends_with(want_def), "{name}: {def}");
        }
    }

    #[pg_test]
    fn every_table_and_sequence_is_kept_by_pg_dump() {
        let actual = rows(
            "SELECT c.relname::text
               FROM pg_extension e, unnest(e.extconfig) AS cfg(oid)
               JOIN pg_class c ON c.oid = cfg.oid
              WHERE e.extname = 'gym_booking'
              ORDER BY 1",
        );
        assert_eq!(
            actual.concat(),
            strings(&[
                "activity_logs",
                "attendance",
                "attendance_sweep",
                "booking_status_history",
                "booking_status_history_id_seq",
                "bookings",
                "calendar_tokens",
                "events",
                "events_id_seq",
                "series",
                "slots",
                "studio_settings",
                "studio_settings_history",
                "studio_settings_history_id_seq",
                "trainer_directory",
                "users",
                "waitlist_entries",
                "waitlist_queue",
            ])
        );
        let unregistered = rows(
            "SELECT c.relname::text FROM pg_class c
              WHERE c.relnamespace = 'gym_booking'::regnamespace AND c.relkind IN ('r', 'S')
                AND c.oid <> ALL (SELECT unnest(extconfig) FROM pg_extension
                                  WHERE extname = 'gym_booking')",
        );
        assert!(
            unregistered.is_empty(),
            "not in extconfig: {unregistered:?}"
        );
    }

    #[pg_test]
    fn defaults_fill_a_minimal_user() {
        let (role, prefs) = Spi::get_two::<String, pgrx::JsonB>(
            "INSERT INTO gym_booking.users (email, password_hash, first_name)
             VALUES ('new@example.com', 'x', 'New') RETURNING role::text, preferences",
        )
        .expect("insert user");
        assert_eq!(role.as_deref(), Some("athlete"));
        assert_eq!(prefs.map(|j| j.0), Some(serde_json::json!({})));
    }

    #[pg_test]
    fn emails_are_unique_whatever_their_case() {
        seed_people_and_slot();
        assert_eq!(
            sqlstate_of(
                "INSERT INTO gym_booking.users (email, password_hash, first_name)
                 VALUES ('COACH@Example.com', 'x', 'Other')"
            ),
            "23505"
        );
    }

    #[pg_test]
    fn a_trainer_needs_a_contact_channel() {
        assert_eq!(
            sqlstate_of(
                "INSERT INTO gym_booking.users (email, password_hash, first_name, role)
                 VALUES ('t@example.com', 'x', 'T', 'trainer')"
            ),
            "23514"
        );
        assert_eq!(
            sqlstate_of(
                "INSERT INTO gym_booking.users (email, password_hash, first_name, role, contact_phone)
                 VALUES ('t@example.com', 'x', 'T', 'trainer', '+1 555 0100')"
            ),
            "00000"
        );
    }

    #[pg_test]
    fn deleted_implies_anonymous() {
        seed_people_and_slot();
        // With the rule triggers off (as for a replica), the constraint alone still holds.
        Spi::run("SET LOCAL session_replication_role = replica").unwrap();
        let only_flag =
            format!("UPDATE gym_booking.users SET is_anonymous = true WHERE id = '{ATHLETE}'");
        assert_eq!(sqlstate_of(&only_flag), "23514");
        let both = format!(
            "UPDATE gym_booking.users SET is_anonymous = true, deleted_at = now() WHERE id = '{ATHLETE}'"
        );
        assert_eq!(sqlstate_of(&both), "00000");
    }

    #[pg_test]
    fn slot_checks_hold() {
        seed_people_and_slot();
        let slot = |start: &str, end: &str, minutes: i32, capacity: i32| {
            sqlstate_of(&format!(
                "INSERT INTO gym_booking.slots (trainer_id, start_at, end_at, duration_minutes, capacity)
                 VALUES ('{TRAINER}', '{start}', '{end}', {minutes}, {capacity})"
            ))
        };
        let (t0, t30, t60, t300) = (
            "2030-01-01 10:00+00",
            "2030-01-01 10:30+00",
            "2030-01-01 11:00+00",
            "2030-01-01 15:00+00",
        );
        assert_eq!(slot(t0, t60, 60, 1), "00000");
        assert_eq!(slot(t0, t60, 60, 20), "00000");
        assert_eq!(slot(t0, t60, 60, 0), "23514", "capacity below 1");
        assert_eq!(slot(t0, t60, 60, 21), "23514", "capacity above 20");
        assert_eq!(slot(t0, t30, 30, 1), "00000");
        assert_eq!(slot(t0, t300, 300, 1), "23514", "longer than 240 minutes");
        assert_eq!(
            slot(t0, t60, 90, 1),
            "22023",
            "duration disagrees with the times"
        );
        assert_eq!(slot(t60, t0, 60, 1), "23514", "ends before it starts");
        let unknown_trainer = format!(
            "INSERT INTO gym_booking.slots (trainer_id, start_at, end_at)
             VALUES (gen_random_uuid(), '{t0}', '{t60}')"
        );
        assert_eq!(sqlstate_of(&unknown_trainer), "23503");
    }

    #[pg_test]
    fn one_booking_per_athlete_and_slot() {
        seed_people_and_slot();
        let book = format!(
            "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ('{SLOT}', '{ATHLETE}')"
        );
        assert_eq!(sqlstate_of(&book), "00000");
        assert_eq!(sqlstate_of(&book), "23505");
        let status = Spi::get_one::<String>(&format!(
            "SELECT status::text FROM gym_booking.bookings WHERE slot_id = '{SLOT}'"
        ))
        .expect("read booking");
        assert_eq!(status.as_deref(), Some("reserved"));
    }

    #[pg_test]
    fn logs_need_a_non_empty_object_of_changes() {
        let log = |fields: &str| {
            sqlstate_of(&format!(
                "INSERT INTO gym_booking.activity_logs (entity_type, entity_id, action, changed_fields)
                 VALUES ('slot', gen_random_uuid(), 'create', '{fields}')"
            ))
        };
        assert_eq!(log("{}"), "23514");
        assert_eq!(log("[1]"), "23514");
        assert_eq!(log("\"x\""), "23514");
        assert_eq!(log(r#"{"capacity": 2}"#), "00000");
    }

    #[pg_test]
    fn history_rows_record_a_real_change() {
        seed_people_and_slot();
        Spi::run(&format!(
            "INSERT INTO gym_booking.bookings (id, slot_id, user_id)
             VALUES ('44444444-4444-4444-4444-444444444444', '{SLOT}', '{ATHLETE}')"
        ))
        .expect("book");
        let history = |from: &str, to: &str| {
            sqlstate_of(&format!(
                "INSERT INTO gym_booking.booking_status_history (booking_id, previous_status, current_status)
                 VALUES ('44444444-4444-4444-4444-444444444444', '{from}', '{to}')"
            ))
        };
        assert_eq!(history("reserved", "reserved"), "23514");
        assert_eq!(history("reserved", "cancelled"), "00000");
    }
}

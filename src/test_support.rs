//! Helpers shared by the `#[pg_test]` modules.

use pgrx::prelude::*;

/// Runs `sql` in a subtransaction and returns the SQLSTATE it raised, or `00000`.
/// A PL/pgSQL exception block is the safe way to trap an error and go on.
pub fn sqlstate_of(sql: &str) -> String {
    Spi::run(
        "CREATE OR REPLACE FUNCTION pg_temp.sqlstate_of(stmt text) RETURNS text
         LANGUAGE plpgsql AS $$
         BEGIN EXECUTE stmt; RETURN '00000';
         EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE; END $$",
    )
    .expect("create pg_temp.sqlstate_of");
    Spi::get_one_with_args::<String>("SELECT pg_temp.sqlstate_of($1)", &[sql.into()])
        .expect("run pg_temp.sqlstate_of")
        .expect("a SQLSTATE")
}

/// Rows of a query as strings, one `Vec` per row.
pub fn rows(sql: &str) -> Vec<Vec<String>> {
    Spi::connect(|client| {
        let table = client.select(sql, None, &[]).expect("query");
        let width = table.columns().expect("column count");
        table
            .map(|row| {
                (1..=width)
                    .map(|i| {
                        row.get::<String>(i)
                            .expect("text column")
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect()
    })
}

/// The first column of the first row, as text.
pub fn value(sql: &str) -> Option<String> {
    Spi::get_one::<String>(sql).expect("query")
}

pub fn run(sql: &str) {
    Spi::run(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Acts as the app user `id` for the rest of the test's transaction, as PostgREST sets it.
pub fn act_as(id: &str) {
    run(&format!(
        "SELECT set_config('request.jwt.claims', '{{\"sub\": \"{id}\", \"role\": \"authenticated\"}}', true)"
    ));
}

/// Stops acting as anyone (no JWT claims).
pub fn act_as_nobody() {
    run("SELECT set_config('request.jwt.claims', '', true)");
}

/// Runs one statement as the database role `role` (as PostgREST's `SET ROLE` would) in a
/// subtransaction, and returns the SQLSTATE it raised, or `00000`.
pub fn sqlstate_as(role: &str, sql: &str) -> String {
    run(
        "CREATE OR REPLACE FUNCTION pg_temp.sqlstate_as(r text, stmt text) RETURNS text
         LANGUAGE plpgsql AS $$
         BEGIN
             EXECUTE format('SET LOCAL ROLE %I', r);
             EXECUTE stmt;
             RESET ROLE;
             RETURN '00000';
         EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE;
         END $$",
    );
    Spi::get_one_with_args::<String>(
        "SELECT pg_temp.sqlstate_as($1, $2)",
        &[role.into(), sql.into()],
    )
    .expect("run pg_temp.sqlstate_as")
    .expect("a SQLSTATE")
}

/// The people, slots and bookings the rule tests share (fixed ids, so failures read well).
pub mod fixtures {
    use super::{run, sqlstate_of, value};
    use pgrx::prelude::*;

    pub const ADMIN: &str = "a0000000-0000-4000-8000-000000000001";
    pub const TRAINER: &str = "a0000000-0000-4000-8000-000000000011";
    pub const TRAINER2: &str = "a0000000-0000-4000-8000-000000000012";
    pub const ATH1: &str = "a0000000-0000-4000-8000-000000000101";
    pub const ATH2: &str = "a0000000-0000-4000-8000-000000000102";
    pub const ATH3: &str = "a0000000-0000-4000-8000-000000000103";

    pub fn people() {
        run(&format!(
            "INSERT INTO gym_booking.users (id, email, password_hash, first_name, last_name, role, contact_email, contact_phone)
             VALUES ('{ADMIN}', 'admin@t.example', 'h', 'Ada', NULL, 'admin', NULL, NULL),
                    ('{TRAINER}', 'tess@t.example', 'h', 'Tess', 'Strong', 'trainer', 'tess@t.example', NULL),
                    ('{TRAINER2}', 'marco@t.example', 'h', 'Marco', NULL, 'trainer', NULL, '+1 555 0102'),
                    ('{ATH1}', 'a1@t.example', 'h', 'Alex', 'Morgan', 'athlete', 'alex@home.example', '+1 555 0199'),
                    ('{ATH2}', 'a2@t.example', 'h', 'Bea', NULL, 'athlete', NULL, NULL),
                    ('{ATH3}', 'a3@t.example', 'h', 'Chen', NULL, 'athlete', NULL, NULL)"
        ));
    }

    /// A slot of TRAINER starting `starts_in` from now (an interval literal).
    pub fn slot(id: &str, starts_in: &str, capacity: i32) {
        run(&format!(
            "INSERT INTO gym_booking.slots (id, trainer_id, start_at, capacity)
             VALUES ('{id}', '{TRAINER}', now() + interval '{starts_in}', {capacity})"
        ));
    }

    /// A slot that has ended with a reserved booking of ATH1, loaded as a restore would load
    /// it: with the rule triggers off (`session_replication_role = replica`).
    pub fn ended_slot_with_booking(slot_id: &str, booking_id: &str) {
        run("SET LOCAL session_replication_role = replica");
        run(&format!(
            "INSERT INTO gym_booking.slots (id, trainer_id, start_at, end_at, duration_minutes)
             VALUES ('{slot_id}', '{TRAINER}', now() - interval '3 hours', now() - interval '2 hours', 60);
             INSERT INTO gym_booking.bookings (id, slot_id, user_id) VALUES ('{booking_id}', '{slot_id}', '{ATH1}')"
        ));
        run("SET LOCAL session_replication_role = origin");
    }

    pub fn book(slot_id: &str, user: &str) -> String {
        sqlstate_of(&format!(
            "INSERT INTO gym_booking.bookings (slot_id, user_id) VALUES ('{slot_id}', '{user}')"
        ))
    }

    pub fn set_status(slot_id: &str, user: &str, status: &str) -> String {
        sqlstate_of(&format!(
            "UPDATE gym_booking.bookings SET status = '{status}'
              WHERE slot_id = '{slot_id}' AND user_id = '{user}'"
        ))
    }

    pub fn status(slot_id: &str, user: &str) -> String {
        value(&format!(
            "SELECT status::text || '/' || auto_processed FROM gym_booking.bookings
              WHERE slot_id = '{slot_id}' AND user_id = '{user}'"
        ))
        .unwrap_or_default()
    }

    pub fn reserved(slot_id: &str) -> i64 {
        Spi::get_one::<i64>(&format!(
            "SELECT count(*) FROM gym_booking.bookings WHERE slot_id = '{slot_id}' AND status = 'reserved'"
        ))
        .unwrap()
        .unwrap()
    }

    pub const S1: &str = "b0000000-0000-4000-8000-000000000001";
    pub const S2: &str = "b0000000-0000-4000-8000-000000000002";
    pub const B1: &str = "c0000000-0000-4000-8000-000000000001";
}

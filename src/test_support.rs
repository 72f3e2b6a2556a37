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

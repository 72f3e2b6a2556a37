//! gym_booking: a booking backend for personal trainers and small-group sessions,
//! living entirely inside PostgreSQL.
//!
//! The schema is plain SQL under `sql/`, loaded in a fixed order by [`schema`].
//! Rust is for the rules SQL cannot state cleanly.

::pgrx::pg_module_magic!(name, version);

/// The version of the gym_booking library the server has loaded (after an upgrade, compare
/// with `pg_extension.extversion`, the version of the installed SQL objects).
#[pgrx::pg_extern(stable, parallel_safe)]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Settings always; the completion workers only when the server preloads the library.
#[allow(non_snake_case)]
#[pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
    errors::no_rust_backtraces();
    memo::register_callbacks();
    plans::register_callbacks();
    worker::define_settings();
    if worker::preloading() {
        worker::register_workers();
    }
}

mod calendar;
mod completion;
mod errors;
mod housekeeping;
mod identity;
mod memo;
mod plans;
mod row;
mod rules;
pub mod schema;
mod system;
mod worker;

#[cfg(any(test, feature = "pg_test"))]
mod attendance_tests;
#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;
#[cfg(any(test, feature = "pg_test"))]
mod request_tests;
#[cfg(any(test, feature = "pg_test"))]
mod rule_tests;
#[cfg(any(test, feature = "pg_test"))]
mod rule_tests_people;
#[cfg(any(test, feature = "pg_test"))]
mod studio_tests;
#[cfg(any(test, feature = "pg_test"))]
mod test_support;
#[cfg(any(test, feature = "pg_test"))]
mod timetable_tests;

/// Required by `cargo pgrx test`; must be visible at the crate root.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}

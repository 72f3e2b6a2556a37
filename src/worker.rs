//! The background worker that completes past bookings on its own.
//!
//! With `shared_preload_libraries = 'gym_booking'`, one worker per database named in
//! `gym_booking.completion_databases` runs `complete_past_bookings()` every
//! `gym_booking.completion_interval` seconds (0 = off), in bounded batches, each in a
//! transaction of its own, until nothing is due.

use std::ffi::CString;
use std::time::Duration;

use pgrx::bgworkers::*;
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::pg_sys;
use pgrx::prelude::*;

static INTERVAL_SECONDS: GucSetting<i32> = GucSetting::<i32>::new(60);
static DATABASES: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static BATCH_SIZE: GucSetting<i32> = GucSetting::<i32>::new(500);

/// How long the worker sleeps when switched off, before it looks at the settings again.
const IDLE_CHECK: Duration = Duration::from_secs(10);

pub fn define_settings() {
    GucRegistry::define_int_guc(
        c"gym_booking.completion_interval",
        c"Seconds between runs of the booking completion worker (0 = off).",
        c"Each run marks reserved bookings of ended slots completed, in batches.",
        &INTERVAL_SECONDS,
        0,
        86_400,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"gym_booking.completion_batch_size",
        c"Bookings the completion worker completes per transaction.",
        c"",
        &BATCH_SIZE,
        1,
        100_000,
        GucContext::Sighup,
        GucFlags::default(),
    );
    // A server-start setting can only be defined while the server starts.
    if !preloading() {
        return;
    }
    GucRegistry::define_string_guc(
        c"gym_booking.completion_databases",
        c"Comma-separated databases in which the booking completion worker runs.",
        c"One worker per database; takes effect at server start. Empty: no worker.",
        &DATABASES,
        GucContext::Postmaster,
        GucFlags::default(),
    );
}

fn configured_databases() -> Vec<String> {
    DATABASES
        .get()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .split(',')
        .map(|db| db.trim().to_string())
        .filter(|db| !db.is_empty())
        .collect()
}

/// Registers the workers; only possible while the server loads preloaded libraries.
pub fn register_workers() {
    for db in configured_databases() {
        BackgroundWorkerBuilder::new(&format!("gym_booking completion worker for {db}"))
            .set_type("gym_booking completion")
            .set_function("gym_booking_completion_worker_main")
            .set_library("gym_booking")
            .set_extra(&db)
            .enable_spi_access()
            .set_restart_time(Some(Duration::from_secs(10)))
            .load();
    }
}

/// One run: batches of completions, each its own transaction, until fewer than a batch
/// were due. Nothing happens in a database without the extension.
fn run_once() {
    let installed = BackgroundWorker::transaction(|| {
        Spi::get_one::<bool>(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'gym_booking')",
        )
        .ok()
        .flatten()
        .unwrap_or(false)
    });
    if !installed {
        return;
    }
    let batch = BATCH_SIZE.get();
    loop {
        let done = BackgroundWorker::transaction(|| {
            crate::completion::complete_due(batch).unwrap_or_else(|e| crate::errors::raise(e))
        });
        if done > 0 {
            log!("gym_booking: completed {done} past booking(s)");
        }
        if done < i64::from(batch) || BackgroundWorker::sigterm_received() {
            break;
        }
    }
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn gym_booking_completion_worker_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let db = BackgroundWorker::get_extra().to_string();
    BackgroundWorker::connect_worker_to_spi(Some(&db), None);
    log!("gym_booking: completion worker started for database {db}");
    loop {
        let seconds = INTERVAL_SECONDS.get();
        let wait = if seconds > 0 {
            Duration::from_secs(seconds as u64)
        } else {
            IDLE_CHECK
        };
        if !BackgroundWorker::wait_latch(Some(wait)) {
            break;
        }
        if BackgroundWorker::sighup_received() {
            // SAFETY: re-reads postgresql.conf, as every backend does on SIGHUP.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        if INTERVAL_SECONDS.get() > 0 {
            run_once();
        }
    }
    log!("gym_booking: completion worker for database {db} is stopping");
}

/// Whether this load of the library is the server's preload.
pub fn preloading() -> bool {
    // SAFETY: a flag PostgreSQL sets while it loads shared_preload_libraries.
    unsafe { pg_sys::process_shared_preload_libraries_in_progress }
}

//! The background worker that completes past bookings on its own.
//!
//! With `shared_preload_libraries = 'gym_booking'`, one *launcher* runs for the whole server.
//! It is connected to no database (it reads only the shared catalog `pg_database`), so it
//! never stands in the way of `DROP DATABASE` or `CREATE DATABASE … TEMPLATE`. Every
//! `gym_booking.completion_interval` seconds (0 = off) it goes through the databases named in
//! `gym_booking.completion_databases`, one after the other: a database that exists gets a
//! short-lived *run* worker that connects to it, runs `complete_past_bookings()` in batches of
//! `gym_booking.completion_batch_size`, each in a transaction of its own, until nothing is due,
//! and exits, releasing the database.
//!
//! - Stopping: the run worker honours SIGTERM at once (PostgreSQL's own `die` handler: a
//!   batch in flight is rolled back, and shutdown is checked again between batches); the
//!   launcher keeps its SIGTERM flag (never consumed twice), stops its run worker and exits.
//! - A database that does not exist, or has no gym_booking extension, or whose run failed, is
//!   logged once (with its name, and again only when that changes) and tried again at a slow,
//!   bounded pace; the other databases are served meanwhile. Nothing crash-loops.
//! - A terminated launcher (`pg_terminate_backend`) exits with code 1, so the postmaster starts
//!   it again after `gym_booking.completion_restart_time` seconds; a terminated run worker is
//!   replaced at the next round.
//! - Both show in `pg_stat_activity` (`backend_type` and `application_name` "gym_booking
//!   completion launcher" / "gym_booking completion"; `state` and `query` say what they do).

use std::collections::HashMap;
use std::ffi::{c_int, CString};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use pgrx::bgworkers::*;
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::PgAtomic;

static INTERVAL_SECONDS: GucSetting<i32> = GucSetting::<i32>::new(60);
static DATABASES: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static BATCH_SIZE: GucSetting<i32> = GucSetting::<i32>::new(500);
static RESTART_SECONDS: GucSetting<i32> = GucSetting::<i32>::new(10);

/// How long the launcher sleeps when switched off, before it looks at the settings again
/// (a reload wakes it at once).
const IDLE_CHECK: Duration = Duration::from_secs(10);
/// A database whose run found no extension is tried again after one interval, a failed run
/// after `FIRST_RETRY` (or the interval, if longer); each miss in a row doubles the wait, up
/// to `MAX_RETRY` (or the interval, if longer).
const FIRST_RETRY: Duration = Duration::from_secs(10);
const MAX_RETRY: Duration = Duration::from_secs(600);

/// The wait after `misses` misses in a row before this one.
fn backoff(first: Duration, misses: u32, interval: Duration) -> Duration {
    first
        .saturating_mul(2u32.saturating_pow(misses.min(16)))
        .min(MAX_RETRY.max(interval))
}

const LAUNCHER_NAME: &str = "gym_booking completion launcher";
const RUN_NAME: &str = "gym_booking completion";

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
    GucRegistry::define_string_guc(
        c"gym_booking.completion_databases",
        c"Comma-separated databases in which the booking completion worker runs.",
        c"Read at every round of the worker (reload to change). Empty: no database is served.",
        &DATABASES,
        GucContext::Sighup,
        GucFlags::default(),
    );
    // A server-start setting can only be defined while the server starts.
    if !preloading() {
        return;
    }
    GucRegistry::define_int_guc(
        c"gym_booking.completion_restart_time",
        c"Seconds after which a terminated completion launcher is started again.",
        c"Takes effect at server start.",
        &RESTART_SECONDS,
        1,
        3_600,
        GucContext::Postmaster,
        GucFlags::UNIT_S,
    );
}

fn configured_databases() -> Vec<String> {
    let mut seen = Vec::new();
    for db in DATABASES
        .get()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .split(',')
        .map(|db| db.trim().to_string())
        .filter(|db| !db.is_empty())
    {
        if !seen.contains(&db) {
            seen.push(db);
        }
    }
    seen
}

/// What the last run worker found, told to the launcher through shared memory (one run
/// worker at a time, so one cell).
static OUTCOME: PgAtomic<AtomicU32> = unsafe { PgAtomic::new(c"gym_booking completion outcome") };
const STARTED: u32 = 1;
const DONE: u32 = 2;
const NO_EXTENSION: u32 = 3;
/// Told to stop (a shutdown, `pg_terminate_backend`, `DROP DATABASE … WITH (FORCE)`).
const TERMINATED: u32 = 4;

/// Registers the launcher and its shared memory; only possible while the server loads
/// preloaded libraries.
// pg_shmem_init! names pgrx's other PostgreSQL versions in its cfgs.
#[allow(unexpected_cfgs)]
pub fn register_workers() {
    pgrx::pg_shmem_init!(OUTCOME);
    BackgroundWorkerBuilder::new(LAUNCHER_NAME)
        .set_type(LAUNCHER_NAME)
        .set_function("gym_booking_completion_launcher_main")
        .set_library("gym_booking")
        .enable_spi_access()
        .set_restart_time(Some(Duration::from_secs(
            RESTART_SECONDS.get().max(1) as u64
        )))
        .load();
}

static GOT_SIGTERM: AtomicBool = AtomicBool::new(false);
static GOT_SIGHUP: AtomicBool = AtomicBool::new(false);

unsafe extern "C-unwind" fn on_sigterm(_signal: c_int) {
    GOT_SIGTERM.store(true, Ordering::SeqCst);
    // SAFETY: setting our own latch is what a signal handler may do.
    unsafe { pg_sys::SetLatch(pg_sys::MyLatch) };
}

unsafe extern "C-unwind" fn on_sighup(_signal: c_int) {
    GOT_SIGHUP.store(true, Ordering::SeqCst);
    // SAFETY: as above.
    unsafe { pg_sys::SetLatch(pg_sys::MyLatch) };
}

/// Whether shutdown was asked for. The flag stays set: every later check sees it too.
fn stopping() -> bool {
    GOT_SIGTERM.load(Ordering::SeqCst)
}

/// Sleeps until `deadline`, a signal or the postmaster's death (which ends the process).
fn sleep_until(deadline: Instant) {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() || stopping() {
        return;
    }
    // SAFETY: waiting on our own latch, as every background process does.
    unsafe {
        pg_sys::WaitLatch(
            pg_sys::MyLatch,
            (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
            left.as_millis().clamp(1, 3_600_000) as std::ffi::c_long,
            pg_sys::PG_WAIT_EXTENSION,
        );
        pg_sys::ResetLatch(pg_sys::MyLatch);
    }
    // Absorbs what other backends ask of every process (DROP DATABASE waits for that); SIGTERM
    // is ours, not PostgreSQL's, so this never ends the process.
    pg_sys::check_for_interrupts!();
}

/// What `pg_stat_activity` shows for this process: `state` and `query`.
fn report(running: bool, what: &str) {
    let state = if running {
        pg_sys::BackendState::STATE_RUNNING
    } else {
        pg_sys::BackendState::STATE_IDLE
    };
    let what = CString::new(what).unwrap_or_default();
    // SAFETY: PostgreSQL copies the text into this backend's status entry.
    unsafe { pg_sys::pgstat_report_activity(state, what.as_ptr()) };
}

fn set_application_name(name: &str) {
    let name = CString::new(name).unwrap_or_default();
    // SAFETY: an ordinary setting, set as a session's own.
    unsafe {
        pg_sys::SetConfigOption(
            c"application_name".as_ptr(),
            name.as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
        )
    };
}

/// Why a database is not being served, as last logged.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Trouble {
    None,
    Missing,
    NoConnections,
    NoExtension,
    Failed,
    NoWorkerSlot,
}

struct Served {
    trouble: Trouble,
    failures: u32,
    next_try: Instant,
}

/// Whether `db` exists (its oid) and takes connections: a plain scan of the shared catalog
/// `pg_database` (as the autovacuum launcher reads it: a process connected to no database
/// may not use catalog indexes before the shared relcache file exists).
fn look_up(db: &str) -> Option<(pg_sys::Oid, bool)> {
    BackgroundWorker::transaction(|| {
        let mut found = None;
        // SAFETY: a scan of a shared catalog inside a transaction, closed before it ends; the
        // tuples are pg_database's, whose fixed part is FormData_pg_database.
        unsafe {
            let lock = pg_sys::AccessShareLock as pg_sys::LOCKMODE;
            let rel = pg_sys::table_open(pg_sys::DatabaseRelationId, lock);
            let scan = pg_sys::systable_beginscan(
                rel,
                pg_sys::InvalidOid,
                false,
                std::ptr::null_mut(),
                0,
                std::ptr::null_mut(),
            );
            loop {
                let tuple = pg_sys::systable_getnext(scan);
                if tuple.is_null() {
                    break;
                }
                let row = pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_database>(tuple);
                let name = std::ffi::CStr::from_ptr((*row).datname.data.as_ptr());
                if name.to_bytes() == db.as_bytes() {
                    found = Some(((*row).oid, (*row).datallowconn));
                    break;
                }
            }
            pg_sys::systable_endscan(scan);
            pg_sys::table_close(rel, lock);
        }
        found
    })
}

/// Starts a run worker for `db` (by its oid: a database dropped and made again under the same
/// name meanwhile is not entered) and waits for it to end; `None` when no worker could start.
fn run_in(db: &str, oid: pg_sys::Oid) -> Option<u32> {
    OUTCOME.get().store(0, Ordering::SeqCst);
    let worker = BackgroundWorkerBuilder::new(&format!("{RUN_NAME} of {db}"))
        .set_type(RUN_NAME)
        .set_function("gym_booking_completion_run_main")
        .set_library("gym_booking")
        .set_extra(db)
        .set_argument(Some(pg_sys::Datum::from(oid)))
        .enable_spi_access()
        // SAFETY: our own pid, so that the postmaster tells us when the worker starts and ends.
        .set_notify_pid(unsafe { pg_sys::MyProcPid })
        .load_dynamic()
        .ok()?;
    report(true, &format!("waiting for the run in database {db}"));
    loop {
        match worker.pid() {
            Err(BackgroundWorkerStatus::Stopped) | Err(BackgroundWorkerStatus::PostmasterDied) => {
                break
            }
            _ if stopping() => {
                worker.terminate();
                return Some(0);
            }
            _ => sleep_until(Instant::now() + Duration::from_secs(1)),
        }
    }
    Some(OUTCOME.get().load(Ordering::SeqCst))
}

fn log_trouble(db: &str, before: Trouble, now: Trouble, retry: Duration) {
    if before == now {
        return;
    }
    let retry = retry.as_secs();
    match now {
        Trouble::None => log!("gym_booking: completion serves database \"{db}\""),
        Trouble::Missing => log!(
            "gym_booking: database \"{db}\" named in gym_booking.completion_databases does not exist; looked up again every {retry} s, logged again when it exists"
        ),
        Trouble::NoConnections => log!(
            "gym_booking: database \"{db}\" named in gym_booking.completion_databases does not allow connections; looked up again every {retry} s, logged again when it does"
        ),
        Trouble::NoExtension => log!(
            "gym_booking: database \"{db}\" named in gym_booking.completion_databases has no gym_booking extension; tried again in {retry} s, then twice as long after each miss (up to 10 min), logged again when it has"
        ),
        Trouble::Failed => log!(
            "gym_booking: the completion run in database \"{db}\" did not finish (its error, if any, is logged above); tried again in {retry} s, waiting twice as long after each failure"
        ),
        Trouble::NoWorkerSlot => log!(
            "gym_booking: no background worker slot free for the completion run in database \"{db}\" (raise max_worker_processes); tried again every {retry} s"
        ),
    }
}

/// One round: every configured database that is due, one after the other.
fn round(served: &mut HashMap<String, Served>, interval: Duration) {
    let databases = configured_databases();
    served.retain(|db, _| databases.contains(db));
    for db in databases {
        if stopping() {
            return;
        }
        let now = Instant::now();
        let state = served.entry(db.clone()).or_insert(Served {
            trouble: Trouble::None,
            failures: 0,
            next_try: now,
        });
        if state.next_try > now {
            continue;
        }
        report(true, &format!("looking up database {db}"));
        let misses = |now: Trouble| {
            if state.trouble == now {
                state.failures
            } else {
                0
            }
        };
        let (trouble, retry) = match look_up(&db) {
            // A catalog lookup costs nothing: every round.
            None => (Trouble::Missing, interval),
            Some((_, false)) => (Trouble::NoConnections, interval),
            Some((oid, true)) => match run_in(&db, oid) {
                None => (Trouble::NoWorkerSlot, interval.max(FIRST_RETRY)),
                Some(DONE) => (Trouble::None, interval),
                Some(NO_EXTENSION) => (
                    Trouble::NoExtension,
                    backoff(interval, misses(Trouble::NoExtension), interval),
                ),
                Some(_) if stopping() => return,
                // Someone stopped this run: the next round goes on where it stopped.
                Some(TERMINATED) => (state.trouble, interval),
                // Dropped (or dropped and made again) while the run started: no failure; the
                // next round finds out which.
                Some(_) if look_up(&db).map(|(now, _)| now) != Some(oid) => {
                    (state.trouble, interval)
                }
                Some(_) => (
                    Trouble::Failed,
                    backoff(interval.max(FIRST_RETRY), misses(Trouble::Failed), interval),
                ),
            },
        };
        if trouble != Trouble::None || state.trouble != Trouble::None {
            log_trouble(&db, state.trouble, trouble, retry);
        }
        state.failures = match trouble {
            Trouble::NoExtension | Trouble::Failed => misses(trouble).saturating_add(1),
            _ => 0,
        };
        state.trouble = trouble;
        // A database that is fine runs again at the next round.
        state.next_try = if trouble == Trouble::None {
            now
        } else {
            Instant::now() + retry
        };
    }
}

/// The launcher: connected to no database; rounds every interval until told to stop.
#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn gym_booking_completion_launcher_main(_arg: pg_sys::Datum) {
    // SAFETY: our handlers only set a flag and our latch.
    unsafe {
        pg_sys::pqsignal(pg_sys::SIGTERM as i32, Some(on_sigterm));
        pg_sys::pqsignal(pg_sys::SIGHUP as i32, Some(on_sighup));
        pg_sys::BackgroundWorkerUnblockSignals();
    }
    BackgroundWorker::connect_worker_to_spi(None, None);
    set_application_name(LAUNCHER_NAME);
    log!("gym_booking: completion launcher started");
    let mut served = HashMap::new();
    while !stopping() {
        if GOT_SIGHUP.swap(false, Ordering::SeqCst) {
            // SAFETY: re-reads postgresql.conf, as every backend does on SIGHUP.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        let seconds = INTERVAL_SECONDS.get();
        if seconds <= 0 {
            report(false, "off (gym_booking.completion_interval = 0)");
            sleep_until(Instant::now() + IDLE_CHECK);
            continue;
        }
        let interval = Duration::from_secs(seconds as u64);
        let started = Instant::now();
        round(&mut served, interval);
        report(
            false,
            &format!("waiting {seconds} s between rounds (gym_booking.completion_interval)"),
        );
        sleep_until(started + interval);
    }
    log!("gym_booking: completion launcher is stopping");
    // Exit code 1: after a termination the postmaster starts the launcher again (after
    // gym_booking.completion_restart_time); during a shutdown it does not.
    // SAFETY: ends this process the ordinary way.
    unsafe { pg_sys::proc_exit(1) }
}

unsafe extern "C-unwind" {
    /// PostgreSQL's SIGTERM handler for backends (`die` in postgres.c), taken as it is: pgrx's
    /// binding wraps it in a Rust function, which a signal handler must not be.
    #[link_name = "die"]
    fn postgres_die(signal: c_int);
}

unsafe extern "C-unwind" fn run_sigterm(signal: c_int) {
    GOT_SIGTERM.store(true, Ordering::SeqCst);
    // SAFETY: PostgreSQL's handler, called as the signal handler it is.
    unsafe { postgres_die(signal) }
}

/// Tells the launcher that this run was stopped rather than failed.
unsafe extern "C-unwind" fn run_exit(_code: c_int, _arg: pg_sys::Datum) {
    if stopping() {
        let _ =
            OUTCOME
                .get()
                .compare_exchange(STARTED, TERMINATED, Ordering::SeqCst, Ordering::SeqCst);
    }
}

/// A run worker: completes what is due in one database, in batches, then exits.
#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn gym_booking_completion_run_main(arg: pg_sys::Datum) {
    // PostgreSQL's own SIGTERM handling for a backend: a statement in flight is cancelled and
    // the process exits at the next check, between batches too.
    // SAFETY: `die` is the handler every PostgreSQL backend uses for SIGTERM; the exit
    // callback only writes an atomic.
    unsafe {
        pg_sys::pqsignal(pg_sys::SIGTERM as i32, Some(run_sigterm));
        pg_sys::before_shmem_exit(Some(run_exit), pg_sys::Datum::from(0));
        pg_sys::BackgroundWorkerUnblockSignals();
    }
    let outcome = OUTCOME.get();
    outcome.store(STARTED, Ordering::SeqCst);
    let db = BackgroundWorker::get_extra().to_string();
    let oid = pg_sys::Oid::from(arg.value() as u32);
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(oid), None);
    set_application_name(RUN_NAME);
    report(true, "looking for the gym_booking extension");
    let installed = BackgroundWorker::transaction(|| {
        Spi::get_one::<bool>(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'gym_booking')",
        )
        .ok()
        .flatten()
        .unwrap_or(false)
    });
    if !installed {
        outcome.store(NO_EXTENSION, Ordering::SeqCst);
        return;
    }
    let batch = BATCH_SIZE.get();
    let (mut total, mut batches) = (0i64, 0u64);
    loop {
        pg_sys::check_for_interrupts!();
        batches += 1;
        report(
            true,
            &format!(
                "completing past bookings: batch {batches} of up to {batch}, {total} completed so far"
            ),
        );
        let done = BackgroundWorker::transaction(|| {
            crate::completion::complete_due(batch).unwrap_or_else(|e| crate::errors::raise(e))
        });
        total += done;
        if done < i64::from(batch) {
            break;
        }
    }
    if total > 0 {
        log!("gym_booking: completed {total} past booking(s) in database \"{db}\"");
    }
    let mut no_shows = 0i64;
    loop {
        pg_sys::check_for_interrupts!();
        report(true, "recording no-shows whose grace has ended");
        let marked = BackgroundWorker::transaction(|| {
            crate::rules::attendance::record_no_shows(batch)
                .unwrap_or_else(|e| crate::errors::raise(e))
        });
        no_shows += marked;
        if marked < i64::from(batch) {
            break;
        }
    }
    if no_shows > 0 {
        log!("gym_booking: recorded {no_shows} no-show(s) in database \"{db}\"");
    }
    pg_sys::check_for_interrupts!();
    report(
        true,
        "expiring waitlists, promoting, announcing and purging events",
    );
    let (expired, promoted, notified, purged) = BackgroundWorker::transaction(|| {
        crate::housekeeping::round(batch).unwrap_or_else(|e| crate::errors::raise(e))
    });
    if notified > 0 {
        debug1!("gym_booking: {notified} event notification(s) sent in database \"{db}\"");
    }
    if expired + i64::from(promoted) + purged > 0 {
        log!(
            "gym_booking: {expired} waitlist entr(ies) expired, {promoted} athlete(s) promoted, \
             {purged} old event(s) purged in database \"{db}\""
        );
    }
    pg_sys::check_for_interrupts!();
    report(true, "keeping timetables ahead");
    let made = BackgroundWorker::transaction(|| {
        crate::housekeeping::extend_timetables().unwrap_or_else(|e| crate::errors::raise(e))
    });
    if made > 0 {
        log!("gym_booking: {made} class(es) of weekly series made in database \"{db}\"");
    }
    outcome.store(DONE, Ordering::SeqCst);
}

/// Whether this load of the library is the server's preload.
pub fn preloading() -> bool {
    // SAFETY: a flag PostgreSQL sets while it loads shared_preload_libraries.
    unsafe { pg_sys::process_shared_preload_libraries_in_progress }
}

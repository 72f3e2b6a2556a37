//! SQL the rules run, prepared once per backend and reused.
//!
//! The rules' statements run as the extension's owner, the way PostgreSQL's own foreign-key
//! triggers run as the table's owner: a rule must see and write every row (the slot's other
//! bookings, the log) whatever the caller's grants and row-level security allow.
//!
//! The rules' statements run through SPI's read-write path (`SpiClient::update`), which takes
//! a fresh snapshot per statement at READ COMMITTED and sees the transaction's own earlier
//! writes. What a *read* needs (the caller's account, for the policies) runs through
//! [`read`] instead: SPI's read-only path while the transaction has written nothing, so a read
//! request never takes a transaction id (and works on a hot standby).
//! Counts that decide capacity instead run on the *latest* snapshot (as PostgreSQL's own
//! foreign-key checks do): under REPEATABLE READ or SERIALIZABLE the transaction snapshot
//! would miss bookings committed by whoever held the slot lock before us.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CString;
use std::rc::Rc;

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys::{self, PgOid};
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiTupleTable};

use crate::errors::{RuleError, RuleResult};

/// A statement and the types of its parameters.
pub struct Sql {
    pub text: &'static str,
    pub args: &'static [pg_sys::Oid],
}

thread_local! {
    static PREPARED: RefCell<HashMap<&'static str, Rc<OwnedPreparedStatement>>> =
        RefCell::new(HashMap::new());
    static PREPARED_READS: RefCell<HashMap<&'static str, Rc<OwnedPreparedStatement>>> =
        RefCell::new(HashMap::new());
    static PREPARED_RAW: RefCell<HashMap<&'static str, pg_sys::SPIPlanPtr>> =
        RefCell::new(HashMap::new());
}

/// Runs as the extension's owner until dropped (restored on unwinding too), with the
/// search_path pinned to pg_catalog: a caller's own functions or operators, earlier in their
/// search_path, must never run with the owner's rights. This is what a SECURITY DEFINER
/// function with `SET search_path` does.
struct AsOwner {
    user: pg_sys::Oid,
    context: i32,
    /// The GUC nest level to pop, when the search_path had to be set.
    guc_level: Option<i32>,
}

const PINNED_SEARCH_PATH: &std::ffi::CStr = c"pg_catalog, pg_temp";

/// Whether the search_path is already the pinned one (inside the API's functions, which set
/// it themselves), so setting it again can be skipped.
fn search_path_is_pinned() -> bool {
    // SAFETY: reads a setting's current value.
    unsafe {
        let value = pg_sys::GetConfigOption(c"search_path".as_ptr(), false, false);
        !value.is_null() && std::ffi::CStr::from_ptr(value) == PINNED_SEARCH_PATH
    }
}

thread_local! {
    /// The extension's owner as last read, until a catalog change that could come with a new
    /// owner is announced (`forget_owner`).
    static OWNER: std::cell::Cell<Option<pg_sys::Oid>> = const { std::cell::Cell::new(None) };
}

/// Every rule's statement needs the owner, and every request is a transaction: read once per
/// transaction, the catalog scan was a percent of a booking. So it is kept until the catalog
/// says it may have changed. `pg_extension` has no catalog cache to announce a change of its
/// rows, but the owner changes only with the extension's members: `REASSIGN OWNED` gives the
/// new owner the extension and its tables, types and functions together, and `DROP EXTENSION`
/// / `CREATE EXTENSION` removes and makes them. Each of those is announced through the caches
/// of `pg_class`, `pg_proc` and `pg_type`, to this backend's own later commands as to every
/// other backend (a rolled-back change is announced again, and so is a cache reset). On any
/// of them the owner is read again when next needed: they come with every DDL and ANALYZE in
/// the database, and cost a read each, nothing more.
unsafe extern "C-unwind" fn forget_owner(_arg: pg_sys::Datum, _cache: std::ffi::c_int, _hash: u32) {
    OWNER.with(|o| o.set(None));
}

/// Called once, when the library is loaded.
pub fn register_callbacks() {
    use pg_sys::SysCacheIdentifier::{PROCOID, RELOID, TYPEOID};
    for cache in [RELOID, PROCOID, TYPEOID] {
        // SAFETY: the registration of a static function that only clears a cell.
        unsafe {
            pg_sys::CacheRegisterSyscacheCallback(
                cache as std::ffi::c_int,
                Some(forget_owner),
                pg_sys::Datum::from(0),
            )
        };
    }
}

/// The owner in gym_booking's `pg_extension` row, found by name through the catalog's unique
/// index, as PostgreSQL's own `get_extension_oid()` finds the row.
fn extension_owner() -> RuleResult<pg_sys::Oid> {
    if let Some(owner) = OWNER.with(|o| o.get()) {
        return Ok(owner);
    }
    // SAFETY: a catalog index scan, as get_extension_oid() does; the tuple is read before
    // the scan ends.
    let owner = unsafe {
        let lock = pg_sys::AccessShareLock as pg_sys::LOCKMODE;
        let catalog = pg_sys::table_open(pg_sys::ExtensionRelationId, lock);
        let mut key: pg_sys::ScanKeyData = std::mem::zeroed();
        pg_sys::ScanKeyInit(
            &mut key,
            pg_sys::Anum_pg_extension_extname as pg_sys::AttrNumber,
            pg_sys::BTEqualStrategyNumber as pg_sys::StrategyNumber,
            pg_sys::Oid::from(pg_sys::F_NAMEEQ),
            pg_sys::Datum::from(c"gym_booking".as_ptr()),
        );
        let scan = pg_sys::systable_beginscan(
            catalog,
            pg_sys::Oid::from(pg_sys::ExtensionNameIndexId),
            true,
            std::ptr::null_mut(),
            1,
            &mut key,
        );
        let row = pg_sys::systable_getnext(scan);
        let owner = (!row.is_null()).then(|| {
            (*pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_extension>(row)).extowner
        });
        pg_sys::systable_endscan(scan);
        pg_sys::table_close(catalog, lock);
        owner
    }
    .ok_or_else(|| RuleError::Internal("gym_booking is not installed".into()))?;
    OWNER.with(|o| o.set(Some(owner)));
    Ok(owner)
}

impl AsOwner {
    fn enter() -> RuleResult<AsOwner> {
        let owner = extension_owner()?;
        let (mut user, mut context) = (pg_sys::InvalidOid, 0);
        // SAFETY: saves and switches the current user id, exactly as ri_triggers.c does.
        unsafe {
            pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
            pg_sys::SetUserIdAndSecContext(
                owner,
                context
                    | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32
                    | pg_sys::SECURITY_NOFORCE_RLS as i32,
            );
        }
        // SAFETY: a GUC nest level popped in Drop, as fmgr_security_definer does.
        let guc_level = (!search_path_is_pinned()).then(|| unsafe {
            let level = pg_sys::NewGUCNestLevel();
            pg_sys::set_config_option(
                c"search_path".as_ptr(),
                PINNED_SEARCH_PATH.as_ptr(),
                pg_sys::GucContext::PGC_USERSET,
                pg_sys::GucSource::PGC_S_SESSION,
                pg_sys::GucAction::GUC_ACTION_SAVE,
                true,
                0,
                false,
            );
            level
        });
        Ok(AsOwner {
            user,
            context,
            guc_level,
        })
    }
}

impl Drop for AsOwner {
    fn drop(&mut self) {
        // SAFETY: restores what enter() saved.
        unsafe {
            if let Some(level) = self.guc_level {
                pg_sys::AtEOXact_GUC(true, level);
            }
            pg_sys::SetUserIdAndSecContext(self.user, self.context);
        }
    }
}

fn prepared(client: &SpiClient<'_>, sql: &Sql) -> RuleResult<Rc<OwnedPreparedStatement>> {
    if let Some(plan) = PREPARED.with(|p| p.borrow().get(sql.text).cloned()) {
        return Ok(plan);
    }
    let types: Vec<PgOid> = sql.args.iter().map(|oid| PgOid::from(*oid)).collect();
    let plan = Rc::new(client.prepare_mut(sql.text, &types)?.keep());
    PREPARED.with(|p| p.borrow_mut().insert(sql.text, plan.clone()));
    Ok(plan)
}

/// Runs a query that only reads and hands its result to `read`. Read-only while the
/// transaction has no transaction id (pgrx's `select`), so no id is assigned for it; once the
/// transaction has written, it reads as the rules' other statements do, seeing those writes.
pub fn read<R>(
    sql: &Sql,
    args: &[DatumWithOid<'_>],
    read: impl FnOnce(SpiTupleTable<'_>) -> Result<R, pgrx::spi::Error>,
) -> RuleResult<R> {
    let _owner = AsOwner::enter()?;
    Spi::connect(|client| {
        let plan = match PREPARED_READS.with(|p| p.borrow().get(sql.text).cloned()) {
            Some(plan) => plan,
            None => {
                let types: Vec<PgOid> = sql.args.iter().map(|oid| PgOid::from(*oid)).collect();
                let plan = Rc::new(client.prepare(sql.text, &types)?.keep());
                PREPARED_READS.with(|p| p.borrow_mut().insert(sql.text, plan.clone()));
                plan
            }
        };
        let table = client.select(&*plan, None, args)?;
        Ok(read(table)?)
    })
}

/// Runs `sql` and hands its result to `read` (the plan's `Rc` is cloned out of the cache
/// first: the statement may fire triggers that use the cache again).
pub fn run<R>(
    sql: &Sql,
    args: &[DatumWithOid<'_>],
    read: impl FnOnce(SpiTupleTable<'_>) -> Result<R, pgrx::spi::Error>,
) -> RuleResult<R> {
    let _owner = AsOwner::enter()?;
    Spi::connect_mut(|client| {
        let plan = prepared(client, sql)?;
        let table = client.update(&*plan, None, args)?;
        Ok(read(table)?)
    })
}

/// Runs a statement for its effect; returns the number of rows it processed.
pub fn execute(sql: &Sql, args: &[DatumWithOid<'_>]) -> RuleResult<usize> {
    run(sql, args, |table| Ok(table.len()))
}

/// The first column of the first row, if there is a row.
pub fn one<T: FromDatum + IntoDatum>(
    sql: &Sql,
    args: &[DatumWithOid<'_>],
) -> RuleResult<Option<T>> {
    run(sql, args, |table| {
        if table.is_empty() {
            Ok(None)
        } else {
            table.first().get_one::<T>()
        }
    })
}

/// Runs `sql` on the latest committed state (and the transaction's own writes), returning
/// each row's columns as text (uuids, booleans: what the callers need). `tcount` 0: all rows.
/// A read-write execution, so an UPDATE, or a SELECT ... FOR UPDATE, may run so too: under
/// REPEATABLE READ it then finds rows committed after the transaction's snapshot (as
/// PostgreSQL's foreign-key checks do), which the rules must not miss.
pub fn latest(sql: &Sql, args: &[pgrx::Uuid], tcount: i64) -> RuleResult<Vec<Vec<Option<String>>>> {
    let _owner = AsOwner::enter()?;
    Spi::connect_mut(|_client| unsafe {
        let plan = match PREPARED_RAW.with(|p| p.borrow().get(sql.text).copied()) {
            Some(plan) => plan,
            None => {
                let text = CString::new(sql.text).expect("SQL without NUL bytes");
                let mut types = sql.args.to_vec();
                // SAFETY: SPI is connected; the plan is kept for the backend's lifetime.
                // A generic plan from the first run: these statements read rows by their
                // ids, where a plan made for each run's values is no better, and planning
                // the first runs (or every run, when PostgreSQL's estimate prefers custom
                // plans for a larger statement) cost more than the statement.
                let plan = pg_sys::SPI_prepare_cursor(
                    text.as_ptr(),
                    types.len() as i32,
                    types.as_mut_ptr(),
                    pg_sys::CURSOR_OPT_GENERIC_PLAN as std::ffi::c_int,
                );
                if plan.is_null() || pg_sys::SPI_keepplan(plan) != 0 {
                    return Err(RuleError::Internal(format!(
                        "could not prepare {}",
                        sql.text
                    )));
                }
                PREPARED_RAW.with(|p| p.borrow_mut().insert(sql.text, plan));
                plan
            }
        };
        let mut values: Vec<pg_sys::Datum> = args
            .iter()
            .map(|arg| arg.into_datum().expect("a uuid datum"))
            .collect();
        let nulls = vec![b' ' as std::ffi::c_char; args.len()];
        // SAFETY: SPI is connected; read-write so the command counter advances and the
        // transaction's own writes are seen; the latest snapshot sees every committed row.
        let rc = pg_sys::SPI_execute_snapshot(
            plan,
            values.as_mut_ptr(),
            nulls.as_ptr(),
            pg_sys::GetLatestSnapshot(),
            std::ptr::null_mut(),
            false,
            true,
            tcount,
        );
        if rc < 0 {
            return Err(RuleError::Internal(format!("{} returned {rc}", sql.text)));
        }
        let table = pg_sys::SPI_tuptable;
        let mut rows = Vec::new();
        if !table.is_null() {
            let natts = (*(*table).tupdesc).natts;
            for i in 0..pg_sys::SPI_processed as usize {
                let tuple = *(*table).vals.add(i);
                let mut row = Vec::new();
                for col in 1..=natts {
                    let text = pg_sys::SPI_getvalue(tuple, (*table).tupdesc, col);
                    row.push((!text.is_null()).then(|| {
                        std::ffi::CStr::from_ptr(text)
                            .to_string_lossy()
                            .into_owned()
                    }));
                }
                rows.push(row);
            }
        }
        Ok(rows)
    })
}

/// An `int8` computed by `sql` (a count, an exists as 0/1) on the latest committed state.
pub fn latest_i64(sql: &Sql, args: &[pgrx::Uuid]) -> RuleResult<i64> {
    let rows = latest(sql, args, 1)?;
    let value = rows.first().and_then(|r| r.first()).cloned().flatten();
    value
        .ok_or_else(|| RuleError::Internal(format!("{} returned no row", sql.text)))?
        .parse::<i64>()
        .map_err(|e| RuleError::Internal(e.to_string()))
}

//! Reading and editing the rows a trigger sees, by column name, for any column type.
//!
//! Triggers need a handful of typed values (uuid, bool, timestamptz) and, for the audit log and
//! enum columns, a value's text as the type's own output function writes it. Edits are
//! collected and applied at once with `heap_modify_tuple_by_cols`, so a BEFORE trigger returns
//! one new tuple however many columns it sets.

use std::ffi::{CStr, CString};
use std::num::NonZeroUsize;

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::errors::{RuleError, RuleResult};

/// One heap tuple together with the descriptor of its relation.
#[derive(Clone, Copy)]
pub struct Row {
    tuple: pg_sys::HeapTuple,
    desc: pg_sys::TupleDesc,
}

/// The value of one column, as stored.
#[derive(Clone, Copy)]
pub struct Cell {
    pub datum: Option<pg_sys::Datum>,
    pub attr: &'static pg_sys::FormData_pg_attribute,
}

impl Row {
    /// # Safety
    /// `tuple` and `desc` must be valid for as long as the `Row` is used (a trigger's tuples
    /// and its relation's descriptor are, for the duration of the trigger call).
    pub unsafe fn new(tuple: pg_sys::HeapTuple, desc: pg_sys::TupleDesc) -> Row {
        Row { tuple, desc }
    }

    /// The columns of the row, in table order, without dropped ones.
    pub fn columns(&self) -> impl Iterator<Item = (usize, &'static pg_sys::FormData_pg_attribute)> {
        let desc = self.desc;
        // SAFETY: desc is a valid descriptor (Row::new's contract); attrs has natts entries.
        let natts = unsafe { (*desc).natts } as usize;
        (0..natts).filter_map(move |i| {
            let attr: &'static pg_sys::FormData_pg_attribute =
                unsafe { &*(*desc).attrs.as_ptr().add(i) };
            (!attr.is_dropped()).then_some((i + 1, attr))
        })
    }

    fn attnum(&self, name: &str) -> RuleResult<(usize, &'static pg_sys::FormData_pg_attribute)> {
        self.columns()
            .find(|(_, attr)| attr.name() == name)
            .ok_or_else(|| RuleError::Internal(format!("no column {name}")))
    }

    /// Whether the row's table has the column (a database not yet updated may lack it).
    pub fn has(&self, name: &str) -> bool {
        self.attnum(name).is_ok()
    }

    pub fn cell_at(&self, attnum: usize, attr: &'static pg_sys::FormData_pg_attribute) -> Cell {
        let attno = NonZeroUsize::new(attnum).expect("attribute numbers start at 1");
        // SAFETY: valid tuple and descriptor (Row::new's contract), attno within natts.
        let datum = unsafe { pgrx::heap_getattr_raw(self.tuple, attno, self.desc) };
        Cell { datum, attr }
    }

    pub fn cell(&self, name: &str) -> RuleResult<Cell> {
        let (attnum, attr) = self.attnum(name)?;
        Ok(self.cell_at(attnum, attr))
    }

    pub fn get<T: FromDatum>(&self, name: &str) -> RuleResult<Option<T>> {
        let cell = self.cell(name)?;
        // SAFETY: the datum comes from this column, whose type the caller names by T.
        Ok(cell
            .datum
            .and_then(|d| unsafe { T::from_polymorphic_datum(d, false, cell.attr.atttypid) }))
    }

    /// A uuid column the rules need. NULL is the writer's mistake (the column is NOT NULL,
    /// but BEFORE triggers run before that is checked): refused as PostgreSQL would.
    pub fn uuid(&self, name: &str) -> RuleResult<pgrx::Uuid> {
        self.get::<pgrx::Uuid>(name)?
            .ok_or_else(|| RuleError::NullValue {
                column: name.to_string(),
                table: self.table_name(),
            })
    }

    /// The name of the row's table.
    pub fn table_name(&self) -> String {
        // SAFETY: the descriptor's type is the relation's row type; get_rel_name reads the
        // catalog (NULL for a descriptor that is not a relation's).
        unsafe {
            let relid = pg_sys::typeidTypeRelid((*self.desc).tdtypeid);
            let name = pg_sys::get_rel_name(relid);
            if name.is_null() {
                return "?".into();
            }
            CStr::from_ptr(name).to_string_lossy().into_owned()
        }
    }

    pub fn is_null(&self, name: &str) -> RuleResult<bool> {
        Ok(self.cell(name)?.datum.is_none())
    }

    /// A timestamptz as PostgreSQL stores it: microseconds since 2000-01-01 UTC.
    pub fn micros(&self, name: &str) -> RuleResult<Option<i64>> {
        Ok(self.cell(name)?.datum.map(|d| d.value() as i64))
    }

    /// The column's value as its type's output function writes it (enums give their label).
    pub fn text(&self, name: &str) -> RuleResult<Option<String>> {
        Ok(self.cell(name)?.text())
    }

    /// Whether a column holds the same value in both rows (binary equality, as PostgreSQL
    /// itself decides what an UPDATE changed).
    pub fn same(&self, other: &Row, name: &str) -> RuleResult<bool> {
        Ok(self.cell(name)?.same(&other.cell(name)?))
    }
}

impl Cell {
    pub fn text(&self) -> Option<String> {
        self.datum.map(|datum| unsafe {
            // SAFETY: the datum belongs to a column of type atttypid.
            let mut output: pg_sys::Oid = pg_sys::InvalidOid;
            let mut is_varlena = false;
            pg_sys::getTypeOutputInfo(self.attr.atttypid, &mut output, &mut is_varlena);
            let cstr = pg_sys::OidOutputFunctionCall(output, datum);
            let text = CStr::from_ptr(cstr).to_string_lossy().into_owned();
            pg_sys::pfree(cstr.cast());
            text
        })
    }

    pub fn same(&self, other: &Cell) -> bool {
        match (self.datum, other.datum) {
            (None, None) => true,
            // SAFETY: both datums are of this column's type, described by attr.
            (Some(a), Some(b)) => unsafe { datum_bytes_equal(a, b, self.attr) },
            _ => false,
        }
    }

    /// The value as JSON for the audit log: booleans and integers as themselves, jsonb as
    /// JSON, everything else as its text.
    pub fn json(&self) -> serde_json::Value {
        use serde_json::Value;
        let Some(text) = self.text() else {
            return Value::Null;
        };
        match self.attr.atttypid {
            pg_sys::BOOLOID => Value::Bool(text == "t"),
            pg_sys::INT2OID | pg_sys::INT4OID | pg_sys::INT8OID => text
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::String(text)),
            pg_sys::JSONBOID | pg_sys::JSONOID => {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            }
            // ISO 8601 in UTC, whatever the writer's DateStyle and TimeZone.
            pg_sys::TIMESTAMPTZOID => self
                .datum
                .map(|d| Value::String(iso_utc(d.value() as i64)))
                .unwrap_or(Value::Null),
            _ => Value::String(text),
        }
    }
}

/// Binary equality of two values of one column, as PostgreSQL's `datumIsEqual` decides it:
/// by value for pass-by-value types, byte for byte otherwise (a value moved to TOAST storage
/// compares unequal to its inline self, which only makes a change look like one).
unsafe fn datum_bytes_equal(
    a: pg_sys::Datum,
    b: pg_sys::Datum,
    attr: &pg_sys::FormData_pg_attribute,
) -> bool {
    if attr.attbyval {
        return a == b;
    }
    let size = |d: pg_sys::Datum| -> usize {
        let ptr = d.cast_mut_ptr::<u8>();
        match attr.attlen {
            n if n > 0 => n as usize,
            -1 => pgrx::varlena::varsize_any(ptr.cast()),
            _ => std::ffi::CStr::from_ptr(ptr.cast())
                .to_bytes_with_nul()
                .len(),
        }
    };
    let (len_a, len_b) = (size(a), size(b));
    len_a == len_b
        && std::slice::from_raw_parts(a.cast_mut_ptr::<u8>(), len_a)
            == std::slice::from_raw_parts(b.cast_mut_ptr::<u8>(), len_b)
}

/// Column changes a BEFORE trigger makes to its NEW row, applied all at once.
#[derive(Default)]
pub struct RowEdit {
    changes: Vec<(usize, Option<pg_sys::Datum>)>,
}

impl RowEdit {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn set<T: IntoDatum>(&mut self, row: &Row, name: &str, value: Option<T>) -> RuleResult<()> {
        let (attnum, _) = row.attnum(name)?;
        self.changes
            .push((attnum, value.and_then(IntoDatum::into_datum)));
        Ok(())
    }

    /// Sets a timestamptz column from microseconds since 2000-01-01 UTC.
    pub fn set_micros(&mut self, row: &Row, name: &str, micros: i64) -> RuleResult<()> {
        let (attnum, _) = row.attnum(name)?;
        self.changes
            .push((attnum, Some(pg_sys::Datum::from(micros))));
        Ok(())
    }

    /// Sets any column from text, through its type's input function (citext, enums, jsonb...).
    pub fn set_text(&mut self, row: &Row, name: &str, text: Option<&str>) -> RuleResult<()> {
        let (attnum, attr) = row.attnum(name)?;
        let datum = match text {
            None => None,
            Some(text) => {
                let cstr = CString::new(text)
                    .map_err(|_| RuleError::Internal(format!("NUL byte in a value for {name}")))?;
                Some(unsafe {
                    // SAFETY: input function of the column's own type, with its typmod.
                    let mut input: pg_sys::Oid = pg_sys::InvalidOid;
                    let mut ioparam: pg_sys::Oid = pg_sys::InvalidOid;
                    pg_sys::getTypeInputInfo(attr.atttypid, &mut input, &mut ioparam);
                    pg_sys::OidInputFunctionCall(
                        input,
                        cstr.as_ptr() as *mut _,
                        ioparam,
                        attr.atttypmod,
                    )
                })
            }
        };
        self.changes.push((attnum, datum));
        Ok(())
    }

    /// Copies a column's value from another row of the same table (to undo a client's change).
    pub fn keep(&mut self, new: &Row, old: &Row, name: &str) -> RuleResult<()> {
        let (attnum, _) = new.attnum(name)?;
        self.changes.push((attnum, old.cell(name)?.datum));
        Ok(())
    }

    /// The edited tuple, newly allocated; the row itself is left as it was.
    pub fn apply(&self, row: &Row) -> pg_sys::HeapTuple {
        let cols: Vec<i32> = self.changes.iter().map(|(n, _)| *n as i32).collect();
        let mut values: Vec<pg_sys::Datum> = self
            .changes
            .iter()
            .map(|(_, d)| d.unwrap_or(pg_sys::Datum::from(0)))
            .collect();
        let mut nulls: Vec<bool> = self.changes.iter().map(|(_, d)| d.is_none()).collect();
        // SAFETY: columns, values and nulls have the same length; the row is valid.
        unsafe {
            pg_sys::heap_modify_tuple_by_cols(
                row.tuple,
                row.desc,
                cols.len() as i32,
                cols.as_ptr() as *mut i32,
                values.as_mut_ptr(),
                nulls.as_mut_ptr(),
            )
        }
    }
}

/// The rules' clock: `statement_timestamp()`, the start of the client's statement that asks
/// (never the transaction's start: a transaction opened an hour ago must not book a slot that
/// has started since), in microseconds since 2000-01-01 UTC. Every statement a rule runs
/// uses `statement_timestamp()` too, so a rule and its SQL agree on the time.
pub fn statement_now() -> i64 {
    // SAFETY: reads the current statement's start time, always set inside a transaction.
    unsafe { pg_sys::GetCurrentStatementStartTimestamp() }
}

pub const MICROS_PER_MINUTE: i64 = 60_000_000;

/// PostgreSQL's `END_TIMESTAMP` (294277-01-01 00:00 UTC): every finite timestamptz it can
/// store, print and read back is before it.
pub const END_OF_TIMESTAMPS: i64 = 9_223_371_331_200_000_000;

/// A timestamptz (microseconds since 2000-01-01 UTC) as ISO 8601 in UTC.
pub fn iso_utc(micros: i64) -> String {
    match micros {
        i64::MAX => return "infinity".into(),
        i64::MIN => return "-infinity".into(),
        _ => {}
    }
    const MICROS_PER_DAY: i64 = 86_400_000_000;
    let (days, micros_of_day) = (
        micros.div_euclid(MICROS_PER_DAY),
        micros.rem_euclid(MICROS_PER_DAY),
    );
    // Days since 2000-01-01 to a civil date (Howard Hinnant's days_from_civil, inverted).
    let z = days + 10_957 + 719_468; // 2000-01-01 is day 10957 of the Unix epoch
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let secs = micros_of_day / 1_000_000;
    let frac = micros_of_day % 1_000_000;
    let time = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    let frac = if frac == 0 {
        String::new()
    } else {
        format!(".{frac:06}")
    };
    format!("{year:04}-{month:02}-{day:02}T{time}{frac}Z")
}

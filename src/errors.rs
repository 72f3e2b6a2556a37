//! Every refusal a rule can make, each with its own SQLSTATE.
//!
//! Only PostgreSQL's predefined codes are used: pgrx re-raises an error caught inside SPI
//! with its code only when it knows that code, and a trigger's error often passes through
//! another trigger's SPI call on its way to the client. PostgREST turns each code into an
//! HTTP status (README, "Errors"): 42501 is 403 (401 for anon), the rest here are 400.

use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::PgSqlErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// 23P01: the slot's reserved bookings already fill its capacity.
    #[error("this slot is full")]
    SlotFull { capacity: i16 },

    /// 27000: an athlete cancels within the studio's cancellation window (60 minutes unless
    /// changed) before the start.
    #[error("too late to cancel: bookings can be cancelled until {window} before the start")]
    TooLateToCancel { start_at: String, window: String },

    /// 23000: the slot is cancelled or has started (or the athlete's account is gone).
    #[error("this slot cannot be booked: {reason}")]
    NotBookable { reason: &'static str },

    /// 23001: a change that rows depending on this one restrict (a slot's bookings, a
    /// trainer's slots), or a removal of what is kept for good.
    #[error("{what}")]
    Restricted { what: String, hint: &'static str },

    /// 22023: a value or a change that is not valid, whoever asks.
    #[error("{message}")]
    InvalidInput {
        message: String,
        detail: Option<String>,
        hint: Option<&'static str>,
    },

    /// 42501: the caller may not do this.
    #[error("{message}")]
    NotAllowed {
        message: String,
        hint: Option<&'static str>,
    },

    /// 23505: an id that named something else before (a deleted slot's): ids are never reused.
    #[error("{what} {id} existed before: ids are never reused")]
    IdReused { what: &'static str, id: String },

    /// 54000: one request asks for more than the rules let one request make.
    #[error("{message}")]
    TooMany { message: String, hint: &'static str },

    /// 23502: a column the rules need is NULL (the column's NOT NULL says the same, later).
    #[error(
        "null value in column \"{column}\" of relation \"{table}\" violates not-null constraint"
    )]
    NullValue { column: String, table: String },

    /// 22008: a time the rules compute falls outside what PostgreSQL can store.
    #[error("{message}")]
    OutOfRange { message: String },

    /// 44000: booking (or joining the waitlist of) this slot has not opened yet.
    #[error("booking for this slot has not opened yet")]
    NotOpenYet { at: String },

    /// 22000: booking (or joining the waitlist of) this slot has closed.
    #[error("booking for this slot has closed")]
    Closed { at: String },

    /// 21000: the athlete already holds as many upcoming bookings as the studio allows.
    #[error("you already hold as many upcoming bookings as this studio allows ({limit})")]
    LimitReached { held: i64, limit: i32 },

    /// 23P01: the slot's free places are held for athletes on its waitlist.
    #[error("this slot is full")]
    HeldForWaitlist { waiting: i64 },

    /// 23P01: as many athletes wait for this slot as the studio allows.
    #[error("this slot's waitlist is full")]
    WaitlistFull { max: i32 },

    /// 28000: the athlete is suspended from booking after repeated no-shows (DESIGN.md,
    /// "Attendance"); `detail` says until when. PostgREST answers 403.
    #[error("you are suspended from booking after repeated no-shows")]
    Suspended { detail: String },

    /// 42704: the API names something that does not exist (or the caller cannot see).
    #[error("{what} not found")]
    NotFound { what: String },

    /// 0A000: the studio has switched this off.
    #[error("{message}")]
    Unsupported { message: String },

    /// 55P03: a change that holds a booking found its slot (or athlete) locked by another
    /// change for longer than it may wait out of lock order (see `rules::lock_order`).
    #[error("{message}")]
    Busy { message: String, hint: &'static str },

    /// 40001: a REPEATABLE READ or SERIALIZABLE transaction's snapshot misses a row the change
    /// must reach (a booking committed after it began): retry, as PostgreSQL's own.
    #[error("{message}")]
    Serialization { message: String },

    /// 22P02: the JWT claims in the request settings cannot be read (as `auth.uid()` fails).
    #[error("{0}")]
    BadClaims(String),

    /// XX000: a query the rules run failed in a way that is a bug, not a refusal.
    #[error("internal error in gym_booking: {0}")]
    Internal(String),
}

impl RuleError {
    pub fn invalid(message: impl Into<String>) -> Self {
        RuleError::InvalidInput {
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    pub fn not_allowed(message: impl Into<String>) -> Self {
        RuleError::NotAllowed {
            message: message.into(),
            hint: None,
        }
    }

    pub fn sqlstate(&self) -> PgSqlErrorCode {
        use PgSqlErrorCode::*;
        match self {
            RuleError::SlotFull { .. } => ERRCODE_EXCLUSION_VIOLATION,
            RuleError::TooLateToCancel { .. } => ERRCODE_TRIGGERED_DATA_CHANGE_VIOLATION,
            RuleError::NotBookable { .. } => ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION,
            RuleError::Restricted { .. } => ERRCODE_RESTRICT_VIOLATION,
            RuleError::InvalidInput { .. } => ERRCODE_INVALID_PARAMETER_VALUE,
            RuleError::NotAllowed { .. } => ERRCODE_INSUFFICIENT_PRIVILEGE,
            RuleError::IdReused { .. } => ERRCODE_UNIQUE_VIOLATION,
            RuleError::OutOfRange { .. } => ERRCODE_DATETIME_FIELD_OVERFLOW,
            RuleError::TooMany { .. } => ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            RuleError::Busy { .. } => ERRCODE_LOCK_NOT_AVAILABLE,
            RuleError::Serialization { .. } => ERRCODE_T_R_SERIALIZATION_FAILURE,
            RuleError::NotOpenYet { .. } => ERRCODE_WITH_CHECK_OPTION_VIOLATION,
            RuleError::Closed { .. } => ERRCODE_DATA_EXCEPTION,
            RuleError::LimitReached { .. } => ERRCODE_CARDINALITY_VIOLATION,
            RuleError::HeldForWaitlist { .. } | RuleError::WaitlistFull { .. } => {
                ERRCODE_EXCLUSION_VIOLATION
            }
            RuleError::Suspended { .. } => ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
            RuleError::NotFound { .. } => ERRCODE_UNDEFINED_OBJECT,
            RuleError::Unsupported { .. } => ERRCODE_FEATURE_NOT_SUPPORTED,
            RuleError::NullValue { .. } => ERRCODE_NOT_NULL_VIOLATION,
            RuleError::BadClaims(_) => ERRCODE_INVALID_TEXT_REPRESENTATION,
            RuleError::Internal(_) => ERRCODE_INTERNAL_ERROR,
        }
    }
}

impl From<pgrx::spi::Error> for RuleError {
    fn from(e: pgrx::spi::Error) -> Self {
        RuleError::Internal(e.to_string())
    }
}

impl From<pgrx::datum::TryFromDatumError> for RuleError {
    fn from(e: pgrx::datum::TryFromDatumError) -> Self {
        RuleError::Internal(e.to_string())
    }
}

impl From<RuleError> for ErrorReport {
    fn from(e: RuleError) -> Self {
        let report = ErrorReport::new(e.sqlstate(), e.to_string(), "gym_booking");
        match e {
            RuleError::SlotFull { capacity } => report
                .set_detail(match capacity {
                    1 => "Its one place is reserved.".to_string(),
                    n => format!("All {n} places are reserved."),
                })
                .set_hint("Choose another slot, or try again if someone cancels."),
            RuleError::TooLateToCancel { start_at, .. } => report
                .set_detail(format!("The slot starts at {start_at}."))
                .set_hint("Ask the gym: an admin can still cancel it."),
            RuleError::NotBookable { .. } => report,
            RuleError::Restricted { hint, .. } => report.set_hint(hint),
            RuleError::InvalidInput { detail, hint, .. } => {
                let report = match detail {
                    Some(d) => report.set_detail(d),
                    None => report,
                };
                match hint {
                    Some(h) => report.set_hint(h),
                    None => report,
                }
            }
            RuleError::NotAllowed { hint: Some(h), .. } => report.set_hint(h),
            RuleError::IdReused { .. } => {
                report.set_hint("Leave the id out: the database gives a new row its own.")
            }
            RuleError::TooMany { hint, .. } | RuleError::Busy { hint, .. } => report.set_hint(hint),
            RuleError::NullValue { .. } => report,
            RuleError::Serialization { .. } => report.set_hint("Retry the transaction."),
            RuleError::NotOpenYet { at } => report
                .set_detail(format!("Booking opens at {at}."))
                .set_hint("Book it once booking has opened."),
            RuleError::Closed { at } => report
                .set_detail(format!("Booking closed at {at}."))
                .set_hint("Choose a later slot."),
            RuleError::LimitReached { held, limit } => report
                .set_detail(format!(
                    "You hold {held} upcoming booking{}; the studio allows {limit}.",
                    if held == 1 { "" } else { "s" }
                ))
                .set_hint(
                    "Cancel one of your upcoming bookings, or book after one has taken place.",
                ),
            RuleError::HeldForWaitlist { waiting } => report
                .set_detail(match waiting {
                    1 => "Its free place is held for the athlete on its waitlist.".to_string(),
                    n => format!("Its free places are held for the {n} athletes on its waitlist."),
                })
                .set_hint("Join the waitlist with gym_booking.join_waitlist()."),
            RuleError::WaitlistFull { max } => report
                .set_detail(match max {
                    1 => "1 athlete is waiting, the most this studio allows.".to_string(),
                    n => format!("{n} athletes are waiting, the most this studio allows."),
                })
                .set_hint("Choose another slot."),
            RuleError::Suspended { detail } => report
                .set_detail(detail)
                .set_hint("Book again once the suspension is over; the gym may excuse a no-show."),
            RuleError::NotFound { .. } | RuleError::Unsupported { .. } => report,
            RuleError::OutOfRange { .. } => {
                report.set_hint("Give a start_at before the year 294276.")
            }
            RuleError::BadClaims(_) => {
                report.set_hint("Send a valid JWT: its sub claim must be the user's uuid.")
            }
            RuleError::NotAllowed { hint: None, .. } | RuleError::Internal(_) => report,
        }
    }
}

pub type RuleResult<T> = Result<T, RuleError>;

/// A function that writes, called in a read-only transaction (on a hot standby, say): refused
/// with PostgreSQL's own 25006, as a plain UPDATE would be, before it takes any lock (a row
/// lock on a standby is an internal error).
pub fn refuse_if_read_only(what: &std::ffi::CStr) {
    // SAFETY: raises an ERROR in a read-only transaction; returns otherwise.
    unsafe { pg_sys::PreventCommandIfReadOnly(what.as_ptr()) }
}

/// Raises a refusal as a PostgreSQL ERROR with its SQLSTATE, DETAIL and HINT.
pub fn raise(e: RuleError) -> ! {
    ErrorReport::from(e).report(pgrx::PgLogLevel::ERROR);
    unreachable!("an ERROR does not return")
}

/// Errors reach clients with PostgreSQL's own message, DETAIL and HINT only. pgrx appends a
/// Rust backtrace to the DETAIL of an error it carries across Rust frames (a lock timeout or
/// a cancellation inside a rule's query) whenever `std::backtrace::Backtrace::capture` is
/// enabled, which `RUST_BACKTRACE` in the server's environment does; `RUST_LIB_BACKTRACE=0`
/// disables those captures (panic messages are not affected) in this process and in the
/// backends a preloading postmaster starts. Called first thing when the library loads, before
/// anything could capture (the setting is read once per process).
pub fn no_rust_backtraces() {
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
}

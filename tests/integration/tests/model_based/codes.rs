//! The SQLSTATEs of the refusals the model expects (README, "Errors").

pub const FULL: &str = "23P01";
pub const TOO_LATE: &str = "27000";
pub const NOT_BOOKABLE: &str = "23000";
pub const RESTRICTED: &str = "23001";
pub const INVALID: &str = "22023";
pub const NOT_ALLOWED: &str = "42501";
pub const NOT_FOUND: &str = "42704";
pub const DUPLICATE: &str = "23505";
pub const NO_SUCH_ROW: &str = "23503";
pub const BAD_CLAIMS: &str = "22P02";
pub const CHECK: &str = "23514";
/// A required argument NULL (null_value_not_allowed).
pub const NULL_ARG: &str = "22004";
// Refusals of 0.2.0 (docs/studio-week.md).
/// Before the booking window opens (with_check_option_violation).
pub const NOT_OPEN: &str = "44000";
/// After the booking window closed (data_exception).
pub const CLOSED: &str = "22000";
/// At `max_upcoming_bookings` (cardinality_violation).
pub const LIMIT: &str = "21000";
/// Waitlists switched off (feature_not_supported).
pub const WAITLIST_OFF: &str = "0A000";
// Refusals of 0.2.2 (attendance).
/// Suspended from booking and joining after repeated no-shows
/// (invalid_authorization_specification).
pub const SUSPENDED: &str = "28000";
/// Every SQLSTATE a refusal may have; anything else (XX000, 40P01, ...) is a bug.
pub const DOCUMENTED: [&str; 17] = [
    FULL,
    TOO_LATE,
    NOT_BOOKABLE,
    RESTRICTED,
    INVALID,
    NOT_ALLOWED,
    NOT_FOUND,
    DUPLICATE,
    NO_SUCH_ROW,
    BAD_CLAIMS,
    CHECK,
    NOT_OPEN,
    CLOSED,
    LIMIT,
    WAITLIST_OFF,
    NULL_ARG,
    SUSPENDED,
];

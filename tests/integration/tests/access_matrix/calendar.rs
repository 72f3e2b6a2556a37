//! The access matrix of release 0.2.1: calendar tokens (nobody's to read or write but through
//! the API) and calendar feeds (anyone with a token; a wrong one gets the empty calendar).
//! Same callers, seed and runner as the parent file; the seed has no token.

use super::{checked, line, Line, ALL_DENIED, CALENDAR_TOKENS, DENIED};
use gym_booking_integration::access::Expect::{Refused, Rows, Writes};

/// The calendar_tokens table: no client role reads or writes it, whatever row-level security
/// would allow (it has no policy and no grant).
pub(crate) fn tables() -> Vec<Line> {
    vec![
        line(
            "GET",
            "/calendar_tokens",
            "SELECT user_id FROM gym_booking.calendar_tokens",
            ALL_DENIED,
        ),
        line(
            "GET",
            "/calendar_tokens?select=token_hash",
            "SELECT encode(token_hash, 'hex') FROM gym_booking.calendar_tokens",
            ALL_DENIED,
        ),
        line(
            "POST",
            "/calendar_tokens",
            "INSERT INTO gym_booking.calendar_tokens (user_id, token_hash)
             VALUES ({me}, sha256('chosen'::bytea)) RETURNING user_id",
            ALL_DENIED,
        ),
        line(
            "PATCH",
            "/calendar_tokens",
            "UPDATE gym_booking.calendar_tokens SET token_hash = sha256('chosen'::bytea)
             RETURNING user_id",
            ALL_DENIED,
        ),
        line(
            "DELETE",
            "/calendar_tokens",
            "DELETE FROM gym_booking.calendar_tokens RETURNING user_id",
            ALL_DENIED,
        ),
    ]
}

/// The calendar API: tokens for a signed-in person, the feed for anyone, the renderer for
/// no client.
pub(crate) fn api() -> Vec<Line> {
    vec![
        // A token for every signed-in person (a trainer, the admin too); none for anon or the
        // back office without a sub (it names no person).
        checked(
            "POST",
            "/rpc/calendar_token",
            "SELECT length(gym_booking.calendar_token())",
            [
                DENIED,
                Writes(&["64"], &[CALENDAR_TOKENS]),
                Writes(&["64"], &[CALENDAR_TOKENS]),
                Writes(&["64"], &[CALENDAR_TOKENS]),
                Writes(&["64"], &[CALENDAR_TOKENS]),
                Writes(&["64"], &[CALENDAR_TOKENS]),
                Refused("42501"),
            ],
            "SELECT count(*) = 1 AND bool_and(user_id = {me}) FROM gym_booking.calendar_tokens",
        ),
        // Nothing to revoke in the seed: false, nothing changed.
        line(
            "POST",
            "/rpc/revoke_calendar_token",
            "SELECT gym_booking.revoke_calendar_token()",
            [
                DENIED,
                Rows(&["false"]),
                Rows(&["false"]),
                Rows(&["false"]),
                Rows(&["false"]),
                Rows(&["false"]),
                Refused("42501"),
            ],
        ),
        // Anyone may fetch a feed; a wrong token gets a calendar with nothing in it.
        line(
            "GET",
            "/rpc/calendar_feed?token=wrong",
            "SELECT gym_booking.calendar_feed('wrong') = E'BEGIN:VCALENDAR\\r\\nVERSION:2.0\\r\\n'
                    || E'PRODID:-//gym_booking//gym_booking 0.2//EN\\r\\nCALSCALE:GREGORIAN\\r\\n'
                    || E'X-WR-CALNAME:gym_booking\\r\\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\\r\\n'
                    || E'X-PUBLISHED-TTL:PT1H\\r\\nEND:VCALENDAR\\r\\n'",
            [Rows(&["true"]); 7],
        ),
        line(
            "GET",
            "/rpc/calendar_feed",
            "SELECT gym_booking.calendar_feed(NULL) LIKE 'BEGIN:VCALENDAR%END:VCALENDAR%'",
            [Rows(&["true"]); 7],
        ),
        // The renderer is the feed's; no client calls it.
        line(
            "POST",
            "/rpc/calendar_render",
            "SELECT gym_booking.calendar_render('[]')",
            ALL_DENIED,
        ),
    ]
}

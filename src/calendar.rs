//! Calendar feeds (0.2.1): a secret token per person, and the RFC 5545 calendar a calendar
//! app subscribes to with it (README, "Calendar feeds").
//!
//! The token functions write (they are Rust for PostgreSQL's strong random source and the
//! standby check); the feed itself is SQL (`sql/calendar.sql`: `calendar_feed`), which reads
//! the rows by index and hands them, as one JSON array, to [`calendar_render`] here, which
//! writes the text with the `icalendar` crate (line folding, TEXT escaping and UTC times are
//! the crate's).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component, EventLike, EventStatus, Property};
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::errors::{raise, RuleError, RuleResult};
use crate::identity;
use crate::plans::{self, Sql};
use crate::rules::lock_order;

/// Every feed has this name, whoever it belongs to: a name would tell whose feed a token opens.
const CALENDAR_NAME: &str = "gym_booking";
const PRODUCT_ID: &str = "-//gym_booking//gym_booking 0.2//EN";
/// How often a subscribed calendar app should fetch the feed again.
const REFRESH: &str = "PT1H";
/// 256 bits.
const TOKEN_BYTES: usize = 32;

// The token's hash is computed by SQL on both sides (here and in calendar_feed), so the two
// can never disagree about how a token is hashed. Stored only for an account not deleted, as
// read after the caller's row is locked: a deletion that committed while this call waited for
// the row leaves no token behind.
static STORE_TOKEN: Sql = Sql {
    text: "INSERT INTO gym_booking.calendar_tokens AS t (user_id, token_hash, created_at)
           SELECT u.id, pg_catalog.sha256(pg_catalog.convert_to($2, 'UTF8')), statement_timestamp()
             FROM gym_booking.users AS u WHERE u.id = $1 AND u.deleted_at IS NULL
           ON CONFLICT (user_id) DO UPDATE
              SET token_hash = excluded.token_hash, created_at = excluded.created_at
           RETURNING t.user_id",
    args: &[pg_sys::UUIDOID, pg_sys::TEXTOID],
};

static FORGET_TOKEN: Sql = Sql {
    text: "DELETE FROM gym_booking.calendar_tokens WHERE user_id = $1 RETURNING user_id",
    args: &[pg_sys::UUIDOID],
};

/// Whether this database's gym_booking has calendar feeds (0.2.1 or later): the library
/// serves databases not yet updated too (see `rules::settings::installed`).
pub fn installed() -> bool {
    // SAFETY: syscache look-ups by name; a missing schema or table answers InvalidOid.
    unsafe {
        let schema = pg_sys::get_namespace_oid(c"gym_booking".as_ptr(), true);
        schema != pg_sys::InvalidOid
            && pg_sys::get_relname_relid(c"calendar_tokens".as_ptr(), schema) != pg_sys::InvalidOid
    }
}

fn refused(what: &str) -> RuleError {
    RuleError::NotAllowed {
        message: format!("sign in to {what}"),
        hint: Some("Call it with the JWT of an active account."),
    }
}

/// The signed-in caller's active account id, or 42501 (as the other API functions refuse).
fn active_caller(what: &str) -> RuleResult<pgrx::Uuid> {
    match identity::account()? {
        Some(account) if account.active => Ok(account.id),
        _ => Err(refused(what)),
    }
}

/// 256 bits from PostgreSQL's strong random source (OpenSSL's, or /dev/urandom), as 64
/// lowercase hex digits: safe in a URL as it is.
fn new_secret() -> RuleResult<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    // SAFETY: fills exactly `bytes.len()` bytes of a buffer we own.
    let filled = unsafe { pg_sys::pg_strong_random(bytes.as_mut_ptr().cast(), bytes.len()) };
    if !filled {
        return Err(RuleError::Internal(
            "no strong random source for a calendar token".into(),
        ));
    }
    Ok(bytes.iter().fold(String::with_capacity(64), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    }))
}

fn issue_token() -> RuleResult<String> {
    let me = active_caller("get a calendar token")?;
    // The lock order: the caller's users row first (the token's foreign key needs it, and an
    // account deletion in flight holds it: a token never outlives the deletion it waited for).
    lock_order::lock_writer()?;
    let secret = new_secret()?;
    if plans::execute(&STORE_TOKEN, &[me.into(), secret.as_str().into()])? == 0 {
        // The account was deleted while this call waited for it.
        return Err(refused("get a calendar token"));
    }
    Ok(secret)
}

/// An account's deletion closes its calendar feed (the cascade in `rules::users`).
pub fn forget_token_of(user: pgrx::Uuid) -> RuleResult<()> {
    if installed() {
        plans::execute(&FORGET_TOKEN, &[user.into()])?;
    }
    Ok(())
}

fn forget_token() -> RuleResult<bool> {
    let me = active_caller("revoke your calendar token")?;
    lock_order::lock_writer()?;
    Ok(plans::execute(&FORGET_TOKEN, &[me.into()])? > 0)
}

/// The caller's new secret calendar token, shown this once (only its hash is kept). Every
/// call makes a new one: the previous token stops working at once.
#[pg_extern(volatile, strict, parallel_unsafe)]
fn calendar_token() -> String {
    crate::errors::refuse_if_read_only(c"calendar_token()");
    issue_token().unwrap_or_else(|e| raise(e))
}

/// Ends the caller's calendar token; whether there was one.
#[pg_extern(volatile, strict, parallel_unsafe)]
fn revoke_calendar_token() -> bool {
    crate::errors::refuse_if_read_only(c"revoke_calendar_token()");
    forget_token().unwrap_or_else(|e| raise(e))
}

// ---- rendering -----------------------------------------------------------------------------

/// One VEVENT as `calendar_feed` hands it over (times are Unix seconds, UTC).
struct FeedEvent {
    uid: String,
    summary: String,
    description: Option<String>,
    cancelled: bool,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
    sequence: u32,
}

fn field<'a>(event: &'a serde_json::Value, name: &str) -> RuleResult<&'a serde_json::Value> {
    event
        .get(name)
        .ok_or_else(|| RuleError::invalid(format!("a calendar event needs \"{name}\"")))
}

fn text_field(event: &serde_json::Value, name: &str) -> RuleResult<String> {
    field(event, name)?
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| RuleError::invalid(format!("\"{name}\" of a calendar event is text")))
}

fn time_field(event: &serde_json::Value, name: &str) -> RuleResult<DateTime<Utc>> {
    field(event, name)?
        .as_i64()
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .ok_or_else(|| {
            RuleError::invalid(format!(
                "\"{name}\" of a calendar event is a time in Unix seconds"
            ))
        })
}

/// RFC 5545 TEXT has no carriage returns or other control characters (the crate escapes
/// `\`, `,`, `;` and line feeds only): a note typed with CRLF line ends keeps its lines.
fn plain_text(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

impl FeedEvent {
    fn from_json(event: &serde_json::Value) -> RuleResult<FeedEvent> {
        let status = text_field(event, "status")?;
        let sequence = field(event, "sequence")?
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| RuleError::invalid("\"sequence\" of a calendar event is a count"))?;
        Ok(FeedEvent {
            uid: plain_text(&text_field(event, "uid")?),
            summary: plain_text(&text_field(event, "summary")?),
            description: match event.get("description") {
                None | Some(serde_json::Value::Null) => None,
                Some(_) => Some(plain_text(&text_field(event, "description")?)),
            },
            cancelled: match status.as_str() {
                "CONFIRMED" => false,
                "CANCELLED" => true,
                _ => {
                    return Err(RuleError::invalid(
                        "\"status\" of a calendar event is CONFIRMED or CANCELLED",
                    ))
                }
            },
            start: time_field(event, "start")?,
            end: time_field(event, "end")?,
            created: time_field(event, "created")?,
            modified: time_field(event, "modified")?,
            sequence,
        })
    }

    fn to_vevent(&self) -> icalendar::Event {
        let mut vevent = icalendar::Event::new();
        vevent
            .uid(&self.uid)
            .summary(&self.summary)
            .starts(self.start)
            .ends(self.end)
            // The feed has no METHOD, so DTSTAMP is when the event last changed (RFC 5545
            // 3.8.7.2): the same rows give the same bytes, whenever they are fetched.
            .timestamp(self.modified)
            .last_modified(self.modified)
            .created(self.created)
            .sequence(self.sequence)
            .status(if self.cancelled {
                EventStatus::Cancelled
            } else {
                EventStatus::Confirmed
            });
        if let Some(description) = &self.description {
            vevent.description(description);
        }
        vevent.done()
    }
}

/// The calendar of the given events, in the given order.
fn render(events: &[FeedEvent]) -> RuleResult<String> {
    let mut calendar = Calendar::empty();
    calendar
        .append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", PRODUCT_ID))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("X-WR-CALNAME", CALENDAR_NAME))
        .append_property(
            Property::new("REFRESH-INTERVAL", REFRESH)
                .add_parameter("VALUE", "DURATION")
                .done(),
        )
        .append_property(Property::new("X-PUBLISHED-TTL", REFRESH));
    for event in events {
        calendar.push(event.to_vevent());
    }
    let mut text = String::new();
    write!(text, "{}", calendar.done())
        .map_err(|e| RuleError::Internal(format!("writing a calendar: {e}")))?;
    Ok(text)
}

/// The RFC 5545 text of a feed's events: a JSON array of objects with `uid`, `summary`,
/// `description` (or null), `status` (`CONFIRMED`/`CANCELLED`), `start`, `end`, `created`,
/// `modified` (Unix seconds) and `sequence`. `calendar_feed`'s; clients cannot call it.
#[pg_extern(immutable, strict, parallel_safe)]
fn calendar_render(events: pgrx::JsonB) -> String {
    let rendered = || -> RuleResult<String> {
        let list = events
            .0
            .as_array()
            .ok_or_else(|| RuleError::invalid("calendar events are a JSON array"))?;
        let events = list
            .iter()
            .map(FeedEvent::from_json)
            .collect::<RuleResult<Vec<_>>>()?;
        render(&events)
    };
    rendered().unwrap_or_else(|e| raise(e))
}

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use crate::test_support::fixtures::*;
    use crate::test_support::{act_as, act_as_nobody, run, sqlstate_as, sqlstate_of, value};
    use pgrx::prelude::*;

    fn token_of(user: &str) -> String {
        act_as(user);
        let token = value("SELECT gym_booking.calendar_token()").expect("a token");
        act_as_nobody();
        token
    }

    fn feed(token: Option<&str>) -> String {
        Spi::get_one_with_args::<String>(
            "SELECT gym_booking.calendar_feed($1)::text",
            &[token.into()],
        )
        .expect("calendar_feed")
        .expect("a calendar")
    }

    /// The value of `name` in the VEVENT whose UID is `uid` (after unfolding), if any.
    fn property(feed: &str, uid: &str, name: &str) -> Option<String> {
        let unfolded = feed.replace("\r\n ", "");
        let event = unfolded
            .split("BEGIN:VEVENT")
            .find(|e| e.contains(&format!("\r\nUID:{uid}\r\n")))?;
        event
            .split("\r\n")
            .find_map(|line| line.strip_prefix(&format!("{name}:")).map(str::to_owned))
    }

    fn booking_uid(slot: &str, user: &str) -> String {
        let id = value(&format!(
            "SELECT id::text FROM gym_booking.bookings WHERE slot_id = '{slot}' AND user_id = '{user}'"
        ))
        .expect("the booking");
        format!("booking-{id}@gym_booking")
    }

    #[pg_test]
    fn a_token_is_made_on_demand_kept_as_a_hash_and_rotated() {
        people();
        let first = token_of(ATH1);
        assert_eq!(first.len(), 64);
        assert!(first
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        let stored = value(&format!(
            "SELECT (token_hash = sha256(convert_to('{first}', 'UTF8')))::text
               FROM gym_booking.calendar_tokens WHERE user_id = '{ATH1}'"
        ));
        assert_eq!(stored.as_deref(), Some("true"));
        let second = token_of(ATH1);
        assert_ne!(first, second);
        let rows = value(&format!(
            "SELECT count(*)::text FROM gym_booking.calendar_tokens WHERE user_id = '{ATH1}'"
        ));
        assert_eq!(rows.as_deref(), Some("1"), "one token per person");
        let empty = feed(None);
        assert_eq!(feed(Some(&first)), empty, "a rotated token opens nothing");
    }

    #[pg_test]
    fn only_a_signed_in_active_person_gets_or_revokes_a_token() {
        people();
        act_as_nobody();
        assert_eq!(sqlstate_of("SELECT gym_booking.calendar_token()"), "42501");
        assert_eq!(
            sqlstate_of("SELECT gym_booking.revoke_calendar_token()"),
            "42501"
        );
        assert_eq!(
            sqlstate_as("anon", "SELECT gym_booking.calendar_token()"),
            "42501"
        );
        act_as(ATH2);
        assert_eq!(
            value("SELECT gym_booking.revoke_calendar_token()::text").as_deref(),
            Some("false")
        );
        let token = token_of(ATH2);
        act_as(ATH2);
        assert_eq!(
            value("SELECT gym_booking.revoke_calendar_token()::text").as_deref(),
            Some("true")
        );
        assert_eq!(feed(Some(&token)), feed(None));
        // A standby (or any read-only transaction) refuses the write with 25006.
        assert_eq!(
            sqlstate_of(
                "SELECT set_config('transaction_read_only', 'on', true), gym_booking.calendar_token()"
            ),
            "25006"
        );
    }

    #[pg_test]
    fn a_wrong_token_gets_the_empty_feed_of_a_person_with_nothing() {
        people();
        let nothing = feed(Some(&token_of(ATH3)));
        assert!(
            nothing.starts_with("BEGIN:VCALENDAR\r\n") && nothing.ends_with("END:VCALENDAR\r\n")
        );
        assert!(!nothing.contains("VEVENT"));
        slot(S1, "2 days", 4);
        assert_eq!(book(S1, ATH1), "00000");
        let real = token_of(ATH1);
        assert!(feed(Some(&real)).contains("BEGIN:VEVENT"));
        let huge = "a".repeat(1 << 20);
        for wrong in [
            None,
            Some(""),
            Some("wrong"),
            Some(huge.as_str()),
            Some(&real[..63]),
            Some(&real.to_uppercase()),
            Some("ü".repeat(64).as_str()),
        ] {
            assert_eq!(feed(wrong), nothing, "{:?}", wrong.map(|w| w.len()));
        }
    }

    #[pg_test]
    fn an_athletes_feed_follows_their_booking_and_sequence_only_grows() {
        people();
        slot(S1, "2 days", 4);
        run(&format!(
            "UPDATE gym_booking.slots SET notes = 'Mats, water; towels' WHERE id = '{S1}'"
        ));
        assert_eq!(book(S1, ATH1), "00000");
        assert_eq!(book(S1, ATH2), "00000");
        let token = token_of(ATH1);
        let uid = booking_uid(S1, ATH1);
        let first = feed(Some(&token));
        assert_eq!(first.matches("BEGIN:VEVENT").count(), 1, "only Alex's");
        assert!(!first.contains("Bea"), "nothing of the other athlete");
        assert_eq!(
            property(&first, &uid, "SUMMARY").as_deref(),
            Some("Training with Tess")
        );
        assert_eq!(
            property(&first, &uid, "DESCRIPTION").as_deref(),
            Some("Mats\\, water\\; towels")
        );
        let start = value(&format!(
            "SELECT to_char(start_at AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"')
               FROM gym_booking.slots WHERE id = '{S1}'"
        ));
        assert_eq!(property(&first, &uid, "DTSTART"), start);
        let sequence = |feed: &str| -> i64 {
            property(feed, &uid, "SEQUENCE")
                .expect("SEQUENCE")
                .parse()
                .unwrap()
        };
        let mut last = sequence(&first);
        for (change, status) in [
            ("notes", "CONFIRMED"),
            ("cancelled", "CANCELLED"),
            ("re-booked", "CONFIRMED"),
            ("slot cancelled", "CANCELLED"),
        ] {
            match change {
                "notes" => run(&format!(
                    "UPDATE gym_booking.slots SET notes = 'Bring water' WHERE id = '{S1}'"
                )),
                "cancelled" => assert_eq!(set_status(S1, ATH1, "cancelled"), "00000"),
                "re-booked" => assert_eq!(set_status(S1, ATH1, "reserved"), "00000"),
                _ => run(&format!(
                    "UPDATE gym_booking.slots SET cancelled_at = now() WHERE id = '{S1}'"
                )),
            }
            let now = feed(Some(&token));
            assert_eq!(
                property(&now, &uid, "STATUS").as_deref(),
                Some(status),
                "{change}"
            );
            assert!(sequence(&now) > last, "{change}: SEQUENCE did not grow");
            last = sequence(&now);
        }
    }

    #[pg_test]
    fn a_trainers_feed_counts_places_and_names_nobody() {
        people();
        slot(S1, "2 days", 2);
        slot(S2, "3 days", 1);
        assert_eq!(book(S1, ATH1), "00000");
        let token = token_of(TRAINER);
        let text = feed(Some(&token));
        let s1 = format!("slot-{S1}@gym_booking");
        let s2 = format!("slot-{S2}@gym_booking");
        assert_eq!(
            property(&text, &s1, "SUMMARY").as_deref(),
            Some("Session: 1/2 booked")
        );
        assert_eq!(
            property(&text, &s2, "SUMMARY").as_deref(),
            Some("Session: 0/1 booked")
        );
        assert!(!text.contains("Alex") && !text.contains("Morgan"));
        let before: i64 = property(&text, &s1, "SEQUENCE").unwrap().parse().unwrap();
        assert_eq!(book(S1, ATH2), "00000");
        let after = feed(Some(&token));
        assert_eq!(
            property(&after, &s1, "SUMMARY").as_deref(),
            Some("Session: 2/2 booked")
        );
        let now: i64 = property(&after, &s1, "SEQUENCE").unwrap().parse().unwrap();
        assert!(now > before, "a new booking changes the trainer's event");
    }

    #[pg_test]
    fn a_deleted_account_loses_its_token_and_its_feed() {
        people();
        slot(S1, "2 days", 2);
        assert_eq!(book(S1, ATH1), "00000");
        let token = token_of(ATH1);
        assert!(feed(Some(&token)).contains("VEVENT"));
        run(&format!(
            "UPDATE gym_booking.users SET deleted_at = now() WHERE id = '{ATH1}'"
        ));
        assert_eq!(
            value(&format!(
                "SELECT count(*)::text FROM gym_booking.calendar_tokens WHERE user_id = '{ATH1}'"
            ))
            .as_deref(),
            Some("0")
        );
        assert_eq!(feed(Some(&token)), feed(None));
        act_as(ATH1);
        assert_eq!(sqlstate_of("SELECT gym_booking.calendar_token()"), "42501");
    }

    #[pg_test]
    fn the_renderer_writes_rfc_5545_text() {
        let notes =
            "Line one, with; specials\\\r\nLine two\u{7}".to_string() + &"Grüße 🏋 ".repeat(20);
        let events = serde_json::json!([{
            "uid": "slot-x@gym_booking", "summary": "Session: 1/2 booked", "description": notes,
            "status": "CANCELLED", "start": 1_900_000_000, "end": 1_900_003_600,
            "created": 1_800_000_000, "modified": 1_850_000_000, "sequence": 7
        }]);
        let text = Spi::get_one_with_args::<String>(
            "SELECT gym_booking.calendar_render($1)",
            &[pgrx::JsonB(events).into()],
        )
        .unwrap()
        .unwrap();
        assert!(text.ends_with("\r\n") && !text.replace("\r\n", "").contains(['\r', '\n']));
        for line in text.trim_end().split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
        }
        let unfolded = text.replace("\r\n ", "");
        for expected in [
            "PRODID:-//gym_booking//gym_booking 0.2//EN",
            "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
            "X-PUBLISHED-TTL:PT1H",
            "DTSTART:20300317T174640Z",
            "DTEND:20300317T184640Z",
            "DTSTAMP:20280816T005320Z",
            "LAST-MODIFIED:20280816T005320Z",
            "CREATED:20270115T080000Z",
            "SEQUENCE:7",
            "STATUS:CANCELLED",
            "DESCRIPTION:Line one\\, with\\; specials\\\\\\nLine twoGrüße",
        ] {
            assert!(unfolded.contains(expected), "{expected} in\n{text}");
        }
        for bad in [
            "{}",
            "[1]",
            "[{\"uid\": \"x\"}]",
            "[{\"uid\": \"x\", \"summary\": \"s\", \"status\": \"CONFIRMED\", \"start\": -1e30, \"end\": 0, \"created\": 0, \"modified\": 0, \"sequence\": 0}]",
            "[{\"uid\": \"x\", \"summary\": \"s\", \"status\": \"CONFIRMED\", \"start\": 0, \"end\": 0, \"created\": 0, \"modified\": 0, \"sequence\": -1}]",
        ] {
            assert_eq!(
                sqlstate_of(&format!("SELECT gym_booking.calendar_render('{bad}')")),
                "22023",
                "{bad}"
            );
        }
    }
}

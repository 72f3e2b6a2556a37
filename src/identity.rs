//! Who is calling: the app user named by the JWT that PostgREST or Supabase put in the
//! transaction's settings, and whether the caller acts for the gym (an app admin, or the
//! `service_role` database role).

use std::cell::RefCell;
use std::ffi::CStr;

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::errors::{raise, RuleError, RuleResult};
use crate::memo::Epoch;
use crate::plans::{self, Sql};

/// Hands `read` the two claim settings' current values (empty when unset), borrowed from
/// the GUC machinery: nothing can set them while `read` runs.
fn with_claim_settings<R>(read: impl FnOnce(&[u8], &[u8]) -> R) -> R {
    // SAFETY: GetConfigOption returns NULL for an unknown setting when missing_ok is true,
    // else the setting's value, which stays valid until the setting is next changed.
    let value = |name: &CStr| unsafe {
        let value = pg_sys::GetConfigOption(name.as_ptr(), true, false);
        if value.is_null() {
            &[][..]
        } else {
            CStr::from_ptr(value).to_bytes()
        }
    };
    read(
        value(c"request.jwt.claim.sub"),
        value(c"request.jwt.claims"),
    )
}

/// The `sub` claim, read as Supabase's `auth.uid()` reads it: `request.jwt.claim.sub` when
/// set (older PostgREST), else `request.jwt.claims` ->> 'sub'; empty means absent.
fn claimed_sub(claim_sub: &[u8], claims: &[u8]) -> RuleResult<Option<String>> {
    if !claim_sub.is_empty() {
        return Ok(Some(String::from_utf8_lossy(claim_sub).into_owned()));
    }
    if claims.is_empty() {
        return Ok(None);
    }
    let SubClaim(sub) = serde_json::from_slice(claims)
        .map_err(|_| RuleError::BadClaims("request.jwt.claims is not valid JSON".into()))?;
    Ok(match sub {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
    .filter(|s| !s.is_empty()))
}

/// The `sub` of a claims document, as `(claims::jsonb) ->> 'sub'` reads it (of repeated keys,
/// the last; nothing when the document is not an object), read without building the rest: a
/// request's JWT carries a dozen claims, and each new request's are read once.
struct SubClaim(Option<serde_json::Value>);

impl<'de> serde::Deserialize<'de> for SubClaim {
    fn deserialize<D: serde::Deserializer<'de>>(document: D) -> Result<Self, D::Error> {
        document.deserialize_any(SubClaimVisitor)
    }
}

struct SubClaimVisitor;

/// A key of the claims object: whether it is `sub`.
struct IsSub;

impl<'de> serde::de::DeserializeSeed<'de> for IsSub {
    type Value = bool;
    fn deserialize<D: serde::Deserializer<'de>>(self, key: D) -> Result<bool, D::Error> {
        key.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for IsSub {
    type Value = bool;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == "sub")
    }
}

impl<'de> serde::de::Visitor<'de> for SubClaimVisitor {
    type Value = SubClaim;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON document")
    }
    fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<SubClaim, M::Error> {
        let mut sub = None;
        while let Some(is_sub) = map.next_key_seed(IsSub)? {
            if is_sub {
                sub = Some(map.next_value::<serde_json::Value>()?);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(SubClaim(sub))
    }
    // Not an object: valid JSON, with no `sub` in it.
    fn visit_seq<S: serde::de::SeqAccess<'de>>(self, mut seq: S) -> Result<SubClaim, S::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(SubClaim(None))
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<SubClaim, E> {
        Ok(SubClaim(None))
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<SubClaim, E> {
        Ok(SubClaim(None))
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<SubClaim, E> {
        Ok(SubClaim(None))
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<SubClaim, E> {
        Ok(SubClaim(None))
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<SubClaim, E> {
        Ok(SubClaim(None))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<SubClaim, E> {
        Ok(SubClaim(None))
    }
}

fn parse_claims(claim_sub: &[u8], claims: &[u8]) -> RuleResult<Option<pgrx::Uuid>> {
    let Some(sub) = claimed_sub(claim_sub, claims)? else {
        return Ok(None);
    };
    parse_uuid(&sub).map(Some).ok_or_else(|| {
        RuleError::BadClaims(format!("the JWT's sub claim is not a user id: {sub:?}"))
    })
}

/// The claims last read and what they said: a request sets them once, and the policies and
/// rules of one booking read them a dozen times.
struct ReadClaims {
    claim_sub: Vec<u8>,
    claims: Vec<u8>,
    user_id: Result<Option<pgrx::Uuid>, String>,
}

thread_local! {
    static CLAIMS: RefCell<Option<ReadClaims>> = const { RefCell::new(None) };
}

/// The caller's user id, or None when the request carries no `sub`. A `sub` that is not a
/// uuid is an error, never somebody else's identity.
pub fn claimed_user_id() -> RuleResult<Option<pgrx::Uuid>> {
    with_claim_settings(|claim_sub, claims| {
        CLAIMS.with(|cache| {
            let mut cache = cache.borrow_mut();
            let fresh = cache
                .as_ref()
                .is_some_and(|read| read.claim_sub == claim_sub && read.claims == claims);
            if !fresh {
                let user_id = parse_claims(claim_sub, claims).map_err(|e| e.to_string());
                *cache = Some(ReadClaims {
                    claim_sub: claim_sub.to_vec(),
                    claims: claims.to_vec(),
                    user_id,
                });
            }
            let read = cache.as_ref().expect("just filled");
            read.user_id.clone().map_err(RuleError::BadClaims)
        })
    })
}

/// A uuid as PostgreSQL's `uuid_in` reads it (`string_to_uuid`): optional braces, 32 hex
/// digits, an optional hyphen after any group of four but the last. A `sub` is accepted
/// exactly when `auth.uid()`'s cast accepts it.
fn parse_uuid(text: &str) -> Option<pgrx::Uuid> {
    let mut src = text.as_bytes();
    let braces = src.first() == Some(&b'{');
    if braces {
        src = &src[1..];
    }
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut bytes = [0u8; 16];
    for (i, byte) in bytes.iter_mut().enumerate() {
        let (hi, lo) = (hex(*src.first()?)?, hex(*src.get(1)?)?);
        *byte = (hi << 4) | lo;
        src = &src[2..];
        if src.first() == Some(&b'-') && i % 2 == 1 && i < 15 {
            src = &src[1..];
        }
    }
    if braces {
        src = src.strip_prefix(b"}")?;
    }
    src.is_empty().then(|| pgrx::Uuid::from_bytes(bytes))
}

/// The caller's user id from the JWT claims (`sub`), NULL when the request has none.
#[pg_extern(stable, parallel_safe)]
pub fn current_user_id() -> Option<pgrx::Uuid> {
    claimed_user_id().unwrap_or_else(|e| raise(e))
}

/// Whether the statement runs as `role` or a member of it (a superuser is not, unless made
/// one). Inside a trigger this is the writer: a client's role (PostgREST's `SET ROLE`), or the
/// owner of a SECURITY DEFINER function that wrote on the client's behalf.
fn writer_is(writer: pg_sys::Oid, role: &CStr) -> bool {
    // SAFETY: plain catalog lookups.
    unsafe {
        let role = pg_sys::get_role_oid(role.as_ptr(), true);
        role != pg_sys::InvalidOid && pg_sys::is_member_of_role_nosuper(writer, role)
    }
}

static ACCOUNT: Sql = Sql {
    text: "SELECT role::text, deleted_at IS NULL FROM gym_booking.users WHERE id = $1",
    args: &[pg_sys::UUIDOID],
};

/// The users row the JWT names.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: pgrx::Uuid,
    /// The app role (also when the account has just been deleted).
    pub role: Option<String>,
    /// Not deleted.
    pub active: bool,
}

impl Account {
    fn active_with_role(&self, role: &str) -> bool {
        self.active && self.role.as_deref() == Some(role)
    }
}

/// Memos: the caller's users row per statement, and what the writer role is per statement.
struct Known<K, V> {
    epoch: Epoch,
    key: K,
    value: V,
}

type Memo<K, V> = RefCell<Option<Known<K, V>>>;

thread_local! {
    static ACCOUNTS: Memo<pgrx::Uuid, Option<Account>> = const { RefCell::new(None) };
    static WRITERS: Memo<pg_sys::Oid, (bool, bool)> = const { RefCell::new(None) };
}

fn recall<K: PartialEq + Copy, V: Clone>(
    memo: &'static std::thread::LocalKey<Memo<K, V>>,
    key: K,
    look_up: impl FnOnce() -> RuleResult<V>,
) -> RuleResult<V> {
    let epoch = Epoch::now();
    let known = memo.with(|m| {
        m.borrow()
            .as_ref()
            .filter(|k| k.epoch == epoch && k.key == key)
            .map(|k| k.value.clone())
    });
    if let Some(value) = known {
        return Ok(value);
    }
    let value = look_up()?;
    // The look-up may have run statements that moved the epoch on (a users write): keep
    // the answer only for the epoch it was asked in.
    if Epoch::now() == epoch {
        memo.with(|m| {
            *m.borrow_mut() = Some(Known {
                epoch,
                key,
                value: value.clone(),
            })
        });
    }
    Ok(value)
}

/// The caller's users row (deleted or not), None without a `sub` or when no row has that id.
pub fn account() -> RuleResult<Option<Account>> {
    let Some(id) = claimed_user_id()? else {
        return Ok(None);
    };
    recall(&ACCOUNTS, id, || {
        // Read-only: a read request takes no transaction id for it (and runs on a standby).
        let found = plans::read(&ACCOUNT, &[id.into()], |table| {
            if table.is_empty() {
                Ok(None)
            } else {
                table.first().get_two::<String, bool>().map(Some)
            }
        })?;
        Ok(found.map(|(role, active)| Account {
            id,
            role,
            active: active == Some(true),
        }))
    })
}

/// Remembers the caller's row as a rule has just read it (locked) for this statement.
pub fn remember(account: Account) {
    let epoch = Epoch::now();
    ACCOUNTS.with(|m| {
        *m.borrow_mut() = Some(Known {
            epoch,
            key: account.id,
            value: Some(account),
        })
    });
}

/// The caller as the rules see them.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The caller's users row, when the JWT names one (deleted or not).
    pub user_id: Option<pgrx::Uuid>,
    /// The caller's app role (also when their account has just been deleted).
    pub role: Option<String>,
    /// The caller's account is not deleted.
    pub active: bool,
    /// The request runs as `service_role` (or a role that is a member of it).
    pub service_role: bool,
    /// The writer is a client role (`anon`, `authenticated`): what it may change is limited
    /// beyond its grants. A DBA, `service_role` or the extension's own functions are not.
    pub client: bool,
}

impl Actor {
    pub fn current() -> RuleResult<Actor> {
        // SAFETY: reads the current user id.
        let writer = unsafe { pg_sys::GetUserId() };
        let (service_role, client) = recall(&WRITERS, writer, || {
            let service_role = writer_is(writer, c"service_role");
            let client = !service_role
                && (writer_is(writer, c"authenticated") || writer_is(writer, c"anon"));
            Ok((service_role, client))
        })?;
        // A token for an account not (yet) in users names no one the rules know.
        let account = account()?;
        Ok(Actor {
            user_id: account.as_ref().map(|a| a.id),
            active: account.as_ref().is_some_and(|a| a.active),
            role: account.and_then(|a| a.role),
            service_role,
            client,
        })
    }

    /// May change what a client may not: an app admin, or any writer that is not a client.
    pub fn is_privileged(&self) -> bool {
        !self.client || self.is_admin()
    }

    /// Acts for the gym: an app admin, or the service role.
    pub fn is_admin(&self) -> bool {
        self.service_role || (self.active && self.role.as_deref() == Some("admin"))
    }
}

// The policies' helpers. Row-level security calls them as `(SELECT ...)`, once per query;
// they read the caller's row as the extension's owner (users' own policies use them too).

/// The caller's id (JWT sub) while their account is active, else NULL: a deleted account's
/// token, still valid until it expires, owns nothing.
#[pg_extern(stable, parallel_restricted)]
pub fn active_user_id() -> Option<pgrx::Uuid> {
    let account = account().unwrap_or_else(|e| raise(e))?;
    account.active.then_some(account.id)
}

/// Whether the caller is an active app admin.
#[pg_extern(stable, parallel_restricted)]
pub fn is_app_admin() -> bool {
    let account = account().unwrap_or_else(|e| raise(e));
    account.is_some_and(|a| a.active_with_role("admin"))
}

/// Whether the caller is an active trainer.
#[pg_extern(stable, parallel_restricted)]
pub fn is_trainer() -> bool {
    let account = account().unwrap_or_else(|e| raise(e));
    account.is_some_and(|a| a.active_with_role("trainer"))
}

/// Whether the caller acts for the gym: an active app admin, or a role that is not a client's
/// (`service_role`, a DBA). Judged by the role the request runs as (`SET ROLE`), also inside a
/// SECURITY DEFINER function (the event delivery functions ask it).
#[pg_extern(stable, parallel_restricted)]
pub fn acts_for_the_gym() -> bool {
    if is_app_admin() {
        return true;
    }
    // SAFETY: reads the session's current role (SET ROLE), not a function owner's.
    let outer = unsafe { pg_sys::GetOuterUserId() };
    !writer_is(outer, c"authenticated") && !writer_is(outer, c"anon")
}

/// Whether the caller reads as somebody: an active account (JWT sub), or a role that is not a
/// client's (`service_role`, a DBA). A deleted account's token, or a client's token without a
/// sub, reads nothing. Judged by the role the request runs as (`SET ROLE`), also inside a
/// SECURITY DEFINER function.
#[pg_extern(stable, parallel_restricted)]
pub fn signed_in() -> bool {
    if active_user_id().is_some() {
        return true;
    }
    // SAFETY: reads the session's current role (SET ROLE), not a function owner's.
    let outer = unsafe { pg_sys::GetOuterUserId() };
    !writer_is(outer, c"authenticated") && !writer_is(outer, c"anon")
}

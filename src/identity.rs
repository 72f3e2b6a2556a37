//! Who is calling: the app user named by the JWT that PostgREST or Supabase put in the
//! transaction's settings, and whether the caller acts for the gym (an app admin, or the
//! `service_role` database role).

use std::ffi::CStr;

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::errors::{raise, RuleError, RuleResult};
use crate::plans::{self, Sql};

fn setting(name: &CStr) -> Option<String> {
    // SAFETY: GetConfigOption returns NULL for an unknown setting when missing_ok is true.
    unsafe {
        let value = pg_sys::GetConfigOption(name.as_ptr(), true, false);
        (!value.is_null()).then(|| CStr::from_ptr(value).to_string_lossy().into_owned())
    }
}

/// The `sub` claim, read as Supabase's `auth.uid()` reads it: `request.jwt.claim.sub` when
/// set (older PostgREST), else `request.jwt.claims` ->> 'sub'; empty means absent.
fn claimed_sub() -> RuleResult<Option<String>> {
    if let Some(sub) = setting(c"request.jwt.claim.sub").filter(|s| !s.is_empty()) {
        return Ok(Some(sub));
    }
    let Some(claims) = setting(c"request.jwt.claims").filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let claims: serde_json::Value = serde_json::from_str(&claims)
        .map_err(|_| RuleError::BadClaims("request.jwt.claims is not valid JSON".into()))?;
    Ok(match claims.get("sub") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
    .filter(|s| !s.is_empty()))
}

/// The caller's user id, or None when the request carries no `sub`. A `sub` that is not a
/// uuid is an error, never somebody else's identity.
pub fn claimed_user_id() -> RuleResult<Option<pgrx::Uuid>> {
    let Some(sub) = claimed_sub()? else {
        return Ok(None);
    };
    parse_uuid(&sub).map(Some).ok_or_else(|| {
        RuleError::BadClaims(format!("the JWT's sub claim is not a user id: {sub:?}"))
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
fn writer_is(role: &CStr) -> bool {
    // SAFETY: plain catalog lookups.
    unsafe {
        let role = pg_sys::get_role_oid(role.as_ptr(), true);
        role != pg_sys::InvalidOid && pg_sys::is_member_of_role_nosuper(pg_sys::GetUserId(), role)
    }
}

static ACTOR: Sql = Sql {
    text: "SELECT role::text, deleted_at IS NULL FROM gym_booking.users WHERE id = $1",
    args: &[pg_sys::UUIDOID],
};

/// The caller as the rules see them.
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
        let service_role = writer_is(c"service_role");
        let client = !service_role && (writer_is(c"authenticated") || writer_is(c"anon"));
        let nobody = Actor {
            user_id: None,
            role: None,
            active: false,
            service_role,
            client,
        };
        let Some(id) = claimed_user_id()? else {
            return Ok(nobody);
        };
        let found = plans::run(&ACTOR, &[id.into()], |table| {
            if table.is_empty() {
                Ok(None)
            } else {
                table.first().get_two::<String, bool>().map(Some)
            }
        })?;
        Ok(match found {
            // A token for an account not (yet) in users names no one the rules know.
            None => nobody,
            Some((role, active)) => Actor {
                user_id: Some(id),
                role,
                active: active == Some(true),
                ..nobody
            },
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

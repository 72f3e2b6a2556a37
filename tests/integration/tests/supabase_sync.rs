//! Supabase: `gym_booking.enable_supabase_auth_sync()` keeps gym_booking.users in step with
//! Supabase Auth's `auth.users`, and `gym_booking.current_user_id()` gives the same answer as
//! Supabase's `auth.uid()` (DESIGN.md, "Identity and row-level security").
//!
//! A plain PostgreSQL has no Supabase, so each test builds what Supabase has: schema `auth`,
//! table `auth.users` with Supabase's columns, indexes and row-level security, owned by
//! `supabase_auth_admin`, the role Supabase Auth (GoTrue) writes as — a role with no rights on
//! gym_booking at all. Sign-ups, updates and deletions are made as that role.

use gym_booking_integration::{postgrest_request, sqlstate, Caller, TestDb};
use postgres::Client;
use serde_json::{json, Value};

/// Supabase's auth.users (as `\d auth.users` shows it on a Supabase project), with one table
/// that references it (auth.identities, ON DELETE CASCADE) and Supabase's auth.uid().
const SUPABASE_AUTH: &str = r#"
DO $$
BEGIN
    -- A cluster-wide role; tests running side by side may both create it.
    CREATE ROLE supabase_auth_admin NOLOGIN NOINHERIT CREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
CREATE SCHEMA auth AUTHORIZATION supabase_auth_admin;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
CREATE TABLE auth.users (
    instance_id uuid,
    id uuid NOT NULL,
    aud varchar(255),
    role varchar(255),
    email varchar(255),
    encrypted_password varchar(255),
    email_confirmed_at timestamptz,
    invited_at timestamptz,
    confirmation_token varchar(255),
    confirmation_sent_at timestamptz,
    recovery_token varchar(255),
    recovery_sent_at timestamptz,
    email_change_token_new varchar(255),
    email_change varchar(255),
    email_change_sent_at timestamptz,
    last_sign_in_at timestamptz,
    raw_app_meta_data jsonb,
    raw_user_meta_data jsonb,
    is_super_admin boolean,
    created_at timestamptz,
    updated_at timestamptz,
    phone text DEFAULT NULL::character varying,
    phone_confirmed_at timestamptz,
    phone_change text DEFAULT ''::character varying,
    phone_change_token varchar(255) DEFAULT ''::character varying,
    phone_change_sent_at timestamptz,
    confirmed_at timestamptz GENERATED ALWAYS AS (LEAST(email_confirmed_at, phone_confirmed_at)) STORED,
    email_change_token_current varchar(255) DEFAULT ''::character varying,
    email_change_confirm_status smallint DEFAULT 0,
    banned_until timestamptz,
    reauthentication_token varchar(255) DEFAULT ''::character varying,
    reauthentication_sent_at timestamptz,
    is_sso_user boolean NOT NULL DEFAULT false,
    deleted_at timestamptz,
    is_anonymous boolean NOT NULL DEFAULT false,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_phone_key UNIQUE (phone),
    CONSTRAINT users_email_change_confirm_status_check
        CHECK (email_change_confirm_status >= 0 AND email_change_confirm_status <= 2)
);
CREATE UNIQUE INDEX users_email_partial_key ON auth.users (email) WHERE (is_sso_user = false);
CREATE INDEX users_instance_id_email_idx ON auth.users (instance_id, lower((email)::text));
CREATE INDEX users_is_anonymous_idx ON auth.users (is_anonymous);
ALTER TABLE auth.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.users OWNER TO supabase_auth_admin;
CREATE TABLE auth.identities (
    provider_id text NOT NULL,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    identity_data jsonb NOT NULL,
    provider text NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY
);
ALTER TABLE auth.identities OWNER TO supabase_auth_admin;
-- Supabase's own definition.
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $f$
  select
  coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$f$;
ALTER FUNCTION auth.uid() OWNER TO supabase_auth_admin;
GRANT EXECUTE ON FUNCTION auth.uid() TO anon, authenticated, service_role;
"#;

const EXISTING: &str = "5b7a3c1e-0000-4000-8000-000000000001";
const SIGNUP: &str = "5b7a3c1e-0000-4000-8000-000000000002";
const NAMELESS: &str = "5b7a3c1e-0000-4000-8000-000000000003";
const ANONYMOUS_SIGN_IN: &str = "5b7a3c1e-0000-4000-8000-000000000004";
const LATE: &str = "5b7a3c1e-0000-4000-8000-000000000005";
const TAKEN: &str = "5b7a3c1e-0000-4000-8000-000000000006";
const MOVER: &str = "5b7a3c1e-0000-4000-8000-000000000007";

fn supabase_db(name: &str) -> (TestDb, Client) {
    let db = TestDb::with_extension(name);
    let mut client = db.connect();
    client
        .batch_execute(SUPABASE_AUTH)
        .expect("create Supabase's auth schema");
    (db, client)
}

/// A write to auth.users as Supabase Auth makes it: as supabase_auth_admin, in a
/// transaction of its own.
fn as_supabase_auth(client: &mut Client, sql: &str) -> Result<u64, postgres::Error> {
    let mut tx = client.transaction()?;
    tx.batch_execute("SET LOCAL ROLE supabase_auth_admin; SET LOCAL search_path = auth")?;
    let n = tx.execute(sql, &[])?;
    tx.commit()?;
    Ok(n)
}

/// A Supabase sign-up: the row GoTrue inserts for an email/password sign-up.
fn sign_up_sql(
    id: &str,
    email: Option<&str>,
    hash: &str,
    user_meta: Value,
    app_meta: Value,
) -> String {
    let email = email.map_or("NULL".to_string(), |e| format!("'{e}'"));
    format!(
        "INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password,
                                 email_confirmed_at, raw_app_meta_data, raw_user_meta_data,
                                 is_super_admin, created_at, updated_at, is_sso_user, is_anonymous)
         VALUES ('00000000-0000-0000-0000-000000000000', '{id}', 'authenticated', 'authenticated',
                 {email}, '{hash}', now(), '{app_meta}', '{user_meta}', false, now(), now(),
                 false, false)"
    )
}

#[derive(Debug, PartialEq)]
struct GymUser {
    email: String,
    password_hash: String,
    first_name: String,
    last_name: Option<String>,
    role: String,
    deleted: bool,
    is_anonymous: bool,
}

fn gym_user(client: &mut Client, id: &str) -> Option<GymUser> {
    client
        .query_opt(
            "SELECT email::text, password_hash, first_name, last_name, role::text,
                    deleted_at IS NOT NULL, is_anonymous
               FROM gym_booking.users WHERE id = $1::text::uuid",
            &[&id],
        )
        .unwrap()
        .map(|r| GymUser {
            email: r.get(0),
            password_hash: r.get(1),
            first_name: r.get(2),
            last_name: r.get(3),
            role: r.get(4),
            deleted: r.get(5),
            is_anonymous: r.get(6),
        })
}

fn count(client: &mut Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

fn enable(client: &mut Client) -> Result<i32, postgres::Error> {
    client
        .query_one("SELECT gym_booking.enable_supabase_auth_sync()", &[])
        .map(|r| r.get(0))
}

#[test]
fn without_auth_users_enabling_fails_with_42p01() {
    let db = TestDb::with_extension("supabase_no_auth");
    let mut client = db.connect();
    let err = enable(&mut client).unwrap_err();
    assert_eq!(sqlstate(&err), "42P01", "{err:?}");
    // nothing was made on the way
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'auth'"
        ),
        0
    );
}

#[test]
fn sign_ups_changes_and_deletions_follow_auth_users() {
    let (_db, mut client) = supabase_db("supabase_sync_flow");

    // Someone signed up before the sync existed.
    as_supabase_auth(
        &mut client,
        &sign_up_sql(
            EXISTING,
            Some("early@bird.test"),
            "$2a$10$hash.early",
            json!({"first_name": "Eve", "last_name": "Early"}),
            json!({"provider": "email"}),
        ),
    )
    .unwrap();
    assert_eq!(
        enable(&mut client).unwrap(),
        1,
        "users added by the backfill"
    );
    assert_eq!(
        gym_user(&mut client, EXISTING),
        Some(GymUser {
            email: "early@bird.test".into(),
            password_hash: "$2a$10$hash.early".into(),
            first_name: "Eve".into(),
            last_name: Some("Early".into()),
            role: "athlete".into(),
            deleted: false,
            is_anonymous: false,
        })
    );

    // A sign-up, made by Supabase Auth's own role. The metadata a user edits themselves,
    // and even app metadata, never makes an admin: everyone starts as an athlete.
    as_supabase_auth(
        &mut client,
        &sign_up_sql(
            SIGNUP,
            Some("sam@signup.test"),
            "$2a$10$hash.sam",
            json!({"first_name": "Sam", "last_name": "Signup", "role": "admin"}),
            json!({"provider": "email", "providers": ["email"], "role": "admin"}),
        ),
    )
    .unwrap();
    assert_eq!(
        gym_user(&mut client, SIGNUP),
        Some(GymUser {
            email: "sam@signup.test".into(),
            password_hash: "$2a$10$hash.sam".into(),
            first_name: "Sam".into(),
            last_name: Some("Signup".into()),
            role: "athlete".into(),
            deleted: false,
            is_anonymous: false,
        })
    );
    // Editing the metadata later changes nothing either.
    as_supabase_auth(
        &mut client,
        &format!(
            "UPDATE auth.users SET raw_user_meta_data = raw_user_meta_data || '{{\"role\": \"admin\"}}',
                                   raw_app_meta_data = raw_app_meta_data || '{{\"role\": \"admin\"}}'
              WHERE id = '{SIGNUP}'"
        ),
    )
    .unwrap();
    assert_eq!(gym_user(&mut client, SIGNUP).unwrap().role, "athlete");

    // No name in the metadata: the email's local part; a full_name: that.
    as_supabase_auth(
        &mut client,
        &sign_up_sql(
            NAMELESS,
            Some("nobody.special@x.test"),
            "$2a$10$hash.n",
            json!({}),
            json!({}),
        ),
    )
    .unwrap();
    assert_eq!(
        gym_user(&mut client, NAMELESS).unwrap().first_name,
        "nobody.special"
    );
    // Supabase's anonymous sign-in (no email, is_anonymous = true) is a live account here:
    // gym_booking's is_anonymous means deleted, and must not be copied.
    as_supabase_auth(
        &mut client,
        &format!(
            "INSERT INTO auth.users (id, aud, role, raw_user_meta_data, raw_app_meta_data,
                                     created_at, updated_at, is_anonymous)
             VALUES ('{ANONYMOUS_SIGN_IN}', 'authenticated', 'authenticated', '{{}}', '{{}}',
                     now(), now(), true)"
        ),
    )
    .unwrap();
    let anonymous =
        gym_user(&mut client, ANONYMOUS_SIGN_IN).expect("an anonymous sign-in gets a row");
    assert!(
        !anonymous.deleted && !anonymous.is_anonymous,
        "{anonymous:?}"
    );

    // Email and password changes follow; the log never holds the hash.
    as_supabase_auth(
        &mut client,
        &format!(
            "UPDATE auth.users SET email = 'sam@new.test', encrypted_password = '$2a$10$hash.sam2',
                                   updated_at = now()
              WHERE id = '{SIGNUP}'"
        ),
    )
    .unwrap();
    let sam = gym_user(&mut client, SIGNUP).unwrap();
    assert_eq!(
        (sam.email.as_str(), sam.password_hash.as_str()),
        ("sam@new.test", "$2a$10$hash.sam2")
    );
    // A sign-in only touches last_sign_in_at: no change, no log row.
    let logs_before = count(
        &mut client,
        "SELECT count(*) FROM gym_booking.activity_logs",
    );
    as_supabase_auth(
        &mut client,
        &format!("UPDATE auth.users SET last_sign_in_at = now() WHERE id = '{SIGNUP}'"),
    )
    .unwrap();
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM gym_booking.activity_logs"
        ),
        logs_before
    );
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM gym_booking.activity_logs WHERE changed_fields::text LIKE '%hash.%'"),
        0,
        "a password hash reached activity_logs"
    );

    // Deleting from auth.users (also cascading to auth.identities) is the soft delete.
    as_supabase_auth(
        &mut client,
        &format!(
            "INSERT INTO auth.identities (provider_id, user_id, identity_data, provider)
             VALUES ('{EXISTING}', '{EXISTING}', '{{}}', 'email')"
        ),
    )
    .unwrap();
    as_supabase_auth(
        &mut client,
        &format!("DELETE FROM auth.users WHERE id = '{EXISTING}'"),
    )
    .unwrap();
    assert_eq!(
        gym_user(&mut client, EXISTING),
        Some(GymUser {
            email: format!("deleted-{EXISTING}@anonymized.invalid"),
            password_hash: "!deleted".into(),
            first_name: "Anonymous user".into(),
            last_name: None,
            role: "athlete".into(),
            deleted: true,
            is_anonymous: true,
        })
    );

    // Supabase's own soft delete (deleted_at) is the soft delete too, and sticks.
    as_supabase_auth(
        &mut client,
        &format!("UPDATE auth.users SET deleted_at = now() WHERE id = '{SIGNUP}'"),
    )
    .unwrap();
    let sam = gym_user(&mut client, SIGNUP).unwrap();
    assert!(
        sam.deleted && sam.is_anonymous && sam.email.ends_with("@anonymized.invalid"),
        "{sam:?}"
    );
    as_supabase_auth(
        &mut client,
        &format!("UPDATE auth.users SET email = 'sam@again.test' WHERE id = '{SIGNUP}'"),
    )
    .unwrap();
    assert!(gym_user(&mut client, SIGNUP)
        .unwrap()
        .email
        .ends_with("@anonymized.invalid"));
    as_supabase_auth(
        &mut client,
        &format!("DELETE FROM auth.users WHERE id = '{SIGNUP}'"),
    )
    .unwrap();
    assert!(gym_user(&mut client, SIGNUP).unwrap().deleted);
}

#[test]
fn enabling_twice_is_fine() {
    let (_db, mut client) = supabase_db("supabase_enable_twice");
    as_supabase_auth(
        &mut client,
        &sign_up_sql(
            EXISTING,
            Some("early@bird.test"),
            "h",
            json!({"first_name": "Eve"}),
            json!({}),
        ),
    )
    .unwrap();
    assert_eq!(enable(&mut client).unwrap(), 1);
    assert_eq!(enable(&mut client).unwrap(), 0, "a second call adds no one");
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'auth.users'::regclass AND NOT tgisinternal"),
        1,
        "one sync trigger"
    );
    // Still in step, once: a sign-up after the second call makes exactly one row.
    as_supabase_auth(
        &mut client,
        &sign_up_sql(
            LATE,
            Some("late@comer.test"),
            "h",
            json!({"first_name": "Lou"}),
            json!({}),
        ),
    )
    .unwrap();
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM gym_booking.users"),
        2
    );
    assert_eq!(gym_user(&mut client, LATE).unwrap().first_name, "Lou");
    // Users signed up while the sync was off are added by the next call.
    client
        .batch_execute("ALTER TABLE auth.users DISABLE TRIGGER gym_booking_users_sync")
        .unwrap();
    as_supabase_auth(
        &mut client,
        &sign_up_sql(
            NAMELESS,
            Some("while.off@x.test"),
            "h",
            json!({}),
            json!({}),
        ),
    )
    .unwrap();
    assert_eq!(enable(&mut client).unwrap(), 1);
    assert!(gym_user(&mut client, NAMELESS).is_some());
}

#[test]
fn a_sign_up_whose_email_is_taken_does_not_fail() {
    let (_db, mut client) = supabase_db("supabase_email_taken");
    assert_eq!(enable(&mut client).unwrap(), 0);
    // An account the gym made itself, not through Supabase Auth.
    client
        .batch_execute(
            "INSERT INTO gym_booking.users (email, password_hash, first_name)
             VALUES ('walk.in@gym.test', 'gym-made', 'Walter')",
        )
        .unwrap();
    for (id, email) in [(TAKEN, "walk.in@gym.test"), (MOVER, "WALK.IN@gym.test")] {
        let signed_up = as_supabase_auth(
            &mut client,
            &sign_up_sql(
                id,
                Some(email),
                "$2a$10$hash.t",
                json!({"first_name": "Taken"}),
                json!({}),
            ),
        );
        assert!(
            signed_up.is_ok(),
            "sign-up as {email} failed: {signed_up:?}"
        );
        assert_eq!(
            gym_user(&mut client, id),
            None,
            "no second account with that email"
        );
    }
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM auth.users"),
        2,
        "both sign-ups are in auth.users"
    );
    // The gym's own account is untouched.
    let walter: (String, String) = client
        .query_one(
            "SELECT first_name, password_hash FROM gym_booking.users WHERE email = 'walk.in@gym.test'",
            &[],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(walter, ("Walter".to_string(), "gym-made".to_string()));
}

/// As for a sign-up, Supabase Auth does not fail because of gym_booking: an email change
/// to an address that an account made by the gym itself already uses must not be refused
/// (that account keeps its email).
#[test]
fn an_email_change_to_a_taken_email_does_not_fail() {
    let (_db, mut client) = supabase_db("supabase_email_change_taken");
    assert_eq!(enable(&mut client).unwrap(), 0);
    client
        .batch_execute(
            "INSERT INTO gym_booking.users (email, password_hash, first_name)
             VALUES ('walk.in@gym.test', 'gym-made', 'Walter')",
        )
        .unwrap();
    as_supabase_auth(
        &mut client,
        &sign_up_sql(
            MOVER,
            Some("mover@x.test"),
            "h",
            json!({"first_name": "Mo"}),
            json!({}),
        ),
    )
    .unwrap();
    let changed = as_supabase_auth(
        &mut client,
        &format!("UPDATE auth.users SET email = 'walk.in@gym.test' WHERE id = '{MOVER}'"),
    );
    assert!(
        changed.is_ok(),
        "Supabase Auth's email change failed because of gym_booking: {:?}",
        changed
            .as_ref()
            .err()
            .and_then(|e| e.as_db_error())
            .map(|d| (d.code().code().to_string(), d.message().to_string()))
    );
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM gym_booking.users WHERE email = 'walk.in@gym.test' AND first_name = 'Walter'"),
        1
    );
}

/// One request reading one identity function; the claims go in the request's preamble
/// (raw text, so that non-JSON can be sent too), and optionally the older PostgREST's
/// `request.jwt.claim.sub`.
fn identity_in_request(
    client: &mut Client,
    role: &str,
    claims: &str,
    legacy_sub: Option<&str>,
    function: &str,
) -> Result<Option<String>, String> {
    let caller = Caller::new(role, None);
    postgrest_request(client, &caller, "GET", "/rpc/whoami", |tx| {
        tx.execute(
            "SELECT set_config('request.jwt.claims', $1, true)",
            &[&claims],
        )?;
        if let Some(sub) = legacy_sub {
            tx.execute(
                "SELECT set_config('request.jwt.claim.sub', $1, true)",
                &[&sub],
            )?;
        }
        tx.query_one(&format!("SELECT {function}::text"), &[])
            .map(|r| r.get::<_, Option<String>>(0))
    })
    .map_err(|e| sqlstate(&e))
}

#[test]
fn current_user_id_agrees_with_auth_uid() {
    let (_db, mut client) = supabase_db("supabase_auth_uid");
    let a = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    let b = "b1ffcd00-0000-4000-8000-000000000002";
    let claims: Vec<(&str, String, Option<&str>)> = vec![
        ("anon", String::new(), None),
        ("anon", json!({"role": "anon"}).to_string(), None),
        (
            "authenticated",
            json!({"sub": a, "role": "authenticated"}).to_string(),
            None,
        ),
        (
            "service_role",
            json!({"role": "service_role"}).to_string(),
            None,
        ),
        ("authenticated", json!({"sub": null}).to_string(), None),
        ("authenticated", "{}".to_string(), None),
        (
            "authenticated",
            json!({"sub": a.to_uppercase()}).to_string(),
            None,
        ),
        (
            "authenticated",
            json!({"sub": format!("{{{a}}}")}).to_string(),
            None,
        ),
        (
            "authenticated",
            json!({"sub": a.replace('-', "")}).to_string(),
            None,
        ),
        (
            "authenticated",
            json!({"sub": "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11"}).to_string(),
            None,
        ),
        (
            "authenticated",
            json!({"sub": "not-a-uuid"}).to_string(),
            None,
        ),
        ("authenticated", json!({"sub": 42}).to_string(), None),
        ("authenticated", json!({"sub": true}).to_string(), None),
        ("authenticated", json!({"sub": {"id": a}}).to_string(), None),
        (
            "authenticated",
            json!({"sub": format!(" {a}")}).to_string(),
            None,
        ),
        // hyphens where PostgreSQL's uuid input does not take them
        (
            "authenticated",
            json!({"sub": "a-0eebc999c0b4ef8bb6d6bb9bd380a11"}).to_string(),
            None,
        ),
        (
            "authenticated",
            json!({"sub": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1-1"}).to_string(),
            None,
        ),
        (
            "authenticated",
            json!({"sub": "a0eebc999-c0b4ef8bb6d6bb9bd380a11"}).to_string(),
            None,
        ),
        // a '+' where PostgreSQL wants a hex digit
        (
            "authenticated",
            json!({"sub": "+0+0+0+0+0+0+0+0+0+0+0+0+0+0+0+0"}).to_string(),
            None,
        ),
        (
            "authenticated",
            json!({"sub": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a+1"}).to_string(),
            None,
        ),
        // claims that are not a JSON object, or not JSON
        ("authenticated", "null".to_string(), None),
        ("authenticated", "[1, 2]".to_string(), None),
        ("authenticated", "\"sub\"".to_string(), None),
        ("authenticated", "not json".to_string(), None),
        ("authenticated", "   ".to_string(), None),
        ("authenticated", format!("{{\"sub\": \"{a}\""), None),
        // duplicate keys: the last one, as jsonb keeps it
        (
            "authenticated",
            format!("{{\"sub\": \"{b}\", \"sub\": \"{a}\"}}"),
            None,
        ),
        // the older PostgREST's setting comes first; empty counts as absent
        ("authenticated", json!({"sub": b}).to_string(), Some(a)),
        ("authenticated", json!({"sub": b}).to_string(), Some("")),
        ("authenticated", String::new(), Some(a)),
        ("authenticated", String::new(), Some("not-a-uuid")),
    ];
    let mut disagreements = Vec::new();
    for (role, text, legacy) in &claims {
        let supabase = identity_in_request(&mut client, role, text, *legacy, "auth.uid()");
        let ours = identity_in_request(
            &mut client,
            role,
            text,
            *legacy,
            "gym_booking.current_user_id()",
        );
        if supabase != ours {
            disagreements.push(format!(
                "role {role}, request.jwt.claims {text:?}, request.jwt.claim.sub {legacy:?}: \
                 auth.uid() {supabase:?}, current_user_id() {ours:?}"
            ));
        }
    }
    // The one deliberate difference: an empty sub is no one here (NULL), where auth.uid()
    // fails casting '' to uuid. Both refuse anything that needs a person.
    let empty = json!({"sub": ""}).to_string();
    assert_eq!(
        identity_in_request(&mut client, "authenticated", &empty, None, "auth.uid()"),
        Err("22P02".to_string())
    );
    assert_eq!(
        identity_in_request(
            &mut client,
            "authenticated",
            &empty,
            None,
            "gym_booking.current_user_id()"
        ),
        Ok(None)
    );
    assert!(
        disagreements.is_empty(),
        "{} of {} claim settings disagree (Ok = the id, Err = the SQLSTATE):\n{}",
        disagreements.len(),
        claims.len(),
        disagreements.join("\n")
    );
}

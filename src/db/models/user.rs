use crate::db::schema::users;
use crate::db::{write_transaction, DbConn};
use crate::error::{AppError, AppResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Queryable, Selectable, Identifiable, Clone, PartialEq, Eq)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub display_name: Option<String>,
    pub is_admin: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Browser sessions carry the generation they began under; only the current one signs in.
    pub session_generation: i64,
}

// The password hash stays out of logs and panics.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("is_admin", &self.is_admin)
            .finish_non_exhaustive()
    }
}

impl User {
    /// What to call the user on a page.
    pub fn name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.email)
    }
}

#[derive(Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
struct NewUser<'a> {
    email: &'a str,
    password_hash: &'a str,
    display_name: Option<&'a str>,
    is_admin: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// Emails are compared case-insensitively: stored trimmed and lower-cased.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A deliberately plain check: one `@`, something on each side, no spaces. The real test of an
/// address is whether mail arrives, which this server does not send.
pub fn validate_email(email: &str) -> Result<(), String> {
    let email = email.trim();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if valid {
        Ok(())
    } else {
        Err("enter a valid email address, like name@example.com".into())
    }
}

pub fn find(conn: &mut DbConn, id: i64) -> AppResult<Option<User>> {
    Ok(crate::db::on_backend!(conn, c => users::table
        .find(id)
        .select(User::as_select())
        .first(c)
        .optional())?)
}

/// A user's address alone, not the whole account row: what an access token's `email` claim
/// and introspection's `username` say.
pub fn email(conn: &mut DbConn, id: i64) -> AppResult<Option<String>> {
    Ok(crate::db::on_backend!(conn, c => users::table
        .find(id)
        .select(users::email)
        .first(c)
        .optional())?)
}

pub fn find_by_email(conn: &mut DbConn, email: &str) -> AppResult<Option<User>> {
    Ok(users::table
        .filter(users::email.eq(normalise_email(email)))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

pub fn list(conn: &mut DbConn) -> AppResult<Vec<User>> {
    Ok(users::table
        .order(users::id.asc())
        .select(User::as_select())
        .load(conn)?)
}

/// Who becomes an administrator when an account is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminPolicy {
    /// Only the first account ever created.
    FirstUserOnly,
    /// This account, whatever exists already (`panicless user create --admin`).
    Always,
}

/// Creates an account. The email must be free (case-insensitively): a taken one is a 409 that
/// names no account (no id), so that it tells nothing about another user. The first account on
/// a server is its administrator.
pub fn create(
    conn: &mut DbConn,
    email: &str,
    password_hash: &str,
    display_name: Option<&str>,
    policy: AdminPolicy,
    now: NaiveDateTime,
) -> AppResult<User> {
    let email = normalise_email(email);
    validate_email(&email).map_err(|message| AppError::validation("email", message))?;
    let display_name = display_name.map(str::trim).filter(|n| !n.is_empty());
    write_transaction(conn, |conn| {
        if find_by_email(conn, &email)?.is_some() {
            return Err(AppError::Conflict {
                message: "an account with this email already exists".into(),
                existing_id: None,
            });
        }
        let first = users::table.count().get_result::<i64>(&mut **conn)? == 0;
        let id: i64 = diesel::insert_into(users::table)
            .values(NewUser {
                email: &email,
                password_hash,
                display_name,
                is_admin: first || policy == AdminPolicy::Always,
                created_at: now,
                updated_at: now,
            })
            .returning(users::id)
            .get_result(&mut **conn)?;
        find(conn, id)?.ok_or_else(|| AppError::internal("user vanished after insert"))
    })
}

/// Ends every browser session of the user, on every instance: sessions that began under the
/// generation before this one are refused from their next request on. Called on sign-out
/// (`crate::auth::account::set_password` does the same on a password change).
pub fn end_sessions(conn: &mut DbConn, id: i64) -> AppResult<()> {
    write_transaction(conn, |conn| {
        diesel::update(users::table.find(id))
            .set(users::session_generation.eq(users::session_generation + 1))
            .execute(&mut **conn)
    })?;
    Ok(())
}

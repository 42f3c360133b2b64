//! Grants: what one approval of one app produced (a code, then access and refresh tokens that
//! share a grant id). Listed on the connections and admin pages and by the CLI; revoked there.

use crate::db::schema::{oauth_clients, oauth_consents, oauth_tokens, users};
use crate::db::{write_transaction, DbConn, Writer};
use crate::error::AppResult;
use chrono::NaiveDateTime;
use diesel::dsl::{max, min};
use diesel::prelude::*;

/// One live grant.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub grant_id: String,
    pub user_id: i64,
    pub user_email: String,
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub tokens: i64,
}

#[derive(Debug, Default, Clone)]
pub struct GrantFilter {
    pub user_id: Option<i64>,
    pub user_email: Option<String>,
    pub client_id: Option<String>,
}

type GrantRow = (
    String,
    i64,
    Option<i64>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    i64,
);

/// Live grants of OAuth clients (some token neither revoked nor expired), newest first.
pub fn list(conn: &mut DbConn, filter: &GrantFilter, now: NaiveDateTime) -> AppResult<Vec<Grant>> {
    let mut user_ids: Option<i64> = filter.user_id;
    if let Some(email) = filter
        .user_email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let id: Option<i64> = users::table
            .filter(users::email.eq(email.to_lowercase()))
            .select(users::id)
            .first(conn)
            .optional()?;
        user_ids = Some(id.unwrap_or(-1));
    }
    let mut client_ids: Option<i64> = None;
    if let Some(client_id) = filter
        .client_id
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        let id: Option<i64> = oauth_clients::table
            .filter(oauth_clients::client_id.eq(client_id))
            .select(oauth_clients::id)
            .first(conn)
            .optional()?;
        client_ids = Some(id.unwrap_or(-1));
    }
    // Grouping comes before boxing: Diesel cannot group a boxed query.
    let mut query = oauth_tokens::table
        .group_by((
            oauth_tokens::grant_id,
            oauth_tokens::user_id,
            oauth_tokens::client_id,
        ))
        .select((
            oauth_tokens::grant_id,
            oauth_tokens::user_id,
            oauth_tokens::client_id,
            min(oauth_tokens::issued_at),
            max(oauth_tokens::expires_at),
            max(oauth_tokens::last_used_at),
            diesel::dsl::count_star(),
        ))
        .filter(oauth_tokens::revoked_at.is_null())
        .filter(oauth_tokens::expires_at.gt(now))
        .filter(oauth_tokens::client_id.is_not_null())
        .into_boxed::<crate::library::Db>();
    if let Some(user_id) = user_ids {
        query = query.filter(oauth_tokens::user_id.eq(user_id));
    }
    if let Some(client_id) = client_ids {
        query = query.filter(oauth_tokens::client_id.eq(client_id));
    }
    let rows: Vec<GrantRow> = query.load(conn)?;
    let mut grants = Vec::with_capacity(rows.len());
    for (grant_id, user_id, client, issued, expires, used, tokens) in rows {
        let user_email: String = users::table
            .find(user_id)
            .select(users::email)
            .first(conn)?;
        let (client_id, client_name): (String, String) = oauth_clients::table
            .find(client.unwrap_or(-1))
            .select((oauth_clients::client_id, oauth_clients::client_name))
            .first(conn)?;
        let scope = oauth_tokens::table
            .filter(oauth_tokens::grant_id.eq(&grant_id))
            .order(oauth_tokens::id.desc())
            .select(oauth_tokens::scope)
            .first(conn)?;
        grants.push(Grant {
            grant_id,
            user_id,
            user_email,
            client_id,
            client_name,
            scope,
            issued_at: issued.unwrap_or(now),
            expires_at: expires.unwrap_or(now),
            last_used_at: used,
            tokens,
        });
    }
    grants.sort_by_key(|g| std::cmp::Reverse(g.issued_at));
    Ok(grants)
}

/// Revokes a grant; with `user_id`, only if it is that user's. Returns tokens revoked.
pub fn revoke(
    conn: &mut DbConn,
    grant_id: &str,
    user_id: Option<i64>,
    now: NaiveDateTime,
) -> AppResult<usize> {
    write_transaction(conn, |conn| revoke_grant(conn, grant_id, user_id, now))
}

fn revoke_grant(
    conn: &mut Writer<'_>,
    grant_id: &str,
    user_id: Option<i64>,
    now: NaiveDateTime,
) -> AppResult<usize> {
    let mut query = diesel::update(oauth_tokens::table)
        .filter(oauth_tokens::grant_id.eq(grant_id))
        .filter(oauth_tokens::revoked_at.is_null())
        .into_boxed();
    if let Some(user_id) = user_id {
        query = query.filter(oauth_tokens::user_id.eq(user_id));
    }
    Ok(query
        .set(oauth_tokens::revoked_at.eq(now))
        .execute(&mut **conn)?)
}

/// Disconnects an app from a user: revokes the grant and forgets the consent, so connecting
/// again asks again.
pub fn disconnect(
    conn: &mut DbConn,
    grant_id: &str,
    user_id: i64,
    now: NaiveDateTime,
) -> AppResult<usize> {
    write_transaction(conn, |conn| {
        let client: Option<Option<i64>> = oauth_tokens::table
            .filter(oauth_tokens::grant_id.eq(grant_id))
            .filter(oauth_tokens::user_id.eq(user_id))
            .select(oauth_tokens::client_id)
            .first(&mut **conn)
            .optional()?;
        if let Some(Some(client)) = client {
            diesel::delete(
                oauth_consents::table
                    .filter(oauth_consents::user_id.eq(user_id))
                    .filter(oauth_consents::client_id.eq(client)),
            )
            .execute(&mut **conn)?;
        }
        revoke_grant(conn, grant_id, Some(user_id), now)
    })
}

/// Revokes everything of a client and disables it.
pub fn revoke_client(conn: &mut DbConn, client_id: &str, now: NaiveDateTime) -> AppResult<usize> {
    write_transaction(conn, |conn| {
        let Some(id) = oauth_clients::table
            .filter(oauth_clients::client_id.eq(client_id))
            .select(oauth_clients::id)
            .first::<i64>(&mut **conn)
            .optional()?
        else {
            return Ok(0);
        };
        diesel::update(oauth_clients::table.find(id))
            .set(oauth_clients::disabled.eq(true))
            .execute(&mut **conn)?;
        diesel::delete(oauth_consents::table.filter(oauth_consents::client_id.eq(id)))
            .execute(&mut **conn)?;
        Ok(diesel::update(
            oauth_tokens::table
                .filter(oauth_tokens::client_id.eq(id))
                .filter(oauth_tokens::revoked_at.is_null()),
        )
        .set(oauth_tokens::revoked_at.eq(now))
        .execute(&mut **conn)?)
    })
}

/// Revokes every token of a user (first-party ones too).
pub fn revoke_user(conn: &mut DbConn, user_id: i64, now: NaiveDateTime) -> AppResult<usize> {
    write_transaction(conn, |conn| {
        diesel::delete(oauth_consents::table.filter(oauth_consents::user_id.eq(user_id)))
            .execute(&mut **conn)?;
        Ok(diesel::update(
            oauth_tokens::table
                .filter(oauth_tokens::user_id.eq(user_id))
                .filter(oauth_tokens::revoked_at.is_null()),
        )
        .set(oauth_tokens::revoked_at.eq(now))
        .execute(&mut **conn)?)
    })
}

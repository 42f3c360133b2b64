//! Rows of `oauth_tokens`: every token this server issues has one, so any token can be revoked
//! and the revocation is seen on the very next request.

use crate::db::schema::oauth_tokens;
use crate::db::{DbConn, Writer};
use crate::error::AppResult;
use chrono::NaiveDateTime;
use diesel::prelude::*;

// `None` is bound as NULL rather than left out of the column list: one SQL text for every token,
// so SQLite keeps one prepared statement instead of compiling an INSERT per combination.
#[derive(Insertable)]
#[diesel(table_name = oauth_tokens, treat_none_as_default_value = false)]
pub struct NewToken<'a> {
    pub kind: &'a str,
    pub token_hash: &'a str,
    pub jti: Option<&'a str>,
    pub user_id: i64,
    pub client_id: Option<i64>,
    pub scope: &'a str,
    pub audience: Option<&'a str>,
    pub grant_id: &'a str,
    pub parent_id: Option<i64>,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn insert(conn: &mut Writer<'_>, token: &NewToken<'_>) -> AppResult<i64> {
    Ok(
        crate::db::on_backend!(&mut **conn, c => diesel::insert_into(oauth_tokens::table)
        .values(token)
        .returning(oauth_tokens::id)
        .get_result(c))?,
    )
}

/// Revokes the access token whose JWT has `jti`, if it belongs to `user_id`. Returns the rows
/// changed (0 when it was already revoked).
pub fn revoke_access(
    conn: &mut DbConn,
    jti: &str,
    user_id: i64,
    now: NaiveDateTime,
) -> AppResult<usize> {
    let hash = crate::auth::secret::hash_token(jti);
    Ok(crate::db::write_transaction(conn, |c| {
        diesel::update(
            oauth_tokens::table
                .filter(oauth_tokens::token_hash.eq(&hash))
                .filter(oauth_tokens::kind.eq("access"))
                .filter(oauth_tokens::user_id.eq(user_id))
                .filter(oauth_tokens::revoked_at.is_null()),
        )
        .set(oauth_tokens::revoked_at.eq(now))
        .execute(&mut **c)
    })?)
}

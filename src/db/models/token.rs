//! Rows of `oauth_tokens`: every token this server issues has one, so any token can be revoked
//! and the revocation is seen on the very next request.

use crate::db::schema::oauth_tokens;
use crate::db::{DbConn, Writer};
use crate::error::AppResult;
use chrono::NaiveDateTime;
use diesel::prelude::*;

crate::db::models::text_enum! {
    /// What a row of `oauth_tokens` is: a signed access token (found by its `jti`) or an opaque
    /// refresh token (found by its hash).
    pub enum TokenKind {
        Access = "access",
        Refresh = "refresh",
    }
}

// `None` is bound as NULL rather than left out of the column list: one SQL text for every token,
// so SQLite keeps one prepared statement instead of compiling an INSERT per combination.
#[derive(Insertable)]
#[diesel(table_name = oauth_tokens, treat_none_as_default_value = false)]
pub struct NewToken<'a> {
    pub kind: TokenKind,
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
    /// A grant row's first generation (1) and the hash of its secret (`oauth::grant_token`);
    /// 0 and `None` on a first-party access token's row.
    pub generation: i64,
    pub secret_hash: Option<&'a str>,
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
/// changed (0 when it was already revoked). An OAuth client's access token has no row of its
/// own (its `jti` names its grant's row): revoking it ends its grant, as RFC 7009 allows.
pub fn revoke_access(
    conn: &mut DbConn,
    jti: &str,
    user_id: i64,
    now: NaiveDateTime,
) -> AppResult<usize> {
    if let Some(row_id) = crate::oauth::grant_token::row_of_jti(jti) {
        return crate::db::write_transaction(conn, |c| -> AppResult<usize> {
            let grant: Option<String> = oauth_tokens::table
                .find(row_id)
                .filter(oauth_tokens::user_id.eq(user_id))
                .select(oauth_tokens::grant_id)
                .first(&mut **c)
                .optional()?;
            let Some(grant) = grant else { return Ok(0) };
            Ok(diesel::update(
                oauth_tokens::table
                    .filter(oauth_tokens::grant_id.eq(&grant))
                    .filter(oauth_tokens::revoked_at.is_null()),
            )
            .set(oauth_tokens::revoked_at.eq(now))
            .execute(&mut **c)?)
        });
    }
    let hash = crate::crypto::hash_token(jti);
    Ok(crate::db::write_transaction(conn, |c| {
        diesel::update(
            oauth_tokens::table
                .filter(oauth_tokens::token_hash.eq(&hash))
                .filter(oauth_tokens::kind.eq(TokenKind::Access))
                .filter(oauth_tokens::user_id.eq(user_id))
                .filter(oauth_tokens::revoked_at.is_null()),
        )
        .set(oauth_tokens::revoked_at.eq(now))
        .execute(&mut **c)
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::dsl::sql;
    use diesel::sql_types::Text;

    #[test]
    fn kinds_keep_the_words_rows_were_stored_with() {
        // Rows written before the enum say exactly these: no migration rewrote them.
        assert_eq!(TokenKind::Access.as_str(), "access");
        assert_eq!(TokenKind::Refresh.as_str(), "refresh");
        for kind in [TokenKind::Access, TokenKind::Refresh] {
            assert_eq!(TokenKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(TokenKind::parse("Access"), None);
    }

    #[test]
    fn a_kind_binds_and_loads_as_its_word_and_an_unknown_word_fails() {
        let mut conn = crate::db::in_memory();
        let bound: String = diesel::select(TokenKind::Refresh.into_sql::<Text>())
            .get_result(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bound, "refresh");
        let loaded: TokenKind = diesel::select(sql::<Text>("'access'"))
            .get_result(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded, TokenKind::Access);
        let unknown = diesel::select(sql::<Text>("'session'")).get_result::<TokenKind>(&mut conn);
        assert!(unknown.is_err(), "{unknown:?}");
    }
}

//! Connecting a provider account with OAuth + PKCE: an attempt (state, verifier) is created per
//! click, kept in the database bound to the browser session, valid ten minutes, used once. The
//! provider sends the code back to our callback, or shows `code#state` for the user to paste.

use super::binding::{Binding, Field};
use super::providers::{Provider, RedirectMode};
use super::store;
use crate::crypto::{hash_token, random_token, Keyring};
use crate::db::schema::{connector_attempts, connectors};
use crate::db::{write_transaction, DbConn};
use crate::error::{AppError, AppResult};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Deserialize;

pub const ATTEMPT_LIFETIME_SECS: i64 = 600;

/// A started attempt: where to send the user.
#[derive(Debug)]
pub struct Started {
    pub authorization_url: String,
    pub mode: RedirectMode,
}

/// Why an attempt cannot finish, in words for a page.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("this connection attempt is unknown or belongs to another browser session; start again from the connectors page")]
    StateMismatch,
    #[error("this connection attempt has expired (they last ten minutes); start again")]
    Expired,
    #[error("this connection attempt was already used; start again")]
    Used,
    #[error("the provider refused: {0}")]
    Provider(String),
    #[error("the pasted text is not a code from the provider (expected code#state)")]
    BadPaste,
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<diesel::result::Error> for FlowError {
    fn from(error: diesel::result::Error) -> Self {
        FlowError::App(error.into())
    }
}

pub fn callback_uri(public_url: &str) -> String {
    format!("{public_url}/connectors/oauth/callback")
}

fn pkce_challenge(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// Creates an attempt and returns the provider's authorization URL. `session_secret` is the
/// random value kept in the user's session cookie for this attempt.
#[allow(clippy::too_many_arguments)]
pub fn start(
    conn: &mut DbConn,
    keyring: &Keyring,
    provider: &Provider,
    public_url: &str,
    user_id: i64,
    label: &str,
    session_secret: &str,
    now: NaiveDateTime,
) -> AppResult<Started> {
    let (Some(authorize), Some(client_id)) = (&provider.authorization_url, &provider.client_id)
    else {
        return Err(AppError::validation(
            "provider",
            "this provider is not set up for OAuth",
        ));
    };
    let redirect_uri = match provider.redirect_mode {
        RedirectMode::Callback => callback_uri(public_url),
        RedirectMode::Paste => provider.paste_redirect_uri.clone().unwrap_or_default(),
    };
    let state = random_token(32);
    let verifier = random_token(48);
    write_transaction(conn, |conn| {
        // Said now, before the user goes to the provider, and checked again when the tokens
        // arrive (save_tokens).
        same_label(conn, user_id, label, &provider.name)?;
        let id: i64 = diesel::insert_into(connector_attempts::table)
            .values((
                connector_attempts::user_id.eq(user_id),
                connector_attempts::provider.eq(&provider.name),
                connector_attempts::label.eq(label),
                connector_attempts::state_hash.eq(hash_token(&state)),
                connector_attempts::session_hash.eq(hash_token(session_secret)),
                connector_attempts::verifier_sealed.eq(""),
                connector_attempts::redirect_uri.eq(&redirect_uri),
                connector_attempts::created_at.eq(now),
                connector_attempts::expires_at.eq(now + Duration::seconds(ATTEMPT_LIFETIME_SECS)),
            ))
            .returning(connector_attempts::id)
            .get_result(&mut **conn)?;
        let sealed = keyring
            .seal(
                &verifier,
                Binding {
                    connector_id: id,
                    user_id,
                    field: Field::PkceVerifier,
                },
            )
            .map_err(|e| AppError::internal_from("the sign-in's PKCE verifier", e))?;
        diesel::update(connector_attempts::table.find(id))
            .set(connector_attempts::verifier_sealed.eq(sealed))
            .execute(&mut **conn)?;
        Ok::<(), AppError>(())
    })?;
    let mut url =
        url::Url::parse(authorize).map_err(|_| AppError::internal("bad authorization_url"))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", &provider.scopes.join(" "))
        .append_pair("state", &state)
        .append_pair("code_challenge", &pkce_challenge(&verifier))
        .append_pair("code_challenge_method", "S256");
    if provider.redirect_mode == RedirectMode::Paste {
        url.query_pairs_mut().append_pair("code", "true");
    }
    Ok(Started {
        authorization_url: url.to_string(),
        mode: provider.redirect_mode,
    })
}

/// What a claimed attempt gives the token exchange.
pub struct Claimed {
    pub user_id: i64,
    pub provider: String,
    pub label: String,
    pub verifier: String,
    pub redirect_uri: String,
}

/// Finds the attempt by its state, checks it belongs to this session, is fresh and unused, and
/// marks it used (once, even under concurrent callbacks).
pub fn claim(
    conn: &mut DbConn,
    keyring: &Keyring,
    state: &str,
    session_secret: Option<&str>,
    now: NaiveDateTime,
) -> Result<Claimed, FlowError> {
    type Row = (
        i64,
        i64,
        String,
        String,
        String,
        String,
        String,
        NaiveDateTime,
        Option<NaiveDateTime>,
    );
    let row: Option<Row> = connector_attempts::table
        .filter(connector_attempts::state_hash.eq(hash_token(state)))
        .select((
            connector_attempts::id,
            connector_attempts::user_id,
            connector_attempts::provider,
            connector_attempts::label,
            connector_attempts::session_hash,
            connector_attempts::verifier_sealed,
            connector_attempts::redirect_uri,
            connector_attempts::expires_at,
            connector_attempts::used_at,
        ))
        .first(conn)
        .optional()?;
    let Some((
        id,
        user_id,
        provider,
        label,
        session_hash,
        sealed,
        redirect_uri,
        expires_at,
        used_at,
    )) = row
    else {
        return Err(FlowError::StateMismatch);
    };
    if session_secret.map(hash_token).as_deref() != Some(session_hash.as_str()) {
        return Err(FlowError::StateMismatch);
    }
    if used_at.is_some() {
        return Err(FlowError::Used);
    }
    if expires_at <= now {
        return Err(FlowError::Expired);
    }
    let claimed = write_transaction(conn, |conn| {
        diesel::update(
            connector_attempts::table
                .filter(connector_attempts::id.eq(id))
                .filter(connector_attempts::used_at.is_null()),
        )
        .set(connector_attempts::used_at.eq(now))
        .execute(&mut **conn)
    })?;
    if claimed != 1 {
        return Err(FlowError::Used);
    }
    let verifier = keyring
        .open(
            &sealed,
            Binding {
                connector_id: id,
                user_id,
                field: Field::PkceVerifier,
            },
        )
        .map_err(|e| AppError::internal_from("the sign-in's PKCE verifier", e))?;
    Ok(Claimed {
        user_id,
        provider,
        label,
        verifier,
        redirect_uri,
    })
}

/// A provider's token response.
#[derive(Deserialize)]
pub struct ProviderTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<i64>,
}

impl std::fmt::Debug for ProviderTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderTokens")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct ProviderError {
    error: String,
    error_description: Option<String>,
}

/// POSTs a token request to the provider. A refusal is `FlowError::Provider` with its words.
pub async fn token_request(
    http: &reqwest::Client,
    provider: &Provider,
    form: &[(&str, &str)],
) -> Result<ProviderTokens, FlowError> {
    let url = provider
        .token_url
        .as_deref()
        .ok_or_else(|| FlowError::Provider("no token_url configured".into()))?;
    let mut form: Vec<(&str, &str)> = form.to_vec();
    if let Some(client_id) = provider.client_id.as_deref() {
        form.push(("client_id", client_id));
    }
    if let Some(secret) = provider.client_secret.as_deref() {
        form.push(("client_secret", secret));
    }
    let response = http
        .post(url)
        .header("Accept", "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|e| {
            FlowError::Provider(format!("could not reach the provider: {}", e.without_url()))
        })?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|_| FlowError::Provider("the provider's answer could not be read".into()))?;
    if status.is_success() {
        serde_json::from_slice(&body).map_err(|_| {
            FlowError::Provider("the provider's answer is not a token response".into())
        })
    } else {
        let message = serde_json::from_slice::<ProviderError>(&body)
            .map(|e| match e.error_description {
                Some(d) => format!("{}: {d}", e.error),
                None => e.error,
            })
            .unwrap_or_else(|_| format!("HTTP {status}"));
        Err(FlowError::Provider(message))
    }
}

/// The id of the user's connector labelled `label`, if any. Labels are unique per user, and a
/// reconnect finds its connector by label: one that belongs to another provider is refused,
/// or its credential would be replaced by this provider's token and then sent to the other.
fn same_label(
    conn: &mut DbConn,
    user_id: i64,
    label: &str,
    provider: &str,
) -> AppResult<Option<i64>> {
    let existing: Option<(i64, String)> = connectors::table
        .filter(connectors::user_id.eq(user_id))
        .filter(connectors::label.eq(label))
        .select((connectors::id, connectors::provider))
        .first(conn)
        .optional()?;
    match existing {
        Some((_, other)) if other != provider => Err(AppError::Conflict {
            message: format!(
                "you already have a connector named {label} for {other}: choose another name \
                 for this {provider} connection, or delete that connector first"
            ),
            existing_id: None,
        }),
        found => Ok(found.map(|(id, _)| id)),
    }
}

/// Stores (or, for a reconnect with the same label and provider, replaces) the OAuth
/// connector's tokens, sealed.
pub fn save_tokens(
    conn: &mut DbConn,
    keyring: &Keyring,
    claimed: &Claimed,
    tokens: &ProviderTokens,
    now: NaiveDateTime,
) -> AppResult<i64> {
    write_transaction(conn, |conn| {
        let existing = same_label(conn, claimed.user_id, &claimed.label, &claimed.provider)?;
        let id = match existing {
            Some(id) => id,
            None => diesel::insert_into(connectors::table)
                .values((
                    connectors::user_id.eq(claimed.user_id),
                    connectors::kind.eq("oauth"),
                    connectors::provider.eq(&claimed.provider),
                    connectors::label.eq(&claimed.label),
                    connectors::status.eq("active"),
                    connectors::created_at.eq(now),
                    connectors::updated_at.eq(now),
                ))
                .returning(connectors::id)
                .get_result(&mut **conn)?,
        };
        store::write_tokens(
            conn,
            keyring,
            id,
            claimed.user_id,
            &claimed.provider,
            tokens,
            now,
        )?;
        Ok(id)
    })
}

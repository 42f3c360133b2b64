//! Connector rows: create, list, rename, delete, and re-sealing under a new key. Secrets go in
//! sealed and come out only to the code that uses them; what the API shows is a hint.

use super::binding::{Binding, Field};
use crate::crypto::Keyring;
use crate::db::schema::{connectors, encryption_keys};
use crate::db::{write_transaction, DbConn, Writer};
use crate::error::{AppError, AppResult, FieldError};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Queryable, Selectable, Clone)]
#[diesel(table_name = connectors)]
pub struct ConnectorRow {
    pub id: i64,
    pub user_id: i64,
    pub kind: String,
    pub provider: String,
    pub label: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub api_key_sealed: Option<String>,
    pub access_token_sealed: Option<String>,
    pub refresh_token_sealed: Option<String>,
    pub secret_hint: Option<String>,
    pub expires_at: Option<NaiveDateTime>,
    pub last_refreshed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

impl std::fmt::Debug for ConnectorRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorRow")
            .field("id", &self.id)
            .field("provider", &self.provider)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// A connector as the API and pages show it: never a secret, only a hint.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Connector {
    pub id: i64,
    /// `api_key` or `oauth`.
    pub kind: String,
    pub provider: String,
    pub label: String,
    /// `active`, `expiring`, `needs_reauth` or `error`.
    pub status: String,
    pub status_reason: Option<String>,
    /// The provider and the last four characters of the secret.
    pub hint: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_refreshed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// An OAuth connector this close to expiry, with no way to refresh, is `expiring`.
const EXPIRING_MINUTES: i64 = 10;

impl From<ConnectorRow> for Connector {
    fn from(row: ConnectorRow) -> Self {
        let soon = chrono::Utc::now().naive_utc() + chrono::Duration::minutes(EXPIRING_MINUTES);
        let expiring = row.status == "active"
            && row.kind == "oauth"
            && row.refresh_token_sealed.is_none()
            && row.expires_at.is_some_and(|at| at < soon);
        Connector {
            id: row.id,
            kind: row.kind,
            provider: row.provider,
            label: row.label,
            status: if expiring {
                "expiring".into()
            } else {
                row.status
            },
            status_reason: row.status_reason,
            hint: row.secret_hint,
            expires_at: row.expires_at.map(|t| t.and_utc()),
            last_refreshed_at: row.last_refreshed_at.map(|t| t.and_utc()),
            created_at: row.created_at.and_utc(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKeyConnector {
    /// For example `anthropic` or `openai`.
    pub provider: String,
    pub label: Option<String>,
    pub api_key: String,
}

// The key must never reach a log through Debug.
impl std::fmt::Debug for NewApiKeyConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKeyConnector")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorPatch {
    pub label: String,
}

/// The shape a provider's API keys have, so a key pasted into the wrong place is caught: the
/// prefix from the providers file when it names one, else the known prefixes.
pub fn check_key_format(
    provider: &str,
    key: &str,
    configured_prefix: Option<&str>,
) -> Result<(), String> {
    if key.chars().any(char::is_whitespace) || key.len() < 8 || key.len() > 512 {
        return Err("an API key is 8 to 512 characters with no spaces".into());
    }
    if let Some(prefix) = configured_prefix {
        return if key.starts_with(prefix) {
            Ok(())
        } else {
            Err(format!("{provider} API keys start with {prefix}"))
        };
    }
    match provider {
        "anthropic" if !key.starts_with("sk-ant-") => {
            Err("Anthropic API keys start with sk-ant-".into())
        }
        "openai" if !key.starts_with("sk-") => Err("OpenAI API keys start with sk-".into()),
        "mistral" | "google" | "anthropic" | "openai" => Ok(()),
        other
            if other
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !other.is_empty()
                && other.len() <= 40 =>
        {
            Ok(())
        }
        _ => Err("the provider is a short lower-case name, like anthropic or openai".into()),
    }
}

/// "anthropic …wxyz": enough to recognise a key, useless to anyone who reads it.
pub fn hint(provider: &str, secret: &str) -> String {
    let tail: String = secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{provider} …{tail}")
}

fn find_row(conn: &mut DbConn, user_id: i64, id: i64) -> AppResult<ConnectorRow> {
    connectors::table
        .filter(connectors::id.eq(id))
        .filter(connectors::user_id.eq(user_id))
        .select(ConnectorRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)
}

pub fn get(conn: &mut DbConn, user_id: i64, id: i64) -> AppResult<Connector> {
    find_row(conn, user_id, id).map(Connector::from)
}

pub fn list(conn: &mut DbConn, user_id: i64) -> AppResult<Vec<Connector>> {
    Ok(connectors::table
        .filter(connectors::user_id.eq(user_id))
        .order(connectors::id.asc())
        .select(ConnectorRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Connector::from)
        .collect())
}

fn sealing(error: crate::crypto::CryptoError) -> AppError {
    AppError::internal_from("sealing", error)
}

/// Stores an API key, sealed under the row's own id (known only after the insert, hence the
/// transaction).
pub fn create_api_key(
    conn: &mut DbConn,
    keyring: &Keyring,
    providers: &super::providers::Providers,
    user_id: i64,
    input: NewApiKeyConnector,
    now: NaiveDateTime,
) -> AppResult<Connector> {
    let provider = input.provider.trim().to_lowercase();
    let key = input.api_key.trim().to_string();
    let mut problems = Vec::new();
    let prefix = providers
        .get(&provider)
        .and_then(|p| p.api_key_prefix.as_deref());
    if let Err(message) = check_key_format(&provider, &key, prefix) {
        problems.push(FieldError::new(
            if message.contains("provider") {
                "provider"
            } else {
                "api_key"
            },
            message,
        ));
    }
    // The limit counts the label as sent, like the OpenAPI document's maxLength.
    if input
        .label
        .as_deref()
        .is_some_and(|l| crate::library::books::sent_length(l) > 100)
    {
        problems.push(FieldError::new("label", "must be at most 100 characters"));
    }
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    let label = input
        .label
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| provider.clone());
    write_transaction(conn, |conn| {
        let taken: i64 = connectors::table
            .filter(connectors::user_id.eq(user_id))
            .filter(connectors::label.eq(&label))
            .count()
            .get_result(&mut **conn)?;
        if taken > 0 {
            return Err(AppError::Conflict {
                message: format!("you already have a connector named {label}"),
                existing_id: None,
            });
        }
        let id: i64 = diesel::insert_into(connectors::table)
            .values((
                connectors::user_id.eq(user_id),
                connectors::kind.eq("api_key"),
                connectors::provider.eq(&provider),
                connectors::label.eq(&label),
                connectors::status.eq("active"),
                connectors::secret_hint.eq(hint(&provider, &key)),
                connectors::created_at.eq(now),
                connectors::updated_at.eq(now),
            ))
            .returning(connectors::id)
            .get_result(&mut **conn)?;
        let sealed = keyring
            .seal(
                &key,
                Binding {
                    connector_id: id,
                    user_id,
                    field: Field::ApiKey,
                },
            )
            .map_err(sealing)?;
        diesel::update(connectors::table.find(id))
            .set(connectors::api_key_sealed.eq(sealed))
            .execute(&mut **conn)?;
        get(conn, user_id, id)
    })
}

pub fn rename(
    conn: &mut DbConn,
    user_id: i64,
    id: i64,
    label: &str,
    now: NaiveDateTime,
) -> AppResult<Connector> {
    let sent = crate::library::books::sent_length(label);
    let label = label.trim();
    if label.is_empty() || sent > 100 {
        return Err(AppError::validation("label", "must be 1 to 100 characters"));
    }
    write_transaction(conn, |conn| {
        find_row(conn, user_id, id)?;
        diesel::update(connectors::table.find(id))
            .set((connectors::label.eq(label), connectors::updated_at.eq(now)))
            .execute(&mut **conn)?;
        get(conn, user_id, id)
    })
}

pub fn delete(conn: &mut DbConn, user_id: i64, id: i64) -> AppResult<()> {
    let deleted = write_transaction(conn, |conn| {
        diesel::delete(
            connectors::table
                .filter(connectors::id.eq(id))
                .filter(connectors::user_id.eq(user_id)),
        )
        .execute(&mut **conn)
    })?;
    if deleted == 0 {
        Err(AppError::NotFound)
    } else {
        Ok(())
    }
}

/// The API key of a connector, opened for use (never for display).
pub fn open_api_key(
    conn: &mut DbConn,
    keyring: &Keyring,
    user_id: i64,
    id: i64,
) -> AppResult<String> {
    let row = find_row(conn, user_id, id)?;
    let sealed = row
        .api_key_sealed
        .ok_or_else(|| AppError::validation("id", "this connector has no API key"))?;
    keyring
        .open(
            &sealed,
            Binding {
                connector_id: id,
                user_id,
                field: Field::ApiKey,
            },
        )
        .map_err(|e| AppError::internal_from(format!("connector {id}"), e))
}

/// Re-seals every secret under the current key, in one transaction. Returns values re-sealed.
pub fn rotate(conn: &mut DbConn, keyring: &Keyring, now: NaiveDateTime) -> AppResult<usize> {
    write_transaction(conn, |conn| {
        let rows: Vec<ConnectorRow> = connectors::table
            .select(ConnectorRow::as_select())
            .load(&mut **conn)?;
        let mut count = 0;
        for row in rows {
            let mut fields: Vec<(Field, Option<String>)> = vec![
                (Field::ApiKey, row.api_key_sealed.clone()),
                (Field::AccessToken, row.access_token_sealed.clone()),
                (Field::RefreshToken, row.refresh_token_sealed.clone()),
            ];
            for (field, value) in &mut fields {
                let Some(sealed) = value.as_deref() else {
                    continue;
                };
                if !keyring.is_stale(sealed) {
                    continue;
                }
                let binding = Binding {
                    connector_id: row.id,
                    user_id: row.user_id,
                    field: *field,
                };
                let plain = keyring
                    .open(sealed, binding)
                    .map_err(|e| AppError::internal_from(format!("connector {}", row.id), e))?;
                *value = Some(keyring.seal(&plain, binding).map_err(sealing)?);
                count += 1;
            }
            diesel::update(connectors::table.find(row.id))
                .set((
                    connectors::api_key_sealed.eq(&fields[0].1),
                    connectors::access_token_sealed.eq(&fields[1].1),
                    connectors::refresh_token_sealed.eq(&fields[2].1),
                    connectors::updated_at.eq(now),
                ))
                .execute(&mut **conn)?;
        }
        // Every secret is under the current key now: older keys may be forgotten.
        diesel::delete(
            encryption_keys::table.filter(encryption_keys::key_id.ne(keyring.current_id())),
        )
        .execute(&mut **conn)?;
        ensure_canary(conn, keyring, now)?;
        Ok(count)
    })
}

const CANARY: &str = "panicless encryption canary";

fn canary_binding() -> Binding {
    Binding {
        connector_id: 0,
        user_id: 0,
        field: Field::Canary,
    }
}

/// At start: the current key must open its canary (or gets one), and every other key that
/// sealed a canary must be configured, so a wrong key is a clear error now, not garbage later.
pub fn ensure_canary(conn: &mut DbConn, keyring: &Keyring, now: NaiveDateTime) -> AppResult<()> {
    let canaries: Vec<(String, String)> = encryption_keys::table
        .select((encryption_keys::key_id, encryption_keys::canary))
        .load(conn)?;
    if let Some((id, _)) = canaries.iter().find(|(id, _)| !keyring.knows(id)) {
        return Err(AppError::internal(format!(
            "this database holds secrets sealed with key {id}, which is neither ENCRYPTION_KEY (key {}) nor in ENCRYPTION_KEYS: \
             set the key they were sealed with, or add it to ENCRYPTION_KEYS and run `panicless keys rotate`",
            keyring.current_id()
        )));
    }
    match canaries.iter().find(|(id, _)| id == keyring.current_id()) {
        Some((_, sealed)) => {
            keyring.open(sealed, canary_binding()).map_err(|e| {
                AppError::internal_from("ENCRYPTION_KEY does not open its canary", e)
            })?;
        }
        None => {
            let sealed = keyring.seal(CANARY, canary_binding()).map_err(sealing)?;
            write_transaction(conn, |conn| {
                diesel::insert_into(encryption_keys::table)
                    .values((
                        encryption_keys::key_id.eq(keyring.current_id()),
                        encryption_keys::canary.eq(sealed),
                        encryption_keys::created_at.eq(now),
                    ))
                    .execute(&mut **conn)
            })?;
        }
    }
    // Secrets sealed under a key that is neither current nor listed would never open.
    let rows: Vec<ConnectorRow> = connectors::table
        .select(ConnectorRow::as_select())
        .load(conn)?;
    for row in rows {
        for (field, sealed) in [
            (Field::ApiKey, &row.api_key_sealed),
            (Field::AccessToken, &row.access_token_sealed),
            (Field::RefreshToken, &row.refresh_token_sealed),
        ] {
            if let Some(sealed) = sealed {
                if let Err(crate::crypto::CryptoError::UnknownKey(id)) = keyring.open(
                    sealed,
                    Binding {
                        connector_id: row.id,
                        user_id: row.user_id,
                        field,
                    },
                ) {
                    return Err(AppError::internal(format!(
                        "connector secrets are sealed with key {id}, which is neither ENCRYPTION_KEY nor in ENCRYPTION_KEYS; \
                         set the key they were sealed with (the current key id is {})",
                        keyring.current_id()
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Seals and stores a provider's tokens on a connector; a refresh token the provider did not
/// rotate is kept. Marks the connector active.
pub fn write_tokens(
    conn: &mut Writer<'_>,
    keyring: &Keyring,
    id: i64,
    user_id: i64,
    provider: &str,
    tokens: &super::oauth_flow::ProviderTokens,
    now: NaiveDateTime,
) -> AppResult<()> {
    let access = keyring
        .seal(
            &tokens.access_token,
            Binding {
                connector_id: id,
                user_id,
                field: Field::AccessToken,
            },
        )
        .map_err(sealing)?;
    let refresh = match &tokens.refresh_token {
        Some(token) => Some(
            keyring
                .seal(
                    token,
                    Binding {
                        connector_id: id,
                        user_id,
                        field: Field::RefreshToken,
                    },
                )
                .map_err(sealing)?,
        ),
        None => None,
    };
    let expires_at = tokens
        .expires_in
        .map(|s| now + chrono::Duration::seconds(s));
    diesel::update(connectors::table.find(id))
        .set((
            connectors::kind.eq("oauth"),
            connectors::access_token_sealed.eq(access),
            connectors::secret_hint.eq(hint(provider, &tokens.access_token)),
            connectors::expires_at.eq(expires_at),
            connectors::last_refreshed_at.eq(now),
            connectors::status.eq("active"),
            connectors::status_reason.eq(None::<String>),
            connectors::refresh_lease_until.eq(None::<NaiveDateTime>),
            connectors::updated_at.eq(now),
        ))
        .execute(&mut **conn)?;
    if let Some(refresh) = refresh {
        diesel::update(connectors::table.find(id))
            .set(connectors::refresh_token_sealed.eq(refresh))
            .execute(&mut **conn)?;
    }
    Ok(())
}

/// Opens one sealed secret of a row.
pub fn open_field(
    keyring: &Keyring,
    row: &ConnectorRow,
    field: Field,
) -> AppResult<Option<String>> {
    let sealed = match field {
        Field::ApiKey => &row.api_key_sealed,
        Field::AccessToken => &row.access_token_sealed,
        Field::RefreshToken => &row.refresh_token_sealed,
        _ => return Ok(None),
    };
    sealed
        .as_deref()
        .map(|s| {
            keyring
                .open(
                    s,
                    Binding {
                        connector_id: row.id,
                        user_id: row.user_id,
                        field,
                    },
                )
                .map_err(|e| AppError::internal_from(format!("connector {}", row.id), e))
        })
        .transpose()
}

pub fn row(conn: &mut DbConn, user_id: i64, id: i64) -> AppResult<ConnectorRow> {
    find_row(conn, user_id, id)
}

//! Keeping OAuth connectors alive: tokens are refreshed before they expire, by a background
//! task and on demand when used. One refresh per connector at a time: an in-process lock per
//! connector, and a lease in the database for several instances. A refresh the provider refuses
//! marks the connector `needs_reauth` with the provider's reason.

use super::binding::Field;
use super::oauth_flow::{self, FlowError};
use super::store::{self, ConnectorRow};
use crate::db::schema::connectors;
use crate::db::{self, DbConn};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use std::sync::Arc;

/// Refresh when less than this is left.
pub const REFRESH_MARGIN_SECS: i64 = 120;
/// A lease longer than any refresh should take; a crashed holder frees it by expiry.
const LEASE_SECS: i64 = 30;

fn needs_refresh(row: &ConnectorRow, now: NaiveDateTime) -> bool {
    row.kind == "oauth"
        && row
            .expires_at
            .is_some_and(|at| at - now < Duration::seconds(REFRESH_MARGIN_SECS))
}

fn lock_for(state: &AppState, id: i64) -> Arc<tokio::sync::Mutex<()>> {
    match state.refresh_locks.lock() {
        Ok(mut locks) => locks.entry(id).or_default().clone(),
        Err(_) => Arc::default(),
    }
}

/// Takes the database lease: only one instance wins it until it expires or is released.
fn take_lease(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> AppResult<bool> {
    let taken = db::write_transaction(conn, |conn| {
        diesel::update(
            connectors::table.filter(connectors::id.eq(id)).filter(
                connectors::refresh_lease_until
                    .is_null()
                    .or(connectors::refresh_lease_until.lt(now)),
            ),
        )
        .set(connectors::refresh_lease_until.eq(now + Duration::seconds(LEASE_SECS)))
        .execute(&mut **conn)
    })?;
    Ok(taken == 1)
}

/// The credential to use for a connector now: its API key, or a fresh access token.
pub async fn credential(
    state: &AppState,
    user_id: i64,
    id: i64,
) -> AppResult<(ConnectorRow, String)> {
    let keyring = state.keyring.clone();
    let row = db::run(&state.pool, move |c| store::row(c, user_id, id)).await?;
    if row.kind == "api_key" {
        let key = store::open_field(&keyring, &row, Field::ApiKey)?.ok_or(AppError::NotFound)?;
        return Ok((row, key));
    }
    let row = if needs_refresh(&row, db::models::now()) && row.status == "active" {
        refresh(state, user_id, id).await?
    } else {
        row
    };
    if row.status != "active" {
        return Err(AppError::Conflict {
            message: format!(
                "connector {id} must be reconnected: {}",
                row.status_reason.clone().unwrap_or_default()
            ),
            existing_id: Some(id),
        });
    }
    let token = store::open_field(&keyring, &row, Field::AccessToken)?.ok_or(AppError::NotFound)?;
    Ok((row, token))
}

/// Refreshes a connector's tokens (if still needed once the locks are held) and returns the row.
pub async fn refresh(state: &AppState, user_id: i64, id: i64) -> AppResult<ConnectorRow> {
    let lock = lock_for(state, id);
    let _held = lock.lock().await;
    for _ in 0..50 {
        let now = db::models::now();
        let (row, leased) = db::run(&state.pool, move |c| {
            let row = store::row(c, user_id, id)?;
            if !needs_refresh(&row, now) {
                return Ok((row, false));
            }
            Ok((row, take_lease(c, id, now)?))
        })
        .await?;
        if !needs_refresh(&row, now) {
            return Ok(row); // someone (maybe another instance) refreshed it meanwhile
        }
        if leased {
            return refresh_with_lease(state, row).await;
        }
        // Another instance holds the lease: wait for its result.
        actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    Err(AppError::Unavailable(format!(
        "connector {id}: refresh lease not released"
    )))
}

async fn refresh_with_lease(state: &AppState, row: ConnectorRow) -> AppResult<ConnectorRow> {
    let (id, user_id) = (row.id, row.user_id);
    let release = |state: &AppState| {
        let pool = state.pool.clone();
        async move {
            db::run(&pool, move |c| {
                db::write_transaction(c, |c| {
                    diesel::update(connectors::table.find(id))
                        .set(connectors::refresh_lease_until.eq(None::<NaiveDateTime>))
                        .execute(&mut **c)
                })?;
                Ok(())
            })
            .await
        }
    };
    let Some(provider) = state.providers.get(&row.provider).cloned() else {
        release(state).await?;
        return mark(
            state,
            id,
            user_id,
            "error",
            "the provider is no longer configured",
        )
        .await;
    };
    let Some(refresh_token) = store::open_field(&state.keyring, &row, Field::RefreshToken)? else {
        release(state).await?;
        return mark(
            state,
            id,
            user_id,
            "needs_reauth",
            "no refresh token: reconnect",
        )
        .await;
    };
    match oauth_flow::token_request(
        &state.http,
        &provider,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
        ],
    )
    .await
    {
        Ok(tokens) => {
            let keyring = state.keyring.clone();
            let name = row.provider.clone();
            db::run(&state.pool, move |c| {
                db::write_transaction(c, |c| {
                    store::write_tokens(c, &keyring, id, user_id, &name, &tokens, db::models::now())
                })?;
                store::row(c, user_id, id)
            })
            .await
        }
        Err(FlowError::Provider(reason)) if !reason.starts_with("could not reach") => {
            release(state).await?;
            mark(
                state,
                id,
                user_id,
                "needs_reauth",
                &format!("the provider refused to refresh: {reason}"),
            )
            .await
        }
        Err(other) => {
            release(state).await?;
            Err(AppError::Unavailable(format!("connector {id}: {other}")))
        }
    }
}

async fn mark(
    state: &AppState,
    id: i64,
    user_id: i64,
    status: &'static str,
    reason: &str,
) -> AppResult<ConnectorRow> {
    let reason = reason.to_string();
    db::run(&state.pool, move |c| {
        db::write_transaction(c, |c| {
            diesel::update(connectors::table.find(id))
                .set((
                    connectors::status.eq(status),
                    connectors::status_reason.eq(Some(reason)),
                    connectors::updated_at.eq(db::models::now()),
                ))
                .execute(&mut **c)
        })?;
        store::row(c, user_id, id)
    })
    .await
}

/// Refreshes, every minute, the OAuth connectors that expire within ten minutes.
pub fn spawn(state: AppState) {
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(std::time::Duration::from_secs(60));
        loop {
            interval.tick().await;
            let due = db::run(&state.pool, |c| {
                Ok(connectors::table
                    .filter(connectors::kind.eq("oauth"))
                    .filter(connectors::status.eq("active"))
                    .filter(connectors::expires_at.lt(db::models::now() + Duration::minutes(10)))
                    .select((connectors::id, connectors::user_id))
                    .load::<(i64, i64)>(c)?)
            })
            .await;
            for (id, user_id) in due.unwrap_or_default() {
                if let Err(error) = refresh(&state, user_id, id).await {
                    log::warn!("connector {id}: refresh failed: {error}");
                }
            }
        }
    });
}

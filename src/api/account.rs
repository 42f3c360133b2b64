//! `/api/account`: the account's password, and deleting the account. Thin handlers over
//! `crate::auth::account`, which the pages and the command line call too.
//!
//! Both need a first-party token (from `POST /api/auth/login`, scope `all`): a connected app's
//! token never changes the password or deletes the account, whatever its scope.

use crate::api::{resource, JsonBody};
use crate::auth::account::{self, PasswordChange};
use crate::auth::guard::{All, Authorized};
use crate::error::{AppError, AppResult, Problem};
use crate::rate_limit::{check_app, Bucket};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/account/password", "POST").route(web::post().to(change_password)))
        .service(resource("/api/account", "DELETE").route(web::delete().to(delete)));
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeRequest {
    pub current_password: String,
    /// The sign-up rules: at least 8 characters and at most 72 bytes in UTF-8.
    #[schema(min_length = 8, max_length = 72)]
    pub new_password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountDeletion {
    /// The account's password.
    pub password: String,
}

/// A first-party caller: a token from `POST /api/auth/login`, not a connected app's.
fn first_party(auth: &Authorized<All>) -> AppResult<()> {
    if auth.claims.client_id.is_some() {
        return Err(AppError::Forbidden);
    }
    Ok(())
}

/// Changes the password. Every browser session of the account ends and every other first-party
/// token is revoked; the token this request carries keeps working. Connected apps keep their
/// access (disconnect them at `/account/connections`).
#[utoipa::path(post, path = "/api/account/password", tag = "auth",
    request_body = PasswordChangeRequest,
    security(("bearer" = ["all"])),
    responses((status = 204, description = "The password is changed"),
              (status = 401, body = Problem),
              (status = 403, body = Problem, description = "Not a first-party token, or the current password is wrong (`wrong_password`, naming `current_password`)"),
              (status = 422, body = Problem, description = "The new password breaks the rules"),
              (status = 503, body = Problem, description = "Too many password checks are waiting (`busy`): try again after `Retry-After` seconds",
               headers(("Retry-After" = u64, description = "Seconds until the waiting checks are done")))))]
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authorized<All>,
    body: JsonBody<PasswordChangeRequest>,
) -> AppResult<HttpResponse> {
    first_party(&auth)?;
    check_app(&state, &req, Bucket::Login)?;
    let body = body.into_inner()?;
    let change = PasswordChange {
        current_password: body.current_password,
        new_password: body.new_password,
    };
    let keep = Some(auth.claims.jti.clone());
    account::change_password(&state, auth.user_id, change, keep).await?;
    Ok(HttpResponse::NoContent()
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

/// Deletes the account and everything in it: books, readings, statistics, connectors, connected
/// apps' grants and every token. The server's last administrator cannot (409).
#[utoipa::path(delete, path = "/api/account", tag = "auth", request_body = AccountDeletion,
    security(("bearer" = ["all"])),
    responses((status = 204, description = "The account and its data are deleted"),
              (status = 401, body = Problem),
              (status = 403, body = Problem, description = "Not a first-party token, or the password is wrong (`wrong_password`, naming `password`)"),
              (status = 409, body = Problem, description = "The last administrator cannot delete their account"),
              (status = 422, body = Problem, description = "The body is not a deletion request"),
              (status = 503, body = Problem, description = "Too many password checks are waiting (`busy`): try again after `Retry-After` seconds",
               headers(("Retry-After" = u64, description = "Seconds until the waiting checks are done")))))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authorized<All>,
    body: JsonBody<AccountDeletion>,
) -> AppResult<HttpResponse> {
    first_party(&auth)?;
    check_app(&state, &req, Bucket::Login)?;
    let body = body.into_inner()?;
    account::delete_account(&state, auth.user_id, body.password).await?;
    Ok(HttpResponse::NoContent()
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

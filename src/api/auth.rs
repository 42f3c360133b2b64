//! First-party JSON authentication: `POST /api/auth/register`, `POST /api/auth/login` and
//! `POST /api/auth/logout`.
//!
//! First-party tokens are for this REST API only: their audience is the server itself, so `/mcp`
//! (which accepts only tokens issued for the MCP resource) refuses them.

use crate::auth::guard;
use crate::auth::issue::{Access, TokenResponse};
use crate::auth::ScopeSet;
use crate::db::{self, models::token, models::user};
use crate::error::{AppError, AppResult, Problem};
use crate::state::AppState;
use crate::web::account::{authenticate, create_account};
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/api/auth/register", "POST").route(web::post().to(register)))
        .service(super::resource("/api/auth/login", "POST").route(web::post().to(login)))
        .service(super::resource("/api/auth/logout", "POST").route(web::post().to(logout)))
        .service(super::resource("/api/auth/me", "GET").route(web::get().to(me)));
}

/// The rules of `crate::db::models::user::validate_email` and `crate::auth::password::validate`.
/// JSON Schema counts characters, the server counts the UTF-8 bytes of the email (at most 254) and
/// the password (at most 72, all bcrypt reads): the descriptions say so.
#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// One `@` with something on each side; no spaces or control characters; at most 254 bytes.
    #[schema(
        max_length = 254,
        pattern = r"^[^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+@[^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$"
    )]
    pub email: String,
    /// At least 8 characters and at most 72 bytes in UTF-8.
    #[schema(min_length = 8, max_length = 72)]
    pub password: String,
    pub display_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UserResponse {
    pub id: i64,
    pub email: String,
    pub display_name: Option<String>,
    pub is_admin: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<user::User> for UserResponse {
    fn from(u: user::User) -> Self {
        UserResponse {
            id: u.id,
            email: u.email,
            display_name: u.display_name,
            is_admin: u.is_admin,
            created_at: u.created_at.and_utc(),
        }
    }
}

/// Creates an account.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = UserResponse),
              (status = 409, body = Problem, description = "The email is taken"),
              (status = 422, body = Problem, description = "Invalid email or password"),
              (status = 429, body = Problem, description = "Too many accounts from this address"),
              (status = 503, body = Problem, description = "Too many password checks are waiting (`busy`): try again after `Retry-After` seconds",
               headers(("Retry-After" = u64, description = "Seconds until the waiting checks are done")))))]
pub async fn register(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    body: super::JsonBody<RegisterRequest>,
) -> AppResult<HttpResponse> {
    if !state.config.allow_registration {
        return Err(AppError::Forbidden);
    }
    crate::rate_limit::check_app(&state, &req, crate::rate_limit::Bucket::SignUp)?;
    let body = body.into_inner()?;
    let user = create_account(&state, &body.email, body.password, body.display_name).await?;
    Ok(HttpResponse::Created().json(UserResponse::from(user)))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// Exchanges an email and password for a signed access token with scope `all`.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse),
              (status = 401, body = Problem, description = "Wrong email or password"),
              (status = 429, body = Problem, description = "Too many attempts from this address"),
              (status = 503, body = Problem, description = "Too many password checks are waiting (`busy`): try again after `Retry-After` seconds",
               headers(("Retry-After" = u64, description = "Seconds until the waiting checks are done")))))]
pub async fn login(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    body: super::JsonBody<LoginRequest>,
) -> AppResult<HttpResponse> {
    crate::rate_limit::check_app(&state, &req, crate::rate_limit::Bucket::Login)?;
    let body = body.into_inner()?;
    let user = authenticate(&state, &body.email, body.password).await?;
    let issued = issue_first_party_token(&state, &user).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(issued))
}

/// Issues a first-party token: audience the API, scope `all`, no client.
pub async fn issue_first_party_token(
    state: &AppState,
    user: &user::User,
) -> AppResult<TokenResponse> {
    let user_id = user.id;
    let state = state.clone();
    let issued = db::run(&state.pool.clone(), move |conn| {
        let access = Access {
            user_id,
            scope: &ScopeSet::all().to_string(),
            audience: state.api_audience(),
            client: None,
            grant_id: None,
            parent_id: None,
        };
        db::write_transaction(conn, |conn| {
            state
                .issuer()
                .access_token(conn, &access, db::models::now())
        })
    })
    .await?;
    Ok(TokenResponse::access(issued))
}

/// Revokes the Bearer token the request carries: it is refused from the next request on. Any
/// scope will do; a token that is already invalid gets the usual 401.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    security(("bearer" = []), ("oauth2" = [])),
    responses((status = 204, description = "The token is revoked"),
              (status = 401, body = Problem)))]
pub async fn logout(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let audiences = [state.api_audience().to_string()];
    let caller = guard::authenticate(&state, guard::bearer_token(&req), &audiences).await?;
    let (jti, user_id) = (caller.claims.jti, caller.user_id);
    db::run(&state.pool, move |conn| {
        token::revoke_access(conn, &jti, user_id, db::models::now())
    })
    .await?;
    Ok(HttpResponse::NoContent()
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    #[serde(flatten)]
    pub user: UserResponse,
    /// The scopes of the token used for this request.
    pub scope: String,
}

/// The account behind the token.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth",
    security(("bearer" = ["read"]), ("oauth2" = ["read"])),
    responses((status = 200, body = MeResponse),
              (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn me(
    state: web::Data<AppState>,
    auth: crate::auth::guard::Authorized<crate::auth::guard::Read>,
) -> AppResult<web::Json<MeResponse>> {
    let user_id = auth.user_id;
    let user = db::run(&state.pool, move |conn| user::find(conn, user_id))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(web::Json(MeResponse {
        user: user.into(),
        scope: auth.scopes.to_string(),
    }))
}

//! The grants as pages: `/account/connections` (the apps connected to my library) and
//! `/admin/tokens` (every grant on the server, for administrators). The rules (listing,
//! disconnecting, revoking) are `oauth::grants`'; these pages read forms and render.

use crate::auth::csrf;
use crate::db::{self, models::user};
use crate::error::AppError;
use crate::oauth::grants::{self, Grant, GrantFilter};
use crate::state::AppState;
use crate::web::{redirect, render, Nav, PageError, SignedIn};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/connections", web::get().to(connections))
        .route(
            "/account/connections/disconnect",
            web::post().to(disconnect),
        )
        .route("/admin/tokens", web::get().to(admin_tokens))
        .route("/admin/tokens/revoke", web::post().to(admin_revoke));
}

type PageResult = Result<HttpResponse, PageError>;

/// A grant as a row of a page.
pub struct GrantView {
    pub grant_id: String,
    pub user_email: String,
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    pub since: String,
    pub expires: String,
    pub last_used: String,
    pub tokens: i64,
}

fn when(at: chrono::NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

impl From<Grant> for GrantView {
    fn from(g: Grant) -> Self {
        GrantView {
            since: when(g.issued_at),
            expires: when(g.expires_at),
            last_used: g.last_used_at.map_or_else(|| "never".into(), when),
            grant_id: g.grant_id,
            user_email: g.user_email,
            client_id: g.client_id,
            client_name: g.client_name,
            scope: g.scope,
            tokens: g.tokens,
        }
    }
}

#[derive(Template)]
#[template(path = "connections.html")]
struct ConnectionsPage {
    nav: Nav,
    grants: Vec<GrantView>,
    message: Option<String>,
}

/// What a page just did, named by a code in its address (`?done=...`). The page shows the
/// code's fixed message, never text from the query: anyone can send a link with any query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    Disconnected,
    RevokedGrant,
    RevokedClient,
    RevokedUser,
}

impl Done {
    const ALL: [Done; 4] = [
        Done::Disconnected,
        Done::RevokedGrant,
        Done::RevokedClient,
        Done::RevokedUser,
    ];

    fn code(self) -> &'static str {
        match self {
            Done::Disconnected => "disconnected",
            Done::RevokedGrant => "grant",
            Done::RevokedClient => "client",
            Done::RevokedUser => "user",
        }
    }

    /// The code's message; an unknown code says nothing.
    fn message_for(code: Option<&str>) -> Option<String> {
        let done = Done::ALL.into_iter().find(|d| Some(d.code()) == code)?;
        Some(
            match done {
                Done::Disconnected => {
                    "The app was disconnected. It can no longer reach your library."
                }
                Done::RevokedGrant => "The grant was revoked.",
                Done::RevokedClient => {
                    "Everything of the client was revoked, and the client is disabled."
                }
                Done::RevokedUser => "Every grant of the user was revoked.",
            }
            .to_string(),
        )
    }
}

#[derive(Deserialize)]
pub struct Flash {
    done: Option<String>,
}

async fn connections(
    state: web::Data<AppState>,
    me: SignedIn,
    flash: web::Query<Flash>,
) -> PageResult {
    let user_id = me.user.id;
    let filter = GrantFilter {
        user_id: Some(user_id),
        ..Default::default()
    };
    let list = db::run(&state.pool, move |conn| {
        grants::list(conn, &filter, db::models::now())
    })
    .await?;
    render(
        StatusCode::OK,
        &ConnectionsPage {
            nav: me.nav()?.at("connections"),
            grants: list.into_iter().map(GrantView::from).collect(),
            message: Done::message_for(flash.done.as_deref()),
        },
    )
}

#[derive(Deserialize)]
pub struct GrantForm {
    csrf_token: String,
    grant_id: String,
}

async fn disconnect(
    state: web::Data<AppState>,
    me: SignedIn,
    form: web::Form<GrantForm>,
) -> PageResult {
    csrf::verify(&me.session, &form.csrf_token)?;
    let (user_id, grant_id) = (me.user.id, form.into_inner().grant_id);
    db::run(&state.pool, move |conn| {
        grants::disconnect(conn, &grant_id, user_id, db::models::now())
    })
    .await?;
    Ok(redirect(&format!(
        "/account/connections?done={}",
        Done::Disconnected.code()
    )))
}

#[derive(Template)]
#[template(path = "admin_tokens.html")]
struct AdminPage {
    nav: Nav,
    grants: Vec<GrantView>,
    user_filter: String,
    client_filter: String,
    message: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct AdminQuery {
    user: Option<String>,
    client: Option<String>,
    done: Option<String>,
}

fn require_admin(me: &SignedIn) -> Result<(), PageError> {
    if me.user.is_admin {
        Ok(())
    } else {
        Err(AppError::Forbidden.into())
    }
}

async fn admin_page(
    state: &AppState,
    me: &SignedIn,
    query: AdminQuery,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    let filter = GrantFilter {
        user_id: None,
        user_email: query.user.clone(),
        client_id: query.client.clone(),
    };
    let list = db::run(&state.pool, move |conn| {
        grants::list(conn, &filter, db::models::now())
    })
    .await?;
    render(
        status,
        &AdminPage {
            nav: me.nav()?.at("admin"),
            grants: list.into_iter().map(GrantView::from).collect(),
            user_filter: query.user.unwrap_or_default(),
            client_filter: query.client.unwrap_or_default(),
            message: Done::message_for(query.done.as_deref()),
            error,
        },
    )
}

async fn admin_tokens(
    state: web::Data<AppState>,
    me: SignedIn,
    query: web::Query<AdminQuery>,
) -> PageResult {
    require_admin(&me)?;
    admin_page(&state, &me, query.into_inner(), None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct AdminRevokeForm {
    csrf_token: String,
    /// `grant`, `client` or `user`.
    target: String,
    value: String,
    /// Mass revocations (a whole client or user) must be confirmed.
    confirm: Option<String>,
}

async fn admin_revoke(
    state: web::Data<AppState>,
    me: SignedIn,
    form: web::Form<AdminRevokeForm>,
) -> PageResult {
    require_admin(&me)?;
    let form = form.into_inner();
    csrf::verify(&me.session, &form.csrf_token)?;
    if form.target != "grant" && form.confirm.as_deref() != Some("yes") {
        let error = match form.target.as_str() {
            "user" => "Tick the confirmation box to revoke everything of this user.",
            _ => "Tick the confirmation box to revoke everything of this client.",
        }
        .to_string();
        return admin_page(
            &state,
            &me,
            AdminQuery::default(),
            Some(error),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let done = match form.target.as_str() {
        "grant" => Done::RevokedGrant,
        "client" => Done::RevokedClient,
        "user" => Done::RevokedUser,
        _ => return Err(AppError::BadRequest("unknown revocation target".into()).into()),
    };
    let (target, value) = (form.target, form.value);
    db::run(&state.pool, move |conn| {
        let now = db::models::now();
        match target.as_str() {
            "client" => grants::revoke_client(conn, &value, now),
            "user" => match user::find_by_email(conn, &value)? {
                Some(u) => grants::revoke_user(conn, u.id, now),
                None => Err(AppError::NotFound),
            },
            _ => grants::revoke(conn, &value, None, now),
        }
    })
    .await?;
    Ok(redirect(&format!("/admin/tokens?done={}", done.code())))
}

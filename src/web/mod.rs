//! Server-rendered pages (Askama templates in `templates/`), and how errors look on them.

pub mod account;
pub mod books;
pub mod charts;
pub mod connectors;
pub mod docs;
pub mod grants;
pub mod layers;
pub mod stats;
pub mod transfer;

use crate::auth::{csrf, session};
use crate::db::{self, models::user};
use crate::error::AppError;
use crate::state::AppState;
use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use askama::Template;
use futures_util::future::LocalBoxFuture;

pub fn configure(cfg: &mut web::ServiceConfig) {
    account::configure(cfg);
    books::configure(cfg);
    connectors::configure(cfg);
    docs::configure(cfg);
    grants::configure(cfg);
    stats::configure(cfg);
    transfer::configure(cfg);
    cfg.route("/assets/style.css", web::get().to(stylesheet));
}

/// The header's account area, shared by every page.
pub struct Nav {
    pub user: Option<String>,
    pub is_admin: bool,
    pub csrf: String,
    /// The section of the navigation this page belongs to (`books`, `new`, ...), marked
    /// `aria-current` there; empty for none.
    pub current: &'static str,
}

impl Nav {
    pub fn anonymous(session: &Session) -> Result<Nav, AppError> {
        Ok(Nav {
            user: None,
            is_admin: false,
            csrf: csrf::token(session)?,
            current: "",
        })
    }

    pub fn for_user(user: &user::User, session: &Session) -> Result<Nav, AppError> {
        Ok(Nav {
            user: Some(user.name().to_string()),
            is_admin: user.is_admin,
            csrf: csrf::token(session)?,
            current: "",
        })
    }

    /// The same navigation, with `section` marked as the current one.
    pub fn at(self, section: &'static str) -> Nav {
        Nav {
            current: section,
            ..self
        }
    }
}

/// Renders a template as an HTML response with the given status.
pub fn render(status: StatusCode, template: &impl Template) -> Result<HttpResponse, PageError> {
    let body = template.render().map_err(AppError::from)?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

pub fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// An error on a page: shown as HTML, or a redirect to the sign-in page.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error("sign in required")]
    SignInRequired { return_to: String },
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: Nav,
    title: &'a str,
    message: String,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::App(error) => error.status_code(),
            PageError::SignInRequired { .. } => StatusCode::SEE_OTHER,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::SignInRequired { return_to } => {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("return_to", return_to)
                    .finish();
                redirect(&format!("/login?{query}"))
            }
            PageError::App(error) => {
                // Log internal causes the same way the API does, then show a page.
                let api = error.error_response();
                let status = error.status_code();
                let page = ErrorPage {
                    nav: Nav {
                        user: None,
                        is_admin: false,
                        csrf: String::new(),
                        current: "",
                    },
                    title: status.canonical_reason().unwrap_or("Error"),
                    message: capitalise(&error.public_message()),
                };
                let mut response = match page.render() {
                    Ok(body) => HttpResponse::build(status)
                        .content_type("text/html; charset=utf-8")
                        .body(body),
                    Err(_) => HttpResponse::build(status).body(error.public_message()),
                };
                // A 429 or 503 says when to come back, on a page as in the API.
                if let Some(retry_after) = api.headers().get(header::RETRY_AFTER) {
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, retry_after.clone());
                }
                // Rendered again with the signed-in header by `error_pages_know_the_user`,
                // which has the request this function lacks.
                response.extensions_mut().insert(ErrorPageContent {
                    title: page.title,
                    message: page.message,
                });
                response
            }
        }
    }
}

/// What an error page says, kept on its response for [`error_pages_know_the_user`].
#[derive(Clone)]
struct ErrorPageContent {
    title: &'static str,
    message: String,
}

/// Middleware: an error page (404, 403, ...) shown to a signed-in user carries the signed-in
/// header, like every other page. `PageError` renders without the request; this renders the
/// page again with the session's user, only when there is one.
pub async fn error_pages_know_the_user(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let session = req.get_session();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let response = next.call(req).await?.map_into_boxed_body();
    let content = response
        .response()
        .extensions()
        .get::<ErrorPageContent>()
        .cloned();
    let (Some(content), Some(state)) = (content, state) else {
        return Ok(response);
    };
    let user = match current_user(&state, &session).await {
        Ok(Some(user)) => user,
        _ => return Ok(response),
    };
    let Ok(nav) = Nav::for_user(&user, &session) else {
        return Ok(response);
    };
    let page = ErrorPage {
        nav,
        title: content.title,
        message: content.message,
    };
    match page.render() {
        Ok(body) => Ok(response.map_body(|_, _| actix_web::body::BoxBody::new(body))),
        Err(_) => Ok(response),
    }
}

pub(crate) fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!(
            "{}{}.",
            first.to_uppercase(),
            chars.as_str().trim_end_matches('.')
        ),
        None => String::new(),
    }
}

/// The signed-in user of a page. Pages that take it send anonymous visitors to `/login` and
/// back afterwards.
pub struct SignedIn {
    pub user: user::User,
    pub session: Session,
}

impl SignedIn {
    pub fn nav(&self) -> Result<Nav, AppError> {
        Nav::for_user(&self.user, &self.session)
    }
}

impl FromRequest for SignedIn {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = req.get_session();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let return_to = match req.uri().path_and_query() {
            Some(pq) => pq.as_str().to_string(),
            None => "/".to_string(),
        };
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::internal("no app state"))?;
            let user = current_user(&state, &session).await?;
            match user {
                Some(user) => Ok(SignedIn { user, session }),
                None => Err(PageError::SignInRequired { return_to }),
            }
        })
    }
}

/// The session's user, if any. A session that has expired, that began before its user last
/// signed out (an older session generation), or whose account was deleted is ended.
pub async fn current_user(
    state: &AppState,
    session: &Session,
) -> Result<Option<user::User>, AppError> {
    let Some((id, generation)) = session::signed_in(session)? else {
        if session::user_id(session).is_some() {
            session::sign_out(session);
        }
        return Ok(None);
    };
    let user = db::run(&state.pool, move |conn| user::find(conn, id)).await?;
    match user {
        Some(user) if user.session_generation == generation => Ok(Some(user)),
        _ => {
            session::sign_out(session);
            Ok(None)
        }
    }
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../assets/style.css"))
}

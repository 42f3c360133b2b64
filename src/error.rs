//! One error type for the whole service.
//!
//! Domain code returns `Result<T, AppError>`. Variants are what a client can act on; `Internal`
//! and `Unavailable` carry a cause that is logged and never sent. The REST API renders every
//! error as `application/problem+json` (RFC 9457); the OAuth endpoints, `/mcp` and the HTML pages
//! map the same type into their own formats.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

pub type AppResult<T> = Result<T, AppError>;

/// A problem with one field of a request, for validation failures.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// The field: a body field's dotted path (`authors[2]`, `shelf`), or a query or path
    /// parameter's name. Empty for the body as a whole.
    pub field: String,
    /// What is wrong, and what the field accepts.
    pub message: String,
    /// What the field accepts, as the OpenAPI document states it (for example
    /// `one of: to-read, reading, read, abandoned` or `a date, YYYY-MM-DD`), when the request
    /// could not be read at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepts: Option<String>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            accepts: None,
        }
    }

    pub fn accepting(mut self, accepts: Option<String>) -> Self {
        self.accepts = accepts;
        self
    }
}

/// Where in a body that is not JSON the parser stopped.
#[derive(Debug, Clone, Copy, Serialize, ToSchema, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed (a body that is not what the Content-Type says).
    #[error("{0}")]
    BadRequest(String),
    /// The body is not JSON at all; `position` is where the parser stopped.
    #[error("{message}")]
    MalformedJson {
        message: String,
        position: Option<Position>,
    },
    /// The request is well-formed but some fields are invalid.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// No credentials, or bad ones. `challenge` is the full `WWW-Authenticate` value.
    #[error("authentication is required")]
    Unauthenticated { challenge: String },
    /// Valid credentials without the scope the route needs.
    #[error("the token lacks the scope this route needs")]
    InsufficientScope { challenge: String, scope: String },
    /// Wrong email or password. Never says which.
    #[error("the email or password is incorrect")]
    InvalidCredentials,
    /// A form without the session's CSRF token.
    #[error("the form has expired or did not come from this site; reload the page and try again")]
    CsrfRejected,
    /// Signed in, but not allowed (for example a non-administrator on an admin page).
    #[error("you are not allowed to do this")]
    Forbidden,
    /// A password asked again before a change to the account (`field` names it) is not the
    /// account's. A 403 rather than a 422: the request is well-formed, the caller is refused.
    #[error("the password given is not this account's password")]
    WrongPassword { field: &'static str },
    /// Does not exist, or belongs to someone else: the two are not told apart.
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Conflict {
        message: String,
        existing_id: Option<i64>,
    },
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// `allow` lists the methods the resource serves.
    #[error("this method is not allowed on this resource")]
    MethodNotAllowed { allow: &'static str },
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    /// More password checks are waiting than can finish within a few seconds (bcrypt is slow on
    /// purpose): this one is refused at once rather than left to pile up.
    #[error("the server is busy checking other passwords; try again in a few seconds")]
    Busy { retry_after_secs: u64 },
    /// The database (or another dependency) cannot answer now. The cause is logged only.
    #[error("the service is temporarily unavailable")]
    Unavailable(String),
    /// A bug or an unexpected failure. The cause, with its own causes, is logged only.
    #[error("internal server error")]
    Internal(#[source] Cause),
}

/// What caused an internal error: any error, its own `source()` chain kept for the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error and what was being done when it happened (`database`, `connector 7`).
#[derive(Debug, thiserror::Error)]
#[error("{context}")]
struct Context {
    context: String,
    #[source]
    source: Cause,
}

impl AppError {
    /// An internal error whose cause is a sentence (a broken invariant, a misconfiguration).
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        AppError::Internal(cause.to_string().into())
    }

    /// An internal error caused by `error` while doing `context`; the log shows both, and
    /// every cause of `error` after them.
    pub fn internal_from(
        context: impl Into<String>,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        AppError::Internal(Box::new(Context {
            context: context.into(),
            source: Box::new(error),
        }))
    }

    /// For the log and the operator's terminal, never for a client: the internal or
    /// unavailable cause with each of its causes (`database: connection lost: timed out`), or
    /// the public message for every other error.
    pub fn report(&self) -> String {
        match self {
            AppError::Internal(cause) => chain(cause.as_ref()),
            AppError::Unavailable(cause) => cause.clone(),
            other => other.to_string(),
        }
    }

    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, message)])
    }

    /// Machine-readable code, stable across releases.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::MalformedJson { .. } => "malformed_json",
            AppError::Validation(_) => "validation_failed",
            AppError::Unauthenticated { .. } => "invalid_token",
            AppError::InsufficientScope { .. } => "insufficient_scope",
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::CsrfRejected => "csrf_rejected",
            AppError::Forbidden => "forbidden",
            AppError::WrongPassword { .. } => "wrong_password",
            AppError::NotFound => "not_found",
            AppError::Conflict { .. } => "conflict",
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::MethodNotAllowed { .. } => "method_not_allowed",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::Busy { .. } => "busy",
            AppError::Unavailable(_) => "service_unavailable",
            AppError::Internal(_) => "internal_error",
        }
    }

    /// The message a client may see. Never includes an internal cause.
    pub fn public_message(&self) -> String {
        self.to_string()
    }

    fn log(&self) {
        match self {
            AppError::Internal(_) => log::error!("internal error: {}", self.report()),
            AppError::Unavailable(cause) => log::warn!("service unavailable: {cause}"),
            _ => {}
        }
    }
}

/// The JSON body of every API error (RFC 9457 problem details plus a `code`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Machine-readable error code, for example `not_found` or `validation_failed`.
    pub code: String,
    /// Field-level details, for validation failures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For conflicts: the id of the existing resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_id: Option<i64>,
    /// For a body that is not JSON: where the parser stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) | AppError::MalformedJson { .. } => StatusCode::BAD_REQUEST,
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthenticated { .. } | AppError::InvalidCredentials => {
                StatusCode::UNAUTHORIZED
            }
            AppError::CsrfRejected => StatusCode::FORBIDDEN,
            AppError::InsufficientScope { .. }
            | AppError::Forbidden
            | AppError::WrongPassword { .. } => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        let status = self.status_code();
        let problem = Problem {
            kind: format!("/problems/{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: self.public_message(),
            code: self.code().to_string(),
            errors: match self {
                AppError::Validation(errors) => errors.clone(),
                AppError::WrongPassword { field } => {
                    vec![FieldError::new(
                        *field,
                        "is not the account's current password",
                    )]
                }
                _ => Vec::new(),
            },
            existing_id: match self {
                AppError::Conflict { existing_id, .. } => *existing_id,
                _ => None,
            },
            position: match self {
                AppError::MalformedJson { position, .. } => *position,
                _ => None,
            },
        };
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            AppError::Unauthenticated { challenge }
            | AppError::InsufficientScope { challenge, .. } => {
                if let Ok(value) = HeaderValue::from_str(challenge) {
                    response.insert_header((header::WWW_AUTHENTICATE, value));
                }
            }
            AppError::InvalidCredentials => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"panicless\""));
            }
            AppError::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, *allow));
            }
            AppError::RateLimited { retry_after_secs } | AppError::Busy { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            _ => {}
        }
        response.json(problem)
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::NotFound => AppError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => AppError::Conflict {
                message: "a record with the same unique value already exists".into(),
                existing_id: None,
            },
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => AppError::Unavailable(info.message().to_string()),
            Error::DatabaseError(_, ref info) if is_busy(info.message()) => {
                AppError::Unavailable(info.message().to_string())
            }
            other => AppError::internal_from("database", other),
        }
    }
}

/// An error and its causes, outermost first, as one line.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

/// SQLite answers "database is locked" when a writer waits longer than the busy timeout:
/// a load problem, not a bug.
fn is_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}

impl From<r2d2::Error> for AppError {
    fn from(error: r2d2::Error) -> Self {
        AppError::Unavailable(format!("database pool: {error}"))
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        AppError::internal_from("blocking task", error)
    }
}

impl From<askama::Error> for AppError {
    fn from(error: askama::Error) -> Self {
        AppError::internal_from("template", error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("disk full")]
    struct Root;

    #[derive(Debug, thiserror::Error)]
    #[error("write failed")]
    struct Outer(#[source] Root);

    #[actix_web::test]
    async fn an_internal_error_keeps_its_causes_for_the_log_and_shows_none() {
        let error = AppError::internal_from("saving a book", Outer(Root));
        assert_eq!(error.report(), "saving a book: write failed: disk full");
        let mut depth = 0;
        let mut next = std::error::Error::source(&error);
        while let Some(cause) = next {
            depth += 1;
            next = cause.source();
        }
        assert_eq!(depth, 3, "context, outer, root");
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("internal server error"), "{body}");
        for cause in ["saving a book", "write failed", "disk full"] {
            assert!(!body.contains(cause), "{cause} in {body}");
        }
    }

    #[test]
    fn a_sentence_is_a_cause_and_other_errors_report_what_clients_see() {
        assert_eq!(AppError::internal("no app state").report(), "no app state");
        assert_eq!(AppError::NotFound.report(), "not found");
        let database = AppError::from(diesel::result::Error::RollbackTransaction);
        assert!(
            database.report().starts_with("database: "),
            "{}",
            database.report()
        );
    }
}

//! `/register`, `/login`, `/logout`, the home page, and `/account` (changing the password,
//! deleting the account: the rules are `crate::auth::account`'s).

use super::{capitalise, current_user, redirect, render, Nav, PageError, SignedIn};
use crate::auth::account::{self as rules, PasswordChange};
use crate::auth::{csrf, password, session};
use crate::db::{self, models::user};
use crate::error::AppError;
use crate::state::AppState;
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::Datelike;
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/login", web::get().to(login_form))
        .route("/login", web::post().to(login))
        .route("/register", web::get().to(register_form))
        .route("/register", web::post().to(register))
        .route("/logout", web::get().to(logout_form))
        .route("/logout", web::post().to(logout))
        .route("/account", web::get().to(account_page))
        .route("/account/password", web::post().to(change_password))
        .route("/account/delete", web::post().to(delete_account));
}

type PageResult = Result<HttpResponse, PageError>;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    nav: Nav,
    name: String,
    email: String,
    is_admin: bool,
    mcp_url: String,
    /// Books on the Reading shelf (the first few), and how many there are.
    reading: Vec<super::books::BookItem>,
    reading_total: i64,
    /// The latest finished readings.
    finished: Vec<crate::library::readings::Reading>,
    /// This year's reading goal (`partials/goal.html`).
    goal_card: super::stats::GoalCard,
}

#[derive(Template)]
#[template(path = "landing.html")]
struct LandingPage {
    nav: Nav,
}

async fn home(state: web::Data<AppState>, session: Session) -> PageResult {
    use crate::library::books::{self, BookQuery};
    use crate::library::readings::{self, ReadingQuery};
    use crate::library::{ReadingStatus, Shelf};
    let Some(user) = current_user(&state, &session).await? else {
        return render(
            StatusCode::OK,
            &LandingPage {
                nav: Nav::anonymous(&session)?,
            },
        );
    };
    let (id, memo, today) = (user.id, state.memo.clone(), db::models::now().date());
    let (reading, finished, mut goal_card) = db::run(&state.pool, move |c| {
        let reading = BookQuery {
            shelf: Some(Shelf::Reading),
            limit: Some(5),
            ..BookQuery::default()
        };
        let finished = ReadingQuery {
            status: Some(ReadingStatus::Finished),
            limit: Some(5),
            ..ReadingQuery::default()
        };
        Ok((
            books::list(c, &memo, id, &reading)?,
            readings::list(c, id, &finished)?.items,
            super::stats::goal_card(c, id, today.year(), today, "home")?,
        ))
    })
    .await?;
    goal_card.notice = super::stats::take_notice(&session);
    render(
        StatusCode::OK,
        &HomePage {
            nav: Nav::for_user(&user, &session)?,
            name: user.name().to_string(),
            email: user.email.clone(),
            is_admin: user.is_admin,
            mcp_url: state.config.url("/mcp"),
            reading: reading
                .items
                .iter()
                .map(super::books::BookItem::from)
                .collect(),
            reading_total: reading.total,
            finished,
            goal_card,
        },
    )
}

#[derive(Deserialize)]
pub struct ReturnTo {
    return_to: Option<String>,
}

/// `?return_to=...` for the links between the login and register pages.
fn return_query(return_to: &str) -> String {
    if return_to.is_empty() {
        String::new()
    } else {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", return_to)
            .finish();
        format!("?{encoded}")
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    error: Option<String>,
    email: String,
    return_to: String,
    return_query: String,
}

impl LoginPage {
    fn new(session: &Session, return_to: Option<String>) -> Result<Self, AppError> {
        let return_to = session::safe_return_to(return_to.as_deref()).unwrap_or_default();
        Ok(LoginPage {
            nav: Nav::anonymous(session)?,
            error: None,
            email: String::new(),
            return_query: return_query(&return_to),
            return_to,
        })
    }
}

async fn login_form(
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<ReturnTo>,
) -> PageResult {
    let return_to = query.into_inner().return_to;
    if current_user(&state, &session).await?.is_some() {
        let target = session::safe_return_to(return_to.as_deref()).unwrap_or_else(|| "/".into());
        return Ok(redirect(&target));
    }
    render(StatusCode::OK, &LoginPage::new(&session, return_to)?)
}

#[derive(Deserialize)]
pub struct LoginForm {
    csrf_token: String,
    email: String,
    password: String,
    return_to: Option<String>,
    /// "Keep me signed in": present when ticked.
    remember: Option<String>,
}

async fn login(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    form: web::Form<LoginForm>,
) -> PageResult {
    let form = form.into_inner();
    csrf::verify(&session, &form.csrf_token)?;
    crate::rate_limit::check_app(&state, &req, crate::rate_limit::Bucket::Login)?;
    match authenticate(&state, &form.email, form.password).await {
        Ok(user) => {
            let remember = form.remember.is_some();
            session::sign_in(&session, user.id, user.session_generation, remember)?;
            let target =
                session::safe_return_to(form.return_to.as_deref()).unwrap_or_else(|| "/".into());
            Ok(redirect(&target))
        }
        Err(AppError::InvalidCredentials) => {
            let mut page = LoginPage::new(&session, form.return_to)?;
            page.error = Some("The email or password is incorrect.".into());
            page.email = form.email;
            render(StatusCode::UNAUTHORIZED, &page)
        }
        Err(AppError::Busy { retry_after_secs }) => {
            let mut page = LoginPage::new(&session, form.return_to)?;
            page.error = Some(busy_message(retry_after_secs));
            page.email = form.email;
            busy(
                render(StatusCode::SERVICE_UNAVAILABLE, &page),
                retry_after_secs,
            )
        }
        Err(other) => Err(other.into()),
    }
}

/// What a form says when its password could not be checked because too many are waiting.
fn busy_message(retry_after_secs: u64) -> String {
    let wait = match retry_after_secs {
        1 => "a second".to_string(),
        n => format!("{n} seconds"),
    };
    format!(
        "Many people are signing in right now, so your password could not be checked yet. \
         Nothing is wrong with your account: please try again in {wait}."
    )
}

/// The form's page again, with `Retry-After` (the status is the caller's 503).
fn busy(page: PageResult, retry_after_secs: u64) -> PageResult {
    page.map(|mut response| {
        if let Ok(value) = retry_after_secs.to_string().parse() {
            response
                .headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, value);
        }
        response
    })
}

/// Checks an email and password. The answer for an unknown email and for a wrong password is
/// the same, and takes as long.
pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: String,
) -> Result<user::User, AppError> {
    let email = email.to_string();
    let found = db::run(&state.pool, move |conn| user::find_by_email(conn, &email)).await?;
    let hash = found.as_ref().map(|u| u.password_hash.clone());
    if state.passwords.verify(password, hash).await? {
        found.ok_or(AppError::InvalidCredentials)
    } else {
        Err(AppError::InvalidCredentials)
    }
}

/// Validates and creates an account; shared by the page and the JSON API.
pub async fn create_account(
    state: &AppState,
    email: &str,
    password: String,
    display_name: Option<String>,
) -> Result<user::User, AppError> {
    let mut problems = Vec::new();
    if let Err(message) = user::validate_email(email) {
        problems.push(crate::error::FieldError::new("email", message));
    }
    if let Err(message) = password::validate(&password) {
        problems.push(crate::error::FieldError::new("password", message));
    }
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    let hash = state.passwords.hash(password).await?;
    let email = email.to_string();
    db::run(&state.pool, move |conn| {
        user::create(
            conn,
            &email,
            &hash,
            display_name.as_deref(),
            user::AdminPolicy::FirstUserOnly,
            db::models::now(),
        )
    })
    .await
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    nav: Nav,
    error: Option<String>,
    email: String,
    display_name: String,
    return_to: String,
    return_query: String,
}

async fn register_form(
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<ReturnTo>,
) -> PageResult {
    if current_user(&state, &session).await?.is_some() {
        return Ok(redirect("/"));
    }
    let return_to =
        session::safe_return_to(query.into_inner().return_to.as_deref()).unwrap_or_default();
    render(
        StatusCode::OK,
        &RegisterPage {
            nav: Nav::anonymous(&session)?,
            error: None,
            email: String::new(),
            display_name: String::new(),
            return_query: return_query(&return_to),
            return_to,
        },
    )
}

#[derive(Deserialize)]
pub struct RegisterForm {
    csrf_token: String,
    email: String,
    #[serde(default)]
    display_name: String,
    password: String,
    password_confirm: String,
    return_to: Option<String>,
}

async fn register(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    form: web::Form<RegisterForm>,
) -> PageResult {
    let form = form.into_inner();
    csrf::verify(&session, &form.csrf_token)?;
    crate::rate_limit::check_app(&state, &req, crate::rate_limit::Bucket::SignUp)?;
    let return_to = session::safe_return_to(form.return_to.as_deref()).unwrap_or_default();
    let failure = |message: String| -> PageResult {
        render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &RegisterPage {
                nav: Nav::anonymous(&session)?,
                error: Some(message),
                email: form.email.clone(),
                display_name: form.display_name.clone(),
                return_query: return_query(&return_to),
                return_to: return_to.clone(),
            },
        )
    };
    if !state.config.allow_registration {
        return failure(
            "Registration is closed on this server. Ask its administrator for an account.".into(),
        );
    }
    if form.password != form.password_confirm {
        return failure("The two passwords do not match.".into());
    }
    let display_name = Some(form.display_name.clone());
    match create_account(&state, &form.email, form.password.clone(), display_name).await {
        Ok(user) => {
            session::sign_in(&session, user.id, user.session_generation, false)?;
            Ok(redirect(if return_to.is_empty() {
                "/"
            } else {
                &return_to
            }))
        }
        Err(AppError::Validation(problems)) => failure(
            problems
                .iter()
                .map(|p| super::capitalise(&p.message))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        Err(AppError::Conflict { .. }) => {
            failure("An account with this email already exists. Sign in instead.".into())
        }
        Err(AppError::Busy { retry_after_secs }) => {
            let page = RegisterPage {
                nav: Nav::anonymous(&session)?,
                error: Some(busy_message(retry_after_secs)),
                email: form.email.clone(),
                display_name: form.display_name.clone(),
                return_query: return_query(&return_to),
                return_to: return_to.clone(),
            };
            busy(
                render(StatusCode::SERVICE_UNAVAILABLE, &page),
                retry_after_secs,
            )
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage {
    nav: Nav,
}

async fn logout_form(state: web::Data<AppState>, session: Session) -> PageResult {
    match current_user(&state, &session).await? {
        Some(user) => render(
            StatusCode::OK,
            &LogoutPage {
                nav: Nav::for_user(&user, &session)?,
            },
        ),
        None => Ok(redirect("/login")),
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf_token: String,
}

/// Ends this session and every other of the user (the cookie alone would outlive a purge: a
/// copy saved earlier would still sign in).
async fn logout(
    state: web::Data<AppState>,
    session: Session,
    form: web::Form<CsrfOnly>,
) -> PageResult {
    csrf::verify(&session, &form.csrf_token)?;
    if let Some(user) = current_user(&state, &session).await? {
        db::run(&state.pool, move |conn| user::end_sessions(conn, user.id)).await?;
    }
    session::sign_out(&session);
    Ok(redirect("/login"))
}

/// Errors of the password form, each shown under its field.
#[derive(Default)]
struct PasswordErrors {
    current_password: Option<String>,
    new_password: Option<String>,
    new_password_confirm: Option<String>,
}

/// Errors of the deletion form; `confirmed` keeps the box ticked.
#[derive(Default)]
struct DeletionErrors {
    password: Option<String>,
    confirm: Option<String>,
    confirmed: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    nav: Nav,
    email: String,
    notice: Option<String>,
    password: PasswordErrors,
    deletion: DeletionErrors,
    /// Why this account cannot be deleted, when it is the server's last administrator.
    only_admin: Option<String>,
}

impl AccountPage {
    async fn new(state: &AppState, signed: &SignedIn) -> Result<Self, AppError> {
        let user_id = signed.user.id;
        let only_admin = match db::run(&state.pool, move |c| rules::may_delete(c, user_id)).await {
            Err(AppError::Conflict { message, .. }) => Some(capitalise(&message)),
            Err(other) => return Err(other),
            Ok(()) => None,
        };
        Ok(AccountPage {
            nav: signed.nav()?.at("account"),
            email: signed.user.email.clone(),
            notice: None,
            password: PasswordErrors::default(),
            deletion: DeletionErrors::default(),
            only_admin,
        })
    }
}

async fn account_page(state: web::Data<AppState>, signed: SignedIn) -> PageResult {
    render(StatusCode::OK, &AccountPage::new(&state, &signed).await?)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf_token: String,
    current_password: String,
    new_password: String,
    new_password_confirm: String,
}

/// Changes the password: this browser stays signed in (under the new session generation);
/// every other session and every first-party token ends.
async fn change_password(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    signed: SignedIn,
    form: web::Form<PasswordForm>,
) -> PageResult {
    let form = form.into_inner();
    csrf::verify(&signed.session, &form.csrf_token)?;
    crate::rate_limit::check_app(&state, &req, crate::rate_limit::Bucket::Login)?;
    let mut errors = PasswordErrors::default();
    if form.new_password != form.new_password_confirm {
        errors.new_password_confirm = Some("The two new passwords do not match.".into());
    } else {
        let change = PasswordChange {
            current_password: form.current_password,
            new_password: form.new_password,
        };
        match rules::change_password(&state, signed.user.id, change, None).await {
            Ok(user) => {
                let remember = session::remembered(&signed.session);
                session::sign_in(&signed.session, user.id, user.session_generation, remember)?;
                let mut page = AccountPage::new(&state, &SignedIn { user, ..signed }).await?;
                page.notice = Some(
                    "Your password is changed. Every other session and sign-in token of your \
                     account is ended."
                        .into(),
                );
                return render(StatusCode::OK, &page);
            }
            Err(AppError::WrongPassword { .. }) => {
                errors.current_password = Some("This is not your current password.".into())
            }
            Err(AppError::Validation(problems)) => {
                for problem in problems {
                    errors.new_password = Some(capitalise(&problem.message));
                }
            }
            Err(other) => return Err(other.into()),
        }
    }
    let mut page = AccountPage::new(&state, &signed).await?;
    page.password = errors;
    render(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

#[derive(Deserialize)]
pub struct DeletionForm {
    csrf_token: String,
    password: String,
    /// The "I understand" box: present when ticked.
    confirm: Option<String>,
}

#[derive(Template)]
#[template(path = "account_deleted.html")]
struct DeletedPage {
    nav: Nav,
}

/// Deletes the account and everything in it, then signs this browser out.
async fn delete_account(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    signed: SignedIn,
    form: web::Form<DeletionForm>,
) -> PageResult {
    let form = form.into_inner();
    csrf::verify(&signed.session, &form.csrf_token)?;
    crate::rate_limit::check_app(&state, &req, crate::rate_limit::Bucket::Login)?;
    let mut errors = DeletionErrors {
        confirmed: form.confirm.is_some(),
        ..DeletionErrors::default()
    };
    if form.confirm.is_none() {
        errors.confirm = Some("Tick the box to confirm that the account is to be deleted.".into());
    } else {
        match rules::delete_account(&state, signed.user.id, form.password).await {
            Ok(()) => {
                session::sign_out(&signed.session);
                return render(
                    StatusCode::OK,
                    &DeletedPage {
                        nav: Nav::anonymous(&signed.session)?,
                    },
                );
            }
            Err(AppError::WrongPassword { .. }) => {
                errors.password = Some("This is not your password.".into());
            }
            // The last administrator: the page says so above the form.
            Err(AppError::Conflict { .. }) => {}
            Err(other) => return Err(other.into()),
        }
    }
    let mut page = AccountPage::new(&state, &signed).await?;
    page.deletion = errors;
    let status = if page.only_admin.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render(status, &page)
}

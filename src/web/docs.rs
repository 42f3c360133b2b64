//! `/docs`: how to connect an assistant to this server, for anyone, signed in or not.

use crate::state::AppState;
use crate::web::{current_user, render, Nav, PageError};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/docs", web::get().to(docs));
}

#[derive(Template)]
#[template(path = "docs.html")]
struct DocsPage {
    nav: Nav,
    base: String,
}

async fn docs(state: web::Data<AppState>, session: Session) -> Result<HttpResponse, PageError> {
    let nav = match current_user(&state, &session).await? {
        Some(u) => Nav::for_user(&u, &session)?,
        None => Nav::anonymous(&session)?,
    };
    render(
        StatusCode::OK,
        &DocsPage {
            nav,
            base: state.config.public_url.clone(),
        },
    )
}

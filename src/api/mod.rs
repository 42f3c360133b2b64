//! The JSON API. Handlers are thin: they parse, call a plain function, and answer.

pub mod account;
pub mod auth;
pub mod books;
pub mod connectors;
pub mod goals;
pub mod health;
pub mod openapi;
pub mod readings;
pub mod request_errors;
pub mod transfer;

use actix_web::{web, HttpResponse};

pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    openapi::configure(cfg);
    auth::configure(cfg);
    account::configure(cfg);
    books::configure(cfg);
    connectors::configure(cfg);
    goals::configure(cfg);
    readings::configure(cfg);
    transfer::configure(cfg);
}

/// A JSON object body whose problems are reported only after authentication: actix runs a
/// handler's extractors together and answers the first failure, so with a plain `web::Json` an
/// unauthenticated caller would learn about body validation before hearing "401".
///
/// Only an object is accepted, as the OpenAPI document says: serde would also read a struct
/// from an array of its fields in order (`[null, null]`), which no client means.
pub struct JsonBody<T>(Result<T, crate::error::AppError>);

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> crate::error::AppResult<T> {
        self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for JsonBody<T> {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        use crate::error::AppError;
        let json = web::Json::<Box<serde_json::value::RawValue>>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let raw = json.await.map(web::Json::into_inner).map_err(|error| {
                match error.as_error::<AppError>() {
                    Some(AppError::PayloadTooLarge) => AppError::PayloadTooLarge,
                    Some(AppError::BadRequest(message)) => AppError::BadRequest(message.clone()),
                    Some(AppError::MalformedJson { message, position }) => {
                        AppError::MalformedJson {
                            message: message.clone(),
                            position: *position,
                        }
                    }
                    _ => AppError::BadRequest(error.to_string()),
                }
            });
            Ok(JsonBody(raw.and_then(|raw| {
                request_errors::read_json(&req, raw.get().as_bytes())
            })))
        })
    }
}

/// A route's resource that answers 405 (with `Allow`) to methods it does not serve, instead of
/// falling through to 404.
pub fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(crate::error::AppError::MethodNotAllowed { allow })
    }))
}

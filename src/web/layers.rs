//! Middleware that only the pages need, kept off the machine endpoints.
//!
//! The cookie session and the signed-in error pages are for browsers. The token, revocation,
//! introspection and registration endpoints, `/mcp`, the REST API and the discovery documents
//! read no cookie and render no page, yet every request of theirs went through both layers:
//! a session built and checked for changes, a boxed future, a boxed body (2 to 3% of an
//! introspection in perf, bench/README.md, 2026-12-05, 03:00). [`PagesOnly`] sends those
//! requests past the layers, straight to the application.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::Error;
use futures_util::future::{Either, LocalBoxFuture};
use futures_util::FutureExt;
use std::rc::Rc;
use std::task::{Context, Poll};

/// Whether a path is one of the machine endpoints: no page is served there and no cookie read.
pub fn is_machine_path(path: &str) -> bool {
    path.starts_with("/api/")
        || path.starts_with("/.well-known/")
        || matches!(
            path,
            "/mcp" | "/oauth/token" | "/oauth/introspect" | "/oauth/revoke" | "/oauth/register"
        )
}

/// The middleware `L` (the session, wrapping the error pages) on every request but those of
/// the machine endpoints.
pub struct PagesOnly<L>(pub L);

impl<S, B, L, LB> Transform<S, ServiceRequest> for PagesOnly<L>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
    L: Transform<Shared<S>, ServiceRequest, Response = ServiceResponse<LB>, Error = Error>,
    L::Future: 'static,
    L::Transform: 'static,
    LB: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Transform = PagesOnlyService<S, L::Transform>;
    type InitError = L::InitError;
    type Future = LocalBoxFuture<'static, Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let app = Rc::new(service);
        let layered = self.0.new_transform(Shared(Rc::clone(&app)));
        Box::pin(async move {
            Ok(PagesOnlyService {
                app,
                layered: layered.await?,
            })
        })
    }
}

/// The application, shared by the layered path and the direct one.
pub struct Shared<S>(Rc<S>);

impl<S: Service<ServiceRequest>> Service<ServiceRequest> for Shared<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&self, req: ServiceRequest) -> Self::Future {
        self.0.call(req)
    }
}

pub struct PagesOnlyService<S, T> {
    app: Rc<S>,
    layered: T,
}

type Boxed<B> = fn(Result<ServiceResponse<B>, Error>) -> Result<ServiceResponse<BoxBody>, Error>;

impl<S, B, T, LB> Service<ServiceRequest> for PagesOnlyService<S, T>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody + 'static,
    T: Service<ServiceRequest, Response = ServiceResponse<LB>, Error = Error>,
    LB: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Future = Either<
        futures_util::future::Map<S::Future, Boxed<B>>,
        futures_util::future::Map<T::Future, Boxed<LB>>,
    >;

    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.layered.poll_ready(cx)
    }

    fn call(&self, req: ServiceRequest) -> Self::Future {
        if is_machine_path(req.path()) {
            Either::Left(self.app.call(req).map(boxed::<B> as Boxed<B>))
        } else {
            Either::Right(self.layered.call(req).map(boxed::<LB> as Boxed<LB>))
        }
    }
}

fn boxed<B: MessageBody + 'static>(
    response: Result<ServiceResponse<B>, Error>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    response.map(ServiceResponse::map_into_boxed_body)
}

/// Two middleware as one: `outer` wrapping `inner`, as `.wrap(inner).wrap(outer)` would.
pub struct Stack<O, I> {
    outer: Rc<O>,
    inner: I,
}

impl<O, I> Stack<O, I> {
    pub fn new(outer: O, inner: I) -> Self {
        Stack {
            outer: Rc::new(outer),
            inner,
        }
    }
}

impl<S, O, I> Transform<S, ServiceRequest> for Stack<O, I>
where
    I: Transform<S, ServiceRequest>,
    I::Future: 'static,
    O: Transform<I::Transform, ServiceRequest, Error = I::Error, InitError = I::InitError>
        + 'static,
{
    type Response = O::Response;
    type Error = O::Error;
    type Transform = O::Transform;
    type InitError = O::InitError;
    type Future = LocalBoxFuture<'static, Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let inner = self.inner.new_transform(service);
        let outer = Rc::clone(&self.outer);
        Box::pin(async move { outer.new_transform(inner.await?).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_endpoints_and_nothing_else() {
        for path in [
            "/api/books",
            "/api/auth/login",
            "/mcp",
            "/oauth/token",
            "/oauth/introspect",
            "/oauth/revoke",
            "/oauth/register",
            "/.well-known/oauth-authorization-server",
        ] {
            assert!(is_machine_path(path), "{path}");
        }
        // The authorization page and its consent form use the session; so do the pages.
        for path in [
            "/oauth/authorize",
            "/oauth/consent",
            "/",
            "/books",
            "/login",
            "/admin/tokens",
            "/mcp/x",
            "/apis",
            "/api",
        ] {
            assert!(!is_machine_path(path), "{path}");
        }
    }
}

//! A request's body, read whole: what the machine endpoints (`/oauth/token`, introspection,
//! revocation, `/mcp`) parse themselves.
//!
//! actix-web's `Bytes` extractor copies every body into a fresh 8 KiB buffer. An allocation that
//! size is past glibc's per-thread cache, so each request went through the arena's locked path
//! and its consolidation of small freed chunks: 4% of an introspection in perf (bench/README.md,
//! 2026-12-05, 02:30). A form or a JSON-RPC message arrives in one chunk, which is handed on as
//! it is; a body that arrives in pieces is gathered into a buffer of its announced length.
//!
//! The answers are actix-web's own for the same failures (`413` past the limit, `400` for a
//! `Content-Length` that is no number), so nothing a client sees changes.

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use futures_util::Stream;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// actix-web's default body limit, kept for the endpoints that had it.
pub const DEFAULT_LIMIT: usize = 262_144;

/// The whole body, at most `LIMIT` bytes.
pub struct Body<const LIMIT: usize = DEFAULT_LIMIT>(pub Bytes);

impl<const LIMIT: usize> std::ops::Deref for Body<LIMIT> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl<const LIMIT: usize> FromRequest for Body<LIMIT> {
    type Error = actix_web::Error;
    type Future = ReadBody<LIMIT>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let announced = match req.headers().get(CONTENT_LENGTH) {
            None => Ok(None),
            Some(value) => value
                .to_str()
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
                .map(Some)
                .ok_or(PayloadError::UnknownLength),
        };
        let (length, error) = match announced {
            Ok(Some(length)) if length > LIMIT => (0, Some(PayloadError::Overflow)),
            Ok(length) => (length.unwrap_or(0), None),
            Err(error) => (0, Some(error)),
        };
        ReadBody {
            stream: payload.take(),
            length,
            error,
            first: None,
            gathered: None,
        }
    }
}

/// The future of [`Body`]: the first chunk kept as it came, later ones gathered after it.
pub struct ReadBody<const LIMIT: usize> {
    stream: Payload,
    /// The announced length (0 when none was), the gathering buffer's first size.
    length: usize,
    error: Option<PayloadError>,
    first: Option<Bytes>,
    gathered: Option<BytesMut>,
}

impl<const LIMIT: usize> ReadBody<LIMIT> {
    fn received(&self) -> usize {
        self.gathered
            .as_ref()
            .map_or_else(|| self.first.as_ref().map_or(0, Bytes::len), BytesMut::len)
    }

    fn add(&mut self, chunk: Bytes) -> Result<(), PayloadError> {
        if self.received() + chunk.len() > LIMIT {
            return Err(PayloadError::Overflow);
        }
        if let Some(gathered) = self.gathered.as_mut() {
            gathered.extend_from_slice(&chunk);
        } else if let Some(first) = self.first.take() {
            let mut gathered = BytesMut::with_capacity(self.length.max(first.len() + chunk.len()));
            gathered.extend_from_slice(&first);
            gathered.extend_from_slice(&chunk);
            self.gathered = Some(gathered);
        } else {
            self.first = Some(chunk);
        }
        Ok(())
    }
}

impl<const LIMIT: usize> Future for ReadBody<LIMIT> {
    type Output = Result<Body<LIMIT>, actix_web::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(error) = this.error.take() {
            return Poll::Ready(Err(error.into()));
        }
        loop {
            match Pin::new(&mut this.stream).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Err(error.into())),
                Poll::Ready(Some(Ok(chunk))) => {
                    if let Err(error) = this.add(chunk) {
                        return Poll::Ready(Err(error.into()));
                    }
                }
                Poll::Ready(None) => {
                    let body = match (this.gathered.take(), this.first.take()) {
                        (Some(gathered), _) => gathered.freeze(),
                        (None, Some(first)) => first,
                        (None, None) => Bytes::new(),
                    };
                    return Poll::Ready(Ok(Body(body)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::StatusCode;
    use actix_web::test::TestRequest;

    /// Reads `chunks` as a body of the request `request` describes, chunk by chunk.
    async fn read<const LIMIT: usize>(
        request: TestRequest,
        chunks: &[&'static [u8]],
    ) -> Result<Bytes, StatusCode> {
        let (req, _) = request.to_http_parts();
        let items: Vec<Result<Bytes, PayloadError>> = chunks
            .iter()
            .map(|chunk| Ok(Bytes::from_static(chunk)))
            .collect();
        let stream: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
            Box::pin(futures_util::stream::iter(items));
        let mut payload = Payload::Stream { payload: stream };
        Body::<LIMIT>::from_request(&req, &mut payload)
            .await
            .map(|body| body.0)
            .map_err(|error| error.as_response_error().status_code())
    }

    #[actix_web::test]
    async fn one_chunk_is_the_body_as_it_came() {
        let chunk: &'static [u8] = b"token=abc&client_id=x";
        let body = read::<64>(TestRequest::default(), &[chunk]).await.ok();
        let body = body.unwrap_or_default();
        assert_eq!(&body[..], chunk);
        // The same bytes, not a copy.
        assert_eq!(body.as_ptr(), chunk.as_ptr());
    }

    #[actix_web::test]
    async fn pieces_are_gathered_in_order() {
        let request = TestRequest::default().insert_header((CONTENT_LENGTH, "9"));
        let body = read::<64>(request, &[b"abc", b"def", b"ghi"]).await;
        assert_eq!(body.ok().as_deref(), Some(&b"abcdefghi"[..]));
        assert_eq!(
            read::<64>(TestRequest::default(), &[]).await.ok(),
            Some(Bytes::new())
        );
    }

    #[actix_web::test]
    async fn past_the_limit_is_refused_as_actix_refused_it() {
        // Announced too long: refused before a byte is read.
        let request = TestRequest::default().insert_header((CONTENT_LENGTH, "65"));
        assert_eq!(
            read::<64>(request, &[b"x"]).await,
            Err(StatusCode::PAYLOAD_TOO_LARGE)
        );
        // Unannounced, and longer than announced: refused once it is past the limit.
        let long: &'static [u8] = &[b'x'; 40];
        assert_eq!(
            read::<64>(TestRequest::default(), &[long, long]).await,
            Err(StatusCode::PAYLOAD_TOO_LARGE)
        );
        let request = TestRequest::default().insert_header((CONTENT_LENGTH, "10"));
        assert_eq!(
            read::<64>(request, &[long, long]).await,
            Err(StatusCode::PAYLOAD_TOO_LARGE)
        );
        // Exactly the limit passes.
        let body = read::<80>(TestRequest::default(), &[long, long]).await;
        assert_eq!(body.map(|b| b.len()), Ok(80));
        // A length that is no number.
        let request = TestRequest::default().insert_header((CONTENT_LENGTH, "ten"));
        assert_eq!(
            read::<64>(request, &[b"x"]).await,
            Err(StatusCode::BAD_REQUEST)
        );
    }
}

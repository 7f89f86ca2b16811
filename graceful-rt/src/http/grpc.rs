//! gRPC calls under [`serve`](super::serve): how one is recognised, and how
//! the server ends one it cannot let finish (shortly before the drain
//! deadline, or at the end of a connection's age grace). It ends with
//! `grpc-status: 14` (UNAVAILABLE), the status gRPC clients and their retry
//! policies treat as "try again elsewhere", never as a broken stream
//! (which tonic's client reports as UNKNOWN, and no policy retries).
//!
//! - A call whose handler has not answered yet is answered at once, as a
//!   *trailers-only* response (HTTP 200, the status in the headers, no
//!   body); the handler is dropped.
//! - A call whose response is streaming ends after the frame it is on,
//!   with trailers that carry the status.

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Request, Response};

/// The `grpc-status` of UNAVAILABLE.
const UNAVAILABLE: HeaderValue = HeaderValue::from_static("14");
/// Its `grpc-message`: plain ASCII, which needs no percent-encoding.
const MESSAGE: HeaderValue = HeaderValue::from_static("server is shutting down");
const GRPC: HeaderValue = HeaderValue::from_static("application/grpc");

/// Whether `request` is a gRPC call (an HTTP/2 request whose content type
/// is `application/grpc`, or one of its `+proto` kin).
pub(crate) fn is_call<B>(request: &Request<B>) -> bool {
    request.version() >= http::Version::HTTP_2 && is_grpc(request.headers())
}

/// Whether a response (or request) with these headers is gRPC's.
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc"))
}

/// The trailers that end a streaming call with UNAVAILABLE.
pub(crate) fn unavailable_trailers() -> HeaderMap {
    let mut trailers = HeaderMap::with_capacity(2);
    trailers.insert("grpc-status", UNAVAILABLE);
    trailers.insert("grpc-message", MESSAGE);
    trailers
}

/// A trailers-only UNAVAILABLE answer, with `body` (which must be at its
/// end).
pub(crate) fn unavailable<B>(body: B) -> Response<B> {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, GRPC);
    headers.insert("grpc-status", UNAVAILABLE);
    headers.insert("grpc-message", MESSAGE);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_an_http2_request_of_grpc_content() {
        let call = |version, content_type: &str| {
            Request::builder()
                .version(version)
                .header(CONTENT_TYPE, content_type)
                .body(())
                .unwrap()
        };
        assert!(is_call(&call(http::Version::HTTP_2, "application/grpc")));
        assert!(is_call(&call(
            http::Version::HTTP_2,
            "application/grpc+proto"
        )));
        assert!(!is_call(&call(http::Version::HTTP_11, "application/grpc")));
        assert!(!is_call(&call(http::Version::HTTP_2, "application/json")));
    }
}

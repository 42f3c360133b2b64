//! What `/mcp` reads before anything runs: the JSON-RPC message (`protocol::classify`), the era
//! (`era::era_of`), the modern envelope and routing headers (`era::check_modern`) and the
//! base64 sentinel of header values. Input: up to three header lines (version, method, name),
//! a NUL byte, then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panicless::mcp::era::{self, Era, Headers};
use panicless::mcp::protocol::{self, Incoming};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&[][..], data),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines().map(|l| Some(l.trim().to_string()).filter(|l| !l.is_empty()));
    let headers = Headers {
        version: lines.next().flatten(),
        method: lines.next().flatten(),
        name: lines.next().flatten(),
        session: None,
        duplicated: None,
    };
    if let Some(name) = &headers.name {
        // A decoded value is text; a plain one comes back as it was.
        if let Some(decoded) = era::decode_header_value(name) {
            if !name.starts_with("=?base64?") {
                assert_eq!(&decoded, name);
            }
        }
    }
    let Ok(message) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let era = era::era_of(&headers, &message);
    match protocol::classify(message) {
        Ok(Incoming::Request { id, method, params }) => {
            assert!(id.is_string() || id.is_number(), "{id}");
            assert!(params.is_object());
            if era == Era::Modern {
                if let Ok(envelope) = era::check_modern(&headers, &method, &params) {
                    // Whatever passes names a version we speak, the same in header and body.
                    assert!(panicless::mcp::is_modern(&envelope.version));
                    assert_eq!(headers.version.as_deref(), Some(envelope.version.as_str()));
                    assert_eq!(headers.method.as_deref(), Some(method.as_str()));
                }
            }
            let _ = protocol::Method::find(&method, era);
        }
        Ok(_) => {}
        Err((id, error)) => {
            assert!(id.is_null() || id.is_string() || id.is_number());
            // Every refusal is an object a client can read.
            let response = error.response(&id);
            assert!(response["error"]["code"].is_i64());
        }
    }
});

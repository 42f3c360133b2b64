//! Which era a request belongs to, and the rules of the modern (2026-07-28) envelope: plain
//! functions over the routing headers and the parsed body, returning typed outcomes. The
//! transport renders them; the tests below call them without HTTP.
//!
//! The era is chosen by `MCP-Protocol-Version`, as the MCP Python SDK does: a legacy version
//! means legacy, anything else present (a modern version, or one we do not know, which then
//! gets the modern `-32022` naming what we speak) means modern. Without the header, a body
//! carrying the modern `_meta` is modern and everything else legacy (2025-03-26 by default).

use super::protocol::{RpcError, HEADER_MISMATCH, INVALID_PARAMS, UNSUPPORTED_PROTOCOL_VERSION};
use base64::Engine;
use serde_json::{json, Map, Value};

pub const PROTOCOL_VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
pub const CLIENT_CAPABILITIES_KEY: &str = "io.modelcontextprotocol/clientCapabilities";
pub const CLIENT_INFO_KEY: &str = "io.modelcontextprotocol/clientInfo";
pub const SERVER_INFO_KEY: &str = "io.modelcontextprotocol/serverInfo";
pub const SUBSCRIPTION_ID_KEY: &str = "io.modelcontextprotocol/subscriptionId";

/// The HTTP headers that route a request, as sent (trimmed of surrounding white space).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Headers {
    pub version: Option<String>,
    pub method: Option<String>,
    pub name: Option<String>,
    pub session: Option<String>,
    /// A routing header sent more than once: first-copy and last-copy readers would disagree.
    pub duplicated: Option<&'static str>,
}

/// The protocol era of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    Legacy,
    Modern,
}

/// Decides the era of a request from its routing headers and parsed body.
pub fn era_of(headers: &Headers, body: &Value) -> Era {
    match headers.version.as_deref() {
        Some(version) if super::is_legacy(version) => Era::Legacy,
        Some(_) => Era::Modern,
        None if body
            .pointer("/params/_meta")
            .is_some_and(|meta| meta.get(PROTOCOL_VERSION_KEY).is_some()) =>
        {
            Era::Modern
        }
        None => Era::Legacy,
    }
}

/// The version a legacy request is answered in: its `MCP-Protocol-Version`, else the one its
/// session negotiated, else 2025-03-26 (what the transport spec lets a server assume).
pub fn legacy_version(header: Option<String>, session: Option<String>) -> String {
    header
        .or(session)
        .unwrap_or_else(|| super::DEFAULT_VERSION.to_string())
}

/// JSON-RPC batches exist only in 2025-03-26.
pub fn check_batch(version: &str) -> Result<(), RpcError> {
    if version == super::BATCH_VERSION {
        Ok(())
    } else {
        Err(RpcError::new(
            super::protocol::INVALID_REQUEST,
            format!("JSON-RPC batches are not allowed in protocol version {version}"),
        ))
    }
}

/// What a valid modern request declares about its client in `_meta`.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub version: String,
    pub client_capabilities: Value,
    pub client_info: Option<Value>,
}

/// Methods whose subject travels in `Mcp-Name`, and the parameter that holds it.
fn name_parameter(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    }
}

/// Checks a modern request's envelope and headers, in the order the conformance suite and the
/// SDKs expect, so that a client that disagrees with itself is told so before anything else:
/// 1. `Mcp-Method` (and `Mcp-Name` for named methods) must match the body: `-32020`;
/// 2. `params._meta` must carry the protocol version and client capabilities: `-32602`;
/// 3. `MCP-Protocol-Version` must equal the `_meta` version: `-32020`;
/// 4. the version must be one we speak: `-32022` with what we support.
///
/// Whether the method exists is the method table's question, asked afterwards.
pub fn check_modern(headers: &Headers, method: &str, params: &Value) -> Result<Envelope, RpcError> {
    if let Some(header) = headers.duplicated {
        return Err(mismatch(format!(
            "the {header} header appears more than once"
        )));
    }
    if headers.method.as_deref() != Some(method) {
        return Err(mismatch(format!(
            "the Mcp-Method header must be present and equal the body's method `{}`",
            clip(method)
        )));
    }
    if let Some(key) = name_parameter(method) {
        if let Some(body_value) = params.get(key).and_then(Value::as_str) {
            let header = headers.name.as_deref().and_then(decode_header_value);
            if header.as_deref() != Some(body_value) {
                return Err(mismatch(format!(
                    "the Mcp-Name header must be present and equal the body's `{key}`"
                )));
            }
        }
    }
    let Some(meta) = params.get("_meta").and_then(Value::as_object) else {
        return Err(RpcError::new(
            INVALID_PARAMS,
            format!(
                "params._meta must be an object carrying `{PROTOCOL_VERSION_KEY}` and \
                 `{CLIENT_CAPABILITIES_KEY}`"
            ),
        ));
    };
    let missing: Vec<&str> = [PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY]
        .into_iter()
        .filter(|key| !meta.contains_key(*key))
        .collect();
    if !missing.is_empty() {
        return Err(RpcError::new(
            INVALID_PARAMS,
            format!("params._meta is missing {}", missing.join(" and ")),
        ));
    }
    let version = &meta[PROTOCOL_VERSION_KEY];
    if headers.version.as_deref() != version.as_str() || headers.version.is_none() {
        return Err(mismatch(
            "the MCP-Protocol-Version header must equal params._meta's protocol version".into(),
        ));
    }
    let Some(version) = version.as_str() else {
        return Err(RpcError::new(
            INVALID_PARAMS,
            "the protocol version in params._meta must be a string",
        ));
    };
    if !super::is_modern(version) {
        return Err(unsupported_version(version));
    }
    if !meta[CLIENT_CAPABILITIES_KEY].is_object() {
        return Err(RpcError::new(
            INVALID_PARAMS,
            "the client capabilities in params._meta must be an object",
        ));
    }
    Ok(Envelope {
        version: version.to_string(),
        client_capabilities: meta[CLIENT_CAPABILITIES_KEY].clone(),
        client_info: meta.get(CLIENT_INFO_KEY).cloned(),
    })
}

/// A modern notification: accepted (and dropped: the modern era defines none a client sends
/// over HTTP) when its version header names a modern version.
pub fn check_modern_notification(headers: &Headers) -> Result<(), RpcError> {
    match headers.version.as_deref() {
        Some(version) if super::is_modern(version) => Ok(()),
        other => Err(unsupported_version(other.unwrap_or(""))),
    }
}

/// `-32022`, naming what we speak and what was asked for.
pub fn unsupported_version(requested: &str) -> RpcError {
    RpcError::new(UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version")
        .with_data(json!({"supported": super::supported_versions(), "requested": clip(requested)}))
}

fn mismatch(message: String) -> RpcError {
    RpcError::new(HEADER_MISMATCH, message)
}

/// At most 100 characters of client text in an error message.
fn clip(text: &str) -> String {
    text.chars().take(100).collect()
}

/// Decodes a header value that may carry the `=?base64?…?=` sentinel, which clients use for
/// values that would not survive as a header (non-ASCII, control characters, edge spaces). A
/// malformed sentinel decodes to nothing, so it never matches a body value by accident.
pub fn decode_header_value(value: &str) -> Option<String> {
    let Some(payload) = value
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    else {
        return Some(value.to_string());
    };
    // The standard engine refuses non-canonical padding and trailing bits, as the spec's
    // encoder never produces them.
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// The `_meta` every modern result carries: who answered.
pub fn server_meta() -> Map<String, Value> {
    let mut meta = Map::new();
    meta.insert(SERVER_INFO_KEY.into(), server_info());
    meta
}

pub fn server_info() -> Value {
    json!({
        "name": super::SERVER_NAME,
        "title": super::SERVER_TITLE,
        "version": env!("CARGO_PKG_VERSION"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::protocol::{HEADER_MISMATCH, INVALID_PARAMS, UNSUPPORTED_PROTOCOL_VERSION};

    fn modern_headers(method: &str) -> Headers {
        Headers {
            version: Some("2026-07-28".into()),
            method: Some(method.into()),
            ..Headers::default()
        }
    }

    fn meta() -> Value {
        json!({PROTOCOL_VERSION_KEY: "2026-07-28", CLIENT_CAPABILITIES_KEY: {}})
    }

    #[test]
    fn the_version_header_chooses_the_era() {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
        let with = |version: Option<&str>| Headers {
            version: version.map(String::from),
            ..Headers::default()
        };
        assert_eq!(era_of(&with(None), &body), Era::Legacy);
        assert_eq!(era_of(&with(Some("2025-06-18")), &body), Era::Legacy);
        assert_eq!(era_of(&with(Some("2026-07-28")), &body), Era::Modern);
        // An unknown version is answered in the modern era's words (-32022).
        assert_eq!(era_of(&with(Some("2099-01-01")), &body), Era::Modern);
        // Without the header, the modern envelope in the body decides.
        let modern = json!({"method": "tools/list", "params": {"_meta": meta()}});
        assert_eq!(era_of(&with(None), &modern), Era::Modern);
    }

    #[test]
    fn a_legacy_request_takes_its_header_then_its_sessions_version() {
        let v = |h: Option<&str>, s: Option<&str>| {
            legacy_version(h.map(String::from), s.map(String::from))
        };
        assert_eq!(v(Some("2025-06-18"), Some("2025-11-25")), "2025-06-18");
        assert_eq!(v(None, Some("2025-11-25")), "2025-11-25");
        assert_eq!(v(None, None), "2025-03-26");
        assert!(check_batch("2025-03-26").is_ok());
        assert!(check_batch("2025-11-25").is_err());
    }

    #[test]
    fn a_complete_modern_request_passes() {
        let params = json!({"_meta": meta()});
        let envelope = check_modern(&modern_headers("tools/list"), "tools/list", &params).unwrap();
        assert_eq!(envelope.version, "2026-07-28");
        assert_eq!(envelope.client_info, None);
    }

    #[test]
    fn the_method_header_must_match_the_body_exactly() {
        let params = json!({"_meta": meta()});
        for header in [None, Some("prompts/list"), Some("TOOLS/LIST")] {
            let headers = Headers {
                method: header.map(String::from),
                ..modern_headers("tools/list")
            };
            let error = check_modern(&headers, "tools/list", &params).unwrap_err();
            assert_eq!(error.code, HEADER_MISMATCH, "{header:?}");
        }
    }

    #[test]
    fn the_name_header_must_match_the_named_parameter() {
        let params = json!({"name": "search_books", "_meta": meta()});
        let named = |name: Option<&str>| Headers {
            name: name.map(String::from),
            ..modern_headers("tools/call")
        };
        assert!(check_modern(&named(Some("search_books")), "tools/call", &params).is_ok());
        for wrong in [None, Some("get_book")] {
            let error = check_modern(&named(wrong), "tools/call", &params).unwrap_err();
            assert_eq!(error.code, HEADER_MISMATCH);
        }
        // resources/read names its URI, sent base64-wrapped when it is not plain ASCII.
        let uri = "library://book/é";
        let params = json!({"uri": uri, "_meta": meta()});
        let encoded = format!(
            "=?base64?{}?=",
            base64::engine::general_purpose::STANDARD.encode(uri)
        );
        let headers = Headers {
            name: Some(encoded),
            ..modern_headers("resources/read")
        };
        assert!(check_modern(&headers, "resources/read", &params).is_ok());
    }

    #[test]
    fn a_missing_envelope_is_invalid_params() {
        for params in [
            json!({}),
            json!({"_meta": {CLIENT_CAPABILITIES_KEY: {}}}),
            json!({"_meta": {PROTOCOL_VERSION_KEY: "2026-07-28"}}),
        ] {
            let error = check_modern(
                &modern_headers("server/discover"),
                "server/discover",
                &params,
            )
            .unwrap_err();
            assert_eq!(error.code, INVALID_PARAMS, "{params}");
        }
    }

    #[test]
    fn the_version_header_must_agree_with_the_envelope() {
        let params =
            json!({"_meta": {PROTOCOL_VERSION_KEY: "v999.0.0", CLIENT_CAPABILITIES_KEY: {}}});
        let error = check_modern(
            &modern_headers("server/discover"),
            "server/discover",
            &params,
        )
        .unwrap_err();
        assert_eq!(error.code, HEADER_MISMATCH);
    }

    #[test]
    fn an_unsupported_version_names_what_is_supported() {
        let params =
            json!({"_meta": {PROTOCOL_VERSION_KEY: "v999.0.0", CLIENT_CAPABILITIES_KEY: {}}});
        let headers = Headers {
            version: Some("v999.0.0".into()),
            ..modern_headers("server/discover")
        };
        let error = check_modern(&headers, "server/discover", &params).unwrap_err();
        assert_eq!(error.code, UNSUPPORTED_PROTOCOL_VERSION);
        let data = error.data.unwrap();
        assert_eq!(data["requested"], "v999.0.0");
        assert_eq!(data["supported"][0], "2026-07-28");
    }

    #[test]
    fn a_duplicated_routing_header_is_a_mismatch() {
        let headers = Headers {
            duplicated: Some("mcp-method"),
            ..modern_headers("tools/list")
        };
        let error = check_modern(&headers, "tools/list", &json!({"_meta": meta()})).unwrap_err();
        assert_eq!(error.code, HEADER_MISMATCH);
    }

    #[test]
    fn sentinel_values_decode_strictly() {
        assert_eq!(decode_header_value("plain").as_deref(), Some("plain"));
        assert_eq!(
            decode_header_value("=?base64?SGVsbG8sIOS4lueVjA==?=").as_deref(),
            Some("Hello, 世界")
        );
        assert_eq!(decode_header_value("=?base64?not base64?="), None);
        // Non-canonical trailing bits.
        assert_eq!(decode_header_value("=?base64?SGk=?="), Some("Hi".into()));
        assert_eq!(decode_header_value("=?base64?SGl=?="), None);
    }

    #[test]
    fn notifications_need_a_modern_version_header() {
        assert!(check_modern_notification(&modern_headers("x")).is_ok());
        let error = check_modern_notification(&Headers {
            version: Some("2099-01-01".into()),
            ..Headers::default()
        })
        .unwrap_err();
        assert_eq!(error.code, UNSUPPORTED_PROTOCOL_VERSION);
    }
}

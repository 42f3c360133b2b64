//! End to end with the official MCP Python SDK: OAuth discovery from the 401, dynamic
//! registration, authorization code + PKCE (sign-in and consent done by a small HTTP client),
//! then the tools, resources, prompts and completion. Twice: in the SDK's default `auto` mode,
//! which probes `server/discover` and must then speak 2026-07-28, and pinned to the legacy
//! handshake, which must negotiate 2025-11-25.
//!
//! Runs when `PANICLESS_MCP_PYTHON` names a Python with the `mcp` package (.ci/run makes one);
//! otherwise it says why it is skipped, and fails under `PANICLESS_REQUIRE_MCP_SDK=1`.

use crate::common::{Backend, TestApp, PASSWORD};

#[actix_web::test]
async fn the_official_python_sdk_connects_through_oauth_and_uses_the_tools() {
    let Some(python) = std::env::var("PANICLESS_MCP_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        if std::env::var("PANICLESS_REQUIRE_MCP_SDK").as_deref() == Ok("1") {
            panic!("PANICLESS_REQUIRE_MCP_SDK=1 but PANICLESS_MCP_PYTHON is not set");
        }
        crate::common::skips::skipped(
            "MCP SDK end-to-end test",
            "PANICLESS_MCP_PYTHON is not set: set it to a Python with `pip install mcp` \
             (.ci/run does)",
        );
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("sdk@example.org").await;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/mcp_sdk_client.py");
    for (mode, version) in [("auto", "2026-07-28"), ("legacy", "2025-11-25")] {
        let url = app.url.clone();
        let (python, script) = (python.clone(), script.clone());
        let output = actix_web::rt::task::spawn_blocking(move || {
            std::process::Command::new(python)
                .arg(script)
                .args([url.as_str(), "sdk@example.org", PASSWORD, mode])
                .output()
        })
        .await
        .unwrap()
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "the SDK client ({mode}) failed:\n{stdout}\n{stderr}"
        );
        assert!(stdout.contains("MCP SDK end-to-end: OK"), "{stdout}");
        assert!(
            stdout.contains(&format!("negotiated protocol version: {version}")),
            "{mode}: {stdout}"
        );
    }
    app.stop().await;
}

//! The pages in a real browser: headless Chromium driven over WebDriver (chromedriver), with
//! keyboard input and clicks, no JavaScript of ours. Each test saves a screenshot under
//! `target/browser-screenshots/` when it fails. Without Chromium the tests are skipped with a
//! printed reason, unless `PANICLESS_REQUIRE_BROWSER=1` (CI), where that is a failure.
//!
//! For every test that shows pages: [`axe_check`] runs axe-core (the npm package, pinned in
//! tests/browser/package-lock.json and installed there by `npm ci`) in the page and fails on any
//! `serious` or `critical` violation; [`screenshots`] saves the page at 375 px and at desktop
//! width as `target/browser-screenshots/<test>-<page>-<width>.png`; [`check_page`] does both.

use crate::common::{Backend, TestApp, PASSWORD};
use crate::oauth::{pkce, query_of, register_client};
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// chromedriver and the browser it drives, for one test.
pub(crate) struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn executable(variable: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    path.exists().then_some(path)
}

impl Browser {
    /// Starts chromedriver and a headless Chromium, or says why not and returns `None`.
    /// `extra` are further Chromium flags (`--force-dark-mode`).
    async fn start(extra: &[&str]) -> Option<Browser> {
        let (Some(driver), Some(chromium)) = (
            executable("PANICLESS_CHROMEDRIVER", "/usr/bin/chromedriver"),
            executable("PANICLESS_CHROMIUM", "/usr/bin/chromium"),
        ) else {
            let reason = "no /usr/bin/chromedriver or /usr/bin/chromium \
                          (apt-get install chromium chromium-driver, or set PANICLESS_CHROMEDRIVER \
                          and PANICLESS_CHROMIUM)";
            if std::env::var("PANICLESS_REQUIRE_BROWSER").as_deref() == Ok("1") {
                panic!("PANICLESS_REQUIRE_BROWSER=1 but {reason}");
            }
            crate::common::skips::skipped("Browser tests (Chromium)", reason);
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let profile = tempfile::tempdir().unwrap();
        // These flags keep Chromium from reaching out to Google's services (this machine's
        // network is closed) and let it run as root in a container.
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--window-size=1024,900".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let capabilities = json!({
            "goog:chromeOptions": {"binary": chromium, "args": args}
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(capabilities);
        // chromedriver takes a moment to listen.
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            match builder.connect(&format!("http://127.0.0.1:{port}")).await {
                Ok(client) => break client,
                Err(error) if Instant::now() > deadline => panic!("chromedriver: {error}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Some(Browser {
            client,
            driver,
            _profile: profile,
        })
    }
}

/// Runs `scenario` in a fresh browser; on failure saves a screenshot, then fails.
pub(crate) async fn in_browser<F, Fut>(name: &str, scenario: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    in_browser_with(name, &[], scenario).await
}

/// [`in_browser`] with further Chromium flags.
pub(crate) async fn in_browser_with<F, Fut>(name: &str, flags: &[&str], scenario: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(browser) = Browser::start(flags).await else {
        return;
    };
    let outcome = std::panic::AssertUnwindSafe(scenario(browser.client.clone()))
        .catch_unwind()
        .await;
    if let Err(panic) = outcome {
        let file = screenshot_folder().join(format!("{name}.png"));
        match browser.client.screenshot().await {
            Ok(png) if std::fs::write(&file, &png).is_ok() => {
                let _ = writeln!(std::io::stderr(), "screenshot: {}", file.display());
            }
            _ => {
                let _ = writeln!(std::io::stderr(), "no screenshot could be saved");
            }
        }
        let _ = browser.client.clone().close().await;
        std::panic::resume_unwind(panic);
    }
    let _ = browser.client.clone().close().await;
}

/// `target/browser-screenshots/`, created when missing.
pub(crate) fn screenshot_folder() -> PathBuf {
    let folder = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|target| target.join("browser-screenshots"))
        .unwrap_or_else(|| PathBuf::from("browser-screenshots"));
    let _ = std::fs::create_dir_all(&folder);
    folder
}

/// Waits until the page's source contains `needle`, and returns the source.
pub(crate) async fn wait_for_text(c: &Client, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let source = c.source().await.unwrap();
        if source.contains(needle) {
            return source;
        }
        assert!(
            Instant::now() < deadline,
            "`{needle}` never appeared on {}:\n{source}",
            c.current_url().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the address bar starts with `prefix`, and returns it.
pub(crate) async fn wait_for_url(c: &Client, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = c.current_url().await.unwrap().to_string();
        if url.starts_with(prefix) {
            return url;
        }
        assert!(
            Instant::now() < deadline,
            "never reached {prefix}; at {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Types into the field whose `<label>` reads `label`: finding inputs by their label proves
/// every field used here has one.
pub(crate) async fn fill(c: &Client, label: &str, text: &str) {
    let label_element = c
        .find(Locator::XPath(&format!(
            "//label[normalize-space(.)='{label}']"
        )))
        .await
        .unwrap_or_else(|_| panic!("no label `{label}`"));
    let id = label_element.attr("for").await.unwrap().unwrap();
    let input = c.find(Locator::Id(&id)).await.unwrap();
    input.send_keys(text).await.unwrap();
}

pub(crate) async fn press(c: &Client, button_text: &str) {
    c.find(Locator::XPath(&format!(
        "//button[normalize-space(.)='{button_text}']"
    )))
    .await
    .unwrap_or_else(|_| panic!("no button `{button_text}`"))
    .click()
    .await
    .unwrap();
}

/// A Chrome DevTools command through chromedriver (`goog/cdp/execute`).
#[derive(Debug)]
struct Cdp(&'static str, serde_json::Value);

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({"cmd": self.0, "params": self.1});
        (http::Method::POST, Some(body.to_string()))
    }
}

async fn cdp(c: &Client, command: &'static str, params: serde_json::Value) {
    c.issue_cmd(Cdp(command, params))
        .await
        .unwrap_or_else(|e| panic!("{command}: {e}"));
}

/// Shows the page as a screen `width` px wide (a phone's below 600) and `height` px tall.
async fn emulate(c: &Client, width: u32, height: u64) {
    cdp(
        c,
        "Emulation.setDeviceMetricsOverride",
        json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}),
    )
    .await;
}

/// Light or dark, as `prefers-color-scheme` reports it to the page.
async fn color_scheme(c: &Client, scheme: &str) {
    cdp(
        c,
        "Emulation.setEmulatedMedia",
        json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
    )
    .await;
}

async fn page_number(c: &Client, expression: &str) -> u64 {
    c.execute(&format!("return {expression};"), vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(0)
}

/// Saves the whole page at a phone's width (375 px) and a desktop's (1280 px) as `<test>-<page>-<width>.png` (and the phone's
/// in the dark scheme as `<test>-<page>-<width>-dark.png`), failing if the page is wider than
/// the screen (sideways scrolling on a phone).
pub(crate) async fn screenshots(c: &Client, test: &str, page: &str) {
    for (width, scheme) in [(375, "light"), (375, "dark"), (1280, "light")] {
        color_scheme(c, scheme).await;
        emulate(c, width, 800).await;
        let wide = page_number(c, "document.documentElement.scrollWidth").await;
        assert!(
            wide <= u64::from(width),
            "{page} is {wide} px wide on a {width} px screen"
        );
        let tall = page_number(c, "document.documentElement.scrollHeight")
            .await
            .clamp(400, 8000);
        emulate(c, width, tall).await;
        let png = c.screenshot().await.unwrap();
        let suffix = if scheme == "dark" { "-dark" } else { "" };
        let file = screenshot_folder().join(format!("{test}-{page}-{width}{suffix}.png"));
        std::fs::write(&file, png).unwrap();
    }
    cdp(c, "Emulation.clearDeviceMetricsOverride", json!({})).await;
    color_scheme(c, "light").await;
}

/// axe-core's `axe.min.js`, installed by `npm ci` in tests/browser; `None` when it is not.
fn axe_script() -> Option<&'static str> {
    static SCRIPT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    SCRIPT
        .get_or_init(|| {
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/browser/node_modules/axe-core/axe.min.js");
            std::fs::read_to_string(path).ok()
        })
        .as_deref()
}

/// Runs axe-core in the page and fails on any `serious` or `critical` violation, listing each
/// with the elements concerned. Without axe-core installed the check is skipped with a printed
/// reason, unless `PANICLESS_REQUIRE_BROWSER=1`.
pub(crate) async fn axe_check(c: &Client, page: &str) {
    let Some(script) = axe_script() else {
        let reason = "axe-core checks skipped: tests/browser/node_modules/axe-core is missing \
                      (run `npm ci` in tests/browser)";
        if std::env::var("PANICLESS_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("PANICLESS_REQUIRE_BROWSER=1 but {reason}");
        }
        static REASON: std::sync::Once = std::sync::Once::new();
        REASON.call_once(|| {
            let _ = writeln!(std::io::stderr(), "note: {reason}");
        });
        return;
    };
    c.execute(script, vec![]).await.unwrap();
    let outcome = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']})
               .then(r => done(JSON.stringify(r.violations)))
               .catch(e => done(JSON.stringify({error: String(e)})));",
            vec![],
        )
        .await
        .unwrap();
    let violations: serde_json::Value =
        serde_json::from_str(outcome.as_str().unwrap_or("null")).unwrap();
    assert!(
        violations.is_array(),
        "axe-core failed on {page}: {violations}"
    );
    let serious: Vec<String> = violations
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .map(|v| {
            let nodes: Vec<String> = v["nodes"]
                .as_array()
                .map(|nodes| {
                    nodes
                        .iter()
                        .map(|n| {
                            format!("    {} {}", n["target"], n["html"].as_str().unwrap_or(""))
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "  {} ({}): {}\n{}",
                v["id"].as_str().unwrap_or("?"),
                v["impact"].as_str().unwrap_or("?"),
                v["help"].as_str().unwrap_or(""),
                nodes.join("\n")
            )
        })
        .collect();
    assert!(
        serious.is_empty(),
        "axe-core: serious or critical violations on {page} ({}):\n{}",
        c.current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default(),
        serious.join("\n")
    );
}

/// axe-core on the page, in the light scheme and the dark one (colours and contrast differ),
/// then its screenshots: what every test does with every page it shows.
pub(crate) async fn check_page(c: &Client, test: &str, page: &str) {
    axe_check(c, page).await;
    color_scheme(c, "dark").await;
    axe_check(c, &format!("{page} (dark)")).await;
    color_scheme(c, "light").await;
    screenshots(c, test, page).await;
}

pub(crate) async fn sign_in(c: &Client, app: &TestApp, email: &str) {
    c.goto(&app.at("/login")).await.unwrap();
    fill(c, "Email", email).await;
    fill(c, "Password", PASSWORD).await;
    press(c, "Sign in").await;
    wait_for_text(c, "<h1>Welcome, ").await;
}

/// Creates an account through the sign-up form and waits for the home page.
pub(crate) async fn sign_up(c: &Client, app: &TestApp, email: &str) {
    c.goto(&app.at("/register")).await.unwrap();
    fill(c, "Email", email).await;
    fill(c, "Password (8 characters or more)", PASSWORD).await;
    fill(c, "Repeat the password", PASSWORD).await;
    press(c, "Create account").await;
    wait_for_text(c, "<h1>Welcome, ").await;
}

#[actix_web::test]
async fn register_sign_in_and_see_the_home_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let app = &app;
    in_browser("register_sign_in", |c| async move {
        c.goto(&app.at("/register")).await.unwrap();
        fill(&c, "Email", "reader@example.org").await;
        fill(&c, "Password (8 characters or more)", PASSWORD).await;
        fill(&c, "Repeat the password", PASSWORD).await;
        press(&c, "Create account").await;
        wait_for_text(&c, "<h1>Welcome, ").await;
        // Sign out, then sign in again with the keyboard: Enter submits the form.
        c.goto(&app.at("/logout")).await.unwrap();
        press(&c, "Sign out").await;
        wait_for_url(&c, &app.at("/login")).await;
        c.goto(&app.at("/")).await.unwrap();
        let source = wait_for_text(&c, "Sign in").await;
        assert!(!source.contains("Sign out"), "signed out");
        c.goto(&app.at("/login")).await.unwrap();
        fill(&c, "Email", "reader@example.org").await;
        fill(&c, "Password", &format!("{PASSWORD}\u{E007}")).await; // U+E007: the Enter key
        wait_for_text(&c, "<h1>Welcome, ").await;
        assert_eq!(c.current_url().await.unwrap().path(), "/");
    })
    .await;
}

/// A client whose redirect URI is a page of the test server itself, so the browser lands on a
/// real address whose query carries the code or the error.
async fn client_landing_here(app: &TestApp, name: &str) -> (String, String) {
    let redirect = app.at("/client-callback");
    let client = register_client(
        app,
        json!({"client_name": name, "redirect_uris": [redirect], "token_endpoint_auth_method": "none"}),
    )
    .await;
    (client["client_id"].as_str().unwrap().to_string(), redirect)
}

/// The authorization request URL, and the PKCE verifier that goes with it.
fn authorize(app: &TestApp, client_id: &str, redirect: &str) -> (String, String) {
    let (verifier, challenge) = pkce();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("state", "browser-state")
        .append_pair("scope", "read write")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    (app.at(&format!("/oauth/authorize?{query}")), verifier)
}

/// Exchanges the code the browser landed with, as the client would.
async fn exchange(app: &TestApp, client_id: &str, redirect: &str, landed: &str, verifier: &str) {
    let code = query_of(landed)["code"].clone();
    let (status, tokens) =
        crate::oauth::exchange_code(app, client_id, redirect, &code, verifier).await;
    assert_eq!(status, 200, "{tokens}");
}

/// Through `/oauth/authorize`, the sign-in page and the consent page, to the client.
async fn consent(
    c: &Client,
    app: &TestApp,
    client_id: &str,
    redirect: &str,
    decision: &str,
) -> (String, String) {
    let (url, verifier) = authorize(app, client_id, redirect);
    c.goto(&url).await.unwrap();
    wait_for_text(c, "Sign in").await;
    fill(c, "Email", "owner@example.org").await;
    fill(c, "Password", PASSWORD).await;
    press(c, "Sign in").await;
    let page = wait_for_text(c, "to use your library?").await;
    // The consent page says plainly who, where to, what, and for how long.
    for needle in [
        "Browser App",
        "127.0.0.1",
        "See your books, reading sessions and statistics",
        "minutes",
        "days",
        "Connected apps",
    ] {
        assert!(
            page.contains(needle),
            "consent page lacks `{needle}`:\n{page}"
        );
    }
    press(c, decision).await;
    (wait_for_url(c, redirect).await, verifier)
}

#[actix_web::test]
async fn authorize_sign_in_consent_and_return_with_a_code() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("owner@example.org").await;
    let (client_id, redirect) = client_landing_here(&app, "Browser App").await;
    in_browser("authorize_approve", |c| async move {
        let (landed, verifier) = consent(&c, &app, &client_id, &redirect, "Approve").await;
        let query = query_of(&landed);
        assert_eq!(query["state"], "browser-state");
        exchange(&app, &client_id, &redirect, &landed, &verifier).await;
        assert!(query["code"].len() >= 32, "{landed}");
        assert_eq!(query["iss"], app.url);
    })
    .await;
}

#[actix_web::test]
async fn deny_returns_access_denied() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("owner@example.org").await;
    let (client_id, redirect) = client_landing_here(&app, "Browser App").await;
    in_browser("authorize_deny", |c| async move {
        let (landed, _) = consent(&c, &app, &client_id, &redirect, "Deny").await;
        let query = query_of(&landed);
        assert_eq!(query["error"], "access_denied");
        assert_eq!(query["state"], "browser-state");
        assert!(!query.contains_key("code"));
    })
    .await;
}

#[actix_web::test]
async fn disconnect_an_app_and_revoke_a_grant_as_administrator() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("owner@example.org").await; // the first account: administrator
    let (client_id, redirect) = client_landing_here(&app, "Browser App").await;
    let (other_id, _) = client_landing_here(&app, "Second App").await;
    let app = &app;
    in_browser("connections_and_admin", |c| async move {
        let (landed, verifier) = consent(&c, app, &client_id, &redirect, "Approve").await;
        exchange(app, &client_id, &redirect, &landed, &verifier).await;
        // Approve the second app too (already signed in: straight to consent).
        let (url, verifier) = authorize(app, &other_id, &redirect);
        c.goto(&url).await.unwrap();
        wait_for_text(&c, "to use your library?").await;
        press(&c, "Approve").await;
        let landed = wait_for_url(&c, &redirect).await;
        exchange(app, &other_id, &redirect, &landed, &verifier).await;

        c.goto(&app.at("/account/connections")).await.unwrap();
        let page = wait_for_text(&c, "Connected apps").await;
        assert!(
            page.contains("Browser App") && page.contains("Second App"),
            "{page}"
        );
        c.find(Locator::Css("button[aria-label='Disconnect Browser App']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let page = c.source().await.unwrap();
            if !page.contains("Browser App") {
                assert!(page.contains("Second App"), "only the one app goes: {page}");
                break;
            }
            assert!(Instant::now() < deadline, "still connected: {page}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        c.goto(&app.at("/admin/tokens")).await.unwrap();
        let page = wait_for_text(&c, "Tokens and grants").await;
        assert!(page.contains("Second App"), "{page}");
        c.find(Locator::Css(
            "button[aria-label='Revoke this grant of owner@example.org']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let page = c.source().await.unwrap();
            if !page.contains("Second App") {
                break;
            }
            assert!(Instant::now() < deadline, "grant still listed: {page}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    // The pages agree with the database: no live refresh token is left.
    use diesel::prelude::*;
    use panicless::db::schema::oauth_tokens;
    let live: i64 = oauth_tokens::table
        .filter(oauth_tokens::kind.eq(panicless::db::models::token::TokenKind::Refresh))
        .filter(oauth_tokens::revoked_at.is_null())
        .count()
        .get_result(&mut app.state.pool.get().unwrap())
        .unwrap();
    assert_eq!(live, 0);
}

#[actix_web::test]
async fn connect_a_provider_in_paste_mode() {
    // The provider is a second instance of this server; its "show the code" page is any page of
    // its own, so the browser lands on a real address with code and state in the query.
    let provider = TestApp::spawn(Backend::Sqlite).await;
    provider.register_user("owner@provider.example").await;
    let paste_uri = provider.at("/show-code");
    let registered = register_client(
        &provider,
        json!({"client_name": "Paste client", "redirect_uris": [paste_uri], "token_endpoint_auth_method": "none"}),
    )
    .await;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        format!(
            r#"
[providers.pasty]
display_name = "Paste provider"
authorization_url = "{browser_base}/oauth/authorize"
token_url = "{base}/oauth/token"
client_id = "{client_id}"
scopes = ["read"]
api_base_url = "{base}"
redirect_mode = "paste"
paste_redirect_uri = "{paste_uri}"
"#,
            base = provider.url,
            browser_base = provider.url.replace("127.0.0.1", "localhost"),
            client_id = registered["client_id"].as_str().unwrap(),
        ),
    )
    .unwrap();
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("PROVIDERS_FILE", file.path().to_str().unwrap())],
    )
    .await;
    let (_, token) = app.user("me@consumer.example").await;
    in_browser("connectors_paste", |c| async move {
        sign_in(&c, &app, "me@consumer.example").await;
        c.goto(&app.at("/connectors")).await.unwrap();
        wait_for_text(&c, "Connect an account").await;
        c.find(Locator::Css("#oauth-provider option[value='pasty']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        fill(&c, "Name (reuse a name to reconnect it)", "Pasted").await;
        press(&c, "Connect").await;
        // At the provider: sign in there and approve. (Reached as `localhost`: cookies are per
        // host, not per port, and the provider must not see this server's session cookie.)
        wait_for_url(&c, &provider.url.replace("127.0.0.1", "localhost")).await;
        wait_for_text(&c, "Sign in").await;
        fill(&c, "Email", "owner@provider.example").await;
        fill(&c, "Password", PASSWORD).await;
        press(&c, "Sign in").await;
        wait_for_text(&c, "to use your library?").await;
        press(&c, "Approve").await;
        let shown = query_of(&wait_for_url(&c, &paste_uri).await);
        let pasted = format!("{}#{}", shown["code"], shown["state"]);
        // Back on our page, paste what the provider showed.
        c.goto(&app.at("/connectors")).await.unwrap();
        wait_for_text(&c, "Paste the code").await;
        fill(&c, "Code from the provider", &pasted).await;
        press(&c, "Finish connecting").await;
        let page = wait_for_text(&c, "Pasted").await;
        assert!(!page.contains("Paste the code"), "the attempt is finished");
        let (_, list) = app
            .api(reqwest::Method::GET, "/api/connectors", &token, None)
            .await;
        assert!(
            list.as_array()
                .unwrap()
                .iter()
                .any(|c| c["label"] == "Pasted" && c["status"] == "active"),
            "{list}"
        );
    })
    .await;
}

/// Every page works without JavaScript (there is none) and every field has a label: a
/// `<label for>` naming its id, or a `<label>` around it. Checked on the served HTML of each page
/// a signed-in administrator can reach, without a browser.
#[actix_web::test]
async fn pages_have_no_scripts_and_every_field_has_a_label() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("owner@example.org").await;
    let (client_id, redirect) = client_landing_here(&app, "Browser App").await;
    let signed_out = crate::common::browser();
    let mut pages = Vec::new();
    for path in ["/login", "/register", "/"] {
        pages.push((path.to_string(), get_page(&signed_out, &app.at(path)).await));
    }
    let browser = crate::common::browser();
    app.sign_in(&browser, "owner@example.org", PASSWORD).await;
    for path in [
        "/",
        "/account/connections",
        "/admin/tokens",
        "/connectors",
        "/logout",
    ] {
        pages.push((path.to_string(), get_page(&browser, &app.at(path)).await));
    }
    let (consent, _) = authorize(&app, &client_id, &redirect);
    pages.push(("consent".into(), get_page(&browser, &consent).await));
    assert!(pages.last().unwrap().1.contains("Approve"));
    // The library's pages, with a book to show.
    let token = app.login_token("owner@example.org").await;
    let (_, book) = app
        .api(
            reqwest::Method::POST,
            "/api/books",
            &token,
            Some(json!({"title": "Kindred", "authors": ["Octavia E. Butler"]})),
        )
        .await;
    let id = book["id"].as_i64().unwrap();
    for path in [
        "/books".to_string(),
        "/books?q=kindred".into(),
        "/books/new".into(),
        format!("/books/{id}"),
        format!("/books/{id}/edit"),
        format!("/books/{id}/delete"),
    ] {
        pages.push((path.clone(), get_page(&browser, &app.at(&path)).await));
    }

    for (path, page) in &pages {
        assert!(!page.contains("<script"), "{path} has a script");
        let mut rest = page.as_str();
        // Every field: an input (but a hidden one), a select or a text area.
        while let Some(at) = ["<input", "<select", "<textarea"]
            .iter()
            .filter_map(|tag| rest.find(tag))
            .min()
        {
            let tag = &rest[at..at + rest[at..].find('>').unwrap()];
            rest = &rest[at + tag.len()..];
            if tag.contains("type=\"hidden\"") {
                continue;
            }
            let labelled = match attribute(tag, "id") {
                Some(id) => page.contains(&format!("<label for=\"{id}\"")),
                None => false,
            };
            // `<label><input ...> text</label>`: the nearest `<label` before it is still open.
            let before = &page[..page.len() - rest.len() - tag.len()];
            let wrapped =
                before.rfind("<label").unwrap_or(0) > before.rfind("</label>").unwrap_or(0);
            assert!(labelled || wrapped, "{path}: no label for {tag}>");
        }
    }
}

async fn get_page(client: &reqwest::Client, url: &str) -> String {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.text().await.unwrap()
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    Some(&tag[start..start + tag[start..].find('"')?])
}

/// axe-core finds no serious or critical violation on any page that existed before the library
/// pages, signed out and signed in, at a phone's width and a desktop's; each is saved as a
/// screenshot.
#[actix_web::test]
async fn existing_pages_pass_axe_at_both_widths() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.register_user("owner@example.org").await; // the first account: administrator
    let (client_id, redirect) = client_landing_here(&app, "Browser App").await;
    let app = &app;
    in_browser("existing_pages", |c| async move {
        for (path, name) in [
            ("/", "landing"),
            ("/login", "login"),
            ("/register", "register"),
            ("/no-such-page", "not-found"),
        ] {
            c.goto(&app.at(path)).await.unwrap();
            check_page(&c, "existing_pages", name).await;
        }
        // A refused sign-in shows its error.
        c.goto(&app.at("/login")).await.unwrap();
        fill(&c, "Email", "owner@example.org").await;
        fill(&c, "Password", "not the password").await;
        press(&c, "Sign in").await;
        wait_for_text(&c, "The email or password is incorrect.").await;
        check_page(&c, "existing_pages", "login-refused").await;
        sign_in(&c, app, "owner@example.org").await;
        check_page(&c, "existing_pages", "home").await;
        for (path, name, text) in [
            ("/account/connections", "connections", "Connected apps"),
            ("/admin/tokens", "admin-tokens", "Tokens and grants"),
            ("/connectors", "connectors", "Connectors"),
            ("/logout", "logout", "Sign out"),
        ] {
            c.goto(&app.at(path)).await.unwrap();
            wait_for_text(&c, text).await;
            check_page(&c, "existing_pages", name).await;
        }
        let (url, _) = authorize(app, &client_id, &redirect);
        c.goto(&url).await.unwrap();
        wait_for_text(&c, "to use your library?").await;
        check_page(&c, "existing_pages", "consent").await;
    })
    .await;
}

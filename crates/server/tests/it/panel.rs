//! The admin panel over HTTP, in process: sign-in and portal links,
//! sessions (hashed, expiring), CSRF and `Origin`, the security headers,
//! escaping of everything an identity provider sends, tenancy (another
//! tenant's ids are 404 and change nothing), and bad input refused in
//! words. The browser suite (`.ci/panel`) drives the same pages in
//! Chromium.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, header};
use scimitar_core::clock::Clock;
use scimitar_core::ids::TenantId;
use scimitar_core::model::{Attempt, Deprovision};
use scimitar_core::rules::hash_secret;
use serde_json::json;

use crate::common::*;

/// The test configuration on a manual clock, so expiry needs no sleeping.
fn panel_config() -> ServerConfig {
    ServerConfig {
        clock: Clock::manual(),
        ..test_config()
    }
}

const ORIGIN: &str = "http://scim.test";

/// A browser: a session cookie (or none) and the CSRF token of its pages.
struct Browser<'a> {
    app: &'a TestApp,
    cookie: Option<String>,
    csrf: String,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            cookie: None,
            csrf: String::new(),
        }
    }

    async fn send(&self, req: axum::http::request::Builder, body: Body) -> TestResponse {
        let mut req = req.header(header::HOST, "scim.test");
        if let Some(cookie) = &self.cookie {
            req = req.header(header::COOKIE, format!("scimitar_panel={cookie}"));
        }
        self.app.send(req.body(body).unwrap()).await
    }

    async fn get(&mut self, path: &str) -> TestResponse {
        let res = self
            .send(Request::builder().method("GET").uri(path), Body::empty())
            .await;
        if let Some(token) = csrf_of(&res.text) {
            self.csrf = token;
        }
        res
    }

    /// Posts a form from one of our pages, with the session's token.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all, &[("origin", ORIGIN)]).await
    }

    /// Posts exactly these fields with exactly these extra headers.
    async fn post_raw(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            form.append_pair(k, v);
        }
        let mut req = Request::builder()
            .method("POST")
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req, Body::from(form.finish())).await
    }

    /// Signs in as the operator.
    async fn operator(app: &'a TestApp) -> Browser<'a> {
        let mut browser = Browser::new(app);
        let res = browser
            .post_raw(
                "/admin/sign-in",
                &[("token", ADMIN_TOKEN)],
                &[("origin", ORIGIN)],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.text);
        browser.cookie = Some(session_of(&res));
        browser.get("/admin/tenants").await;
        browser
    }

    /// Comes in through a portal link of `tenant`.
    async fn portal(app: &'a TestApp, tenant: &TenantId) -> Browser<'a> {
        let url = portal_link(app, tenant).await;
        let mut browser = Browser::new(app);
        let res = browser.get(&url).await;
        assert_eq!(res.status, 200, "{}", res.text);
        browser.cookie = Some(session_of(&res));
        let setup = browser.get(&format!("/admin/t/{tenant}/setup")).await;
        assert_eq!(setup.status, 200, "{}", setup.text);
        browser
    }
}

fn csrf_of(html: &str) -> Option<String> {
    let at = html.find(r#"name="csrf" value=""#)? + r#"name="csrf" value=""#.len();
    Some(html[at..].split('"').next()?.to_owned())
}

/// The session secret a response's `Set-Cookie` starts.
#[track_caller]
fn session_of(res: &TestResponse) -> String {
    let cookie = res.header("set-cookie").expect("a session cookie");
    let value = cookie.strip_prefix("scimitar_panel=").expect("our cookie");
    value.split(';').next().unwrap().to_owned()
}

/// A portal link's path (the URL without its origin).
async fn portal_link(app: &TestApp, tenant: &TenantId) -> String {
    let res = admin(
        app,
        "POST",
        &format!("/admin/v1/tenants/{tenant}/portal-links"),
        json!({}),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let url = res.body["url"].as_str().unwrap();
    url.strip_prefix("http://scim.test")
        .expect("the Host's origin")
        .to_owned()
}

async fn admin(app: &TestApp, method: &str, path: &str, body: serde_json::Value) -> TestResponse {
    crate::common::admin(app, method, path, Some(body)).await
}

#[track_caller]
fn assert_page(res: &TestResponse, status: u16, needle: &str) {
    assert_eq!(res.status, status, "{}", res.text);
    assert!(
        res.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "an HTML page: {:?}",
        res.header("content-type")
    );
    assert!(res.text.contains(needle), "{needle:?} in {}", res.text);
}

async fn operator_signs_in_with_the_admin_token_and_out_again(app: &TestApp) {
    let mut anonymous = Browser::new(app);
    let form = anonymous.get("/admin").await;
    assert_page(&form, 200, "Admin token");
    // Without a session every screen sends the browser to sign in.
    let res = anonymous.get("/admin/tenants").await;
    assert_eq!(
        (res.status, res.header("location")),
        (303, Some("/admin?signed-out"))
    );
    let wrong = anonymous
        .post_raw(
            "/admin/sign-in",
            &[("token", "not-the-token")],
            &[("origin", ORIGIN)],
        )
        .await;
    assert_page(&wrong, 401, "That admin token is wrong.");
    assert!(wrong.header("set-cookie").is_none());

    let ok = anonymous
        .post_raw(
            "/admin/sign-in",
            &[("token", ADMIN_TOKEN)],
            &[("origin", ORIGIN)],
        )
        .await;
    assert_eq!(
        (ok.status, ok.header("location")),
        (303, Some("/admin/tenants"))
    );
    let cookie = ok.header("set-cookie").unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    // Stored as a hash only.
    let secret = session_of(&ok);
    assert!(
        app.store
            .panel_session(&hash_secret(&secret))
            .await
            .unwrap()
            .is_some()
    );
    assert!(app.store.panel_session(&secret).await.unwrap().is_none());

    let mut operator = Browser::new(app);
    operator.cookie = Some(secret.clone());
    let tenants = operator.get("/admin/tenants").await;
    assert_page(&tenants, 200, "Acme");
    assert_eq!(
        operator.get("/admin").await.header("location"),
        Some("/admin/tenants")
    );
    let out = operator.post("/admin/sign-out", &[]).await;
    assert_eq!(out.status, 303);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert!(
        app.store
            .panel_session(&hash_secret(&secret))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(operator.get("/admin/tenants").await.status, 303);
}

async fn wrong_admin_tokens_are_rate_limited(app: &TestApp) {
    let browser = Browser::new(app);
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let res = browser
            .post_raw(
                "/admin/sign-in",
                &[("token", "guess")],
                &[("origin", ORIGIN)],
            )
            .await;
        statuses.push(res.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    // Limited, the right token is not even looked at.
    let right = browser
        .post_raw(
            "/admin/sign-in",
            &[("token", ADMIN_TOKEN)],
            &[("origin", ORIGIN)],
        )
        .await;
    assert_eq!(right.status, 429);
}

async fn pages_carry_the_security_headers(app: &TestApp) {
    let mut browser = Browser::operator(app).await;
    for path in [
        "/admin".to_owned(),
        "/admin/tenants".to_owned(),
        format!("/admin/t/{}/setup", app.tenant),
        format!("/admin/t/{}/groups/{}", app.tenant, TenantId::generate()),
        "/admin/portal/plk_nothing".to_owned(),
    ] {
        let res = browser.get(&path).await;
        let csp = res.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(
            res.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(res.header("referrer-policy"), Some("no-referrer"), "{path}");
        assert_eq!(res.header("cache-control"), Some("no-store"), "{path}");
    }
    // Every screen has the navigation named after the headings.
    let setup = browser.get(&format!("/admin/t/{}/setup", app.tenant)).await;
    for name in [
        "Setup",
        "API keys",
        "Subaccounts",
        "Groups",
        "Users",
        "Provisioning log",
        "Sync health",
    ] {
        assert!(setup.text.contains(&format!(">{name}</a>")), "{name}");
    }
    assert!(setup.text.contains("?aadOptscim062020"));
    assert!(setup.text.contains("no request yet"));
}

fn https_config() -> ServerConfig {
    ServerConfig {
        public_url: Some("https://scim.example.com".into()),
        ..panel_config()
    }
}

async fn cookies_are_secure_behind_https(app: &TestApp) {
    let res = admin(
        app,
        "POST",
        &format!("/admin/v1/tenants/{}/portal-links", app.tenant),
        json!({}),
    )
    .await;
    let url = res.body["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://scim.example.com/admin/portal/plk_"),
        "{url}"
    );
    let path = url.strip_prefix("https://scim.example.com").unwrap();
    let opened = Browser::new(app).get(path).await;
    assert!(opened.header("set-cookie").unwrap().contains("; Secure"));
    assert!(opened.header("strict-transport-security").is_some());
    // The form's Origin must be the public one.
    let mut browser = Browser::new(app);
    browser.cookie = Some(session_of(&opened));
    browser.get(&format!("/admin/t/{}/keys", app.tenant)).await;
    let foreign = browser
        .post(&format!("/admin/t/{}/keys", app.tenant), &[("label", "x")])
        .await;
    assert_eq!(
        foreign.status, 403,
        "http://scim.test is not https://scim.example.com"
    );
    let ours = browser
        .post_raw(
            &format!("/admin/t/{}/keys", app.tenant),
            &[("csrf", &browser.csrf), ("label", "x")],
            &[("origin", "https://scim.example.com")],
        )
        .await;
    assert_eq!(ours.status, 201, "{}", ours.text);
}

async fn portal_links_are_single_use_expire_and_are_checked(app: &TestApp) {
    let path = format!("/admin/v1/tenants/{}/portal-links", app.tenant);
    let res = admin(app, "POST", &path, json!({})).await;
    assert_eq!(res.status, 201);
    let expires = res.body["expiresAt"].as_str().unwrap();
    let expires = scimitar_proto::datetime::parse(expires).unwrap();
    let in_five = app.config.clock.micros() + 300_000_000;
    assert!(
        (expires - in_five).abs() < 5_000_000,
        "{expires} vs {in_five}"
    );

    let link = res.body["url"]
        .as_str()
        .unwrap()
        .strip_prefix("http://scim.test")
        .unwrap()
        .to_owned();
    let token = link.rsplit('/').next().unwrap();
    assert!(
        app.store
            .panel_session(&hash_secret(token))
            .await
            .unwrap()
            .is_none()
    );
    let first = Browser::new(app).get(&link).await;
    assert_page(&first, 200, &format!("/admin/t/{}/setup", app.tenant));
    assert!(first.text.contains(r#"http-equiv="refresh""#));
    let again = Browser::new(app).get(&link).await;
    assert_page(&again, 410, "already been used");
    assert!(again.header("set-cookie").is_none());
    assert!(!again.text.contains("<nav"), "offers nothing else");

    let late = portal_link(app, &app.tenant).await;
    app.config.clock.advance(Duration::from_secs(301));
    let expired = Browser::new(app).get(&late).await;
    assert_page(&expired, 410, "has expired");
    assert!(expired.header("set-cookie").is_none());

    for bogus in [
        "/admin/portal/plk_nothing",
        "/admin/portal/%00",
        &format!("/admin/portal/plk_{}", "0".repeat(64)),
    ] {
        assert_page(&Browser::new(app).get(bogus).await, 404, "not valid");
    }
    // The admin API's own refusals.
    admin(
        app,
        "POST",
        &format!("/admin/v1/tenants/{}/portal-links", TenantId::generate()),
        json!({}),
    )
    .await
    .assert_error(404, None);
    for ttl in [json!(0), json!(86_401), json!("soon")] {
        admin(app, "POST", &path, json!({"ttlSecs": ttl}))
            .await
            .assert_error(400, Some("invalidValue"));
    }
    admin(app, "POST", &path, json!({"ttl": 5}))
        .await
        .assert_error(400, Some("invalidValue"));
    let anonymous = app
        .request_with(
            "POST",
            &path,
            Some(json!({})),
            &[("authorization", "Bearer nope")],
        )
        .await;
    assert_eq!(anonymous.status, 401);
    let short = admin(app, "POST", &path, json!({"ttlSecs": 10})).await;
    assert_eq!(short.status, 201);
}

async fn sessions_end_when_idle(app: &TestApp) {
    let mut browser = Browser::portal(app, &app.tenant).await;
    let setup = format!("/admin/t/{}/setup", app.tenant);
    app.config.clock.advance(Duration::from_secs(20 * 60));
    assert_eq!(browser.get(&setup).await.status, 200);
    app.config.clock.advance(Duration::from_secs(20 * 60));
    assert_eq!(browser.get(&setup).await.status, 200, "used 20 minutes ago");
    app.config.clock.advance(Duration::from_secs(31 * 60));
    let res = browser.get(&setup).await;
    assert_eq!(
        (res.status, res.header("location")),
        (303, Some("/admin?signed-out"))
    );
    // A form of an ended session is refused, not redirected.
    let posted = browser
        .post(&format!("/admin/t/{}/keys", app.tenant), &[])
        .await;
    assert_page(&posted, 403, "session has ended");
}

async fn forms_need_the_session_token_and_our_origin(app: &TestApp) {
    let mut browser = Browser::portal(app, &app.tenant).await;
    let groups = format!("/admin/t/{}/groups", app.tenant);
    browser.get(&groups).await;
    let token = browser.csrf.clone();
    let name = ("name", "Forged");
    for (fields, headers) in [
        (vec![name], vec![("origin", ORIGIN)]),
        (
            vec![("csrf", "0".repeat(64).as_str()), name],
            vec![("origin", ORIGIN)],
        ),
        (
            vec![("csrf", token.as_str()), name],
            vec![("origin", "https://evil.example")],
        ),
        (
            vec![("csrf", token.as_str()), name],
            vec![("origin", "null"), ("sec-fetch-site", "cross-site")],
        ),
        (
            vec![("csrf", token.as_str()), name],
            vec![("sec-fetch-site", "same-site")],
        ),
    ] {
        let res = browser.post_raw(&groups, &fields, &headers).await;
        assert_eq!(res.status, 403, "{fields:?} {headers:?}: {}", res.text);
    }
    let page = browser.get(&groups).await;
    assert!(!page.text.contains("Forged"), "nothing was created");
    // Another session's token is no good either.
    let other = Browser::portal(app, &app.tenant).await;
    let res = browser
        .post_raw(
            &groups,
            &[("csrf", &other.csrf), name],
            &[("origin", ORIGIN)],
        )
        .await;
    assert_eq!(res.status, 403);
    // What a browser sends from our page: Origin null (no-referrer), same-origin.
    let res = browser
        .post_raw(
            &groups,
            &[("csrf", &token), name],
            &[("origin", "null"), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.text);
    assert!(browser.get(&groups).await.text.contains("Forged"));
}

const PAYLOADS: [&str; 3] = [
    "<script>alert(1)</script>",
    r#""><img src=x onerror=alert(2)>"#,
    "javascript:alert(3)",
];

async fn identity_provider_text_is_inert(app: &TestApp) {
    let res = app
        .request(
            "POST",
            &app.scim("/Users"),
            Some(json!({
                "schemas": [USER_SCHEMA],
                "userName": "xss@example.com",
                "displayName": PAYLOADS[0],
                "title": PAYLOADS[1],
                "externalId": PAYLOADS[2],
                "name": {"givenName": PAYLOADS[1], "familyName": PAYLOADS[0]},
            })),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let user = res.body["id"].as_str().unwrap().to_owned();
    let group = app.create_group(PAYLOADS[1], Some(PAYLOADS[2])).await;
    app.request(
        "PATCH",
        &app.scim(&format!("/Groups/{group}")),
        Some(patch_op(json!([
            {"op": "add", "path": "members", "value": [{"value": user}]}
        ]))),
    )
    .await;
    // A request whose path carries a payload, for the log.
    app.get(&app.scim("/Users?filter=userName%20eq%20%22%3Cscript%3Ealert(4)%3C%2Fscript%3E%22"))
        .await;
    app.log_entries(4).await;
    let mut browser = Browser::portal(app, &app.tenant).await;
    let t = &app.tenant;
    for path in [
        format!("/admin/t/{t}/users"),
        format!("/admin/t/{t}/users/{user}"),
        format!("/admin/t/{t}/groups"),
        format!("/admin/t/{t}/groups/{group}"),
        format!("/admin/t/{t}/groups/{group}/delete"),
        format!("/admin/t/{t}/log"),
        format!("/admin/t/{t}/health"),
        format!("/admin/t/{t}/setup"),
        format!("/admin/t/{t}/groups?q=%3Cscript%3E"),
    ] {
        let res = browser.get(&path).await;
        assert_eq!(res.status, 200, "{path}");
        for raw in [
            "<script>alert",
            "<img src=x",
            "href=\"javascript:",
            "\"><img",
        ] {
            assert!(
                !res.text.contains(raw),
                "{path} carries {raw}: {}",
                res.text
            );
        }
    }
    let page = browser.get(&format!("/admin/t/{t}/users/{user}")).await;
    assert!(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        page.text
            .contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;")
    );
    let log = browser.get(&format!("/admin/t/{t}/log")).await;
    assert!(log.text.contains("&lt;script&gt;alert(4)"), "{}", log.text);
}

async fn another_tenants_pages_and_forms_are_not_found(app: &TestApp) {
    let (other, other_key) = app.other_tenant().await;
    let theirs = app
        .create_group_in(&other, "Theirs", Some("ext-theirs"))
        .await;
    let their_sub = app
        .store
        .create_subaccount(&other, "Their sub", None)
        .await
        .unwrap()
        .id;
    let (their_key, _) = app
        .store
        .create_api_key(&other, Some("theirs"))
        .await
        .unwrap();
    let res = app.request_as(&other_key, "POST", &app.scim("/Users"), Some(json!({
        "schemas": [USER_SCHEMA], "userName": "their@example.com", "displayName": "Their user"
    }))).await;
    let their_user = res.body["id"].as_str().unwrap().to_owned();

    let mut browser = Browser::portal(app, &app.tenant).await;
    let (a, b) = (&app.tenant, &other);
    let mut gets: Vec<String> = [
        "setup",
        "keys",
        "subaccounts",
        "groups",
        "users",
        "log",
        "health",
    ]
    .iter()
    .map(|s| format!("/admin/t/{b}/{s}"))
    .collect();
    gets.extend([
        format!("/admin/t/{a}/groups/{theirs}"),
        format!("/admin/t/{a}/groups/{theirs}/delete"),
        format!("/admin/t/{a}/users/{their_user}"),
        format!("/admin/t/{a}/subaccounts/{their_sub}"),
        format!("/admin/t/{a}/keys/{}/revoke", their_key.id),
        format!("/admin/t/{b}/groups/{theirs}"),
        "/admin/tenants".to_owned(),
        format!("/admin/events?tenant={b}"),
        "/admin/events".to_owned(),
        "/admin/t/not-a-uuid/setup".to_owned(),
        format!("/admin/t/{a}/groups/not-a-uuid"),
    ]);
    for path in &gets {
        assert_page(&browser.get(path).await, 404, "not yours to see");
    }
    browser.get(&format!("/admin/t/{a}/groups")).await;
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (format!("/admin/t/{b}/groups"), vec![("name", "Planted")]),
        (format!("/admin/t/{b}/keys"), vec![("label", "Planted")]),
        (
            format!("/admin/t/{b}/subaccounts"),
            vec![("name", "Planted")],
        ),
        (
            format!("/admin/t/{a}/groups/{theirs}"),
            vec![("name", "Planted"), ("group_id", "")],
        ),
        (format!("/admin/t/{a}/groups/{theirs}/delete"), vec![]),
        (
            format!("/admin/t/{a}/subaccounts/{their_sub}"),
            vec![("name", "Planted")],
        ),
        (format!("/admin/t/{a}/keys/{}/revoke", their_key.id), vec![]),
        ("/admin/tenants".to_owned(), vec![("name", "Planted")]),
    ];
    for (path, fields) in &posts {
        let res = browser.post(path, fields).await;
        assert_eq!(res.status, 404, "{path}: {}", res.text);
    }
    // Nothing of B's changed.
    let group = app
        .store
        .get_group(&other, &theirs.as_str().into())
        .await
        .unwrap();
    assert_eq!(
        (group.display_name.as_str(), group.external_id.as_deref()),
        ("Theirs", Some("ext-theirs"))
    );
    let keys = app.store.list_api_keys(Some(&other)).await.unwrap();
    assert!(keys.iter().all(|k| k.revoked.is_none()) && keys.len() == 2);
    let subs = app.store.list_subaccounts(&other).await.unwrap();
    assert_eq!(
        subs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["Their sub"]
    );
    assert!(app.store.list_all_groups(&other).await.unwrap().len() == 1);
    assert_eq!(app.store.list_tenants().await.unwrap().len(), 2);
    // A subaccount of B cannot be chosen for A's group either.
    let res = browser
        .post(
            &format!("/admin/t/{a}/groups"),
            &[("name", "Mine"), ("subaccount", their_sub.as_str())],
        )
        .await;
    assert_page(&res, 400, "does not exist");
}

async fn bad_input_is_refused_in_words_and_changes_nothing(app: &TestApp) {
    let mut browser = Browser::portal(app, &app.tenant).await;
    let t = app.tenant.clone();
    let groups = format!("/admin/t/{t}/groups");
    browser.get(&groups).await;
    let long = "x".repeat(300);
    for (fields, words) in [
        (vec![("name", "  ")], "'displayName' is required"),
        (vec![("name", long.as_str())], "256"),
        (vec![("name", "bad\u{7}name")], "control"),
        (
            vec![("name", "ok"), ("subaccount", "not-an-id")],
            "choose a subaccount",
        ),
        (vec![("name", "ok"), ("group_id", "bad\u{0}id")], "control"),
    ] {
        let res = browser.post(&groups, &fields).await;
        assert_page(&res, 400, words);
        assert!(res.text.contains(r#"role="alert""#));
    }
    assert!(
        app.store.list_all_groups(&t).await.unwrap().is_empty(),
        "nothing created"
    );
    // The same Group ID twice: the second is refused, saying why.
    assert_eq!(
        browser
            .post(&groups, &[("name", "One"), ("group_id", "g-1")])
            .await
            .status,
        303
    );
    let twice = browser
        .post(&groups, &[("name", "Two"), ("group_id", "g-1")])
        .await;
    assert_page(&twice, 400, "already has externalId");
    // Subaccounts: blank, and moved under itself.
    let subs = format!("/admin/t/{t}/subaccounts");
    assert_page(&browser.post(&subs, &[("name", "")]).await, 400, "required");
    assert_eq!(
        browser.post(&subs, &[("name", "Nordics")]).await.status,
        303
    );
    let nordics = app.store.list_subaccounts(&t).await.unwrap()[0].id.clone();
    assert_eq!(
        browser
            .post(&subs, &[("name", "Sweden"), ("parent", nordics.as_str())])
            .await
            .status,
        303
    );
    let sweden = app.store.list_subaccounts(&t).await.unwrap()[1].id.clone();
    let res = browser
        .post(
            &format!("{subs}/{nordics}"),
            &[("name", "Nordics"), ("parent", sweden.as_str())],
        )
        .await;
    assert_page(&res, 400, "cannot be moved under itself");
    let tree = app.store.list_subaccounts(&t).await.unwrap();
    assert_eq!(tree[0].parent_id, None, "unchanged");
    // A form too large to be one of ours.
    let huge = "y".repeat(100_000);
    let res = browser.post(&groups, &[("name", &huge)]).await;
    assert_eq!(res.status, 400, "{}", res.text);
    // Unknown pages are HTML 404s, not SCIM errors.
    assert_page(
        &browser
            .get(&format!("/admin/t/{t}/groups/{}", TenantId::generate()))
            .await,
        404,
        "not yours",
    );
}

async fn groups_are_created_changed_and_deleted_with_their_memberships(app: &TestApp) {
    let mut browser = Browser::portal(app, &app.tenant).await;
    let t = app.tenant.clone();
    let subs = format!("/admin/t/{t}/subaccounts");
    browser.get(&subs).await;
    browser.post(&subs, &[("name", "Sweden")]).await;
    let sweden = app.store.list_subaccounts(&t).await.unwrap()[0].id.clone();
    let groups = format!("/admin/t/{t}/groups");
    let res = browser
        .post(
            &groups,
            &[
                ("name", "Stockholm staff"),
                ("subaccount", sweden.as_str()),
                ("group_id", "obj-1"),
            ],
        )
        .await;
    assert_eq!(
        (res.status, res.header("location")),
        (303, Some(format!("{groups}?ok=group-created").as_str()))
    );
    let group = app.store.list_all_groups(&t).await.unwrap().remove(0);
    assert_eq!(group.subaccount_id.as_ref(), Some(&sweden));
    // Entra finds it by its Group ID.
    let found = app
        .get(&app.scim("/Groups?filter=externalId%20eq%20%22obj-1%22&excludedAttributes=members"))
        .await;
    assert_eq!(found.body["totalResults"], 1);
    for i in 0..3 {
        let user = app.create_user(&format!("m{i}@example.com")).await;
        app.request(
            "PATCH",
            &app.scim(&format!("/Groups/{}", group.id)),
            Some(patch_op(json!([
                {"op": "add", "path": "members", "value": [{"value": user}]}
            ]))),
        )
        .await;
    }
    let list = browser.get(&groups).await;
    assert!(
        list.text.contains("<td class=\"num\">3</td>"),
        "{}",
        list.text
    );
    // Rename, move to the root, clear the Group ID: one Save.
    let page = format!("{groups}/{}", group.id);
    browser.get(&page).await;
    let saved = browser
        .post(
            &page,
            &[("name", "Stockholm"), ("subaccount", ""), ("group_id", "")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.text);
    let changed = app.store.get_group(&t, &group.id).await.unwrap();
    assert_eq!(
        (
            changed.display_name.as_str(),
            changed.subaccount_id,
            changed.external_id
        ),
        ("Stockholm", None, None)
    );
    // The confirmation says what goes, and deletes nothing by itself.
    let confirm = browser.get(&format!("{page}/delete")).await;
    assert_page(&confirm, 200, "Its 3 memberships go with it");
    assert!(app.store.get_group(&t, &group.id).await.is_ok());
    let deleted = browser.post(&format!("{page}/delete"), &[]).await;
    assert_eq!(deleted.status, 303);
    assert!(app.store.get_group(&t, &group.id).await.is_err());
    let users = app.get(&app.scim("/Users")).await;
    assert_eq!(users.body["totalResults"], 3, "the users stay");
}

async fn a_key_revoked_in_the_panel_is_refused_at_once(app: &TestApp) {
    let mut browser = Browser::portal(app, &app.tenant).await;
    let keys = format!("/admin/t/{}/keys", app.tenant);
    browser.get(&keys).await;
    let issued = browser.post(&keys, &[("label", "Entra ID")]).await;
    assert_page(&issued, 201, "will not be shown again");
    let at = issued.text.find(r#"id="new-key">"#).unwrap() + r#"id="new-key">"#.len();
    let secret = issued.text[at..].split('<').next().unwrap().to_owned();
    assert!(secret.starts_with("scim_"));
    assert_eq!(
        app.request_as(&secret, "GET", &app.scim("/Users"), None)
            .await
            .status,
        200
    );
    // The list never shows a secret again, and says when a key was used.
    let listed = browser.get(&keys).await;
    assert!(!listed.text.contains(&secret));
    let key = app
        .store
        .list_api_keys(Some(&app.tenant))
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.label.as_deref() == Some("Entra ID"))
        .unwrap();
    let revoke = format!("{keys}/{}/revoke", key.id);
    assert_page(&browser.get(&revoke).await, 200, "cannot be undone");
    assert_eq!(
        app.request_as(&secret, "GET", &app.scim("/Users"), None)
            .await
            .status,
        200,
        "confirming is not revoking"
    );
    assert_eq!(browser.post(&revoke, &[]).await.status, 303);
    assert_eq!(
        app.request_as(&secret, "GET", &app.scim("/Users"), None)
            .await
            .status,
        401
    );
    // The other key still works: two keys rotate without an outage.
    assert_eq!(app.get(&app.scim("/Users")).await.status, 200);
}

/// The value of an element with `id` on a page (a secret shown once).
fn shown(html: &str, id: &str) -> String {
    let marker = format!(r#"id="{id}">"#);
    let at = html.find(&marker).expect("the element") + marker.len();
    html[at..].split('<').next().unwrap().to_owned()
}

async fn operator_registers_and_runs_webhook_endpoints(app: &TestApp) {
    let mut browser = Browser::operator(app).await;
    let list = "/admin/webhooks";
    assert_page(&browser.get(list).await, 200, "No webhook endpoints yet");
    let tenant = app.tenant.to_string();
    // Bad input is refused in words and registers nothing.
    for (fields, words) in [
        (
            vec![("url", "http://hooks.example.com/in")],
            "--webhook-allow-http",
        ),
        (vec![("url", "https://10.0.0.7/in")], "private"),
        (vec![("url", "not a url")], "is not a URL"),
        (
            vec![("url", "https://hooks.example.com/in"), ("tenant", "x<y")],
            "no tenant with that id",
        ),
        (
            vec![
                ("url", "https://hooks.example.com/in"),
                ("tenant", "00000000-0000-4000-8000-000000000000"),
            ],
            "no tenant with that id",
        ),
        (
            vec![
                ("url", "https://hooks.example.com/in"),
                ("types", "user.created"),
                ("types", "user.exploded"),
            ],
            "'user.exploded' is not an event type",
        ),
    ] {
        let res = browser.post(list, &fields).await;
        assert_page(&res, 400, words);
    }
    assert!(app.store.list_endpoints().await.unwrap().is_empty());

    let made = browser
        .post(
            list,
            &[
                ("url", "https://hooks.example.com/in"),
                ("tenant", &tenant),
                ("types", "user.created"),
                ("types", "user.deprovisioned"),
            ],
        )
        .await;
    assert_page(&made, 201, "will not be shown again");
    let secret = shown(&made.text, "new-secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let endpoint = app.store.list_endpoints().await.unwrap().remove(0);
    assert_eq!(endpoint.tenant_id.as_ref(), Some(&app.tenant));
    assert_eq!(endpoint.types, ["user.created", "user.deprovisioned"]);
    let listed = browser.get(list).await;
    assert_page(&listed, 200, "https://hooks.example.com/in");
    let name = app.store.get_tenant(&app.tenant).await.unwrap().name;
    assert!(
        listed.text.contains(&format!("/setup\">{name}</a>")),
        "the tenant by name: {}",
        listed.text
    );
    assert!(!listed.text.contains(&secret), "the secret is shown once");

    // An attempt's error is the receiver's story; it is shown inert.
    app.create_user("hooked@example.com").await;
    let now = app.config.clock.micros();
    let claimed = app
        .store
        .claim_endpoints("panel-test", now, now + 30_000_000, 10)
        .await
        .unwrap();
    let mut delivery = claimed[0].endpoint.delivery();
    delivery.failures = 1;
    delivery.failing_since = Some(now);
    let attempt = Attempt {
        event_seq: 1,
        time: now,
        status: Some(500),
        error: Some("<script>alert(1)</script> answered 500".into()),
        millis: 12,
    };
    assert!(
        app.store
            .record_delivery(&endpoint.id, "panel-test", &delivery, &[attempt], 0)
            .await
            .unwrap()
    );
    let page = format!("{list}/{}", endpoint.id);
    let shown_page = browser.get(&page).await;
    assert_page(
        &shown_page,
        200,
        "&lt;script&gt;alert(1)&lt;/script&gt; answered 500",
    );
    assert!(!shown_page.text.contains("<script>alert"));
    assert!(shown_page.text.contains("Failing"), "{}", shown_page.text);

    // Disable, enable.
    let enabled = format!("{page}/enabled");
    assert_eq!(
        browser.post(&enabled, &[("enabled", "false")]).await.status,
        303
    );
    let stopped = app.store.get_endpoint(&endpoint.id).await.unwrap();
    assert_eq!(
        stopped.disabled_reason.as_deref(),
        Some("disabled by an operator")
    );
    assert_page(&browser.get(&page).await, 200, "Disabled");
    assert_page(
        &browser.post(&enabled, &[("enabled", "maybe")]).await,
        400,
        "true or false",
    );
    assert_eq!(
        browser.post(&enabled, &[("enabled", "true")]).await.status,
        303
    );
    let resumed = app.store.get_endpoint(&endpoint.id).await.unwrap();
    assert_eq!((resumed.disabled, resumed.failures), (None, 0));

    // Replay: a bad event id is refused; a good one moves delivery back.
    let replay = format!("{page}/replay");
    assert_page(
        &browser.post(&replay, &[("from", "42")]).await,
        400,
        "must be an event id",
    );
    assert_eq!(
        browser.post(&replay, &[("from", "evt_1")]).await.status,
        303
    );
    assert_eq!(
        app.store
            .get_endpoint(&endpoint.id)
            .await
            .unwrap()
            .delivered_through,
        0
    );

    // Change: a URL refused changes nothing; then URL and types change.
    let refused = browser
        .post(&page, &[("url", "ftp://hooks.example.com/")])
        .await;
    assert_page(&refused, 400, "not ftp:");
    let saved = browser
        .post(&page, &[("url", "https://other.example.com/in")])
        .await;
    assert_eq!(saved.status, 303, "{}", saved.text);
    let changed = app.store.get_endpoint(&endpoint.id).await.unwrap();
    assert_eq!(changed.url, "https://other.example.com/in");
    assert!(changed.types.is_empty(), "none checked is every type");

    // Rotate: a new secret, shown once; the old one signs beside it.
    let rotated = browser.post(&format!("{page}/rotate-secret"), &[]).await;
    assert_page(&rotated, 200, "will not be shown again");
    let second = shown(&rotated.text, "new-secret");
    assert!(second.starts_with("whsec_") && second != secret);
    assert_page(&browser.get(&page).await, 200, "also signs until");
    assert!(!browser.get(&page).await.text.contains(&second));

    // Delete, after a confirmation that changes nothing.
    let delete = format!("{page}/delete");
    assert_page(&browser.get(&delete).await, 200, "cannot be undone");
    assert_eq!(app.store.list_endpoints().await.unwrap().len(), 1);
    assert_eq!(browser.post(&delete, &[]).await.status, 303);
    assert!(app.store.list_endpoints().await.unwrap().is_empty());
    assert_eq!(browser.get(&page).await.status, 404);
}

async fn webhooks_are_the_operators_alone(app: &TestApp) {
    let made = admin(
        app,
        "POST",
        "/admin/v1/webhook-endpoints",
        json!({"url": "https://hooks.example.com/in"}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let id = made.body["id"].as_str().unwrap().to_owned();
    let mut browser = Browser::portal(app, &app.tenant).await;
    let setup = browser.get(&format!("/admin/t/{}/setup", app.tenant)).await;
    assert!(
        !setup.text.contains("/admin/webhooks"),
        "no link for a tenant"
    );
    for path in [
        "/admin/webhooks".to_owned(),
        format!("/admin/webhooks/{id}"),
        format!("/admin/webhooks/{id}/delete"),
    ] {
        assert_eq!(browser.get(&path).await.status, 404, "{path}");
    }
    let res = browser
        .post("/admin/webhooks", &[("url", "https://evil.example.com/")])
        .await;
    assert_eq!(res.status, 404);
    for action in ["delete", "rotate-secret", "replay", "enabled"] {
        let res = browser
            .post(
                &format!("/admin/webhooks/{id}/{action}"),
                &[("from", "evt_1"), ("enabled", "false")],
            )
            .await;
        assert_eq!(res.status, 404, "{action}");
    }
    let endpoints = app.store.list_endpoints().await.unwrap();
    assert_eq!(endpoints.len(), 1);
    assert_eq!(endpoints[0].url, "https://hooks.example.com/in");
    assert_eq!(endpoints[0].disabled, None);
    // An unknown or malformed endpoint is not found for the operator too.
    let mut operator = Browser::operator(app).await;
    assert_eq!(operator.get("/admin/webhooks/whe_nope").await.status, 404);
    assert_eq!(operator.get("/admin/webhooks/%3Cb%3E").await.status, 404);
}

async fn the_operator_sets_policies_on_the_setup_screen(app: &TestApp) {
    let sub = app
        .store
        .create_subaccount(&app.tenant, "Stockholm <north>", None)
        .await
        .unwrap();
    let setup = format!("/admin/t/{}/setup", app.tenant);
    let policy = format!("/admin/t/{}/policy", app.tenant);
    // A customer's administrator reads the policies and cannot change them.
    let mut customer = Browser::portal(app, &app.tenant).await;
    let page = customer.get(&setup).await;
    assert_page(&page, 200, "POST /Groups is refused");
    assert!(!page.text.contains(&policy), "no form for a customer");
    let res = customer
        .post(
            &policy,
            &[("group_creation", "scim"), ("group_subaccount", "")],
        )
        .await;
    assert_eq!(res.status, 404);

    let mut operator = Browser::operator(app).await;
    assert_page(&operator.get(&setup).await, 200, "Save policies");
    let bad = operator
        .post(&policy, &[("group_creation", "anyone")])
        .await;
    assert_page(&bad, 400, "choose who creates groups");
    let (other, _) = app.other_tenant().await;
    let theirs = app
        .store
        .create_subaccount(&other, "Theirs", None)
        .await
        .unwrap();
    let bad = operator
        .post(
            &policy,
            &[
                ("group_creation", "scim"),
                ("group_subaccount", theirs.id.as_str()),
                ("deprovision", "delete"),
                ("deactivated_memberships", "keep"),
                ("user_name_format", "email"),
            ],
        )
        .await;
    assert_page(&bad, 400, "not one of this tenant");
    for (deprovision, memberships, says) in [
        ("archive", "keep", "choose what active false does"),
        ("deactivate", "", "kept or dropped"),
    ] {
        let bad = operator
            .post(
                &policy,
                &[
                    ("group_creation", "admin"),
                    ("group_subaccount", ""),
                    ("deprovision", deprovision),
                    ("deactivated_memberships", memberships),
                    ("user_name_format", "email"),
                ],
            )
            .await;
        assert_page(&bad, 400, says);
    }
    let tenant = app.store.get_tenant(&app.tenant).await.unwrap();
    assert_eq!(tenant.policy, Default::default(), "nothing changed");

    let saved = operator
        .post(
            &policy,
            &[
                ("group_creation", "scim"),
                ("group_subaccount", sub.id.as_str()),
                ("deprovision", "deactivate"),
                ("deactivated_memberships", "drop"),
                ("user_name_format", "any"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.text);
    let page = operator.get(saved.header("location").unwrap()).await;
    assert_page(&page, 200, "Policies saved.");
    assert_page(&page, 200, "their memberships are dropped");
    assert!(
        page.text
            .contains("<strong>Stockholm &lt;north&gt;</strong>"),
        "{}",
        page.text
    );
    let tenant = app.store.get_tenant(&app.tenant).await.unwrap();
    assert_eq!(tenant.policy.group_subaccount_id.as_ref(), Some(&sub.id));
    assert_eq!(tenant.policy.deprovision, Deprovision::Deactivate);
    let res = app
        .request(
            "POST",
            &app.scim("/Groups"),
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Pushed"})),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);

    // A deactivated user is still listed, marked as such.
    let ann = app.create_user("ann@example.com").await;
    app.create_user("bob@example.com").await;
    let off = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    let res = app
        .request("PATCH", &app.scim(&format!("/Users/{ann}")), Some(off))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let users = format!("/admin/t/{}/users", app.tenant);
    let page = customer.get(&users).await;
    assert_page(&page, 200, "bob@example.com");
    assert_eq!(
        page.text
            .matches(r#"<span class="badge">deactivated</span>"#)
            .count(),
        1
    );
    let page = customer.get(&format!("{users}/{ann}")).await;
    assert_page(&page, 200, "deactivated: it cannot sign in");
}

async fn the_operator_confirms_domains_on_the_setup_screen(app: &TestApp) {
    let setup = format!("/admin/t/{}/setup", app.tenant);
    let policy = format!("/admin/t/{}/policy", app.tenant);
    let mut operator = Browser::operator(app).await;
    let with_domains = async |operator: &mut Browser, domains: &str| {
        operator
            .post(
                &policy,
                &[
                    ("group_creation", "admin"),
                    ("group_subaccount", ""),
                    ("deprovision", "delete"),
                    ("deactivated_memberships", "keep"),
                    ("user_name_format", "email"),
                    ("user_name_domains", domains),
                ],
            )
            .await
    };
    assert_page(
        &operator.get(&setup).await,
        200,
        "any domain that no other tenant has confirmed",
    );
    let (other, _) = app.other_tenant().await;
    let path = format!("/admin/v1/tenants/{other}/policy");
    let body = json!({"userNameDomains": ["globex.example"]});
    assert_eq!(admin(app, "PATCH", &path, body).await.status, 200);
    for (domains, status, says) in [
        (
            "acme.example, a_b.example",
            400,
            "&quot;a_b.example&quot; is not a domain name",
        ),
        (
            "<script>x</script>.example",
            400,
            "&quot;&lt;script&gt;x&lt;/script&gt;.example&quot;",
        ),
        (
            "acme.example globex.example",
            400,
            "'globex.example' is confirmed for tenant",
        ),
    ] {
        let bad = with_domains(&mut operator, domains).await;
        assert_page(&bad, status, says);
        assert!(!bad.text.contains("<script>x"), "{}", bad.text);
    }
    let tenant = app.store.get_tenant(&app.tenant).await.unwrap();
    assert_eq!(tenant.policy, Default::default(), "nothing changed");

    let saved = with_domains(&mut operator, " Acme.example,corp.example\nacme.example ").await;
    assert_eq!(saved.status, 303, "{}", saved.text);
    let tenant = app.store.get_tenant(&app.tenant).await.unwrap();
    assert_eq!(
        tenant.policy.user_name_domains,
        ["acme.example", "corp.example"]
    );
    let page = operator.get(&setup).await;
    assert_page(
        &page,
        200,
        "only <strong>acme.example</strong>, <strong>corp.example</strong>",
    );
    assert_page(&page, 200, r#"value="acme.example, corp.example""#);
    let mut customer = Browser::portal(app, &app.tenant).await;
    assert_page(
        &customer.get(&setup).await,
        200,
        "<strong>corp.example</strong>",
    );

    assert_eq!(with_domains(&mut operator, "any").await.status, 303);
    let tenant = app.store.get_tenant(&app.tenant).await.unwrap();
    assert!(tenant.policy.user_name_domains.is_empty());
}

async fn lists_page_by_name_and_search(app: &TestApp) {
    for i in 0..60 {
        app.create_group(&format!("Group {i:03}"), None).await;
    }
    let mut browser = Browser::portal(app, &app.tenant).await;
    let groups = format!("/admin/t/{}/groups", app.tenant);
    let first = browser.get(&groups).await;
    assert!(first.text.contains(">Group 049<") && !first.text.contains(">Group 050<"));
    let at = first.text.find("Next page").unwrap();
    let href_at = first.text[..at].rfind("href=\"").unwrap() + 6;
    let next = first.text[href_at..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let second = browser.get(&next).await;
    assert!(second.text.contains(">Group 050<") && second.text.contains(">Group 059<"));
    assert!(!second.text.contains(">Group 049<") && !second.text.contains("Next page"));
    let found = browser.get(&format!("{groups}?q=group+05")).await;
    assert_eq!(
        found.text.matches("<tr>").count(),
        1 + 10,
        "the header and ten groups"
    );
}

async fn subaccounts_rename_and_move_over_the_admin_api(app: &TestApp) {
    let base = format!("/admin/v1/tenants/{}/subaccounts", app.tenant);
    let nordics = admin(app, "POST", &base, json!({"name": "Nordics"}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sweden = admin(
        app,
        "POST",
        &base,
        json!({"name": "Sweden", "parentId": nordics}),
    )
    .await
    .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let renamed = admin(
        app,
        "PATCH",
        &format!("{base}/{sweden}"),
        json!({"name": "Sverige"}),
    )
    .await;
    assert_eq!(
        (
            renamed.status,
            renamed.body["name"].as_str(),
            renamed.body["parentId"].as_str()
        ),
        (200, Some("Sverige"), Some(nordics.as_str()))
    );
    let moved = admin(
        app,
        "PATCH",
        &format!("{base}/{sweden}"),
        json!({"parentId": null}),
    )
    .await;
    assert_eq!(moved.body["parentId"], json!(null));
    admin(
        app,
        "PATCH",
        &format!("{base}/{nordics}"),
        json!({"parentId": nordics}),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    admin(
        app,
        "PATCH",
        &format!("{base}/{nordics}"),
        json!({"name": null}),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    admin(
        app,
        "PATCH",
        &format!("{base}/{nordics}"),
        json!({"name": ""}),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    admin(
        app,
        "PATCH",
        &format!("{base}/{}", TenantId::generate()),
        json!({"name": "x"}),
    )
    .await
    .assert_error(404, None);
    admin(
        app,
        "PATCH",
        &format!("{base}/{nordics}"),
        json!({"parentId": TenantId::generate().to_string()}),
    )
    .await
    .assert_error(404, None);
}

backends!(
    config = panel_config();
    operator_signs_in_with_the_admin_token_and_out_again,
    wrong_admin_tokens_are_rate_limited,
    pages_carry_the_security_headers,
    portal_links_are_single_use_expire_and_are_checked,
    sessions_end_when_idle,
    forms_need_the_session_token_and_our_origin,
    identity_provider_text_is_inert,
    another_tenants_pages_and_forms_are_not_found,
    bad_input_is_refused_in_words_and_changes_nothing,
    groups_are_created_changed_and_deleted_with_their_memberships,
    a_key_revoked_in_the_panel_is_refused_at_once,
    lists_page_by_name_and_search,
    subaccounts_rename_and_move_over_the_admin_api,
    operator_registers_and_runs_webhook_endpoints,
    webhooks_are_the_operators_alone,
    the_operator_sets_policies_on_the_setup_screen,
    the_operator_confirms_domains_on_the_setup_screen,
);

mod https {
    use super::*;

    backends!(config = https_config(); cookies_are_secure_behind_https);
}

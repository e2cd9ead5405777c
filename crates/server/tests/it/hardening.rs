//! What no tenant's key, and no stranger, may do: flood the log, fool the
//! URLs we hand out, guess tokens, or reach a 500 or a plain-text answer.

use std::net::SocketAddr;

use crate::common::*;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, header};
use serde_json::json;

/// A request from a client at `peer`, over a (pretend) socket.
fn from(peer: &str, method: &str, path: &str, key: &str) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "scim.test")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .expect("request");
    let addr: SocketAddr = peer.parse().expect("address");
    req.extensions_mut().insert(ConnectInfo(addr));
    req
}

/// Regression (hardening): a path that is not UTF-8 answered axum's plain
/// text.
async fn a_path_that_is_not_utf8_is_a_scim_error(app: &TestApp) {
    for path in ["/Users/%ff%fe", "/Groups/%c3%28"] {
        let res = app.get(&app.scim(path)).await;
        assert!(
            res.status == 400 || res.status == 404,
            "{path}: {}",
            res.text
        );
        res.assert_error(res.status, None);
    }
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let res = app
        .request_with(
            "GET",
            "/admin/v1/tenants/%ff",
            None,
            &[("authorization", &admin)],
        )
        .await;
    res.assert_error(res.status, None);
}

/// Regression (hardening): the client's `x-request-id` (up to ~330 KB) was
/// logged and echoed as it came.
async fn client_request_ids_are_kept_only_when_short_and_safe(app: &TestApp) {
    let path = app.scim("/Users");
    let ok = app
        .request_with(
            "GET",
            &path,
            None,
            &[("x-request-id", "entra-1234:abc_9.z")],
        )
        .await;
    assert_eq!(ok.header("x-request-id"), Some("entra-1234:abc_9.z"));
    for bad in [
        "x".repeat(129),
        "has space".to_owned(),
        "quote\"d".to_owned(),
        "é".to_owned(),
    ] {
        let res = app
            .request_with("GET", &path, None, &[("x-request-id", &bad)])
            .await;
        let got = res.header("x-request-id").expect("an id is always set");
        assert_ne!(got, bad);
        assert!(uuid::Uuid::try_parse(got).is_ok(), "a fresh id: {got}");
    }
    let logged = app.log_entries(5).await;
    assert!(
        logged.iter().all(|e| e.request_id.len() <= 128),
        "{:?}",
        logged
            .iter()
            .map(|e| e.request_id.len())
            .collect::<Vec<_>>()
    );
}

/// Regression (hardening): each 429 was a row of its own, with the whole
/// path: one key grew the database by 827 MB in 10 s.
async fn refused_requests_are_summarised_not_logged_one_by_one(app: &TestApp) {
    let long = format!("/Users?filter={}", "x".repeat(60_000));
    let mut refused = 0;
    for _ in 0..60 {
        if app.get(&app.scim(&long)).await.status == 429 {
            refused += 1;
        }
    }
    assert!(refused >= 50, "the limit refuses: {refused}");
    // Wait for the summaries: one per second in which requests were refused.
    let counted = |entries: &[scimitar_core::model::LogEntry]| -> u64 {
        entries
            .iter()
            .filter(|e| e.status == 429)
            .map(|e| {
                let detail = e.detail.as_deref().unwrap_or_default();
                detail
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .expect(detail)
            })
            .sum()
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let entries = loop {
        let entries = app.log_entries(0).await;
        if counted(&entries) >= refused || tokio::time::Instant::now() > deadline {
            break entries;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(counted(&entries), refused, "every refusal is counted");
    let summaries = entries.iter().filter(|e| e.status == 429).count();
    assert!(
        summaries <= 11,
        "one row per second at most, not one per refusal: {summaries}"
    );
    assert!(
        entries.iter().all(|e| e.path.chars().count() <= 1025),
        "paths are clipped"
    );
}

fn limited() -> ServerConfig {
    ServerConfig {
        rate_limit_per_second: 1,
        rate_limit_burst: 5,
        ..test_config()
    }
}

/// Regression (hardening): with `--public-url` unset any client decided
/// `Location`, `meta.location` and `$ref` by sending `X-Forwarded-Host`.
async fn forwarded_headers_are_believed_only_from_trusted_proxies(app: &TestApp) {
    let id = app.create_user("fwd@example.com").await;
    let path = app.scim(&format!("/Users/{id}"));
    let forwarded = [
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "https"),
    ];
    let res = app.request_with("GET", &path, None, &forwarded).await;
    let location = res.body["meta"]["location"].as_str().unwrap().to_owned();
    assert!(location.starts_with("http://scim.test/"), "{location}");

    let mut req = from("203.0.113.9:5000", "GET", &path, &app.key);
    for (k, v) in forwarded {
        req.headers_mut().insert(k, v.parse().unwrap());
    }
    let res = app.send(req).await;
    let location = res.body["meta"]["location"].as_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://scim.test/"),
        "an untrusted peer: {location}"
    );
}

async fn forwarded_headers_from_a_trusted_proxy_are_used(app: &TestApp) {
    let id = app.create_user("proxied@example.com").await;
    let path = app.scim(&format!("/Users/{id}"));
    let mut req = from("10.1.2.3:40000", "GET", &path, &app.key);
    req.headers_mut()
        .insert("x-forwarded-host", "scim.example.com".parse().unwrap());
    req.headers_mut()
        .insert("x-forwarded-proto", "https".parse().unwrap());
    let res = app.send(req).await;
    let location = res.body["meta"]["location"].as_str().unwrap();
    assert!(
        location.starts_with("https://scim.example.com/"),
        "{location}"
    );
}

fn behind_proxy() -> ServerConfig {
    ServerConfig {
        trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
        ..test_config()
    }
}

/// Failed authentications are limited per client address (2 a second, in
/// bursts of 20); another address is unaffected. The limiter's clock is a
/// manual one, so the counts are exact.
async fn failed_authentications_are_rate_limited_per_address(app: &TestApp) {
    let path = app.scim("/Users");
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let res = app
            .send(from("198.51.100.7:1", "GET", &path, "scim_wrong"))
            .await;
        statuses.push(res.status);
    }
    assert_eq!(statuses[..20], [401; 20], "{statuses:?}");
    assert_eq!(statuses[20..], [429; 20], "{statuses:?}");
    // Locked out even with the right key, until its bucket refills.
    let res = app
        .send(from("198.51.100.7:2", "GET", &path, &app.key))
        .await;
    res.assert_error(429, None);
    assert_eq!(res.header("retry-after"), Some("10"));
    let res = app
        .send(from("198.51.100.8:1", "GET", &path, &app.key))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    // Half a second later one more try is let through.
    app.config
        .clock
        .advance(std::time::Duration::from_millis(500));
    let res = app
        .send(from("198.51.100.7:2", "GET", &path, &app.key))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    // The admin token is guarded the same way.
    for _ in 0..40 {
        app.send(from("198.51.100.9:1", "GET", "/admin/v1/tenants", "wrong"))
            .await;
    }
    let res = app
        .send(from(
            "198.51.100.9:1",
            "GET",
            "/admin/v1/tenants",
            ADMIN_TOKEN,
        ))
        .await;
    res.assert_error(429, None);
}

/// The admin token opens the admin API only, the application token the
/// application API only.
async fn admin_and_application_tokens_are_separate(app: &TestApp) {
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let appt = format!("Bearer {APP_TOKEN}");
    let res = app
        .request_with(
            "GET",
            "/admin/v1/tenants",
            None,
            &[("authorization", &appt)],
        )
        .await;
    res.assert_error(401, None);
    let res = app
        .request_with(
            "POST",
            "/app/v1/sessions/introspect",
            Some(json!({"token": "x"})),
            &[("authorization", &admin)],
        )
        .await;
    res.assert_error(401, None);
    let res = app
        .request_with(
            "GET",
            "/admin/v1/tenants",
            None,
            &[("authorization", &admin)],
        )
        .await;
    assert_eq!(res.status, 200);
}

/// Regression (hardening): admin inputs reached the database unchecked:
/// a huge startIndex was a 500, a NUL was a 500 on PostgreSQL, names had no
/// length or control-character check.
async fn admin_inputs_are_checked_before_any_sql(app: &TestApp) {
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let t = app.tenant.as_str();
    let get = |path: String| {
        let admin = admin.clone();
        async move {
            app.request_with("GET", &path, None, &[("authorization", &admin)])
                .await
        }
    };
    get(format!(
        "/admin/v1/tenants/{t}/users?startIndex=99999999999999999999"
    ))
    .await
    .assert_error(400, Some("invalidValue"));
    get(format!("/admin/v1/tenants/{t}/users?count=-1"))
        .await
        .assert_error(400, Some("invalidValue"));
    get(format!(
        "/admin/v1/tenants/{t}/users?filter=userName%20eq%20%22a%00%22"
    ))
    .await
    .assert_error(400, Some("invalidFilter"));
    get("/admin/v1/events?after=99999999999999999999".to_owned())
        .await
        .assert_error(400, Some("invalidValue"));
    for path in [
        "/admin/v1/tenants/%00".to_owned(),
        "/admin/v1/tenants/not-a-uuid/groups".to_owned(),
        format!("/admin/v1/tenants/{t}/groups/%00"),
        "/admin/v1/events?tenant=%00".to_owned(),
    ] {
        get(path.clone()).await.assert_error(404, None);
    }
    let post = |path: String, body: serde_json::Value| {
        let admin = admin.clone();
        async move {
            app.request_with("POST", &path, Some(body), &[("authorization", &admin)])
                .await
        }
    };
    for body in [
        json!({"name": "bad\u{0}name"}),
        json!({"name": "x".repeat(257)}),
        json!({"name": "ok", "region": "r\u{7}"}),
    ] {
        post("/admin/v1/tenants".into(), body)
            .await
            .assert_error(400, Some("invalidValue"));
    }
    post(
        format!("/admin/v1/tenants/{t}/apikeys"),
        json!({"label": "l\u{0}"}),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    post(
        format!("/admin/v1/tenants/{t}/groups"),
        json!({"displayName": "G", "subaccountId": "\u{0}"}),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    post(
        format!("/admin/v1/tenants/{t}/groups"),
        json!({"displayName": "G", "subaccountId": "nope"}),
    )
    .await
    .assert_error(404, None);
    post(
        format!("/admin/v1/tenants/{t}/subaccounts"),
        json!({"name": "S", "parentId": "nope"}),
    )
    .await
    .assert_error(404, None);
    // Nothing was created by any of them.
    let tenants = get("/admin/v1/tenants".into()).await;
    assert_eq!(
        tenants.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        tenants.text
    );
}

/// Regression (hardening): a NUL in a PATCH path reached an error detail
/// raw; on PostgreSQL its log batch, with every other tenant's entries, was
/// retried for 120 s and dropped.
async fn a_nul_in_a_patch_path_is_escaped_and_logged(app: &TestApp) {
    let id = app.create_user("nul@example.com").await;
    let res = app
        .request(
            "PATCH",
            &app.scim(&format!("/Users/{id}")),
            Some(patch_op(
                json!([{"op": "replace", "path": "title\u{0}x", "value": "v"}]),
            )),
        )
        .await;
    res.assert_error(400, Some("invalidPath"));
    assert!(!res.detail().contains('\0'), "{}", res.detail());
    assert!(res.detail().contains("\\u{0}"), "{}", res.detail());
    let entries = app.log_entries(2).await;
    let logged = entries
        .iter()
        .find(|e| e.method == "PATCH")
        .expect("the PATCH is logged");
    assert_eq!(logged.status, 400);
    assert!(
        logged
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("\\u{0}"))
    );
}

/// The application API signs a session out.
async fn sessions_can_be_revoked(app: &TestApp) {
    let user = app.create_user("signout@example.com").await;
    let auth = format!("Bearer {APP_TOKEN}");
    let post = |path: &'static str, body: serde_json::Value| {
        let auth = auth.clone();
        async move {
            app.request_with("POST", path, Some(body), &[("authorization", &auth)])
                .await
        }
    };
    let created = post("/app/v1/sessions", json!({"userId": user})).await;
    let token = created.body["token"].as_str().unwrap().to_owned();
    let res = post("/app/v1/sessions/revoke", json!({"token": token})).await;
    assert_eq!(res.body, json!({"revoked": true}));
    let res = post("/app/v1/sessions/introspect", json!({"token": token})).await;
    assert_eq!(res.body, json!({"active": false}));
    let res = post("/app/v1/sessions/revoke", json!({"token": token})).await;
    assert_eq!(res.body, json!({"revoked": false}));
    post("/app/v1/sessions/revoke", json!({}))
        .await
        .assert_error(400, Some("invalidValue"));
}

/// Regression (hardening): joining a group did not change a user's ETag,
/// nor deprovisioning a member its group's, so `If-None-Match` answered 304
/// with stale `groups` and `members`.
async fn etags_follow_membership_changes(app: &TestApp) {
    let user = app.create_user("etag@example.com").await;
    let group = app.create_group("Staff", None).await;
    let user_path = app.scim(&format!("/Users/{user}"));
    let group_path = app.scim(&format!("/Groups/{group}"));
    let etag = |res: &TestResponse| res.header("etag").expect("ETag").to_owned();
    let before = etag(&app.get(&user_path).await);
    let res = app
        .request(
            "PATCH",
            &group_path,
            Some(patch_op(
                json!([{"op": "add", "path": "members", "value": [{"value": user}]}]),
            )),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    let res = app
        .request_with("GET", &user_path, None, &[("if-none-match", &before)])
        .await;
    assert_eq!(res.status, 200, "the user's groups changed");
    assert_eq!(res.body["groups"][0]["value"], group.as_str());

    let group_tag = etag(&app.get(&group_path).await);
    assert_eq!(app.request("DELETE", &user_path, None).await.status, 204);
    let res = app
        .request_with("GET", &group_path, None, &[("if-none-match", &group_tag)])
        .await;
    assert_eq!(res.status, 200, "the group's members changed");
    assert_eq!(res.body["members"], json!([]));
}

/// Regression (hardening): a filter on an attribute that is not stored
/// matched nothing, so an identity provider matching on it created a
/// duplicate and looped on 409.
async fn filters_on_unstored_attributes_are_refused(app: &TestApp) {
    let filter =
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber%20eq%20%221%22";
    let res = app.get(&app.scim(&format!("/Users?filter={filter}"))).await;
    res.assert_error(400, Some("invalidFilter"));
    assert!(res.detail().contains("employeeNumber"), "{}", res.detail());
    assert!(res.detail().contains("userName"), "{}", res.detail());
}

/// How many times another task on this (single-threaded) runtime ran
/// while `app` answered `body`.
async fn polls_of_others_during(app: &TestApp, body: String) -> u64 {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let (count, stop) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let other = tokio::spawn({
        let (count, stop) = (count.clone(), stop.clone());
        async move {
            while !stop.load(Ordering::Relaxed) {
                count.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        }
    });
    let req = Request::builder()
        .method("POST")
        .uri(app.scim("/Users"))
        .header(header::HOST, "scim.test")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.key))
        .header(header::CONTENT_TYPE, "application/scim+json")
        .body(Body::from(body))
        .unwrap();
    let res = app.send(req).await;
    res.assert_error(400, Some("invalidValue"));
    stop.store(true, Ordering::Relaxed);
    other.await.unwrap();
    count.load(Ordering::Relaxed)
}

/// Regression (hardening): a large body was parsed on the async worker
/// that received it, stalling every request sharing that worker (two
/// slow parses made `/healthz` take 23 s). Tests run on one thread, so
/// another task runs during the parse only if the parse is elsewhere.
async fn large_bodies_are_parsed_off_the_async_workers(app: &TestApp) {
    let tiny = json!({"userName": 1}).to_string();
    // The first request reads the tenant's policies (which say how its
    // users are parsed), and other tasks run meanwhile; the next ones
    // find them in the service's memory.
    polls_of_others_during(app, tiny.clone()).await;
    let small = polls_of_others_during(app, tiny).await;
    let padding: Vec<u32> = (0..600_000).collect();
    let large = json!({"userName": 1, "padding": padding}).to_string();
    assert!(large.len() > 3_000_000);
    let during_large = polls_of_others_during(app, large).await;
    assert!(
        during_large > 10 * small + 1000,
        "other tasks ran {during_large} times during a 3 MB parse, {small} during a tiny one"
    );
}

backends!(
    large_bodies_are_parsed_off_the_async_workers,
    etags_follow_membership_changes,
    filters_on_unstored_attributes_are_refused,
    a_path_that_is_not_utf8_is_a_scim_error,
    client_request_ids_are_kept_only_when_short_and_safe,
    forwarded_headers_are_believed_only_from_trusted_proxies,
    admin_and_application_tokens_are_separate,
    admin_inputs_are_checked_before_any_sql,
    a_nul_in_a_patch_path_is_escaped_and_logged,
    sessions_can_be_revoked,
);

mod rate_limited {
    use super::*;
    backends!(config = limited(); refused_requests_are_summarised_not_logged_one_by_one);
}

mod on_a_manual_clock {
    use super::*;

    fn config() -> ServerConfig {
        ServerConfig {
            clock: scimitar_server::Clock::manual(),
            ..test_config()
        }
    }

    backends!(config = config(); failed_authentications_are_rate_limited_per_address);
}

mod behind_a_proxy {
    use super::*;
    backends!(config = behind_proxy(); forwarded_headers_from_a_trusted_proxy_are_used);
}

//! Bad requests of every kind get a SCIM error with the right status, never
//! a 500 and never the server's internals; the base path is configurable.

use crate::common::*;
use axum::body::Body;
use axum::http::Request;
use serde_json::json;

/// A request with the tenant's key and a raw body and content type.
fn raw(
    app: &TestApp,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "scim.test")
        .header("authorization", format!("Bearer {}", app.key));
    if let Some(ct) = content_type {
        builder = builder.header("content-type", ct);
    }
    builder.body(body.into()).unwrap()
}

/// What no error detail may reveal.
#[track_caller]
fn assert_no_internals(res: &TestResponse) {
    let lower = res.text.to_ascii_lowercase();
    for leak in [
        "sqlx",
        "select ",
        "insert ",
        "panicked",
        ".rs:",
        "/root/",
        "database error",
        "sqlite",
        "postgres",
    ] {
        assert!(!lower.contains(leak), "leaks {leak:?}: {}", res.text);
    }
}

async fn malformed_json_is_400_invalid_syntax(app: &TestApp) {
    let cases: [(&str, &[u8]); 6] = [
        ("truncated", b"{\"userName\": \"a@b.c\""),
        (
            "trailing garbage",
            b"{\"userName\": \"a@b.c\", \"displayName\": \"A\"} x",
        ),
        ("not JSON", b"userName=a@b.c"),
        ("empty", b""),
        ("invalid UTF-8", b"{\"userName\": \"\xff\xfe@b.c\"}"),
        ("single quotes", b"{'userName': 'a@b.c'}"),
    ];
    for (why, body) in cases {
        let res = app
            .send(raw(
                app,
                "POST",
                &app.scim("/Users"),
                Some("application/scim+json"),
                body.to_vec(),
            ))
            .await;
        assert_eq!(res.status, 400, "{why}: {}", res.text);
        res.assert_error(400, Some("invalidSyntax"));
        assert_no_internals(&res);
    }
    let total = app.get(&app.scim("/Users?count=0")).await;
    assert_eq!(total.body["totalResults"], 0);
}

async fn deeply_nested_json_is_400_not_a_crash(app: &TestApp) {
    let body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let res = app
        .send(raw(
            app,
            "POST",
            &app.scim("/Users"),
            Some("application/json"),
            body,
        ))
        .await;
    res.assert_error(400, Some("invalidSyntax"));
    let body = format!(
        "{{\"userName\": \"a@b.c\", \"x\": {}1{}}}",
        "{\"y\":".repeat(5_000),
        "}".repeat(5_000)
    );
    let res = app
        .send(raw(
            app,
            "POST",
            &app.scim("/Users"),
            Some("application/json"),
            body,
        ))
        .await;
    assert_eq!(res.status, 400, "{}", res.text);
}

async fn json_media_types_are_accepted(app: &TestApp) {
    let cases = [
        (Some("application/json"), "a@example.com"),
        (
            Some("application/scim+json; charset=utf-8"),
            "b@example.com",
        ),
        (Some("Application/JSON"), "c@example.com"),
        (None, "d@example.com"),
    ];
    for (ct, user_name) in cases {
        let body = json!({"userName": user_name, "displayName": "X"}).to_string();
        let res = app
            .send(raw(app, "POST", &app.scim("/Users"), ct, body))
            .await;
        assert_eq!(res.status, 201, "{ct:?}: {}", res.text);
        assert!(
            res.header("content-type")
                .is_some_and(|c| c.starts_with("application/scim+json"))
        );
    }
}

async fn wrong_content_type_is_415_scim_error(app: &TestApp) {
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
        "multipart/form-data",
    ] {
        let body = json!({"userName": "a@example.com", "displayName": "X"}).to_string();
        let res = app
            .send(raw(app, "POST", &app.scim("/Users"), Some(ct), body))
            .await;
        res.assert_error(415, None);
        assert!(
            res.detail().contains("application/scim+json"),
            "{}",
            res.detail()
        );
    }
    let id = app.create_user("keep@example.com").await;
    let res = app
        .send(raw(
            app,
            "PATCH",
            &app.scim(&format!("/Users/{id}")),
            Some("text/plain"),
            "{}",
        ))
        .await;
    res.assert_error(415, None);
}

async fn oversized_body_is_413_scim_error(app: &TestApp) {
    // Over the default 4 MiB.
    let big = json!({"userName": "big@example.com", "displayName": "x".repeat(5 * 1024 * 1024)})
        .to_string();
    let res = app
        .send(raw(
            app,
            "POST",
            &app.scim("/Users"),
            Some("application/scim+json"),
            big.clone(),
        ))
        .await;
    res.assert_error(413, None);
    // Also when the client announces no length (a stream).
    let stream = Body::new(futures_stream(big.into_bytes()));
    let res = app
        .send(raw(
            app,
            "POST",
            &app.scim("/Users"),
            Some("application/scim+json"),
            stream,
        ))
        .await;
    res.assert_error(413, None);
    let total = app.get(&app.scim("/Users?count=0")).await;
    assert_eq!(total.body["totalResults"], 0);
}

/// A body delivered in chunks with no announced length, as a streaming
/// client sends it: the limit must hold without a Content-Length.
struct Chunked(Vec<Vec<u8>>);

fn futures_stream(bytes: Vec<u8>) -> Chunked {
    Chunked(bytes.chunks(64 * 1024).rev().map(<[u8]>::to_vec).collect())
}

impl http_body::Body for Chunked {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(
            self.0
                .pop()
                .map(|chunk| Ok(http_body::Frame::data(axum::body::Bytes::from(chunk)))),
        )
    }
}

async fn unknown_paths_are_404_scim_errors(app: &TestApp) {
    for path in [
        app.scim("/Bulk"),
        app.scim("/Me"),
        app.scim("/Users/a/b"),
        app.scim(""),
        "/nowhere".to_owned(),
        "/scim/v3/Users".to_owned(),
    ] {
        let res = app.get(&path).await;
        res.assert_error(404, None);
    }
}

async fn wrong_methods_are_405_scim_errors(app: &TestApp) {
    let id = app.create_user("method@example.com").await;
    let body = Some(json!({}));
    for (method, path) in [
        ("DELETE", app.scim("/Users")),
        ("PUT", app.scim("/Users")),
        ("PATCH", app.scim("/Groups")),
        ("POST", app.scim(&format!("/Users/{id}"))),
        ("POST", app.scim("/ServiceProviderConfig")),
        ("DELETE", app.scim("/ResourceTypes")),
        ("POST", "/healthz".to_owned()),
        ("DELETE", "/readyz".to_owned()),
        ("GET", "/app/v1/sessions".to_owned()),
        ("PUT", "/app/v1/sessions/introspect".to_owned()),
    ] {
        let res = app.request(method, &path, body.clone()).await;
        assert_eq!(res.status, 405, "{method} {path}: {}", res.text);
        res.assert_error(405, None);
        // RFC 9110 §15.5.6: a 405 lists the methods that would work.
        assert!(
            res.header("allow").is_some_and(|a| !a.contains(method)),
            "{method} {path}: Allow {:?}",
            res.header("allow")
        );
    }
}

async fn no_request_is_answered_with_a_500(app: &TestApp) {
    let user = app.create_user("sturdy@example.com").await;
    let long = "x".repeat(10_000);
    let paths = [
        format!("/Users/{long}"),
        "/Users/%00".to_owned(),
        "/Users/%ZZ".to_owned(),
        "/Users?filter=%ZZ".to_owned(),
        "/Users?filter=userName+eq+%22%00%22".to_owned(),
        "/Users?filter=meta.lastModified+gt+%22not-a-date%22".to_owned(),
        "/Users?startIndex=-9999999999999999999999&count=-1".to_owned(),
        "/Users?count=99999999999999999999999999".to_owned(),
        "/Users?sortBy=emails".to_owned(),
        "/Users?attributes=%5B%5D%5B".to_owned(),
        "/Groups?filter=members%5Bvalue+eq+%22x%22%5D".to_owned(),
        format!("/Users?filter=userName+eq+%22{long}%22"),
    ];
    let mut failures = Vec::new();
    for path in paths {
        let res = app.get(&app.scim(&path)).await;
        if res.status >= 500 {
            failures.push(format!("GET {path}: {} {}", res.status, res.text));
        } else if res.status >= 400 {
            res.assert_error(res.status, res.scim_type());
            assert_no_internals(&res);
        }
    }
    let bodies = [
        json!({"userName": "sturdy@example.com", "displayName": "x", "name": {"givenName": {"deep": [1]}}}),
        json!({"userName": "sturdy@example.com", "displayName": "\u{0000}"}),
        json!({"userName": "sturdy@example.com", "displayName": "x".repeat(100_000)}),
        json!({"userName": format!("{}@example.com", "a".repeat(300)), "displayName": "x"}),
        json!({"userName": "sturdy@example.com", "displayName": "x", "phoneNumbers": [{"value": null}]}),
        json!({"userName": "sturdy@example.com", "displayName": "x", "phoneNumbers": [7]}),
        json!({"userName": "sturdy@example.com", "displayName": "x", "externalId": 1.5}),
    ];
    for body in bodies {
        for method in ["POST", "PUT"] {
            let path = if method == "POST" {
                app.scim("/Users")
            } else {
                app.scim(&format!("/Users/{user}"))
            };
            let res = app.request(method, &path, Some(body.clone())).await;
            if res.status >= 500 {
                failures.push(format!("{method} {body}: {} {}", res.status, res.text));
            }
            assert_no_internals(&res);
        }
    }
    let group = app.create_group("Sturdy", None).await;
    let nul_members = [
        (
            "PATCH",
            patch_op(json!([{"op": "add", "path": "members", "value": [{"value": "\u{0000}"}]}])),
        ),
        (
            "PATCH",
            patch_op(json!([{"op": "remove", "path": "members[value eq \"\u{0000}\"]"}])),
        ),
        (
            "PATCH",
            patch_op(json!([{"op": "replace", "path": "displayName", "value": "a\u{0000}b"}])),
        ),
        (
            "PATCH",
            patch_op(json!([{"op": "replace", "path": "externalId", "value": "a\u{0000}b"}])),
        ),
        (
            "PUT",
            json!({"displayName": "x", "members": [{"value": "\u{0000}"}]}),
        ),
        ("PUT", json!({"displayName": "x", "externalId": "\u{0000}"})),
    ];
    for (method, body) in nul_members {
        let res = app
            .request(
                method,
                &app.scim(&format!("/Groups/{group}")),
                Some(body.clone()),
            )
            .await;
        if res.status >= 500 {
            failures.push(format!(
                "{method} group {body}: {} {}",
                res.status, res.text
            ));
        }
    }
    let res = app
        .request(
            "PATCH",
            &app.scim(&format!("/Users/{user}")),
            Some(patch_op(
                json!([{"op": "replace", "path": "externalId", "value": "\u{0000}"}]),
            )),
        )
        .await;
    if res.status >= 500 {
        failures.push(format!(
            "PATCH user externalId NUL: {} {}",
            res.status, res.text
        ));
    }
    let auth = format!("Bearer {APP_TOKEN}");
    for (path, body) in [
        ("/app/v1/sessions", json!({"userId": "\u{0000}"})),
        ("/app/v1/sessions/introspect", json!({"token": "\u{0000}"})),
    ] {
        let res = app
            .request_with(
                "POST",
                path,
                Some(body.clone()),
                &[("authorization", &auth)],
            )
            .await;
        if res.status >= 500 {
            failures.push(format!("POST {path} {body}: {} {}", res.status, res.text));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

async fn responses_carry_a_request_id(app: &TestApp) {
    let res = app.get(&app.scim("/Users")).await;
    assert!(res.header("x-request-id").is_some_and(|id| !id.is_empty()));
    let res = app
        .request_with(
            "GET",
            &app.scim("/Users"),
            None,
            &[("x-request-id", "trace-me-42")],
        )
        .await;
    assert_eq!(res.header("x-request-id"), Some("trace-me-42"));
}

backends!(
    malformed_json_is_400_invalid_syntax,
    deeply_nested_json_is_400_not_a_crash,
    json_media_types_are_accepted,
    wrong_content_type_is_415_scim_error,
    oversized_body_is_413_scim_error,
    unknown_paths_are_404_scim_errors,
    wrong_methods_are_405_scim_errors,
    no_request_is_answered_with_a_500,
    responses_carry_a_request_id,
);

/// A deployment under the base path of the integration guide.
mod custom_base_path {
    use super::*;

    fn config() -> ServerConfig {
        ServerConfig {
            scim_base_path: "core/v1/scim/v2/".to_owned(),
            ..test_config()
        }
    }

    async fn guide_base_path_serves_scim_and_the_default_is_gone(app: &TestApp) {
        let res = app
            .request(
                "POST",
                "/core/v1/scim/v2/Users",
                Some(json!({"userName": "based@example.com", "displayName": "B"})),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
        let id = res.body["id"].as_str().unwrap();
        assert_eq!(
            res.header("location"),
            Some(format!("http://scim.test/core/v1/scim/v2/Users/{id}").as_str())
        );
        let res = app
            .get("/core/v1/scim/v2/Users?aadOptscim062020&filter=userName+eq+%22based%40example.com%22")
            .await;
        assert_eq!(res.ids(), vec![id.to_owned()]);
        let res = app.get("/core/v1/scim/v2/ServiceProviderConfig").await;
        assert_eq!(res.status, 200);
        assert_eq!(
            res.body["meta"]["location"],
            "http://scim.test/core/v1/scim/v2/ServiceProviderConfig"
        );

        app.get("/scim/v2/Users").await.assert_error(404, None);
        app.get(&format!("/scim/v2/Users/{id}"))
            .await
            .assert_error(404, None);
        app.get("/scim/v2/ServiceProviderConfig")
            .await
            .assert_error(404, None);
    }

    backends!(config = config(); guide_base_path_serves_scim_and_the_default_is_gone);
}

/// A deployment behind a proxy, with a small body limit.
mod public_url_and_small_bodies {
    use super::*;

    fn config() -> ServerConfig {
        ServerConfig {
            public_url: Some("https://api.eu.example.com/".to_owned()),
            max_body_bytes: 2048,
            ..test_config()
        }
    }

    async fn locations_use_the_public_url_and_small_limit_applies(app: &TestApp) {
        let res = app
            .request(
                "POST",
                &app.scim("/Users"),
                Some(json!({"userName": "pub@example.com", "displayName": "P"})),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
        assert!(
            res.header("location")
                .is_some_and(|l| l.starts_with("https://api.eu.example.com/scim/v2/Users/")),
            "{:?}",
            res.header("location")
        );
        let res = app
            .request(
                "POST",
                &app.scim("/Users"),
                Some(json!({"userName": "big@example.com", "displayName": "x".repeat(4096)})),
            )
            .await;
        res.assert_error(413, None);
    }

    backends!(config = config(); locations_use_the_public_url_and_small_limit_applies);
}

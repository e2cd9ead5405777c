//! The host application's event feed (`GET /app/v1/events`): sequence
//! order, cursors that never skip, filters, long polling, retention's
//! 410, and bad input refused in words.

use scimitar_core::model::now;
use scimitar_core::store::Expiring;
use serde_json::{Value, json};

use crate::common::*;

async fn feed(app: &TestApp, query: &str) -> TestResponse {
    let auth = format!("Bearer {APP_TOKEN}");
    app.request_with(
        "GET",
        &format!("/app/v1/events{query}"),
        None,
        &[("authorization", &auth)],
    )
    .await
}

fn types(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

fn seqs(page: &Value) -> Vec<i64> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect()
}

async fn the_feed_follows_the_outbox_in_order_and_never_skips(app: &TestApp) {
    let user = app.create_user("ann@example.com").await;
    let group = app.create_group("Staff", Some("obj-1")).await;
    app.request(
        "PATCH",
        &app.scim(&format!("/Groups/{group}")),
        Some(patch_op(json!([
            {"op": "add", "path": "members", "value": [{"value": user}]}
        ]))),
    )
    .await;
    app.request("DELETE", &app.scim(&format!("/Users/{user}")), None)
        .await;
    let (other, other_key) = app.other_tenant().await;
    app.request_as(
        &other_key,
        "POST",
        &app.scim("/Users"),
        Some(json!({
            "schemas": [USER_SCHEMA], "userName": "theirs@example.com", "displayName": "Theirs"
        })),
    )
    .await;

    let all = feed(app, "").await;
    assert_eq!(all.status, 200, "{}", all.text);
    let s = seqs(&all.body);
    assert!(s.windows(2).all(|w| w[0] < w[1]), "in order: {s:?}");
    assert_eq!(all.body["next"], json!(s.last().unwrap().to_string()));
    let first = &all.body["events"][0];
    assert_eq!(first["id"], json!(format!("evt_{}", s[0])));
    for field in ["id", "seq", "type", "tenantId", "occurredAt", "data"] {
        assert!(!first[field].is_null(), "{field} in {first}");
    }

    // One tenant, in pages of two, joined: the same events, none twice.
    let mut after = String::new();
    let mut paged = Vec::new();
    loop {
        let q = format!("?tenant={}&limit=2{after}", app.tenant);
        let page = feed(app, &q).await;
        assert_eq!(page.status, 200, "{}", page.text);
        if page.body["events"].as_array().unwrap().is_empty() {
            assert_eq!(
                format!("&after={}", page.body["next"].as_str().unwrap()),
                after
            );
            break;
        }
        paged.extend(types(&page.body));
        after = format!("&after={}", page.body["next"].as_str().unwrap());
    }
    assert_eq!(
        paged,
        [
            "tenant.created",
            "apikey.issued",
            "user.created",
            "group.created",
            "group.members_added",
            "user.deprovisioned"
        ]
    );
    let user_events = feed(
        app,
        &format!(
            "?tenant={}&types=user.created,user.deprovisioned",
            app.tenant
        ),
    )
    .await;
    assert_eq!(
        types(&user_events.body),
        ["user.created", "user.deprovisioned"]
    );
    assert_eq!(
        user_events.body["events"][0]["data"]["resourceId"],
        json!(user)
    );
    let theirs = feed(app, &format!("?tenant={other}&types=user.created")).await;
    assert_eq!(theirs.body["events"].as_array().unwrap().len(), 1);
}

async fn a_waiting_follower_hears_of_the_next_commit(app: &TestApp) {
    let now = feed(app, "").await;
    let next = now.body["next"].as_str().unwrap().to_owned();
    // Nothing new, no wait: at once, empty, the same cursor.
    let empty = feed(app, &format!("?after={next}")).await;
    assert_eq!(
        (
            empty.body["events"].as_array().unwrap().len(),
            empty.body["next"].as_str()
        ),
        (0, Some(next.as_str()))
    );
    let waiting = {
        let q = format!("?after={next}&wait=20&types=user.deprovisioned");
        async move { feed(app, &q).await }
    };
    let change = async {
        let user = app.create_user("leaver@example.com").await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        app.request(
            "PATCH",
            &app.scim(&format!("/Users/{user}")),
            Some(patch_op(json!([
                {"op": "replace", "path": "active", "value": "False"}
            ]))),
        )
        .await;
        user
    };
    let (answer, user) = tokio::join!(waiting, change);
    assert_eq!(
        types(&answer.body),
        ["user.deprovisioned"],
        "{}",
        answer.text
    );
    assert_eq!(answer.body["events"][0]["data"]["resourceId"], json!(user));
}

async fn a_cursor_older_than_retention_is_gone(app: &TestApp) {
    app.create_user("old@example.com").await;
    let before = feed(app, "").await;
    let last: i64 = before.body["next"].as_str().unwrap().parse().unwrap();
    let deleted = app
        .store
        .prune(Expiring::Events, now() + 1_000_000, 1000)
        .await
        .unwrap();
    assert!(deleted > 0);
    let gone = feed(app, "?after=0").await;
    gone.assert_error(410, None);
    assert!(gone.detail().contains("retention"), "{}", gone.text);
    // From the oldest kept: nothing, and a cursor past what was deleted.
    let fresh = feed(app, "").await;
    assert_eq!(fresh.status, 200);
    assert_eq!(fresh.body["next"], json!(last.to_string()));
    assert_eq!(feed(app, &format!("?after={last}")).await.status, 200);
}

async fn bad_feed_queries_are_refused_in_words(app: &TestApp) {
    for (query, words) in [
        ("?after=-1", "'after'"),
        ("?after=abc", "'after'"),
        ("?limit=0", "'limit'"),
        ("?limit=1001", "'limit'"),
        ("?limit=many", "'limit'"),
        ("?wait=31", "'wait'"),
        ("?wait=-1", "'wait'"),
        ("?types=user.created,user.exploded", "user.exploded"),
    ] {
        let res = feed(app, query).await;
        res.assert_error(400, Some("invalidValue"));
        assert!(res.detail().contains(words), "{query}: {}", res.text);
    }
    feed(app, "?tenant=not-a-tenant")
        .await
        .assert_error(404, None);
    feed(
        app,
        &format!("?tenant={}", scimitar_core::ids::TenantId::generate()),
    )
    .await
    .assert_error(404, None);
    // The application's token only.
    for token in ["nope", ADMIN_TOKEN] {
        let res = app
            .request_with(
                "GET",
                "/app/v1/events",
                None,
                &[("authorization", &format!("Bearer {token}"))],
            )
            .await;
        assert_eq!(res.status, 401, "{token}");
    }
    let with_key = app.get("/app/v1/events").await;
    assert_eq!(
        with_key.status, 401,
        "a tenant's SCIM key opens nothing here"
    );
}

async fn events_say_which_request_and_key_made_them(app: &TestApp) {
    let user = app.create_user("leaver@example.com").await;
    let auth = format!("Bearer {APP_TOKEN}");
    let session = app
        .request_with(
            "POST",
            "/app/v1/sessions",
            Some(json!({"userId": user})),
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(session.status, 201);
    let start = feed(app, "").await.body["next"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .request_with(
            "PATCH",
            &app.scim(&format!("/Users/{user}")),
            Some(patch_op(
                json!([{"op": "replace", "path": "active", "value": "False"}]),
            )),
            &[("x-request-id", "entra-req-42")],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let page = feed(app, &format!("?after={start}")).await;
    assert_eq!(
        types(&page.body),
        ["user.deprovisioned", "sessions.revoked"]
    );
    let key = app
        .store
        .list_api_keys(Some(&app.tenant))
        .await
        .unwrap()
        .remove(0)
        .id;
    for event in page.body["events"].as_array().unwrap() {
        assert_eq!(event["data"]["requestId"], json!("entra-req-42"), "{event}");
        assert_eq!(event["data"]["apiKeyId"], json!(key.as_str()), "{event}");
    }
    // Events carry the resource's new version, as its ETag says it.
    let created = feed(app, &format!("?types=user.created&tenant={}", app.tenant)).await;
    assert_eq!(created.body["events"][0]["data"]["version"], json!(1));
    let gone = &page.body["events"][0]["data"];
    assert_eq!(
        (gone["how"].as_str(), gone["sessionsRevoked"].as_i64()),
        (Some("PATCH"), Some(1))
    );
    assert_eq!(page.body["events"][1]["data"]["sessions"], json!(1));
    // An administrator's change names no request and no key.
    let admin_made = feed(app, "?types=tenant.created").await;
    let data = &admin_made.body["events"][0]["data"];
    assert!(
        data.get("requestId").is_none() && data.get("apiKeyId").is_none(),
        "{data}"
    );
}

async fn large_member_changes_are_split_into_events_of_a_thousand(app: &TestApp) {
    let mut members = Vec::new();
    for i in 0..1001 {
        let user = app
            .store
            .create_user(
                &app.tenant,
                scimitar_proto::resource::parse_user(&json!({
                    "userName": format!("m{i}@example.com"), "displayName": format!("M {i}")
                }))
                .unwrap()
                .value,
            )
            .await
            .unwrap();
        members.push(json!({"value": user.id.as_str()}));
    }
    let group = app.create_group("Everyone", None).await;
    let start = feed(app, "").await.body["next"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .request(
            "PATCH",
            &app.scim(&format!("/Groups/{group}")),
            Some(patch_op(json!([
                {"op": "add", "path": "members", "value": members}
            ]))),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    let page = feed(app, &format!("?after={start}&types=group.members_added")).await;
    let sizes: Vec<usize> = page.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["members"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [1000, 1]);
    // Both events of the one change name the group's version after it,
    // which is the group's ETag.
    let etag = app.get(&app.scim(&format!("/Groups/{group}"))).await;
    let etag = etag.header("etag").unwrap().to_owned();
    for event in page.body["events"].as_array().unwrap() {
        assert_eq!(
            format!("W/\"{}\"", event["data"]["version"]),
            etag,
            "{event}"
        );
    }
}

backends!(
    events_say_which_request_and_key_made_them,
    large_member_changes_are_split_into_events_of_a_thousand,
    the_feed_follows_the_outbox_in_order_and_never_skips,
    a_waiting_follower_hears_of_the_next_commit,
    a_cursor_older_than_retention_is_gone,
    bad_feed_queries_are_refused_in_words,
);

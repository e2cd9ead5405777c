//! `/Users` over HTTP: create, read, list, replace, patch, delete, with the
//! shapes Entra ID and Okta send and the bad inputs they sometimes send.

use crate::common::*;
use scimitar_core::ids::UserId;
use serde_json::{Value, json};

fn user_body(user_name: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "displayName": "Ann Lee",
        "active": true,
    })
}

/// How many users the tenant has whose userName is `user_name`.
async fn count_named(app: &TestApp, user_name: &str) -> u64 {
    let path = app.scim(&format!(
        "/Users?filter=userName+eq+%22{}%22",
        user_name.replace('@', "%40")
    ));
    let res = app.get(&path).await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body["totalResults"].as_u64().expect("totalResults")
}

async fn total_users(app: &TestApp) -> u64 {
    let res = app.get(&app.scim("/Users?count=0")).await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body["totalResults"].as_u64().expect("totalResults")
}

/// Adds `user` to `group` through SCIM.
async fn add_member(app: &TestApp, group: &str, user: &str) {
    let res = app
        .request(
            "PATCH",
            &app.scim(&format!("/Groups/{group}")),
            Some(patch_op(
                json!([{"op": "add", "path": "members", "value": [{"value": user}]}]),
            )),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
}

async fn deprovision_events(app: &TestApp, user: &str) -> usize {
    app.store
        .events(Some(&app.tenant), &[], 0, 1000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == "user.deprovisioned" && e.resource_id == user)
        .count()
}

/// Asserts the user, its memberships and its session are gone, and that
/// one `user.deprovisioned` event was written.
async fn assert_deprovisioned(app: &TestApp, user: &str, group: &str, session: &str) {
    let res = app.get(&app.scim(&format!("/Users/{user}"))).await;
    res.assert_error(404, None);
    let res = app.get(&app.scim(&format!("/Groups/{group}"))).await;
    assert_eq!(res.body["members"], json!([]), "{}", res.text);
    assert!(
        app.store
            .introspect_session(session)
            .await
            .unwrap()
            .is_none(),
        "the session died with the user"
    );
    assert_eq!(deprovision_events(app, user).await, 1);
}

/// A user in a group with a live session: what deprovisioning must remove.
async fn provisioned_user(app: &TestApp, user_name: &str) -> (String, String, String) {
    let user = app.create_user(user_name).await;
    let group = app.create_group("Stockholm staff", Some("grp-1")).await;
    add_member(app, &group, &user).await;
    let (_, session) = app
        .store
        .create_session(&UserId::from(user.clone()), 3600)
        .await
        .unwrap();
    assert!(
        app.store
            .introspect_session(&session)
            .await
            .unwrap()
            .is_some()
    );
    (user, group, session)
}

// ---------------------------------------------------------------- create

async fn entra_create_user_answers_201_with_location_etag_and_derived_emails(app: &TestApp) {
    let res = app
        .request(
            "POST",
            &app.scim("/Users"),
            Some(fixture("users/entra_create_user.json")),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert!(
        res.header("content-type")
            .is_some_and(|c| c.starts_with("application/scim+json"))
    );
    let id = res.body["id"].as_str().expect("id");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "id is a UUID: {id}");
    let location = res.header("location").expect("Location");
    assert_eq!(location, res.body["meta"]["location"].as_str().unwrap());
    assert!(
        location.ends_with(&format!("/scim/v2/Users/{id}")),
        "{location}"
    );
    assert_eq!(res.header("etag"), res.body["meta"]["version"].as_str());
    assert_eq!(res.body["meta"]["resourceType"], "User");
    assert_eq!(res.body["userName"], "Mia.Berg@contoso.example");
    // emails are derived from userName; what the client sent is ignored.
    assert_eq!(
        res.body["emails"],
        json!([{"value": "Mia.Berg@contoso.example", "type": "work", "primary": true}])
    );
    // Normalised to E.164.
    assert_eq!(res.body["phoneNumbers"][0]["value"], "+46701234567");
    assert_eq!(res.body["title"], "Site Manager");
    assert_eq!(
        res.body["externalId"],
        "7f2c1d9e-5b1a-4a63-9d0e-2b8c4f1a6e30"
    );
    assert_eq!(res.body["active"], true);
    assert_eq!(res.body["groups"], json!([]));
    assert!(
        res.body
            .get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
            .is_none()
    );

    let read = app.get(&app.scim(&format!("/Users/{id}"))).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["phoneNumbers"], res.body["phoneNumbers"]);
}

async fn display_name_is_derived_from_name(app: &TestApp) {
    let res = app
        .request(
            "POST",
            &app.scim("/Users"),
            Some(json!({
                "schemas": [USER_SCHEMA],
                "userName": "formatted@example.com",
                "name": {"formatted": "Dr. Eva Ek", "givenName": "Eva", "familyName": "Ek"},
            })),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["displayName"], "Dr. Eva Ek");

    let res = app
        .request(
            "POST",
            &app.scim("/Users"),
            Some(json!({
                "userName": "parts@example.com",
                "name": {"givenName": "Eva", "familyName": "Ek"},
            })),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["displayName"], "Eva Ek");
    assert_eq!(res.body["name"]["givenName"], "Eva");
}

async fn okta_create_user_ignores_password_and_logs_it(app: &TestApp) {
    let res = app
        .request(
            "POST",
            &app.scim("/Users"),
            Some(fixture("users/okta_create_user.json")),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert!(res.body.get("password").is_none());
    assert_eq!(res.body["displayName"], "Oskar Lind");
    // Okta's tests read the name back.
    let read = app
        .get(&app.scim(&format!("/Users/{}", res.body["id"].as_str().unwrap())))
        .await;
    assert_eq!(
        read.body["name"],
        json!({"givenName": "Oskar", "familyName": "Lind"})
    );

    let log = app.log_entries(2).await;
    let post = log
        .iter()
        .find(|e| e.method == "POST")
        .expect("the POST is logged");
    assert_eq!(post.status, 201);
    assert!(
        post.ignored.iter().any(|i| i == "password"),
        "{:?}",
        post.ignored
    );
    assert!(
        post.ignored.iter().any(|i| i == "locale"),
        "{:?}",
        post.ignored
    );
}

async fn enterprise_extension_is_ignored_and_logged(app: &TestApp) {
    let res = app
        .request(
            "POST",
            &app.scim("/Users"),
            Some(fixture("users/entra_create_user.json")),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let log = app.log_entries(1).await;
    assert!(
        log[0]
            .ignored
            .iter()
            .any(|i| i.contains("enterprise:2.0:User")),
        "{:?}",
        log[0].ignored
    );
}

async fn null_values_mean_absent(app: &TestApp) {
    let res = app
        .request(
            "POST",
            &app.scim("/Users"),
            Some(json!({
                "userName": "nulls@example.com",
                "displayName": "Nulls",
                "title": null,
                "externalId": null,
                "phoneNumbers": null,
                "active": null,
            })),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert!(res.body.get("title").is_none());
    assert!(res.body.get("externalId").is_none());
    assert!(res.body.get("phoneNumbers").is_none());
    assert_eq!(res.body["active"], true);
}

async fn post_inactive_user_is_400_and_creates_nothing(app: &TestApp) {
    let mut body = user_body("inactive@example.com");
    body["active"] = json!(false);
    let res = app.request("POST", &app.scim("/Users"), Some(body)).await;
    res.assert_error(400, Some("invalidValue"));
    assert_eq!(count_named(app, "inactive@example.com").await, 0);

    // Entra's string form is the same thing.
    let mut body = user_body("inactive@example.com");
    body["active"] = json!("False");
    let res = app.request("POST", &app.scim("/Users"), Some(body)).await;
    res.assert_error(400, Some("invalidValue"));
    assert_eq!(total_users(app).await, 0);
}

async fn invalid_user_bodies_are_400_invalid_value_and_create_nothing(app: &TestApp) {
    let cases = [
        (
            "not an email",
            json!({"userName": "ann.lee", "displayName": "A"}),
        ),
        (
            "email with space",
            json!({"userName": "ann lee@example.com", "displayName": "A"}),
        ),
        ("missing userName", json!({"displayName": "A"})),
        (
            "empty userName",
            json!({"userName": "", "displayName": "A"}),
        ),
        (
            "userName a number",
            json!({"userName": 42, "displayName": "A"}),
        ),
        (
            "no displayName or name",
            json!({"userName": "a@example.com"}),
        ),
        (
            "displayName an object",
            json!({"userName": "a@example.com", "displayName": {"x": 1}}),
        ),
        (
            "title a list",
            json!({"userName": "a@example.com", "displayName": "A", "title": [1]}),
        ),
        (
            "active not a boolean",
            json!({"userName": "a@example.com", "displayName": "A", "active": "maybe"}),
        ),
        (
            "phone not E.164",
            json!({"userName": "a@example.com", "displayName": "A",
            "phoneNumbers": [{"type": "work", "value": "070-123 45 67"}]}),
        ),
        (
            "phone with letters",
            json!({"userName": "a@example.com", "displayName": "A",
            "phoneNumbers": [{"type": "work", "value": "+46 CALL ME"}]}),
        ),
        (
            "two phones",
            json!({"userName": "a@example.com", "displayName": "A",
            "phoneNumbers": [{"type": "work", "value": "+46701234567"},
                             {"type": "mobile", "value": "+46701234568"}]}),
        ),
        (
            "phoneNumbers not a list",
            json!({"userName": "a@example.com", "displayName": "A",
            "phoneNumbers": "+46701234567"}),
        ),
        (
            "name a string",
            json!({"userName": "a@example.com", "displayName": "A", "name": "Ann"}),
        ),
    ];
    for (why, body) in cases {
        let res = app.request("POST", &app.scim("/Users"), Some(body)).await;
        assert_eq!(res.status, 400, "{why}: {}", res.text);
        res.assert_error(400, Some("invalidValue"));
    }
    assert_eq!(total_users(app).await, 0);
}

async fn body_that_is_not_an_object_is_400_invalid_syntax(app: &TestApp) {
    for body in [json!([1, 2]), json!("user"), json!(null), json!(7)] {
        let res = app.request("POST", &app.scim("/Users"), Some(body)).await;
        res.assert_error(400, Some("invalidSyntax"));
    }
    assert_eq!(total_users(app).await, 0);
}

async fn user_name_clash_is_409_uniqueness_in_same_tenant(app: &TestApp) {
    app.create_user("dup@example.com").await;
    let res = app
        .request(
            "POST",
            &app.scim("/Users"),
            Some(user_body("DUP@Example.com")),
        )
        .await;
    res.assert_error(409, Some("uniqueness"));
    assert_eq!(total_users(app).await, 1);
}

async fn user_name_differing_in_case_in_other_tenant_is_409_without_naming_it(app: &TestApp) {
    let (other, other_key) = app.other_tenant().await;
    let res = app
        .request_as(
            &other_key,
            "POST",
            &app.scim("/Users"),
            Some(user_body("Ann.Lee@Example.com")),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let res = app
        .request(
            "POST",
            &app.scim("/Users"),
            Some(user_body("ann.lee@example.com")),
        )
        .await;
    res.assert_error(409, Some("uniqueness"));
    assert!(!res.text.contains(other.as_str()), "{}", res.text);
    assert!(!res.text.contains("Globex"), "{}", res.text);
    assert_eq!(total_users(app).await, 0);
}

// ---------------------------------------------------------------- read

async fn get_user_with_matching_if_none_match_is_304(app: &TestApp) {
    let id = app.create_user("etag@example.com").await;
    let path = app.scim(&format!("/Users/{id}"));
    let res = app.get(&path).await;
    let etag = res.header("etag").expect("ETag").to_owned();
    let res = app
        .request_with("GET", &path, None, &[("if-none-match", &etag)])
        .await;
    assert_eq!(res.status, 304);
    assert!(res.text.is_empty());
    assert_eq!(res.header("etag"), Some(etag.as_str()));
    let res = app
        .request_with("GET", &path, None, &[("if-none-match", "W/\"999\"")])
        .await;
    assert_eq!(res.status, 200);
}

async fn unknown_user_is_404_scim_error(app: &TestApp) {
    let res = app
        .get(&app.scim("/Users/2f0f7d5c-1111-4e5c-9b0a-000000000000"))
        .await;
    res.assert_error(404, None);
    let res = app.get(&app.scim("/Users/not-a-uuid")).await;
    res.assert_error(404, None);
}

async fn get_user_lists_its_groups(app: &TestApp) {
    let user = app.create_user("member@example.com").await;
    let group = app.create_group("Oslo staff", Some("ext-oslo")).await;
    add_member(app, &group, &user).await;
    let res = app.get(&app.scim(&format!("/Users/{user}"))).await;
    assert_eq!(res.status, 200);
    let groups = res.body["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["value"], group.as_str());
    assert_eq!(groups[0]["display"], "Oslo staff");
    assert!(
        groups[0]["$ref"]
            .as_str()
            .is_some_and(|r| r.ends_with(&format!("/Groups/{group}")))
    );
}

async fn get_user_honours_attributes_and_excluded_attributes(app: &TestApp) {
    let id = app.create_user("proj@example.com").await;
    let res = app
        .get(&app.scim(&format!("/Users/{id}?attributes=userName")))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["id"], id.as_str());
    assert_eq!(res.body["userName"], "proj@example.com");
    assert!(res.body.get("displayName").is_none(), "{}", res.text);
    assert!(res.body.get("emails").is_none(), "{}", res.text);

    let res = app
        .get(&app.scim(&format!("/Users/{id}?excludedAttributes=emails,groups")))
        .await;
    assert_eq!(res.status, 200);
    assert!(res.body.get("emails").is_none());
    assert!(res.body.get("groups").is_none());
    assert_eq!(res.body["displayName"], "User proj@example.com");
}

// ---------------------------------------------------------------- list

async fn entra_test_connection_filter_finds_nothing(app: &TestApp) {
    app.create_user("someone@example.com").await;
    let res = app
        .get(&app.scim(
            "/Users?aadOptscim062020&filter=userName+eq+%229a2b5c4d-1111-2222-3333-444455556666%22",
        ))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["schemas"], json!([LIST_SCHEMA]));
    assert_eq!(res.body["totalResults"], 0);
    assert_eq!(res.body["Resources"], json!([]));
}

async fn filter_on_user_name_ignores_case(app: &TestApp) {
    let id = app.create_user("Case.Person@Example.com").await;
    app.create_user("other@example.com").await;
    let res = app
        .get(&app.scim("/Users?filter=userName%20eq%20%22case.person%40example.COM%22"))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.ids(), vec![id]);
    assert_eq!(res.body["totalResults"], 1);
    assert_eq!(res.body["itemsPerPage"], 1);
}

async fn filters_cover_the_grammar(app: &TestApp) {
    let a = app.create_user("alpha@example.com").await;
    let b = app.create_user("beta@corp.example").await;
    let res = app
        .request(
            "PATCH",
            &app.scim(&format!("/Users/{b}")),
            Some(patch_op(
                json!([{"op": "add", "path": "title", "value": "Boss"}]),
            )),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let cases: [(&str, Vec<&String>); 8] = [
        ("userName sw \"ALPHA\"", vec![&a]),
        ("userName ew \"corp.example\"", vec![&b]),
        ("title pr", vec![&b]),
        ("not (title pr)", vec![&a]),
        ("emails[type eq \"work\" and value co \"corp\"]", vec![&b]),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"alpha@example.com\"",
            vec![&a],
        ),
        (
            "(userName eq \"alpha@example.com\") or title eq \"boss\"",
            vec![&a, &b],
        ),
        (
            "meta.created gt \"2000-01-01T00:00:00Z\" and userName ne \"alpha@example.com\"",
            vec![&b],
        ),
    ];
    for (filter, expected) in cases {
        let path = app.scim(&format!("/Users?filter={}&sortBy=userName", encode(filter)));
        let res = app.get(&path).await;
        assert_eq!(res.status, 200, "{filter}: {}", res.text);
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(res.ids(), expected, "{filter}");
    }
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn invalid_filter_is_400_pointing_at_the_position(app: &TestApp) {
    let res = app
        .get(&app.scim(&format!("/Users?filter={}", encode("userName eq"))))
        .await;
    res.assert_error(400, Some("invalidFilter"));
    assert!(res.detail().contains("position"), "{}", res.detail());

    let res = app
        .get(&app.scim(&format!("/Users?filter={}", encode("userName zz \"a\""))))
        .await;
    res.assert_error(400, Some("invalidFilter"));
    assert!(res.detail().contains("position 9"), "{}", res.detail());

    for bad in [
        "userName eq \"unterminated",
        "(userName eq \"a\"",
        "active gt true",
        "title eq 5",
        "userName eq \"a\" and",
        "emails[type eq \"work\"",
    ] {
        let res = app
            .get(&app.scim(&format!("/Users?filter={}", encode(bad))))
            .await;
        res.assert_error(400, Some("invalidFilter"));
    }
}

async fn huge_and_deep_filters_are_400_not_500(app: &TestApp) {
    let huge = format!("userName eq \"{}@example.com\"", "a".repeat(20_000));
    let res = app
        .get(&app.scim(&format!("/Users?filter={}", encode(&huge))))
        .await;
    res.assert_error(400, Some("invalidFilter"));

    let deep = format!(
        "{}userName eq \"a@b.c\"{}",
        "(".repeat(500),
        ")".repeat(500)
    );
    let res = app
        .get(&app.scim(&format!("/Users?filter={}", encode(&deep))))
        .await;
    res.assert_error(400, Some("invalidFilter"));

    let nots = format!("{}(title pr){}", "not (".repeat(200), ")".repeat(200));
    let res = app
        .get(&app.scim(&format!("/Users?filter={}", encode(&nots))))
        .await;
    res.assert_error(400, Some("invalidFilter"));

    let many = vec!["title eq \"x\""; 500].join(" or ");
    let res = app
        .get(&app.scim(&format!("/Users?filter={}", encode(&many))))
        .await;
    res.assert_error(400, Some("invalidFilter"));
}

async fn pages_with_start_index_and_count_in_a_stable_order(app: &TestApp) {
    for i in 0..5 {
        app.create_user(&format!("page{i}@example.com")).await;
    }
    let mut seen = Vec::new();
    for start in [1, 3, 5] {
        let res = app
            .get(&app.scim(&format!("/Users?startIndex={start}&count=2")))
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(res.body["totalResults"], 5);
        assert_eq!(res.body["startIndex"], start);
        assert_eq!(res.body["itemsPerPage"], res.ids().len());
        seen.extend(res.ids());
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "every user once: {seen:?}");

    // startIndex below 1 is read as 1 (RFC 7644 §3.4.2.4).
    let res = app.get(&app.scim("/Users?startIndex=0&count=2")).await;
    assert_eq!(res.body["startIndex"], 1);
    assert_eq!(res.ids(), seen[..2].to_vec());

    // count=0: only the total.
    let res = app.get(&app.scim("/Users?count=0")).await;
    assert_eq!(res.body["totalResults"], 5);
    assert_eq!(res.body["Resources"], json!([]));

    // Past the end: an empty page, not an error.
    let res = app.get(&app.scim("/Users?startIndex=100")).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.ids(), Vec::<String>::new());
}

async fn non_numeric_paging_values_are_400_invalid_value(app: &TestApp) {
    for query in [
        "count=ten",
        "startIndex=1.5",
        "sortOrder=sideways",
        "sortBy=nonsense",
    ] {
        let res = app.get(&app.scim(&format!("/Users?{query}"))).await;
        res.assert_error(400, Some("invalidValue"));
    }
}

async fn sort_by_user_name_in_both_orders(app: &TestApp) {
    let b = app.create_user("bravo@example.com").await;
    let a = app.create_user("Alpha@example.com").await;
    let c = app.create_user("charlie@example.com").await;
    let res = app.get(&app.scim("/Users?sortBy=userName")).await;
    assert_eq!(res.ids(), vec![a.clone(), b.clone(), c.clone()]);
    let res = app
        .get(&app.scim("/Users?sortBy=userName&sortOrder=descending"))
        .await;
    assert_eq!(res.ids(), vec![c, b, a]);
}

async fn list_honours_attributes_and_excluded_attributes(app: &TestApp) {
    app.create_user("listproj@example.com").await;
    let res = app
        .get(&app.scim("/Users?attributes=userName,displayName"))
        .await;
    assert_eq!(res.status, 200);
    let user = &res.body["Resources"][0];
    assert_eq!(user["userName"], "listproj@example.com");
    assert!(user.get("id").is_some());
    assert!(user.get("emails").is_none());
    assert!(user.get("meta").is_none() || user["meta"].is_object());
    let res = app
        .get(&app.scim("/Users?excludedAttributes=displayName"))
        .await;
    let user = &res.body["Resources"][0];
    assert!(user.get("displayName").is_none());
    assert_eq!(user["userName"], "listproj@example.com");
}

async fn unknown_query_parameters_are_ignored(app: &TestApp) {
    let id = app.create_user("aad@example.com").await;
    let res = app
        .get(&app.scim("/Users?aadOptscim062020&foo=bar&=&&x"))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.ids(), vec![id.clone()]);
    let res = app
        .get(&app.scim(&format!("/Users/{id}?aadOptscim062020")))
        .await;
    assert_eq!(res.status, 200);
}

async fn count_above_default_maximum_is_clamped_not_refused(app: &TestApp) {
    app.create_user("clamp@example.com").await;
    let res = app
        .get(&app.scim("/Users?count=100000000000000000000"))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.ids().len(), 1);
}

// ---------------------------------------------------------------- replace

async fn put_replaces_the_user_and_answers_with_groups(app: &TestApp) {
    let id = app.create_user("put@example.com").await;
    let group = app.create_group("Put group", None).await;
    add_member(app, &group, &id).await;
    let before = app.get(&app.scim(&format!("/Users/{id}"))).await;
    let res = app
        .request(
            "PUT",
            &app.scim(&format!("/Users/{id}")),
            Some(json!({
                "schemas": [USER_SCHEMA],
                "userName": "Put.Renamed@example.com",
                "displayName": "Renamed",
                "title": "Chief",
                "name": {"givenName": "Re", "familyName": "Named"},
                "active": true,
            })),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["userName"], "Put.Renamed@example.com");
    assert_eq!(res.body["emails"][0]["value"], "Put.Renamed@example.com");
    assert_eq!(res.body["title"], "Chief");
    assert_eq!(
        res.body["groups"][0]["value"],
        group.as_str(),
        "{}",
        res.text
    );
    assert_ne!(res.header("etag"), before.header("etag"));
    assert_eq!(res.header("etag"), res.body["meta"]["version"].as_str());
    let read = app.get(&app.scim(&format!("/Users/{id}"))).await;
    assert_eq!(read.body, res.body);

    // A replacement without title removes it.
    let res = app
        .request(
            "PUT",
            &app.scim(&format!("/Users/{id}")),
            Some(json!({"userName": "put.renamed@example.com", "displayName": "Renamed"})),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert!(res.body.get("title").is_none(), "{}", res.text);
}

async fn put_with_stale_if_match_is_412_and_changes_nothing(app: &TestApp) {
    let id = app.create_user("ifmatch@example.com").await;
    let path = app.scim(&format!("/Users/{id}"));
    let mut body = user_body("ifmatch@example.com");
    body["displayName"] = json!("Changed");
    let res = app
        .request_with(
            "PUT",
            &path,
            Some(body.clone()),
            &[("if-match", "W/\"999\"")],
        )
        .await;
    res.assert_error(412, None);
    assert_eq!(
        app.get(&path).await.body["displayName"],
        "User ifmatch@example.com"
    );

    let etag = app.get(&path).await.header("etag").unwrap().to_owned();
    let res = app
        .request_with("PUT", &path, Some(body), &[("if-match", &etag)])
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["displayName"], "Changed");
}

async fn okta_put_deactivates(app: &TestApp) {
    let (user, group, session) = provisioned_user(app, "okta.put@example.com").await;
    let mut body = user_body("okta.put@example.com");
    body["active"] = json!(false);
    let res = app
        .request("PUT", &app.scim(&format!("/Users/{user}")), Some(body))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["active"], false);
    assert_deprovisioned(app, &user, &group, &session).await;
}

async fn put_changing_phone_is_400_mutability_and_changes_nothing(app: &TestApp) {
    let mut body = user_body("phone@example.com");
    body["phoneNumbers"] = json!([{"type": "work", "value": "+46701234567"}]);
    let res = app
        .request("POST", &app.scim("/Users"), Some(body.clone()))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let id = res.body["id"].as_str().unwrap().to_owned();
    let path = app.scim(&format!("/Users/{id}"));
    let before = app.get(&path).await;

    body["displayName"] = json!("Should not stick");
    body["phoneNumbers"] = json!([{"type": "work", "value": "+46709999999"}]);
    let res = app.request("PUT", &path, Some(body.clone())).await;
    res.assert_error(400, Some("mutability"));
    assert_eq!(app.get(&path).await.body, before.body);

    // The same number (formatted differently) and no number are both fine.
    body["phoneNumbers"] = json!([{"type": "work", "value": "+46 70 123 45 67"}]);
    let res = app.request("PUT", &path, Some(body.clone())).await;
    assert_eq!(res.status, 200, "{}", res.text);
    body.as_object_mut().unwrap().remove("phoneNumbers");
    let res = app.request("PUT", &path, Some(body)).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["phoneNumbers"][0]["value"], "+46701234567");
}

async fn put_unknown_user_is_404(app: &TestApp) {
    let res = app
        .request(
            "PUT",
            &app.scim("/Users/2f0f7d5c-1111-4e5c-9b0a-000000000000"),
            Some(user_body("ghost@example.com")),
        )
        .await;
    res.assert_error(404, None);
    assert_eq!(total_users(app).await, 0);
}

async fn put_to_a_taken_user_name_is_409(app: &TestApp) {
    app.create_user("taken@example.com").await;
    let id = app.create_user("mine@example.com").await;
    let res = app
        .request(
            "PUT",
            &app.scim(&format!("/Users/{id}")),
            Some(user_body("TAKEN@example.com")),
        )
        .await;
    res.assert_error(409, Some("uniqueness"));
    let read = app.get(&app.scim(&format!("/Users/{id}"))).await;
    assert_eq!(read.body["userName"], "mine@example.com");
}

// ---------------------------------------------------------------- patch

async fn entra_disable_with_string_false(app: &TestApp) {
    let (user, group, session) = provisioned_user(app, "entra.disable@example.com").await;
    let res = app
        .request(
            "PATCH",
            &app.scim(&format!("/Users/{user}")),
            Some(fixture("users/entra_disable_string_false.json")),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["active"], false);
    assert_deprovisioned(app, &user, &group, &session).await;
    // A later POST with the same userName creates the user again.
    let again = app.create_user("entra.disable@example.com").await;
    assert_ne!(again, user);
}

async fn okta_patch_deactivates(app: &TestApp) {
    let (user, group, session) = provisioned_user(app, "okta.patch@example.com").await;
    let res = app
        .request(
            "PATCH",
            &app.scim(&format!("/Users/{user}")),
            Some(fixture("users/okta_deactivate_user.json")),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_deprovisioned(app, &user, &group, &session).await;
}

async fn entra_multi_attribute_patch_answers_200_with_groups(app: &TestApp) {
    let res = app
        .request(
            "POST",
            &app.scim("/Users"),
            Some(fixture("users/entra_create_user.json")),
        )
        .await;
    let id = res.body["id"].as_str().unwrap().to_owned();
    let group = app.create_group("Patch group", None).await;
    add_member(app, &group, &id).await;
    let res = app
        .request(
            "PATCH",
            &app.scim(&format!("/Users/{id}")),
            Some(fixture("users/entra_multi_attribute_patch.json")),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["displayName"], "Mia Berg-Holm");
    assert_eq!(res.body["title"], "Regional Manager");
    assert_eq!(res.body["name"]["familyName"], "Berg-Holm");
    assert_eq!(
        res.body["externalId"],
        "7f2c1d9e-0000-4a63-9d0e-2b8c4f1a6e30"
    );
    assert_eq!(
        res.body["groups"][0]["value"],
        group.as_str(),
        "{}",
        res.text
    );
    assert_eq!(res.header("etag"), res.body["meta"]["version"].as_str());
    let read = app.get(&app.scim(&format!("/Users/{id}"))).await;
    assert_eq!(read.body, res.body);
}

async fn entra_add_work_phone_by_value_path(app: &TestApp) {
    let id = app.create_user("addphone@example.com").await;
    let res = app
        .request(
            "PATCH",
            &app.scim(&format!("/Users/{id}")),
            Some(patch_op(json!([{
                "op": "Add",
                "path": "phoneNumbers[type eq \"work\"].value",
                "value": "+46 70 555 12 34",
            }]))),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["phoneNumbers"][0]["value"], "+46705551234");

    // Once set, a different number is refused.
    let res = app
        .request(
            "PATCH",
            &app.scim(&format!("/Users/{id}")),
            Some(patch_op(json!([{
                "op": "Replace",
                "path": "phoneNumbers[type eq \"work\"].value",
                "value": "+46700000000",
            }]))),
        )
        .await;
    res.assert_error(400, Some("mutability"));
}

async fn failing_patch_operation_leaves_the_user_unchanged(app: &TestApp) {
    let id = app.create_user("atomic@example.com").await;
    let path = app.scim(&format!("/Users/{id}"));
    let before = app.get(&path).await;
    let res = app
        .request(
            "PATCH",
            &path,
            Some(patch_op(json!([
                {"op": "replace", "path": "title", "value": "Applied?"},
                {"op": "replace", "path": "userName", "value": "not an email"},
            ]))),
        )
        .await;
    res.assert_error(400, Some("invalidValue"));
    assert_eq!(app.get(&path).await.body, before.body);

    let res = app
        .request(
            "PATCH",
            &path,
            Some(patch_op(json!([
                {"op": "replace", "path": "title", "value": "Applied?"},
                {"op": "replace", "path": "title[[", "value": "x"},
            ]))),
        )
        .await;
    res.assert_error(400, Some("invalidPath"));
    assert_eq!(app.get(&path).await.body, before.body);
}

async fn malformed_patch_requests_are_400(app: &TestApp) {
    let id = app.create_user("badpatch@example.com").await;
    let path = app.scim(&format!("/Users/{id}"));
    let bodies = [
        json!({"schemas": [PATCH_SCHEMA]}),
        json!({"schemas": [PATCH_SCHEMA], "Operations": "replace"}),
        json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "explode", "path": "title", "value": "x"}]}),
        json!({"schemas": [PATCH_SCHEMA], "Operations": [{"path": "title", "value": "x"}]}),
        json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": "perhaps"}]}),
    ];
    for body in bodies {
        let res = app.request("PATCH", &path, Some(body.clone())).await;
        assert_eq!(res.status, 400, "{body}: {}", res.text);
        assert!(res.scim_type().is_some(), "{body}: {}", res.text);
        res.assert_error(400, res.scim_type());
    }
    assert_eq!(app.get(&path).await.status, 200);
}

async fn patch_of_read_only_paths_is_refused_but_no_path_id_is_accepted(app: &TestApp) {
    let id = app.create_user("readonly@example.com").await;
    let path = app.scim(&format!("/Users/{id}"));
    // Okta sends the id back in no-path replaces: ignored, not refused.
    let res = app
        .request(
            "PATCH",
            &path,
            Some(patch_op(
                json!([{"op": "replace", "value": {"id": id, "title": "Kept"}}]),
            )),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["id"], id.as_str());
    // An explicit path to a read-only attribute is 400 mutability (RFC 7644
    // §3.5.2), and no operation of the request applies.
    for read_only in ["id", "meta.created", "groups"] {
        let res = app
            .request(
                "PATCH",
                &path,
                Some(patch_op(json!([
                    {"op": "replace", "path": "title", "value": "Changed"},
                    {"op": "replace", "path": read_only, "value": "x"}
                ]))),
            )
            .await;
        assert_eq!(res.status, 400, "{read_only}: {}", res.text);
        assert_eq!(res.body["scimType"], "mutability");
    }
    let now = app.get(&path).await.body;
    assert_eq!(now["id"], id.as_str());
    assert_eq!(now["title"], "Kept");
}

async fn patch_with_stale_if_match_is_412(app: &TestApp) {
    let id = app.create_user("patchmatch@example.com").await;
    let res = app
        .request_with(
            "PATCH",
            &app.scim(&format!("/Users/{id}")),
            Some(patch_op(
                json!([{"op": "replace", "path": "title", "value": "x"}]),
            )),
            &[("if-match", "W/\"12345\"")],
        )
        .await;
    res.assert_error(412, None);
}

async fn patch_unknown_user_is_404(app: &TestApp) {
    let res = app
        .request(
            "PATCH",
            &app.scim("/Users/2f0f7d5c-1111-4e5c-9b0a-000000000000"),
            Some(patch_op(
                json!([{"op": "replace", "path": "title", "value": "x"}]),
            )),
        )
        .await;
    res.assert_error(404, None);
}

// ---------------------------------------------------------------- delete

async fn delete_deprovisions_then_404_and_repost_gets_a_new_id(app: &TestApp) {
    let (user, group, session) = provisioned_user(app, "delete.me@example.com").await;
    let res = app
        .request("DELETE", &app.scim(&format!("/Users/{user}")), None)
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    assert!(res.text.is_empty());
    assert_deprovisioned(app, &user, &group, &session).await;
    let res = app
        .request("DELETE", &app.scim(&format!("/Users/{user}")), None)
        .await;
    res.assert_error(404, None);
    let again = app.create_user("Delete.Me@example.com").await;
    assert_ne!(again, user);
}

async fn delete_with_stale_if_match_is_412_and_keeps_the_user(app: &TestApp) {
    let id = app.create_user("keep@example.com").await;
    let res = app
        .request_with(
            "DELETE",
            &app.scim(&format!("/Users/{id}")),
            None,
            &[("if-match", "W/\"77\"")],
        )
        .await;
    res.assert_error(412, None);
    assert_eq!(
        app.get(&app.scim(&format!("/Users/{id}"))).await.status,
        200
    );
}

backends!(
    entra_create_user_answers_201_with_location_etag_and_derived_emails,
    display_name_is_derived_from_name,
    okta_create_user_ignores_password_and_logs_it,
    enterprise_extension_is_ignored_and_logged,
    null_values_mean_absent,
    post_inactive_user_is_400_and_creates_nothing,
    invalid_user_bodies_are_400_invalid_value_and_create_nothing,
    body_that_is_not_an_object_is_400_invalid_syntax,
    user_name_clash_is_409_uniqueness_in_same_tenant,
    user_name_differing_in_case_in_other_tenant_is_409_without_naming_it,
    get_user_with_matching_if_none_match_is_304,
    unknown_user_is_404_scim_error,
    get_user_lists_its_groups,
    get_user_honours_attributes_and_excluded_attributes,
    entra_test_connection_filter_finds_nothing,
    filter_on_user_name_ignores_case,
    filters_cover_the_grammar,
    invalid_filter_is_400_pointing_at_the_position,
    huge_and_deep_filters_are_400_not_500,
    pages_with_start_index_and_count_in_a_stable_order,
    non_numeric_paging_values_are_400_invalid_value,
    sort_by_user_name_in_both_orders,
    list_honours_attributes_and_excluded_attributes,
    unknown_query_parameters_are_ignored,
    count_above_default_maximum_is_clamped_not_refused,
    put_replaces_the_user_and_answers_with_groups,
    put_with_stale_if_match_is_412_and_changes_nothing,
    okta_put_deactivates,
    put_changing_phone_is_400_mutability_and_changes_nothing,
    put_unknown_user_is_404,
    put_to_a_taken_user_name_is_409,
    entra_disable_with_string_false,
    okta_patch_deactivates,
    entra_multi_attribute_patch_answers_200_with_groups,
    entra_add_work_phone_by_value_path,
    failing_patch_operation_leaves_the_user_unchanged,
    malformed_patch_requests_are_400,
    patch_of_read_only_paths_is_refused_but_no_path_id_is_accepted,
    patch_with_stale_if_match_is_412,
    patch_unknown_user_is_404,
    delete_deprovisions_then_404_and_repost_gets_a_new_id,
    delete_with_stale_if_match_is_412_and_keeps_the_user,
);

/// A deployment whose pages hold at most three resources.
mod small_pages {
    use super::*;

    fn config() -> ServerConfig {
        ServerConfig {
            max_page_size: 3,
            default_page_size: 2,
            ..test_config()
        }
    }

    async fn count_above_maximum_is_clamped(app: &TestApp) {
        for i in 0..5 {
            app.create_user(&format!("clamped{i}@example.com")).await;
        }
        let res = app.get(&app.scim("/Users?count=1000")).await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(res.ids().len(), 3);
        assert_eq!(res.body["itemsPerPage"], 3);
        assert_eq!(res.body["totalResults"], 5);
        let res = app.get(&app.scim("/Users")).await;
        assert_eq!(res.ids().len(), 2, "the default page size applies");
        let res = app.get(&app.scim("/ServiceProviderConfig")).await;
        assert_eq!(res.body["filter"]["maxResults"], 3);
    }

    backends!(config = config(); count_above_maximum_is_clamped);
}

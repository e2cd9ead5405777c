//! `/Groups` over HTTP: administrators create groups, identity providers
//! find them by externalId and manage their names and members.

use crate::common::*;
use serde_json::{Value, json};

const UNKNOWN: &str = "2f0f7d5c-1111-4e5c-9b0a-000000000000";

async fn members(app: &TestApp, group: &str) -> Vec<String> {
    let res = app.get(&app.scim(&format!("/Groups/{group}"))).await;
    assert_eq!(res.status, 200, "{}", res.text);
    let mut ids: Vec<String> = res.body["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

async fn patch_group(app: &TestApp, group: &str, operations: Value) -> TestResponse {
    app.request(
        "PATCH",
        &app.scim(&format!("/Groups/{group}")),
        Some(patch_op(operations)),
    )
    .await
}

/// Asserts Entra's preferred answer to a group PATCH: 204, no body, an ETag.
#[track_caller]
fn assert_no_content_with_etag(res: &TestResponse) {
    assert_eq!(res.status, 204, "{}", res.text);
    assert!(res.text.is_empty(), "no body: {}", res.text);
    assert!(res.header("content-type").is_none());
    assert!(
        res.header("etag").is_some_and(|e| e.starts_with("W/\"")),
        "an ETag: {:?}",
        res.headers
    );
}

async fn total_groups(app: &TestApp) -> u64 {
    let res = app.get(&app.scim("/Groups?count=0")).await;
    res.body["totalResults"].as_u64().expect("totalResults")
}

// ---------------------------------------------------------------- create

async fn post_groups_is_403_saying_an_administrator_creates_them(app: &TestApp) {
    let res = app
        .request(
            "POST",
            &app.scim("/Groups"),
            Some(json!({"schemas": [GROUP_SCHEMA], "displayName": "Made by SCIM"})),
        )
        .await;
    res.assert_error(403, None);
    assert!(res.detail().contains("administrator"), "{}", res.detail());
    assert!(res.detail().contains("externalId"), "{}", res.detail());
    assert_eq!(total_groups(app).await, 0);
    let log = app.log_entries(1).await;
    assert_eq!(log.last().unwrap().status, 403);
}

// ---------------------------------------------------------------- read

async fn get_group_with_and_without_members(app: &TestApp) {
    let user = app.create_user("member@example.com").await;
    let group = app.create_group("Göteborg staff", Some("ext-gbg")).await;
    assert_no_content_with_etag(
        &patch_group(
            app,
            &group,
            json!([{"op": "add", "path": "members", "value": [{"value": user}]}]),
        )
        .await,
    );
    let res = app.get(&app.scim(&format!("/Groups/{group}"))).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["schemas"], json!([GROUP_SCHEMA]));
    assert_eq!(res.body["displayName"], "Göteborg staff");
    assert_eq!(res.body["externalId"], "ext-gbg");
    assert_eq!(res.body["meta"]["resourceType"], "Group");
    assert_eq!(res.header("etag"), res.body["meta"]["version"].as_str());
    let member = &res.body["members"][0];
    assert_eq!(member["value"], user.as_str());
    assert_eq!(member["display"], "User member@example.com");
    assert!(
        member["$ref"]
            .as_str()
            .is_some_and(|r| r.ends_with(&format!("/scim/v2/Users/{user}")))
    );

    let res = app
        .get(&app.scim(&format!("/Groups/{group}?excludedAttributes=members")))
        .await;
    assert_eq!(res.status, 200);
    assert!(res.body.get("members").is_none(), "{}", res.text);
    assert_eq!(res.body["displayName"], "Göteborg staff");

    let etag = res.header("etag").unwrap().to_owned();
    let res = app
        .request_with(
            "GET",
            &app.scim(&format!("/Groups/{group}")),
            None,
            &[("if-none-match", &etag)],
        )
        .await;
    assert_eq!(res.status, 304);
}

async fn unknown_group_is_404_on_every_method(app: &TestApp) {
    let path = app.scim(&format!("/Groups/{UNKNOWN}"));
    app.get(&path).await.assert_error(404, None);
    app.request("PUT", &path, Some(json!({"displayName": "x"})))
        .await
        .assert_error(404, None);
    app.request(
        "PATCH",
        &path,
        Some(patch_op(
            json!([{"op": "replace", "path": "displayName", "value": "x"}]),
        )),
    )
    .await
    .assert_error(404, None);
    app.request("DELETE", &path, None)
        .await
        .assert_error(404, None);
}

// ---------------------------------------------------------------- list

async fn entra_matches_group_by_external_id_without_members(app: &TestApp) {
    let user = app.create_user("m@example.com").await;
    let group = app
        .create_group(
            "Stockholm staff",
            Some("5d3c2a1b-0000-4000-8000-000000000001"),
        )
        .await;
    app.create_group("Other", Some("5d3c2a1b-0000-4000-8000-000000000002"))
        .await;
    patch_group(
        app,
        &group,
        json!([{"op": "add", "path": "members", "value": [{"value": user}]}]),
    )
    .await;
    let res = app
        .get(&app.scim(
            "/Groups?aadOptscim062020&filter=externalId+eq+%225d3c2a1b-0000-4000-8000-000000000001%22&excludedAttributes=members",
        ))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.ids(), vec![group]);
    assert!(
        res.body["Resources"][0].get("members").is_none(),
        "{}",
        res.text
    );
    assert_eq!(
        res.body["Resources"][0]["externalId"],
        "5d3c2a1b-0000-4000-8000-000000000001"
    );
}

async fn filter_groups_by_display_name(app: &TestApp) {
    let group = app.create_group("Malmö Staff", None).await;
    app.create_group("Lund staff", None).await;
    let res = app
        .get(&app.scim("/Groups?filter=displayName+eq+%22malm%C3%B6+staff%22"))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.ids(), vec![group]);
    let res = app
        .get(&app.scim("/Groups?filter=displayName+ew+%22staff%22&sortBy=displayName"))
        .await;
    assert_eq!(res.body["totalResults"], 2);
    assert_eq!(res.body["Resources"][0]["displayName"], "Lund staff");
}

async fn filter_groups_by_membership(app: &TestApp) {
    let ann = app.create_user("ann@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let first = app.create_group("First", None).await;
    let second = app.create_group("Second", None).await;
    patch_group(
        app,
        &first,
        json!([{"op": "add", "path": "members", "value": [{"value": ann}, {"value": bob}]}]),
    )
    .await;
    patch_group(
        app,
        &second,
        json!([{"op": "add", "path": "members", "value": [{"value": bob}]}]),
    )
    .await;

    for attr in ["members", "members.value"] {
        let res = app
            .get(&app.scim(&format!("/Groups?filter={attr}+eq+%22{ann}%22")))
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(res.ids(), vec![first.clone()], "{attr}");
        let res = app
            .get(&app.scim(&format!(
                "/Groups?filter={attr}+eq+%22{bob}%22&sortBy=displayName"
            )))
            .await;
        assert_eq!(res.ids(), vec![first.clone(), second.clone()], "{attr}");
    }

    // Entra's membership check: the group, if the user is in it.
    let res = app
        .get(&app.scim(&format!(
            "/Groups?filter=id+eq+%22{second}%22+and+members+eq+%22{bob}%22&excludedAttributes=members"
        )))
        .await;
    assert_eq!(res.ids(), vec![second.clone()]);
    let res = app
        .get(&app.scim(&format!(
            "/Groups?filter=id+eq+%22{second}%22+and+members+eq+%22{ann}%22&excludedAttributes=members"
        )))
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["totalResults"], 0);
}

async fn list_groups_pages_and_sorts(app: &TestApp) {
    for name in ["c", "a", "b", "e", "d"] {
        app.create_group(&format!("Group {name}"), None).await;
    }
    let res = app
        .get(&app.scim("/Groups?sortBy=displayName&sortOrder=descending&startIndex=2&count=2"))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["totalResults"], 5);
    let names: Vec<&str> = res.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Group d", "Group c"]);
    let res = app.get(&app.scim("/Groups?filter=displayName+eq")).await;
    res.assert_error(400, Some("invalidFilter"));
}

// ---------------------------------------------------------------- patch

async fn add_members_answers_204_and_adding_again_is_a_no_op(app: &TestApp) {
    let ann = app.create_user("ann@example.com").await;
    let group = app.create_group("G", None).await;
    let ops =
        json!([{"op": "Add", "path": "members", "value": [{"value": ann, "display": "Ann"}]}]);
    let res = patch_group(app, &group, ops.clone()).await;
    assert_no_content_with_etag(&res);
    let read = app.get(&app.scim(&format!("/Groups/{group}"))).await;
    assert_eq!(res.header("etag"), read.body["meta"]["version"].as_str());
    assert_no_content_with_etag(&patch_group(app, &group, ops).await);
    assert_eq!(members(app, &group).await, vec![ann]);
}

async fn entra_remove_member_by_value_filter(app: &TestApp) {
    let ann = app.create_user("ann@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let group = app.create_group("G", None).await;
    patch_group(
        app,
        &group,
        json!([{"op": "add", "path": "members", "value": [{"value": ann}, {"value": bob}]}]),
    )
    .await;
    let res = patch_group(
        app,
        &group,
        json!([{"op": "Remove", "path": format!("members[value eq \"{ann}\"]")}]),
    )
    .await;
    assert_no_content_with_etag(&res);
    assert_eq!(members(app, &group).await, vec![bob]);
}

async fn entra_remove_members_with_a_value_list(app: &TestApp) {
    let ann = app.create_user("ann@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let group = app.create_group("G", None).await;
    patch_group(
        app,
        &group,
        json!([{"op": "add", "path": "members", "value": [{"value": ann}, {"value": bob}]}]),
    )
    .await;
    let body: Value = serde_json::from_str(
        &fixture("groups/entra_remove_members_value_list.json")
            .to_string()
            .replace("USER_ID", &ann),
    )
    .unwrap();
    let res = app
        .request("PATCH", &app.scim(&format!("/Groups/{group}")), Some(body))
        .await;
    assert_no_content_with_etag(&res);
    assert_eq!(members(app, &group).await, vec![bob]);
}

async fn removing_a_non_member_or_deprovisioned_user_is_a_no_op(app: &TestApp) {
    let ann = app.create_user("ann@example.com").await;
    let gone = app.create_user("gone@example.com").await;
    let group = app.create_group("G", None).await;
    patch_group(
        app,
        &group,
        json!([{"op": "add", "path": "members", "value": [{"value": ann}, {"value": gone}]}]),
    )
    .await;
    let res = app
        .request("DELETE", &app.scim(&format!("/Users/{gone}")), None)
        .await;
    assert_eq!(res.status, 204);
    // Entra removes the membership of a user it has just deprovisioned.
    let res = patch_group(
        app,
        &group,
        json!([{"op": "remove", "path": "members", "value": [{"value": gone}]}]),
    )
    .await;
    assert_no_content_with_etag(&res);
    let res = patch_group(
        app,
        &group,
        json!([{"op": "remove", "path": format!("members[value eq \"{UNKNOWN}\"]")}]),
    )
    .await;
    assert_no_content_with_etag(&res);
    assert_eq!(members(app, &group).await, vec![ann]);
}

async fn replace_members_sets_exactly_those(app: &TestApp) {
    let ann = app.create_user("ann@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let cid = app.create_user("cid@example.com").await;
    let group = app.create_group("G", None).await;
    patch_group(
        app,
        &group,
        json!([{"op": "add", "path": "members", "value": [{"value": ann}, {"value": bob}]}]),
    )
    .await;
    let res = patch_group(
        app,
        &group,
        json!([{"op": "replace", "path": "members", "value": [{"value": bob}, {"value": cid}]}]),
    )
    .await;
    assert_no_content_with_etag(&res);
    assert_eq!(members(app, &group).await, sorted(vec![bob, cid]));
    let res = patch_group(
        app,
        &group,
        json!([{"op": "replace", "path": "members", "value": []}]),
    )
    .await;
    assert_no_content_with_etag(&res);
    assert_eq!(members(app, &group).await, Vec::<String>::new());
}

async fn adding_an_unknown_user_is_400_and_applies_nothing(app: &TestApp) {
    let ann = app.create_user("ann@example.com").await;
    let group = app.create_group("G", None).await;
    let before = app.get(&app.scim(&format!("/Groups/{group}"))).await;
    let res = patch_group(
        app,
        &group,
        json!([
            {"op": "replace", "path": "displayName", "value": "Renamed"},
            {"op": "add", "path": "members", "value": [{"value": ann}]},
            {"op": "add", "path": "members", "value": [{"value": UNKNOWN}]},
        ]),
    )
    .await;
    res.assert_error(400, Some("invalidValue"));
    let after = app.get(&app.scim(&format!("/Groups/{group}"))).await;
    assert_eq!(after.body, before.body, "nothing applied");
}

async fn adding_another_tenants_user_is_400_and_applies_nothing(app: &TestApp) {
    let (_, other_key) = app.other_tenant().await;
    let res = app
        .request_as(
            &other_key,
            "POST",
            &app.scim("/Users"),
            Some(json!({"userName": "foreign@example.com", "displayName": "F"})),
        )
        .await;
    assert_eq!(res.status, 201);
    let foreign = res.body["id"].as_str().unwrap().to_owned();
    let ann = app.create_user("ann@example.com").await;
    let group = app.create_group("G", None).await;
    let res = patch_group(
        app,
        &group,
        json!([{"op": "add", "path": "members", "value": [{"value": ann}, {"value": foreign}]}]),
    )
    .await;
    res.assert_error(400, Some("invalidValue"));
    assert_eq!(members(app, &group).await, Vec::<String>::new());
}

async fn entra_patch_display_name_and_external_id(app: &TestApp) {
    let group = app.create_group("Old name", Some("old-ext")).await;
    let res = patch_group(
        app,
        &group,
        json!([
            {"op": "Replace", "path": "displayName", "value": "New name"},
            {"op": "Replace", "path": "externalId", "value": "new-ext"},
        ]),
    )
    .await;
    assert_no_content_with_etag(&res);
    let read = app.get(&app.scim(&format!("/Groups/{group}"))).await;
    assert_eq!(read.body["displayName"], "New name");
    assert_eq!(read.body["externalId"], "new-ext");
}

async fn okta_rename_group_with_id_in_the_value(app: &TestApp) {
    let group = app.create_group("Okta old", None).await;
    let res = patch_group(
        app,
        &group,
        json!([{"op": "replace", "value": {"id": group, "displayName": "Okta new"}}]),
    )
    .await;
    assert_no_content_with_etag(&res);
    let read = app.get(&app.scim(&format!("/Groups/{group}"))).await;
    assert_eq!(read.body["displayName"], "Okta new");
    assert_eq!(read.body["id"], group.as_str());
}

async fn group_patch_with_stale_if_match_is_412(app: &TestApp) {
    let group = app.create_group("G", None).await;
    let res = app
        .request_with(
            "PATCH",
            &app.scim(&format!("/Groups/{group}")),
            Some(patch_op(
                json!([{"op": "replace", "path": "displayName", "value": "x"}]),
            )),
            &[("if-match", "W/\"99\"")],
        )
        .await;
    res.assert_error(412, None);
    let read = app.get(&app.scim(&format!("/Groups/{group}"))).await;
    assert_eq!(read.body["displayName"], "G");
}

async fn malformed_group_patches_are_400(app: &TestApp) {
    let group = app.create_group("G", None).await;
    let bodies = [
        patch_op(json!([{"op": "add", "path": "members", "value": "not-a-list"}])),
        patch_op(json!([{"op": "add", "path": "members", "value": [{"display": "no value"}]}])),
        patch_op(json!([{"op": "replace", "path": "displayName", "value": 5}])),
        patch_op(json!([{"op": "remove", "path": "displayName"}])),
        patch_op(json!([{"op": "add", "path": "members[value eq", "value": []}])),
    ];
    for body in bodies {
        let res = app
            .request(
                "PATCH",
                &app.scim(&format!("/Groups/{group}")),
                Some(body.clone()),
            )
            .await;
        assert_eq!(res.status, 400, "{body}: {}", res.text);
        res.assert_error(400, res.scim_type());
    }
    let read = app.get(&app.scim(&format!("/Groups/{group}"))).await;
    assert_eq!(read.body["displayName"], "G");
}

// ---------------------------------------------------------------- replace

async fn put_group_replaces_name_and_members(app: &TestApp) {
    let ann = app.create_user("ann@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let group = app.create_group("G", Some("ext-1")).await;
    patch_group(
        app,
        &group,
        json!([{"op": "add", "path": "members", "value": [{"value": ann}]}]),
    )
    .await;
    let res = app
        .request(
            "PUT",
            &app.scim(&format!("/Groups/{group}")),
            Some(json!({
                "schemas": [GROUP_SCHEMA],
                "displayName": "G renamed",
                "externalId": "ext-2",
                "members": [{"value": bob}],
            })),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["displayName"], "G renamed");
    assert_eq!(res.body["externalId"], "ext-2");
    assert_eq!(res.body["members"][0]["value"], bob.as_str());
    assert_eq!(res.header("etag"), res.body["meta"]["version"].as_str());
    assert_eq!(members(app, &group).await, vec![bob]);
}

async fn put_group_without_members_or_external_id_keeps_them(app: &TestApp) {
    let ann = app.create_user("ann@example.com").await;
    let group = app.create_group("G", Some("admin-set")).await;
    patch_group(
        app,
        &group,
        json!([{"op": "add", "path": "members", "value": [{"value": ann}]}]),
    )
    .await;
    let res = app
        .request(
            "PUT",
            &app.scim(&format!("/Groups/{group}")),
            Some(json!({"schemas": [GROUP_SCHEMA], "displayName": "Only the name"})),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["externalId"], "admin-set");
    assert_eq!(members(app, &group).await, vec![ann]);
}

async fn put_group_with_unknown_member_is_400_and_changes_nothing(app: &TestApp) {
    let group = app.create_group("G", None).await;
    let res = app
        .request(
            "PUT",
            &app.scim(&format!("/Groups/{group}")),
            Some(json!({"displayName": "Changed", "members": [{"value": UNKNOWN}]})),
        )
        .await;
    res.assert_error(400, Some("invalidValue"));
    let read = app.get(&app.scim(&format!("/Groups/{group}"))).await;
    assert_eq!(read.body["displayName"], "G");
}

async fn put_group_with_bad_body_is_400(app: &TestApp) {
    let group = app.create_group("G", None).await;
    for body in [
        json!({"externalId": "x"}),
        json!({"displayName": 3}),
        json!({"displayName": "x", "members": {"value": "y"}}),
    ] {
        let res = app
            .request(
                "PUT",
                &app.scim(&format!("/Groups/{group}")),
                Some(body.clone()),
            )
            .await;
        res.assert_error(400, Some("invalidValue"));
    }
    let res = app
        .request_with(
            "PUT",
            &app.scim(&format!("/Groups/{group}")),
            Some(json!({"displayName": "x"})),
            &[("if-match", "W/\"42\"")],
        )
        .await;
    res.assert_error(412, None);
}

// ---------------------------------------------------------------- delete

async fn delete_group_keeps_its_users(app: &TestApp) {
    let ann = app.create_user("ann@example.com").await;
    let group = app.create_group("G", None).await;
    patch_group(
        app,
        &group,
        json!([{"op": "add", "path": "members", "value": [{"value": ann}]}]),
    )
    .await;
    let res = app
        .request("DELETE", &app.scim(&format!("/Groups/{group}")), None)
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    assert!(res.text.is_empty());
    app.get(&app.scim(&format!("/Groups/{group}")))
        .await
        .assert_error(404, None);
    let user = app.get(&app.scim(&format!("/Users/{ann}"))).await;
    assert_eq!(user.status, 200);
    assert_eq!(user.body["groups"], json!([]));
    let events = app
        .store
        .events(Some(&app.tenant), &[], 0, 100)
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == "group.deleted" && e.resource_id == group)
    );
}

backends!(
    post_groups_is_403_saying_an_administrator_creates_them,
    get_group_with_and_without_members,
    unknown_group_is_404_on_every_method,
    entra_matches_group_by_external_id_without_members,
    filter_groups_by_display_name,
    filter_groups_by_membership,
    list_groups_pages_and_sorts,
    add_members_answers_204_and_adding_again_is_a_no_op,
    entra_remove_member_by_value_filter,
    entra_remove_members_with_a_value_list,
    removing_a_non_member_or_deprovisioned_user_is_a_no_op,
    replace_members_sets_exactly_those,
    adding_an_unknown_user_is_400_and_applies_nothing,
    adding_another_tenants_user_is_400_and_applies_nothing,
    entra_patch_display_name_and_external_id,
    okta_rename_group_with_id_in_the_value,
    group_patch_with_stale_if_match_is_412,
    malformed_group_patches_are_400,
    put_group_replaces_name_and_members,
    put_group_without_members_or_external_id_keeps_them,
    put_group_with_unknown_member_is_400_and_changes_nothing,
    put_group_with_bad_body_is_400,
    delete_group_keeps_its_users,
);

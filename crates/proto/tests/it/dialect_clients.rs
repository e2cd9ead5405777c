//! Each identity provider's documented request shapes, replayed against the
//! parsers and the PATCH engine. Named after the client that sends them;
//! bodies live in `tests/data/<client>/`.

use scimitar_proto::ScimType;
use scimitar_proto::patch::{self, MemberOp, PatchOutcome};
use scimitar_proto::resource::{
    Email, Meta, Name, Phone, UserAttributes, parse_group, parse_user, render_group, render_user,
};
use scimitar_proto::schema::{GROUP, USER};
use serde_json::{Value, json};

const BASE: &str = "https://scim.example.com/scim/v2";

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

fn meta() -> Meta {
    Meta {
        created: 1_795_000_000_000_000,
        last_modified: 1_795_000_000_000_000,
        version: "W/\"1\"".into(),
    }
}

fn user_view() -> Value {
    let attrs = UserAttributes {
        user_name: "ada@example.com".into(),
        display_name: "Ada Lovelace".into(),
        name: Name {
            given_name: Some("Ada".into()),
            family_name: Some("Lovelace".into()),
            ..Name::default()
        },
        title: Some("Analyst".into()),
        phone: None,
        external_id: Some("e-1".into()),
        email: Some(Email::of_user_name("ada@example.com")),
        active: Some(true),
    };
    render_user(BASE, "u-1", &attrs, &meta(), None)
}

fn group_view() -> Value {
    render_group(BASE, "g-1", "Staff", Some("obj-1"), None, &meta())
}

fn patch_user(view: &mut Value, body: &Value) -> PatchOutcome {
    let request = patch::parse_patch(body).expect("valid PatchOp");
    patch::apply(&USER, view, &request).expect("applies")
}

fn patch_group(view: &mut Value, body: &Value) -> PatchOutcome {
    let request = patch::parse_patch(body).expect("valid PatchOp");
    patch::apply(&GROUP, view, &request).expect("applies")
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

// ---- Microsoft Entra ID ----

#[test]
fn entra_create_user_with_enterprise_extension() {
    let parsed = parse_user(&fixture(include_str!("../data/entra/create_user.json"))).unwrap();
    let user = parsed.value;
    assert_eq!(user.active, Some(true));
    assert_eq!(user.user_name, "Test_User_ab6490ee@contoso.onmicrosoft.com");
    assert_eq!(user.display_name, "Test User");
    assert_eq!(user.title.as_deref(), Some("Engineer"));
    assert_eq!(
        user.phone,
        Some(Phone {
            value: "+46701234567".into(),
            kind: Some("work".into())
        })
    );
    assert_eq!(user.name.given_name.as_deref(), Some("givenName"));
    assert_eq!(
        user.external_id.as_deref(),
        Some("0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")
    );
    for ignored in [
        "emails",
        "meta",
        "roles",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ] {
        assert!(
            parsed.ignored.contains(&ignored.to_owned()),
            "{ignored}: {:?}",
            parsed.ignored
        );
    }
}

#[test]
fn entra_tutorial_username_that_is_no_email_is_refused() {
    let body = fixture(include_str!(
        "../data/entra/create_user_tutorial_username.json"
    ));
    let err = parse_user(&body).unwrap_err();
    assert_eq!(err.status, 400);
    assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
    assert!(err.detail.contains("userName"), "{}", err.detail);
    assert!(err.detail.contains("Test_User_ab6490ee"), "{}", err.detail);
}

#[test]
fn entra_replace_active_string_false() {
    let mut view = user_view();
    patch_user(
        &mut view,
        &fixture(include_str!("../data/entra/patch_active_string_false.json")),
    );
    assert_eq!(view["active"], json!(false));
    assert_eq!(parse_user(&view).unwrap().value.active, Some(false));
}

#[test]
fn entra_disable_user_boolean() {
    let mut view = user_view();
    patch_user(
        &mut view,
        &fixture(include_str!("../data/entra/patch_disable_user.json")),
    );
    assert_eq!(view["active"], json!(false));
}

#[test]
fn entra_update_multi_valued_ignores_emails() {
    let mut view = user_view();
    let out = patch_user(
        &mut view,
        &fixture(include_str!("../data/entra/patch_user_multi_valued.json")),
    );
    assert_eq!(view["name"]["familyName"], "updatedFamilyName");
    assert_eq!(view["emails"][0]["value"], "ada@example.com");
    assert_eq!(
        out.ignored,
        vec!["emails[type eq \"work\"].value".to_owned()]
    );
}

#[test]
fn entra_update_single_valued_user_name() {
    let mut view = user_view();
    patch_user(
        &mut view,
        &fixture(include_str!("../data/entra/patch_user_single_valued.json")),
    );
    let user = parse_user(&view).unwrap().value;
    assert_eq!(
        user.user_name,
        "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    );
}

#[test]
fn entra_add_work_phone_creates_the_element() {
    let mut view = user_view();
    let out = patch_user(
        &mut view,
        &fixture(include_str!("../data/entra/patch_add_work_phone.json")),
    );
    assert_eq!(
        view["phoneNumbers"],
        json!([{"type": "work", "value": "+46701234567"}])
    );
    assert_eq!(view["title"], "tester");
    assert_eq!(
        out.ignored,
        vec!["emails[type eq \"work\"].value".to_owned()]
    );
    let phone = parse_user(&view).unwrap().value.phone.unwrap();
    assert_eq!(phone.value, "+46701234567");
}

#[test]
fn entra_multi_attribute_no_path_replace() {
    let mut view = user_view();
    let body = fixture(include_str!(
        "../data/entra/patch_multi_attribute_no_path_replace.json"
    ));
    let out = patch_user(&mut view, &body);
    assert_eq!(view["displayName"], "Pvlo Ytfjjh");
    assert_eq!(
        view["name"],
        json!({"givenName": "Pvlo", "familyName": "Ytfjjh"})
    );
    assert_eq!(view["title"], "Manager");
    assert_eq!(view["active"], json!(true));
    assert_eq!(view["phoneNumbers"][0]["type"], "work");
    let user = parse_user(&view).unwrap().value;
    assert_eq!(user.phone.unwrap().value, "+14255550100");
    assert_eq!(view["emails"][0]["value"], "ada@example.com");
    let mut ignored = out.ignored.clone();
    ignored.sort();
    assert_eq!(
        ignored,
        vec![
            "emails[type eq \"work\"].value",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        ]
    );
}

#[test]
fn entra_update_group_display_name() {
    let mut view = group_view();
    let out = patch_group(
        &mut view,
        &fixture(include_str!("../data/entra/patch_group_display_name.json")),
    );
    assert_eq!(
        view["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );
    assert!(out.members.is_empty());
}

#[test]
fn entra_add_members_capitalised_op() {
    let mut view = group_view();
    let before = view.clone();
    let out = patch_group(
        &mut view,
        &fixture(include_str!("../data/entra/patch_group_add_members.json")),
    );
    assert_eq!(
        out.members,
        vec![MemberOp::Add(ids(&["f648f8d5ea4e4cd38e9c"]))]
    );
    assert_eq!(view, before, "member operations never touch the JSON");
}

#[test]
fn entra_remove_members_value_list() {
    let mut view = group_view();
    let body = fixture(include_str!(
        "../data/entra/patch_group_remove_members_value_list.json"
    ));
    let out = patch_group(&mut view, &body);
    assert_eq!(
        out.members,
        vec![MemberOp::Remove(ids(&["f648f8d5ea4e4cd38e9c"]))]
    );
}

#[test]
fn entra_remove_member_by_filter() {
    let mut view = group_view();
    let body = fixture(include_str!(
        "../data/entra/patch_group_remove_member_filter.json"
    ));
    let out = patch_group(&mut view, &body);
    assert_eq!(
        out.members,
        vec![MemberOp::Remove(ids(&[
            "7f4bc1a3-285e-48ae-8202-5accb43efb0e"
        ]))]
    );
}

#[test]
fn entra_put_of_own_rendering_round_trips() {
    // Entra re-sends what it read, meta and emails included.
    let view = user_view();
    let parsed = parse_user(&view).unwrap();
    assert_eq!(parsed.value.user_name, "ada@example.com");
    assert_eq!(parsed.value.title.as_deref(), Some("Analyst"));
}

// ---- Okta ----

#[test]
fn okta_create_with_password_and_groups() {
    let parsed = parse_user(&fixture(include_str!("../data/okta/create_user.json"))).unwrap();
    assert_eq!(parsed.value.user_name, "test.user@okta.local");
    assert_eq!(parsed.value.display_name, "Test User");
    assert_eq!(
        parsed.value.external_id.as_deref(),
        Some("00ujl29u0le5T6Aj10h7")
    );
    let mut ignored = parsed.ignored.clone();
    ignored.sort();
    assert_eq!(ignored, vec!["emails", "groups", "locale", "password"]);
}

#[test]
fn okta_put_with_id_meta_and_null_middle_name() {
    let parsed = parse_user(&fixture(include_str!("../data/okta/put_user.json"))).unwrap();
    let attrs = parsed.value;
    assert_eq!(attrs.name.given_name.as_deref(), Some("Another"));
    assert_eq!(attrs.name.middle_name, None);
    // No displayName sent: derived from the name.
    assert_eq!(attrs.display_name, "Another User");
    assert!(parsed.ignored.contains(&"id".to_owned()));
}

#[test]
fn okta_noop_path_deactivate() {
    let mut view = user_view();
    let out = patch_user(
        &mut view,
        &fixture(include_str!("../data/okta/patch_deactivate_user.json")),
    );
    assert_eq!(view["active"], json!(false));
    assert!(out.ignored.is_empty());
}

#[test]
fn okta_rename_group_with_stray_id() {
    let mut view = group_view();
    let out = patch_group(
        &mut view,
        &fixture(include_str!("../data/okta/patch_rename_group.json")),
    );
    assert_eq!(view["displayName"], "Test SCIMv2");
    assert_eq!(view["id"], "g-1", "a stray id never changes the id");
    assert_eq!(out.ignored, vec!["id".to_owned()]);
}

#[test]
fn okta_add_member_with_display() {
    let mut view = group_view();
    let out = patch_group(
        &mut view,
        &fixture(include_str!("../data/okta/patch_add_member.json")),
    );
    assert_eq!(
        out.members,
        vec![MemberOp::Add(ids(&[
            "23a35c27-23d3-4c03-b4c5-6443c09e7173"
        ]))]
    );
}

#[test]
fn okta_remove_member_by_filter() {
    let mut view = group_view();
    let out = patch_group(
        &mut view,
        &fixture(include_str!("../data/okta/patch_remove_member.json")),
    );
    assert_eq!(
        out.members,
        vec![MemberOp::Remove(ids(&[
            "89bb1940-b905-4575-9e7f-6f887cfb368e"
        ]))]
    );
}

#[test]
fn okta_create_group_body_parses() {
    // Groups are created by administrators, but PUT carries the same shape.
    let parsed = parse_group(&fixture(include_str!("../data/okta/create_group.json"))).unwrap();
    assert_eq!(parsed.value.display_name, "Test SCIMv2");
    assert_eq!(
        parsed.value.members,
        Some(ids(&["b1c794f24f4c49f4b5d503a4cb2686ea"]))
    );
    assert!(parsed.ignored.is_empty());
}

// ---- OneLogin ----

#[test]
fn onelogin_lowercase_ops() {
    let mut view = group_view();
    let out = patch_group(
        &mut view,
        &fixture(include_str!("../data/onelogin/patch_group_members.json")),
    );
    assert_eq!(
        out.members,
        vec![
            MemberOp::Add(ids(&[
                "5ac1a3c4-8bd6-4c3e-9a1e-2f9f0c6d1e01",
                "0a4e1d2c-7b8f-4e5d-9c3b-6a2f1e0d9c88"
            ])),
            MemberOp::Remove(ids(&["9f8e7d6c-5b4a-4392-8a1b-0c9d8e7f6a5b"])),
        ]
    );
    assert_eq!(view["displayName"], "Engineering");
}

#[test]
fn onelogin_no_path_replace_of_complex_name_merges() {
    let mut view = user_view();
    view["name"]["middleName"] = json!("Augusta");
    patch_user(
        &mut view,
        &fixture(include_str!("../data/onelogin/patch_user.json")),
    );
    assert_eq!(
        view["name"],
        json!({"givenName": "Ada", "familyName": "Lovelace", "middleName": "Augusta"})
    );
    assert_eq!(view["title"], "Analyst");
}

// ---- JumpCloud ----

#[test]
fn jumpcloud_value_list_member_patch() {
    let mut view = group_view();
    let out = patch_group(
        &mut view,
        &fixture(include_str!("../data/jumpcloud/patch_group_members.json")),
    );
    assert_eq!(
        out.members,
        vec![
            MemberOp::Add(ids(&["64b7f0c2a1e3d40001a2b3c4"])),
            MemberOp::Remove(ids(&[
                "64b7f0c2a1e3d40001a2b3c5",
                "64b7f0c2a1e3d40001a2b3c6"
            ])),
        ]
    );
}

// ---- Generic tolerances ----

#[test]
fn lowercase_operations_key_and_capitalised_op_member() {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "operations": [{"Op": "REPLACE", "Path": "title", "Value": "Boss"}]
    });
    let mut view = user_view();
    patch_user(&mut view, &body);
    assert_eq!(view["title"], "Boss");
}

#[test]
fn member_display_name_instead_of_display_is_accepted() {
    let body = json!({
        "displayName": "Staff",
        "members": [{"value": "u-1", "displayName": "Ada"}, {"value": "u-2", "display": "Bob"}]
    });
    let parsed = parse_group(&body).unwrap();
    assert_eq!(parsed.value.members, Some(ids(&["u-1", "u-2"])));
    assert!(parsed.ignored.is_empty());
}

//! The examples of RFC 7644 §3.5.2 that fit scimitar's schemas, with the
//! RFC's ids. Attributes we do not store (`nickName`, `addresses`,
//! `x509Certificates`) and read-only ones (`emails`) are ignored and
//! reported rather than refused.

use scimitar_proto::ScimType;
use scimitar_proto::patch::{self, MemberOp, PatchOutcome};
use scimitar_proto::resource::{Email, Meta, Name, UserAttributes, render_group, render_user};
use scimitar_proto::schema::{GROUP, USER};
use serde_json::{Value, json};

const BJENSEN: &str = "2819c223-7f76-453a-919d-413861904646";
const JSMITH: &str = "08e1d05d-121c-4561-8b96-473d93df9210";

fn meta() -> Meta {
    Meta {
        created: 0,
        last_modified: 0,
        version: "W/\"1\"".into(),
    }
}

fn group() -> Value {
    render_group(
        "https://example.com/v2",
        "acbf3ae7-8463-4692-b4fd-9b4da3f908ce",
        "Tour Guides",
        None,
        None,
        &meta(),
    )
}

fn user() -> Value {
    let attrs = UserAttributes {
        user_name: "bjensen@example.com".into(),
        display_name: "Babs Jensen".into(),
        name: Name {
            family_name: Some("Jensen".into()),
            given_name: Some("Barbara".into()),
            ..Name::default()
        },
        title: None,
        phone: None,
        external_id: None,
        email: Some(Email::of_user_name("bjensen@example.com")),
        active: Some(true),
    };
    render_user("https://example.com/v2", BJENSEN, &attrs, &meta(), None)
}

fn ops(operations: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

fn run(
    rt: &'static scimitar_proto::schema::ResourceType,
    view: &mut Value,
    body: Value,
) -> PatchOutcome {
    let request = patch::parse_patch(&body).unwrap();
    patch::apply(rt, view, &request).unwrap()
}

fn member(id: &str, display: &str) -> Value {
    json!({"display": display, "$ref": format!("https://example.com/v2/Users/{id}"), "value": id})
}

#[test]
fn add_member_to_group() {
    // §3.5.2.1, first example.
    let mut view = group();
    let out = run(
        &GROUP,
        &mut view,
        ops(json!([
            {"op": "add", "path": "members", "value": [member(BJENSEN, "Babs Jensen")]}
        ])),
    );
    assert_eq!(out.members, vec![MemberOp::Add(vec![BJENSEN.into()])]);
    assert_eq!(view, group());
}

#[test]
fn add_without_path() {
    // §3.5.2.1: `emails` is read-only here and `nickName` unknown.
    let mut view = user();
    let out = run(
        &USER,
        &mut view,
        ops(json!([
            {"op": "add", "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}], "nickName": "Babs"}}
        ])),
    );
    assert_eq!(view, user());
    let mut ignored = out.ignored;
    ignored.sort();
    assert_eq!(ignored, vec!["emails", "nickName"]);
}

#[test]
fn remove_single_member() {
    // §3.5.2.2
    let mut view = group();
    let out = run(
        &GROUP,
        &mut view,
        ops(json!([
            {"op": "remove", "path": format!("members[value eq \"{BJENSEN}\"]")}
        ])),
    );
    assert_eq!(out.members, vec![MemberOp::Remove(vec![BJENSEN.into()])]);
}

#[test]
fn remove_all_members() {
    // §3.5.2.2
    let mut view = group();
    let out = run(
        &GROUP,
        &mut view,
        ops(json!([{"op": "remove", "path": "members"}])),
    );
    assert_eq!(out.members, vec![MemberOp::Replace(vec![])]);
}

#[test]
fn remove_from_complex_multi_valued_by_filter() {
    // §3.5.2.2 removes work emails ending in example.com: emails are
    // assigned by the server here, so this is ignored.
    let mut view = user();
    let out = run(
        &USER,
        &mut view,
        ops(json!([
            {"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}
        ])),
    );
    assert_eq!(view, user());
    assert_eq!(out.ignored.len(), 1);
}

#[test]
fn remove_member_and_add_member() {
    // §3.5.2.2, last-but-one example: order is kept.
    let mut view = group();
    let out = run(
        &GROUP,
        &mut view,
        ops(json!([
            {"op": "remove", "path": format!("members[value eq\"{BJENSEN}\"]")},
            {"op": "add", "path": "members", "value": [member(JSMITH, "James Smith")]}
        ])),
    );
    assert_eq!(
        out.members,
        vec![
            MemberOp::Remove(vec![BJENSEN.into()]),
            MemberOp::Add(vec![JSMITH.into()])
        ]
    );
}

#[test]
fn remove_all_members_then_add() {
    // §3.5.2.2, last example.
    let mut view = group();
    let out = run(
        &GROUP,
        &mut view,
        ops(json!([
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [member(BJENSEN, "Babs Jensen"), member(JSMITH, "James Smith")]}
        ])),
    );
    assert_eq!(
        out.members,
        vec![
            MemberOp::Replace(vec![]),
            MemberOp::Add(vec![BJENSEN.into(), JSMITH.into()])
        ]
    );
}

#[test]
fn replace_all_members() {
    // §3.5.2.3, first example.
    let mut view = group();
    let out = run(
        &GROUP,
        &mut view,
        ops(json!([
            {"op": "replace", "path": "members", "value": [member(BJENSEN, "Babs Jensen"), member(JSMITH, "James Smith")]}
        ])),
    );
    assert_eq!(
        out.members,
        vec![MemberOp::Replace(vec![BJENSEN.into(), JSMITH.into()])]
    );
}

#[test]
fn replace_through_value_filter_on_phone_numbers() {
    // §3.5.2.3's `addresses[type eq "work"]` examples, on phoneNumbers.
    let mut view = user();
    view["phoneNumbers"] = json!([{"value": "+15555550100", "type": "work", "primary": true}]);
    run(
        &USER,
        &mut view,
        ops(json!([
            {"op": "replace", "path": "phoneNumbers[type eq \"work\"]",
             "value": {"type": "work", "value": "+15555550199", "primary": true}}
        ])),
    );
    assert_eq!(
        view["phoneNumbers"],
        json!([{"type": "work", "value": "+15555550199", "primary": true}])
    );
    run(
        &USER,
        &mut view,
        ops(json!([
            {"op": "replace", "path": "phoneNumbers[type eq \"work\"].value", "value": "+15555550142"}
        ])),
    );
    assert_eq!(view["phoneNumbers"][0]["value"], "+15555550142");
}

#[test]
fn replace_addresses_is_ignored() {
    // §3.5.2.3 examples on an attribute we do not store.
    let mut view = user();
    let out = run(
        &USER,
        &mut view,
        ops(json!([
            {"op": "replace", "path": "addresses[type eq \"work\"]",
             "value": {"type": "work", "streetAddress": "911 Universal City Plaza"}},
            {"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}
        ])),
    );
    assert_eq!(view, user());
    assert_eq!(out.ignored.len(), 2);
}

#[test]
fn replace_without_path() {
    // §3.5.2.3, last example: emails ignored, nickName unknown; plus a core
    // attribute so that something changes.
    let mut view = user();
    let out = run(
        &USER,
        &mut view,
        ops(json!([
            {"op": "replace", "value": {
                "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                           {"value": "babs@jensen.org", "type": "home"}],
                "nickName": "Babs",
                "title": "Tour Guide"
            }}
        ])),
    );
    assert_eq!(view["title"], "Tour Guide");
    assert_eq!(out.ignored.len(), 2);
}

#[test]
fn remove_without_path_is_no_target() {
    // §3.5.2.2: "If 'path' is unspecified, the operation fails".
    let err = patch::parse_patch(&ops(json!([{"op": "remove"}]))).unwrap_err();
    assert_eq!(err.status, 400);
    assert_eq!(err.scim_type, Some(ScimType::NoTarget));
}

#[test]
fn removing_a_required_attribute_is_mutability() {
    // §3.5.2.2: required attributes cannot become unassigned.
    for path in ["userName", "displayName"] {
        let mut view = user();
        let request = patch::parse_patch(&ops(json!([{"op": "remove", "path": path}]))).unwrap();
        let err = patch::apply(&USER, &mut view, &request).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::Mutability), "{path}");
        assert!(err.detail.contains(path), "{}", err.detail);
        assert_eq!(view, user());
    }
    let mut view = group();
    let request = patch::parse_patch(&ops(
        json!([{"op": "replace", "path": "displayName", "value": null}]),
    ))
    .unwrap();
    let err = patch::apply(&GROUP, &mut view, &request).unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::Mutability));
}

#[test]
fn replace_with_filter_matching_nothing_is_no_target() {
    // §3.5.2.3: a value filter with no match fails...
    let mut view = user();
    view["phoneNumbers"] = json!([{"value": "+15555550100", "type": "mobile"}]);
    let request = patch::parse_patch(&ops(json!([
        {"op": "replace", "path": "phoneNumbers[type eq \"work\"].value", "value": "+15555550142"}
    ])))
    .unwrap();
    let before = view.clone();
    let err = patch::apply(&USER, &mut view, &request).unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::NoTarget));
    assert_eq!(view, before);
    // ...but when the attribute has no value at all, replace acts as add.
    let mut view = user();
    patch::apply(&USER, &mut view, &request).unwrap();
    assert_eq!(
        view["phoneNumbers"],
        json!([{"type": "work", "value": "+15555550142"}])
    );
}

#[test]
fn add_of_the_same_value_changes_nothing() {
    // §3.5.2.1: "If the target location already contains the value
    // specified, no changes SHOULD be made".
    let mut view = user();
    view["phoneNumbers"] = json!([{"value": "+15555550100", "type": "work", "primary": true}]);
    let before = view.clone();
    run(
        &USER,
        &mut view,
        ops(json!([
            {"op": "add", "path": "phoneNumbers", "value": [{"value": "+15555550100", "type": "work", "primary": true}]},
            {"op": "add", "path": "displayName", "value": "Babs Jensen"}
        ])),
    );
    assert_eq!(view, before);
}

//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9).

use scimitar_proto::projection::{self, Projection};
use scimitar_proto::resource::{
    Email, GroupRef, MemberRef, Meta, Name, UserAttributes, render_group, render_user,
};
use scimitar_proto::schema::{GROUP, USER};
use serde_json::{Value, json};

fn meta() -> Meta {
    Meta {
        created: 0,
        last_modified: 0,
        version: "W/\"1\"".into(),
    }
}

fn user() -> Value {
    let attrs = UserAttributes {
        user_name: "ada@example.com".into(),
        display_name: "Ada".into(),
        name: Name {
            given_name: Some("Ada".into()),
            family_name: Some("Lovelace".into()),
            ..Name::default()
        },
        title: Some("Analyst".into()),
        phone: None,
        external_id: Some("e".into()),
        email: Some(Email::of_user_name("ada@example.com")),
        active: Some(true),
    };
    let groups = [GroupRef {
        id: "g".into(),
        display: "Staff".into(),
    }];
    render_user("https://h", "u", &attrs, &meta(), Some(&groups))
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn project(p: &Projection) -> Value {
    let mut v = user();
    p.apply(&mut v);
    v
}

#[test]
fn default_returns_everything_rendered() {
    let p = projection::parse(&USER, None, Some("  ")).unwrap();
    assert_eq!(project(&p), user());
    assert!(p.includes("groups"));
    assert_eq!(project(&Projection::default_for(&USER)), user());
}

#[test]
fn attributes_keep_only_what_is_named_plus_id_and_schemas() {
    let p = projection::parse(
        &USER,
        Some("userName, NAME.givenName,urn:ietf:params:scim:schemas:core:2.0:User:title,nickName"),
        None,
    )
    .unwrap();
    let v = project(&p);
    assert_eq!(keys(&v), vec!["id", "name", "schemas", "title", "userName"]);
    assert_eq!(v["name"], json!({"givenName": "Ada"}));
    assert!(p.includes("name") && !p.includes("groups") && !p.includes("meta"));
    assert!(p.includes("id"), "id is returned always");
}

#[test]
fn attributes_with_sub_attributes_of_multi_valued() {
    let p = projection::parse(&USER, Some("emails.value,groups.display"), None).unwrap();
    let v = project(&p);
    assert_eq!(v["emails"], json!([{"value": "ada@example.com"}]));
    assert_eq!(v["groups"], json!([{"display": "Staff"}]));
    let p = projection::parse(&USER, Some("name.middleName"), None).unwrap();
    assert!(project(&p).get("name").is_none(), "nothing left of name");
}

#[test]
fn excluded_attributes() {
    let p = projection::parse(
        &USER,
        None,
        Some("groups,name.familyName,emails.primary,id,schemas"),
    )
    .unwrap();
    let v = project(&p);
    assert!(v.get("groups").is_none());
    assert_eq!(v["name"], json!({"givenName": "Ada"}));
    assert_eq!(
        v["emails"],
        json!([{"value": "ada@example.com", "type": "work"}])
    );
    assert_eq!(v["id"], "u", "id is returned always");
    assert!(v.get("schemas").is_some());
    assert!(!p.includes("groups") && p.includes("name") && p.includes("emails"));
}

#[test]
fn entra_excluded_members_is_known_before_loading() {
    let p = projection::parse(&GROUP, None, Some("members")).unwrap();
    assert!(!p.includes("members"));
    assert!(!p.includes("MEMBERS"));
    assert!(p.includes("displayName"));
    let members = [MemberRef {
        id: "u".into(),
        display: "Ada".into(),
    }];
    let mut v = render_group("https://h", "g", "Staff", None, Some(&members), &meta());
    p.apply(&mut v);
    assert!(v.get("members").is_none());
    let p = projection::parse(&GROUP, None, Some("members.display")).unwrap();
    assert!(
        p.includes("members"),
        "sub-attribute exclusion still needs members"
    );
}

#[test]
fn attributes_win_over_excluded_attributes() {
    let p = projection::parse(&USER, Some("userName"), Some("userName")).unwrap();
    assert_eq!(keys(&project(&p)), vec!["id", "schemas", "userName"]);
}

#[test]
fn unknown_and_extension_names_are_skipped() {
    let p = projection::parse(
        &USER,
        Some("nickName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
        None,
    )
    .unwrap();
    assert_eq!(keys(&project(&p)), vec!["id", "schemas"]);
    let p = projection::parse(&USER, None, Some("nickName,name.nope")).unwrap();
    assert_eq!(project(&p), user());
}

/// Regression (hardening): a 4 MB `.search` body listing one name hundreds
/// of thousands of times cost 1.6 s, each copy compared for every attribute
/// of every resource. Lists are capped, and duplicates count once.
#[test]
fn attribute_lists_are_capped_and_deduplicated() {
    let too_many = vec!["userName"; projection::MAX_NAMES + 1].join(",");
    for (attrs, excluded) in [
        (Some(too_many.as_str()), None),
        (None, Some(too_many.as_str())),
    ] {
        let err = projection::parse(&USER, attrs, excluded).unwrap_err();
        assert_eq!(err.scim_type, Some(scimitar_proto::ScimType::InvalidValue));
        assert!(err.detail.contains("more than 200"), "{}", err.detail);
    }
    let repeated = vec!["userName"; projection::MAX_NAMES].join(",");
    let many = projection::parse(&USER, Some(&repeated), None).unwrap();
    let one = projection::parse(&USER, Some("userName"), None).unwrap();
    assert_eq!(project(&many), project(&one));
    assert_eq!(
        format!("{many:?}"),
        format!("{one:?}"),
        "duplicates are kept once"
    );
}

//! The client view of users and groups.

use scimitar_proto::resource::{
    Email, GroupRef, MemberRef, Meta, Name, Phone, UserAttributes, parse_group, parse_user,
    render_group, render_user,
};
use serde_json::json;

fn meta() -> Meta {
    Meta {
        created: 0,
        last_modified: 1_500_000,
        version: "W/\"3\"".into(),
    }
}

fn attrs() -> UserAttributes {
    UserAttributes {
        user_name: "ada@example.com".into(),
        display_name: "Ada Lovelace".into(),
        name: Name {
            given_name: Some("Ada".into()),
            family_name: Some("Lovelace".into()),
            ..Name::default()
        },
        title: Some("Analyst".into()),
        phone: Some(Phone {
            value: "+46701234567".into(),
            kind: None,
        }),
        external_id: Some("ext-1".into()),
        email: Some(Email::of_user_name("ada@example.com")),
        active: Some(true),
    }
}

#[test]
fn user_view_is_complete() {
    let groups = [GroupRef {
        id: "g1".into(),
        display: "Staff".into(),
    }];
    let view = render_user("https://h/scim/v2/", "u1", &attrs(), &meta(), Some(&groups));
    assert_eq!(
        view,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "u1",
            "externalId": "ext-1",
            "userName": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "displayName": "Ada Lovelace",
            "title": "Analyst",
            "active": true,
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
            "phoneNumbers": [{"value": "+46701234567", "type": "work", "primary": true}],
            "groups": [{"value": "g1", "$ref": "https://h/scim/v2/Groups/g1", "display": "Staff",
                        "type": "direct"}],
            "meta": {
                "resourceType": "User",
                "created": "1970-01-01T00:00:00.000000Z",
                "lastModified": "1970-01-01T00:00:01.500000Z",
                "location": "https://h/scim/v2/Users/u1",
                "version": "W/\"3\"",
            },
        })
    );
}

#[test]
fn user_view_omits_what_is_absent() {
    let bare = UserAttributes {
        name: Name::default(),
        title: None,
        phone: None,
        external_id: None,
        ..attrs()
    };
    let view = render_user("https://h/scim/v2", "u1", &bare, &meta(), None);
    let keys: Vec<&str> = view
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for absent in ["name", "title", "phoneNumbers", "externalId", "groups"] {
        assert!(!keys.contains(&absent), "{absent} in {keys:?}");
    }
    let with_groups = render_user("https://h/scim/v2", "u1", &bare, &meta(), Some(&[]));
    assert_eq!(with_groups["groups"], json!([]));
}

#[test]
fn user_view_parses_back_to_the_same_attributes() {
    let view = render_user("https://h/scim/v2", "u1", &attrs(), &meta(), Some(&[]));
    let parsed = parse_user(&view).unwrap();
    let mut expected = attrs();
    expected.phone = Some(Phone {
        value: "+46701234567".into(),
        kind: Some("work".into()),
    });
    assert_eq!(parsed.value, expected);
}

#[test]
fn group_view() {
    let members = [MemberRef {
        id: "u1".into(),
        display: "Ada".into(),
    }];
    let view = render_group(
        "https://h/scim/v2",
        "g1",
        "Staff",
        Some("obj"),
        Some(&members),
        &meta(),
    );
    assert_eq!(
        view["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:Group"])
    );
    assert_eq!(view["externalId"], "obj");
    assert_eq!(
        view["members"],
        json!([{"value": "u1", "$ref": "https://h/scim/v2/Users/u1", "display": "Ada", "type": "User"}])
    );
    assert_eq!(view["meta"]["location"], "https://h/scim/v2/Groups/g1");
    assert_eq!(view["meta"]["resourceType"], "Group");

    let bare = render_group("https://h/scim/v2", "g1", "Staff", None, None, &meta());
    assert!(bare.get("members").is_none() && bare.get("externalId").is_none());
    let parsed = parse_group(&view).unwrap().value;
    assert_eq!(parsed.members, Some(vec!["u1".to_owned()]));
    assert_eq!(parsed.display_name, "Staff");
}

#[test]
fn user_view_shows_active_as_stored_and_omits_it_when_unassigned() {
    for (active, shown) in [
        (Some(true), Some(json!(true))),
        (Some(false), Some(json!(false))),
        (None, None),
    ] {
        let user = UserAttributes { active, ..attrs() };
        let view = render_user("https://h/scim/v2", "u1", &user, &meta(), None);
        assert_eq!(view.get("active").cloned(), shown);
        assert_eq!(parse_user(&view).unwrap().value.active, active);
    }
}

//! What POST/PUT bodies may contain, and the errors for what they may not.

use scimitar_proto::resource::{
    MAX_STRING_CHARS, Phone, normalize_e164, parse_group, parse_user, validate_email,
};
use scimitar_proto::{ScimError, ScimType};
use serde_json::{Value, json};

fn user(extra: Value) -> Value {
    let mut body = json!({"userName": "ada@example.com", "displayName": "Ada"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn invalid_value(body: &Value) -> ScimError {
    let err = parse_user(body).expect_err("refused");
    assert_eq!(err.status, 400, "{err}");
    assert_eq!(err.scim_type, Some(ScimType::InvalidValue), "{err}");
    err
}

#[test]
fn body_must_be_an_object() {
    for body in [json!([]), json!("x"), json!(null), json!(1)] {
        let err = parse_user(&body).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidSyntax));
        let err = parse_group(&body).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidSyntax));
    }
}

#[test]
fn minimal_user_defaults() {
    let parsed = parse_user(&user(json!({}))).unwrap();
    assert_eq!(
        parsed.value.active, None,
        "unassigned: the tenant's policy decides"
    );
    assert!(parsed.value.name.is_empty());
    assert_eq!(parsed.value.phone, None);
    assert!(parsed.ignored.is_empty());
}

#[test]
fn keys_are_case_insensitive() {
    let body = json!({"USERNAME": "ada@example.com", "displayname": "Ada", "Title": "CTO",
                      "NAME": {"GIVENNAME": "Ada"}, "ACTIVE": "true"});
    let attrs = parse_user(&body).unwrap().value;
    assert_eq!(attrs.user_name, "ada@example.com");
    assert_eq!(attrs.title.as_deref(), Some("CTO"));
    assert_eq!(attrs.name.given_name.as_deref(), Some("Ada"));
}

#[test]
fn urn_qualified_keys_and_core_wrapper() {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "urn:ietf:params:scim:schemas:core:2.0:User:userName": "ada@example.com",
        "urn:ietf:params:scim:schemas:core:2.0:User": {"displayName": "Ada", "title": "CTO"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D",
    });
    let parsed = parse_user(&body).unwrap();
    assert_eq!(parsed.value.display_name, "Ada");
    assert_eq!(parsed.value.title.as_deref(), Some("CTO"));
    assert_eq!(
        parsed.ignored,
        vec!["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"]
    );
}

#[test]
fn dotted_keys_fold_into_name() {
    let body = json!({"userName": "ada@example.com", "name": {"givenName": "Ada"},
                      "name.familyName": "Lovelace"});
    let attrs = parse_user(&body).unwrap().value;
    assert_eq!(attrs.display_name, "Ada Lovelace");
}

#[test]
fn same_attribute_twice_with_different_values_is_refused() {
    let body = json!({"userName": "ada@example.com", "USERNAME": "bob@example.com"});
    let err = invalid_value(&body);
    assert!(err.detail.contains("userName"), "{}", err.detail);
    let same =
        json!({"userName": "ada@example.com", "USERNAME": "ada@example.com", "displayName": "A"});
    assert!(parse_user(&same).is_ok());
}

#[test]
fn null_means_absent() {
    let body = user(
        json!({"title": null, "name": null, "phoneNumbers": null, "active": null,
                           "externalId": null, "nickName": null}),
    );
    let parsed = parse_user(&body).unwrap();
    assert_eq!(
        parsed.value.active, None,
        "unassigned: the tenant's policy decides"
    );
    assert_eq!(parsed.value.title, None);
    // An unknown attribute is noted even as a null placeholder.
    assert_eq!(parsed.ignored, vec!["nickName"]);
}

#[test]
fn user_name_is_required_trimmed_and_an_email() {
    let err = invalid_value(&json!({"displayName": "Ada"}));
    assert!(err.detail.contains("userName is required"));
    let attrs = parse_user(&user(json!({"userName": "  ada@example.com \t"})))
        .unwrap()
        .value;
    assert_eq!(attrs.user_name, "ada@example.com");
    for bad in [
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "a da@example.com",
        "a@b@c.com",
        "ada@.example.com",
        "ada@example..com",
        ".ada@example.com",
        "ada@-x.com",
    ] {
        let err = invalid_value(&user(json!({"userName": bad})));
        assert!(err.detail.contains("userName"), "{bad}: {}", err.detail);
        assert!(err.detail.contains(bad), "{bad}: {}", err.detail);
    }
    for good in [
        "ada@example.com",
        "ada.lovelace+scim@mail.example.co.uk",
        "o'brien@example.ie",
        "åsa@exempel.se",
    ] {
        assert!(validate_email(good).is_ok(), "{good}");
    }
    let long = format!("{}@example.com", "a".repeat(250));
    invalid_value(&user(json!({"userName": long})));
    let err = invalid_value(&user(json!({"userName": 42})));
    assert!(
        err.detail.contains("userName must be a string"),
        "{}",
        err.detail
    );
}

#[test]
fn display_name_is_derived_from_name() {
    let derive = |name: Value| {
        parse_user(&json!({"userName": "ada@example.com", "name": name}))
            .map(|p| p.value.display_name)
    };
    assert_eq!(
        derive(json!({"formatted": " Lady Ada ", "givenName": "A"})).unwrap(),
        "Lady Ada"
    );
    assert_eq!(
        derive(json!({"givenName": "Ada", "familyName": "Lovelace"})).unwrap(),
        "Ada Lovelace"
    );
    assert_eq!(
        derive(json!({"familyName": "Lovelace"})).unwrap(),
        "Lovelace"
    );
    let err = derive(json!({"middleName": "X"})).unwrap_err();
    assert!(
        err.detail.contains("displayName is required"),
        "{}",
        err.detail
    );
    // Blank counts as absent.
    let parsed = parse_user(&json!({"userName": "ada@example.com", "displayName": "  ",
                                    "name": {"givenName": "Ada"}}));
    assert_eq!(parsed.unwrap().value.display_name, "Ada");
}

#[test]
fn active_accepts_booleans_and_entra_strings_only() {
    for (v, expected) in [
        (json!(true), true),
        (json!(false), false),
        (json!("False"), false),
        (json!("TRUE"), true),
    ] {
        assert_eq!(
            parse_user(&user(json!({"active": v})))
                .unwrap()
                .value
                .active,
            Some(expected)
        );
    }
    for bad in [json!("yes"), json!(0), json!([]), json!({})] {
        let err = invalid_value(&user(json!({"active": bad})));
        assert!(err.detail.contains("active"), "{}", err.detail);
    }
}

#[test]
fn phone_numbers_at_most_one_in_e164() {
    let phone = |v: Value| parse_user(&user(json!({"phoneNumbers": v}))).map(|p| p.value.phone);
    assert_eq!(
        phone(json!([{"value": "+1 (425) 555-0100", "type": "Mobile", "primary": "true"}]))
            .unwrap(),
        Some(Phone {
            value: "+14255550100".into(),
            kind: Some("mobile".into())
        })
    );
    assert_eq!(phone(json!([])).unwrap(), None);
    assert_eq!(phone(json!([null])).unwrap(), None);
    // The same number twice is one number.
    let twice = json!([{"value": "+46701234567"}, {"value": "+46701234567"}]);
    assert_eq!(phone(twice).unwrap().unwrap().value, "+46701234567");
    let two = json!([{"value": "+46701234567"}, {"value": "+46701234568"}]);
    assert!(phone(two).unwrap_err().detail.contains("at most one"));
    for bad in [
        json!([{"value": "0701234567"}]),
        json!([{"type": "work"}]),
        json!({"value": "+4670"}),
        json!([{"value": 46701234567u64}]),
        json!(["+46701234567"]),
    ] {
        let err = phone(bad.clone()).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidValue), "{bad}");
        assert!(err.detail.contains("phoneNumbers"), "{bad}: {}", err.detail);
    }
}

#[test]
fn e164_rules() {
    assert_eq!(normalize_e164("+46 70-123.45(67)").unwrap(), "+46701234567");
    assert_eq!(
        normalize_e164("+6834002").unwrap(),
        "+6834002",
        "Niue: seven digits"
    );
    assert_eq!(
        normalize_e164("+123456789012345").unwrap(),
        "+123456789012345"
    );
    for bad in [
        "+1234567890123456",
        "+123456",
        "+0461234567",
        "46701234567",
        "+46 70 ABC",
        "++4670123456",
        "",
    ] {
        assert!(normalize_e164(bad).is_err(), "{bad}");
    }
    let err = normalize_e164("0701234567").unwrap_err();
    assert!(
        err.detail.contains("0701234567") && err.detail.contains("E.164"),
        "{}",
        err.detail
    );
}

#[test]
fn wrong_types_name_the_attribute() {
    for (attr, v) in [
        ("title", json!(5)),
        ("displayName", json!(["x"])),
        ("externalId", json!(true)),
        ("name", json!("Ada")),
        ("phoneNumbers", json!("+46701234567")),
    ] {
        let err = invalid_value(&user(json!({ attr: v })));
        assert!(err.detail.contains(attr), "{attr}: {}", err.detail);
    }
    let err = invalid_value(&user(json!({"name": {"givenName": 1}})));
    assert!(err.detail.contains("name.givenName"), "{}", err.detail);
}

#[test]
fn string_limits_and_control_characters() {
    let long = "x".repeat(MAX_STRING_CHARS + 1);
    let err = invalid_value(&user(json!({"title": long})));
    assert!(
        err.detail.contains("title is longer than 1024"),
        "{}",
        err.detail
    );
    assert!(parse_user(&user(json!({"title": "x".repeat(MAX_STRING_CHARS)}))).is_ok());
    let err = invalid_value(&user(json!({"displayName": "Ada\u{0}"})));
    assert!(err.detail.contains("control character"), "{}", err.detail);
}

#[test]
fn external_id_is_kept_exactly() {
    let attrs = parse_user(&user(json!({"externalId": " Ab-1 "})))
        .unwrap()
        .value;
    assert_eq!(attrs.external_id.as_deref(), Some(" Ab-1 "));
    let attrs = parse_user(&user(json!({"externalId": ""}))).unwrap().value;
    assert_eq!(attrs.external_id, None);
}

#[test]
fn ignored_attributes_are_listed_once() {
    let body = user(json!({
        "id": "x", "meta": {}, "emails": [{"value": "other@example.com"}], "groups": [],
        "password": "secret", "roles": [], "entitlements": [], "x509Certificates": [],
        "locale": "sv-SE", "preferredLanguage": "sv", "nickName": "A", "userType": "Employee",
        "timezone": "Europe/Stockholm", "profileUrl": "https://x", "addresses": [], "ims": [],
        "photos": [], "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R"},
        "name": {"givenName": "Ada", "nick": "A"},
    }));
    let parsed = parse_user(&body).unwrap();
    let mut ignored = parsed.ignored.clone();
    ignored.sort();
    let mut expected = vec![
        "addresses",
        "emails",
        "entitlements",
        "groups",
        "id",
        "ims",
        "locale",
        "meta",
        "name.nick",
        "nickName",
        "password",
        "photos",
        "preferredLanguage",
        "profileUrl",
        "roles",
        "timezone",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "userType",
        "x509Certificates",
    ];
    expected.sort();
    assert_eq!(ignored, expected);
    assert_eq!(
        parsed.value.user_name, "ada@example.com",
        "emails never override userName"
    );
}

#[test]
fn group_parsing() {
    let parsed = parse_group(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": " Staff ", "externalId": "obj-1", "id": "g",
        "members": [{"value": "u1", "$ref": "https://x/Users/u1", "type": "User"},
                    {"value": "u2", "display": "Bob"}, {"value": "u1"}, null]
    }))
    .unwrap();
    assert_eq!(parsed.value.display_name, "Staff");
    assert_eq!(parsed.value.external_id.as_deref(), Some("obj-1"));
    assert_eq!(
        parsed.value.members,
        Some(vec!["u1".to_owned(), "u2".to_owned()])
    );
    assert_eq!(parsed.ignored, vec!["id"]);

    let parsed = parse_group(&json!({"displayName": "S", "members": null})).unwrap();
    assert_eq!(parsed.value.members, None);
    let parsed = parse_group(&json!({"displayName": "S", "members": []})).unwrap();
    assert_eq!(parsed.value.members, Some(vec![]));
}

#[test]
fn group_errors() {
    let err = parse_group(&json!({"externalId": "x"})).unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
    assert!(err.detail.contains("displayName"));
    for members in [
        json!([{"display": "Bob"}]),
        json!([{"value": 5}]),
        json!(["u1"]),
        json!({"value": "u1"}),
    ] {
        let err = parse_group(&json!({"displayName": "S", "members": members})).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidValue), "{members}");
        assert!(err.detail.contains("members"), "{}", err.detail);
    }
}

#[test]
fn a_flood_of_unknown_keys_is_noted_boundedly() {
    let mut body = user(json!({}));
    for i in 0..20_000 {
        body[format!("junk{i}")] = json!(i);
    }
    let started = std::time::Instant::now();
    let parsed = parse_user(&body).unwrap();
    assert_eq!(
        parsed.ignored.len(),
        scimitar_proto::resource::MAX_IGNORED_NOTED
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

/// Regression (hardening): 200,000 numbers in one POST were compared pair
/// by pair, 36 s of CPU on an async worker. The list is refused by its
/// length, before any per-item work.
#[test]
fn a_huge_phone_list_is_refused_before_any_per_item_work() {
    let phones: Vec<Value> = (0..200_000)
        .map(|i| json!({"value": format!("+4670{i:07}")}))
        .collect();
    let err = invalid_value(&user(json!({ "phoneNumbers": phones })));
    assert!(err.detail.contains("200000 entries"), "{}", err.detail);
    // Repeats of one number below the cap still collapse into one.
    let same: Vec<Value> = (0..100).map(|_| json!({"value": "+46701234567"})).collect();
    let parsed = parse_user(&user(json!({ "phoneNumbers": same }))).unwrap();
    assert_eq!(parsed.value.phone.unwrap().value, "+46701234567");
}

/// Regression (hardening): a group body may name at most
/// `MAX_MEMBERS_PER_REQUEST` members; a larger list is refused by its
/// length, with a detail that says the limit.
#[test]
fn group_member_lists_are_capped_per_request() {
    use scimitar_proto::patch::MAX_MEMBERS_PER_REQUEST;
    let members =
        |n: usize| -> Value { (0..n).map(|i| json!({"value": format!("u{i}")})).collect() };
    let ok = parse_group(&json!({"displayName": "G", "members": members(MAX_MEMBERS_PER_REQUEST)}))
        .unwrap();
    assert_eq!(
        ok.value.members.map(|m| m.len()),
        Some(MAX_MEMBERS_PER_REQUEST)
    );
    for n in [MAX_MEMBERS_PER_REQUEST + 1, 100_000] {
        let err = parse_group(&json!({"displayName": "G", "members": members(n)})).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
        assert!(
            err.detail
                .contains(&format!("at most {MAX_MEMBERS_PER_REQUEST}")),
            "{}",
            err.detail
        );
    }
}

/// Ignored names go to the provisioning log: a huge or control-laden key
/// is clipped and escaped there.
#[test]
fn ignored_names_are_clipped_and_escaped() {
    let long = "k".repeat(100_000);
    let body = user(json!({ long.clone(): 1, "bad\u{0}key": 2 }));
    let parsed = parse_user(&body).unwrap();
    assert!(
        parsed.ignored.iter().all(|n| n.chars().count() <= 121),
        "{:?}",
        parsed.ignored
    );
    assert!(
        parsed.ignored.iter().all(|n| !n.contains('\0')),
        "{:?}",
        parsed.ignored
    );
    assert!(
        parsed.ignored.contains(&"bad\\u{0}key".to_owned()),
        "{:?}",
        parsed.ignored
    );
}

//! PATCH paths (RFC 7644 §3.5.2) as identity providers write them.

use scimitar_proto::ScimType;
use scimitar_proto::filter::{
    self, CompValue, CompareOp, Filter, FilterError, FilterErrorKind, MAX_DEPTH, Path,
};
use scimitar_proto::schema::{ENTERPRISE_USER_URN, GROUP, ResourceType, USER};
use serde_json::json;

fn path(rt: &'static ResourceType, input: &str) -> Path {
    filter::parse_path(rt, input).unwrap_or_else(|e| panic!("{input:?}: {e}"))
}

fn error(rt: &'static ResourceType, input: &str) -> FilterError {
    match filter::parse_path(rt, input) {
        Ok(p) => panic!("{input:?} parsed as {p:?}"),
        Err(e) => e,
    }
}

#[test]
fn plain_attribute_paths_stay_whole() {
    let p = path(&GROUP, "members");
    assert_eq!(
        (p.attr, p.filter, p.sub),
        (GROUP.resolve("members").unwrap(), None, None)
    );
    let p = path(&USER, "active");
    assert_eq!(p.attr, USER.resolve("active").unwrap());
    assert_eq!(p.to_string(), "active");
}

#[test]
fn sub_attribute_paths_resolve_into_attr() {
    let p = path(&USER, "name.givenName");
    assert_eq!(p.attr, USER.resolve("name.givenName").unwrap());
    assert_eq!((p.filter, p.sub), (None, None));
    assert_eq!(
        path(&USER, "NAME.FAMILYNAME").to_string(),
        "name.familyName"
    );
}

#[test]
fn entra_remove_member_path() {
    let p = path(
        &GROUP,
        r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
    );
    assert_eq!(p.attr, GROUP.resolve("members").unwrap());
    assert_eq!(p.sub, None);
    let expected = Filter::Compare(
        GROUP.resolve("members.value").unwrap(),
        CompareOp::Eq,
        CompValue::String("2819c223-7f76-453a-919d-413861904646".into()),
    );
    assert_eq!(p.filter, Some(expected));
    let filter = p.filter.unwrap();
    assert!(filter.matches_element(&json!({"value": "2819c223-7f76-453a-919d-413861904646"})));
    assert!(!filter.matches_element(&json!({"value": "902c246b-6245-4190-8e05-00816be7344a"})));
}

#[test]
fn entra_work_email_value_path() {
    let p = path(&USER, r#"emails[type eq "work"].value"#);
    assert_eq!(p.attr, USER.resolve("emails").unwrap());
    assert_eq!(p.sub.map(|s| s.name), Some("value"));
    assert!(
        p.filter
            .as_ref()
            .unwrap()
            .matches_element(&json!({"type": "Work", "value": "a@b"}))
    );
    assert_eq!(p.to_string(), r#"emails[type eq "work"].value"#);
}

#[test]
fn okta_phone_number_value_path() {
    let p = path(&USER, r#"phoneNumbers[type eq "mobile"].value"#);
    assert_eq!(p.sub.map(|s| s.name), Some("value"));
    assert_eq!(p.to_string(), r#"phoneNumbers[type eq "mobile"].value"#);
}

#[test]
fn enterprise_extension_paths_resolve_as_ignored() {
    let input = format!("{ENTERPRISE_USER_URN}:employeeNumber");
    let p = path(&USER, &input);
    assert!(p.attr.is_ignored());
    assert_eq!(p.to_string(), input);
    let p = path(&USER, &format!("{ENTERPRISE_USER_URN}:manager"));
    assert_eq!(p.attr.attr.name, "manager");
    assert_eq!(p.attr.sub, None);
}

#[test]
fn urn_qualified_core_paths_equal_plain_ones() {
    assert_eq!(
        path(
            &USER,
            "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName"
        ),
        path(&USER, "name.givenName")
    );
}

#[test]
fn paths_to_unknown_attributes_are_flagged_for_ignoring() {
    for (rt, input, at) in [
        (&USER, r#"addresses[type eq "work"].streetAddress"#, 0),
        (&USER, "nickName", 0),
        (
            &USER,
            "urn:ietf:params:scim:schemas:extension:CustomExtension:2.0:User:costCenter",
            0,
        ),
        (&USER, r#"emails[type eq "work"].display"#, 23),
        (&USER, r#"emails[kind eq "work"]"#, 7),
        (&GROUP, r#"members[value eq "x"].displayName"#, 22),
        (&GROUP, "userName", 0),
    ] {
        let e = error(rt, input);
        assert!(e.is_unknown_attribute(), "{input}: {e}");
        assert_eq!(e.offset, at, "{input}");
    }
}

#[test]
fn rfc7644_patch_path_examples() {
    assert_eq!(path(&GROUP, "members").to_string(), "members");
    assert_eq!(
        path(&USER, "name.familyName").to_string(),
        "name.familyName"
    );
    let p = path(
        &GROUP,
        r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
    );
    assert_eq!(
        p.to_string(),
        r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#
    );
    // The RFC's `members[...].displayName` names a sub-attribute Group
    // members do not have here (it is `display`).
    let e = error(
        &GROUP,
        r#"members[value eq "2819c223-7f76-453a-919d-413861904646"].displayName"#,
    );
    assert_eq!(
        e.kind,
        FilterErrorKind::UnknownAttribute {
            name: "members.displayName".into()
        }
    );
    let p = path(
        &GROUP,
        r#"members[value eq "2819c223-7f76-453a-919d-413861904646"].display"#,
    );
    assert_eq!(p.sub.map(|s| s.name), Some("display"));
    // `addresses` is not offered.
    assert!(error(&USER, r#"addresses[type eq "work"]"#).is_unknown_attribute());
}

#[test]
fn value_filter_in_a_path_is_a_full_filter() {
    let p = path(
        &USER,
        r#"emails[type eq "work" and not (value ew "@old.example.com")].primary"#,
    );
    let f = p.filter.unwrap();
    assert!(f.matches_element(&json!({"type": "work", "value": "a@new.example.com"})));
    assert!(!f.matches_element(&json!({"type": "work", "value": "a@old.example.com"})));
    assert_eq!(p.sub.map(|s| s.name), Some("primary"));
}

#[test]
fn malformed_paths_are_invalid_path_errors_pointing_at_the_problem() {
    for (input, at) in [
        ("", 0),
        (r#"emails[type eq "work"] extra"#, 23),
        (r#"emails[type eq "work"]."#, 23),
        (r#"emails[type eq "work""#, 21),
        ("userName eq \"x\"", 9),
        (r#"userName[value eq "x"]"#, 0),
        (r#"name.givenName[value eq "x"]"#, 0),
        ("(members)", 0),
        (r#"emails[type eq "work"].value.x"#, 23),
    ] {
        let e = error(&USER, input);
        assert_eq!(e.offset, at, "{input:?}: {e}");
        let scim = e.into_path_error();
        assert_eq!(
            (scim.status, scim.scim_type),
            (400, Some(ScimType::InvalidPath)),
            "{input:?}"
        );
        assert!(
            scim.detail.contains(&format!("at position {at} in path: ")),
            "{}",
            scim.detail
        );
    }
}

#[test]
fn path_error_detail_names_the_path() {
    let e = error(&USER, r#"emails[type eq 5]"#);
    assert_eq!(
        e.into_path_error().detail,
        r#"attribute 'emails.type' takes a string at position 15 in path: emails[type eq 5]"#
    );
}

#[test]
fn path_whitespace_is_tolerated_around_tokens() {
    let p = path(&USER, r#"  emails [ type  eq "work" ].value  "#);
    assert_eq!(p.to_string(), r#"emails[type eq "work"].value"#);
}

#[test]
fn path_nesting_is_bounded() {
    let input = format!(
        "emails[{}type pr{}]",
        "(".repeat(MAX_DEPTH),
        ")".repeat(MAX_DEPTH)
    );
    assert!(matches!(
        error(&USER, &input).kind,
        FilterErrorKind::TooDeep { .. }
    ));
    let input = format!(
        "emails[{}type pr{}]",
        "(".repeat(MAX_DEPTH - 1),
        ")".repeat(MAX_DEPTH - 1)
    );
    path(&USER, &input);
}

#[test]
fn every_printed_path_parses_back() {
    for (rt, input) in [
        (&USER, "userName"),
        (&USER, "name"),
        (
            &USER,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
        ),
        (&USER, r#"emails[type eq "work" or primary eq TRUE].value"#),
        (&USER, "phoneNumbers[value pr]"),
        (
            &GROUP,
            r#"members[value eq "a" and (display sw "B" or type eq "User")].$ref"#,
        ),
    ] {
        let p = path(rt, input);
        assert_eq!(path(rt, &p.to_string()), p, "{input}");
    }
}

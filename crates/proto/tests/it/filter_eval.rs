//! What a filter means (RFC 7644 §3.4.2.2), replayed on resources as
//! clients see them: the filters identity providers actually send, the RFC's
//! examples, and the edge cases the SQL translation must agree on.

use scimitar_proto::filter::{self, Filter};
use scimitar_proto::schema::{GROUP, ResourceType, USER};
use serde_json::{Value, json};

fn parse(rt: &'static ResourceType, input: &str) -> Filter {
    filter::parse(rt, input).unwrap_or_else(|e| panic!("{input:?}: {e}"))
}

fn user_matches(input: &str, user: &Value) -> bool {
    parse(&USER, input).matches(user)
}

/// A user as scimitar renders it (RFC 7643 §8.2's Barbara Jensen, adapted).
fn bjensen() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "bjensen",
        "userName": "bjensen@example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen, III",
            "familyName": "O'Malley",
            "givenName": "Barbara"
        },
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "active": true,
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
        "phoneNumbers": [{"value": "+46701234567", "type": "mobile"}],
        "groups": [{
            "value": "e9e30dba-f08f-4109-8486-d5c6a331660a",
            "$ref": "https://example.com/scim/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a",
            "display": "Tour Guides",
            "type": "direct"
        }],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "location": "https://example.com/scim/v2/Users/2819c223-7f76-453a-919d-413861904646",
            "version": "W/\"a330bc54f0671c9\""
        }
    })
}

fn tour_guides() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "externalId": "5d0c4a6e-aad-entra-object-id",
        "displayName": "Tour Guides",
        "members": [
            {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen", "type": "User"},
            {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge", "type": "User"}
        ],
        "meta": {"resourceType": "Group", "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"}
    })
}

#[test]
fn entra_test_connection_filter() {
    // Entra's "Test connection" looks up a user name that cannot exist and
    // expects an empty list, not an error.
    let f = parse(
        &USER,
        r#"userName eq "c1d8a2b6-0a55-4c5c-9d8e-3cda2a5e0cd7""#,
    );
    assert!(!f.matches(&bjensen()));
}

#[test]
fn entra_user_lookup_by_user_name() {
    assert!(user_matches(
        r#"userName eq "bjensen@example.com""#,
        &bjensen()
    ));
}

#[test]
fn okta_uppercase_username_filter() {
    // userName is not caseExact: Okta's upper-cased lookup finds the user,
    // otherwise Okta would create a duplicate.
    assert!(user_matches(
        r#"userName eq "BJENSEN@EXAMPLE.COM""#,
        &bjensen()
    ));
    assert!(user_matches(
        r#"userName eq "BJensen@Example.com""#,
        &bjensen()
    ));
}

#[test]
fn entra_external_id_filter_is_case_exact() {
    assert!(user_matches(r#"externalId eq "bjensen""#, &bjensen()));
    assert!(!user_matches(r#"externalId eq "BJENSEN""#, &bjensen()));
}

#[test]
fn entra_group_lookup_by_display_name() {
    let f = parse(&GROUP, r#"displayName eq "tour guides""#);
    assert!(f.matches(&tour_guides()));
    assert!(!parse(&GROUP, r#"displayName eq "Tour""#).matches(&tour_guides()));
}

#[test]
fn entra_group_lookup_by_external_id() {
    assert!(
        parse(&GROUP, r#"externalId eq "5d0c4a6e-aad-entra-object-id""#).matches(&tour_guides())
    );
}

#[test]
fn entra_membership_check_filter() {
    let group = tour_guides();
    let member = r#"id eq "e9e30dba-f08f-4109-8486-d5c6a331660a" and members eq "902c246b-6245-4190-8e05-00816be7344a""#;
    assert!(parse(&GROUP, member).matches(&group));
    let stranger = r#"id eq "e9e30dba-f08f-4109-8486-d5c6a331660a" and members eq "00000000-0000-0000-0000-000000000000""#;
    assert!(!parse(&GROUP, stranger).matches(&group));
    // Member ids are caseExact.
    assert!(
        !parse(
            &GROUP,
            r#"members eq "902C246B-6245-4190-8E05-00816BE7344A""#
        )
        .matches(&group)
    );
}

#[test]
fn members_value_filter_equals_members_filter() {
    let group = tour_guides();
    for input in [
        r#"members.value eq "902c246b-6245-4190-8e05-00816be7344a""#,
        r#"members[value eq "902c246b-6245-4190-8e05-00816be7344a"]"#,
        r#"members eq "902c246b-6245-4190-8e05-00816be7344a""#,
    ] {
        assert!(parse(&GROUP, input).matches(&group), "{input}");
    }
}

#[test]
fn rfc7644_examples_evaluate_on_bjensen() {
    let user = bjensen();
    for (input, expected) in [
        (r#"userName eq "bjensen@example.com""#, true),
        (r#"name.familyName co "O'Malley""#, true),
        (r#"userName sw "J""#, false),
        (r#"userName sw "b""#, true),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "B""#,
            true,
        ),
        ("title pr", true),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
        (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
        (r#"title pr and title eq "Tour Guide""#, true),
        (r#"title pr or title eq "Intern""#, true),
        (
            r#"title eq "Tour Guide" and (emails co "example.com" or emails.value co "example.org")"#,
            true,
        ),
        (
            r#"title ne "Tour Guide" and not (emails co "example.com" or emails.value co "example.org")"#,
            false,
        ),
        (r#"title eq "Tour Guide" and (emails.type eq "work")"#, true),
        (
            r#"title eq "Tour Guide" and emails[type eq "work" and value co "@example.com"]"#,
            true,
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"] or phoneNumbers[type eq "work"]"#,
            true,
        ),
        (
            r#"emails[type eq "home"] or phoneNumbers[type eq "work"]"#,
            false,
        ),
    ] {
        assert_eq!(user_matches(input, &user), expected, "{input}");
    }
}

#[test]
fn value_path_requires_one_element_to_satisfy_all_conditions() {
    let user = json!({"emails": [
        {"value": "a@other.org", "type": "work"},
        {"value": "b@example.com", "type": "home"}
    ]});
    assert!(!user_matches(
        r#"emails[type eq "work" and value co "@example.com"]"#,
        &user
    ));
    // Without the brackets each condition may hold on a different element.
    assert!(user_matches(
        r#"emails.type eq "work" and emails.value co "@example.com""#,
        &user
    ));
    assert!(user_matches(
        r#"emails[type eq "home" and value co "@example.com"]"#,
        &user
    ));
}

#[test]
fn matches_element_looks_only_at_the_sub_attribute() {
    let f = parse(&GROUP, r#"members[value eq "u1" or display sw "Ad"]"#);
    let Filter::ValuePath(_, inner) = f else {
        panic!()
    };
    assert!(inner.matches_element(&json!({"value": "u1"})));
    assert!(inner.matches_element(&json!({"value": "u2", "display": "admin"})));
    assert!(!inner.matches_element(&json!({"value": "u2", "display": "Bob"})));
    assert!(!inner.matches_element(&json!({"members": {"value": "u1"}})));
    assert!(!inner.matches_element(&json!("u1")));
}

#[test]
fn case_insensitive_strings_fold_unicode() {
    let user = json!({"displayName": "ÅSA Öberg", "name": {"givenName": "ΣΟΦΊΑ"}});
    assert!(user_matches(r#"displayName eq "åsa öberg""#, &user));
    assert!(user_matches(r#"displayName co "SA ö""#, &user));
    assert!(user_matches(r#"name.givenName eq "σοφία""#, &user));
    assert!(user_matches(r#"name.givenName ew "ΊΑ""#, &user));
}

#[test]
fn case_exact_attributes_compare_exactly() {
    let user = bjensen();
    assert!(user_matches(
        r#"id eq "2819c223-7f76-453a-919d-413861904646""#,
        &user
    ));
    assert!(!user_matches(
        r#"id eq "2819C223-7F76-453A-919D-413861904646""#,
        &user
    ));
    assert!(!user_matches(r#"meta.version sw "w/""#, &user));
    assert!(user_matches(r#"meta.version sw "W/""#, &user));
}

#[test]
fn string_ordering_is_lexicographic_after_folding() {
    let user = json!({"userName": "Mike@example.com"});
    for (input, expected) in [
        (r#"userName gt "m""#, true),
        (r#"userName gt "MIKE@example.com""#, false),
        (r#"userName ge "MIKE@example.com""#, true),
        (r#"userName lt "n""#, true),
        (r#"userName le "a""#, false),
    ] {
        assert_eq!(user_matches(input, &user), expected, "{input}");
    }
}

#[test]
fn date_times_compare_as_instants() {
    let user = json!({"meta": {"lastModified": "2011-05-13T06:42:34+02:00"}});
    for (input, expected) in [
        (r#"meta.lastModified eq "2011-05-13T04:42:34Z""#, true),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:33.999999Z""#,
            true,
        ),
        (
            r#"meta.lastModified lt "2011-05-13T04:42:34.000001Z""#,
            true,
        ),
        (r#"meta.lastModified ne "2011-05-13T04:42:34Z""#, false),
    ] {
        assert_eq!(user_matches(input, &user), expected, "{input}");
    }
    // A stored value that is not a date-time matches nothing.
    assert!(!user_matches(
        r#"meta.lastModified lt "2999-01-01T00:00:00Z""#,
        &json!({"meta": {"lastModified": "soon"}})
    ));
}

#[test]
fn booleans_match_json_booleans() {
    let user = bjensen();
    assert!(user_matches("active eq true", &user));
    assert!(!user_matches(r#"active eq "False""#, &user));
    assert!(user_matches(r#"active ne "False""#, &user));
    assert!(user_matches("emails[primary eq true]", &user));
    // A string "true" in a resource is not the boolean.
    assert!(!user_matches("active eq true", &json!({"active": "true"})));
}

#[test]
fn present_means_not_null_and_not_empty() {
    for (resource, expected) in [
        (json!({"title": "x"}), true),
        (json!({"title": ""}), false),
        (json!({"title": null}), false),
        (json!({}), false),
    ] {
        assert_eq!(user_matches("title pr", &resource), expected, "{resource}");
    }
    for (resource, expected) in [
        (json!({"emails": [{"value": "a@b"}]}), true),
        (json!({"emails": []}), false),
        (json!({"emails": [{}]}), false),
        (json!({"emails": [{"value": null}]}), false),
        (json!({"emails": null}), false),
    ] {
        assert_eq!(user_matches("emails pr", &resource), expected, "{resource}");
    }
    for (resource, expected) in [
        (json!({"name": {"givenName": "B"}}), true),
        (json!({"name": {"givenName": ""}}), false),
        (json!({"name": {"givenName": null}}), false),
        (json!({"name": {}}), false),
    ] {
        assert_eq!(user_matches("name pr", &resource), expected, "{resource}");
    }
    assert!(user_matches(
        "emails.value pr",
        &json!({"emails": [{"value": ""}, {"value": "x"}]})
    ));
    assert!(!user_matches(
        "emails.value pr",
        &json!({"emails": [{"value": ""}, {"type": "work"}]})
    ));
}

#[test]
fn eq_null_means_absent_and_ne_null_means_present() {
    for (resource, present) in [
        (json!({"title": "x"}), true),
        (json!({"title": null}), false),
        (json!({"title": ""}), false),
        (json!({}), false),
    ] {
        assert_eq!(
            user_matches("title eq null", &resource),
            !present,
            "{resource}"
        );
        assert_eq!(
            user_matches("title ne null", &resource),
            present,
            "{resource}"
        );
    }
}

#[test]
fn ne_matches_absent_attributes_and_any_differing_value() {
    assert!(user_matches(r#"title ne "x""#, &json!({})));
    assert!(user_matches(r#"title ne "x""#, &json!({"title": null})));
    assert!(!user_matches(r#"title ne "X""#, &json!({"title": "x"})));
    let two = json!({"emails": [{"type": "work"}, {"type": "home"}]});
    assert!(user_matches(r#"emails.type ne "work""#, &two));
    let one = json!({"emails": [{"type": "work"}]});
    assert!(!user_matches(r#"emails.type ne "work""#, &one));
    assert!(user_matches(
        r#"emails.type ne "work""#,
        &json!({"emails": []})
    ));
}

#[test]
fn comparisons_on_absent_attributes_do_not_match() {
    let empty = json!({});
    for input in [
        r#"title eq "x""#,
        r#"title co """#,
        r#"title sw """#,
        r#"title gt "a""#,
        "active eq false",
        r#"meta.created lt "2999-01-01T00:00:00Z""#,
        r#"emails[type eq "work"]"#,
    ] {
        assert!(!user_matches(input, &empty), "{input}");
        assert!(user_matches(&format!("not ({input})"), &empty), "{input}");
    }
}

#[test]
fn empty_operand_substrings_match_any_present_string() {
    let user = json!({"title": "Guide"});
    assert!(user_matches(r#"title co """#, &user));
    assert!(user_matches(r#"title sw """#, &user));
    assert!(user_matches(r#"title ew """#, &user));
}

#[test]
fn resource_keys_are_looked_up_ignoring_case() {
    let user = json!({"USERNAME": "a@b.c", "Name": {"GIVENNAME": "Ann"}, "EMAILS": [{"VALUE": "a@b.c", "Type": "work"}]});
    assert!(user_matches(r#"userName eq "a@b.c""#, &user));
    assert!(user_matches(r#"name.givenName eq "ann""#, &user));
    assert!(user_matches(
        r#"emails[type eq "work" and value eq "A@B.C"]"#,
        &user
    ));
}

#[test]
fn extension_attributes_are_read_under_their_urn() {
    let urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let filter = format!("{urn}:department eq \"Sales\"");
    assert!(!user_matches(&filter, &bjensen()));
    assert!(user_matches(
        &format!("{urn}:department ne \"Sales\""),
        &bjensen()
    ));
    let mut user = bjensen();
    user[urn] = json!({"department": "sales", "manager": {"value": "m1"}});
    assert!(user_matches(&filter, &user));
    assert!(user_matches(&format!("{urn}:manager eq \"m1\""), &user));
    // An attribute of the same name at the top level is not the extension's.
    assert!(!user_matches(&filter, &json!({"department": "Sales"})));
}

#[test]
fn logical_operators_combine_as_written() {
    let user = bjensen();
    for (input, expected) in [
        (r#"title pr and userName eq "nobody""#, false),
        (r#"title pr or userName eq "nobody""#, true),
        (r#"not (title pr) or userName eq "nobody""#, false),
        (
            r#"userName eq "nobody" or title pr and active eq true"#,
            true,
        ),
        (
            r#"(userName eq "nobody" or title pr) and active eq false"#,
            false,
        ),
        (r#"not (not (title pr))"#, true),
    ] {
        assert_eq!(user_matches(input, &user), expected, "{input}");
    }
}

#[test]
fn non_object_resources_match_nothing_positive() {
    for resource in [
        json!(null),
        json!("userName"),
        json!([{"userName": "x"}]),
        json!(3),
    ] {
        assert!(!user_matches(r#"userName eq "x""#, &resource));
        assert!(!user_matches("userName pr", &resource));
        assert!(user_matches("userName eq null", &resource));
    }
}

#[test]
fn value_path_counts_empty_elements_but_not_nulls() {
    let f = r#"emails[not (type eq "work")]"#;
    assert!(user_matches(f, &json!({"emails": [{}]})));
    assert!(!user_matches(f, &json!({"emails": [null]})));
    assert!(!user_matches(f, &json!({"emails": null})));
    assert!(!user_matches(f, &json!({"emails": []})));
    assert!(user_matches(
        "name[not (givenName pr)]",
        &json!({"name": {}})
    ));
    assert!(!user_matches(
        "name[not (givenName pr)]",
        &json!({"name": null})
    ));
}

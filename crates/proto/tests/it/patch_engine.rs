//! The PATCH engine on users: parsing errors, paths, coercion, atomicity.

use scimitar_proto::patch::{
    self, MAX_OPERATIONS, MAX_VALUES, PatchOpKind, PatchOperation, PatchRequest,
};
use scimitar_proto::resource::{Email, Meta, Name, UserAttributes, parse_user, render_user};
use scimitar_proto::schema::{GROUP, USER};
use scimitar_proto::{ScimError, ScimType};
use serde_json::{Value, json};

fn user() -> Value {
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
        external_id: None,
        email: Some(Email::of_user_name("ada@example.com")),
        active: Some(true),
    };
    let meta = Meta {
        created: 0,
        last_modified: 0,
        version: "W/\"1\"".into(),
    };
    render_user("https://h/scim/v2", "u-1", &attrs, &meta, None)
}

fn body(operations: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

fn apply(view: &mut Value, operations: Value) -> Result<Vec<String>, ScimError> {
    let request = patch::parse_patch(&body(operations))?;
    patch::apply(&USER, view, &request).map(|o| o.ignored)
}

fn applied(operations: Value) -> Value {
    let mut view = user();
    apply(&mut view, operations).expect("applies");
    view
}

fn refused(operations: Value, scim_type: ScimType) -> ScimError {
    let mut view = user();
    let err = apply(&mut view, operations).expect_err("refused");
    assert_eq!(err.status, 400, "{err}");
    assert_eq!(err.scim_type, Some(scim_type), "{err}");
    assert_eq!(view, user(), "a refused PATCH changes nothing");
    err
}

fn parse_error(body: Value) -> ScimError {
    patch::parse_patch(&body).expect_err("refused")
}

#[test]
fn message_structure_errors() {
    let cases = [
        (json!([]), ScimType::InvalidSyntax),
        (json!({"schemas": []}), ScimType::InvalidSyntax),
        (json!({"Operations": {}}), ScimType::InvalidSyntax),
        (body(json!([])), ScimType::InvalidValue),
        (body(json!(["add"])), ScimType::InvalidSyntax),
        (
            body(json!([{"path": "title", "value": "x"}])),
            ScimType::InvalidSyntax,
        ),
        (
            body(json!([{"op": "delete", "path": "title"}])),
            ScimType::InvalidSyntax,
        ),
        (
            body(json!([{"op": 1, "path": "title"}])),
            ScimType::InvalidSyntax,
        ),
        (
            body(json!([{"op": "add", "path": "title"}])),
            ScimType::InvalidSyntax,
        ),
        (
            body(json!([{"op": "add", "path": 5, "value": "x"}])),
            ScimType::InvalidPath,
        ),
        (
            body(json!([{"op": "replace", "value": "x"}])),
            ScimType::InvalidValue,
        ),
        (
            body(json!([{"op": "remove", "path": ""}])),
            ScimType::NoTarget,
        ),
    ];
    for (b, t) in cases {
        let err = parse_error(b.clone());
        assert_eq!(err.status, 400);
        assert_eq!(err.scim_type, Some(t), "{b}: {err}");
    }
}

#[test]
fn operation_limit() {
    let op = json!({"op": "replace", "path": "title", "value": "x"});
    let at_limit = body(Value::Array(vec![op.clone(); MAX_OPERATIONS]));
    assert_eq!(
        patch::parse_patch(&at_limit).unwrap().operations.len(),
        MAX_OPERATIONS
    );
    let err = parse_error(body(Value::Array(vec![op; MAX_OPERATIONS + 1])));
    assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
    assert!(err.detail.contains("1000"), "{}", err.detail);
}

/// Found by fuzzing (fuzz/README.md): each added value was looked up among
/// the ones already added, so 32,000 phone numbers (800 kB) took minutes.
#[test]
fn many_values_in_one_add_are_refused_not_quadratic() {
    let phones = |n: usize| -> Value {
        (0..n)
            .map(|i| json!({"value": format!("+4670{i:07}")}))
            .collect()
    };
    let view = applied(json!([{"op": "add", "path": "phoneNumbers", "value": phones(MAX_VALUES)}]));
    assert_eq!(
        view["phoneNumbers"].as_array().map(Vec::len),
        Some(MAX_VALUES)
    );

    for n in [MAX_VALUES + 1, 20_000] {
        let add = json!([{"op": "add", "path": "phoneNumbers", "value": phones(n)}]);
        let err = refused(add, ScimType::InvalidValue);
        assert!(err.detail.contains("at most 100"), "{}", err.detail);
    }
    // Growing the list one filtered add at a time hits the same cap.
    let adds: Vec<Value> = (0..=MAX_VALUES)
        .map(|i| {
            let path = format!("phoneNumbers[type eq \"t{i}\"].value");
            json!({"op": "add", "path": path, "value": "+46701234567"})
        })
        .collect();
    refused(Value::Array(adds), ScimType::InvalidValue);
}

#[test]
fn parsed_operations_keep_what_was_sent() {
    let request = patch::parse_patch(&json!({"Operations": [
        {"op": "Add", "path": "  title ", "value": null},
        {"op": "remove", "path": "title", "value": [1]},
    ]}))
    .unwrap();
    assert_eq!(
        request,
        PatchRequest {
            operations: vec![
                PatchOperation {
                    op: PatchOpKind::Add,
                    path: Some("title".into()),
                    value: Some(Value::Null)
                },
                PatchOperation {
                    op: PatchOpKind::Remove,
                    path: Some("title".into()),
                    value: Some(json!([1]))
                },
            ]
        }
    );
}

#[test]
fn bad_path_syntax_is_invalid_path() {
    let err = refused(
        json!([{"op": "replace", "path": "name.givenName)", "value": "x"}]),
        ScimType::InvalidPath,
    );
    assert!(
        err.detail
            .starts_with("Operations[0] (replace 'name.givenName)'): "),
        "{}",
        err.detail
    );
    refused(
        json!([{"op": "replace", "path": "phoneNumbers[type eq]", "value": "x"}]),
        ScimType::InvalidPath,
    );
    refused(
        json!([{"op": "add", "path": "name[givenName eq \"Ada\"].familyName", "value": "x"}]),
        ScimType::InvalidPath,
    );
}

#[test]
fn unknown_paths_and_derived_emails_are_ignored_and_noted() {
    let mut view = user();
    let ignored = apply(&mut view, json!([
        {"op": "replace", "path": "nickName", "value": "A"},
        {"op": "remove", "path": "emails"},
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x@example.com"},
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R"},
        {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": {"department": "R"}},
        {"op": "replace", "path": "name.nick", "value": "x"},
        // Read-only keys of a path-less value are ignored (Okta sends `id`).
        {"op": "replace", "value": {"id": "u-1", "meta": {"version": "W/\"9\""}, "groups": []}},
    ]))
    .unwrap();
    assert_eq!(view, user());
    assert_eq!(ignored.len(), 9, "{ignored:?}");
    assert!(ignored.contains(&"nickName".to_owned()));
}

/// Regression (hardening): RFC 7644 §3.5.2 — an explicit path to a
/// read-only attribute is 400 `mutability`, and no operation of the
/// request applies.
#[test]
fn explicit_paths_to_read_only_attributes_are_refused() {
    for path in [
        "id",
        "meta",
        "meta.created",
        "meta.lastModified",
        "META.version",
        "groups",
        "groups[value eq \"g\"].display",
    ] {
        for op in ["add", "replace", "remove"] {
            let err = refused(
                json!([
                    {"op": "replace", "path": "title", "value": "Changed"},
                    {"op": op, "path": path, "value": "x"},
                ]),
                ScimType::Mutability,
            );
            assert!(err.detail.contains("read-only"), "{path}: {}", err.detail);
        }
    }
    // The same on a group.
    let request = patch::parse_patch(&body(json!([
        {"op": "replace", "path": "id", "value": "other"}
    ])))
    .unwrap();
    let mut group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g", "displayName": "G"});
    let err = patch::apply(&GROUP, &mut group, &request).unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::Mutability));
}

#[test]
fn wrong_value_types_are_invalid_value() {
    for (path, value, named) in [
        ("title", json!(5), "title must be a string, got 5"),
        (
            "userName",
            json!(["a"]),
            "userName must be a string, got an array",
        ),
        (
            "active",
            json!("maybe"),
            "active must be true or false, got \"maybe\"",
        ),
        ("name", json!("Ada"), "name must be an object"),
        (
            "name.givenName",
            json!({}),
            "name.givenName must be a string",
        ),
        (
            "name",
            json!({"givenName": 1}),
            "name.givenName must be a string",
        ),
        (
            "phoneNumbers",
            json!(["+46701234567"]),
            "phoneNumbers must be an object",
        ),
        (
            "phoneNumbers[type eq \"work\"].primary",
            json!("yes"),
            "phoneNumbers.primary must be true or false",
        ),
    ] {
        let err = refused(
            json!([{"op": "replace", "path": path, "value": value}]),
            ScimType::InvalidValue,
        );
        assert!(err.detail.contains(named), "{path}: {}", err.detail);
    }
    // Without a path, the key is named.
    let err = refused(
        json!([{"op": "replace", "value": {"title": 5}}]),
        ScimType::InvalidValue,
    );
    assert!(
        err.detail.contains("title must be a string"),
        "{}",
        err.detail
    );
}

#[test]
fn sub_attributes_of_name() {
    let view = applied(json!([{"op": "replace", "path": "name.middleName", "value": "Augusta"}]));
    assert_eq!(view["name"]["middleName"], "Augusta");
    let view = applied(json!([{"op": "add", "path": "NAME.GIVENNAME", "value": "Augusta"}]));
    assert_eq!(view["name"]["givenName"], "Augusta");
    let view = applied(json!([
        {"op": "remove", "path": "name.givenName"},
        {"op": "remove", "path": "name.familyName"}
    ]));
    assert!(
        view.get("name").is_none(),
        "an emptied complex attribute is unassigned"
    );
    let view = applied(
        json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName", "value": "Byron"}]),
    );
    assert_eq!(view["name"]["familyName"], "Byron");
}

#[test]
fn complex_replace_merges_and_null_removes_a_part() {
    let view = applied(
        json!([{"op": "replace", "path": "name", "value": {"givenName": "Augusta", "familyName": null, "nick": "x"}}]),
    );
    assert_eq!(view["name"], json!({"givenName": "Augusta"}));
    let mut v = user();
    let ignored = apply(
        &mut v,
        json!([{"op": "replace", "path": "name", "value": {"nick": "x"}}]),
    )
    .unwrap();
    assert_eq!(ignored, vec!["name.nick"]);
}

#[test]
fn null_value_unassigns() {
    let view = applied(json!([{"op": "replace", "path": "title", "value": null}]));
    assert!(view.get("title").is_none());
    let view = applied(json!([{"op": "add", "value": {"title": null, "externalId": "e"}}]));
    assert!(view.get("title").is_none());
    assert_eq!(view["externalId"], "e");
}

#[test]
fn booleans_are_coerced_everywhere() {
    let view = applied(json!([{"op": "replace", "value": {"active": "FALSE"}}]));
    assert_eq!(view["active"], json!(false));
    let view = applied(
        json!([{"op": "add", "path": "phoneNumbers", "value": [{"value": "+46701234567", "primary": "True"}]}]),
    );
    assert_eq!(view["phoneNumbers"][0]["primary"], json!(true));
}

#[test]
fn core_urn_wrapper_in_a_path_less_value() {
    let view = applied(json!([{"op": "replace", "value": {
        "urn:ietf:params:scim:schemas:core:2.0:User": {"title": "CTO", "name": {"middleName": "A"}},
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]
    }}]));
    assert_eq!(view["title"], "CTO");
    assert_eq!(view["name"]["middleName"], "A");
}

#[test]
fn path_less_keys_that_are_not_paths_are_ignored() {
    let mut view = user();
    let ignored = apply(
        &mut view,
        json!([{"op": "replace", "value": {"not a path[": 1, "title": "CTO"}}]),
    )
    .unwrap();
    assert_eq!(view["title"], "CTO");
    assert_eq!(ignored, vec!["not a path["]);
}

#[test]
fn adds_through_one_filter_build_one_element() {
    let view = applied(json!([
        {"op": "add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+46701234567"},
        {"op": "add", "path": "phoneNumbers[type eq \"work\"].primary", "value": true}
    ]));
    assert_eq!(
        view["phoneNumbers"],
        json!([{"type": "work", "value": "+46701234567", "primary": true}])
    );
    let user = parse_user(&view).unwrap().value;
    assert_eq!(user.phone.unwrap().kind.as_deref(), Some("work"));
}

#[test]
fn add_through_a_filter_that_cannot_describe_an_element_is_no_target() {
    refused(
        json!([{"op": "add", "path": "phoneNumbers[type co \"wor\"].value", "value": "+46701234567"}]),
        ScimType::NoTarget,
    );
    refused(
        json!([{"op": "add", "path": "phoneNumbers[type eq \"work\" or type eq \"home\"].value", "value": "+46701234567"}]),
        ScimType::NoTarget,
    );
}

#[test]
fn add_through_filter_updates_the_match() {
    let mut view = user();
    view["phoneNumbers"] = json!([{"value": "+46701234567", "type": "work", "primary": true}]);
    apply(&mut view, json!([{"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+46701234999"}])).unwrap();
    assert_eq!(
        view["phoneNumbers"],
        json!([{"value": "+46701234999", "type": "work", "primary": true}])
    );
    apply(&mut view, json!([{"op": "add", "path": "phoneNumbers[type eq \"work\"]", "value": {"display": "desk"}}])).unwrap();
    assert_eq!(
        view["phoneNumbers"][0]["display"],
        json!(null),
        "unknown sub-attributes are dropped"
    );
}

#[test]
fn removals_through_filters() {
    let mut view = user();
    view["phoneNumbers"] = json!([{"value": "+46701234567", "type": "work", "primary": true}]);
    let before = view.clone();
    apply(
        &mut view,
        json!([{"op": "remove", "path": "phoneNumbers[type eq \"home\"]"}]),
    )
    .unwrap();
    assert_eq!(view, before, "no match: no-op");
    apply(
        &mut view,
        json!([{"op": "remove", "path": "phoneNumbers[type eq \"work\"].value"}]),
    )
    .unwrap();
    assert!(
        view.get("phoneNumbers").is_none(),
        "an element without its value is gone"
    );
    assert!(parse_user(&view).unwrap().value.phone.is_none());

    let mut view = before.clone();
    apply(
        &mut view,
        json!([{"op": "remove", "path": "phoneNumbers[type eq \"work\"].primary"}]),
    )
    .unwrap();
    assert_eq!(
        view["phoneNumbers"],
        json!([{"value": "+46701234567", "type": "work"}])
    );

    let mut view = before.clone();
    apply(
        &mut view,
        json!([{"op": "remove", "path": "phoneNumbers", "value": [{"value": "+46701234567"}]}]),
    )
    .unwrap();
    assert!(
        view.get("phoneNumbers").is_none(),
        "legacy value-list removal"
    );
    let mut view = before.clone();
    apply(
        &mut view,
        json!([{"op": "remove", "path": "phoneNumbers", "value": [{"value": "+1555"}]}]),
    )
    .unwrap();
    assert_eq!(view, before);
}

#[test]
fn multi_valued_replace_and_primary() {
    let mut view = user();
    view["phoneNumbers"] = json!([{"value": "+46701234567", "type": "work", "primary": true}]);
    apply(&mut view, json!([{"op": "add", "path": "phoneNumbers", "value": {"value": "+46701234568", "type": "mobile", "primary": true}}])).unwrap();
    assert_eq!(
        view["phoneNumbers"][0]["primary"],
        json!(false),
        "one primary at most"
    );
    assert_eq!(view["phoneNumbers"][1]["primary"], json!(true));
    let err = parse_user(&view).unwrap_err();
    assert!(
        err.detail.contains("at most one"),
        "the re-parse enforces the product rule"
    );
    apply(
        &mut view,
        json!([{"op": "replace", "path": "phoneNumbers", "value": []}]),
    )
    .unwrap();
    assert!(view.get("phoneNumbers").is_none());
}

#[test]
fn a_failing_operation_undoes_the_earlier_ones() {
    let err = refused(
        json!([
            {"op": "replace", "path": "title", "value": "CTO"},
            {"op": "replace", "path": "displayName", "value": "X"},
            {"op": "replace", "path": "active", "value": 3}
        ]),
        ScimType::InvalidValue,
    );
    assert!(err.detail.starts_with("Operations[2]"), "{}", err.detail);
}

#[test]
fn hand_built_path_less_remove_is_refused() {
    let request = PatchRequest {
        operations: vec![PatchOperation {
            op: PatchOpKind::Remove,
            path: None,
            value: None,
        }],
    };
    let mut view = user();
    let err = patch::apply(&USER, &mut view, &request).unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::NoTarget));
}

#[test]
fn group_attributes_besides_members() {
    let meta = Meta {
        created: 0,
        last_modified: 0,
        version: "W/\"1\"".into(),
    };
    let mut view =
        scimitar_proto::resource::render_group("https://h", "g", "Staff", Some("obj"), None, &meta);
    let request = patch::parse_patch(&body(json!([
        {"op": "remove", "path": "externalId"},
        {"op": "replace", "path": "displayName", "value": "Team"},
        {"op": "replace", "path": "active", "value": false}
    ])))
    .unwrap();
    let out = patch::apply(&GROUP, &mut view, &request).unwrap();
    assert!(view.get("externalId").is_none());
    assert_eq!(view["displayName"], "Team");
    assert_eq!(out.ignored, vec!["active"], "Group has no active");
}

#[test]
fn adding_an_existing_value_merges_into_it() {
    // Okta re-sends a number the user already has, without `primary`.
    let mut view = user();
    view["phoneNumbers"] = json!([{"value": "+46701234567", "type": "work", "primary": true}]);
    apply(&mut view, json!([{"op": "add", "path": "phoneNumbers", "value": [{"value": "+46701234567", "type": "mobile"}]}])).unwrap();
    assert_eq!(
        view["phoneNumbers"],
        json!([{"value": "+46701234567", "type": "mobile", "primary": true}])
    );
    assert!(parse_user(&view).is_ok());
}

//! Group `members` PATCH operations become member set operations and never
//! touch the JSON; no request shape can empty a group by accident.

use scimitar_proto::patch::{self, MemberOp, PatchOutcome};
use scimitar_proto::resource::{Meta, render_group};
use scimitar_proto::schema::{GROUP, USER};
use scimitar_proto::{ScimError, ScimType};
use serde_json::{Value, json};

fn group() -> Value {
    let meta = Meta {
        created: 0,
        last_modified: 0,
        version: "W/\"1\"".into(),
    };
    render_group(
        "https://h/scim/v2",
        "g-1",
        "Staff",
        Some("obj-1"),
        None,
        &meta,
    )
}

fn apply(operations: Value) -> Result<PatchOutcome, ScimError> {
    let request = patch::parse_patch(&json!({ "Operations": operations }))?;
    let mut view = group();
    let out = patch::apply(&GROUP, &mut view, &request);
    if out.is_err() {
        assert_eq!(view, group(), "a refused PATCH changes nothing");
    }
    out
}

fn member_ops(operations: Value) -> Vec<MemberOp> {
    apply(operations).expect("applies").members
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn refused(operations: Value, scim_type: ScimType) -> ScimError {
    let err = apply(operations).expect_err("refused");
    assert_eq!(err.status, 400);
    assert_eq!(err.scim_type, Some(scim_type), "{err}");
    err
}

#[test]
fn remove_with_value_list_never_removes_all() {
    assert_eq!(
        member_ops(
            json!([{"op": "remove", "path": "members", "value": [{"value": "a"}, {"value": "b"}]}])
        ),
        vec![MemberOp::Remove(ids(&["a", "b"]))]
    );
    // An empty list removes nothing, rather than everything.
    assert_eq!(
        member_ops(json!([{"op": "remove", "path": "members", "value": []}])),
        vec![]
    );
    // A single object instead of a list.
    assert_eq!(
        member_ops(json!([{"op": "remove", "path": "members", "value": {"value": "a"}}])),
        vec![MemberOp::Remove(ids(&["a"]))]
    );
}

#[test]
fn remove_without_value_empties() {
    for op in [
        json!({"op": "remove", "path": "members"}),
        json!({"op": "remove", "path": "members", "value": null}),
    ] {
        assert_eq!(member_ops(json!([op])), vec![MemberOp::Replace(vec![])]);
    }
}

#[test]
fn remove_by_filters_of_values() {
    assert_eq!(
        member_ops(
            json!([{"op": "remove", "path": "members[value eq \"a\" or value eq \"b\" or VALUE EQ \"a\"]"}])
        ),
        vec![MemberOp::Remove(ids(&["a", "b"]))]
    );
    assert_eq!(
        member_ops(json!([{"op": "remove", "path": "members[value eq \"a\"].value"}])),
        vec![MemberOp::Remove(ids(&["a"]))]
    );
    assert_eq!(
        member_ops(
            json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:members[value eq \"a\"]"}])
        ),
        vec![MemberOp::Remove(ids(&["a"]))]
    );
}

#[test]
fn other_member_filters_are_refused() {
    for path in [
        "members[display eq \"Ada\"]",
        "members[value ne \"a\"]",
        "members[value sw \"a\"]",
        "members[value eq \"a\" and type eq \"User\"]",
        "members[not (value eq \"a\")]",
        "members[value pr]",
    ] {
        let err = refused(
            json!([{"op": "remove", "path": path}]),
            ScimType::InvalidFilter,
        );
        assert!(
            err.detail.contains("members[value eq"),
            "{path}: {}",
            err.detail
        );
    }
}

#[test]
fn add_and_replace_take_value_lists() {
    assert_eq!(
        member_ops(
            json!([{"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "a", "display": "A"}, {"value": "b"}]}])
        ),
        vec![MemberOp::Add(ids(&["a", "b"]))]
    );
    assert_eq!(
        member_ops(json!([{"op": "replace", "path": "members", "value": [{"value": "c"}]}])),
        vec![MemberOp::Replace(ids(&["c"]))]
    );
    assert_eq!(
        member_ops(json!([{"op": "replace", "path": "members", "value": null}])),
        vec![MemberOp::Replace(vec![])]
    );
    assert_eq!(
        member_ops(json!([{"op": "replace", "path": "members", "value": []}])),
        vec![MemberOp::Replace(vec![])]
    );
    assert_eq!(
        member_ops(json!([{"op": "add", "path": "members", "value": null}])),
        vec![]
    );
    assert_eq!(
        member_ops(json!([{"op": "add", "path": "members", "value": []}])),
        vec![]
    );
}

#[test]
fn path_less_members() {
    let out = apply(json!([
        {"op": "replace", "value": {"displayName": "Team", "members": [{"value": "a"}]}},
        {"op": "add", "value": {"members": [{"value": "b"}]}}
    ]))
    .unwrap();
    assert_eq!(
        out.members,
        vec![MemberOp::Replace(ids(&["a"])), MemberOp::Add(ids(&["b"]))]
    );
}

#[test]
fn malformed_member_values_are_invalid_value() {
    for value in [
        json!([{"display": "Ada"}]),
        json!([{"value": 1}]),
        json!(["a"]),
        json!("a"),
        json!([{"value": ""}]),
        json!({"members": [{"value": "a"}]}),
        json!([{"value": "a\u{0}"}]),
    ] {
        let err = refused(
            json!([{"op": "add", "path": "members", "value": value}]),
            ScimType::InvalidValue,
        );
        assert!(err.detail.contains("members"), "{}", err.detail);
    }
}

#[test]
fn member_paths_that_are_not_member_sets_are_refused() {
    refused(
        json!([{"op": "add", "path": "members[value eq \"a\"]", "value": {"value": "a"}}]),
        ScimType::InvalidPath,
    );
    refused(
        json!([{"op": "replace", "path": "members.value", "value": "a"}]),
        ScimType::InvalidPath,
    );
    refused(
        json!([{"op": "remove", "path": "members.display"}]),
        ScimType::InvalidPath,
    );
}

#[test]
fn derived_member_sub_attributes_are_ignored() {
    let out = apply(json!([{"op": "remove", "path": "members[value eq \"a\"].display"}])).unwrap();
    assert_eq!(out.members, vec![]);
    assert_eq!(out.ignored, vec!["members[value eq \"a\"].display"]);
}

#[test]
fn order_is_kept_and_a_later_failure_discards_all() {
    assert_eq!(
        member_ops(json!([
            {"op": "add", "path": "members", "value": [{"value": "a"}]},
            {"op": "remove", "path": "members[value eq \"a\"]"},
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [{"value": "b"}]}
        ])),
        vec![
            MemberOp::Add(ids(&["a"])),
            MemberOp::Remove(ids(&["a"])),
            MemberOp::Replace(vec![]),
            MemberOp::Add(ids(&["b"])),
        ]
    );
    refused(
        json!([
            {"op": "add", "path": "members", "value": [{"value": "a"}]},
            {"op": "replace", "path": "displayName", "value": 7}
        ]),
        ScimType::InvalidValue,
    );
}

#[test]
fn users_have_no_member_operations() {
    // `members` is no attribute of a user: ignored, never a member op.
    let request = patch::parse_patch(&json!({"Operations": [
        {"op": "add", "path": "members", "value": [{"value": "u"}]}
    ]}))
    .unwrap();
    let mut view = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u", "userName": "a@b.co", "displayName": "A"});
    let out = patch::apply(&USER, &mut view, &request).unwrap();
    assert!(out.members.is_empty());
    assert_eq!(out.ignored, vec!["members"]);
    // `groups` is read-only: refused with `mutability`, never a member op.
    let request = patch::parse_patch(&json!({"Operations": [
        {"op": "add", "path": "groups", "value": [{"value": "g-1"}]}
    ]}))
    .unwrap();
    let err = patch::apply(&USER, &mut view, &request).unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::Mutability));
}

/// Regression (hardening): member ids are capped per operation and per
/// request, before any per-id work, with a detail that says the limit.
#[test]
fn member_ids_are_capped_per_operation_and_per_request() {
    use scimitar_proto::patch::MAX_MEMBERS_PER_REQUEST as MAX;
    let list = |from: usize, n: usize| -> Value {
        (from..from + n)
            .map(|i| json!({"value": format!("u{i}")}))
            .collect()
    };
    let ops = member_ops(json!([{"op": "add", "path": "members", "value": list(0, MAX)}]));
    assert!(matches!(&ops[..], [MemberOp::Add(ids)] if ids.len() == MAX));
    for operations in [
        json!([{"op": "add", "path": "members", "value": list(0, MAX + 1)}]),
        json!([{"op": "replace", "path": "members", "value": list(0, 100_000)}]),
        json!([
            {"op": "add", "path": "members", "value": list(0, MAX / 2 + 1)},
            {"op": "remove", "path": "members", "value": list(0, MAX / 2)},
        ]),
    ] {
        let err = refused(operations, ScimType::InvalidValue);
        assert!(
            err.detail.contains(&format!("at most {MAX}")),
            "{}",
            err.detail
        );
    }
}

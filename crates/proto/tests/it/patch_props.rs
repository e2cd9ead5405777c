//! Properties of the PATCH engine over generated requests: a failed PATCH
//! changes nothing, a successful one re-parses to what was written, and no
//! request shape empties a group unless it asks to.

use proptest::prelude::*;
use scimitar_proto::patch::{self, MemberOp, PatchOpKind, PatchOperation, PatchRequest};
use scimitar_proto::resource::{
    Email, Meta, Name, Phone, UserAttributes, parse_user, render_group, render_user,
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

fn base_user() -> Value {
    let attrs = UserAttributes {
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
            kind: Some("work".into()),
        }),
        external_id: Some("e-1".into()),
        email: Some(Email::of_user_name("ada@example.com")),
        active: Some(true),
    };
    render_user("https://h/scim/v2", "u-1", &attrs, &meta(), None)
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..3).prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "",
            "x",
            "True",
            "false",
            "+46701234568",
            "work",
            "b@example.com"
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "value",
                    "type",
                    "primary",
                    "givenName",
                    "display",
                    "x"
                ])
                .prop_map(str::to_owned),
                inner,
                0..3
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn any_path() -> impl Strategy<Value = Option<String>> {
    prop::option::of(
        prop::sample::select(vec![
            "userName",
            "displayName",
            "title",
            "active",
            "externalId",
            "name",
            "name.givenName",
            "name.familyName",
            "phoneNumbers",
            "phoneNumbers.value",
            "phoneNumbers[type eq \"work\"]",
            "phoneNumbers[type eq \"work\"].value",
            "phoneNumbers[type eq \"mobile\"].primary",
            "phoneNumbers[value co \"4\"]",
            "emails[type eq \"work\"].value",
            "members",
            "members[value eq \"a\"]",
            "id",
            "meta",
            "nickName",
            "title[",
            "name..x",
            "[",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        ])
        .prop_map(str::to_owned),
    )
}

fn operation() -> impl Strategy<Value = PatchOperation> {
    (
        prop::sample::select(vec![
            PatchOpKind::Add,
            PatchOpKind::Replace,
            PatchOpKind::Remove,
        ]),
        any_path(),
        prop::option::of(json_value()),
    )
        .prop_map(|(op, path, value)| PatchOperation { op, path, value })
}

fn text() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9 .'-]{0,20}[A-Za-z]"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_failed_patch_changes_nothing(ops in prop::collection::vec(operation(), 1..6)) {
        let request = PatchRequest { operations: ops };
        for (rt, original) in [(&USER, base_user()),
                               (&GROUP, render_group("https://h", "g", "Staff", Some("o"), None, &meta()))] {
            let mut view = original.clone();
            match patch::apply(rt, &mut view, &request) {
                Err(err) => {
                    prop_assert_eq!(&view, &original);
                    prop_assert_eq!(err.status, 400);
                    prop_assert!(err.scim_type.is_some());
                }
                Ok(_) => prop_assert!(view.is_object()),
            }
        }
    }

    #[test]
    fn replaced_strings_read_back(
        writes in prop::collection::vec(
            (prop::sample::select(vec!["displayName", "title", "name.givenName", "name.familyName",
                                       "name.middleName", "externalId"]), text()),
            1..8),
        path_less in any::<bool>(),
    ) {
        let operations = writes
            .iter()
            .map(|(path, v)| {
                if path_less {
                    PatchOperation { op: PatchOpKind::Replace, path: None, value: Some(json!({ *path: v })) }
                } else {
                    PatchOperation { op: PatchOpKind::Replace, path: Some((*path).to_owned()), value: Some(json!(v)) }
                }
            })
            .collect();
        let mut view = base_user();
        patch::apply(&USER, &mut view, &PatchRequest { operations }).unwrap();
        let parsed = parse_user(&view).unwrap().value;
        for (path, _) in &writes {
            let last = &writes.iter().rev().find(|(p, _)| p == path).unwrap().1;
            let got = match *path {
                "displayName" => Some(parsed.display_name.clone()),
                "title" => parsed.title.clone(),
                "name.givenName" => parsed.name.given_name.clone(),
                "name.familyName" => parsed.name.family_name.clone(),
                "name.middleName" => parsed.name.middle_name.clone(),
                _ => parsed.external_id.clone(),
            };
            prop_assert_eq!(got.as_deref(), Some(last.as_str()), "{}", path);
        }
        // Re-rendering what was parsed is a fixed point.
        let again = render_user("https://h/scim/v2", "u-1", &parsed, &meta(), None);
        prop_assert_eq!(parse_user(&again).unwrap().value, parsed);
    }

    #[test]
    fn rendered_users_parse_back(
        display in text(), given in prop::option::of(text()), title in prop::option::of(text()),
        local in "[a-z]([a-z0-9]|[.][a-z0-9]){0,10}", digits in "[1-9][0-9]{6,14}",
        kind in prop::option::of(prop::sample::select(vec!["work", "mobile", "Home Office"])),
    ) {
        let attrs = UserAttributes {
            user_name: format!("{local}@example.com"),
            display_name: display,
            name: Name { given_name: given, ..Name::default() },
            title,
            phone: Some(Phone { value: format!("+{digits}"), kind: kind.map(str::to_owned) }),
            external_id: None,
            email: Some(Email::of_user_name(&format!("{local}@example.com"))),
            active: Some(true),
        };
        let view = render_user("https://h/scim/v2", "u", &attrs, &meta(), Some(&[]));
        let parsed = parse_user(&view).unwrap().value;
        let mut expected = attrs.clone();
        expected.phone.as_mut().unwrap().kind.get_or_insert_with(|| "work".to_owned());
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn only_explicit_requests_empty_a_group(ops in prop::collection::vec(operation(), 1..6)) {
        let request = PatchRequest { operations: ops.clone() };
        let mut view = render_group("https://h", "g", "Staff", None, None, &meta());
        if let Ok(out) = patch::apply(&GROUP, &mut view, &request) {
            let emptying = out.members.iter().filter(|m| matches!(m, MemberOp::Replace(ids) if ids.is_empty())).count();
            let asked = ops.iter().filter(|o| {
                let members = o.path.as_deref() == Some("members");
                let no_value = o.value.as_ref().is_none_or(Value::is_null);
                let empty_list = o.value.as_ref().is_some_and(|v| v.as_array().is_some_and(|a| a.iter().all(Value::is_null)));
                members && ((o.op == PatchOpKind::Remove && no_value)
                    || (o.op == PatchOpKind::Replace && (no_value || empty_list)))
            }).count();
            prop_assert!(emptying <= asked, "{:?} from {:?}", out.members, ops);
        }
    }
}

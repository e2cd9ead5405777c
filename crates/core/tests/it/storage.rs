//! One storage suite, run against every backend: a behaviour that differs
//! between SQLite and PostgreSQL is a bug.
use scimitar_core::CoreError;
use scimitar_core::ids::{GroupId, TenantId, UserId};
use scimitar_core::model::{GroupAdminChange, GroupChange, ListQuery, LogEntry, NewGroup, now};
use scimitar_core::store::{Expiring, Store};
use scimitar_proto::ScimType;
use scimitar_proto::filter;
use scimitar_proto::patch::MemberOp;
use scimitar_proto::resource::{Email, Name, Phone, UserAttributes};
use scimitar_proto::schema::{GROUP, USER};

fn attrs(user_name: &str) -> UserAttributes {
    UserAttributes {
        user_name: user_name.to_owned(),
        display_name: format!("Display {user_name}"),
        name: Name::default(),
        title: None,
        phone: None,
        external_id: None,
        email: Some(Email::of_user_name(user_name)),
        active: Some(true),
    }
}

async fn tenant(store: &dyn Store) -> TenantId {
    store.create_tenant("Acme", Some("eu")).await.unwrap().id
}

fn scim_type(err: CoreError) -> Option<ScimType> {
    match err {
        CoreError::Rejected(e) => e.scim_type,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

async fn user_names(store: &dyn Store, t: &TenantId, f: &str) -> Vec<String> {
    let query = ListQuery {
        filter: Some(filter::parse(&USER, f).unwrap()),
        limit: 100,
        ..Default::default()
    };
    let mut names: Vec<String> = store
        .list_users(t, &query)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|u| u.attrs.user_name)
        .collect();
    names.sort();
    names
}

async fn member_ids(store: &dyn Store, t: &TenantId, g: &GroupId) -> Vec<String> {
    let mut members = store.members_of(t, std::slice::from_ref(g)).await.unwrap();
    let mut ids: Vec<String> = members
        .remove(g)
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.user_id.to_string())
        .collect();
    ids.sort();
    ids
}

async fn group_ids(store: &dyn Store, t: &TenantId, f: &str) -> Vec<GroupId> {
    let query = ListQuery {
        filter: Some(filter::parse(&GROUP, f).unwrap()),
        limit: 10,
        ..Default::default()
    };
    let page = store.list_groups(t, &query).await.unwrap();
    page.items.into_iter().map(|g| g.id).collect()
}

async fn api_keys_authenticate_until_revoked(store: &dyn Store) {
    let t = tenant(store).await;
    let (key, secret) = store.create_api_key(&t, Some("entra")).await.unwrap();
    let (other_key, other) = store.create_api_key(&t, None).await.unwrap();
    assert_eq!(
        store.authenticate(&secret).await.unwrap(),
        Some((t.clone(), key.id.clone()))
    );
    assert_eq!(store.authenticate("scim_nope").await.unwrap(), None);
    store.revoke_api_key(&key.id).await.unwrap();
    assert_eq!(store.authenticate(&secret).await.unwrap(), None);
    assert_eq!(
        store.authenticate(&other).await.unwrap(),
        Some((t.clone(), other_key.id))
    );
    let listed = store.list_api_keys(Some(&t)).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|k| k.id == key.id && k.revoked.is_some()));
}

async fn user_name_is_unique_across_tenants_ignoring_case(store: &dyn Store) {
    let a = tenant(store).await;
    let b = tenant(store).await;
    store
        .create_user(&a, attrs("Ann@Example.com"))
        .await
        .unwrap();
    let err = store
        .create_user(&b, attrs("ann@example.COM"))
        .await
        .unwrap_err();
    match err {
        CoreError::Rejected(e) => {
            assert_eq!(e.status, 409);
            assert_eq!(e.scim_type, Some(ScimType::Uniqueness));
            assert!(!e.detail.contains(a.as_str()), "must not reveal the tenant");
        }
        other => panic!("{other:?}"),
    }
    // Renaming onto a taken name is refused too.
    let bob = store
        .create_user(&b, attrs("bob@example.com"))
        .await
        .unwrap();
    let err = store
        .replace_user(&b, &bob.id, attrs("ANN@example.com"), None)
        .await
        .unwrap_err();
    assert_eq!(scim_type(err), Some(ScimType::Uniqueness));
}

async fn other_tenants_resources_are_not_found(store: &dyn Store) {
    let a = tenant(store).await;
    let b = tenant(store).await;
    let user = store.create_user(&a, attrs("x@example.com")).await.unwrap();
    let group = store
        .create_group(
            &a,
            NewGroup {
                display_name: "G".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        store.get_user(&b, &user.id).await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        store.get_group(&b, &group.id).await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .replace_user(&b, &user.id, attrs("y@example.com"), None)
            .await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        store.deprovision_user(&b, &user.id, None).await,
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_group(&b, &group.id, None).await,
        Err(CoreError::NotFound(_))
    ));
    // B cannot add A's user to a group of its own.
    let bg = store
        .create_group(
            &b,
            NewGroup {
                display_name: "B".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let change = GroupChange {
        members: vec![MemberOp::Add(vec![user.id.to_string()])],
        ..Default::default()
    };
    let err = store
        .change_group_scim(&b, &bg.id, change, None)
        .await
        .unwrap_err();
    assert_eq!(scim_type(err), Some(ScimType::InvalidValue));
    assert!(user_names(store, &b, "userName pr").await.is_empty());
}

async fn phone_is_immutable_and_versions_advance(store: &dyn Store) {
    let t = tenant(store).await;
    let mut a = attrs("p@example.com");
    a.phone = Some(Phone {
        value: "+46701234567".into(),
        kind: Some("work".into()),
    });
    let user = store.create_user(&t, a.clone()).await.unwrap();
    assert_eq!(user.stamp.version, 1);
    a.title = Some("CTO".into());
    let updated = store
        .replace_user(&t, &user.id, a.clone(), Some(1))
        .await
        .unwrap();
    assert_eq!(updated.stamp.version, 2);
    assert_eq!(updated.attrs.title.as_deref(), Some("CTO"));
    // Leaving the phone out keeps it.
    let mut without = a.clone();
    without.phone = None;
    let kept = store
        .replace_user(&t, &user.id, without, None)
        .await
        .unwrap();
    assert_eq!(kept.attrs.phone.as_ref().unwrap().value, "+46701234567");
    // A different number is refused and changes nothing.
    let mut other = a.clone();
    other.phone = Some(Phone {
        value: "+46700000000".into(),
        kind: None,
    });
    other.title = Some("changed".into());
    let err = store
        .replace_user(&t, &user.id, other, None)
        .await
        .unwrap_err();
    assert_eq!(scim_type(err), Some(ScimType::Mutability));
    let now_user = store.get_user(&t, &user.id).await.unwrap();
    assert_eq!(now_user.attrs.title.as_deref(), Some("CTO"));
    assert_eq!(now_user.stamp.version, 3);
    // A stale version is refused.
    assert!(matches!(
        store.replace_user(&t, &user.id, a, Some(1)).await,
        Err(CoreError::VersionMismatch)
    ));
}

async fn deprovisioning_removes_user_memberships_and_sessions(store: &dyn Store) {
    let t = tenant(store).await;
    let user = store
        .create_user(&t, attrs("leaver@example.com"))
        .await
        .unwrap();
    let group = store
        .create_group(
            &t,
            NewGroup {
                display_name: "Staff".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let add = GroupChange {
        members: vec![MemberOp::Add(vec![user.id.to_string()])],
        ..Default::default()
    };
    store
        .change_group_scim(&t, &group.id, add, None)
        .await
        .unwrap();
    let (_, token) = store.create_session(&user.id, 3600).await.unwrap();
    assert!(store.introspect_session(&token).await.unwrap().is_some());

    store.deprovision_user(&t, &user.id, None).await.unwrap();
    assert!(matches!(
        store.get_user(&t, &user.id).await,
        Err(CoreError::NotFound(_))
    ));
    assert!(store.introspect_session(&token).await.unwrap().is_none());
    let members = store
        .members_of(&t, std::slice::from_ref(&group.id))
        .await
        .unwrap();
    assert!(members.get(&group.id).is_none_or(Vec::is_empty));
    let events = store.events(Some(&t), &[], 0, 100).await.unwrap();
    let [.., gone, revoked] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(gone.kind, "user.deprovisioned");
    assert_eq!(gone.resource_id, user.id.to_string());
    assert_eq!(gone.payload["sessionsRevoked"], 1);
    assert_eq!(
        (revoked.kind.as_str(), &revoked.payload["sessions"]),
        ("sessions.revoked", &serde_json::json!(1))
    );
    // Deprovisioning twice is a 404, and the name is free again.
    assert!(matches!(
        store.deprovision_user(&t, &user.id, None).await,
        Err(CoreError::NotFound(_))
    ));
    let again = store
        .create_user(&t, attrs("leaver@example.com"))
        .await
        .unwrap();
    assert_ne!(again.id, user.id);
}

async fn member_operations_are_set_operations_and_atomic(store: &dyn Store) {
    let t = tenant(store).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            store
                .create_user(&t, attrs(&format!("m{i}@example.com")))
                .await
                .unwrap()
                .id
                .to_string(),
        );
    }
    let g = store
        .create_group(
            &t,
            NewGroup {
                display_name: "G".into(),
                external_id: Some("obj-1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let change = |ops| GroupChange {
        members: ops,
        ..Default::default()
    };
    store
        .change_group_scim(
            &t,
            &g.id,
            change(vec![MemberOp::Add(ids[0..3].to_vec())]),
            None,
        )
        .await
        .unwrap();
    // Adding a present member and removing an absent one are no-ops.
    store
        .change_group_scim(
            &t,
            &g.id,
            change(vec![
                MemberOp::Add(vec![ids[0].clone()]),
                MemberOp::Remove(vec![ids[4].clone()]),
            ]),
            None,
        )
        .await
        .unwrap();
    let mut expected = ids[0..3].to_vec();
    expected.sort();
    assert_eq!(member_ids(store, &t, &g.id).await, expected);
    // One unknown id: nothing of the request is applied.
    let err = store
        .change_group_scim(
            &t,
            &g.id,
            change(vec![
                MemberOp::Remove(vec![ids[0].clone()]),
                MemberOp::Add(vec![ids[3].clone(), "no-such-user".into()]),
            ]),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(scim_type(err), Some(ScimType::InvalidValue));
    assert_eq!(member_ids(store, &t, &g.id).await, expected);
    // Replace sets exactly the list.
    store
        .change_group_scim(
            &t,
            &g.id,
            change(vec![MemberOp::Replace(vec![
                ids[3].clone(),
                ids[4].clone(),
                ids[4].clone(),
            ])]),
            None,
        )
        .await
        .unwrap();
    let mut expected = vec![ids[3].clone(), ids[4].clone()];
    expected.sort();
    assert_eq!(member_ids(store, &t, &g.id).await, expected);
    let groups = store
        .groups_of(&t, &[UserId::from(ids[3].clone())])
        .await
        .unwrap();
    assert_eq!(groups[&UserId::from(ids[3].clone())][0].group_id, g.id);
    // Events name exactly what changed.
    let events = store.events(Some(&t), &[], 0, 100).await.unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e.kind.as_str())
        .filter(|k| k.starts_with("group.members"))
        .collect();
    assert_eq!(
        kinds,
        [
            "group.members_added",
            "group.members_added",
            "group.members_removed"
        ]
    );
    // Deleting the group keeps its users.
    store.delete_group(&t, &g.id, None).await.unwrap();
    assert!(
        store
            .get_user(&t, &UserId::from(ids[3].clone()))
            .await
            .is_ok()
    );
    assert!(matches!(
        store.get_group(&t, &g.id).await,
        Err(CoreError::NotFound(_))
    ));
}

async fn group_external_id_is_unique_per_tenant(store: &dyn Store) {
    let a = tenant(store).await;
    let b = tenant(store).await;
    let new = |ext: &str| NewGroup {
        display_name: "G".into(),
        external_id: Some(ext.into()),
        ..Default::default()
    };
    let g = store.create_group(&a, new("obj")).await.unwrap();
    store.create_group(&b, new("obj")).await.unwrap();
    let err = store.create_group(&a, new("obj")).await.unwrap_err();
    assert_eq!(scim_type(err), Some(ScimType::Uniqueness));
    let other = store.create_group(&a, new("obj2")).await.unwrap();
    let err = store
        .change_group(
            &other.id,
            GroupAdminChange {
                external_id: Some(Some("obj".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(scim_type(err), Some(ScimType::Uniqueness));
    let sub = store.create_subaccount(&a, "Sweden", None).await.unwrap();
    let moved = store
        .change_group(
            &g.id,
            GroupAdminChange {
                subaccount_id: Some(Some(sub.id.clone())),
                display_name: Some("Renamed".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.subaccount_id, Some(sub.id));
    assert_eq!(moved.display_name, "Renamed");
    assert!(moved.stamp.version > g.stamp.version);
}

async fn filters_are_evaluated_in_the_database(store: &dyn Store) {
    let t = tenant(store).await;
    let mut a = attrs("Alice.Smith@Example.com");
    a.external_id = Some("EXT-1".into());
    a.title = Some("Engineer 100%".into());
    a.name = Name {
        given_name: Some("Alice".into()),
        family_name: Some("Smith".into()),
        ..Default::default()
    };
    a.phone = Some(Phone {
        value: "+46701234567".into(),
        kind: Some("work".into()),
    });
    store.create_user(&t, a).await.unwrap();
    let mut b = attrs("bob_jones@example.org");
    b.title = Some("Engineer 1000".into());
    store.create_user(&t, b).await.unwrap();
    store
        .create_user(&t, attrs("carol@example.com"))
        .await
        .unwrap();
    let other = tenant(store).await;
    store
        .create_user(&other, attrs("alice@other.com"))
        .await
        .unwrap();

    let alice = vec!["Alice.Smith@Example.com".to_owned()];
    assert_eq!(
        user_names(store, &t, r#"userName eq "ALICE.SMITH@example.COM""#).await,
        alice
    );
    assert_eq!(
        user_names(store, &t, r#"emails[type eq "work" and value co "smith@"]"#).await,
        alice
    );
    assert_eq!(
        user_names(store, &t, r#"externalId eq "EXT-1""#).await,
        alice
    );
    assert!(
        user_names(store, &t, r#"externalId eq "ext-1""#)
            .await
            .is_empty(),
        "externalId is caseExact"
    );
    assert_eq!(
        user_names(store, &t, r#"name.givenName sw "ali""#).await,
        alice
    );
    assert_eq!(
        user_names(
            store,
            &t,
            r#"phoneNumbers[type eq "WORK" and value eq "+46701234567"]"#
        )
        .await,
        alice
    );
    assert_eq!(user_names(store, &t, r#"phoneNumbers pr"#).await, alice);
    // LIKE wildcards in values match literally.
    assert_eq!(user_names(store, &t, r#"title co "100%""#).await, alice);
    assert_eq!(
        user_names(store, &t, r#"userName co "_""#).await,
        vec!["bob_jones@example.org".to_owned()]
    );
    assert_eq!(
        user_names(
            store,
            &t,
            r#"userName ew ".org" or title eq "engineer 100%""#
        )
        .await
        .len(),
        2
    );
    // not() over a missing attribute is true, as in memory.
    assert_eq!(
        user_names(store, &t, r#"not (title co "Engineer")"#).await,
        vec!["carol@example.com".to_owned()]
    );
    assert_eq!(
        user_names(store, &t, r#"title ne "Engineer 1000""#)
            .await
            .len(),
        2
    );
    assert_eq!(user_names(store, &t, r#"active eq "True""#).await.len(), 3);
    assert!(user_names(store, &t, r#"active eq false"#).await.is_empty());
    assert_eq!(
        user_names(store, &t, r#"meta.created gt "2000-01-01T00:00:00Z""#)
            .await
            .len(),
        3
    );
    // An attribute that is not stored is refused, not "no match": an
    // identity provider matching on it would otherwise create duplicates.
    for unstored in [
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x""#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr"#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber ne "1""#,
    ] {
        let query = ListQuery {
            filter: Some(filter::parse(&USER, unstored).unwrap()),
            limit: 100,
            ..Default::default()
        };
        match store.list_users(&t, &query).await {
            Err(CoreError::Rejected(e)) => {
                assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{unstored}");
                assert!(
                    e.detail
                        .contains("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"),
                    "{}",
                    e.detail
                );
                assert!(
                    e.detail.contains("userName"),
                    "names what can be filtered: {}",
                    e.detail
                );
            }
            other => panic!("{unstored}: {other:?}"),
        }
    }
}

async fn lists_page_in_a_stable_order(store: &dyn Store) {
    let t = tenant(store).await;
    for i in 0..7 {
        store
            .create_user(&t, attrs(&format!("u{}@example.com", 6 - i)))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    for offset in (0..7).step_by(3) {
        let page = store
            .list_users(
                &t,
                &ListQuery {
                    offset,
                    limit: 3,
                    sort_by: USER.resolve("userName"),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.total, 7);
        seen.extend(page.items.into_iter().map(|u| u.attrs.user_name));
    }
    let expected: Vec<String> = (0..7).map(|i| format!("u{i}@example.com")).collect();
    assert_eq!(seen, expected);
    let desc = store
        .list_users(
            &t,
            &ListQuery {
                limit: 2,
                sort_by: USER.resolve("userName"),
                descending: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(desc.items[0].attrs.user_name, "u6@example.com");
    let none = store
        .list_users(
            &t,
            &ListQuery {
                limit: 0,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((none.total, none.items.len()), (7, 0));
}

async fn group_filters_find_members_and_external_ids(store: &dyn Store) {
    let t = tenant(store).await;
    let u = store
        .create_user(&t, attrs("member@example.com"))
        .await
        .unwrap();
    let g1 = store
        .create_group(
            &t,
            NewGroup {
                display_name: "Sales".into(),
                external_id: Some("a1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let g2 = store
        .create_group(
            &t,
            NewGroup {
                display_name: "Support".into(),
                external_id: Some("b2".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store
        .change_group_scim(
            &t,
            &g1.id,
            GroupChange {
                members: vec![MemberOp::Add(vec![u.id.to_string()])],
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        group_ids(store, &t, r#"externalId eq "a1""#).await,
        vec![g1.id.clone()]
    );
    assert_eq!(
        group_ids(store, &t, r#"displayName eq "SUPPORT""#).await,
        vec![g2.id.clone()]
    );
    assert_eq!(
        group_ids(store, &t, &format!(r#"members eq "{}""#, u.id)).await,
        vec![g1.id.clone()]
    );
    assert_eq!(
        group_ids(store, &t, &format!(r#"members.value eq "{}""#, u.id)).await,
        vec![g1.id.clone()]
    );
    assert_eq!(
        group_ids(
            store,
            &t,
            &format!(r#"id eq "{}" and members eq "{}""#, g2.id, u.id)
        )
        .await,
        Vec::<GroupId>::new()
    );
    assert_eq!(
        group_ids(store, &t, &format!(r#"not (members[value eq "{}"])"#, u.id)).await,
        vec![g2.id.clone()]
    );
    assert_eq!(
        group_ids(store, &t, r#"members[display co "nobody"]"#).await,
        Vec::<GroupId>::new()
    );
    assert_eq!(
        group_ids(store, &t, r#"members[display co "display member"]"#).await,
        vec![g1.id.clone()]
    );
}

async fn provisioning_log_round_trips(store: &dyn Store) {
    let t = tenant(store).await;
    let entries: Vec<LogEntry> = (0..120)
        .map(|i| LogEntry {
            tenant_id: t.clone(),
            time: now(),
            request_id: format!("req-{i}"),
            method: "POST".into(),
            path: "/scim/v2/Users".into(),
            status: if i % 2 == 0 { 201 } else { 409 },
            scim_type: (i % 2 == 1).then(|| "uniqueness".into()),
            detail: (i % 2 == 1).then(|| "taken".into()),
            ignored: if i == 119 {
                vec!["password".into()]
            } else {
                vec![]
            },
            api_key_id: None,
        })
        .collect();
    store.append_log(&entries).await.unwrap();
    let log = store.provisioning_log(&t, 5).await.unwrap();
    assert_eq!(log.len(), 5);
    assert_eq!(log[0].request_id, "req-119");
    assert_eq!(log[0].ignored, vec!["password".to_owned()]);
    assert_eq!(log[0].scim_type.as_deref(), Some("uniqueness"));
}

/// Regression (hardening): a membership change is a change of both sides,
/// so both ETags move; before, a GET with `If-None-Match` answered 304
/// with stale `groups` or `members`.
async fn membership_changes_move_both_versions(store: &dyn Store) {
    let t = tenant(store).await;
    let ada = store
        .create_user(&t, attrs("ada@example.com"))
        .await
        .unwrap();
    let bob = store
        .create_user(&t, attrs("bob@example.com"))
        .await
        .unwrap();
    let group = |name: &str| NewGroup {
        display_name: name.to_owned(),
        ..Default::default()
    };
    let g = store.create_group(&t, group("Staff")).await.unwrap();
    let h = store.create_group(&t, group("Ops")).await.unwrap();
    let version = async |id: &UserId| store.get_user(&t, id).await.unwrap().stamp.version;
    let add = |ids: &[&UserId]| GroupChange {
        members: vec![MemberOp::Add(ids.iter().map(|i| i.to_string()).collect())],
        ..Default::default()
    };

    let (ada_v, bob_v) = (version(&ada.id).await, version(&bob.id).await);
    store
        .change_group_scim(&t, &g.id, add(&[&ada.id, &bob.id]), None)
        .await
        .unwrap();
    store
        .change_group_scim(&t, &h.id, add(&[&ada.id]), None)
        .await
        .unwrap();
    assert_eq!(version(&ada.id).await, ada_v + 2, "joined two groups");
    assert_eq!(version(&bob.id).await, bob_v + 1, "joined one group");

    // Adding a member that is there changes nothing on the user.
    store
        .change_group_scim(&t, &g.id, add(&[&bob.id]), None)
        .await
        .unwrap();
    assert_eq!(version(&bob.id).await, bob_v + 1);

    // Deprovisioning a member changes each of its groups.
    let (g_v, h_v) = (
        store.get_group(&t, &g.id).await.unwrap().stamp.version,
        store.get_group(&t, &h.id).await.unwrap().stamp.version,
    );
    store.deprovision_user(&t, &ada.id, None).await.unwrap();
    assert_eq!(
        store.get_group(&t, &g.id).await.unwrap().stamp.version,
        g_v + 1
    );
    assert_eq!(
        store.get_group(&t, &h.id).await.unwrap().stamp.version,
        h_v + 1
    );

    // Deleting a group changes its members.
    let bob_v = version(&bob.id).await;
    store.delete_group(&t, &g.id, None).await.unwrap();
    assert_eq!(version(&bob.id).await, bob_v + 1);
}

/// Retention deletes what is older than the cut-off, in batches, and
/// nothing else.
async fn retention_prunes_old_rows_in_batches(store: &dyn Store) {
    let t = tenant(store).await;
    let entry = |time| LogEntry {
        tenant_id: t.clone(),
        time,
        request_id: "r".into(),
        method: "GET".into(),
        path: "/scim/v2/Users".into(),
        status: 200,
        scim_type: None,
        detail: None,
        ignored: vec![],
        api_key_id: None,
    };
    let old: Vec<LogEntry> = (0..25).map(|i| entry(1_000 + i)).collect();
    store.append_log(&old).await.unwrap();
    store.append_log(&[entry(now())]).await.unwrap();
    let mut rounds = Vec::new();
    loop {
        let n = store
            .prune(Expiring::ProvisioningLog, 10_000, 10)
            .await
            .unwrap();
        rounds.push(n);
        if n < 10 {
            break;
        }
    }
    assert_eq!(rounds, vec![10, 10, 5]);
    assert_eq!(store.provisioning_log(&t, 100).await.unwrap().len(), 1);

    // Events: everything so far is older than "now + 1 s".
    let events = store.events(Some(&t), &[], 0, 1000).await.unwrap();
    assert!(!events.is_empty());
    assert_eq!(store.events_horizon().await.unwrap(), 0, "nothing cut yet");
    let deleted = store
        .prune(Expiring::Events, now() + 1_000_000, 1000)
        .await
        .unwrap();
    assert_eq!(deleted, u64::try_from(events.len()).unwrap());
    assert!(
        store
            .events(Some(&t), &[], 0, 1000)
            .await
            .unwrap()
            .is_empty()
    );
    // The outbox remembers how far it was cut.
    let newest = events.iter().map(|e| e.seq).max().unwrap();
    assert_eq!(store.events_horizon().await.unwrap(), newest);

    // Sessions: an expired one goes, a live one stays.
    let user = store
        .create_user(&t, attrs("sess@example.com"))
        .await
        .unwrap();
    let (_, dead) = store.create_session(&user.id, -10).await.unwrap();
    let (_, live) = store.create_session(&user.id, 3600).await.unwrap();
    assert_eq!(
        store.prune(Expiring::Sessions, now(), 1000).await.unwrap(),
        1
    );
    assert!(store.introspect_session(&dead).await.unwrap().is_none());
    assert!(store.introspect_session(&live).await.unwrap().is_some());
    assert!(store.revoke_session(&live).await.unwrap());
    assert!(
        !store.revoke_session(&live).await.unwrap(),
        "already signed out"
    );
    assert!(store.introspect_session(&live).await.unwrap().is_none());

    assert!(store.database_bytes().await.unwrap() > 0);
}

/// An unfiltered list's total is read from the counts the triggers keep;
/// a filtered one is counted. Both agree through creates, refused
/// creates, deprovisionings and group deletions, per tenant.
async fn unfiltered_totals_are_kept_exact(store: &dyn Store) {
    let (t, other) = (tenant(store).await, tenant(store).await);
    let mut users = Vec::new();
    for i in 0..30 {
        users.push(
            store
                .create_user(&t, attrs(&format!("u{i}@a.example")))
                .await
                .unwrap(),
        );
    }
    for i in 0..5 {
        store
            .create_user(&other, attrs(&format!("u{i}@b.example")))
            .await
            .unwrap();
    }
    // A refused insert (userName taken) counts nothing.
    assert!(store.create_user(&t, attrs("U0@A.example")).await.is_err());
    let mut groups = Vec::new();
    for i in 0..4 {
        let group = NewGroup {
            display_name: format!("G{i}"),
            ..Default::default()
        };
        groups.push(store.create_group(&t, group).await.unwrap());
    }
    for user in &users[..7] {
        store.deprovision_user(&t, &user.id, None).await.unwrap();
    }
    store.delete_group(&t, &groups[0].id, None).await.unwrap();
    let totals = |filter: Option<&str>, schema| ListQuery {
        filter: filter.map(|f| filter::parse(schema, f).unwrap()),
        limit: 0,
        ..Default::default()
    };
    // A short last page says the total itself; a full one, or one past the
    // end, asks the count: the totals agree either way.
    for (offset, limit, items) in [(0, 10, 10), (20, 10, 3), (30, 10, 0), (0, 100, 23)] {
        for filter in [None, Some("userName pr")] {
            let query = ListQuery {
                offset,
                limit,
                ..totals(filter, &USER)
            };
            let page = store.list_users(&t, &query).await.unwrap();
            assert_eq!(
                (page.total, page.items.len()),
                (23, items),
                "{offset} {filter:?}"
            );
        }
    }
    for (name, total) in [("u9@a.example", 1), ("nobody@a.example", 0)] {
        let query = ListQuery {
            limit: 10,
            ..totals(Some(&format!("userName eq \"{name}\"")), &USER)
        };
        assert_eq!(store.list_users(&t, &query).await.unwrap().total, total);
    }
    for (tenant, users, groups) in [(&t, 23, 3), (&other, 5, 0)] {
        let all = store
            .list_users(tenant, &totals(None, &USER))
            .await
            .unwrap();
        let counted = store
            .list_users(tenant, &totals(Some("userName pr"), &USER))
            .await
            .unwrap();
        assert_eq!((all.total, counted.total), (users, users));
        let all = store
            .list_groups(tenant, &totals(None, &GROUP))
            .await
            .unwrap();
        let counted = store
            .list_groups(tenant, &totals(Some("displayName pr"), &GROUP))
            .await
            .unwrap();
        assert_eq!((all.total, counted.total), (groups, groups));
    }
}

/// A user read with its groups is what `get_user` and `groups_of` say,
/// in the same order; a user in no group has none; another tenant's user
/// is not found.
async fn a_user_reads_with_its_groups_at_once(store: &dyn Store) {
    let (t, other) = (tenant(store).await, tenant(store).await);
    let user = store
        .create_user(&t, attrs("member@a.example"))
        .await
        .unwrap();
    let alone = store
        .create_user(&t, attrs("alone@a.example"))
        .await
        .unwrap();
    for name in ["beta", "Alpha", "gamma"] {
        let group = NewGroup {
            display_name: name.into(),
            ..Default::default()
        };
        let group = store.create_group(&t, group).await.unwrap();
        let add = GroupChange {
            members: vec![MemberOp::Add(vec![user.id.to_string()])],
            ..Default::default()
        };
        store
            .change_group_scim(&t, &group.id, add, None)
            .await
            .unwrap();
    }
    let (read, groups) = store.get_user_with_groups(&t, &user.id).await.unwrap();
    assert_eq!(read, store.get_user(&t, &user.id).await.unwrap());
    let mut separately = store
        .groups_of(&t, std::slice::from_ref(&user.id))
        .await
        .unwrap();
    assert_eq!(groups, separately.remove(&user.id).unwrap());
    let names: Vec<&str> = groups.iter().map(|m| m.display.as_str()).collect();
    assert_eq!(names, ["Alpha", "beta", "gamma"]);
    let (_, none) = store.get_user_with_groups(&t, &alone.id).await.unwrap();
    assert!(none.is_empty());
    assert!(matches!(
        store.get_user_with_groups(&other, &user.id).await,
        Err(CoreError::NotFound(_))
    ));
}

scimitar_core::on_every_backend!(
    scimitar_core::testing::on_store;
    a_user_reads_with_its_groups_at_once,
    unfiltered_totals_are_kept_exact,
    api_keys_authenticate_until_revoked,
    user_name_is_unique_across_tenants_ignoring_case,
    other_tenants_resources_are_not_found,
    phone_is_immutable_and_versions_advance,
    deprovisioning_removes_user_memberships_and_sessions,
    member_operations_are_set_operations_and_atomic,
    group_external_id_is_unique_per_tenant,
    filters_are_evaluated_in_the_database,
    lists_page_in_a_stable_order,
    group_filters_find_members_and_external_ids,
    provisioning_log_round_trips,
    membership_changes_move_both_versions,
    retention_prunes_old_rows_in_batches,
);

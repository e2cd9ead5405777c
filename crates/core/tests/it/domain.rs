//! The domain's rules, on every backend: what a SCIM change means,
//! whoever asks for it.

use scimitar_core::CoreError;
use scimitar_core::clock::Clock;
use scimitar_core::domain::{Precondition, Service, TRUSTED_FOR, Written};
use scimitar_core::model::{Deprovision, PolicyChange};
use scimitar_core::testing::Backend;
use scimitar_proto::patch::parse_patch;
use scimitar_proto::resource::parse_user;
use serde_json::json;

async fn rules(backend: &Backend) {
    let service = Service::new(backend.store.clone());
    let store = service.store();
    let tenant = store.create_tenant("Acme", None).await.unwrap().id;
    let input = |body: serde_json::Value| parse_user(&body).unwrap().value;

    // Never created inactive.
    let err = service
        .create_user(
            &tenant,
            input(json!({"userName": "x@example.com", "displayName": "X", "active": false})),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::Rejected(_)), "{err:?}");

    let ada = input(json!({"userName": "ada@example.com", "displayName": "Ada"}));
    let user = service.create_user(&tenant, ada.clone()).await.unwrap();

    // A PUT that changes nothing writes nothing: same version.
    let Written::Kept(same) = service
        .replace_user(&tenant, &user.id, &ada, None)
        .await
        .unwrap()
    else {
        panic!("kept")
    };
    assert_eq!(same.stamp.version, user.stamp.version);

    // A stale If-Match is refused, not retried.
    let stale = Precondition::Versions(vec![user.stamp.version + 5]);
    let changed = input(json!({"userName": "ada@example.com", "displayName": "Ada L"}));
    let err = service
        .replace_user(&tenant, &user.id, &changed, Some(&stale))
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::VersionMismatch), "{err:?}");

    // PATCH active "False" deprovisions: the last state comes back, then
    // the user is gone.
    let request = parse_patch(&json!({"Operations": [
        {"op": "Replace", "path": "active", "value": "False"}
    ]}))
    .unwrap();
    let (written, _) = service
        .patch_user(&tenant, &user.id, &request, None)
        .await
        .unwrap();
    assert!(matches!(written, Written::Deprovisioned(ref u) if u.id == user.id));
    assert!(matches!(
        store.get_user(&tenant, &user.id).await,
        Err(CoreError::NotFound(_))
    ));

    // Another tenant's group is not found through the admin operations.
    let other = store.create_tenant("Globex", None).await.unwrap().id;
    let group = store
        .create_group(
            &other,
            scimitar_core::model::NewGroup {
                display_name: "G".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let err = service
        .change_group(Some(&tenant), &group.id, Default::default())
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::NotFound(_)), "{err:?}");
    let missing = scimitar_core::ids::TenantId::generate();
    assert!(matches!(
        service.list_groups(&missing).await,
        Err(CoreError::NotFound("tenant"))
    ));
}

/// A policy is read once and trusted for `TRUSTED_FOR`: a change through
/// the same service is followed at once, one through another (another
/// process: the CLI, another `serve`) within that time.
async fn policies_are_followed_at_once_here_and_soon_elsewhere(backend: &Backend) {
    let clock = Clock::manual();
    let here = Service::with_clock(backend.store.clone(), clock.clone());
    let elsewhere = Service::with_clock(backend.store.clone(), clock.clone());
    let tenant = here.store().create_tenant("Acme", None).await.unwrap().id;
    let inactive = |n: u32| {
        parse_user(
            &json!({"userName": format!("u{n}@example.com"), "displayName": "U",
                           "active": false}),
        )
        .unwrap()
        .value
    };
    assert!(elsewhere.create_user(&tenant, inactive(1)).await.is_err());
    let keeps = PolicyChange {
        deprovision: Some(Deprovision::Deactivate),
        ..PolicyChange::default()
    };
    here.set_policy(&tenant, keeps).await.unwrap();
    let user = here.create_user(&tenant, inactive(2)).await.unwrap();
    assert_eq!(
        user.attrs.active,
        Some(false),
        "at once where it was changed"
    );
    assert!(
        elsewhere.create_user(&tenant, inactive(3)).await.is_err(),
        "elsewhere, the policy read a moment ago"
    );
    clock.advance(TRUSTED_FOR);
    let user = elsewhere.create_user(&tenant, inactive(4)).await.unwrap();
    assert_eq!(
        user.attrs.active,
        Some(false),
        "elsewhere, within TRUSTED_FOR"
    );
}

async fn domain_rules(backend: Backend) {
    rules(&backend).await;
    policies_are_followed_at_once_here_and_soon_elsewhere(&backend).await;
    backend.finish().await;
}

scimitar_core::on_every_backend!(scimitar_core::testing::with_backend; domain_rules);

//! Upgrades: a migration over the rows an earlier version left behind.

use scimitar_core::domain::Service;
use scimitar_core::ids::TenantId;
use scimitar_core::model::PolicyChange;
use scimitar_core::testing::{Backend, Kind};

/// Migration 0010 gives every user there was the domain of its userName
/// (after its last `@`, lower-case; none without one), which is how
/// collisions are found: confirming a domain for one tenant then shows
/// the users another tenant has there, and no others.
async fn user_domains_are_filled_in(kind: Kind) {
    let (acme, globex) = (TenantId::generate(), TenantId::generate());
    let mut rows = format!(
        "INSERT INTO tenants (id, name, created) VALUES ('{acme}', 'Acme', 1), \
         ('{globex}', 'Globex', 1);"
    );
    for (i, (tenant, user_name)) in [
        (&acme, "own@acme.example"),
        (&globex, "Ann@ACME.example"),
        (&globex, "a@b@Acme.Example"),
        (&globex, "E12345"),
        (&globex, "trailing@"),
        (&globex, "ann@acme.example.org"),
    ]
    .into_iter()
    .enumerate()
    {
        let ci = user_name.to_lowercase();
        rows.push_str(&format!(
            "INSERT INTO users (id, tenant_id, user_name, user_name_ci, display_name, \
             display_name_ci, created, last_modified, version) VALUES \
             ('u{i}', '{tenant}', '{user_name}', '{ci}', 'U', 'u', {i}, {i}, 1);"
        ));
    }
    let Some(backend) = Backend::upgraded_from(kind, 9, &rows).await else {
        return;
    };
    let service = Service::new(backend.store.clone());
    let confirm = PolicyChange {
        user_name_domains: Some(vec!["acme.example".into()]),
        ..Default::default()
    };
    service.set_policy(&acme, confirm).await.unwrap();
    let held: Vec<(String, TenantId)> = service
        .list_collisions(None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.user_name, c.tenant_id))
        .collect();
    assert_eq!(
        held,
        [
            ("a@b@Acme.Example".to_owned(), globex.clone()),
            ("Ann@ACME.example".to_owned(), globex.clone()),
        ]
    );
    backend.finish().await;
}

#[tokio::test]
async fn sqlite_user_domains_are_filled_in() {
    user_domains_are_filled_in(Kind::Sqlite).await;
}

#[tokio::test]
async fn postgres_user_domains_are_filled_in() {
    user_domains_are_filled_in(Kind::Postgres).await;
}

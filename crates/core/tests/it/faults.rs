//! Faults of the database that must not become outages.

use scimitar_core::CoreError;
use scimitar_core::store::{Administration, Directory, Store};
use scimitar_proto::resource::{Email, Name, UserAttributes};

fn attrs(user_name: &str) -> UserAttributes {
    UserAttributes {
        user_name: user_name.to_owned(),
        display_name: "x".repeat(1000),
        name: Name::default(),
        title: Some("t".repeat(1000)),
        phone: None,
        external_id: None,
        email: Some(Email::of_user_name(user_name)),
        active: Some(true),
    }
}

/// Regression (hardening): after one disk-full error the single SQLite
/// writer stayed in a broken transaction, so every later write of every
/// tenant was a 500 until a restart, while the store said it was ready.
#[tokio::test]
async fn a_full_disk_is_unavailable_and_writes_resume_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("full.db").display());
    let store = scimitar_core::sqlite::connect(&url).await.unwrap();
    let tenant = store.create_tenant("Acme", None).await.unwrap().id;
    let pages = store.page_count().await.unwrap();
    store.set_max_page_count(Some(pages + 2)).await.unwrap();
    let mut full = None;
    for i in 0..1000 {
        match store
            .create_user(&tenant, attrs(&format!("u{i}@example.com")))
            .await
        {
            Ok(_) => {}
            Err(e) => {
                full = Some(e);
                break;
            }
        }
    }
    let full = full.expect("the capped file fills up");
    assert!(
        matches!(full, CoreError::Unavailable(_)),
        "disk full is 503, not 500: {full:?}"
    );

    store.set_max_page_count(None).await.unwrap();
    store
        .create_user(&tenant, attrs("after@example.com"))
        .await
        .expect("writes resume once there is space again");
    store.ping().await.expect("ready again");
}

/// Regression (hardening): the SQLite file was created world-readable; it
/// holds every tenant's users and key hashes.
#[cfg(unix)]
#[tokio::test]
async fn the_database_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("private.db");
    let url = format!("sqlite://{}", path.display());
    let store = scimitar_core::sqlite::connect(&url).await.unwrap();
    store.create_tenant("Acme", None).await.unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
}

async fn sqlite_file(
    dir: &tempfile::TempDir,
) -> std::sync::Arc<scimitar_core::sqlite::SqliteStore> {
    let url = format!("sqlite://{}", dir.path().join("w.db").display());
    std::sync::Arc::new(scimitar_core::sqlite::connect(&url).await.unwrap())
}

async fn stored_names(store: &dyn Store, tenant: &scimitar_core::ids::TenantId) -> Vec<String> {
    let query = scimitar_core::model::ListQuery {
        limit: 10_000,
        ..Default::default()
    };
    let page = store.list_users(tenant, &query).await.unwrap();
    let mut names: Vec<String> = page.items.into_iter().map(|u| u.attrs.user_name).collect();
    names.sort();
    names
}

/// Group commit: concurrent writes share transactions, and one that fails
/// (a userName already taken) is rolled back alone while the others in its
/// transaction commit.
#[tokio::test]
async fn concurrent_writes_share_commits_and_a_failure_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_file(&dir).await;
    let tenant = store.create_tenant("Acme", None).await.unwrap().id;
    store
        .create_user(&tenant, attrs("taken@example.com"))
        .await
        .unwrap();
    let (transactions_before, bodies_before) = store.commits();
    let writes: Vec<_> = (0..64)
        .map(|i| {
            let (store, tenant) = (store.clone(), tenant.clone());
            let name = if i % 4 == 0 {
                "TAKEN@example.com".to_owned()
            } else {
                format!("u{i}@example.com")
            };
            tokio::spawn(
                async move { (name.clone(), store.create_user(&tenant, attrs(&name)).await) },
            )
        })
        .collect();
    let mut expected = vec!["taken@example.com".to_owned()];
    for write in writes {
        let (name, outcome) = write.await.unwrap();
        if name.starts_with("TAKEN") {
            assert!(
                matches!(&outcome, Err(CoreError::Rejected(e)) if e.status == 409),
                "{outcome:?}"
            );
        } else {
            assert_eq!(outcome.unwrap().attrs.user_name, name);
            expected.push(name);
        }
    }
    expected.sort();
    assert_eq!(stored_names(store.as_ref(), &tenant).await, expected);
    let (transactions, bodies) = store.commits();
    assert_eq!(
        bodies - bodies_before,
        48,
        "every successful write committed once"
    );
    assert!(
        transactions - transactions_before < 48,
        "48 concurrent writes took {} transactions",
        transactions - transactions_before
    );
}

/// Group commit and a full disk: the shared transaction fails, and every
/// write is answered as what happened to it. Exactly the acknowledged
/// writes are stored; the others are 503 (never 500, never "created" and
/// then missing).
#[tokio::test]
async fn a_full_disk_during_shared_commits_stores_exactly_what_was_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_file(&dir).await;
    let tenant = store.create_tenant("Acme", None).await.unwrap().id;
    let pages = store.page_count().await.unwrap();
    store.set_max_page_count(Some(pages + 4)).await.unwrap();
    let writes: Vec<_> = (0..200)
        .map(|i| {
            let (store, tenant) = (store.clone(), tenant.clone());
            let name = format!("u{i:03}@example.com");
            tokio::spawn(
                async move { (name.clone(), store.create_user(&tenant, attrs(&name)).await) },
            )
        })
        .collect();
    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for write in writes {
        match write.await.unwrap() {
            (name, Ok(_)) => acknowledged.push(name),
            (_, Err(CoreError::Unavailable(_))) => refused += 1,
            (_, Err(e)) => panic!("a full disk is 503: {e:?}"),
        }
    }
    assert!(refused > 0, "the capped file fills up");
    store.set_max_page_count(None).await.unwrap();
    acknowledged.sort();
    assert_eq!(stored_names(store.as_ref(), &tenant).await, acknowledged);
    store
        .create_user(&tenant, attrs("after@example.com"))
        .await
        .expect("writes resume once there is space again");
    store.ping().await.expect("ready again");
}

//! Faults of the database that must not become outages.

use scimitar_core::CoreError;
use scimitar_core::store::{Administration, Directory, Store};
use scimitar_proto::resource::{Name, UserAttributes};

fn attrs(user_name: &str) -> UserAttributes {
    UserAttributes {
        user_name: user_name.to_owned(),
        display_name: "x".repeat(1000),
        name: Name::default(),
        title: Some("t".repeat(1000)),
        phone: None,
        external_id: None,
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

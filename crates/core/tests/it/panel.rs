//! The admin panel's storage and domain, on every backend: portal links
//! are single-use and expire, panel sessions end idle or old, member
//! counts follow every kind of membership change, and every page is a
//! keyset slice of one tenant.
use std::time::Duration;

use futures_util::future::BoxFuture;

use scimitar_core::CoreError;
use scimitar_core::clock::Clock;
use scimitar_core::domain::{PANEL_IDLE, PANEL_LIFETIME, Service};
use scimitar_core::ids::{ApiKeyId, GroupId, SubaccountId, TenantId};
use scimitar_core::model::{
    GroupChange, LogEntry, LogQuery, NewGroup, PanelUser, Redeemed, hour_of, now,
};
use scimitar_core::store::Store;
use scimitar_core::testing::Backend;
use scimitar_proto::patch::MemberOp;
use scimitar_proto::resource::{Email, Name, UserAttributes};

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

async fn tenant(store: &dyn Store, name: &str) -> TenantId {
    store.create_tenant(name, None).await.unwrap().id
}

async fn group(store: &dyn Store, t: &TenantId, name: &str, ext: Option<&str>) -> GroupId {
    store
        .create_group(
            t,
            NewGroup {
                display_name: name.into(),
                subaccount_id: None,
                external_id: ext.map(str::to_owned),
                members: Vec::new(),
            },
        )
        .await
        .unwrap()
        .id
}

type Test = fn(Service, Clock) -> BoxFuture<'static, ()>;

/// Runs `test` with a domain over `backend` on a manual clock.
async fn run(backend: Backend, test: Test) {
    let clock = Clock::manual();
    let service = Service::with_clock(backend.store.clone(), clock.clone());
    test(service, clock).await;
    backend.finish().await;
}

fn portal_links_are_single_use_and_expire(
    service: Service,
    clock: Clock,
) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let store = service.store();
        let t = tenant(store, "Acme").await;
        let link = service
            .create_portal_link(&t, Duration::from_secs(300))
            .await
            .unwrap();
        assert!(link.token.starts_with("plk_"));
        let (first, secret) = service.open_portal_link(&link.token).await.unwrap();
        assert_eq!(first, Redeemed::Session(t.clone()));
        let secret = secret.unwrap();
        assert_eq!(
            service.panel_session(&secret).await.unwrap(),
            Some(PanelUser::Tenant(t.clone()))
        );
        let (again, none) = service.open_portal_link(&link.token).await.unwrap();
        assert_eq!((again, none), (Redeemed::Used, None));

        let late = service
            .create_portal_link(&t, Duration::from_secs(300))
            .await
            .unwrap();
        clock.advance(Duration::from_secs(301));
        assert_eq!(
            service.open_portal_link(&late.token).await.unwrap(),
            (Redeemed::Expired, None)
        );
        assert_eq!(
            service.open_portal_link("plk_nothing").await.unwrap(),
            (Redeemed::Unknown, None)
        );
        // An unknown tenant gets no link.
        let nobody = TenantId::generate();
        assert!(matches!(
            service
                .create_portal_link(&nobody, Duration::from_secs(1))
                .await,
            Err(CoreError::NotFound(_))
        ));
    })
}

fn panel_sessions_end_idle_old_or_signed_out(
    service: Service,
    clock: Clock,
) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let idle = service.start_operator_session().await.unwrap();
        assert_eq!(
            service.panel_session(&idle).await.unwrap(),
            Some(PanelUser::Operator)
        );
        // Used every 20 minutes, a session lives on past 30 minutes...
        let busy = service.start_operator_session().await.unwrap();
        for _ in 0..3 {
            clock.advance(Duration::from_secs(20 * 60));
            assert!(service.panel_session(&busy).await.unwrap().is_some());
        }
        // ...but one left alone for 30 does not.
        assert_eq!(service.panel_session(&idle).await.unwrap(), None);
        // And none outlives its 12 hours, however busy.
        let steps = PANEL_LIFETIME.as_secs() / (20 * 60);
        for _ in 0..steps {
            clock.advance(Duration::from_secs(20 * 60));
            let _ = service.panel_session(&busy).await.unwrap();
        }
        assert_eq!(service.panel_session(&busy).await.unwrap(), None);
        assert!(PANEL_IDLE < PANEL_LIFETIME);

        let out = service.start_operator_session().await.unwrap();
        service.end_panel_session(&out).await.unwrap();
        assert_eq!(service.panel_session(&out).await.unwrap(), None);
        assert_eq!(service.panel_session("pnl_forged").await.unwrap(), None);
    })
}

fn member_counts_follow_every_change(service: Service, _clock: Clock) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let store = service.store();
        let t = tenant(store, "Acme").await;
        let g = group(store, &t, "Counted", None).await;
        let other = group(store, &t, "Other", None).await;
        let mut users = Vec::new();
        for i in 0..5 {
            users.push(
                store
                    .create_user(&t, attrs(&format!("u{i}@example.com")))
                    .await
                    .unwrap()
                    .id
                    .to_string(),
            );
        }
        let change = |members| GroupChange {
            members,
            ..Default::default()
        };
        store
            .change_group_scim(&t, &g, change(vec![MemberOp::Add(users.clone())]), None)
            .await
            .unwrap();
        store
            .change_group_scim(
                &t,
                &other,
                change(vec![MemberOp::Add(users[..2].to_vec())]),
                None,
            )
            .await
            .unwrap();
        // Adding members already there counts nothing.
        store
            .change_group_scim(
                &t,
                &g,
                change(vec![MemberOp::Add(users[..3].to_vec())]),
                None,
            )
            .await
            .unwrap();
        assert_eq!(store.get_group(&t, &g).await.unwrap().member_count, 5);
        store
            .change_group_scim(
                &t,
                &g,
                change(vec![MemberOp::Remove(vec![users[4].clone()])]),
                None,
            )
            .await
            .unwrap();
        assert_eq!(store.get_group(&t, &g).await.unwrap().member_count, 4);
        // A deprovisioned user leaves every group's count.
        store
            .deprovision_user(&t, &users[0].as_str().into(), None)
            .await
            .unwrap();
        assert_eq!(store.get_group(&t, &g).await.unwrap().member_count, 3);
        assert_eq!(store.get_group(&t, &other).await.unwrap().member_count, 1);
        store
            .change_group_scim(
                &t,
                &g,
                change(vec![MemberOp::Replace(vec![users[4].clone()])]),
                None,
            )
            .await
            .unwrap();
        assert_eq!(store.get_group(&t, &g).await.unwrap().member_count, 1);
        // Deleting a group with members deletes cleanly.
        store.delete_group(&t, &other, None).await.unwrap();
        assert!(store.get_group(&t, &other).await.is_err());
    })
}

fn subaccounts_rename_and_move_but_never_under_themselves(
    service: Service,
    _clock: Clock,
) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let store = service.store();
        let t = tenant(store, "Acme").await;
        let root = store.create_subaccount(&t, "Nordics", None).await.unwrap();
        let child = store
            .create_subaccount(&t, "Sweden", Some(&root.id))
            .await
            .unwrap();
        let leaf = store
            .create_subaccount(&t, "Stockholm", Some(&child.id))
            .await
            .unwrap();
        let renamed = service
            .change_subaccount(&t, &child.id, Some("Sverige"), None)
            .await
            .unwrap();
        assert_eq!(
            (renamed.name.as_str(), renamed.parent_id.as_ref()),
            ("Sverige", Some(&root.id))
        );
        let moved = service
            .change_subaccount(&t, &leaf.id, None, Some(Some(root.id.clone())))
            .await
            .unwrap();
        assert_eq!(moved.parent_id.as_ref(), Some(&root.id));
        let to_root = service
            .change_subaccount(&t, &child.id, None, Some(None))
            .await
            .unwrap();
        assert_eq!(to_root.parent_id, None);
        // Under itself, or under its own descendant: refused, nothing changed.
        let err = service
            .change_subaccount(&t, &root.id, None, Some(Some(root.id.clone())))
            .await
            .unwrap_err();
        assert!(matches!(err, CoreError::Rejected(_)), "{err:?}");
        let err = service
            .change_subaccount(&t, &root.id, None, Some(Some(leaf.id.clone())))
            .await
            .unwrap_err();
        assert!(matches!(err, CoreError::Rejected(_)), "{err:?}");
        let subs = store.list_subaccounts(&t).await.unwrap();
        assert_eq!(
            subs.iter().find(|s| s.id == root.id).unwrap().parent_id,
            None
        );
        // Blank names are refused; another tenant's subaccount is not found.
        assert!(matches!(
            service
                .change_subaccount(&t, &root.id, Some("  "), None)
                .await,
            Err(CoreError::Rejected(_))
        ));
        let other = tenant(store, "Globex").await;
        let theirs = store
            .create_subaccount(&other, "Theirs", None)
            .await
            .unwrap();
        assert!(matches!(
            service
                .change_subaccount(&t, &theirs.id, Some("Mine"), None)
                .await,
            Err(CoreError::NotFound(_))
        ));
        assert!(matches!(
            service
                .change_subaccount(&t, &root.id, None, Some(Some(theirs.id.clone())))
                .await,
            Err(CoreError::NotFound(_))
        ));
        assert!(matches!(
            service
                .change_subaccount(&t, &SubaccountId::generate(), Some("x"), None)
                .await,
            Err(CoreError::NotFound(_))
        ));
    })
}

fn pages_are_keyset_slices_of_one_tenant(
    service: Service,
    _clock: Clock,
) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let store = service.store();
        let t = tenant(store, "Acme").await;
        let other = tenant(store, "Globex").await;
        for name in ["beta", "Alpha", "gamma", "alpha", "Delta"] {
            group(store, &t, name, Some(&format!("ext-{name}"))).await;
        }
        group(store, &other, "alpha-other", None).await;
        let page = service.group_page(&t, None, None, 2).await.unwrap();
        let names: Vec<_> = page.items.iter().map(|g| g.display_name.as_str()).collect();
        assert_eq!(names.len(), 2);
        assert!(
            names.iter().all(|n| n.eq_ignore_ascii_case("alpha")),
            "{names:?}"
        );
        assert!(page.more);
        let last = page.items.last().unwrap();
        let rest = service
            .group_page(&t, None, Some((&last.display_name, &last.id)), 10)
            .await
            .unwrap();
        let names: Vec<_> = rest.items.iter().map(|g| g.display_name.as_str()).collect();
        assert_eq!(names, ["beta", "Delta", "gamma"]);
        assert!(!rest.more);
        // Search: a name's beginning, any case; or a Group ID exactly.
        let found = service.group_page(&t, Some("AL"), None, 10).await.unwrap();
        assert_eq!(found.items.len(), 2);
        let by_id = service
            .group_page(&t, Some("ext-gamma"), None, 10)
            .await
            .unwrap();
        assert_eq!(by_id.items[0].display_name, "gamma");
        // Characters that mean something to LIKE mean nothing here.
        assert!(
            service
                .group_page(&t, Some("%"), None, 10)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert!(
            service
                .group_page(&t, Some("_"), None, 10)
                .await
                .unwrap()
                .items
                .is_empty()
        );

        for name in ["zed@example.com", "Ann@example.com", "bob@example.com"] {
            store.create_user(&t, attrs(name)).await.unwrap();
        }
        store
            .create_user(&other, attrs("ann.other@example.com"))
            .await
            .unwrap();
        let users = service.user_page(&t, None, None, 2).await.unwrap();
        let names: Vec<_> = users
            .items
            .iter()
            .map(|u| u.attrs.user_name.as_str())
            .collect();
        assert_eq!(names, ["Ann@example.com", "bob@example.com"]);
        assert!(users.more);
        let rest = service
            .user_page(&t, None, Some("bob@example.com"), 2)
            .await
            .unwrap();
        assert_eq!(rest.items.len(), 1);
        assert!(!rest.more);
        let ann = service.user_page(&t, Some("ann"), None, 10).await.unwrap();
        assert_eq!(ann.items.len(), 1, "only this tenant's Ann");
        // Tenants, oldest first, a page at a time.
        let first = service.tenant_page(None, 1).await.unwrap();
        assert_eq!((first.items[0].name.as_str(), first.more), ("Acme", true));
        let last = &first.items[0];
        let rest = service
            .tenant_page(Some((last.created, &last.id)), 10)
            .await
            .unwrap();
        assert_eq!(rest.items.len(), 1);
        assert_eq!((rest.items[0].name.as_str(), rest.more), ("Globex", false));
        // An unknown tenant is not found.
        assert!(matches!(
            service
                .user_page(&TenantId::generate(), None, None, 10)
                .await,
            Err(CoreError::NotFound(_))
        ));
    })
}

fn the_log_pages_by_outcome_and_method_and_counts_hours(
    service: Service,
    _clock: Clock,
) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let store = service.store();
        let t = tenant(store, "Acme").await;
        let (key, _) = store.create_api_key(&t, Some("entra")).await.unwrap();
        let at = now();
        let entry = |i: u16, method: &str, status: u16, key: Option<ApiKeyId>| LogEntry {
            tenant_id: t.clone(),
            time: at + i64::from(i),
            request_id: format!("req-{i}"),
            method: method.into(),
            path: "/scim/v2/Users".into(),
            status,
            scim_type: None,
            detail: (status >= 400).then(|| "bad".into()),
            ignored: vec![],
            api_key_id: key,
        };
        let entries: Vec<LogEntry> = (0..30)
            .map(|i| {
                let (method, status) = match i % 3 {
                    0 => ("GET", 200),
                    1 => ("POST", 201),
                    _ => ("POST", 409),
                };
                entry(i, method, status, Some(key.id.clone()))
            })
            .collect();
        store.append_log(&entries).await.unwrap();
        // The batch is counted into its hour, and notes the key's last use.
        let health = service.sync_health(&t).await.unwrap();
        let this_hour = health.hours.iter().find(|h| h.hour == hour_of(at)).unwrap();
        assert_eq!((this_hour.requests, this_hour.failures), (30, 10));
        assert_eq!(health.last_failure.unwrap().request_id, "req-29");
        assert_eq!(health.last_success.unwrap().request_id, "req-28");
        let listed = store.list_api_keys(Some(&t)).await.unwrap();
        assert_eq!(listed[0].last_used, Some(at + 29));

        let query = |failed, method: Option<&str>, before| LogQuery {
            before,
            failed,
            method: method.map(str::to_owned),
            limit: 4,
        };
        let page = service
            .log_page(&t, &query(None, None, None))
            .await
            .unwrap();
        let ids: Vec<_> = page
            .items
            .iter()
            .map(|(_, e)| e.request_id.as_str())
            .collect();
        assert_eq!(ids, ["req-29", "req-28", "req-27", "req-26"]);
        assert!(page.more);
        let next = service
            .log_page(&t, &query(None, None, Some(page.items[3].0)))
            .await
            .unwrap();
        assert_eq!(next.items[0].1.request_id, "req-25");
        let failed = service
            .log_page(&t, &query(Some(true), None, None))
            .await
            .unwrap();
        assert!(failed.items.iter().all(|(_, e)| e.status == 409));
        let gets = service
            .log_page(&t, &query(Some(false), Some("GET"), None))
            .await
            .unwrap();
        assert!(
            gets.items
                .iter()
                .all(|(_, e)| e.method == "GET" && e.status == 200)
        );
        assert_eq!(gets.items.len(), 4);
        // Another tenant's log is empty.
        let other = tenant(store, "Globex").await;
        assert!(
            service
                .log_page(&other, &query(None, None, None))
                .await
                .unwrap()
                .items
                .is_empty()
        );
    })
}

scimitar_core::on_every_backend!(
    run;
    portal_links_are_single_use_and_expire,
    panel_sessions_end_idle_old_or_signed_out,
    member_counts_follow_every_change,
    subaccounts_rename_and_move_but_never_under_themselves,
    pages_are_keyset_slices_of_one_tenant,
    the_log_pages_by_outcome_and_method_and_counts_hours,
);

/// A store of another process (its own pool) on the same database: on
/// PostgreSQL, its committed events wake this store's followers through
/// `LISTEN/NOTIFY`, without waiting for the feed's next look.
mod other_processes {
    use std::time::Duration;

    use scimitar_core::testing::{Backend, Kind};

    #[tokio::test]
    async fn another_processs_events_wake_this_ones_followers() {
        let Some(backend) = Backend::of(Kind::Postgres).await else {
            return;
        };
        let other = scimitar_core::open(backend.url()).await.unwrap();
        let commits = backend.store.commits();
        // The listener connects in the background: wait until it hears.
        let mut heard = false;
        for _ in 0..50 {
            let notified = commits.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            other.create_tenant("Elsewhere", None).await.unwrap();
            if tokio::time::timeout(Duration::from_millis(200), notified)
                .await
                .is_ok()
            {
                heard = true;
                break;
            }
        }
        assert!(
            heard,
            "a commit of another store never woke this one's followers"
        );
        // A transaction that records no event announces nothing: only the
        // poll would find what it did.
        drop(other);
        backend.finish().await;
    }
}

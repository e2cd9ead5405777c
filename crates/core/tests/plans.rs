//! Query plans: no request an identity provider sends may cost work that
//! grows with its tenant. The statements are not written out here: a
//! workload of every SCIM operation runs through the domain and the store,
//! every statement executed is captured from the tracing events of sqlx
//! (`sqlx::query`) and of our SQLite reads (`scimitar::sql`), and each is handed to the database's own planner
//! (`EXPLAIN QUERY PLAN` on SQLite; a generic plan with sequential scans
//! disabled on PostgreSQL, so a scan that remains has no index to use).
//! A statement fails when its plan scans a whole table of tenant data, or
//! walks all of one tenant's rows without stopping at a `LIMIT` in index
//! order.
//!
//! On SQLite it also fails on a statement that SQLite prepares again on
//! every run (a bound `LIMIT` does that), which would undo the statement
//! cache.
//!
//! Its own test binary: the capture is a process-wide subscriber, which
//! must not see the statements of other tests.

#![allow(clippy::unwrap_used, clippy::too_many_lines, reason = "a test")]

use std::sync::{Mutex, OnceLock, PoisonError};

use scimitar_core::domain::{FeedQuery, Service};
use scimitar_core::ids::{TenantId, UserId};
use scimitar_core::model::{
    DeactivatedMemberships, Deprovision, ListQuery, LogEntry, LogQuery, NewGroup, PolicyChange, now,
};
use scimitar_core::store::Store;
use scimitar_core::testing::{Backend, Kind};
use scimitar_proto::filter;
use scimitar_proto::patch::parse_patch;
use scimitar_proto::resource::{parse_group, parse_user};
use scimitar_proto::schema::{GROUP, USER};
use serde_json::json;
use sqlx::{AssertSqlSafe, Connection, Row};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, filter::Targets};

/// The tables whose rows belong to tenants and grow with them.
/// (`tenant_domains` is not one: at most 100 domains per tenant, each read
/// whole where it is read.)
const TENANT_TABLES: [&str; 11] = [
    "users",
    "groups",
    "memberships",
    "api_keys",
    "sessions",
    "subaccounts",
    "provisioning_log",
    "events",
    "log_hours",
    "portal_links",
    "panel_sessions",
];

/// The statements sqlx reported executing, in order.
static EXECUTED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The statements SQLite prepared again when they ran (a cached
/// statement that is parsed again on every run).
static REPREPARED: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut sql = Sql::default();
        event.record(&mut sql);
        // sqlx puts a long statement in `db.statement` and a short one
        // (four words or fewer) only in `summary`.
        let text = if sql.statement.trim().is_empty() {
            sql.summary
        } else {
            sql.statement
        };
        if sql.reprepared {
            REPREPARED
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(text.trim().to_owned());
            return;
        }
        EXECUTED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(text.trim().to_owned());
    }
}

#[derive(Default)]
struct Sql {
    statement: String,
    summary: String,
    reprepared: bool,
}

impl Visit for Sql {
    fn record_u64(&mut self, field: &Field, _: u64) {
        if field.name() == "reprepared" {
            self.reprepared = true;
        }
    }

    fn record_i64(&mut self, field: &Field, _: i64) {
        if field.name() == "reprepared" {
            self.reprepared = true;
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "db.statement" | "statement" => value.clone_into(&mut self.statement),
            "summary" => value.clone_into(&mut self.summary),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if matches!(field.name(), "db.statement" | "statement" | "summary") {
            let text = format!("{value:?}");
            self.record_str(field, text.trim_matches('"'));
        }
    }
}

fn capture() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let only_statements = Targets::new()
            .with_target("sqlx::query", tracing::Level::DEBUG)
            .with_target("scimitar::sql", tracing::Level::DEBUG);
        let subscriber = tracing_subscriber::registry().with(Capture.with_filter(only_statements));
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

/// The distinct reads, updates and deletes executed since the last call.
fn statements() -> Vec<String> {
    let mut executed = EXECUTED.lock().unwrap_or_else(PoisonError::into_inner);
    let mut out: Vec<String> = Vec::new();
    for sql in executed.drain(..) {
        let verb = sql.split_whitespace().next().unwrap_or_default();
        let judged = ["SELECT", "UPDATE", "DELETE", "WITH"]
            .iter()
            .any(|v| verb.eq_ignore_ascii_case(v));
        if judged && !out.contains(&sql) {
            out.push(sql);
        }
    }
    out
}

/// What identity providers do, at volume: every SCIM operation, the key
/// check, sessions. Enough rows that an index is worth using.
async fn workload(service: &Service) {
    let store: &dyn Store = service.store();
    let tenant = store.create_tenant("Acme", None).await.unwrap().id;
    let other = store.create_tenant("Other", None).await.unwrap().id;
    let (_, secret) = store.create_api_key(&tenant, None).await.unwrap();
    let user = |t: &TenantId, i: usize| {
        let body = json!({
            "userName": format!("u{i}@{}.example", t.as_str()),
            "displayName": format!("User {i}"),
            "externalId": format!("ext-{i}"),
            "title": "Engineer",
            "phoneNumbers": [{"value": format!("+1555000{i:04}"), "type": "work"}],
        });
        parse_user(&body).unwrap().value
    };
    let mut users = Vec::new();
    for i in 0..40 {
        users.push(
            service
                .create_user(&tenant, user(&tenant, i))
                .await
                .unwrap(),
        );
        service.create_user(&other, user(&other, i)).await.unwrap();
    }
    for t in [&tenant, &other] {
        for i in 0..30 {
            let group = NewGroup {
                display_name: format!("Team {i}"),
                external_id: Some(format!("team-{i}")),
                ..Default::default()
            };
            store.create_group(t, group).await.unwrap();
        }
    }
    let group = store
        .create_group(
            &tenant,
            NewGroup {
                display_name: "Engineering".into(),
                external_id: Some("eng".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    // Authentication, reads and lists.
    assert_eq!(
        service
            .authenticate(&secret)
            .await
            .unwrap()
            .map(|c| c.tenant),
        Some(tenant.clone())
    );
    let id = &users[0].id;
    store.get_user(&tenant, id).await.unwrap();
    store.get_user_with_groups(&tenant, id).await.unwrap();
    store
        .groups_of(&tenant, std::slice::from_ref(id))
        .await
        .unwrap();
    let list = |filter: Option<&str>, schema, limit| ListQuery {
        filter: filter.map(|f| filter::parse(schema, f).unwrap()),
        limit,
        ..Default::default()
    };
    let page = store
        .list_users(&tenant, &list(None, &USER, 10))
        .await
        .unwrap();
    let ids: Vec<_> = page.items.iter().map(|u| u.id.clone()).collect();
    store.groups_of(&tenant, &ids).await.unwrap();
    for f in [
        "userName eq \"U1@X.example\"",
        "externalId eq \"ext-3\"",
        "emails.value eq \"u2@x.example\"",
        "id eq \"00000000-0000-4000-8000-000000000000\"",
    ] {
        store
            .list_users(&tenant, &list(Some(f), &USER, 10))
            .await
            .unwrap();
    }
    store
        .list_groups(&tenant, &list(Some("externalId eq \"eng\""), &GROUP, 10))
        .await
        .unwrap();
    store
        .list_groups(
            &tenant,
            &list(Some("displayName eq \"Engineering\""), &GROUP, 10),
        )
        .await
        .unwrap();
    store.get_group(&tenant, &group.id).await.unwrap();

    // Changes: user PATCH and PUT, member PATCH, group PUT, deletes.
    let patch = parse_patch(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"title": "Lead", "name.givenName": "A"}}],
    }))
    .unwrap();
    service.patch_user(&tenant, id, &patch, None).await.unwrap();
    let mut changed = user(&tenant, 0);
    changed.display_name = "Renamed".into();
    service
        .replace_user(&tenant, id, &changed, None)
        .await
        .unwrap();
    let members: Vec<_> = users
        .iter()
        .take(20)
        .map(|u| json!({"value": u.id.as_str()}))
        .collect();
    let add = parse_patch(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": members}],
    }))
    .unwrap();
    service
        .patch_group(&tenant, &group.id, &add, None)
        .await
        .unwrap();
    let remove = parse_patch(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": format!("members[value eq \"{}\"]", users[1].id)}],
    }))
    .unwrap();
    service
        .patch_group(&tenant, &group.id, &remove, None)
        .await
        .unwrap();
    store
        .members_of(&tenant, std::slice::from_ref(&group.id))
        .await
        .unwrap();
    let input = parse_group(&json!({
        "displayName": "Engineering",
        "externalId": "eng",
        "members": [{"value": users[2].id.as_str()}],
    }))
    .unwrap()
    .value;
    service
        .replace_group(&tenant, &group.id, input, None)
        .await
        .unwrap();
    let (_, token) = service.start_session(&users[3].id, 3600).await.unwrap();
    service.session_of(&token).await.unwrap();
    service.end_session(&token).await.unwrap();
    let deprovision = parse_patch(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}],
    }))
    .unwrap();
    service
        .patch_user(&tenant, &users[4].id, &deprovision, None)
        .await
        .unwrap();
    service
        .delete_user(&tenant, &users[5].id, None)
        .await
        .unwrap();
    service
        .delete_group(&tenant, &group.id, None)
        .await
        .unwrap();
    // A tenant that deactivates its leavers, dropping their memberships:
    // deactivation, the list of deactivated users, re-activation.
    let keeps = PolicyChange {
        deprovision: Some(Deprovision::Deactivate),
        deactivated_memberships: Some(DeactivatedMemberships::Drop),
        ..Default::default()
    };
    service.set_policy(&tenant, keeps).await.unwrap();
    service
        .patch_user(&tenant, &users[7].id, &deprovision, None)
        .await
        .unwrap();
    store
        .list_users(&tenant, &list(Some("active eq false"), &USER, 10))
        .await
        .unwrap();
    let reactivate = parse_patch(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": true}],
    }))
    .unwrap();
    service
        .patch_user(&tenant, &users[7].id, &reactivate, None)
        .await
        .unwrap();
    domains_workload(service, &tenant, &other).await;
    panel_workload(service, &tenant, &users[6].id).await;
    for (tenant, types) in [
        (None, vec![]),
        (Some(tenant.clone()), vec!["user.created".to_owned()]),
    ] {
        let query = FeedQuery {
            after: Some(3),
            limit: 10,
            types,
            tenant,
            ..Default::default()
        };
        service.feed(&query).await.unwrap();
    }
}

/// Confirmed domains: `other`'s users at a domain `tenant` then confirms
/// are collisions, listed and released; `tenant` creates users there.
async fn domains_workload(service: &Service, tenant: &TenantId, other: &TenantId) {
    let at = |i: usize| {
        let body = json!({"userName": format!("held{i}@acme.example"), "displayName": "Held"});
        parse_user(&body).unwrap().value
    };
    for i in 0..3 {
        service.create_user(other, at(i)).await.unwrap();
    }
    let confirm = PolicyChange {
        user_name_domains: Some(vec!["acme.example".into(), "acme.example.org".into()]),
        ..Default::default()
    };
    service.set_policy(tenant, confirm).await.unwrap();
    service.create_user(tenant, at(3)).await.unwrap();
    service.list_collisions(None, 100).await.unwrap();
    let held = service
        .list_collisions(Some("acme.example"), 100)
        .await
        .unwrap();
    assert_eq!(held.len(), 3, "{held:?}");
    service.release_collision(&held[0].user_id).await.unwrap();
    let fewer = PolicyChange {
        user_name_domains: Some(vec!["acme.example".into()]),
        ..Default::default()
    };
    service.set_policy(tenant, fewer).await.unwrap();
    service.list_tenants().await.unwrap();
}

/// What the admin panel's screens read and write.
async fn panel_workload(service: &Service, tenant: &TenantId, user: &UserId) {
    let store = service.store();
    let (key, _) = store.create_api_key(tenant, Some("panel")).await.unwrap();
    let entries: Vec<LogEntry> = (0..20)
        .map(|i| LogEntry {
            tenant_id: tenant.clone(),
            time: now() + i,
            request_id: format!("r{i}"),
            method: if i % 2 == 0 { "GET" } else { "PATCH" }.into(),
            path: "/scim/v2/Users".into(),
            status: if i % 3 == 0 { 400 } else { 200 },
            scim_type: None,
            detail: None,
            ignored: vec![],
            api_key_id: Some(key.id.clone()),
        })
        .collect();
    store.append_log(&entries).await.unwrap();
    let link = service
        .create_portal_link(tenant, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let (_, secret) = service.open_portal_link(&link.token).await.unwrap();
    let secret = secret.unwrap();
    service.panel_session(&secret).await.unwrap();
    service.end_panel_session(&secret).await.unwrap();
    let tenants = service.tenant_page(None, 1).await.unwrap();
    let oldest = &tenants.items[0];
    service
        .tenant_page(Some((oldest.created, &oldest.id)), 1)
        .await
        .unwrap();
    let first = service.group_page(tenant, None, None, 5).await.unwrap();
    let last = first.items.last().unwrap();
    service
        .group_page(tenant, None, Some((&last.display_name, &last.id)), 5)
        .await
        .unwrap();
    service
        .group_page(tenant, Some("team-1"), None, 5)
        .await
        .unwrap();
    service
        .group_page(
            tenant,
            Some("Team 1"),
            Some((&last.display_name, &last.id)),
            5,
        )
        .await
        .unwrap();
    let users = service.user_page(tenant, None, None, 5).await.unwrap();
    let after = &users.items.last().unwrap().attrs.user_name;
    service
        .user_page(tenant, Some("u1"), Some(after), 5)
        .await
        .unwrap();
    service.user_detail(tenant, user).await.unwrap();
    for failed in [None, Some(true)] {
        for method in [None, Some("GET".to_owned())] {
            let query = LogQuery {
                before: Some(1_000_000),
                failed,
                method,
                limit: 5,
            };
            service.log_page(tenant, &query).await.unwrap();
        }
    }
    service.sync_health(tenant).await.unwrap();
    let sub = store.create_subaccount(tenant, "Top", None).await.unwrap();
    let child = store
        .create_subaccount(tenant, "Child", Some(&sub.id))
        .await
        .unwrap();
    service
        .change_subaccount(tenant, &child.id, Some("Renamed"), Some(None))
        .await
        .unwrap();
}

/// The plan's lines, as the database words them.
async fn plan(url: &str, sql: &str) -> Vec<String> {
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        let rows = sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{e}: {sql}"));
        rows.iter().map(|r| r.get::<String, _>("detail")).collect()
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        for setting in [
            // Statistics, as autovacuum keeps them on a live server.
            "ANALYZE",
            "SET enable_seqscan = off",
            "SET plan_cache_mode = force_generic_plan",
        ] {
            sqlx::raw_sql(setting).execute(&mut conn).await.unwrap();
        }
        let count = (1..).take_while(|n| sql.contains(&format!("${n}"))).count();
        // PostgreSQL infers each parameter's type from where it is used;
        // one it cannot (`$2 IS NULL OR …`) is text, as sqlx binds it.
        let mut types = vec!["unknown"; count];
        loop {
            let declared = if count == 0 {
                String::new()
            } else {
                format!("({})", types.join(", "))
            };
            let prepared =
                sqlx::raw_sql(AssertSqlSafe(format!("PREPARE judged{declared} AS {sql}")))
                    .execute(&mut conn)
                    .await;
            match prepared {
                Ok(_) => break,
                Err(e) => {
                    let text = e.to_string();
                    let unknown = text
                        .split("could not determine data type of parameter $")
                        .nth(1)
                        .and_then(|n| n.split_whitespace().next())
                        .and_then(|n| n.parse::<usize>().ok());
                    match unknown {
                        Some(n) if types[n - 1] == "unknown" => types[n - 1] = "text",
                        _ => panic!("{e}: {sql}"),
                    }
                }
            }
        }
        let params = vec!["NULL"; count].join(", ");
        let explain = if params.is_empty() {
            "EXPLAIN EXECUTE judged".to_owned()
        } else {
            format!("EXPLAIN EXECUTE judged({params})")
        };
        let rows = sqlx::query(AssertSqlSafe(explain))
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{e}: {sql}"));
        rows.iter().map(|r| r.get::<String, _>(0)).collect()
    }
}

/// Why a plan grows with the tenant, if it does.
fn grows(sql: &str, plan: &[String]) -> Option<String> {
    let stops_early = sql.contains(" LIMIT ")
        && !plan
            .iter()
            .any(|l| l.contains("TEMP B-TREE") || l.trim_start().starts_with("Sort"));
    let tenant_table = |line: &str| {
        TENANT_TABLES.iter().any(|t| {
            line.contains(&format!(" on {t} "))
                || line.ends_with(&format!(" on {t}"))
                || line.contains(&format!("SCAN {t}"))
        })
    };
    for (i, line) in plan.iter().enumerate() {
        let line = line.trim();
        // SQLite: `SCAN t` (a whole table, or a whole index of it).
        if let Some(rest) = line.strip_prefix("SCAN ") {
            let table = rest.split_whitespace().next().unwrap_or_default();
            if table != "CONSTANT" && table_of(sql, table).is_some_and(is_tenant_table) {
                return Some(format!("scans {table} whole: {line}"));
            }
        }
        // SQLite: a search keyed by the tenant alone walks all its rows.
        let searched = line
            .strip_prefix("SEARCH ")
            .and_then(|r| r.split_whitespace().next());
        let of_tenant_table =
            searched.is_some_and(|t| table_of(sql, t).is_some_and(is_tenant_table));
        if of_tenant_table && line.ends_with("(tenant_id=?)") && !stops_early {
            return Some(format!("walks every row of the tenant: {line}"));
        }
        // PostgreSQL: a sequential scan left with enable_seqscan off.
        if line.contains("Seq Scan on") && tenant_table(line) {
            return Some(format!("no index to use: {line}"));
        }
        // PostgreSQL: an index condition on the tenant alone.
        if line.contains("Index") && tenant_table(line) && !stops_early {
            let cond = plan.get(i + 1).map(|l| l.trim()).unwrap_or_default();
            let tenant_only = cond.strip_prefix("Index Cond: (").is_some_and(|c| {
                c.trim_end_matches(')').ends_with("tenant_id = $1") && !c.contains("AND")
            });
            if tenant_only {
                return Some(format!("walks every row of the tenant: {line} {cond}"));
            }
        }
    }
    None
}

fn is_tenant_table(table: &str) -> bool {
    TENANT_TABLES.contains(&table)
}

/// The table an alias of `sql` stands for (`users r` → `users`), or the
/// name itself when it is a table.
fn table_of<'a>(sql: &'a str, alias: &'a str) -> Option<&'a str> {
    if is_tenant_table(alias) {
        return Some(alias);
    }
    let words: Vec<&str> = sql.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[1].trim_end_matches(',') == alias && is_tenant_table(w[0]))
        .map(|w| w[0])
}

async fn judge(kind: Kind) {
    let Some(backend) = Backend::of(kind).await else {
        return;
    };
    statements();
    workload(&Service::new(backend.store.clone())).await;
    let executed = statements();
    assert!(
        executed.len() > 20,
        "the capture saw the workload's statements: {executed:#?}"
    );
    // Reads and writes run through different drivers on SQLite: both seen.
    for part in ["member_of_name", "UPDATE users SET version"] {
        assert!(
            executed.iter().any(|sql| sql.contains(part)),
            "the capture saw a statement with {part}: {executed:#?}"
        );
    }
    let reprepared: Vec<String> =
        std::mem::take(&mut *REPREPARED.lock().unwrap_or_else(PoisonError::into_inner));
    assert!(
        reprepared.is_empty(),
        "{kind:?}: statements prepared again on every run: {reprepared:#?}"
    );
    let mut failures = Vec::new();
    for sql in &executed {
        let lines = plan(backend.url(), sql).await;
        if let Some(why) = grows(sql, &lines) {
            failures.push(format!("{why}\n    {sql}\n    plan: {lines:?}"));
        }
    }
    backend.finish().await;
    assert!(
        failures.is_empty(),
        "{kind:?}: {} of {} statements grow with the tenant:\n{}",
        failures.len(),
        executed.len(),
        failures.join("\n")
    );
}

/// One test, the backends in turn: the capture is shared.
#[tokio::test]
async fn no_statement_walks_a_tenants_rows() {
    capture();
    judge(Kind::Sqlite).await;
    judge(Kind::Postgres).await;
}

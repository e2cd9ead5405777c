//! The storage traits in SQL that SQLite and PostgreSQL both accept.
//!
//! This file is compiled once per backend, as a module of `sqlite.rs` and of
//! `postgres.rs`, each of which provides `Db` (the sqlx database type),
//! `begin_write` (how a write transaction starts), `is_unavailable`
//! (which errors mean "try again later"), `is_conflict` (which mean "run
//! the transaction again") and `lock_outbox` (how event sequence numbers
//! are kept in commit order). So there is one implementation of
//! every rule, type-checked against each backend's concrete types, and no
//! `if sqlite` anywhere.
//!
//! Concurrency: every write transaction first bumps the version of the row
//! it changes, which takes that row's lock (PostgreSQL) or the database's
//! write lock (SQLite, `BEGIN IMMEDIATE`), so concurrent changes of one
//! resource serialise instead of failing. What PostgreSQL may still abort
//! (a deadlock between transactions on different rows, a serialisation
//! failure) is retried here, inside the store, a few times before it
//! becomes `Unavailable`: a client never sees a race as a 500.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use scimitar_proto::ScimError;
use scimitar_proto::resource::{Name, Phone, UserAttributes};
use serde_json::json;
use sqlx::{AssertSqlSafe, Pool, Row, Transaction};
use subtle::ConstantTimeEq;

use super::{DATABASE_BYTES, Db, begin_write, is_conflict, is_unavailable, lock_outbox};
use crate::error::{CoreError, Result};
use crate::gate::TenantGate;
use crate::ids::{ApiKeyId, GroupId, SessionId, SubaccountId, TenantId, UserId};
use crate::model::{
    ApiKey, Event, Group, GroupAdminChange, GroupChange, ListQuery, LogEntry, Member, Membership,
    Micros, NewGroup, Page, Session, Stamp, Subaccount, Tenant, User, now,
};
use crate::rules;
use crate::sql::filter::{self, Bind, Resource};
use crate::store::{Administration, Directory, Expiring, Journal, Sessions, Store};

#[path = "changes.rs"]
mod changes;

type DbRow = <Db as sqlx::Database>::Row;
type Query<'a> = sqlx::query::Query<'a, Db, <Db as sqlx::Database>::Arguments>;
type Tx = Transaction<'static, Db>;

/// Ids per statement in batched `IN (…)` lists and multi-row inserts: well
/// under both backends' bind-parameter limits.
const CHUNK: usize = 500;

/// A store over one database. `read` and `write` may be the same pool.
/// SCIM writes pass each tenant's [`TenantGate`] first, so one tenant's
/// burst never queues ahead of another tenant's write.
#[derive(Clone)]
pub struct SqlStore {
    pub(super) read: Pool<Db>,
    pub(super) write: Pool<Db>,
    pub(super) gate: Arc<TenantGate>,
}

fn db(err: sqlx::Error) -> CoreError {
    if is_unavailable(&err) || is_conflict(&err) {
        CoreError::Unavailable(err)
    } else {
        CoreError::Internal(err.to_string())
    }
}

/// Attempts of a write transaction that the database aborted because of a
/// concurrent one.
const CONFLICT_ATTEMPTS: u32 = 5;

/// Runs a write transaction again when the database aborted it for a
/// conflict with another one; any other outcome is returned as it is.
async fn retry_conflicts<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(CoreError::Unavailable(e)) if is_conflict(&e) && tries < CONFLICT_ATTEMPTS => {
                tracing::debug!(error = %e, tries, "write transaction conflicted; retrying");
                // Jitter, so the transactions that met do not meet again in
                // lockstep.
                let pause = rand::random_range(2..10) * u64::from(tries);
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                tries += 1;
            }
            other => return other,
        }
    }
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_foreign_key_violation())
}

/// `$from, $from+1, …` for `n` values.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn bind_all<'a>(mut q: Query<'a>, binds: &'a [Bind]) -> Query<'a> {
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    q
}

fn lower(s: &Option<String>) -> Option<String> {
    s.as_deref().map(str::to_lowercase)
}

const USER_COLUMNS: &str = "r.id, r.tenant_id, r.user_name, r.display_name, r.name_formatted, \
     r.name_family, r.name_given, r.name_middle, r.name_prefix, r.name_suffix, r.title, r.phone, \
     r.phone_type, r.external_id, r.created, r.last_modified, r.version";

/// The user columns a client's attributes set, in the order
/// [`bind_user_attrs`] binds them.
const USER_ATTR_COLUMNS: [&str; 21] = [
    "user_name",
    "user_name_ci",
    "display_name",
    "display_name_ci",
    "name_formatted",
    "name_formatted_ci",
    "name_family",
    "name_family_ci",
    "name_given",
    "name_given_ci",
    "name_middle",
    "name_middle_ci",
    "name_prefix",
    "name_prefix_ci",
    "name_suffix",
    "name_suffix_ci",
    "title",
    "title_ci",
    "phone",
    "phone_type",
    "external_id",
];

fn bind_user_attrs<'a>(q: Query<'a>, a: &'a UserAttributes) -> Query<'a> {
    let n = &a.name;
    q.bind(a.user_name.as_str())
        .bind(a.user_name.to_lowercase())
        .bind(a.display_name.as_str())
        .bind(a.display_name.to_lowercase())
        .bind(n.formatted.as_deref())
        .bind(lower(&n.formatted))
        .bind(n.family_name.as_deref())
        .bind(lower(&n.family_name))
        .bind(n.given_name.as_deref())
        .bind(lower(&n.given_name))
        .bind(n.middle_name.as_deref())
        .bind(lower(&n.middle_name))
        .bind(n.honorific_prefix.as_deref())
        .bind(lower(&n.honorific_prefix))
        .bind(n.honorific_suffix.as_deref())
        .bind(lower(&n.honorific_suffix))
        .bind(a.title.as_deref())
        .bind(lower(&a.title))
        .bind(a.phone.as_ref().map(|p| p.value.as_str()))
        .bind(a.phone.as_ref().and_then(|p| lower(&p.kind)))
        .bind(a.external_id.as_deref())
}

fn stamp(row: &DbRow) -> sqlx::Result<Stamp> {
    Ok(Stamp {
        created: row.try_get("created")?,
        last_modified: row.try_get("last_modified")?,
        version: row.try_get("version")?,
    })
}

fn user_from_row(row: &DbRow) -> sqlx::Result<User> {
    let phone: Option<String> = row.try_get("phone")?;
    Ok(User {
        id: UserId(row.try_get("id")?),
        tenant_id: TenantId(row.try_get("tenant_id")?),
        attrs: UserAttributes {
            user_name: row.try_get("user_name")?,
            display_name: row.try_get("display_name")?,
            name: Name {
                formatted: row.try_get("name_formatted")?,
                family_name: row.try_get("name_family")?,
                given_name: row.try_get("name_given")?,
                middle_name: row.try_get("name_middle")?,
                honorific_prefix: row.try_get("name_prefix")?,
                honorific_suffix: row.try_get("name_suffix")?,
            },
            title: row.try_get("title")?,
            phone: match phone {
                Some(value) => Some(Phone {
                    value,
                    kind: row.try_get("phone_type")?,
                }),
                None => None,
            },
            external_id: row.try_get("external_id")?,
        },
        stamp: stamp(row)?,
    })
}

const GROUP_COLUMNS: &str = "r.id, r.tenant_id, r.subaccount_id, r.display_name, r.external_id, \
     r.created, r.last_modified, r.version";

fn group_from_row(row: &DbRow) -> sqlx::Result<Group> {
    Ok(Group {
        id: GroupId(row.try_get("id")?),
        tenant_id: TenantId(row.try_get("tenant_id")?),
        subaccount_id: row
            .try_get::<Option<String>, _>("subaccount_id")?
            .map(SubaccountId),
        display_name: row.try_get("display_name")?,
        external_id: row.try_get("external_id")?,
        stamp: stamp(row)?,
    })
}

fn tenant_from_row(row: &DbRow) -> sqlx::Result<Tenant> {
    Ok(Tenant {
        id: TenantId(row.try_get("id")?),
        name: row.try_get("name")?,
        region: row.try_get("region")?,
        created: row.try_get("created")?,
    })
}

fn subaccount_from_row(row: &DbRow) -> sqlx::Result<Subaccount> {
    Ok(Subaccount {
        id: SubaccountId(row.try_get("id")?),
        tenant_id: TenantId(row.try_get("tenant_id")?),
        parent_id: row
            .try_get::<Option<String>, _>("parent_id")?
            .map(SubaccountId),
        name: row.try_get("name")?,
        created: row.try_get("created")?,
    })
}

fn api_key_from_row(row: &DbRow) -> sqlx::Result<ApiKey> {
    Ok(ApiKey {
        id: ApiKeyId(row.try_get("id")?),
        tenant_id: TenantId(row.try_get("tenant_id")?),
        label: row.try_get("label")?,
        created: row.try_get("created")?,
        revoked: row.try_get("revoked")?,
    })
}

fn session_from_row(row: &DbRow) -> sqlx::Result<Session> {
    Ok(Session {
        id: SessionId(row.try_get("id")?),
        tenant_id: TenantId(row.try_get("tenant_id")?),
        user_id: UserId(row.try_get("user_id")?),
        created: row.try_get("created")?,
        expires: row.try_get("expires")?,
    })
}

fn log_from_row(row: &DbRow) -> sqlx::Result<LogEntry> {
    let ignored: Option<String> = row.try_get("ignored")?;
    let status: i64 = row.try_get("status")?;
    Ok(LogEntry {
        tenant_id: TenantId(row.try_get("tenant_id")?),
        time: row.try_get("time")?,
        request_id: row.try_get("request_id")?,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        status: u16::try_from(status).unwrap_or(0),
        scim_type: row.try_get("scim_type")?,
        detail: row.try_get("detail")?,
        ignored: ignored
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
    })
}

fn event_from_row(row: &DbRow) -> sqlx::Result<Event> {
    let payload: String = row.try_get("payload")?;
    Ok(Event {
        seq: row.try_get("seq")?,
        tenant_id: TenantId(row.try_get("tenant_id")?),
        kind: row.try_get("kind")?,
        resource_id: row.try_get("resource_id")?,
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        created: row.try_get("created")?,
    })
}

/// Appends an event to the outbox, inside the change's transaction.
///
/// Followers read the outbox as "events after the last sequence number I
/// saw", so sequence numbers must become visible in order: an event that
/// commits after a higher-numbered one would be skipped for ever. The
/// backend's `lock_outbox` makes that so (one writer at a time until
/// commit); callers therefore record their events last, just before they
/// commit.
async fn record(
    tx: &mut Tx,
    tenant: &TenantId,
    kind: &str,
    resource_id: &str,
    payload: serde_json::Value,
) -> Result<()> {
    lock_outbox(tx).await.map_err(db)?;
    sqlx::query(
        "INSERT INTO events (tenant_id, kind, resource_id, payload, created) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant.as_str())
    .bind(kind)
    .bind(resource_id)
    .bind(payload.to_string())
    .bind(now())
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// Takes the row's lock by bumping its version; checks the client's
/// expected version. Returns the version before the bump.
async fn bump(
    tx: &mut Tx,
    table: &'static str,
    what: &'static str,
    tenant: &TenantId,
    id: &str,
    expected: Option<i64>,
) -> Result<i64> {
    let sql = format!(
        "UPDATE {table} SET version = version + 1, last_modified = $1 \
         WHERE id = $2 AND tenant_id = $3 RETURNING version"
    );
    let version: Option<i64> = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(now())
        .bind(id)
        .bind(tenant.as_str())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    let before = version.ok_or(CoreError::NotFound(what))? - 1;
    if expected.is_some_and(|v| v != before) {
        return Err(CoreError::VersionMismatch);
    }
    Ok(before)
}

impl SqlStore {
    async fn fetch_user(&self, tenant: &TenantId, id: &str) -> Result<User> {
        let sql =
            format!("SELECT {USER_COLUMNS} FROM users r WHERE r.id = $1 AND r.tenant_id = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .bind(tenant.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db)?
            .ok_or(CoreError::NotFound("user"))?;
        user_from_row(&row).map_err(db)
    }

    async fn fetch_group_by_id(&self, id: &str, tenant: Option<&TenantId>) -> Result<Group> {
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM groups r WHERE r.id = $1 AND ($2 IS NULL OR r.tenant_id = $2)"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .bind(tenant.map(TenantId::as_str))
            .fetch_optional(&self.read)
            .await
            .map_err(db)?
            .ok_or(CoreError::NotFound("group"))?;
        group_from_row(&row).map_err(db)
    }

    /// The `(owner, related id, display)` rows of a membership query for
    /// each of `owners`, in batches; `select` has `{ids}` where the owners'
    /// placeholders go and `$1` for the tenant.
    async fn related(
        &self,
        tenant: &TenantId,
        owners: &[&str],
        select: &str,
    ) -> Result<Vec<(String, String, String)>> {
        let mut rows = Vec::new();
        for chunk in owners.chunks(CHUNK) {
            let sql = select.replace("{ids}", &placeholders(2, chunk.len()));
            let mut q = sqlx::query_as(AssertSqlSafe(sql)).bind(tenant.as_str());
            for id in chunk {
                q = q.bind(*id);
            }
            rows.extend(q.fetch_all(&self.read).await.map_err(db)?);
        }
        Ok(rows)
    }

    /// Runs a filtered, sorted, paged list query and its count.
    async fn list<T>(
        &self,
        resource: Resource,
        columns: &str,
        tenant: &TenantId,
        query: &ListQuery,
        from_row: fn(&DbRow) -> sqlx::Result<T>,
    ) -> Result<Page<T>> {
        let table = match resource {
            Resource::User => "users",
            Resource::Group => "groups",
        };
        let condition =
            filter::translate(resource, query.filter.as_ref(), 2).map_err(CoreError::Rejected)?;
        let count_sql = format!(
            "SELECT COUNT(*) FROM {table} r WHERE r.tenant_id = $1 AND {}",
            condition.sql
        );
        let total: i64 = bind_all(
            sqlx::query(AssertSqlSafe(count_sql)).bind(tenant.as_str()),
            &condition.binds,
        )
        .fetch_one(&self.read)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(db)?;
        if query.limit == 0 {
            return Ok(Page {
                total: u64::try_from(total).unwrap_or(0),
                items: Vec::new(),
            });
        }
        let dir = if query.descending {
            "DESC NULLS FIRST"
        } else {
            "ASC NULLS LAST"
        };
        let order = match query
            .sort_by
            .as_ref()
            .and_then(|attr| filter::sort_column(resource, attr))
        {
            Some(col) => format!("{col} {dir}, r.id {dir}"),
            None => "r.created ASC, r.id ASC".to_owned(),
        };
        let sql = format!(
            "SELECT {columns} FROM {table} r WHERE r.tenant_id = $1 AND {} ORDER BY {order} \
             LIMIT {} OFFSET {}",
            condition.sql, query.limit, query.offset
        );
        let rows = bind_all(
            sqlx::query(AssertSqlSafe(sql)).bind(tenant.as_str()),
            &condition.binds,
        )
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        let items = rows
            .iter()
            .map(from_row)
            .collect::<sqlx::Result<Vec<_>>>()
            .map_err(db)?;
        Ok(Page {
            total: u64::try_from(total).unwrap_or(0),
            items,
        })
    }
}

#[async_trait]
impl Administration for SqlStore {
    async fn create_tenant(&self, name: &str, region: Option<&str>) -> Result<Tenant> {
        let tenant = Tenant {
            id: TenantId::generate(),
            name: name.to_owned(),
            region: region.map(str::to_owned),
            created: now(),
        };
        let mut tx = begin_write(&self.write).await.map_err(db)?;
        sqlx::query("INSERT INTO tenants (id, name, region, created) VALUES ($1, $2, $3, $4)")
            .bind(tenant.id.as_str())
            .bind(name)
            .bind(region)
            .bind(tenant.created)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        record(
            &mut tx,
            &tenant.id,
            "tenant.created",
            tenant.id.as_str(),
            json!({"name": name}),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(tenant)
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let rows =
            sqlx::query("SELECT id, name, region, created FROM tenants ORDER BY created, id")
                .fetch_all(&self.read)
                .await
                .map_err(db)?;
        rows.iter()
            .map(tenant_from_row)
            .collect::<sqlx::Result<_>>()
            .map_err(db)
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Tenant> {
        let row = sqlx::query("SELECT id, name, region, created FROM tenants WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db)?
            .ok_or(CoreError::NotFound("tenant"))?;
        tenant_from_row(&row).map_err(db)
    }

    async fn create_subaccount(
        &self,
        tenant: &TenantId,
        name: &str,
        parent: Option<&SubaccountId>,
    ) -> Result<Subaccount> {
        self.get_tenant(tenant).await?;
        let mut tx = begin_write(&self.write).await.map_err(db)?;
        if let Some(parent) = parent {
            let found: Option<String> =
                sqlx::query_scalar("SELECT id FROM subaccounts WHERE id = $1 AND tenant_id = $2")
                    .bind(parent.as_str())
                    .bind(tenant.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
            found.ok_or(CoreError::NotFound("parent subaccount"))?;
        }
        let sub = Subaccount {
            id: SubaccountId::generate(),
            tenant_id: tenant.clone(),
            parent_id: parent.cloned(),
            name: name.to_owned(),
            created: now(),
        };
        sqlx::query(
            "INSERT INTO subaccounts (id, tenant_id, parent_id, name, created) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(sub.id.as_str())
        .bind(tenant.as_str())
        .bind(parent.map(SubaccountId::as_str))
        .bind(name)
        .bind(sub.created)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        record(
            &mut tx,
            tenant,
            "subaccount.created",
            sub.id.as_str(),
            json!({"name": name}),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(sub)
    }

    async fn list_subaccounts(&self, tenant: &TenantId) -> Result<Vec<Subaccount>> {
        let rows = sqlx::query(
            "SELECT id, tenant_id, parent_id, name, created FROM subaccounts \
             WHERE tenant_id = $1 ORDER BY created, id",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.iter()
            .map(subaccount_from_row)
            .collect::<sqlx::Result<_>>()
            .map_err(db)
    }

    async fn create_group(&self, tenant: &TenantId, group: NewGroup) -> Result<Group> {
        self.get_tenant(tenant).await?;
        let mut tx = begin_write(&self.write).await.map_err(db)?;
        check_subaccount(&mut tx, tenant, group.subaccount_id.as_ref()).await?;
        let at = now();
        let created = Group {
            id: GroupId::generate(),
            tenant_id: tenant.clone(),
            subaccount_id: group.subaccount_id,
            display_name: group.display_name,
            external_id: group.external_id,
            stamp: Stamp {
                created: at,
                last_modified: at,
                version: 1,
            },
        };
        sqlx::query(
            "INSERT INTO groups (id, tenant_id, subaccount_id, display_name, display_name_ci, \
             external_id, created, last_modified, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 1)",
        )
        .bind(created.id.as_str())
        .bind(tenant.as_str())
        .bind(created.subaccount_id.as_ref().map(SubaccountId::as_str))
        .bind(created.display_name.as_str())
        .bind(created.display_name.to_lowercase())
        .bind(created.external_id.as_deref())
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(|e| external_id_clash(e, created.external_id.as_deref()))?;
        record(
            &mut tx,
            tenant,
            "group.created",
            created.id.as_str(),
            json!({"displayName": created.display_name, "externalId": created.external_id}),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(created)
    }

    async fn change_group(&self, id: &GroupId, change: GroupAdminChange) -> Result<Group> {
        retry_conflicts(|| self.change_group_once(id, &change)).await
    }

    async fn list_all_groups(&self, tenant: &TenantId) -> Result<Vec<Group>> {
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM groups r WHERE r.tenant_id = $1 ORDER BY r.created, r.id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        rows.iter()
            .map(group_from_row)
            .collect::<sqlx::Result<_>>()
            .map_err(db)
    }

    async fn create_api_key(
        &self,
        tenant: &TenantId,
        label: Option<&str>,
    ) -> Result<(ApiKey, String)> {
        self.get_tenant(tenant).await?;
        let secret = rules::generate_secret("scim_");
        let key = ApiKey {
            id: ApiKeyId::generate(),
            tenant_id: tenant.clone(),
            label: label.map(str::to_owned),
            created: now(),
            revoked: None,
        };
        let mut tx = begin_write(&self.write).await.map_err(db)?;
        sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, label, secret_hash, created) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(key.id.as_str())
        .bind(tenant.as_str())
        .bind(label)
        .bind(rules::hash_secret(&secret))
        .bind(key.created)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        record(
            &mut tx,
            tenant,
            "apikey.created",
            key.id.as_str(),
            json!({"label": label}),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok((key, secret))
    }

    async fn list_api_keys(&self, tenant: Option<&TenantId>) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query(
            "SELECT id, tenant_id, label, created, revoked FROM api_keys \
             WHERE ($1 IS NULL OR tenant_id = $1) ORDER BY created, id",
        )
        .bind(tenant.map(TenantId::as_str))
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.iter()
            .map(api_key_from_row)
            .collect::<sqlx::Result<_>>()
            .map_err(db)
    }

    async fn revoke_api_key(&self, id: &ApiKeyId) -> Result<ApiKey> {
        let mut tx = begin_write(&self.write).await.map_err(db)?;
        let row = sqlx::query(
            "UPDATE api_keys SET revoked = COALESCE(revoked, $1) WHERE id = $2 \
             RETURNING id, tenant_id, label, created, revoked",
        )
        .bind(now())
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .ok_or(CoreError::NotFound("API key"))?;
        let key = api_key_from_row(&row).map_err(db)?;
        record(
            &mut tx,
            &key.tenant_id,
            "apikey.revoked",
            id.as_str(),
            json!({}),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(key)
    }

    async fn authenticate(&self, secret: &str) -> Result<Option<TenantId>> {
        let hash = rules::hash_secret(secret);
        let row = sqlx::query(
            "SELECT tenant_id, secret_hash FROM api_keys WHERE secret_hash = $1 AND revoked IS NULL",
        )
        .bind(hash.as_str())
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        let Some(row) = row else { return Ok(None) };
        let stored: String = row.try_get("secret_hash").map_err(db)?;
        if bool::from(stored.as_bytes().ct_eq(hash.as_bytes())) {
            Ok(Some(TenantId(row.try_get("tenant_id").map_err(db)?)))
        } else {
            Ok(None)
        }
    }
}

async fn check_subaccount(
    tx: &mut Tx,
    tenant: &TenantId,
    subaccount: Option<&SubaccountId>,
) -> Result<()> {
    let Some(sub) = subaccount else { return Ok(()) };
    let found: Option<String> =
        sqlx::query_scalar("SELECT id FROM subaccounts WHERE id = $1 AND tenant_id = $2")
            .bind(sub.as_str())
            .bind(tenant.as_str())
            .fetch_optional(&mut **tx)
            .await
            .map_err(db)?;
    found.map(|_| ()).ok_or(CoreError::NotFound("subaccount"))
}

fn external_id_clash(err: sqlx::Error, external_id: Option<&str>) -> CoreError {
    if is_unique_violation(&err) {
        CoreError::Rejected(ScimError::uniqueness(format!(
            "another group of this tenant already has externalId '{}'",
            external_id.unwrap_or_default()
        )))
    } else {
        db(err)
    }
}

async fn update_group_attrs(
    tx: &mut Tx,
    id: &GroupId,
    display_name: Option<&str>,
    external_id: Option<&Option<String>>,
) -> Result<()> {
    if let Some(name) = display_name {
        sqlx::query("UPDATE groups SET display_name = $1, display_name_ci = $2 WHERE id = $3")
            .bind(name)
            .bind(name.to_lowercase())
            .bind(id.as_str())
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    if let Some(ext) = external_id {
        sqlx::query("UPDATE groups SET external_id = $1 WHERE id = $2")
            .bind(ext.as_deref())
            .bind(id.as_str())
            .execute(&mut **tx)
            .await
            .map_err(|e| external_id_clash(e, ext.as_deref()))?;
    }
    Ok(())
}

fn user_name_clash(err: sqlx::Error, user_name: &str) -> CoreError {
    if is_unique_violation(&err) {
        // Never say where the name is taken: it may be another tenant.
        CoreError::Rejected(ScimError::uniqueness(format!(
            "userName '{user_name}' is already in use"
        )))
    } else {
        db(err)
    }
}

#[async_trait]
impl Directory for SqlStore {
    async fn create_user(&self, tenant: &TenantId, attrs: UserAttributes) -> Result<User> {
        let _pass = self.gate.enter(tenant).await?;
        retry_conflicts(|| self.create_user_once(tenant, attrs.clone())).await
    }

    async fn replace_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
        attrs: UserAttributes,
        expected_version: Option<i64>,
    ) -> Result<User> {
        let _pass = self.gate.enter(tenant).await?;
        retry_conflicts(|| self.replace_user_once(tenant, id, attrs.clone(), expected_version))
            .await
    }

    async fn deprovision_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
        expected_version: Option<i64>,
    ) -> Result<()> {
        let _pass = self.gate.enter(tenant).await?;
        retry_conflicts(|| self.deprovision_user_once(tenant, id, expected_version)).await
    }

    async fn change_group_scim(
        &self,
        tenant: &TenantId,
        id: &GroupId,
        change: GroupChange,
        expected_version: Option<i64>,
    ) -> Result<Group> {
        let _pass = self.gate.enter(tenant).await?;
        retry_conflicts(|| self.change_group_scim_once(tenant, id, &change, expected_version)).await
    }

    async fn delete_group(
        &self,
        tenant: &TenantId,
        id: &GroupId,
        expected_version: Option<i64>,
    ) -> Result<()> {
        let _pass = self.gate.enter(tenant).await?;
        retry_conflicts(|| self.delete_group_once(tenant, id, expected_version)).await
    }

    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> Result<User> {
        self.fetch_user(tenant, id.as_str()).await
    }

    async fn list_users(&self, tenant: &TenantId, query: &ListQuery) -> Result<Page<User>> {
        self.list(Resource::User, USER_COLUMNS, tenant, query, user_from_row)
            .await
    }

    async fn groups_of(
        &self,
        tenant: &TenantId,
        users: &[UserId],
    ) -> Result<HashMap<UserId, Vec<Membership>>> {
        let owners: Vec<&str> = users.iter().map(UserId::as_str).collect();
        let rows = self
            .related(
                tenant,
                &owners,
                "SELECT m.user_id, g.id, g.display_name FROM memberships m \
                 JOIN groups g ON g.id = m.group_id \
                 WHERE m.tenant_id = $1 AND m.user_id IN ({ids}) ORDER BY g.display_name_ci, g.id",
            )
            .await?;
        let mut out: HashMap<UserId, Vec<Membership>> = HashMap::new();
        for (user, group, display) in rows {
            out.entry(UserId(user)).or_default().push(Membership {
                group_id: GroupId(group),
                display,
            });
        }
        Ok(out)
    }

    async fn get_group(&self, tenant: &TenantId, id: &GroupId) -> Result<Group> {
        self.fetch_group_by_id(id.as_str(), Some(tenant)).await
    }

    async fn list_groups(&self, tenant: &TenantId, query: &ListQuery) -> Result<Page<Group>> {
        self.list(
            Resource::Group,
            GROUP_COLUMNS,
            tenant,
            query,
            group_from_row,
        )
        .await
    }

    async fn members_of(
        &self,
        tenant: &TenantId,
        groups: &[GroupId],
    ) -> Result<HashMap<GroupId, Vec<Member>>> {
        let owners: Vec<&str> = groups.iter().map(GroupId::as_str).collect();
        let rows = self
            .related(
                tenant,
                &owners,
                "SELECT m.group_id, u.id, u.display_name FROM memberships m \
                 JOIN users u ON u.id = m.user_id \
                 WHERE m.tenant_id = $1 AND m.group_id IN ({ids}) ORDER BY m.group_id, u.id",
            )
            .await?;
        let mut out: HashMap<GroupId, Vec<Member>> = HashMap::new();
        for (group, user, display) in rows {
            out.entry(GroupId(group)).or_default().push(Member {
                user_id: UserId(user),
                display,
            });
        }
        Ok(out)
    }
}

#[async_trait]
impl Sessions for SqlStore {
    async fn create_session(&self, user: &UserId, ttl_secs: i64) -> Result<(Session, String)> {
        let mut tx = begin_write(&self.write).await.map_err(db)?;
        let tenant: String = sqlx::query_scalar("SELECT tenant_id FROM users WHERE id = $1")
            .bind(user.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .ok_or(CoreError::NotFound("user"))?;
        let token = rules::generate_secret("sess_");
        let created = now();
        let session = Session {
            id: SessionId::generate(),
            tenant_id: TenantId(tenant),
            user_id: user.clone(),
            created,
            expires: created.saturating_add(ttl_secs.saturating_mul(1_000_000)),
        };
        sqlx::query(
            "INSERT INTO sessions (id, tenant_id, user_id, token_hash, created, expires) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(session.id.as_str())
        .bind(session.tenant_id.as_str())
        .bind(user.as_str())
        .bind(rules::hash_secret(&token))
        .bind(session.created)
        .bind(session.expires)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok((session, token))
    }

    async fn introspect_session(&self, token: &str) -> Result<Option<Session>> {
        let row = sqlx::query(
            "SELECT id, tenant_id, user_id, created, expires FROM sessions \
             WHERE token_hash = $1 AND expires > $2",
        )
        .bind(rules::hash_secret(token))
        .bind(now())
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        row.as_ref().map(session_from_row).transpose().map_err(db)
    }

    async fn revoke_session(&self, token: &str) -> Result<bool> {
        let mut tx = begin_write(&self.write).await.map_err(db)?;
        let deleted = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(rules::hash_secret(token))
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        tx.commit().await.map_err(db)?;
        Ok(deleted > 0)
    }
}

#[async_trait]
impl Journal for SqlStore {
    async fn events(
        &self,
        tenant: Option<&TenantId>,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT seq, tenant_id, kind, resource_id, payload, created FROM events \
             WHERE seq > $1 AND ($2 IS NULL OR tenant_id = $2) ORDER BY seq LIMIT $3",
        )
        .bind(after_seq)
        .bind(tenant.map(TenantId::as_str))
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.iter()
            .map(event_from_row)
            .collect::<sqlx::Result<_>>()
            .map_err(db)
    }

    async fn append_log(&self, entries: &[LogEntry]) -> Result<()> {
        const COLUMNS: usize = 9;
        let mut tx = begin_write(&self.write).await.map_err(db)?;
        for chunk in entries.chunks(CHUNK / COLUMNS) {
            let values = (0..chunk.len())
                .map(|i| format!("({})", placeholders(i * COLUMNS + 1, COLUMNS)))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO provisioning_log (tenant_id, time, request_id, method, path, status, \
                 scim_type, detail, ignored) VALUES {values}"
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for e in chunk {
                q = q
                    .bind(e.tenant_id.as_str())
                    .bind(e.time)
                    .bind(e.request_id.as_str())
                    .bind(e.method.as_str())
                    .bind(e.path.as_str())
                    .bind(i64::from(e.status))
                    .bind(e.scim_type.as_deref())
                    .bind(e.detail.as_deref())
                    .bind((!e.ignored.is_empty()).then(|| json!(e.ignored).to_string()));
            }
            q.execute(&mut *tx).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn prune(&self, what: Expiring, before: Micros, limit: u32) -> Result<u64> {
        let (table, key, column) = match what {
            Expiring::ProvisioningLog => ("provisioning_log", "id", "time"),
            Expiring::Events => ("events", "seq", "created"),
            Expiring::Sessions => ("sessions", "id", "expires"),
        };
        let sql = format!(
            "DELETE FROM {table} WHERE {key} IN \
             (SELECT {key} FROM {table} WHERE {column} < $1 ORDER BY {column} LIMIT $2)"
        );
        let mut tx = begin_write(&self.write).await.map_err(db)?;
        let deleted = sqlx::query(AssertSqlSafe(sql))
            .bind(before)
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        tx.commit().await.map_err(db)?;
        Ok(deleted)
    }

    async fn database_bytes(&self) -> Result<u64> {
        let bytes: i64 = sqlx::query_scalar(DATABASE_BYTES)
            .fetch_one(&self.read)
            .await
            .map_err(db)?;
        Ok(u64::try_from(bytes).unwrap_or(0))
    }

    async fn provisioning_log(&self, tenant: &TenantId, limit: u32) -> Result<Vec<LogEntry>> {
        let rows = sqlx::query(
            "SELECT tenant_id, time, request_id, method, path, status, scim_type, detail, ignored \
             FROM provisioning_log WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(tenant.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.iter()
            .map(log_from_row)
            .collect::<sqlx::Result<_>>()
            .map_err(db)
    }
}

#[async_trait]
impl Store for SqlStore {
    /// Reads, and begins (then rolls back) a write transaction: a writer
    /// that cannot start one is not ready, whatever reads say.
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map_err(db)?;
        let tx = begin_write(&self.write).await.map_err(db)?;
        tx.rollback().await.map_err(db)?;
        Ok(())
    }
}

//! The storage traits in SQL that SQLite and PostgreSQL both accept.
//!
//! This folder is compiled once per backend, as a module of `sqlite` and of
//! `postgres`, each of which names its `Engine`: the [`Backend`] contract
//! (how a statement runs, outside a write transaction and inside one, on
//! that backend's driver — rusqlite for SQLite, sqlx for PostgreSQL —,
//! which errors mean "run the transaction again", how event sequence
//! numbers are kept in commit order). So there is one implementation of
//! every rule, type-checked against each backend's concrete types, and no
//! `if sqlite` anywhere. Statements name their values `$1`, `$2`, … and
//! are given them as [`Param`]s; the row decoders in `rows.rs` read any
//! driver's row through [`Fields`]. SQLite's rows borrow their statement,
//! so a decoder is passed as `|r| user_from_row(r)`, a closure that
//! PostgreSQL's rows would not need.
//!
//! - `mod.rs`: the store, errors, conflict retries, the event outbox and
//!   the shared reads;
//! - `rows.rs`: columns and row mapping;
//! - `admin.rs`, `directory.rs`, `journal.rs`: one storage trait each;
//! - `changes.rs`: the write transactions of users and groups.
//!
//! Concurrency: every write transaction first bumps the version of the row
//! it changes, which takes that row's lock (PostgreSQL) or the database's
//! write lock (SQLite, `BEGIN IMMEDIATE`), so concurrent changes of one
//! resource serialise instead of failing. What PostgreSQL may still abort
//! (a deadlock between transactions on different rows, a serialisation
//! failure) is retried here, inside the store, a few times before it
//! becomes `Unavailable`: a client never sees a race as a 500.

#![allow(
    clippy::redundant_closure,
    reason = "a decoder closure is needed for SQLite's borrowed rows"
)]

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use scimitar_proto::ScimError;
use scimitar_proto::resource::{Email, Name, Phone, UserAttributes};
use serde_json::json;
use subtle::ConstantTimeEq;

use self::rows::*;
use super::Engine;
use crate::error::{CoreError, Result};
use crate::gate::TenantGate;
use crate::ids::{ApiKeyId, GroupId, SessionId, SubaccountId, TenantId, UserId, WebhookEndpointId};
use crate::model::{
    ApiKey, Attempt, Claimed, Collision, DeactivatedMemberships, Delivery, Deprovision, Event,
    Group, GroupAdminChange, GroupChange, GroupCreation, HourCount, ListQuery, LogEntry, LogQuery,
    Member, Membership, Micros, NewGroup, Page, PanelSession, PanelUser, Policy, Redeemed, Session,
    Slice, Stamp, Subaccount, SyncHealth, Tenant, User, UserNameFormat, WebhookEndpoint, now,
};
use crate::rules;
use crate::sql::filter::{self, Resource};
use crate::sql::{Backend, Fields, Param, SqlError};
use crate::store::{
    Administration, Directory, EndpointChange, Expiring, Journal, NewEndpoint, Panel, Sessions,
    Store, Webhooks,
};

#[path = "admin.rs"]
mod admin;
#[path = "changes.rs"]
mod changes;
#[path = "directory.rs"]
mod directory;
#[path = "journal.rs"]
mod journal;
#[path = "panel.rs"]
mod panel;
#[path = "rows.rs"]
mod rows;
#[path = "webhooks.rs"]
mod webhooks;

type Tx = <Engine as Backend>::Tx;
type Row<'r> = <Engine as Backend>::Row<'r>;

/// Ids per statement in batched `IN (…)` lists and multi-row inserts: well
/// under both backends' bind-parameter limits.
const CHUNK: usize = 500;

/// Most member ids one `group.members_added` or `_removed` event carries.
const MEMBERS_PER_EVENT: usize = 1000;

/// A store over one database. Reads run on `read`; write transactions go
/// through `writer`, which commits them (see [`SqlStore::transact`]).
/// SCIM writes pass each tenant's [`TenantGate`] first, so one tenant's
/// burst never queues ahead of another tenant's write.
#[derive(Clone)]
pub struct SqlStore {
    pub(super) read: <Engine as Backend>::Reads,
    pub(super) writer: super::Writer,
    pub(super) gate: Arc<TenantGate>,
    /// Notified after each committed write transaction ([`Journal::commits`]),
    /// and when another process commits events, where the backend can tell.
    pub(super) commits: Arc<tokio::sync::Notify>,
    /// Whether other processes' commits are followed yet (begun at the
    /// first [`Journal::commits`]: a CLI command never needs it).
    pub(super) following: Arc<std::sync::Once>,
}

impl SqlStore {
    /// Runs `work` in a write transaction and answers once it committed;
    /// `tenant` is the tenant the change belongs to (`None`: no tenant's,
    /// or several). The body must not commit; it owns what it uses.
    async fn transact<T, F>(&self, tenant: Option<&TenantId>, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Tx) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let work = with_origin(crate::origin::current(), work);
        let done = self.writer.transact(tenant, Box::new(work)).await;
        if done.is_ok() {
            self.commits.notify_waiters();
        }
        done
    }
}

/// A transaction's body that runs within `origin` (see
/// [`crate::origin`]), on whichever thread the writer polls it.
fn with_origin<T, F>(
    origin: Option<crate::origin::Origin>,
    work: F,
) -> impl for<'c> FnOnce(&'c mut Tx) -> BoxFuture<'c, Result<T>> + Send + 'static
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut Tx) -> BoxFuture<'c, Result<T>> + Send + 'static,
{
    move |tx| crate::origin::carried(origin, work(tx))
}

/// Runs one statement in a write transaction and maps each row it
/// returns.
async fn query<T: Send>(
    tx: &mut Tx,
    sql: &str,
    params: &[Param<'_>],
    decode: impl FnMut(&Row<'_>) -> Result<T> + Send,
) -> Result<Vec<T>, SqlError> {
    Engine::query(tx, sql, params, decode).await
}

/// Runs one statement in a write transaction; the rows it changed.
async fn execute(tx: &mut Tx, sql: &str, params: &[Param<'_>]) -> Result<u64, SqlError> {
    Engine::execute(tx, sql, params).await
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
            Err(e) if Engine::is_conflict(&e) && tries < CONFLICT_ATTEMPTS => {
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

/// `$from, $from+1, …` for `n` values.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($from, …), ($from + width, …), …`: the VALUES of a multi-row insert
/// of `rows` rows of `width` columns.
fn value_rows(from: usize, width: usize, rows: usize) -> String {
    (0..rows)
        .map(|row| format!("({})", placeholders(from + row * width, width)))
        .collect::<Vec<_>>()
        .join(", ")
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
    Engine::lock_outbox(tx).await?;
    let origin = crate::origin::current().unwrap_or_default();
    execute(
        tx,
        "INSERT INTO events (tenant_id, kind, resource_id, payload, created, request_id, \
         api_key_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            tenant.as_str().into(),
            kind.into(),
            resource_id.into(),
            payload.to_string().into(),
            now().into(),
            Some(origin.request_id.as_str())
                .filter(|r| !r.is_empty())
                .into(),
            origin.api_key.as_ref().map(ApiKeyId::as_str).into(),
        ],
    )
    .await?;
    Ok(())
}

/// Takes the row's lock by bumping its version; checks the client's
/// expected version. Returns the version before the bump.
async fn bump(
    tx: &mut Tx,
    resource: Resource,
    tenant: &TenantId,
    id: &str,
    expected: Option<i64>,
) -> Result<i64> {
    let sql = format!(
        "UPDATE {} SET version = version + 1, last_modified = $1 \
         WHERE id = $2 AND tenant_id = $3 RETURNING version",
        resource.table()
    );
    let version = query(
        tx,
        &sql,
        &[now().into(), id.into(), tenant.as_str().into()],
        |r| r.int("version"),
    )
    .await?;
    let before = version
        .first()
        .ok_or(CoreError::NotFound(resource.name()))?
        - 1;
    if expected.is_some_and(|v| v != before) {
        return Err(CoreError::VersionMismatch);
    }
    Ok(before)
}

impl SqlStore {
    /// Runs one read statement outside any write transaction and maps each
    /// row with `decode`.
    async fn select<T: Send>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        decode: impl FnMut(&Row<'_>) -> Result<T> + Send,
    ) -> Result<Vec<T>> {
        Engine::select(&self.read, sql, params, decode).await
    }

    /// The first row of a read, if any.
    async fn select_one<T: Send>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        decode: impl FnMut(&Row<'_>) -> Result<T> + Send,
    ) -> Result<Option<T>> {
        Ok(self.select(sql, params, decode).await?.into_iter().next())
    }

    async fn fetch_user(&self, tenant: &TenantId, id: &str) -> Result<User> {
        let sql =
            format!("SELECT {USER_COLUMNS} FROM users r WHERE r.id = $1 AND r.tenant_id = $2");
        self.select_one(&sql, &[id.into(), tenant.as_str().into()], |r| {
            user_from_row(r)
        })
        .await?
        .ok_or(CoreError::NotFound("user"))
    }

    async fn fetch_group_by_id(&self, id: &str, tenant: Option<&TenantId>) -> Result<Group> {
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM groups r WHERE r.id = $1 AND ($2 IS NULL OR r.tenant_id = $2)"
        );
        self.select_one(
            &sql,
            &[id.into(), tenant.map(TenantId::as_str).into()],
            |r| group_from_row(r),
        )
        .await?
        .ok_or(CoreError::NotFound("group"))
    }

    /// The `(owner, related id, display)` rows of a membership query for
    /// each of `owners`, in batches: `select … WHERE m.tenant_id = ? AND
    /// {owner} IN (…) {order}`.
    async fn related(
        &self,
        tenant: &TenantId,
        owners: &[&str],
        select: &str,
        owner: &str,
        order: &str,
    ) -> Result<Vec<(String, String, String)>> {
        let mut rows = Vec::new();
        for chunk in owners.chunks(CHUNK) {
            let sql = format!(
                "{select} WHERE m.tenant_id = $1 AND {owner} IN ({}) {order}",
                placeholders(2, chunk.len())
            );
            let mut params = Vec::with_capacity(chunk.len() + 1);
            params.push(tenant.as_str().into());
            params.extend(chunk.iter().map(|&id| Param::from(id)));
            rows.extend(
                self.select(&sql, &params, |r| {
                    Ok((r.text("owner")?, r.text("related")?, r.text("display")?))
                })
                .await?,
            );
        }
        Ok(rows)
    }

    /// Runs a filtered, sorted, paged list query and its count.
    async fn list<T: Send>(
        &self,
        resource: Resource,
        columns: &str,
        tenant: &TenantId,
        query: &ListQuery,
        from_row: impl Fn(&Row<'_>) -> Result<T> + Send + Sync,
    ) -> Result<Page<T>> {
        let table = resource.table();
        let condition =
            filter::translate(resource, query.filter.as_ref(), 2).map_err(CoreError::Rejected)?;
        let items = if query.limit == 0 {
            Vec::new()
        } else {
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
            // The offset is bound, so every page of one query is one
            // prepared statement. The limit is written out: SQLite plans
            // with it, and prepares a statement whose LIMIT is bound
            // again on every run.
            let sql = format!(
                "SELECT {columns} FROM {table} r WHERE r.tenant_id = $1 AND {} ORDER BY {order} \
                 LIMIT {} OFFSET ${}",
                condition.sql,
                query.limit,
                condition.binds.len() + 2
            );
            let mut params = tenant_and(tenant, &condition);
            params.push(i64::try_from(query.offset).unwrap_or(i64::MAX).into());
            self.select(&sql, &params, &from_row).await?
        };
        // A page that is not full, and not past the end, is the last one:
        // it says the total itself (a filter on userName or externalId
        // costs no count at all).
        let len = items.len() as u64;
        let total = if query.limit > 0 && len < query.limit && (len > 0 || query.offset == 0) {
            query.offset + len
        } else {
            let filtered = query.filter.is_some().then_some(&condition);
            self.count(resource, tenant, filtered).await?
        };
        Ok(Page { total, items })
    }

    /// How many of the tenant's users or groups match `condition` (all of
    /// them without one).
    async fn count(
        &self,
        resource: Resource,
        tenant: &TenantId,
        condition: Option<&filter::Condition>,
    ) -> Result<u64> {
        let total = if let Some(condition) = condition {
            let sql = format!(
                "SELECT COUNT(*) AS n FROM {} r WHERE r.tenant_id = $1 AND {}",
                resource.table(),
                condition.sql
            );
            let params = tenant_and(tenant, condition);
            self.select_one(&sql, &params, |r| r.int("n")).await?
        } else {
            // Kept by triggers (migration 0003), so the cost does not
            // grow with the tenant.
            self.select_one(
                "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n FROM resource_counts \
                 WHERE tenant_id = $1 AND resource = $2",
                &[tenant.as_str().into(), resource.name().into()],
                |r| r.int("n"),
            )
            .await?
        };
        Ok(total.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }
}

/// The values of `WHERE r.tenant_id = $1 AND {condition}`.
fn tenant_and<'a>(tenant: &'a TenantId, condition: &'a filter::Condition) -> Vec<Param<'a>> {
    let mut params = vec![Param::from(tenant.as_str())];
    params.extend(condition.binds.iter().map(Param::from));
    params
}

/// Fails with "`what` not found" unless `subaccount` (when given) is one
/// of `tenant`'s.
async fn check_subaccount(
    tx: &mut Tx,
    tenant: &TenantId,
    subaccount: Option<&SubaccountId>,
    what: &'static str,
) -> Result<()> {
    let Some(sub) = subaccount else { return Ok(()) };
    let found = query(
        tx,
        "SELECT id FROM subaccounts WHERE id = $1 AND tenant_id = $2",
        &[sub.as_str().into(), tenant.as_str().into()],
        |_| Ok(()),
    )
    .await?;
    found.first().ok_or(CoreError::NotFound(what)).copied()
}

fn external_id_clash(err: SqlError, external_id: Option<&str>) -> CoreError {
    match err {
        SqlError::Unique(_) => CoreError::Rejected(ScimError::uniqueness(format!(
            "another group of this tenant already has externalId '{}'",
            external_id.unwrap_or_default()
        ))),
        other => other.into(),
    }
}

async fn update_group_attrs(
    tx: &mut Tx,
    id: &GroupId,
    display_name: Option<&str>,
    external_id: Option<&Option<String>>,
) -> Result<()> {
    if let Some(name) = display_name {
        execute(
            tx,
            "UPDATE groups SET display_name = $1, display_name_ci = $2 WHERE id = $3",
            &[name.into(), name.to_lowercase().into(), id.as_str().into()],
        )
        .await?;
    }
    if let Some(ext) = external_id {
        execute(
            tx,
            "UPDATE groups SET external_id = $1 WHERE id = $2",
            &[ext.as_deref().into(), id.as_str().into()],
        )
        .await
        .map_err(|e| external_id_clash(e, ext.as_deref()))?;
    }
    Ok(())
}

fn user_name_clash(err: SqlError, user_name: &str) -> CoreError {
    match err {
        // Never say where the name is taken: it may be another tenant.
        SqlError::Unique(_) => CoreError::Rejected(ScimError::uniqueness(format!(
            "userName '{user_name}' is already in use"
        ))),
        other => other.into(),
    }
}

#[async_trait]
impl Store for SqlStore {
    /// Reads, and runs an empty write transaction: a writer that cannot
    /// start one is not ready, whatever reads say.
    async fn ping(&self) -> Result<()> {
        self.select("SELECT 1", &[], |_| Ok(())).await?;
        self.transact(None, |_| Box::pin(async { Ok(()) })).await
    }
}

//! The write transactions of users and groups, and the membership set
//! operations they apply. Each `*_once` method runs its transaction once;
//! the storage traits in `directory.rs` retry it (`retry_conflicts`, in
//! `mod.rs`) when the database reports a transient conflict between
//! concurrent transactions.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use scimitar_proto::ScimError;
use scimitar_proto::patch::MemberOp;
use scimitar_proto::resource::{Phone, UserAttributes};
use serde_json::json;
use sqlx::{AssertSqlSafe, Row};

use super::*;
use crate::error::{CoreError, Result};
use crate::ids::{GroupId, SubaccountId, TenantId, UserId};
use crate::model::{Group, GroupAdminChange, GroupChange, Stamp, User, now};
use crate::rules;

impl SqlStore {
    /// Fails unless every id names a user of `tenant`. Looked up by
    /// primary key with the tenant compared here: with `tenant_id = $1` in
    /// the statement SQLite's planner picks the tenant's index and reads
    /// every user of the tenant for each chunk.
    async fn check_users_exist(tx: &mut Tx, tenant: &TenantId, ids: &[String]) -> Result<()> {
        for chunk in ids.chunks(CHUNK) {
            let mut q = Builder::new("SELECT id, tenant_id FROM users WHERE");
            push_in(&mut q, "id", chunk.iter().map(String::as_str));
            let found: HashSet<String> = q
                .build_query_as::<(String, String)>()
                .fetch_all(&mut **tx)
                .await
                .map_err(db)?
                .into_iter()
                .filter(|(_, owner)| owner == tenant.as_str())
                .map(|(id, _)| id)
                .collect();
            if let Some(missing) = chunk.iter().find(|id| !found.contains(*id)) {
                return Err(CoreError::Rejected(ScimError::invalid_value(format!(
                    "members: '{missing}' is not the id of a user of this tenant; no change \
                     was applied"
                ))));
            }
        }
        Ok(())
    }

    /// Bumps the versions of rows whose membership lists changed as a side
    /// effect (a user's `groups`, a group's `members`), so an ETag never
    /// answers 304 with stale memberships. The ids come from this tenant's
    /// membership rows, so they are matched by primary key alone (see
    /// [`Self::check_users_exist`] for why not by tenant too). Ids are
    /// sorted so concurrent transactions lock rows in one order; the cost
    /// is the ids changed, never the size of a group or a tenant.
    async fn touch(tx: &mut Tx, resource: Resource, ids: &[String]) -> Result<()> {
        let mut ids: Vec<&String> = ids.iter().collect();
        ids.sort_unstable();
        let at = now();
        for chunk in ids.chunks(CHUNK) {
            let mut q = Builder::new(format!(
                "UPDATE {} SET version = version + 1, last_modified = ",
                resource.table()
            ));
            q.push_bind(at).push(" WHERE");
            push_in(&mut q, "id", chunk.iter().map(|id| id.as_str()));
            q.build().execute(&mut **tx).await.map_err(db)?;
        }
        Ok(())
    }

    /// Adds memberships; returns the user ids that were not members before.
    async fn add_members(
        tx: &mut Tx,
        tenant: &TenantId,
        group: &GroupId,
        ids: &[String],
    ) -> Result<Vec<String>> {
        Self::check_users_exist(tx, tenant, ids).await?;
        let mut added = Vec::new();
        for chunk in ids.chunks(CHUNK / 3) {
            let mut q = Builder::new("INSERT INTO memberships (group_id, tenant_id, user_id) ");
            q.push_values(chunk, |mut row, id| {
                row.push_bind(group.as_str().to_owned())
                    .push_bind(tenant.as_str().to_owned())
                    .push_bind(id.clone());
            });
            q.push(" ON CONFLICT DO NOTHING RETURNING user_id");
            let inserted = q.build_query_scalar::<String>().fetch_all(&mut **tx);
            let inserted = inserted.await.map_err(|e| {
                // The users were there a moment ago: one was deprovisioned
                // by a concurrent transaction (PostgreSQL; SQLite has one
                // writer). It is no user of the tenant any more.
                if is_foreign_key_violation(&e) {
                    CoreError::Rejected(ScimError::invalid_value(
                        "members: a user named in this change was deprovisioned while it was \
                         applied; no change was applied",
                    ))
                } else {
                    db(e)
                }
            })?;
            added.extend(inserted);
        }
        Ok(added)
    }

    /// Removes memberships; returns the user ids that were members.
    async fn remove_members(tx: &mut Tx, group: &GroupId, ids: &[String]) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let mut q = Builder::new("DELETE FROM memberships WHERE group_id = ");
            q.push_bind(group.as_str().to_owned()).push(" AND");
            push_in(&mut q, "user_id", chunk.iter().map(String::as_str)).push(" RETURNING user_id");
            let gone = q.build_query_scalar::<String>().fetch_all(&mut **tx);
            removed.extend(gone.await.map_err(db)?);
        }
        Ok(removed)
    }

    /// Applies member set operations in order; returns (added, removed) net
    /// of each other, for the events. Linear in the ids named: adding and
    /// removing the same 10,000 ids costs what its two halves cost.
    async fn apply_member_ops(
        tx: &mut Tx,
        tenant: &TenantId,
        group: &GroupId,
        ops: &[MemberOp],
    ) -> Result<(Vec<String>, Vec<String>)> {
        let mut net = NetChange::default();
        for op in ops {
            match op {
                MemberOp::Add(ids) => {
                    net.added(Self::add_members(tx, tenant, group, &dedup(ids)).await?);
                }
                MemberOp::Remove(ids) => {
                    net.removed(Self::remove_members(tx, group, &dedup(ids)).await?);
                }
                MemberOp::Replace(ids) => {
                    let ids = dedup(ids);
                    Self::check_users_exist(tx, tenant, &ids).await?;
                    let gone: Vec<String> = sqlx::query_scalar(
                        "DELETE FROM memberships WHERE group_id = $1 RETURNING user_id",
                    )
                    .bind(group.as_str())
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(db)?;
                    let back = Self::add_members(tx, tenant, group, &ids).await?;
                    let kept: HashSet<&String> = gone.iter().collect();
                    let fresh: HashSet<&String> = ids.iter().collect();
                    let plus = back.iter().filter(|id| !kept.contains(id)).cloned();
                    let minus = gone.iter().filter(|id| !fresh.contains(id)).cloned();
                    net.added(plus.collect());
                    net.removed(minus.collect());
                }
            }
        }
        Ok(net.finish())
    }

    pub(super) async fn create_user_once(
        &self,
        tenant: &TenantId,
        attrs: UserAttributes,
    ) -> Result<User> {
        let at = now();
        let user = User {
            id: UserId::generate(),
            tenant_id: tenant.clone(),
            attrs,
            stamp: Stamp {
                created: at,
                last_modified: at,
                version: 1,
            },
        };
        self.transact(Some(tenant), move |tx| {
            Box::pin(async move {
                Self::insert_user(tx, &user).await?;
                Ok(user)
            })
        })
        .await
    }

    async fn insert_user(tx: &mut Tx, user: &User) -> Result<()> {
        let sql = format!(
            "INSERT INTO users (id, tenant_id, created, last_modified, version, {}) \
             VALUES ($1, $2, $3, $3, 1, {})",
            USER_ATTR_COLUMNS.join(", "),
            placeholders(4, USER_ATTR_COLUMNS.len())
        );
        let q = sqlx::query(AssertSqlSafe(sql))
            .bind(user.id.as_str())
            .bind(user.tenant_id.as_str())
            .bind(user.stamp.created);
        bind_user_attrs(q, &user.attrs)
            .execute(&mut **tx)
            .await
            .map_err(|e| user_name_clash(e, &user.attrs.user_name))?;
        record(
            tx,
            &user.tenant_id,
            "user.created",
            user.id.as_str(),
            json!({"userName": user.attrs.user_name}),
        )
        .await
    }

    pub(super) async fn replace_user_once(
        &self,
        tenant: &TenantId,
        id: &UserId,
        attrs: UserAttributes,
        expected_version: Option<i64>,
    ) -> Result<User> {
        let key = (tenant.clone(), id.clone());
        self.transact(Some(tenant), move |tx| {
            Box::pin(async move {
                let (tenant, id) = key;
                Self::replace_user_in(tx, &tenant, &id, attrs, expected_version).await
            })
        })
        .await?;
        self.fetch_user(tenant, id.as_str()).await
    }

    async fn replace_user_in(
        tx: &mut Tx,
        tenant: &TenantId,
        id: &UserId,
        mut attrs: UserAttributes,
        expected_version: Option<i64>,
    ) -> Result<()> {
        bump(tx, Resource::User, tenant, id.as_str(), expected_version).await?;
        let row = sqlx::query("SELECT phone, phone_type FROM users WHERE id = $1")
            .bind(id.as_str())
            .fetch_one(&mut **tx)
            .await
            .map_err(db)?;
        let stored = row
            .try_get::<Option<String>, _>("phone")
            .map_err(db)?
            .map(|value| Phone {
                value,
                kind: row.try_get("phone_type").ok().flatten(),
            });
        attrs.phone =
            rules::phone_after_change(stored, attrs.phone).map_err(CoreError::Rejected)?;
        let sets = USER_ATTR_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, col)| format!("{col} = ${}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("UPDATE users SET {sets} WHERE id = $1");
        bind_user_attrs(sqlx::query(AssertSqlSafe(sql)).bind(id.as_str()), &attrs)
            .execute(&mut **tx)
            .await
            .map_err(|e| user_name_clash(e, &attrs.user_name))?;
        record(
            tx,
            tenant,
            "user.updated",
            id.as_str(),
            json!({"userName": attrs.user_name}),
        )
        .await?;
        Ok(())
    }

    pub(super) async fn deprovision_user_once(
        &self,
        tenant: &TenantId,
        id: &UserId,
        expected_version: Option<i64>,
    ) -> Result<()> {
        let key = (tenant.clone(), id.clone());
        self.transact(Some(tenant), move |tx| {
            Box::pin(async move {
                let (tenant, id) = key;
                Self::deprovision_user_in(tx, &tenant, &id, expected_version).await
            })
        })
        .await
    }

    async fn deprovision_user_in(
        tx: &mut Tx,
        tenant: &TenantId,
        id: &UserId,
        expected_version: Option<i64>,
    ) -> Result<()> {
        // Rows are locked groups first, then users, in every transaction
        // that takes both (a group change bumps its group, then its
        // members): so the user's groups are bumped before the user.
        let groups: Vec<String> = sqlx::query_scalar(
            "SELECT group_id FROM memberships WHERE user_id = $1 AND tenant_id = $2",
        )
        .bind(id.as_str())
        .bind(tenant.as_str())
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?;
        Self::touch(tx, Resource::Group, &groups).await?;
        bump(tx, Resource::User, tenant, id.as_str(), expected_version).await?;
        let gone: Vec<String> =
            sqlx::query_scalar("DELETE FROM memberships WHERE user_id = $1 RETURNING group_id")
                .bind(id.as_str())
                .fetch_all(&mut **tx)
                .await
                .map_err(db)?;
        // A membership that appeared in between (PostgreSQL).
        let seen: HashSet<&String> = groups.iter().collect();
        let late: Vec<String> = gone.iter().filter(|g| !seen.contains(g)).cloned().collect();
        Self::touch(tx, Resource::Group, &late).await?;
        let groups = gone;
        let sessions = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id.as_str())
            .execute(&mut **tx)
            .await
            .map_err(db)?
            .rows_affected();
        let user_name: String =
            sqlx::query_scalar("DELETE FROM users WHERE id = $1 RETURNING user_name")
                .bind(id.as_str())
                .fetch_one(&mut **tx)
                .await
                .map_err(db)?;
        record(
            tx,
            tenant,
            "user.deprovisioned",
            id.as_str(),
            json!({"userName": user_name, "groups": groups, "sessionsRevoked": sessions}),
        )
        .await?;
        Ok(())
    }

    pub(super) async fn change_group_scim_once(
        &self,
        tenant: &TenantId,
        id: &GroupId,
        change: &GroupChange,
        expected_version: Option<i64>,
    ) -> Result<Group> {
        let key = (tenant.clone(), id.clone());
        let change = change.clone();
        self.transact(Some(tenant), move |tx| {
            Box::pin(async move {
                let (tenant, id) = key;
                Self::change_group_scim_in(tx, &tenant, &id, change, expected_version).await
            })
        })
        .await?;
        self.fetch_group_by_id(id.as_str(), Some(tenant)).await
    }

    async fn change_group_scim_in(
        tx: &mut Tx,
        tenant: &TenantId,
        id: &GroupId,
        change: GroupChange,
        expected_version: Option<i64>,
    ) -> Result<()> {
        bump(tx, Resource::Group, tenant, id.as_str(), expected_version).await?;
        update_group_attrs(
            tx,
            id,
            change.display_name.as_deref(),
            change.external_id.as_ref(),
        )
        .await?;
        let (added, removed) = Self::apply_member_ops(tx, tenant, id, &change.members).await?;
        Self::touch(tx, Resource::User, &added).await?;
        Self::touch(tx, Resource::User, &removed).await?;
        // Events last: appending one serialises the rest of the transaction
        // with every other writer's (see `record`).
        if change.display_name.is_some() || change.external_id.is_some() {
            record(
                tx,
                tenant,
                "group.updated",
                id.as_str(),
                json!({"displayName": change.display_name, "externalId": change.external_id}),
            )
            .await?;
        }
        if !added.is_empty() {
            record(
                tx,
                tenant,
                "group.members_added",
                id.as_str(),
                json!({"members": added}),
            )
            .await?;
        }
        if !removed.is_empty() {
            record(
                tx,
                tenant,
                "group.members_removed",
                id.as_str(),
                json!({"members": removed}),
            )
            .await?;
        }
        Ok(())
    }

    pub(super) async fn delete_group_once(
        &self,
        tenant: &TenantId,
        id: &GroupId,
        expected_version: Option<i64>,
    ) -> Result<()> {
        let key = (tenant.clone(), id.clone());
        self.transact(Some(tenant), move |tx| {
            Box::pin(async move {
                let (tenant, id) = key;
                Self::delete_group_in(tx, &tenant, &id, expected_version).await
            })
        })
        .await
    }

    async fn delete_group_in(
        tx: &mut Tx,
        tenant: &TenantId,
        id: &GroupId,
        expected_version: Option<i64>,
    ) -> Result<()> {
        bump(tx, Resource::Group, tenant, id.as_str(), expected_version).await?;
        // Its members' `groups` lose it.
        sqlx::query(
            "UPDATE users SET version = version + 1, last_modified = $1 \
             WHERE id IN (SELECT user_id FROM memberships WHERE group_id = $2)",
        )
        .bind(now())
        .bind(id.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        let members = sqlx::query("DELETE FROM memberships WHERE group_id = $1")
            .bind(id.as_str())
            .execute(&mut **tx)
            .await
            .map_err(db)?
            .rows_affected();
        sqlx::query("DELETE FROM groups WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut **tx)
            .await
            .map_err(db)?;
        record(
            tx,
            tenant,
            "group.deleted",
            id.as_str(),
            json!({"members": members}),
        )
        .await?;
        Ok(())
    }

    pub(super) async fn change_group_once(
        &self,
        id: &GroupId,
        change: &GroupAdminChange,
    ) -> Result<Group> {
        let tenant = self.fetch_group_by_id(id.as_str(), None).await?.tenant_id;
        let key = (tenant.clone(), id.clone());
        let change = change.clone();
        self.transact(Some(&tenant), move |tx| {
            Box::pin(async move {
                let (tenant, id) = key;
                Self::change_group_in(tx, &tenant, &id, change).await
            })
        })
        .await?;
        self.fetch_group_by_id(id.as_str(), None).await
    }

    async fn change_group_in(
        tx: &mut Tx,
        tenant: &TenantId,
        id: &GroupId,
        change: GroupAdminChange,
    ) -> Result<()> {
        bump(tx, Resource::Group, tenant, id.as_str(), None).await?;
        if let Some(sub) = &change.subaccount_id {
            check_subaccount(tx, tenant, sub.as_ref()).await?;
            sqlx::query("UPDATE groups SET subaccount_id = $1 WHERE id = $2")
                .bind(sub.as_ref().map(SubaccountId::as_str))
                .bind(id.as_str())
                .execute(&mut **tx)
                .await
                .map_err(db)?;
        }
        update_group_attrs(
            tx,
            id,
            change.display_name.as_deref(),
            change.external_id.as_ref(),
        )
        .await?;
        record(
            tx,
            tenant,
            "group.updated",
            id.as_str(),
            json!({"displayName": change.display_name, "externalId": change.external_id,
                   "subaccountId": change.subaccount_id}),
        )
        .await?;
        Ok(())
    }
}

/// The net effect of a sequence of member operations: for each user id,
/// whether it ended up added or removed, in the order first touched.
#[derive(Default)]
struct NetChange {
    state: HashMap<String, (usize, bool)>,
    touched: usize,
}

impl NetChange {
    fn added(&mut self, ids: Vec<String>) {
        self.apply(ids, true);
    }

    fn removed(&mut self, ids: Vec<String>) {
        self.apply(ids, false);
    }

    /// An id added then removed (or the reverse) cancels out.
    fn apply(&mut self, ids: Vec<String>, added: bool) {
        for id in ids {
            self.touched += 1;
            let next = self.touched;
            match self.state.entry(id) {
                Entry::Occupied(e) if e.get().1 != added => {
                    e.remove();
                }
                Entry::Occupied(_) => {}
                Entry::Vacant(e) => {
                    e.insert((next, added));
                }
            }
        }
    }

    fn finish(self) -> (Vec<String>, Vec<String>) {
        let mut all: Vec<(String, (usize, bool))> = self.state.into_iter().collect();
        all.sort_unstable_by_key(|(_, (order, _))| *order);
        let (added, removed): (Vec<_>, Vec<_>) = all.into_iter().partition(|(_, (_, a))| *a);
        let ids = |v: Vec<(String, (usize, bool))>| v.into_iter().map(|(id, _)| id).collect();
        (ids(added), ids(removed))
    }
}

fn dedup(ids: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    ids.iter()
        .filter(|id| seen.insert(id.as_str()))
        .cloned()
        .collect()
}

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
            let sql = format!(
                "SELECT id, tenant_id FROM users WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let params: Vec<Param> = chunk.iter().map(|id| id.as_str().into()).collect();
            let found: HashSet<String> = query(tx, &sql, &params, |r| {
                Ok((r.text("id")?, r.text("tenant_id")?))
            })
            .await?
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
            let sql = format!(
                "UPDATE {} SET version = version + 1, last_modified = $1 WHERE id IN ({})",
                resource.table(),
                placeholders(2, chunk.len())
            );
            let mut params = vec![Param::from(at)];
            params.extend(chunk.iter().map(|id| Param::from(id.as_str())));
            execute(tx, &sql, &params).await?;
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
            let sql = format!(
                "INSERT INTO memberships (group_id, tenant_id, user_id) VALUES {} \
                 ON CONFLICT DO NOTHING RETURNING user_id",
                value_rows(1, 3, chunk.len())
            );
            let params: Vec<Param> = chunk
                .iter()
                .flat_map(|id| {
                    [
                        group.as_str().into(),
                        tenant.as_str().into(),
                        id.as_str().into(),
                    ]
                })
                .collect();
            let inserted = query(tx, &sql, &params, |r| r.text("user_id"))
                .await
                .map_err(|e| match e {
                    // The users were there a moment ago: one was
                    // deprovisioned by a concurrent transaction
                    // (PostgreSQL; SQLite has one writer). It is no user
                    // of the tenant any more.
                    SqlError::ForeignKey(_) => CoreError::Rejected(ScimError::invalid_value(
                        "members: a user named in this change was deprovisioned while it was \
                         applied; no change was applied",
                    )),
                    other => other.into(),
                })?;
            added.extend(inserted);
        }
        Ok(added)
    }

    /// Removes memberships; returns the user ids that were members.
    async fn remove_members(tx: &mut Tx, group: &GroupId, ids: &[String]) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "DELETE FROM memberships WHERE group_id = $1 AND user_id IN ({}) \
                 RETURNING user_id",
                placeholders(2, chunk.len())
            );
            let mut params = vec![Param::from(group.as_str())];
            params.extend(chunk.iter().map(|id| Param::from(id.as_str())));
            removed.extend(query(tx, &sql, &params, |r| r.text("user_id")).await?);
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
                    let gone = query(
                        tx,
                        "DELETE FROM memberships WHERE group_id = $1 RETURNING user_id",
                        &[group.as_str().into()],
                        |r| r.text("user_id"),
                    )
                    .await?;
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
        let (added, removed) = net.finish();
        // The membership rows changed by exactly this much, whatever the
        // operations were.
        let delta = i64::try_from(added.len()).unwrap_or(i64::MAX)
            - i64::try_from(removed.len()).unwrap_or(i64::MAX);
        if delta != 0 {
            execute(
                tx,
                "UPDATE groups SET member_count = member_count + $1 WHERE id = $2",
                &[delta.into(), group.as_str().into()],
            )
            .await?;
        }
        Ok((added, removed))
    }

    /// The first members of a group SCIM creates, in its creating
    /// transaction; how many there are.
    pub(super) async fn add_first_members(
        tx: &mut Tx,
        tenant: &TenantId,
        group: &GroupId,
        members: Vec<String>,
    ) -> Result<u64> {
        let ops = [MemberOp::Add(members)];
        let (added, _) = Self::apply_member_ops(tx, tenant, group, &ops).await?;
        Self::touch(tx, Resource::User, &added).await?;
        for chunk in added.chunks(MEMBERS_PER_EVENT) {
            let data = json!({"members": chunk, "version": 1});
            record(tx, tenant, "group.members_added", group.as_str(), data).await?;
        }
        Ok(u64::try_from(added.len()).unwrap_or(u64::MAX))
    }

    /// Takes one member off the count of each of `groups` (a user left
    /// them all).
    async fn one_member_less(tx: &mut Tx, groups: &[String]) -> Result<()> {
        for chunk in groups.chunks(CHUNK) {
            let sql = format!(
                "UPDATE groups SET member_count = member_count - 1 WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let params: Vec<Param> = chunk.iter().map(|id| Param::from(id.as_str())).collect();
            execute(tx, &sql, &params).await?;
        }
        Ok(())
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
        let mut params = vec![
            Param::from(user.id.as_str()),
            user.tenant_id.as_str().into(),
            user.stamp.created.into(),
        ];
        params.extend(user_attr_params(&user.attrs));
        execute(tx, &sql, &params)
            .await
            .map_err(|e| user_name_clash(e, &user.attrs.user_name))?;
        record(
            tx,
            &user.tenant_id,
            "user.created",
            user.id.as_str(),
            json!({"userName": user.attrs.user_name, "version": user.stamp.version,
                   "active": user.attrs.active}),
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
        let (stored_phone, was_active) = query(
            tx,
            "SELECT phone, phone_type, active FROM users WHERE id = $1 AND tenant_id = $2",
            &[id.as_str().into(), tenant.as_str().into()],
            |r| {
                let phone = r.opt_text("phone")?.map(|value| Phone {
                    value,
                    kind: r.opt_text("phone_type").ok().flatten(),
                });
                Ok((phone, r.opt_flag("active")?))
            },
        )
        .await?
        .pop()
        .ok_or(CoreError::NotFound("user"))?;
        // Unassigned (`None`) is not deactivated.
        let deactivated = was_active != Some(false) && attrs.active == Some(false);
        let reactivated = was_active == Some(false) && attrs.active != Some(false);
        let leaving = if deactivated && Self::drops_memberships(tx, tenant).await? {
            Some(Self::lock_groups_of(tx, tenant, id).await?)
        } else {
            None
        };
        let version = bump(tx, Resource::User, tenant, id.as_str(), expected_version).await? + 1;
        let dropped = match leaving {
            Some(locked) => Self::drop_memberships(tx, id, &locked).await?,
            None => Vec::new(),
        };
        attrs.phone =
            rules::phone_after_change(stored_phone, attrs.phone).map_err(CoreError::Rejected)?;
        let sets = USER_ATTR_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, col)| format!("{col} = ${}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("UPDATE users SET {sets} WHERE id = $1");
        let mut params = vec![Param::from(id.as_str())];
        params.extend(user_attr_params(&attrs));
        execute(tx, &sql, &params)
            .await
            .map_err(|e| user_name_clash(e, &attrs.user_name))?;
        let user_name = &attrs.user_name;
        record(
            tx,
            tenant,
            "user.updated",
            id.as_str(),
            json!({"userName": user_name, "version": version, "active": attrs.active}),
        )
        .await?;
        let how = crate::origin::current().map(|o| o.method);
        if deactivated {
            let sessions = Self::revoke_sessions(tx, id).await?;
            let data = json!({"userName": user_name, "groups": dropped, "sessionsRevoked": sessions,
                              "how": how, "outcome": "deactivated", "version": version});
            record(tx, tenant, "user.deprovisioned", id.as_str(), data).await?;
            Self::record_revoked(tx, tenant, id, sessions).await?;
        }
        if reactivated {
            let data = json!({"userName": user_name, "how": how, "version": version});
            record(tx, tenant, "user.reactivated", id.as_str(), data).await?;
        }
        Ok(())
    }

    /// Whether the tenant's policy drops a deactivated user's memberships.
    async fn drops_memberships(tx: &mut Tx, tenant: &TenantId) -> Result<bool> {
        let policy = query(
            tx,
            "SELECT deactivated_memberships FROM tenants WHERE id = $1",
            &[tenant.as_str().into()],
            |r| r.text("deactivated_memberships"),
        )
        .await?
        .pop()
        .ok_or(CoreError::NotFound("tenant"))?;
        Ok(DeactivatedMemberships::parse(&policy) == Some(DeactivatedMemberships::Drop))
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
        let locked = Self::lock_groups_of(tx, tenant, id).await?;
        bump(tx, Resource::User, tenant, id.as_str(), expected_version).await?;
        let groups = Self::drop_memberships(tx, id, &locked).await?;
        let sessions = Self::revoke_sessions(tx, id).await?;
        let user_name = query(
            tx,
            "DELETE FROM users WHERE id = $1 RETURNING user_name",
            &[id.as_str().into()],
            |r| r.text("user_name"),
        )
        .await?
        .pop()
        .ok_or(CoreError::NotFound("user"))?;
        // How: the SCIM method that did it (DELETE, or PUT or PATCH with
        // `active: false`).
        let how = crate::origin::current().map(|o| o.method);
        record(
            tx,
            tenant,
            "user.deprovisioned",
            id.as_str(),
            json!({"userName": user_name, "groups": groups, "sessionsRevoked": sessions,
                   "how": how, "outcome": "deleted"}),
        )
        .await?;
        Self::record_revoked(tx, tenant, id, sessions).await
    }

    /// The groups of a user that is about to leave them all, bumped: rows
    /// are locked groups first, then users, in every transaction that takes
    /// both (a group change bumps its group, then its members), so the
    /// caller bumps the user after this and before [`Self::drop_memberships`].
    async fn lock_groups_of(tx: &mut Tx, tenant: &TenantId, id: &UserId) -> Result<Vec<String>> {
        let groups = query(
            tx,
            "SELECT group_id FROM memberships WHERE user_id = $1 AND tenant_id = $2",
            &[id.as_str().into(), tenant.as_str().into()],
            |r| r.text("group_id"),
        )
        .await?;
        Self::touch(tx, Resource::Group, &groups).await?;
        Ok(groups)
    }

    /// Takes a user, already bumped, out of all its groups; returns the
    /// groups it left. `locked`: its groups as [`Self::lock_groups_of`]
    /// found them.
    async fn drop_memberships(tx: &mut Tx, id: &UserId, locked: &[String]) -> Result<Vec<String>> {
        let gone = query(
            tx,
            "DELETE FROM memberships WHERE user_id = $1 RETURNING group_id",
            &[id.as_str().into()],
            |r| r.text("group_id"),
        )
        .await?;
        // A membership that appeared in between (PostgreSQL).
        let seen: HashSet<&String> = locked.iter().collect();
        let late: Vec<String> = gone.iter().filter(|g| !seen.contains(g)).cloned().collect();
        Self::touch(tx, Resource::Group, &late).await?;
        Self::one_member_less(tx, &gone).await?;
        Ok(gone)
    }

    /// Ends all of a user's sessions; returns how many there were.
    async fn revoke_sessions(tx: &mut Tx, id: &UserId) -> Result<u64> {
        Ok(execute(
            tx,
            "DELETE FROM sessions WHERE user_id = $1",
            &[id.as_str().into()],
        )
        .await?)
    }

    /// The `sessions.revoked` event of a deprovisioning, if any ended.
    async fn record_revoked(
        tx: &mut Tx,
        tenant: &TenantId,
        id: &UserId,
        sessions: u64,
    ) -> Result<()> {
        if sessions == 0 {
            return Ok(());
        }
        record(
            tx,
            tenant,
            "sessions.revoked",
            id.as_str(),
            json!({"userId": id, "sessions": sessions, "reason": "user.deprovisioned"}),
        )
        .await
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
        let version = bump(tx, Resource::Group, tenant, id.as_str(), expected_version).await? + 1;
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
                json!({"displayName": change.display_name, "externalId": change.external_id,
                       "version": version}),
            )
            .await?;
        }
        // At most MEMBERS_PER_EVENT ids an event: a 100,000-member
        // replace is a hundred small events, not one huge one.
        for (kind, ids) in [
            ("group.members_added", &added),
            ("group.members_removed", &removed),
        ] {
            for chunk in ids.chunks(MEMBERS_PER_EVENT) {
                let data = json!({"members": chunk, "version": version});
                record(tx, tenant, kind, id.as_str(), data).await?;
            }
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
        execute(
            tx,
            "UPDATE users SET version = version + 1, last_modified = $1 \
             WHERE id IN (SELECT user_id FROM memberships WHERE group_id = $2)",
            &[now().into(), id.as_str().into()],
        )
        .await?;
        let members = execute(
            tx,
            "DELETE FROM memberships WHERE group_id = $1",
            &[id.as_str().into()],
        )
        .await?;
        execute(
            tx,
            "DELETE FROM groups WHERE id = $1",
            &[id.as_str().into()],
        )
        .await?;
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
        let version = bump(tx, Resource::Group, tenant, id.as_str(), None).await? + 1;
        if let Some(sub) = &change.subaccount_id {
            check_subaccount(tx, tenant, sub.as_ref(), "subaccount").await?;
            execute(
                tx,
                "UPDATE groups SET subaccount_id = $1 WHERE id = $2",
                &[
                    sub.as_ref().map(SubaccountId::as_str).into(),
                    id.as_str().into(),
                ],
            )
            .await?;
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
                   "subaccountId": change.subaccount_id, "version": version}),
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

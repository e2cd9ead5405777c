//! [`Directory`]: users and groups as SCIM clients read and change them;
//! the write transactions themselves are in `changes.rs`.

use super::*;

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

    async fn get_user_with_groups(
        &self,
        tenant: &TenantId,
        id: &UserId,
    ) -> Result<(User, Vec<Membership>)> {
        // One row per group (one with NULLs for a user in none): a single
        // statement instead of the user's and then its groups'.
        let sql = format!(
            "SELECT {USER_COLUMNS}, g.id AS member_of, g.display_name AS member_of_name \
             FROM users r \
             LEFT JOIN memberships m ON m.user_id = r.id AND m.tenant_id = r.tenant_id \
             LEFT JOIN groups g ON g.id = m.group_id \
             WHERE r.id = $1 AND r.tenant_id = $2 ORDER BY g.display_name_ci, g.id"
        );
        // The user's columns repeat on every row: decoded from the first.
        let mut first = true;
        let rows = self
            .select(&sql, &[id.as_str().into(), tenant.as_str().into()], |r| {
                let user = if std::mem::take(&mut first) {
                    Some(user_from_row(r)?)
                } else {
                    None
                };
                let group = match r.opt_text("member_of")? {
                    Some(group) => Some(Membership {
                        group_id: GroupId::from(group),
                        display: r.text("member_of_name")?,
                    }),
                    None => None,
                };
                Ok((user, group))
            })
            .await?;
        let mut rows = rows.into_iter();
        let Some((Some(user), group)) = rows.next() else {
            return Err(CoreError::NotFound("user"));
        };
        let groups = group
            .into_iter()
            .chain(rows.filter_map(|(_, group)| group))
            .collect();
        Ok((user, groups))
    }

    async fn list_users(&self, tenant: &TenantId, query: &ListQuery) -> Result<Page<User>> {
        self.list(Resource::User, USER_COLUMNS, tenant, query, |r| {
            user_from_row(r)
        })
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
                "SELECT m.user_id AS owner, g.id AS related, g.display_name AS display \
                 FROM memberships m \
                 JOIN groups g ON g.id = m.group_id",
                "m.user_id",
                "ORDER BY g.display_name_ci, g.id",
            )
            .await?;
        let mut out: HashMap<UserId, Vec<Membership>> = HashMap::new();
        for (user, group, display) in rows {
            out.entry(UserId::from(user)).or_default().push(Membership {
                group_id: GroupId::from(group),
                display,
            });
        }
        Ok(out)
    }

    async fn get_group(&self, tenant: &TenantId, id: &GroupId) -> Result<Group> {
        self.fetch_group_by_id(id.as_str(), Some(tenant)).await
    }

    async fn list_groups(&self, tenant: &TenantId, query: &ListQuery) -> Result<Page<Group>> {
        self.list(Resource::Group, GROUP_COLUMNS, tenant, query, |r| {
            group_from_row(r)
        })
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
                "SELECT m.group_id AS owner, u.id AS related, u.display_name AS display \
                 FROM memberships m \
                 JOIN users u ON u.id = m.user_id",
                "m.group_id",
                "ORDER BY m.group_id, u.id",
            )
            .await?;
        let mut out: HashMap<GroupId, Vec<Member>> = HashMap::new();
        for (group, user, display) in rows {
            out.entry(GroupId::from(group)).or_default().push(Member {
                user_id: UserId::from(user),
                display,
            });
        }
        Ok(out)
    }
}

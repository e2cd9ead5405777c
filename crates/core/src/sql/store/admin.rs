//! [`Administration`]: tenants, subaccounts, groups and API keys.

use super::*;

#[async_trait]
impl Administration for SqlStore {
    async fn create_tenant(&self, name: &str, region: Option<&str>) -> Result<Tenant> {
        let tenant = Tenant {
            id: TenantId::generate(),
            name: name.to_owned(),
            region: region.map(str::to_owned),
            created: now(),
            policy: Policy::default(),
        };
        let created = tenant.clone();
        self.transact(Some(&tenant.id), move |tx| {
            Box::pin(async move {
                let tenant = &created;
                let (name, region) = (&tenant.name, tenant.region.as_deref());
                execute(
                    tx,
                    "INSERT INTO tenants (id, name, region, created) VALUES ($1, $2, $3, $4)",
                    &[
                        tenant.id.as_str().into(),
                        name.into(),
                        region.into(),
                        tenant.created.into(),
                    ],
                )
                .await?;
                record(
                    tx,
                    &tenant.id,
                    "tenant.created",
                    tenant.id.as_str(),
                    json!({"name": name}),
                )
                .await?;
                Ok(())
            })
        })
        .await?;
        Ok(tenant)
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let mut tenants = self
            .select(
                &format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY created, id"),
                &[],
                |r| tenant_from_row(r),
            )
            .await?;
        let mut domains: HashMap<TenantId, Vec<String>> = HashMap::new();
        for (domain, tenant) in self.list_domains().await? {
            domains.entry(tenant).or_default().push(domain);
        }
        for tenant in &mut tenants {
            tenant.policy.user_name_domains = domains.remove(&tenant.id).unwrap_or_default();
        }
        Ok(tenants)
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Tenant> {
        let mut tenant = self
            .select_one(
                &format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1"),
                &[id.as_str().into()],
                |r| tenant_from_row(r),
            )
            .await?
            .ok_or(CoreError::NotFound("tenant"))?;
        tenant.policy.user_name_domains = self
            .select(
                "SELECT domain FROM tenant_domains WHERE tenant_id = $1 ORDER BY domain",
                &[id.as_str().into()],
                |r| r.text("domain"),
            )
            .await?;
        Ok(tenant)
    }

    async fn list_domains(&self) -> Result<Vec<(String, TenantId)>> {
        self.select(
            "SELECT domain, tenant_id FROM tenant_domains ORDER BY domain",
            &[],
            |r| Ok((r.text("domain")?, id(r, "tenant_id")?)),
        )
        .await
    }

    async fn list_collisions(&self, domain: Option<&str>, limit: u32) -> Result<Vec<Collision>> {
        let params: Vec<Param<'_>> = domain.into_iter().map(Param::from).collect();
        self.select(&collisions_sql(domain.is_some(), limit), &params, |r| {
            collision_from_row(r)
        })
        .await
    }

    async fn collision_of(&self, user: &UserId) -> Result<Option<Collision>> {
        self.select_one(&collision_of_sql(), &[user.as_str().into()], |r| {
            collision_from_row(r)
        })
        .await
    }

    async fn set_policy(&self, tenant: &TenantId, policy: &Policy) -> Result<Tenant> {
        let owned = (tenant.clone(), policy.clone());
        self.transact(Some(tenant), move |tx| {
            Box::pin(async move {
                let (tenant, policy) = (&owned.0, &owned.1);
                let sub = policy.group_subaccount_id.as_ref();
                check_subaccount(tx, tenant, sub, "subaccount").await?;
                let changed = execute(
                    tx,
                    "UPDATE tenants SET group_creation = $1, group_subaccount_id = $2, \
                     deprovision = $3, deactivated_memberships = $4, user_name_format = $5 \
                     WHERE id = $6",
                    &[
                        policy.group_creation.as_str().into(),
                        sub.map(SubaccountId::as_str).into(),
                        policy.deprovision.as_str().into(),
                        policy.deactivated_memberships.as_str().into(),
                        policy.user_name_format.as_str().into(),
                        tenant.as_str().into(),
                    ],
                )
                .await?;
                if changed == 0 {
                    return Err(CoreError::NotFound("tenant"));
                }
                confirm_domains(tx, tenant, &policy.user_name_domains).await?;
                record(
                    tx,
                    tenant,
                    "tenant.policy_changed",
                    tenant.as_str(),
                    serde_json::to_value(policy).map_err(|e| CoreError::Internal(e.into()))?,
                )
                .await?;
                Ok(())
            })
        })
        .await?;
        self.get_tenant(tenant).await
    }

    async fn create_subaccount(
        &self,
        tenant: &TenantId,
        name: &str,
        parent: Option<&SubaccountId>,
    ) -> Result<Subaccount> {
        self.get_tenant(tenant).await?;
        let owned = (tenant.clone(), name.to_owned(), parent.cloned());
        self.transact(Some(tenant), move |tx| {
            Box::pin(async move {
                let (tenant, name, parent) = (&owned.0, owned.1.as_str(), owned.2.as_ref());
                check_subaccount(tx, tenant, parent, "parent subaccount").await?;
                let sub = Subaccount {
                    id: SubaccountId::generate(),
                    tenant_id: tenant.clone(),
                    parent_id: parent.cloned(),
                    name: name.to_owned(),
                    created: now(),
                };
                execute(
                    tx,
                    "INSERT INTO subaccounts (id, tenant_id, parent_id, name, created) \
             VALUES ($1, $2, $3, $4, $5)",
                    &[
                        sub.id.as_str().into(),
                        tenant.as_str().into(),
                        parent.map(SubaccountId::as_str).into(),
                        name.into(),
                        sub.created.into(),
                    ],
                )
                .await?;
                record(
                    tx,
                    tenant,
                    "subaccount.created",
                    sub.id.as_str(),
                    json!({"name": name}),
                )
                .await?;
                Ok(sub)
            })
        })
        .await
    }

    async fn list_subaccounts(&self, tenant: &TenantId) -> Result<Vec<Subaccount>> {
        self.select(
            "SELECT id, tenant_id, parent_id, name, created FROM subaccounts \
             WHERE tenant_id = $1 ORDER BY created, id",
            &[tenant.as_str().into()],
            |r| subaccount_from_row(r),
        )
        .await
    }

    async fn create_group(&self, tenant: &TenantId, group: NewGroup) -> Result<Group> {
        self.get_tenant(tenant).await?;
        let owner = tenant.clone();
        self.transact(Some(tenant), move |tx| {
            Box::pin(async move {
                let tenant = &owner;
                check_subaccount(tx, tenant, group.subaccount_id.as_ref(), "subaccount").await?;
                let at = now();
                let mut created = Group {
                    id: GroupId::generate(),
                    tenant_id: tenant.clone(),
                    subaccount_id: group.subaccount_id,
                    display_name: group.display_name,
                    external_id: group.external_id,
                    member_count: 0,
                    stamp: Stamp {
                        created: at,
                        last_modified: at,
                        version: 1,
                    },
                };
                execute(
                    tx,
                    "INSERT INTO groups (id, tenant_id, subaccount_id, display_name, \
                     display_name_ci, external_id, created, last_modified, version) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 1)",
                    &[
                        created.id.as_str().into(),
                        tenant.as_str().into(),
                        created
                            .subaccount_id
                            .as_ref()
                            .map(SubaccountId::as_str)
                            .into(),
                        created.display_name.as_str().into(),
                        created.display_name.to_lowercase().into(),
                        created.external_id.as_deref().into(),
                        at.into(),
                    ],
                )
                .await
                .map_err(|e| external_id_clash(e, created.external_id.as_deref()))?;
                record(
                    tx,
                    tenant,
                    "group.created",
                    created.id.as_str(),
                    json!({"displayName": created.display_name, "externalId": created.external_id,
                           "version": created.stamp.version}),
                )
                .await?;
                if !group.members.is_empty() {
                    created.member_count =
                        Self::add_first_members(tx, tenant, &created.id, group.members).await?;
                }
                Ok(created)
            })
        })
        .await
    }

    async fn change_group(&self, id: &GroupId, change: GroupAdminChange) -> Result<Group> {
        retry_conflicts(|| self.change_group_once(id, &change)).await
    }

    async fn list_all_groups(&self, tenant: &TenantId) -> Result<Vec<Group>> {
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM groups r WHERE r.tenant_id = $1 ORDER BY r.created, r.id"
        );
        self.select(&sql, &[tenant.as_str().into()], |r| group_from_row(r))
            .await
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
            last_used: None,
        };
        let (issued, hash) = (key.clone(), rules::hash_secret(&secret));
        self.transact(Some(tenant), move |tx| {
            Box::pin(async move {
                let (key, tenant, label) = (&issued, &issued.tenant_id, issued.label.as_deref());
                execute(
                    tx,
                    "INSERT INTO api_keys (id, tenant_id, label, secret_hash, created) \
             VALUES ($1, $2, $3, $4, $5)",
                    &[
                        key.id.as_str().into(),
                        tenant.as_str().into(),
                        label.into(),
                        hash.into(),
                        key.created.into(),
                    ],
                )
                .await?;
                record(
                    tx,
                    tenant,
                    "apikey.issued",
                    key.id.as_str(),
                    json!({"label": label}),
                )
                .await?;
                Ok(())
            })
        })
        .await?;
        Ok((key, secret))
    }

    async fn list_api_keys(&self, tenant: Option<&TenantId>) -> Result<Vec<ApiKey>> {
        self.select(
            "SELECT id, tenant_id, label, created, revoked, last_used FROM api_keys \
             WHERE ($1 IS NULL OR tenant_id = $1) ORDER BY created, id",
            &[tenant.map(TenantId::as_str).into()],
            |r| api_key_from_row(r),
        )
        .await
    }

    async fn revoke_api_key(&self, id: &ApiKeyId) -> Result<ApiKey> {
        let id = id.clone();
        self.transact(None, move |tx| {
            Box::pin(async move {
                let key = query(
                    tx,
                    "UPDATE api_keys SET revoked = COALESCE(revoked, $1) WHERE id = $2 \
                     RETURNING id, tenant_id, label, created, revoked, last_used",
                    &[now().into(), id.as_str().into()],
                    |r| api_key_from_row(r),
                )
                .await?
                .pop()
                .ok_or(CoreError::NotFound("API key"))?;
                record(tx, &key.tenant_id, "apikey.revoked", id.as_str(), json!({})).await?;
                Ok(key)
            })
        })
        .await
    }

    async fn authenticate(&self, secret: &str) -> Result<Option<(TenantId, ApiKeyId)>> {
        let hash = rules::hash_secret(secret);
        let found = self
            .select_one(
                "SELECT id, tenant_id, secret_hash FROM api_keys \
                 WHERE secret_hash = $1 AND revoked IS NULL",
                &[hash.as_str().into()],
                |r| Ok((r.text("id")?, r.text("tenant_id")?, r.text("secret_hash")?)),
            )
            .await?;
        Ok(found.and_then(|(key, tenant, stored)| {
            bool::from(stored.as_bytes().ct_eq(hash.as_bytes()))
                .then(|| (TenantId::from(tenant), ApiKeyId::from(key)))
        }))
    }
}

/// Makes `domains` the tenant's confirmed domains; one another tenant
/// holds is refused (409) with nothing changed.
async fn confirm_domains(tx: &mut Tx, tenant: &TenantId, domains: &[String]) -> Result<()> {
    let mut params: Vec<Param<'_>> = vec![tenant.as_str().into()];
    params.extend(domains.iter().map(|d| d.as_str().into()));
    if !domains.is_empty() {
        let held = query(
            tx,
            &format!(
                "SELECT domain, tenant_id FROM tenant_domains \
                 WHERE domain IN ({}) AND tenant_id <> $1 ORDER BY domain",
                placeholders(2, domains.len())
            ),
            &params,
            |r| Ok((r.text("domain")?, r.text("tenant_id")?)),
        )
        .await?;
        if let Some((domain, other)) = held.into_iter().next() {
            return Err(domain_taken(&domain, &other));
        }
    }
    execute(
        tx,
        "DELETE FROM tenant_domains WHERE tenant_id = $1",
        &[tenant.as_str().into()],
    )
    .await?;
    if domains.is_empty() {
        return Ok(());
    }
    let created = now();
    let mut values: Vec<Param<'_>> = Vec::with_capacity(domains.len() * 3);
    for domain in domains {
        values.extend([
            domain.as_str().into(),
            tenant.as_str().into(),
            created.into(),
        ]);
    }
    let sql = format!(
        "INSERT INTO tenant_domains (domain, tenant_id, created) VALUES {}",
        value_rows(1, 3, domains.len())
    );
    match execute(tx, &sql, &values).await {
        Ok(_) => Ok(()),
        // Another tenant confirmed one of them at the same moment.
        Err(SqlError::Unique(_)) => Err(CoreError::Rejected(ScimError::uniqueness(
            "userNameDomains: one of the domains was just confirmed for another tenant",
        ))),
        Err(other) => Err(other.into()),
    }
}

/// The refusal of a domain another tenant holds; the operator sees which.
fn domain_taken(domain: &str, other: &str) -> CoreError {
    CoreError::Rejected(ScimError::uniqueness(format!(
        "userNameDomains: '{domain}' is confirmed for tenant {other}; a domain belongs to one \
         tenant only (take it off that tenant's domains first)"
    )))
}

//! [`Panel`]: portal links, panel sessions, and the admin panel's keyset
//! pages. Every page walks an index from a position and stops after one
//! page, so it costs the same in a tenant of ten groups or of a million
//! users.

use super::*;

const PANEL_SESSION_COLUMNS: &str = "tenant_id, created, last_seen, expires";

const LOG_COLUMNS: &str =
    "id, tenant_id, time, request_id, method, path, status, scim_type, detail, ignored, api_key_id";

/// The upper end of the range of texts that start with `prefix`: no
/// character sorts after U+10FFFF, in SQLite's byte order nor in
/// PostgreSQL's "C" collation, which is how these columns compare.
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// Deepest tree of subaccounts walked when checking a move (a guard: a
/// tree is never this deep, and a cycle can never be stored).
const MAX_DEPTH: usize = 10_000;

#[async_trait]
impl Panel for SqlStore {
    async fn create_portal_link(
        &self,
        tenant: &TenantId,
        hash: &str,
        expires: Micros,
    ) -> Result<()> {
        self.get_tenant(tenant).await?;
        let (tenant, hash) = (tenant.clone(), hash.to_owned());
        self.transact(None, move |tx| {
            Box::pin(async move {
                execute(
                    tx,
                    "INSERT INTO portal_links (token_hash, tenant_id, created, expires) \
                     VALUES ($1, $2, $3, $4)",
                    &[
                        hash.as_str().into(),
                        tenant.as_str().into(),
                        now().into(),
                        expires.into(),
                    ],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn redeem_portal_link(
        &self,
        link_hash: &str,
        session_hash: &str,
        session: PanelSession,
        at: Micros,
    ) -> Result<Redeemed> {
        let (link_hash, session_hash) = (link_hash.to_owned(), session_hash.to_owned());
        self.transact(None, move |tx| {
            Box::pin(async move {
                let found = query(
                    tx,
                    "SELECT token_hash, tenant_id, expires, used FROM portal_links \
                     WHERE token_hash = $1",
                    &[link_hash.as_str().into()],
                    |r| {
                        let stored = r.text("token_hash")?;
                        Ok((
                            stored,
                            r.text("tenant_id")?,
                            r.int("expires")?,
                            r.opt_int("used")?,
                        ))
                    },
                )
                .await?
                .pop();
                // Found by its hash in the index, then compared in constant
                // time, as API keys are.
                let found = found.filter(|(stored, ..)| {
                    bool::from(stored.as_bytes().ct_eq(link_hash.as_bytes()))
                });
                let Some((_, tenant, expires, used)) = found else {
                    return Ok(Redeemed::Unknown);
                };
                if used.is_some() {
                    return Ok(Redeemed::Used);
                }
                if expires <= at {
                    return Ok(Redeemed::Expired);
                }
                // `used IS NULL` again: of two processes redeeming the
                // same link at once, one changes the row.
                let taken = execute(
                    tx,
                    "UPDATE portal_links SET used = $1 WHERE token_hash = $2 AND used IS NULL",
                    &[at.into(), link_hash.as_str().into()],
                )
                .await?;
                if taken == 0 {
                    return Ok(Redeemed::Used);
                }
                let tenant = TenantId::from(tenant);
                let session = PanelSession {
                    user: PanelUser::Tenant(tenant.clone()),
                    ..session
                };
                insert_panel_session(tx, &session_hash, &session).await?;
                Ok(Redeemed::Session(tenant))
            })
        })
        .await
    }

    async fn create_panel_session(&self, hash: &str, session: PanelSession) -> Result<()> {
        let hash = hash.to_owned();
        self.transact(None, move |tx| {
            Box::pin(async move {
                insert_panel_session(tx, &hash, &session).await?;
                Ok(())
            })
        })
        .await
    }

    async fn panel_session(&self, hash: &str) -> Result<Option<PanelSession>> {
        let sql =
            format!("SELECT {PANEL_SESSION_COLUMNS} FROM panel_sessions WHERE token_hash = $1");
        self.select_one(&sql, &[hash.into()], |r| panel_session_from_row(r))
            .await
    }

    async fn touch_panel_session(&self, hash: &str, at: Micros) -> Result<()> {
        let hash = hash.to_owned();
        self.transact(None, move |tx| {
            Box::pin(async move {
                execute(
                    tx,
                    "UPDATE panel_sessions SET last_seen = $1 WHERE token_hash = $2",
                    &[at.into(), hash.as_str().into()],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn end_panel_session(&self, hash: &str) -> Result<()> {
        let hash = hash.to_owned();
        self.transact(None, move |tx| {
            Box::pin(async move {
                execute(
                    tx,
                    "DELETE FROM panel_sessions WHERE token_hash = $1",
                    &[hash.as_str().into()],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn change_subaccount(
        &self,
        tenant: &TenantId,
        id: &SubaccountId,
        name: Option<String>,
        parent: Option<Option<SubaccountId>>,
    ) -> Result<Subaccount> {
        let (tenant, id) = (tenant.clone(), id.clone());
        let work_tenant = tenant.clone();
        self.transact(Some(&work_tenant), move |tx| {
            Box::pin(async move {
                let (tenant, id) = (&tenant, &id);
                check_subaccount(tx, tenant, Some(id), "subaccount").await?;
                if let Some(parent) = &parent {
                    check_subaccount(tx, tenant, parent.as_ref(), "parent subaccount").await?;
                    refuse_cycle(tx, id, parent.as_ref()).await?;
                    execute(
                        tx,
                        "UPDATE subaccounts SET parent_id = $1 WHERE id = $2",
                        &[
                            parent.as_ref().map(SubaccountId::as_str).into(),
                            id.as_str().into(),
                        ],
                    )
                    .await?;
                }
                if let Some(name) = &name {
                    execute(
                        tx,
                        "UPDATE subaccounts SET name = $1 WHERE id = $2",
                        &[name.as_str().into(), id.as_str().into()],
                    )
                    .await?;
                }
                let sub = query(
                    tx,
                    "SELECT id, tenant_id, parent_id, name, created FROM subaccounts WHERE id = $1",
                    &[id.as_str().into()],
                    |r| subaccount_from_row(r),
                )
                .await?
                .pop()
                .ok_or(CoreError::NotFound("subaccount"))?;
                record(
                    tx,
                    tenant,
                    "subaccount.updated",
                    id.as_str(),
                    json!({"name": sub.name, "parentId": sub.parent_id}),
                )
                .await?;
                Ok(sub)
            })
        })
        .await
    }

    async fn tenant_slice(
        &self,
        after: Option<(Micros, &TenantId)>,
        limit: u32,
    ) -> Result<Slice<Tenant>> {
        let (condition, params): (&str, Vec<Param>) = match after {
            Some((created, id)) => (
                "WHERE (created, id) > ($1, $2)",
                vec![created.into(), id.as_str().into()],
            ),
            None => ("", vec![]),
        };
        let sql = format!(
            "SELECT {TENANT_COLUMNS} FROM tenants {condition} \
             ORDER BY created, id LIMIT {}",
            u64::from(limit) + 1
        );
        let items = self.select(&sql, &params, |r| tenant_from_row(r)).await?;
        Ok(Slice::of_one_more(items, limit))
    }

    async fn group_slice(
        &self,
        tenant: &TenantId,
        search: Option<&str>,
        after: Option<(&str, &GroupId)>,
        limit: u32,
    ) -> Result<Slice<Group>> {
        let lowered = search.map(str::to_lowercase);
        let mut params: Vec<Param> = vec![tenant.as_str().into()];
        let mut sql = format!("SELECT {GROUP_COLUMNS} FROM groups r WHERE r.tenant_id = $1");
        if let Some(prefix) = &lowered {
            sql.push_str(" AND r.display_name_ci >= $2 AND r.display_name_ci < $3");
            params.push(prefix.as_str().into());
            params.push(prefix_end(prefix).into());
        }
        if let Some((name, id)) = after {
            let n = params.len();
            // A row value, so the index is entered at the position (an
            // OR of the two cases would be walked from the start).
            sql.push_str(&format!(
                " AND (r.display_name_ci, r.id) > (${}, ${})",
                n + 1,
                n + 2
            ));
            params.push(name.to_lowercase().into());
            params.push(id.as_str().into());
        }
        sql.push_str(&format!(
            " ORDER BY r.display_name_ci, r.id LIMIT {}",
            u64::from(limit) + 1
        ));
        let items = self.select(&sql, &params, |r| group_from_row(r)).await?;
        let mut slice = Slice::of_one_more(items, limit);
        // A search may also be a Group ID: that group comes first, on the
        // first page.
        if let (None, Some(raw)) = (after, search.filter(|s| !s.trim().is_empty())) {
            let sql = format!(
                "SELECT {GROUP_COLUMNS} FROM groups r WHERE r.tenant_id = $1 AND r.external_id = $2"
            );
            let exact = self
                .select_one(&sql, &[tenant.as_str().into(), raw.into()], |r| {
                    group_from_row(r)
                })
                .await?;
            if let Some(group) = exact.filter(|g| !slice.items.iter().any(|i| i.id == g.id)) {
                slice.items.insert(0, group);
            }
        }
        Ok(slice)
    }

    async fn user_slice(
        &self,
        tenant: &TenantId,
        search: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Slice<User>> {
        let mut params: Vec<Param> = vec![tenant.as_str().into()];
        let mut sql = format!("SELECT {USER_COLUMNS} FROM users r WHERE r.tenant_id = $1");
        if let Some(prefix) = search.map(str::to_lowercase) {
            sql.push_str(" AND r.user_name_ci >= $2 AND r.user_name_ci < $3");
            let end = prefix_end(&prefix);
            params.extend([prefix.into(), end.into()]);
        }
        if let Some(after) = after {
            sql.push_str(&format!(" AND r.user_name_ci > ${}", params.len() + 1));
            params.push(after.to_lowercase().into());
        }
        sql.push_str(&format!(
            " ORDER BY r.user_name_ci LIMIT {}",
            u64::from(limit) + 1
        ));
        let items = self.select(&sql, &params, |r| user_from_row(r)).await?;
        Ok(Slice::of_one_more(items, limit))
    }

    async fn log_slice(
        &self,
        tenant: &TenantId,
        query: &LogQuery,
    ) -> Result<Slice<(i64, LogEntry)>> {
        let mut params: Vec<Param> = vec![tenant.as_str().into()];
        let mut sql = format!("SELECT {LOG_COLUMNS} FROM provisioning_log WHERE tenant_id = $1");
        let mut and = |condition: &str, value: Param<'static>| {
            sql.push_str(&format!(" AND {condition} ${}", params.len() + 1));
            params.push(value);
        };
        if let Some(failed) = query.failed {
            and("failed =", i64::from(failed).into());
        }
        if let Some(method) = &query.method {
            and("method =", method.clone().into());
        }
        if let Some(before) = query.before {
            and("id <", before.into());
        }
        sql.push_str(&format!(
            " ORDER BY id DESC LIMIT {}",
            u64::from(query.limit) + 1
        ));
        let items = self
            .select(&sql, &params, |r| Ok((r.int("id")?, log_from_row(r)?)))
            .await?;
        Ok(Slice::of_one_more(items, query.limit))
    }

    async fn sync_health(&self, tenant: &TenantId, since: Micros) -> Result<SyncHealth> {
        let hours = self
            .select(
                "SELECT hour, requests, failures FROM log_hours \
                 WHERE tenant_id = $1 AND hour >= $2 ORDER BY hour",
                &[tenant.as_str().into(), since.into()],
                |r| {
                    Ok(HourCount {
                        hour: r.int("hour")?,
                        requests: u64::try_from(r.int("requests")?).unwrap_or(0),
                        failures: u64::try_from(r.int("failures")?).unwrap_or(0),
                    })
                },
            )
            .await?;
        let newest = |failed: bool| {
            let sql = format!(
                "SELECT {LOG_COLUMNS} FROM provisioning_log \
                 WHERE tenant_id = $1 AND failed = $2 ORDER BY id DESC LIMIT 1"
            );
            async move {
                self.select_one(
                    &sql,
                    &[tenant.as_str().into(), i64::from(failed).into()],
                    |r| log_from_row(r),
                )
                .await
            }
        };
        Ok(SyncHealth {
            hours,
            last_success: newest(false).await?,
            last_failure: newest(true).await?,
        })
    }
}

async fn insert_panel_session(tx: &mut Tx, hash: &str, session: &PanelSession) -> Result<()> {
    let tenant = match &session.user {
        PanelUser::Operator => None,
        PanelUser::Tenant(t) => Some(t.as_str()),
    };
    execute(
        tx,
        "INSERT INTO panel_sessions (token_hash, tenant_id, created, last_seen, expires) \
         VALUES ($1, $2, $3, $4, $5)",
        &[
            hash.into(),
            tenant.into(),
            session.created.into(),
            session.last_seen.into(),
            session.expires.into(),
        ],
    )
    .await?;
    Ok(())
}

/// Refuses to put `id` under `parent` when `parent` is `id` or lies below it.
async fn refuse_cycle(tx: &mut Tx, id: &SubaccountId, parent: Option<&SubaccountId>) -> Result<()> {
    let mut next = parent.cloned();
    for _ in 0..MAX_DEPTH {
        let Some(current) = next else { return Ok(()) };
        if &current == id {
            return Err(CoreError::Rejected(ScimError::invalid_value(
                "a subaccount cannot be moved under itself or under one of its own subaccounts",
            )));
        }
        next = query(
            tx,
            "SELECT parent_id FROM subaccounts WHERE id = $1",
            &[current.as_str().into()],
            |r| r.opt_text("parent_id"),
        )
        .await?
        .pop()
        .flatten()
        .map(SubaccountId::from);
    }
    Ok(())
}

fn panel_session_from_row(row: &impl Fields) -> Result<PanelSession> {
    Ok(PanelSession {
        user: row.opt_text("tenant_id")?.map_or(PanelUser::Operator, |t| {
            PanelUser::Tenant(TenantId::from(t))
        }),
        created: row.int("created")?,
        last_seen: row.int("last_seen")?,
        expires: row.int("expires")?,
    })
}

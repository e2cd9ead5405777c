//! [`Sessions`] and [`Journal`]: sessions, the event outbox, the
//! provisioning log and retention.

use super::*;
use crate::model::hour_of;

#[async_trait]
impl Sessions for SqlStore {
    async fn create_session(&self, user: &UserId, ttl_secs: i64) -> Result<(Session, String)> {
        // The tenant is the user's, read inside the transaction.
        let user = user.clone();
        self.transact(None, move |tx| {
            Box::pin(async move {
                let user = &user;
                let (tenant, active) = query(
                    tx,
                    "SELECT tenant_id, active FROM users WHERE id = $1",
                    &[user.as_str().into()],
                    |r| Ok((r.text("tenant_id")?, r.opt_flag("active")?)),
                )
                .await?
                .pop()
                .ok_or(CoreError::NotFound("user"))?;
                if active == Some(false) {
                    return Err(CoreError::Rejected(ScimError::new(
                        403,
                        None,
                        "this user is deactivated: its identity provider set active to false, \
                         so it cannot begin a session until it is re-activated",
                    )));
                }
                let token = rules::generate_secret("sess_");
                let created = now();
                let session = Session {
                    id: SessionId::generate(),
                    tenant_id: TenantId::from(tenant),
                    user_id: user.clone(),
                    created,
                    expires: created.saturating_add(ttl_secs.saturating_mul(1_000_000)),
                };
                execute(
                    tx,
                    "INSERT INTO sessions (id, tenant_id, user_id, token_hash, created, expires) \
             VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        session.id.as_str().into(),
                        session.tenant_id.as_str().into(),
                        user.as_str().into(),
                        rules::hash_secret(&token).into(),
                        session.created.into(),
                        session.expires.into(),
                    ],
                )
                .await?;
                Ok((session, token))
            })
        })
        .await
    }

    async fn introspect_session(&self, token: &str) -> Result<Option<Session>> {
        let hash = rules::hash_secret(token);
        self.select_one(
            "SELECT id, tenant_id, user_id, created, expires FROM sessions \
             WHERE token_hash = $1 AND expires > $2",
            &[hash.as_str().into(), now().into()],
            |r| session_from_row(r),
        )
        .await
    }

    async fn revoke_session(&self, token: &str) -> Result<bool> {
        let hash = rules::hash_secret(token);
        let deleted = self
            .transact(None, move |tx| {
                Box::pin(async move {
                    let deleted = execute(
                        tx,
                        "DELETE FROM sessions WHERE token_hash = $1",
                        &[hash.into()],
                    )
                    .await?;
                    Ok(deleted)
                })
            })
            .await?;
        Ok(deleted > 0)
    }
}

#[async_trait]
impl Journal for SqlStore {
    async fn events(
        &self,
        tenant: Option<&TenantId>,
        types: &[String],
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        let mut params: Vec<Param> = vec![after_seq.into(), tenant.map(TenantId::as_str).into()];
        let kinds = if types.is_empty() {
            String::new()
        } else {
            params.extend(types.iter().map(|t| Param::from(t.as_str())));
            format!(" AND kind IN ({})", placeholders(3, types.len()))
        };
        // The limit written out, not bound: see `SqlStore::list`.
        let sql = format!(
            "SELECT seq, tenant_id, kind, resource_id, payload, created, request_id, api_key_id \
             FROM events \
             WHERE seq > $1 AND ($2 IS NULL OR tenant_id = $2){kinds} ORDER BY seq LIMIT {limit}"
        );
        self.select(&sql, &params, |r| event_from_row(r)).await
    }

    async fn events_horizon(&self) -> Result<i64> {
        let horizon = self
            .select_one(
                "SELECT pruned_through FROM outbox_horizon WHERE id = 1",
                &[],
                |r| r.int("pruned_through"),
            )
            .await?;
        Ok(horizon.unwrap_or(0))
    }

    fn commits(&self) -> Arc<tokio::sync::Notify> {
        self.following
            .call_once(|| Engine::follow_other_processes(&self.read, &self.commits));
        self.commits.clone()
    }

    async fn append_log(&self, entries: &[LogEntry]) -> Result<()> {
        const COLUMNS: usize = 11;
        let entries = entries.to_vec();
        self.transact(None, move |tx| {
            Box::pin(async move {
                for chunk in entries.chunks(CHUNK / COLUMNS) {
                    let sql = format!(
                        "INSERT INTO provisioning_log (tenant_id, time, request_id, method, \
                         path, status, scim_type, detail, ignored, failed, api_key_id) VALUES {}",
                        value_rows(1, COLUMNS, chunk.len())
                    );
                    let params: Vec<Param> = chunk
                        .iter()
                        .flat_map(|e| {
                            [
                                e.tenant_id.as_str().into(),
                                e.time.into(),
                                e.request_id.as_str().into(),
                                e.method.as_str().into(),
                                e.path.as_str().into(),
                                i64::from(e.status).into(),
                                e.scim_type.as_deref().into(),
                                e.detail.as_deref().into(),
                                (!e.ignored.is_empty())
                                    .then(|| json!(e.ignored).to_string())
                                    .into(),
                                i64::from(e.failed()).into(),
                                e.api_key_id.as_ref().map(ApiKeyId::as_str).into(),
                            ]
                        })
                        .collect();
                    execute(tx, &sql, &params).await?;
                }
                count_hours(tx, &entries).await?;
                note_key_use(tx, &entries).await
            })
        })
        .await
    }

    async fn prune(&self, what: Expiring, before: Micros, limit: u32) -> Result<u64> {
        let (table, key, column) = match what {
            Expiring::ProvisioningLog => ("provisioning_log", "id", "time"),
            Expiring::Events => ("events", "seq", "created"),
            Expiring::Sessions => ("sessions", "id", "expires"),
            Expiring::PortalLinks => ("portal_links", "token_hash", "expires"),
            Expiring::PanelSessions => ("panel_sessions", "token_hash", "expires"),
            Expiring::HourCounts => ("log_hours", "tenant_id, hour", "hour"),
            Expiring::WebhookAttempts => ("webhook_attempts", "id", "time"),
        };
        let sql = format!(
            "DELETE FROM {table} WHERE ({key}) IN \
             (SELECT {key} FROM {table} WHERE {column} < $1 ORDER BY {column} LIMIT $2)"
        );
        self.transact(None, move |tx| {
            Box::pin(async move {
                let params = [before.into(), i64::from(limit).into()];
                if what != Expiring::Events {
                    return Ok(execute(tx, &sql, &params).await?);
                }
                // The outbox remembers how far it was cut, so a follower
                // whose cursor lies before that is told it missed events.
                let gone = query(tx, &format!("{sql} RETURNING seq"), &params, |r| {
                    r.int("seq")
                })
                .await?;
                if let Some(highest) = gone.iter().max() {
                    execute(
                        tx,
                        "UPDATE outbox_horizon SET pruned_through = $1 \
                         WHERE id = 1 AND pruned_through < $1",
                        &[(*highest).into()],
                    )
                    .await?;
                }
                Ok(u64::try_from(gone.len()).unwrap_or(u64::MAX))
            })
        })
        .await
    }

    async fn database_bytes(&self) -> Result<u64> {
        let bytes = self
            .select_one(Engine::DATABASE_BYTES, &[], |r| r.int("bytes"))
            .await?;
        Ok(bytes.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }

    async fn provisioning_log(&self, tenant: &TenantId, limit: u32) -> Result<Vec<LogEntry>> {
        let sql = format!(
            "SELECT tenant_id, time, request_id, method, path, status, scim_type, detail, ignored, \
             api_key_id FROM provisioning_log WHERE tenant_id = $1 ORDER BY id DESC LIMIT {limit}"
        );
        self.select(&sql, &[tenant.as_str().into()], |r| log_from_row(r))
            .await
    }
}

/// Adds a batch's requests and failures to its tenants' hourly counts.
async fn count_hours(tx: &mut Tx, entries: &[LogEntry]) -> Result<()> {
    let mut hours: HashMap<(&str, i64), (i64, i64)> = HashMap::new();
    for e in entries {
        let n = hours
            .entry((e.tenant_id.as_str(), hour_of(e.time)))
            .or_default();
        n.0 += 1;
        n.1 += i64::from(e.failed());
    }
    for ((tenant, hour), (requests, failures)) in hours {
        execute(
            tx,
            "INSERT INTO log_hours (tenant_id, hour, requests, failures) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, hour) DO UPDATE SET \
             requests = log_hours.requests + excluded.requests, \
             failures = log_hours.failures + excluded.failures",
            &[tenant.into(), hour.into(), requests.into(), failures.into()],
        )
        .await?;
    }
    Ok(())
}

/// Notes the newest use of each key in a batch.
async fn note_key_use(tx: &mut Tx, entries: &[LogEntry]) -> Result<()> {
    let mut newest: HashMap<&str, Micros> = HashMap::new();
    for e in entries {
        if let Some(key) = &e.api_key_id {
            let at = newest.entry(key.as_str()).or_insert(e.time);
            *at = (*at).max(e.time);
        }
    }
    for (key, at) in newest {
        execute(
            tx,
            "UPDATE api_keys SET last_used = $1 \
             WHERE id = $2 AND (last_used IS NULL OR last_used < $1)",
            &[at.into(), key.into()],
        )
        .await?;
    }
    Ok(())
}

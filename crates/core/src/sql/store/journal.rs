//! [`Sessions`] and [`Journal`]: sessions, the event outbox, the
//! provisioning log and retention.

use super::*;

#[async_trait]
impl Sessions for SqlStore {
    async fn create_session(&self, user: &UserId, ttl_secs: i64) -> Result<(Session, String)> {
        // The tenant is the user's, read inside the transaction.
        let user = user.clone();
        self.transact(None, move |tx| {
            Box::pin(async move {
                let user = &user;
                let tenant: String =
                    sqlx::query_scalar("SELECT tenant_id FROM users WHERE id = $1")
                        .bind(user.as_str())
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(db)?
                        .ok_or(CoreError::NotFound("user"))?;
                let token = rules::generate_secret("sess_");
                let created = now();
                let session = Session {
                    id: SessionId::generate(),
                    tenant_id: TenantId::from(tenant),
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
                .execute(&mut **tx)
                .await
                .map_err(db)?;
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
                    let deleted = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                        .bind(hash)
                        .execute(&mut **tx)
                        .await
                        .map_err(db)?
                        .rows_affected();
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
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        self.select(
            "SELECT seq, tenant_id, kind, resource_id, payload, created FROM events \
             WHERE seq > $1 AND ($2 IS NULL OR tenant_id = $2) ORDER BY seq LIMIT $3",
            &[
                after_seq.into(),
                tenant.map(TenantId::as_str).into(),
                i64::from(limit).into(),
            ],
            |r| event_from_row(r),
        )
        .await
    }

    async fn append_log(&self, entries: &[LogEntry]) -> Result<()> {
        const COLUMNS: usize = 9;
        let entries = entries.to_vec();
        self.transact(None, move |tx| {
            Box::pin(async move {
        for chunk in entries.chunks(CHUNK / COLUMNS) {
            let mut q = Builder::new(
                "INSERT INTO provisioning_log (tenant_id, time, request_id, method, path, status, \
                 scim_type, detail, ignored) ",
            );
            q.push_values(chunk, |mut row, e| {
                row.push_bind(e.tenant_id.as_str().to_owned())
                    .push_bind(e.time)
                    .push_bind(e.request_id.clone())
                    .push_bind(e.method.clone())
                    .push_bind(e.path.clone())
                    .push_bind(i64::from(e.status))
                    .push_bind(e.scim_type.clone())
                    .push_bind(e.detail.clone())
                    .push_bind((!e.ignored.is_empty()).then(|| json!(e.ignored).to_string()));
            });
            q.build().execute(&mut **tx).await.map_err(db)?;
        }
                Ok(())
            })
        })
        .await
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
        self.transact(None, move |tx| {
            Box::pin(async move {
                let deleted = sqlx::query(AssertSqlSafe(sql))
                    .bind(before)
                    .bind(i64::from(limit))
                    .execute(&mut **tx)
                    .await
                    .map_err(db)?
                    .rows_affected();
                Ok(deleted)
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
        self.select(
            "SELECT tenant_id, time, request_id, method, path, status, scim_type, detail, ignored \
             FROM provisioning_log WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2",
            &[tenant.as_str().into(), i64::from(limit).into()],
            |r| log_from_row(r),
        )
        .await
    }
}

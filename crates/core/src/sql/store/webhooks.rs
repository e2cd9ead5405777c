//! [`Webhooks`]: endpoints, their leases and their delivery attempts.

use super::*;

const ENDPOINT_COLUMNS: &str = "id, url, tenant_id, types, created, delivered_through, \
     next_attempt, failures, failing_since, disabled, disabled_reason, previous_until";

fn endpoint_from_row(row: &impl Fields) -> Result<WebhookEndpoint> {
    let types = row.opt_text("types")?;
    Ok(WebhookEndpoint {
        id: id(row, "id")?,
        url: row.text("url")?,
        tenant_id: row.opt_text("tenant_id")?.map(TenantId::from),
        types: types
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default(),
        created: row.int("created")?,
        delivered_through: row.int("delivered_through")?,
        next_attempt: row.int("next_attempt")?,
        failures: row.int("failures")?,
        failing_since: row.opt_int("failing_since")?,
        disabled: row.opt_int("disabled")?,
        disabled_reason: row.opt_text("disabled_reason")?,
        previous_secret_until: row.opt_int("previous_until")?,
    })
}

fn types_column(types: &[String]) -> Option<String> {
    (!types.is_empty()).then(|| json!(types).to_string())
}

/// Sets an endpoint's delivery state, in a write transaction; the rows it
/// changed. `lease`: only while this owner holds the lease.
async fn set_delivery(
    tx: &mut Tx,
    id: &str,
    d: &Delivery,
    lease: Option<(&str, Micros)>,
) -> Result<u64, SqlError> {
    let (owner, until) = lease.unzip();
    execute(
        tx,
        "UPDATE webhook_endpoints SET delivered_through = $1, next_attempt = $2, failures = $3, \
         failing_since = $4, disabled = $5, disabled_reason = $6, \
         lease_until = COALESCE($8, lease_until), \
         lease_owner = CASE WHEN $8 = 0 THEN NULL ELSE lease_owner END \
         WHERE id = $7 AND ($9 IS NULL OR lease_owner = $9)",
        &[
            d.delivered_through.into(),
            d.next_attempt.into(),
            d.failures.into(),
            d.failing_since.into(),
            d.disabled.into(),
            d.disabled_reason.clone().into(),
            id.into(),
            until.into(),
            owner.into(),
        ],
    )
    .await
}

#[async_trait]
impl Webhooks for SqlStore {
    async fn create_endpoint(&self, new: NewEndpoint) -> Result<WebhookEndpoint> {
        let id = WebhookEndpointId::generate();
        let created = id.clone();
        self.transact(None, move |tx| {
            Box::pin(async move {
                // Under the outbox's lock, the highest sequence number is
                // final: every event after it commits after this.
                Engine::lock_outbox(tx).await?;
                let newest = query(
                    tx,
                    "SELECT COALESCE(MAX(seq), 0) AS seq FROM events",
                    &[],
                    |r| r.int("seq"),
                )
                .await?;
                execute(
                    tx,
                    "INSERT INTO webhook_endpoints (id, url, tenant_id, types, secret, created, \
                     delivered_through, next_attempt) VALUES ($1, $2, $3, $4, $5, $6, $7, $6)",
                    &[
                        created.as_str().into(),
                        new.url.as_str().into(),
                        new.tenant.as_ref().map(TenantId::as_str).into(),
                        types_column(&new.types).into(),
                        new.secret.as_str().into(),
                        new.created.into(),
                        newest.first().copied().unwrap_or(0).into(),
                    ],
                )
                .await
                .map_err(|e| match e {
                    SqlError::ForeignKey(_) => CoreError::NotFound("tenant"),
                    other => other.into(),
                })?;
                Ok(())
            })
        })
        .await?;
        self.get_endpoint(&id).await
    }

    async fn list_endpoints(&self) -> Result<Vec<WebhookEndpoint>> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created, id");
        self.select(&sql, &[], |r| endpoint_from_row(r)).await
    }

    async fn get_endpoint(&self, id: &WebhookEndpointId) -> Result<WebhookEndpoint> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1");
        self.select_one(&sql, &[id.as_str().into()], |r| endpoint_from_row(r))
            .await?
            .ok_or(CoreError::NotFound("webhook endpoint"))
    }

    async fn change_endpoint(
        &self,
        id: &WebhookEndpointId,
        change: EndpointChange,
    ) -> Result<WebhookEndpoint> {
        let key = id.clone();
        let found = self
            .transact(None, move |tx| {
                Box::pin(async move {
                    let id = key.as_str();
                    // Runs whatever changes, and says whether the endpoint is there.
                    let exists = execute(
                        tx,
                        "UPDATE webhook_endpoints SET url = COALESCE($1, url) WHERE id = $2",
                        &[change.url.into(), id.into()],
                    )
                    .await?;
                    if let Some(types) = &change.types {
                        execute(
                            tx,
                            "UPDATE webhook_endpoints SET types = $1 WHERE id = $2",
                            &[types_column(types).into(), id.into()],
                        )
                        .await?;
                    }
                    if let Some(delivery) = &change.delivery {
                        set_delivery(tx, id, delivery, None).await?;
                    }
                    if let Some((secret, until)) = change.secret {
                        execute(
                            tx,
                            "UPDATE webhook_endpoints SET previous_secret = secret, \
                             previous_until = $1, secret = $2 WHERE id = $3",
                            &[until.into(), secret.into(), id.into()],
                        )
                        .await?;
                    }
                    Ok(exists > 0)
                })
            })
            .await?;
        if !found {
            return Err(CoreError::NotFound("webhook endpoint"));
        }
        self.get_endpoint(id).await
    }

    async fn delete_endpoint(&self, id: &WebhookEndpointId) -> Result<()> {
        let id = id.clone();
        let deleted = self
            .transact(None, move |tx| {
                Box::pin(async move {
                    Ok(execute(
                        tx,
                        "DELETE FROM webhook_endpoints WHERE id = $1",
                        &[id.as_str().into()],
                    )
                    .await?)
                })
            })
            .await?;
        if deleted == 0 {
            return Err(CoreError::NotFound("webhook endpoint"));
        }
        Ok(())
    }

    async fn claim_endpoints(
        &self,
        owner: &str,
        now: Micros,
        until: Micros,
        limit: u32,
    ) -> Result<Vec<Claimed>> {
        // Asked first with a read: with nothing due, no write transaction
        // is made, and so no commit wakes the deliverers (and the feed's
        // followers) only to ask again.
        let due = self
            .select_one(
                "SELECT id FROM webhook_endpoints \
                 WHERE disabled IS NULL AND next_attempt <= $1 AND lease_until < $1 \
                 AND delivered_through < (SELECT COALESCE(MAX(seq), 0) FROM events) LIMIT 1",
                &[now.into()],
                |r| r.text("id"),
            )
            .await?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        // The lease's condition is asked again of the row being updated,
        // so two claimers that read the same row cannot both take it.
        let sql = format!(
            "UPDATE webhook_endpoints SET lease_owner = $1, lease_until = $2 \
             WHERE lease_until < $3 AND id IN (SELECT id FROM webhook_endpoints \
               WHERE disabled IS NULL AND next_attempt <= $3 AND lease_until < $3 \
               AND delivered_through < (SELECT COALESCE(MAX(seq), 0) FROM events) \
               ORDER BY next_attempt LIMIT {limit}{}) \
             RETURNING {ENDPOINT_COLUMNS}, secret, previous_secret",
            Engine::SKIP_LOCKED
        );
        let owner = owner.to_owned();
        self.transact(None, move |tx| {
            Box::pin(async move {
                let claimed = query(
                    tx,
                    &sql,
                    &[owner.as_str().into(), until.into(), now.into()],
                    |r| {
                        let endpoint = endpoint_from_row(r)?;
                        let mut secrets = vec![r.text("secret")?];
                        if endpoint.previous_secret_until.is_some_and(|t| t > now) {
                            secrets.extend(r.opt_text("previous_secret")?);
                        }
                        Ok(Claimed { endpoint, secrets })
                    },
                )
                .await?;
                Ok(claimed)
            })
        })
        .await
    }

    async fn pending_events(
        &self,
        endpoint: &WebhookEndpoint,
        limit: u32,
    ) -> Result<(Vec<Event>, i64)> {
        // The end is read first: every event up to it is committed (the
        // outbox becomes visible in order), so the events read after are
        // all of those it wants up to there.
        let newest = self
            .select_one(
                "SELECT COALESCE(MAX(seq), 0) AS seq FROM events",
                &[],
                |r| r.int("seq"),
            )
            .await?
            .unwrap_or(0);
        let mut params: Vec<Param> = vec![
            endpoint.delivered_through.into(),
            newest.into(),
            endpoint.tenant_id.as_ref().map(TenantId::as_str).into(),
        ];
        let kinds = if endpoint.types.is_empty() {
            String::new()
        } else {
            params.extend(endpoint.types.iter().map(|t| Param::from(t.as_str())));
            format!(" AND kind IN ({})", placeholders(4, endpoint.types.len()))
        };
        let sql = format!(
            "SELECT seq, tenant_id, kind, resource_id, payload, created, request_id, api_key_id \
             FROM events WHERE seq > $1 AND seq <= $2 AND ($3 IS NULL OR tenant_id = $3){kinds} \
             ORDER BY seq LIMIT {limit}"
        );
        let events = self.select(&sql, &params, |r| event_from_row(r)).await?;
        let through = match events.last() {
            Some(last) if events.len() >= limit as usize => last.seq,
            _ => newest,
        };
        Ok((events, through))
    }

    async fn record_delivery(
        &self,
        id: &WebhookEndpointId,
        owner: &str,
        delivery: &Delivery,
        attempts: &[Attempt],
        until: Micros,
    ) -> Result<bool> {
        const COLUMNS: usize = 6;
        let (id, owner) = (id.clone(), owner.to_owned());
        let (delivery, attempts) = (delivery.clone(), attempts.to_vec());
        self.transact(None, move |tx| {
            Box::pin(async move {
                let held =
                    set_delivery(tx, id.as_str(), &delivery, Some((owner.as_str(), until))).await?;
                if held == 0 {
                    return Ok(false);
                }
                for chunk in attempts.chunks(CHUNK / COLUMNS) {
                    let sql = format!(
                        "INSERT INTO webhook_attempts (endpoint_id, event_seq, time, status, \
                         error, millis) VALUES {}",
                        value_rows(1, COLUMNS, chunk.len())
                    );
                    let params: Vec<Param> = chunk
                        .iter()
                        .flat_map(|a| {
                            [
                                id.as_str().into(),
                                a.event_seq.into(),
                                a.time.into(),
                                a.status.map(i64::from).into(),
                                a.error.clone().into(),
                                a.millis.into(),
                            ]
                        })
                        .collect();
                    execute(tx, &sql, &params).await?;
                }
                Ok(true)
            })
        })
        .await
    }

    async fn attempts(
        &self,
        id: &WebhookEndpointId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Slice<(i64, Attempt)>> {
        let sql = format!(
            "SELECT id, event_seq, time, status, error, millis FROM webhook_attempts \
             WHERE endpoint_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT {}",
            limit + 1
        );
        let rows = self
            .select(&sql, &[id.as_str().into(), before.into()], |r| {
                Ok((
                    r.int("id")?,
                    Attempt {
                        event_seq: r.int("event_seq")?,
                        time: r.int("time")?,
                        status: r.opt_int("status")?.and_then(|s| u16::try_from(s).ok()),
                        error: r.opt_text("error")?,
                        millis: r.int("millis")?,
                    },
                ))
            })
            .await?;
        Ok(Slice::of_one_more(rows, limit))
    }
}

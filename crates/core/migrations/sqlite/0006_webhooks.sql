-- Webhooks: the endpoints an operator registered and each one's place in
-- the outbox. Delivery is per endpoint and in sequence order: an endpoint
-- has delivered every event it wants up to delivered_through, and its next
-- one is attempted at next_attempt. The process delivering an endpoint
-- holds its lease (lease_owner until lease_until), so with several
-- processes on one database each event goes to each endpoint once.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    -- NULL: every tenant's events.
    tenant_id TEXT REFERENCES tenants (id) ON DELETE CASCADE,
    -- A JSON array of event types; NULL: every type.
    types TEXT,
    -- The signing secret (whsec_…). It signs, so it is kept, not hashed.
    secret TEXT NOT NULL,
    -- After a rotation the previous secret signs too, until previous_until.
    previous_secret TEXT,
    previous_until BIGINT,
    created BIGINT NOT NULL,
    delivered_through BIGINT NOT NULL,
    next_attempt BIGINT NOT NULL,
    -- Attempts that failed since the last success, and when the first did.
    failures BIGINT NOT NULL DEFAULT 0,
    failing_since BIGINT,
    disabled BIGINT,
    disabled_reason TEXT,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0
);

-- Every attempt to deliver an event to an endpoint: its answer's status,
-- or why there was none.
CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_seq BIGINT NOT NULL,
    time BIGINT NOT NULL,
    status BIGINT,
    error TEXT,
    millis BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
CREATE INDEX webhook_attempts_time ON webhook_attempts (time);

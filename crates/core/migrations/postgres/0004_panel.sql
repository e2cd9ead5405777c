-- The admin panel: portal links and panel sessions (both stored as the
-- SHA-256 of their secret only), and what its screens read without
-- counting rows: each group's member count, kept by the two store
-- functions that change memberships, once per change, in its own
-- transaction (a trigger would update the group once per member); each
-- key's last use and each tenant's requests per hour, added to by the
-- provisioning log's batches.
CREATE TABLE portal_links (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    used BIGINT
);
CREATE INDEX portal_links_expires ON portal_links (expires);

-- tenant_id NULL: an operator's session.
CREATE TABLE panel_sessions (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" REFERENCES tenants (id) ON DELETE CASCADE,
    created BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX panel_sessions_expires ON panel_sessions (expires);

ALTER TABLE api_keys ADD COLUMN last_used BIGINT;

ALTER TABLE groups ADD COLUMN member_count BIGINT NOT NULL DEFAULT 0;
UPDATE groups SET member_count =
    (SELECT COUNT(*) FROM memberships m WHERE m.group_id = groups.id);

-- Keyset pages: tenants in creation order; groups by name, users by
-- userName, within a tenant.
CREATE INDEX tenants_created ON tenants (created, id);
DROP INDEX groups_tenant_display_name;
CREATE INDEX groups_tenant_display_name ON groups (tenant_id, display_name_ci, id);
CREATE INDEX users_tenant_user_name ON users (tenant_id, user_name_ci);

-- The provisioning log by outcome and by method, newest first.
ALTER TABLE provisioning_log ADD COLUMN failed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE provisioning_log ADD COLUMN api_key_id TEXT COLLATE "C";
UPDATE provisioning_log SET failed = 1 WHERE status >= 400;
CREATE INDEX provisioning_log_tenant_failed ON provisioning_log (tenant_id, failed, id);
CREATE INDEX provisioning_log_tenant_method ON provisioning_log (tenant_id, method, id);

-- hour: the hour's first microsecond.
CREATE TABLE log_hours (
    tenant_id TEXT COLLATE "C" NOT NULL,
    hour BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, hour)
);
-- Retention deletes hours by age.
CREATE INDEX log_hours_hour ON log_hours (hour);
INSERT INTO log_hours (tenant_id, hour, requests, failures)
    SELECT tenant_id, time - time % 3600000000, COUNT(*), SUM(failed)
    FROM provisioning_log GROUP BY tenant_id, time - time % 3600000000;

-- scimitar's schema on SQLite. Timestamps are microseconds since the epoch;
-- `_ci` columns hold values lower-cased by scimitar for case-insensitive
-- matching, so case folding never depends on the database.

CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    region TEXT,
    created BIGINT NOT NULL
);

CREATE TABLE subaccounts (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    parent_id TEXT REFERENCES subaccounts (id),
    name TEXT NOT NULL,
    created BIGINT NOT NULL
);
CREATE INDEX subaccounts_tenant ON subaccounts (tenant_id);

CREATE TABLE groups (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    subaccount_id TEXT REFERENCES subaccounts (id),
    display_name TEXT NOT NULL,
    display_name_ci TEXT NOT NULL,
    external_id TEXT,
    created BIGINT NOT NULL,
    last_modified BIGINT NOT NULL,
    version BIGINT NOT NULL
);
CREATE UNIQUE INDEX groups_tenant_external_id ON groups (tenant_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX groups_tenant_display_name ON groups (tenant_id, display_name_ci);
CREATE INDEX groups_tenant_created ON groups (tenant_id, created, id);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_name TEXT NOT NULL,
    user_name_ci TEXT NOT NULL,
    display_name TEXT NOT NULL,
    display_name_ci TEXT NOT NULL,
    name_formatted TEXT,
    name_formatted_ci TEXT,
    name_family TEXT,
    name_family_ci TEXT,
    name_given TEXT,
    name_given_ci TEXT,
    name_middle TEXT,
    name_middle_ci TEXT,
    name_prefix TEXT,
    name_prefix_ci TEXT,
    name_suffix TEXT,
    name_suffix_ci TEXT,
    title TEXT,
    title_ci TEXT,
    phone TEXT,
    phone_type TEXT,
    external_id TEXT,
    created BIGINT NOT NULL,
    last_modified BIGINT NOT NULL,
    version BIGINT NOT NULL
);
-- userName is unique across every tenant of the deployment.
CREATE UNIQUE INDEX users_user_name_ci ON users (user_name_ci);
CREATE INDEX users_tenant_created ON users (tenant_id, created, id);
CREATE INDEX users_tenant_external_id ON users (tenant_id, external_id);
CREATE INDEX users_tenant_display_name ON users (tenant_id, display_name_ci);

CREATE TABLE memberships (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    label TEXT,
    secret_hash TEXT NOT NULL UNIQUE,
    created BIGINT NOT NULL,
    revoked BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created BIGINT NOT NULL
);
CREATE INDEX events_tenant ON events (tenant_id, seq);

CREATE TABLE provisioning_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    time BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status BIGINT NOT NULL,
    scim_type TEXT,
    detail TEXT,
    ignored TEXT
);
CREATE INDEX provisioning_log_tenant ON provisioning_log (tenant_id, id);

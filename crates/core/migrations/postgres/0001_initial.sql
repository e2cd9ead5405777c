-- scimitar's schema on PostgreSQL. Text compares and sorts bytewise (COLLATE "C"), as on SQLite. Timestamps are microseconds since the epoch;
-- `_ci` columns hold values lower-cased by scimitar for case-insensitive
-- matching, so case folding never depends on the database.

CREATE TABLE tenants (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL,
    region TEXT COLLATE "C",
    created BIGINT NOT NULL
);

CREATE TABLE subaccounts (
    id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    parent_id TEXT COLLATE "C" REFERENCES subaccounts (id),
    name TEXT COLLATE "C" NOT NULL,
    created BIGINT NOT NULL
);
CREATE INDEX subaccounts_tenant ON subaccounts (tenant_id);

CREATE TABLE groups (
    id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    subaccount_id TEXT COLLATE "C" REFERENCES subaccounts (id),
    display_name TEXT COLLATE "C" NOT NULL,
    display_name_ci TEXT COLLATE "C" NOT NULL,
    external_id TEXT COLLATE "C",
    created BIGINT NOT NULL,
    last_modified BIGINT NOT NULL,
    version BIGINT NOT NULL
);
CREATE UNIQUE INDEX groups_tenant_external_id ON groups (tenant_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX groups_tenant_display_name ON groups (tenant_id, display_name_ci);
CREATE INDEX groups_tenant_created ON groups (tenant_id, created, id);

CREATE TABLE users (
    id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_name TEXT COLLATE "C" NOT NULL,
    user_name_ci TEXT COLLATE "C" NOT NULL,
    display_name TEXT COLLATE "C" NOT NULL,
    display_name_ci TEXT COLLATE "C" NOT NULL,
    name_formatted TEXT COLLATE "C",
    name_formatted_ci TEXT COLLATE "C",
    name_family TEXT COLLATE "C",
    name_family_ci TEXT COLLATE "C",
    name_given TEXT COLLATE "C",
    name_given_ci TEXT COLLATE "C",
    name_middle TEXT COLLATE "C",
    name_middle_ci TEXT COLLATE "C",
    name_prefix TEXT COLLATE "C",
    name_prefix_ci TEXT COLLATE "C",
    name_suffix TEXT COLLATE "C",
    name_suffix_ci TEXT COLLATE "C",
    title TEXT COLLATE "C",
    title_ci TEXT COLLATE "C",
    phone TEXT COLLATE "C",
    phone_type TEXT COLLATE "C",
    external_id TEXT COLLATE "C",
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
    group_id TEXT COLLATE "C" NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE api_keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    label TEXT COLLATE "C",
    secret_hash TEXT COLLATE "C" NOT NULL UNIQUE,
    created BIGINT NOT NULL,
    revoked BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE sessions (
    id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT COLLATE "C" NOT NULL UNIQUE,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    resource_id TEXT COLLATE "C" NOT NULL,
    payload TEXT COLLATE "C" NOT NULL,
    created BIGINT NOT NULL
);
CREATE INDEX events_tenant ON events (tenant_id, seq);

CREATE TABLE provisioning_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL,
    time BIGINT NOT NULL,
    request_id TEXT COLLATE "C" NOT NULL,
    method TEXT COLLATE "C" NOT NULL,
    path TEXT COLLATE "C" NOT NULL,
    status BIGINT NOT NULL,
    scim_type TEXT COLLATE "C",
    detail TEXT COLLATE "C",
    ignored TEXT COLLATE "C"
);
CREATE INDEX provisioning_log_tenant ON provisioning_log (tenant_id, id);

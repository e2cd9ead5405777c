-- The domains an operator confirmed belong to a tenant (lower-case;
-- replaced whole when the operator changes them). A domain belongs to one
-- tenant at most: its userNames are that tenant's people, so no other
-- tenant can create them. A tenant with none takes userNames at any domain
-- no other tenant confirmed.
CREATE TABLE tenant_domains (
    domain TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    created BIGINT NOT NULL
);
CREATE INDEX tenant_domains_tenant ON tenant_domains (tenant_id);

-- The domain of each user's userName (after its last @, lower-case; NULL
-- without one), so the users of another tenant at a confirmed domain are
-- found by an index and not by reading every user.
ALTER TABLE users ADD COLUMN user_domain TEXT;
-- rtrim strips every character that is not an @ from the end, leaving
-- the userName up to its last @. (One pass over the users, once.)
UPDATE users SET user_domain = NULLIF(
  substr(user_name_ci, length(rtrim(user_name_ci, replace(user_name_ci, '@', ''))) + 1), '')
  WHERE instr(user_name_ci, '@') > 0;
CREATE INDEX users_domain ON users (user_domain, tenant_id, user_name_ci);

-- How many users and groups each tenant has, kept by triggers in the same
-- transaction as the insert or delete, so an unfiltered list's
-- totalResults is read from at most 16 rows instead of counted over every
-- row of the tenant. A change adds to one of 16 rows per tenant and
-- resource, picked at random, so concurrent writers of one tenant rarely
-- wait for each other's row lock; the count is their sum.
CREATE TABLE resource_counts (
    tenant_id TEXT COLLATE "C" NOT NULL,
    resource TEXT COLLATE "C" NOT NULL,
    shard INTEGER NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, resource, shard)
);

INSERT INTO resource_counts (tenant_id, resource, shard, n)
    SELECT tenant_id, 'user', 0, COUNT(*) FROM users GROUP BY tenant_id;
INSERT INTO resource_counts (tenant_id, resource, shard, n)
    SELECT tenant_id, 'group', 0, COUNT(*) FROM groups GROUP BY tenant_id;

CREATE FUNCTION count_resource() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_tenant TEXT;
    delta BIGINT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        row_tenant := NEW.tenant_id;
        delta := 1;
    ELSE
        row_tenant := OLD.tenant_id;
        delta := -1;
    END IF;
    INSERT INTO resource_counts (tenant_id, resource, shard, n)
        VALUES (row_tenant, TG_ARGV[0], floor(random() * 16)::int, delta)
        ON CONFLICT (tenant_id, resource, shard)
        DO UPDATE SET n = resource_counts.n + EXCLUDED.n;
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_counted AFTER INSERT OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION count_resource('user');
CREATE TRIGGER groups_counted AFTER INSERT OR DELETE ON groups
    FOR EACH ROW EXECUTE FUNCTION count_resource('group');

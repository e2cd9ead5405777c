-- How many users and groups each tenant has, kept by triggers in the same
-- transaction as the insert or delete, so an unfiltered list's
-- totalResults is read from at most 16 rows instead of counted over every
-- row of the tenant. A change adds to one of 16 rows per tenant and
-- resource, picked at random, so concurrent writers of one tenant
-- (PostgreSQL) rarely update the same row; the count is their sum.
CREATE TABLE resource_counts (
    tenant_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    shard INTEGER NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, resource, shard)
);

INSERT INTO resource_counts (tenant_id, resource, shard, n)
    SELECT tenant_id, 'user', 0, COUNT(*) FROM users GROUP BY tenant_id;
INSERT INTO resource_counts (tenant_id, resource, shard, n)
    SELECT tenant_id, 'group', 0, COUNT(*) FROM groups GROUP BY tenant_id;

CREATE TRIGGER users_counted_in AFTER INSERT ON users BEGIN
    INSERT INTO resource_counts (tenant_id, resource, shard, n)
        VALUES (NEW.tenant_id, 'user', abs(random()) % 16, 1)
        ON CONFLICT (tenant_id, resource, shard) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER users_counted_out AFTER DELETE ON users BEGIN
    INSERT INTO resource_counts (tenant_id, resource, shard, n)
        VALUES (OLD.tenant_id, 'user', abs(random()) % 16, -1)
        ON CONFLICT (tenant_id, resource, shard) DO UPDATE SET n = n - 1;
END;
CREATE TRIGGER groups_counted_in AFTER INSERT ON groups BEGIN
    INSERT INTO resource_counts (tenant_id, resource, shard, n)
        VALUES (NEW.tenant_id, 'group', abs(random()) % 16, 1)
        ON CONFLICT (tenant_id, resource, shard) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER groups_counted_out AFTER DELETE ON groups BEGIN
    INSERT INTO resource_counts (tenant_id, resource, shard, n)
        VALUES (OLD.tenant_id, 'group', abs(random()) % 16, -1)
        ON CONFLICT (tenant_id, resource, shard) DO UPDATE SET n = n - 1;
END;

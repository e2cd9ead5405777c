-- What active: false does, per tenant. The default is the integration
-- guide's rule, so every tenant that existed before behaves as before.
--
-- deprovision: 'delete' (the user, its memberships and its sessions go) or
-- 'deactivate' (the user stays with active false; its sessions go);
-- deactivated_memberships: 'keep' or 'drop' a deactivated user's
-- memberships.
ALTER TABLE tenants ADD COLUMN deprovision TEXT NOT NULL DEFAULT 'delete';
ALTER TABLE tenants ADD COLUMN deactivated_memberships TEXT NOT NULL DEFAULT 'keep';

-- A user's active: true, false (deactivated), or NULL (unassigned: removed
-- by a PATCH in a tenant that deactivates; such a user is not
-- deactivated). Every user there was is active.
ALTER TABLE users ADD COLUMN active BOOLEAN DEFAULT TRUE;

-- Lists filtered on active (a tenant's deactivated users) walk only the
-- rows they answer, in the order every list has.
CREATE INDEX users_tenant_active ON users (tenant_id, active, created, id);

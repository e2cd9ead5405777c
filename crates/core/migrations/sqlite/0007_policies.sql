-- Provisioning policies per tenant. The defaults are the integration
-- guide's rules, so every tenant that existed before behaves as before.
--
-- group_creation: 'admin' (POST /Groups is refused: groups are made in the
-- panel, the admin API or the CLI) or 'scim' (the identity provider creates
-- them); group_subaccount_id: where groups that SCIM creates are placed
-- (NULL: the tenant root).
ALTER TABLE tenants ADD COLUMN group_creation TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE tenants ADD COLUMN group_subaccount_id TEXT;

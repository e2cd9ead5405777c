-- What a userName is, per tenant: 'email' (an email address, and emails
-- is the userName: the integration guide's rule, so every tenant that
-- existed before behaves as before) or 'any' (any string; emails is the
-- client's).
ALTER TABLE tenants ADD COLUMN user_name_format TEXT NOT NULL DEFAULT 'email';

-- The one email address kept of a user: the userName where userNames are
-- email addresses, the client's where they may be anything. email_ci is
-- its lower-cased shadow for filters (emails.value), email_type is
-- lower-cased, email_primary is NULL when the client did not say.
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN email_ci TEXT;
ALTER TABLE users ADD COLUMN email_type TEXT;
ALTER TABLE users ADD COLUMN email_primary BOOLEAN;

-- Every user there was has the default policy's address: its userName.
-- (One pass over the users, once.)
UPDATE users SET email = user_name, email_ci = user_name_ci, email_type = 'work',
  email_primary = TRUE;

-- A filter on emails.value walks only the rows it answers.
CREATE INDEX users_tenant_email ON users (tenant_id, email_ci);

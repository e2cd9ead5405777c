-- Retention: old provisioning-log entries and events, and expired sessions,
-- are deleted in small batches by age; these indexes make each batch cost
-- the rows it deletes, not the size of the table.
CREATE INDEX provisioning_log_time ON provisioning_log (time);
CREATE INDEX events_created ON events (created);
CREATE INDEX sessions_expires ON sessions (expires);

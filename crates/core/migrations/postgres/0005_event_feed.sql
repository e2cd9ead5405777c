-- The event feed: how far retention has deleted the outbox, so a cursor
-- older than what is kept is told so (410) instead of silently skipping
-- the events that were removed.
CREATE TABLE outbox_horizon (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    -- The highest sequence number retention has deleted; 0 before any.
    pruned_through BIGINT NOT NULL
);
INSERT INTO outbox_horizon (id, pruned_through) VALUES (1, 0);

-- Who made each change: the SCIM request's id and the API key it came with
-- (NULL for an administrator's change).
ALTER TABLE events ADD COLUMN request_id TEXT COLLATE "C";
ALTER TABLE events ADD COLUMN api_key_id TEXT COLLATE "C";

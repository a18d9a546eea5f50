-- Outgoing connections: the named ways services reach other systems (HTTP, SOAP, SQL,
-- FTP). A name is unique within its type. `settings` is the admin API's
-- `OutconnSettings` as JSON (it repeats the type as its `type` field, kept equal to
-- `conn_type` by every write). The secret (a password, token or key) is stored apart,
-- NULL when none is set, so that no query that reads settings reads it by accident.
-- Times are ms since the Unix epoch (the server's clock).
CREATE TABLE outconn (
    conn_type TEXT NOT NULL,
    name TEXT NOT NULL,
    active INTEGER NOT NULL,
    settings TEXT NOT NULL,
    secret TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (conn_type, name)
);

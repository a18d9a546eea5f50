-- Every deployed version of every service; the latest row per name is what runs.
-- A deletion is a version too (deleted = 1, no bytes), so the version number is the
-- one fencing token for deploys and deletes alike.
CREATE TABLE service_version (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    bytes BLOB NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    size INTEGER NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    info TEXT NOT NULL DEFAULT '{}',
    source TEXT NOT NULL DEFAULT '',
    deployed_by TEXT NOT NULL DEFAULT '',
    deployed_at INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE INDEX service_version_sha256 ON service_version (sha256);

-- Per-service configuration read by the `config` import.
CREATE TABLE service_config (
    service TEXT NOT NULL,
    config_key TEXT NOT NULL,
    config_value TEXT NOT NULL,
    PRIMARY KEY (service, config_key)
);

-- HTTP channels: URL path patterns routed to services.
CREATE TABLE http_channel (
    name TEXT NOT NULL PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    methods TEXT NOT NULL DEFAULT '',
    service TEXT NOT NULL,
    data_format TEXT NOT NULL DEFAULT 'json',
    timeout_ms INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

-- Cluster membership: each server registers itself and keeps last_seen fresh.
CREATE TABLE server (
    name TEXT NOT NULL PRIMARY KEY,
    address TEXT NOT NULL,
    state TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);

-- The version of each service each server runs (deploy waits on this).
CREATE TABLE server_service (
    server TEXT NOT NULL,
    service TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (server, service)
);

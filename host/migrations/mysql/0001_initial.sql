-- Every deployed version of every service; the latest row per name is what runs.
-- A deletion is a version too (deleted = 1, no bytes), so the version number is the
-- one fencing token for deploys and deletes alike.
CREATE TABLE service_version (
    name VARCHAR(255) NOT NULL,
    version BIGINT NOT NULL,
    sha256 VARCHAR(64) NOT NULL,
    bytes LONGBLOB NOT NULL,
    deleted BIGINT NOT NULL DEFAULT 0,
    size BIGINT NOT NULL,
    description TEXT NOT NULL,
    info TEXT NOT NULL,
    source TEXT NOT NULL,
    deployed_by TEXT NOT NULL,
    deployed_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE INDEX service_version_sha256 ON service_version (sha256);

-- Per-service configuration read by the `config` import.
CREATE TABLE service_config (
    service VARCHAR(255) NOT NULL,
    config_key VARCHAR(255) NOT NULL,
    config_value TEXT NOT NULL,
    PRIMARY KEY (service, config_key)
);

-- HTTP channels: URL path patterns routed to services.
CREATE TABLE http_channel (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    path VARCHAR(700) NOT NULL UNIQUE,
    methods TEXT NOT NULL,
    service VARCHAR(255) NOT NULL,
    data_format TEXT NOT NULL,
    timeout_ms BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- Cluster membership: each server registers itself and keeps last_seen fresh.
CREATE TABLE server (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    address TEXT NOT NULL,
    state TEXT NOT NULL,
    pid BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);

-- The version of each service each server runs (deploy waits on this).
CREATE TABLE server_service (
    server VARCHAR(255) NOT NULL,
    service VARCHAR(255) NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (server, service)
);

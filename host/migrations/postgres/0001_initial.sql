-- The SQLite schema for PostgreSQL, kept equivalent by hand:
-- * Keys use the "C" collation: names compare and sort byte by byte, as on SQLite
--   and MySQL (utf8mb4_bin), whatever the locale the cluster was created with.
-- * Keys are VARCHAR of the lengths MySQL needs; the ODB checks the same lengths on
--   every backend, so no backend accepts a key that another would refuse.
-- * BIGINT and BYTEA are what sqlx's `Any` driver reads as i64 and Vec<u8>.

-- Every deployed version of every service; the latest row per name is what runs.
-- A deletion is a version too (deleted = 1, no bytes), so the version number is the
-- one fencing token for deploys and deletes alike.
CREATE TABLE service_version (
    name VARCHAR(255) COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    sha256 VARCHAR(64) COLLATE "C" NOT NULL,
    bytes BYTEA NOT NULL,
    deleted BIGINT NOT NULL DEFAULT 0,
    size BIGINT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    info TEXT NOT NULL DEFAULT '{}',
    source TEXT NOT NULL DEFAULT '',
    deployed_by TEXT NOT NULL DEFAULT '',
    deployed_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE INDEX service_version_sha256 ON service_version (sha256);

-- Per-service configuration read by the `config` import.
CREATE TABLE service_config (
    service VARCHAR(255) COLLATE "C" NOT NULL,
    config_key VARCHAR(255) COLLATE "C" NOT NULL,
    config_value TEXT NOT NULL,
    PRIMARY KEY (service, config_key)
);

-- HTTP channels: URL path patterns routed to services.
CREATE TABLE http_channel (
    name VARCHAR(255) COLLATE "C" NOT NULL PRIMARY KEY,
    path VARCHAR(700) COLLATE "C" NOT NULL UNIQUE,
    methods TEXT NOT NULL DEFAULT '',
    service VARCHAR(255) COLLATE "C" NOT NULL,
    data_format TEXT NOT NULL DEFAULT 'json',
    timeout_ms BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- Cluster membership: each server registers itself and keeps last_seen fresh.
CREATE TABLE server (
    name VARCHAR(255) COLLATE "C" NOT NULL PRIMARY KEY,
    address TEXT NOT NULL,
    state TEXT NOT NULL,
    pid BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);

-- The version of each service each server runs (deploy waits on this).
CREATE TABLE server_service (
    server VARCHAR(255) COLLATE "C" NOT NULL,
    service VARCHAR(255) COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (server, service)
);

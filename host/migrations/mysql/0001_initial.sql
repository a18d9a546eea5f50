-- The SQLite schema for MySQL 8.0.13+ and MariaDB 10.2+, kept equivalent by hand:
-- * utf8mb4_bin makes names case-sensitive and sorts them by code point, as SQLite
--   and PostgreSQL ("C") do; the default collations would merge `Demo` and `demo`.
--   It still ignores trailing spaces, so the ODB refuses keys that end with one.
-- * Keys are VARCHAR (an index cannot cover a whole TEXT); the ODB checks the same
--   lengths on every backend. LONGTEXT stands for TEXT elsewhere (TEXT is 64 KiB here).
-- * TEXT columns take a default only as an expression: DEFAULT ('').

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
    description LONGTEXT NOT NULL DEFAULT (''),
    info LONGTEXT NOT NULL DEFAULT ('{}'),
    source LONGTEXT NOT NULL DEFAULT (''),
    deployed_by LONGTEXT NOT NULL DEFAULT (''),
    deployed_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE INDEX service_version_sha256 ON service_version (sha256);

-- Per-service configuration read by the `config` import.
CREATE TABLE service_config (
    service VARCHAR(255) NOT NULL,
    config_key VARCHAR(255) NOT NULL,
    config_value LONGTEXT NOT NULL,
    PRIMARY KEY (service, config_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- HTTP channels: URL path patterns routed to services.
-- DYNAMIC rows allow index keys of 3072 bytes: 700 characters of up to 4 bytes.
CREATE TABLE http_channel (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    path VARCHAR(700) NOT NULL UNIQUE,
    methods LONGTEXT NOT NULL DEFAULT (''),
    service VARCHAR(255) NOT NULL,
    data_format LONGTEXT NOT NULL DEFAULT ('json'),
    timeout_ms BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
) ENGINE = InnoDB ROW_FORMAT = DYNAMIC DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Cluster membership: each server registers itself and keeps last_seen fresh.
CREATE TABLE server (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    address LONGTEXT NOT NULL,
    state LONGTEXT NOT NULL,
    pid BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The version of each service each server runs (deploy waits on this).
CREATE TABLE server_service (
    server VARCHAR(255) NOT NULL,
    service VARCHAR(255) NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (server, service)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

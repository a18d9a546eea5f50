-- See the SQLite migration of the same name: SOAP channels.
CREATE TABLE soap_channel (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    path VARCHAR(700) NOT NULL UNIQUE,
    services LONGTEXT NOT NULL,
    versions LONGTEXT NOT NULL DEFAULT (''),
    timeout_ms BIGINT NOT NULL DEFAULT 0,
    namespace LONGTEXT NOT NULL DEFAULT (''),
    created_at BIGINT NOT NULL
) ENGINE = InnoDB ROW_FORMAT = DYNAMIC DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

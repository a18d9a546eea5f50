-- See the SQLite migration of the same name: security definitions, a hash of the secret.
CREATE TABLE security_def (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    sec_type VARCHAR(16) NOT NULL,
    settings LONGTEXT NOT NULL,
    secret_hash LONGTEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

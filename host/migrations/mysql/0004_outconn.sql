-- See the SQLite migration of the same name: outgoing connections, the secret apart.
CREATE TABLE outconn (
    conn_type VARCHAR(16) NOT NULL,
    name VARCHAR(255) NOT NULL,
    active BIGINT NOT NULL,
    settings LONGTEXT NOT NULL,
    secret LONGTEXT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (conn_type, name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

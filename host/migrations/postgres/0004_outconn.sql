-- See the SQLite migration of the same name: outgoing connections, the secret apart.
CREATE TABLE outconn (
    conn_type VARCHAR(16) COLLATE "C" NOT NULL,
    name VARCHAR(255) COLLATE "C" NOT NULL,
    active BIGINT NOT NULL,
    settings TEXT NOT NULL,
    secret TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (conn_type, name)
);

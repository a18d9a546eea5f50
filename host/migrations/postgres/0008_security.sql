-- See the SQLite migration of the same name: security definitions, a hash of the secret.
CREATE TABLE security_def (
    name VARCHAR(255) COLLATE "C" NOT NULL PRIMARY KEY,
    sec_type VARCHAR(16) COLLATE "C" NOT NULL,
    settings TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

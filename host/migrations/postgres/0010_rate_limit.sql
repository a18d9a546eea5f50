-- See the SQLite migration of the same name: rate-limit definitions and what they are
-- attached to.
CREATE TABLE rate_limit_def (
    name VARCHAR(255) COLLATE "C" NOT NULL PRIMARY KEY,
    rules TEXT NOT NULL,
    exact BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE rate_limit_use (
    object_type VARCHAR(16) COLLATE "C" NOT NULL,
    object_name VARCHAR(255) COLLATE "C" NOT NULL,
    rate_limit VARCHAR(255) COLLATE "C" NOT NULL REFERENCES rate_limit_def (name),
    PRIMARY KEY (object_type, object_name)
);

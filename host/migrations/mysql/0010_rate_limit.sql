-- See the SQLite migration of the same name: rate-limit definitions and what they are
-- attached to.
CREATE TABLE rate_limit_def (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    rules LONGTEXT NOT NULL,
    exact BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE TABLE rate_limit_use (
    object_type VARCHAR(16) NOT NULL,
    object_name VARCHAR(255) NOT NULL,
    rate_limit VARCHAR(255) NOT NULL,
    PRIMARY KEY (object_type, object_name),
    CONSTRAINT rate_limit_use_def FOREIGN KEY (rate_limit) REFERENCES rate_limit_def (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

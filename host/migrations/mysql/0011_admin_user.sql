-- See the SQLite migration of the same name: admin API users.
CREATE TABLE admin_user (
    username VARCHAR(255) NOT NULL PRIMARY KEY,
    password_hash LONGTEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

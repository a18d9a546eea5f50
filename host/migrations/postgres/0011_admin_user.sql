-- See the SQLite migration of the same name: admin API users.
CREATE TABLE admin_user (
    username VARCHAR(255) COLLATE "C" NOT NULL PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

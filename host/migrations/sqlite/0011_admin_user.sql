-- Admin API users besides each server's configured admin: an argon2id hash of the
-- password (PHC string), never the password. Times are ms since the Unix epoch.
CREATE TABLE admin_user (
    username TEXT NOT NULL PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

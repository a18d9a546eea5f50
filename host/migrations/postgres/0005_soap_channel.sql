-- See the SQLite migration of the same name: SOAP channels.
CREATE TABLE soap_channel (
    name VARCHAR(255) COLLATE "C" NOT NULL PRIMARY KEY,
    path VARCHAR(700) COLLATE "C" NOT NULL UNIQUE,
    services TEXT NOT NULL,
    versions TEXT NOT NULL DEFAULT '',
    timeout_ms BIGINT NOT NULL DEFAULT 0,
    namespace TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

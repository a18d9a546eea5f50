-- Security definitions: the named ways a channel checks who calls it (HTTP basic auth,
-- API keys). A name is unique across types. `settings` is the admin API's
-- `SecuritySettings` as JSON (it repeats the type as its `type` field, kept equal to
-- `sec_type` by every write). Only a hash of the secret is stored: argon2id (PHC
-- string) of a basic-auth password, `sha256:` and the hex digest of an API key; it is
-- read by one query only, for the servers' live table. Times are ms since the Unix
-- epoch (the server's clock).
CREATE TABLE security_def (
    name TEXT NOT NULL PRIMARY KEY,
    sec_type TEXT NOT NULL,
    settings TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

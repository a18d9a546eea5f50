-- See the SQLite migration of the same name: component bytes by sha256, in chunks.
CREATE TABLE service_blob (
    sha256 VARCHAR(64) COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (sha256, seq)
);

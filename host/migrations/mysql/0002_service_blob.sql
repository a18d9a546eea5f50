-- See the SQLite migration of the same name: component bytes by sha256, in chunks.
CREATE TABLE service_blob (
    sha256 VARCHAR(64) NOT NULL,
    seq BIGINT NOT NULL,
    data LONGBLOB NOT NULL,
    PRIMARY KEY (sha256, seq)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- See the SQLite migration of the same name: messaging channels, the secret apart.
CREATE TABLE msg_channel (
    chan_type VARCHAR(16) NOT NULL,
    name VARCHAR(255) NOT NULL,
    active BIGINT NOT NULL,
    service VARCHAR(255) NOT NULL,
    data_format VARCHAR(16) NOT NULL,
    settings LONGTEXT NOT NULL,
    secret LONGTEXT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (chan_type, name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

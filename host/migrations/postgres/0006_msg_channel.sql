-- See the SQLite migration of the same name: messaging channels, the secret apart.
CREATE TABLE msg_channel (
    chan_type VARCHAR(16) COLLATE "C" NOT NULL,
    name VARCHAR(255) COLLATE "C" NOT NULL,
    active BIGINT NOT NULL,
    service VARCHAR(255) COLLATE "C" NOT NULL,
    data_format VARCHAR(16) NOT NULL,
    settings TEXT NOT NULL,
    secret TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (chan_type, name)
);

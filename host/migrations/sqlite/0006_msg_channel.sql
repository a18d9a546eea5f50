-- Messaging channels: AMQP queues and ZeroMQ sockets whose messages invoke a service. A
-- name is unique within its type. `settings` is the admin API's `MsgChannelSettings` as
-- JSON (it repeats the type as its `type` field, kept equal to `chan_type` by every
-- write). The secret (the broker's password) is stored apart, NULL when none is set,
-- so that no query that reads settings reads it by accident. `data_format` is `json`,
-- `xml` or `raw`. Times are ms since the Unix epoch (the server's clock).
CREATE TABLE msg_channel (
    chan_type TEXT NOT NULL,
    name TEXT NOT NULL,
    active INTEGER NOT NULL,
    service TEXT NOT NULL,
    data_format TEXT NOT NULL,
    settings TEXT NOT NULL,
    secret TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (chan_type, name)
);

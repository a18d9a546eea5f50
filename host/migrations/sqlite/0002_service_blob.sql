-- The bytes of deployed components, content-addressed by sha256 and stored in chunks:
-- a large component is written in many short statements, so that it never holds the
-- database for long (a server's heartbeat waits behind a long write), no statement
-- carries more than a chunk (MySQL's max_allowed_packet), and the same bytes deployed
-- again are stored once. A version row whose `bytes` are shorter than its `size` has
-- its bytes here; rows written before this table hold them inline.
CREATE TABLE service_blob (
    sha256 TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (sha256, seq)
);

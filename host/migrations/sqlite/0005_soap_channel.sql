-- SOAP channels: a URL path on the HTTP listener where SOAP clients call services.
-- `services` lists the channel's services, comma-separated (a service name has no
-- comma), in the order given; `versions` the SOAP versions accepted, comma-separated
-- (`1.1`, `1.2`), empty for both; `namespace` the WSDL's target namespace, empty for
-- the default. A path is unique among SOAP channels here, and the admin API refuses
-- one that an HTTP channel takes (the route table of the listener holds both).
CREATE TABLE soap_channel (
    name TEXT NOT NULL PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    services TEXT NOT NULL,
    versions TEXT NOT NULL DEFAULT '',
    timeout_ms INTEGER NOT NULL DEFAULT 0,
    namespace TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);

-- Rate limits and IP allow lists: named definitions of `source = limit` lines
-- (`rules`: the admin API's lines as a JSON array of strings), counted cluster-wide
-- (`exact` 1) or per server (0). Times are ms since the Unix epoch.
CREATE TABLE rate_limit_def (
    name TEXT NOT NULL PRIMARY KEY,
    rules TEXT NOT NULL,
    exact INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- What each definition is attached to: a security definition (`security`), an HTTP or
-- a SOAP channel (`http-channel`, `soap-channel`) or a service (`service`), one
-- definition per object. The foreign key keeps a definition from being deleted while
-- attached, and an object from naming one that does not exist; the object's own
-- deletion removes its row (the admin API does), and a service need not be deployed.
CREATE TABLE rate_limit_use (
    object_type TEXT NOT NULL,
    object_name TEXT NOT NULL,
    rate_limit TEXT NOT NULL REFERENCES rate_limit_def (name),
    PRIMARY KEY (object_type, object_name)
);

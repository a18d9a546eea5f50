-- Channels name the security definition a caller must satisfy (NULL: none). The
-- foreign key keeps a definition from being deleted while a channel names it, and a
-- channel from naming one that does not exist; sqlx turns SQLite's foreign keys on for
-- every connection. A definition is never renamed, so nothing cascades.
ALTER TABLE http_channel ADD COLUMN security TEXT REFERENCES security_def (name);
ALTER TABLE soap_channel ADD COLUMN security TEXT REFERENCES security_def (name);

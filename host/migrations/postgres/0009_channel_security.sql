-- See the SQLite migration of the same name: the security definition of a channel.
ALTER TABLE http_channel ADD COLUMN security VARCHAR(255) COLLATE "C" REFERENCES security_def (name);
ALTER TABLE soap_channel ADD COLUMN security VARCHAR(255) COLLATE "C" REFERENCES security_def (name);

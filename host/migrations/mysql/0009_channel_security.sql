-- See the SQLite migration of the same name: the security definition of a channel.
ALTER TABLE http_channel ADD COLUMN security VARCHAR(255) NULL,
    ADD CONSTRAINT http_channel_security FOREIGN KEY (security) REFERENCES security_def (name);
ALTER TABLE soap_channel ADD COLUMN security VARCHAR(255) NULL,
    ADD CONSTRAINT soap_channel_security FOREIGN KEY (security) REFERENCES security_def (name);

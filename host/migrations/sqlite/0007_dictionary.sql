-- Data dictionaries: entries (a value of a key in a system) and translations between
-- two entries, usable both ways. An entry's id is the SHA-256 (hex) of its system, key
-- and value, so every server names an entry alike without a sequence; a translation
-- is stored once, its two ids in ascending order. The ODB checks names (1 to 128
-- characters) and values (1 to 255) before any write, and keeps each entry at most one
-- translation into each other (system, key).
CREATE TABLE dict_entry (
    id TEXT NOT NULL PRIMARY KEY,
    dict_system TEXT NOT NULL,
    entry_key TEXT NOT NULL,
    entry_value TEXT NOT NULL
);
CREATE INDEX dict_entry_system_key ON dict_entry (dict_system, entry_key);

CREATE TABLE dict_translation (
    entry1 TEXT NOT NULL,
    entry2 TEXT NOT NULL,
    PRIMARY KEY (entry1, entry2)
) WITHOUT ROWID;
CREATE INDEX dict_translation_entry2 ON dict_translation (entry2);

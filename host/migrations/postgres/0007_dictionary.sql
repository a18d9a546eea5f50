-- See the SQLite migration of the same name: data dictionaries.
CREATE TABLE dict_entry (
    id VARCHAR(64) COLLATE "C" NOT NULL PRIMARY KEY,
    dict_system VARCHAR(128) COLLATE "C" NOT NULL,
    entry_key VARCHAR(128) COLLATE "C" NOT NULL,
    entry_value VARCHAR(255) COLLATE "C" NOT NULL
);
CREATE INDEX dict_entry_system_key ON dict_entry (dict_system, entry_key);

CREATE TABLE dict_translation (
    entry1 VARCHAR(64) COLLATE "C" NOT NULL,
    entry2 VARCHAR(64) COLLATE "C" NOT NULL,
    PRIMARY KEY (entry1, entry2)
);
CREATE INDEX dict_translation_entry2 ON dict_translation (entry2);

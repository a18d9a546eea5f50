-- See the SQLite migration of the same name: the scheduler's jobs, calendars, runs and
-- the singleton's lease.
CREATE TABLE scheduler_job (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    service VARCHAR(255) NOT NULL,
    definition LONGTEXT NOT NULL,
    active BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE scheduler_calendar (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    description LONGTEXT NOT NULL DEFAULT (''),
    dates LONGTEXT NOT NULL DEFAULT ('[]')
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE scheduler_run (
    job VARCHAR(255) NOT NULL,
    fire_time BIGINT NOT NULL,
    run_trigger VARCHAR(16) NOT NULL,
    epoch BIGINT NOT NULL,
    planned_at BIGINT NOT NULL,
    server VARCHAR(255) NULL,
    started_at BIGINT NULL,
    duration_ms BIGINT NULL,
    outcome VARCHAR(16) NOT NULL,
    detail LONGTEXT NULL,
    PRIMARY KEY (job, fire_time)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE INDEX scheduler_run_planned_at ON scheduler_run (planned_at);

CREATE TABLE singleton_lease (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    holder VARCHAR(255) NULL,
    epoch BIGINT NOT NULL DEFAULT 0,
    acquired_at BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL DEFAULT 0
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

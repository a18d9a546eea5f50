-- See the SQLite migration of the same name: the scheduler's jobs, calendars, runs and
-- the singleton's lease.
CREATE TABLE scheduler_job (
    name VARCHAR(255) COLLATE "C" NOT NULL PRIMARY KEY,
    service VARCHAR(255) COLLATE "C" NOT NULL,
    definition TEXT NOT NULL,
    active BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE scheduler_calendar (
    name VARCHAR(255) COLLATE "C" NOT NULL PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    dates TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE scheduler_run (
    job VARCHAR(255) COLLATE "C" NOT NULL,
    fire_time BIGINT NOT NULL,
    run_trigger VARCHAR(16) COLLATE "C" NOT NULL,
    epoch BIGINT NOT NULL,
    planned_at BIGINT NOT NULL,
    server VARCHAR(255) COLLATE "C",
    started_at BIGINT,
    duration_ms BIGINT,
    outcome VARCHAR(16) COLLATE "C" NOT NULL,
    detail TEXT,
    PRIMARY KEY (job, fire_time)
);
CREATE INDEX scheduler_run_planned_at ON scheduler_run (planned_at);

CREATE TABLE singleton_lease (
    name VARCHAR(255) COLLATE "C" NOT NULL PRIMARY KEY,
    holder VARCHAR(255) COLLATE "C",
    epoch BIGINT NOT NULL DEFAULT 0,
    acquired_at BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL DEFAULT 0
);

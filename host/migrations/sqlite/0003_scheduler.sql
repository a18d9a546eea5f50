-- The scheduler: jobs, calendars, the recorded firings (runs) and the singleton's lease.
-- Times are ms since the Unix epoch; a lease's times come from the database's clock.

-- A job: its definition is the admin API's `Job` as JSON; `service` and `active` repeat
-- two of its fields as columns, kept equal to them by every write.
CREATE TABLE scheduler_job (
    name TEXT NOT NULL PRIMARY KEY,
    service TEXT NOT NULL,
    definition TEXT NOT NULL,
    active INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- A calendar: the dates (JSON array of `YYYY-MM-DD`) on which the jobs naming it rest.
CREATE TABLE scheduler_calendar (
    name TEXT NOT NULL PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    dates TEXT NOT NULL DEFAULT '[]'
);

-- Every recorded firing, once per (job, fire time): the key is what makes a firing
-- recorded once whatever two servers believe. The key also serves a job's runs newest
-- first and the latest run of each job; `planned_at` (when it was recorded) serves the
-- pruning. `outcome` is pending, ok, error, missing or skipped; `run_trigger`
-- schedule, missed or manual; server, started_at, duration_ms and detail are NULL until
-- a server finished the run.
CREATE TABLE scheduler_run (
    job TEXT NOT NULL,
    fire_time INTEGER NOT NULL,
    run_trigger TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    planned_at INTEGER NOT NULL,
    server TEXT,
    started_at INTEGER,
    duration_ms INTEGER,
    outcome TEXT NOT NULL,
    detail TEXT,
    PRIMARY KEY (job, fire_time)
) WITHOUT ROWID;
CREATE INDEX scheduler_run_planned_at ON scheduler_run (planned_at);

-- A lease (`scheduler` for the singleton): who holds it, until when (the database's
-- clock) and the epoch, the fencing token, which grows by one at every takeover.
CREATE TABLE singleton_lease (
    name TEXT NOT NULL PRIMARY KEY,
    holder TEXT,
    epoch INTEGER NOT NULL DEFAULT 0,
    acquired_at INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL DEFAULT 0
);

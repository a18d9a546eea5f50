//! The scheduler's routes: jobs, their runs and next fire times, previews, calendars
//! and the singleton.

use serde::Serialize;

use super::{AdminClient, Body, ClientError, Method, segment};
use crate::scheduler::{Calendar, Deleted, Job, JobInfo, Preview, Run, RunQueued, SingletonInfo};

const JOBS: &str = "/zato/api/scheduler/jobs";
const CALENDARS: &str = "/zato/api/scheduler/calendars";

impl AdminClient {
    async fn send_json<B: Serialize, T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let body = serde_json::to_value(body).expect("a scheduler object serialises");
        self.send(method, path, Body::Json(body)).await?.json()
    }

    /// `GET /zato/api/scheduler/jobs`: the jobs, by name, each with its next fire time
    /// and latest run.
    pub async fn jobs(&self) -> Result<Vec<JobInfo>, ClientError> {
        self.get(JOBS).await
    }

    /// `GET /zato/api/scheduler/jobs/{name}`: one job.
    pub async fn job(&self, name: &str) -> Result<JobInfo, ClientError> {
        self.get(&format!("{JOBS}/{}", segment(name))).await
    }

    /// `POST /zato/api/scheduler/jobs`: creates a job (its service need not be deployed
    /// yet); returns it with its next fire time.
    pub async fn create_job(&self, job: &Job) -> Result<JobInfo, ClientError> {
        self.send_json(Method::POST, JOBS, job).await
    }

    /// `PUT /zato/api/scheduler/jobs/{name}`: replaces job `name`'s definition
    /// (`job.name` must be `name`: a job is not renamed).
    pub async fn update_job(&self, name: &str, job: &Job) -> Result<JobInfo, ClientError> {
        self.send_json(Method::PUT, &format!("{JOBS}/{}", segment(name)), job)
            .await
    }

    /// `DELETE /zato/api/scheduler/jobs/{name}`: deletes a job and its runs.
    pub async fn delete_job(&self, name: &str) -> Result<Deleted, ClientError> {
        let path = format!("{JOBS}/{}", segment(name));
        self.send(Method::DELETE, &path, Body::Empty).await?.json()
    }

    /// `POST /zato/api/scheduler/jobs/{name}/pause`: the job keeps its definition and
    /// does not fire.
    pub async fn pause_job(&self, name: &str) -> Result<JobInfo, ClientError> {
        let path = format!("{JOBS}/{}/pause", segment(name));
        self.send(Method::POST, &path, Body::Empty).await?.json()
    }

    /// `POST /zato/api/scheduler/jobs/{name}/resume`: a paused job fires again.
    pub async fn resume_job(&self, name: &str) -> Result<JobInfo, ClientError> {
        let path = format!("{JOBS}/{}/resume", segment(name));
        self.send(Method::POST, &path, Body::Empty).await?.json()
    }

    /// `POST /zato/api/scheduler/jobs/{name}/run`: records a firing now and queues it
    /// (whether the job is paused or not); returns it, `pending`.
    pub async fn run_job(&self, name: &str) -> Result<RunQueued, ClientError> {
        let path = format!("{JOBS}/{}/run", segment(name));
        self.send(Method::POST, &path, Body::Empty).await?.json()
    }

    /// `GET /zato/api/scheduler/jobs/{name}/runs`: the job's latest runs, newest
    /// first; `limit` 1 to 10,000 (the server's 100 when none).
    pub async fn job_runs(&self, name: &str, limit: Option<u32>) -> Result<Vec<Run>, ClientError> {
        let mut path = format!("{JOBS}/{}/runs", segment(name));
        if let Some(limit) = limit {
            path.push_str(&format!("?limit={limit}"));
        }
        self.get(&path).await
    }

    /// `GET /zato/api/scheduler/jobs/{name}/next`: the job's next `count` fire times
    /// (the server's 10 when none) after `from` (ISO 8601; now when none), ISO 8601 in
    /// the job's time zone.
    pub async fn job_next(
        &self,
        name: &str,
        count: Option<u32>,
        from: Option<&str>,
    ) -> Result<Vec<String>, ClientError> {
        let mut query = Vec::new();
        if let Some(count) = count {
            query.push(format!("count={count}"));
        }
        if let Some(from) = from {
            query.push(format!("from={}", segment(from)));
        }
        let mut path = format!("{JOBS}/{}/next", segment(name));
        if !query.is_empty() {
            path.push('?');
            path.push_str(&query.join("&"));
        }
        self.get(&path).await
    }

    /// `POST /zato/api/scheduler/preview`: the next fire times of a job that need not
    /// exist, to check a schedule before creating a job.
    pub async fn preview(&self, preview: &Preview) -> Result<Vec<String>, ClientError> {
        self.send_json(Method::POST, "/zato/api/scheduler/preview", preview)
            .await
    }

    /// `GET /zato/api/scheduler/calendars`: the calendars, by name.
    pub async fn calendars(&self) -> Result<Vec<Calendar>, ClientError> {
        self.get(CALENDARS).await
    }

    /// `GET /zato/api/scheduler/calendars/{name}`: one calendar.
    pub async fn calendar(&self, name: &str) -> Result<Calendar, ClientError> {
        self.get(&format!("{CALENDARS}/{}", segment(name))).await
    }

    /// `POST /zato/api/scheduler/calendars`: creates a calendar.
    pub async fn create_calendar(&self, calendar: &Calendar) -> Result<Calendar, ClientError> {
        self.send_json(Method::POST, CALENDARS, calendar).await
    }

    /// `PUT /zato/api/scheduler/calendars/{name}`: replaces calendar `name` (a
    /// `calendar.name` other than `name` renames it, unless jobs name it).
    pub async fn update_calendar(
        &self,
        name: &str,
        calendar: &Calendar,
    ) -> Result<Calendar, ClientError> {
        let path = format!("{CALENDARS}/{}", segment(name));
        self.send_json(Method::PUT, &path, calendar).await
    }

    /// `DELETE /zato/api/scheduler/calendars/{name}`: deletes a calendar no job names.
    pub async fn delete_calendar(&self, name: &str) -> Result<Deleted, ClientError> {
        let path = format!("{CALENDARS}/{}", segment(name));
        self.send(Method::DELETE, &path, Body::Empty).await?.json()
    }

    /// `GET /zato/api/singleton`: which server is the scheduler's singleton.
    pub async fn singleton(&self) -> Result<SingletonInfo, ClientError> {
        self.get("/zato/api/singleton").await
    }
}

//! `demo.scheduled`: a service for scheduler jobs.
//!
//! A firing's request says which job fired and for when: the channel kind is
//! `scheduler`, and `job()`, `fire_time()` (ISO 8601 in the job's time zone) and the
//! `trigger` detail (`schedule`, `missed` or `manual`) say the rest. The service logs
//! them and answers them with its payload, e.g.
//! `{"job": "tick", "fire_time": "2026-12-05T18:00:00+01:00", "trigger": "schedule", "payload": {...}}`.
//!
//! ```text
//! zato scheduler create --env dev --name tick --service demo.scheduled --interval-seconds 10
//! zato scheduler runs tick --env dev
//! ```
//!
//! Called through any other kind of channel, it refuses: a firing's details are what
//! it is about.

use zato_sdk::prelude::*;

/// Reports the firing it was called for.
#[zato_sdk::service(
    name = "demo.scheduled",
    description = "Logs and answers the scheduler job and fire time it was called for",
    output = "job: string, fire_time: string, trigger: string"
)]
fn scheduled(req: Request) -> Result<Response, Error> {
    if req.channel_kind() != ChannelKind::Scheduler {
        return Err(Error::bad_request(format!(
            "demo.scheduled runs from a scheduler job, not through a `{}` channel",
            req.channel_kind()
        )));
    }
    let (Some(job), Some(fire_time)) = (req.job(), req.fire_time()) else {
        return Err(Error::internal(
            "a scheduler request without its job or fire time",
        ));
    };
    let trigger = req.detail("trigger").unwrap_or("schedule");
    log::info!("job {job} fired for {fire_time} ({trigger})");
    let payload: serde_json::Value = serde_json::from_slice(req.payload()).unwrap_or_default();
    Response::json(&serde_json::json!({
        "job": job,
        "fire_time": fire_time,
        "trigger": trigger,
        "payload": payload,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_firing_is_answered_with_its_job_and_time() {
        let req = Request::builder()
            .channel(ChannelKind::Scheduler, "tick")
            .detail("job", "tick")
            .detail("fire-time", "2027-03-28T03:00:00+02:00")
            .detail("trigger", "schedule")
            .payload(br#"{"n":1}"#.to_vec())
            .build();
        let response = scheduled(req).unwrap();
        let answer: serde_json::Value = serde_json::from_slice(response.payload()).unwrap();
        assert_eq!(answer["job"], "tick");
        assert_eq!(answer["fire_time"], "2027-03-28T03:00:00+02:00");
        assert_eq!(answer["payload"]["n"], 1);
    }

    #[test]
    fn any_other_channel_is_refused() {
        let err = scheduled(Request::builder().http("GET", "/x").build()).unwrap_err();
        assert!(err.to_string().contains("scheduler job"), "{err}");
    }
}

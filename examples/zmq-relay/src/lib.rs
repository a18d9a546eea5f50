//! `demo.zmq-relay`: fed by a ZeroMQ PULL (or SUB) channel, it pushes each message on
//! through an outgoing ZeroMQ connection.
//!
//! A message that came in through a ZeroMQ channel goes out with its topic (for a
//! message of more than one frame, its first frame) and its payload (its last frame):
//! `["weather", "sunny"]` is relayed as `["weather", "sunny"]`, `["job-42"]` as
//! `["job-42"]`. With the configuration key `envelope` set to `json`, the payload is
//! replaced by a JSON description of where it came from:
//!
//! ```json
//! {"channel": "jobs-in", "socket": "pull", "address": "tcp://127.0.0.1:5555",
//!  "frames": 1, "topic": null, "payload": "job-42"}
//! ```
//!
//! Invoked through another channel (HTTP, the admin API), it sends the frames its JSON
//! payload lists: `{"frames": ["weather", "sunny"]}`.
//!
//! The connection is the configuration key `connection` (editable at run time; by
//! default `zmq-out`). A PUSH connection with no peer within its timeout is a `retry`
//! error, so the caller learns the message did not go on.

use serde::{Deserialize, Serialize};
use zato_sdk::prelude::*;
use zato_sdk::zeromq;

/// The connection used when the `connection` key is not set.
const DEFAULT_CONNECTION: &str = "zmq-out";

/// What another channel asks to send.
#[derive(Debug, Deserialize)]
struct Send {
    frames: Vec<String>,
}

/// Where a relayed message came from (the `envelope = json` payload).
#[derive(Debug, Serialize)]
struct Envelope<'a> {
    channel: &'a str,
    socket: Option<&'a str>,
    address: Option<&'a str>,
    frames: usize,
    topic: Option<&'a str>,
    payload: String,
}

/// The frames to send for a message from a ZeroMQ channel.
fn relayed(req: &Request) -> Result<Vec<Vec<u8>>, Error> {
    let topic = req.detail("topic");
    let payload = if config::get("envelope").as_deref() == Some("json") {
        let envelope = Envelope {
            channel: req.channel_name(),
            socket: req.detail("socket"),
            address: req.detail("address"),
            frames: req
                .detail("frames")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1),
            topic,
            payload: String::from_utf8_lossy(req.payload()).into_owned(),
        };
        serde_json::to_vec(&envelope)
            .map_err(|e| Error::internal(format!("cannot encode the envelope: {e}")))?
    } else {
        req.payload().to_vec()
    };
    Ok(topic
        .map(|t| t.as_bytes().to_vec())
        .into_iter()
        .chain([payload])
        .collect())
}

/// Pushes each message of a ZeroMQ channel on through an outgoing ZeroMQ connection.
#[zato_sdk::service(
    name = "demo.zmq-relay",
    description = "Pushes each message of a ZeroMQ channel on through the outgoing ZeroMQ connection `zmq-out`"
)]
fn relay(req: Request) -> Result<Response, Error> {
    let frames = match req.channel_kind() {
        ChannelKind::Zeromq => relayed(&req)?,
        _ => {
            let send: Send = req.json()?;
            send.frames.into_iter().map(String::into_bytes).collect()
        }
    };
    let connection = config::get_or("connection", DEFAULT_CONNECTION);
    zeromq::send(&connection, &frames)?;
    log::info!(
        "relayed a message of {} frames through `{connection}`",
        frames.len()
    );
    Response::json(&serde_json::json!({ "relayed": frames.len(), "connection": connection }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zeromq_message_keeps_its_topic_and_payload() {
        let req = Request::builder()
            .channel(ChannelKind::Zeromq, "feed-in")
            .detail("socket", "sub")
            .detail("frames", "2")
            .detail("topic", "weather")
            .payload("sunny")
            .build();
        assert_eq!(
            relayed(&req).unwrap(),
            vec![b"weather".to_vec(), b"sunny".to_vec()]
        );
        let one = Request::builder()
            .channel(ChannelKind::Zeromq, "jobs-in")
            .detail("frames", "1")
            .payload("job-42")
            .build();
        assert_eq!(relayed(&one).unwrap(), vec![b"job-42".to_vec()]);
    }

    #[test]
    fn natively_there_is_no_connection() {
        let req = Request::builder()
            .json(&serde_json::json!({"frames": ["a", "b"]}))
            .build();
        let err = relay(req).unwrap_err();
        assert_eq!(err.status(), 404);
        assert!(err.message().contains("`zmq-out`"), "{err}");
    }

    #[test]
    fn another_channel_must_list_the_frames() {
        let req = Request::builder().payload("not json").build();
        assert_eq!(relay(req).unwrap_err().status(), 400);
    }
}

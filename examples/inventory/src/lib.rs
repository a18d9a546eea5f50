//! `demo.inventory`: stock levels kept in the cluster's KVDB, changed under a lock.
//!
//! ```json
//! {"sku": "A-1", "put": 10}     -> {"sku": "A-1", "left": 10, "fence": 1}
//! {"sku": "A-1", "take": 3}     -> {"sku": "A-1", "left": 7, "fence": 2}
//! {"sku": "A-1", "take": 9}     -> 409: only 7 of A-1 left
//! {"sku": "A-1"}                -> {"sku": "A-1", "left": 7, "fence": null}
//! ```
//!
//! A reservation reads the level, checks it and writes the new one: three steps that two
//! servers must not interleave, or both would sell the last item. So each change holds
//! the lock `stock:{sku}` (cluster-wide, through the `lock` import) for its duration;
//! the lock's fencing token is in the answer. Stock levels live in the shared
//! namespace `stock`, which other services may read too; the count of reservations
//! made is in the service's own namespace (`kv::increment`, atomic without a lock).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use zato_sdk::prelude::*;
use zato_sdk::{kv, lock};

/// How long a change waits for another to finish.
const WAIT: Duration = Duration::from_secs(5);
/// How long a change may hold the lock at most.
const HOLD: Duration = Duration::from_secs(10);

/// What the caller asks.
#[derive(Debug, Deserialize)]
struct Ask {
    sku: String,
    #[serde(default)]
    take: Option<u32>,
    #[serde(default)]
    put: Option<u32>,
}

/// What the service answers.
#[derive(Debug, Serialize, PartialEq, Eq)]
struct Level {
    sku: String,
    left: i64,
    /// The fencing token of the change; `None` for a read.
    fence: Option<u64>,
}

fn left(sku: &str) -> Result<i64, Error> {
    Ok(kv::shared("stock").get_json::<i64>(sku)?.unwrap_or(0))
}

/// Reserves (`take`), restocks (`put`) or reads the stock of `sku`.
#[zato_sdk::service(
    name = "demo.inventory",
    description = "Reserves and restocks items under a cluster-wide lock"
)]
fn inventory(req: Request) -> Result<Response, Error> {
    let ask: Ask = req.json()?;
    if ask.sku.is_empty() || ask.sku.len() > 64 {
        return Err(Error::BadRequest("`sku` must be 1 to 64 bytes".into()));
    }
    let change = match (ask.take, ask.put) {
        (Some(_), Some(_)) => {
            return Err(Error::BadRequest(
                "ask to `take` or to `put`, not both".into(),
            ));
        }
        (Some(n), None) => -i64::from(n),
        (None, Some(n)) => i64::from(n),
        (None, None) => {
            return Response::json(&Level {
                left: left(&ask.sku)?,
                sku: ask.sku,
                fence: None,
            });
        }
    };
    let guard = lock::acquire(&format!("stock:{}", ask.sku), WAIT, HOLD)?;
    let now = left(&ask.sku)?;
    if now + change < 0 {
        return Err(Error::Conflict(format!("only {now} of {} left", ask.sku)));
    }
    kv::shared("stock").set_json(&ask.sku, &(now + change))?;
    if change < 0 {
        kv::increment("reservations", 1)?;
    }
    Response::json(&Level {
        fence: Some(guard.fence()),
        left: now + change,
        sku: ask.sku,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zato_sdk::serde_json::{self, Value, json};

    fn ask(body: &str) -> Result<Value, Error> {
        let input: Value = serde_json::from_str(body).unwrap();
        let response = inventory(Request::builder().json(&input).build())?;
        Ok(serde_json::from_slice(response.payload()).unwrap())
    }

    #[test]
    fn reserves_what_is_there_and_no_more() {
        assert_eq!(
            ask(r#"{"sku": "A-1", "put": 10}"#).unwrap(),
            json!({"sku": "A-1", "left": 10, "fence": 1})
        );
        assert_eq!(ask(r#"{"sku": "A-1", "take": 3}"#).unwrap()["left"], 7);
        let err = ask(r#"{"sku": "A-1", "take": 9}"#).unwrap_err();
        assert_eq!(err.status(), 409);
        assert_eq!(ask(r#"{"sku": "A-1"}"#).unwrap()["left"], 7);
        assert_eq!(
            kv::get_string("reservations").unwrap().as_deref(),
            Some("1")
        );
        assert_eq!(ask(r#"{"sku": "", "take": 1}"#).unwrap_err().status(), 400);
    }
}

//! `demo.outgoing-http`: reads a customer from a CRM's REST API through the outgoing
//! HTTP connection `crm` and reshapes the answer.
//!
//! `GET /demo/outgoing-http?id=42` makes the connection `GET /customers/42` under its
//! base URL, and answers `{"id": "42", "name": "Ada Lovelace", "city": "London",
//! "orders": 2}` from the CRM's
//! `{"id": 42, "first_name": "Ada", "last_name": "Lovelace", "address": {"city":
//! "London"}, "orders": [...]}`.
//!
//! Its configuration (editable at run time) may name another connection
//! (`connection`) and another path (`path`, where `{id}` stands for the id,
//! percent-encoded). A customer the CRM does not know is a 404; any other error status
//! of the CRM, or no answer, fails the request naming it.

use serde::Deserialize;
use zato_sdk::outgoing::{self, OutgoingError};
use zato_sdk::prelude::*;

/// The connection used when the `connection` key is not set.
const DEFAULT_CONNECTION: &str = "crm";
/// The path used when the `path` key is not set.
const DEFAULT_PATH: &str = "/customers/{id}";

/// A customer as the CRM describes it (fields the service does not use are ignored).
#[derive(Deserialize)]
struct CrmCustomer {
    id: serde_json::Value,
    first_name: String,
    last_name: String,
    #[serde(default)]
    address: Option<Address>,
    #[serde(default)]
    orders: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Address {
    city: Option<String>,
}

/// Reads and reshapes a customer from the CRM.
#[zato_sdk::service(
    name = "demo.outgoing-http",
    description = "Reads a customer from the CRM through the outgoing HTTP connection `crm` and reshapes it",
    output = "id: string, name: string, city: string?, orders: integer"
)]
fn customer(req: Request) -> Result<Response, Error> {
    let Some(id) = req.query("id").or_else(|| req.param("id")) else {
        return Err(Error::bad_request("`id` is required, e.g. `?id=42`"));
    };
    check_id(id)?;
    let connection = config::get_or("connection", DEFAULT_CONNECTION);
    let path = config::get_or("path", DEFAULT_PATH).replace("{id}", &encode(id));
    let response = outgoing::http(&connection)
        .get(&path)
        .header("accept", "application/json")
        .header("x-zato-cid", req.cid())
        .send()?;
    if response.status() == 404 {
        return Err(Error::not_found(format!(
            "customer `{id}` is not in `{connection}`"
        )));
    }
    let customer: CrmCustomer = response
        .error_for_status()
        .map_err(|err| match err {
            OutgoingError::Status(status, _) => Error::internal(format!(
                "`{connection}` answered HTTP {status} for customer `{id}`"
            )),
            other => other.into(),
        })?
        .json()?;
    let id = match customer.id {
        serde_json::Value::String(id) => id,
        other => other.to_string(),
    };
    Response::json(&serde_json::json!({
        "id": id,
        "name": format!("{} {}", customer.first_name, customer.last_name),
        "city": customer.address.and_then(|address| address.city),
        "orders": customer.orders.len(),
    }))
}

/// A customer id is one path segment of the CRM's: a client's `..`, `/` or `\\` is
/// its mistake (400), refused before anything is sent. (The host refuses a path
/// leaving the connection's base URL anyway, as the service's own error.)
fn check_id(id: &str) -> Result<(), Error> {
    if id.trim().is_empty() || id == "." || id == ".." || id.contains(['/', '\\']) {
        return Err(Error::bad_request(format!(
            "`id` `{id}` is not a customer id: it may not be empty, `.` or `..`, nor hold `/` or `\\`"
        )));
    }
    Ok(())
}

/// Percent-encodes an id for a path segment: `..` or `/` in an id stay data.
fn encode(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_required() {
        let err = customer(Request::builder().build()).unwrap_err();
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn natively_no_connection_is_configured() {
        let err = customer(Request::builder().query("id", "42").build()).unwrap_err();
        assert!(err.message().contains("`crm`"), "{err}");
    }

    #[test]
    fn an_id_that_would_leave_its_segment_is_the_client_s_mistake() {
        for id in ["..", ".", "../../admin", "a/b", "a\\b", " "] {
            let err = customer(Request::builder().query("id", id).build()).unwrap_err();
            assert_eq!(err.status(), 400, "{id}: {err}");
            assert!(err.message().contains("is not a customer id"), "{err}");
        }
    }

    #[test]
    fn an_id_is_encoded_as_data() {
        assert_eq!(encode("../x y"), "%2E%2E%2Fx%20y");
        assert_eq!(encode("A-42_z"), "A-42_z");
    }
}

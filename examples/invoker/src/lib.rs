//! `demo.invoker`: calls another service and wraps its answer.
//!
//! Passes its JSON payload (and a `name` path or query parameter, if any) on to
//! `demo.hello` through the host's `invoke` capability and answers
//! `{"from": "demo.hello", "answer": {...}}`. An error of `demo.hello`, or the host's
//! when it is not deployed, is passed back unchanged.

use zato_sdk::prelude::*;
use zato_sdk::serde_json::{Value, json};

/// The service this one invokes.
const CALLEE: &str = "demo.hello";

/// Invokes `demo.hello` and wraps its answer.
#[zato_sdk::service(
    name = "demo.invoker",
    description = "Invokes demo.hello with the request's JSON and wraps its answer",
    output = "from: string, answer: object"
)]
fn invoker(req: Request) -> Result<Response, Error> {
    let input = callee_input(&req)?;
    let answer: Value = invoke::invoke_json(CALLEE, &input)?;
    log::debug!("{CALLEE} answered {answer}");
    Response::json(&json!({ "from": CALLEE, "answer": answer }))
}

/// The JSON object to send: the request's payload (an empty one counts as `{}`), with
/// `name` taken from the path or query string when the request has one.
fn callee_input(req: &Request) -> Result<Value, Error> {
    let mut input = match req.json_value()? {
        Value::Null => json!({}),
        Value::Object(object) => Value::Object(object),
        _ => return Err(Error::bad_request("the payload must be a JSON object")),
    };
    if let Some(name) = req.path_param("name").or_else(|| req.query("name")) {
        input["name"] = Value::from(name);
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_merges_the_payload_and_the_name_parameter() {
        let req = Request::builder()
            .query("name", "Ada")
            .json(&json!({"name": "Bob", "extra": 1}))
            .build();
        assert_eq!(
            callee_input(&req).unwrap(),
            json!({"name": "Ada", "extra": 1})
        );
        assert_eq!(
            callee_input(&Request::builder().build()).unwrap(),
            json!({})
        );
    }

    #[test]
    fn a_payload_that_is_not_an_object_is_a_bad_request() {
        let req = Request::builder().json(&json!([1, 2])).build();
        assert!(matches!(callee_input(&req), Err(Error::BadRequest(_))));
    }

    #[test]
    fn the_callee_error_is_passed_back() {
        // Natively no service is deployed, so the host's `not-found` comes back.
        let err = invoker(Request::builder().build()).unwrap_err();
        assert!(matches!(err, Error::NotFound(m) if m.contains(CALLEE)));
    }
}

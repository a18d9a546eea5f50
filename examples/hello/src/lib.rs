//! `demo.hello`: the smallest useful service.
//!
//! Greets whoever the request names, looking in order at the `{name}` path parameter,
//! the `name` query parameter and the `name` field of a JSON payload, and falling back
//! to "world": `{"message": "Hello, Ada!"}`.

use serde::Deserialize;
use zato_sdk::prelude::*;

/// Who is greeted when the request names nobody.
const DEFAULT_NAME: &str = "world";

/// The optional JSON payload.
#[derive(Deserialize)]
struct Input {
    name: Option<String>,
}

/// Greets by name.
#[zato_sdk::service(
    name = "demo.hello",
    description = "Greets by name: path parameter, query parameter or JSON field `name`",
    output = "message: string"
)]
fn hello(req: Request) -> Result<Response, Error> {
    let name = name(&req)?;
    Response::json(&serde_json::json!({ "message": format!("Hello, {name}!") }))
}

/// The name to greet; blank values count as absent.
fn name(req: &Request) -> Result<String, Error> {
    let given = |value: &&str| !value.trim().is_empty();
    if let Some(name) = req.path_param("name").filter(given) {
        return Ok(name.to_owned());
    }
    if let Some(name) = req.query("name").filter(given) {
        return Ok(name.to_owned());
    }
    // An empty payload parses as `None`; anything else must be a JSON object.
    let input: Option<Input> = req.json()?;
    Ok(input
        .and_then(|input| input.name)
        .filter(|name| given(&name.as_str()))
        .unwrap_or_else(|| DEFAULT_NAME.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(req: Request) -> String {
        let response = hello(req).expect("demo.hello answers");
        let body: serde_json::Value = response.json_body().unwrap();
        body["message"].as_str().unwrap().to_owned()
    }

    #[test]
    fn path_param_wins_over_query_and_payload() {
        let req = Request::builder()
            .path_param("name", "Path")
            .query("name", "Query")
            .json(&serde_json::json!({"name": "Payload"}))
            .build();
        assert_eq!(message(req), "Hello, Path!");
    }

    #[test]
    fn query_wins_over_payload() {
        let req = Request::builder()
            .query("name", "Query")
            .json(&serde_json::json!({"name": "Payload"}))
            .build();
        assert_eq!(message(req), "Hello, Query!");
    }

    #[test]
    fn payload_field_is_used_last() {
        let req = Request::builder()
            .query("name", " ")
            .json(&serde_json::json!({"name": "Payload"}))
            .build();
        assert_eq!(message(req), "Hello, Payload!");
    }

    #[test]
    fn nobody_named_greets_the_world() {
        assert_eq!(message(Request::builder().build()), "Hello, world!");
        let req = Request::builder().json(&serde_json::json!({})).build();
        assert_eq!(message(req), "Hello, world!");
    }

    #[test]
    fn a_payload_that_is_not_a_json_object_is_a_bad_request() {
        let req = Request::builder().payload("Ada").build();
        assert!(matches!(hello(req), Err(Error::BadRequest(_))));
    }
}

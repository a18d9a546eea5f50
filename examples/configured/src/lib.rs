//! `demo.configured`: a service driven by its run-time configuration.
//!
//! Reads the keys `greeting` (default "Hello") and `target` (default "world") on every
//! request, so a change made in the web admin applies to the next request without a
//! redeploy: `{"message": "Hello, world!"}`.

use zato_sdk::prelude::*;

/// The greeting when the `greeting` key is not set.
const DEFAULT_GREETING: &str = "Hello";
/// Who is greeted when the `target` key is not set.
const DEFAULT_TARGET: &str = "world";

/// Greets as the configuration says.
#[zato_sdk::service(
    name = "demo.configured",
    description = "Greets with the configured `greeting` and `target`",
    output = "message: string"
)]
fn configured(_req: Request) -> Result<Response, Error> {
    let greeting = config::get_or("greeting", DEFAULT_GREETING);
    let target = config::get_or("target", DEFAULT_TARGET);
    log::info!("greeting {target:?} with {greeting:?}");
    Response::json(&serde_json::json!({ "message": format!("{greeting}, {target}!") }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_configuration_the_defaults_apply() {
        // Natively there is no host, so no configuration.
        let response = configured(Request::builder().build()).unwrap();
        assert_eq!(response.payload(), br#"{"message":"Hello, world!"}"#);
    }
}

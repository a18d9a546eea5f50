//! The admin API's OpenAPI 3.1 description, generated from the code.
//!
//! Each handler carries its `#[utoipa::path]` (path, parameters, request body, answers)
//! and `admin::api` adds a route only through utoipa-axum's `routes!`, which takes the
//! route from that same declaration: a route cannot exist undocumented. What every
//! authenticated route shares (the basic auth scheme, 401, 429 and 500) is added here
//! once, by [`finish`], rather than on each handler.

use std::sync::OnceLock;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Header, Ref, RefOr, Required, ResponseBuilder};

use crate::api::ErrorBody;

/// Where the description is served, without credentials.
pub const SPEC_PATH: &str = "/zato/api/openapi.json";

/// The name of the security scheme: HTTP basic auth with the admin's credentials.
const BASIC: &str = "basic";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "zato admin API",
        description = "Deploy, invoke and configure services and manage channels, \
            scheduler jobs, outgoing connections and data dictionaries on a zato server. Every route but this \
            description needs HTTP basic auth with the admin's credentials. Errors are JSON: \
            `{\"error\": \"...\"}`, with a `cid` when the request reached a service."
    ),
    tags(
        (name = "servers", description = "The server answering and the servers of its cluster"),
        (name = "services", description = "Deployed services: deploy, invoke, configure, roll back, delete"),
        (name = "channels", description = "HTTP and SOAP channels (URL paths routed to \
            services), AMQP channels (queues consumed) and ZeroMQ channels (PULL and SUB \
            sockets), each invoking a service"),
        (name = "scheduler", description = "Scheduler jobs (a service invoked one time, at \
            intervals or cron-style), their runs and next fire times, calendars of dates \
            on which jobs do not fire, and the singleton server that fires them"),
        (name = "outconns", description = "Outgoing connections (HTTP, SOAP, SQL, FTP, \
            AMQP, ZeroMQ): \
            the named ways services reach other systems, their secrets write-only, and a \
            ping of each"),
        (name = "statistics", description = "Usage statistics of services (calls, errors, \
            durations and their percentiles, over any span and point by point for charts), \
            each service's last call and its slowest ones"),
        (name = "dictionaries", description = "Data dictionaries: the values a key has in \
            each system and the translations between them, which services read through \
            `translate`; imported and exported as CSV or JSON"),
        (name = "security", description = "Security definitions (HTTP basic auth, API \
            keys, JWT, TLS client certificates): who may call a channel; their secrets \
            are write-only and kept as hashes"),
        (name = "rate-limits", description = "Rate limits and IP allow lists: \
            definitions of `source = limit` lines and what they are attached to \
            (security definitions, HTTP and SOAP channels, services)"),
        (name = "users", description = "Admin API users besides the configuration's \
            admin: their passwords are write-only and kept as argon2id hashes"),
        (name = "spec", description = "This description"),
    ),
    security(("basic" = [])),
    components(schemas(ErrorBody)),
    modifiers(&BasicAuth),
)]
pub struct ApiDoc;

struct BasicAuth;

impl utoipa::Modify for BasicAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BASIC,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "the admin user and password of the server's `[admin]` configuration",
                    ))
                    .build(),
            ),
        );
    }
}

/// Adds what every operation shares: the answers of the auth check (401, 429) and of
/// a server failure (500) to each authenticated one; no security to the public one.
pub fn finish(spec: &mut utoipa::openapi::OpenApi) {
    merge_tagged_variants(spec);
    for (path, item) in spec.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            if operation.operation_id.as_deref() == Some("invoke")
                && let Some(RefOr::T(body)) = &mut operation.request_body
            {
                // utoipa marks a body of listed content types required; an invoke
                // without a payload calls the service with an empty one.
                body.required = Some(Required::False);
            }
            if path == SPEC_PATH {
                operation.security = Some(Vec::new());
            } else {
                add_shared_answers(operation);
            }
        }
    }
}

/// An internally tagged enum whose variants are structs (`OutconnSettings`: `{"type":
/// "http", "address": ...}`) comes out of utoipa as `oneOf` of `allOf: [$ref Variant,
/// {type}]`; with `deny_unknown_fields` the variant says `additionalProperties: false`,
/// which forbids the tag the other half requires, so no value satisfies the schema
/// (schemathesis: "cannot generate test data"). Each such branch becomes one object:
/// the variant's properties and the tag, still closed to anything else, as the server
/// reads it.
fn merge_tagged_variants(spec: &mut utoipa::openapi::OpenApi) {
    use serde_json::Value;
    let Some(components) = spec.components.as_mut() else {
        return;
    };
    let all: Value = serde_json::to_value(&components.schemas).expect("schemas serialise");
    let mut changed = Vec::new();
    for (name, schema) in all.as_object().into_iter().flatten() {
        let Some(branches) = schema.get("oneOf").and_then(Value::as_array) else {
            continue;
        };
        let mut merged_any = false;
        let mut branches = branches.clone();
        for branch in &mut branches {
            let Some([Value::Object(first), Value::Object(tag)]) = branch
                .get("allOf")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
            else {
                continue;
            };
            let Some(target) = first
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .and_then(|r| all.get(r))
                .and_then(Value::as_object)
            else {
                continue;
            };
            if target.get("additionalProperties") != Some(&Value::Bool(false)) {
                continue;
            }
            let mut object = target.clone();
            let properties = object
                .entry("properties")
                .or_insert_with(|| Value::Object(Default::default()));
            if let (Some(properties), Some(Value::Object(extra))) =
                (properties.as_object_mut(), tag.get("properties"))
            {
                properties.extend(extra.clone());
            }
            let required = object
                .entry("required")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let (Some(required), Some(Value::Array(extra))) =
                (required.as_array_mut(), tag.get("required"))
            {
                required.extend(extra.iter().cloned());
            }
            if let Some(description) = branch.get("description") {
                object.insert("description".into(), description.clone());
            }
            *branch = Value::Object(object);
            merged_any = true;
        }
        if merged_any {
            let mut schema = schema.clone();
            schema["oneOf"] = Value::Array(branches);
            changed.push((name.clone(), schema));
        }
    }
    for (name, schema) in changed {
        let schema = serde_json::from_value(schema).expect("a merged schema reads back");
        components.schemas.insert(name, schema);
    }
}

fn add_shared_answers(operation: &mut Operation) {
    let answers = &mut operation.responses.responses;
    answers.insert(
        "401".into(),
        error("no credentials, or wrong ones")
            .header(
                "www-authenticate",
                string_header("the challenge: `Basic realm=\"zato admin\"`"),
            )
            .build()
            .into(),
    );
    answers.insert(
        "429".into(),
        error(
            "too many failed logins from this address (`[admin.login]`), or too many \
             logins being checked at once",
        )
        .header(
            "retry-after",
            Header::new(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0)),
            ),
        )
        .build()
        .into(),
    );
    answers.entry("500".into()).or_insert_with(|| {
        error("the server failed (its ODB or KVDB, say)")
            .build()
            .into()
    });
}

fn error(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    )
}

fn string_header(description: &str) -> Header {
    let mut header = Header::new(ObjectBuilder::new().schema_type(Type::String));
    header.description = Some(description.into());
    header
}

/// The description as JSON, built once.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        super::openapi()
            .to_pretty_json()
            .expect("the OpenAPI description serialises")
    })
}

/// This description, without credentials: it is no secret and tools fetch it.
#[utoipa::path(
    get,
    path = "/zato/api/openapi.json",
    tag = "spec",
    operation_id = "openapi",
    responses(
        (status = 200, description = "the admin API's OpenAPI 3.1 description",
            content_type = "application/json", body = Object),
    ),
)]
pub async fn spec() -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// Every operation of the description: (path, method, operation).
    fn operations(spec: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                out.push((path.clone(), method.clone(), operation.clone()));
            }
        }
        out
    }

    #[test]
    fn the_description_is_openapi_3_1_with_every_route_documented() {
        let spec: Value = serde_json::from_str(super::json()).unwrap();
        if std::env::var_os("ZATO_PRINT_SPEC").is_some() {
            println!("{}", super::json());
        }
        assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
        assert_eq!(
            spec["components"]["securitySchemes"]["basic"]["scheme"],
            "basic"
        );
        assert_eq!(spec["security"], serde_json::json!([{ "basic": [] }]));
        let mut routes: Vec<String> = operations(&spec)
            .iter()
            .map(|(path, method, _)| format!("{} {path}", method.to_uppercase()))
            .collect();
        routes.sort();
        assert_eq!(
            routes,
            [
                "DELETE /zato/api/channels/amqp/{name}",
                "DELETE /zato/api/channels/http/{name}",
                "DELETE /zato/api/channels/soap/{name}",
                "DELETE /zato/api/channels/zmq/{name}",
                "DELETE /zato/api/dictionaries/entries",
                "DELETE /zato/api/dictionaries/translations",
                "DELETE /zato/api/outconns/{type}/{name}",
                "DELETE /zato/api/rate-limits/{name}",
                "DELETE /zato/api/scheduler/calendars/{name}",
                "DELETE /zato/api/scheduler/jobs/{name}",
                "DELETE /zato/api/security/{name}",
                "DELETE /zato/api/services/{name}",
                "DELETE /zato/api/users/{username}",
                "GET /zato/api/async/{cid}",
                "GET /zato/api/channels/amqp",
                "GET /zato/api/channels/amqp/{name}",
                "GET /zato/api/channels/http",
                "GET /zato/api/channels/http/{name}",
                "GET /zato/api/channels/soap",
                "GET /zato/api/channels/soap/{name}",
                "GET /zato/api/channels/zmq",
                "GET /zato/api/channels/zmq/{name}",
                "GET /zato/api/dictionaries",
                "GET /zato/api/dictionaries/export",
                "GET /zato/api/dictionaries/translate",
                "GET /zato/api/openapi.json",
                "GET /zato/api/outconns",
                "GET /zato/api/outconns/{type}/{name}",
                "GET /zato/api/rate-limit-uses",
                "GET /zato/api/rate-limits",
                "GET /zato/api/rate-limits/{name}",
                "GET /zato/api/scheduler/calendars",
                "GET /zato/api/scheduler/calendars/{name}",
                "GET /zato/api/scheduler/jobs",
                "GET /zato/api/scheduler/jobs/{name}",
                "GET /zato/api/scheduler/jobs/{name}/next",
                "GET /zato/api/scheduler/jobs/{name}/runs",
                "GET /zato/api/security",
                "GET /zato/api/security/{name}",
                "GET /zato/api/server",
                "GET /zato/api/servers",
                "GET /zato/api/services",
                "GET /zato/api/services/{name}",
                "GET /zato/api/services/{name}/component",
                "GET /zato/api/services/{name}/config",
                "GET /zato/api/services/{name}/versions",
                "GET /zato/api/singleton",
                "GET /zato/api/stats/services/{name}",
                "GET /zato/api/stats/services/{name}/sample",
                "GET /zato/api/stats/services/{name}/series",
                "GET /zato/api/stats/services/{name}/slow",
                "GET /zato/api/stats/top",
                "GET /zato/api/users",
                "POST /zato/api/channels/amqp",
                "POST /zato/api/channels/http",
                "POST /zato/api/channels/soap",
                "POST /zato/api/channels/zmq",
                "POST /zato/api/dictionaries/import",
                "POST /zato/api/outconns/{type}",
                "POST /zato/api/outconns/{type}/{name}/ping",
                "POST /zato/api/rate-limits",
                "POST /zato/api/scheduler/calendars",
                "POST /zato/api/scheduler/jobs",
                "POST /zato/api/scheduler/jobs/{name}/pause",
                "POST /zato/api/scheduler/jobs/{name}/resume",
                "POST /zato/api/scheduler/jobs/{name}/run",
                "POST /zato/api/scheduler/preview",
                "POST /zato/api/security",
                "POST /zato/api/security/{name}/secret",
                "POST /zato/api/services",
                "POST /zato/api/services/{name}/invoke",
                "POST /zato/api/services/{name}/rollback",
                "POST /zato/api/users",
                "POST /zato/api/users/{username}/password",
                "PUT /zato/api/channels/amqp/{name}",
                "PUT /zato/api/channels/http/{name}",
                "PUT /zato/api/channels/soap/{name}",
                "PUT /zato/api/channels/zmq/{name}",
                "PUT /zato/api/dictionaries/translations",
                "PUT /zato/api/outconns/{type}/{name}",
                "PUT /zato/api/rate-limit-uses/{type}/{object}",
                "PUT /zato/api/rate-limits/{name}",
                "PUT /zato/api/scheduler/calendars/{name}",
                "PUT /zato/api/scheduler/jobs/{name}",
                "PUT /zato/api/security/{name}",
                "PUT /zato/api/services/{name}/config",
            ]
        );
        // A connection's settings: one closed object per type, each with its tag.
        let settings = &spec["components"]["schemas"]["OutconnSettings"]["oneOf"];
        for (branch, tag) in settings
            .as_array()
            .unwrap()
            .iter()
            .zip(["http", "soap", "sql", "ftp", "amqp", "zmq"])
        {
            assert!(branch.get("allOf").is_none(), "{branch}");
            assert_eq!(branch["properties"]["type"]["enum"][0], tag, "{branch}");
            assert!(
                branch["required"]
                    .as_array()
                    .unwrap()
                    .contains(&"type".into())
            );
            assert_eq!(branch["additionalProperties"], false, "{branch}");
        }
        for (path, method, operation) in operations(&spec) {
            let at = format!("{method} {path}");
            assert!(operation["operationId"].is_string(), "{at}");
            assert!(
                operation["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{at}"
            );
            if path.contains("{name}") {
                assert_eq!(operation["parameters"][0]["in"], "path", "{at}");
            }
            let responses = operation["responses"].as_object().unwrap();
            if path == super::SPEC_PATH {
                assert_eq!(operation["security"], serde_json::json!([]), "{at}");
                continue;
            }
            for status in ["401", "429", "500"] {
                assert_eq!(
                    responses[status]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{at} {status}"
                );
            }
            if operation.get("requestBody").is_some() {
                assert!(
                    responses.contains_key("413"),
                    "{at}: a body can be too large"
                );
            }
        }
    }
}

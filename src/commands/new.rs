//! `zato new rust|python|js NAME`: a ready service project in `./NAME` (the service, its
//! own test, build settings, a README) that `zato build` and `zato deploy` build and
//! deploy. The service is named `NAME` and answers a JSON object.
//!
//! The Rust project depends on the SDK of the clone this CLI was built from
//! (`--sdk` to point elsewhere); the Python and JavaScript projects carry a copy of
//! the SDK this CLI carries (`zato_sdk/`, `zato-sdk/`), so that their tests run with
//! nothing else installed than pytest, or node.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::build::{JS_SDK, PYTHON_SDK};
use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::Output;

/// The Rust SDK of the clone this CLI was built from.
const RUST_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sdk-rust");

/// Create a service project: its service, its own test, build settings and a README.
///
///     zato new python greeter && cd greeter
///     zato build && zato deploy greeter.wasm
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct New {
    /// The service's language
    #[arg(value_enum)]
    language: Language,
    /// The project's directory and the service's name (letters, digits, `.`, `-`, `_`)
    name: String,
    /// Where the Rust SDK (`sdk-rust`) is [default: the clone this CLI was built from]
    #[arg(long)]
    sdk: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Language {
    Rust,
    Python,
    #[value(alias = "javascript")]
    Js,
}

#[derive(Debug, Serialize)]
struct Created {
    language: &'static str,
    directory: PathBuf,
    service: String,
    files: Vec<String>,
    next: Vec<String>,
}

impl New {
    pub async fn run(self, out: &Output) -> CliResult {
        zato_api::check_service_name(&self.name).map_err(|e| {
            CliError::new(
                ExitCode::Usage,
                format!("`{}` is not a service name: {}", self.name, e.as_str()),
            )
        })?;
        let dir = PathBuf::from(&self.name);
        if dir.exists() {
            return Err(CliError::new(
                ExitCode::Failed,
                format!("`{}` exists already: nothing was written", dir.display()),
            ));
        }
        let (language, files) = match self.language {
            Language::Rust => ("rust", rust(&self.name, self.sdk.as_deref())?),
            Language::Python => ("python", python(&self.name)),
            Language::Js => ("javascript", javascript(&self.name)),
        };
        let write = || -> std::io::Result<()> {
            for (path, text) in &files {
                let path = dir.join(path);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(path, text)?;
            }
            Ok(())
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(CliError::new(
                ExitCode::Failed,
                format!("cannot write `{}`: {e}", dir.display()),
            ));
        }
        let test = match self.language {
            Language::Rust => "cargo test",
            Language::Python => "python3 -m pytest",
            Language::Js => "node --test",
        };
        let created = Created {
            language,
            directory: dir.clone(),
            service: self.name.clone(),
            files: files.iter().map(|(path, _)| path.clone()).collect(),
            next: vec![
                format!("cd {}", dir.display()),
                test.to_owned(),
                "zato build".to_owned(),
                "zato deploy <the path zato build printed last>".to_owned(),
            ],
        };
        out.print(&created, || {
            format!(
                "created a {language} service `{}` in {}/\n\n  cd {}\n  {test}        # its own test, no server\n  zato build        # prints the component's path last\n  zato deploy PATH",
                created.service,
                dir.display(),
                dir.display()
            )
        });
        Ok(())
    }
}

/// A crate or module name of `name`: `.` and `-` become `_`.
fn identifier(name: &str) -> String {
    name.replace(['.', '-'], "_")
}

fn readme(name: &str, language: &str, test: &str, build_note: &str) -> String {
    format!(
        "# {name}\n\nA zato service in {language}, made by `zato new`. It answers a JSON object:\n\n```sh\n{test}                # its own test, in-process, no server\nzato build               # {build_note}; prints the component's path last\nzato deploy PATH          # the path zato build printed\nzato channel create http --name {name} --path /{name} --service {name}\ncurl 'http://127.0.0.1:17010/{name}?name=Ada'\n```\n"
    )
}

fn rust(name: &str, sdk: Option<&Path>) -> Result<Vec<(String, String)>, CliError> {
    let sdk = sdk.map_or_else(|| PathBuf::from(RUST_SDK), Path::to_owned);
    if !sdk.join("Cargo.toml").is_file() {
        return Err(CliError::new(
            ExitCode::Failed,
            format!(
                "the Rust SDK is not at `{}`: give its directory (sdk-rust in a clone) with --sdk",
                sdk.display()
            ),
        ));
    }
    let sdk = std::path::absolute(&sdk).unwrap_or(sdk);
    let krate = name.replace(['.', '_'], "-");
    let cargo = format!(
        r#"[package]
name = "{krate}"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib"]

[dependencies]
zato-sdk = {{ path = {sdk:?} }}
serde_json = "1"

# A service runs once per request: built for speed.
[profile.release]
opt-level = 3
lto = true
codegen-units = 1

# A project of its own, whatever directory it sits in.
[workspace]
"#,
        sdk = sdk.display().to_string()
    );
    let lib = format!(
        r#"//! `{name}`: greets whom the request names (a `name` query parameter or JSON field).

use zato_sdk::prelude::*;

/// Greets by name.
#[zato_sdk::service(name = "{name}", input = "name: string?", output = "message: string")]
fn greet(req: Request) -> Result<Response, Error> {{
    let input = req.json_value()?;
    let who = req
        .query("name")
        .map(str::to_owned)
        .or_else(|| input["name"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "world".to_owned());
    let greeting = zato_sdk::config::get_or("greeting", "Hello");
    zato_sdk::log::info(&format!("greeting {{who}}"));
    Response::json(&serde_json::json!({{ "message": format!("{{greeting}}, {{who}}!") }}))
}}

#[cfg(test)]
mod tests {{
    use super::*;

    fn message(req: Request) -> String {{
        let response = greet(req).expect("the service answers");
        let body: serde_json::Value = response.json_body().unwrap();
        body["message"].as_str().unwrap().to_owned()
    }}

    #[test]
    fn greets_whom_it_is_asked_to() {{
        let req = Request::builder()
            .json(&serde_json::json!({{"name": "Ada"}}))
            .build();
        assert_eq!(message(req), "Hello, Ada!");
        let req = Request::builder().query("name", "Grace").build();
        assert_eq!(message(req), "Hello, Grace!");
        assert_eq!(message(Request::builder().build()), "Hello, world!");
    }}

    #[test]
    fn greets_with_its_configured_greeting() {{
        // Fakes of what the service reaches, for this test's thread: zato_sdk::testing.
        zato_sdk::testing::set_config("greeting", "Hi");
        assert_eq!(message(Request::builder().build()), "Hi, world!");
    }}
}}
"#
    );
    Ok(vec![
        ("Cargo.toml".into(), cargo),
        ("src/lib.rs".into(), lib),
        (".gitignore".into(), "/target\n".into()),
        (
            "README.md".into(),
            readme(
                name,
                "Rust",
                "cargo test",
                "cargo build --release --target wasm32-wasip2",
            ),
        ),
    ])
}

fn python(name: &str) -> Vec<(String, String)> {
    let class = class_name(name);
    let service = format!(
        r#""""`{name}`: greets whom the request names (a `name` query parameter or JSON field)."""

from zato_sdk import Field, Service


class {class}(Service):
    name = "{name}"
    description = "Greets by name"
    input = [Field("name", str, required=False)]
    output = [Field("message", str)]

    def handle(self):
        who = self.request.query("name") or self.request.input.get("name") or "world"
        greeting = self.config.get("greeting", "Hello")
        self.log.info(f"greeting {{who}}")
        self.response.payload = {{"message": f"{{greeting}}, {{who}}!"}}
"#
    );
    let test = format!(
        r#""""`{name}`'s own tests: in-process under pytest, no server (zato_sdk.testing)."""

from zato_sdk.testing import call

from service import {class}


def test_greets_whom_it_is_asked_to():
    result = call({class}, {{"name": "Ada"}})
    assert result.status == 200
    assert result.json == {{"message": "Hello, Ada!"}}
    assert call({class}, query={{"name": "Grace"}}).json == {{"message": "Hello, Grace!"}}


def test_greets_with_its_configured_greeting():
    assert call({class}, config={{"greeting": "Hi"}}).json == {{"message": "Hi, world!"}}


def test_a_name_that_is_not_a_string_is_refused():
    assert call({class}, {{"name": 7}}).status == 400
"#
    );
    let pyproject = format!(
        r#"[project]
name = "{ident}"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = []

[project.optional-dependencies]
build = ["componentize-py==0.25.0"]
test = ["pytest"]

# `zato build` builds this module.
[tool.zato]
module = "service.py"

[tool.pytest.ini_options]
pythonpath = ["."]
"#,
        ident = identifier(name)
    );
    let mut files = vec![
        ("service.py".to_owned(), service),
        ("test_service.py".to_owned(), test),
        ("pyproject.toml".to_owned(), pyproject),
        (
            ".gitignore".to_owned(),
            "*.wasm\n__pycache__/\n.pytest_cache/\n".to_owned(),
        ),
        (
            "README.md".to_owned(),
            readme(
                name,
                "Python",
                "python3 -m pytest",
                "componentize-py (pip install componentize-py==0.25.0)",
            ),
        ),
    ];
    // The whole SDK: `_component.py` too, which only a build imports.
    for (file, text) in PYTHON_SDK {
        files.push((format!("zato_sdk/{file}"), text.to_owned()));
    }
    files
}

fn javascript(name: &str) -> Vec<(String, String)> {
    let class = class_name(name);
    let service = format!(
        r#"// `{name}`: greets whom the request names (a `name` query parameter or JSON field).

import {{ Field, Service }} from "zato-sdk";

export default class {class} extends Service {{
  static name = "{name}";
  static description = "Greets by name";
  static input = [new Field("name", "string", {{ required: false }})];
  static output = [new Field("message", "string")];

  handle() {{
    const who = this.request.query("name") ?? this.request.input.name ?? "world";
    const greeting = this.config.get("greeting", "Hello");
    this.log.info(`greeting ${{who}}`);
    this.response.payload = {{ message: `${{greeting}}, ${{who}}!` }};
  }}
}}
"#
    );
    let test = format!(
        r#"// `{name}`'s own tests: in-process under `node --test`, no server (zato-sdk/testing).
import {{ test }} from "node:test";
import assert from "node:assert/strict";
import {{ call }} from "zato-sdk/testing";

import {class} from "./service.js";

test("greets whom it is asked to", () => {{
  const result = call({class}, {{ name: "Ada" }});
  assert.equal(result.status, 200);
  assert.deepEqual(result.json, {{ message: "Hello, Ada!" }});
  assert.deepEqual(call({class}, null, {{ query: {{ name: "Grace" }} }}).json, {{ message: "Hello, Grace!" }});
}});

test("greets with its configured greeting", () => {{
  assert.deepEqual(call({class}, null, {{ config: {{ greeting: "Hi" }} }}).json, {{ message: "Hi, world!" }});
}});

test("a name that is not a string is refused", () => {{
  assert.equal(call({class}, {{ name: 7 }}).status, 400);
}});
"#
    );
    let package = format!(
        r#"{{
  "name": "{ident}",
  "version": "0.1.0",
  "private": true,
  "type": "module",
  "main": "service.js",
  "scripts": {{
    "test": "node --test"
  }},
  "dependencies": {{
    "zato-sdk": "file:./zato-sdk"
  }},
  "devDependencies": {{
    "@bytecodealliance/componentize-js": "0.23.0",
    "@bytecodealliance/preview2-shim": "0.25.0"
  }}
}}
"#,
        ident = identifier(name).replace('_', "-")
    );
    let mut files = vec![
        ("service.js".to_owned(), service),
        ("service.test.js".to_owned(), test),
        ("package.json".to_owned(), package),
        (
            ".gitignore".to_owned(),
            "*.wasm\nnode_modules/\n".to_owned(),
        ),
        (
            "README.md".to_owned(),
            readme(
                name,
                "JavaScript",
                "npm install && node --test",
                "componentize-js (npm install runs first if it is missing)",
            ),
        ),
    ];
    for (file, text) in JS_SDK {
        files.push((format!("zato-sdk/{file}"), text.to_owned()));
    }
    files
}

/// A class name of a service name: `acme.greeter-v2` -> `AcmeGreeterV2`.
fn class_name(name: &str) -> String {
    let class: String = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    if class.starts_with(|c: char| c.is_ascii_digit()) {
        format!("Service{class}")
    } else {
        class
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_are_identifiers() {
        assert_eq!(class_name("greeter"), "Greeter");
        assert_eq!(class_name("acme.greeter-v2"), "AcmeGreeterV2");
        assert_eq!(class_name("7up"), "Service7up");
    }
}

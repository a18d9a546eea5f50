//! [`ServiceInfo`]: what a service says about itself, read once by the host at deploy
//! time.
//!
//! The [`#[service]`](crate::service) attribute builds one from its arguments; the types
//! are public so that its expansion can name them, and so that readers can see what the
//! attribute promises the host.

use std::fmt;

/// The JSON type a Simple IO field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// Any JSON value.
    Any,
    /// A JSON string.
    String,
    /// A JSON number without a fractional part.
    Integer,
    /// Any JSON number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
}

impl FieldType {
    /// The type's name as the attribute and the WIT contract spell it, e.g. `integer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Object => "object",
            Self::Array => "array",
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One top-level field of a JSON input or output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Field {
    /// The field's key in the JSON object.
    pub name: &'static str,
    /// The JSON type its value must have.
    pub ty: FieldType,
    /// Whether the field must be present.
    pub required: bool,
}

/// What a service says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServiceInfo {
    /// The unique service name, e.g. `demo.hello`.
    pub name: &'static str,
    /// A human-readable description.
    pub description: &'static str,
    /// Fields the host validates in a JSON request before calling the service.
    pub input: &'static [Field],
    /// Fields the service promises in a JSON response (documentation only).
    pub output: &'static [Field],
    /// The service's own threshold of a slow response, in milliseconds (0: the
    /// server's). The server stores it with the service; nothing records slow
    /// responses yet (the statistics will).
    pub slow_threshold_ms: u32,
}

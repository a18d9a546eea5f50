//! Simple IO: validating a JSON request against the input fields a service declared.

use crate::api::{Field, FieldType};

/// Checks that `payload` is a JSON object holding every required field with the
/// declared type (and optional fields, when present, too). The error names the field.
pub fn validate(payload: &[u8], fields: &[Field]) -> Result<(), String> {
    let value: serde_json::Value = if payload.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Object(Default::default())
    } else {
        serde_json::from_slice(payload).map_err(|e| format!("request is not valid JSON: {e}"))?
    };
    let object = value.as_object().ok_or("request must be a JSON object")?;
    for field in fields {
        match object.get(&field.name) {
            None | Some(serde_json::Value::Null) if field.required => {
                return Err(format!("missing required field `{}`", field.name));
            }
            None | Some(serde_json::Value::Null) => {}
            Some(value) if !matches_type(value, field.kind) => {
                return Err(format!(
                    "field `{}` must be {}, got {}",
                    field.name,
                    type_name(field.kind),
                    json_type(value)
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn matches_type(value: &serde_json::Value, kind: FieldType) -> bool {
    use serde_json::Value;
    match kind {
        FieldType::Any => true,
        FieldType::String => value.is_string(),
        FieldType::Integer => value.is_i64() || value.is_u64(),
        FieldType::Number => value.is_number(),
        FieldType::Boolean => value.is_boolean(),
        FieldType::Object => matches!(value, Value::Object(_)),
        FieldType::Array => value.is_array(),
    }
}

fn type_name(kind: FieldType) -> &'static str {
    match kind {
        FieldType::Any => "any value",
        FieldType::String => "a string",
        FieldType::Integer => "an integer",
        FieldType::Number => "a number",
        FieldType::Boolean => "a boolean",
        FieldType::Object => "an object",
        FieldType::Array => "an array",
    }
}

fn json_type(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, kind: FieldType, required: bool) -> Field {
        Field {
            name: name.into(),
            kind,
            required,
        }
    }

    #[test]
    fn required_and_typed_fields_are_enforced() {
        let fields = [
            field("name", FieldType::String, true),
            field("age", FieldType::Integer, false),
        ];
        assert!(validate(br#"{"name":"x"}"#, &fields).is_ok());
        assert!(validate(br#"{"name":"x","age":3}"#, &fields).is_ok());
        assert_eq!(
            validate(br#"{"age":3}"#, &fields).unwrap_err(),
            "missing required field `name`"
        );
        assert_eq!(
            validate(br#"{"name":"x","age":"3"}"#, &fields).unwrap_err(),
            "field `age` must be an integer, got a string"
        );
        assert_eq!(
            validate(b"[1]", &fields).unwrap_err(),
            "request must be a JSON object"
        );
        assert!(
            validate(b"{", &fields)
                .unwrap_err()
                .starts_with("request is not valid JSON")
        );
        assert_eq!(
            validate(b"", &fields).unwrap_err(),
            "missing required field `name`"
        );
        assert!(validate(b"", &fields[1..]).is_ok());
    }
}

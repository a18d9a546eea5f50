//! The one place that decides how a payload becomes JSON, so that requests, responses
//! and invoke results agree.

use serde::de::DeserializeOwned;

/// Why a payload could not be read as JSON.
#[derive(Debug)]
pub(crate) enum PayloadError {
    /// The payload is empty and `T` does not accept `null`.
    Empty,
    /// The payload is not JSON, or not JSON of the shape `T` wants.
    Invalid(serde_json::Error),
}

/// Parses `payload` as JSON; an empty payload reads as `null`, so that `Option<T>`, `()`
/// and [`serde_json::Value`] accept "no body" without special cases at every call site.
pub(crate) fn from_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, PayloadError> {
    if payload.is_empty() {
        serde_json::from_slice(b"null").map_err(|_| PayloadError::Empty)
    } else {
        serde_json::from_slice(payload).map_err(PayloadError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn empty_payload_is_null() {
        assert_eq!(from_payload::<Value>(b"").unwrap(), Value::Null);
        assert_eq!(from_payload::<Option<u32>>(b"").unwrap(), None);
        from_payload::<()>(b"").unwrap();
        assert!(matches!(from_payload::<u32>(b""), Err(PayloadError::Empty)));
    }

    #[test]
    fn non_empty_payload_is_parsed_strictly() {
        assert_eq!(
            from_payload::<Value>(br#"{"a":[1]}"#).unwrap(),
            json!({"a": [1]})
        );
        assert!(matches!(
            from_payload::<Value>(b"{"),
            Err(PayloadError::Invalid(_))
        ));
        assert!(matches!(
            from_payload::<Value>(b" "),
            Err(PayloadError::Invalid(_))
        ));
        assert!(matches!(
            from_payload::<u32>(b"-1"),
            Err(PayloadError::Invalid(_))
        ));
    }
}

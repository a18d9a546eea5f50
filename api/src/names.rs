//! What a service name may be: the one rule, applied wherever a name comes in.
//!
//! A name is 1 to [`MAX_SERVICE_NAME`] ASCII letters, digits, `.`, `_` and `-`, starting
//! with a letter or a digit (`demo.hello`, `crm.get-customer`). It is safe in a URL
//! path segment, a file name, a log line and every ODB key column.

use thiserror::Error;

/// The longest service name, in characters (all ASCII, so bytes too).
pub const MAX_SERVICE_NAME: usize = 200;

/// Why a service name is refused; the message completes "invalid service name `x`: ".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("{}", self.as_str())]
pub enum NameError {
    /// Empty, or longer than [`MAX_SERVICE_NAME`].
    Length,
    /// A character other than an ASCII letter, a digit, `.`, `_` or `-`.
    Characters,
    /// Starts with `.`, `_` or `-`.
    Start,
}

impl NameError {
    /// The reason, as its `Display` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            // A literal, for a `&'static str`: a test holds it to `MAX_SERVICE_NAME`.
            NameError::Length => "must be 1 to 200 characters",
            NameError::Characters => "may only contain letters, digits, `.`, `_` and `-`",
            NameError::Start => "must start with a letter or a digit",
        }
    }
}

/// Checks a service name against the one rule (see the module's documentation).
pub fn check_service_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() || name.len() > MAX_SERVICE_NAME {
        return Err(NameError::Length);
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(NameError::Characters);
    }
    if !name.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(NameError::Start);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usual_names_are_accepted() {
        for name in ["demo.hello", "a-b_c.1", "crm.get-customer", "7", "A.B"] {
            assert_eq!(check_service_name(name), Ok(()), "{name}");
        }
        assert_eq!(check_service_name(&"x".repeat(MAX_SERVICE_NAME)), Ok(()));
    }

    #[test]
    fn each_broken_rule_is_named() {
        let cases = [
            ("", NameError::Length),
            (&*"x".repeat(MAX_SERVICE_NAME + 1), NameError::Length),
            (".hidden", NameError::Start),
            ("_x", NameError::Start),
            ("-x", NameError::Start),
            ("a/b", NameError::Characters),
            ("a b", NameError::Characters),
            ("a%2Fb", NameError::Characters),
            ("caf\u{e9}", NameError::Characters),
            ("../etc", NameError::Characters),
        ];
        for (name, expected) in cases {
            assert_eq!(check_service_name(name), Err(expected), "{name:?}");
        }
    }

    #[test]
    fn the_length_message_states_the_limit() {
        assert_eq!(
            NameError::Length.to_string(),
            format!("must be 1 to {MAX_SERVICE_NAME} characters")
        );
    }
}

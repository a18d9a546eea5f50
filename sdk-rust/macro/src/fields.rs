//! The Simple IO field syntax of `input = "..."` and `output = "..."`.
//!
//! A comma-separated list of `name: type`, where `type` is one of [`TYPES`] and a
//! trailing `?` makes the field optional:
//!
//! ```text
//! first_name: string, last_name: string, email: string?, orders: array?
//! ```
//!
//! It is parsed at compile time so that a typo is a compile error, not a deploy-time
//! surprise.

/// The type names the syntax accepts, as the WIT `field-type` enum spells them.
pub(crate) const TYPES: [&str; 7] = [
    "any", "string", "integer", "number", "boolean", "object", "array",
];

/// One parsed field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldSpec {
    pub(crate) name: String,
    /// One of [`TYPES`].
    pub(crate) ty: &'static str,
    pub(crate) required: bool,
}

/// Parses a field list; the error says which field is wrong and why.
pub(crate) fn parse(spec: &str) -> Result<Vec<FieldSpec>, String> {
    let mut fields: Vec<FieldSpec> = Vec::new();
    let entries: Vec<&str> = spec.split(',').collect();
    for (index, entry) in entries.iter().enumerate() {
        let entry = entry.trim();
        // A trailing comma, or an empty list, is fine; an empty entry in the middle is
        // most likely a typo.
        if entry.is_empty() {
            if index + 1 == entries.len() {
                continue;
            }
            return Err(format!("field {} is empty", index + 1));
        }
        let field = parse_field(entry).map_err(|err| format!("field `{entry}`: {err}"))?;
        if fields.iter().any(|seen| seen.name == field.name) {
            return Err(format!("field `{}` is declared twice", field.name));
        }
        fields.push(field);
    }
    Ok(fields)
}

fn parse_field(entry: &str) -> Result<FieldSpec, String> {
    let (name, ty) = entry
        .split_once(':')
        .ok_or("expected `name: type`, e.g. `email: string?`")?;
    let name = name.trim();
    if name.is_empty() {
        return Err("the name is empty".to_owned());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, ':' | '?' | '"'))
    {
        return Err(format!("the name `{name}` contains `{bad}`"));
    }
    let ty = ty.trim();
    let (ty, required) = match ty.strip_suffix('?') {
        Some(ty) => (ty.trim_end(), false),
        None => (ty, true),
    };
    let ty = TYPES
        .into_iter()
        .find(|known| *known == ty)
        .ok_or_else(|| format!("unknown type `{ty}`, expected one of {}", TYPES.join(", ")))?;
    Ok(FieldSpec {
        name: name.to_owned(),
        ty,
        required,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, ty: &'static str, required: bool) -> FieldSpec {
        FieldSpec {
            name: name.to_owned(),
            ty,
            required,
        }
    }

    #[test]
    fn parses_required_and_optional_fields_in_order() {
        let fields =
            parse("first_name: string, last_name:string , email: string?, n:integer ?").unwrap();
        assert_eq!(
            fields,
            [
                field("first_name", "string", true),
                field("last_name", "string", true),
                field("email", "string", false),
                field("n", "integer", false),
            ]
        );
    }

    #[test]
    fn accepts_every_type() {
        for ty in TYPES {
            assert_eq!(parse(&format!("x: {ty}")).unwrap(), [field("x", ty, true)]);
        }
    }

    #[test]
    fn empty_list_and_trailing_comma_are_fine() {
        assert_eq!(parse("").unwrap(), []);
        assert_eq!(parse("   ").unwrap(), []);
        assert_eq!(parse("a: any,").unwrap(), [field("a", "any", true)]);
    }

    #[test]
    fn rejects_mistakes_with_a_reason() {
        let cases = [
            (
                "a: strin",
                "field `a: strin`: unknown type `strin`, expected one of any, string",
            ),
            ("a", "field `a`: expected `name: type`"),
            (": string", "field `: string`: the name is empty"),
            (
                "first name: string",
                "field `first name: string`: the name `first name` contains ` `",
            ),
            ("a: string??", "unknown type `string?`"),
            ("a: string, , b: any", "field 2 is empty"),
            ("a: string, a: integer", "field `a` is declared twice"),
            ("a: string: integer", "unknown type `string: integer`"),
        ];
        for (spec, expected) in cases {
            let err = parse(spec).unwrap_err();
            assert!(err.contains(expected), "{spec:?}: {err}");
        }
    }
}

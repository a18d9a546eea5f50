//! The arguments of `#[service(...)]`.

use syn::meta::ParseNestedMeta;
use syn::{LitInt, LitStr};

use crate::fields::{self, FieldSpec};

/// What the attribute's arguments say about the service.
#[derive(Debug, Default)]
pub(crate) struct ServiceArgs {
    pub(crate) name: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) input: Vec<FieldSpec>,
    pub(crate) output: Vec<FieldSpec>,
    pub(crate) slow_threshold_ms: u32,
}

impl ServiceArgs {
    /// Parses one `key = value` argument; meant for [`syn::meta::parser`].
    pub(crate) fn parse(&mut self, meta: ParseNestedMeta<'_>) -> syn::Result<()> {
        if meta.path.is_ident("name") {
            let lit: LitStr = meta.value()?.parse()?;
            check_service_name(&lit.value()).map_err(|err| syn::Error::new(lit.span(), err))?;
            self.name = Some(lit.value());
        } else if meta.path.is_ident("description") {
            let lit: LitStr = meta.value()?.parse()?;
            self.description = Some(lit.value());
        } else if meta.path.is_ident("input") {
            self.input = parse_fields(&meta, "input")?;
        } else if meta.path.is_ident("output") {
            self.output = parse_fields(&meta, "output")?;
        } else if meta.path.is_ident("slow_threshold_ms") {
            let lit: LitInt = meta.value()?.parse()?;
            self.slow_threshold_ms = lit.base10_parse()?;
        } else {
            return Err(meta.error(
                "unknown argument, expected one of `name`, `description`, `input`, `output`, \
                 `slow_threshold_ms`",
            ));
        }
        Ok(())
    }
}

fn parse_fields(meta: &ParseNestedMeta<'_>, which: &str) -> syn::Result<Vec<FieldSpec>> {
    let lit: LitStr = meta.value()?.parse()?;
    fields::parse(&lit.value())
        .map_err(|err| syn::Error::new(lit.span(), format!("invalid `{which}`: {err}")))
}

/// Service names are dotted identifiers such as `demo.hello` or `test.cycle-a`: the host
/// uses them in URLs, logs and invoke calls, so they stay plain.
fn check_service_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the service name is empty".to_owned());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return Err(format!(
            "the service name `{name}` contains `{bad}`: use ASCII letters, digits, `.`, `-` and `_`"
        ));
    }
    if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Err(format!(
            "the service name `{name}` has an empty segment between dots"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;
    use syn::parse::Parser;

    use super::*;

    fn parse(tokens: TokenStream) -> syn::Result<ServiceArgs> {
        let mut args = ServiceArgs::default();
        syn::meta::parser(|meta| args.parse(meta)).parse2(tokens)?;
        Ok(args)
    }

    #[test]
    fn parses_every_argument() {
        let args = parse(quote! {
            name = "demo.transform",
            description = "Transforms a customer",
            input = "first_name: string, email: string?",
            output = "full_name: string",
            slow_threshold_ms = 1_500,
        })
        .unwrap();
        assert_eq!(args.name.as_deref(), Some("demo.transform"));
        assert_eq!(args.description.as_deref(), Some("Transforms a customer"));
        assert_eq!(args.input.len(), 2);
        assert!(!args.input[1].required);
        assert_eq!(args.output.len(), 1);
        assert_eq!(args.slow_threshold_ms, 1500);
    }

    #[test]
    fn defaults_to_no_fields_and_the_server_threshold() {
        let args = parse(quote!(name = "demo.hello")).unwrap();
        assert!(args.description.is_none());
        assert!(args.input.is_empty() && args.output.is_empty());
        assert_eq!(args.slow_threshold_ms, 0);
    }

    #[test]
    fn rejects_bad_arguments() {
        let cases = [
            (quote!(nam = "x"), "unknown argument"),
            (quote!(name = 1), "expected string literal"),
            (quote!(name = "my service"), "contains ` `"),
            (quote!(name = ""), "is empty"),
            (quote!(name = "demo..x"), "empty segment"),
            (
                quote!(input = "a: strin"),
                "invalid `input`: field `a: strin`",
            ),
            (quote!(output = "a"), "invalid `output`"),
            (quote!(slow_threshold_ms = -1), "invalid digit"),
            (
                quote!(slow_threshold_ms = 5_000_000_000),
                "number too large",
            ),
        ];
        for (tokens, expected) in cases {
            let text = tokens.to_string();
            let err = parse(tokens).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}

//! Turns the annotated function into the service's exports.
//!
//! The function itself is emitted unchanged, so it stays callable from the crate's own
//! tests. Next to it, inside an anonymous `const` so that nothing leaks into the user's
//! namespace, go the static `ServiceInfo`, a type implementing the generated `Guest`
//! trait by calling the function, and the generated export macro for that type.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Expr, ExprLit, FnArg, ItemFn, Lit, Meta};

use crate::args::ServiceArgs;
use crate::fields::FieldSpec;

pub(crate) fn expand(args: ServiceArgs, function: ItemFn) -> syn::Result<TokenStream> {
    check_signature(&function)?;
    let name = args.name.as_deref().ok_or_else(|| {
        syn::Error::new(
            Span::call_site(),
            "missing `name`, e.g. #[zato_sdk::service(name = \"demo.hello\")]",
        )
    })?;
    let description = args
        .description
        .clone()
        .unwrap_or_else(|| doc_comment(&function));
    let input = fields(&args.input);
    let output = fields(&args.output);
    let slow_threshold_ms = args.slow_threshold_ms;
    let ident = &function.sig.ident;

    Ok(quote! {
        #function

        const _: () = {
            static __ZATO_SERVICE_INFO: ::zato_sdk::metadata::ServiceInfo =
                ::zato_sdk::metadata::ServiceInfo {
                    name: #name,
                    description: #description,
                    input: &[#(#input),*],
                    output: &[#(#output),*],
                    slow_threshold_ms: #slow_threshold_ms,
                };

            struct ZatoService;

            impl ::zato_sdk::__private::Guest for ZatoService {
                fn handle(
                    request: ::zato_sdk::__private::RawRequest,
                ) -> ::core::result::Result<
                    ::zato_sdk::__private::RawResponse,
                    ::zato_sdk::__private::RawError,
                > {
                    ::zato_sdk::__private::handle(request, #ident)
                }

                fn info() -> ::zato_sdk::__private::RawServiceInfo {
                    ::zato_sdk::__private::info(&__ZATO_SERVICE_INFO)
                }
            }

            ::zato_sdk::bindings::__export_zato_service!(
                ZatoService with_types_in ::zato_sdk::bindings
            );
        };
    })
}

/// Rejects what cannot be a service up front, with a message better than the type
/// error the expansion would otherwise produce.
fn check_signature(function: &ItemFn) -> syn::Result<()> {
    let sig = &function.sig;
    if let Some(asyncness) = sig.asyncness {
        return Err(syn::Error::new_spanned(
            asyncness,
            "a zato service is synchronous: remove `async`",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "a zato service cannot be generic",
        ));
    }
    match sig.inputs.first() {
        Some(FnArg::Typed(_)) if sig.inputs.len() == 1 => Ok(()),
        Some(FnArg::Receiver(receiver)) => Err(syn::Error::new_spanned(
            receiver,
            "a zato service is a free function, not a method",
        )),
        _ => Err(syn::Error::new_spanned(
            &sig.inputs,
            "a zato service takes exactly one argument: `req: Request`",
        )),
    }
}

/// The function's doc comment, used as the description when none is given.
fn doc_comment(function: &ItemFn) -> String {
    let lines: Vec<String> = function
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .filter_map(|attr| match &attr.meta {
            Meta::NameValue(meta) => match &meta.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(lit), ..
                }) => Some(lit.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| {
            line.strip_prefix(' ')
                .unwrap_or(&line)
                .trim_end()
                .to_owned()
        })
        .collect();
    lines.join("\n").trim().to_owned()
}

fn fields(fields: &[FieldSpec]) -> Vec<TokenStream> {
    fields
        .iter()
        .map(|field| {
            let name = &field.name;
            let required = field.required;
            let ty = format_ident!("{}", variant(field.ty));
            quote! {
                ::zato_sdk::metadata::Field {
                    name: #name,
                    ty: ::zato_sdk::metadata::FieldType::#ty,
                    required: #required,
                }
            }
        })
        .collect()
}

/// The `FieldType` variant for a type name of the attribute syntax.
fn variant(ty: &str) -> String {
    let mut chars = ty.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::*;
    use crate::fields::TYPES;

    fn args(name: &str) -> ServiceArgs {
        ServiceArgs {
            name: Some(name.to_owned()),
            ..ServiceArgs::default()
        }
    }

    #[test]
    fn keeps_the_function_and_exports_a_guest() {
        let function: ItemFn = parse_quote! {
            fn hello(req: Request) -> Result<Response, Error> { Ok(Response::empty()) }
        };
        let out = expand(args("demo.hello"), function).unwrap().to_string();
        assert!(out.starts_with("fn hello (req : Request)"), "{out}");
        assert!(out.contains(":: zato_sdk :: __private :: handle (request , hello)"));
        assert!(out.contains("name : \"demo.hello\""));
        assert!(out.contains("__export_zato_service ! (ZatoService with_types_in"));
    }

    #[test]
    fn description_defaults_to_the_doc_comment() {
        let function: ItemFn = parse_quote! {
            /// Says hello.
            ///
            /// To anyone.
            fn hello(req: Request) -> Result<Response, Error> { Ok(Response::empty()) }
        };
        assert_eq!(doc_comment(&function), "Says hello.\n\nTo anyone.");
        let out = expand(args("demo.hello"), function).unwrap().to_string();
        assert!(
            out.contains(r#"description : "Says hello.\n\nTo anyone.""#),
            "{out}"
        );
    }

    #[test]
    fn every_type_name_maps_to_a_variant() {
        let variants: Vec<String> = TYPES.iter().map(|ty| variant(ty)).collect();
        assert_eq!(
            variants,
            [
                "Any", "String", "Integer", "Number", "Boolean", "Object", "Array"
            ]
        );
    }

    #[test]
    fn rejects_functions_that_cannot_be_services() {
        let cases: [(ItemFn, &str); 5] = [
            (
                parse_quote!(
                    async fn f(req: Request) {}
                ),
                "remove `async`",
            ),
            (
                parse_quote!(
                    fn f<T>(req: T) {}
                ),
                "cannot be generic",
            ),
            (
                parse_quote!(
                    fn f() {}
                ),
                "exactly one argument",
            ),
            (
                parse_quote!(
                    fn f(a: Request, b: u8) {}
                ),
                "exactly one argument",
            ),
            (
                parse_quote!(
                    fn f(self) {}
                ),
                "not a method",
            ),
        ];
        for (function, expected) in cases {
            let err = expand(args("x"), function).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn name_is_required() {
        let function: ItemFn = parse_quote!(
            fn f(req: Request) {}
        );
        let err = expand(ServiceArgs::default(), function).unwrap_err();
        assert!(err.to_string().starts_with("missing `name`"));
    }
}

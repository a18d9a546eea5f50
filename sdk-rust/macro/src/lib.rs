//! The `#[zato_sdk::service]` attribute, re-exported by `zato-sdk` (use it from there).
//!
//! It checks its arguments and the function's signature at compile time, then emits the
//! function unchanged plus the glue that exports it as the component's `service`
//! interface: see `expand` for the shape of the expansion. The expansion names items of
//! `zato-sdk` by absolute path (`::zato_sdk::...`), so the service crate must depend on
//! the SDK under its own name.

#![forbid(unsafe_code)]

mod args;
mod expand;
mod fields;

use proc_macro::TokenStream;
use syn::parse::Parser as _;

/// The expansion names the SDK as `::zato_sdk`, so the service crate must depend on
/// `zato-sdk` under that name (no `package = ...` renaming).
#[proc_macro_attribute]
pub fn service(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    match expand(attr.into(), item.clone()) {
        Ok(expanded) => expanded.into(),
        // Keep the item on error, so that the one mistake does not cascade into
        // "unused import" and "cannot find function" errors.
        Err(err) => {
            let mut out = err.into_compile_error();
            out.extend(item);
            out.into()
        }
    }
}

fn expand(
    attr: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let mut args = args::ServiceArgs::default();
    syn::meta::parser(|meta| args.parse(meta)).parse2(attr)?;
    let function: syn::ItemFn = syn::parse2(item)?;
    expand::expand(args, function)
}

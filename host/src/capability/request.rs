//! `zato:service/request`: what a service reads of its request beyond the record that
//! `handle` receives, answered from the details its channel handed to the call.
//!
//! The HTTP conveniences of the contract are answered from the channel-neutral
//! functions (`method` is `detail("method")`, `path-param` is `param`), so a channel
//! implements only those.

mod details;

use std::borrow::Cow;

use wasmtime::component::{HasData, Linker};

use crate::wit::zato::service::request::{self, Host};
pub use details::{NoDetails, RequestDetails, StaticDetails};

type Pairs = Vec<(String, String)>;

/// The longest detail key or parameter name looked up: the contract's keys and a
/// channel's parameter names are short, and a longer one is found in no request.
const MAX_NAME_BYTES: usize = 256;

fn owned<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Pairs {
    pairs
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// `detail(key)`; a key too long to be one is looked for nowhere.
fn detail(details: &dyn RequestDetails, key: &str) -> Option<String> {
    if key.len() > MAX_NAME_BYTES {
        return None;
    }
    details.detail(key).map(Cow::into_owned)
}

/// `param(name)`; a name too long to be one is looked for nowhere.
fn param(details: &dyn RequestDetails, name: &str) -> Option<String> {
    if name.len() > MAX_NAME_BYTES {
        return None;
    }
    details.param(name).map(str::to_owned)
}

/// `details()`.
fn details(details: &dyn RequestDetails) -> Pairs {
    details
        .details()
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.into_owned()))
        .collect()
}

/// What the `request` import reaches of a call: its cid and the details its channel
/// handed over.
pub struct RequestView<'a> {
    pub cid: &'a str,
    pub details: &'a dyn RequestDetails,
}

struct Request;

impl HasData for Request {
    type Data<'a> = RequestView<'a>;
}

/// Links `request`, reading each call's [`RequestView`] from the store's data with `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> RequestView<'_>,
) -> wasmtime::Result<()> {
    request::add_to_linker::<T, Request>(linker, get)
}

impl Host for RequestView<'_> {
    fn cid(&mut self) -> wasmtime::Result<String> {
        Ok(self.cid.to_owned())
    }

    fn channel_name(&mut self) -> wasmtime::Result<String> {
        Ok(self.details.channel_name().to_owned())
    }

    fn method(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(detail(self.details, "method"))
    }

    fn path(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(detail(self.details, "path"))
    }

    fn header(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        Ok(self.details.header(&name).map(str::to_owned))
    }

    fn headers(&mut self) -> wasmtime::Result<Pairs> {
        Ok(owned(self.details.headers()))
    }

    fn query(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        Ok(self.details.query(&name).map(Cow::into_owned))
    }

    fn query_pairs(&mut self) -> wasmtime::Result<Pairs> {
        Ok(self
            .details
            .query_pairs()
            .into_iter()
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect())
    }

    fn path_param(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        Ok(param(self.details, &name))
    }

    fn path_params(&mut self) -> wasmtime::Result<Pairs> {
        Ok(owned(self.details.params()))
    }

    fn detail(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(detail(self.details, &key))
    }

    fn details(&mut self) -> wasmtime::Result<Pairs> {
        Ok(details(self.details))
    }

    fn param(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        Ok(param(self.details, &name))
    }

    fn params(&mut self) -> wasmtime::Result<Pairs> {
        Ok(owned(self.details.params()))
    }

    fn caller(&mut self) -> wasmtime::Result<Option<request::CallerInfo>> {
        Ok(self.details.caller().map(|caller| request::CallerInfo {
            definition: caller.definition.clone(),
            kind: caller.kind.as_str().to_owned(),
            principal: caller.principal.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HTTP: StaticDetails = StaticDetails {
        channel_name: "api",
        headers: &[],
        details: &[("method", "GET"), ("path", "/customers/7")],
        query: &[],
        params: &[("id", "7")],
    };

    #[test]
    fn details_and_params_are_found_by_exact_name() {
        assert_eq!(detail(&HTTP, "method").as_deref(), Some("GET"));
        assert_eq!(detail(&HTTP, "Method"), None);
        assert_eq!(detail(&HTTP, "query-string"), None);
        assert_eq!(param(&HTTP, "id").as_deref(), Some("7"));
        assert_eq!(param(&HTTP, "ID"), None);
        assert_eq!(
            details(&HTTP),
            [("method", "GET"), ("path", "/customers/7")].map(|(k, v)| (k.into(), v.into()))
        );
    }

    /// Details that have every key and every parameter.
    struct Everything;

    impl RequestDetails for Everything {
        fn channel_name(&self) -> &str {
            ""
        }

        fn detail(&self, _: &str) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed("found"))
        }

        fn param(&self, _: &str) -> Option<&str> {
            Some("found")
        }
    }

    #[test]
    fn an_absurdly_long_name_is_found_nowhere() {
        let long = "k".repeat(MAX_NAME_BYTES + 1);
        assert_eq!(detail(&Everything, &long), None);
        assert_eq!(param(&Everything, &long), None);
        let fits = &long[..MAX_NAME_BYTES];
        assert_eq!(detail(&Everything, fits).as_deref(), Some("found"));
        assert_eq!(param(&Everything, fits).as_deref(), Some("found"));
    }
}

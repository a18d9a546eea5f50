//! What a service reads of its request beyond the record `handle` receives, as each
//! channel provides it: [`RequestDetails`].

use std::borrow::Cow;

/// The parts of a request a service reads only when it asks (`interface request` in
/// `wit/service.wit`). Each channel implements it over the data it already owns (an
/// HTTP channel over hyper's request head), so handing it over copies nothing.
///
/// What a kind of channel adds to a request is a detail (by key) or a parameter (by
/// name), and the keys of each kind are defined in the WIT: the runtime passes them
/// through without knowing any channel's.
pub trait RequestDetails: Send + 'static {
    /// The channel's configured name (for `invoke`, the calling service).
    fn channel_name(&self) -> &str;

    /// Who called, when the channel checked it with a security definition.
    fn caller(&self) -> Option<&crate::security::Caller> {
        None
    }

    /// Every detail the channel kind defines for the request, in the order the WIT
    /// lists its keys (an HTTP request's `method`, `path` and `query-string`).
    fn details(&self) -> Vec<(&str, Cow<'_, str>)> {
        Vec::new()
    }

    /// The detail `key`.
    fn detail(&self, key: &str) -> Option<Cow<'_, str>> {
        self.details()
            .into_iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| value)
    }

    /// Every header, in order; names are lowercase.
    fn headers(&self) -> Vec<(&str, &str)> {
        Vec::new()
    }

    /// The value of the first header called `name`, compared case-insensitively.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .into_iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// Every decoded query string pair, in order.
    fn query_pairs(&self) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
        Vec::new()
    }

    /// The first decoded value of the query string parameter `name`.
    fn query(&self, name: &str) -> Option<Cow<'_, str>> {
        self.query_pairs()
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// Every named value the channel extracted from the request, in the channel's order
    /// (an HTTP channel's `{name}` path segments).
    fn params(&self) -> Vec<(&str, &str)> {
        Vec::new()
    }

    /// The parameter `name`.
    fn param(&self, name: &str) -> Option<&str> {
        self.params()
            .into_iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }
}

/// What a store holds outside a call to `handle`: no name, headers or details.
pub struct NoDetails;

impl RequestDetails for NoDetails {
    fn channel_name(&self) -> &str {
        ""
    }
}

/// Details that are fixed at build time, for benchmarks and tests that send the same
/// request again and again (handing them over allocates only the box).
#[derive(Debug, Clone, Copy, Default)]
pub struct StaticDetails {
    pub channel_name: &'static str,
    pub headers: &'static [(&'static str, &'static str)],
    /// Details by key, e.g. an HTTP request's `method` and `path`.
    pub details: &'static [(&'static str, &'static str)],
    /// Decoded query string pairs.
    pub query: &'static [(&'static str, &'static str)],
    pub params: &'static [(&'static str, &'static str)],
}

impl RequestDetails for StaticDetails {
    fn channel_name(&self) -> &str {
        self.channel_name
    }

    fn details(&self) -> Vec<(&str, Cow<'_, str>)> {
        self.details
            .iter()
            .map(|&(key, value)| (key, Cow::Borrowed(value)))
            .collect()
    }

    fn detail(&self, key: &str) -> Option<Cow<'_, str>> {
        let (_, value) = self.details.iter().find(|(name, _)| *name == key)?;
        Some(Cow::Borrowed(value))
    }

    fn headers(&self) -> Vec<(&str, &str)> {
        self.headers.to_vec()
    }

    fn query_pairs(&self) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
        self.query
            .iter()
            .map(|&(key, value)| (Cow::Borrowed(key), Cow::Borrowed(value)))
            .collect()
    }

    fn params(&self) -> Vec<(&str, &str)> {
        self.params.to_vec()
    }
}

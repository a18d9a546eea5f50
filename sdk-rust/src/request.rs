//! [`Request`]: typed, read-only access to the request `handle` serves: what the host
//! passed to it, and what the service reads through the `request` import.

use std::cell::OnceCell;
use std::fmt;

use serde::de::DeserializeOwned;

use crate::Error;
use crate::json;

/// Which kind of channel a request came in through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// A REST/HTTP channel.
    Http,
    /// Another service, through [`invoke`](crate::invoke).
    Invoke,
    /// The admin API.
    Admin,
    /// The scheduler.
    Scheduler,
    /// An AMQP channel.
    Amqp,
    /// A ZeroMQ channel.
    Zeromq,
    /// A SOAP channel.
    Soap,
}

impl ChannelKind {
    /// The kind's name as the WIT contract spells it, e.g. `http`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Invoke => "invoke",
            Self::Admin => "admin",
            Self::Scheduler => "scheduler",
            Self::Amqp => "amqp",
            Self::Zeromq => "zeromq",
            Self::Soap => "soap",
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a payload is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataFormat {
    /// JSON: the host validates Simple IO input fields before calling the service.
    Json,
    /// XML (SOAP channels).
    Xml,
    /// Anything else: the payload is passed through as bytes.
    Raw,
}

impl DataFormat {
    /// The format's name as the WIT contract spells it, e.g. `json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Xml => "xml",
            Self::Raw => "raw",
        }
    }
}

impl fmt::Display for DataFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The HTTP part of a request built with [`Request::builder`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Http {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
}

/// One request to a service.
///
/// The host passes the channel kind, the payload and its format with every call; the
/// rest (cid, channel name, headers, [details](Request::detail) such as an HTTP method
/// and path, [parameters](Request::param), query) stays in the host until the service
/// reads it, so a service pays only for what it reads. What was
/// read is kept for the rest of the call: a list (say [`headers`](Request::headers))
/// is fetched once, and a lookup by name after it searches the kept list; a lookup by
/// name before it asks the host for that one value, once per name.
///
/// A request read from the host answers about the call it came with only while that
/// call runs: a service that keeps one (in a `static` of a warm instance, say) must
/// copy out what it needs during the call. Because it caches what it has read, a
/// `Request` is neither `Sync` nor comparable with `==`.
///
/// Lookups by name return the first match, and the iterators
/// ([`headers`](Request::headers), [`details`](Request::details), ...) give every pair
/// in order. Outside the host (in native unit tests of a
/// service) build one with [`Request::builder`].
///
/// ```
/// use zato_sdk::{ChannelKind, Request};
///
/// let req = Request::builder()
///     .http("GET", "/customers/42")
///     .path_param("id", "42")
///     .query("verbose", "true")
///     .header("X-Api-Key", "secret")
///     .build();
///
/// assert_eq!(req.channel_kind(), ChannelKind::Http);
/// assert_eq!(req.path_param("id"), Some("42"));
/// assert_eq!(req.query("verbose"), Some("true"));
/// assert_eq!(req.header("x-api-key"), Some("secret"));
/// ```
#[derive(Debug, Clone)]
pub struct Request {
    channel_kind: ChannelKind,
    payload: Vec<u8>,
    data_format: DataFormat,
    details: Details,
}

/// zato's `request` import, called as the SDK calls its imports ([`crate::import`]).
mod from_host {
    use crate::bindings::zato::service::request as wit;
    use crate::import as call;

    type Pairs = Vec<(String, String)>;

    pub(super) fn cid() -> String {
        call(wit::cid)
    }
    pub(super) fn channel_name() -> String {
        call(wit::channel_name)
    }
    pub(super) fn method() -> Option<String> {
        call(wit::method)
    }
    pub(super) fn path() -> Option<String> {
        call(wit::path)
    }
    pub(super) fn header(name: &str) -> Option<String> {
        call(|| wit::header(name))
    }
    pub(super) fn headers() -> Pairs {
        call(wit::headers)
    }
    pub(super) fn query(name: &str) -> Option<String> {
        call(|| wit::query(name))
    }
    pub(super) fn query_pairs() -> Pairs {
        call(wit::query_pairs)
    }
    pub(super) fn detail(key: &str) -> Option<String> {
        call(|| wit::detail(key))
    }
    pub(super) fn details() -> Pairs {
        call(wit::details)
    }
    pub(super) fn param(name: &str) -> Option<String> {
        call(|| wit::param(name))
    }
    pub(super) fn params() -> Pairs {
        call(wit::params)
    }
    pub(super) fn caller() -> Option<super::Caller> {
        call(wit::caller).map(|c| super::Caller {
            definition: c.definition,
            kind: c.kind,
            principal: c.principal,
        })
    }
}

/// Who called, as the channel's security definition admitted them (contract 0.2.6).
/// The credentials themselves never reach the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The security definition's name.
    pub definition: String,
    /// Its type: `basic-auth`, `apikey` or `jwt`.
    pub kind: String,
    /// The basic-auth username (for a JWT, the username that logged in); for an API
    /// key, the definition's name.
    pub principal: String,
}

/// Everything a request holds beyond the record the host passes.
#[derive(Debug, Clone)]
enum Details {
    /// Built whole by [`RequestBuilder`].
    Built(Built),
    /// Read from the host (`interface request`) when first asked.
    Host(FromHost),
}

#[derive(Debug, Clone, Default)]
struct Built {
    cid: String,
    channel_name: String,
    caller: Option<Caller>,
    headers: Vec<(String, String)>,
    http: Option<Http>,
    /// An HTTP request's method and path first (set at `build`), then the others.
    details: Vec<(String, String)>,
    params: Vec<(String, String)>,
}

/// What the service has read from the host so far.
#[derive(Debug, Clone, Default)]
struct FromHost {
    cid: OnceCell<String>,
    channel_name: OnceCell<String>,
    caller: OnceCell<Option<Caller>>,
    method: OnceCell<Option<String>>,
    path: OnceCell<Option<String>>,
    headers: OnceCell<Vec<(String, String)>>,
    query: OnceCell<Vec<(String, String)>>,
    details: OnceCell<Vec<(String, String)>>,
    params: OnceCell<Vec<(String, String)>>,
    /// Values of lookups by name.
    found: Kept,
}

/// What a lookup by name looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// A header; names compare case-insensitively.
    Header,
    Query,
    Detail,
    Param,
}

impl Lookup {
    /// Whether `key` is the name `name` looked for.
    fn matches(self, key: &str, name: &str) -> bool {
        match self {
            Self::Header => key.eq_ignore_ascii_case(name),
            Self::Query | Self::Detail | Self::Param => key == name,
        }
    }
}

impl FromHost {
    /// `lookup` of `name`: from `list` once the service has read it whole, else asked
    /// of the host (once per name).
    fn lookup<'a>(
        &'a self,
        list: &'a OnceCell<Vec<(String, String)>>,
        lookup: Lookup,
        name: &str,
        ask: fn(&str) -> Option<String>,
    ) -> Option<&'a str> {
        match list.get() {
            Some(pairs) => find(pairs, |key| lookup.matches(key, name)),
            None => self.found.find_or_ask(lookup, name, || ask(name)),
        }
    }
}

/// The answers the host gave to lookups by name, kept so that the lookups can lend them
/// out for as long as the request lives and a second lookup of the same name does not
/// ask again. Append-only: an answer lent out never moves.
#[derive(Default)]
struct Kept(OnceCell<Box<Answer>>);

struct Answer {
    lookup: Lookup,
    name: Box<str>,
    value: Option<Box<str>>,
    next: Kept,
}

impl Kept {
    /// The kept answer to `lookup` of `name`, or `ask`'s, kept.
    fn find_or_ask(
        &self,
        lookup: Lookup,
        name: &str,
        ask: impl FnOnce() -> Option<String>,
    ) -> Option<&str> {
        let mut last = self;
        while let Some(answer) = last.0.get() {
            if answer.lookup == lookup && lookup.matches(&answer.name, name) {
                return answer.value.as_deref();
            }
            last = &answer.next;
        }
        let answer = last.0.get_or_init(|| {
            Box::new(Answer {
                lookup,
                name: name.into(),
                value: ask().map(String::into_boxed_str),
                next: Kept::default(),
            })
        });
        answer.value.as_deref()
    }
}

impl Drop for Kept {
    /// One answer at a time: a long chain dropped recursively could overflow the stack.
    fn drop(&mut self) {
        let mut next = self.0.take();
        while let Some(mut answer) = next {
            next = answer.next.0.take();
        }
    }
}

impl Clone for Kept {
    /// A clone starts with nothing kept: it asks again if it needs to.
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl fmt::Debug for Kept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kept")
    }
}

impl Request {
    /// Starts building a request, for testing a service outside the host.
    pub fn builder() -> RequestBuilder {
        RequestBuilder::default()
    }

    /// The request `handle` received; the rest is read from the host when asked.
    pub(crate) fn from_host(
        channel_kind: ChannelKind,
        payload: Vec<u8>,
        data_format: DataFormat,
    ) -> Self {
        Self {
            channel_kind,
            payload,
            data_format,
            details: Details::Host(FromHost::default()),
        }
    }

    /// The correlation id: unique per incoming request and shared by nested invokes.
    pub fn cid(&self) -> &str {
        match &self.details {
            Details::Built(built) => &built.cid,
            Details::Host(host) => host.cid.get_or_init(from_host::cid),
        }
    }

    /// The kind of channel the request came in through.
    pub fn channel_kind(&self) -> ChannelKind {
        self.channel_kind
    }

    /// The configured name of the channel; for [`ChannelKind::Invoke`], the calling
    /// service.
    pub fn channel_name(&self) -> &str {
        match &self.details {
            Details::Built(built) => &built.channel_name,
            Details::Host(host) => host.channel_name.get_or_init(from_host::channel_name),
        }
    }

    /// Who called, when the channel has a security definition: its name and type, and
    /// the username (or, for an API key, the definition's name). `None` for a channel
    /// that checks no one, and for invokes and scheduled calls.
    pub fn caller(&self) -> Option<&Caller> {
        match &self.details {
            Details::Built(built) => built.caller.as_ref(),
            Details::Host(host) => host.caller.get_or_init(from_host::caller).as_ref(),
        }
    }

    /// The value of the first header called `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        match &self.details {
            Details::Built(built) => find(&built.headers, |key| Lookup::Header.matches(key, name)),
            Details::Host(host) => {
                host.lookup(&host.headers, Lookup::Header, name, from_host::header)
            }
        }
    }

    /// Every header, in order; names are lowercase.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        pairs(match &self.details {
            Details::Built(built) => &built.headers,
            Details::Host(host) => host.headers.get_or_init(from_host::headers),
        })
    }

    /// Whether the request came through an HTTP channel (and so has a method and path).
    pub fn is_http(&self) -> bool {
        self.method().is_some()
    }

    /// The HTTP method, e.g. `GET`, for requests from an HTTP channel.
    pub fn method(&self) -> Option<&str> {
        match &self.details {
            Details::Built(built) => built.http.as_ref().map(|http| http.method.as_str()),
            Details::Host(host) => host.method.get_or_init(from_host::method).as_deref(),
        }
    }

    /// The HTTP path, e.g. `/customers/42`, for requests from an HTTP channel.
    pub fn path(&self) -> Option<&str> {
        match &self.details {
            Details::Built(built) => built.http.as_ref().map(|http| http.path.as_str()),
            Details::Host(host) => host.path.get_or_init(from_host::path).as_deref(),
        }
    }

    /// The first decoded value of the query string parameter `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        match &self.details {
            Details::Built(built) => find(&built.http.as_ref()?.query, |key| {
                Lookup::Query.matches(key, name)
            }),
            Details::Host(host) => host.lookup(&host.query, Lookup::Query, name, from_host::query),
        }
    }

    /// Every decoded query string pair, in order.
    pub fn query_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        pairs(match &self.details {
            Details::Built(built) => built.http.as_ref().map_or(&[][..], |http| &http.query),
            Details::Host(host) => host.query.get_or_init(from_host::query_pairs),
        })
    }

    /// The value of the `{name}` segment of an HTTP channel's path pattern: the same
    /// as [`param`](Request::param), under the name HTTP services know it by.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.param(name)
    }

    /// Every path parameter, in the order of the channel's path pattern: the same as
    /// [`params`](Request::params).
    pub fn path_params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params()
    }

    /// The detail `key` of the request: what its kind of channel defines about it.
    ///
    /// An HTTP request has `method`, `path` (as sent, not decoded) and, when its URI
    /// has one, `query-string` (as sent, not decoded); the keys of every other kind
    /// are listed with `detail` in `wit/service.wit`. A key the request does not have
    /// answers `None`. Needs a server of zato:service 0.2.1 or newer.
    ///
    /// ```
    /// use zato_sdk::Request;
    ///
    /// let req = Request::builder()
    ///     .http("GET", "/customers/42")
    ///     .detail("query-string", "verbose=true")
    ///     .build();
    /// assert_eq!(req.detail("method"), Some("GET"));
    /// assert_eq!(req.detail("query-string"), Some("verbose=true"));
    /// assert_eq!(req.detail("routing-key"), None);
    /// let keys: Vec<_> = req.details().map(|(key, _)| key).collect();
    /// assert_eq!(keys, ["method", "path", "query-string"]);
    /// ```
    pub fn detail(&self, key: &str) -> Option<&str> {
        match &self.details {
            Details::Built(built) => find(&built.details, |name| Lookup::Detail.matches(name, key)),
            Details::Host(host) => {
                host.lookup(&host.details, Lookup::Detail, key, from_host::detail)
            }
        }
    }

    /// For a firing of a scheduler job ([`ChannelKind::Scheduler`]): the job's name, the
    /// same as `detail("job")`.
    ///
    /// ```
    /// use zato_sdk::{ChannelKind, Request};
    ///
    /// let req = Request::builder()
    ///     .channel(ChannelKind::Scheduler, "tick")
    ///     .detail("job", "tick")
    ///     .detail("fire-time", "2026-12-05T18:00:00+01:00")
    ///     .build();
    /// assert_eq!(req.job(), Some("tick"));
    /// assert_eq!(req.fire_time(), Some("2026-12-05T18:00:00+01:00"));
    /// ```
    pub fn job(&self) -> Option<&str> {
        self.detail("job")
    }

    /// For a firing of a scheduler job: the time it was scheduled for, ISO 8601 with
    /// the offset of the job's time zone (`2027-03-28T03:00:00+02:00`); the same as
    /// `detail("fire-time")`.
    pub fn fire_time(&self) -> Option<&str> {
        self.detail("fire-time")
    }

    /// Every detail of the request, in the order `wit/service.wit` lists its channel
    /// kind's keys (see [`detail`](Request::detail)).
    pub fn details(&self) -> impl Iterator<Item = (&str, &str)> {
        pairs(match &self.details {
            Details::Built(built) => &built.details,
            Details::Host(host) => host.details.get_or_init(from_host::details),
        })
    }

    /// The named value `name` that the channel extracted from the request: for an HTTP
    /// channel, the `{name}` segment of its path pattern, decoded. Needs a server of
    /// zato:service 0.2.1 or newer.
    ///
    /// ```
    /// use zato_sdk::Request;
    ///
    /// let req = Request::builder()
    ///     .http("GET", "/customers/42")
    ///     .path_param("id", "42")
    ///     .build();
    /// assert_eq!(req.param("id"), Some("42"));
    /// assert_eq!(req.param("ID"), None);
    /// assert_eq!(req.params().collect::<Vec<_>>(), [("id", "42")]);
    /// ```
    pub fn param(&self, name: &str) -> Option<&str> {
        match &self.details {
            Details::Built(built) => find(&built.params, |key| Lookup::Param.matches(key, name)),
            Details::Host(host) => host.lookup(&host.params, Lookup::Param, name, from_host::param),
        }
    }

    /// Every named value the channel extracted from the request, in the channel's order
    /// (for an HTTP channel, that of its path pattern).
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        pairs(match &self.details {
            Details::Built(built) => &built.params,
            Details::Host(host) => host.params.get_or_init(from_host::params),
        })
    }

    /// The raw payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Takes the payload out of the request without copying it.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }

    /// How the payload is encoded.
    pub fn data_format(&self) -> DataFormat {
        self.data_format
    }

    /// The payload as text.
    ///
    /// # Errors
    ///
    /// [`Error::BadRequest`] if the payload is not UTF-8.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.payload)
            .map_err(|err| Error::bad_request(format!("the request payload is not UTF-8: {err}")))
    }

    /// Parses the JSON payload into `T`.
    ///
    /// An empty payload reads as JSON `null`, so `Option<T>` accepts a request without
    /// a body.
    ///
    /// # Errors
    ///
    /// [`Error::BadRequest`] naming what is wrong if the payload is not JSON or does not
    /// fit `T`: the caller sent it, so the caller is to blame.
    ///
    /// ```
    /// use serde::Deserialize;
    /// use zato_sdk::{Error, Request};
    ///
    /// #[derive(Debug, Deserialize)]
    /// struct Order {
    ///     amount: f64,
    /// }
    ///
    /// let order: Order = Request::builder().payload(r#"{"amount": 12.5}"#).build().json()?;
    /// assert_eq!(order.amount, 12.5);
    ///
    /// let err = Request::builder().payload("{").build().json::<Order>().unwrap_err();
    /// assert!(matches!(err, Error::BadRequest(_)));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        json::from_payload(&self.payload).map_err(|err| match err {
            json::PayloadError::Empty => {
                Error::bad_request("the request has no payload, expected a JSON document")
            }
            json::PayloadError::Invalid(err) => {
                Error::bad_request(format!("invalid JSON payload: {err}"))
            }
        })
    }

    /// Parses the JSON payload into a [`serde_json::Value`]; an empty payload is
    /// [`Value::Null`](serde_json::Value::Null).
    ///
    /// # Errors
    ///
    /// [`Error::BadRequest`] if the payload is not JSON.
    pub fn json_value(&self) -> Result<serde_json::Value, Error> {
        self.json()
    }
}

/// Builds a [`Request`] the way the host would, for testing a service natively.
///
/// Defaults: an empty cid, an [`ChannelKind::Invoke`] channel with an empty name, no
/// headers, no HTTP part, an empty payload and [`DataFormat::Json`].
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    channel_kind: ChannelKind,
    payload: Vec<u8>,
    data_format: DataFormat,
    built: Built,
}

impl Default for RequestBuilder {
    fn default() -> Self {
        Self {
            channel_kind: ChannelKind::Invoke,
            payload: Vec::new(),
            data_format: DataFormat::Json,
            built: Built::default(),
        }
    }
}

impl RequestBuilder {
    /// Sets the correlation id.
    pub fn cid(mut self, cid: impl Into<String>) -> Self {
        self.built.cid = cid.into();
        self
    }

    /// Sets the channel the request came in through.
    pub fn channel(mut self, kind: ChannelKind, name: impl Into<String>) -> Self {
        self.channel_kind = kind;
        self.built.channel_name = name.into();
        self
    }

    /// Sets who called: a security definition's name, its type (`basic-auth`,
    /// `apikey`) and the username or key name it admitted.
    pub fn caller(
        mut self,
        definition: impl Into<String>,
        kind: impl Into<String>,
        principal: impl Into<String>,
    ) -> Self {
        self.built.caller = Some(Caller {
            definition: definition.into(),
            kind: kind.into(),
            principal: principal.into(),
        });
        self
    }

    /// Adds a header; the name is lowercased as the host does.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into().to_ascii_lowercase();
        self.built.headers.push((name, value.into()));
        self
    }

    /// Makes this an HTTP request with `method` and `path` (also its `method` and `path`
    /// details, replacing any set with [`detail`](Self::detail)), and sets the channel
    /// kind to [`ChannelKind::Http`].
    pub fn http(mut self, method: impl Into<String>, path: impl Into<String>) -> Self {
        let http = self.http_part();
        http.method = method.into();
        http.path = path.into();
        self.channel_kind = ChannelKind::Http;
        self
    }

    /// Adds a decoded query string pair (and makes this an HTTP request if it was not).
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.http_part().query.push((name.into(), value.into()));
        self
    }

    /// Adds a path parameter (and makes this an HTTP request if it was not).
    pub fn path_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.http_part();
        self.param(name, value)
    }

    /// Adds a detail, e.g. an HTTP request's `query-string` (see [`Request::detail`]).
    pub fn detail(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.built.details.push((key.into(), value.into()));
        self
    }

    /// Adds a parameter the channel extracted (see [`Request::param`]).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.built.params.push((name.into(), value.into()));
        self
    }

    /// Sets the payload.
    pub fn payload(mut self, payload: impl Into<Vec<u8>>) -> Self {
        self.payload = payload.into();
        self
    }

    /// Serialises `value` as the JSON payload and sets the data format to JSON.
    ///
    /// # Panics
    ///
    /// If `value` cannot be represented as JSON (a map with non-string keys, or a
    /// `Serialize` implementation that fails): this is a builder for tests.
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        self.payload = serde_json::to_vec(value).expect("the test payload must serialise as JSON");
        self.data_format = DataFormat::Json;
        self
    }

    /// Sets the data format.
    pub fn data_format(mut self, data_format: DataFormat) -> Self {
        self.data_format = data_format;
        self
    }

    /// Finishes the request.
    pub fn build(mut self) -> Request {
        if let Some(http) = &self.built.http {
            let mut details = vec![
                ("method".to_owned(), http.method.clone()),
                ("path".to_owned(), http.path.clone()),
            ];
            let others = self.built.details.drain(..);
            details.extend(others.filter(|(key, _)| key != "method" && key != "path"));
            self.built.details = details;
        }
        Request {
            channel_kind: self.channel_kind,
            payload: self.payload,
            data_format: self.data_format,
            details: Details::Built(self.built),
        }
    }

    fn http_part(&mut self) -> &mut Http {
        if self.built.http.is_none() {
            self.channel_kind = ChannelKind::Http;
        }
        self.built.http.get_or_insert_with(Http::default)
    }
}

/// The value of the first pair whose key matches.
pub(crate) fn find(
    pairs: &[(String, String)],
    mut matches: impl FnMut(&str) -> bool,
) -> Option<&str> {
    pairs
        .iter()
        .find(|(key, _)| matches(key))
        .map(|(_, value)| value.as_str())
}

/// Borrows a list of owned pairs as string slices.
pub(crate) fn pairs(pairs: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    pairs
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lookup_ignores_case_and_takes_the_first() {
        let req = Request::builder()
            .header("Content-Type", "application/json")
            .header("x-tag", "one")
            .header("X-Tag", "two")
            .build();
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert_eq!(req.header("CONTENT-TYPE"), Some("application/json"));
        assert_eq!(req.header("x-tag"), Some("one"));
        assert_eq!(req.header("missing"), None);
        let names: Vec<_> = req.headers().map(|(name, _)| name).collect();
        assert_eq!(names, ["content-type", "x-tag", "x-tag"]);
    }

    #[test]
    fn a_built_request_says_who_called_only_when_told() {
        assert_eq!(Request::builder().build().caller(), None);
        let req = Request::builder()
            .caller("partner", "basic-auth", "acme")
            .build();
        let caller = req.caller().unwrap();
        assert_eq!(
            (
                caller.definition.as_str(),
                caller.kind.as_str(),
                caller.principal.as_str()
            ),
            ("partner", "basic-auth", "acme")
        );
    }

    #[test]
    fn http_parts_are_none_outside_http() {
        let req = Request::builder().build();
        assert!(!req.is_http());
        assert_eq!(req.method(), None);
        assert_eq!(req.path(), None);
        assert_eq!(req.query("a"), None);
        assert_eq!(req.path_param("a"), None);
        assert_eq!(req.query_pairs().count(), 0);
        assert_eq!(req.path_params().count(), 0);
    }

    #[test]
    fn query_and_path_params_are_looked_up_exactly() {
        let req = Request::builder()
            .http("POST", "/users/7")
            .path_param("id", "7")
            .query("tag", "a")
            .query("tag", "b")
            .build();
        assert_eq!(req.channel_kind(), ChannelKind::Http);
        assert_eq!(req.method(), Some("POST"));
        assert_eq!(req.path(), Some("/users/7"));
        assert_eq!(req.path_param("id"), Some("7"));
        assert_eq!(req.path_param("ID"), None);
        assert_eq!(req.query("tag"), Some("a"));
        let tags: Vec<_> = req.query_pairs().map(|(_, value)| value).collect();
        assert_eq!(tags, ["a", "b"]);
    }

    #[test]
    fn an_http_request_has_its_method_and_path_as_details() {
        let req = Request::builder()
            .detail("path", "/ignored")
            .detail("query-string", "a=1")
            .http("PUT", "/users/7")
            .path_param("id", "7")
            .build();
        let details: Vec<_> = req.details().collect();
        assert_eq!(
            details,
            [
                ("method", "PUT"),
                ("path", "/users/7"),
                ("query-string", "a=1")
            ]
        );
        assert_eq!(req.detail("path"), req.path());
        assert_eq!(req.param("id"), Some("7"));
        assert_eq!(req.path_params().collect::<Vec<_>>(), [("id", "7")]);

        let other = Request::builder()
            .channel(ChannelKind::Amqp, "orders")
            .detail("routing-key", "orders.new")
            .param("queue", "orders")
            .build();
        assert_eq!(other.detail("routing-key"), Some("orders.new"));
        assert_eq!(other.param("queue"), Some("orders"));
        assert_eq!(other.method(), None);
        assert_eq!(other.channel_kind(), ChannelKind::Amqp);
    }

    #[test]
    fn json_maps_every_failure_to_bad_request() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Customer {
            name: String,
        }

        let empty = Request::builder().build();
        assert_eq!(
            empty.json::<Customer>().unwrap_err(),
            Error::bad_request("the request has no payload, expected a JSON document")
        );
        assert_eq!(
            empty.json::<Option<Customer>>().unwrap().map(|c| c.name),
            None
        );
        assert_eq!(empty.json_value().unwrap(), serde_json::Value::Null);

        let broken = Request::builder().payload("{\"name\":").build();
        let err = broken.json_value().unwrap_err();
        assert!(
            matches!(&err, Error::BadRequest(m) if m.starts_with("invalid JSON payload: ")),
            "{err:?}"
        );

        let wrong_shape = Request::builder()
            .json(&serde_json::json!({"name": 1}))
            .build();
        let err = wrong_shape.json::<Customer>().unwrap_err();
        assert!(
            matches!(&err, Error::BadRequest(m) if m.contains("invalid type")),
            "{err:?}"
        );
    }

    #[test]
    fn a_lookup_asks_the_host_once_per_name() {
        let kept = Kept::default();
        let asked = std::cell::Cell::new(0);
        let ask = |value: Option<&str>| {
            asked.set(asked.get() + 1);
            value.map(str::to_owned)
        };
        let first = kept.find_or_ask(Lookup::Header, "X-Tag", || ask(Some("one")));
        assert_eq!(first, Some("one"));
        assert_eq!(
            kept.find_or_ask(Lookup::Header, "x-tag", || ask(Some("other"))),
            Some("one")
        );
        assert_eq!(kept.find_or_ask(Lookup::Query, "x-tag", || ask(None)), None);
        assert_eq!(
            kept.find_or_ask(Lookup::Query, "x-tag", || ask(Some("late"))),
            None
        );
        assert_eq!(
            kept.find_or_ask(Lookup::Query, "X-Tag", || ask(Some("q"))),
            Some("q")
        );
        assert_eq!(asked.get(), 3);
        // Answers lent out stay valid while more are kept.
        for i in 0..100 {
            kept.find_or_ask(Lookup::Param, &i.to_string(), || ask(Some("p")));
        }
        assert_eq!(first, Some("one"));
        assert_eq!(asked.get(), 103);
    }

    #[test]
    fn a_long_chain_of_answers_drops_without_overflowing_the_stack() {
        let kept = Kept::default();
        {
            let mut last = &kept;
            for _ in 0..1_000_000 {
                let answer = last.0.get_or_init(|| {
                    Box::new(Answer {
                        lookup: Lookup::Query,
                        name: "n".into(),
                        value: None,
                        next: Kept::default(),
                    })
                });
                last = &answer.next;
            }
        }
        drop(kept);
    }

    #[test]
    fn text_rejects_invalid_utf8() {
        let req = Request::builder().payload(vec![0xff, 0xfe]).build();
        assert!(matches!(req.text(), Err(Error::BadRequest(_))));
        let req = Request::builder().payload("héllo").build();
        assert_eq!(req.text().unwrap(), "héllo");
    }
}

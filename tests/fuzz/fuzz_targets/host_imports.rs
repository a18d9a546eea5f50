//! Each host import's argument checking: the fuzz guest (`tests/fuzz/guest`) runs a
//! script from its payload that calls the imports with fuzzed arguments (typed, huge,
//! or raw pointers and enum values), with fuzzed request details behind the `request`
//! import and outgoing connections on this machine behind `outgoing-http`,
//! `outgoing-soap`, `sql` and `ftp` (`zato_fuzz::outconns`), and its answer goes
//! through what the HTTP channel makes of one. A guest trap is fine; a host panic is a
//! finding.
//!
//! Input: `flags:u8 channel-name:text`, four lists of pairs (headers, details, query,
//! params), each `count:u8 (text text)*`, then the script. Flags: bit 0 opts in to warm
//! instances (the script then runs twice, the second time in the instance of the
//! first), bits 1-3 pick the channel kind, bits 4-5 the data format (3: JSON, whose
//! Simple IO check refuses most scripts).

#![no_main]

use std::borrow::Cow;
use std::sync::LazyLock;
use std::time::Duration;

use zato_fuzz::Reader;
use zato_fuzz::guest::{Installed, NAME};
use zato_host::api;
use zato_host::http_response::service_response;
use zato_host::runtime::{CallContext, ChannelKind, DataFormat, Request, RequestDetails};

/// The whole call, `invoke`s included.
const TIMEOUT: Duration = Duration::from_secs(1);
const CID: &str = "0123456789abcdef0123456789abcdef";

struct Harness {
    tokio: tokio::runtime::Runtime,
    guest: Installed,
}

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    zato_fuzz::abort_on_panic();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let guest = tokio.block_on(Installed::new());
    Harness { tokio, guest }
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let harness = &*HARNESS;
    let mut input = Reader(data);
    let flags = input.byte();
    let details = Details {
        channel_name: input.text(),
        headers: input.pairs(8),
        details: input.pairs(8),
        query: input.pairs(8),
        params: input.pairs(8),
    };
    let script = input.rest();
    let reuse = flags & 1 == 1;
    let (format, channel_format) = match (flags >> 4) & 3 {
        3 => (DataFormat::Json, api::DataFormat::Json),
        2 => (DataFormat::Xml, api::DataFormat::Xml),
        _ => (DataFormat::Raw, api::DataFormat::Raw),
    };
    harness.tokio.block_on(async {
        harness.guest.reinstall(reuse);
        for _ in 0..if reuse { 2 } else { 1 } {
            let request = Request {
                cid: CID,
                channel: channel_kind(flags >> 1),
                payload: script,
                data_format: format,
                details: Box::new(details.clone()),
            };
            let result = harness
                .guest
                .runtime
                .call(NAME, request, CallContext::new(TIMEOUT))
                .await;
            drop(service_response(result, channel_format, CID));
        }
    });
});

fn channel_kind(bits: u8) -> ChannelKind {
    match bits & 7 {
        0 | 7 => ChannelKind::Http,
        1 => ChannelKind::Invoke,
        2 => ChannelKind::Admin,
        3 => ChannelKind::Scheduler,
        4 => ChannelKind::Amqp,
        5 => ChannelKind::Zeromq,
        _ => ChannelKind::Soap,
    }
}

/// Request details as fuzzed; the trait's own lookups (`header`, `query`, `param`,
/// `detail`) are the host's code under test.
#[derive(Clone)]
struct Details {
    channel_name: String,
    headers: Vec<(String, String)>,
    details: Vec<(String, String)>,
    query: Vec<(String, String)>,
    params: Vec<(String, String)>,
}

fn borrowed(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

impl RequestDetails for Details {
    fn channel_name(&self) -> &str {
        &self.channel_name
    }

    fn details(&self) -> Vec<(&str, Cow<'_, str>)> {
        self.details
            .iter()
            .map(|(k, v)| (k.as_str(), Cow::Borrowed(v.as_str())))
            .collect()
    }

    fn headers(&self) -> Vec<(&str, &str)> {
        borrowed(&self.headers)
    }

    fn query_pairs(&self) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
        self.query
            .iter()
            .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str())))
            .collect()
    }

    fn params(&self) -> Vec<(&str, &str)> {
        borrowed(&self.params)
    }
}

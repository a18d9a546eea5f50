//! `zato:service/log`: guest log lines go into the server's log with the service and cid.

use wasmtime::component::{HasData, Linker};

use crate::wit::zato::service::log::{self, Host, Level};

/// Longer messages are cut, so a guest cannot flood the log with one call.
const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// What the `log` import reaches of a call: whose lines these are.
pub struct LogView<'a> {
    pub service: &'a str,
    pub cid: &'a str,
}

struct Log;

impl HasData for Log {
    type Data<'a> = LogView<'a>;
}

/// Links `log`, reading each call's [`LogView`] from the store's data with `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> LogView<'_>,
) -> wasmtime::Result<()> {
    log::add_to_linker::<T, Log>(linker, get)
}

impl Host for LogView<'_> {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let message = truncate(&message, MAX_MESSAGE_BYTES);
        let (service, cid) = (self.service, self.cid);
        match level {
            Level::Trace => tracing::trace!(target: "zato::service", service, cid, "{message}"),
            Level::Debug => tracing::debug!(target: "zato::service", service, cid, "{message}"),
            Level::Info => tracing::info!(target: "zato::service", service, cid, "{message}"),
            Level::Warn => tracing::warn!(target: "zato::service", service, cid, "{message}"),
            Level::Error => tracing::error!(target: "zato::service", service, cid, "{message}"),
        }
        Ok(())
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(super::truncate("héllo", 2), "h");
        assert_eq!(super::truncate("hello", 10), "hello");
    }
}

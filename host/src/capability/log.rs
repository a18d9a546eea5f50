//! `zato:service/log`: guest log lines go into the server's log with the service and cid.

use crate::runtime::Ctx;
use crate::runtime::bindings::zato::service::log::{Host, Level};

/// Longer messages are cut, so a guest cannot flood the log with one call.
const MAX_MESSAGE_BYTES: usize = 16 * 1024;

impl Host for Ctx {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let message = truncate(&message, MAX_MESSAGE_BYTES);
        let (service, cid) = (&*self.service, &*self.cid);
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

//! Where a starting server stands, and `/zato/ping`, which reports it.
//!
//! A server listens before it has loaded the services in its ODB (`deploy/load.rs`):
//! until then `/zato/ping` answers 503 with the progress, so that a load balancer's
//! health check keeps traffic away, and the admin API already works.

use std::sync::Arc;

use axum::body::Body;
use http::{HeaderValue, Response, StatusCode, header};
use tokio::sync::watch;

use crate::deploy::LoadProgress;
use crate::http_response::json_response;

/// The first load's progress, and whether it has finished.
pub struct Startup {
    progress: LoadProgress,
    loaded: watch::Sender<bool>,
}

impl Default for Startup {
    fn default() -> Self {
        Self {
            progress: LoadProgress::default(),
            loaded: watch::Sender::new(false),
        }
    }
}

impl Startup {
    /// The counters the first load reports into.
    pub fn progress(&self) -> &LoadProgress {
        &self.progress
    }

    pub fn is_loading(&self) -> bool {
        !*self.loaded.borrow()
    }

    /// Returns once the first load has finished.
    pub async fn wait(&self) {
        let mut loaded = self.loaded.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = loaded.wait_for(|loaded| *loaded).await;
    }

    pub(crate) fn finish(&self) {
        self.loaded.send_replace(true);
    }

    /// `/zato/ping`'s answer: 503 `loading` with the progress until the first load is
    /// done, then 200 `ok`.
    pub fn ping(&self, server: &str) -> Response<Body> {
        let progress = self.progress.snapshot();
        if self.is_loading() {
            let mut response = json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({
                    "status": "loading",
                    "server": server,
                    "loaded": progress.done,
                    "total": progress.total,
                    "failed": progress.failed,
                }),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
        // Services that failed to load at start are logged and retried by the reconcile
        // loop; the server itself serves.
        json_response(
            StatusCode::OK,
            &serde_json::json!({
                "status": "ok",
                "server": server,
                "failed_to_load": progress.failed,
            }),
        )
    }
}

/// The `/zato/ping` route, without authentication, added to the server's own routes.
pub fn ping_route(router: axum::Router, startup: Arc<Startup>, server: String) -> axum::Router {
    let server: Arc<str> = server.into();
    router.route(
        "/zato/ping",
        axum::routing::any(move || {
            let (startup, server) = (Arc::clone(&startup), Arc::clone(&server));
            async move { startup.ping(&server) }
        }),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn ping_says_loading_until_the_first_load_finishes() {
        let startup = Arc::new(Startup::default());
        assert_eq!(startup.ping("s").status(), StatusCode::SERVICE_UNAVAILABLE);
        let waiting = tokio::spawn({
            let startup = startup.clone();
            async move { startup.wait().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "wait() returned before finish()");
        startup.finish();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("wait() returns after finish()")
            .unwrap();
        assert!(!startup.is_loading());
        assert_eq!(startup.ping("s").status(), StatusCode::OK);
    }
}

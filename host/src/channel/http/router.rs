//! The HTTP channel route table: path patterns with `{params}` to channels.

use std::sync::Arc;

use http::Method;
use thiserror::Error;

use crate::api::HttpChannel;

#[derive(Debug, Error)]
pub enum RouteError {
    #[error("invalid path `{path}` of channel `{channel}`: {reason}")]
    InvalidPath {
        channel: String,
        path: String,
        reason: String,
    },
}

/// Decoded `{param}` values of a matched path, in pattern order.
pub type PathParams = Vec<(String, String)>;

/// One channel, ready to match.
pub struct Route {
    pub config: HttpChannel,
    methods: Vec<Method>,
}

impl Route {
    pub fn allows(&self, method: &Method) -> bool {
        self.methods.is_empty() || self.methods.contains(method)
    }
}

/// Every HTTP channel of the server, built at once and swapped whole.
#[derive(Default)]
pub struct ChannelRouter {
    router: matchit::Router<Arc<Route>>,
}

impl ChannelRouter {
    pub fn build(channels: &[HttpChannel]) -> Result<Self, RouteError> {
        let mut router = matchit::Router::new();
        for channel in channels {
            let invalid = |reason: String| RouteError::InvalidPath {
                channel: channel.name.clone(),
                path: channel.path.clone(),
                reason,
            };
            if !channel.path.starts_with('/') {
                return Err(invalid("must start with `/`".into()));
            }
            if channel.path == "/zato" || channel.path.starts_with("/zato/") {
                return Err(invalid("`/zato/` is reserved for the server".into()));
            }
            let methods = channel
                .methods
                .iter()
                .map(|m| {
                    Method::from_bytes(m.as_bytes())
                        .map_err(|_| invalid(format!("invalid method `{m}`")))
                })
                .collect::<Result<_, _>>()?;
            let route = Arc::new(Route {
                config: channel.clone(),
                methods,
            });
            router
                .insert(channel.path.clone(), route)
                .map_err(|e| invalid(insert_error(e, &channel.path, channels)))?;
        }
        Ok(Self { router })
    }

    /// The channel for `path` and its decoded path parameters.
    pub fn find(&self, path: &str) -> Option<(Arc<Route>, PathParams)> {
        let matched = self.router.at(path).ok()?;
        let params = matched
            .params
            .iter()
            .map(|(k, v)| {
                (
                    k.to_owned(),
                    percent_encoding::percent_decode_str(v)
                        .decode_utf8_lossy()
                        .into_owned(),
                )
            })
            .collect();
        Some((Arc::clone(matched.value), params))
    }
}

/// Why a path cannot be routed, in the channels' terms rather than the router's.
fn insert_error(e: matchit::InsertError, path: &str, channels: &[HttpChannel]) -> String {
    match e {
        matchit::InsertError::Conflict { with } => match channels.iter().find(|c| c.path == with) {
            Some(other) if with == path => {
                format!("channel `{}` has this path already", other.name)
            }
            Some(other) => format!(
                "it overlaps channel `{}`'s path `{with}` (a request could match both)",
                other.name
            ),
            None => format!("it overlaps the path `{with}` of another channel"),
        },
        matchit::InsertError::InvalidParamSegment => {
            "a segment can hold one `{param}`, after any fixed text, not before it".into()
        }
        matchit::InsertError::InvalidParam => {
            "a `{param}` needs a name and matching braces (`{{` and `}}` for literal ones)".into()
        }
        matchit::InsertError::InvalidCatchAll => "a `{*rest}` can only end a path".into(),
        other => other.to_string(),
    }
}

/// A GET channel at `path` for service `s`, for tests.
#[cfg(test)]
pub(crate) fn test_channel(name: &str, path: &str) -> HttpChannel {
    HttpChannel {
        name: name.into(),
        path: path.into(),
        methods: vec!["GET".into()],
        service: "s".into(),
        data_format: crate::api::DataFormat::Json,
        timeout_ms: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::test_channel as channel;
    use super::*;

    #[test]
    fn paths_with_params_match_and_decode() {
        let router =
            ChannelRouter::build(&[channel("a", "/customers/{id}"), channel("b", "/customers")])
                .unwrap();
        let (route, params) = router.find("/customers/a%20b").unwrap();
        assert_eq!(route.config.name, "a");
        assert_eq!(params, [("id".to_string(), "a b".to_string())]);
        assert_eq!(router.find("/customers").unwrap().0.config.name, "b");
        assert!(router.find("/other").is_none());
        assert!(route.allows(&Method::GET) && !route.allows(&Method::POST));
    }

    #[test]
    fn bad_and_conflicting_paths_are_refused() {
        assert!(ChannelRouter::build(&[channel("a", "no-slash")]).is_err());
        assert!(ChannelRouter::build(&[channel("a", "/zato/x")]).is_err());
        let Err(e) = ChannelRouter::build(&[channel("a", "/x/{id}"), channel("b", "/x/{name}")])
        else {
            panic!("overlapping paths built a router");
        };
        assert_eq!(
            e.to_string(),
            "invalid path `/x/{name}` of channel `b`: it overlaps channel `a`'s path \
             `/x/{id}` (a request could match both)"
        );
    }
}

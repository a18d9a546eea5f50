//! The route table of the HTTP listener: HTTP channels' path patterns with `{params}`,
//! and SOAP channels' exact paths, in one table, so that a path is routed to one
//! channel of one kind and a clash between the kinds is found like any other.

use std::sync::Arc;

use http::Method;
use thiserror::Error;

use crate::api::{HttpChannel, SoapChannel};
use crate::security::{Guard, Guards};

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
    /// The check of the security definition the channel names.
    pub guard: Option<Arc<Guard>>,
}

impl Route {
    pub fn allows(&self, method: &Method) -> bool {
        self.methods.is_empty() || self.methods.contains(method)
    }
}

/// What a path is routed to.
#[derive(Clone)]
pub enum Target {
    Http(Arc<Route>),
    /// A SOAP channel, with the check of the security definition it names.
    Soap(Arc<SoapChannel>, Option<Arc<Guard>>),
}

/// Every channel of the listener, built at once and swapped whole.
#[derive(Default)]
pub struct ChannelRouter {
    router: matchit::Router<Target>,
}

impl ChannelRouter {
    pub fn build(channels: &[HttpChannel]) -> Result<Self, RouteError> {
        Self::build_all(channels, &[])
    }

    /// The table of HTTP channels `channels` and SOAP channels `soap`, to check that
    /// they fit: a channel naming a security definition refuses every caller.
    pub fn build_all(channels: &[HttpChannel], soap: &[SoapChannel]) -> Result<Self, RouteError> {
        Self::build_guarded(channels, soap, &Guards::default())
    }

    /// The table of HTTP channels `channels` and SOAP channels `soap`, each with the
    /// guard of the security definition it names, from `guards`.
    pub fn build_guarded(
        channels: &[HttpChannel],
        soap: &[SoapChannel],
        guards: &Guards,
    ) -> Result<Self, RouteError> {
        let guard = |security: &Option<String>| security.as_deref().map(|name| guards.get(name));
        let mut router = matchit::Router::new();
        let paths: Vec<(&str, &str)> = channels
            .iter()
            .map(|c| (c.name.as_str(), c.path.as_str()))
            .chain(soap.iter().map(|c| (c.name.as_str(), c.path.as_str())))
            .collect();
        for channel in channels {
            let invalid = |reason: String| RouteError::InvalidPath {
                channel: channel.name.clone(),
                path: channel.path.clone(),
                reason,
            };
            if !channel.path.starts_with('/') {
                return Err(invalid("must start with `/`".into()));
            }
            if let Some(reason) = reserved(&channel.path) {
                return Err(invalid(reason.into()));
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
                guard: guard(&channel.security),
            });
            router
                .insert(channel.path.clone(), Target::Http(route))
                .map_err(|e| invalid(insert_error(e, &channel.path, &paths)))?;
        }
        for channel in soap {
            let invalid = |reason: String| RouteError::InvalidPath {
                channel: channel.name.clone(),
                path: channel.path.clone(),
                reason,
            };
            if !channel.path.starts_with('/') {
                return Err(invalid("must start with `/`".into()));
            }
            if let Some(reason) = reserved(&channel.path) {
                return Err(invalid(reason.into()));
            }
            if channel.path.contains(['{', '}']) {
                return Err(invalid(
                    "a SOAP channel's path is exact: it has no `{params}`".into(),
                ));
            }
            router
                .insert(
                    channel.path.clone(),
                    Target::Soap(Arc::new(channel.clone()), guard(&channel.security)),
                )
                .map_err(|e| invalid(insert_error(e, &channel.path, &paths)))?;
        }
        Ok(Self { router })
    }

    /// The HTTP channel for `path` and its decoded path parameters.
    pub fn find(&self, path: &str) -> Option<(Arc<Route>, PathParams)> {
        match self.find_target(path)? {
            (Target::Http(route), params) => Some((route, params)),
            (Target::Soap(..), _) => None,
        }
    }

    /// The channel of either kind for `path`, and its decoded path parameters.
    pub fn find_target(&self, path: &str) -> Option<(Target, PathParams)> {
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
        Some((matched.value.clone(), params))
    }
}

/// Why a path cannot be routed, in the channels' terms rather than the router's;
/// `channels` are the (name, path) of every channel of the table.
fn insert_error(e: matchit::InsertError, path: &str, channels: &[(&str, &str)]) -> String {
    match e {
        matchit::InsertError::Conflict { with } => match channels.iter().find(|c| c.1 == with) {
            Some((other, _)) if with == path => {
                format!("channel `{other}` has this path already")
            }
            Some((other, _)) => format!(
                "it overlaps channel `{other}`'s path `{with}` (a request could match both)"
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
/// Why `path` belongs to the server, if it does.
fn reserved(path: &str) -> Option<&'static str> {
    if path == "/zato" || path.starts_with("/zato/") {
        Some("`/zato/` is reserved for the server")
    } else if path == super::METRICS_PATH {
        Some("`/metrics` is reserved for the server's Prometheus metrics")
    } else {
        None
    }
}

#[cfg(test)]
pub(crate) fn test_channel(name: &str, path: &str) -> HttpChannel {
    HttpChannel {
        name: name.into(),
        path: path.into(),
        methods: vec!["GET".into()],
        service: "s".into(),
        data_format: crate::api::DataFormat::Json,
        timeout_ms: 0,
        security: None,
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

    fn soap(name: &str, path: &str) -> SoapChannel {
        SoapChannel {
            name: name.into(),
            path: path.into(),
            services: vec!["s".into()],
            versions: Vec::new(),
            timeout_ms: 0,
            namespace: String::new(),
            security: None,
        }
    }

    #[test]
    fn soap_and_http_channels_share_one_table_of_paths() {
        let router = ChannelRouter::build_all(
            &[channel("a", "/x/{id}")],
            &[soap("s", "/x/soap"), soap("t", "/soap/t")],
        )
        .unwrap();
        assert!(
            matches!(router.find_target("/x/soap"), Some((Target::Soap(c, _), _)) if c.name == "s")
        );
        assert!(router.find("/x/soap").is_none());
        assert_eq!(router.find("/x/1").unwrap().0.config.name, "a");
        let Err(e) = ChannelRouter::build_all(&[channel("a", "/soap/t")], &[soap("t", "/soap/t")])
        else {
            panic!("an HTTP and a SOAP channel on one path built a router");
        };
        assert_eq!(
            e.to_string(),
            "invalid path `/soap/t` of channel `t`: channel `a` has this path already"
        );
        assert!(ChannelRouter::build_all(&[], &[soap("s", "/x/{id}")]).is_err());
        assert!(ChannelRouter::build_all(&[], &[soap("s", "/zato/s")]).is_err());
        assert!(ChannelRouter::build_all(&[], &[soap("s", "/metrics")]).is_err());
        assert!(ChannelRouter::build_all(&[], &[soap("s", "s")]).is_err());
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

//! Rate limits and IP allow lists on the HTTP listener (HTTP and SOAP channels).
//!
//! [`Limits`] is the server's live table of rate-limit definitions and what they are
//! attached to, rebuilt with the channels' route table (`channel::http::Channels`), and
//! the per-server counts of the definitions that are not exact. [`LimitCheck::check`]
//! counts one request against the definitions of the objects it went through (the
//! security definition that admitted it, its channel, its service), in that order: the
//! first refusal answers (403 for an address no line of a definition holds, 429 with
//! `Retry-After` past a count).
//!
//! A count is kept per object and per client address, in a fixed window (the second,
//! minute, hour or UTC day a request falls in). An exact definition's counts are in the
//! KVDB (one atomic count-and-expire per request, so the N+1th request of a window is
//! refused whichever server it reaches); the others are in this server's memory. A KVDB
//! that does not answer lets the request through (an allow list is still applied) and
//! says so in the log: a rate limit protects a service, it does not authenticate.
//!
//! The client's address is the connection's, unless that comes from a trusted proxy
//! (`[http] trusted_proxies`, the cluster's load balancer): then `X-Forwarded-For` is
//! read from the right, skipping trusted proxies, and the first address that is not one
//! is the client. An untrusted client's `X-Forwarded-For` is ignored.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use http::{HeaderMap, StatusCode};
use ipnet::IpNet;

use crate::api::rate_limit::{
    Limit, LimitedKind, RateLimitInfo, RateLimitUse, Rule, canonical, parse_rules, rule_for,
};
use crate::kvdb::Kvdb;

/// Past this many per-server counts, those of windows that ended are dropped (at most
/// once a second).
const LOCAL_PRUNE_AT: usize = 65_536;
/// Past this many per-server counts of live windows, all are forgotten (a flood of
/// addresses must not grow the server's memory without bound).
const LOCAL_MAX: usize = 4 * LOCAL_PRUNE_AT;
/// IPv6 addresses are counted by their /64, the network a single host is given.
const IPV6_COUNTED_PREFIX: u8 = 64;

/// One definition, ready to count.
struct Def {
    name: String,
    rules: Vec<Rule>,
    exact: bool,
}

/// The definitions and their attachments in force: kind -> object -> definition (a
/// lookup by `&str`, with no allocation per request).
#[derive(Default)]
struct Table {
    uses: HashMap<LimitedKind, HashMap<String, Arc<Def>>>,
}

/// The live table and this server's own counts.
#[derive(Default)]
pub struct Limits {
    table: ArcSwap<Table>,
    /// The per-server counts of the definitions that are not exact.
    local: Mutex<LocalCounts>,
}

/// Key -> (the second its window ends, count), and when they were last pruned.
#[derive(Default)]
struct LocalCounts {
    counts: HashMap<String, (u64, u64)>,
    pruned_at: u64,
}

/// Why a request was refused: for the caller (`message`) and the log (`reason`).
#[derive(Debug)]
pub struct Limited {
    pub status: StatusCode,
    /// Seconds until the window ends (429 only).
    pub retry_after: Option<u64>,
    pub message: String,
    pub reason: String,
    /// The rate-limit definition that refused.
    pub definition: String,
}

impl Limits {
    /// Replaces the table with `defs` and `uses` (as the ODB holds them). A definition
    /// whose lines no longer parse (they did when saved) refuses every address.
    pub fn store(&self, defs: &[RateLimitInfo], uses: &[RateLimitUse]) {
        let defs: HashMap<&str, Arc<Def>> = defs
            .iter()
            .map(|d| {
                let rules = parse_rules(d.rules.iter().map(String::as_str)).unwrap_or_else(|e| {
                    tracing::error!(
                        rate_limit = %d.name,
                        "rate-limit definition does not parse ({e}): it allows no address"
                    );
                    Vec::new()
                });
                (
                    d.name.as_str(),
                    Arc::new(Def {
                        name: d.name.clone(),
                        rules,
                        exact: d.exact,
                    }),
                )
            })
            .collect();
        let mut table = Table::default();
        for u in uses {
            if let Some(def) = defs.get(u.rate_limit.as_str()) {
                table
                    .uses
                    .entry(u.kind)
                    .or_default()
                    .insert(u.object.clone(), Arc::clone(def));
            }
        }
        self.table.store(Arc::new(table));
    }

    /// Whether anything is attached to anything (a request need not look further).
    pub fn any(&self) -> bool {
        !self.table.load().uses.is_empty()
    }

    /// The count of `key` in this server's memory after this request, in the window
    /// that ends at second `ends` (`now` is the current second).
    fn count_locally(&self, key: String, now: u64, ends: u64) -> u64 {
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        if local.counts.len() >= LOCAL_PRUNE_AT && local.pruned_at != now {
            local.pruned_at = now;
            local.counts.retain(|_, (end, _)| *end > now);
            if local.counts.len() >= LOCAL_MAX {
                tracing::warn!(
                    "{} per-server rate-limit counts of live windows: forgetting them all",
                    local.counts.len()
                );
                local.counts.clear();
            }
        }
        let entry = local.counts.entry(key).or_insert((ends, 0));
        if entry.0 != ends {
            *entry = (ends, 0);
        }
        entry.1 += 1;
        entry.1
    }
}

/// One request's check: the server's limits, its KVDB, the client's address.
pub struct LimitCheck<'a> {
    pub limits: &'a Limits,
    pub kvdb: &'a Arc<dyn Kvdb>,
    pub ip: IpAddr,
}

impl LimitCheck<'_> {
    /// Counts the request against the definition of each of `objects` (in order); the
    /// first refusal. With nothing attached to anything, no more than a pointer load.
    pub async fn check<'o>(
        &self,
        objects: impl IntoIterator<Item = (LimitedKind, &'o str)>,
    ) -> Result<(), Limited> {
        let table = self.limits.table.load();
        if table.uses.is_empty() {
            return Ok(());
        }
        for (kind, object) in objects {
            let Some(def) = table
                .uses
                .get(&kind)
                .and_then(|of_kind| of_kind.get(object))
            else {
                continue;
            };
            self.check_one(def, kind, object).await?;
        }
        Ok(())
    }

    async fn check_one(&self, def: &Def, kind: LimitedKind, object: &str) -> Result<(), Limited> {
        let what = || format!("{} `{object}`", kind.describe());
        let Some((_, rule)) = rule_for(&def.rules, self.ip) else {
            return Err(Limited {
                status: StatusCode::FORBIDDEN,
                retry_after: None,
                message: format!("address {} is not allowed to call {}", self.ip, what()),
                reason: format!(
                    "address {} is in no line of rate-limit definition `{}`",
                    self.ip, def.name
                ),
                definition: def.name.clone(),
            });
        };
        let Limit::Count { count, per } = rule.limit else {
            return Ok(());
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let length = per.seconds();
        let window = now.as_secs() / length;
        let ends = (window + 1) * length;
        let left = Duration::from_secs(ends).saturating_sub(now);
        let key = format!(
            "rate-limit:{}:{object}:{}:{}{window}",
            kind.as_str(),
            counted_as(self.ip),
            per.letter()
        );
        let seen = if def.exact {
            match self.kvdb.count_in_window(&key, left).await {
                Ok(seen) => seen.max(0) as u64,
                Err(e) => {
                    tracing::warn!(
                        rate_limit = %def.name,
                        "rate limit not counted, the request goes through: {e}"
                    );
                    return Ok(());
                }
            }
        } else {
            self.limits.count_locally(key, now.as_secs(), ends)
        };
        if seen <= count {
            return Ok(());
        }
        let retry_after = left.as_secs_f64().ceil().max(1.0) as u64;
        Err(Limited {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Some(retry_after),
            message: format!(
                "too many requests to {}: {count} per {} from {}; try again in {retry_after} s",
                what(),
                match per.letter() {
                    's' => "second",
                    'm' => "minute",
                    'h' => "hour",
                    _ => "day",
                },
                self.ip
            ),
            reason: format!(
                "{} over {rule} of rate-limit definition `{}`",
                self.ip, def.name
            ),
            definition: def.name.clone(),
        })
    }
}

/// What a client's address is counted as: an IPv4 address itself, an IPv6 one its /64
/// (a host is given a /64 and can use any address in it).
fn counted_as(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(_) => IpNet::new(ip, IPV6_COUNTED_PREFIX)
            .map(|net| net.trunc().to_string())
            .unwrap_or_else(|_| ip.to_string()),
    }
}

/// The client's address: `peer`, or, when `peer` is a trusted proxy, the last address
/// of `X-Forwarded-For` (read from the right) that is not one. An address that does
/// not parse ends the walk at the hop before it.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = canonical(peer);
    if !is_trusted(&client) {
        return client;
    }
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(text) = value.to_str() else {
            return client;
        };
        for hop in text.rsplit(',') {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                return client;
            };
            client = canonical(ip);
            if !is_trusted(&client) {
                return client;
            }
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy_read_from_the_right() {
        let trusted: Vec<IpNet> = vec![
            "127.0.0.1/32".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
        // An untrusted client says what it likes: ignored.
        let spoofed = forwarded(&["192.0.2.1"]);
        assert_eq!(
            client_ip(ip("198.51.100.7"), &spoofed, &trusted),
            ip("198.51.100.7")
        );
        // The load balancer appended the client's address; what the client sent before
        // it is not believed.
        let through_lb = forwarded(&["192.0.2.1, 203.0.113.9"]);
        assert_eq!(
            client_ip(ip("127.0.0.1"), &through_lb, &trusted),
            ip("203.0.113.9")
        );
        // Trusted hops are skipped, over several headers.
        let chain = forwarded(&["203.0.113.9", "10.1.1.1, 10.2.2.2"]);
        assert_eq!(
            client_ip(ip("127.0.0.1"), &chain, &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), &forwarded(&["2001:db8::5"]), &trusted),
            ip("2001:db8::5")
        );
        // Garbage stops the walk at the last good hop; no header: the proxy itself.
        assert_eq!(
            client_ip(
                ip("127.0.0.1"),
                &forwarded(&["nonsense, 10.1.1.1"]),
                &trusted
            ),
            ip("10.1.1.1")
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), &HeaderMap::new(), &trusted),
            ip("127.0.0.1")
        );
        // An IPv4-mapped peer is its IPv4 address.
        assert_eq!(
            client_ip(ip("::ffff:127.0.0.1"), &through_lb, &trusted),
            ip("203.0.113.9")
        );
    }

    #[tokio::test]
    async fn counts_per_address_refuse_past_the_limit_and_an_unlisted_address_is_forbidden() {
        let limits = Limits::default();
        let def = RateLimitInfo {
            name: "partners".into(),
            rules: vec![
                "192.0.2.0/24 = 2/d".into(),
                "2001:db8::/32 = unlimited".into(),
            ],
            exact: false,
            created_at: 0,
            updated_at: 0,
        };
        let uses = [RateLimitUse {
            kind: LimitedKind::HttpChannel,
            object: "orders".into(),
            rate_limit: "partners".into(),
        }];
        limits.store(&[def], &uses);
        let kvdb: Arc<dyn Kvdb> = Arc::new(crate::kvdb::memory::MemoryKvdb::default());
        let check = |addr: &str| LimitCheck {
            limits: &limits,
            kvdb: &kvdb,
            ip: ip(addr),
        };
        let orders = [(LimitedKind::HttpChannel, "orders")];
        for _ in 0..2 {
            check("192.0.2.1").check(orders).await.unwrap();
        }
        let refused = check("192.0.2.1").check(orders).await.unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.retry_after.unwrap() >= 1);
        assert!(refused.message.contains("2 per day"), "{}", refused.message);
        // Another address has its own count; an unlimited one none.
        check("192.0.2.2").check(orders).await.unwrap();
        for _ in 0..5 {
            check("2001:db8::1").check(orders).await.unwrap();
        }
        assert_eq!(counted_as(ip("2001:db8:1:2:3:4:5:6")), "2001:db8:1:2::/64");
        assert_eq!(counted_as(ip("192.0.2.9")), "192.0.2.9");
        let forbidden = check("198.51.100.1").check(orders).await.unwrap_err();
        assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
        assert!(forbidden.reason.contains("no line"), "{}", forbidden.reason);
        // Other objects are not limited.
        check("198.51.100.1")
            .check([(LimitedKind::HttpChannel, "other")])
            .await
            .unwrap();
    }

    #[test]
    fn per_server_counts_of_ended_windows_are_pruned_and_a_flood_is_forgotten() {
        let limits = Limits::default();
        // Counts of windows that ended at second 100, as many as trigger a prune.
        for i in 0..LOCAL_PRUNE_AT {
            limits.count_locally(format!("old-{i}"), 50, 100);
        }
        assert_eq!(limits.local.lock().unwrap().counts.len(), LOCAL_PRUNE_AT);
        // At second 101 they are dropped, the new count kept.
        assert_eq!(limits.count_locally("new".into(), 101, 200), 1);
        assert_eq!(limits.local.lock().unwrap().counts.len(), 1);
        // Live windows past the cap are all forgotten at the next prune (once a second).
        for i in 0..LOCAL_MAX {
            limits.count_locally(format!("live-{i}"), 101, 200);
        }
        assert!(limits.local.lock().unwrap().counts.len() > LOCAL_MAX);
        assert_eq!(limits.count_locally("new".into(), 102, 200), 1);
        assert_eq!(limits.local.lock().unwrap().counts.len(), 1);
        // A window that ended restarts its count.
        assert_eq!(limits.count_locally("new".into(), 102, 200), 2);
        assert_eq!(limits.count_locally("new".into(), 201, 300), 1);
    }
}

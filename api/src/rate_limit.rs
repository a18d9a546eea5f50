//! Rate limits and IP allow lists: named definitions of `source = limit` lines, attached
//! to security definitions, channels (HTTP, SOAP) and services by name.
//!
//! A line's source is an IPv4 or IPv6 network (`10.0.0.0/8`, `2001:db8::/32`, an address
//! alone for itself) or `*` (any address); its limit is a count per second, minute, hour
//! or day (`100/m`) or `unlimited`. A caller's address takes the line of the most
//! specific network that holds it (`*` last); an address that no line holds is not
//! allowed (403). Each address has its own count per attachment, in fixed windows (a
//! minute from :00 to :59); past the count the answer is 429 with `Retry-After`. An
//! `exact` definition counts cluster-wide through the KVDB, one round trip per request;
//! otherwise each server counts in memory (what a caller gets is then up to the count
//! times the servers it reaches).

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The most lines a definition may have.
pub const MAX_RULES: usize = 1_000;

/// The window a count is kept over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Per {
    /// A second.
    Second,
    /// A minute.
    Minute,
    /// An hour.
    Hour,
    /// A day (UTC).
    Day,
}

impl Per {
    /// Its length in seconds.
    pub fn seconds(self) -> u64 {
        match self {
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3_600,
            Self::Day => 86_400,
        }
    }

    /// Its letter in a rule: `s`, `m`, `h`, `d`.
    pub fn letter(self) -> char {
        match self {
            Self::Second => 's',
            Self::Minute => 'm',
            Self::Hour => 'h',
            Self::Day => 'd',
        }
    }
}

/// How many requests a source may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Any number (an allow-list line).
    Unlimited,
    /// `count` per window.
    Count {
        /// Requests admitted per window.
        count: u64,
        /// The window.
        per: Per,
    },
}

/// Who a line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `*`: any address.
    Any,
    /// A network (an address alone is a network of one).
    Net(IpNet),
}

impl Source {
    /// Whether `ip` is in it (an IPv4-mapped IPv6 address counts as its IPv4 one).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match self {
            Self::Any => true,
            Self::Net(net) => net.contains(&canonical(ip)),
        }
    }

    /// How specific it is: the prefix length, `*` below every network.
    fn specificity(&self) -> i16 {
        match self {
            Self::Any => -1,
            Self::Net(net) => i16::from(net.prefix_len()),
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 one it maps (a dual-stack listener sees
/// IPv4 callers so); any other address as it is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One `source = limit` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Who.
    pub source: Source,
    /// How many.
    pub limit: Limit,
}

impl FromStr for Rule {
    type Err = String;

    fn from_str(line: &str) -> Result<Self, String> {
        let Some((source, limit)) = line.split_once('=') else {
            return Err(format!(
                "`{}` is not `source = limit` (`* = 100/m`, `10.0.0.0/8 = unlimited`)",
                line.trim().escape_debug()
            ));
        };
        let (source, limit) = (source.trim(), limit.trim());
        let source = if source == "*" {
            Source::Any
        } else if let Ok(net) = source.parse::<IpNet>() {
            // The network's own address: 10.1.2.3/8 is 10.0.0.0/8.
            Source::Net(net.trunc())
        } else if let Ok(ip) = source.parse::<IpAddr>() {
            Source::Net(IpNet::from(canonical(ip)))
        } else {
            return Err(format!(
                "`{}` is not `*`, an IP address or a network (10.0.0.0/8, 2001:db8::/32)",
                source.escape_debug()
            ));
        };
        let limit = if limit.eq_ignore_ascii_case("unlimited") {
            Limit::Unlimited
        } else {
            let bad = || {
                format!(
                    "`{}` is not a limit: a count per s, m, h or d (`100/m`), or `unlimited`",
                    limit.escape_debug()
                )
            };
            let (count, per) = limit.split_once('/').ok_or_else(bad)?;
            let count: u64 = count.trim().parse().map_err(|_| bad())?;
            let per = match per.trim() {
                "s" | "second" => Per::Second,
                "m" | "minute" => Per::Minute,
                "h" | "hour" => Per::Hour,
                "d" | "day" => Per::Day,
                _ => return Err(bad()),
            };
            Limit::Count { count, per }
        };
        Ok(Self { source, limit })
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.source {
            Source::Any => f.write_str("*")?,
            Source::Net(net) => write!(f, "{net}")?,
        }
        match self.limit {
            Limit::Unlimited => f.write_str(" = unlimited"),
            Limit::Count { count, per } => write!(f, " = {count}/{}", per.letter()),
        }
    }
}

/// The rules of `lines` (blank lines and `#` comments skipped); what is wrong names the
/// line by its number.
pub fn parse_rules<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<Vec<Rule>, String> {
    let mut rules: Vec<Rule> = Vec::new();
    for (i, line) in lines.into_iter().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let rule: Rule = line.parse().map_err(|e| format!("line {}: {e}", i + 1))?;
        if rules.iter().any(|r| r.source == rule.source) {
            return Err(format!(
                "line {}: `{}` has a line already",
                i + 1,
                match rule.source {
                    Source::Any => "*".to_owned(),
                    Source::Net(net) => net.to_string(),
                }
            ));
        }
        rules.push(rule);
    }
    if rules.is_empty() {
        return Err("no `source = limit` line (`* = 100/m`, say)".into());
    }
    if rules.len() > MAX_RULES {
        return Err(format!("{} lines: at most {MAX_RULES}", rules.len()));
    }
    Ok(rules)
}

/// The rule for `ip` among `rules`: the most specific source that holds it.
pub fn rule_for(rules: &[Rule], ip: IpAddr) -> Option<(usize, &Rule)> {
    rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.source.contains(ip))
        .max_by_key(|(_, r)| r.source.specificity())
}

/// A rate-limit definition as it is created or edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Unique; security definitions, channels and services name it.
    pub name: String,
    /// `source = limit` lines: `* = 100/m`, `10.0.0.0/8 = 1000/h`, `2001:db8::/32 =
    /// unlimited`. An address no line holds is not allowed.
    #[cfg_attr(feature = "openapi", schema(example = json!(["* = 100/m", "10.0.0.0/8 = unlimited"])))]
    pub rules: Vec<String>,
    /// Counted cluster-wide through the KVDB (exact), else by each server in memory.
    #[serde(default)]
    pub exact: bool,
}

impl RateLimit {
    /// What is wrong with it, naming the field.
    pub fn check(&self) -> Result<Vec<Rule>, String> {
        crate::check_service_name(&self.name).map_err(|e| format!("`name`: {e}"))?;
        parse_rules(self.rules.iter().map(String::as_str)).map_err(|e| format!("`rules`: {e}"))
    }
}

/// A rate-limit definition as the admin API answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateLimitInfo {
    /// Unique; security definitions, channels and services name it.
    pub name: String,
    /// Its lines, as given.
    pub rules: Vec<String>,
    /// Counted cluster-wide (exact) or per server.
    pub exact: bool,
    /// Creation, ms since the Unix epoch.
    pub created_at: i64,
    /// Last change, ms since the Unix epoch.
    pub updated_at: i64,
}

/// What a delete answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeletedRateLimit {
    /// The definition deleted.
    pub name: String,
}

/// What a rate-limit definition can be attached to. A request through a channel is
/// counted by the definition of the security definition that admitted it, then by the
/// channel's, then by the service's: the first that refuses answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum LimitedKind {
    /// A security definition: every caller it admits, on any channel.
    Security,
    /// An HTTP channel.
    HttpChannel,
    /// A SOAP channel.
    SoapChannel,
    /// A service, through whichever HTTP or SOAP channel calls it.
    Service,
}

impl LimitedKind {
    /// Every kind, in the order requests are checked.
    pub const ALL: [LimitedKind; 4] = [
        Self::Security,
        Self::HttpChannel,
        Self::SoapChannel,
        Self::Service,
    ];

    /// As written in URLs and JSON: `security`, `http-channel`, `soap-channel`,
    /// `service`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Security => "security",
            Self::HttpChannel => "http-channel",
            Self::SoapChannel => "soap-channel",
            Self::Service => "service",
        }
    }

    /// As a person names it: "HTTP channel".
    pub fn describe(self) -> &'static str {
        match self {
            Self::Security => "security definition",
            Self::HttpChannel => "HTTP channel",
            Self::SoapChannel => "SOAP channel",
            Self::Service => "service",
        }
    }
}

impl std::fmt::Display for LimitedKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LimitedKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "`{}` is not what a rate limit attaches to: expected security, \
                     http-channel, soap-channel or service",
                    s.escape_debug()
                )
            })
    }
}

/// One attachment: the definition that counts the requests of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateLimitUse {
    /// What kind of object.
    #[serde(rename = "type")]
    pub kind: LimitedKind,
    /// Its name.
    pub object: String,
    /// The rate-limit definition attached.
    pub rate_limit: String,
}

/// What `PUT /zato/api/rate-limits/uses/{type}/{object}` takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RateLimitAttach {
    /// The definition to attach; none (`null`) detaches the object's.
    pub rate_limit: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn rules_parse_and_the_most_specific_source_wins() {
        let rules = parse_rules([
            "* = 100/m",
            "# partners",
            "10.0.0.0/8 = 1000/h",
            "10.1.2.3 = unlimited   # the batch host",
            "",
            "2001:db8::/32 = 5/s",
        ])
        .unwrap();
        assert_eq!(rules.len(), 4);
        assert_eq!(rules[0].to_string(), "* = 100/m");
        assert_eq!(rules[2].to_string(), "10.1.2.3/32 = unlimited");
        let limit = |s: &str| rule_for(&rules, ip(s)).unwrap().1.limit;
        assert_eq!(limit("10.1.2.3"), Limit::Unlimited);
        assert_eq!(
            limit("10.9.9.9"),
            Limit::Count {
                count: 1000,
                per: Per::Hour
            }
        );
        assert_eq!(
            limit("::ffff:10.9.9.9"),
            Limit::Count {
                count: 1000,
                per: Per::Hour
            },
            "an IPv4-mapped address is its IPv4 one"
        );
        assert_eq!(
            limit("2001:db8:1::1"),
            Limit::Count {
                count: 5,
                per: Per::Second
            }
        );
        assert_eq!(
            limit("192.0.2.1"),
            Limit::Count {
                count: 100,
                per: Per::Minute
            }
        );
        // Without `*`, an address no line holds has no rule: it is not allowed.
        let allow = parse_rules(["192.0.2.0/24 = unlimited", "2001:db8::/32 = unlimited"]).unwrap();
        assert!(rule_for(&allow, ip("192.0.2.200")).is_some());
        assert!(rule_for(&allow, ip("192.0.3.1")).is_none());
        assert!(rule_for(&allow, ip("2001:db9::1")).is_none());

        let bad = |lines: &[&str]| parse_rules(lines.iter().copied()).unwrap_err();
        assert!(bad(&["* 100/m"]).contains("line 1"));
        assert!(bad(&["* = 100/w"]).contains("`100/w`"));
        assert!(bad(&["300.0.0.0/8 = 1/s"]).contains("`300.0.0.0/8`"));
        assert!(bad(&["* = 1/s", "* = 2/s"]).contains("line 2"));
        assert!(bad(&["# nothing"]).contains("no `source = limit`"));
    }
}

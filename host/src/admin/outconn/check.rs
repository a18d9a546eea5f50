//! The one check of an outgoing connection's definition, before it is stored: what a
//! schema cannot say. Each refusal names the field (`settings.address`,
//! `settings.http.headers[1].name`, ...) and what is wrong with it; none quotes the
//! secret.

use base64::Engine as _;
use http::{HeaderName, HeaderValue, Uri};

use crate::api::{
    FtpSettings, HttpAuth, HttpSettings, MAX_TIMEOUT_MS, Outconn, OutconnSettings, SqlSettings,
    check_service_name,
};

/// The most retries of an idempotent HTTP call.
pub const MAX_RETRIES: u32 = 5;
/// The largest pool (idle HTTP connections per host, SQL connections).
pub const MAX_POOL: u32 = 1_000;
/// The methods an HTTP or SOAP ping may send.
pub const PING_METHODS: [&str; 7] = ["HEAD", "GET", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"];
/// The schemes an SQL connection's URL may have.
pub const SQL_SCHEMES: [&str; 5] = ["postgres", "postgresql", "mysql", "mariadb", "sqlite"];

/// Checks a whole definition; the message names the field.
pub fn check(conn: &Outconn) -> Result<(), String> {
    if let Err(e) = check_service_name(&conn.name) {
        return Err(format!("invalid name `{}`: {e}", conn.name.escape_debug()));
    }
    if conn.secret.as_deref().is_some_and(|s| s.contains('\0')) {
        return Err("secret contains a NUL character".into());
    }
    match &conn.settings {
        OutconnSettings::Http(s) => check_http("settings", s, conn.secret.as_deref()),
        OutconnSettings::Soap(s) => {
            check_http("settings.http", &s.http, conn.secret.as_deref())?;
            if !s.soap_action.is_empty() && HeaderValue::from_str(&s.soap_action).is_err()
                || s.soap_action.contains('"')
            {
                return Err(format!(
                    "invalid settings.soap_action `{}`: it is sent in a header, so it may \
                     hold only visible ASCII characters and spaces, and no `\"`",
                    s.soap_action.escape_debug()
                ));
            }
            Ok(())
        }
        OutconnSettings::Sql(s) => check_sql(s),
        OutconnSettings::Ftp(s) => check_ftp(s, conn.secret.as_deref()),
        OutconnSettings::Amqp(s) => {
            check_amqp_url("settings.url", &s.url)?;
            check_timeout("settings", s.timeout_ms)?;
            check_ca("settings", s.ca_pem.as_deref())
        }
        OutconnSettings::Zmq(s) => {
            check_zmq_address("settings.address", &s.address, s.bind)?;
            check_timeout("settings", s.timeout_ms)
        }
    }
}

/// An optional CA bundle: PEM certificates only.
pub fn check_ca(field: &str, pem: Option<&str>) -> Result<(), String> {
    match pem {
        Some(pem) => check_pem(pem).map_err(|why| format!("invalid {field}.ca_pem: {why}")),
        None => Ok(()),
    }
}

/// Takes the password out of an AMQP URL (`amqp://user:PASSWORD@host/vhost`): the URL
/// without it, and the password (percent-decoded) when there was one. The admin API
/// stores the password as the secret, so that no answer carries it.
pub fn split_amqp_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some(at) = authority.rfind('@') else {
        return (url.to_owned(), None);
    };
    let (userinfo, host) = (&authority[..at], &authority[at..]);
    let Some((user, password)) = userinfo.split_once(':') else {
        return (url.to_owned(), None);
    };
    let password = percent_encoding::percent_decode_str(password)
        .decode_utf8_lossy()
        .into_owned();
    (format!("{scheme}://{user}{host}{tail}"), Some(password))
}

/// Moves a password given in `url` to `secret` (the one place it is stored); refuses a
/// password given both ways.
pub fn take_url_password(url: &mut String, secret: &mut Option<String>) -> Result<(), String> {
    let (without, password) = split_amqp_password(url);
    if let Some(password) = password {
        if secret
            .as_deref()
            .is_some_and(|s| !s.is_empty() && *s != password)
        {
            return Err(
                "the password is given twice, in the URL and as the secret, differently: \
                 give it once"
                    .into(),
            );
        }
        *url = without;
        *secret = Some(password);
    }
    Ok(())
}

/// An AMQP URL: `amqp://` or `amqps://`, a host, an optional port, user and vhost, and
/// no password (it was moved to the secret).
pub fn check_amqp_url(field: &str, url: &str) -> Result<(), String> {
    let problem = match url.split_once("://") {
        Some(("amqp" | "amqps", rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = authority.rsplit('@').next().unwrap_or("");
            let host = host
                .rsplit_once(':')
                .filter(|(h, _)| !h.ends_with(']') || h.starts_with('['))
                .map_or(
                    host,
                    |(h, port)| {
                        if port.parse::<u16>().is_err() { "" } else { h }
                    },
                );
            if host.is_empty() || url.chars().any(|c| c.is_control() || c == ' ') {
                "it needs a host (and a port of 1 to 65535 when given), and no spaces or \
                 control characters"
            } else if authority
                .rsplit_once('@')
                .is_some_and(|(user, _)| user.contains(':'))
            {
                "a password does not belong in the stored URL: give it as the secret"
            } else {
                return Ok(());
            }
        }
        _ => "an amqp:// or amqps:// URL is expected, e.g. amqp://guest@127.0.0.1:5672/%2f",
    };
    Err(format!(
        "invalid {field} `{}`: {problem}",
        url.escape_debug()
    ))
}

/// A ZeroMQ address: `tcp://host:port` (a port of 1 to 65535; `*` as the host only to
/// bind) or `ipc://path`.
pub fn check_zmq_address(field: &str, address: &str, bind: bool) -> Result<(), String> {
    let problem = match address.split_once("://") {
        Some(("tcp", rest)) => match rest.rsplit_once(':') {
            Some((host, port))
                if !host.is_empty()
                    && port.parse::<u16>().is_ok_and(|p| p > 0)
                    && !host.chars().any(|c| c.is_control() || "/@ ".contains(c)) =>
            {
                if host == "*" && !bind {
                    "`*` (every interface) is a host to bind, not to connect to"
                } else {
                    return Ok(());
                }
            }
            _ => "tcp:// needs a host and a port of 1 to 65535, e.g. tcp://127.0.0.1:5555",
        },
        Some(("ipc", path)) if !path.is_empty() && !path.contains('\0') => return Ok(()),
        _ => "a tcp://host:port or ipc://path address is expected",
    };
    Err(format!(
        "invalid {field} `{}`: {problem}",
        address.escape_debug()
    ))
}

fn check_timeout(field: &str, ms: u64) -> Result<(), String> {
    if ms > MAX_TIMEOUT_MS {
        return Err(format!(
            "{field}.timeout_ms {ms} is over the largest, {MAX_TIMEOUT_MS}"
        ));
    }
    Ok(())
}

fn check_pool(field: &str, size: u32) -> Result<(), String> {
    if size > MAX_POOL {
        return Err(format!(
            "{field}.pool_size {size} is over the largest, {MAX_POOL}"
        ));
    }
    Ok(())
}

fn check_http(field: &str, s: &HttpSettings, secret: Option<&str>) -> Result<(), String> {
    check_address(field, &s.address)?;
    check_timeout(field, s.timeout_ms)?;
    check_pool(field, s.pool_size)?;
    if s.retries > MAX_RETRIES {
        return Err(format!(
            "{field}.retries {} is over the largest, {MAX_RETRIES}",
            s.retries
        ));
    }
    if !PING_METHODS.contains(&s.ping_method.as_str()) {
        return Err(format!(
            "invalid {field}.ping_method `{}`: one of {}",
            s.ping_method.escape_debug(),
            PING_METHODS.join(", ")
        ));
    }
    for (i, header) in s.headers.iter().enumerate() {
        if HeaderName::from_bytes(header.name.as_bytes()).is_err() {
            return Err(format!(
                "invalid {field}.headers[{i}].name `{}`: not an HTTP header name",
                header.name.escape_debug()
            ));
        }
        if HeaderValue::from_str(&header.value).is_err() {
            return Err(format!(
                "invalid {field}.headers[{i}].value of header `{}`: only visible ASCII \
                 characters, spaces and tabs",
                header.name
            ));
        }
    }
    match &s.auth {
        HttpAuth::None => {}
        HttpAuth::Basic { username } => {
            if username.contains(':') || username.chars().any(char::is_control) {
                return Err(format!(
                    "invalid {field}.auth.username `{}`: HTTP basic user names hold no `:` \
                     and no control characters",
                    username.escape_debug()
                ));
            }
        }
        HttpAuth::Bearer => {
            if secret.is_some_and(|s| !s.is_empty() && HeaderValue::from_str(s).is_err()) {
                return Err(
                    "invalid secret: a bearer token is sent in a header, so it may \
                            hold only visible ASCII characters"
                        .into(),
                );
            }
        }
        HttpAuth::ApiKey { header } => {
            if HeaderName::from_bytes(header.as_bytes()).is_err() {
                return Err(format!(
                    "invalid {field}.auth.header `{}`: not an HTTP header name",
                    header.escape_debug()
                ));
            }
            if secret.is_some_and(|s| !s.is_empty() && HeaderValue::from_str(s).is_err()) {
                return Err(
                    "invalid secret: an API key is sent in a header, so it may hold \
                            only visible ASCII characters"
                        .into(),
                );
            }
        }
    }
    if let Some(pem) = &s.ca_pem {
        check_pem(pem).map_err(|why| format!("invalid {field}.ca_pem: {why}"))?;
    }
    Ok(())
}

/// An absolute `http` or `https` URL with a host and no credentials in it.
fn check_address(field: &str, address: &str) -> Result<(), String> {
    let problem = match Uri::try_from(address) {
        Err(e) => format!("not a URL ({e})"),
        Ok(uri) => match (uri.scheme_str(), uri.authority()) {
            (Some("http" | "https"), Some(authority)) => {
                if authority.as_str().contains('@') {
                    "credentials do not belong in the URL: use `auth` and the secret".into()
                } else if uri.host().is_none_or(str::is_empty) {
                    "it has no host".into()
                } else {
                    return Ok(());
                }
            }
            (Some("http" | "https"), None) => "it has no host".into(),
            _ => "an http:// or https:// URL is expected".into(),
        },
    };
    Err(format!(
        "invalid {field}.address `{}`: {problem}",
        address.escape_debug()
    ))
}

/// One PEM certificate or more, and nothing else (a private key has no place here).
fn check_pem(pem: &str) -> Result<(), String> {
    const BEGIN: &str = "-----BEGIN ";
    let mut rest = pem;
    let mut count = 0;
    while let Some(at) = rest.find(BEGIN) {
        let after = &rest[at + BEGIN.len()..];
        let Some(end_of_label) = after.find("-----") else {
            return Err("a `-----BEGIN` line does not end with `-----`".into());
        };
        let label = &after[..end_of_label];
        if label != "CERTIFICATE" {
            return Err(format!(
                "it holds a `{}` block: only CERTIFICATE blocks belong here",
                label.escape_debug()
            ));
        }
        let body = &after[end_of_label + 5..];
        let Some(end) = body.find("-----END CERTIFICATE-----") else {
            return Err("a certificate has no `-----END CERTIFICATE-----` line".into());
        };
        let b64: String = body[..end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| format!("certificate {} is not base64: {e}", count + 1))?;
        if !is_der_sequence(&der) {
            return Err(format!(
                "certificate {} is not a DER certificate",
                count + 1
            ));
        }
        count += 1;
        rest = &body[end + "-----END CERTIFICATE-----".len()..];
    }
    if count == 0 {
        return Err("no `-----BEGIN CERTIFICATE-----` block".into());
    }
    Ok(())
}

/// Whether `der` is exactly one DER SEQUENCE (what every X.509 certificate is).
fn is_der_sequence(der: &[u8]) -> bool {
    let [0x30, first, rest @ ..] = der else {
        return false;
    };
    let (len, body) = if *first < 0x80 {
        (*first as usize, rest)
    } else {
        let n = (*first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return false;
        }
        let len = rest[..n].iter().fold(0usize, |l, b| (l << 8) | *b as usize);
        (len, &rest[n..])
    };
    len > 0 && body.len() == len
}

fn check_sql(s: &SqlSettings) -> Result<(), String> {
    check_timeout("settings", s.timeout_ms)?;
    check_pool("settings", s.pool_size)?;
    let url = &s.url;
    let bad = |problem: &str| {
        Err(format!(
            "invalid settings.url `{}`: {problem}",
            url.escape_debug()
        ))
    };
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return bad("it contains spaces or control characters");
    }
    let Some((scheme, rest)) = url.split_once(':') else {
        return bad("expected a URL such as postgres://user@host:5432/db");
    };
    if !SQL_SCHEMES.contains(&scheme) {
        return bad(&format!(
            "the scheme must be one of {}",
            SQL_SCHEMES.join(", ")
        ));
    }
    if scheme == "sqlite" {
        if rest.trim_start_matches('/').is_empty() {
            return bad("it names no database file (sqlite:///path/to/file.db)");
        }
        return Ok(());
    }
    let Some(rest) = rest.strip_prefix("//") else {
        return bad(&format!("expected {scheme}://user@host/database"));
    };
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let host = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            if userinfo.contains(':') {
                return bad(
                    "it carries a password: leave it out of the URL and give it as the \
                     connection's secret (stored apart, never shown)",
                );
            }
            host
        }
        None => authority,
    };
    if host.is_empty() {
        return bad("it has no host");
    }
    if let Some((_, query)) = rest.split_once('?')
        && query
            .split('&')
            .any(|pair| pair.split('=').next() == Some("password"))
    {
        return bad(
            "it carries a password: leave it out of the URL and give it as the \
             connection's secret (stored apart, never shown)",
        );
    }
    Ok(())
}

fn check_ftp(s: &FtpSettings, secret: Option<&str>) -> Result<(), String> {
    check_timeout("settings", s.timeout_ms)?;
    if let Some(pem) = &s.ca_pem {
        check_pem(pem).map_err(|why| format!("invalid settings.ca_pem: {why}"))?;
    }
    let host = s.host.trim();
    if host.is_empty() || host.len() != s.host.len() || s.host.chars().any(char::is_whitespace) {
        return Err(format!(
            "invalid settings.host `{}`: a host name or address, with no spaces",
            s.host.escape_debug()
        ));
    }
    if s.host.chars().any(|c| c.is_control() || "/@?#".contains(c)) {
        return Err(format!(
            "invalid settings.host `{}`: a host name or address only",
            s.host.escape_debug()
        ));
    }
    // FTP commands are lines: a CR or LF would end one and start another.
    if s.username.is_empty() || s.username.chars().any(char::is_control) {
        return Err(format!(
            "invalid settings.username `{}`: not empty, no control characters",
            s.username.escape_debug()
        ));
    }
    if secret.is_some_and(|s| s.chars().any(char::is_control)) {
        return Err("invalid secret: an FTP password holds no control characters".into());
    }
    if !s.base_dir.starts_with('/') {
        return Err(format!(
            "invalid settings.base_dir `{}`: an absolute path (starting with `/`)",
            s.base_dir.escape_debug()
        ));
    }
    if s.base_dir.split('/').any(|part| part == "..") || s.base_dir.chars().any(char::is_control) {
        return Err(format!(
            "invalid settings.base_dir `{}`: no `..` and no control characters",
            s.base_dir.escape_debug()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Header, OutconnType, SoapSettings, SoapVersion};

    fn http(address: &str) -> HttpSettings {
        HttpSettings {
            address: address.into(),
            timeout_ms: 0,
            pool_size: 0,
            tls_verify: true,
            ca_pem: None,
            auth: HttpAuth::None,
            headers: Vec::new(),
            retries: 0,
            ping_method: "HEAD".into(),
        }
    }

    fn conn(settings: OutconnSettings) -> Outconn {
        Outconn {
            name: "crm".into(),
            active: true,
            settings,
            secret: None,
        }
    }

    fn refused(conn: &Outconn, field: &str) {
        match check(conn) {
            Err(m) => assert!(m.contains(field), "{field}: {m}"),
            Ok(()) => panic!("{conn:?} was accepted"),
        }
    }

    /// A self-signed certificate (openssl req -x509), as an operator would paste it.
    const CA: &str = "-----BEGIN CERTIFICATE-----
MIIBczCCARmgAwIBAgIUNV7spMoAPzZYsJZQMSBqQBmFCmYwCgYIKoZIzj0EAwIw
DzENMAsGA1UEAwwEdGVzdDAeFw0yNjEyMDUyMzQ4MTVaFw0zNjEyMDIyMzQ4MTVa
MA8xDTALBgNVBAMMBHRlc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQ+5SsH
eKLITdo4qGyTiNhGwhVurw1XgTxNDmvMndQNxOg5DSJ+XhvjDzH85/h9pC5WrugK
0t+H+Y1jwkKg6Dbbo1MwUTAdBgNVHQ4EFgQUxekmxrMvHZN8FunuzIUegeGfw3Yw
HwYDVR0jBBgwFoAUxekmxrMvHZN8FunuzIUegeGfw3YwDwYDVR0TAQH/BAUwAwEB
/zAKBggqhkjOPQQDAgNIADBFAiEA0wHmKLJq4Ga+u5VgyqSnuDqROUgFibXsZKje
GJpEo6ACIBKT24enCjKoun1XDlS796qFnsirCrsUZAflsjyHme4K
-----END CERTIFICATE-----
";

    #[test]
    fn good_definitions_of_every_type_pass() {
        assert_eq!(
            check(&conn(OutconnSettings::Http(http(
                "http://127.0.0.1:8080/api"
            )))),
            Ok(())
        );
        assert_eq!(
            check(&conn(OutconnSettings::Http(http(
                "https://crm.example.com"
            )))),
            Ok(())
        );
        let soap = SoapSettings {
            http: http("http://127.0.0.1/soap"),
            version: SoapVersion::V12,
            soap_action: "urn:get".into(),
        };
        assert_eq!(check(&conn(OutconnSettings::Soap(soap))), Ok(()));
        for url in [
            "postgres://billing@127.0.0.1:5432/billing",
            "postgresql://127.0.0.1/db",
            "mysql://root@127.0.0.1:3306/test",
            "mariadb://root@localhost/test?ssl-mode=disabled",
            "sqlite:///var/lib/zato/app.db",
            "sqlite::memory:",
        ] {
            let sql = SqlSettings {
                url: url.into(),
                pool_size: 0,
                timeout_ms: 0,
                max_rows: 0,
            };
            assert_eq!(check(&conn(OutconnSettings::Sql(sql))), Ok(()), "{url}");
        }
        let ftp = FtpSettings {
            host: "127.0.0.1".into(),
            port: 0,
            username: "anonymous".into(),
            tls: false,
            ca_pem: None,
            base_dir: "/".into(),
            timeout_ms: 0,
        };
        assert_eq!(check(&conn(OutconnSettings::Ftp(ftp))), Ok(()));
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut c = conn(OutconnSettings::Http(http("http://x")));
        c.name = "a b".into();
        refused(&c, "name `a b`");
        for address in ["ftp://x", "x", "", "http://", "http://u:p@x/", "/relative"] {
            refused(
                &conn(OutconnSettings::Http(http(address))),
                "settings.address",
            );
        }
        let mut h = http("http://x");
        h.timeout_ms = MAX_TIMEOUT_MS + 1;
        refused(&conn(OutconnSettings::Http(h)), "settings.timeout_ms");
        let mut h = http("http://x");
        h.retries = 6;
        refused(&conn(OutconnSettings::Http(h)), "settings.retries");
        let mut h = http("http://x");
        h.ping_method = "BREW".into();
        refused(&conn(OutconnSettings::Http(h)), "settings.ping_method");
        let mut h = http("http://x");
        h.headers = vec![
            Header {
                name: "X-Ok".into(),
                value: "1".into(),
            },
            Header {
                name: "bad name".into(),
                value: "1".into(),
            },
        ];
        refused(&conn(OutconnSettings::Http(h)), "settings.headers[1].name");
        let mut h = http("http://x");
        h.headers = vec![Header {
            name: "X-A".into(),
            value: "a\r\nb".into(),
        }];
        refused(&conn(OutconnSettings::Http(h)), "settings.headers[0].value");
        let mut h = http("http://x");
        h.auth = HttpAuth::ApiKey {
            header: "x key".into(),
        };
        refused(&conn(OutconnSettings::Http(h)), "settings.auth.header");
        let mut h = http("http://x");
        h.auth = HttpAuth::Basic {
            username: "a:b".into(),
        };
        refused(&conn(OutconnSettings::Http(h)), "settings.auth.username");
        let mut h = http("http://x");
        h.auth = HttpAuth::Bearer;
        let mut c = conn(OutconnSettings::Http(h));
        c.secret = Some("tok\nen".into());
        refused(&c, "secret");
        let soap = SoapSettings {
            http: http("gopher://x"),
            version: SoapVersion::V11,
            soap_action: String::new(),
        };
        refused(&conn(OutconnSettings::Soap(soap)), "settings.http.address");
        let soap = SoapSettings {
            http: http("http://x"),
            version: SoapVersion::V11,
            soap_action: "a\"b".into(),
        };
        refused(&conn(OutconnSettings::Soap(soap)), "settings.soap_action");
        for url in [
            "postgres://u:pw@h/db",
            "mysql://h/db?password=x",
            "oracle://h/db",
            "postgres:/h/db",
            "postgres:///db",
            "sqlite:",
            "no-scheme",
        ] {
            let sql = SqlSettings {
                url: url.into(),
                pool_size: 0,
                timeout_ms: 0,
                max_rows: 0,
            };
            refused(&conn(OutconnSettings::Sql(sql)), "settings.url");
        }
        let sql = SqlSettings {
            url: "postgres://u:hunter2@h/db".into(),
            pool_size: 0,
            timeout_ms: 0,
            max_rows: 0,
        };
        let message = check(&conn(OutconnSettings::Sql(sql))).unwrap_err();
        assert!(message.contains("secret"), "{message}");
        let ftp = |host: &str, base_dir: &str, username: &str| FtpSettings {
            host: host.into(),
            port: 0,
            username: username.into(),
            tls: false,
            ca_pem: None,
            base_dir: base_dir.into(),
            timeout_ms: 0,
        };
        refused(
            &conn(OutconnSettings::Ftp(ftp("", "/", "a"))),
            "settings.host",
        );
        refused(
            &conn(OutconnSettings::Ftp(ftp("a b", "/", "a"))),
            "settings.host",
        );
        refused(
            &conn(OutconnSettings::Ftp(ftp("h", "in", "a"))),
            "settings.base_dir",
        );
        refused(
            &conn(OutconnSettings::Ftp(ftp("h", "/a/../..", "a"))),
            "settings.base_dir",
        );
        refused(
            &conn(OutconnSettings::Ftp(ftp("h", "/", "a\r\nDELE x"))),
            "settings.username",
        );
        let amqp = |url: &str, timeout_ms: u64| {
            conn(OutconnSettings::Amqp(crate::api::AmqpSettings {
                url: url.into(),
                heartbeat_s: 30,
                ca_pem: None,
                timeout_ms,
            }))
        };
        assert_eq!(check(&amqp("amqp://guest@127.0.0.1:5672/%2f", 0)), Ok(()));
        for url in [
            "http://x",
            "amqp://",
            "amqp://h:0x",
            "amqp://u:p@h/v",
            "amqp://a b",
        ] {
            refused(&amqp(url, 0), "settings.url");
        }
        refused(&amqp("amqp://h", MAX_TIMEOUT_MS + 1), "settings.timeout_ms");
        let zmq = |address: &str, bind: bool| {
            conn(OutconnSettings::Zmq(crate::api::ZmqSettings {
                socket: crate::api::ZmqOutSocket::Push,
                address: address.into(),
                bind,
                timeout_ms: 0,
            }))
        };
        assert_eq!(check(&zmq("tcp://*:5555", true)), Ok(()));
        for (address, bind) in [
            ("tcp://*:5555", false),
            ("tcp://h:0", false),
            ("tcp://h", true),
            ("udp://h:1", true),
            ("ipc://", true),
        ] {
            refused(&zmq(address, bind), "settings.address");
        }
        assert_eq!(OutconnType::ALL.len(), 6);
    }

    #[test]
    fn ca_pem_must_hold_certificates_only() {
        let mut h = http("https://x");
        h.ca_pem = Some("not a pem".into());
        refused(&conn(OutconnSettings::Http(h.clone())), "settings.ca_pem");
        h.ca_pem = Some("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into());
        refused(&conn(OutconnSettings::Http(h.clone())), "settings.ca_pem");
        h.ca_pem = Some("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n".into());
        refused(&conn(OutconnSettings::Http(h.clone())), "settings.ca_pem");
        assert!(is_der_sequence(&[0x30, 0x01, 0x00]));
        assert!(!is_der_sequence(&[0x30, 0x02, 0x00]));
        assert!(is_der_sequence(&[0x30, 0x81, 0x01, 0x05]));
        h.ca_pem = Some(CA.into());
        assert_eq!(check(&conn(OutconnSettings::Http(h.clone()))), Ok(()));
        h.ca_pem = Some(format!("{CA}\n{CA}"));
        assert_eq!(check(&conn(OutconnSettings::Http(h))), Ok(()));
        // FTPS's CA bundle is checked the same way.
        let mut f = ftp_settings();
        f.ca_pem = Some("not a pem".into());
        refused(&conn(OutconnSettings::Ftp(f.clone())), "settings.ca_pem");
        f.ca_pem = Some(CA.into());
        assert_eq!(check(&conn(OutconnSettings::Ftp(f))), Ok(()));
    }

    fn ftp_settings() -> FtpSettings {
        FtpSettings {
            host: "127.0.0.1".into(),
            port: 0,
            username: "anonymous".into(),
            tls: true,
            ca_pem: None,
            base_dir: "/".into(),
            timeout_ms: 0,
        }
    }
}

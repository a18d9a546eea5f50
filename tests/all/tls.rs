//! TLS everywhere: an environment made with `zato quickstart create --tls` serves its
//! servers (channels and admin API), its load balancer (both sides) and its web admin
//! over HTTPS with certificates of its own CA, which curl verifies; TLS 1.0 is refused;
//! a certificate rotated on disk serves new connections without a restart.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;
use zato_api::lb::{BackendState, LbStats};

use crate::cli::{Running, signal, start, text, zato};
use crate::harness::{TestServer, eventually};

/// `curl -sS` with `args`, its output.
async fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .await
        .unwrap()
}

/// `openssl s_client` to `address` with `args`, its stdout and stderr together.
async fn s_client(address: &str, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", address, "-servername", "localhost"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// The address in a component's address file, once it is there.
async fn address_of(file: &Path) -> String {
    eventually(
        Duration::from_secs(30),
        &format!("{}", file.display()),
        || async {
            std::fs::read_to_string(file)
                .ok()
                .map(|a| a.trim().to_owned())
        },
    )
    .await
}

#[tokio::test]
async fn a_tls_quickstart_serves_servers_load_balancer_and_web_admin_over_https_its_ca_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    let created = zato(&[
        "quickstart",
        "create",
        env_arg,
        "--base-port",
        "0",
        "--tls",
        "--json",
    ])
    .await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    let created: Value = serde_json::from_slice(&created.stdout).unwrap();
    let ca = env.join("ca/ca.pem");
    assert_eq!(created["ca"], ca.to_str().unwrap(), "{created}");
    assert!(
        created["servers"][0]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://"),
        "{created}"
    );
    let ca_arg = ca.to_str().unwrap();
    let credentials: toml::Table =
        toml::from_str(&std::fs::read_to_string(env.join("credentials.toml")).unwrap()).unwrap();
    let user_password = format!(
        "{}:{}",
        credentials["username"].as_str().unwrap(),
        credentials["password"].as_str().unwrap()
    );

    let log = dir.path().join("start.log");
    let running = start(&env, &log).await;
    // `zato lb status` reaches the load balancer over HTTPS (the CLI trusts the
    // environment's CA), which found the server through its admin API and checks its
    // health, both over HTTPS too.
    let stats: LbStats = eventually(
        Duration::from_secs(60),
        "the load balancer with its server up",
        || async {
            let status = zato(&["lb", "status", env_arg, "--json"]).await;
            let stats: LbStats = serde_json::from_slice(&status.stdout).ok()?;
            stats
                .backends
                .iter()
                .any(|b| b.state == BackendState::Up)
                .then_some(stats)
        },
    )
    .await;
    let server = address_of(&env.join("server1/address")).await;
    let web_admin = address_of(&env.join("web-admin/address")).await;
    let lb = stats.address.clone();

    // The server: a channel path, the ping and the admin API.
    let ping = curl(&["--cacert", ca_arg, &format!("https://{server}/zato/ping")]).await;
    assert!(ping.status.success(), "{}", text(&ping.stderr));
    let ping: Value = serde_json::from_slice(&ping.stdout).unwrap();
    assert_eq!(ping["server"], "server1", "{ping}");
    let servers = curl(&[
        "--cacert",
        ca_arg,
        "-u",
        &user_password,
        "-w",
        "\n%{http_code}",
        &format!("https://{server}/zato/api/servers"),
    ])
    .await;
    let body = text(&servers.stdout);
    assert!(body.ends_with("\n200"), "{body}");
    assert!(
        body.contains("\"https://"),
        "the server registers its https URL: {body}"
    );
    // The load balancer, in front of it.
    let through = curl(&["--cacert", ca_arg, &format!("https://{lb}/zato/ping")]).await;
    assert!(through.status.success(), "{}", text(&through.stderr));
    let through: Value = serde_json::from_slice(&through.stdout).unwrap();
    assert_eq!(through["server"], "server1", "{through}");
    // The web admin's login page.
    let login = curl(&[
        "--cacert",
        ca_arg,
        "-w",
        "\n%{http_code}",
        &format!("https://{web_admin}/login"),
    ])
    .await;
    let page = text(&login.stdout);
    assert!(page.ends_with("\n200") && page.contains("<form"), "{page}");
    // Its dashboard, logged in, shows the cluster it reaches over HTTPS.
    let jar = dir.path().join("cookies");
    let jar_arg = jar.to_str().unwrap();
    let form = curl(&[
        "--cacert",
        ca_arg,
        "-c",
        jar_arg,
        &format!("https://{web_admin}/login"),
    ])
    .await;
    let form = text(&form.stdout);
    let csrf = form
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no CSRF token in the login form: {form}"));
    let (user, password) = user_password.split_once(':').unwrap();
    let logged_in = curl(&[
        "--cacert",
        ca_arg,
        "-b",
        jar_arg,
        "-c",
        jar_arg,
        "-L",
        "--data-urlencode",
        &format!("username={user}"),
        "--data-urlencode",
        &format!("password={password}"),
        "--data-urlencode",
        &format!("csrf={csrf}"),
        &format!("https://{web_admin}/login"),
    ])
    .await;
    let dashboard = text(&logged_in.stdout);
    assert!(
        dashboard.contains("server1"),
        "the dashboard lists the server it reached over HTTPS: {dashboard}"
    );

    // Without the CA, curl refuses each certificate; plain HTTP gets no answer.
    for address in [&server, &lb, &web_admin] {
        let unverified = curl(&[&format!("https://{address}/zato/ping")]).await;
        assert_eq!(
            unverified.status.code(),
            Some(60),
            "{address}: {}",
            text(&unverified.stderr)
        );
        let plain = curl(&["-w", "%{http_code}", &format!("http://{address}/zato/ping")]).await;
        assert!(
            !plain.status.success() && !text(&plain.stdout).starts_with('2'),
            "{address} answered plain HTTP: {}",
            text(&plain.stdout)
        );
    }
    // A client that offers only TLS 1.0 is refused by the server's alert (rustls
    // answers a hello with nothing it speaks with handshake_failure), while the same
    // client with TLS 1.2 completes a verified handshake.
    for address in [&server, &lb, &web_admin] {
        let old = s_client(address, &["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"]).await;
        assert!(
            old.contains("alert handshake failure") || old.contains("alert protocol version"),
            "{address}: {old}"
        );
        assert!(
            old.contains("Cipher is (NONE)") && old.contains("no peer certificate available"),
            "{address}: no session, no certificate: {old}"
        );
        let modern = s_client(address, &["-tls1_2", "-CAfile", ca_arg]).await;
        assert!(
            modern.contains("Verify return code: 0 (ok)"),
            "{address}: {modern}"
        );
    }
    // The CLI speaks to the admin API over HTTPS, trusting the environment's CA.
    let info = zato(&["info", "--env", env_arg, "--json"]).await;
    assert!(info.status.success(), "{}", text(&info.stderr));

    stop(running, &log).await;
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        !log.contains("plain HTTP"),
        "no plain-HTTP warning in a TLS environment: {log}"
    );
}

/// Stops `zato start` with SIGTERM; it must exit 0.
async fn stop(mut process: Running, log: &Path) {
    signal(&process.0.id().unwrap().to_string(), "TERM").await;
    let status = tokio::time::timeout(Duration::from_secs(30), process.0.wait())
        .await
        .expect("zato start stops")
        .unwrap();
    assert!(
        status.success(),
        "{status}: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

#[tokio::test]
async fn a_plain_environment_says_at_start_that_it_is_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env");
    let created = zato(&[
        "quickstart",
        "create",
        env.to_str().unwrap(),
        "--base-port",
        "0",
        "--no-lb",
        "--no-web-admin",
    ])
    .await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    let log = dir.path().join("start.log");
    let running = start(&env, &log).await;
    eventually(
        Duration::from_secs(60),
        "the plain-HTTP warning",
        || async {
            std::fs::read_to_string(&log)
                .ok()
                .filter(|log| log.contains("plain HTTP") && log.contains("--tls"))
        },
    )
    .await;
    stop(running, &log).await;
}

/// The certificate a TLS listener at `addr` serves, verified against `ca`.
async fn served_certificate(addr: std::net::SocketAddr, ca: &Path) -> Vec<u8> {
    let roots = zato_api::tls::read_certs(ca).unwrap();
    let config = zato_api::tls::client_config(&roots, &[b"http/1.1"]).unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, stream).await.unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// The DER of the first certificate in a PEM file.
fn der_of(pem: &Path) -> Vec<u8> {
    zato_api::tls::read_certs(pem).unwrap()[0].to_vec()
}

#[tokio::test]
async fn a_certificate_rotated_on_disk_serves_new_connections_without_a_restart() {
    let pki = tempfile::tempdir().unwrap();
    let ca_dir = pki.path().join("ca");
    let tls_dir = pki.path().join("tls");
    let issue = |name: &'static str, out: std::path::PathBuf| {
        let ca_dir = ca_dir.clone();
        async move {
            let issued = zato(&[
                "ca",
                "issue",
                "--ca",
                ca_dir.to_str().unwrap(),
                "--name",
                name,
                out.to_str().unwrap(),
            ])
            .await;
            assert!(issued.status.success(), "{}", text(&issued.stderr));
        }
    };
    let made = zato(&["ca", "create", ca_dir.to_str().unwrap(), "--json"]).await;
    assert!(made.status.success(), "{}", text(&made.stderr));
    issue("first", tls_dir.clone()).await;
    let ca = ca_dir.join("ca.pem");
    let (cert, key) = (tls_dir.join("cert.pem"), tls_dir.join("key.pem"));
    let server = TestServer::start_with(|config| {
        config.tls = Some(zato_host::config::TlsSettings {
            cert: cert.clone(),
            key: key.clone(),
        });
    })
    .await;
    let addr: std::net::SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    assert_eq!(served_certificate(addr, &ca).await, der_of(&cert));

    // A key that is not the certificate's (a rotation caught half-way): the previous
    // pair keeps serving.
    let elsewhere = pki.path().join("elsewhere");
    issue("second", elsewhere.clone()).await;
    std::fs::copy(elsewhere.join("key.pem"), &key).unwrap();
    let first = der_of(&cert);
    // Then its certificate: the new pair serves the next connection.
    std::fs::copy(elsewhere.join("cert.pem"), &cert).unwrap();
    let second = der_of(&cert);
    assert_ne!(first, second);
    eventually(
        Duration::from_secs(15),
        "the rotated certificate served",
        || async { (served_certificate(addr, &ca).await == second).then_some(()) },
    )
    .await;
    // And it answers over it.
    let ca_pem = std::fs::read(&ca).unwrap();
    let http = zato_api::tls::http_client(reqwest::Client::builder(), Some(&ca_pem)).unwrap();
    let ping = http
        .get(format!("https://localhost:{}/zato/ping", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), 200);
    drop(server);
}

/// A client of a TLS test server: trusting `ca`, offering the certificate and key in
/// `identity` (a directory from `zato ca issue --client`) when one is given.
fn tls_client(ca: &Path, identity: Option<&Path>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder();
    if let Some(dir) = identity {
        let mut pem = std::fs::read(dir.join("cert.pem")).unwrap();
        pem.extend(std::fs::read(dir.join("key.pem")).unwrap());
        builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    zato_api::tls::http_client(builder, Some(&std::fs::read(ca).unwrap())).unwrap()
}

/// `zato ARGS` against `server` over TLS as the admin, trusting `ca`: (exit code, JSON).
async fn zato_tls(server: &TestServer, ca: &Path, args: &[&str]) -> (i32, Value) {
    let mut all = args.to_vec();
    let admin_password = if args[0] == "security" {
        "--admin-password"
    } else {
        "--password"
    };
    let ca_option = if args[0] == "security" {
        "--admin-ca"
    } else {
        "--ca"
    };
    all.extend([
        "--url",
        &server.base,
        "--user",
        crate::harness::USER,
        admin_password,
        crate::harness::PASSWORD,
        ca_option,
        ca.to_str().unwrap(),
    ]);
    crate::cli::zato_json(&all).await
}

/// A SOAP 1.1 call of demo.soap-hello at `/soap/hello`: status and body.
async fn soap_hello(http: &reqwest::Client, base: &str) -> (reqwest::StatusCode, String) {
    let response = http
        .post(format!("{base}/soap/hello"))
        .header("content-type", "text/xml; charset=utf-8")
        .header("soapaction", "\"\"")
        .body(
            r#"<?xml version="1.0"?><e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><h:demo.soap-hello xmlns:h="urn:test"><h:name>Ada</h:name></h:demo.soap-hello></e:Body></e:Envelope>"#,
        )
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_definition_admits_its_ca_and_subject_only_on_http_and_soap() {
    use zato_test_artifacts as wasm;
    let pki = tempfile::tempdir().unwrap();
    let dir = |name: &str| pki.path().join(name);
    for ca in ["ca", "other-ca"] {
        let made = zato(&["ca", "create", dir(ca).to_str().unwrap()]).await;
        assert!(made.status.success(), "{}", text(&made.stderr));
    }
    // The server's certificate; a partner's client certificate from the right CA, one
    // with the same name from another CA, and a stranger's from the right CA.
    for (ca, name, out, client) in [
        ("ca", "server", "tls", false),
        ("ca", "partner", "partner", true),
        ("other-ca", "partner", "foreign", true),
        ("ca", "stranger", "stranger", true),
    ] {
        let (ca, out) = (dir(ca), dir(out));
        let mut args = vec!["ca", "issue", "--ca", ca.to_str().unwrap(), "--name", name];
        if client {
            args.push("--client");
        }
        args.push(out.to_str().unwrap());
        let issued = zato(&args).await;
        assert!(issued.status.success(), "{}", text(&issued.stderr));
    }
    let ca = dir("ca").join("ca.pem");
    let mut server = TestServer::start_with(|config| {
        config.tls = Some(zato_host::config::TlsSettings {
            cert: dir("tls").join("cert.pem"),
            key: dir("tls").join("key.pem"),
        });
    })
    .await;
    server.over_tls(tls_client(&ca, None));
    server.deploy(wasm::ECHO).await;
    server.deploy(wasm::SOAP_HELLO).await;

    // The issue's command: the CA that must have signed, the subject it must have.
    let ca_file = ca.to_str().unwrap();
    let (code, created) = zato_tls(
        &server,
        &ca,
        &[
            "security",
            "create",
            "tls",
            "--name",
            "partner-cert",
            "--ca-file",
            ca_file,
            "--subject",
            "CN=partner",
        ],
    )
    .await;
    assert_eq!(code, 0, "{created}");
    assert_eq!(created["type"], "tls");
    assert_eq!(
        created["settings"]["subject"],
        serde_json::json!({"CN": "partner"})
    );
    // A CA that is no certificate is refused, naming the field.
    let not_pem = dir("partner").join("key.pem");
    let (code, refused) = zato_tls(
        &server,
        &ca,
        &[
            "security",
            "create",
            "tls",
            "--name",
            "broken",
            "--ca-file",
            not_pem.to_str().unwrap(),
            "--subject",
            "CN=x",
        ],
    )
    .await;
    assert_ne!(code, 0, "{refused}");
    assert!(refused.to_string().contains("ca_pem"), "{refused}");
    for args in [
        &[
            "channel",
            "create",
            "http",
            "--name",
            "orders",
            "--path",
            "/orders",
            "--service",
            "test.echo",
            "--security",
            "partner-cert",
        ][..],
        &[
            "channel",
            "create",
            "soap",
            "--name",
            "hello-soap",
            "--path",
            "/soap/hello",
            "--service",
            "demo.soap-hello",
            "--security",
            "partner-cert",
        ][..],
    ] {
        let (code, created) = zato_tls(&server, &ca, args).await;
        assert_eq!(code, 0, "{created}");
    }

    let partner = tls_client(&ca, Some(&dir("partner")));
    let orders = format!("{}/orders", server.base);
    let ok = crate::harness::echoed(partner.post(&orders).body("{}").send().await.unwrap()).await;
    assert_eq!(
        ok["caller"],
        serde_json::json!({"definition": "partner-cert", "kind": "tls", "principal": "partner"})
    );
    let (status, body) = soap_hello(&partner, &server.base).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<caller>partner</caller>"), "{body}");

    // The same name from another CA, the right CA's other certificate, and none: 403,
    // never reaching the service.
    for who in ["foreign", "stranger", "none"] {
        let client = match who {
            "none" => tls_client(&ca, None),
            who => tls_client(&ca, Some(&dir(who))),
        };
        let response = client.post(&orders).body("{}").send().await.unwrap();
        assert_eq!(response.status(), 403, "{who}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("channel `orders` needs a TLS client certificate"),
            "{who}: {body}"
        );
        let (status, body) = soap_hello(&client, &server.base).await;
        assert_eq!(status, 403, "{who}: {body}");
        assert!(body.contains("Fault") && body.contains("Client"), "{body}");
    }

    // Changed at run time: the stranger is admitted now, the partner no longer.
    let (code, edited) = zato_tls(
        &server,
        &ca,
        &[
            "security",
            "edit",
            "partner-cert",
            "--subject",
            "CN=stranger",
        ],
    )
    .await;
    assert_eq!(code, 0, "{edited}");
    let stranger = tls_client(&ca, Some(&dir("stranger")));
    eventually(Duration::from_secs(10), "the new subject applied", || {
        let (stranger, partner, orders) = (&stranger, &partner, &orders);
        async move {
            let admitted = stranger
                .post(orders)
                .body("{}")
                .send()
                .await
                .unwrap()
                .status();
            let refused = partner
                .post(orders)
                .body("{}")
                .send()
                .await
                .unwrap()
                .status();
            (admitted == 200 && refused == 403).then_some(())
        }
    })
    .await;
    let (code, listed) = zato_tls(&server, &ca, &["security", "list"]).await;
    assert_eq!(code, 0, "{listed}");
    assert_eq!(
        listed[0]["settings"]["subject"]["CN"], "stranger",
        "{listed}"
    );
}

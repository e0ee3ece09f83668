//! What a failed connection says, as a service shows it in its logs and sometimes to the
//! user who gave it the URL: no secret of the URI, no internal address, each cause once,
//! and counts of what was tried.
//!
//! Every host is loopback (`127.0.4.0/24` and `127.0.5.0/24` for this file); every name is
//! answered by an in-process hickory-server.

mod support;

use std::error::Error;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use connie::{ConnectError, ConnieConnector, ErrorKind, PublicOnly};
use connie_lab::{DnsServer, HostKind, Lab};
use http::Uri;
use tower_service::Service;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use support::{bounded, ip};

/// Words of a URI's user info, path and query, which nothing connie says may carry.
const SECRETS: [&str; 5] = ["alice", "s3cret", "private", "token", "abc123"];

/// `http://alice:s3cret@{authority}/private/path?token=abc123`.
fn uri(scheme: &str, authority: &str) -> Uri {
    format!("{scheme}://alice:s3cret@{authority}/private/path?token=abc123")
        .parse()
        .unwrap()
}

/// A `tracing` subscriber that writes down every span's and event's fields, at every
/// level.
///
/// It is the process's global one ([`capture`]): a subscriber set for one thread only
/// misses the callsites another test's thread met first.
#[derive(Clone, Default)]
struct Capture {
    text: Arc<Mutex<String>>,
    ids: Arc<AtomicU64>,
}

impl Capture {
    fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }
}

/// The process's [`Capture`], installed on first use.
fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        tracing::subscriber::set_global_default(capture.clone()).expect("the only subscriber");
        capture
    })
}

struct Fields<'a>(&'a Mutex<String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut text = self.0.lock().unwrap();
        text.push_str(&format!("{}={value:?} ", field.name()));
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.text.lock().unwrap().push_str(span.metadata().name());
        span.record(&mut Fields(&self.text));
        Id::from_u64(self.ids.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        values.record(&mut Fields(&self.text));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        event.record(&mut Fields(&self.text));
        self.text.lock().unwrap().push('\n');
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// Every link of `error`'s cause chain, as `anyhow`'s `{:#}` prints them.
fn chain(error: &(dyn Error + 'static)) -> Vec<String> {
    let mut links = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        links.push(e.to_string());
        next = e.source();
    }
    links
}

/// Asserts that `error` says nothing of [`SECRETS`] anywhere: its message, its `Debug`, its
/// cause chain, or what `tracing` was told while it was made (`traced`).
fn assert_no_secret(what: &str, error: &ConnectError, traced: &str) {
    let said = format!("{error}\n{error:?}\n{}\n{traced}", chain(error).join(": "));
    for secret in SECRETS {
        assert!(!said.contains(secret), "{what}: {secret:?} in {said}");
    }
}

/// Every way a call can fail, each from a URI with user info, a path and a query: none
/// of them appears in a message, a `Debug`, a cause or a `tracing` field.
#[tokio::test]
async fn no_error_shows_a_uris_user_info_path_or_query() {
    let capture = capture();
    bounded(async {
        let lab = Lab::builder()
            .alive(ip("127.0.4.1"))
            .refused(ip("127.0.4.2"))
            .blackholed(ip("127.0.4.3"))
            .bad_tls(ip("127.0.4.4"))
            .build()
            .await
            .unwrap();
        let port = lab.port();
        let dns = DnsServer::builder()
            .host("alive", [ip("127.0.4.1")])
            .host("refused", [ip("127.0.4.2")])
            .host("hole", [ip("127.0.4.3")])
            .host("badtls", [ip("127.0.4.4")])
            .start()
            .await
            .unwrap();
        let plain = ConnieConnector::new().resolver(dns.resolver());
        let at = |name: &str| format!("{name}.lab.test.:{port}");
        let config = lab.tls_identity().unwrap().client_config(&[]);
        let cases: Vec<(&str, ConnieConnector<_>, Uri, ErrorKind)> = vec![
            (
                "an invalid port",
                plain.clone(),
                uri("http", "alive.lab.test.:99999"),
                ErrorKind::InvalidTarget,
            ),
            (
                "port 0",
                plain.clone(),
                uri("http", "alive.lab.test.:0"),
                ErrorKind::InvalidTarget,
            ),
            (
                "no scheme",
                plain.clone(),
                "alice:s3cret@alive.lab.test.:80".parse().unwrap(),
                ErrorKind::InvalidTarget,
            ),
            (
                "https over plain TCP",
                plain.clone(),
                uri("https", &at("alive")),
                ErrorKind::InvalidTarget,
            ),
            (
                "an unknown scheme",
                plain.clone().enforce_http(false),
                uri("foo", "alive.lab.test."),
                ErrorKind::InvalidTarget,
            ),
            (
                "https_only",
                plain.clone().https_only(true),
                uri("http", &at("alive")),
                ErrorKind::InvalidTarget,
            ),
            (
                "a bad host",
                plain.clone(),
                uri("http", "127.1:80"),
                ErrorKind::InvalidTarget,
            ),
            (
                "no such name",
                plain.clone(),
                uri("http", &at("missing")),
                ErrorKind::Dns,
            ),
            (
                "refused",
                plain.clone(),
                uri("http", &at("refused")),
                ErrorKind::AllAttemptsFailed,
            ),
            (
                "timed out",
                plain.clone().total_timeout(Some(Duration::from_millis(50))),
                uri("http", &at("hole")),
                ErrorKind::TimedOut,
            ),
            (
                "the policy",
                plain.clone().address_policy(PublicOnly),
                uri("http", &at("alive")),
                ErrorKind::RefusedByPolicy,
            ),
        ];
        for (what, mut connector, uri, kind) in cases {
            let error = match connector.call(uri).await {
                Ok(_) => panic!("{what}: connected"),
                Err(e) => e,
            };
            assert_eq!(error.kind(), kind, "{what}: {error:?}");
            assert_no_secret(what, &error, &capture.text());
        }

        let mut tls = ConnieConnector::new()
            .resolver(dns.resolver())
            .rustls(config);
        let error = match tls.call(uri("https", &at("badtls"))).await {
            Ok(_) => panic!("a bad certificate: connected"),
            Err(e) => e,
        };
        assert_no_secret("a bad certificate", &error, &capture.text());

        // A string target: refused, and not echoed.
        let error = plain
            .connect(format!("alice:s3cret@alive.lab.test.:{port}"))
            .await
            .unwrap_err();
        assert_no_secret("a string target", &error, &capture.text());
        assert_eq!(
            lab.alive(lab.addrs_of(HostKind::Alive)[0])
                .unwrap()
                .accepted(),
            0
        );
    })
    .await;
    // The capture saw the races, so its silence means something.
    let traced = capture.text();
    assert!(traced.contains("race"), "{traced}");
    assert!(traced.contains("alive.lab.test"), "{traced}");
}

/// `anyhow`'s `{:#}` prints the message, then each cause: no cause twice. The message
/// summarises; the first attempt's error (or the first lookup's) is the cause.
#[tokio::test]
async fn each_cause_is_printed_once() {
    bounded(async {
        let lab = Lab::builder()
            .bad_tls(ip("127.0.4.11"))
            .refused(ip("127.0.4.12"))
            .build()
            .await
            .unwrap();
        let (bad, refused) = (lab.addrs()[0], lab.addrs()[1]);
        let dns = lab.dns("www").start().await.unwrap();
        let config = lab.tls_identity().unwrap().client_config(&[]);
        let connector = ConnieConnector::new()
            .resolver(dns.resolver())
            .keep_given_order(true)
            .rustls(config);

        let error = connector.connect(vec![bad, refused]).await.unwrap_err();
        let links = chain(&error);
        assert_eq!(
            links,
            [
                "connect to 2 addresses failed: 2 addresses tried: 1 TLS handshake failed, \
                 1 refused"
                    .to_owned(),
                format!("attempt to {bad} failed"),
                "invalid peer certificate: UnknownIssuer".to_owned(),
            ]
        );
        let printed = links.join(": ");
        for link in &links[1..] {
            assert_eq!(printed.matches(link.as_str()).count(), 1, "{printed}");
        }
        // The other attempt's cause is in its accessor.
        assert_eq!(error.attempts()[1].addr(), refused);
        assert_eq!(
            error.attempts()[1].error().kind(),
            std::io::ErrorKind::ConnectionRefused
        );

        let error = connector
            .connect(("missing.lab.test.", lab.port()))
            .await
            .unwrap_err();
        let links = chain(&error);
        assert_eq!(
            links[..2],
            [
                format!(
                    "connect to missing.lab.test.:{} failed: could not resolve \
                     missing.lab.test.: no such name (A, AAAA)",
                    lab.port()
                ),
                "AAAA lookup failed".to_owned()
            ]
        );
        let printed = links.join(": ");
        for link in &links[1..] {
            assert_eq!(printed.matches(link.as_str()).count(), 1, "{printed}");
        }
    })
    .await
}

/// The message counts what was tried, and says what the address cap left out: 200
/// addresses with the alive one last, under the default cap of 16 and under a cap of 1.
/// Each race has its own addresses.
#[tokio::test]
async fn counts_say_what_was_tried_and_what_the_cap_left_out() {
    bounded(async {
        let mut hosts = Lab::builder();
        for i in 1..200 {
            hosts = hosts.refused(ip(&format!("127.0.5.{i}")));
        }
        let lab = hosts.alive(ip("127.0.5.200")).build().await.unwrap();
        let addrs = lab.addrs();
        assert_eq!(addrs.len(), 200);
        let connector = ConnieConnector::new().history(0).keep_given_order(true);

        let error = connector.connect(addrs.clone()).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "connect to 200 addresses failed: 16 addresses tried: all refused; \
             184 left out by max_addresses (16)"
        );
        assert_eq!(error.attempts().len(), 16);
        assert_eq!(error.left_out(), 184);
        let alive = lab.alive(addrs[199]).unwrap();
        assert_eq!(alive.accepted(), 0);

        let two: Vec<SocketAddr> = addrs[..2].to_vec();
        let error = connector
            .clone()
            .max_addresses(1)
            .connect(two)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "connect to 2 addresses failed: 1 address tried: refused; \
             1 left out by max_addresses (1)"
        );
        assert_eq!(error.attempts().len(), 1);
        assert_eq!(error.left_out(), 1);
    })
    .await
}

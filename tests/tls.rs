//! TLS racing on real loopback sockets: `ConnieConnector::rustls` against hosts that
//! accept TCP and then stay silent, reset during the handshake, or present an untrusted
//! certificate, next to a host that completes TLS; and the same connector inside
//! hyper-util's `Client` (HTTP/1.1 and HTTP/2 through ALPN, `https` and `http` on one
//! client, `https_only`). tonic over it is in `recipes/tests/recipes.rs`.
//!
//! Only loopback is used: names are resolved by `connie_lab::DnsServer`. The races run on
//! tokio's paused clock, where a loopback TCP or TLS handshake takes no time at all, so
//! the times asserted are exact.

mod support;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use connie::{ConnectError, ConnieConnector, Outcome, RustlsDialer, Schedule};
use connie_lab::{DnsServer, HostKind, Lab, LabBuilder, TlsIdentity, LAB_ALPN};
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::{StatusCode, Version};
use hyper_util::client::legacy::connect::HttpInfo;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use support::http::{dns_for, get, lab_with_server, HttpServer};
use support::{bounded, find, ip, ms, PROMPT};
use tokio_rustls::TlsAcceptor;

/// How an attempt went: its address, when it started, whether its TCP came up, and its
/// outcome.
type Step = (SocketAddr, Duration, bool, Outcome);

fn steps(info: &connie::ConnectInfo) -> Vec<Step> {
    info.attempts()
        .iter()
        .map(|a| {
            let tcp = a.transport_connected().is_some();
            (a.addr(), a.started(), tcp, a.outcome().clone())
        })
        .collect()
}

/// A lab of `hosts`, named `www.lab.test.` in that order by a local DNS server, and a
/// connector doing TLS racing with `schedule`, trusting the lab's CA.
async fn tls_lab(
    hosts: LabBuilder,
    schedule: Schedule,
) -> (Lab, DnsServer, ConnieConnector<RustlsDialer>) {
    let lab = hosts.build().await.expect("the lab builds");
    let dns = lab.dns("www").start().await.expect("the DNS server starts");
    let config = lab
        .tls_identity()
        .expect("a TLS lab")
        .client_config(&[b"h2"]);
    let connector = ConnieConnector::new()
        .resolver(dns.resolver())
        .schedule(schedule)
        .rustls(config);
    (lab, dns, connector)
}

/// Racing every address (the default for a host not yet known), the host that completes
/// TLS wins at once, and the silent one, whose TCP was up too, is cancelled.
#[tokio::test(start_paused = true)]
async fn a_silent_host_loses_to_one_that_completes_tls() {
    let hosts = Lab::builder()
        .silent(ip("127.0.0.131"))
        .tls(ip("127.0.0.132"));
    let (lab, _dns, connector) = tls_lab(hosts, Schedule::learned()).await;
    let (silent, alive) = (lab.addrs()[0], lab.addrs()[1]);
    let (stream, info) = connector
        .connect(("www.lab.test.", lab.port()))
        .await
        .unwrap();
    assert_eq!(info.remote_addr(), alive);
    assert_eq!(
        steps(&info),
        [
            (silent, ms(0), true, Outcome::Cancelled),
            (alive, ms(0), true, Outcome::Connected),
        ]
    );
    assert_eq!(info.alpn(), Some(&b"h2"[..]));
    assert!(stream.is_tls());
    assert_eq!(stream.alpn(), Some(&b"h2"[..]));
    assert_eq!(info.local_addr(), Some(stream.tcp().local_addr().unwrap()));
    lab.tls(alive).unwrap().wait_handshakes(1).await;
}

/// RFC 8305's 250 ms delay: the silent host's TCP is up at once, and its handshake gets
/// the delay again from then, so the TLS host starts at exactly 250 ms and wins then.
#[tokio::test(start_paused = true)]
async fn with_a_delay_the_tls_host_starts_after_the_silent_ones_grace() {
    let hosts = Lab::builder()
        .silent(ip("127.0.0.133"))
        .tls(ip("127.0.0.134"));
    let (lab, _dns, connector) = tls_lab(hosts, Schedule::rfc8305()).await;
    let (silent, alive) = (lab.addrs()[0], lab.addrs()[1]);
    let (_, info) = connector
        .connect(("www.lab.test.", lab.port()))
        .await
        .unwrap();
    assert_eq!(
        steps(&info),
        [
            (silent, ms(0), true, Outcome::Cancelled),
            (alive, ms(250), true, Outcome::Connected),
        ]
    );
    assert_eq!(info.elapsed(), ms(250));
}

/// The control: racing TCP alone (then TLS on the winner, as a TCP connector wrapped by a
/// TLS one does) picks the silent host, whose TCP connects first, and the handshake
/// hangs.
#[tokio::test(start_paused = true)]
async fn racing_tcp_alone_picks_the_silent_host_and_hangs() {
    let hosts = Lab::builder()
        .silent(ip("127.0.0.135"))
        .tls(ip("127.0.0.136"));
    let lab = hosts.build().await.unwrap();
    let dns = lab.dns("www").start().await.unwrap();
    let config = lab.tls_identity().unwrap().client_config(&[b"h2"]);
    let tcp = ConnieConnector::new()
        .resolver(dns.resolver())
        .schedule(Schedule::rfc8305());
    let (stream, info) = tcp.connect(("www.lab.test.", lab.port())).await.unwrap();
    assert_eq!(info.remote_addr(), lab.addrs()[0]);
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let name = "www.lab.test".try_into().unwrap();
    let handshake = tokio::time::timeout(Duration::from_secs(60), tls.connect(name, stream));
    assert!(
        handshake.await.is_err(),
        "the handshake with the silent host hangs"
    );
}

/// A reset during the handshake, or an untrusted certificate (a rustls certificate error,
/// `InvalidData`), is that attempt's error: with the sequential schedule (the next attempt
/// only after a failure), the TLS host starts the moment it arrives.
#[tokio::test(start_paused = true)]
async fn a_failed_handshake_starts_the_next_attempt_at_once() {
    // The reason is the error's own: a bad certificate says which check failed.
    for (first, kind, reason) in [
        (
            HostKind::Reset,
            io::ErrorKind::ConnectionReset,
            "connection reset by peer",
        ),
        (
            HostKind::BadTls,
            io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        ),
    ] {
        let hosts = match first {
            HostKind::Reset => Lab::builder().reset(ip("127.0.0.137")),
            _ => Lab::builder().bad_tls(ip("127.0.0.139")),
        };
        let (lab, _dns, connector) =
            tls_lab(hosts.tls(ip("127.0.0.138")), Schedule::sequential()).await;
        let (failed, alive) = (lab.addrs()[0], lab.addrs()[1]);
        let (_, info) = connector
            .connect(("www.lab.test.", lab.port()))
            .await
            .unwrap();
        assert_eq!(
            steps(&info),
            [
                (
                    failed,
                    ms(0),
                    true,
                    Outcome::Failed {
                        kind,
                        reason: reason.into()
                    }
                ),
                (alive, ms(0), true, Outcome::Connected),
            ],
            "{first:?}"
        );
        if let Some(reset) = lab.reset(failed) {
            assert_eq!(reset.resets(), 1);
        }
    }
}

/// When no host is trusted, the error lists each attempt with its rustls cause.
#[tokio::test(start_paused = true)]
async fn an_untrusted_certificate_is_the_attempts_error() {
    let untrusted = Lab::builder().bad_tls(ip("127.0.0.141"));
    let (lab, _dns, connector) = tls_lab(untrusted, Schedule::sequential()).await;
    let error = connector
        .connect(("www.lab.test.", lab.port()))
        .await
        .unwrap_err();
    let [attempt] = error.attempts() else {
        panic!("one attempt: {error:?}");
    };
    assert_eq!(attempt.addr(), lab.addrs()[0]);
    let cause = find::<rustls::Error>(attempt).expect("a rustls error in the chain");
    assert!(
        matches!(cause, rustls::Error::InvalidCertificate(_)),
        "{cause:?}"
    );
}

/// An IP literal is checked against the certificate's IP addresses, and a race of one
/// address (which skips the engine) reports its TCP time too.
#[tokio::test(start_paused = true)]
async fn an_ip_literal_is_its_own_server_name() {
    let lab = Lab::builder().tls(ip("127.0.0.142")).build().await.unwrap();
    let config = lab.tls_identity().unwrap().client_config(&[]);
    let connector = ConnieConnector::new().rustls(config);
    let (stream, info) = connector.connect(lab.addrs()[0]).await.unwrap();
    assert!(stream.is_tls());
    assert_eq!(info.alpn(), None);
    assert_eq!(info.attempts()[0].transport_connected(), Some(ms(0)));
    assert_eq!(lab.kind_of(info.remote_addr()), Some(HostKind::Tls));
}

/// An HTTPS server behind a silent host, both named `www.lab.test.`, and a plain HTTP
/// server beside them (reached by its address);
/// and a hyper-util `Client` over TLS racing that trusts the lab CA, offering `alpn`.
struct Https {
    lab: Lab,
    tls: HttpServer,
    plain: HttpServer,
    _dns: DnsServer,
    connector: ConnieConnector<RustlsDialer>,
}

impl Https {
    async fn new(silent: &str, alive: &str, plain: &str, alpn: &[&[u8]]) -> Https {
        let identity = TlsIdentity::new().unwrap();
        let acceptor = TlsAcceptor::from(identity.server_config(&LAB_ALPN));
        let dead = Lab::builder().silent(ip(silent));
        let (lab, tls) = lab_with_server(dead, ip(alive), Some(&acceptor)).await;
        let dns = dns_for(&lab, &tls, "www").await;
        let plain = HttpServer::bind(SocketAddr::new(ip(plain), 0))
            .await
            .unwrap();
        let connector = ConnieConnector::new()
            .resolver(dns.resolver())
            .rustls(identity.client_config(alpn));
        Https {
            lab,
            tls,
            plain,
            _dns: dns,
            connector,
        }
    }

    fn https_uri(&self) -> String {
        format!("https://www.lab.test.:{}/", self.lab.port())
    }
}

/// HTTP/1.1 and HTTP/2 through ALPN: the `Client` speaks what the server chose, and every
/// response carries `HttpInfo` and the `ConnectInfo` of the race past the silent host.
#[tokio::test]
async fn hyper_speaks_http1_or_http2_as_alpn_chose() {
    bounded(async {
        for (alpn, version) in [
            (&b"http/1.1"[..], Version::HTTP_11),
            (&b"h2"[..], Version::HTTP_2),
        ] {
            let https = Https::new("127.0.0.143", "127.0.0.144", "127.0.0.145", &[alpn]).await;
            let client: Client<_, Empty<Bytes>> =
                Client::builder(TokioExecutor::new()).build(https.connector.clone());
            let (response, body) = get(&client, &https.https_uri()).await.unwrap();
            assert_eq!(
                (response.status(), &body[..]),
                (StatusCode::OK, &b"hello"[..])
            );
            assert_eq!(response.version(), version);
            let info = response.extensions().get::<connie::ConnectInfo>().unwrap();
            assert_eq!(info.remote_addr(), https.tls.addr);
            assert_eq!(info.alpn(), Some(alpn));
            assert_eq!(info.attempts()[0].outcome(), &Outcome::Cancelled);
            let http = response.extensions().get::<HttpInfo>().unwrap();
            assert_eq!(http.remote_addr(), https.tls.addr);
            assert_eq!(https.tls.handshakes(), 1);
        }
    })
    .await
}

/// One `Client` does TLS for `https` and plain TCP for `http`; with `https_only`, an
/// `http` URI is refused before any lookup or SYN.
#[tokio::test]
async fn https_and_http_on_one_client_and_https_only() {
    bounded(async {
        let https = Https::new("127.0.0.146", "127.0.0.147", "127.0.0.148", &[b"h2"]).await;
        let plain_uri = format!("http://{}/", https.plain.addr);
        let client: Client<_, Empty<Bytes>> =
            Client::builder(TokioExecutor::new()).build(https.connector.clone());
        let (secure, _) = get(&client, &https.https_uri()).await.unwrap();
        assert_eq!(secure.version(), Version::HTTP_2);
        let (plain, body) = get(&client, &plain_uri).await.unwrap();
        assert_eq!((plain.status(), &body[..]), (StatusCode::OK, &b"hello"[..]));
        assert_eq!(plain.version(), Version::HTTP_11);
        let info = plain.extensions().get::<connie::ConnectInfo>().unwrap();
        assert_eq!(info.alpn(), None);
        assert_eq!(info.attempts()[0].transport_connected(), None);
        assert_eq!(https.plain.handshakes(), 0);

        let strict: Client<_, Empty<Bytes>> =
            Client::builder(TokioExecutor::new()).build(https.connector.clone().https_only(true));
        let (secure, _) = get(&strict, &https.https_uri()).await.unwrap();
        assert_eq!(secure.status(), StatusCode::OK);
        let error = get(&strict, &plain_uri).await.unwrap_err();
        let cause = find::<ConnectError>(&error).expect("connie's error in the chain");
        assert!(cause.is_invalid_target(), "{cause:?}");
        assert!(cause.to_string().contains("https_only"), "{cause}");
        assert_eq!(https.plain.accepted(), 1, "the refused URI sent no SYN");
    })
    .await
}

/// A loser caught in its TLS handshake is reset, not closed with a FIN, so it leaves no
/// `TIME_WAIT` behind; the winner, once its handshake is done, closes normally.
#[tokio::test]
async fn a_loser_in_its_handshake_is_reset_and_the_winner_is_not() {
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    bounded(async {
        let identity = TlsIdentity::new().unwrap();
        // Silent: reads the ClientHello, answers nothing, then reads on to see how the
        // client closes.
        let silent = TcpListener::bind("127.0.0.152:0").await.unwrap();
        let silent_addr = silent.local_addr().unwrap();
        let silent_end = tokio::spawn(async move {
            let (mut conn, _) = silent.accept().await.unwrap();
            let mut buf = vec![0; 16 * 1024];
            assert!(conn.read(&mut buf).await.unwrap() > 0, "a ClientHello");
            loop {
                match conn.read(&mut buf).await {
                    Ok(0) => return Ok(()),
                    Ok(_) => continue,
                    Err(e) => return Err(e.kind()),
                }
            }
        });
        let tls = TcpListener::bind("127.0.0.153:0").await.unwrap();
        let tls_addr = tls.local_addr().unwrap();
        // No TLS 1.3 session tickets: a ticket the client has not read would make the
        // kernel reset the winner too when it closes (unread data), whatever its linger.
        let mut config = (*identity.server_config(&LAB_ALPN)).clone();
        config.send_tls13_tickets = 0;
        let acceptor = TlsAcceptor::from(std::sync::Arc::new(config));
        let tls_end = tokio::spawn(async move {
            let (conn, _) = tls.accept().await.unwrap();
            let mut conn = acceptor.accept(conn).await.unwrap();
            let mut buf = [0; 64];
            conn.read(&mut buf).await.map_err(|e| e.kind())
        });

        let connector = ConnieConnector::new().rustls(identity.client_config(&[]));
        let (stream, info) = connector.connect([silent_addr, tls_addr]).await.unwrap();
        assert_eq!(info.remote_addr(), tls_addr);
        assert_eq!(info.attempts()[0].outcome().clone(), Outcome::Cancelled);
        assert_eq!(
            tokio::time::timeout(PROMPT, silent_end)
                .await
                .unwrap()
                .unwrap(),
            Err(io::ErrorKind::ConnectionReset)
        );
        drop(stream);
        // Dropped without a close_notify: rustls reports an EOF, not a reset.
        let winner = tokio::time::timeout(PROMPT, tls_end)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(winner, Err(io::ErrorKind::UnexpectedEof));
    })
    .await
}

/// A known TLS host costs one TCP connection and one handshake per connect, however long
/// the server works on its handshake: four TLS hosts, each taking `work` per handshake
/// (0–20 ms), over TLS 1.3 and TLS 1.2. The first connect races all four; each of the
/// next 49 dials the best host alone and connects in exactly the oracle's time, the
/// server's work (on the paused clock a loopback round trip takes no time).
#[tokio::test(start_paused = true)]
async fn a_known_tls_host_costs_one_connection_per_connect() {
    bounded(async {
        let lab = Lab::builder()
            .tls(ip("127.0.0.161"))
            .tls(ip("127.0.0.162"))
            .tls(ip("127.0.0.163"))
            .tls(ip("127.0.0.164"))
            .build()
            .await
            .unwrap();
        let dns = lab.dns("www").start().await.unwrap();
        let identity = lab.tls_identity().unwrap();
        let tls12 = identity
            .client_config_with_versions(&[&rustls::version::TLS12], &[])
            .unwrap();
        let configs = [("TLS 1.3", identity.client_config(&[])), ("TLS 1.2", tls12)];
        let hosts: Vec<_> = lab.addrs().iter().map(|&a| lab.tls(a).unwrap()).collect();
        for (version, config) in configs {
            for work in [0, 5, 15, 20] {
                for host in &hosts {
                    host.set_handshake_work(ms(work));
                }
                let connector = ConnieConnector::new()
                    .resolver(dns.resolver())
                    .rustls(config.clone());
                let before: usize = hosts.iter().map(|h| h.accepted()).sum();
                for n in 1..=50 {
                    let (stream, info) = connector
                        .connect(("www.lab.test.", lab.port()))
                        .await
                        .unwrap();
                    drop(stream);
                    let case = format!("{version}, server work {work} ms, connect {n}");
                    assert_eq!(info.elapsed(), ms(work), "{case}");
                    assert_eq!(info.used_history(), n > 1, "{case}");
                    if n > 1 {
                        assert_eq!(info.attempts().len(), 1, "{case}: {info:?}");
                    }
                }
                // The hosts count their accepted connections as they get to them.
                let accepted = || hosts.iter().map(|h| h.accepted()).sum::<usize>() - before;
                let deadline = tokio::time::Instant::now() + PROMPT;
                while accepted() < 4 + 49 && tokio::time::Instant::now() < deadline {
                    tokio::task::yield_now().await;
                }
                assert_eq!(accepted(), 4 + 49, "{version}, server work {work} ms");
            }
        }
    })
    .await
}

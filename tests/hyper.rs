//! `ConnieConnector` inside hyper-util's legacy `Client`, against a local hyper server.
//!
//! Proves that the connector works end to end over plain HTTP: through an IP literal
//! (IPv4 and `[::1]`) and through a name served by the lab's DNS server whose other
//! addresses are blackholed and refused (the request still succeeds promptly); that
//! responses carry hyper-util's `HttpInfo` and connie's `ConnectInfo`; that the pool
//! reuses a connection made by connie; that a total failure surfaces connie's
//! `ConnectError` (with every address) through the client error's `source()` chain; and
//! that bad URIs give typed errors, never panics.
//!
//! Only loopback is used: names are resolved by `connie_lab::DnsServer`, never by the
//! system resolver.

mod support;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use connie::{ConnectError, ConnectInfo, ConnieConnector, ErrorKind, Outcome};
use connie_lab::{DnsServer, HostKind, Lab};
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::{Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpInfo;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use support::http::{dns_for, get, lab_with_server, HttpServer, ATTEMPT_TIMEOUT};
use support::PROMPT;
use support::{bounded, find, ip};
use tokio::io::AsyncReadExt;
use tokio::sync::watch;
use tower_service::Service;

fn client(connector: ConnieConnector) -> Client<ConnieConnector, Empty<Bytes>> {
    Client::builder(TokioExecutor::new()).build(connector)
}

/// A tokio executor for the client that counts the tasks it is running, so a test can
/// wait for the client's background work (such as returning a connection to the pool) to
/// be done.
#[derive(Clone)]
struct CountingExecutor {
    running: Arc<watch::Sender<usize>>,
}

impl CountingExecutor {
    fn new() -> CountingExecutor {
        CountingExecutor {
            running: Arc::new(watch::Sender::new(0)),
        }
    }

    /// Waits (at most [`PROMPT`]) until exactly `n` of the client's tasks are running.
    async fn wait_running(&self, n: usize) {
        let mut running = self.running.subscribe();
        let wait = running.wait_for(|&running| running == n);
        // `Ok(false)` cannot happen: `self` holds the sender.
        let done = tokio::time::timeout(PROMPT, wait).await.map(|r| r.is_ok());
        assert!(
            matches!(done, Ok(true)),
            "the client still runs {} tasks after {PROMPT:?}, not {n}",
            *self.running.borrow()
        );
    }
}

impl<F> hyper::rt::Executor<F> for CountingExecutor
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, task: F) {
        self.running.send_modify(|n| *n += 1);
        let running = Arc::clone(&self.running);
        tokio::spawn(async move {
            task.await;
            running.send_modify(|n| *n -= 1);
        });
    }
}

/// Calls the connector's `Service<Uri>` directly, within [`PROMPT`].
async fn call(connector: &mut ConnieConnector, uri: &str) -> Result<ConnectInfo, ConnectError> {
    let uri: Uri = uri.parse().expect("a valid URI");
    let connecting = connector.call(uri.clone());
    let stream = tokio::time::timeout(PROMPT, connecting)
        .await
        .unwrap_or_else(|_| panic!("connecting to {uri} took longer than {PROMPT:?}"))?;
    Ok(stream.info().clone())
}

/// Asserts that GET `uri` through the client fails with connie's invalid-target error.
async fn assert_invalid_target(client: &Client<ConnieConnector, Empty<Bytes>>, uri: &str) {
    let error = get(client, uri).await.expect_err(uri);
    assert!(error.is_connect(), "{uri}: {error:?}");
    let connie = find::<ConnectError>(&error).unwrap_or_else(|| panic!("{uri}: {error:?}"));
    assert!(connie.is_invalid_target(), "{uri}: {connie:?}");
}

#[tokio::test]
async fn ip_literal_response_carries_http_info_and_connect_info() {
    bounded(async {
        let server = HttpServer::bind(SocketAddr::new(ip("127.0.0.1"), 0))
            .await
            .unwrap();
        let client = client(ConnieConnector::new());

        let (res, body) = get(&client, &format!("http://{}/", server.addr))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(body, "hello");

        let http = res.extensions().get::<HttpInfo>().expect("HttpInfo");
        let info = res.extensions().get::<ConnectInfo>().expect("ConnectInfo");
        assert_eq!(http.remote_addr(), server.addr);
        assert_eq!(info.remote_addr(), server.addr);
        assert_eq!(info.local_addr(), Some(http.local_addr()));
        // An IP literal is one address and no DNS.
        assert_eq!(info.attempts().len(), 1, "{info:?}");
        assert_eq!(info.attempts()[0].outcome(), &Outcome::Connected);
        assert_eq!((info.dns_v4(), info.dns_v6()), (None, None));
    })
    .await
}

#[tokio::test]
async fn ipv6_literal() {
    bounded(async {
        let server = HttpServer::bind(SocketAddr::new(ip("::1"), 0))
            .await
            .unwrap();
        let client = client(ConnieConnector::new());

        let uri = format!("http://[::1]:{}/", server.addr.port());
        let (res, body) = get(&client, &uri).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(body, "hello");
        let info = res.extensions().get::<ConnectInfo>().expect("ConnectInfo");
        assert_eq!(info.remote_addr(), server.addr);
        assert_eq!(
            res.extensions().get::<HttpInfo>().unwrap().remote_addr(),
            server.addr
        );
    })
    .await
}

#[tokio::test]
async fn name_with_dead_addresses_succeeds_promptly() {
    bounded(async {
        let (blackholed, refused, alive) = (ip("127.0.0.21"), ip("127.0.0.22"), ip("127.0.0.23"));
        let dead = Lab::builder().blackholed(blackholed).refused(refused);
        let (lab, server) = lab_with_server(dead, alive, None).await;
        let dns = dns_for(&lab, &server, "www").await;
        let client = client(ConnieConnector::new().resolver(dns.resolver()));

        // `get` fails the test if this takes PROMPT; the blackhole alone would take minutes.
        let uri = format!("http://www.lab.test.:{}/", lab.port());
        let (res, body) = get(&client, &uri).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(body, "hello");

        let info = res.extensions().get::<ConnectInfo>().expect("ConnectInfo");
        assert_eq!(info.remote_addr(), server.addr);
        assert!(info.elapsed() < PROMPT, "{info:?}");
        assert!(info.dns_v4().is_some(), "{info:?}");
        let outcome = |addr: SocketAddr| {
            let attempt = info.attempts().iter().find(|a| a.addr() == addr);
            attempt.map(|a| a.outcome().clone())
        };
        let [hole] = lab.addrs_of(HostKind::Blackholed)[..] else {
            panic!("one blackhole")
        };
        let [refusing] = lab.addrs_of(HostKind::Refused)[..] else {
            panic!("one refused host")
        };
        assert_eq!(outcome(server.addr), Some(Outcome::Connected), "{info:?}");
        assert_eq!(outcome(hole), Some(Outcome::Cancelled), "{info:?}");
        // The refusal may land before or after the win; if it was attempted it was refused.
        assert!(
            matches!(
                outcome(refusing),
                Some(
                    Outcome::Failed {
                        kind: io::ErrorKind::ConnectionRefused,
                        ..
                    } | Outcome::Cancelled
                )
            ),
            "{info:?}"
        );
        assert_eq!(
            res.extensions().get::<HttpInfo>().unwrap().remote_addr(),
            server.addr
        );
    })
    .await
}

// Multi-threaded, where the client's background tasks really run in parallel with the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_request_reuses_the_pooled_connection() {
    bounded(async {
        let (blackholed, alive) = (ip("127.0.0.24"), ip("127.0.0.25"));
        let (lab, server) =
            lab_with_server(Lab::builder().blackholed(blackholed), alive, None).await;
        let dns = dns_for(&lab, &server, "www").await;
        let executor = CountingExecutor::new();
        let client = Client::builder(executor.clone())
            .build::<_, Empty<Bytes>>(ConnieConnector::new().resolver(dns.resolver()));
        let uri = format!("http://www.lab.test.:{}/", lab.port());

        let (first, _) = get(&client, &uri).await.unwrap();
        // hyper-util hands an HTTP/1 connection back to its pool from a task of its own, after
        // the response; until then a second request would rightly open a new connection. Wait
        // until the only task left is the connection itself.
        executor.wait_running(1).await;
        let (second, _) = get(&client, &uri).await.unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(second.status(), StatusCode::OK);

        // One TCP connection served both requests...
        assert_eq!(server.accepted(), 1);
        assert_eq!(server.requests_per_connection(), [2]);
        // ...and both responses carry the same connection's details.
        let local = |res: &Response<()>| res.extensions().get::<HttpInfo>().unwrap().local_addr();
        assert_eq!(local(&first), local(&second));
        let info = |res: &Response<()>| res.extensions().get::<ConnectInfo>().unwrap().clone();
        assert_eq!(info(&first).attempts(), info(&second).attempts());
    })
    .await
}

#[tokio::test]
async fn total_failure_error_lists_every_address() {
    bounded(async {
        let lab = Lab::builder()
            .blackholed(ip("127.0.0.31"))
            .refused(ip("127.0.0.32"))
            .refused(ip("127.0.0.33"))
            .build()
            .await
            .unwrap();
        let dns = lab.dns("dead").start().await.unwrap();
        let connector = ConnieConnector::new()
            .resolver(dns.resolver())
            .attempt_timeout(Some(ATTEMPT_TIMEOUT));
        let client = client(connector);

        let uri = format!("http://dead.lab.test.:{}/", lab.port());
        let error = get(&client, &uri).await.expect_err("every address is dead");
        assert!(error.is_connect(), "{error:?}");
        let connie =
            find::<ConnectError>(&error).unwrap_or_else(|| panic!("no ConnectError in {error:?}"));
        assert_eq!(connie.kind(), ErrorKind::AllAttemptsFailed, "{connie:?}");

        let mut tried: Vec<SocketAddr> = connie.attempts().iter().map(|a| a.addr()).collect();
        tried.sort();
        assert_eq!(tried, lab.addrs(), "{connie:?}");
        for attempt in connie.attempts() {
            let want = match lab.kind_of(attempt.addr()) {
                Some(HostKind::Blackholed) => io::ErrorKind::TimedOut,
                _ => io::ErrorKind::ConnectionRefused,
            };
            assert_eq!(attempt.error().kind(), want, "{attempt:?}");
        }
    })
    .await
}

#[tokio::test]
async fn uri_without_a_host_is_an_error_not_a_panic() {
    bounded(async {
        let mut connector = ConnieConnector::new();
        let client = client(connector.clone());

        // hyper-util refuses a relative URI before it reaches the connector...
        let error = get(&client, "/just/a/path").await.unwrap_err();
        assert!(!error.is_connect(), "{error:?}");
        // ...and the connector itself says the target is invalid.
        for uri in ["/just/a/path", "*"] {
            let error = call(&mut connector, uri).await.unwrap_err();
            assert!(error.is_invalid_target(), "{uri}: {error:?}");
        }
        // An authority with a port but an empty host reaches the connector.
        assert_invalid_target(&client, "http://:8080/").await;
    })
    .await
}

#[tokio::test]
async fn unknown_scheme_needs_an_explicit_port() {
    bounded(async {
        let server = HttpServer::bind(SocketAddr::new(ip("127.0.0.1"), 0))
            .await
            .unwrap();
        let client = client(ConnieConnector::new().enforce_http(false));

        assert_invalid_target(&client, "ftp://127.0.0.1/").await;
        assert_invalid_target(&client, "gopher://[::1]/").await;
        // With a port and `enforce_http(false)`, the connector does not care what the scheme is.
        let (res, _) = get(&client, &format!("foo://{}/", server.addr))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(server.accepted(), 1);
    })
    .await
}

/// The default connector must never send an `https` request in clear text: hyper-util's
/// `Client` on a bare `ConnieConnector` gets a typed error and the server sees no
/// connection at all, so no header (an `Authorization` here) leaves the process. With
/// `enforce_http(false)` the same request reaches the server in clear text, which is what
/// the check exists to stop (and proves this test can see it).
#[tokio::test]
async fn https_is_never_sent_in_clear_text_by_default() {
    bounded(async {
        let listener = std::net::TcpListener::bind((ip("127.0.0.1"), 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let request = |uri: String| {
            hyper::Request::get(uri)
                .header("authorization", "Bearer s3cret")
                .body(Empty::<Bytes>::new())
                .unwrap()
        };
        let uri = format!("https://{addr}/");

        for scheme_uri in [uri.clone(), format!("wss://{addr}/")] {
            let error = client(ConnieConnector::new())
                .request(request(scheme_uri.clone()))
                .await
                .expect_err("an https URI over plain TCP is refused");
            assert!(error.is_connect(), "{error:?}");
            let connie = find::<ConnectError>(&error).unwrap_or_else(|| panic!("{error:?}"));
            assert!(connie.is_invalid_target(), "{scheme_uri}: {connie:?}");
            assert!(connie.attempts().is_empty(), "{connie:?}");
            // Not even a handshake: a connect on loopback is complete by the time it returns.
            let accepted = listener.accept().map(|_| ());
            assert_eq!(
                accepted.map_err(|e| e.kind()),
                Err(io::ErrorKind::WouldBlock),
                "{scheme_uri}"
            );
        }

        // The control: with the check off, the secret goes out in clear text.
        let send = tokio::spawn(
            client(ConnieConnector::new().enforce_http(false)).request(request(uri.clone())),
        );
        let (stream, _) = tokio::time::timeout(PROMPT, async {
            loop {
                match listener.accept() {
                    Ok(conn) => return conn,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        tokio::task::yield_now().await
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        })
        .await
        .expect("with enforce_http(false) the request is sent");
        stream.set_nonblocking(true).unwrap();
        let mut stream = tokio::net::TcpStream::from_std(stream).unwrap();
        let mut seen = Vec::new();
        while !seen.ends_with(b"\r\n\r\n") {
            let byte = tokio::time::timeout(PROMPT, stream.read_u8()).await;
            seen.push(byte.expect("the request arrives").unwrap());
        }
        let seen = String::from_utf8_lossy(&seen).to_lowercase();
        assert!(seen.contains("authorization: bearer s3cret"), "{seen}");
        send.abort();
    })
    .await
}

/// The port the connector dials is the URI's: its scheme's default, or the explicit one.
/// (The whole URI-to-target table is `service::tests`'s; this checks it reaches the dial.)
#[tokio::test]
async fn the_uri_port_is_the_port_dialed() {
    bounded(async {
        let mut connector = ConnieConnector::new()
            .enforce_http(false)
            .attempt_timeout(Some(ATTEMPT_TIMEOUT));
        // Whether or not something listens on these ports, the address tried shows the port.
        let port = |result: Result<ConnectInfo, ConnectError>| match result {
            Ok(info) => info.remote_addr().port(),
            Err(e) => {
                assert_eq!(e.attempts().len(), 1, "{e:?}");
                e.attempts()[0].addr().port()
            }
        };
        for (uri, want) in [("wss://[::1]/", 443), ("http://127.0.0.41:8443/", 8443)] {
            assert_eq!(port(call(&mut connector, uri).await), want, "{uri}");
        }
    })
    .await
}

#[tokio::test]
async fn userinfo_is_not_part_of_the_host() {
    bounded(async {
        let server = HttpServer::bind(SocketAddr::new(ip("127.0.0.1"), 0))
            .await
            .unwrap();
        let dns = DnsServer::builder()
            .host("www", [ip("127.0.0.1")])
            .start()
            .await
            .unwrap();
        let client = client(ConnieConnector::new().resolver(dns.resolver()));

        for uri in [
            format!("http://user:secret@{}/", server.addr),
            format!("http://user@www.lab.test.:{}/", server.addr.port()),
        ] {
            let (res, body) = get(&client, &uri).await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{uri}");
            assert_eq!(body, "hello", "{uri}");
            let info = res.extensions().get::<ConnectInfo>().unwrap();
            assert_eq!(info.remote_addr(), server.addr, "{uri}");
        }
    })
    .await
}

#[tokio::test]
async fn very_long_host_name_is_an_invalid_target() {
    bounded(async {
        let dns = DnsServer::builder()
            .host("www", [ip("127.0.0.1")])
            .start()
            .await
            .unwrap();
        let client = client(ConnieConnector::new().resolver(dns.resolver()));

        // 4 labels of 63 bytes and "lab.test": 264 bytes, over DNS's 253.
        let label = "a".repeat(63);
        let long = format!("{label}.{label}.{label}.{label}.lab.test.");
        assert_invalid_target(&client, &format!("http://{long}:80/")).await;
        assert_invalid_target(
            &client,
            &format!("http://{}.lab.test:80/", "b".repeat(5000)),
        )
        .await;

        // 253 bytes exactly is a valid name: it goes to DNS, which does not know it.
        let max = format!("{label}.{label}.{label}.{}.lab.test.", "c".repeat(52));
        assert_eq!(max.trim_end_matches('.').len(), 253);
        let error = get(&client, &format!("http://{max}:80/"))
            .await
            .unwrap_err();
        let connie = find::<ConnectError>(&error).unwrap_or_else(|| panic!("{error:?}"));
        assert!(connie.is_dns(), "{connie:?}");

        // A 64-byte label is too long for DNS as well. connie leaves that check to the
        // resolver, so it is a typed DNS error, reached without any connection attempt.
        let bad_label = format!("{}.lab.test.", "d".repeat(64));
        let error = get(&client, &format!("http://{bad_label}:80/"))
            .await
            .unwrap_err();
        let connie = find::<ConnectError>(&error).unwrap_or_else(|| panic!("{error:?}"));
        assert!(connie.is_invalid_target() || connie.is_dns(), "{connie:?}");
        assert!(connie.attempts().is_empty(), "{connie:?}");
    })
    .await
}

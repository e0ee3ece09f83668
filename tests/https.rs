//! `ConnieConnector` wrapped by hyper-rustls, inside hyper-util's legacy `Client`.
//!
//! Proves that HTTPS works with connie doing the TCP race: a real TLS handshake against a
//! local rustls server whose self-signed certificate is made at test time (rcgen), reached
//! through a name that also resolves to a blackholed address; that hyper-rustls forwards
//! connie's `ConnectInfo` (and hyper-util's `HttpInfo`) to the response; that a total
//! failure still exposes connie's `ConnectError` through the `source()` chain, while a TLS
//! failure does not pretend to be one.
//!
//! Only loopback is used: names are resolved by `connie_lab::DnsServer`, never by the
//! system resolver.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use connie::{ConnectError, ConnectInfo, ConnieConnector, ErrorKind, Outcome};
use connie_lab::{HostKind, Lab};
use http_body_util::{Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpInfo;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use support::http::{dns_for, get, lab_with_server, HttpServer, ATTEMPT_TIMEOUT};
use support::{bounded, find, ip};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

type HttpsClient = Client<HttpsConnector<ConnieConnector>, Empty<Bytes>>;

/// A self-signed certificate for `names` (DNS names or IP addresses) and its key.
struct Identity {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl Identity {
    fn new(names: &[&str]) -> Identity {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let certified = rcgen::generate_simple_self_signed(names).expect("rcgen makes a cert");
        Identity {
            cert: certified.cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()),
        }
    }

    fn server_config(&self) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![self.cert.clone()],
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )
            .expect("the key matches the certificate");
        Arc::new(config)
    }

    /// A TLS acceptor presenting this certificate.
    fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.server_config())
    }

    /// A client configuration trusting only this certificate.
    fn client_config(&self) -> ClientConfig {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.clone()).expect("a valid certificate");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .with_root_certificates(roots)
            .with_no_client_auth()
    }
}

/// hyper-rustls around `connector`, trusting only `identity`, allowing `https` only.
///
/// hyper-rustls hands connie `https` URIs and does the TLS itself, so connie's
/// `enforce_http` check is turned off, as for hyper-util's `HttpConnector`.
fn https_client(identity: &Identity, connector: ConnieConnector) -> HttpsClient {
    let https = HttpsConnectorBuilder::new()
        .with_tls_config(identity.client_config())
        .https_only()
        .enable_http1()
        .wrap_connector(connector.enforce_http(false));
    Client::builder(TokioExecutor::new()).build(https)
}

#[tokio::test]
async fn https_through_hyper_rustls_past_a_blackhole() {
    bounded(async {
        let identity = Identity::new(&["www.lab.test"]);
        let (blackholed, alive) = (ip("127.0.0.51"), ip("127.0.0.52"));
        let dead = Lab::builder().blackholed(blackholed);
        let (lab, server) = lab_with_server(dead, alive, Some(&identity.acceptor())).await;
        let dns = dns_for(&lab, &server, "www").await;
        let client = https_client(&identity, ConnieConnector::new().resolver(dns.resolver()));

        // `get` fails the test if this takes PROMPT; the blackhole alone would take minutes.
        let uri = format!("https://www.lab.test:{}/", lab.port());
        let (res, body) = get(&client, &uri).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(body, "hello");
        assert_eq!(server.handshakes(), 1);

        // hyper-rustls forwards the inner connection's `Connected`, extras included.
        let info = res.extensions().get::<ConnectInfo>().expect("ConnectInfo");
        assert_eq!(info.remote_addr(), server.addr);
        let hole = lab.addrs_of(HostKind::Blackholed)[0];
        let outcome = info.attempts().iter().find(|a| a.addr() == hole);
        assert_eq!(
            outcome.map(|a| a.outcome().clone()),
            Some(Outcome::Cancelled),
            "{info:?}"
        );
        let http = res.extensions().get::<HttpInfo>().expect("HttpInfo");
        assert_eq!(http.remote_addr(), server.addr);
        assert_eq!(info.local_addr(), Some(http.local_addr()));
    })
    .await
}

#[tokio::test]
async fn https_to_an_ipv6_literal() {
    bounded(async {
        let identity = Identity::new(&["::1"]);
        let server = HttpServer::bind_tls(SocketAddr::new(ip("::1"), 0), identity.acceptor())
            .await
            .unwrap();
        let client = https_client(&identity, ConnieConnector::new());

        let uri = format!("https://[::1]:{}/", server.addr.port());
        let (res, body) = get(&client, &uri).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(body, "hello");
        let info = res.extensions().get::<ConnectInfo>().expect("ConnectInfo");
        assert_eq!(info.remote_addr(), server.addr);
    })
    .await
}

#[tokio::test]
async fn plain_http_through_the_https_connector_keeps_connect_info() {
    bounded(async {
        let identity = Identity::new(&["www.lab.test"]);
        // An HTTP/1 server without TLS: hyper-rustls passes `http` URIs straight to connie.
        let listener = TcpListener::bind(SocketAddr::new(ip("127.0.0.1"), 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let service = hyper::service::service_fn(|_req: Request<Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("plain"))))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(identity.client_config())
            .https_or_http()
            .enable_http1()
            .wrap_connector(ConnieConnector::new().enforce_http(false));
        let client: HttpsClient = Client::builder(TokioExecutor::new()).build(https);

        let (res, body) = get(&client, &format!("http://{addr}/")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(body, "plain");
        let info = res.extensions().get::<ConnectInfo>().expect("ConnectInfo");
        assert_eq!(info.remote_addr(), addr);
        server.abort();
    })
    .await
}

/// Wrapping connie with its `http`-only default is a clear, typed error on the first
/// request, with no SYN sent, rather than a TLS connector that silently cannot work.
#[tokio::test]
async fn wrapping_without_turning_off_enforce_http_is_a_clear_error() {
    bounded(async {
        let identity = Identity::new(&["::1"]);
        let server = HttpServer::bind_tls(SocketAddr::new(ip("::1"), 0), identity.acceptor())
            .await
            .unwrap();
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(identity.client_config())
            .https_only()
            .enable_http1()
            .wrap_connector(ConnieConnector::new());
        let client: HttpsClient = Client::builder(TokioExecutor::new()).build(https);

        let uri = format!("https://[::1]:{}/", server.addr.port());
        let error = get(&client, &uri).await.expect_err("enforce_http is on");
        let connie = find::<ConnectError>(&error).unwrap_or_else(|| panic!("{error:?}"));
        assert!(connie.is_invalid_target(), "{connie:?}");
        assert!(connie.to_string().contains("enforce_http"), "{connie}");
        assert_eq!(server.accepted(), 0);
    })
    .await
}

#[tokio::test]
async fn https_total_failure_keeps_connect_error() {
    bounded(async {
        let identity = Identity::new(&["dead.lab.test"]);
        let lab = Lab::builder()
            .blackholed(ip("127.0.0.53"))
            .refused(ip("127.0.0.54"))
            .build()
            .await
            .unwrap();
        let dns = lab.dns("dead").start().await.unwrap();
        let connector = ConnieConnector::new()
            .resolver(dns.resolver())
            .attempt_timeout(Some(ATTEMPT_TIMEOUT));
        let client = https_client(&identity, connector);

        let uri = format!("https://dead.lab.test:{}/", lab.port());
        let error = get(&client, &uri).await.expect_err("every address is dead");
        assert!(error.is_connect(), "{error:?}");
        let connie = find::<ConnectError>(&error).unwrap_or_else(|| panic!("{error:?}"));
        assert_eq!(connie.kind(), ErrorKind::AllAttemptsFailed, "{connie:?}");
        let mut tried: Vec<SocketAddr> = connie.attempts().iter().map(|a| a.addr()).collect();
        tried.sort();
        let mut want = lab.addrs();
        want.sort();
        assert_eq!(tried, want, "{connie:?}");
    })
    .await
}

#[tokio::test]
async fn tls_failure_is_not_a_connect_error() {
    bounded(async {
        // The server's certificate names another host, so the handshake fails after connie
        // has connected: the error is rustls's, not connie's.
        let identity = Identity::new(&["other.lab.test"]);
        let (lab, server) = lab_with_server(
            Lab::builder().refused(ip("127.0.0.55")),
            ip("127.0.0.56"),
            Some(&identity.acceptor()),
        )
        .await;
        let dns = dns_for(&lab, &server, "www").await;
        let client = https_client(&identity, ConnieConnector::new().resolver(dns.resolver()));

        let uri = format!("https://www.lab.test:{}/", lab.port());
        let error = get(&client, &uri).await.expect_err("wrong certificate");
        assert!(error.is_connect(), "{error:?}");
        assert!(find::<ConnectError>(&error).is_none(), "{error:?}");
        let tls = find::<rustls::Error>(&error).unwrap_or_else(|| panic!("{error:?}"));
        assert!(
            matches!(tls, rustls::Error::InvalidCertificate(_)),
            "{tls:?}"
        );
        assert_eq!(server.accepted(), 1);
        assert_eq!(server.handshakes(), 0);
    })
    .await
}

//! The README's ecosystem recipes, each run against a local server behind a dead address:
//! tonic's `Endpoint::connect_with_connector` (over TCP racing and over connie's TLS
//! racing), tokio-tungstenite over `race_connect`, hyper-util's legacy `Client` with
//! `http2_only`, and hyper-util's `client-pool` services over connections raced by connie. (hyper-rustls is in connie's `tests/https.rs`;
//! tokio-postgres's `connect_raw` is a compiled README example.)
//!
//! Only loopback is used: names are resolved by `connie_lab::DnsServer`. The helpers are
//! connie's own test support, shared by path.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use connie::{ConnectInfo, ConnieConnector, ConnieStream};
use connie_lab::{Lab, TlsIdentity, LAB_ALPN};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http2;
use hyper::{Request, Response, StatusCode, Uri, Version};
use hyper_util::client::pool::singleton::Singleton;
use hyper_util::rt::TokioExecutor;
use support::http::{dns_for, lab_with_server};
use support::{bounded, ip, PROMPT};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::Message;
use tower::ServiceExt;
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// tonic over connie: `connect_with_connector` takes the connector as it is. tonic hides
/// the connection's `Connected` extras from responses, so `ConnectInfo` is recorded on the
/// way through with `map_response`. tonic's own TCP settings (`tcp_nodelay`,
/// `tcp_keepalive`) configure the connector tonic would have built, so with connie they go
/// on connie's `TcpDialer`; `connect_timeout` is applied by tonic around any connector.
#[tokio::test]
async fn tonic_channel_connects_through_connie() {
    bounded(async {
        let (blackholed, alive) = (ip("127.0.0.71"), ip("127.0.0.72"));
        let dead = Lab::builder().blackholed(blackholed);
        let (lab, server) = lab_with_server(dead, alive, None).await;
        let dns = dns_for(&lab, &server, "grpc").await;

        let seen: Arc<Mutex<Vec<ConnectInfo>>> = Arc::default();
        let record = Arc::clone(&seen);
        let connector = ConnieConnector::new()
            .resolver(dns.resolver())
            .tcp(|tcp| tcp.keepalive(Some(Duration::from_secs(60))))
            .map_response(move |stream: ConnieStream| {
                record.lock().unwrap().push(stream.info().clone());
                stream
            });
        let uri = format!("http://grpc.lab.test.:{}", lab.port());
        let (response, body) = grpc_hello(&uri, connector, "blackhole").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body, "hello");

        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].remote_addr(), server.addr);
        assert_eq!(server.requests_per_connection(), [1]);
    })
    .await
}

/// tonic over connie's TLS racing: `connect_with_connector` takes the connector as it is
/// (tonic without its own TLS features passes `https` URIs to it), and the TLS host behind
/// the silent one serves the gRPC request over HTTP/2, chosen through ALPN.
#[tokio::test]
async fn tonic_over_tls_racing() {
    bounded(async {
        let identity = TlsIdentity::new().unwrap();
        let acceptor = TlsAcceptor::from(identity.server_config(&LAB_ALPN));
        let dead = Lab::builder().silent(ip("127.0.0.149"));
        let (lab, server) = lab_with_server(dead, ip("127.0.0.150"), Some(&acceptor)).await;
        let dns = dns_for(&lab, &server, "www").await;
        let connector = ConnieConnector::new()
            .resolver(dns.resolver())
            .rustls(identity.client_config(&[b"h2"]));
        let uri = format!("https://www.lab.test.:{}", lab.port());
        let (response, body) = grpc_hello(&uri, connector, "silent host").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.version(), Version::HTTP_2);
        assert_eq!(body, "hello");
        assert_eq!(server.handshakes(), 1);
        assert_eq!(server.requests_per_connection(), [1]);
    })
    .await
}

/// tokio-tungstenite over `race_connect`: race the TCP connection, then hand the stream to
/// `client_async` for the WebSocket handshake.
#[tokio::test]
async fn websocket_over_race_connect() {
    bounded(async {
        let listener = TcpListener::bind((ip("127.0.0.73"), 0)).await.unwrap();
        let alive = listener.local_addr().unwrap();
        let echo = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
            while let Some(Ok(message)) = ws.next().await {
                if message.is_text() {
                    ws.send(message).await.unwrap();
                }
            }
        });
        let dead = Lab::builder()
            .blackholed(ip("127.0.0.74"))
            .build()
            .await
            .unwrap();

        let stream = tokio::time::timeout(PROMPT, connie::race_connect([dead.addrs()[0], alive]))
            .await
            .expect("connects promptly past the blackhole")
            .unwrap();
        let url = format!("ws://{alive}/chat");
        let (mut ws, response) = tokio_tungstenite::client_async(url, stream).await.unwrap();
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        ws.send(Message::text("ping")).await.unwrap();
        let reply = tokio::time::timeout(PROMPT, ws.next()).await.unwrap();
        assert_eq!(reply.unwrap().unwrap(), Message::text("ping"));
        ws.close(None).await.unwrap();
        echo.abort();
    })
    .await
}

/// One HTTP/2 connection to an origin, made by connie's race and shared by every caller,
/// from hyper-util's composable pool services: `Singleton` over a service that makes an
/// HTTP/2 `SendRequest` from a connie connection.
#[derive(Clone)]
struct MakeH2 {
    connector: ConnieConnector,
}

impl Service<Uri> for MakeH2 {
    type Response = H2;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<H2, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let mut connector = self.connector.clone();
        Box::pin(async move {
            let stream = connector.call(uri).await?;
            let (send, connection) = http2::handshake(TokioExecutor::new(), stream).await?;
            tokio::spawn(connection);
            Ok(H2(send))
        })
    }
}

/// hyper's HTTP/2 sender as a tower `Service`, so the pool can hand out clones of it.
#[derive(Clone)]
struct H2(http2::SendRequest<Empty<Bytes>>);

impl Service<Request<Empty<Bytes>>> for H2 {
    type Response = Response<Incoming>;
    type Error = hyper::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Incoming>, hyper::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), hyper::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Empty<Bytes>>) -> Self::Future {
        Box::pin(self.0.send_request(request))
    }
}

#[tokio::test]
async fn hyper_util_pool_singleton_shares_one_raced_connection() {
    bounded(async {
        let (refused, alive) = (ip("127.0.0.75"), ip("127.0.0.76"));
        let dead = Lab::builder().refused(refused);
        let (lab, server) = lab_with_server(dead, alive, None).await;
        let dns = dns_for(&lab, &server, "h2").await;
        let mut pool = Singleton::new(MakeH2 {
            connector: ConnieConnector::new().resolver(dns.resolver()),
        });

        let uri: Uri = format!("http://h2.lab.test.:{}/", lab.port())
            .parse()
            .unwrap();
        for _ in 0..3 {
            let mut h2 = tokio::time::timeout(PROMPT, pool.call(uri.clone()))
                .await
                .unwrap()
                .unwrap();
            let request = Request::get(uri.clone()).body(Empty::new()).unwrap();
            let response = tokio::time::timeout(PROMPT, async {
                std::future::poll_fn(|cx| h2.poll_ready(cx)).await?;
                h2.call(request).await
            })
            .await
            .unwrap()
            .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
        // Three requests, one connection: the singleton made it once, through connie.
        assert_eq!(server.accepted(), 1);
        assert_eq!(server.requests_per_connection(), [3]);
    })
    .await
}

/// The HTTP/2 recipe: hyper-util's legacy `Client` with `http2_only(true)` over connie's
/// TLS racing, three requests at once to a cold origin behind a silent host: one raced
/// connection serves them all.
#[tokio::test]
async fn legacy_client_http2_only_shares_one_raced_connection() {
    bounded(async {
        let identity = TlsIdentity::new().unwrap();
        let acceptor = TlsAcceptor::from(identity.server_config(&LAB_ALPN));
        let dead = Lab::builder().silent(ip("127.0.0.151"));
        let (lab, server) = lab_with_server(dead, ip("127.0.0.152"), Some(&acceptor)).await;
        let dns = dns_for(&lab, &server, "www").await;
        let connector = ConnieConnector::new()
            .resolver(dns.resolver())
            .rustls(identity.client_config(&[b"h2"]));
        let client: hyper_util::client::legacy::Client<_, Empty<Bytes>> =
            hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                .http2_only(true)
                .build(connector);
        let uri: Uri = format!("https://www.lab.test.:{}/", lab.port())
            .parse()
            .unwrap();
        let requests = (0..3).map(|_| {
            let request = Request::get(uri.clone()).body(Empty::new()).unwrap();
            tokio::time::timeout(PROMPT, client.request(request))
        });
        for response in futures_util::future::join_all(requests).await {
            let response = response.unwrap().unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.version(), Version::HTTP_2);
        }
        assert_eq!(server.handshakes(), 1);
        assert_eq!(server.requests_per_connection(), [3]);
    })
    .await
}

/// A tonic `Channel` to `uri` over `connector`, connected within [`PROMPT`] (`past` names
/// the dead host it must get past promptly), sends one gRPC request, and returns the
/// response with its body read. The local [`HttpServer`] answers it with `200 hello`.
async fn grpc_hello<C>(uri: &str, connector: C, past: &str) -> (Response<()>, Bytes)
where
    C: tower_service::Service<Uri> + Send + 'static,
    C::Response: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    C::Future: Send + 'static,
    Box<dyn std::error::Error + Send + Sync>: From<C::Error> + Send + 'static,
{
    let endpoint = tonic::transport::Endpoint::from_shared(uri.to_owned())
        .unwrap()
        .connect_timeout(PROMPT);
    let channel = tokio::time::timeout(PROMPT, endpoint.connect_with_connector(connector))
        .await
        .unwrap_or_else(|_| panic!("does not connect promptly past the {past}"))
        .unwrap();
    // A tonic client sends its gRPC requests down the `Channel`; any request shows the
    // transport at work.
    let request = Request::get(format!("{uri}/hello.Greeter/SayHello"))
        .body(tonic::body::Body::empty())
        .unwrap();
    let response = tokio::time::timeout(PROMPT, channel.oneshot(request))
        .await
        .unwrap()
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (Response::from_parts(parts, ()), body)
}

//! A local HTTP/1 and h2c server (plain or over rustls) next to a lab, and a bounded `get`, shared
//! by the hyper and hyper-rustls tests. Every address used is loopback.

use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connie_lab::{DnsServer, Lab, LabBuilder};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, Uri};
use hyper_util::client::legacy::connect::Connect;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use super::PROMPT;

/// A per-attempt timeout, so that a race including a blackhole can fail in bounded time.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(300);

/// How many lab ports to try before giving up on binding the server next to a lab.
pub const BIND_TRIES: usize = 20;

/// A local HTTP/1 and HTTP/2 (prior knowledge) server, plain or over rustls, answering every request with `200 hello`.
/// It counts accepted TCP connections, completed TLS handshakes and the requests served on
/// each connection. Stops on drop.
pub struct HttpServer {
    pub addr: SocketAddr,
    counts: Arc<Counts>,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct Counts {
    accepted: AtomicUsize,
    handshakes: AtomicUsize,
    /// Requests served, one counter per accepted connection, in accept order.
    requests: Mutex<Vec<usize>>,
}

impl HttpServer {
    /// A plain HTTP/1 server on `addr`.
    pub async fn bind(addr: SocketAddr) -> io::Result<HttpServer> {
        HttpServer::bind_with(addr, None).await
    }

    /// An HTTPS server on `addr`: HTTP/1 behind `tls`'s handshake.
    pub async fn bind_tls(addr: SocketAddr, tls: TlsAcceptor) -> io::Result<HttpServer> {
        HttpServer::bind_with(addr, Some(tls)).await
    }

    async fn bind_with(addr: SocketAddr, tls: Option<TlsAcceptor>) -> io::Result<HttpServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let counts = Arc::new(Counts::default());
        let task = tokio::spawn(accept_loop(listener, tls, Arc::clone(&counts)));
        Ok(HttpServer { addr, counts, task })
    }

    /// TCP connections accepted.
    pub fn accepted(&self) -> usize {
        self.counts.accepted.load(Ordering::SeqCst)
    }

    /// TLS handshakes completed (always 0 for a plain server).
    pub fn handshakes(&self) -> usize {
        self.counts.handshakes.load(Ordering::SeqCst)
    }

    /// Requests served on each connection that served at least one.
    pub fn requests_per_connection(&self) -> Vec<usize> {
        let requests = self.counts.requests.lock().expect("not poisoned");
        requests.iter().copied().filter(|&n| n > 0).collect()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, tls: Option<TlsAcceptor>, counts: Arc<Counts>) {
    // Dropping the set (when this task is aborted) aborts every connection task.
    let mut connections = JoinSet::new();
    while let Ok((stream, _peer)) = listener.accept().await {
        counts.accepted.fetch_add(1, Ordering::SeqCst);
        let index = {
            let mut requests = counts.requests.lock().expect("not poisoned");
            requests.push(0);
            requests.len() - 1
        };
        let counts = Arc::clone(&counts);
        let tls = tls.clone();
        connections.spawn(async move {
            let Some(tls) = tls else {
                return serve(stream, counts, index).await;
            };
            let Ok(stream) = tls.accept(stream).await else {
                return;
            };
            counts.handshakes.fetch_add(1, Ordering::SeqCst);
            serve(stream, counts, index).await;
        });
        while connections.try_join_next().is_some() {}
    }
}

/// Serves HTTP/1, or HTTP/2 with prior knowledge (h2c), on `stream` until the client is
/// done, counting requests at `index`.
async fn serve<S>(stream: S, counts: Arc<Counts>, index: usize)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let service = hyper::service::service_fn(move |_req: Request<Incoming>| {
        counts.requests.lock().expect("not poisoned")[index] += 1;
        async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello")))) }
    });
    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// A lab of `dead` hosts on one port P, plus an [`HttpServer`] on `alive:P`, behind `tls`
/// if given.
///
/// The lab picks P; if `alive:P` happens to be taken, a new lab (and port) is tried.
pub async fn lab_with_server(
    dead: LabBuilder,
    alive: IpAddr,
    tls: Option<&TlsAcceptor>,
) -> (Lab, HttpServer) {
    for _ in 0..BIND_TRIES {
        let lab = dead.clone().build().await.expect("lab builds");
        let addr = SocketAddr::new(alive, lab.port());
        match HttpServer::bind_with(addr, tls.cloned()).await {
            Ok(server) => return (lab, server),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
            Err(e) => panic!("binding the HTTP server on {alive}: {e}"),
        }
    }
    panic!("no lab port was free on {alive} after {BIND_TRIES} tries");
}

/// A DNS server naming `lab`'s hosts and then `server` as `name` (in the zone `lab.test.`).
pub async fn dns_for(lab: &Lab, server: &HttpServer, name: &str) -> DnsServer {
    let dns = lab.dns(name).host(name, [server.addr.ip()]);
    dns.start().await.expect("the lab DNS server starts")
}

/// GETs `uri` within [`PROMPT`], returning the response with its body read.
pub async fn get<C>(
    client: &Client<C, Empty<Bytes>>,
    uri: &str,
) -> Result<(Response<()>, Bytes), hyper_util::client::legacy::Error>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let uri: Uri = uri.parse().expect("a valid URI");
    let request = tokio::time::timeout(PROMPT, client.get(uri.clone()));
    let response = request
        .await
        .unwrap_or_else(|_| panic!("GET {uri} took longer than {PROMPT:?}"))?;
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(PROMPT, body.collect())
        .await
        .unwrap_or_else(|_| panic!("body of {uri} took longer than {PROMPT:?}"))
        .expect("body reads")
        .to_bytes();
    Ok((Response::from_parts(parts, ()), body))
}

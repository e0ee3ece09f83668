//! [`RustlsDialer`] (feature `rustls`): TCP and its TLS handshake raced as one attempt,
//! and [`MaybeTlsStream`], the connection it makes; with the `ech` feature, Encrypted
//! Client Hello for endpoints of HTTPS records that carry it (`ech.rs`).

#[cfg(feature = "ech")]
pub(crate) mod ech;

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hickory_resolver::proto::rr::Name;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::dns::ServiceEndpoint;
use crate::target::is_secure_scheme;
use crate::{ConnieConnector, Destination, Dial, TcpDialer};

/// Dials TCP with a [`TcpDialer`]'s socket options, then runs a rustls client handshake
/// on top, as one attempt of the race: an attempt connects, and can win, only once its TLS
/// handshake is done.
///
/// So a host that accepts TCP and then never answers (a wedged server, a middlebox, a
/// path-MTU black hole that lets the SYN through and drops the ServerHello), resets, or
/// presents a certificate the [`ClientConfig`] does not trust, loses to a host that
/// completes TLS. A TLS failure is that attempt's error (`InvalidData` for a rustls
/// error, as tokio-rustls reports it), and starts the next attempt at once, as a refused
/// connect does. While a handshake runs on a connected TCP socket, the schedule waits
/// the attempt's delay again before starting another attempt (see
/// [`Schedule`](crate::Schedule#tcp-up-handshake-running)).
///
/// The server name is the target's host name ([`Destination::host`]; an internationalized
/// name in its ASCII form), or its IP address for an IP literal. A destination whose URI
/// scheme is `http` or `ws` ([`Destination::scheme`], set by the `Service<Uri>`) gets
/// plain TCP; every other one, and every [`connect`](ConnieConnector::connect), gets TLS.
///
/// An attempt to an address of an HTTPS record's endpoint ([`Destination::endpoint`])
/// offers the `ClientConfig`'s ALPN protocols that the endpoint speaks, in the
/// configuration's order (all of them if it speaks none of them).
///
/// A losing attempt is closed with a reset, as [`TcpDialer`]'s are, whether it is still in
/// its TCP or its TLS handshake, so losers leave no `TIME_WAIT` behind.
///
/// With the `ech` feature and [`ConnieConnector::ech`], an attempt to an endpoint whose
/// HTTPS record carries an ECH configuration offers Encrypted Client Hello, with a
/// `ClientConfig` of the factory given there.
///
/// Made by [`ConnieConnector::rustls`]; [`ConnieConnector::dialer`] reaches it.
#[derive(Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub struct RustlsDialer {
    tcp: TcpDialer,
    config: Arc<ClientConfig>,
    /// What it makes as it goes, shared by its clones.
    made: Arc<Made>,
}

/// The configurations a [`RustlsDialer`] makes as it goes.
#[derive(Default)]
struct Made {
    /// `config` with fewer ALPN protocols, for HTTPS records' endpoints that speak fewer:
    /// made once for each set.
    narrowed: Mutex<Vec<Arc<ClientConfig>>>,
    /// The ECH config factory, and the configurations it made.
    #[cfg(feature = "ech")]
    ech: Option<ech::EchConfigs>,
}

impl RustlsDialer {
    /// A dialer doing TLS with `config` over TCP connections made by `tcp`.
    pub fn new(tcp: TcpDialer, config: impl Into<Arc<ClientConfig>>) -> RustlsDialer {
        RustlsDialer {
            tcp,
            config: config.into(),
            made: Arc::default(),
        }
    }

    /// The configuration for an attempt to an address of `endpoint`: the ALPN protocols
    /// of `config` that the endpoint speaks, in `config`'s order. All of them when it
    /// speaks them all, or none (HTTPS records with such an endpoint are read with this
    /// configuration's protocols, which skip it, unless the dialer came later).
    fn config_for(&self, endpoint: Option<&ServiceEndpoint>) -> Arc<ClientConfig> {
        let Some(common) = alpn_for(&self.config.alpn_protocols, endpoint) else {
            return Arc::clone(&self.config);
        };
        let mut narrowed = self.made.narrowed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(config) = narrowed.iter().find(|c| c.alpn_protocols == common) {
            return Arc::clone(config);
        }
        let mut config = ClientConfig::clone(&self.config);
        config.alpn_protocols = common;
        let config = Arc::new(config);
        narrowed.push(Arc::clone(&config));
        config
    }

    /// The TCP dialer under the TLS.
    pub fn tcp(&self) -> &TcpDialer {
        &self.tcp
    }

    /// The rustls configuration.
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }
}

/// The protocols of `offered` that `endpoint` speaks, in `offered`'s order, when they are
/// fewer than `offered` and more than none; `None` for all of `offered`.
fn alpn_for(offered: &[Vec<u8>], endpoint: Option<&ServiceEndpoint>) -> Option<Vec<Vec<u8>>> {
    let endpoint = endpoint?;
    let speaks = |id: &&Vec<u8>| endpoint.alpn().any(|e| e == id.as_slice());
    let common: Vec<Vec<u8>> = offered.iter().filter(speaks).cloned().collect();
    (!common.is_empty() && common.len() != offered.len()).then_some(common)
}

impl fmt::Debug for RustlsDialer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RustlsDialer")
            .field("tcp", &self.tcp)
            .field("alpn_protocols", &self.config.alpn_protocols)
            .finish_non_exhaustive()
    }
}

impl Dial for RustlsDialer {
    type Connection = MaybeTlsStream;

    fn dial(&self, to: Destination<'_>) -> impl Future<Output = io::Result<MaybeTlsStream>> + Send {
        // A bad name fails the attempt before its SYN.
        let name = (!is_plain(to.scheme())).then(|| server_name(&to));
        let config = name.is_some().then(|| self.config_for(to.endpoint()));
        // A factory that fails, or a list it cannot use, fails the attempt before its SYN.
        #[cfg(feature = "ech")]
        let ech = name
            .is_some()
            .then(|| ech::offer(self.made.ech.as_ref(), to.endpoint()))
            .flatten();
        let tcp = self.tcp.dial(to.clone());
        async move {
            let name = name.transpose()?;
            #[cfg(feature = "ech")]
            let ech = ech.transpose()?;
            let stream = tcp.await?;
            let (Some(name), Some(config)) = (name, config) else {
                return Ok(MaybeTlsStream::Tcp(stream));
            };
            to.transport_connected();
            // Until the handshake is done, dropping the attempt (it lost) resets the
            // connection, as `TcpDialer` does for a connect in progress: no `TIME_WAIT`.
            SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
            #[cfg(feature = "ech")]
            if let Some(offer) = ech {
                let (tls, ech) = ech::handshake(self, &to, name, stream, offer, config).await?;
                to.ech(ech);
                SockRef::from(tls.get_ref().0).set_linger(None)?;
                return Ok(MaybeTlsStream::Tls(Box::new(tls)));
            }
            let tls = TlsConnector::from(config).connect(name, stream).await?;
            SockRef::from(tls.get_ref().0).set_linger(None)?;
            Ok(MaybeTlsStream::Tls(Box::new(tls)))
        }
    }

    fn local_addr(&self, conn: &MaybeTlsStream) -> Option<SocketAddr> {
        conn.tcp().local_addr().ok()
    }

    fn alpn(&self, conn: &MaybeTlsStream) -> Option<Vec<u8>> {
        conn.alpn().map(<[u8]>::to_vec)
    }
}

/// Whether a URI of `scheme` is served over plain TCP.
fn is_plain(scheme: Option<&str>) -> bool {
    scheme.and_then(is_secure_scheme) == Some(false)
}

/// The name TLS checks the certificate against: the host name, else the IP address.
fn server_name(to: &Destination<'_>) -> io::Result<ServerName<'static>> {
    let Some(host) = to.host() else {
        return Ok(ServerName::IpAddress(to.addr().ip().into()));
    };
    let ascii = if host.is_ascii() {
        host.to_owned()
    } else {
        // An internationalized name: its A-labels (`xn--…`), as the certificate has them.
        let name = Name::from_utf8(host).map_err(|e| invalid_name(host, e))?;
        name.to_ascii().trim_end_matches('.').to_owned()
    };
    ServerName::try_from(ascii).map_err(|e| invalid_name(host, e))
}

fn invalid_name(host: &str, e: impl fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{host:?} is not a valid TLS server name: {e}"),
    )
}

impl ConnieConnector<TcpDialer> {
    /// Races the TLS handshake too: each attempt is a TCP connect with this connector's
    /// [`TcpDialer`] options, then a rustls handshake with `config`, and only a finished
    /// handshake wins (see [`RustlsDialer`]).
    ///
    /// For hyper-util's `Client`, the connector then does TLS for `https` and `wss` URIs
    /// and plain TCP for `http` and `ws` ([`enforce_http`](Self::enforce_http) is turned
    /// off; [`https_only`](Self::https_only) refuses the plain ones), and a server that
    /// chose `h2` through ALPN gets HTTP/2. An `https` or `wss` URI's race looks the
    /// name's HTTPS records up too, endpoints chosen by `config`'s ALPN protocols (see
    /// [`https_records`](Self::https_records)). Configure the `TcpDialer` first: `.tcp(…)`
    /// then `.rustls(config)`.
    ///
    /// ```no_run
    /// # async fn doc(config: rustls::ClientConfig) -> Result<(), connie::ConnectError> {
    /// use connie::ConnieConnector;
    ///
    /// let connector = ConnieConnector::new().rustls(config);
    /// let (stream, info) = connector.connect("example.com:443").await?;
    /// println!("TLS up with {} after {:?}", info.remote_addr(), info.elapsed());
    /// # drop(stream); Ok(()) }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    pub fn rustls(self, config: impl Into<Arc<ClientConfig>>) -> ConnieConnector<RustlsDialer> {
        let tcp = self.dialer().clone();
        let config = config.into();
        let mut this = self;
        // HTTPS records' endpoints are chosen by the protocols this configuration offers.
        this.config_mut().https.alpn = Some(config.alpn_protocols.clone().into());
        // For the `Service<Uri>`, which exists with the `hyper` feature: `https` is taken.
        #[cfg(feature = "hyper")]
        {
            this.schemes.enforce_http = false;
        }
        this.with_dialer(RustlsDialer::new(tcp, config))
    }
}

/// A connection made by [`RustlsDialer`]: TLS over TCP, or plain TCP for an `http` or `ws`
/// URI.
#[derive(Debug)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub enum MaybeTlsStream {
    /// Plain TCP.
    Tcp(TcpStream),
    /// TLS over TCP, its handshake done.
    Tls(Box<TlsStream<TcpStream>>),
}

impl MaybeTlsStream {
    /// The TCP connection underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            MaybeTlsStream::Tcp(tcp) => tcp,
            MaybeTlsStream::Tls(tls) => tls.get_ref().0,
        }
    }

    /// Whether it is TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, MaybeTlsStream::Tls(_))
    }

    /// The protocol the server chose through ALPN (such as `b"h2"`), if any.
    pub fn alpn(&self) -> Option<&[u8]> {
        match self {
            MaybeTlsStream::Tcp(_) => None,
            MaybeTlsStream::Tls(tls) => tls.get_ref().1.alpn_protocol(),
        }
    }
}

/// hyper-util's `HttpInfo` (remote and local address) as for TCP, and HTTP/2 when ALPN
/// chose `h2`.
#[cfg(feature = "hyper")]
impl hyper_util::client::legacy::connect::Connection for MaybeTlsStream {
    fn connected(&self) -> hyper_util::client::legacy::connect::Connected {
        let connected = self.tcp().connected();
        if self.alpn() == Some(b"h2") {
            connected.negotiated_h2()
        } else {
            connected
        }
    }
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTlsStream::Tcp(s) => s.is_write_vectored(),
            MaybeTlsStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Tcp(s) => Pin::new(s).poll_flush(cx),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dial::{Origin, Progress};

    fn name_of(host: Option<&str>) -> io::Result<String> {
        let progress = Progress::default();
        let origin = Origin { host, scheme: None };
        let to = Destination::new("192.0.2.1:443".parse().unwrap(), origin, &progress, 0, None);
        server_name(&to).map(|n| n.to_str().into_owned())
    }

    #[test]
    fn the_server_name_is_the_host_in_ascii_or_the_ip() {
        assert_eq!(name_of(Some("example.com")).unwrap(), "example.com");
        assert_eq!(
            name_of(Some("bücher.example")).unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(name_of(None).unwrap(), "192.0.2.1");
        // `Target::host` takes `_`, as resolvers do, and so does rustls.
        assert_eq!(name_of(Some("_srv.example")).unwrap(), "_srv.example");
        // A name rustls cannot check a certificate against fails the attempt, typed.
        let error = name_of(Some("bad..example")).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(
            error.to_string().contains("not a valid TLS server name"),
            "{error}"
        );
    }

    #[test]
    fn only_http_and_ws_are_plain() {
        for plain in ["http", "HTTP", "ws", "Ws"] {
            assert!(is_plain(Some(plain)), "{plain}");
        }
        for tls in [None, Some("https"), Some("wss"), Some("grpc"), Some("")] {
            assert!(!is_plain(tls), "{tls:?}");
        }
    }

    #[test]
    #[cfg(feature = "hyper")]
    fn rustls_keeps_the_tcp_options_and_takes_https() {
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
        let tcp = TcpDialer::new().nodelay(false);
        let connector = ConnieConnector::new()
            .tcp(|_| tcp.clone())
            .https_only(true)
            .rustls(config);
        assert_eq!(*connector.dialer().tcp(), tcp);
        assert!(!connector.schemes.enforce_http);
        assert!(connector.schemes.https_only);
        let debug = format!("{:?}", connector.dialer());
        assert!(
            debug.starts_with("RustlsDialer { tcp: TcpDialer"),
            "{debug}"
        );
    }

    fn config(alpn: &[&[u8]]) -> ClientConfig {
        let mut config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|id| id.to_vec()).collect();
        config
    }

    fn endpoint(alpn: &[&[u8]]) -> ServiceEndpoint {
        ServiceEndpoint {
            priority: 1,
            target: None,
            port: None,
            alpn: alpn.iter().map(|id| id.to_vec()).collect(),
            ipv4_hints: Vec::new(),
            ipv6_hints: Vec::new(),
            ech: None,
            order: 0,
        }
    }

    /// An attempt to an HTTPS record's endpoint offers the configuration's protocols that
    /// the endpoint speaks, in the configuration's order; the configuration as it is when
    /// it speaks them all, none, or there is no endpoint; one narrowed configuration per
    /// set of protocols.
    #[test]
    fn an_endpoint_narrows_the_protocols_offered() {
        let dialer = RustlsDialer::new(TcpDialer::new(), config(&[b"h2", b"http/1.1"]));
        let offered = |e: Option<&ServiceEndpoint>| dialer.config_for(e).alpn_protocols.clone();
        let same =
            |e: Option<&ServiceEndpoint>| Arc::ptr_eq(&dialer.config_for(e), dialer.config());
        assert!(same(None));
        assert!(same(Some(&endpoint(&[b"http/1.1", b"h2"]))));
        assert!(same(Some(&endpoint(&[b"spdy/3"]))));
        assert_eq!(
            offered(Some(&endpoint(&[b"h3", b"http/1.1"]))),
            [b"http/1.1"]
        );
        assert_eq!(offered(Some(&endpoint(&[b"h2"]))), [b"h2"]);
        let h2 = endpoint(&[b"h3", b"h2"]);
        assert!(Arc::ptr_eq(
            &dialer.config_for(Some(&h2)),
            &dialer.config_for(Some(&h2))
        ));
        assert_eq!(dialer.made.narrowed.lock().unwrap().len(), 2);
        // A configuration offering nothing offers nothing to any endpoint.
        let silent = RustlsDialer::new(TcpDialer::new(), config(&[]));
        assert!(silent.config_for(Some(&h2)).alpn_protocols.is_empty());
    }

    /// `rustls` records the protocols its configuration offers, so that HTTPS records are
    /// read for them, and turns the records on for `https` and `wss` URIs only.
    #[test]
    fn rustls_reads_https_records_for_its_protocols() {
        let connector = ConnieConnector::new().rustls(config(&[b"h2"]));
        let offered = connector.config.https.alpn.as_deref();
        assert_eq!(offered, Some(&[b"h2".to_vec()][..]));
        let origin = |scheme| crate::dial::Origin {
            host: Some("example.com"),
            scheme,
        };
        assert!(connector.https_query(origin(Some("https"))).is_some());
        assert!(connector.https_query(origin(Some("WSS"))).is_some());
        assert!(connector.https_query(origin(Some("http"))).is_none());
        assert!(connector.https_query(origin(None)).is_none());
        let off = connector.clone().https_records(false);
        assert!(off.https_query(origin(Some("https"))).is_none());
        let on = connector.https_records(true);
        assert!(on.https_query(origin(None)).is_some());
        // A plain connector asks only when told to.
        let tcp = ConnieConnector::new();
        assert!(tcp.https_query(origin(Some("https"))).is_none());
        assert!(tcp.https_records(true).https_query(origin(None)).is_some());
    }
}

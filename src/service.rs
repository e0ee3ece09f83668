//! hyper integration: [`ConnieConnector`] as a `tower_service::Service<http::Uri>`.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::uri::Scheme;
use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::target::{self, is_secure_scheme, parse_port};
use crate::{ConnectError, ConnectInfo, ConnieConnector, Dial, IntoTarget, Target};

/// Connects hyper-util's legacy `Client` by racing every address of the URI's host.
///
/// ```no_run
/// # async fn doc() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use http_body_util::Empty;
/// use hyper::body::Bytes;
/// use hyper_util::client::legacy::Client;
/// use hyper_util::rt::TokioExecutor;
///
/// let client = Client::builder(TokioExecutor::new())
///     .build::<_, Empty<Bytes>>(connie::ConnieConnector::new());
/// let res = client.get("http://example.com/".parse()?).await?;
/// if let Some(info) = res.extensions().get::<connie::ConnectInfo>() {
///     println!("served by {}", info.remote_addr());
/// }
/// # Ok(()) }
/// ```
///
/// URI rules: by default only `http` URIs are accepted
/// ([`enforce_http`](ConnieConnector::enforce_http), as hyper-util's `HttpConnector`), so an
/// `https://` request is never sent in clear text. The host is required; the port is the
/// URI's, else 80 for `http` and `ws`, 443 for `https` and `wss`; any other scheme, or none,
/// needs an explicit port. IP literals (`http://[::1]:8080/`) skip DNS. Each bad input is
/// a [`ConnectError`] of kind [`InvalidTarget`](crate::ErrorKind::InvalidTarget), returned
/// before any lookup or SYN, never a panic.
///
/// The default connector speaks plain TCP. For HTTPS, race the TLS handshake too with
/// the `rustls` feature's `ConnieConnector::rustls`, which does TLS for `https`/`wss`
/// and plain TCP for `http`/`ws` (or only TLS, with
/// [`https_only`](ConnieConnector::https_only)); or wrap connie in a TLS connector and
/// turn the check off, e.g. hyper-rustls's
/// `HttpsConnectorBuilder::…::wrap_connector(ConnieConnector::new().enforce_http(false))`,
/// which races TCP only.
///
/// Any dialer works whose connection hyper can drive: tokio's `AsyncRead` and
/// `AsyncWrite`, plus hyper-util's `Connection` to say what it is (remote and local
/// address, HTTP/2 negotiated through ALPN). The dialer is told the URI's scheme
/// ([`Destination::scheme`](crate::Destination::scheme)).
///
/// Responses carry the connection's `Connected` extras (hyper-util's `HttpInfo` with the
/// remote and local address, for TCP) and connie's [`ConnectInfo`] in their extensions.
/// Which URIs the `Service<Uri>` refuses before any lookup or SYN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schemes {
    /// Every scheme but `http` (see [`ConnieConnector::enforce_http`]).
    pub(crate) enforce_http: bool,
    /// Every scheme but `https` and `wss` (see [`ConnieConnector::https_only`]).
    pub(crate) https_only: bool,
}

impl Default for Schemes {
    fn default() -> Self {
        Schemes {
            enforce_http: true,
            https_only: false,
        }
    }
}

impl<D> ConnieConnector<D> {
    /// Sets whether the `tower_service::Service<http::Uri>` impl (feature `hyper`) only
    /// accepts URIs whose scheme is `http`.
    ///
    /// The connector speaks plain TCP. With the check on, an `https://` URI handed to it
    /// directly (a `Client` built on `ConnieConnector` alone) is refused with
    /// [`ErrorKind::InvalidTarget`](crate::ErrorKind::InvalidTarget) before any lookup or
    /// SYN, instead of sending the request, headers and all, in clear text to port 443.
    /// A TLS connector that wraps connie (hyper-rustls, hyper-tls, tonic with TLS) hands it
    /// `https` URIs on purpose and does the TLS itself, so it needs `enforce_http(false)`
    /// (connie's own TLS racing, `rustls` with the `rustls` feature, turns it off itself):
    ///
    /// ```no_run
    /// # fn doc(tls: rustls::ClientConfig) {
    /// let https = hyper_rustls::HttpsConnectorBuilder::new()
    ///     .with_tls_config(tls)
    ///     .https_or_http()
    ///     .enable_http1()
    ///     .wrap_connector(connie::ConnieConnector::new().enforce_http(false));
    /// # drop(https); }
    /// ```
    ///
    /// With the check off, any scheme is accepted; the port is the URI's, else 80 for
    /// `http`/`ws` and 443 for `https`/`wss`. Same name, meaning and default as
    /// hyper-util's `HttpConnector::enforce_http`. [`connect`](Self::connect) and
    /// [`race_connect`](crate::race_connect) take no URI and are not affected.
    ///
    /// Default is `true`.
    #[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
    pub fn enforce_http(mut self, enforce: bool) -> Self {
        self.schemes.enforce_http = enforce;
        self
    }

    /// Sets whether the `tower_service::Service<http::Uri>` impl (feature `hyper`) refuses
    /// every URI whose scheme is not `https` or `wss`, as hyper-rustls's `https_only`
    /// does. A refused URI is an
    /// [`ErrorKind::InvalidTarget`](crate::ErrorKind::InvalidTarget), before any lookup
    /// or SYN. [`connect`](Self::connect) takes no URI and is not affected.
    ///
    /// The check is of the scheme only; whether the connection is encrypted is the
    /// dialer's doing. With `ConnieConnector::rustls` (feature `rustls`), whose dialer
    /// does TLS for `https` and `wss`, it means no request leaves in clear text. With the
    /// plain [`TcpDialer`](crate::TcpDialer) and `enforce_http(false)`, an `https` URI is connected over
    /// plain TCP: right when a TLS connector wrapping connie (hyper-rustls) does the TLS,
    /// and the setting then guarantees nothing about encryption.
    ///
    /// With [`enforce_http`](Self::enforce_http) on as well, every URI is refused.
    ///
    /// Default is `false`.
    #[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
    pub fn https_only(mut self, https_only: bool) -> Self {
        self.schemes.https_only = https_only;
        self
    }
}

impl<D> tower_service::Service<Uri> for ConnieConnector<D>
where
    D: Dial + Clone + Send + Sync + 'static,
    D::Connection: AsyncRead + AsyncWrite + Connection + Unpin + Send + 'static,
{
    type Response = ConnieStream<D::Connection>;
    type Error = ConnectError;
    type Future = Connecting<D::Connection>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        // The URI is taken apart here: the future keeps its target and scheme, not it.
        let allowed = if self.schemes.https_only {
            https_only(&uri)
        } else {
            Ok(())
        };
        let target = allowed.and_then(|()| uri_target(&uri, self.schemes.enforce_http));
        let scheme = uri.scheme().cloned();
        let connector = self.clone();
        Connecting {
            inner: Box::pin(async move {
                let scheme = scheme.as_ref().map(Scheme::as_str);
                let (conn, info) = connector.connect_for(target?, scheme).await?;
                Ok(ConnieStream {
                    io: TokioIo::new(conn),
                    info,
                })
            }),
        }
    }
}

/// Refuses a URI whose scheme is not `https` or `wss`.
fn https_only(uri: &Uri) -> Result<(), ConnectError> {
    match uri.scheme_str() {
        Some(s) if is_secure_scheme(s) == Some(true) => Ok(()),
        scheme => Err(ConnectError::invalid_target(format!(
            "refusing a {} URI: https_only is on",
            scheme.map_or("scheme-less".to_owned(), |s| format!("{s:?}"))
        ))),
    }
}

/// The [`Target`] a URI names; with `enforce_http`, only an `http` URI names one.
///
/// An error shows the URI as its scheme, host and port only ([`Shown`]): never its user
/// info, path or query, which may hold a password or a token.
pub(crate) fn uri_target(uri: &Uri, enforce_http: bool) -> Result<Target, ConnectError> {
    if enforce_http && uri.scheme() != Some(&Scheme::HTTP) {
        return Err(ConnectError::invalid_target(match uri.scheme_str() {
            Some(scheme) => format!(
                "refusing a {scheme:?} URI over plain TCP: enforce_http is on \
                 (a TLS connector wrapping connie calls enforce_http(false))"
            ),
            None => format!("URI {} has no scheme (enforce_http is on)", Shown(uri)),
        }));
    }
    let (host, written) = uri
        .authority()
        .map_or(("", None), |a| host_and_port(a.as_str()));
    if host.is_empty() {
        return Err(ConnectError::invalid_target(format!(
            "URI {} has no host",
            Shown(uri)
        )));
    }
    // Not `port_u16`, which reads `:+80` as 80, and `:-80` as no port at all (so 80).
    let port = match (written, uri.scheme_str()) {
        (Some(port), _) => parse_port(port).ok_or_else(|| {
            ConnectError::invalid_target(format!(
                "URI {} has an invalid port (expected 1 to 65535, in ASCII digits)",
                Shown(uri)
            ))
        })?,
        (None, Some(s)) if is_secure_scheme(s) == Some(false) => 80,
        (None, Some(s)) if is_secure_scheme(s) == Some(true) => 443,
        (None, Some(s)) => {
            return Err(ConnectError::invalid_target(format!(
                "unsupported URI scheme {s:?} (and no port given)"
            )))
        }
        (None, None) => {
            return Err(ConnectError::invalid_target(format!(
                "URI {} has neither a scheme nor a port",
                Shown(uri)
            )))
        }
    };
    Target::host(host, port)
}

/// A URI in an error message: `http://example.com:99999`, its scheme, host and port as
/// written, each cut at [`target::Shown`]'s length; `http://` for a URI with no host.
struct Shown<'a>(&'a Uri);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let uri = self.0;
        let mut shown = String::new();
        if let Some(scheme) = uri.scheme_str() {
            shown.push_str(scheme);
            shown.push_str("://");
        }
        if let Some(host) = uri.host() {
            shown.push_str(host);
        }
        if let Some(port) = written_port(uri) {
            shown.push(':');
            shown.push_str(port);
        }
        write!(f, "{}", target::Shown(&shown))
    }
}

/// The port as `uri` writes it (after the host's `:`), if it writes one; `http://host:/`
/// writes none.
fn written_port(uri: &Uri) -> Option<&str> {
    host_and_port(uri.authority()?.as_str()).1
}

/// The host of an `authority` as [`Uri::host`] reads it (an IPv6 literal in its
/// brackets), and its port as written, if it writes one.
///
/// The port is after the first `:` from the end before which comes no `]` (an IPv6
/// literal's end: its `:`s are no port) and no `@` (the user info's end); the host runs
/// from the last `@` to that `:`. (An authority that `http` parsed has one `:` at most
/// outside brackets and the user info, so `Uri::host`'s first `:` is this one.) Two
/// searches of bytes from the end, where `Uri::host` and a search for the port cost a
/// connect by name 500 instructions.
fn host_and_port(authority: &str) -> (&str, Option<&str>) {
    let bytes = authority.as_bytes();
    let mark = bytes.iter().rposition(|b| matches!(b, b':' | b']' | b'@'));
    let (end, port) = match mark {
        Some(i) if bytes[i] == b':' => (i, Some(&authority[i + 1..]).filter(|p| !p.is_empty())),
        _ => (bytes.len(), None),
    };
    let start = match mark {
        Some(i) if bytes[i] == b'@' => i + 1,
        _ => bytes[..end]
            .iter()
            .rposition(|&b| b == b'@')
            .map_or(0, |i| i + 1),
    };
    (&authority[start..end], port)
}

/// A URI as a target, with the port rules of the `Service` (the port given, else 80 for
/// `http`/`ws` and 443 for `https`/`wss`; a host is required). Any scheme is accepted, as
/// with [`enforce_http(false)`](ConnieConnector::enforce_http): a direct
/// [`connect`](ConnieConnector::connect) sends nothing but a SYN.
impl IntoTarget for &Uri {
    fn into_target(self) -> Result<Target, ConnectError> {
        uri_target(self, false)
    }
}

impl IntoTarget for Uri {
    fn into_target(self) -> Result<Target, ConnectError> {
        uri_target(&self, false)
    }
}

/// The future of [`ConnieConnector`]'s `Service::call`: resolves to a connected
/// [`ConnieStream`].
#[must_use = "futures do nothing unless polled"]
pub struct Connecting<C = TcpStream> {
    inner: Pin<Box<dyn Future<Output = Result<ConnieStream<C>, ConnectError>> + Send>>,
}

impl<C> Future for Connecting<C> {
    type Output = Result<ConnieStream<C>, ConnectError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<C> std::fmt::Debug for Connecting<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connecting").finish_non_exhaustive()
    }
}

/// A connection made by [`ConnieConnector`] for hyper: the dialer's connection (a
/// [`TcpStream`] by default) plus the [`ConnectInfo`] of the race that made it.
///
/// It implements hyper's `Read` and `Write` and hyper-util's `Connection`, which puts the
/// connection's own extras (hyper-util's `HttpInfo` for TCP) and the [`ConnectInfo`] into
/// every response's extensions.
#[derive(Debug)]
pub struct ConnieStream<C = TcpStream> {
    io: TokioIo<C>,
    info: ConnectInfo,
}

impl<C> ConnieStream<C> {
    /// How the race that made this connection went.
    pub fn info(&self) -> &ConnectInfo {
        &self.info
    }

    /// The connection.
    pub fn get_ref(&self) -> &C {
        self.io.inner()
    }

    /// Takes the connection out.
    pub fn into_inner(self) -> C {
        self.io.into_inner()
    }
}

impl<C: Connection> Connection for ConnieStream<C> {
    fn connected(&self) -> Connected {
        self.io.inner().connected().extra(self.info.clone())
    }
}

impl<C: AsyncRead + Unpin> Read for ConnieStream<C> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<C: AsyncWrite + Unpin> Write for ConnieStream<C> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync_unpin<T: Send + Sync + Unpin + 'static>() {}
    fn send_unpin<T: Send + Unpin + 'static>() {}

    #[test]
    fn connector_future_and_stream_are_send_and_unpin() {
        send_sync_unpin::<ConnieConnector>();
        send_unpin::<Connecting>();
        send_sync_unpin::<ConnieStream>();
        // hyper-util's legacy Client needs the error boxed as `Send + Sync`.
        let _: Box<dyn std::error::Error + Send + Sync> = ConnectError::invalid_target("x").into();
    }

    fn target(uri: &str) -> Result<String, ConnectError> {
        uri_target(&uri.parse().unwrap(), false).map(|t| t.to_string())
    }

    /// The host is `Uri::host`'s, and the port the one after the host's `:`, if any.
    #[test]
    fn host_and_port_read_as_http_does() {
        let uris = [
            ("http://example.com/", "example.com", None),
            ("http://example.com:8080/", "example.com", Some("8080")),
            ("http://example.com:/", "example.com", None),
            ("http://a.example.:99999/", "a.example.", Some("99999")),
            ("http://[::1]/", "[::1]", None),
            ("http://[::1]:80/", "[::1]", Some("80")),
            ("http://[fe80::1%252]:80/", "[fe80::1%252]", Some("80")),
            ("http://user@host/", "host", None),
            ("http://user:pass@host/", "host", None),
            ("http://user:pass@host:81/", "host", Some("81")),
            ("http://us@er:pa@ss@[::1]:82/", "[::1]", Some("82")),
            ("http://user@:80/", "", Some("80")),
            ("http://:80/", "", Some("80")),
            ("http://127.0.0.1:1/", "127.0.0.1", Some("1")),
        ];
        for (uri, host, port) in uris {
            let parsed: Uri = uri.parse().unwrap();
            let authority = parsed.authority().unwrap().as_str();
            assert_eq!(host_and_port(authority), (host, port), "{uri}");
            assert_eq!(parsed.host(), Some(host), "{uri}");
        }
    }

    /// Through `Service::call`, a `ConnieStream` reads, writes (vectored too) and shuts
    /// down its socket, and hands hyper-util both `HttpInfo` and the `ConnectInfo`.
    #[tokio::test]
    async fn a_connie_stream_is_its_socket_for_hyper() {
        use std::io::IoSlice;

        use hyper_util::client::legacy::connect::HttpInfo;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tower_service::Service;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The bound turns a race that never dials (an engine bug) into a failure, not a
        // hang; a loopback connect needs a millisecond.
        let mut connector =
            ConnieConnector::new().total_timeout(Some(std::time::Duration::from_secs(5)));
        std::future::poll_fn(|cx| connector.poll_ready(cx))
            .await
            .unwrap();
        let connecting = connector.call(format!("http://{addr}/").parse().unwrap());
        assert_eq!(format!("{connecting:?}"), "Connecting { .. }");
        let stream = connecting.await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        assert_eq!(stream.info().remote_addr(), addr);
        assert_eq!(stream.get_ref().peer_addr().unwrap(), addr);

        let mut extensions = http::Extensions::new();
        stream.connected().get_extras(&mut extensions);
        let info = extensions.get::<ConnectInfo>().expect("ConnectInfo");
        assert_eq!(info.remote_addr(), addr);
        let http_info = extensions.get::<HttpInfo>().expect("HttpInfo");
        assert_eq!(http_info.remote_addr(), addr);

        // hyper's traits, driven through tokio's with hyper-util's adapter.
        let mut io = TokioIo::new(stream);
        server.write_all(b"pong").await.unwrap();
        let mut got = [0_u8; 4];
        io.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"pong");

        io.write_all(b"ping").await.unwrap();
        assert!(Write::is_write_vectored(io.inner()));
        let sent = io
            .write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"cd")])
            .await
            .unwrap();
        assert!(sent > 0);
        io.flush().await.unwrap();
        io.shutdown().await.unwrap();
        // Shut down for writing: the kernel refuses another byte.
        assert!(io.inner().get_ref().try_write(b"x").is_err());

        let mut received = Vec::new();
        server.read_to_end(&mut received).await.unwrap();
        assert_eq!(received, [&b"ping"[..], &b"abcd"[..sent]].concat());
        assert_eq!(io.into_inner().into_inner().peer_addr().unwrap(), addr);
    }

    #[test]
    fn a_uri_is_a_target() {
        let uri: Uri = "wss://[::1]/socket".parse().unwrap();
        assert_eq!((&uri).into_target().unwrap().to_string(), "[::1]:443");
        assert_eq!(uri.into_target().unwrap().to_string(), "[::1]:443");
        let no_host: Uri = "/path".parse().unwrap();
        assert!(no_host.into_target().unwrap_err().is_invalid_target());
    }

    #[test]
    fn enforce_http_takes_only_http() {
        let check = |uri: &str| uri_target(&uri.parse().unwrap(), true).map(|t| t.to_string());
        assert_eq!(check("http://example.com/").unwrap(), "example.com:80");
        assert_eq!(check("HTTP://example.com:8/").unwrap(), "example.com:8");
        for refused in [
            "https://example.com/",
            "HTTPS://example.com/",
            "wss://example.com/",
            "ws://example.com/",
            "foo://example.com:7/",
            "example.com:9",
            "/just/a/path",
        ] {
            let e = check(refused).unwrap_err();
            assert!(e.is_invalid_target(), "{refused}: {e:?}");
        }
        let e = check("https://example.com/").unwrap_err().to_string();
        assert!(e.contains("enforce_http"), "{e}");
    }

    #[test]
    fn https_only_takes_only_https_and_wss() {
        let check = |uri: &str| https_only(&uri.parse().unwrap());
        for taken in [
            "https://example.com/",
            "HTTPS://example.com/",
            "wss://x.example/",
        ] {
            check(taken).unwrap();
        }
        for refused in [
            "http://example.com/",
            "ws://example.com/",
            "example.com:443",
        ] {
            let e = check(refused).unwrap_err();
            assert!(e.is_invalid_target(), "{refused}: {e:?}");
            assert!(e.to_string().contains("https_only"), "{e}");
        }
    }

    #[test]
    fn ports_and_schemes() {
        assert_eq!(target("http://example.com/").unwrap(), "example.com:80");
        assert_eq!(target("https://example.com/x").unwrap(), "example.com:443");
        assert_eq!(target("HTTPS://example.com").unwrap(), "example.com:443");
        assert_eq!(target("wss://example.com").unwrap(), "example.com:443");
        assert_eq!(
            target("http://example.com:8080").unwrap(),
            "example.com:8080"
        );
        assert_eq!(target("https://example.com:80").unwrap(), "example.com:80");
        assert_eq!(target("foo://example.com:7").unwrap(), "example.com:7");
        assert_eq!(target("example.com:9").unwrap(), "example.com:9");
        // An empty port is the scheme's, as browsers take it.
        assert_eq!(target("http://example.com:/").unwrap(), "example.com:80");
        assert_eq!(
            target("http://user:pw@example.com:8080/").unwrap(),
            "example.com:8080"
        );
    }

    #[test]
    fn literals_and_userinfo() {
        assert_eq!(target("http://[::1]:8080/").unwrap(), "[::1]:8080");
        assert_eq!(target("http://[::1]/").unwrap(), "[::1]:80");
        assert_eq!(target("http://127.0.0.1/").unwrap(), "127.0.0.1:80");
        assert_eq!(
            target("http://user:pw@example.com/").unwrap(),
            "example.com:80"
        );
    }

    #[test]
    fn bad_uris_are_typed_errors() {
        let long = format!("http://{}.com/", "a".repeat(300));
        for bad in [
            "/just/a/path",
            "ftp://example.com/",
            "*",
            long.as_str(),
            // A sign is no part of a port: not 80, and not "no port, so 80".
            "http://example.com:+80/",
            "http://example.com:-80/",
            "http://example.com:99999/",
            // The host rules of `Target::host`.
            "http://127.1/",
            "http://2130706433/",
            "http://*.example/",
            "http://./",
        ] {
            let e = target(bad).unwrap_err();
            assert!(e.is_invalid_target(), "{bad}: {e:?}");
        }
        let e = target("http://example.com:+80/").unwrap_err().to_string();
        assert!(e.contains("invalid port"), "{e}");
    }

    /// A URI in an error is its scheme, host and port: never its user info, path or
    /// query, which may hold a password or a token.
    #[test]
    fn a_bad_uri_shows_its_scheme_host_and_port_only() {
        let shown = |uri: &str, enforce_http| {
            let e = uri_target(&uri.parse().unwrap(), enforce_http).unwrap_err();
            let shown = format!("{e} {e:?}");
            for secret in ["s3cret", "alice", "private", "token"] {
                assert!(!shown.contains(secret), "{uri} gave {shown}");
            }
            e.to_string()
        };
        assert_eq!(
            shown(
                "http://alice:s3cret@example.com:99999/private?token=abc",
                false
            ),
            "invalid connect target: URI \"http://example.com:99999\" has an invalid port \
             (expected 1 to 65535, in ASCII digits)"
        );
        assert_eq!(
            shown("alice:s3cret@example.com:80", true),
            "invalid connect target: URI \"example.com:80\" has no scheme (enforce_http is on)"
        );
        assert_eq!(
            shown("/private?token=abc", false),
            "invalid connect target: URI \"\" has no host"
        );
        assert_eq!(
            shown("alice:s3cret@example.com:0", false),
            "invalid connect target: port 0 (expected 1 to 65535)"
        );
        shown("https://alice:s3cret@example.com/private?token=abc", true);
        shown("foo://alice:s3cret@example.com/private?token=abc", false);
        let e = https_only(
            &"http://alice:s3cret@example.com/private?token=abc"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            e.unwrap_err().to_string(),
            "invalid connect target: refusing a \"http\" URI: https_only is on"
        );
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Every URI that `http` accepts maps to a target or a typed error, never a panic.
        #[test]
        fn any_uri_maps_or_errs(s in "([a-z]{1,6}://)?[a-z0-9:\\[\\]./@%_-]{0,300}(/[a-z?=&]{0,20})?") {
            if let Ok(uri) = s.parse::<Uri>() {
                for enforce_http in [true, false] {
                    if let Err(e) = uri_target(&uri, enforce_http) {
                        prop_assert!(e.is_invalid_target());
                    }
                }
            }
        }
    }
}

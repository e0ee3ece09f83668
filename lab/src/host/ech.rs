//! [`EchHost`]: a TLS listener that accepts Encrypted Client Hello, and records the server
//! name of every hello.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rustls::{ServerConfig, ServerConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::bound_socket;
use super::counts::Counts;
use super::listener::Listener;
use crate::ech::{front, EchKey};

/// Counters of an [`EchHost`].
#[derive(Debug, Clone, Copy, Default)]
struct EchCounts {
    accepted: usize,
    hellos: usize,
    ech_accepted: usize,
    handshakes: usize,
    failed_handshakes: usize,
}

/// A TLS 1.3 listener that accepts Encrypted Client Hello (RFC 9849) with its
/// [`EchKey`], completes the handshake, then reads and discards until EOF, as a
/// [`TlsHost`](crate::TlsHost) does.
///
/// A hello that offers ECH with the key's configuration is opened, and the server
/// handshakes on the inner hello (its server name, its ALPN protocols), proving to the
/// client that it accepted. Any other hello (no ECH, another key) gets a plain handshake
/// on the hello as it came: to a client that offered ECH, that is a rejection without
/// retry configurations, which it can authenticate if `server_config`'s certificate
/// covers the configuration's public name. rustls has no server side for ECH; the host
/// runs a small front before a stock rustls server (see the crate's `ech.rs`), tested
/// against rustls's client only.
///
/// It records the server name of every hello it received (the inner hello's when it
/// accepted ECH, the outer's otherwise), so a test can see which name went in the clear.
///
/// ```no_run
/// # async fn doc() -> std::io::Result<()> {
/// use connie_lab::{DnsServerBuilder, EchHost, EchKey, Https, TlsIdentity, LAB_ALPN};
///
/// let identity = TlsIdentity::new()?;
/// let key = EchKey::new(1, "ech.lab.test")?;
/// let list = key.config_list();
/// let host = EchHost::bind("127.0.0.1:0".parse().unwrap(), identity.server_config(&LAB_ALPN), key).await?;
/// let dns = DnsServerBuilder::default()
///     .host("www", [host.addr().ip()])
///     .https("www", Https::service(1, ".").port(host.addr().port()).ech(list))
///     .start()
///     .await?;
/// # drop(dns); Ok(()) }
/// ```
pub struct EchHost {
    listener: Listener,
    counts: Counts<EchCounts>,
    names: Arc<Mutex<Vec<String>>>,
}

impl EchHost {
    /// Binds a listener on the loopback address `addr` (port 0 picks a free port) and
    /// starts accepting, with `server_config`'s certificates and ALPN protocols, and
    /// `key` to open the hellos that offer ECH.
    pub async fn bind(
        addr: SocketAddr,
        server_config: Arc<ServerConfig>,
        key: EchKey,
    ) -> io::Result<EchHost> {
        let counts = Counts::new();
        let names = Arc::new(Mutex::new(Vec::new()));
        let (served, seen, key) = (counts.clone(), Arc::clone(&names), Arc::new(key));
        let listener = Listener::spawn(bound_socket(addr, true)?, "ech", move |stream, peer| {
            served.update(|c: &mut EchCounts| c.accepted += 1);
            let (counts, names) = (served.clone(), Arc::clone(&seen));
            let (config, key) = (Arc::clone(&server_config), Arc::clone(&key));
            async move {
                match serve(stream, &config, &key, &counts, &names).await {
                    Ok(()) => tracing::trace!(%peer, "ECH host saw the peer close"),
                    Err(error) => {
                        tracing::trace!(%peer, %error, "ECH host: handshake failed");
                        counts.update(|c| c.failed_handshakes += 1);
                    }
                }
            }
        })?;
        Ok(EchHost {
            listener,
            counts,
            names,
        })
    }

    /// The address the host listens on.
    pub fn addr(&self) -> SocketAddr {
        self.listener.addr()
    }

    /// How many connections have been accepted so far.
    pub fn accepted(&self) -> usize {
        self.counts.get().accepted
    }

    /// How many ClientHellos have arrived so far (a connection closed before its first
    /// TLS record has none).
    pub fn hellos(&self) -> usize {
        self.counts.get().hellos
    }

    /// How many hellos offered ECH with the host's key and were accepted.
    pub fn ech_accepted(&self) -> usize {
        self.counts.get().ech_accepted
    }

    /// How many TLS handshakes have completed so far, with ECH or without.
    pub fn handshakes(&self) -> usize {
        self.counts.get().handshakes
    }

    /// How many connections have failed before their handshake completed: the client
    /// aborted it (a rejected ECH offer ends with the client's `ech_required` alert),
    /// closed the connection first, or sent no hello.
    pub fn failed_handshakes(&self) -> usize {
        self.counts.get().failed_handshakes
    }

    /// The server name of each hello, in the order they arrived: the inner hello's when
    /// ECH was accepted, else the hello's own (empty if it had none).
    pub fn server_names(&self) -> Vec<String> {
        self.names.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until the connections accepted have all ended their handshake, and there
    /// are at least `n` of them; returns at once if that is so already.
    pub async fn wait_done(&self, n: usize) {
        self.counts
            .wait_for(|c| c.accepted >= n && c.handshakes + c.failed_handshakes >= c.accepted)
            .await;
    }
}

impl fmt::Debug for EchHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts = self.counts.get();
        f.debug_struct("EchHost")
            .field("addr", &self.addr())
            .field("accepted", &counts.accepted)
            .field("ech_accepted", &counts.ech_accepted)
            .field("handshakes", &counts.handshakes)
            .field("failed_handshakes", &counts.failed_handshakes)
            .finish()
    }
}

/// One connection: its first record through the front, the handshake, then reads until
/// EOF.
async fn serve(
    mut tcp: TcpStream,
    config: &ServerConfig,
    key: &EchKey,
    counts: &Counts<EchCounts>,
    names: &Mutex<Vec<String>>,
) -> io::Result<()> {
    let mut record = vec![0; 5];
    tcp.read_exact(&mut record).await?;
    let len = usize::from(u16::from_be_bytes([record[3], record[4]]));
    record.resize(5 + len, 0);
    tcp.read_exact(&mut record[5..]).await?;
    counts.update(|c| c.hellos += 1);
    let front = front(&record, config, key);
    let name = front
        .as_ref()
        .ok()
        .and_then(|f| f.conn.server_name())
        .unwrap_or_default()
        .to_owned();
    names.lock().unwrap_or_else(|e| e.into_inner()).push(name);
    let front = front?;
    let mut conn = front.conn;
    handshake(&mut conn, &mut tcp).await?;
    counts.update(|c| {
        c.handshakes += 1;
        c.ech_accepted += usize::from(front.accepted);
    });
    let mut buf = [0; 4096];
    while tcp.read(&mut buf).await? > 0 {}
    Ok(())
}

/// Runs `conn`'s handshake over `tcp` to its end, and sends what follows it (tickets).
/// A failure sends the server's alert, if it has one, before the error.
async fn handshake(conn: &mut ServerConnection, tcp: &mut TcpStream) -> io::Result<()> {
    let mut buf = vec![0; 16 * 1024];
    loop {
        let processed = conn.process_new_packets().map(drop);
        let mut out = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut out)?;
        }
        tcp.write_all(&out).await?;
        processed.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        if !conn.is_handshaking() {
            return Ok(());
        }
        let n = tcp.read(&mut buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let mut data = &buf[..n];
        while !data.is_empty() {
            conn.read_tls(&mut data)?;
            if !data.is_empty() {
                conn.process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rustls::client::{EchConfig, EchStatus};
    use rustls::crypto::aws_lc_rs::hpke::ALL_SUPPORTED_SUITES;
    use rustls::pki_types::EchConfigListBytes;
    use rustls::{ClientConfig, PeerIncompatible};

    use super::*;
    use crate::testing::{any_port, connect_tls, rustls_error, v4, within};
    use crate::{TlsIdentity, LAB_ALPN};

    fn ech_client(identity: &TlsIdentity, list: Vec<u8>) -> ClientConfig {
        let ech = EchConfig::new(EchConfigListBytes::from(list), ALL_SUPPORTED_SUITES).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_ech(ech.into())
            .unwrap()
            .with_root_certificates(identity.root_store())
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        config
    }

    /// A hello offering the host's key is accepted (the client says so, the host saw
    /// the inner name); one offering another key, and one without ECH, get a plain
    /// handshake on the outer hello: a rejection without retry configurations for the
    /// first, a handshake for the second.
    #[tokio::test]
    async fn accepts_its_key_and_handshakes_plainly_otherwise() {
        let identity = TlsIdentity::new().unwrap();
        let key = EchKey::new(1, "ech.lab.test").unwrap();
        let list = key.config_list();
        let host = EchHost::bind(any_port(v4(15)), identity.server_config(&LAB_ALPN), key)
            .await
            .unwrap();

        let tls = connect_tls(host.addr(), "www.lab.test", ech_client(&identity, list))
            .await
            .unwrap();
        assert_eq!(tls.get_ref().1.ech_status(), EchStatus::Accepted);
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        drop(tls);
        within("one done", host.wait_done(1)).await;
        assert_eq!((host.ech_accepted(), host.handshakes()), (1, 1));

        let other = EchKey::new(1, "ech.lab.test").unwrap().config_list();
        let error = connect_tls(host.addr(), "www.lab.test", ech_client(&identity, other))
            .await
            .unwrap_err();
        assert_eq!(
            rustls_error(&error),
            Some(&rustls::Error::PeerIncompatible(
                PeerIncompatible::ServerRejectedEncryptedClientHello(None)
            )),
            "{error:?}"
        );
        let plain = identity.client_config(&[]);
        connect_tls(host.addr(), "lab.test", plain).await.unwrap();
        within("three done", host.wait_done(3)).await;
        assert_eq!(
            host.server_names(),
            ["www.lab.test", "ech.lab.test", "lab.test"]
        );
        assert_eq!(
            (host.hellos(), host.ech_accepted(), host.handshakes()),
            (3, 1, 2)
        );
        assert_eq!(host.failed_handshakes(), 1);
        assert!(format!("{host:?}").contains("ech_accepted: 1"));
    }
}

//! Encrypted Client Hello (feature `ech`): the user's config factory, the configurations
//! it made, and the handshake of an attempt to an endpoint whose HTTPS record carries an
//! `ECHConfigList`, with its one retry (RFC 9849 §6.1.6).

use std::error::Error;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::{EchConfig, EchStatus};
use rustls::crypto::aws_lc_rs::hpke::ALL_SUPPORTED_SUITES;
use rustls::pki_types::{EchConfigListBytes, ServerName};
use rustls::{ClientConfig, PeerIncompatible};
use socket2::SockRef;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tracing::trace;

use super::RustlsDialer;
use crate::dns::{Ech, ServiceEndpoint};
use crate::{ConnieConnector, Destination, Dial};

impl ConnieConnector<RustlsDialer> {
    /// Offers Encrypted Client Hello (RFC 9849) to the endpoints of HTTPS records that
    /// carry an ECH configuration (their `ech`, RFC 9848), so that the server name goes
    /// encrypted, readable only by the server.
    ///
    /// rustls cannot give ECH to a finished `ClientConfig`, so `factory` makes one: it gets
    /// the configuration connie picked from the record's `ECHConfigList` (the first whose
    /// key and cipher suite rustls's aws-lc-rs HPKE implements) and returns a
    /// `ClientConfig` built with `.with_ech(ech.into())` (TLS 1.3 only), with the roots and
    /// ALPN protocols of the [`rustls`](ConnieConnector::rustls) configuration. It is asked
    /// once per list, and what it made is kept (for the 16 lists last seen). An attempt to
    /// an endpoint without ECH uses the `rustls` configuration.
    ///
    /// - **Fail closed:** if the factory's configuration does not offer ECH, the attempt
    ///   fails (`InvalidInput`) after its TCP connect and before any byte of TLS; so does
    ///   one whose factory fails, before its SYN.
    /// - **No name in the clear before the records:** the race dials none of the name's
    ///   addresses until its HTTPS records have answered, failed, or been given up as late
    ///   (see [`https_records`](ConnieConnector::https_records)), and when every endpoint
    ///   has ECH the name's own `A` and `AAAA` addresses are not dialed at all.
    /// - An endpoint whose `ECHConfigList` connie cannot use is skipped; so are the
    ///   endpoints without ECH when one has it, unless [`ech_only`](Self::ech_only) is
    ///   off.
    /// - **Rejection** (RFC 9849 §6.1.6), each within the one attempt: a server that
    ///   rejects ECH and sends retry configurations gets one more handshake, on a new
    ///   connection to the same address, offering them (they are not kept for other
    ///   connections); a second rejection fails the attempt. A server that rejects it
    ///   without them, after proving it holds the certificate of the configuration's public
    ///   name, has turned ECH off: one more handshake, on a new connection, without ECH.
    ///   Any other failure (a certificate not valid for the public name, a TLS 1.2
    ///   server) fails the attempt.
    ///
    /// [`ConnectInfo::ech`](crate::ConnectInfo::ech) tells what became of it. Takes
    /// effect for races that ask for HTTPS records: by default `https` and `wss` URIs
    /// through the `Service<Uri>`, or every race with `https_records(true)`.
    ///
    /// ```no_run
    /// # async fn doc(roots: rustls::RootCertStore) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use connie::ConnieConnector;
    /// use rustls::ClientConfig;
    ///
    /// let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    /// let plain = ClientConfig::builder_with_provider(provider.clone())
    ///     .with_safe_default_protocol_versions()?
    ///     .with_root_certificates(roots.clone())
    ///     .with_no_client_auth();
    /// let connector = ConnieConnector::new()
    ///     .rustls(plain)
    ///     .https_records(true)
    ///     .ech(move |ech| {
    ///         Ok(ClientConfig::builder_with_provider(provider.clone())
    ///             .with_ech(ech.into())?
    ///             .with_root_certificates(roots.clone())
    ///             .with_no_client_auth())
    ///     });
    /// let (_stream, info) = connector.connect("example.com:443").await?;
    /// println!("ECH: {:?}", info.ech());
    /// # Ok(()) }
    /// ```
    ///
    /// Default is no ECH.
    #[cfg_attr(docsrs, doc(cfg(feature = "ech")))]
    pub fn ech<F>(self, factory: F) -> Self
    where
        F: Fn(EchConfig) -> Result<ClientConfig, rustls::Error> + Send + Sync + 'static,
    {
        let dialer = self.dialer();
        let made = super::Made {
            ech: Some(EchConfigs::new(Box::new(factory))),
            ..super::Made::default()
        };
        let dialer = RustlsDialer {
            made: Arc::new(made),
            ..dialer.clone()
        };
        let mut this = self.with_dialer(dialer);
        this.config_mut().https.ech = true;
        this
    }

    /// Whether, with [`ech`](Self::ech), a name's endpoints without ECH are skipped when
    /// one of its HTTPS records carries ECH: a record set that mixes them lets whoever
    /// can drop the ECH records downgrade the connection (RFC 9848 §8). Off, every endpoint
    /// is used in its order, those without ECH without it, and the name's own addresses
    /// are dialed unless every endpoint has ECH.
    ///
    /// Default is on.
    #[cfg_attr(docsrs, doc(cfg(feature = "ech")))]
    pub fn ech_only(mut self, on: bool) -> Self {
        self.config_mut().https.ech_mixed = !on;
        self
    }
}

/// The user's factory: an ECH configuration in, the `ClientConfig` that offers it out.
pub(super) type Factory = dyn Fn(EchConfig) -> Result<ClientConfig, rustls::Error> + Send + Sync;

/// How many `ECHConfigList`s a dialer keeps the factory's configuration for, the most
/// recently made kept: a name has one list at a time, and a dialer reaches few names.
const MADE_MAX: usize = 16;

/// The factory, and what it made for each `ECHConfigList` that came in DNS answers (never
/// for retry configurations, which are for one connection only).
pub(super) struct EchConfigs {
    factory: Box<Factory>,
    made: Mutex<Kept>,
}

/// Each list, with the configuration the factory made for it; the most recent last.
type Kept = Vec<(Arc<[u8]>, Arc<ClientConfig>)>;

impl EchConfigs {
    pub(super) fn new(factory: Box<Factory>) -> EchConfigs {
        EchConfigs {
            factory,
            made: Mutex::default(),
        }
    }

    /// The configuration that offers `list`, made by the factory or kept from before.
    fn config_for(&self, list: &Arc<[u8]>) -> io::Result<Arc<ClientConfig>> {
        let mut made = self.made.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, config)) = made.iter().find(|(l, _)| l == list) {
            return Ok(Arc::clone(config));
        }
        let config = self.make(list)?;
        if made.len() == MADE_MAX {
            made.remove(0);
        }
        made.push((Arc::clone(list), Arc::clone(&config)));
        Ok(config)
    }

    /// What the factory makes of `list`.
    fn make(&self, list: &[u8]) -> io::Result<Arc<ClientConfig>> {
        let ech = EchConfig::new(EchConfigListBytes::from(list), ALL_SUPPORTED_SUITES)
            .map_err(|e| EchError::new("no usable ECH configuration", Some(e)))?;
        let config = (self.factory)(ech)
            .map_err(|e| EchError::new("the ECH config factory failed", Some(e)))?;
        Ok(Arc::new(config))
    }
}

impl fmt::Debug for EchConfigs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let made = self.made.lock().map_or(0, |m| m.len());
        f.debug_struct("EchConfigs")
            .field("made", &made)
            .finish_non_exhaustive()
    }
}

/// Whether a client can offer ECH with `list`: it parses, and holds a configuration whose
/// version, key and cipher suite rustls supports.
pub(crate) fn usable(list: &[u8]) -> bool {
    EchConfig::new(EchConfigListBytes::from(list), ALL_SUPPORTED_SUITES).is_ok()
}

/// An attempt's ECH: the configuration offering its endpoint's list.
pub(super) struct Offer {
    config: Arc<ClientConfig>,
    /// The protocols to offer: the configuration's that the endpoint speaks.
    alpn: Vec<Vec<u8>>,
}

/// The ECH offer for an attempt to `endpoint`, if its record carries an `ECHConfigList`
/// and the dialer has a factory.
pub(super) fn offer(
    configs: Option<&EchConfigs>,
    endpoint: Option<&ServiceEndpoint>,
) -> Option<io::Result<Offer>> {
    let (configs, endpoint) = (configs?, endpoint?);
    let list = endpoint.ech.as_ref()?;
    Some(configs.config_for(list).map(|config| {
        Offer {
            alpn: super::alpn_for(&config.alpn_protocols, Some(endpoint))
                .unwrap_or_else(|| config.alpn_protocols.clone()),
            config,
        }
    }))
}

/// The TLS handshake of an attempt offering ECH, on `stream`, its TCP up, and what became
/// of ECH:
///
/// - accepted: the connection;
/// - rejected with retry configurations: one more handshake on a new connection to the
///   same address, offering them (a second rejection, of any kind, fails the attempt);
/// - rejected without (after the server proved it holds the public name's certificate):
///   one more handshake on a new connection, without ECH, with `plain`;
/// - any other failure (the certificate is not valid for the public name, a TLS 1.2
///   server, a reset) fails the attempt.
pub(super) async fn handshake(
    dialer: &RustlsDialer,
    to: &Destination<'_>,
    name: ServerName<'static>,
    stream: TcpStream,
    offer: Offer,
    plain: Arc<ClientConfig>,
) -> io::Result<(TlsStream<TcpStream>, Ech)> {
    let Offer { config, alpn } = offer;
    let error = match offered(&config, alpn.clone(), name.clone(), stream).await {
        Ok(tls) => return Ok((tls, Ech::Accepted { retried: false })),
        Err(error) => error,
    };
    match rejection(&error) {
        Some(Some(retry)) => {
            trace!(addr = %to.addr(), "ECH rejected with retry configurations: retrying with them");
            // Not kept: retry configurations serve this one connection (RFC 9849 §6.1.6).
            let config = configs(dialer)?.make(&retry)?;
            let stream = reconnect(dialer, to).await?;
            let tls = offered(&config, alpn, name, stream).await?;
            Ok((tls, Ech::Accepted { retried: true }))
        }
        Some(None) => {
            trace!(addr = %to.addr(), "ECH rejected without retry configurations: retrying without ECH");
            let stream = reconnect(dialer, to).await?;
            let tls = TlsConnector::from(plain).connect(name, stream).await?;
            Ok((tls, Ech::Disabled))
        }
        None => Err(error),
    }
}

fn configs(dialer: &RustlsDialer) -> io::Result<&EchConfigs> {
    dialer
        .made
        .ech
        .as_ref()
        .ok_or_else(|| EchError::new("no ECH config factory", None).into())
}

/// A handshake with `config`, which must offer ECH: if rustls does not, the handshake
/// future is dropped before its first poll, and nothing is sent.
async fn offered(
    config: &Arc<ClientConfig>,
    alpn: Vec<Vec<u8>>,
    name: ServerName<'static>,
    stream: TcpStream,
) -> io::Result<TlsStream<TcpStream>> {
    let mut status = EchStatus::NotOffered;
    let connector = TlsConnector::from(Arc::clone(config));
    let connect = connector
        .with_alpn(alpn)
        .connect_with(name, stream, |c| status = c.ech_status());
    if status != EchStatus::Offered {
        drop(connect);
        let what = "the ECH config factory returned a ClientConfig that does not offer ECH";
        return Err(EchError::new(what, None).into());
    }
    let tls = connect.await?;
    // rustls ends a rejected handshake with an error; this is its acceptance.
    if tls.get_ref().1.ech_status() != EchStatus::Accepted {
        return Err(EchError::new("the server did not accept ECH", None).into());
    }
    Ok(tls)
}

/// A new TCP connection to the attempt's address, reset if dropped before its handshake
/// is done, as the first one.
async fn reconnect(dialer: &RustlsDialer, to: &Destination<'_>) -> io::Result<TcpStream> {
    let stream = dialer.tcp.dial(to.clone()).await?;
    SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
    Ok(stream)
}

/// The server's answer to a rejected ECH offer, read from the failed handshake's error:
/// `Some(Some(list))` rejected with retry configurations (as an `ECHConfigList`),
/// `Some(None)` rejected without, `None` another failure.
///
/// rustls hands the retry configurations over parsed, in a type of its `internal` module,
/// which is outside its stable API; this function is the crate's one use of it
/// (`retry_configs_are_rustls_wire_format` fails if an upgrade changes the encoding).
fn rejection(error: &io::Error) -> Option<Option<Vec<u8>>> {
    use rustls::internal::msgs::codec::Codec;
    match error.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::PeerIncompatible(PeerIncompatible::ServerRejectedEncryptedClientHello(
            configs,
        )) => Some(configs.as_ref().map(|c| c.get_encoding())),
        _ => None,
    }
}

/// Why an attempt offering ECH failed before or without a TLS error of its own.
#[derive(Debug)]
struct EchError {
    what: &'static str,
    source: Option<rustls::Error>,
}

impl EchError {
    fn new(what: &'static str, source: Option<rustls::Error>) -> EchError {
        EchError { what, source }
    }
}

impl fmt::Display for EchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.what),
            None => f.write_str(self.what),
        }
    }
}

impl Error for EchError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

impl From<EchError> for io::Error {
    fn from(error: EchError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, error)
    }
}

/// A wire-format `ECHConfigList` of one configuration (RFC 9849 §4): version `0xfe0d`,
/// DHKEM(X25519, HKDF-SHA256) with `public_key`, HKDF-SHA256 and AES-128-GCM, no
/// extensions. Encoded by hand, so that tests do not lean on rustls's own codec.
#[cfg(test)]
pub(crate) fn test_list(config_id: u8, public_key: &[u8], public_name: &str) -> Vec<u8> {
    let u16_of = |n: usize| u16::try_from(n).unwrap().to_be_bytes();
    let mut contents = vec![config_id];
    contents.extend_from_slice(&0x0020u16.to_be_bytes());
    contents.extend_from_slice(&u16_of(public_key.len()));
    contents.extend_from_slice(public_key);
    contents.extend_from_slice(&[0, 4, 0, 1, 0, 1]);
    contents.push(0);
    contents.push(u8::try_from(public_name.len()).unwrap());
    contents.extend_from_slice(public_name.as_bytes());
    contents.extend_from_slice(&[0, 0]);
    let mut config = 0xfe0du16.to_be_bytes().to_vec();
    config.extend_from_slice(&u16_of(contents.len()));
    config.extend_from_slice(&contents);
    let mut list = u16_of(config.len()).to_vec();
    list.extend_from_slice(&config);
    list
}

#[cfg(test)]
mod tests {
    use rustls::crypto::aws_lc_rs::hpke::DH_KEM_X25519_HKDF_SHA256_AES_128;
    use rustls::crypto::hpke::Hpke;
    use rustls::internal::msgs::codec::{Codec, Reader};
    use rustls::internal::msgs::handshake::EchConfigPayload;

    use super::*;

    fn list(config_id: u8, public_name: &str) -> Vec<u8> {
        let (public, _) = DH_KEM_X25519_HKDF_SHA256_AES_128
            .generate_key_pair()
            .unwrap();
        test_list(config_id, &public.0, public_name)
    }

    fn rejected(configs: Option<Vec<EchConfigPayload>>) -> io::Error {
        let error = PeerIncompatible::ServerRejectedEncryptedClientHello(configs);
        io::Error::new(io::ErrorKind::InvalidData, rustls::Error::from(error))
    }

    /// The tripwire of the one `rustls::internal` use: rustls's parsed retry
    /// configurations encode back to the very `ECHConfigList` a server sent. A rustls
    /// upgrade that moves the types breaks the build; one that changes the encoding
    /// fails here.
    #[test]
    fn retry_configs_are_rustls_wire_format() {
        let sent = list(7, "ech.lab.test");
        assert_eq!(sent[..6], [0, 63, 0xfe, 0x0d, 0, 59]);
        let parsed = Vec::<EchConfigPayload>::read(&mut Reader::init(&sent)).unwrap();
        assert!(matches!(parsed[..], [EchConfigPayload::V18(_)]));
        assert_eq!(rejection(&rejected(Some(parsed))), Some(Some(sent)));
    }

    /// A rejection without retry configurations, and any other error, read as such.
    #[test]
    fn rejection_reads_the_io_error() {
        assert_eq!(rejection(&rejected(None)), Some(None));
        let other = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let other = io::Error::new(io::ErrorKind::InvalidData, other);
        assert_eq!(rejection(&other), None);
        assert_eq!(rejection(&io::Error::other("reset")), None);
        assert_eq!(rejection(&io::ErrorKind::ConnectionReset.into()), None);
    }

    /// A list rustls can offer is usable; garbage, an unknown KEM, an IP literal as the
    /// public name are not, and none of them panics.
    #[test]
    fn usable_lists() {
        assert!(usable(&list(1, "ech.lab.test")));
        assert!(!usable(&[]));
        assert!(!usable(&[0, 1, 2]));
        let mut unknown_kem = list(1, "ech.lab.test");
        unknown_kem[7..9].copy_from_slice(&0x0099u16.to_be_bytes());
        assert!(!usable(&unknown_kem));
        assert!(!usable(&list(1, "192.0.2.1")));
        let mut truncated = list(1, "ech.lab.test");
        truncated.truncate(20);
        assert!(!usable(&truncated));
    }

    fn factory_configs(calls: Arc<Mutex<usize>>) -> EchConfigs {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        EchConfigs::new(Box::new(move |ech: EchConfig| {
            *calls.lock().unwrap() += 1;
            let mut config = ClientConfig::builder_with_provider(Arc::clone(&provider))
                .with_ech(ech.into())?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            Ok(config)
        }))
    }

    /// The factory is asked once per list, and at most `MADE_MAX` lists are kept, the
    /// oldest dropped first; a list it cannot use is a typed error, not a panic.
    #[test]
    fn the_factory_is_asked_once_per_list() {
        let calls = Arc::new(Mutex::new(0));
        let configs = factory_configs(Arc::clone(&calls));
        let first: Arc<[u8]> = list(1, "ech.lab.test").into();
        let a = configs.config_for(&first).unwrap();
        let b = configs.config_for(&first).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(*calls.lock().unwrap(), 1);
        for id in 2..=u8::try_from(MADE_MAX).unwrap() + 1 {
            configs
                .config_for(&list(id, "ech.lab.test").into())
                .unwrap();
        }
        assert_eq!(configs.made.lock().unwrap().len(), MADE_MAX);
        let again = configs.config_for(&first).unwrap();
        assert!(!Arc::ptr_eq(&a, &again));
        let bad: Arc<[u8]> = vec![1, 2, 3].into();
        let error = configs.config_for(&bad).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(
            error.to_string().starts_with("no usable ECH configuration"),
            "{error}"
        );
        assert!(format!("{configs:?}").starts_with("EchConfigs"));
    }
}

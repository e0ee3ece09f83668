//! [`TlsIdentity`]: a certificate authority and a server certificate made at test time,
//! and the rustls configurations that use them.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};

/// The ALPN protocols the TLS hosts of a [`Lab`](crate::Lab) offer, in their order of
/// preference: HTTP/2, then HTTP/1.1.
pub const LAB_ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The DNS names of the server certificate; its IP addresses are [`ip_names`].
const DNS_NAMES: [&str; 3] = ["lab.test", "*.lab.test", "localhost"];

/// The IP addresses of the server certificate: every `127.0.0.x` and `::1`.
fn ip_names() -> impl Iterator<Item = IpAddr> {
    (0..=u8::MAX)
        .map(|last| IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .chain([IpAddr::V6(Ipv6Addr::LOCALHOST)])
}

/// A certificate authority made at test time, and a server certificate it signed, with
/// rustls client and server configurations (ring provider) that use them.
///
/// The server certificate is valid for `lab.test`, `*.lab.test` (so every name of
/// [`Lab::dns`](crate::Lab::dns)'s zone one label deep, like `www.lab.test`), `localhost`,
/// every address `127.0.0.0` to `127.0.0.255` and `::1`. Other `127.0.0.0/8` addresses are
/// not in it: reach a host there by name. Each identity has its own CA, so a client that
/// trusts one rejects the certificates of every other, which is how a
/// [`HostKind::BadTls`](crate::HostKind::BadTls) host is made.
///
/// The configurations it hands out trust only its CA, not the system's roots, and ask for
/// no client certificate. To run your own server (tonic, hyper over tokio-rustls), use
/// [`server_config`](Self::server_config), or build one from
/// [`cert_chain`](Self::cert_chain) and [`key_der`](Self::key_der).
///
/// # Examples
///
/// ```no_run
/// # async fn doc() -> std::io::Result<()> {
/// use connie_lab::{TlsHost, TlsIdentity, LAB_ALPN};
/// use rustls::pki_types::ServerName;
/// use std::sync::Arc;
///
/// let identity = TlsIdentity::new()?;
/// let host = TlsHost::bind("127.0.0.1:0".parse().unwrap(), identity.server_config(&LAB_ALPN)).await?;
///
/// let connector = tokio_rustls::TlsConnector::from(Arc::new(identity.client_config(&[b"h2"])));
/// let tcp = tokio::net::TcpStream::connect(host.addr()).await?;
/// let name = ServerName::try_from("www.lab.test").unwrap();
/// let tls = connector.connect(name, tcp).await?;
/// assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
/// # Ok(()) }
/// ```
pub struct TlsIdentity {
    ca_cert: CertificateDer<'static>,
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    /// The CA alone.
    roots: RootCertStore,
    /// Trusts the CA; no ALPN.
    client: ClientConfig,
    /// Presents the server certificate; no ALPN.
    server: ServerConfig,
}

impl TlsIdentity {
    /// Makes a CA (an ECDSA P-256 key and a self-signed certificate) and a server
    /// certificate it signs, and checks that rustls accepts them.
    ///
    /// Takes a few milliseconds. Fails (with [`io::ErrorKind::Other`], the rcgen or rustls
    /// error as its source) only if a key cannot be generated or a certificate signed.
    pub fn new() -> io::Result<TlsIdentity> {
        let ca_key = KeyPair::generate().map_err(io::Error::other)?;
        let mut ca_params = CertificateParams::default();
        // A name of its own: a client looks for the issuer by name, and two CAs with one
        // name would fail another identity's certificate with `BadSignature` instead of
        // `UnknownIssuer`.
        let ca_name = format!("connie-lab test CA {}", fingerprint(&ca_key));
        ca_params
            .distinguished_name
            .push(DnType::CommonName, ca_name);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(io::Error::other)?;

        let key = KeyPair::generate().map_err(io::Error::other)?;
        let mut params = CertificateParams::new(DNS_NAMES.map(str::to_owned).to_vec())
            .map_err(io::Error::other)?;
        params
            .subject_alt_names
            .extend(ip_names().map(SanType::IpAddress));
        params
            .distinguished_name
            .push(DnType::CommonName, DNS_NAMES[0]);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &ca).map_err(io::Error::other)?;

        let ca_cert = ca.der().clone();
        let cert = cert.der().clone();
        let key = PrivatePkcs8KeyDer::from(key.serialize_der());

        let mut roots = RootCertStore::empty();
        roots.add(ca_cert.clone()).map_err(io::Error::other)?;
        let client = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        let server = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], PrivateKeyDer::Pkcs8(key.clone_key()))
            .map_err(io::Error::other)?;
        tracing::debug!("TLS identity made");
        Ok(TlsIdentity {
            ca_cert,
            cert,
            key,
            roots,
            client,
            server,
        })
    }

    /// The CA's certificate (DER), the one certificate a client must trust.
    pub fn ca_cert_der(&self) -> &CertificateDer<'static> {
        &self.ca_cert
    }

    /// The server's certificate chain (DER) for a server to present: the server
    /// certificate alone, as the CA is the client's trust anchor.
    pub fn cert_chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.cert.clone()]
    }

    /// The server certificate's private key (PKCS #8 DER).
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }

    /// A root store holding the CA alone.
    pub fn root_store(&self) -> RootCertStore {
        self.roots.clone()
    }

    /// A client configuration (ring provider, TLS 1.3 and 1.2) trusting only the CA and
    /// offering the ALPN protocols `alpn` (none if empty).
    pub fn client_config(&self, alpn: &[&[u8]]) -> ClientConfig {
        let mut config = self.client.clone();
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        config
    }

    /// [`client_config`](Self::client_config) speaking only the TLS `versions` given
    /// (`&[&rustls::version::TLS12]` for a TLS 1.2 client); an error if the provider
    /// supports none of them.
    pub fn client_config_with_versions(
        &self,
        versions: &[&'static SupportedProtocolVersion],
        alpn: &[&[u8]],
    ) -> Result<ClientConfig, rustls::Error> {
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)?
            .with_root_certificates(self.root_store())
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        Ok(config)
    }

    /// A server configuration (ring provider, TLS 1.3 and 1.2) presenting the server
    /// certificate, asking for no client certificate, and choosing among the ALPN
    /// protocols `alpn` (in its own order of preference; none if empty).
    pub fn server_config(&self, alpn: &[&[u8]]) -> Arc<ServerConfig> {
        let mut config = self.server.clone();
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        Arc::new(config)
    }
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("dns_names", &DNS_NAMES)
            .field("ip_names", &"127.0.0.0-255, ::1")
            .finish_non_exhaustive()
    }
}

/// The last 8 bytes of `key`'s public key, in hex: different for every generated key.
fn fingerprint(key: &KeyPair) -> String {
    let public = key.public_key_raw();
    let tail = &public[public.len().saturating_sub(8)..];
    tail.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// rustls's ring provider.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS material of a [`Lab`](crate::Lab) with TLS hosts: the identity its clients
/// trust, and the server configurations of its good and bad TLS hosts.
#[derive(Debug)]
pub(crate) struct LabTls {
    identity: TlsIdentity,
    trusted: Arc<ServerConfig>,
    untrusted: Arc<ServerConfig>,
}

impl LabTls {
    /// A trusted identity, and a throwaway one (its own CA) for the bad hosts, both
    /// offering [`LAB_ALPN`].
    pub(crate) fn new() -> io::Result<LabTls> {
        let identity = TlsIdentity::new()?;
        let trusted = identity.server_config(&LAB_ALPN);
        let untrusted = TlsIdentity::new()?.server_config(&LAB_ALPN);
        Ok(LabTls {
            identity,
            trusted,
            untrusted,
        })
    }

    /// The identity clients trust.
    pub(crate) fn identity(&self) -> &TlsIdentity {
        &self.identity
    }

    /// The server configuration of a good TLS host.
    pub(crate) fn trusted(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.trusted)
    }

    /// The server configuration of a bad TLS host: a certificate for the same names,
    /// signed by a CA nobody trusts.
    pub(crate) fn untrusted(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.untrusted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{any_port, connect_tls, rustls_error, v4, v6};
    use crate::TlsHost;
    use rustls::CertificateError;

    #[test]
    fn identities_have_one_root_each_and_differ() {
        let (one, two) = (TlsIdentity::new().unwrap(), TlsIdentity::new().unwrap());
        assert_eq!(one.root_store().len(), 1);
        assert_ne!(one.ca_cert_der(), two.ca_cert_der());
        assert_ne!(one.cert_chain(), two.cert_chain());
        assert_eq!(one.cert_chain().len(), 1);
        assert_ne!(&one.cert_chain()[0], one.ca_cert_der());
        assert_eq!(
            one.server_config(&LAB_ALPN).alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        assert_eq!(one.client_config(&[b"h2"]).alpn_protocols, [b"h2".to_vec()]);
        assert!(one.client_config(&[]).alpn_protocols.is_empty());
        let debug = format!("{one:?}");
        assert!(
            debug.contains("lab.test") && !debug.contains("key"),
            "{debug}"
        );
    }

    #[tokio::test]
    async fn the_certificate_covers_its_names_and_no_others() {
        let identity = TlsIdentity::new().unwrap();
        let host = TlsHost::bind(any_port(v4(14)), identity.server_config(&[]))
            .await
            .unwrap();
        let good = [
            "lab.test",
            "www.lab.test",
            "localhost",
            "127.0.0.0",
            "127.0.0.1",
            "127.0.0.255",
            "::1",
        ];
        for name in good {
            let config = identity.client_config(&[]);
            let result = connect_tls(host.addr(), name, config).await;
            assert!(result.is_ok(), "{name}: {result:?}");
        }
        for name in ["a.www.lab.test", "lab.example", "127.0.1.1", "::2"] {
            let config = identity.client_config(&[]);
            let error = connect_tls(host.addr(), name, config).await.unwrap_err();
            assert!(
                matches!(
                    rustls_error(&error),
                    Some(rustls::Error::InvalidCertificate(
                        CertificateError::NotValidForNameContext { .. }
                    ))
                ),
                "{name}: {error:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_server_of_its_own_from_the_chain_and_key() {
        let identity = TlsIdentity::new().unwrap();
        let server = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(identity.cert_chain(), identity.key_der())
            .unwrap();
        let host = TlsHost::bind(any_port(v6()), Arc::new(server))
            .await
            .unwrap();
        // A client built by hand from the root store alone.
        let client = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(identity.root_store())
            .with_no_client_auth();
        connect_tls(host.addr(), "::1", client).await.unwrap();
    }
}

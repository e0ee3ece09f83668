//! Encrypted Client Hello (feature `ech`) on real loopback sockets: the ECH configuration
//! comes in an HTTPS record from an in-process hickory-server (`connie_lab::DnsServer`),
//! and `connie_lab::EchHost` accepts ECH with its key, or handshakes plainly on a hello it
//! cannot open (a rejection without retry configurations), recording each hello's
//! server name. The lab's certificate covers `*.lab.test`, so `ech.lab.test` is a public
//! name a rejecting server can authenticate as.
//!
//! rustls has no server that sends retry configurations; those tests use a seam (see
//! [`RetryWith`]) that fails the client's handshake exactly as rustls does on a rejection
//! with them.
//!
//! Paused clock (current-thread runtime): the DNS server's delays are tokio sleeps, so
//! the times asserted are exact.

mod support;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use connie::dns::Ech;
use connie::{ConnectError, ConnectInfo, Connectivity, ConnieConnector, RustlsDialer, Schedule};
use connie_lab::{
    DnsServer, DnsServerBuilder, EchHost, EchKey, Https, RecordType, SilentHost, TlsHost,
    TlsIdentity, LAB_ALPN,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{EchConfig, WebPkiServerVerifier};
use rustls::internal::msgs::codec::{Codec, Reader};
use rustls::internal::msgs::handshake::EchConfigPayload;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, PeerIncompatible, ServerConfig};
use support::{bounded, find, ip, ms};

/// The public name of every ECH configuration here but one.
const PUBLIC: &str = "ech.lab.test";

/// Whether the lab can accept ECH: its `ech` feature brings aws-lc-rs, which connie's
/// dev-dependency leaves out so that a plain build of an example does not compile it.
/// `cargo test --workspace --all-features` turns it on; a test without it says it skipped.
fn lab_has_ech() -> bool {
    match EchKey::new(1, PUBLIC) {
        Ok(_) => true,
        Err(e) if e.kind() == io::ErrorKind::Unsupported => {
            println!("skipped: {e} (run with --workspace --all-features)");
            false
        }
        Err(e) => panic!("no ECH key: {e}"),
    }
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A host that accepts ECH with `key`, on `127.0.10.last`.
async fn ech_host(identity: &TlsIdentity, key: EchKey, last: u8) -> EchHost {
    let addr = SocketAddr::new(ip(&format!("127.0.10.{last}")), 0);
    EchHost::bind(addr, identity.server_config(&LAB_ALPN), key)
        .await
        .unwrap()
}

/// DNS naming `www.lab.test.` at `addr`, with an HTTPS record of the name itself on
/// `addr`'s port carrying `list` as its `ech` (none if `None`).
async fn dns(addr: SocketAddr, list: Option<Vec<u8>>) -> DnsServer {
    dns_with(addr, list, |b| b).await
}

async fn dns_with(
    addr: SocketAddr,
    list: Option<Vec<u8>>,
    more: impl FnOnce(DnsServerBuilder) -> DnsServerBuilder,
) -> DnsServer {
    let record = Https::service(1, ".").port(addr.port());
    let record = match list {
        Some(list) => record.ech(list),
        None => record,
    };
    let builder = DnsServerBuilder::default()
        .host("www", [addr.ip()])
        .https("www", record);
    more(builder).start().await.unwrap()
}

/// A connector doing TLS with the lab's roots, and ECH with configurations from
/// `factory`.
fn connector(
    dns: &DnsServer,
    identity: &TlsIdentity,
    factory: impl Fn(EchConfig) -> Result<ClientConfig, rustls::Error> + Send + Sync + 'static,
) -> ConnieConnector<RustlsDialer> {
    ConnieConnector::new()
        .resolver(dns.resolver())
        .connectivity(Connectivity::Assume)
        .schedule(Schedule::race_all())
        .rustls(identity.client_config(&LAB_ALPN))
        .https_records(true)
        .ech(factory)
}

/// The factory a user writes: the ECH configuration, the lab's roots, its protocols.
fn factory(
    identity: &TlsIdentity,
) -> impl Fn(EchConfig) -> Result<ClientConfig, rustls::Error> + Send + Sync + 'static {
    let roots = identity.root_store();
    move |ech| {
        let mut config = ClientConfig::builder_with_provider(ring())
            .with_ech(ech.into())?
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = LAB_ALPN.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }
}

/// A factory whose verifier rejects ECH with `retry` as retry configurations when asked
/// about the public name, which rustls asks about only once the server ignored the offer
/// (rustls's client `ech.rs`): the error a server sending retry configurations causes,
/// which no rustls server can send.
fn retrying_factory(
    identity: &TlsIdentity,
    retry: Vec<u8>,
) -> impl Fn(EchConfig) -> Result<ClientConfig, rustls::Error> + Send + Sync + 'static {
    let roots = Arc::new(identity.root_store());
    move |ech| {
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::clone(&roots), ring())
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        let retry = Vec::<EchConfigPayload>::read(&mut Reader::init(&retry)).unwrap();
        let verifier = Arc::new(RetryWith { inner, retry });
        Ok(ClientConfig::builder_with_provider(ring())
            .with_ech(ech.into())?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth())
    }
}

/// The seam of [`retrying_factory`].
#[derive(Debug)]
struct RetryWith {
    inner: Arc<WebPkiServerVerifier>,
    retry: Vec<EchConfigPayload>,
}

impl ServerCertVerifier for RetryWith {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_server_cert(end_entity, intermediates, name, ocsp, now)?;
        if name.to_str() == PUBLIC {
            let rejected =
                PeerIncompatible::ServerRejectedEncryptedClientHello(Some(self.retry.clone()));
            return Err(rejected.into());
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A race to `www.lab.test.` on `port`.
async fn connect(
    connector: &ConnieConnector<RustlsDialer>,
    port: u16,
) -> Result<ConnectInfo, ConnectError> {
    let (_stream, info) = connector.connect(("www.lab.test.", port)).await?;
    Ok(info)
}

/// The rustls error of the race's one attempt.
fn rustls_error(error: &ConnectError) -> &rustls::Error {
    assert_eq!(error.attempts().len(), 1, "{error:?}");
    find::<rustls::Error>(error).unwrap_or_else(|| panic!("no rustls error: {error:?}"))
}

/// An endpoint with ECH, a host that accepts it: the client says it was accepted, the
/// host saw only the inner name.
#[tokio::test(start_paused = true)]
async fn accepted() {
    if !lab_has_ech() {
        return;
    }
    bounded(async {
        let identity = TlsIdentity::new().unwrap();
        let key = EchKey::new(1, PUBLIC).unwrap();
        let list = key.config_list();
        let host = ech_host(&identity, key, 1).await;
        let dns = dns(host.addr(), Some(list)).await;
        let connector = connector(&dns, &identity, factory(&identity));
        let info = connect(&connector, host.addr().port()).await.unwrap();
        assert_eq!(info.ech(), Ech::Accepted { retried: false });
        // The endpoint speaks only the default, `http/1.1`: offered alone, with ECH too.
        assert_eq!(info.alpn(), Some(&b"http/1.1"[..]));
        assert!(info.endpoint().is_some_and(|e| e.has_ech()));
        host.wait_done(1).await;
        assert_eq!(host.server_names(), ["www.lab.test"]);
        assert_eq!((host.accepted(), host.ech_accepted()), (1, 1));
        // A second race uses the configuration the factory made, and is accepted too.
        let info = connect(&connector, host.addr().port()).await.unwrap();
        assert_eq!(info.ech(), Ech::Accepted { retried: false });
    })
    .await
}

/// A host that cannot open the offer (DNS has another key) handshakes on the outer
/// hello, which names the public name only; the client authenticates it as that name,
/// takes the rejection without retry configurations as ECH turned off, and reconnects,
/// once, without ECH, in the same attempt.
#[tokio::test(start_paused = true)]
async fn offered_hides_the_name_and_a_plain_rejection_disables_it() {
    if !lab_has_ech() {
        return;
    }
    bounded(async {
        let identity = TlsIdentity::new().unwrap();
        let host = ech_host(&identity, EchKey::new(1, PUBLIC).unwrap(), 2).await;
        let other = EchKey::new(1, PUBLIC).unwrap().config_list();
        let dns = dns(host.addr(), Some(other)).await;
        let connector = connector(&dns, &identity, factory(&identity));
        let info = connect(&connector, host.addr().port()).await.unwrap();
        assert_eq!(info.ech(), Ech::Disabled);
        assert_eq!(info.attempts().len(), 1);
        host.wait_done(2).await;
        assert_eq!(host.server_names(), [PUBLIC, "www.lab.test"]);
        assert_eq!(host.accepted(), 2);
        // The first handshake ended with the client's `ech_required` alert.
        assert_eq!((host.handshakes(), host.failed_handshakes()), (1, 1));
    })
    .await
}

/// Rejected with retry configurations (DNS has a stale key, the host a fresh one): one
/// more connection offering them, accepted.
#[tokio::test(start_paused = true)]
async fn retry_configs_retry_once() {
    if !lab_has_ech() {
        return;
    }
    bounded(async {
        let identity = TlsIdentity::new().unwrap();
        let fresh = EchKey::new(2, PUBLIC).unwrap();
        let retry = fresh.config_list();
        let host = ech_host(&identity, fresh, 3).await;
        let stale = EchKey::new(1, PUBLIC).unwrap().config_list();
        let dns = dns(host.addr(), Some(stale)).await;
        let connector = connector(&dns, &identity, retrying_factory(&identity, retry));
        let info = connect(&connector, host.addr().port()).await.unwrap();
        assert_eq!(info.ech(), Ech::Accepted { retried: true });
        assert_eq!(info.attempts().len(), 1);
        host.wait_done(2).await;
        assert_eq!(host.server_names(), [PUBLIC, "www.lab.test"]);
        assert_eq!((host.ech_accepted(), host.failed_handshakes()), (1, 1));
    })
    .await
}

/// Rejected again on the retry (the retry configurations are stale too): the attempt
/// fails with that rejection, after exactly two connections; the race moves on to the
/// next address.
#[tokio::test(start_paused = true)]
async fn a_second_rejection_fails_the_attempt() {
    if !lab_has_ech() {
        return;
    }
    bounded(async {
        let identity = TlsIdentity::new().unwrap();
        let host = ech_host(&identity, EchKey::new(2, PUBLIC).unwrap(), 4).await;
        let stale = EchKey::new(1, PUBLIC).unwrap().config_list();
        let dns = dns(host.addr(), Some(stale.clone())).await;
        let connector = connector(&dns, &identity, retrying_factory(&identity, stale));
        let error = connect(&connector, host.addr().port()).await.unwrap_err();
        assert!(
            matches!(
                rustls_error(&error),
                rustls::Error::PeerIncompatible(
                    PeerIncompatible::ServerRejectedEncryptedClientHello(Some(_))
                )
            ),
            "{error:?}"
        );
        host.wait_done(2).await;
        assert_eq!(host.accepted(), 2);
        assert_eq!(host.server_names(), [PUBLIC, PUBLIC]);
    })
    .await
}

/// A server whose certificate does not cover the configuration's public name cannot
/// authenticate a rejection: the attempt fails, with no retry of any kind.
#[tokio::test(start_paused = true)]
async fn a_public_name_not_in_the_certificate_fails() {
    if !lab_has_ech() {
        return;
    }
    bounded(async {
        let identity = TlsIdentity::new().unwrap();
        let host = ech_host(&identity, EchKey::new(1, PUBLIC).unwrap(), 5).await;
        let elsewhere = EchKey::new(1, "ech.other.test").unwrap().config_list();
        let dns = dns(host.addr(), Some(elsewhere)).await;
        let connector = connector(&dns, &identity, factory(&identity));
        let error = connect(&connector, host.addr().port()).await.unwrap_err();
        assert!(
            matches!(
                rustls_error(&error),
                rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForNameContext { .. }
                )
            ),
            "{error:?}"
        );
        host.wait_done(1).await;
        assert_eq!(host.server_names(), ["ech.other.test"]);
        assert_eq!(host.accepted(), 1);
    })
    .await
}

/// A TLS 1.2 server refuses the TLS 1.3-only hello: an error, not a rejection, and no
/// retry.
#[tokio::test(start_paused = true)]
async fn a_tls12_server_is_an_error_without_retry() {
    if !lab_has_ech() {
        return;
    }
    bounded(async {
        let identity = TlsIdentity::new().unwrap();
        let tls12 = ServerConfig::builder_with_provider(ring())
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(identity.cert_chain(), identity.key_der())
            .unwrap();
        let host = TlsHost::bind(SocketAddr::new(ip("127.0.10.6"), 0), Arc::new(tls12))
            .await
            .unwrap();
        let list = EchKey::new(1, PUBLIC).unwrap().config_list();
        let dns = dns(host.addr(), Some(list)).await;
        let connector = connector(&dns, &identity, factory(&identity));
        let error = connect(&connector, host.addr().port()).await.unwrap_err();
        assert!(
            matches!(rustls_error(&error), rustls::Error::AlertReceived(_)),
            "{error:?}"
        );
        host.wait_failed_handshakes(1).await;
        assert_eq!(host.accepted(), 1);
    })
    .await
}

/// A factory whose configuration does not offer ECH fails the attempt closed: its TCP
/// connects, and not one byte of TLS leaves.
#[tokio::test(start_paused = true)]
async fn a_factory_without_ech_fails_closed() {
    if !lab_has_ech() {
        return;
    }
    bounded(async {
        let identity = TlsIdentity::new().unwrap();
        let key = EchKey::new(1, PUBLIC).unwrap();
        let list = key.config_list();
        let host = ech_host(&identity, key, 7).await;
        let dns = dns(host.addr(), Some(list)).await;
        let plain = identity.client_config(&LAB_ALPN);
        let connector = connector(&dns, &identity, move |_| Ok(plain.clone()));
        let error = connect(&connector, host.addr().port()).await.unwrap_err();
        let io = find::<io::Error>(&error).expect("the attempt's error");
        assert_eq!(io.kind(), io::ErrorKind::InvalidInput);
        assert!(io.to_string().contains("does not offer ECH"), "{io}");
        host.wait_done(1).await;
        assert_eq!((host.accepted(), host.hellos()), (1, 0));
        assert!(host.server_names().is_empty());
    })
    .await
}

/// Records without ECH: the `rustls` configuration, no ECH, the name in the clear.
#[tokio::test(start_paused = true)]
async fn no_ech_records_no_ech() {
    if !lab_has_ech() {
        return;
    }
    bounded(async {
        let identity = TlsIdentity::new().unwrap();
        let host = ech_host(&identity, EchKey::new(1, PUBLIC).unwrap(), 8).await;
        let dns = dns(host.addr(), None).await;
        let connector = connector(&dns, &identity, factory(&identity));
        let info = connect(&connector, host.addr().port()).await.unwrap();
        assert_eq!(info.ech(), Ech::NotOffered);
        assert!(info.endpoint().is_some_and(|e| !e.has_ech()));
        host.wait_done(1).await;
        assert_eq!(host.server_names(), ["www.lab.test"]);
        assert_eq!(host.ech_accepted(), 0);
    })
    .await
}

/// RFC 9848 §5.3: with ECH, no hello before the HTTPS records answered, or were given
/// up. `A` and `AAAA` answer at 100 ms, the records at 110 ms: the race (which waits for
/// nothing, `race_all`) starts its attempt at 110 ms with ECH, at 100 ms without. Records
/// at 300 ms are given up at 120 ms (a fifth of the 100 ms `A` and `AAAA` took after
/// them), as without ECH, and the race goes on without them.
#[tokio::test(start_paused = true)]
async fn the_hello_waits_for_the_https_answer() {
    if !lab_has_ech() {
        return;
    }
    bounded(async {
        let identity = TlsIdentity::new().unwrap();
        let key = EchKey::new(1, PUBLIC).unwrap();
        let list = key.config_list();
        let host = ech_host(&identity, key, 9).await;
        let port = host.addr().port();
        let late = |https: u64| {
            move |b: DnsServerBuilder| {
                b.delay(RecordType::A, ms(100))
                    .delay(RecordType::AAAA, ms(100))
                    .delay(RecordType::HTTPS, ms(https))
            }
        };
        let dns = dns_with(host.addr(), Some(list.clone()), late(110)).await;
        let ech = connector(&dns, &identity, factory(&identity));
        let info = connect(&ech, port).await.unwrap();
        assert_eq!(info.attempts()[0].started(), ms(110));
        assert_eq!(info.ech(), Ech::Accepted { retried: false });
        let plain = ConnieConnector::new()
            .resolver(dns.resolver())
            .connectivity(Connectivity::Assume)
            .schedule(Schedule::race_all())
            .rustls(identity.client_config(&LAB_ALPN))
            .https_records(true);
        let (_stream, info) = plain.connect(("www.lab.test.", port)).await.unwrap();
        assert_eq!(info.attempts()[0].started(), ms(100));

        let dns = dns_with(host.addr(), Some(list), late(300)).await;
        let ech = connector(&dns, &identity, factory(&identity));
        let info = connect(&ech, port).await.unwrap();
        assert_eq!(info.attempts()[0].started(), ms(120));
        assert_eq!(info.ech(), Ech::NotOffered);
        host.wait_done(3).await;
        assert_eq!(host.server_names(), ["www.lab.test"; 3]);
    })
    .await
}

/// RFC 9848 §5.1: when every endpoint has ECH, the name's own addresses (here a silent
/// host, which `race_all` would dial at once) are not dialed, as they would be reached
/// without ECH.
#[tokio::test(start_paused = true)]
async fn with_ech_everywhere_the_names_own_addresses_are_not_dialed() {
    if !lab_has_ech() {
        return;
    }
    bounded(async {
        let identity = TlsIdentity::new().unwrap();
        let key = EchKey::new(1, PUBLIC).unwrap();
        let list = key.config_list();
        let host = ech_host(&identity, key, 10).await;
        let own = SilentHost::bind(SocketAddr::new(ip("127.0.10.11"), host.addr().port()))
            .await
            .unwrap();
        let port = host.addr().port();
        let dns = DnsServerBuilder::default()
            .host("www", [own.addr().ip()])
            .host("backend", [host.addr().ip()])
            .https("www", Https::service(1, "backend").port(port).ech(list))
            .start()
            .await
            .unwrap();
        let connector = connector(&dns, &identity, factory(&identity));
        let info = connect(&connector, port).await.unwrap();
        assert_eq!(info.ech(), Ech::Accepted { retried: false });
        let dialed: Vec<SocketAddr> = info.attempts().iter().map(|a| a.addr()).collect();
        assert_eq!(dialed, [host.addr()]);
    })
    .await
}

//! [`EchKey`] and the front of an [`EchHost`](crate::EchHost): what a server needs to
//! accept Encrypted Client Hello (RFC 9849, shared mode) in front of a stock rustls
//! server, which has no server side for it.
//!
//! The front reads the first record of a connection (the ClientHelloOuter), opens its
//! `encrypted_client_hello` payload with the key (HPKE), rebuilds the ClientHelloInner,
//! and hands it to a rustls `ServerConnection`. The ServerHello must carry the acceptance
//! confirmation in the last 8 bytes of its random (§7.2), which rustls cannot compute:
//! the server is run twice on the inner hello, with a random source and a key share the
//! front chooses, the first time to get the ServerHello the confirmation is computed
//! over, the second with the confirmation in its random, which yields the same
//! ServerHello otherwise. A hello without ECH, or one the key does not open (another
//! key, a stale configuration), is handed to the server as it came: a plain handshake on
//! the outer hello, which is how a server rejects ECH without retry configurations.

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};

use aws_lc_rs::{agreement, digest, hmac};
use rustls::crypto::aws_lc_rs::hpke::DH_KEM_X25519_HKDF_SHA256_AES_128;
use rustls::crypto::hpke::{EncapsulatedSecret, Hpke, HpkePrivateKey};
use rustls::crypto::{
    ActiveKeyExchange, GetRandomFailed, SecureRandom, SharedSecret, SupportedKxGroup,
};
use rustls::{NamedGroup, ServerConfig, ServerConnection};

/// The extension types the front reads: `server_name`, `encrypted_client_hello`,
/// `ech_outer_extensions`.
const ECH: u16 = 0xfe0d;
const OUTER_EXTENSIONS: u16 = 0xfd00;

/// An ECH key pair of an [`EchHost`](crate::EchHost) (DHKEM(X25519, HKDF-SHA256),
/// HKDF-SHA256, AES-128-GCM), with its configuration's id and public name.
///
/// [`config_list`](Self::config_list) is the `ECHConfigList` to publish, in an HTTPS
/// record's `ech` ([`Https::ech`](crate::Https::ech)). A client that offers it sends
/// `public_name` as the server name of its outer hello: a name the host's certificate
/// must cover for a rejection to be authenticated (the [`TlsIdentity`](crate::TlsIdentity)
/// certificate covers every `*.lab.test`).
///
/// ```
/// use connie_lab::EchKey;
/// let key = EchKey::new(1, "ech.lab.test").unwrap();
/// // u16 length, then version 0xfe0d.
/// assert_eq!(key.config_list()[2..4], [0xfe, 0x0d]);
/// ```
pub struct EchKey {
    /// The `ECHConfig` (the list without its length), the HPKE `info`'s tail.
    config: Vec<u8>,
    config_id: u8,
    private: HpkePrivateKey,
}

impl EchKey {
    /// A fresh key pair, in a configuration of id `config_id` naming `public_name`. An
    /// error (`InvalidInput`) if the name is longer than 255 bytes, `Other` if no key can
    /// be generated.
    pub fn new(config_id: u8, public_name: &str) -> io::Result<EchKey> {
        let name_len = u8::try_from(public_name.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "public name too long"))?;
        let (public, private) = DH_KEM_X25519_HKDF_SHA256_AES_128
            .generate_key_pair()
            .map_err(io::Error::other)?;
        let mut contents = vec![config_id];
        contents.extend_from_slice(&0x0020u16.to_be_bytes()); // DHKEM(X25519, HKDF-SHA256)
        push16(&mut contents, &public.0);
        contents.extend_from_slice(&[0, 4, 0, 1, 0, 1]); // HKDF-SHA256, AES-128-GCM
        contents.push(0); // maximum_name_length
        contents.push(name_len);
        contents.extend_from_slice(public_name.as_bytes());
        contents.extend_from_slice(&[0, 0]); // no extensions
        let mut config = 0xfe0du16.to_be_bytes().to_vec();
        push16(&mut config, &contents);
        Ok(EchKey {
            config,
            config_id,
            private,
        })
    }

    /// The `ECHConfigList` (RFC 9849 §4) holding this key's one configuration.
    pub fn config_list(&self) -> Vec<u8> {
        let mut list = Vec::with_capacity(self.config.len() + 2);
        push16(&mut list, &self.config);
        list
    }
}

impl fmt::Debug for EchKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EchKey")
            .field("config_id", &self.config_id)
            .finish_non_exhaustive()
    }
}

/// What the front makes of a connection's first record.
pub(crate) struct Front {
    /// The server, the first record read.
    pub(crate) conn: ServerConnection,
    /// It accepted ECH: the server handshakes on the inner hello.
    pub(crate) accepted: bool,
}

/// The server for a connection whose first record (header included) is `record`: on the
/// inner hello if `key` opens it, else on `record` as it came (a failure to be reported
/// by the handshake, with its alert).
pub(crate) fn front(record: &[u8], base: &ServerConfig, key: &EchKey) -> io::Result<Front> {
    if let Some(inner) = open(record, key) {
        if let Some(conn) = accept(&inner, base) {
            return Ok(Front {
                conn,
                accepted: true,
            });
        }
    }
    let mut conn = ServerConnection::new(Arc::new(base.clone())).map_err(invalid)?;
    conn.read_tls(&mut &record[..])?;
    // An error stays with the connection, for the handshake to send its alert.
    let _ = conn.process_new_packets();
    Ok(Front {
        conn,
        accepted: false,
    })
}

fn invalid(error: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

/// The ClientHelloInner of `record`, a ClientHelloOuter, as a handshake message, if it
/// offers ECH with `key`'s configuration and the payload opens.
fn open(record: &[u8], key: &EchKey) -> Option<Vec<u8>> {
    let mut r = Reader(record);
    let (content_type, _version, fragment) = (r.u8()?, r.take(2)?, r.v16()?);
    let mut m = Reader(fragment);
    if content_type != 22 || m.u8()? != 1 {
        return None;
    }
    let body_len = usize::from(m.u8()?) << 16 | m.u16()?;
    let body = m.take(body_len)?;
    let hello = Hello::read(body)?;
    let (_, ech, at) = *hello.extensions.iter().find(|e| e.0 == ECH)?;
    let mut e = Reader(ech);
    // Outer (0), HPKE suite, config id, enc, payload.
    if e.u8()? != 0 || e.take(4)? != [0, 1, 0, 1] || e.u8()? != key.config_id {
        return None;
    }
    let enc = e.v16()?;
    let payload_len = e.u16()?;
    let payload_at = at + (ech.len() - e.0.len());
    let payload = e.take(payload_len)?;
    let mut aad = body.to_vec();
    aad.get_mut(payload_at..payload_at + payload_len)?.fill(0);
    let mut info = b"tls ech\0".to_vec();
    info.extend_from_slice(&key.config);
    let suite = DH_KEM_X25519_HKDF_SHA256_AES_128;
    let encoded = suite
        .open(
            &EncapsulatedSecret(enc.to_vec()),
            &info,
            &aad,
            payload,
            &key.private,
        )
        .ok()?;
    inner(&encoded, &hello)
}

/// The ClientHelloInner (a handshake message) from its encoding, its session id and
/// the extensions it took from `outer` put back (§5.1).
fn inner(encoded: &[u8], outer: &Hello<'_>) -> Option<Vec<u8>> {
    let enc = Hello::read(encoded)?;
    if !enc.session_id.is_empty() {
        return None;
    }
    let mut extensions = Vec::new();
    for &(kind, data, _) in &enc.extensions {
        if kind != OUTER_EXTENSIONS {
            extensions.extend_from_slice(&kind.to_be_bytes());
            push16(&mut extensions, data);
            continue;
        }
        let mut types = Reader(Reader(data).v8()?);
        while !types.0.is_empty() {
            let kind = u16::try_from(types.u16()?).ok()?;
            let (_, data, _) = outer.extensions.iter().find(|e| e.0 == kind)?;
            extensions.extend_from_slice(&kind.to_be_bytes());
            push16(&mut extensions, data);
        }
    }
    let mut hello = enc.version_random.to_vec();
    hello.push(u8::try_from(outer.session_id.len()).ok()?);
    hello.extend_from_slice(outer.session_id);
    push16(&mut hello, enc.cipher_suites);
    hello.push(u8::try_from(enc.compression.len()).ok()?);
    hello.extend_from_slice(enc.compression);
    push16(&mut hello, &extensions);
    let len = u32::try_from(hello.len()).ok()?.to_be_bytes();
    let mut message = vec![1, len[1], len[2], len[3]];
    message.extend_from_slice(&hello);
    Some(message)
}

/// A server that accepted ECH, the inner hello `message` read: the second of two runs,
/// the first giving the ServerHello the acceptance confirmation is computed over.
fn accept(message: &[u8], base: &ServerConfig) -> Option<ServerConnection> {
    let records: Vec<u8> = message
        .chunks(16384)
        .flat_map(|chunk| {
            let len = u16::try_from(chunk.len()).unwrap_or(u16::MAX).to_be_bytes();
            [22, 3, 1, len[0], len[1]]
                .into_iter()
                .chain(chunk.iter().copied())
        })
        .collect();
    let inner_random = message.get(6..38)?;
    let key_share = [7u8; 32];
    let mut random = [9u8; 32];
    random[24..].fill(0);
    let mut first = server(base, random, key_share)?;
    first.read_tls(&mut &records[..]).ok()?;
    first.process_new_packets().ok()?;
    let mut out = Vec::new();
    first.write_tls(&mut out).ok()?;
    // The ServerHello: a handshake record whose first message is of type 2.
    let mut r = Reader(&out);
    let (content_type, _, fragment) = (r.u8()?, r.take(2)?, r.v16()?);
    let mut m = Reader(fragment);
    if content_type != 22 || m.u8()? != 2 {
        return None;
    }
    let len = usize::from(m.u8()?) << 16 | m.u16()?;
    let mut server_hello = fragment.get(..4 + len)?.to_vec();
    server_hello.get_mut(30..38)?.fill(0);
    let mut transcript = digest::Context::new(&digest::SHA256);
    transcript.update(message);
    transcript.update(&server_hello);
    let transcript = transcript.finish();
    // HKDF-Expand-Label(HKDF-Extract(0, inner random), "ech accept confirmation", H, 8)
    let secret = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &[0; 32]), inner_random);
    let label = b"tls13 ech accept confirmation";
    let mut hkdf_label = vec![0, 8, u8::try_from(label.len()).ok()?];
    hkdf_label.extend_from_slice(label);
    hkdf_label.push(u8::try_from(transcript.as_ref().len()).ok()?);
    hkdf_label.extend_from_slice(transcript.as_ref());
    hkdf_label.push(1);
    let expanded = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, secret.as_ref()),
        &hkdf_label,
    );
    random[24..].copy_from_slice(expanded.as_ref().get(..8)?);
    let mut conn = server(base, random, key_share)?;
    conn.read_tls(&mut &records[..]).ok()?;
    conn.process_new_packets().ok()?;
    Some(conn)
}

/// A TLS 1.3 server with `base`'s certificates and ALPN protocols, one cipher suite (the
/// confirmation is computed with its hash, SHA-256), whose random starts with `random` and
/// whose X25519 key share is `key_share`: run twice, it says the same thing twice.
fn server(base: &ServerConfig, random: [u8; 32], key_share: [u8; 32]) -> Option<ServerConnection> {
    let mut provider = rustls::crypto::ring::default_provider();
    // Leaked: a provider takes `'static` parts. A test bench's few bytes per connection.
    provider.secure_random = Box::leak(Box::new(FirstRandom(Mutex::new(Some(random)))));
    provider.kx_groups = vec![Box::leak(Box::new(FixedX25519(key_share)))];
    provider.cipher_suites = vec![rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256];
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .ok()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::clone(&base.cert_resolver));
    config.alpn_protocols = base.alpn_protocols.clone();
    ServerConnection::new(Arc::new(config)).ok()
}

/// A random source whose first 32-byte fill (the server random) is given.
#[derive(Debug)]
struct FirstRandom(Mutex<Option<[u8; 32]>>);

impl SecureRandom for FirstRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        if buf.len() == 32 {
            let mut first = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(random) = first.take() {
                buf.copy_from_slice(&random);
                return Ok(());
            }
        }
        rustls::crypto::ring::default_provider()
            .secure_random
            .fill(buf)
    }
}

/// X25519 with a given private key.
#[derive(Debug)]
struct FixedX25519([u8; 32]);

struct Active {
    private: agreement::PrivateKey,
    public: Vec<u8>,
}

impl SupportedKxGroup for FixedX25519 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
        let failed = |e: &dyn fmt::Display| rustls::Error::General(format!("x25519 key: {e}"));
        let private = agreement::PrivateKey::from_private_key(&agreement::X25519, &self.0)
            .map_err(|e| failed(&e))?;
        let public = private.compute_public_key().map_err(|e| failed(&e))?;
        let public = public.as_ref().to_vec();
        Ok(Box::new(Active { private, public }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

impl ActiveKeyExchange for Active {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, rustls::Error> {
        let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, peer);
        let failed = rustls::Error::General("x25519 agreement".into());
        agreement::agree(&self.private, peer, failed, |s| Ok(SharedSecret::from(s)))
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

/// The parts of a ClientHello (its body, after the handshake header) the front uses.
struct Hello<'a> {
    version_random: &'a [u8],
    session_id: &'a [u8],
    cipher_suites: &'a [u8],
    compression: &'a [u8],
    /// Each extension's type, data, and where its data starts in the body.
    extensions: Vec<(u16, &'a [u8], usize)>,
}

impl<'a> Hello<'a> {
    fn read(body: &'a [u8]) -> Option<Hello<'a>> {
        let mut r = Reader(body);
        let version_random = r.take(34)?;
        let session_id = r.v8()?;
        let cipher_suites = r.v16()?;
        let compression = r.v8()?;
        let data = r.v16()?;
        let base = body.len() - r.0.len() - data.len();
        let mut e = Reader(data);
        let mut extensions = Vec::new();
        while !e.0.is_empty() {
            let kind = u16::try_from(e.u16()?).ok()?;
            let len = e.u16()?;
            let at = base + (data.len() - e.0.len());
            extensions.push((kind, e.take(len)?, at));
        }
        Some(Hello {
            version_random,
            session_id,
            cipher_suites,
            compression,
            extensions,
        })
    }
}

/// Reads TLS's big-endian integers and length-prefixed vectors; `None` past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (taken, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(taken)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u16(&mut self) -> Option<usize> {
        let b = self.take(2)?;
        Some(usize::from(b[0]) << 8 | usize::from(b[1]))
    }

    fn v8(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.u8()?);
        self.take(n)
    }

    fn v16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(n)
    }
}

/// Appends `data` with its length as a `u16` (cut at 65535 bytes, longer than any
/// field the front writes).
fn push16(out: &mut Vec<u8>, data: &[u8]) {
    let data = &data[..data.len().min(usize::from(u16::MAX))];
    out.extend_from_slice(&u16::try_from(data.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Garbage, truncated records and hellos without ECH open to nothing, and never
    /// panic.
    #[test]
    fn what_does_not_open() {
        let key = EchKey::new(3, "ech.lab.test").unwrap();
        assert_eq!(key.config_list().len(), 2 + key.config.len());
        assert!(format!("{key:?}").contains("config_id: 3"));
        for record in [&[][..], &[22], &[22, 3, 1, 0, 4, 1, 0, 0, 0], &[23; 64]] {
            assert!(open(record, &key).is_none(), "{record:?}");
            assert!(Hello::read(record).is_none() || record.is_empty());
        }
        assert!(EchKey::new(1, &"a".repeat(256)).is_err());
    }
}

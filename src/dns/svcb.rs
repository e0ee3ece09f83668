//! What a name's HTTPS records (RFC 9460) say about reaching its service over TCP: an
//! alias to follow, or service endpoints, each with its priority, target name, port, ALPN
//! set, address hints and ECH configuration.
//!
//! A pure reading of the records hickory returns: the lookups of aliases and targets, and
//! the race over the endpoints' addresses, are elsewhere.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use hickory_resolver::proto::rr::rdata::svcb::{SvcParamKey, SvcParamValue, SVCB};
use hickory_resolver::proto::rr::Name;

/// The protocol an HTTPS record's endpoint speaks unless it says `no-default-alpn`
/// (RFC 9460 §9.1).
const DEFAULT_ALPN: &[u8] = b"http/1.1";

/// What a name's HTTPS records say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Service {
    /// Nothing to use: no record, none usable, or the set is malformed. The client
    /// connects to the name's own addresses, as without HTTPS records.
    Plain,
    /// AliasMode: the service is that name's (whose own HTTPS records say more).
    Alias(Name),
    /// ServiceMode: the endpoints, in the order to try them.
    Endpoints(Vec<Endpoint>),
}

/// A service endpoint as read, with its target's name to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) service: ServiceEndpoint,
    /// The name whose addresses serve it; `None` for the record's own name (`.`).
    pub(crate) target: Option<Name>,
}

/// One service endpoint of a name's HTTPS records (RFC 9460 ServiceMode): where and how
/// to reach the service, as [`ConnectInfo::endpoint`](crate::ConnectInfo::endpoint)
/// reports the one a race connected through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEndpoint {
    /// Lower first.
    pub(crate) priority: u16,
    /// The name whose addresses serve it, fully qualified; `None` for the record's own
    /// name (`.`).
    pub(crate) target: Option<Box<str>>,
    /// The port to dial; `None` for the authority's (the target's port).
    pub(crate) port: Option<u16>,
    /// The protocols it speaks, in the record's order: its `alpn` and, unless it says
    /// `no-default-alpn`, `http/1.1`.
    pub(crate) alpn: Vec<Vec<u8>>,
    /// Addresses to try before the target's own lookups answer.
    pub(crate) ipv4_hints: Vec<Ipv4Addr>,
    pub(crate) ipv6_hints: Vec<Ipv6Addr>,
    /// Its ECH configuration: a wire-format `ECHConfigList` (RFC 9849).
    pub(crate) ech: Option<Arc<[u8]>>,
    /// Its place among the endpoints of its name, in the order they are tried: a race
    /// tries every address of one before any of the next.
    pub(crate) order: u16,
}

impl ServiceEndpoint {
    /// The record's priority: lower is preferred.
    pub fn priority(&self) -> u16 {
        self.priority
    }

    /// The name whose addresses serve the endpoint, fully qualified; `None` when it is the
    /// record's own name (the target `.`).
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// The port the record names; `None` when it names none (or one that connie ignores:
    /// 0, or a port the Fetch standard blocks), and the target's port is dialed.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The protocols the endpoint speaks (`alpn`, then `http/1.1` unless the record says
    /// `no-default-alpn`), as ALPN identifiers.
    pub fn alpn(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.alpn.iter().map(Vec::as_slice)
    }

    /// Whether the record carries an ECH configuration.
    pub fn has_ech(&self) -> bool {
        self.ech.is_some()
    }
}

/// What became of Encrypted Client Hello (RFC 9849) in a connection, as
/// [`ConnectInfo::ech`](crate::ConnectInfo::ech) reports it (feature `ech`, with
/// [`ConnieConnector::ech`](crate::ConnieConnector::ech)).
///
/// ```no_run
/// # async fn doc(connector: connie::ConnieConnector<connie::RustlsDialer>) -> Result<(), connie::ConnectError> {
/// use connie::dns::Ech;
///
/// let (_stream, info) = connector.connect("example.com:443").await?;
/// match info.ech() {
///     Ech::Accepted { retried } => println!("the name went encrypted (retried: {retried})"),
///     Ech::Disabled => println!("the server turned ECH off: the name went in the clear"),
///     _ => println!("no ECH: the name went in the clear"),
/// }
/// # Ok(()) }
/// ```
#[cfg(feature = "ech")]
#[cfg_attr(docsrs, doc(cfg(feature = "ech")))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Ech {
    /// Not offered: the winning endpoint's HTTPS record had no ECH configuration (or the
    /// address came from no record), or the connection is plain TCP.
    #[default]
    NotOffered,
    /// Offered and accepted: the server name went encrypted, and the server proved it
    /// decrypted it.
    Accepted {
        /// The first offer was rejected with the server's retry configurations, and this
        /// connection is the one retry made with them (RFC 9849 §6.1.6).
        retried: bool,
    },
    /// Offered and rejected by a server that gave no retry configurations, after it
    /// proved it holds the certificate of the configuration's public name: the server
    /// turned ECH off ("securely disabled", RFC 9849 §6.1.6), and this connection is the
    /// one retry made without ECH, its server name in the clear.
    Disabled,
}

/// What the client can make of an endpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Client<'a> {
    /// The protocols its TLS configuration offers; `None` without TLS (plain TCP), where
    /// any endpoint will do but a QUIC-only one.
    pub(crate) alpn: Option<&'a [Vec<u8>]>,
    /// Whether it offers ECH: an endpoint whose `mandatory` names `ech` needs it, and an
    /// endpoint whose `ech` it cannot use is skipped.
    pub(crate) ech: bool,
    /// With ECH: whether endpoints without ECH are kept beside those with it
    /// ([`ConnieConnector::ech_only`](crate::ConnieConnector::ech_only) off).
    pub(crate) ech_mixed: bool,
}

/// Reads a name's HTTPS record set.
///
/// - An AliasMode record wins over every ServiceMode record (RFC 9460 §2.4.1); an alias
///   to `.` says the service is not available through HTTPS records ([`Service::Plain`]).
/// - A malformed set (a `mandatory` key the record lacks, or naming `mandatory` itself; a
///   `no-default-alpn` with no `alpn`) is not used at all (§2.4.3, §8, §7.1.1).
/// - A ServiceMode record is skipped if it needs what the client cannot do: a mandatory
///   key it does not know, or no protocol in common with `client` (an endpoint that speaks
///   only QUIC, `h3`, cannot be reached over TCP).
/// - A client that offers ECH skips an endpoint whose `ech` it cannot use (malformed, or no
///   configuration it supports), and, unless it keeps them (`ech_mixed`), the endpoints
///   without `ech` when one has it: a record set that mixes them invites a downgrade
///   (RFC 9848 §8).
/// - A `port` of 0, or one the Fetch standard calls bad (SMTP, IRC, …), is ignored: the
///   endpoint is dialed on the authority's port.
/// - The endpoints are sorted by priority, lowest first, records of one priority in the
///   order of `tie(index)`, a random key per record, so that load spreads (§2.4.1).
pub(crate) fn read<'a>(
    records: impl IntoIterator<Item = &'a SVCB>,
    client: Client<'_>,
    tie: impl Fn(usize) -> u64,
) -> Service {
    let mut endpoints = Vec::new();
    for (index, record) in records.into_iter().enumerate() {
        if record.svc_priority == 0 {
            return match record.target_name.is_root() {
                true => Service::Plain,
                false => Service::Alias(record.target_name.clone()),
            };
        }
        match endpoint(record, client) {
            Read::Usable(endpoint) => endpoints.push((tie(index), endpoint)),
            Read::Skipped => {}
            Read::Malformed => return Service::Plain,
        }
    }
    if client.ech && !client.ech_mixed && endpoints.iter().any(|(_, e)| e.service.has_ech()) {
        endpoints.retain(|(_, e)| e.service.has_ech());
    }
    if endpoints.is_empty() {
        return Service::Plain;
    }
    endpoints.sort_by_key(|(tie, endpoint)| (endpoint.service.priority, *tie));
    let order = |(at, (_, mut endpoint)): (usize, (u64, Endpoint))| {
        endpoint.service.order = u16::try_from(at).unwrap_or(u16::MAX);
        endpoint
    };
    Service::Endpoints(endpoints.into_iter().enumerate().map(order).collect())
}

/// One ServiceMode record, read.
enum Read {
    Usable(Endpoint),
    /// The client cannot use it; the others may serve.
    Skipped,
    /// The whole set is to be rejected.
    Malformed,
}

fn endpoint(record: &SVCB, client: Client<'_>) -> Read {
    let target = (!record.target_name.is_root()).then(|| record.target_name.clone());
    let mut endpoint = ServiceEndpoint {
        priority: record.svc_priority,
        target: target.as_ref().map(|name| name.to_string().into()),
        port: None,
        alpn: Vec::new(),
        ipv4_hints: Vec::new(),
        ipv6_hints: Vec::new(),
        ech: None,
        order: 0,
    };
    let mut mandatory: &[SvcParamKey] = &[];
    let mut default_alpn = true;
    let mut has_alpn = false;
    for (_, value) in &record.svc_params {
        match value {
            SvcParamValue::Mandatory(keys) => mandatory = &keys.0,
            SvcParamValue::Alpn(ids) => {
                has_alpn = true;
                endpoint.alpn = ids.0.iter().map(|id| id.as_bytes().to_vec()).collect();
            }
            SvcParamValue::NoDefaultAlpn => default_alpn = false,
            SvcParamValue::Port(port) => endpoint.port = safe_port(*port),
            SvcParamValue::Ipv4Hint(hint) => {
                endpoint.ipv4_hints = hint.0.iter().map(|a| a.0).collect();
            }
            SvcParamValue::Ipv6Hint(hint) => {
                endpoint.ipv6_hints = hint.0.iter().map(|a| a.0).collect();
            }
            SvcParamValue::EchConfigList(list) => endpoint.ech = Some(list.0.as_slice().into()),
            SvcParamValue::Unknown(_) => {}
        }
    }
    let present = |key: &SvcParamKey| record.svc_params.iter().any(|(k, _)| k == key);
    if mandatory.contains(&SvcParamKey::Mandatory)
        || !mandatory.iter().all(present)
        || (!default_alpn && !has_alpn)
    {
        return Read::Malformed;
    }
    if !mandatory.iter().all(|key| known(*key, client)) {
        return Read::Skipped;
    }
    if default_alpn && !endpoint.alpn.iter().any(|id| id == DEFAULT_ALPN) {
        endpoint.alpn.push(DEFAULT_ALPN.to_vec());
    }
    let speaks = |id: &Vec<u8>| match client.alpn {
        Some(offered) => offered.contains(id),
        None => !id.starts_with(b"h3"),
    };
    if !endpoint.alpn.iter().any(speaks) {
        return Read::Skipped;
    }
    if client.ech
        && endpoint
            .ech
            .as_deref()
            .is_some_and(|list| !ech_usable(list))
    {
        return Read::Skipped;
    }
    Read::Usable(Endpoint {
        service: endpoint,
        target,
    })
}

/// Whether the client understands `key` well enough to use a record that makes it
/// mandatory.
fn known(key: SvcParamKey, client: Client<'_>) -> bool {
    match key {
        SvcParamKey::Alpn
        | SvcParamKey::NoDefaultAlpn
        | SvcParamKey::Port
        | SvcParamKey::Ipv4Hint
        | SvcParamKey::Ipv6Hint => true,
        SvcParamKey::EchConfigList => client.ech,
        SvcParamKey::Mandatory
        | SvcParamKey::Key(_)
        | SvcParamKey::Key65535
        | SvcParamKey::Unknown(_) => false,
    }
}

/// Whether the client can offer ECH with `list`, a wire-format `ECHConfigList`: it parses,
/// and has a configuration rustls supports. Never without the `ech` feature, where no
/// client offers ECH.
fn ech_usable(list: &[u8]) -> bool {
    #[cfg(feature = "ech")]
    {
        crate::tls::ech::usable(list)
    }
    #[cfg(not(feature = "ech"))]
    {
        let _ = list;
        false
    }
}

/// The ports the Fetch standard blocks ("bad ports": services a web client must not be
/// pointed at), sorted: <https://fetch.spec.whatwg.org/#bad-port>.
const BAD_PORTS: [u16; 82] = [
    1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102,
    103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465,
    512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993,
    995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668,
    6669, 6679, 6697, 10080,
];

/// `port`, unless it is 0 or one of the [`BAD_PORTS`]: a DNS answer cannot point the
/// client at a mail or IRC server.
fn safe_port(port: u16) -> Option<u16> {
    (port != 0 && BAD_PORTS.binary_search(&port).is_err()).then_some(port)
}

#[cfg(test)]
mod tests;

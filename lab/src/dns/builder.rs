//! [`DnsServerBuilder`]: the zone a [`DnsServer`] serves, and starting it.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_server::proto::rr::{rdata::SOA, LowerName, Name, RData, Record};
use hickory_server::proto::ProtoError;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use hickory_server::Server;

use super::handler::{DelayingHandler, QueryCounts};
use super::{DnsServer, Https, RecordType};

/// TTL of every record the server hands out (also the SOA minimum, i.e. the negative TTL).
const TTL: u32 = 1;
/// Serial of the zone.
const SERIAL: u32 = 1;
/// How long an idle TCP connection to the server is kept open.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Per-connection buffer of outgoing TCP responses.
const TCP_RESPONSE_BUFFER: usize = 32;

/// Describes a [`DnsServer`]: its zone origin, hosts and per-record-type delays.
#[derive(Debug, Clone)]
pub struct DnsServerBuilder {
    origin: String,
    hosts: Vec<(String, Vec<IpAddr>)>,
    https: Vec<(String, Https)>,
    delays: HashMap<RecordType, Duration>,
    /// The NAT64 prefix (`/96`) `ipv4only.arpa.` is answered under, if any.
    pref64: Option<Ipv6Addr>,
}

impl Default for DnsServerBuilder {
    fn default() -> Self {
        Self {
            origin: "lab.test.".to_owned(),
            hosts: Vec::new(),
            https: Vec::new(),
            delays: HashMap::new(),
            pref64: None,
        }
    }
}

impl DnsServerBuilder {
    /// Zone origin, default `"lab.test."`; a missing final dot is implied.
    ///
    /// Names given to [`host`](Self::host) may be relative to it (`"both"`) or absolute
    /// (`"both.lab.test."`).
    pub fn origin(mut self, origin: &str) -> Self {
        origin.clone_into(&mut self.origin);
        self
    }

    /// Serves A/AAAA records for `name`: each address becomes an A or AAAA record (TTL 1 s).
    ///
    /// Calling it again for the same name adds addresses. A name given with no addresses
    /// is not created (it answers `NXDOMAIN`).
    pub fn host(mut self, name: &str, addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        self.hosts
            .push((name.to_owned(), addrs.into_iter().collect()));
        self
    }

    /// Serves an HTTPS record (RFC 9460) for `name`, relative to the origin or absolute;
    /// calling it again for the same name adds a record to its set.
    ///
    /// The server answers `HTTPS` queries with the records alone: it adds no address
    /// record of a target name (hickory-server fills no additional section), so a client
    /// looks targets up itself, as it must of any server that does not.
    pub fn https(mut self, name: &str, record: Https) -> Self {
        self.https.push((name.to_owned(), record));
        self
    }

    /// Serves `ipv4only.arpa.` as a DNS64 server with the NAT64 prefix `prefix` (its first
    /// 96 bits) does: `AAAA` records of `192.0.0.170` and `192.0.0.171` under it (RFC
    /// 7050), for a client's prefix discovery. The server synthesises no other record.
    pub fn ipv4only_arpa(mut self, prefix: Ipv6Addr) -> Self {
        self.pref64 = Some(prefix);
        self
    }

    /// Delays every answer to queries of record type `rtype` by `by`.
    ///
    /// The delay uses `tokio::time::sleep`, so it follows a paused/advanced tokio clock.
    /// Over UDP every query is handled in its own task; over TCP the server answers one
    /// connection's queries in order, so a delayed query holds up later ones on it.
    pub fn delay(mut self, rtype: RecordType, by: Duration) -> Self {
        self.delays.insert(rtype, by);
        self
    }

    /// Binds UDP and TCP on `127.0.0.1`, each on its own ephemeral port, and spawns the
    /// server on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if the origin or a host name does not parse or a name lies outside
    /// the origin; any error from binding the sockets.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn start(self) -> io::Result<DnsServer> {
        self.start_on(IpAddr::V4(Ipv4Addr::LOCALHOST)).await
    }

    /// [`start`](Self::start), binding UDP and TCP on `ip` instead of `127.0.0.1` (the
    /// network-namespace lab serves on a documentation address of its server side).
    #[cfg_attr(not(all(feature = "netns", target_os = "linux")), allow(dead_code))]
    pub(crate) async fn start_on(self, ip: IpAddr) -> io::Result<DnsServer> {
        let catalog = self.catalog()?;
        let origin = self.origin_name()?;

        let local = SocketAddr::new(ip, 0);
        let udp = tokio::net::UdpSocket::bind(local).await?;
        let tcp = tokio::net::TcpListener::bind(local).await?;
        let udp_addr = udp.local_addr()?;
        let tcp_addr = tcp.local_addr()?;

        let counts = QueryCounts::default();
        let mut server = Server::new(DelayingHandler {
            catalog,
            delays: self.delays,
            counts: counts.clone(),
        });
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);
        tracing::debug!(%udp_addr, %tcp_addr, %origin, "lab DNS server started");

        Ok(DnsServer {
            udp_addr,
            tcp_addr,
            origin,
            server,
            counts,
        })
    }

    fn origin_name(&self) -> io::Result<Name> {
        let mut origin = Name::from_ascii(&self.origin)
            .map_err(|e| invalid_input(format!("bad DNS origin {:?}: {e}", self.origin)))?;
        origin.set_fqdn(true);
        Ok(origin)
    }

    /// Builds the zone (SOA at the origin plus the A/AAAA records) into a catalog.
    fn catalog(&self) -> io::Result<Catalog> {
        let origin = self.origin_name()?;
        let mut zone = zone(&origin)?;
        for (name, addrs) in &self.hosts {
            let fqdn = in_zone(name, &origin)?;
            for &addr in addrs {
                upsert(
                    &mut zone,
                    Record::from_rdata(fqdn.clone(), TTL, RData::from(addr)),
                )?;
            }
        }

        for (name, record) in &self.https {
            let fqdn = in_zone(name, &origin)?;
            if let Some(fault) = record.fault() {
                return Err(invalid_input(format!("HTTPS record of {fqdn}: {fault}")));
            }
            let target = match record.target.as_str() {
                "." => Name::root(),
                target => absolute(target, &origin)
                    .map_err(|e| invalid_input(format!("bad target name {target:?}: {e}")))?,
            };
            upsert(
                &mut zone,
                Record::from_rdata(fqdn, TTL, record.rdata(target)),
            )?;
        }

        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&origin), vec![Arc::new(zone)]);
        if let Some(prefix) = self.pref64 {
            let (name, zone) = ipv4only_arpa(prefix)?;
            catalog.upsert(LowerName::new(&name), vec![Arc::new(zone)]);
        }
        Ok(catalog)
    }
}

/// `name` made absolute under `origin` (unless it ends with a dot), which must hold it.
fn in_zone(name: &str, origin: &Name) -> io::Result<Name> {
    let fqdn = absolute(name, origin)
        .map_err(|e| invalid_input(format!("bad host name {name:?}: {e}")))?;
    if !origin.zone_of(&fqdn) {
        return Err(invalid_input(format!(
            "host name {fqdn} is outside the zone {origin}"
        )));
    }
    Ok(fqdn)
}

/// `name`, under `origin` unless it ends with a dot.
fn absolute(name: &str, origin: &Name) -> Result<Name, ProtoError> {
    let name = Name::from_ascii(name)?;
    if name.is_fqdn() {
        Ok(name)
    } else {
        name.append_domain(origin)
    }
}

/// The zone `ipv4only.arpa.` of a DNS64 server with the NAT64 prefix `prefix` (`/96`):
/// its two well-known IPv4 addresses, as `AAAA` records under the prefix.
fn ipv4only_arpa(
    prefix: Ipv6Addr,
) -> io::Result<(Name, InMemoryZoneHandler<TokioRuntimeProvider>)> {
    let name = Name::from_ascii("ipv4only.arpa.")
        .map_err(|e| invalid_input(format!("ipv4only.arpa.: {e}")))?;
    let mut zone = zone(&name)?;
    for last in [170, 171] {
        let mut bytes = prefix.octets();
        bytes[12..].copy_from_slice(&[192, 0, 0, last]);
        let aaaa = IpAddr::V6(Ipv6Addr::from(bytes));
        upsert(
            &mut zone,
            Record::from_rdata(name.clone(), TTL, RData::from(aaaa)),
        )?;
    }
    Ok((name, zone))
}

/// An empty primary zone at `origin`, with its SOA record.
fn zone(origin: &Name) -> io::Result<InMemoryZoneHandler<TokioRuntimeProvider>> {
    let mut zone = InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
        origin.clone(),
        ZoneType::Primary,
        AxfrPolicy::Deny,
    );
    let soa = SOA::new(
        relative("ns", origin)?,
        relative("hostmaster", origin)?,
        SERIAL,
        3_600,
        600,
        86_400,
        TTL,
    );
    upsert(
        &mut zone,
        Record::from_rdata(origin.clone(), TTL, RData::SOA(soa)),
    )?;
    Ok(zone)
}

fn relative(label: &str, origin: &Name) -> io::Result<Name> {
    absolute(label, origin)
        .map_err(|e| invalid_input(format!("cannot build {label}.{origin}: {e}")))
}

fn upsert(zone: &mut InMemoryZoneHandler<TokioRuntimeProvider>, record: Record) -> io::Result<()> {
    let text = record.to_string();
    if zone.upsert_mut(record, SERIAL) {
        Ok(())
    } else {
        Err(invalid_input(format!("zone rejected record {text}")))
    }
}

fn invalid_input(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

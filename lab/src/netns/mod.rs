//! A lab with real round-trip times: two network namespaces joined by a delay line.
//!
//! [`NetLab`] creates a **client** namespace and a **server** namespace (named
//! `connie-<pid>-<n>c` / `…s`, removed on drop; ones left by a dead process are removed by
//! the next lab) and joins them with two TUN devices and a userspace delay line. Per host
//! address the line applies a configured round-trip time, or drops what is sent to it
//! (blackholed); a refused host has the address but no listener, so its kernel answers
//! with a reset, after the round-trip time. A TLS host completes TLS handshakes with the
//! lab's [`TlsIdentity`](crate::TlsIdentity) ([`NetLab::tls_identity`]), each taking the
//! server work its [`TlsHost`] is given ([`NetLab::tls`]).
//!
//! While the lab runs, [`NetLab::blackhole`] turns a host into a blackhole (a host that
//! dies between two connects), [`NetLab::refuse`] makes it answer connects with a reset
//! (a host that refuses some connects), and [`NetLab::restore`] makes it what it was built
//! as again.
//!
//! **Round-trip time**: the line delays packets to a host by half its RTT and packets from
//! it by the other half, so a SYN → SYN-ACK exchange (a TCP connect) takes one RTT.
//!
//! Addressing, all documentation ranges that exist only inside the two namespaces:
//!
//! - hosts: `192.0.2.0/24` and `2001:db8::/32` (outside `2001:db8:ffff::/48`), on the
//!   server side, all listening on one [`port`](NetLab::port);
//! - the lab DNS server: [`DNS_V4`] (`192.0.2.53`; [`DNS_V6`], `2001:db8::53`, for a
//!   client without IPv4), no delay, serving the names given to
//!   [`NetLabBuilder::name`] in the zone `lab.test.`;
//! - the client: [`CLIENT_V4`] and [`CLIENT_V6`].
//!
//! Neither namespace has a default route, so no packet can leave the machine. A client
//! may be given an IPv4 or IPv6 default route ([`NetLabBuilder::ipv4_default_route`]),
//! to have that family's connectivity as a host on a network has: it leads into the delay
//! line, and the server side drops what is not for a lab host.
//!
//! Clients run on a thread inside the client namespace ([`NetLab::run_client`]); the
//! servers on a thread inside the server namespace. The lab needs Linux, root,
//! `/dev/net/tun` and iproute2's `ip`; call [`available`] first and skip when it says why
//! not.
//!
//! ```no_run
//! # fn doc() -> std::io::Result<()> {
//! use std::time::Duration;
//! use connie_lab::netns::{self, NetLab};
//!
//! if let Err(reason) = netns::available() {
//!     println!("skipped: {reason}");
//!     return Ok(());
//! }
//! let ms = Duration::from_millis;
//! let slow = "192.0.2.1".parse().unwrap();
//! let fast = "192.0.2.2".parse().unwrap();
//! let lab = NetLab::builder()
//!     .alive(slow, ms(80))
//!     .alive(fast, ms(20))
//!     .name("www", [slow, fast])
//!     .start()?;
//! let env = lab.client_env("www.lab.test.");
//! // A client that tries the first address it is given, alone.
//! let measured = lab.measure(move || async move {
//!     let answer = env.resolver().lookup_ip(env.name()).await;
//!     let first = answer.map_err(std::io::Error::other)?.iter().next();
//!     let first = first.ok_or_else(|| std::io::Error::other("no address"))?;
//!     let stream = tokio::net::TcpStream::connect((first, env.port())).await?;
//!     stream.peer_addr()
//! })?;
//! let remote = measured.remote?;
//! println!("{:?} to {remote} after {} attempts", measured.elapsed, measured.attempts);
//! # Ok(()) }
//! ```

mod addresses;
mod delay_line;
mod outage;
mod scenario;
mod server;
mod sys;
mod tls;

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use hickory_resolver::config::ResolverConfig;
use hickory_resolver::TokioResolver;

use self::addresses::{check_host, configure, ClientNet};
pub use self::addresses::{CLIENT_V4, CLIENT_V6, DNS_V4, DNS_V6};
use self::delay_line::{lock, Mode, Rule, SharedRules, SharedSyns};
use self::sys::{Namespace, NsThread};
use crate::dns::QueryCounts;
use crate::tls::LabTls;
use crate::{dns, DnsServer, DnsServerBuilder, RecordType, TlsHost};

pub use self::scenario::{ClientEnv, Measurement, Scenario, TWELVE_RTTS_MS};

/// The longest round-trip time a host may have; a longer one is an `InvalidInput` error.
pub const MAX_RTT: Duration = Duration::from_secs(60);
/// The port every host listens on, unless [`NetLabBuilder::port`] says otherwise.
pub const DEFAULT_PORT: u16 = 443;

/// Says whether a [`NetLab`] can run here, and if not, why: not Linux, not root, no
/// `/dev/net/tun`, no `ip`, or a network namespace cannot be created. Probed once per
/// process.
pub fn available() -> Result<(), String> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    PROBE.get_or_init(probe).clone()
}

fn probe() -> Result<(), String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    let euid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .ok_or("no Uid line in /proc/self/status")?;
    if euid != "0" {
        return Err(format!("needs root (effective uid is {euid})"));
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(|e| format!("cannot open /dev/net/tun: {e}"))?;
    sys::ip(&["-V"]).map_err(|e| format!("iproute2 is missing: {e}"))?;
    Namespace::create("p").map_err(|e| format!("cannot create a network namespace: {e}"))?;
    Ok(())
}

/// What a host of a [`NetLab`] is, as [`NetLabBuilder::alive`], [`refused`],
/// [`blackholed`] and [`tls`] add it; [`Scenario::hosts`] lists a scenario's.
///
/// [`refused`]: NetLabBuilder::refused
/// [`blackholed`]: NetLabBuilder::blackholed
/// [`tls`]: NetLabBuilder::tls
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostSpec {
    /// Accepts connections; a connect takes this round-trip time.
    Alive(Duration),
    /// Has no listener: a connect fails with `ConnectionRefused` after this round-trip time.
    Refused(Duration),
    /// Its packets are dropped: a connect hangs until the client gives up.
    Blackholed,
    /// Accepts connections and completes a TLS handshake on each (a [`TlsHost`]
    /// presenting the lab's identity, offering [`LAB_ALPN`](crate::LAB_ALPN)); a connect
    /// takes this round-trip time, and each handshake round trip another.
    Tls(Duration),
}

impl HostSpec {
    /// The delay line's rule for a host built as this.
    fn rule(self) -> Rule {
        let (one_way, mode) = match self {
            HostSpec::Alive(rtt) | HostSpec::Refused(rtt) | HostSpec::Tls(rtt) => {
                (rtt / 2, Mode::Pass)
            }
            HostSpec::Blackholed => (Duration::ZERO, Mode::Blackhole),
        };
        Rule { one_way, mode }
    }
}

/// Describes a [`NetLab`]; finish with [`start`](Self::start).
#[derive(Debug, Clone)]
pub struct NetLabBuilder {
    hosts: Vec<(IpAddr, HostSpec)>,
    port: u16,
    dns: DnsServerBuilder,
    net: ClientNet,
}

impl NetLabBuilder {
    /// A host that accepts connections, `rtt` away.
    pub fn alive(mut self, ip: IpAddr, rtt: Duration) -> Self {
        self.hosts.push((ip, HostSpec::Alive(rtt)));
        self
    }

    /// A host without a listener: a connect fails with `ConnectionRefused` after `rtt`.
    pub fn refused(mut self, ip: IpAddr, rtt: Duration) -> Self {
        self.hosts.push((ip, HostSpec::Refused(rtt)));
        self
    }

    /// A host whose packets are dropped: a connect hangs until the client gives up.
    pub fn blackholed(mut self, ip: IpAddr) -> Self {
        self.hosts.push((ip, HostSpec::Blackholed));
        self
    }

    /// A host that accepts connections and completes TLS handshakes, `rtt` away: a
    /// [`TlsHost`] presenting a certificate of the lab's
    /// [`TlsIdentity`](crate::TlsIdentity) ([`NetLab::tls_identity`], made when the lab
    /// starts). [`NetLab::tls`] reaches it, to read its counters or slow its handshakes.
    pub fn tls(mut self, ip: IpAddr, rtt: Duration) -> Self {
        self.hosts.push((ip, HostSpec::Tls(rtt)));
        self
    }

    /// The port every host listens on. Default is [`DEFAULT_PORT`].
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Serves `name` (relative to `lab.test.`, or absolute inside it) with these addresses,
    /// in this order, from the lab DNS server.
    pub fn name(mut self, name: &str, addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        self.dns = self.dns.host(name, addrs);
        self
    }

    /// Gives the client an IPv4 default route, into the lab: the client then has IPv4
    /// connectivity as a host on a network has (a UDP socket connects to any IPv4
    /// address), and a packet to an address that is not the lab's is dropped on the server
    /// side. Default is no default route: the client reaches the lab's ranges only.
    pub fn ipv4_default_route(mut self) -> Self {
        self.net.default_v4 = true;
        self
    }

    /// Gives the client an IPv6 default route, into the lab; see
    /// [`ipv4_default_route`](Self::ipv4_default_route).
    pub fn ipv6_default_route(mut self) -> Self {
        self.net.default_v6 = true;
        self
    }

    /// Gives the client no IPv4 at all, neither an address nor a route: the lab's IPv4
    /// hosts are out of its reach, and the lab DNS server listens on [`DNS_V6`] instead
    /// of [`DNS_V4`]. With [`ipv6_default_route`](Self::ipv6_default_route), a host on an
    /// IPv6-only network; with [`ipv4only_arpa`](Self::ipv4only_arpa) too, one behind
    /// NAT64, whose IPv4 hosts are lab hosts at their addresses under the prefix.
    pub fn ipv6_only_client(mut self) -> Self {
        self.net.ipv6_only = true;
        self
    }

    /// Serves `ipv4only.arpa.` as a DNS64 server with the NAT64 prefix `prefix` (`/96`)
    /// does: `AAAA` records of `192.0.0.170` and `192.0.0.171` under it (RFC 7050), for a
    /// client's prefix discovery.
    pub fn ipv4only_arpa(mut self, prefix: std::net::Ipv6Addr) -> Self {
        self.dns = self.dns.ipv4only_arpa(prefix);
        self
    }

    /// Delays every DNS answer of record type `rtype` by `by`. Default is no delay.
    pub fn dns_delay(mut self, rtype: RecordType, by: Duration) -> Self {
        self.dns = self.dns.delay(rtype, by);
        self
    }

    /// Creates the namespaces, the delay line and the servers (and, with TLS hosts, the
    /// lab's TLS identity).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a host address outside the documentation ranges, reserved, or
    /// given twice, or a round-trip time over [`MAX_RTT`]; otherwise whatever failed while
    /// setting up (the message names the `ip` command or system call). Call [`available`]
    /// first to tell "cannot run here" apart from a real failure.
    pub fn start(self) -> io::Result<NetLab> {
        let mut rules = HashMap::new();
        for &(ip, kind) in &self.hosts {
            check_host(ip)?;
            if let HostSpec::Alive(rtt) | HostSpec::Refused(rtt) | HostSpec::Tls(rtt) = kind {
                if rtt > MAX_RTT {
                    return Err(invalid(format!(
                        "host {ip}: a round-trip time of {rtt:?} is over the lab's {MAX_RTT:?}"
                    )));
                }
            }
            if rules.insert(ip, kind.rule()).is_some() {
                return Err(invalid(format!("host {ip} is given twice")));
            }
        }
        let of_kind = |wanted: fn(HostSpec) -> bool| -> Vec<IpAddr> {
            (self.hosts.iter())
                .filter_map(|&(ip, kind)| wanted(kind).then_some(ip))
                .collect()
        };
        let alive = of_kind(|kind| matches!(kind, HostSpec::Alive(_)));
        let tls_ips = of_kind(|kind| matches!(kind, HostSpec::Tls(_)));
        let tls = (!tls_ips.is_empty()).then(LabTls::new).transpose()?;
        let client_ns = Namespace::create("c")?;
        let server_ns = Namespace::create("s")?;
        let rules: SharedRules = Arc::new(Mutex::new(rules));
        let syns = SharedSyns::default();

        let line = NsThread::spawn("connie-netlab-line", None)?;
        let (client_path, server_path) = (client_ns.path(), server_ns.path());
        let (line_rules, line_syns) = (SharedRules::clone(&rules), SharedSyns::clone(&syns));
        line.run(move || async move {
            delay_line::start(&client_path, &server_path, line_rules, line_syns)
        })??;
        configure(&client_ns, &server_ns, &self.hosts, self.net)?;

        let server = NsThread::spawn("connie-netlab-server", Some(server_ns.path()))?;
        let (port, dns) = (self.port, self.dns);
        let tls_hosts = tls.as_ref().map(|tls| (tls_ips, tls.trusted()));
        let dns_ip = self.net.dns();
        let started = server.run(move || server::start(alive, tls_hosts, port, dns, dns_ip))??;
        let client = NsThread::spawn("connie-netlab-client", Some(client_ns.path()))?;
        tracing::debug!(
            client = client_ns.name(),
            server = server_ns.name(),
            "netlab started"
        );
        Ok(NetLab {
            client,
            tls_hosts: started.tls,
            _server: server,
            _line: line,
            client_ns,
            server_ns,
            port,
            hosts: self.hosts,
            tls,
            dns: (started.dns_udp, started.dns_tcp),
            dns_queries: started.dns_queries,
            rules,
            syns,
        })
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Two network namespaces joined by a delay line, with hosts, a DNS server, and a thread
/// for clients. See the [module docs](self). Dropping it stops the threads and removes the
/// namespaces (and with them the TUN devices and addresses).
#[derive(Debug)]
pub struct NetLab {
    // Fields drop in this order: clients first, namespaces last.
    client: NsThread,
    /// The TLS hosts, listening on the server thread.
    tls_hosts: Vec<(IpAddr, TlsHost)>,
    _server: NsThread,
    _line: NsThread,
    client_ns: Namespace,
    server_ns: Namespace,
    port: u16,
    /// Every host as the builder made it, in the order it was added.
    hosts: Vec<(IpAddr, HostSpec)>,
    tls: Option<LabTls>,
    dns: (SocketAddr, SocketAddr),
    dns_queries: QueryCounts,
    rules: SharedRules,
    syns: SharedSyns,
}

impl NetLab {
    /// Starts describing a lab.
    pub fn builder() -> NetLabBuilder {
        NetLabBuilder {
            hosts: Vec::new(),
            port: DEFAULT_PORT,
            dns: DnsServer::builder(),
            net: ClientNet::default(),
        }
    }

    /// The port every host listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every host's address and port, in the order they were added.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        (self.hosts.iter())
            .map(|&(ip, _)| SocketAddr::new(ip, self.port))
            .collect()
    }

    /// Names of the two namespaces: `(client, server)`.
    pub fn namespaces(&self) -> (&str, &str) {
        (self.client_ns.name(), self.server_ns.name())
    }

    /// A hickory `ResolverConfig` asking only the lab DNS server (UDP, then TCP).
    pub fn resolver_config(&self) -> ResolverConfig {
        dns::resolver_config(self.dns.0, self.dns.1)
    }

    /// A resolver asking only the lab DNS server, with [`DnsServer::resolver_opts`]. Use it
    /// on the client thread (it sends its queries from where its lookups run).
    ///
    /// # Errors
    ///
    /// Whatever hickory's `ResolverBuilder::build` returns.
    pub fn resolver(&self) -> io::Result<TokioResolver> {
        client_resolver(self.resolver_config())
    }

    /// What a client of `name` (e.g. `"www.lab.test."`) needs, to move into
    /// [`run_client`](Self::run_client) or [`measure`](Self::measure).
    pub fn client_env(&self, name: &str) -> ClientEnv {
        ClientEnv::new(name, self.port, self.addrs(), self.resolver_config())
    }

    /// Runs `client` on the client thread (inside the client namespace, on a current-thread
    /// Tokio runtime) and blocks until its future is done. Do not call it from a
    /// current-thread runtime's own thread.
    ///
    /// # Errors
    ///
    /// If the client thread is gone or `client` panicked.
    pub fn run_client<F, Fut, T>(&self, client: F) -> io::Result<T>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        self.client.run(client)
    }

    /// SYNs the client sent to `ip`, retransmissions included, since the last
    /// [`reset_counters`](Self::reset_counters).
    pub fn syns_to(&self, ip: IpAddr) -> usize {
        lock(&self.syns).total.get(&ip).copied().unwrap_or(0)
    }

    /// Connection attempts (distinct SYN flows) the client made to the lab port of any
    /// host since the last [`reset_counters`](Self::reset_counters).
    pub fn attempts(&self) -> usize {
        let port = self.port;
        let syns = lock(&self.syns);
        syns.flows
            .iter()
            .filter(|(_, dst)| dst.port() == port)
            .count()
    }

    /// Connection attempts (distinct SYN flows) the client made to `ip`.
    pub fn attempts_to(&self, ip: IpAddr) -> usize {
        let syns = lock(&self.syns);
        syns.flows.iter().filter(|(_, dst)| dst.ip() == ip).count()
    }

    /// Queries of record type `rtype` the lab DNS server received.
    pub fn dns_queries(&self, rtype: RecordType) -> usize {
        self.dns_queries.of(rtype)
    }

    /// Sets the SYN and attempt counters back to zero.
    pub fn reset_counters(&self) {
        let mut syns = lock(&self.syns);
        syns.total.clear();
        syns.flows.clear();
    }
}

fn client_resolver(config: ResolverConfig) -> io::Result<TokioResolver> {
    dns::resolver(config, DnsServer::resolver_opts()).map_err(io::Error::other)
}

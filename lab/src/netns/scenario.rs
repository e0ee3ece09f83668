//! The RTT scenarios of the benchmark table (`connie-eval`'s `rtt` bench), and timing one
//! client in a [`NetLab`].

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::config::{ResolverConfig, ResolverOpts};
use hickory_resolver::TokioResolver;

use super::{client_resolver, HostSpec, NetLab};
use crate::{DnsServer, RecordType};

/// How long [`NetLab::measure`] waits after the client connected (or failed) before reading
/// the SYN counters, so that a SYN sent just before the end is counted.
const SETTLE: Duration = Duration::from_millis(20);

/// The RTTs of [`Scenario::TwelveRecords`], in resolver order (192.0.2.1 to .12).
pub const TWELVE_RTTS_MS: [u64; 12] = [120, 45, 200, 80, 10, 160, 30, 100, 180, 60, 140, 20];

/// What a client needs inside the client namespace: the name, the port, the addresses
/// (for clients that take a list) and the lab DNS configuration.
#[derive(Debug, Clone)]
pub struct ClientEnv {
    name: String,
    port: u16,
    addrs: Vec<SocketAddr>,
    config: ResolverConfig,
}

impl ClientEnv {
    pub(crate) fn new(
        name: &str,
        port: u16,
        addrs: Vec<SocketAddr>,
        config: ResolverConfig,
    ) -> Self {
        ClientEnv {
            name: name.to_owned(),
            port,
            addrs,
            config,
        }
    }

    /// The host name to connect to, fully qualified (`"www.lab.test."`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The port every host listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every host's address, in the order the lab was given them.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// A resolver asking only the lab DNS server (see [`NetLab::resolver`]).
    ///
    /// # Panics
    ///
    /// If hickory cannot build a plain UDP/TCP resolver, which it cannot fail to do
    /// without a TLS feature.
    pub fn resolver(&self) -> TokioResolver {
        client_resolver(self.config.clone()).expect("a plain UDP/TCP resolver always builds")
    }

    /// Like [`resolver`](Self::resolver), but with hickory's default cache on, as the
    /// resolver of a long-lived client has (connie's default resolver caches): from the
    /// second connect to a name on, the answer comes from the cache, without a query.
    ///
    /// # Panics
    ///
    /// As [`resolver`](Self::resolver).
    pub fn caching_resolver(&self) -> TokioResolver {
        let mut opts = DnsServer::resolver_opts();
        opts.cache_size = ResolverOpts::default().cache_size;
        crate::dns::resolver(self.config.clone(), opts)
            .expect("a plain UDP/TCP resolver always builds")
    }
}

/// One timed client run by [`NetLab::measure`]: how long it took, where it connected to or
/// why it did not, and the attempts it started.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measurement<E = io::Error> {
    /// From calling the client to its future completing, connected or failed (DNS
    /// included): the time to a connected socket, or to the client's error.
    pub elapsed: Duration,
    /// The address the client connected to, or the client's error.
    pub remote: Result<SocketAddr, E>,
    /// Connection attempts the client started, whether it connected or not (distinct SYN
    /// flows to the lab port seen by the delay line).
    pub attempts: usize,
}

impl NetLab {
    /// Runs `client` on the client thread and times it: the client connects and returns
    /// the peer address, or fails with its own error `E`. The SYN counters are reset first.
    /// A client's failure is a [`Measurement`] too, with the time it took and the attempts
    /// it started.
    ///
    /// # Errors
    ///
    /// Only [`run_client`](Self::run_client)'s: the client thread is gone or `client`
    /// panicked.
    pub fn measure<F, Fut, E>(&self, client: F) -> io::Result<Measurement<E>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<SocketAddr, E>> + 'static,
        E: Send + 'static,
    {
        self.reset_counters();
        let (remote, elapsed) = self.run_client(move || async move {
            let start = Instant::now();
            let remote = client().await;
            (remote, start.elapsed())
        })?;
        std::thread::sleep(SETTLE);
        Ok(Measurement {
            elapsed,
            remote,
            attempts: self.attempts(),
        })
    }
}

/// The RTT scenarios, each a [`NetLab`] serving the name [`Scenario::NAME`]; see
/// [`hosts`](Scenario::hosts) for each one's hosts.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Three alive IPv4 hosts with RTTs 80, 20 and 150 ms, resolved in that order.
    ThreeAlive,
    /// IPv6 alive at 300 ms RTT, IPv4 alive at 20 ms.
    SlowIpv6,
    /// IPv6 blackholed, IPv4 alive at 40 ms.
    BlackholedIpv6,
    /// IPv6 and IPv4 alive at 20 ms, the `AAAA` answer 200 ms late.
    LateAaaa,
    /// Twelve alive IPv4 hosts with RTTs from 10 to 200 ms ([`TWELVE_RTTS_MS`]).
    TwelveRecords,
}

/// Host `n` of a scenario: `192.0.2.n`.
pub(crate) fn v4(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))
}

/// Host `n` of a scenario: `2001:db8::n`.
pub(crate) fn v6(n: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n))
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 5] = [
        Scenario::ThreeAlive,
        Scenario::SlowIpv6,
        Scenario::BlackholedIpv6,
        Scenario::LateAaaa,
        Scenario::TwelveRecords,
    ];

    /// The name every scenario's hosts are served under.
    pub const NAME: &'static str = "www.lab.test.";

    /// A short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Scenario::ThreeAlive => "3 alive, RTT 80/20/150 ms",
            Scenario::SlowIpv6 => "IPv6 300 ms, IPv4 20 ms",
            Scenario::BlackholedIpv6 => "IPv6 blackholed, IPv4 40 ms",
            Scenario::LateAaaa => "AAAA 200 ms late, both 20 ms",
            Scenario::TwelveRecords => "12 A records, RTT 10-200 ms",
        }
    }

    /// The scenario's hosts with what each is (its RTT, or blackholed), in the order the
    /// lab's DNS serves them under [`Scenario::NAME`] (the order [`NetLab::addrs`] lists):
    ///
    /// | scenario | hosts |
    /// | --- | --- |
    /// | [`ThreeAlive`](Scenario::ThreeAlive) | `192.0.2.1` alive 80 ms, `192.0.2.2` alive 20 ms, `192.0.2.3` alive 150 ms |
    /// | [`SlowIpv6`](Scenario::SlowIpv6) | `2001:db8::1` alive 300 ms, `192.0.2.1` alive 20 ms |
    /// | [`BlackholedIpv6`](Scenario::BlackholedIpv6) | `2001:db8::1` blackholed, `192.0.2.1` alive 40 ms |
    /// | [`LateAaaa`](Scenario::LateAaaa) | `2001:db8::1` alive 20 ms, `192.0.2.1` alive 20 ms (the `AAAA` answer 200 ms late) |
    /// | [`TwelveRecords`](Scenario::TwelveRecords) | `192.0.2.1` to `192.0.2.12` alive, RTTs [`TWELVE_RTTS_MS`] |
    pub fn hosts(self) -> Vec<(IpAddr, HostSpec)> {
        let alive = |ip, rtt_ms| (ip, HostSpec::Alive(Duration::from_millis(rtt_ms)));
        match self {
            Scenario::ThreeAlive => vec![alive(v4(1), 80), alive(v4(2), 20), alive(v4(3), 150)],
            Scenario::SlowIpv6 => vec![alive(v6(1), 300), alive(v4(1), 20)],
            Scenario::BlackholedIpv6 => vec![(v6(1), HostSpec::Blackholed), alive(v4(1), 40)],
            Scenario::LateAaaa => vec![alive(v6(1), 20), alive(v4(1), 20)],
            Scenario::TwelveRecords => (1..)
                .zip(TWELVE_RTTS_MS)
                .map(|(n, rtt)| alive(v4(n), rtt))
                .collect(),
        }
    }

    /// The alive (or TLS) host with the lowest RTT, the first in [`hosts`](Self::hosts)
    /// order on a tie: where an oracle that knows every RTT would connect. `None` if no
    /// host is alive.
    pub fn fastest_alive(self) -> Option<IpAddr> {
        (self.hosts().into_iter())
            .filter_map(|(ip, spec)| match spec {
                HostSpec::Alive(rtt) | HostSpec::Tls(rtt) => Some((rtt, ip)),
                HostSpec::Refused(_) | HostSpec::Blackholed => None,
            })
            .min_by_key(|&(rtt, _)| rtt)
            .map(|(_, ip)| ip)
    }

    /// Builds the scenario's lab: its [`hosts`](Self::hosts), served in that order under
    /// [`Scenario::NAME`].
    ///
    /// # Errors
    ///
    /// As [`NetLabBuilder::start`](super::NetLabBuilder::start).
    pub fn lab(self) -> io::Result<NetLab> {
        let hosts = self.hosts();
        let mut builder = NetLab::builder().name(Self::NAME, hosts.iter().map(|&(ip, _)| ip));
        for (ip, spec) in hosts {
            builder = match spec {
                HostSpec::Alive(rtt) => builder.alive(ip, rtt),
                HostSpec::Refused(rtt) => builder.refused(ip, rtt),
                HostSpec::Blackholed => builder.blackholed(ip),
                HostSpec::Tls(rtt) => builder.tls(ip, rtt),
            };
        }
        if self == Scenario::LateAaaa {
            builder = builder.dns_delay(RecordType::AAAA, Duration::from_millis(200));
        }
        builder.start()
    }

    /// Builds the scenario's lab, times one connect of `client` to [`Scenario::NAME`] in
    /// it ([`NetLab::measure`]), and removes the lab: the benchmark table's "time to
    /// connected" and "attempts started", also when the client fails.
    ///
    /// # Errors
    ///
    /// Building the lab, or [`NetLab::measure`]'s; the client's own error is in
    /// [`Measurement::remote`].
    pub fn measure<F, Fut, E>(self, client: F) -> io::Result<Measurement<E>>
    where
        F: FnOnce(ClientEnv) -> Fut + Send + 'static,
        Fut: Future<Output = Result<SocketAddr, E>> + 'static,
        E: Send + 'static,
    {
        let lab = self.lab()?;
        let env = lab.client_env(Self::NAME);
        lab.measure(move || client(env))
    }
}

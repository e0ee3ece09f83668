//! The RTT scenarios of the benchmark table, and timing one client in a [`NetLab`].

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::config::ResolverConfig;
use hickory_resolver::TokioResolver;

use super::{client_resolver, NetLab};
use crate::lab::RecordType;

/// How long [`NetLab::measure`] waits after the client connected before reading the SYN
/// counters, so that a SYN sent just before the win is counted.
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
}

/// One timed connect by [`NetLab::measure`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measurement {
    /// From calling the client to its connection being established (DNS included).
    pub connected_after: Duration,
    /// The address the client connected to.
    pub remote: SocketAddr,
    /// Connection attempts the client started (distinct SYN flows to the lab port seen by
    /// the delay line).
    pub attempts: usize,
}

impl NetLab {
    /// Runs `client` on the client thread and times it: the client connects and returns
    /// the peer address. The SYN counters are reset first.
    ///
    /// # Errors
    ///
    /// The client's error, or [`run_client`](Self::run_client)'s.
    pub fn measure<F, Fut>(&self, client: F) -> io::Result<Measurement>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = io::Result<SocketAddr>> + 'static,
    {
        self.reset_counters();
        let (remote, connected_after) = self.run_client(move || async move {
            let start = Instant::now();
            let remote = client().await;
            (remote, start.elapsed())
        })?;
        let remote = remote?;
        std::thread::sleep(SETTLE);
        Ok(Measurement {
            connected_after,
            remote,
            attempts: self.attempts(),
        })
    }
}

/// The RTT scenarios, each a [`NetLab`] serving the name [`Scenario::NAME`].
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

    /// Builds the scenario's lab.
    ///
    /// # Errors
    ///
    /// As [`NetLabBuilder::start`](super::NetLabBuilder::start).
    pub fn lab(self) -> io::Result<NetLab> {
        let ms = Duration::from_millis;
        let builder = NetLab::builder();
        let (builder, names) = match self {
            Scenario::ThreeAlive => (
                builder
                    .alive(v4(1), ms(80))
                    .alive(v4(2), ms(20))
                    .alive(v4(3), ms(150)),
                vec![v4(1), v4(2), v4(3)],
            ),
            Scenario::SlowIpv6 => (
                builder.alive(v6(1), ms(300)).alive(v4(1), ms(20)),
                vec![v6(1), v4(1)],
            ),
            Scenario::BlackholedIpv6 => (
                builder.blackholed(v6(1)).alive(v4(1), ms(40)),
                vec![v6(1), v4(1)],
            ),
            Scenario::LateAaaa => (
                builder
                    .alive(v6(1), ms(20))
                    .alive(v4(1), ms(20))
                    .dns_delay(RecordType::AAAA, ms(200)),
                vec![v6(1), v4(1)],
            ),
            Scenario::TwelveRecords => {
                let mut builder = builder;
                let mut names = Vec::new();
                for (n, rtt) in (1..).zip(TWELVE_RTTS_MS) {
                    builder = builder.alive(v4(n), ms(rtt));
                    names.push(v4(n));
                }
                (builder, names)
            }
        };
        builder.name(Self::NAME, names).start()
    }

    /// Builds the scenario's lab, times one connect of `client` to [`Scenario::NAME`] in
    /// it, and removes the lab: the benchmark table's "time to connected" and "attempts
    /// started".
    ///
    /// # Errors
    ///
    /// Building the lab, or the client's own error.
    pub fn measure<F, Fut>(self, client: F) -> io::Result<Measurement>
    where
        F: FnOnce(ClientEnv) -> Fut + Send + 'static,
        Fut: Future<Output = io::Result<SocketAddr>> + 'static,
    {
        let lab = self.lab()?;
        let env = lab.client_env(Self::NAME);
        lab.measure(move || client(env))
    }
}

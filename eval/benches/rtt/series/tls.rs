//! The TLS series: four TLS hosts of different RTTs under one name, each server taking
//! some work over every handshake; connie racing the handshake (`ConnieConnector::rustls`)
//! with its default schedule and with race-all, against a TLS connect straight to the
//! fastest host. Over TLS 1.3 (one round trip after TCP) and TLS 1.2 (two), with session
//! resumption off, so every connect is a full handshake.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use connie::{ConnieConnector, RustlsDialer, Schedule};
use connie_lab::netns::{ClientEnv, NetLab, Scenario};
use connie_lab::TlsIdentity;
use rustls::client::Resumption;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, SupportedProtocolVersion};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::{round, rows, Group, Row, Target};
use crate::bench::{measure, warm_up};
use connie_eval::clients::chain;
use connie_eval::goal::Assert;
use connie_eval::report::json_str;
use connie_eval::settings::Settings;
use connie_eval::BoxError;

/// The hosts' RTTs in ms, in DNS order (`192.0.2.1` to `.4`): the fastest is second.
pub(crate) const RTTS_MS: [u64; 4] = [40, 10, 80, 20];

/// The server work per handshake of the series that have some.
const WORK: Duration = Duration::from_millis(15);

/// A TLS version a series' clients are restricted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    Tls13,
    Tls12,
}

impl Version {
    fn label(self) -> &'static str {
        match self {
            Version::Tls13 => "TLS 1.3",
            Version::Tls12 => "TLS 1.2",
        }
    }

    fn rustls(self) -> &'static SupportedProtocolVersion {
        match self {
            Version::Tls13 => &rustls::version::TLS13,
            Version::Tls12 => &rustls::version::TLS12,
        }
    }
}

/// One TLS series: the version every client speaks, and the server work per handshake.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Series {
    version: Version,
    work: Duration,
}

impl Series {
    /// TLS 1.3 and TLS 1.2, each without and with [`WORK`].
    pub(crate) const ALL: [Series; 4] = [
        Series::new(Version::Tls13, Duration::ZERO),
        Series::new(Version::Tls13, WORK),
        Series::new(Version::Tls12, Duration::ZERO),
        Series::new(Version::Tls12, WORK),
    ];

    /// The smoke test's: the longer handshake, with work.
    pub(crate) const SMOKE: Series = Series::new(Version::Tls12, WORK);

    const fn new(version: Version, work: Duration) -> Series {
        Series { version, work }
    }
}

/// A TLS series' clients, in the order of its first round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsClient {
    /// `ConnieConnector::new().rustls(config)`: the default schedule (learned).
    Default,
    /// The same with `Schedule::race_all()`.
    RaceAll,
    /// TCP to the fastest host, then a TLS handshake with it.
    Oracle,
}

const CLIENTS: [TlsClient; 3] = [TlsClient::Default, TlsClient::RaceAll, TlsClient::Oracle];

impl TlsClient {
    fn label(self) -> &'static str {
        match self {
            TlsClient::Default => "connie default, .rustls",
            TlsClient::RaceAll => "connie race-all, .rustls",
            TlsClient::Oracle => "oracle (direct connect + TLS)",
        }
    }
}

/// A TLS client set up for the lab; clones share what the original holds (connie's
/// connector and what it learned).
#[derive(Clone)]
enum Prepared {
    Connie(Box<ConnieConnector<RustlsDialer>>),
    Oracle(SocketAddr, TlsConnector),
}

impl Prepared {
    /// Sets `client` up with `config`; call it on the client thread, where the resolver
    /// of connie's connector will run.
    fn new(
        client: TlsClient,
        env: &ClientEnv,
        config: ClientConfig,
        oracle: SocketAddr,
        s: &Settings,
    ) -> Prepared {
        // A caching resolver, as connie's default has, as in the base series.
        let connie = || {
            ConnieConnector::new()
                .resolver(env.caching_resolver())
                .total_timeout(Some(s.total_timeout))
        };
        match client {
            TlsClient::Default => Prepared::Connie(Box::new(connie().rustls(config))),
            TlsClient::RaceAll => Prepared::Connie(Box::new(
                connie().schedule(Schedule::race_all()).rustls(config),
            )),
            TlsClient::Oracle => Prepared::Oracle(oracle, TlsConnector::from(Arc::new(config))),
        }
    }

    /// Connects once to `name` (the oracle: to its address) and completes a TLS
    /// handshake, then closes the connection: the address connected to, or the error.
    async fn connect(self, name: &str, port: u16) -> Result<SocketAddr, String> {
        match self {
            Prepared::Connie(connector) => {
                let (stream, _) = connector
                    .connect((name, port))
                    .await
                    .map_err(|e| chain(&e))?;
                stream.tcp().peer_addr().map_err(|e| chain(&e))
            }
            Prepared::Oracle(addr, connector) => {
                let server = name.trim_end_matches('.').to_owned();
                let server = ServerName::try_from(server).map_err(|e| chain(&e))?;
                let tcp = TcpStream::connect(addr).await.map_err(|e| chain(&e))?;
                let tls = connector.connect(server, tcp).await;
                tls.map_err(|e| chain(&e))?
                    .get_ref()
                    .0
                    .peer_addr()
                    .map_err(|e| chain(&e))
            }
        }
    }
}

/// The series' client configuration: trusting the lab's CA, speaking `version` only, no
/// ALPN, no session resumption (every handshake a full one).
fn client_config(identity: &TlsIdentity, version: Version) -> Result<ClientConfig, BoxError> {
    let mut config = identity.client_config_with_versions(&[version.rustls()], &[])?;
    config.resumption = Resumption::disabled();
    Ok(config)
}

/// Host `n` (from 1) of the series: `192.0.2.n`.
fn host(n: usize) -> IpAddr {
    let n = u8::try_from(n).expect("a handful of hosts");
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))
}

/// How many connects each client makes: 50, or 3 in a smoke test.
fn connects(s: &Settings) -> usize {
    if s.smoke {
        3
    } else {
        50
    }
}

/// Builds the series' lab (its hosts' handshakes given the series' work) and runs its
/// rounds.
pub(crate) fn run(series: Series, s: &Settings) -> Result<Vec<Row>, BoxError> {
    let ms = Duration::from_millis;
    let hosts: Vec<(IpAddr, Duration)> = (1..).map(host).zip(RTTS_MS.map(ms)).collect();
    let mut builder = NetLab::builder().name(Scenario::NAME, hosts.iter().map(|&(ip, _)| ip));
    for &(ip, rtt) in &hosts {
        builder = builder.tls(ip, rtt);
    }
    let lab = builder.start()?;
    for &(ip, _) in &hosts {
        let tls = lab.tls(ip).ok_or("a TLS host of the lab")?;
        tls.set_handshake_work(series.work);
    }
    let identity = lab.tls_identity().ok_or("the lab's TLS identity")?;
    let config = client_config(identity, series.version)?;
    let (fastest, _) = *hosts.iter().min_by_key(|&&(_, rtt)| rtt).expect("hosts");
    let oracle = SocketAddr::new(fastest, lab.port());

    let env = lab.client_env(Scenario::NAME);
    warm_up(&lab, &env)?;
    let mut clients = Vec::new();
    for client in CLIENTS {
        let (env, config, s) = (env.clone(), config.clone(), *s);
        let made =
            lab.run_client(move || async move { Prepared::new(client, &env, config, oracle, &s) });
        clients.push(made.map_err(|e| format!("the lab failed: {}", chain(&e)))?);
    }

    let rtts: Vec<String> = RTTS_MS.iter().map(u64::to_string).collect();
    let label = format!(
        "{}, server work {} ms; 4 TLS hosts, RTT {} ms",
        series.version.label(),
        series.work.as_millis(),
        rtts.join("/")
    );
    let labels: Vec<String> = CLIENTS.iter().map(|c| c.label().to_owned()).collect();
    let oracle = (CLIENTS.iter().position(|&c| c == TlsClient::Oracle)).expect("an oracle");
    let mut rows = rows(Group::Tls, &label, &labels, oracle, connects(s));
    // Issue 20: a known TLS host costs one connection per connect (≤ 1.2), at the
    // oracle's time (≤ 1.1×).
    let default = (CLIENTS.iter().position(|&c| c == TlsClient::Default)).expect("connie");
    rows[default].target = Some(Target::Steady {
        ratio: Some(1.1),
        syns: Some(1.2),
        assert: Assert::Full,
    });
    let version = match series.version {
        Version::Tls13 => "1.3",
        Version::Tls12 => "1.2",
    };
    let hosts_json: Vec<String> = (hosts.iter())
        .map(|(ip, rtt)| {
            let ip = json_str(&ip.to_string());
            format!("{{\"ip\": {ip}, \"rtt_ms\": {}}}", rtt.as_millis())
        })
        .collect();
    let setup = format!(
        "\"tls_version\": {}, \"server_work_ms\": {}, \"session_resumption\": false, \"hosts\": [{}], \"oracle_host\": {}",
        json_str(version),
        series.work.as_millis(),
        hosts_json.join(", "),
        json_str(&fastest.to_string()),
    );
    for row in &mut rows {
        row.setup.clone_from(&setup);
    }
    for n in 0..connects(s) {
        round(&mut rows, n, |i| {
            let client = clients[i].clone();
            measure(&lab, &env, s, move |env| async move {
                client.connect(env.name(), env.port()).await
            })
        })?;
    }
    Ok(rows)
}

//! `--bursts`: many races by name to one cold host, and to many hosts at once (issue 25).
//!
//! ```text
//! cargo bench -p connie-eval --bench stress -- --bursts          # 1,000 races; 10,000 to 1,000 names
//! cargo bench -p connie-eval --bench stress -- --bursts 500 2000 # other sizes
//! ```
//!
//! **One cold host.** `races` connects at once to `burst.lab.test.`, a lab name of three
//! blackholed hosts and an alive one behind the lab's DNS server, on a current-thread
//! runtime (every race looks the name up and joins before the first has won), with three
//! connectors, interleaved, each new (cold) for its round: racing alone
//! (`coordinate(false)`), a cap of 16 attempts per host alone (`coordinate(false)
//! .attempts_per_host(16)`), and the default (coordination, no cap). A dialer that wraps the `TcpDialer`
//! counts the SYNs; the DNS server counts the queries. Goal: coordinated, at most
//! `races + 4` SYNs, and every race connects.
//!
//! **Many hosts.** `many` races to `many / 10` names (ten each), each name two alive hosts
//! through a `StaticResolver` (no DNS server: what is measured is the races' own work and
//! their locks), all spawned at once on a multi-thread runtime of 2, 4 and 8 workers, the
//! default connector against one with `coordinate(false)`, interleaved, two rounds each.
//! Throughput is races per second of wall time, from the first spawn to the last end. Goal
//! (printed, not asserted: a shared machine's wall time varies by more than the goal's
//! margin): coordinated, at least 0.9× the uncoordinated throughput at every size.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use connie::dns::StaticResolver;
use connie::{Connectivity, ConnieConnector};
use connie_lab::{Lab, RecordType};
use tokio::task::JoinSet;

use super::BoxError;
use counting::Counting;

/// connie's test dialer that counts dials, shared by path.
#[path = "../../../tests/support/counting.rs"]
#[allow(dead_code)]
mod counting;

/// Races at one cold host.
pub(crate) const RACES: usize = 1_000;
/// Races to many hosts, ten per name.
pub(crate) const MANY: usize = 10_000;

/// How the connectors of a run are set.
#[derive(Debug, Clone, Copy)]
enum Setting {
    Alone,
    CapOnly,
    Coordinated,
}

impl Setting {
    fn connector(self) -> ConnieConnector {
        let connector = ConnieConnector::new().connectivity(Connectivity::Assume);
        match self {
            Setting::Alone => connector.coordinate(false),
            Setting::CapOnly => connector.coordinate(false).attempts_per_host(16),
            Setting::Coordinated => connector,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Setting::Alone => "racing alone",
            Setting::CapOnly => "a cap of 16 per host alone",
            Setting::Coordinated => "coordinated (default)",
        }
    }
}

pub(crate) fn main(races: usize, many: usize) -> Result<(), BoxError> {
    println!(
        "\n## Bursts: {races} races to one cold host; {many} to {} hosts",
        many / 10
    );
    let one = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(one_host(races))?;
    self::many(many)?;
    if !one {
        return Err("a goal was missed".into());
    }
    Ok(())
}

/// The cold burst to one host; whether its goal is met.
async fn one_host(races: usize) -> Result<bool, BoxError> {
    let ip = |s: &str| s.parse::<IpAddr>().expect("a loopback address");
    let lab = Lab::builder()
        .blackholed(ip("127.0.30.1"))
        .blackholed(ip("127.0.30.2"))
        .blackholed(ip("127.0.30.3"))
        .alive(ip("127.0.30.4"))
        .build()
        .await?;
    println!("\n| connector | SYNs | followed | DNS queries (A + AAAA) | median | p99 | slowest |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut coordinated_syns = 0;
    for setting in [Setting::Alone, Setting::CapOnly, Setting::Coordinated] {
        let dns = lab.dns("burst").start().await?;
        let counting = Counting::default();
        let connector = setting
            .connector()
            .resolver(dns.resolver())
            .with_dialer(counting.clone());
        let port = lab.port();
        let mut running = JoinSet::new();
        for _ in 0..races {
            let connector = connector.clone();
            running.spawn(async move {
                let (stream, info) = connector.connect(("burst.lab.test.", port)).await?;
                drop(stream);
                Ok::<_, connie::ConnectError>((info.elapsed(), info.followed()))
            });
        }
        let (mut times, mut followed) = (Vec::new(), 0);
        while let Some(ended) = running.join_next().await {
            let (elapsed, follower) = ended??;
            times.push(elapsed);
            followed += usize::from(follower);
        }
        times.sort();
        let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
        let queries = dns.queries(RecordType::A) + dns.queries(RecordType::AAAA);
        println!(
            "| {} | {} | {followed} | {queries} | {:.2} ms | {:.2} ms | {:.2} ms |",
            setting.name(),
            counting.total(),
            ms(at(0.5)),
            ms(at(0.99)),
            ms(at(1.0)),
        );
        if let Setting::Coordinated = setting {
            coordinated_syns = counting.total();
        }
    }
    let met = coordinated_syns <= races + 4;
    println!(
        "\ngoal: a cold burst of {races} sends at most {} SYNs, coordinated: {coordinated_syns}, {}",
        races + 4,
        if met { "met" } else { "MISSED" }
    );
    Ok(met)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The races to many hosts, on 2, 4 and 8 workers.
fn many(races: usize) -> Result<(), BoxError> {
    println!("\n| workers | coordinated (default) | `coordinate(false)` | ratio |");
    println!("|---:|---:|---:|---:|");
    let mut worst: f64 = f64::INFINITY;
    for workers in [2, 4, 8] {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()?;
        let best = runtime.block_on(many_on(races))?;
        let ratio = best[0] / best[1];
        worst = worst.min(ratio);
        println!(
            "| {workers} | {:.0} races/s | {:.0} races/s | {ratio:.2}× |",
            best[0], best[1]
        );
    }
    println!(
        "\ngoal (printed, not asserted): coordinated throughput at least 0.9× uncoordinated on 2, 4 and 8 workers: worst {worst:.2}×, {}",
        if worst >= 0.9 { "met" } else { "MISSED" }
    );
    Ok(())
}

/// Two rounds of each connector on this runtime: the best races per second of each,
/// coordinated first.
async fn many_on(races: usize) -> Result<[f64; 2], BoxError> {
    let names = (races / 10).max(1);
    // Two alive hosts for every name: a cold race has two addresses to race, so it probes
    // or follows. The lab runs on this runtime, so its hosts accept as the races connect.
    let lab = Lab::builder()
        .alive("127.0.31.1".parse()?)
        .alive("127.0.31.2".parse()?)
        .build()
        .await?;
    let ips: Vec<IpAddr> = lab.addrs().iter().map(SocketAddr::ip).collect();
    let resolver = (0..names).fold(StaticResolver::new(), |r, n| {
        r.host(&format!("host{n}.test"), ips.iter().copied())
    });
    let mut best = [0f64; 2];
    for _ in 0..2 {
        for (i, setting) in [Setting::Coordinated, Setting::Alone]
            .into_iter()
            .enumerate()
        {
            let connector = setting.connector().resolver(resolver.clone());
            let rate = throughput(connector, races, names, lab.port()).await?;
            best[i] = best[i].max(rate);
        }
    }
    Ok(best)
}

/// `races` races to `names` names at once, each cold: races per second.
async fn throughput(
    connector: ConnieConnector,
    races: usize,
    names: usize,
    port: u16,
) -> Result<f64, BoxError> {
    let start = Instant::now();
    let mut running = JoinSet::new();
    for race in 0..races {
        let connector = connector.clone();
        let name = format!("host{}.test", race % names);
        running.spawn(async move {
            let (stream, _) = connector.connect((name.as_str(), port)).await?;
            drop(stream);
            Ok::<_, connie::ConnectError>(())
        });
    }
    while let Some(ended) = running.join_next().await {
        ended??;
    }
    Ok(races as f64 / start.elapsed().as_secs_f64())
}

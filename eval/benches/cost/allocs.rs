//! Allocations per connect: one address (an alive listener), and four (three refused, then
//! the alive one).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use connie::ConnieConnector;
use connie_eval::goal::{Assert, Goal};
use connie_lab::{DnsServer, Lab};
use tokio::runtime::Runtime;

use crate::alloc::{self, Allocated};
use crate::clients::{close, Client, Clients};
use crate::servers::Sink;
use crate::table::{self, dec1, int, ratio};
use crate::{BoxError, Settings};

const ONE: [Client; 6] = [
    Client::Raw,
    Client::Ideal,
    Client::Hyper,
    Client::RaceAddr,
    Client::RaceSlice,
    Client::Connector,
];

const FOUR: [Client; 4] = [
    Client::Ideal,
    Client::Hyper,
    Client::RaceSlice,
    Client::Connector,
];

/// Most allocations per connect of `race_connect(SocketAddr)`: issue 12's goal.
const MAX_ALLOCATIONS: f64 = 3.0;

/// Both tables, and issue 12's goal on the first: `race_connect(SocketAddr)` makes at most
/// 3 allocations per connect. Asserted in every run: a count, the same unoptimized.
pub(crate) fn run(
    s: &Settings,
    client_rt: &Runtime,
    lab_rt: &Runtime,
) -> Result<Vec<Goal>, BoxError> {
    let sink = Sink::start(&[IpAddr::V4(Ipv4Addr::LOCALHOST)], 1)?;
    let one = Clients::new(
        &[sink.addr(Ipv4Addr::LOCALHOST.into())],
        ConnieConnector::new(),
    );
    let rows = client_rt.block_on(measure(s, &one, &ONE))?;
    let raw = rows[0].1;
    let (_, (allocations, _)) = *(rows.iter())
        .find(|(client, _)| *client == Client::RaceAddr)
        .expect("race_connect(SocketAddr) is measured");
    let goal = Goal::new(
        format!("allocations per connect, `race_connect(SocketAddr)`: ≤ {MAX_ALLOCATIONS}"),
        dec1(allocations),
        allocations <= MAX_ALLOCATIONS,
        Assert::Always,
    );
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|&(client, measured)| row(client.label(1), measured, raw))
        .collect();
    table::print(
        &format!(
            "## Allocations per connect, one SocketAddr (alive 127.0.0.1 listener; {} connects × {} rounds, median round)",
            s.alloc_connects, s.rounds
        ),
        &["client", "allocations", "× raw", "bytes allocated", "× raw"],
        &lines,
    );
    drop(sink);

    let v4 = |last| IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
    let lab = lab_rt.block_on(
        Lab::builder()
            .refused(v4(2))
            .refused(v4(3))
            .refused(v4(4))
            .alive(v4(5))
            .build(),
    )?;
    // History off, so that every connect races all four; `race_connect` has its
    // process-wide history, so from its second connect on it dials the alive one alone.
    let four = Clients::new(&lab.addrs(), ConnieConnector::new().history(0));
    let rows = client_rt.block_on(measure(s, &four, &FOUR))?;
    let ideal = rows[0].1;
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|&(client, measured)| {
            let mut label = client.label(4);
            match client {
                Client::RaceSlice => label.push_str(" (learned: alive one alone)"),
                Client::Connector => label.push_str(", history(0) (all four raced)"),
                Client::Hyper => label.push_str(" (one after another)"),
                _ => {}
            }
            row(label, measured, ideal)
        })
        .collect();
    table::print(
        &format!(
            "## Allocations per connect, 4 addresses: 3 refused then 1 alive (127.0.0.2–5; {} connects × {} rounds, median round)",
            s.alloc_connects, s.rounds
        ),
        &["client", "allocations", "× ideal", "bytes allocated", "× ideal"],
        &lines,
    );
    Ok(vec![goal])
}

/// A table row: `label`, then the allocations and bytes `measured`, each with its ratio to
/// `base`'s.
fn row(label: String, (allocs, bytes): (f64, f64), base: (f64, f64)) -> Vec<String> {
    vec![
        label,
        dec1(allocs),
        ratio(allocs, base.0),
        int(bytes),
        ratio(bytes, base.1),
    ]
}

/// Per client: the median over rounds of the mean allocations and bytes per connect.
async fn measure(
    s: &Settings,
    clients: &Clients,
    order: &[Client],
) -> Result<Vec<(Client, (f64, f64))>, BoxError> {
    let mut per: Vec<(Vec<f64>, Vec<f64>)> = vec![Default::default(); order.len()];
    for round in 0..s.rounds {
        for i in 0..order.len() {
            // Round robin, starting one further each round.
            let i = (i + round) % order.len();
            let client = order[i];
            for _ in 0..s.warm_up {
                close(clients.connect(client).await?);
            }
            let mut total = Allocated::default();
            for _ in 0..s.alloc_connects {
                let connect = clients.connect(client);
                let (stream, counted) = alloc::count(connect).await;
                close(stream?);
                total.allocations += counted.allocations;
                total.bytes += counted.bytes;
            }
            let n = s.alloc_connects as f64;
            per[i].0.push(total.allocations as f64 / n);
            per[i].1.push(total.bytes as f64 / n);
        }
    }
    Ok(order
        .iter()
        .zip(per)
        .map(|(&c, (a, b))| (c, (table::median(&a), table::median(&b))))
        .collect())
}

/// One connect of each kind with a backtrace of every allocation it makes (stderr): for
/// `--trace-allocations`.
pub(crate) fn trace(client_rt: &Runtime, lab_rt: &Runtime) -> Result<(), BoxError> {
    let v4 = |last| IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
    let lab = lab_rt.block_on(
        Lab::builder()
            .refused(v4(2))
            .refused(v4(3))
            .refused(v4(4))
            .alive(v4(5))
            .build(),
    )?;
    // A second lab (another port), whose addresses `race_connect`'s history has never seen.
    let fresh = lab_rt.block_on(
        Lab::builder()
            .refused(v4(2))
            .refused(v4(3))
            .refused(v4(4))
            .alive(v4(5))
            .build(),
    )?;
    let addrs = lab.addrs();
    let alive: SocketAddr = addrs[3];
    let one = Clients::new(&[alive], ConnieConnector::new());
    let four = Clients::new(&addrs, ConnieConnector::new().history(0));
    let first = Clients::new(&fresh.addrs(), ConnieConnector::new());
    client_rt.block_on(async {
        // Warm up: the process connector, the source-address cache, tokio's driver.
        for _ in 0..3 {
            close(one.connect(Client::RaceAddr).await?);
            close(four.connect(Client::Connector).await?);
        }
        for (what, clients, client) in [
            ("race_connect(SocketAddr), warm", &one, Client::RaceAddr),
            (
                "ConnieConnector::new().history(0).connect(&[3 refused, alive][..])",
                &four,
                Client::Connector,
            ),
            (
                "race_connect(&[3 refused, alive][..]), first connect to these addresses",
                &first,
                Client::RaceSlice,
            ),
            ("tokio TcpStream::connect(addr)", &one, Client::Raw),
        ] {
            eprintln!("\n######## {what}");
            let connect = clients.connect(client);
            alloc::trace(true);
            let (stream, counted) = alloc::count(connect).await;
            alloc::trace(false);
            close(stream?);
            eprintln!(
                "######## {what}: {} allocations, {} bytes",
                counted.allocations, counted.bytes
            );
            println!(
                "{what}: {} allocations, {} bytes",
                counted.allocations, counted.bytes
            );
        }
        Ok::<_, BoxError>(())
    })?;
    // By name, both families in a warm cache of a resolver of the lab's DNS server, the
    // history knowing the host: what a warm connect by name allocates.
    let (v4, v6) = (0..64)
        .find_map(|_| {
            let v4 = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
            let port = v4.local_addr().ok()?.port();
            let v6 = std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, port)).ok()?;
            Some((v4, v6))
        })
        .ok_or("no port free on both loopbacks")?;
    let port = v4.local_addr()?.port();
    let dns = lab_rt.block_on(
        DnsServer::builder()
            .host(
                "warm.lab.test.",
                [Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()],
            )
            .start(),
    )?;
    let mut opts = DnsServer::resolver_opts();
    opts.cache_size = 64;
    opts.positive_min_ttl = Some(std::time::Duration::from_secs(3600));
    let connector = ConnieConnector::new().resolver(dns.try_resolver_with(opts)?);
    client_rt.block_on(async {
        for _ in 0..5 {
            let (stream, _) = connector.connect(("warm.lab.test.", port)).await?;
            close(stream);
        }
        eprintln!("\n######## connect by name, warm");
        alloc::trace(true);
        let (result, counted) = alloc::count(connector.connect(("warm.lab.test.", port))).await;
        alloc::trace(false);
        close(result?.0);
        println!(
            "connect by name, warm: {} allocations, {} bytes",
            counted.allocations, counted.bytes
        );
        Ok::<_, BoxError>(())
    })?;
    drop((v4, v6, dns));
    drop((lab, fresh));
    Ok(())
}

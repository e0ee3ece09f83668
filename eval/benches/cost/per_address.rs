//! What each more address costs a race, from 16 to 64 addresses: refused ones and the alive
//! one last (success), or only refused ones (failure).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use connie::ConnieConnector;
use connie_lab::{HostKind, Lab};
use tokio::runtime::Runtime;

use crate::alloc;
use crate::clients::{close, ideal};
use crate::table::{self, dec1};
use crate::{BoxError, Settings};

/// The two list lengths compared.
const SIZES: [usize; 2] = [16, 64];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Connie,
    Ideal,
}

/// The connector measured: every address at once, none dropped, and no history (so that
/// every connect races every address, as the first connect to a host does).
pub(crate) fn connector() -> ConnieConnector {
    ConnieConnector::new()
        .max_addresses(64)
        .max_concurrent(64)
        .history(0)
}

/// 64 refused hosts on 127.0.2.1–64 and an alive one on 127.0.2.65, on one port.
pub(crate) async fn lab() -> std::io::Result<Lab> {
    let ip = |last| IpAddr::V4(Ipv4Addr::new(127, 0, 2, last));
    (1..=64)
        .fold(Lab::builder(), |b, i| b.refused(ip(i)))
        .alive(ip(65))
        .build()
        .await
}

/// The list of `n` addresses: `n - 1` refused and the alive one last, or `n` refused.
pub(crate) fn list(lab: &Lab, n: usize, success: bool) -> Vec<SocketAddr> {
    let refused = lab.addrs_of(HostKind::Refused);
    if success {
        let mut list = refused[..n - 1].to_vec();
        list.extend(lab.addrs_of(HostKind::Alive));
        list
    } else {
        refused[..n].to_vec()
    }
}

pub(crate) fn run(s: &Settings, client_rt: &Runtime, lab_rt: &Runtime) -> Result<(), BoxError> {
    let lab = lab_rt.block_on(lab())?;
    let connector = connector();
    let mut rows = Vec::new();
    client_rt.block_on(async {
        for success in [true, false] {
            for who in [Who::Connie, Who::Ideal] {
                // Per size: (µs, allocations) per connect, one value per round.
                let mut us: Vec<Vec<f64>> = vec![Vec::new(); SIZES.len()];
                let mut allocs: Vec<Vec<f64>> = vec![Vec::new(); SIZES.len()];
                for round in 0..s.rounds {
                    for j in 0..SIZES.len() {
                        let j = (j + round) % SIZES.len();
                        let addrs = list(&lab, SIZES[j], success);
                        let (t, a) = measure(s, who, &connector, &addrs, success).await?;
                        us[j].push(t);
                        allocs[j].push(a);
                    }
                }
                let med = |v: &[Vec<f64>]| [table::median(&v[0]), table::median(&v[1])];
                let (t, a) = (med(&us), med(&allocs));
                let per = (SIZES[1] - SIZES[0]) as f64;
                rows.push(vec![
                    match who {
                        Who::Connie => "ConnieConnector (max 64/64, history off)".to_owned(),
                        Who::Ideal => "FuturesUnordered (ideal racer)".to_owned(),
                    },
                    if success {
                        "success (alive last)"
                    } else {
                        "failure (all refused)"
                    }
                    .to_owned(),
                    dec1(t[0]),
                    dec1(t[1]),
                    format!("{:.2}", (t[1] - t[0]) / per),
                    dec1(a[0]),
                    dec1(a[1]),
                    format!("{:.2}", (a[1] - a[0]) / per),
                ]);
            }
        }
        Ok::<_, BoxError>(())
    })?;
    drop(lab);
    table::print(
        &format!(
            "## Cost per address, 16 → 64 addresses (127.0.2.x, refused = RST; {} connects × {} rounds, median round)",
            s.per_address_connects, s.rounds
        ),
        &[
            "client",
            "path",
            "µs @16",
            "µs @64",
            "µs per address",
            "allocs @16",
            "allocs @64",
            "allocs per address",
        ],
        &rows,
    );
    println!();
    println!("per address: (value at 64 − value at 16) ÷ 48. Wall time on one current-thread runtime, the lab's hosts on another thread; instruction counts per address are in `cargo bench -p connie-eval --bench instructions`.");
    Ok(())
}

/// Mean wall time (µs) and allocations of one connect to `addrs`.
async fn measure(
    s: &Settings,
    who: Who,
    connector: &ConnieConnector,
    addrs: &[SocketAddr],
    success: bool,
) -> Result<(f64, f64), BoxError> {
    let connect = || async {
        match who {
            Who::Connie => connector
                .connect(addrs)
                .await
                .map(|(stream, _)| stream)
                .map_err(std::io::Error::from),
            Who::Ideal => ideal(addrs).await,
        }
    };
    for _ in 0..s.warm_up {
        if let Ok(stream) = connect().await {
            close(stream);
        }
    }
    let mut allocations = 0;
    let start = Instant::now();
    for _ in 0..s.per_address_connects {
        let (result, counted) = alloc::count(connect()).await;
        allocations += counted.allocations;
        match (result, success) {
            (Ok(stream), true) => close(stream),
            (Err(_), false) => {}
            (Ok(_), false) => return Err("connected to a refused address".into()),
            (Err(e), true) => return Err(e.into()),
        }
    }
    let n = s.per_address_connects as f64;
    Ok((
        start.elapsed().as_secs_f64() * 1e6 / n,
        allocations as f64 / n,
    ))
}

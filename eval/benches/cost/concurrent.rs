//! Wall and CPU time of many connects started at once, on a multi-thread runtime.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connie::ConnieConnector;
use connie_eval::goal::{Assert, Goal};

use crate::clients::{close, Client, Clients};
use crate::servers::{cpu_of, thread_id, Sink};
use crate::table::{self, dec1, int, ratio};
use crate::{BoxError, Settings};

const CLIENTS: [Client; 3] = [Client::Raw, Client::RaceAddr, Client::Hyper];
/// Listeners sharing the port (`SO_REUSEPORT`), so that their accept queues together hold
/// every connect of a round even if the accept threads fall behind.
const LISTENERS: usize = 3;
/// Pause between rounds, for the accept threads to catch up.
const PAUSE: Duration = Duration::from_millis(100);

/// Issue 12's goal: `race_connect(SocketAddr)`'s wall time at most this many times raw
/// tokio's.
const MAX_RATIO: f64 = 1.05;

/// The table, and issue 12's goal on it (printed only: the noisiest measure).
pub(crate) fn run(s: &Settings) -> Result<Vec<Goal>, BoxError> {
    let sink = Sink::start(&[IpAddr::V4(Ipv4Addr::LOCALHOST)], LISTENERS)?;
    let tids = Arc::new(Mutex::new(vec![thread_id().unwrap_or(0)]));
    let runtime = {
        let tids = Arc::clone(&tids);
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .on_thread_start(move || {
                if let Some(tid) = thread_id() {
                    tids.lock().expect("tids").push(tid);
                }
            })
            .build()?
    };
    let clients = Clients::new(
        &[sink.addr(Ipv4Addr::LOCALHOST.into())],
        ConnieConnector::new(),
    );
    let n = s.concurrent;
    let overflows = listen_overflows();
    let mut wall: Vec<Vec<f64>> = vec![Vec::new(); CLIENTS.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); CLIENTS.len()];
    runtime.block_on(async {
        // Warm up: every client once, a tenth of a round each.
        for client in CLIENTS {
            round(&clients, client, n / 10 + 1, &tids).await?;
        }
        for r in 0..s.concurrent_rounds {
            for i in 0..CLIENTS.len() {
                let i = (i + r) % CLIENTS.len();
                let (w, c) = round(&clients, CLIENTS[i], n, &tids).await?;
                wall[i].push(w.as_secs_f64() * 1e3);
                cpu[i].push(c.map_or(f64::NAN, |c| c.as_secs_f64() * 1e3));
                tokio::time::sleep(PAUSE).await;
            }
        }
        Ok::<_, BoxError>(())
    })?;
    drop(runtime);
    drop(sink);
    let overflows = listen_overflows().zip(overflows).map_or_else(
        || "unknown".to_owned(),
        |(end, start)| (end - start).to_string(),
    );

    let raw_wall = table::median(&wall[0]);
    let raw_cpu = table::median(&cpu[0]);
    let race = CLIENTS.iter().position(|&c| c == Client::RaceAddr);
    let race_wall = table::median(&wall[race.expect("race_connect is measured")]);
    let goal = Goal::new(
        format!(
            "wall time of {} concurrent connects, `race_connect(SocketAddr)`: ≤ {MAX_RATIO}× raw",
            int(s.concurrent as f64)
        ),
        ratio(race_wall, raw_wall),
        race_wall <= MAX_RATIO * raw_wall,
        Assert::Never("the noisiest measure; 1.02× in the recorded run"),
    );
    let rows: Vec<Vec<String>> = CLIENTS
        .iter()
        .enumerate()
        .map(|(i, client)| {
            let (w, c) = (table::median(&wall[i]), table::median(&cpu[i]));
            let ratios: Vec<f64> = wall[i].iter().zip(&wall[0]).map(|(a, b)| a / b).collect();
            vec![
                client.label(1),
                dec1(w),
                ratio(w, raw_wall),
                format!("{:.2}×", table::median(&ratios)),
                dec1(c),
                ratio(c, raw_cpu),
            ]
        })
        .collect();
    table::print(
        &format!(
            "## Wall time of {} concurrent connects (one task each, 2 worker threads, alive 127.0.0.1; {} rounds, round robin, median)",
            int(n as f64),
            s.concurrent_rounds
        ),
        &["client", "wall ms", "× raw", "median of per-round × raw", "client CPU ms", "× raw"],
        &rows,
    );
    println!();
    println!("wall: spawning the tasks until the last connect is in. client CPU: the runtime's threads and the main thread, from /proc/self/task/*/schedstat; the server's accept threads are left out, but the kernel's work for both ends of a loopback handshake mostly runs in the connecting thread, so it is in. The server closes each connection (FIN) as it accepts it; the client streams are closed with SO_LINGER 0 after each round, so no TIME_WAIT is left. Listen queue overflows (dropped SYNs, /proc/net/netstat) during this measure: {overflows}.");
    Ok(vec![goal])
}

/// `n` connects at once; the wall time until all are in, and the CPU time of `tids`.
async fn round(
    clients: &Clients,
    client: Client,
    n: usize,
    tids: &Mutex<Vec<u32>>,
) -> Result<(Duration, Option<Duration>), BoxError> {
    let tids = tids.lock().expect("tids").clone();
    let cpu = cpu_of(&tids);
    let start = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| tokio::spawn(clients.connect(client)))
        .collect();
    let mut streams = Vec::with_capacity(n);
    for task in tasks {
        streams.push(task.await??);
    }
    let wall = start.elapsed();
    let cpu = cpu_of(&tids).zip(cpu).map(|(end, start)| end - start);
    streams.into_iter().for_each(close);
    Ok((wall, cpu))
}

/// `TcpExt: ListenOverflows` from `/proc/net/netstat`: connects whose SYN or ACK a full
/// accept queue dropped (each would cost the client a retransmission, a second or more).
fn listen_overflows() -> Option<u64> {
    let netstat = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    let i = names
        .split_whitespace()
        .position(|n| n == "ListenOverflows")?;
    values.split_whitespace().nth(i)?.parse().ok()
}

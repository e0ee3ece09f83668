//! The run: every scenario's lab, every client measured in it, and the report.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use connie::lab::netns::{self, ClientEnv, NetLab, Scenario};

use crate::clients;
use crate::common::clients::{chain, Client, CLIENTS};
use crate::common::report::{self, Cell, Run, CELL_BUDGET};
use crate::common::settings::Settings;
use crate::common::BoxError;

pub(crate) fn main() -> Result<(), BoxError> {
    let s = Settings::from_env("cargo bench --features netlab --bench rtt", false);
    if let Err(reason) = netns::available() {
        println!("skipped: {reason}");
        return Ok(());
    }
    let started = Instant::now();
    let date = report::utc_now();
    let scenarios = if s.smoke {
        &Scenario::ALL[..1]
    } else {
        &Scenario::ALL[..]
    };
    let mut cells = Vec::new();
    for &scenario in scenarios {
        cells.extend(run_scenario(scenario, &s)?);
    }
    let wall = started.elapsed();

    let title = "connie rtt: seconds to a connected socket (network-namespace lab, real RTTs)";
    print!("{}", report::header(title, &s, &date));
    println!();
    print!("{}", report::table(&cells, &s));
    println!();
    println!("seconds: median time to a connected socket (DNS included, except for the oracle); FAIL: the error in notes, after that many seconds; TIMEOUT: hit the cap.");
    println!("× oracle: median ÷ the oracle's median in the same scenario. attempts: connections started (distinct SYN flows seen by the delay line), min–max over runs.");
    println!(
        "runs: measurements made; a cell stops after a failure, a timeout, or {} s of runs. notes: the address connected to.",
        CELL_BUDGET.as_secs()
    );
    println!("RTT: a connect to a host takes its RTT (the delay line holds each packet half of it each way); the lab's DNS answers at once (but a late AAAA where the scenario says so).");
    println!("tokio and hyper-util connect to the lab's addresses in DNS order once the lab's DNS answered both A and AAAA, as getaddrinfo does. oracle: the host that connected first when all were tried at once.");
    report::finish("rtt", &cells, &s, &date, wall)
}

/// Builds the scenario's lab, measures every client in it, then removes it.
fn run_scenario(scenario: Scenario, s: &Settings) -> Result<Vec<Cell>, BoxError> {
    let lab = scenario.lab()?;
    let env = lab.client_env(Scenario::NAME);
    // Untimed, so that no client pays for them: find the oracle's host, and a first query
    // to the DNS server.
    let oracle = clients::fastest_host(&lab, &env)?;
    let first = env.clone();
    lab.run_client(move || async move {
        let lookup = first.resolver().ipv4_lookup(first.name()).await;
        lookup.map(drop).map_err(|e| e.to_string())
    })??;

    let mut cells = Vec::new();
    for client in CLIENTS {
        let mut runs = Vec::new();
        let cell_start = Instant::now();
        while runs.len() < s.runs {
            let run = measure(&lab, &env, client, oracle, s)?;
            let stop = !matches!(run, Run::Ok { .. });
            runs.push(run);
            if stop || cell_start.elapsed() >= CELL_BUDGET {
                break;
            }
        }
        let cell = Cell {
            scenario: scenario.label(),
            client,
            counted: true,
            runs,
        };
        let result = report::seconds_cell(&cell, s);
        eprintln!("{} / {}: {result}", scenario.label(), client.label());
        cells.push(cell);
    }
    Ok(cells)
}

/// Why a measured client did not connect.
#[derive(Debug)]
enum Ended {
    Failed { after: Duration, error: String },
    Capped,
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ended::Failed { after, error } => write!(f, "failed after {after:?}: {error}"),
            Ended::Capped => f.write_str("hit the cap"),
        }
    }
}

impl std::error::Error for Ended {}

/// One timed connect of `client` in the client namespace; an error only if the lab failed.
fn measure(
    lab: &NetLab,
    env: &ClientEnv,
    client: Client,
    oracle: SocketAddr,
    s: &Settings,
) -> Result<Run, BoxError> {
    let (env, cap, total_timeout) = (env.clone(), s.cap, s.total_timeout);
    let measured = lab.measure(move || async move {
        let start = Instant::now();
        let connect = clients::connect(client, &env, oracle, total_timeout);
        match tokio::time::timeout(cap, connect).await {
            Ok(Ok(stream)) => stream.peer_addr(),
            Ok(Err(error)) => Err(io::Error::other(Ended::Failed {
                after: start.elapsed(),
                error,
            })),
            Err(_) => Err(io::Error::other(Ended::Capped)),
        }
    });
    let error = match measured {
        Ok(m) => {
            return Ok(Run::Ok {
                secs: m.connected_after.as_secs_f64(),
                attempts: Some(m.attempts),
                remote: Some(m.remote),
            })
        }
        Err(error) => error,
    };
    // The counters still hold this run's attempts: `measure` resets them before it starts.
    let attempts = Some(lab.attempts());
    match error.get_ref().and_then(|e| e.downcast_ref::<Ended>()) {
        Some(Ended::Failed { after, error }) => Ok(Run::Failed {
            secs: after.as_secs_f64(),
            attempts,
            error: error.clone(),
        }),
        Some(Ended::Capped) => Ok(Run::Timeout { attempts }),
        None => Err(format!("the lab failed: {}", chain(&error)).into()),
    }
}

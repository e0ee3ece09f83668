//! The run: every scenario's lab, every client measured in it, and the report.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Instant;

use connie_lab::netns::{self, ClientEnv, NetLab, Scenario};

use crate::series::{self, Group};
use connie_eval::clients::{chain, Client, Prepared, CLIENTS};
use connie_eval::report::{self, Cell, Run, CELL_BUDGET};
use connie_eval::settings::Settings;
use connie_eval::BoxError;

pub(crate) fn main() -> Result<(), BoxError> {
    let groups = Group::from_args()?;
    // The series' scenarios take long and their times are tens of milliseconds: quick
    // mode runs them at once.
    let s = Settings::from_env("cargo bench -p connie-eval --bench rtt", groups.is_some());
    if let Err(reason) = netns::available() {
        println!("skipped: {reason}");
        return Ok(());
    }
    match groups {
        Some(groups) if !s.smoke => series::main(&groups, &s),
        _ => table(&s),
    }
}

/// The table: every scenario once per client and run, each run with a fresh client.
fn table(s: &Settings) -> Result<(), BoxError> {
    let started = Instant::now();
    let date = report::utc_now();
    let scenarios = if s.smoke {
        &Scenario::ALL[..1]
    } else {
        &Scenario::ALL[..]
    };
    let mut cells = Vec::new();
    for &scenario in scenarios {
        cells.extend(run_scenario(scenario, s)?);
    }
    let mut failures = report::failures(&cells, s);
    // The smoke test runs the series code too: a few connects of a few series, at once.
    let rows = if s.smoke {
        let at_once = Settings {
            parallel: true,
            ..*s
        };
        series::run(&series::smoke_jobs(), &at_once)?
    } else {
        Vec::new()
    };
    failures.extend(series::report::failures(&rows));
    let wall = started.elapsed();

    let title = "connie rtt: seconds to a connected socket (network-namespace lab, real RTTs)";
    print!("{}", report::header(title, s, &date));
    println!();
    print!("{}", report::table(&cells, s));
    println!();
    println!("seconds: median time to a connected socket (DNS included, except for the oracle and connie's \"addresses without DNS\" row); FAIL: the error in notes, after that many seconds; TIMEOUT: hit the cap.");
    println!("× oracle: median ÷ the oracle's median in the same scenario. attempts: connections started (distinct SYN flows seen by the delay line), min–max over runs.");
    println!(
        "runs: measurements made; a cell stops after a failure, a timeout, or {} s of runs. notes: the address connected to.",
        CELL_BUDGET.as_secs()
    );
    println!("RTT: a connect to a host takes its RTT (the delay line holds each packet half of it each way); the lab's DNS answers at once (but a late AAAA where the scenario says so).");
    println!("tokio and hyper-util connect to the lab's addresses in DNS order once the lab's DNS answered both A and AAAA, as getaddrinfo does. oracle: the alive host with the lowest RTT (the first in DNS order on a tie).");
    if !rows.is_empty() {
        print!("{}", series::report::tables(&rows, s, &date));
    }
    let goals = series::report::goals(&rows);
    let json = || report::json(&report::json_results(&cells, s), s, &date, wall);
    report::finish("rtt", &failures, &goals, json, s, wall)
}

/// Builds the scenario's lab, measures every client in it, then removes it.
fn run_scenario(scenario: Scenario, s: &Settings) -> Result<Vec<Cell>, BoxError> {
    let lab = scenario.lab()?;
    let env = lab.client_env(Scenario::NAME);
    let oracle = scenario
        .fastest_alive()
        .map(|ip| SocketAddr::new(ip, lab.port()))
        .ok_or_else(|| format!("{}: no alive host for the oracle", scenario.label()))?;
    warm_up(&lab, &env)?;

    let mut cells = Vec::new();
    for client in CLIENTS {
        let mut runs = Vec::new();
        let cell_start = Instant::now();
        while runs.len() < s.runs {
            // A fresh client for every run.
            let run = measure_tcp(&lab, &env, prepare(&lab, &env, client, oracle, s)?, s)?;
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
        eprintln!("{} / {}: {result}", scenario.label(), client.label(s));
        cells.push(cell);
    }
    Ok(cells)
}

/// A first query to the lab's DNS server, untimed, so that no client pays for it.
pub(crate) fn warm_up(lab: &NetLab, env: &ClientEnv) -> Result<(), BoxError> {
    let env = env.clone();
    lab.run_client(move || async move {
        let lookup = env.resolver().ipv4_lookup(env.name()).await;
        lookup.map(drop).map_err(|e| e.to_string())
    })??;
    Ok(())
}

/// Sets `client` up on the client thread, untimed.
pub(crate) fn prepare(
    lab: &NetLab,
    env: &ClientEnv,
    client: Client,
    oracle: SocketAddr,
    s: &Settings,
) -> Result<Prepared, BoxError> {
    let (env, s) = (env.clone(), *s);
    let prepared =
        lab.run_client(move || async move { crate::clients::prepared(client, &env, oracle, &s) });
    prepared.map_err(|error| format!("the lab failed: {}", chain(&error)).into())
}

/// Why a measured client did not connect.
#[derive(Debug)]
enum Ended {
    Failed(String),
    Capped,
}

/// One timed connect in the client namespace: `connect` connects once to the lab's name
/// and closes the connection, giving the address it connected to or the client's error;
/// an error only if the lab failed.
pub(crate) fn measure<F, Fut>(
    lab: &NetLab,
    env: &ClientEnv,
    s: &Settings,
    connect: F,
) -> Result<Run, BoxError>
where
    F: FnOnce(ClientEnv) -> Fut + Send + 'static,
    Fut: Future<Output = Result<SocketAddr, String>> + 'static,
{
    let (env, cap) = (env.clone(), s.cap);
    let m = lab
        .measure(move || async move {
            match tokio::time::timeout(cap, connect(env)).await {
                Ok(Ok(remote)) => Ok(remote),
                Ok(Err(error)) => Err(Ended::Failed(error)),
                Err(_) => Err(Ended::Capped),
            }
        })
        .map_err(|error| format!("the lab failed: {}", chain(&error)))?;
    let (secs, attempts) = (m.elapsed.as_secs_f64(), Some(m.attempts));
    Ok(match m.remote {
        Ok(remote) => Run::Ok {
            secs,
            attempts,
            remote: Some(remote),
        },
        Err(Ended::Failed(error)) => Run::Failed {
            secs,
            attempts,
            error,
        },
        Err(Ended::Capped) => Run::Timeout { attempts },
    })
}

/// [`measure`] of one TCP connect of `client`, which closes its stream at once.
pub(crate) fn measure_tcp(
    lab: &NetLab,
    env: &ClientEnv,
    client: Prepared,
    s: &Settings,
) -> Result<Run, BoxError> {
    measure(lab, env, s, move |env| async move {
        let mut client = client;
        match client.connect(env.name(), env.port()).await {
            Ok((stream, _)) => stream.peer_addr().map_err(|e| chain(&e)),
            Err((_, error)) => Err(error),
        }
    })
}

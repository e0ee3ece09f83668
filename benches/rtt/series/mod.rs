//! The series: each client connects many times in a row to one name, with one client
//! object kept across its connects, so that what a connector learns from one connect can
//! serve the next; in one series the fastest host dies midway.

pub(crate) mod report;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use connie_lab::netns::{HostSpec, Scenario};

use crate::bench::{measure, prepare, warm_up};
use crate::common::clients::{Client, Prepared};
use crate::common::report::Run;
use crate::common::settings::Settings;
use crate::common::{self, BoxError};

/// The clients of a series, in the order of its first round.
pub(crate) const CLIENTS: [Client; 6] = [
    Client::Default,
    Client::RaceAll,
    Client::Rfc8305,
    Client::Tokio,
    Client::HyperDefault,
    Client::Oracle,
];

/// A client stops its series after this many connects that failed or hit the cap.
const MAX_FAILURES: usize = 3;

/// The goal for the connect right after the host died is the next-best RTT plus the dead
/// host's expected handshake time (its RTT) plus this.
const GOAL_SLACK: Duration = Duration::from_millis(10);

/// How many connects each client makes, and after which one the host dies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) connects: usize,
    pub(crate) dies_after: usize,
}

impl Plan {
    /// 50 connects, the host dying after the 20th; in a smoke test 4, dying after the 2nd.
    pub(crate) fn new(s: &Settings) -> Plan {
        if s.smoke {
            Plan {
                connects: 4,
                dies_after: 2,
            }
        } else {
            Plan {
                connects: 50,
                dies_after: 20,
            }
        }
    }
}

/// One series: a scenario's lab, and whether its fastest host dies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Series {
    scenario: Scenario,
    host_dies: bool,
}

impl Series {
    /// (c): the twelve records, whose 10 ms host dies.
    pub(crate) const HOST_DIES: Series = Series {
        scenario: Scenario::TwelveRecords,
        host_dies: true,
    };

    /// (a) the twelve records, (b) three alive hosts, (c) [`HOST_DIES`](Self::HOST_DIES).
    pub(crate) const ALL: [Series; 3] = [
        Series {
            scenario: Scenario::TwelveRecords,
            host_dies: false,
        },
        Series {
            scenario: Scenario::ThreeAlive,
            host_dies: false,
        },
        Series::HOST_DIES,
    ];
}

/// The fastest host dying after a connect, in a series that says so.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Death {
    pub(crate) host: IpAddr,
    /// The connect (counted from 1) after which it dies.
    pub(crate) after: usize,
    /// The alive host with the lowest RTT once it is dead: the oracle from then on.
    pub(crate) next: IpAddr,
    /// The connect right after should take no longer: the next-best RTT, plus the dead
    /// host's expected handshake time, plus [`GOAL_SLACK`].
    pub(crate) goal: Duration,
}

/// One client's connects in one series, in order: fewer than planned if it stopped.
pub(crate) struct Row {
    pub(crate) series: String,
    pub(crate) client: Client,
    pub(crate) death: Option<Death>,
    pub(crate) connects: Vec<Run>,
}

impl Row {
    /// Connects that failed or hit the cap.
    pub(crate) fn failures(&self) -> usize {
        let failed = |run: &&Run| !matches!(run, Run::Ok { .. });
        self.connects.iter().filter(failed).count()
    }
}

/// The alive host with the lowest RTT, other than `dead` (the first in DNS order on a
/// tie), and its RTT.
fn fastest(scenario: Scenario, dead: Option<IpAddr>) -> Option<(IpAddr, Duration)> {
    (scenario.hosts().into_iter())
        .filter(|&(ip, _)| Some(ip) != dead)
        .filter_map(|(ip, spec)| match spec {
            HostSpec::Alive(rtt) => Some((ip, rtt)),
            _ => None,
        })
        .min_by_key(|&(_, rtt)| rtt)
}

/// `--series`: every series, its tables, and `target/connie-bench/rtt-series.json`.
pub(crate) fn main(s: &Settings) -> Result<(), BoxError> {
    let started = Instant::now();
    let date = common::report::utc_now();
    let plan = Plan::new(s);
    let rows = run(&Series::ALL, plan, s)?;
    let wall = started.elapsed();
    print!("{}", report::tables(&rows, plan, s, &date));
    let json = || report::json(&rows, plan, s, &date, wall);
    common::report::finish("rtt-series", &report::failures(&rows, s), json, s, wall)
}

/// Runs `series` (at once in quick mode), each in its own lab.
pub(crate) fn run(series: &[Series], plan: Plan, s: &Settings) -> Result<Vec<Row>, BoxError> {
    let each: Vec<Result<Vec<Row>, BoxError>> = if s.parallel {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (series.iter())
                .map(|&one| scope.spawn(move || run_one(one, plan, s)))
                .collect();
            (handles.into_iter())
                .map(|handle| handle.join().expect("a series thread panicked"))
                .collect()
        })
    } else {
        series.iter().map(|&one| run_one(one, plan, s)).collect()
    };
    let mut rows = Vec::new();
    for one in each {
        rows.extend(one?);
    }
    Ok(rows)
}

/// Builds the series' lab and runs its rounds: in each, every client that has not
/// stopped connects once, the first client of a round being the next one each time.
fn run_one(series: Series, plan: Plan, s: &Settings) -> Result<Vec<Row>, BoxError> {
    let scenario = series.scenario;
    let no_oracle = || format!("{}: no alive host for the oracle", scenario.label());
    let (fastest_ip, fastest_rtt) = fastest(scenario, None).ok_or_else(no_oracle)?;
    let death = if series.host_dies {
        let (next, next_rtt) = fastest(scenario, Some(fastest_ip)).ok_or_else(no_oracle)?;
        Some(Death {
            host: fastest_ip,
            after: plan.dies_after,
            next,
            goal: next_rtt + fastest_rtt + GOAL_SLACK,
        })
    } else {
        None
    };
    let label = match death {
        Some(d) => format!(
            "{}; the {} ms host dies after connect {}",
            scenario.label(),
            fastest_rtt.as_millis(),
            d.after
        ),
        None => scenario.label().to_owned(),
    };

    let lab = scenario.lab()?;
    let env = lab.client_env(Scenario::NAME);
    warm_up(&lab, &env)?;
    let oracle = SocketAddr::new(fastest_ip, lab.port());
    let mut clients = Vec::new();
    for client in CLIENTS {
        clients.push(prepare(&lab, &env, client, oracle, s)?);
    }
    let mut rows: Vec<Row> = (CLIENTS.iter())
        .map(|&client| Row {
            series: label.clone(),
            client,
            death,
            connects: Vec::with_capacity(plan.connects),
        })
        .collect();
    let oracle = (CLIENTS.iter().position(|&c| c == Client::Oracle)).expect("an oracle");
    for round in 0..plan.connects {
        if let Some(d) = death.filter(|d| d.after == round) {
            lab.blackhole(d.host)?;
            clients[oracle] = Prepared::Oracle(SocketAddr::new(d.next, lab.port()));
        }
        for k in 0..CLIENTS.len() {
            let i = (round + k) % CLIENTS.len();
            if rows[i].failures() >= MAX_FAILURES {
                continue;
            }
            let run = measure(&lab, &env, clients[i].clone(), s)?;
            rows[i].connects.push(run);
        }
    }
    for row in &rows {
        eprintln!("{}", report::progress(row, &rows, s));
    }
    Ok(rows)
}

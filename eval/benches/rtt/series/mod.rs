//! The series: each client connects many times in a row to one name, with one client
//! object kept across its connects, so that what a connector learns from one connect can
//! serve the next. Three groups: the base series, where the fastest host may die midway
//! ([`base`]); TLS hosts with server work ([`tls`]); and a best host that refuses some
//! connects or dies and revives ([`flaky`]).

pub(crate) mod base;
pub(crate) mod flaky;
pub(crate) mod report;
pub(crate) mod tls;

use std::time::Instant;

use connie_eval::goal::Assert;
use connie_eval::report::Run;
use connie_eval::settings::Settings;
use connie_eval::BoxError;

/// A client stops its series after this many connects that failed or hit the cap.
const MAX_FAILURES: usize = 3;

/// A group of series, named on the command line after `--series`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Group {
    /// [`base`]: twelve records, three alive hosts, and the best host dying.
    Base,
    /// [`tls`]: four TLS hosts, TLS 1.3 and 1.2, with and without server work.
    Tls,
    /// [`flaky`]: the best host refusing some connects, or dying and reviving.
    Flaky,
}

impl Group {
    pub(crate) const ALL: [Group; 3] = [Group::Base, Group::Tls, Group::Flaky];

    /// The name on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Group::Base => "base",
            Group::Tls => "tls",
            Group::Flaky => "flaky",
        }
    }

    /// The groups `--series` asks for: every group after a bare `--series`, or the ones
    /// named after it (`--series tls flaky`); `None` without `--series`.
    pub(crate) fn from_args() -> Result<Option<Vec<Group>>, BoxError> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let Some(at) = args.iter().position(|arg| arg == "--series") else {
            return Ok(None);
        };
        let names = args[at + 1..]
            .iter()
            .take_while(|arg| !arg.starts_with('-'));
        let mut groups = Vec::new();
        for name in names {
            let group = Group::ALL.into_iter().find(|g| g.name() == name);
            let all: Vec<&str> = Group::ALL.iter().map(|g| g.name()).collect();
            let unknown = || format!("unknown series {name:?}: expected {}", all.join(", "));
            groups.push(group.ok_or_else(unknown)?);
        }
        Ok(Some(if groups.is_empty() {
            Group::ALL.to_vec()
        } else {
            groups
        }))
    }
}

/// One series to run, in a lab of its own.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Job {
    Base(base::Series),
    Tls(tls::Series),
    Flaky(flaky::Series),
}

impl Job {
    /// Every series of `group`, in the order of its table.
    fn of(group: Group) -> Vec<Job> {
        match group {
            Group::Base => base::Series::ALL.map(Job::Base).to_vec(),
            Group::Tls => tls::Series::ALL.map(Job::Tls).to_vec(),
            Group::Flaky => flaky::Series::ALL.map(Job::Flaky).to_vec(),
        }
    }

    /// Runs the series, then reports each row's summary on stderr.
    fn run(self, s: &Settings) -> Result<Vec<Row>, BoxError> {
        let rows = match self {
            Job::Base(series) => base::run(series, s),
            Job::Tls(series) => tls::run(series, s),
            Job::Flaky(series) => flaky::run(series, s),
        }?;
        for row in &rows {
            eprintln!("{}", report::progress(row, &rows));
        }
        Ok(rows)
    }
}

/// The series of the smoke test: a few connects each of the base series whose host dies,
/// one TLS series, and a best host that refuses and one that dies and revives.
pub(crate) fn smoke_jobs() -> Vec<Job> {
    vec![
        Job::Base(base::Series::HOST_DIES),
        Job::Tls(tls::Series::SMOKE),
        Job::Flaky(flaky::Series::SMOKE_REFUSES),
        Job::Flaky(flaky::Series::SMOKE_FLIPS),
    ]
}

/// One client's connects in one series, in order: fewer than planned if it stopped.
pub(crate) struct Row {
    pub(crate) group: Group,
    pub(crate) series: String,
    pub(crate) client: String,
    /// Whether this is the series' oracle, which "× oracle" divides by.
    pub(crate) oracle: bool,
    /// How many connects the series plans for each client.
    pub(crate) planned: usize,
    pub(crate) death: Option<base::Death>,
    /// What the series was, as JSON members (`"tls_version": "1.3", …`), or empty.
    pub(crate) setup: String,
    /// What the series asks of this row's client (issue 20's goals), if anything.
    pub(crate) target: Option<Target>,
    pub(crate) connects: Vec<Run>,
}

/// A goal a series sets for one of its rows, as [`report::goals`] checks it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    /// Over connects 2 to the last: at most `ratio` times the oracle's mean time, and at
    /// most `syns` SYNs (TCP connections) per connect, each if given.
    Steady {
        ratio: Option<f64>,
        syns: Option<f64>,
        assert: Assert,
    },
    /// The connect right after the host died within its [`base::Death::goal`].
    Failover { assert: Assert },
}

impl Row {
    /// Connects that failed or hit the cap.
    pub(crate) fn failures(&self) -> usize {
        let failed = |run: &&Run| !matches!(run, Run::Ok { .. });
        self.connects.iter().filter(failed).count()
    }
}

/// One row per client of a series, with no connect yet. `labels` name the clients;
/// the one at `oracle` is the oracle.
fn rows(group: Group, series: &str, labels: &[String], oracle: usize, planned: usize) -> Vec<Row> {
    (labels.iter().enumerate())
        .map(|(i, label)| Row {
            group,
            series: series.to_owned(),
            client: label.clone(),
            oracle: i == oracle,
            planned,
            death: None,
            setup: String::new(),
            target: None,
            connects: Vec::with_capacity(planned),
        })
        .collect()
}

/// Round `round` (from 0): every client that has not stopped connects once with
/// `connect(i)`, the first being client `round` (modulo their number), then the next.
fn round(
    rows: &mut [Row],
    round: usize,
    mut connect: impl FnMut(usize) -> Result<Run, BoxError>,
) -> Result<(), BoxError> {
    for k in 0..rows.len() {
        let i = (round + k) % rows.len();
        if rows[i].failures() >= MAX_FAILURES {
            continue;
        }
        let run = connect(i)?;
        rows[i].connects.push(run);
    }
    Ok(())
}

/// `--series`: the series of `groups`, their tables, and
/// `target/connie-bench/rtt-series.json`.
pub(crate) fn main(groups: &[Group], s: &Settings) -> Result<(), BoxError> {
    let started = Instant::now();
    let date = connie_eval::report::utc_now();
    let jobs: Vec<Job> = groups.iter().flat_map(|&group| Job::of(group)).collect();
    let rows = run(&jobs, s)?;
    let wall = started.elapsed();
    print!("{}", report::tables(&rows, s, &date));
    let json = || report::json(&rows, s, &date, wall);
    let (failures, goals) = (report::failures(&rows), report::goals(&rows));
    connie_eval::report::finish("rtt-series", &failures, &goals, json, s, wall)
}

/// Runs `jobs` (at once in quick mode), each in its own lab; the rows in job order.
pub(crate) fn run(jobs: &[Job], s: &Settings) -> Result<Vec<Row>, BoxError> {
    let each: Vec<Result<Vec<Row>, BoxError>> = if s.parallel {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (jobs.iter())
                .map(|&job| scope.spawn(move || job.run(s)))
                .collect();
            (handles.into_iter())
                .map(|handle| handle.join().expect("a series thread panicked"))
                .collect()
        })
    } else {
        jobs.iter().map(|&job| job.run(s)).collect()
    };
    let mut rows = Vec::new();
    for one in each {
        rows.extend(one?);
    }
    Ok(rows)
}

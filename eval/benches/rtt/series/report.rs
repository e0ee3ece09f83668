//! The series tables (Markdown) and their JSON: per client, the first connect, the mean
//! of the later ones against the oracle's, and the SYNs each started.

use std::fmt::Write as _;
use std::time::Duration;

use super::base::{self, Death};
use super::{flaky, tls, Group, Row, Target, MAX_FAILURES};
use connie_eval::goal::Goal;
use connie_eval::report::{self, Run};
use connie_eval::settings::Settings;

/// Connects `from` to `to` (counted from 1, both included) of `row`, as far as it got.
fn window(row: &Row, from: usize, to: usize) -> &[Run] {
    let end = to.min(row.connects.len());
    row.connects.get(from - 1..end).unwrap_or(&[])
}

/// The mean time of the connects that connected.
fn mean_secs(runs: &[Run]) -> Option<f64> {
    let secs: Vec<f64> = (runs.iter())
        .filter(|run| matches!(run, Run::Ok { .. }))
        .filter_map(Run::secs)
        .collect();
    (!secs.is_empty()).then(|| secs.iter().sum::<f64>() / secs.len() as f64)
}

/// The mean number of attempts started per connect (every connect, connected or not).
fn mean_attempts(runs: &[Run]) -> Option<f64> {
    let counts: Vec<usize> = runs.iter().filter_map(Run::attempts).collect();
    (!counts.is_empty()).then(|| counts.iter().sum::<usize>() as f64 / counts.len() as f64)
}

/// The row's mean over connects `from..=to` ÷ the oracle's over the same connects.
fn ratio(row: &Row, rows: &[Row], from: usize, to: usize) -> Option<f64> {
    let oracle = (rows.iter()).find(|r| r.series == row.series && r.oracle)?;
    Some(mean_secs(window(row, from, to))? / mean_secs(window(oracle, from, to))?)
}

fn ms(secs: f64) -> String {
    format!("{:.1}", secs * 1e3)
}

/// One connect: its milliseconds, `FAIL <ms>` or `TIMEOUT`; empty if it was not made.
fn one(run: Option<&Run>) -> String {
    match run {
        Some(Run::Ok { secs, .. }) => ms(*secs),
        Some(Run::Failed { secs, .. }) => format!("FAIL {}", ms(*secs)),
        Some(Run::Timeout { .. }) => "TIMEOUT".to_owned(),
        Some(Run::Cut { .. }) => "CUT".to_owned(),
        None => String::new(),
    }
}

fn opt(x: Option<f64>, fmt: impl Fn(f64) -> String) -> String {
    x.map_or_else(|| "—".to_owned(), fmt)
}

fn syns(x: f64) -> String {
    format!("{x:.2}")
}

fn count(run: Option<&Run>) -> String {
    run.and_then(Run::attempts)
        .map_or_else(String::new, |n| n.to_string())
}

/// `0`, or `2 FAIL, 1 TIMEOUT`.
fn not_connected(row: &Row) -> String {
    let failed = (row.connects.iter())
        .filter(|r| matches!(r, Run::Failed { .. }))
        .count();
    let capped = row.failures() - failed;
    match (failed, capped) {
        (0, 0) => "0".to_owned(),
        (f, 0) => format!("{f} FAIL"),
        (0, t) => format!("{t} TIMEOUT"),
        (f, t) => format!("{f} FAIL, {t} TIMEOUT"),
    }
}

/// Where connects `from..=to` went, whether the row stopped early, and its first error.
fn notes(row: &Row, from: usize, to: usize) -> String {
    let mut notes = Vec::new();
    notes.extend(report::remotes(window(row, from, to)));
    if row.connects.len() < row.planned {
        notes.push(format!(
            "stopped after connect {} ({MAX_FAILURES} not connected)",
            row.connects.len()
        ));
    }
    notes.extend(row.connects.iter().find_map(|r| match r {
        Run::Failed { error, .. } => Some(error.clone()),
        _ => None,
    }));
    notes.join("; ")
}

/// The line on stderr once a row is done.
pub(crate) fn progress(row: &Row, rows: &[Row]) -> String {
    let n = row.connects.len();
    format!(
        "{} / {}: connect 1 {} ms; 2–{n}: mean {} ms, {} the oracle, {} SYNs/connect; not connected: {}",
        row.series,
        row.client,
        one(row.connects.first()),
        opt(mean_secs(window(row, 2, n)), ms),
        opt(ratio(row, rows, 2, n), report::fmt_ratio),
        opt(mean_attempts(window(row, 2, n)), syns),
        not_connected(row),
    )
}

/// `series / client` of each row with a connect that did not connect (for the smoke test).
pub(crate) fn failures(rows: &[Row]) -> Vec<String> {
    (rows.iter())
        .filter(|row| row.failures() > 0)
        .map(|row| format!("{} / {}", row.series, row.client))
        .collect()
}

/// The goals the series set for their rows ([`Target`]), as this run measured them.
pub(crate) fn goals(rows: &[Row]) -> Vec<Goal> {
    let mut goals = Vec::new();
    for row in rows {
        let Some(target) = row.target else { continue };
        let name = format!("{} / {}", row.series, row.client);
        match target {
            Target::Steady {
                ratio: max_ratio,
                syns: max_syns,
                assert,
            } => {
                let n = row.planned;
                let ratio = ratio(row, rows, 2, n);
                let syns = mean_attempts(window(row, 2, n));
                let mut limits = Vec::new();
                let mut measured = Vec::new();
                let mut met = true;
                if let Some(max) = max_ratio {
                    limits.push(format!("≤ {max}× the oracle"));
                    measured.push(opt(ratio, report::fmt_ratio));
                    met &= ratio.is_some_and(|r| r <= max);
                }
                if let Some(max) = max_syns {
                    limits.push(format!("≤ {max} SYNs per connect"));
                    measured.push(format!("{} SYNs per connect", opt(syns, self::syns)));
                    met &= syns.is_some_and(|x| x <= max);
                }
                let what = format!("{name}: {} over connects 2–{n}", limits.join(", "));
                goals.push(Goal::new(what, measured.join(", "), met, assert));
            }
            Target::Failover { assert } => {
                let Some(death) = row.death else { continue };
                let at = death.after + 1;
                let goal = death.goal.as_secs_f64();
                let what = format!("{name}: connect {at} within {} ms", ms(goal));
                let run = row.connects.get(at - 1);
                let met = matches!(run, Some(Run::Ok { secs, .. }) if *secs <= goal);
                let measured = match run {
                    Some(Run::Ok { secs, .. }) => format!("{} ms", ms(*secs)),
                    Some(other) => one(Some(other)),
                    None => "not made".to_owned(),
                };
                goals.push(Goal::new(what, measured, met, assert));
            }
        }
    }
    goals
}

/// The header, then each group's table with its key (and the base group's table of the
/// series whose host dies).
pub(crate) fn tables(rows: &[Row], s: &Settings, date: &str) -> String {
    let title = "connie rtt series: one client, many connects to one name (network-namespace lab)";
    let counts: Vec<String> = (Group::ALL.iter())
        .filter_map(|&group| {
            let planned = rows.iter().filter(|r| r.group == group).map(|r| r.planned);
            Some(format!("{} ({})", planned.max()?, group.name()))
        })
        .collect();
    let measures = format!(
        "{} sequential connects per client and series with one client object",
        counts.join(", ")
    );
    let mut out = report::header_for(title, s, date, &measures);
    for group in Group::ALL {
        let of_group: Vec<&Row> = rows.iter().filter(|r| r.group == group).collect();
        if of_group.is_empty() {
            continue;
        }
        let n = of_group.iter().map(|r| r.planned).max().unwrap_or(0);
        let _ = writeln!(out);
        out.push_str(match group {
            Group::Base => "",
            Group::Tls => "### TLS: time to a finished handshake, four TLS hosts\n\n",
            Group::Flaky => "### The best host refuses some connects, or dies and revives\n\n",
        });
        out.push_str(&table(&of_group, rows, n));
        let _ = writeln!(out);
        out.push_str(&match group {
            Group::Base => base_key(n, s),
            Group::Tls => tls_key(n),
            Group::Flaky => flaky_key(n),
        });
        if let Some(death) = of_group.iter().find_map(|row| row.death) {
            out.push_str(&death_table(&of_group, rows, death));
        }
    }
    out
}

/// The Markdown table of `of_group`, connects 2 to `n` against the oracles in `rows`.
fn table(of_group: &[&Row], rows: &[Row], n: usize) -> String {
    let steady = format!("2–{n}");
    let mut table = vec![[
        "scenario".to_owned(),
        "client".to_owned(),
        "connect 1 ms".to_owned(),
        "SYNs".to_owned(),
        format!("{steady} mean ms"),
        "× oracle".to_owned(),
        "SYNs/connect".to_owned(),
        "not connected".to_owned(),
        format!("notes (connects {steady})"),
    ]];
    for (i, row) in of_group.iter().enumerate() {
        let first = i == 0 || of_group[i - 1].series != row.series;
        let later = window(row, 2, row.planned);
        table.push([
            if first {
                row.series.clone()
            } else {
                String::new()
            },
            row.client.clone(),
            one(row.connects.first()),
            count(row.connects.first()),
            opt(mean_secs(later), ms),
            opt(ratio(row, rows, 2, row.planned), report::fmt_ratio),
            opt(mean_attempts(later), syns),
            not_connected(row),
            notes(row, 2, row.planned),
        ]);
    }
    report::markdown(&table, |col| (2..=7).contains(&col))
}

/// What the base table's columns mean.
fn base_key(n: usize, s: &Settings) -> String {
    let mut out = String::new();
    let steady = format!("2–{n}");
    let _ = writeln!(out, "connect 1: the first connect of a fresh client (ms; DNS included, but for the oracle). {steady} mean: the mean of connects 2 to {n} that connected; × oracle: that mean ÷ the oracle's over the same connects.");
    let _ = writeln!(out, "SYNs: connection attempts started (distinct SYN flows seen by the delay line); SYNs/connect: their mean over connects 2 to {n}. not connected: FAIL (the error in notes) or TIMEOUT (the {} s cap); a client stops after {MAX_FAILURES}.", s.cap.as_secs());
    let _ = writeln!(out, "Each client is made once per series (a ConnieConnector, whose clones make the connects and share what it learns; a hickory resolver for tokio; a hyper-util HttpConnector) and closes each stream before its next connect. Clients take turns, one connect each per round, each round started by the next client. oracle: a direct connect to the alive host with the lowest RTT.");
    out
}

/// What the TLS table's columns and clients are.
fn tls_key(n: usize) -> String {
    let rtts: Vec<String> = tls::RTTS_MS.iter().map(u64::to_string).collect();
    let mut out = String::new();
    let _ = writeln!(out, "Times to a finished TLS handshake (ms; DNS included, but for the oracle); columns as above, over connects 2 to {n}. SYNs: TCP connections started per connect.");
    let _ = writeln!(out, "Hosts 192.0.2.1 to .4, RTT {} ms, each a TLS server that waits its server work after the ClientHello arrived, then answers. Clients speak only the version named, with no ALPN and no session resumption: a full handshake, one round trip after TCP for TLS 1.3, two for TLS 1.2.", rtts.join("/"));
    let _ = writeln!(out, "connie: ConnieConnector::new().rustls(config) (the default schedule) and the same with Schedule::race_all(), each one connector whose clones make the connects, with a caching resolver. oracle: TCP and TLS straight to the 10 ms host, with the same configuration.");
    out
}

/// What the flaky table's series and oracle are.
fn flaky_key(n: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Hosts 192.0.2.1 (the best, first in DNS order) and 192.0.2.2 (always up); columns as above, over connects 2 to {n}.");
    let _ = writeln!(out, "refuses: each round, a seeded generator (SplitMix64, seed {}) decides whether the best host refuses that round's connects (the delay line answers the SYN with a RST after its RTT), independently of other rounds; every client's n-th connect sees the same decision. dies and revives: the best host is a blackhole (its packets dropped) in every second block of rounds, the first block alive.", flaky::SEED);
    let _ = writeln!(out, "oracle: each round, a direct connect to the fastest host that works in that round; × oracle: the mean time of connects 2 to {n} ÷ the oracle's mean over the same connects. Rounds are paced, as connie's history keeps its times in wall-clock seconds; clients are connie's default and race-all (one ConnieConnector each, with a caching resolver) and the oracle.");
    out
}

/// The connect right after the host died and the connects after it, for the rows of the
/// series where it dies.
fn death_table(of_group: &[&Row], rows: &[Row], death: Death) -> String {
    let at = death.after + 1;
    let dying: Vec<&Row> = (of_group.iter().copied())
        .filter(|row| row.death.is_some())
        .collect();
    let series = dying.first().map_or("", |row| &row.series);
    let n = dying.first().map_or(0, |row| row.planned);
    let after = format!("{}–{n}", at + 1);
    let mut table = vec![[
        "client".to_owned(),
        format!("connect {at} ms"),
        "goal ms".to_owned(),
        "SYNs".to_owned(),
        format!("{after} mean ms"),
        "× new oracle".to_owned(),
        "SYNs/connect".to_owned(),
        "notes".to_owned(),
    ]];
    for row in &dying {
        let (first, later) = (row.connects.get(at - 1), window(row, at + 1, n));
        let mut notes = vec![];
        notes.extend(report::remotes(first).map(|to| format!("connect {at} {to}")));
        let rest = self::notes(row, at + 1, n);
        notes.extend((!rest.is_empty()).then(|| format!("{after}: {rest}")));
        table.push([
            row.client.clone(),
            one(first),
            ms(death.goal.as_secs_f64()),
            count(first),
            opt(mean_secs(later), ms),
            opt(ratio(row, rows, at + 1, n), report::fmt_ratio),
            opt(mean_attempts(later), syns),
            notes.join("; "),
        ]);
    }
    let mut out = format!("\n### {series}\n\n");
    out.push_str(&report::markdown(&table, |col| (1..=6).contains(&col)));
    let _ = writeln!(out);
    let _ = writeln!(out, "From connect {at} on, {} is a blackhole (the delay line drops its packets both ways); the oracle then connects to {}, the next-best host.", death.host, death.next);
    let _ = writeln!(out, "goal ms: the next-best RTT + the dead host's expected handshake time (its RTT) + {} ms: what a connector that starts its best-known address alone, and more once that one is late, should take.", base::GOAL_SLACK.as_millis());
    let _ = writeln!(out, "× new oracle: the mean of connects {after} ÷ the oracle's over the same connects; SYNs/connect: over connects {after}.");
    out
}

/// The series as JSON: every connect of every row, and the tables' summaries.
pub(crate) fn json(rows: &[Row], s: &Settings, date: &str, wall: Duration) -> String {
    let secs = |run: Option<&Run>| report::json_num(run.and_then(Run::secs));
    let count = |run: Option<&Run>| report::json_count(run.and_then(Run::attempts));
    let results: Vec<String> = (rows.iter())
        .map(|row| {
            let n = row.planned;
            let each = |field: fn(&Run) -> String| {
                row.connects.iter().map(field).collect::<Vec<_>>().join(", ")
            };
            let remote = |run: &Run| match run {
                Run::Ok {
                    remote: Some(addr), ..
                } => report::json_str(&addr.to_string()),
                _ => "null".to_owned(),
            };
            let death = row.death.map_or_else(
                || "null".to_owned(),
                |d| {
                    let at = d.after + 1;
                    format!(
                        "{{\"host\": {}, \"after_connect\": {}, \"next_host\": {}, \"goal_s\": {}, \"next_connect_s\": {}, \"next_connect_attempts\": {}, \"after_mean_s\": {}, \"after_ratio_vs_oracle\": {}, \"after_attempts_per_connect\": {}}}",
                        report::json_str(&d.host.to_string()),
                        d.after,
                        report::json_str(&d.next.to_string()),
                        d.goal.as_secs_f64(),
                        secs(row.connects.get(at - 1)),
                        count(row.connects.get(at - 1)),
                        report::json_num(mean_secs(window(row, at + 1, n))),
                        report::json_num(ratio(row, rows, at + 1, n)),
                        report::json_num(mean_attempts(window(row, at + 1, n))),
                    )
                },
            );
            let note = notes(row, 2, n);
            format!(
                "{{\"group\": {}, \"series\": {}, \"client\": {}, \"oracle\": {}, \"planned_connects\": {n}, \"setup\": {{{}}}, \"first_s\": {}, \"first_attempts\": {}, \"steady_mean_s\": {}, \"steady_ratio_vs_oracle\": {}, \"steady_attempts_per_connect\": {}, \"not_connected\": {}, \"death\": {death}, \"runs_s\": [{}], \"attempts\": [{}], \"remotes\": [{}], \"note\": {}}}",
                report::json_str(row.group.name()),
                report::json_str(&row.series),
                report::json_str(&row.client),
                row.oracle,
                row.setup,
                secs(row.connects.first()),
                count(row.connects.first()),
                report::json_num(mean_secs(window(row, 2, n))),
                report::json_num(ratio(row, rows, 2, n)),
                report::json_num(mean_attempts(window(row, 2, n))),
                row.failures(),
                each(|r| report::json_num(r.secs())),
                each(|r| report::json_count(r.attempts())),
                each(remote),
                if note.is_empty() { "null".to_owned() } else { report::json_str(&note) },
            )
        })
        .collect();
    report::json_document(s, date, wall, &[], &results)
}

//! The `metrics` feature: every metric the docs list is recorded, with the type, unit and
//! labels they give it, and with the values a race's own account gives.
//!
//! Each test records into a recorder of its own (`metrics::with_local_recorder`), on a
//! current-thread runtime, so that every record of its races lands on the thread that set
//! it and no test sees another's. Every host is loopback (`127.0.6.0/24` for this file);
//! every name is answered by an in-process hickory-server.

#[path = "support/recorder.rs"]
mod recorder;
mod support;

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use connie::{AttemptBudget, ConnieConnector, Outcome, Schedule};
use connie_lab::Lab;
use metrics::Unit;

use recorder::{Kind, Recorder, Series, Value};
use support::{bounded, ip, ms};

/// Runs `test` on a current-thread runtime with a paused clock, recording into a recorder
/// of its own; returns its output and every series recorded.
fn recorded<F: Future>(test: impl FnOnce() -> F) -> (F::Output, Vec<Series>) {
    let recorder = Recorder::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let output = metrics::with_local_recorder(&recorder, || {
        let output = runtime.block_on(bounded(test()));
        // The lab's hosts and DNS server, and every connector, go with the runtime's
        // tasks, still under this recorder.
        drop(runtime);
        output
    });
    (output, recorder.snapshot())
}

/// A metric of the docs' table.
#[derive(Debug)]
struct Documented {
    name: String,
    kind: Kind,
    unit: Unit,
    labels: BTreeSet<String>,
}

/// The table of `connie::metrics`'s docs, row by row.
fn documented() -> Vec<Documented> {
    let docs = include_str!("../src/metrics/mod.rs");
    let rows: Vec<Documented> = docs
        .lines()
        .filter_map(|line| line.strip_prefix("//! | `"))
        .map(|row| {
            let cells: Vec<&str> = row.split(" | ").collect();
            let name = cells[0].trim_end_matches('`').to_owned();
            let kind = match cells[1] {
                "counter" => Kind::Counter,
                "gauge" => Kind::Gauge,
                "histogram" => Kind::Histogram,
                other => panic!("{name}: no such type {other:?}"),
            };
            // OpenTelemetry's units: seconds, or `{thing}`, a count of things.
            let unit = match cells[2] {
                "`s`" => Unit::Seconds,
                count if count.starts_with("`{") => Unit::Count,
                other => panic!("{name}: no such unit {other:?}"),
            };
            let labels = cells[3]
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect();
            Documented {
                name,
                kind,
                unit,
                labels,
            }
        })
        .collect();
    assert_eq!(rows.len(), 10, "the table has every metric: {rows:#?}");
    rows
}

/// The series of `name` whose labels include every one of `labels`.
fn of<'a>(
    series: &'a [Series],
    name: &'a str,
    labels: &'a [(&str, &str)],
) -> impl Iterator<Item = &'a Series> + 'a {
    series.iter().filter(move |(_, key, ..)| {
        key.name() == name
            && labels
                .iter()
                .all(|&(k, v)| key.labels().any(|l| l.key() == k && l.value() == v))
    })
}

/// The count of counter `name` over its series with `labels`.
fn count(series: &[Series], name: &str, labels: &[(&str, &str)]) -> u64 {
    of(series, name, labels)
        .map(|(.., value)| match value {
            Value::Counter(n) => *n,
            other => panic!("{name} is no counter: {other:?}"),
        })
        .sum()
}

/// The samples of histogram `name` over its series with `labels`, in seconds, sorted.
fn samples(series: &[Series], name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
    let mut samples: Vec<f64> = of(series, name, labels)
        .flat_map(|(.., value)| match value {
            Value::Histogram(samples) => samples.iter().copied(),
            other => panic!("{name} is no histogram: {other:?}"),
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples
}

/// The value of gauge `name` (its one series).
fn gauge(series: &[Series], name: &str) -> f64 {
    let values: Vec<f64> = of(series, name, &[])
        .map(|(.., value)| match value {
            Value::Gauge(value) => *value,
            other => panic!("{name} is no gauge: {other:?}"),
        })
        .collect();
    assert_eq!(values.len(), 1, "{name}: one series");
    values[0]
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Two races to `www.lab.test.`, whose `A` records are a refused, a blackholed and an
/// alive address (in that order) and which has no `AAAA`, with an attempt budget of 1:
///
/// 1. staggered by 50 ms: the refused address fails at once and the blackholed one
///    starts; at 50 ms the alive one is due, but the budget is spent, so the race waits in
///    line until the blackholed attempt is overdue (100 ms), abandons it, and connects to
///    the alive address in its place;
/// 2. on the learned schedule: the history knows the alive address, which starts alone and
///    connects.
///
/// Every metric of the docs' table is recorded, as the docs say, with the values of the
/// races' own accounts.
#[test]
fn every_documented_metric_is_recorded_as_the_races_went() {
    let ((first, second), series) = recorded(|| async {
        let lab = Lab::builder()
            .refused(ip("127.0.6.1"))
            .blackholed(ip("127.0.6.2"))
            .alive(ip("127.0.6.3"))
            .build()
            .await
            .unwrap();
        let dns = lab.dns("www").start().await.unwrap();
        let connector = ConnieConnector::new()
            .resolver(dns.resolver())
            .attempt_budget(AttemptBudget::Fixed(1));
        let staggered = connector
            .clone()
            .schedule(Schedule::rfc8305().attempt_delay(ms(50)));
        let target = ("www.lab.test.", lab.port());
        let (_stream, first) = staggered.connect(target).await.unwrap();
        let (_stream, second) = connector.connect(target).await.unwrap();
        (first, second)
    });

    // The races went as described.
    let outcomes: Vec<String> = first
        .attempts()
        .iter()
        .map(|a| format!("{} {:?}", a.addr().ip(), a.outcome()))
        .collect();
    assert!(
        matches!(
            first
                .attempts()
                .iter()
                .map(|a| a.outcome())
                .collect::<Vec<_>>()[..],
            [
                Outcome::Failed { .. },
                Outcome::Abandoned,
                Outcome::Connected
            ]
        ),
        "{outcomes:?}"
    );
    assert_eq!(first.elapsed(), ms(100));
    assert!(!first.used_history());
    assert_eq!(second.attempts().len(), 1);
    assert!(second.used_history());

    // Every metric of the table, with its type, unit and description, and no label the
    // table does not name.
    for metric in documented() {
        let recorded: Vec<&Series> = of(&series, &metric.name, &[]).collect();
        assert!(!recorded.is_empty(), "{} is not recorded", metric.name);
        for (kind, key, unit, description, _) in recorded {
            assert_eq!(*kind, metric.kind, "{key}");
            assert_eq!(*unit, Some(metric.unit), "{key}");
            assert!(description.is_some(), "{key} is not described");
            for label in key.labels() {
                assert!(metric.labels.contains(label.key()), "{key}: {label:?}");
            }
        }
    }
    // Nothing the table does not list.
    let names: BTreeSet<&str> = series.iter().map(|(_, key, ..)| key.name()).collect();
    let listed: BTreeSet<String> = documented().into_iter().map(|m| m.name).collect();
    for name in names {
        assert!(listed.contains(name), "{name} is not in the docs' table");
    }

    // The races.
    let connected = [("connie.outcome", "connected")];
    assert_eq!(count(&series, "connie.races", &[]), 2);
    assert_eq!(count(&series, "connie.races", &connected), 2);
    assert_eq!(
        samples(&series, "connie.race.duration", &connected),
        [secs(second.elapsed()), secs(first.elapsed())]
    );
    assert_eq!(count(&series, "connie.races.used_history", &[]), 1);

    // The attempts: each with its outcome and its duration.
    let attempts = first.attempts().iter().chain(second.attempts());
    assert_eq!(count(&series, "connie.attempts", &[]), 4);
    for (outcome, n) in [
        ("failed", 1),
        ("abandoned", 1),
        ("connected", 2),
        ("timed_out", 0),
        ("cancelled", 0),
    ] {
        let labels = [("connie.outcome", outcome)];
        assert_eq!(count(&series, "connie.attempts", &labels), n, "{outcome}");
    }
    let refused = [
        ("connie.outcome", "failed"),
        ("error.type", "ConnectionRefused"),
    ];
    assert_eq!(count(&series, "connie.attempts", &refused), 1);
    let mut durations: Vec<f64> = attempts.map(|a| secs(a.duration())).collect();
    durations.sort_by(f64::total_cmp);
    assert_eq!(samples(&series, "connie.attempt.duration", &[]), durations);
    assert_eq!(
        samples(
            &series,
            "connie.attempt.duration",
            &[("connie.outcome", "abandoned")]
        ),
        [0.1]
    );

    // DNS: each race looked up both families; `A` answered with the addresses, `AAAA` with
    // none. Each answer's time is the one the race's account gives.
    let a = samples(
        &series,
        "dns.lookup.duration",
        &[("dns.question.type", "A")],
    );
    let mut a_times = [first.dns_v4(), second.dns_v4()].map(|t| secs(t.unwrap()));
    a_times.sort_by(f64::total_cmp);
    assert_eq!(a, a_times);
    let a_ok = of(
        &series,
        "dns.lookup.duration",
        &[("dns.question.type", "A")],
    )
    .all(|(_, key, ..)| key.labels().all(|l| l.key() != "error.type"));
    assert!(a_ok, "an A lookup with an error");
    let no_records = [("dns.question.type", "AAAA"), ("error.type", "no_records")];
    assert_eq!(
        samples(&series, "dns.lookup.duration", &no_records).len(),
        2
    );

    // The gauges, once every race and connector is gone: nothing in flight or waiting, and
    // the limit and the history given back with their connector. Their records on the way
    // are checked below.
    assert_eq!(gauge(&series, "connie.budget.in_flight"), 0.0);
    assert_eq!(gauge(&series, "connie.budget.waiting"), 0.0);
    assert_eq!(gauge(&series, "connie.budget.limit"), 0.0);
    assert_eq!(gauge(&series, "connie.history.size"), 0.0);
}

/// The gauges while their connector lives: the budget's limit and the addresses the
/// history learned; and a race its caller drops, counted `cancelled`.
///
/// A race staggered by 50 ms over a refused, a blackholed and an alive address: the
/// refused one fails, the blackholed one runs, the alive one connects at 50 ms and the
/// blackholed attempt is cancelled. Then a race to the blackholed address alone, dropped
/// by its caller after 10 ms.
#[test]
fn the_gauges_follow_the_budget_and_the_history() {
    let ((in_flight, _connector), series) = recorded(|| async {
        let lab = Lab::builder()
            .refused(ip("127.0.6.11"))
            .blackholed(ip("127.0.6.12"))
            .alive(ip("127.0.6.13"))
            .build()
            .await
            .unwrap();
        let dns = lab.dns("www").start().await.unwrap();
        let connector = ConnieConnector::new()
            .resolver(dns.resolver())
            .attempt_budget(AttemptBudget::Fixed(3))
            .schedule(Schedule::rfc8305().attempt_delay(ms(50)));
        let target = ("www.lab.test.", lab.port());
        let (_stream, info) = connector.connect(target).await.unwrap();
        let outcomes: Vec<&Outcome> = info.attempts().iter().map(|a| a.outcome()).collect();
        assert!(
            matches!(
                outcomes[..],
                [
                    Outcome::Failed { .. },
                    Outcome::Cancelled,
                    Outcome::Connected
                ]
            ),
            "{outcomes:?}"
        );
        let mut held = Box::pin(connector.connect(lab.addrs()[1]));
        tokio::select! {
            _ = &mut held => panic!("a blackholed address connected"),
            () = tokio::time::sleep(ms(10)) => {}
        }
        let in_flight = connector.budget_use().in_flight();
        drop(held);
        // The connector outlives the recorder, with its budget and history.
        (in_flight, connector)
    });
    assert_eq!(in_flight, 1, "the held race's attempt");
    assert_eq!(gauge(&series, "connie.budget.limit"), 3.0);
    assert_eq!(gauge(&series, "connie.budget.in_flight"), 0.0);
    // The refused address failed and the alive one connected: two addresses learned (the
    // blackholed one, cancelled with no expected time, teaches nothing).
    assert_eq!(gauge(&series, "connie.history.size"), 2.0);
    let cancelled = [("connie.outcome", "cancelled")];
    assert_eq!(count(&series, "connie.attempts", &cancelled), 1);
    assert_eq!(
        samples(&series, "connie.attempt.duration", &cancelled),
        [secs(ms(50))]
    );
    // The held race: cancelled after 10 ms, and its attempt, still running, not counted.
    assert_eq!(count(&series, "connie.races", &cancelled), 1);
    assert_eq!(
        samples(&series, "connie.race.duration", &cancelled),
        [secs(ms(10))]
    );
    assert_eq!(count(&series, "connie.races", &[]), 2);
    assert_eq!(count(&series, "connie.attempts", &[]), 3);
}

/// With `label_peer_address(true)`, each attempt's series names its address and port;
/// without, none does. The switch is the process's: the other tests of this file look at
/// labels they ask for, and allow these.
#[test]
fn attempts_name_their_peer_only_when_asked() {
    let alive = ip("127.0.6.21");
    let (port, series) = recorded(|| async {
        let lab = Lab::builder().alive(alive).build().await.unwrap();
        let connector = ConnieConnector::new();
        connie::metrics::label_peer_address(true);
        let named = connector.connect(lab.addrs()[0]).await;
        connie::metrics::label_peer_address(false);
        named.unwrap();
        lab.port()
    });
    let port = port.to_string();
    let peer = [
        ("network.peer.address", "127.0.6.21"),
        ("network.peer.port", &*port),
        ("connie.outcome", "connected"),
    ];
    assert_eq!(count(&series, "connie.attempts", &peer), 1);
    assert_eq!(samples(&series, "connie.attempt.duration", &peer).len(), 1);
    // The race has no per-address label.
    let race = of(&series, "connie.races", &[]).next().expect("the race");
    assert!(race.1.labels().all(|l| !l.key().starts_with("network.")));
}

/// Races that fail are counted `failed`, with their `ErrorKind` as `error.type`, never
/// `cancelled`: one address alone and a name's two addresses, both refused, and a name
/// that does not exist, whose lookups say so per family.
#[test]
fn failed_races_are_counted_with_their_kind() {
    let ((), series) = recorded(|| async {
        let lab = Lab::builder()
            .refused(ip("127.0.6.31"))
            .refused(ip("127.0.6.32"))
            .build()
            .await
            .unwrap();
        let dns = lab.dns("www").start().await.unwrap();
        let connector = ConnieConnector::new().resolver(dns.resolver());
        let alone = connector.connect(lab.addrs()[0]).await.unwrap_err();
        assert_eq!(alone.attempts().len(), 1);
        let both = connector
            .connect(("www.lab.test.", lab.port()))
            .await
            .unwrap_err();
        assert_eq!(both.attempts().len(), 2);
        let missing = connector
            .connect(("missing.lab.test.", lab.port()))
            .await
            .unwrap_err();
        assert!(missing.is_dns(), "{missing:?}");
    });
    let failed = |kind| [("connie.outcome", "failed"), ("error.type", kind)];
    assert_eq!(
        count(&series, "connie.races", &failed("AllAttemptsFailed")),
        2
    );
    assert_eq!(count(&series, "connie.races", &failed("Dns")), 1);
    assert_eq!(count(&series, "connie.races", &[]), 3, "none cancelled");
    let refused = [
        ("connie.outcome", "failed"),
        ("error.type", "ConnectionRefused"),
    ];
    assert_eq!(count(&series, "connie.attempts", &refused), 3);
    for rtype in ["A", "AAAA"] {
        let not_found = [
            ("dns.question.type", rtype),
            ("error.type", "host_not_found"),
        ];
        assert_eq!(
            samples(&series, "dns.lookup.duration", &not_found).len(),
            1,
            "{rtype}"
        );
    }
}

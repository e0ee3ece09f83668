//! Real round-trip times: each scenario in a two-namespace lab with a delay line
//! (`connie_lab::netns`). The exact-time proofs of the schedules stay on the paused clock;
//! these check behaviour with real RTTs, within a tolerance suited to real time.
//!
//! They need Linux, root, `/dev/net/tun` and iproute2. Without them each test prints
//! `skipped: <reason>` and returns.
#![cfg(target_os = "linux")]

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use connie::{ConnieConnector, Schedule};
use connie_lab::netns::{self, HostSpec, Measurement, NetLab, Scenario};

/// How late a connect may complete after the RTT that bounds it from below (DNS over the
/// lab, the delay line's timer granularity, a loaded 2-core machine).
const TOLERANCE: Duration = Duration::from_millis(60);

/// Whether the lab can run here; if not, prints why (`skipped: <reason>`).
fn available() -> bool {
    match netns::available() {
        Ok(()) => true,
        Err(reason) => {
            println!("skipped: {reason}");
            false
        }
    }
}

/// `Some(lab)` for `scenario`, or `None` after printing why the lab cannot run here.
fn lab(scenario: Scenario) -> Option<NetLab> {
    if !available() {
        return None;
    }
    Some(
        scenario
            .lab()
            .expect("the lab starts where it is available"),
    )
}

/// The most a client may take in any scenario here (each takes well under a second): a
/// client that hangs fails its test with `TimedOut` instead of holding it forever.
const CLIENT_BOUND: Duration = Duration::from_secs(30);

/// `client`, failing with `TimedOut` after [`CLIENT_BOUND`].
async fn bounded<T>(client: impl std::future::Future<Output = io::Result<T>>) -> io::Result<T> {
    match tokio::time::timeout(CLIENT_BOUND, client).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "the client hung")),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Times `connector` (with the lab resolver) connecting to the scenario's name.
fn connie(lab: &NetLab, connector: ConnieConnector) -> Measurement {
    let env = lab.client_env(Scenario::NAME);
    lab.measure(move || {
        bounded(async move {
            let connector = connector.resolver(env.resolver());
            let (stream, _info) = connector.connect((env.name(), env.port())).await?;
            stream.peer_addr()
        })
    })
    .expect("the client thread runs")
}

fn with(schedule: Schedule) -> ConnieConnector {
    ConnieConnector::new().schedule(schedule)
}

/// Asserts the winner, the attempts started and that the time lies in
/// `[at_least, at_least + TOLERANCE]`.
#[track_caller]
fn check(
    scenario: Scenario,
    label: &str,
    m: Measurement,
    winner: &str,
    at_least_ms: u64,
    attempts: usize,
) {
    let remote = match &m.remote {
        Ok(remote) => remote.to_string(),
        Err(e) => format!("error: {e}"),
    };
    println!(
        "{:<30} {label:<28} {:>9.1?} -> {remote:<18} attempts {}",
        scenario.label(),
        m.elapsed,
        m.attempts
    );
    let at_least = Duration::from_millis(at_least_ms);
    let Ok(remote) = &m.remote else {
        panic!("{label}: connie did not connect: {m:?}");
    };
    assert_eq!(remote.ip(), ip(winner), "{label}: {m:?}");
    assert_eq!(m.attempts, attempts, "{label}: {m:?}");
    assert!(
        m.elapsed >= at_least && m.elapsed <= at_least + TOLERANCE,
        "{label}: connected after {:?}, expected {at_least:?} + up to {TOLERANCE:?}",
        m.elapsed
    );
}

#[test]
fn three_alive_hosts_fastest_wins_only_when_racing() {
    let Some(lab) = lab(Scenario::ThreeAlive) else {
        return;
    };
    let served: Vec<IpAddr> = lab.addrs().iter().map(SocketAddr::ip).collect();
    let hosts: Vec<IpAddr> = (Scenario::ThreeAlive.hosts().iter())
        .map(|&(ip, _)| ip)
        .collect();
    assert_eq!(served, hosts);
    check(
        Scenario::ThreeAlive,
        "race-all",
        connie(&lab, with(Schedule::race_all())),
        "192.0.2.2",
        20,
        3,
    );
    check(
        Scenario::ThreeAlive,
        "sequential",
        connie(&lab, with(Schedule::sequential())),
        "192.0.2.1",
        80,
        1,
    );
    check(
        Scenario::ThreeAlive,
        "rfc8305",
        connie(&lab, with(Schedule::rfc8305())),
        "192.0.2.1",
        80,
        1,
    );
}

#[test]
fn slow_ipv6_each_schedule_picks_its_family() {
    let Some(lab) = lab(Scenario::SlowIpv6) else {
        return;
    };
    check(
        Scenario::SlowIpv6,
        "race-all",
        connie(&lab, with(Schedule::race_all())),
        "192.0.2.1",
        20,
        2,
    );
    // IPv6 first; IPv4 starts after the 250 ms attempt delay and wins at 270 ms.
    check(
        Scenario::SlowIpv6,
        "rfc8305",
        connie(&lab, with(Schedule::rfc8305())),
        "192.0.2.1",
        270,
        2,
    );
    check(
        Scenario::SlowIpv6,
        "sequential",
        connie(&lab, with(Schedule::sequential())),
        "2001:db8::1",
        300,
        1,
    );
}

#[test]
fn blackholed_ipv6_costs_only_the_attempt_delay() {
    let Some(lab) = lab(Scenario::BlackholedIpv6) else {
        return;
    };
    check(
        Scenario::BlackholedIpv6,
        "race-all",
        connie(&lab, with(Schedule::race_all())),
        "192.0.2.1",
        40,
        2,
    );
    check(
        Scenario::BlackholedIpv6,
        "rfc8305",
        connie(&lab, with(Schedule::rfc8305())),
        "192.0.2.1",
        290,
        2,
    );
    // Sequential waits for the blackholed attempt to time out.
    let sequential = with(Schedule::sequential()).attempt_timeout(Some(Duration::from_millis(500)));
    check(
        Scenario::BlackholedIpv6,
        "sequential, 500 ms timeout",
        connie(&lab, sequential),
        "192.0.2.1",
        540,
        2,
    );
    assert!(lab.syns_to(ip("2001:db8::1")) >= 1);
}

#[test]
fn late_aaaa_does_not_hold_up_ipv4() {
    let Some(lab) = lab(Scenario::LateAaaa) else {
        return;
    };
    check(
        Scenario::LateAaaa,
        "race-all",
        connie(&lab, with(Schedule::race_all())),
        "192.0.2.1",
        20,
        1,
    );
    // The resolution delay waits 50 ms for AAAA, then goes with IPv4.
    check(
        Scenario::LateAaaa,
        "rfc8305",
        connie(&lab, with(Schedule::rfc8305())),
        "192.0.2.1",
        70,
        1,
    );
    check(
        Scenario::LateAaaa,
        "sequential",
        connie(&lab, with(Schedule::sequential())),
        "192.0.2.1",
        20,
        1,
    );

    // A getaddrinfo-like client: both answers first, then the first address.
    let env = lab.client_env(Scenario::NAME);
    let m = lab
        .measure(move || {
            bounded(async move {
                let ips = env
                    .resolver()
                    .lookup_ip(env.name())
                    .await
                    .map_err(io::Error::other)?;
                let first = ips.iter().next().ok_or(io::ErrorKind::NotFound)?;
                let stream = tokio::net::TcpStream::connect((first, env.port())).await?;
                stream.peer_addr()
            })
        })
        .unwrap();
    println!(
        "{:<30} {:<28} {:>9.1?} -> {:?}",
        Scenario::LateAaaa.label(),
        "lookup_ip, then connect",
        m.elapsed,
        m.remote
    );
    assert!(m.remote.is_ok(), "{m:?}");
    assert!(m.elapsed >= Duration::from_millis(220), "{m:?}");
}

#[test]
fn twelve_records_race_all_finds_the_10_ms_host() {
    let Some(lab) = lab(Scenario::TwelveRecords) else {
        return;
    };
    assert_eq!(netns::TWELVE_RTTS_MS[4], 10);
    assert_eq!(netns::TWELVE_RTTS_MS[0], 120);
    check(
        Scenario::TwelveRecords,
        "race-all",
        connie(&lab, with(Schedule::race_all())),
        "192.0.2.5",
        10,
        12,
    );
    check(
        Scenario::TwelveRecords,
        "rfc8305",
        connie(&lab, with(Schedule::rfc8305())),
        "192.0.2.1",
        120,
        1,
    );
    check(
        Scenario::TwelveRecords,
        "sequential",
        connie(&lab, with(Schedule::sequential())),
        "192.0.2.1",
        120,
        1,
    );
}

#[test]
fn refused_host_resets_after_one_rtt_and_the_failure_is_measured() {
    if !available() {
        return;
    }
    let rtt = Duration::from_millis(60);
    let lab = NetLab::builder()
        .refused(ip("192.0.2.9"), rtt)
        .start()
        .unwrap();
    let addr = SocketAddr::new(ip("192.0.2.9"), lab.port());
    let m = lab
        .measure(move || {
            bounded(async move {
                let stream = tokio::net::TcpStream::connect(addr).await?;
                stream.peer_addr()
            })
        })
        .unwrap();
    println!("refused after {:?}: {m:?}", m.elapsed);
    let error = m.remote.as_ref().expect_err("no listener");
    assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{m:?}");
    assert_eq!(m.attempts, 1, "{m:?}");
    assert!(
        m.elapsed >= rtt && m.elapsed <= rtt + TOLERANCE,
        "{:?}",
        m.elapsed
    );
}

#[test]
fn scenarios_list_their_hosts_and_the_fastest_alive_one() {
    let ms = Duration::from_millis;
    assert_eq!(
        Scenario::ThreeAlive.hosts(),
        [
            (ip("192.0.2.1"), HostSpec::Alive(ms(80))),
            (ip("192.0.2.2"), HostSpec::Alive(ms(20))),
            (ip("192.0.2.3"), HostSpec::Alive(ms(150))),
        ]
    );
    assert_eq!(
        Scenario::BlackholedIpv6.hosts(),
        [
            (ip("2001:db8::1"), HostSpec::Blackholed),
            (ip("192.0.2.1"), HostSpec::Alive(ms(40))),
        ]
    );
    let twelve = Scenario::TwelveRecords.hosts();
    assert_eq!(twelve.len(), netns::TWELVE_RTTS_MS.len());
    assert_eq!(twelve[4], (ip("192.0.2.5"), HostSpec::Alive(ms(10))));
    for (scenario, fastest) in [
        (Scenario::ThreeAlive, "192.0.2.2"),
        (Scenario::SlowIpv6, "192.0.2.1"),
        (Scenario::BlackholedIpv6, "192.0.2.1"),
        // A tie at 20 ms: the first in DNS order.
        (Scenario::LateAaaa, "2001:db8::1"),
        (Scenario::TwelveRecords, "192.0.2.5"),
    ] {
        assert_eq!(scenario.fastest_alive(), Some(ip(fastest)), "{scenario:?}");
    }
}

#[test]
fn namespaces_are_removed_on_drop_and_nothing_leaks_to_the_root_namespace() {
    let Some(lab) = lab(Scenario::ThreeAlive) else {
        return;
    };
    let routes = || {
        let out = std::process::Command::new("ip")
            .args(["route"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let before = routes();
    let (client, server) = lab.namespaces();
    let (client, server) = (client.to_owned(), server.to_owned());
    let listed = |name: &str| std::path::Path::new("/run/netns").join(name).exists();
    assert!(listed(&client) && listed(&server));
    // The lab's addresses exist only inside its namespaces.
    assert!(!before.contains("198.51.100."), "{before}");
    drop(lab);
    assert!(!listed(&client) && !listed(&server));
    assert_eq!(routes(), before);
}

#[test]
fn non_documentation_addresses_are_rejected() {
    for bad in [
        "127.0.0.1",
        "10.0.0.1",
        "192.0.2.53",
        "2001:db8:ffff::5",
        "fd00::1",
    ] {
        let err = NetLab::builder()
            .alive(ip(bad), Duration::from_millis(1))
            .start()
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad}: {err}");
    }
}

/// A round-trip time the delay line could not schedule (`Duration::MAX`) is a typed error
/// before anything is created, not a panic on the line's thread. No root needed.
#[test]
fn an_rtt_over_the_maximum_is_rejected() {
    for rtt in [netns::MAX_RTT + Duration::from_nanos(1), Duration::MAX] {
        let alive = NetLab::builder().alive(ip("192.0.2.1"), rtt).start();
        let refused = NetLab::builder().refused(ip("192.0.2.1"), rtt).start();
        for err in [alive.unwrap_err(), refused.unwrap_err()] {
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{rtt:?}: {err}");
        }
    }
}

/// Happy Eyeballs v3's connectivity rule, with real routes: a client whose only default
/// route is IPv4 sends no `AAAA` query and connects over IPv4 at once; one whose only
/// default route is IPv6 sends no `A` query (its second `AAAA` query is for
/// `ipv4only.arpa.`: it looks for a NAT64 prefix, and finds none). With both default routes, or neither (the
/// lab's own ranges only: nothing says which family is missing), both are asked, and so
/// they are with `Connectivity::Assume` whatever the routes. Counted at the lab's DNS
/// server; each case in a lab of its own, so the connector's probe runs in it.
#[test]
fn a_family_without_a_default_route_is_not_looked_up() {
    use connie::{Connectivity, Family};
    use connie_lab::RecordType;

    if !available() {
        return;
    }
    let (v4, v6) = (ip("192.0.2.1"), ip("2001:db8::1"));
    let cases = [
        ((true, false), Connectivity::Probe, (1, 0), Some(Family::V4)),
        ((false, true), Connectivity::Probe, (0, 2), Some(Family::V6)),
        ((true, true), Connectivity::Probe, (1, 1), None),
        ((false, false), Connectivity::Probe, (1, 1), None),
        ((true, false), Connectivity::Assume, (1, 1), None),
    ];
    for ((route_v4, route_v6), connectivity, (a, aaaa), family) in cases {
        let mut builder = NetLab::builder()
            .alive(v4, Duration::from_millis(10))
            .alive(v6, Duration::from_millis(10))
            .name("www", [v6, v4]);
        if route_v4 {
            builder = builder.ipv4_default_route();
        }
        if route_v6 {
            builder = builder.ipv6_default_route();
        }
        let lab = builder
            .start()
            .expect("the lab starts where it is available");
        let env = lab.client_env("www.lab.test.");
        let remote = lab
            .run_client(move || {
                bounded(async move {
                    let connector = ConnieConnector::new()
                        .resolver(env.resolver())
                        .connectivity(connectivity);
                    let (stream, _info) = connector.connect((env.name(), env.port())).await?;
                    stream.peer_addr()
                })
            })
            .expect("the client thread runs")
            .expect("connects");
        let case = format!("routes v4 {route_v4}, v6 {route_v6}, {connectivity:?}");
        assert_eq!(lab.dns_queries(RecordType::A), a, "{case}");
        assert_eq!(lab.dns_queries(RecordType::AAAA), aaaa, "{case}");
        if let Some(family) = family {
            assert_eq!(Family::of(&remote), family, "{case}");
        }
    }
}

/// NAT64 (Happy Eyeballs v3): a client with no IPv4 at all, whose DNS64 server answers
/// `ipv4only.arpa.` under `2001:db8:64::/96`, finds that prefix and reaches an IPv4-only
/// name and an IPv4 literal through it, each in one round trip once the prefix is known.
/// The lab's host `2001:db8:64::c000:201` stands for `192.0.2.1`, as a NAT64 makes it
/// reachable.
#[test]
fn an_ipv6_only_client_reaches_ipv4_through_nat64() {
    use connie_lab::RecordType;

    if !available() {
        return;
    }
    let rtt = Duration::from_millis(20);
    let behind_nat64 = ip("2001:db8:64::c000:201");
    let lab = NetLab::builder()
        .alive(behind_nat64, rtt)
        .name("v4only", [ip("192.0.2.1")])
        .ipv6_only_client()
        .ipv6_default_route()
        .ipv4only_arpa("2001:db8:64::".parse().unwrap())
        .start()
        .expect("the lab starts where it is available");
    let env = lab.client_env("v4only.lab.test.");
    let port = lab.port();
    let (by_name, literal) = lab
        .run_client(move || {
            bounded(async move {
                let connector = ConnieConnector::new().resolver(env.resolver());
                let (_, by_name) = connector.connect((env.name(), port)).await?;
                let (_, literal) = connector.connect(("192.0.2.1", port)).await?;
                Ok((by_name, literal))
            })
        })
        .expect("the client thread runs")
        .expect("both connect");
    let reached = SocketAddr::new(behind_nat64, port);
    assert_eq!(by_name.remote_addr(), reached);
    assert_eq!(literal.remote_addr(), reached);
    assert_eq!(by_name.attempts().len(), 1);
    assert_eq!(literal.attempts().len(), 1);
    // The A lookup of the name: the client has no IPv4, yet asks, since it can reach IPv4
    // through the prefix.
    assert_eq!(lab.dns_queries(RecordType::A), 1);
    assert!(
        literal.elapsed() < rtt + TOLERANCE,
        "{:?}: the literal is dialed under the known prefix at once",
        literal.elapsed()
    );
    println!(
        "NAT64, RTT {rtt:?}: by name {:?} (prefix discovery and lookups included), \
         literal {:?}",
        by_name.elapsed(),
        literal.elapsed()
    );
}

/// The same IPv6-only client without DNS64 finds no prefix: an IPv4-only name has no
/// address it can use (its `AAAA` lookup finds no record), and is not asked for one (no
/// `A` query).
#[test]
fn an_ipv6_only_client_without_nat64_sends_no_a_query() {
    use connie::ErrorKind;
    use connie_lab::RecordType;

    if !available() {
        return;
    }
    let lab = NetLab::builder()
        .alive(ip("2001:db8::1"), Duration::from_millis(10))
        .name("v4only", [ip("192.0.2.1")])
        .ipv6_only_client()
        .ipv6_default_route()
        .start()
        .expect("the lab starts where it is available");
    let env = lab.client_env("v4only.lab.test.");
    let kind = lab
        .run_client(move || async move {
            let connector = ConnieConnector::new().resolver(env.resolver());
            let result = bounded(async {
                connector
                    .connect((env.name(), env.port()))
                    .await
                    .map_err(io::Error::other)
            })
            .await;
            result.map(|_| ()).map_err(|e| {
                e.get_ref()
                    .and_then(|e| e.downcast_ref::<connie::ConnectError>())
                    .map(|e| e.kind())
            })
        })
        .expect("the client thread runs");
    assert_eq!(kind, Err(Some(ErrorKind::Dns)));
    assert_eq!(lab.dns_queries(RecordType::A), 0);
}

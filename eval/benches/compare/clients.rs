//! Each client, set up for one loopback scenario.

use std::net::SocketAddr;

use connie::{ConnieConnector, Schedule};
use connie_lab::{DnsServer, HostKind, Lab};
use hyper_util::client::legacy::connect::HttpConnector;

use crate::{Scenario, NAME};
use connie_eval::clients::{Client, LabResolver, Prepared, SEQUENTIAL_ATTEMPT};
use connie_eval::settings::Settings;

/// connie reports the attempts it started; the others are not counted.
pub(crate) fn is_connie(client: Client) -> bool {
    matches!(
        client,
        Client::Default
            | Client::RaceAll
            | Client::RaceAllNoDns
            | Client::Rfc8305
            | Client::Sequential
    )
}

/// `None` when the client has nothing to measure (the oracle with no alive address).
pub(crate) fn prepared(
    client: Client,
    lab: &Lab,
    dns: &DnsServer,
    scenario: &Scenario,
    s: &Settings,
) -> Option<Prepared> {
    let connie = |schedule, attempt_timeout| {
        Prepared::Connie(
            ConnieConnector::new()
                .resolver(dns.resolver())
                .schedule(schedule)
                .attempt_timeout(attempt_timeout)
                .total_timeout(Some(s.total_timeout)),
        )
    };
    // tokio and hyper-util get the lab's addresses without a DNS round trip, after the
    // late `AAAA` if there is one (`getaddrinfo` waits for both answers).
    let resolver = || {
        let delay = scenario.aaaa_delay.unwrap_or_default();
        LabResolver::new(NAME, &lab.addrs(), delay, None)
    };
    let hyper = |connect_timeout| {
        let mut connector = HttpConnector::new_with_resolver(resolver());
        connector.set_connect_timeout(connect_timeout);
        let uri = format!("http://{}:{}/", NAME.trim_end_matches('.'), lab.port())
            .parse()
            .expect("a valid URI");
        Prepared::Hyper(connector, uri)
    };
    Some(match client {
        Client::Default => Prepared::Connie(
            ConnieConnector::new()
                .resolver(dns.resolver())
                .total_timeout(Some(s.total_timeout)),
        ),
        Client::RaceAll => connie(Schedule::race_all(), None),
        Client::RaceAllNoDns => Prepared::ConnieNoDns(
            ConnieConnector::new().total_timeout(Some(s.total_timeout)),
            resolver(),
        ),
        Client::Rfc8305 => connie(Schedule::rfc8305(), None),
        // Without a per-attempt timeout, sequential waits out the kernel's SYN retries
        // on the first dead address, as tokio does; with one it shows the cost of
        // trying addresses one at a time.
        Client::Sequential => connie(Schedule::sequential(), Some(SEQUENTIAL_ATTEMPT)),
        Client::Tokio => Prepared::Tokio(resolver()),
        Client::HyperDefault => hyper(None),
        Client::HyperTimeout => hyper(Some(s.hyper_connect_timeout)),
        Client::Oracle => {
            let alive = lab.addrs_of(HostKind::Alive);
            let v4 = alive.iter().copied().find(SocketAddr::is_ipv4);
            Prepared::Oracle(v4.or_else(|| alive.first().copied())?)
        }
    })
}

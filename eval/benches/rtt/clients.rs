//! Each client, set up inside the client namespace for the lab's name.

use std::net::SocketAddr;
use std::time::Duration;

use connie::{ConnieConnector, Schedule};
use connie_lab::netns::ClientEnv;
use hyper_util::client::legacy::connect::HttpConnector;

use connie_eval::clients::{Client, LabResolver, Prepared, SEQUENTIAL_ATTEMPT};
use connie_eval::settings::Settings;

/// Sets `client` up for the lab's name (the oracle: for `oracle`). Call it on the client
/// thread, where its resolver will run.
pub(crate) fn prepared(
    client: Client,
    env: &ClientEnv,
    oracle: SocketAddr,
    s: &Settings,
) -> Prepared {
    let connie = |schedule: Option<Schedule>, attempt_timeout| {
        // A caching resolver, as connie's default (the system's hickory resolver) has:
        // it only matters to the series, where one connector makes every connect.
        let connector = ConnieConnector::new()
            .resolver(env.caching_resolver())
            .total_timeout(Some(s.total_timeout));
        // The default client keeps every default but the total timeout.
        Prepared::Connie(match schedule {
            Some(schedule) => connector
                .schedule(schedule)
                .attempt_timeout(attempt_timeout),
            None => connector,
        })
    };
    // With DNS: `A` and `AAAA` from the lab's server, as `getaddrinfo` asks.
    let resolver = |dns: bool| {
        let dns = dns.then(|| env.resolver());
        LabResolver::new(env.name(), env.addrs(), Duration::ZERO, dns)
    };
    let hyper = |connect_timeout| {
        let mut connector = HttpConnector::new_with_resolver(resolver(true));
        connector.set_connect_timeout(connect_timeout);
        let name = env.name().trim_end_matches('.');
        let uri = format!("http://{name}:{}/", env.port());
        Prepared::Hyper(connector, uri.parse().expect("a valid URI"))
    };
    match client {
        Client::Default => connie(None, None),
        Client::RaceAll => connie(Some(Schedule::race_all()), None),
        Client::RaceAllNoDns => Prepared::ConnieNoDns(
            ConnieConnector::new().total_timeout(Some(s.total_timeout)),
            resolver(false),
        ),
        Client::Rfc8305 => connie(Some(Schedule::rfc8305()), None),
        Client::Sequential => connie(Some(Schedule::sequential()), Some(SEQUENTIAL_ATTEMPT)),
        Client::Tokio => Prepared::Tokio(resolver(true)),
        Client::HyperDefault => hyper(None),
        Client::HyperTimeout => hyper(Some(s.hyper_connect_timeout)),
        Client::Oracle => Prepared::Oracle(oracle),
    }
}

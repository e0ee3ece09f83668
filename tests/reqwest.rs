//! `ConnieConnector` as reqwest's DNS resolver (feature `reqwest`).
//!
//! Proves that a real `reqwest::Client` built with `dns_resolver(Arc::new(connector))`
//! reaches a local hyper server through a name served by the lab's DNS server, the address
//! policy keeping a blackholed address away from reqwest's one-at-a-time connector; that
//! with `PublicOnly` the request fails before any connection, with connie's policy error in
//! the reqwest error's `source()` chain; that a name that does not exist gives connie's DNS
//! error, in words; that the resolver hands reqwest connie's order, capped fairly, with
//! port 0; that it waits for a late `AAAA` for at most the total timeout; and, as the docs
//! warn, that an IP-literal URL never reaches the resolver, so the policy cannot see it.
//!
//! Only loopback is used: names are resolved by `connie_lab::DnsServer`, never by the
//! system resolver, and every client is built with `no_proxy()` so that no proxy from the
//! environment gets in between.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use connie::Family;
use connie::{ConnectError, ConnieConnector, ErrorKind, PublicOnly, Schedule};
use connie_lab::{DnsServer, Lab, RecordType};
use reqwest::dns::Resolve;
use reqwest::StatusCode;
use support::http::{dns_for, lab_with_server, HttpServer};
use support::{bounded, find, ip, ms, PROMPT};
use tokio::time::Instant;

fn client(connector: ConnieConnector) -> reqwest::Client {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(connector))
        .no_proxy()
        .build()
        .expect("a client builds")
}

/// What a GET brought back: the status, the peer reqwest connected to, and the body.
#[derive(Debug)]
struct Got {
    status: StatusCode,
    remote: Option<SocketAddr>,
    body: String,
}

/// GETs `url` within [`PROMPT`], body included.
async fn get(client: &reqwest::Client, url: &str) -> Result<Got, reqwest::Error> {
    let request = async {
        let response = client.get(url).send().await?;
        let (status, remote) = (response.status(), response.remote_addr());
        let body = response.text().await?;
        Ok(Got {
            status,
            remote,
            body,
        })
    };
    tokio::time::timeout(PROMPT, request)
        .await
        .unwrap_or_else(|_| panic!("GET {url} took longer than {PROMPT:?}"))
}

/// The list the connector hands reqwest for `name`.
async fn resolve(
    connector: &ConnieConnector,
    name: &str,
) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
    let name = name.parse().expect("a valid name");
    Ok(Resolve::resolve(connector, name).await?.collect())
}

fn port_zero(ips: &[&str]) -> Vec<SocketAddr> {
    ips.iter().map(|s| SocketAddr::new(ip(s), 0)).collect()
}

/// reqwest's connector tries one address at a time, so a blackholed address before the
/// alive one would hold the request for minutes; the policy removes it from the list, the
/// refused address fails at once, and the request succeeds promptly.
#[tokio::test]
async fn a_name_with_dead_addresses_succeeds_when_the_policy_removes_the_blackhole() {
    bounded(async {
        let (blackholed, refused, alive) = (ip("127.0.0.51"), ip("127.0.0.52"), ip("127.0.0.53"));
        let dead = Lab::builder().blackholed(blackholed).refused(refused);
        let (lab, server) = lab_with_server(dead, alive, None).await;
        let dns = dns_for(&lab, &server, "www").await;
        let connector = ConnieConnector::new()
            .resolver(dns.resolver())
            .address_policy(move |addr: SocketAddr| addr.ip() != blackholed);

        let listed = resolve(&connector, "www.lab.test.").await.unwrap();
        let mut listed_ips: Vec<IpAddr> = listed.iter().map(SocketAddr::ip).collect();
        listed_ips.sort();
        assert_eq!(listed_ips, [refused, alive], "{listed:?}");

        // `get` fails the test if this takes PROMPT.
        let url = format!("http://www.lab.test.:{}/", lab.port());
        let got = get(&client(connector), &url).await.unwrap();
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(got.body, "hello");
        assert_eq!(got.remote, Some(server.addr));
        assert_eq!(server.accepted(), 1);
    })
    .await
}

/// `PublicOnly` refuses the loopback address: resolution fails, so reqwest never connects,
/// and connie's error, with the refused address, is in the reqwest error's chain.
#[tokio::test]
async fn public_only_fails_the_request_before_any_connection() {
    bounded(async {
        let server = HttpServer::bind(SocketAddr::new(ip("127.0.0.54"), 0))
            .await
            .unwrap();
        let dns = DnsServer::builder()
            .host("www", [server.addr.ip()])
            .start()
            .await
            .unwrap();
        let connector = ConnieConnector::new()
            .resolver(dns.resolver())
            .address_policy(PublicOnly);

        let url = format!("http://www.lab.test.:{}/", server.addr.port());
        let error = get(&client(connector), &url).await.expect_err("refused");
        assert!(error.is_connect(), "{error:?}");
        let connie =
            find::<ConnectError>(&error).unwrap_or_else(|| panic!("no ConnectError in {error:?}"));
        assert!(connie.is_refused_by_policy(), "{connie:?}");
        assert!(connie.attempts().is_empty(), "{connie:?}");
        assert_eq!(
            connie.refused_by_policy(),
            [SocketAddr::new(server.addr.ip(), 0)]
        );
        assert_eq!(
            connie.to_string(),
            "connect to www.lab.test. failed: 1 address refused by the address policy"
        );
        assert_eq!(server.accepted(), 0);
    })
    .await
}

#[tokio::test]
async fn a_name_that_does_not_exist_is_connies_dns_error() {
    bounded(async {
        let dns = DnsServer::builder()
            .host("www", [ip("127.0.0.55")])
            .start()
            .await
            .unwrap();
        let connector = ConnieConnector::new().resolver(dns.resolver());

        let error = get(&client(connector), "http://missing.lab.test.:8080/")
            .await
            .expect_err("no such name");
        let connie =
            find::<ConnectError>(&error).unwrap_or_else(|| panic!("no ConnectError in {error:?}"));
        assert_eq!(connie.kind(), ErrorKind::Dns, "{connie:?}");
        assert!(connie.is_dns());
        assert_eq!(connie.dns_errors().len(), 2, "{connie:?}");
        assert_eq!(
            connie.to_string(),
            "connect to missing.lab.test. failed: could not resolve missing.lab.test.: \
         no such name (A, AAAA)"
        );
    })
    .await
}

/// The list is in the schedule's order (leading family first, then alternating), at most
/// `max_addresses` long with each family's fair share, and every port is 0 (reqwest puts
/// the URL's).
#[tokio::test(start_paused = true)]
async fn the_list_is_in_connies_order_capped_fairly_with_port_zero() {
    bounded(async {
        let v4 = [
            "192.0.2.1",
            "192.0.2.2",
            "192.0.2.3",
            "192.0.2.4",
            "192.0.2.5",
        ];
        let v6 = ["2001:db8::1", "2001:db8::2"];
        let dns = DnsServer::builder()
            .host("www", v4.iter().chain(&v6).map(|s| ip(s)))
            .start()
            .await
            .unwrap();
        // Which family leads by default depends on this machine's routes (RFC 6724: a
        // host whose only IPv6 address is a ULA prefers IPv4), so the test names it.
        let connector = ConnieConnector::new()
            .resolver(dns.resolver())
            .schedule(Schedule::learned().preferred_family(Family::V6));

        let listed = resolve(&connector, "www.lab.test.").await.unwrap();
        // Each family keeps the DNS server's order, whatever it is; connie interleaves them.
        let (mut got_v4, mut got_v6): (Vec<SocketAddr>, Vec<SocketAddr>) =
            listed.iter().partition(|a| Family::of(a) == Family::V4);
        let families: Vec<Family> = listed.iter().map(Family::of).collect();
        use Family::{V4, V6};
        assert_eq!(families, [V6, V4, V6, V4, V4, V4, V4], "{listed:?}");
        got_v4.sort();
        got_v6.sort();
        assert_eq!(got_v4, port_zero(&v4));
        assert_eq!(got_v6, port_zero(&v6));

        // IPv4 first, two of it, under a cap of 4: two of each family.
        let connector = ConnieConnector::new()
            .resolver(dns.resolver())
            .schedule(
                Schedule::race_all()
                    .preferred_family(V4)
                    .first_family_count(2),
            )
            .max_addresses(4);
        let listed = resolve(&connector, "www.lab.test.").await.unwrap();
        let families: Vec<Family> = listed.iter().map(Family::of).collect();
        assert_eq!(families, [V4, V4, V6, V6], "{listed:?}");
    })
    .await
}

/// The list is sorted by RFC 6724, not left in DNS order: `127.0.0.1` (link-local scope,
/// its own source) goes before `192.0.2.1` on any machine: by rule 8 (smaller scope) where
/// `192.0.2.1` has a route, by rule 1 where it has none.
#[tokio::test(start_paused = true)]
async fn the_list_is_sorted_by_rfc_6724() {
    bounded(async {
        let dns = DnsServer::builder()
            .host("www", [ip("192.0.2.1"), ip("127.0.0.1")])
            .start()
            .await
            .unwrap();
        let connector = ConnieConnector::new().resolver(dns.resolver());
        let listed = resolve(&connector, "www.lab.test.").await.unwrap();
        assert_eq!(listed, port_zero(&["127.0.0.1", "192.0.2.1"]));
    })
    .await
}

/// Both answers are awaited, a late `AAAA` included; the total timeout bounds the wait,
/// and then the `A` addresses in hand are the list.
#[tokio::test(start_paused = true)]
async fn a_late_aaaa_is_awaited_for_at_most_the_total_timeout() {
    bounded(async {
        let dns = DnsServer::builder()
            .host("www", [ip("192.0.2.1"), ip("2001:db8::1")])
            .delay(RecordType::AAAA, ms(200))
            .start()
            .await
            .unwrap();

        // IPv6 first, whatever this machine's routes say (see above).
        let waiting = ConnieConnector::new()
            .resolver(dns.resolver())
            .schedule(Schedule::learned().preferred_family(Family::V6));
        let start = Instant::now();
        let listed = resolve(&waiting, "www.lab.test.").await.unwrap();
        assert_eq!(start.elapsed(), ms(200));
        assert_eq!(listed, port_zero(&["2001:db8::1", "192.0.2.1"]));

        let bounded = ConnieConnector::new()
            .resolver(dns.resolver())
            .total_timeout(Some(ms(100)));
        let start = Instant::now();
        let listed = resolve(&bounded, "www.lab.test.").await.unwrap();
        assert_eq!(start.elapsed(), ms(100));
        assert_eq!(listed, port_zero(&["192.0.2.1"]));
    })
    .await
}

/// reqwest connects to an IP-literal host without asking any resolver, so the policy never
/// sees it: the limitation the docs warn about, pinned so that a change in reqwest shows.
#[tokio::test]
async fn an_ip_literal_url_never_reaches_the_resolver_or_its_policy() {
    bounded(async {
        let server = HttpServer::bind(SocketAddr::new(ip("127.0.0.56"), 0))
            .await
            .unwrap();
        let connector = ConnieConnector::new().address_policy(PublicOnly);

        let got = get(&client(connector), &format!("http://{}/", server.addr))
            .await
            .unwrap();
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(server.accepted(), 1);
    })
    .await
}

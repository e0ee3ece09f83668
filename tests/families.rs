//! Which families a connector looks up and dials: `ip_family`, behind a real DNS server
//! (an in-process hickory-server on loopback) that counts the queries it receives.
//!
//! What this host's routes reach ([`Connectivity::Probe`]) is proven where the routes
//! are the test's: with a probe the test sets (`connector.rs`'s unit tests) and with real
//! routes in the network-namespace lab (`tests/netns.rs`). Here every connector assumes
//! both families, so that nothing depends on the machine's routes.

mod support;

use std::net::SocketAddr;

use connie::dns::{Answer, Answers, Query, Resolve};
use connie::{Connectivity, ConnieConnector, ErrorKind, Family, IpFamily};
use connie_lab::{DnsServer, HostKind, Lab, RecordType};
use support::{bounded, ip};

/// Alive hosts on `::1` and `127.0.0.2`, both named `www.lab.test.` by a DNS server.
async fn dual_stack() -> (Lab, DnsServer) {
    let lab = Lab::builder()
        .host(HostKind::Alive, ip("::1"))
        .host(HostKind::Alive, ip("127.0.0.2"))
        .build()
        .await
        .unwrap();
    let dns = lab.dns("www").start().await.unwrap();
    (lab, dns)
}

fn connector(ip_family: IpFamily) -> ConnieConnector {
    ConnieConnector::new()
        .connectivity(Connectivity::Assume)
        .ip_family(ip_family)
}

/// One family only: the other is never queried, and never dialed.
#[tokio::test(start_paused = true)]
async fn one_family_sends_one_query() {
    bounded(async {
        for (families, family, rtype, other) in [
            (
                IpFamily::V4Only,
                Family::V4,
                RecordType::A,
                RecordType::AAAA,
            ),
            (
                IpFamily::V6Only,
                Family::V6,
                RecordType::AAAA,
                RecordType::A,
            ),
        ] {
            let (lab, dns) = dual_stack().await;
            let (_stream, info) = connector(families)
                .resolver(dns.resolver())
                .connect(("www.lab.test.", lab.port()))
                .await
                .unwrap();
            assert_eq!(Family::of(&info.remote_addr()), family, "{families:?}");
            assert!(info
                .attempts()
                .iter()
                .all(|a| Family::of(&a.addr()) == family));
            assert_eq!(dns.queries(rtype), 1, "{families:?}");
            assert_eq!(
                dns.queries(other),
                0,
                "{families:?}: the other family is asked"
            );
            // The family left out is not waited for either: no resolution delay.
            assert_eq!(info.elapsed(), std::time::Duration::ZERO, "{families:?}");
        }
    })
    .await
}

/// Both families: both queried, as before.
#[tokio::test(start_paused = true)]
async fn both_families_send_both_queries() {
    bounded(async {
        let (lab, dns) = dual_stack().await;
        connector(IpFamily::Both)
            .resolver(dns.resolver())
            .connect(("www.lab.test.", lab.port()))
            .await
            .unwrap();
        assert_eq!(dns.queries(RecordType::A), 1);
        assert_eq!(dns.queries(RecordType::AAAA), 1);
    })
    .await
}

/// A literal address of the family left out is not dialed: the error says why.
#[tokio::test(start_paused = true)]
async fn a_literal_of_the_family_left_out_is_skipped() {
    bounded(async {
        let (lab, _dns) = dual_stack().await;
        let v6 = SocketAddr::new(ip("::1"), lab.port());
        let err = connector(IpFamily::V4Only).connect(v6).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoAddresses);
        assert!(err.attempts().is_empty());
        assert_eq!(
            err.to_string(),
            format!(
                "connect to {v6} failed: no addresses to connect to; \
                 1 address skipped by ip_family (V4Only)"
            )
        );
        // Of a list, the addresses of the family kept are raced.
        let v4 = SocketAddr::new(ip("127.0.0.2"), lab.port());
        let (_stream, info) = connector(IpFamily::V4Only)
            .connect(&[v6, v4][..])
            .await
            .unwrap();
        assert_eq!(info.remote_addr(), v4);
        assert_eq!(info.attempts().len(), 1);
    })
    .await
}

/// A resolver that answers both families whatever it is asked, and records what it was
/// asked.
struct BothAnyway(SocketAddr, SocketAddr);

impl Resolve for BothAnyway {
    fn resolve(&self, query: &Query<'_>) -> Answers {
        assert_eq!(query.families(), IpFamily::V6Only);
        assert!(query.wants(Family::V6) && !query.wants(Family::V4));
        Answers::ready(Answer::new(None, [self.0, self.1]))
    }
}

/// A resolver that cannot ask for one family (hyper-util's resolvers answer both at
/// once) is told which the race wants; what it gives of the other is not dialed.
#[tokio::test(start_paused = true)]
async fn addresses_a_resolver_gives_anyway_are_not_dialed() {
    bounded(async {
        let (lab, _dns) = dual_stack().await;
        let (v6, v4) = (ip("::1"), ip("127.0.0.2"));
        let resolver = BothAnyway(SocketAddr::new(v4, 0), SocketAddr::new(v6, 0));
        let (_stream, info) = connector(IpFamily::V6Only)
            .resolver(resolver)
            .connect(("any.example", lab.port()))
            .await
            .unwrap();
        assert_eq!(info.remote_addr(), SocketAddr::new(v6, lab.port()));
        assert_eq!(info.attempts().len(), 1);
    })
    .await
}

/// The static resolver answers the families asked.
#[tokio::test(start_paused = true)]
async fn the_static_resolver_answers_the_families_asked() {
    bounded(async {
        let (lab, _dns) = dual_stack().await;
        let resolver =
            connie::dns::StaticResolver::new().host("www.example", [ip("::1"), ip("127.0.0.2")]);
        let (_stream, info) = connector(IpFamily::V4Only)
            .resolver(resolver)
            .connect(("www.example", lab.port()))
            .await
            .unwrap();
        assert_eq!(
            info.remote_addr(),
            SocketAddr::new(ip("127.0.0.2"), lab.port())
        );
        assert_eq!(info.attempts().len(), 1);
    })
    .await
}

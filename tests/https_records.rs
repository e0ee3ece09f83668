//! HTTPS records (RFC 9460) in a race, behind real DNS: an in-process hickory-server on
//! loopback serves each case's records, and the lab's hosts (`127.0.9.0/24`) answer on
//! loopback. `ConnieConnector::https_records(true)` looks the records up beside `A` and
//! `AAAA`.
//!
//! Paused clock (current-thread runtime): the server's delays are tokio sleeps, so every
//! time asserted is exact and no test waits in real time.

mod support;

use std::net::{Ipv4Addr, SocketAddr};

use connie::{ConnectInfo, Connectivity, ConnieConnector, Schedule};
use connie_lab::{DnsServer, DnsServerBuilder, Https, Lab, RecordType};
use support::{bounded, ip, ms};

fn v4(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 9, last)
}

/// A connector asking the lab's DNS server, with HTTPS records on, whatever this host's
/// routes reach.
fn connector(dns: &DnsServer, schedule: Schedule) -> ConnieConnector {
    ConnieConnector::new()
        .resolver(dns.resolver())
        .connectivity(Connectivity::Assume)
        .schedule(schedule)
        .https_records(true)
}

/// The account of a race to `www.lab.test.` on `port`, which connects.
async fn connected(dns: &DnsServer, schedule: Schedule, port: u16) -> ConnectInfo {
    let (_stream, info) = connector(dns, schedule)
        .connect(("www.lab.test.", port))
        .await
        .unwrap();
    info
}

/// A port nothing listens on, on the lab's addresses: the target's own port, which the
/// records move the race off.
const UNUSED_PORT: u16 = 9;

/// The goal of issue 24: with hints in the HTTPS answer and `A`/`AAAA` 200 ms late, the
/// first attempt starts at the HTTPS answer, not at 200 ms.
#[tokio::test(start_paused = true)]
async fn hints_start_the_race_before_the_addresses_answer() {
    bounded(async {
        let lab = Lab::builder().alive(ip("127.0.9.1")).build().await.unwrap();
        let dns = DnsServerBuilder::default()
            .host("www", [ip("127.0.9.1")])
            .https("www", Https::service(1, ".").ipv4_hint([v4(1)]))
            .delay(RecordType::A, ms(200))
            .delay(RecordType::AAAA, ms(200))
            .start()
            .await
            .unwrap();
        // `rfc8305` waits its resolution delay for `AAAA`, as it would without records.
        for (schedule, at) in [(Schedule::race_all(), ms(0)), (Schedule::rfc8305(), ms(50))] {
            let (_stream, info) = connector(&dns, schedule.clone())
                .connect(("www.lab.test.", lab.port()))
                .await
                .unwrap();
            assert_eq!(
                info.remote_addr(),
                SocketAddr::new(ip("127.0.9.1"), lab.port())
            );
            assert_eq!(info.attempts()[0].started(), at, "{schedule:?}");
            assert_eq!(info.elapsed(), at, "{schedule:?}");
            let endpoint = info.endpoint().expect("the record's endpoint");
            assert_eq!(endpoint.priority(), 1);
            assert_eq!(endpoint.target(), None);
        }
    })
    .await
}

/// The endpoint's port is dialed, not the target's.
#[tokio::test(start_paused = true)]
async fn the_records_port_is_dialed() {
    bounded(async {
        let lab = Lab::builder().alive(ip("127.0.9.2")).build().await.unwrap();
        let dns = DnsServerBuilder::default()
            .host("www", [ip("127.0.9.2")])
            .https("www", Https::service(1, ".").port(lab.port()))
            .start()
            .await
            .unwrap();
        let info = connected(&dns, Schedule::race_all(), UNUSED_PORT).await;
        assert_eq!(
            info.remote_addr(),
            SocketAddr::new(ip("127.0.9.2"), lab.port())
        );
        assert_eq!(info.endpoint().and_then(|e| e.port()), Some(lab.port()));

        // Without the records, the target's own port, where nothing listens.
        let err = connector(&dns, Schedule::race_all())
            .https_records(false)
            .connect(("www.lab.test.", UNUSED_PORT))
            .await
            .unwrap_err();
        assert!(err
            .attempts()
            .iter()
            .all(|a| a.addr().port() == UNUSED_PORT));
    })
    .await
}

/// An alias is followed to the name that holds the records, and a target other than the
/// name is looked up on its own.
#[tokio::test(start_paused = true)]
async fn an_alias_is_followed_and_its_target_looked_up() {
    bounded(async {
        let lab = Lab::builder().alive(ip("127.0.9.3")).build().await.unwrap();
        let dns = DnsServerBuilder::default()
            .host("www", [ip("127.0.9.4")])
            .host("backend", [ip("127.0.9.3")])
            .https("www", Https::alias("svc"))
            .https("svc", Https::service(1, "backend").port(lab.port()))
            .start()
            .await
            .unwrap();
        let info = connected(&dns, Schedule::rfc8305(), UNUSED_PORT).await;
        assert_eq!(
            info.remote_addr(),
            SocketAddr::new(ip("127.0.9.3"), lab.port())
        );
        let endpoint = info.endpoint().expect("the record's endpoint");
        assert_eq!(endpoint.target(), Some("backend.lab.test."));
        assert_eq!(dns.queries(RecordType::HTTPS), 2);
    })
    .await
}

/// A target's lookups run in parallel with the attempts already running: the name's own
/// address hangs (blackholed) from 100 ms, when `A` and `AAAA` answer; the records come
/// at 110 ms, naming another target, whose `A` (100 ms late, as every `A`) comes at
/// 210 ms and connects then. A target's lookups are not given up as late records are.
#[tokio::test(start_paused = true)]
async fn a_target_is_looked_up_while_attempts_run() {
    bounded(async {
        let lab = Lab::builder()
            .blackholed(ip("127.0.9.30"))
            .alive(ip("127.0.9.31"))
            .build()
            .await
            .unwrap();
        let dns = DnsServerBuilder::default()
            .host("www", [ip("127.0.9.30")])
            .host("backend", [ip("127.0.9.31")])
            .https("www", Https::service(1, "backend"))
            .delay(RecordType::A, ms(100))
            .delay(RecordType::AAAA, ms(100))
            .delay(RecordType::HTTPS, ms(110))
            .start()
            .await
            .unwrap();
        let info = connected(&dns, Schedule::race_all(), lab.port()).await;
        let starts: Vec<_> = info
            .attempts()
            .iter()
            .map(|a| (a.addr().ip(), a.started(), a.outcome().clone()))
            .collect();
        assert_eq!(
            starts,
            [
                (ip("127.0.9.30"), ms(100), connie::Outcome::Cancelled),
                (ip("127.0.9.31"), ms(210), connie::Outcome::Connected)
            ]
        );
        assert_eq!(info.elapsed(), ms(210));
    })
    .await
}

/// An endpoint of the name itself (target `.`) takes the name's own answers, with no
/// lookup of its own, when the name is looked up as it is: given absolute, or the search
/// list's only candidate. A resolver built elsewhere, whose search list connie cannot see,
/// looks the target up again.
#[tokio::test(start_paused = true)]
async fn the_names_own_answers_serve_its_endpoint() {
    bounded(async {
        let lab = Lab::builder()
            .alive(ip("127.0.9.50"))
            .build()
            .await
            .unwrap();
        for (name, built_elsewhere, a_queries) in [
            ("www.lab.test.", false, 1),
            ("www.lab.test", false, 1),
            ("www.lab.test", true, 2),
        ] {
            let dns = DnsServerBuilder::default()
                .host("www", [ip("127.0.9.50")])
                .https("www", Https::service(1, ".").port(lab.port()))
                .start()
                .await
                .unwrap();
            let connector = connector(&dns, Schedule::race_all());
            let connector = match built_elsewhere {
                true => connector,
                false => {
                    connector.resolver_config(dns.resolver_config(), DnsServer::resolver_opts())
                }
            };
            let (_stream, info) = connector.connect((name, UNUSED_PORT)).await.unwrap();
            assert!(info.endpoint().is_some(), "{name}");
            assert_eq!(
                dns.queries(RecordType::A),
                a_queries,
                "{name}, {built_elsewhere}"
            );
        }
    })
    .await
}

/// Endpoints are tried by priority, lowest first; an endpoint that speaks only QUIC is
/// skipped. The name has no address of its own, and each endpoint's hint comes with the
/// records, so the order is the records' alone.
#[tokio::test(start_paused = true)]
async fn endpoints_are_tried_by_priority() {
    bounded(async {
        let lab = Lab::builder()
            .refused(ip("127.0.9.5"))
            .alive(ip("127.0.9.6"))
            .alive(ip("127.0.9.8"))
            .build()
            .await
            .unwrap();
        let endpoint = |priority, target, last| {
            Https::service(priority, target)
                .port(lab.port())
                .ipv4_hint([v4(last)])
        };
        let dns = DnsServerBuilder::default()
            .host("first", [ip("127.0.9.5")])
            .host("second", [ip("127.0.9.6")])
            .host("quic", [ip("127.0.9.8")])
            .https("www", endpoint(3, "second", 6))
            .https("www", endpoint(2, "first", 5))
            .https("www", endpoint(1, "quic", 8).alpn(["h3"]).no_default_alpn())
            .start()
            .await
            .unwrap();
        let info = connected(&dns, Schedule::sequential(), UNUSED_PORT).await;
        let dialed: Vec<_> = info.attempts().iter().map(|a| a.addr().ip()).collect();
        assert_eq!(dialed, [ip("127.0.9.5"), ip("127.0.9.6")]);
        let endpoint = info.endpoint().expect("the record's endpoint");
        assert_eq!(
            (endpoint.priority(), endpoint.target()),
            (3, Some("second.lab.test."))
        );
        assert_eq!(endpoint.alpn().collect::<Vec<_>>(), [&b"http/1.1"[..]]);
    })
    .await
}

/// A late HTTPS answer holds the first attempt up only until it is given up (5 ms after
/// `A` and `AAAA` here), within the resolution delay; a schedule without one waits for
/// nothing.
#[tokio::test(start_paused = true)]
async fn a_late_https_answer_holds_up_only_the_resolution_delay() {
    bounded(async {
        let lab = Lab::builder().alive(ip("127.0.9.9")).build().await.unwrap();
        let dns = DnsServerBuilder::default()
            .host("www", [ip("127.0.9.9")])
            .https("www", Https::service(1, "."))
            .delay(RecordType::HTTPS, ms(300))
            .start()
            .await
            .unwrap();
        let info = connected(&dns, Schedule::rfc8305(), lab.port()).await;
        assert_eq!(info.attempts()[0].started(), ms(5));
        assert!(info.endpoint().is_none());
        let info = connected(&dns, Schedule::race_all(), lab.port()).await;
        assert_eq!(info.attempts()[0].started(), ms(0));
    })
    .await
}

/// Through the `Service<Uri>` of a connector made by `rustls`, an `https` URI asks for
/// HTTPS records by default; an attempt to an endpoint offers only the protocols it speaks.
#[cfg(all(feature = "rustls", feature = "hyper"))]
mod tls {
    use hyper::Uri;
    use tower_service::Service;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn https_uris_through_rustls_use_the_records_and_their_protocols() {
        bounded(async {
            let lab = Lab::builder().tls(ip("127.0.9.20")).build().await.unwrap();
            // The endpoint speaks `h3` and, by default, `http/1.1`: over TCP, `http/1.1`.
            let dns = DnsServerBuilder::default()
                .host("www", [ip("127.0.9.20")])
                .https("www", Https::service(1, ".").port(lab.port()).alpn(["h3"]))
                .start()
                .await
                .unwrap();
            let identity = lab.tls_identity().expect("a TLS lab");
            let config = identity.client_config(&[b"h2", b"http/1.1"]);
            let mut connector = ConnieConnector::new()
                .resolver(dns.resolver())
                .connectivity(Connectivity::Assume)
                .rustls(config);
            let uri: Uri = format!("https://www.lab.test:{UNUSED_PORT}/")
                .parse()
                .unwrap();
            let stream = connector.call(uri).await.unwrap();
            let info = stream.info();
            let tls_host = SocketAddr::new(ip("127.0.9.20"), lab.port());
            assert_eq!(info.remote_addr(), tls_host);
            // The server prefers `h2`; the attempt offered `http/1.1` alone.
            assert_eq!(info.alpn(), Some(&b"http/1.1"[..]));
            assert!(info.endpoint().is_some());

            // `connect` asks for no records unless told to: the target's own port.
            let err = connector
                .connect(("www.lab.test", UNUSED_PORT))
                .await
                .unwrap_err();
            assert!(err
                .attempts()
                .iter()
                .all(|a| a.addr().port() == UNUSED_PORT));
            let (_stream, info) = connector
                .https_records(true)
                .connect(("www.lab.test", UNUSED_PORT))
                .await
                .unwrap();
            assert_eq!(info.remote_addr(), tls_host);
        })
        .await
    }
}

/// Records that come long after `A` and `AAAA` are given up: a fifth of the time those
/// took, at least 5 ms and at most 50 ms. A race whose every address is refused does not
/// wait for a silent HTTPS answer.
#[tokio::test(start_paused = true)]
async fn late_records_are_given_up_soon_after_the_addresses() {
    bounded(async {
        let lab = Lab::builder()
            .refused(ip("127.0.9.40"))
            .alive(ip("127.0.9.41"))
            .build()
            .await
            .unwrap();
        // A silent HTTPS answer, immediate addresses: the race fails 5 ms in.
        let dns = DnsServerBuilder::default()
            .host("www", [ip("127.0.9.40")])
            .https("www", Https::service(1, ".").port(lab.port()))
            .delay(RecordType::HTTPS, std::time::Duration::from_secs(10))
            .start()
            .await
            .unwrap();
        let start = tokio::time::Instant::now();
        let err = connector(&dns, Schedule::race_all())
            .connect(("www.lab.test.", lab.port()))
            .await
            .unwrap_err();
        assert_eq!(start.elapsed(), ms(5));
        assert_eq!(err.attempts().len(), 1);

        // Addresses at 100 ms: the records have until 120 ms. The name's own address is
        // refused on the target's port; the endpoint's is the lab's port.
        for (https_at, first_at, port) in [(115, 115, lab.port()), (130, 120, UNUSED_PORT)] {
            let dns = DnsServerBuilder::default()
                .host("www", [ip("127.0.9.41")])
                .https("www", Https::service(1, ".").port(lab.port()))
                .delay(RecordType::A, ms(100))
                .delay(RecordType::AAAA, ms(100))
                .delay(RecordType::HTTPS, ms(https_at))
                .start()
                .await
                .unwrap();
            let start = tokio::time::Instant::now();
            let result = connector(&dns, Schedule::rfc8305())
                .connect(("www.lab.test.", UNUSED_PORT))
                .await;
            // A loopback connect, refused or not, takes no time on the paused clock.
            assert_eq!(start.elapsed(), ms(first_at), "HTTPS at {https_at} ms");
            let first = match &result {
                Ok((_, info)) => info.attempts()[0].addr(),
                Err(err) => err.attempts()[0].addr(),
            };
            assert_eq!(first.port(), port, "HTTPS at {https_at} ms");
        }
    })
    .await
}

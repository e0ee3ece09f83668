//! The DNS server answering hickory's resolver, over UDP and TCP, with and without delays.
//! Every lookup is bounded by the resolver's own 2 s timeout and single try.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::rdata::svcb::{
    Alpn, EchConfigList, IpHint, SvcParamKey, SvcParamValue, SVCB,
};
use hickory_resolver::proto::rr::rdata::{A, AAAA};
use hickory_resolver::proto::rr::RData as ResolverRData;
use tokio::time::Instant;

use super::*;

const V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const V4B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

async fn lab() -> DnsServer {
    DnsServer::builder()
        .host("v4only", [IpAddr::V4(V4), IpAddr::V4(V4B)])
        .host("v6only.lab.test.", [IpAddr::V6(V6)])
        .host("both", [IpAddr::V4(V4)])
        .host("both", [IpAddr::V6(V6)])
        .start()
        .await
        .unwrap()
}

fn v4s(lookup: &hickory_resolver::lookup::Lookup) -> Vec<Ipv4Addr> {
    lookup
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            ResolverRData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

fn v6s(lookup: &hickory_resolver::lookup::Lookup) -> Vec<Ipv6Addr> {
    lookup
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            ResolverRData::AAAA(aaaa) => Some(aaaa.0),
            _ => None,
        })
        .collect()
}

/// A lookup's result and the time it took, on the runtime's clock.
type Timed = (Result<hickory_resolver::lookup::Lookup, NetError>, Duration);

/// Looks `name` up as `A` and `AAAA` at once, as a racing client does, timing each from
/// the same start.
async fn both_timed(r: &TokioResolver, name: &str) -> (Timed, Timed) {
    let start = Instant::now();
    let a = async { (r.ipv4_lookup(name).await, start.elapsed()) };
    let aaaa = async { (r.ipv6_lookup(name).await, start.elapsed()) };
    tokio::join!(a, aaaa)
}

fn is_nodata(e: &NetError) -> bool {
    e.is_no_records_found() && !e.is_nx_domain()
}

#[tokio::test]
async fn ports_differ_and_config_points_at_them() {
    let server = lab().await;
    assert_ne!(server.udp_addr().port(), server.tcp_addr().port());
    let config = server.resolver_config();
    let ns = &config.name_servers()[0];
    let ports: Vec<u16> = ns.connections.iter().map(|c| c.port).collect();
    assert_eq!(ports, [server.udp_addr().port(), server.tcp_addr().port()]);
}

#[tokio::test]
async fn a_only_name() {
    let server = lab().await;
    let r = server.resolver();
    let mut got = v4s(&r.ipv4_lookup("v4only.lab.test.").await.unwrap());
    got.sort();
    assert_eq!(got, [V4, V4B]);
    let err = r.ipv6_lookup("v4only.lab.test.").await.unwrap_err();
    assert!(is_nodata(&err), "{err:?}");
}

#[tokio::test]
async fn aaaa_only_name() {
    let server = lab().await;
    let r = server.resolver();
    assert_eq!(v6s(&r.ipv6_lookup("v6only.lab.test.").await.unwrap()), [V6]);
    let err = r.ipv4_lookup("v6only.lab.test.").await.unwrap_err();
    assert!(is_nodata(&err), "{err:?}");
}

#[tokio::test]
async fn both_families() {
    let server = lab().await;
    let r = server.resolver();
    assert_eq!(v4s(&r.ipv4_lookup("both.lab.test.").await.unwrap()), [V4]);
    assert_eq!(v6s(&r.ipv6_lookup("both.lab.test.").await.unwrap()), [V6]);
    // Case-insensitive, as DNS names are.
    assert_eq!(v4s(&r.ipv4_lookup("BOTH.Lab.Test.").await.unwrap()), [V4]);
}

#[tokio::test]
async fn nxdomain() {
    let server = lab().await;
    let r = server.resolver();
    for err in [
        r.ipv4_lookup("missing.lab.test.").await.unwrap_err(),
        r.ipv6_lookup("missing.lab.test.").await.unwrap_err(),
    ] {
        assert!(err.is_nx_domain(), "{err:?}");
        assert!(err.is_no_records_found(), "{err:?}");
    }
}

#[tokio::test]
async fn over_tcp_only() {
    let server = lab().await;
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = server.tcp_addr().port();
    let config = ResolverConfig::from_name_servers(vec![NameServerConfig::new(
        server.tcp_addr().ip(),
        true,
        vec![tcp],
    )]);
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
    *builder.options_mut() = DnsServer::resolver_opts();
    let r = builder.build().unwrap();
    assert_eq!(v6s(&r.ipv6_lookup("both.lab.test.").await.unwrap()), [V6]);
    assert!(r
        .ipv4_lookup("nope.lab.test.")
        .await
        .unwrap_err()
        .is_nx_domain());
}

#[tokio::test]
async fn custom_origin_and_bad_names() {
    let server = DnsServer::builder()
        .origin("example.internal")
        .host("h", [IpAddr::V4(V4)])
        .start()
        .await
        .unwrap();
    assert_eq!(server.origin().to_string(), "example.internal.");
    let r = server.resolver();
    assert_eq!(
        v4s(&r.ipv4_lookup("h.example.internal.").await.unwrap()),
        [V4]
    );

    let err = DnsServer::builder()
        .host("elsewhere.example.", [IpAddr::V4(V4)])
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aaaa_delay_lets_a_win() {
    let server = DnsServer::builder()
        .host("both", [IpAddr::V4(V4), IpAddr::V6(V6)])
        .delay(RecordType::AAAA, Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let r = server.resolver();
    let ((a, a_took), (aaaa, aaaa_took)) = both_timed(&r, "both.lab.test.").await;
    eprintln!("real clock: A {a_took:?}, AAAA {aaaa_took:?}");
    assert_eq!(v4s(&a.unwrap()), [V4]);
    assert_eq!(v6s(&aaaa.unwrap()), [V6]);
    assert!(a_took < Duration::from_millis(150), "A took {a_took:?}");
    assert!(
        aaaa_took >= Duration::from_millis(200),
        "AAAA took {aaaa_took:?}"
    );
}

#[tokio::test]
async fn timeout_is_reported_as_timeout() {
    let server = DnsServer::builder()
        .host("slow", [IpAddr::V4(V4)])
        .delay(RecordType::A, Duration::from_secs(5))
        .start()
        .await
        .unwrap();
    let mut opts = DnsServer::resolver_opts();
    opts.timeout = Duration::from_millis(100);
    let r = server.try_resolver_with(opts).unwrap();
    let start = Instant::now();
    let err = r.ipv4_lookup("slow.lab.test.").await.unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, NetError::Timeout), "{err:?}");
    // One try only (attempts = 0): about one timeout, not two.
    assert!(took < Duration::from_millis(190), "took {took:?}");
}

#[tokio::test]
async fn ip_literals_are_not_short_circuited() {
    let server = lab().await;
    let r = server.resolver();
    let v4 = r.ipv4_lookup("127.0.0.1").await;
    let v6 = r.ipv6_lookup("::1").await;
    let ip = r.lookup_ip("127.0.0.1").await.unwrap();
    eprintln!("ipv4_lookup(127.0.0.1) = {v4:?}");
    eprintln!("ipv6_lookup(::1) = {v6:?}");
    eprintln!("lookup_ip(127.0.0.1) = {:?}", ip.iter().collect::<Vec<_>>());
    assert!(v4.is_err());
    assert!(v6.is_err());
    assert_eq!(
        ip.iter().collect::<Vec<_>>(),
        [IpAddr::V4(Ipv4Addr::LOCALHOST)]
    );
}

#[tokio::test]
async fn drop_stops_the_server() {
    let server = lab().await;
    let r = server.resolver();
    let udp_addr = server.udp_addr();
    let tcp_addr = server.tcp_addr();
    drop(server);
    // Let the runtime process the aborts.
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Both ports are free again: the listener tasks (and their sockets) are gone.
    tokio::net::UdpSocket::bind(udp_addr).await.unwrap();
    tokio::net::TcpListener::bind(tcp_addr).await.unwrap();
    let _ = r;
}

#[tokio::test(start_paused = true)]
async fn delay_under_paused_clock() {
    let server = DnsServer::builder()
        .host("both", [IpAddr::V4(V4), IpAddr::V6(V6)])
        .delay(RecordType::AAAA, Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let r = server.resolver();
    let real = std::time::Instant::now();
    for round in 0..20 {
        let ((a, a_took), (aaaa, aaaa_took)) = both_timed(&r, "both.lab.test.").await;
        eprintln!("paused round {round}: A {a_took:?}, AAAA {aaaa_took:?} (virtual)");
        assert_eq!(v4s(&a.unwrap()), [V4], "round {round}");
        assert_eq!(v6s(&aaaa.unwrap()), [V6], "round {round}");
        assert!(
            a_took < Duration::from_millis(200),
            "round {round}: A {a_took:?}"
        );
        assert!(
            aaaa_took >= Duration::from_millis(200) && aaaa_took < RESOLVER_TIMEOUT,
            "round {round}: AAAA {aaaa_took:?}"
        );
    }
    // 20 delayed answers took 4 s of virtual time but far less real time.
    let real = real.elapsed();
    eprintln!("paused: 20 rounds in {real:?} real time");
    assert!(real < Duration::from_secs(4), "real {real:?}");
}

#[tokio::test]
async fn dead_server_error() {
    let server = lab().await;
    let r = server.resolver();
    drop(server);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let start = Instant::now();
    let err = r.ipv4_lookup("both.lab.test.").await.unwrap_err();
    let took = start.elapsed();
    eprintln!("dead server -> {err:?} after {took:?}");
    // UDP to a closed port is not reported as refused: hickory waits for the timeout.
    assert!(matches!(err, NetError::Timeout), "{err:?}");
    assert!(
        took < RESOLVER_TIMEOUT + Duration::from_millis(500),
        "took {took:?}"
    );
}

/// The HTTPS records of `name`, lowest priority first.
async fn https_of(r: &TokioResolver, name: &str) -> Vec<SVCB> {
    let lookup = r.lookup(name, RecordType::HTTPS).await.unwrap();
    let mut records: Vec<SVCB> = lookup
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            ResolverRData::HTTPS(https) => Some(https.0.clone()),
            _ => None,
        })
        .collect();
    records.sort_by_key(|r| r.svc_priority);
    records
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

#[tokio::test]
async fn https_records_are_served_with_their_parameters_in_key_order() {
    let ech = [0xfe, 0x0d, 0, 1, 2];
    let server = DnsServer::builder()
        .host("svc", [IpAddr::V4(V4)])
        .https(
            "www",
            // Given out of order: the wire format wants the keys ascending.
            Https::service(2, "svc")
                .ech(ech)
                .port(8443)
                .alpn(["h2", "http/1.1"])
                .ipv6_hint([V6])
                .ipv4_hint([V4B]),
        )
        .https("www", Https::service(1, ".").alpn(["h2"]).no_default_alpn())
        .https(
            "www",
            Https::service(3, "elsewhere.example.").port(1).port(2),
        )
        .https("alias", Https::alias("www"))
        .https("gone", Https::alias("."))
        .start()
        .await
        .unwrap();
    let r = server.resolver();

    let alpn =
        |ids: &[&str]| SvcParamValue::Alpn(Alpn(ids.iter().map(|s| (*s).to_owned()).collect()));
    let expected = [
        SVCB::new(
            1,
            Name::root(),
            vec![
                (SvcParamKey::Alpn, alpn(&["h2"])),
                (SvcParamKey::NoDefaultAlpn, SvcParamValue::NoDefaultAlpn),
            ],
        ),
        SVCB::new(
            2,
            name("svc.lab.test."),
            vec![
                (SvcParamKey::Alpn, alpn(&["h2", "http/1.1"])),
                (SvcParamKey::Port, SvcParamValue::Port(8443)),
                (
                    SvcParamKey::Ipv4Hint,
                    SvcParamValue::Ipv4Hint(IpHint(vec![A(V4B)])),
                ),
                (
                    SvcParamKey::EchConfigList,
                    SvcParamValue::EchConfigList(EchConfigList(ech.to_vec())),
                ),
                (
                    SvcParamKey::Ipv6Hint,
                    SvcParamValue::Ipv6Hint(IpHint(vec![AAAA(V6)])),
                ),
            ],
        ),
        // A parameter set twice keeps its last value.
        SVCB::new(
            3,
            name("elsewhere.example."),
            vec![(SvcParamKey::Port, SvcParamValue::Port(2))],
        ),
    ];
    assert_eq!(https_of(&r, "www.lab.test.").await, expected);
    assert_eq!(
        https_of(&r, "alias.lab.test.").await,
        [SVCB::new(0, name("www.lab.test."), vec![])]
    );
    assert_eq!(
        https_of(&r, "gone.lab.test.").await,
        [SVCB::new(0, Name::root(), vec![])]
    );
    // No additional records: the target's address is a lookup of its own.
    let lookup = r.lookup("www.lab.test.", RecordType::HTTPS).await.unwrap();
    assert_eq!(lookup.answers().len(), 3);
    assert_eq!(v4s(&r.ipv4_lookup("svc.lab.test.").await.unwrap()), [V4]);
    // A name with addresses and no HTTPS record: NODATA.
    let err = r
        .lookup("svc.lab.test.", RecordType::HTTPS)
        .await
        .unwrap_err();
    assert!(is_nodata(&err), "{err}");
}

#[tokio::test]
async fn an_https_record_that_cannot_be_served_is_refused() {
    let too_long = "x".repeat(64);
    for (why, record) in [
        ("priority 0 is an alias", Https::service(0, "svc")),
        ("an alias takes no parameters", Https::alias("svc").port(1)),
        ("a label over 63 bytes", Https::service(1, &too_long)),
    ] {
        let err = DnsServer::builder()
            .https("www", record)
            .start()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{why}");
    }
    let err = DnsServer::builder()
        .https("www.elsewhere.example.", Https::service(1, "."))
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "outside the zone");
}

/// An HTTPS answer is delayed as any other type, to the exact time on a paused clock, and
/// holds up neither `A` nor `AAAA`.
#[tokio::test(start_paused = true)]
async fn an_https_answer_is_delayed_alone() {
    let server = DnsServer::builder()
        .host("www", [IpAddr::V4(V4), IpAddr::V6(V6)])
        .https("www", Https::service(1, "."))
        .delay(RecordType::HTTPS, Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let r = server.resolver();
    let start = Instant::now();
    let https = async {
        let records = https_of(&r, "www.lab.test.").await;
        (records.len(), start.elapsed())
    };
    let ((a, a_took), (aaaa, aaaa_took)) = async {
        let (both, https) = tokio::join!(both_timed(&r, "www.lab.test."), https);
        assert_eq!(https.0, 1);
        assert!(
            https.1 >= Duration::from_millis(300) && https.1 < Duration::from_millis(310),
            "HTTPS {:?}",
            https.1
        );
        both
    }
    .await;
    assert_eq!(v4s(&a.unwrap()), [V4]);
    assert_eq!(v6s(&aaaa.unwrap()), [V6]);
    assert!(a_took < Duration::from_millis(10), "A {a_took:?}");
    assert!(aaaa_took < Duration::from_millis(10), "AAAA {aaaa_took:?}");
}

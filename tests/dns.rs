//! Races behind real DNS: an in-process hickory-server on loopback answers `A` and `AAAA`,
//! some of them late, and the race must use each answer the moment it arrives.
//!
//! Paused clock (current-thread runtime): the server's delays are tokio sleeps, so every
//! time asserted is exact and no test waits in real time.

mod support;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use connie::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use connie::hickory_resolver::net::runtime::TokioRuntimeProvider;
use connie::hickory_resolver::proto::rr::Name;
use connie::hickory_resolver::TokioResolver;
use connie::{
    ConnectError, Connectivity, ConnieConnector, ErrorKind, Family, IpFamily, PublicOnly, Schedule,
};
use connie_lab::{DnsServer, HostKind, Lab, RecordType};
use support::{bounded, ip, ms, open_fds};
use tokio::net::TcpStream;

/// A lab of hosts plus a DNS server naming them `www.lab.test.`, with an optional delay
/// on `AAAA` answers.
async fn setup(hosts: &[(HostKind, &str)], aaaa_delay: Option<Duration>) -> (Lab, DnsServer) {
    let lab = hosts
        .iter()
        .fold(Lab::builder(), |b, (kind, addr)| b.host(*kind, ip(addr)))
        .build()
        .await
        .unwrap();
    let mut dns = lab.dns("www");
    if let Some(d) = aaaa_delay {
        dns = dns.delay(RecordType::AAAA, d);
    }
    (lab, dns.start().await.unwrap())
}

/// A connector asking `dns`. It looks both families up whatever this host's routes
/// reach (`Connectivity::Assume`): the lab is on loopback, and the probe has tests of its
/// own (`tests/netns.rs`).
fn connector(dns: &DnsServer, schedule: Schedule) -> ConnieConnector {
    ConnieConnector::new()
        .resolver(dns.resolver())
        .connectivity(Connectivity::Assume)
        .schedule(schedule)
}

#[tokio::test(start_paused = true)]
async fn a_only_aaaa_only_and_both() {
    bounded(async {
        use HostKind::Alive;
        for (hosts, family) in [
            (&[(Alive, "127.0.0.2")][..], Family::V4),
            (&[(Alive, "::1")][..], Family::V6),
            (&[(Alive, "::1"), (Alive, "127.0.0.2")][..], Family::V6),
        ] {
            let (lab, dns) = setup(hosts, None).await;
            let (stream, info) = connector(&dns, Schedule::rfc8305())
                .connect(("www.lab.test.", lab.port()))
                .await
                .unwrap();
            assert_eq!(Family::of(&info.remote_addr()), family, "{hosts:?}");
            assert_eq!(stream.peer_addr().unwrap(), info.remote_addr());
            assert_eq!(info.elapsed(), Duration::ZERO, "{hosts:?}");
            assert_eq!(info.attempts().len(), 1);
        }
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn a_name_that_does_not_exist_is_a_dns_error() {
    bounded(async {
        let (lab, dns) = setup(&[(HostKind::Alive, "127.0.0.2")], None).await;
        let err = connector(&dns, Schedule::race_all())
            .connect(("missing.lab.test.", lab.port()))
            .await
            .unwrap_err();
        let mut families: Vec<_> = err.dns_errors().iter().map(|e| e.family()).collect();
        families.sort_by_key(|f| format!("{f:?}"));
        assert_eq!(families, [Some(Family::V4), Some(Family::V6)]);
        assert!(!err.is_timeout());
        let name = ("missing.lab.test.", lab.port());
        assert_dns_failure(err, name, "no such name", std::io::ErrorKind::NotFound);
    })
    .await
}

/// `err` failed in DNS for both families of `name` before any attempt, says so in words
/// (`could not resolve <name>: <words> (A, AAAA)`, not the resolver's `Query { … }`
/// debug text), and converts to an `io::Error` of `kind`.
fn assert_dns_failure(
    err: ConnectError,
    (host, port): (&str, u16),
    words: &str,
    kind: std::io::ErrorKind,
) {
    assert_eq!(err.kind(), ErrorKind::Dns);
    assert!(err.is_dns());
    assert!(err.attempts().is_empty());
    assert_eq!(
        err.to_string(),
        format!("connect to {host}:{port} failed: could not resolve {host}: {words} (A, AAAA)")
    );
    assert_eq!(std::io::Error::from(err).kind(), kind);
}

#[tokio::test(start_paused = true)]
async fn an_aaaa_200ms_late_never_holds_up_ipv4() {
    bounded(async {
        let hosts = [(HostKind::Alive, "::1"), (HostKind::Alive, "127.0.0.2")];
        let (lab, dns) = setup(&hosts, Some(ms(200))).await;
        let name = ("www.lab.test.", lab.port());

        // race-all starts IPv4 the moment A answers.
        let (_s, info) = connector(&dns, Schedule::race_all())
            .connect(name)
            .await
            .unwrap();
        assert_eq!(info.remote_addr().ip(), ip("127.0.0.2"));
        assert_eq!(info.elapsed(), Duration::ZERO);
        assert_eq!(info.dns_v4(), Some(Duration::ZERO));
        assert_eq!(info.dns_v6(), None, "AAAA had not answered yet");

        // RFC 8305 waits the Resolution Delay (50 ms) for AAAA, and no longer.
        let (_s, info) = connector(&dns, Schedule::rfc8305())
            .connect(name)
            .await
            .unwrap();
        assert_eq!(info.remote_addr().ip(), ip("127.0.0.2"));
        assert_eq!(info.elapsed(), ms(50));
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn an_aaaa_within_the_resolution_delay_goes_first() {
    bounded(async {
        let hosts = [(HostKind::Alive, "::1"), (HostKind::Alive, "127.0.0.2")];
        let (lab, dns) = setup(&hosts, Some(ms(20))).await;
        let (_s, info) = connector(&dns, Schedule::rfc8305())
            .connect(("www.lab.test.", lab.port()))
            .await
            .unwrap();
        assert_eq!(info.remote_addr().ip(), ip("::1"));
        assert_eq!(info.elapsed(), ms(20));
        assert_eq!(
            (info.dns_v4(), info.dns_v6()),
            (Some(Duration::ZERO), Some(ms(20)))
        );
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn a_late_aaaa_joins_the_running_race() {
    bounded(async {
        let hosts = [
            (HostKind::Alive, "::1"),
            (HostKind::Blackholed, "127.0.0.2"),
        ];
        let (lab, dns) = setup(&hosts, Some(ms(200))).await;
        let (_s, info) = connector(&dns, Schedule::race_all())
            .connect(("www.lab.test.", lab.port()))
            .await
            .unwrap();
        assert_eq!(info.remote_addr().ip(), ip("::1"));
        assert_eq!(info.elapsed(), ms(200));
        let started: Vec<(IpAddr, Duration)> = info
            .attempts()
            .iter()
            .map(|a| (a.addr().ip(), a.started()))
            .collect();
        assert_eq!(
            started,
            [(ip("127.0.0.2"), Duration::ZERO), (ip("::1"), ms(200))]
        );
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn the_race_fails_only_once_dns_has_finished() {
    bounded(async {
        let hosts = [(HostKind::Refused, "::1"), (HostKind::Refused, "127.0.0.2")];
        let (lab, dns) = setup(&hosts, Some(ms(300))).await;
        let start = tokio::time::Instant::now();
        let err = connector(&dns, Schedule::race_all())
            .connect(("www.lab.test.", lab.port()))
            .await
            .unwrap_err();
        // IPv4 was refused at once, but the AAAA answer (300 ms) could still bring a winner.
        assert_eq!(start.elapsed(), ms(300));
        assert_eq!(err.kind(), ErrorKind::AllAttemptsFailed);
        let tried: Vec<IpAddr> = err.attempts().iter().map(|a| a.addr().ip()).collect();
        assert_eq!(tried, [ip("127.0.0.2"), ip("::1")]);
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn the_total_timeout_includes_dns() {
    bounded(async {
        let lab = Lab::builder().alive(ip("127.0.0.2")).build().await.unwrap();
        let dns = DnsServer::builder()
            .host("www", [ip("127.0.0.2")])
            .delay(RecordType::A, Duration::from_secs(5))
            .delay(RecordType::AAAA, Duration::from_secs(5))
            .start()
            .await
            .unwrap();
        let start = tokio::time::Instant::now();
        let err = connector(&dns, Schedule::race_all())
            .total_timeout(Some(Duration::from_secs(1)))
            .connect(("www.lab.test.", lab.port()))
            .await
            .unwrap_err();
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(err.attempts().is_empty());
    })
    .await
}

/// A DNS server naming `lab`'s hosts `www.lab.test.` that answers no query within any
/// resolver's timeout (every answer waits an hour): a silent name server.
async fn silent_dns(lab: &Lab) -> DnsServer {
    let hour = Duration::from_secs(3600);
    let dns = lab.dns("www").delay(RecordType::A, hour);
    dns.delay(RecordType::AAAA, hour).start().await.unwrap()
}

/// A silent name server: each lookup gives up after the resolver's timeout (the lab
/// resolver's: 2 s, one try), and the error is a DNS error and a timeout at once.
#[tokio::test(start_paused = true)]
async fn a_silent_name_server_is_a_dns_timeout() {
    bounded(async {
        let lab = Lab::builder().alive(ip("127.0.0.2")).build().await.unwrap();
        let dns = silent_dns(&lab).await;
        let start = tokio::time::Instant::now();
        let err = connector(&dns, Schedule::race_all())
            .connect(("www.lab.test.", lab.port()))
            .await
            .unwrap_err();
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        assert!(err.is_timeout(), "{err:?}");
        assert!(err.dns_errors().iter().all(|e| e.is_timeout()), "{err:?}");
        let name = ("www.lab.test.", lab.port());
        assert_dns_failure(err, name, "timed out", std::io::ErrorKind::TimedOut);
    })
    .await
}

/// With hickory's default options a silent name server costs 15 s (a 5 s timeout, three
/// tries); the total timeout bounds that wait, DNS included.
#[tokio::test(start_paused = true)]
async fn the_total_timeout_bounds_a_silent_name_server() {
    bounded(async {
        let lab = Lab::builder().alive(ip("127.0.0.2")).build().await.unwrap();
        let dns = silent_dns(&lab).await;
        let mut opts = connie::hickory_resolver::config::ResolverOpts::default();
        opts.cache_size = 0;
        opts.use_hosts_file = connie::hickory_resolver::config::ResolveHosts::Never;
        let connector = ConnieConnector::new().resolver(dns.try_resolver_with(opts).unwrap());
        let name = ("www.lab.test.", lab.port());

        let start = tokio::time::Instant::now();
        let err = connector.connect(name).await.unwrap_err();
        assert_eq!(start.elapsed(), Duration::from_secs(15));
        assert!(err.is_dns() && err.is_timeout(), "{err:?}");

        let start = tokio::time::Instant::now();
        let err = connector
            .total_timeout(Some(Duration::from_secs(1)))
            .connect(name)
            .await
            .unwrap_err();
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(err.is_timeout(), "{err:?}");
        assert!(err.attempts().is_empty());
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn many_records_are_capped() {
    bounded(async {
        let lab = Lab::builder()
            .refused(ip("127.0.0.2"))
            .refused(ip("127.0.0.3"))
            .refused(ip("127.0.0.4"))
            .alive(ip("127.0.0.5"))
            .build()
            .await
            .unwrap();
        let dns = lab.dns("www").start().await.unwrap();
        let err = connector(&dns, Schedule::race_all())
            .max_addresses(3)
            .connect(("www.lab.test.", lab.port()))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AllAttemptsFailed);
        assert_eq!(err.attempts().len(), 3);
    })
    .await
}

/// Names with `_` are resolved, as getaddrinfo, Go and hickory's own `Name::from_ascii` do,
/// both as `(host, port)` and as `"host:port"`.
#[tokio::test(start_paused = true)]
async fn a_name_with_an_underscore_is_resolved() {
    bounded(async {
        let lab = Lab::builder().alive(ip("127.0.0.2")).build().await.unwrap();
        let dns = DnsServer::builder()
            .host("my_host", [ip("127.0.0.2")])
            .start()
            .await
            .unwrap();
        let connector = connector(&dns, Schedule::race_all());
        let (_s, info) = connector
            .connect(("my_host.lab.test.", lab.port()))
            .await
            .unwrap();
        assert_eq!(info.remote_addr().ip(), ip("127.0.0.2"));
        let (_s, info) = connector
            .connect(format!("my_host.lab.test.:{}", lab.port()))
            .await
            .unwrap();
        assert_eq!(info.remote_addr().ip(), ip("127.0.0.2"));
    })
    .await
}

/// `PublicOnly` behind real DNS: a name whose only records are `AAAA`s that carry
/// `127.0.0.1`, where an alive host listens, one in each IPv6 form that carries an IPv4
/// address, is never dialed. Without the policy, the IPv4-mapped one does reach the host.
///
/// The dialer dials only what is loopback once IPv4-mapped addresses are read as IPv4, and
/// fails the rest, so that even a policy that let them through would send nothing off
/// this machine.
#[tokio::test(start_paused = true)]
async fn public_only_refuses_every_ipv6_form_of_loopback() {
    bounded(async {
        let lab = Lab::builder().alive(ip("127.0.0.1")).build().await.unwrap();
        let forms = [
            "::ffff:127.0.0.1",          // IPv4-mapped
            "::ffff:0:127.0.0.1",        // SIIT
            "64:ff9b::7f00:1",           // NAT64, well-known /96
            "64:ff9b:1:7f00:0:100::",    // NAT64, local-use /48 (RFC 6052 §2.2)
            "2002:7f00:1::1",            // 6to4
            "2001:0:808:404::80ff:fffe", // Teredo: server 8.8.4.4, client 127.0.0.1
            "::127.0.0.1",               // IPv4-compatible
        ];
        let dns = DnsServer::builder()
            .host("wrapped", forms.map(ip))
            .start()
            .await
            .unwrap();
        let loopback_only = |addr: SocketAddr| async move {
            if addr.ip().to_canonical().is_loopback() {
                TcpStream::connect(addr).await
            } else {
                Err(io::Error::from(io::ErrorKind::ConnectionRefused))
            }
        };
        let target = ("wrapped.lab.test.", lab.port());
        let guarded = connector(&dns, Schedule::race_all())
            .address_policy(PublicOnly)
            .with_dialer(loopback_only);
        let err = guarded.connect(target).await.unwrap_err();
        assert!(err.is_refused_by_policy(), "{err:?}");
        assert_eq!(err.kind(), ErrorKind::RefusedByPolicy);
        assert!(err.attempts().is_empty(), "{err:?}");
        let mut refused: Vec<IpAddr> = err.refused_by_policy().iter().map(|a| a.ip()).collect();
        refused.sort_unstable();
        let mut wrapped = forms.map(ip);
        wrapped.sort_unstable();
        assert_eq!(refused, wrapped);
        // Give the accept loop every chance to see a connection that should not exist.
        tokio::task::yield_now().await;
        let host = lab.alive_hosts().next().unwrap();
        assert_eq!(host.accepted(), 0);

        // Without the policy, the same answer reaches the host through the mapped form.
        let open = connector(&dns, Schedule::race_all()).with_dialer(loopback_only);
        let (_stream, info) = open.connect(target).await.unwrap();
        assert_eq!(info.remote_addr().ip(), ip("::ffff:127.0.0.1"));
        host.wait_accepted(1).await;
    })
    .await
}

/// A hostile answer: 300 `A` records (over TCP, since they do not fit a UDP answer), all
/// refused, arrive first; the one alive `AAAA` 10 ms later still wins, and no more than
/// the address cap is ever dialed.
#[tokio::test(start_paused = true)]
async fn hundreds_of_refused_a_records_cannot_shut_out_a_late_aaaa() {
    bounded(async {
        let lab = Lab::builder().alive(ip("::1")).build().await.unwrap();
        // Nothing listens on the lab's port at these addresses: each SYN gets a reset.
        let flood =
            (0..300u32).map(|i| IpAddr::from([127, 1, (i / 250) as u8, (i % 250 + 1) as u8]));
        let dns = DnsServer::builder()
            .host("www", flood.chain([ip("::1")]))
            .delay(RecordType::AAAA, ms(10))
            .start()
            .await
            .unwrap();
        let (_s, info) = connector(&dns, Schedule::race_all())
            .connect(("www.lab.test.", lab.port()))
            .await
            .unwrap();
        assert_eq!(info.remote_addr().ip(), ip("::1"));
        assert_eq!(info.elapsed(), ms(10));
        assert!(
            info.attempts().len() <= connie::ConnieConnector::DEFAULT_MAX_ADDRESSES,
            "{info:?}"
        );
        let early = info.attempts().iter().filter(|a| a.started().is_zero());
        assert_eq!(
            early.count(),
            connie::ConnieConnector::DEFAULT_MAX_ADDRESSES / 2
        );
    })
    .await
}

/// `Duration::MAX` as the Resolution Delay waits for `AAAA` as long as it takes, and no
/// longer; as the total timeout it is no deadline. Neither panics.
#[tokio::test(start_paused = true)]
async fn duration_max_settings_never_panic() {
    bounded(async {
        let hosts = [(HostKind::Alive, "::1"), (HostKind::Alive, "127.0.0.2")];
        let (lab, dns) = setup(&hosts, Some(ms(700))).await;
        let (_s, info) = connector(&dns, Schedule::rfc8305().resolution_delay(Duration::MAX))
            .total_timeout(Some(Duration::MAX))
            .attempt_timeout(Some(Duration::MAX))
            .connect(("www.lab.test.", lab.port()))
            .await
            .unwrap();
        assert_eq!(info.remote_addr().ip(), ip("::1"));
        assert_eq!(info.elapsed(), ms(700));
    })
    .await
}

/// A race won before `AAAA` answered still lets that lookup finish and fill the cache, so
/// the next race to the name gets both families from the cache at once. (A dropped
/// hickory lookup never fills the cache: every later race would wait for `AAAA` again.)
#[tokio::test(start_paused = true)]
async fn a_lookup_outlives_the_race_it_lost_and_fills_the_cache() {
    bounded(async {
        let hosts = [(HostKind::Alive, "::1"), (HostKind::Alive, "127.0.0.2")];
        let (lab, dns) = setup(&hosts, Some(ms(200))).await;
        let mut opts = DnsServer::resolver_opts();
        opts.cache_size = 64;
        let resolver = dns.try_resolver_with(opts).unwrap();
        let connector = ConnieConnector::new().resolver(resolver);
        let name = ("www.lab.test.", lab.port());

        let (_s, info) = connector.connect(name).await.unwrap();
        assert_eq!(info.remote_addr().ip(), ip("127.0.0.2"));
        assert_eq!(info.dns_v6(), None, "the race was won before AAAA answered");

        // The lingering lookup gets its answer at 200 ms.
        tokio::time::sleep(ms(300)).await;
        let (_s, info) = connector.connect(name).await.unwrap();
        assert_eq!(info.dns_v6(), Some(Duration::ZERO), "{info:?}");
        // Both families answered at once, and the address history knows 127.0.0.2: it
        // is dialed alone, though `::1` would lead on RFC 6724 precedence.
        assert_eq!(info.remote_addr().ip(), ip("127.0.0.2"));
        assert!(info.used_history());
        assert_eq!(info.attempts().len(), 1, "{info:?}");
    })
    .await
}

/// A lookup left running when its race ends goes away with its runtime: dropping the
/// runtime neither hangs nor leaves the lookup's socket open.
#[test]
fn a_lingering_lookup_goes_away_with_its_runtime() {
    let servers = tokio::runtime::Runtime::new().unwrap();
    let hosts = [(HostKind::Alive, "127.0.0.2")];
    let (lab, dns) = servers.block_on(setup(&hosts, Some(Duration::from_secs(3600))));
    let connector = ConnieConnector::new().resolver(dns.resolver());

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let baseline = open_fds();
    let race = connector.connect(("www.lab.test.", lab.port()));
    let (stream, _) = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(5), race).await })
        .expect("connects promptly")
        .unwrap();
    drop(stream);
    let started = std::time::Instant::now();
    drop(runtime);
    assert!(started.elapsed() < Duration::from_secs(5));
    // The server side of the connection closes a moment later, on its own runtime.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while open_fds() > baseline {
        assert!(
            std::time::Instant::now() < deadline,
            "{} > {baseline}",
            open_fds()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(servers);
}

/// `race_connect`'s connector (and its resolver) outlive any one runtime: one made and
/// first used in a runtime that is then shut down must keep working in the next one, as
/// in a test suite where every test has its own runtime.
#[test]
fn a_connector_outlives_the_runtime_that_first_used_it() {
    let servers = tokio::runtime::Runtime::new().unwrap();
    let (lab, dns) = servers.block_on(setup(&[(HostKind::Alive, "127.0.0.2")], None));
    let connector = ConnieConnector::new().resolver(dns.resolver());
    for _ in 0..3 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let race = connector.connect(("www.lab.test.", lab.port()));
        let (_stream, info) = runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), race).await })
            .expect("connects promptly")
            .unwrap();
        assert_eq!(info.remote_addr().ip(), ip("127.0.0.2"));
        drop(runtime);
    }
    drop(servers);
}

/// A DNS server for the zone `test.` naming `hosts` (names relative to it: `svc.corp` is
/// `svc.corp.test.`), its answers of type `late` 100 ms late.
async fn search_zone(hosts: &[(&str, &str)], late: Option<RecordType>) -> DnsServer {
    let mut dns = DnsServer::builder().origin("test.");
    for (name, addr) in hosts {
        dns = dns.host(name, [ip(addr)]);
    }
    if let Some(rtype) = late {
        dns = dns.delay(rtype, ms(100));
    }
    dns.start().await.unwrap()
}

/// The configuration of a resolver asking `dns`, with the search list `corp.test. test.`,
/// and its options with `ndots`.
fn with_search_list(dns: &DnsServer, ndots: usize) -> (ResolverConfig, ResolverOpts) {
    let mut config = dns.resolver_config();
    for domain in ["corp.test.", "test."] {
        config.add_search(Name::from_ascii(domain).unwrap());
    }
    let mut opts = DnsServer::resolver_opts();
    opts.ndots = ndots;
    (config, opts)
}

/// A race-all connector whose resolver connie builds from `dns`'s configuration with the
/// search list `corp.test. test.` and `ndots`.
fn searching(dns: &DnsServer, ndots: usize) -> ConnieConnector {
    let (config, opts) = with_search_list(dns, ndots);
    ConnieConnector::new()
        .resolver_config(config, opts)
        .connectivity(Connectivity::Assume)
        .schedule(Schedule::race_all())
}

/// The addresses a failed race dialed, in the order it dialed them.
fn dialed(err: &ConnectError) -> Vec<IpAddr> {
    err.attempts().iter().map(|a| a.addr().ip()).collect()
}

/// `svc` under the search list `corp.test. test.`: `svc.corp.test.` has only an `A`
/// record, `svc.test.` only an `AAAA`. The host is `svc.corp.test.`, the first name with
/// an address, as hickory's own `lookup_ip` says, however late its `A` answer is: its
/// `AAAA` lookup's "no records" waits for it and does not go on to `svc.test.`.
#[tokio::test(start_paused = true)]
async fn a_name_under_a_search_list_is_one_host() {
    bounded(async {
        let lab = Lab::builder()
            .alive(ip("127.0.0.2"))
            .alive(ip("::1"))
            .build()
            .await
            .unwrap();
        let hosts = [("svc.corp", "127.0.0.2"), ("svc", "::1")];
        let dns = search_zone(&hosts, Some(RecordType::A)).await;

        let (config, opts) = with_search_list(&dns, 1);
        let hickory = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(opts)
            .build()
            .unwrap();
        let ips: Vec<IpAddr> = hickory.lookup_ip("svc").await.unwrap().iter().collect();
        assert_eq!(ips, [ip("127.0.0.2")]);

        let start = tokio::time::Instant::now();
        let (_s, info) = searching(&dns, 1)
            .connect(("svc", lab.port()))
            .await
            .unwrap();
        assert_eq!(start.elapsed(), ms(100));
        assert_eq!(info.remote_addr().ip(), ip("127.0.0.2"));
        let tried: Vec<IpAddr> = info.attempts().iter().map(|a| a.addr().ip()).collect();
        assert_eq!(tried, [ip("127.0.0.2")]);
        // The early "no records" of `AAAA` joined with the `A` answer that settled the name.
        assert_eq!(
            (info.dns_v4(), info.dns_v6()),
            (Some(ms(100)), Some(ms(100)))
        );
    })
    .await
}

/// With one family looked up, a name of the search list without an address of it is
/// passed by: `svc.corp.test.` has only an `A` record, and an IPv6-only connector goes on
/// to `svc.test.`'s `AAAA`, sending no `A` query at all.
#[tokio::test(start_paused = true)]
async fn one_family_passes_a_name_without_it_under_a_search_list() {
    bounded(async {
        let lab = Lab::builder().alive(ip("::1")).build().await.unwrap();
        let hosts = [("svc.corp", "127.0.0.2"), ("svc", "::1")];
        let dns = search_zone(&hosts, None).await;
        let (_s, info) = searching(&dns, 1)
            .ip_family(IpFamily::V6Only)
            .connect(("svc", lab.port()))
            .await
            .unwrap();
        assert_eq!(info.remote_addr().ip(), ip("::1"));
        assert_eq!(dns.queries(RecordType::A), 0);
        assert_eq!(
            dns.queries(RecordType::AAAA),
            2,
            "svc.corp.test., then svc.test."
        );
    })
    .await
}

/// Once a name has an address in one family, the other family is looked up under that
/// name only: `svc.corp.test.`'s `AAAA` (100 ms late) says "no records", and the race
/// ends there, without `svc.test.`'s `::1`.
#[tokio::test(start_paused = true)]
async fn the_other_family_is_looked_up_under_the_same_name_only() {
    bounded(async {
        let lab = Lab::builder()
            .refused(ip("127.0.0.2"))
            .refused(ip("::1"))
            .build()
            .await
            .unwrap();
        let hosts = [("svc.corp", "127.0.0.2"), ("svc", "::1")];
        let dns = search_zone(&hosts, Some(RecordType::AAAA)).await;
        let start = tokio::time::Instant::now();
        let err = searching(&dns, 1)
            .connect(("svc", lab.port()))
            .await
            .unwrap_err();
        assert_eq!(start.elapsed(), ms(100));
        assert_eq!(err.kind(), ErrorKind::AllAttemptsFailed);
        assert_eq!(dialed(&err), [ip("127.0.0.2")]);
        let dns_errors: Vec<String> = err
            .dns_errors()
            .iter()
            .map(|e| format!("{e}: {}", e.error()))
            .collect();
        assert_eq!(
            dns_errors,
            [
                "AAAA lookup failed: DNS error: no records found for Query { \
              name: Name(\"svc.corp.test.\"), query_type: AAAA, query_class: IN }"
            ]
        );
    })
    .await
}

/// A name with no address under the first search domain is looked up under the next,
/// both families at once, once both families of the first have failed.
#[tokio::test(start_paused = true)]
async fn a_name_found_under_no_search_domain_moves_on_to_the_next() {
    bounded(async {
        let lab = Lab::builder()
            .alive(ip("127.0.0.3"))
            .alive(ip("::1"))
            .build()
            .await
            .unwrap();
        let hosts = [("web", "127.0.0.3"), ("web", "::1")];
        let dns = search_zone(&hosts, Some(RecordType::AAAA)).await;
        let connector = searching(&dns, 1);

        // `web.corp.test.`: `A` fails at once, `AAAA` at 100 ms; then `web.test.`'s `A`
        // answers at once.
        let (_s, info) = connector.connect(("web", lab.port())).await.unwrap();
        assert_eq!(info.remote_addr().ip(), ip("127.0.0.3"));
        assert_eq!(info.elapsed(), ms(100));
        assert_eq!((info.dns_v4(), info.dns_v6()), (Some(ms(100)), None));

        // A name under none: each name is tried, both families at a time, 100 ms each
        // (`nowhere.corp.test.`, `nowhere.test.`, `nowhere.`).
        let start = tokio::time::Instant::now();
        let err = connector
            .connect(("nowhere", lab.port()))
            .await
            .unwrap_err();
        assert_eq!(start.elapsed(), ms(300));
        // The errors of the last name tried, one per family, as hickory reports a search.
        assert!(err.is_dns(), "{err}");
        assert_eq!(err.dns_errors().len(), 2);
        assert!(err.attempts().is_empty());
    })
    .await
}

/// A fully qualified name is looked up as it is; with `ndots`, a name with fewer dots goes
/// under the search domains first, and one with as many is tried as it is first.
#[tokio::test(start_paused = true)]
async fn a_final_dot_and_ndots_decide_which_name_comes_first() {
    bounded(async {
        let lab = Lab::builder()
            .refused(ip("127.0.0.2"))
            .refused(ip("::1"))
            .build()
            .await
            .unwrap();
        // `svc.test.` has `::1`; `svc.test.corp.test.` has `127.0.0.2`.
        let hosts = [("svc", "::1"), ("svc.test.corp", "127.0.0.2")];
        let dns = search_zone(&hosts, None).await;
        for (ndots, host, host_ip) in [
            (2, "svc.test.", "::1"),
            (2, "svc.test", "127.0.0.2"),
            (1, "svc.test", "::1"),
        ] {
            let err = searching(&dns, ndots)
                .connect((host, lab.port()))
                .await
                .unwrap_err();
            assert_eq!(dialed(&err), [ip(host_ip)], "{host} with ndots:{ndots}");
        }
    })
    .await
}

/// A resolver built elsewhere keeps its search list to itself, so hickory searches for
/// each family on its own: the first name to answer with addresses is the host, and
/// the other family's addresses of another name are left out.
#[tokio::test(start_paused = true)]
async fn a_built_resolver_still_dials_one_host() {
    bounded(async {
        let lab = Lab::builder()
            .refused(ip("127.0.0.2"))
            .refused(ip("::1"))
            .build()
            .await
            .unwrap();
        let hosts = [("svc.corp", "127.0.0.2"), ("svc", "::1")];
        // `A` answers first (`svc.corp.test.`), or `AAAA` does (`svc.test.`, after the
        // "no records" of `svc.corp.test.`).
        for (late, host_ip, ends) in [
            (RecordType::AAAA, "127.0.0.2", ms(200)),
            (RecordType::A, "::1", ms(100)),
        ] {
            let dns = search_zone(&hosts, Some(late)).await;
            let (config, opts) = with_search_list(&dns, 1);
            let resolver =
                TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
                    .with_options(opts)
                    .build()
                    .unwrap();
            let start = tokio::time::Instant::now();
            let err = ConnieConnector::new()
                .resolver(resolver)
                .schedule(Schedule::race_all())
                .connect(("svc", lab.port()))
                .await
                .unwrap_err();
            assert_eq!(dialed(&err), [ip(host_ip)], "{late} late");
            assert_eq!(start.elapsed(), ends, "{late} late");
        }
    })
    .await
}

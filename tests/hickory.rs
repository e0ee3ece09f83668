//! What connie relies on in hickory-resolver 0.26, checked against a local hickory-server
//! (never the internet): how the system configuration is read and fails, and that the
//! hosts table and `localhost` are answered before any query is sent.

mod support;

use std::io;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use connie_lab::DnsServer;
use hickory_resolver::config::ResolveHosts;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use support::bounded;

fn v4s(lookup: &hickory_resolver::lookup::Lookup) -> Vec<Ipv4Addr> {
    lookup
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

/// (1a) System configuration (/etc/resolv.conf), then tweak the parsed options.
fn system_resolver() -> Result<TokioResolver, NetError> {
    // Reads /etc/resolv.conf; Err(NetError::Io(..)) if unreadable or without nameservers.
    let mut builder = TokioResolver::builder_tokio()?;
    // `builder_tokio` already installed the resolv.conf options (ndots, timeout,
    // attempts, edns0): modify them in place rather than replacing them.
    let opts = builder.options_mut();
    opts.cache_size = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.timeout = Duration::from_secs(2);
    builder.build()
}

#[tokio::test]
async fn system_config_builds_and_errors_are_io() {
    bounded(async {
        // This machine has /etc/resolv.conf; building does not touch the network.
        let r = system_resolver().unwrap();
        assert_eq!(r.options().cache_size, 0);

        // What a missing / empty resolv.conf gives (same code path as read_system_conf).
        let err = hickory_resolver::system_conf::parse_resolv_conf("").unwrap_err();
        eprintln!("empty resolv.conf -> {err:?} / {err}");
        assert!(matches!(&err, NetError::Io(e) if e.kind() == io::ErrorKind::Other));
        let missing: NetError = std::fs::read("/nonexistent/resolv.conf")
            .unwrap_err()
            .into();
        eprintln!("missing resolv.conf -> {missing:?}");
        assert!(matches!(&missing, NetError::Io(e) if e.kind() == io::ErrorKind::NotFound));
    })
    .await
}

#[tokio::test]
async fn hosts_file_is_consulted_by_ipv4_lookup() {
    bounded(async {
        let server = DnsServer::builder().start().await.unwrap();
        // The `Hosts` table (what `ResolveHosts::Auto`/`Always` loads from /etc/hosts) is
        // checked by `ipv4_lookup` before any query is sent.
        let mut hosts = hickory_resolver::Hosts::default();
        hosts
            .read_hosts_conf(&b"192.0.2.77 hostsonly.lab.test\n"[..])
            .unwrap();
        let mut with_hosts = server.resolver();
        with_hosts.set_hosts(Arc::new(hosts));
        assert_eq!(
            v4s(&with_hosts.ipv4_lookup("hostsonly.lab.test.").await.unwrap()),
            [Ipv4Addr::new(192, 0, 2, 77)]
        );
        let err = server
            .resolver()
            .ipv4_lookup("hostsonly.lab.test.")
            .await
            .unwrap_err();
        assert!(err.is_nx_domain(), "{err:?}");

        // `localhost.` is answered inside hickory (RFC 6761), even with hosts off and a
        // server that knows nothing about it.
        let local = server.resolver().ipv4_lookup("localhost.").await.unwrap();
        assert_eq!(v4s(&local), [Ipv4Addr::LOCALHOST]);
    })
    .await
}

/// hickory's search order, which connie writes out for the names it tries (hickory's
/// `Resolver::build_names` is private): the domain, then the search domains, then the name
/// as it is, unless the name has `ndots` dots or more, when it comes first. And the
/// `Lookup`'s query names the name that answered, which connie reads to keep a built
/// resolver's race to one host.
#[tokio::test(start_paused = true)]
async fn the_search_order_and_the_name_that_answered() {
    bounded(async {
        use hickory_resolver::net::runtime::TokioRuntimeProvider;
        use hickory_resolver::proto::rr::Name;

        let a = |last: u8| [std::net::IpAddr::from([127, 0, 0, last])];
        let server = DnsServer::builder()
            .origin("test.")
            .host("svc.home", a(1))
            .host("svc.corp", a(2))
            .host("svc", a(3))
            .host("svc.test.home", a(4))
            .start()
            .await
            .unwrap();
        let resolver = |ndots: usize| {
            let mut config = server.resolver_config();
            config.set_domain(Name::from_ascii("home.test.").unwrap());
            config.add_search(Name::from_ascii("corp.test.").unwrap());
            let mut opts = DnsServer::resolver_opts();
            opts.ndots = ndots;
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
                .with_options(opts)
                .build()
                .unwrap()
        };
        for (ndots, host, answered, ip) in [
            (1, "svc", "svc.home.test.", 1),
            (1, "svc.test", "svc.test.", 3),
            (2, "svc.test", "svc.test.home.test.", 4),
        ] {
            let lookup = resolver(ndots).ipv4_lookup(host).await.unwrap();
            assert_eq!(lookup.query().name().to_string(), answered, "{host}");
            assert_eq!(v4s(&lookup), [Ipv4Addr::new(127, 0, 0, ip)], "{host}");
        }
    })
    .await
}

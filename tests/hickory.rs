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

//! `ConnieConnector::getaddrinfo`: names resolved by the operating system (NSS,
//! `/etc/hosts`), one `getaddrinfo` call per family, against a loopback listener.
//!
//! Real time: the lookups run on blocking threads. Where `/etc/hosts` has no `::1 localhost`
//! line, the `AAAA` lookup of `localhost` goes on to the system's name servers (nsswitch's
//! `files dns`) and fails there; the race still connects over IPv4.

mod support;

use std::net::SocketAddr;

use connie::{ConnieConnector, Schedule};
use support::{bounded, PROMPT};
use tokio::net::TcpListener;

/// `localhost` through `getaddrinfo`: both families are looked up and answer, and the race
/// connects to the IPv4 listener (`[::1]`, if `localhost` has it, is refused: nothing
/// listens there on that port).
#[tokio::test]
async fn getaddrinfo_connects_to_localhost_with_both_families_looked_up() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Whichever family answers first, the race waits for the other: with the `A`
        // answer first, the resolution delay holds IPv4 back until `AAAA` is in; with
        // `AAAA` first, `[::1]` is refused and only `A` can connect.
        let connector = ConnieConnector::new()
            .getaddrinfo()
            .schedule(Schedule::race_all().resolution_delay(PROMPT));
        let (stream, info) = connector.connect(("localhost", port)).await.unwrap();

        let v4 = SocketAddr::from(([127, 0, 0, 1], port));
        assert_eq!(info.remote_addr(), v4);
        assert_eq!(stream.peer_addr().unwrap(), v4);
        assert!(info.dns_v4().is_some(), "the A lookup answered");
        assert!(info.dns_v6().is_some(), "the AAAA lookup answered");
        for attempt in info.attempts() {
            let expected = [v4, SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 1], port))];
            assert!(expected.contains(&attempt.addr()), "{}", attempt.addr());
        }
        assert!(info.elapsed() < PROMPT, "{:?}", info.elapsed());
    })
    .await
}

//! The address policy: an address it refuses is never dialed, and is listed apart from
//! the attempts that failed.
//!
//! The simulated network has no host at a refused address: dialing one panics, so these
//! tests prove that a refused address is never dialed.

use super::*;

fn with_policy(schedule: Schedule, policy: impl crate::AddressPolicy) -> Config {
    let mut c = config(schedule);
    c.policy = Some(crate::policy::Policy(Arc::new(policy)));
    c
}

#[test]
fn policy_refused_addresses_are_never_dialed() {
    let net = Net::new().host("8.8.8.8:443", Up(ms(10)));
    let dns = Dns::new()
        .answer(
            ms(0),
            Family::V4,
            addrs(&["127.0.0.1:443", "10.0.0.1:443", "8.8.8.8:443"]),
        )
        .answer(
            ms(5),
            Family::V6,
            addrs(&["[::ffff:192.168.0.1]:443", "[fe80::1]:443"]),
        );
    let c = with_policy(Schedule::race_all(), crate::PublicOnly);
    let race = net.race_dns(&c, dns);
    assert_eq!(race.winner(), addr("8.8.8.8:443"));
    assert_eq!(race.dials(), addrs(&["8.8.8.8:443"]));
    let info = race.info();
    assert_eq!(
        info.refused_by_policy(),
        addrs(&[
            "127.0.0.1:443",
            "10.0.0.1:443",
            "[::ffff:192.168.0.1]:443",
            "[fe80::1]:443"
        ])
    );
    assert_eq!(info.attempts().len(), 1);
}

#[test]
fn policy_refusing_everything_attempts_nothing() {
    let net = Net::new();
    let c = with_policy(Schedule::rfc8305(), crate::PublicOnly);
    let refused = addrs(&["127.0.0.1:80", "[::1]:80", "169.254.169.254:80"]);
    let race = net.with(&c).list(refused.clone()).run();
    assert_eq!(race.took, Duration::ZERO);
    let err = race.error();
    assert_eq!(err.kind(), ErrorKind::RefusedByPolicy);
    assert!(err.is_refused_by_policy());
    // Counted, not named: a message shown to whoever gave the name must not say what
    // internal addresses it resolves to.
    assert_eq!(
        err.to_string(),
        "connect failed: 3 addresses refused by the address policy"
    );
    assert!(err.attempts().is_empty());
    assert_eq!(err.refused_by_policy(), refused);
    assert!(race.dials().is_empty());
    let Err(err) = race.result else {
        unreachable!()
    };
    assert_eq!(io::Error::from(err).kind(), io::ErrorKind::PermissionDenied);
}

#[test]
fn policy_refusals_are_listed_apart_from_failed_attempts() {
    let net = Net::new().host("1.1.1.1:80", Refused(ms(3)));
    let c = with_policy(Schedule::race_all(), |a: SocketAddr| {
        a.ip().to_string() != "9.9.9.9"
    });
    let race = net.with(&c).list(["9.9.9.9:80", "1.1.1.1:80"]).run();
    let err = race.error();
    assert_eq!(err.kind(), ErrorKind::AllAttemptsFailed);
    let listed: Vec<_> = err
        .attempts()
        .iter()
        .map(|a| (a.addr(), a.error().kind()))
        .collect();
    assert_eq!(
        listed,
        vec![(addr("1.1.1.1:80"), io::ErrorKind::ConnectionRefused)]
    );
    assert_eq!(err.refused_by_policy(), [addr("9.9.9.9:80")]);
    assert_eq!(
        err.to_string(),
        "connect failed: 1 address tried: refused; 1 address refused by the address policy"
    );
}

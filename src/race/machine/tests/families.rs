//! The families a race dials: `ip_family` leaves one out, and a NAT64 prefix has IPv4
//! addresses dialed at their IPv6 form, the address policy judging the IPv4 address
//! each stands for.

use super::*;
use crate::nat64::Pref64;
use crate::order::Ranking;
use crate::IpFamily;

fn with_family(schedule: Schedule, ip_family: IpFamily) -> Config {
    Config {
        ip_family,
        ..config(schedule)
    }
}

/// The family left out is never dialed, and its answer never waited for: the preferred
/// family's resolution delay does not apply when it is the one left out.
#[test]
fn the_family_left_out_is_never_dialed_nor_waited_for() {
    let net = Net::new()
        .host("192.0.2.1:443", Up(ms(10)))
        .host("[2001:db8::1]:443", Up(ms(1)));
    let dns = Dns::new()
        .answer(ms(0), Family::V4, addrs(&["192.0.2.1:443"]))
        .answer(ms(5), Family::V6, addrs(&["[2001:db8::1]:443"]));
    let race = net.race_dns(&with_family(Schedule::rfc8305(), IpFamily::V4Only), dns);
    assert_eq!(race.dials(), addrs(&["192.0.2.1:443"]));
    // Started at once, not after a resolution delay for IPv6.
    assert_eq!(race.took, ms(10));
}

/// A list of the family left out only: nothing dialed, and the error says why.
#[test]
fn a_list_of_the_family_left_out_fails_saying_so() {
    let net = Net::new();
    let c = with_family(Schedule::race_all(), IpFamily::V6Only);
    let race = net.with(&c).list(["192.0.2.1:80", "192.0.2.2:80"]).run();
    let err = race.error();
    assert_eq!(err.kind(), ErrorKind::NoAddresses);
    assert_eq!(
        err.to_string(),
        "connect failed: no addresses to connect to; 2 addresses skipped by ip_family (V6Only)"
    );
    assert!(race.dials().is_empty());
}

/// A global NAT64 prefix, so that `PublicOnly` judges its addresses by the IPv4 address
/// they stand for, not as the global IPv6 addresses they look like.
fn pref64() -> Pref64 {
    Pref64::new("2600:1f00:64::".parse().unwrap(), 96).unwrap()
}

/// Under a NAT64 prefix, an `A` answer's addresses are dialed at their IPv6 form; the
/// policy refuses one that stands for a private address, whether the race made it or
/// a DNS64 server did, and never sees a loopback address made global.
#[test]
fn nat64_dials_ipv4_under_the_prefix_and_the_policy_judges_the_ipv4() {
    let pref64 = pref64();
    let public = "[2600:1f00:64::5db8:d822]:443"; // 93.184.216.34
    let net = Net::new().host(public, Up(ms(10)));
    let dns = Dns::new()
        .answer(
            ms(0),
            Family::V4,
            addrs(&["93.184.216.34:443", "10.0.0.1:443"]),
        )
        // A DNS64 server's answer for 10.0.0.2, and loopback, never synthesised.
        .answer(ms(0), Family::V6, addrs(&["[2600:1f00:64::a00:2]:443"]));
    let c = Config {
        policy: Some(crate::policy::Policy(Arc::new(crate::PublicOnly))),
        ..config(Schedule::race_all())
    };
    let knowing = Ranking {
        nat64: Some(&pref64),
        ..Ranking::default()
    };
    let race = net.with(&c).dns(dns).knowing(knowing).run();
    assert_eq!(race.winner(), addr(public));
    assert_eq!(race.dials(), addrs(&[public]));
    let mut refused = race.info().refused_by_policy().to_vec();
    refused.sort();
    assert_eq!(
        refused,
        addrs(&["[2600:1f00:64::a00:1]:443", "[2600:1f00:64::a00:2]:443"])
    );
}

/// Addresses of this host or its link are dialed as they are, under a prefix too.
#[test]
fn nat64_leaves_loopback_as_it_is() {
    let pref64 = pref64();
    let net = Net::new().host("127.0.0.1:80", Up(ms(1)));
    let c = config(Schedule::race_all());
    let knowing = Ranking {
        nat64: Some(&pref64),
        ..Ranking::default()
    };
    let race = net.with(&c).list(["127.0.0.1:80"]).knowing(knowing).run();
    assert_eq!(race.winner(), addr("127.0.0.1:80"));
}

/// Under a NAT64 prefix, an IPv4 address's IPv6 form is ranked as the IPv4 address it
/// stands for: after a native IPv6 address, though it shares more of its prefix with the
/// source (RFC 6724's last rule, which would put it first as an IPv6 address); and the
/// history knows it by its IPv4 address.
#[test]
fn nat64_ranks_and_remembers_by_the_ipv4_address() {
    use crate::history::History;
    use crate::order::source::Sources;

    let pref64 = Pref64::new("2001:db8:64::".parse().unwrap(), 96).unwrap();
    let native = "[2a00::1]:443";
    let translated = "[2001:db8:64::c000:201]:443"; // 192.0.2.1
    let net = Net::new()
        .host(native, Up(ms(10)))
        .host(translated, Up(ms(10)));
    let sources = Sources::fixed(|dst| dst.is_ipv6().then(|| "2001:db8::2".parse().unwrap()));
    let history = History::new(16);
    let knowing = Ranking {
        history: Some(&history),
        sources: Some(&sources),
        nat64: Some(&pref64),
    };
    let c = config(Schedule::sequential());
    let dns = Dns::new()
        .answer(ms(0), Family::V4, addrs(&["192.0.2.1:443"]))
        .answer(ms(0), Family::V6, addrs(&[native]));
    let race = net.with(&c).dns(dns).knowing(knowing).run();
    assert_eq!(race.dials(), addrs(&[native]), "native IPv6 first");
    // The race to the translated address teaches the history about 192.0.2.1.
    let dns = Dns::new().answer(ms(0), Family::V4, addrs(&["192.0.2.1:443"]));
    let race = net.with(&c).dns(dns).knowing(knowing).run();
    assert_eq!(race.winner(), addr(translated));
    let now = net.now();
    let known = |a: &str| history.known(addr(a), Some("2001:db8::2".parse().unwrap()), now);
    assert!(matches!(
        known("192.0.2.1:443"),
        crate::history::Known::Fresh { .. }
    ));
    assert!(matches!(known(translated), crate::history::Known::Unknown));
}

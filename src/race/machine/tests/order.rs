//! The order a race attempts its addresses in: RFC 6724's, unless the resolver sorted
//! them already or the list keeps its given order; an address with no route last.
//! (What the history adds to the order is in [`learned`](super::learned).)

use std::net::IpAddr;

use super::*;
use crate::history::{History, Lesson};
use crate::order::source::Sources;
use crate::order::Ranking;

/// The sources every test address would get: a global one of its own family, so that
/// RFC 6724 orders by the destinations alone.
fn global_sources() -> &'static Sources {
    Box::leak(Box::new(Sources::fixed(|dst| {
        Some(match dst.ip() {
            IpAddr::V4(_) => "198.51.100.1".parse().unwrap(),
            IpAddr::V6(_) => "2001:db8:ffff::1".parse().unwrap(),
        })
    })))
}

/// RFC 6724 alone, with the sources of [`global_sources`], and no history.
fn sorted_by_rfc_6724() -> Ranking<'static> {
    Ranking {
        history: None,
        sources: Some(global_sources()),
        nat64: None,
    }
}

/// The addresses attempted, in start order.
fn order(info: &ConnectInfo) -> Vec<SocketAddr> {
    info.attempts().iter().map(|a| a.addr()).collect()
}

/// RFC 6724 in a race: a ULA-only IPv6 address (precedence 3) goes after a global IPv4
/// address (35), so IPv4 leads; a global IPv6 address (40) leads IPv4.
#[test]
fn rfc_6724_decides_which_family_leads() {
    let memory = sorted_by_rfc_6724();
    let net = Net::new()
        .host("[fd00::1]:80", Up(ms(50)))
        .host("192.0.2.1:80", Up(ms(50)))
        .host("[2001:db8::1]:80", Up(ms(50)));
    let c = config(Schedule::sequential());
    let ula_and_v4 = ["[fd00::1]:80", "192.0.2.1:80"];
    let race = net.with(&c).knowing(memory).list(ula_and_v4).run();
    assert_eq!(order(race.info()), addrs(&["192.0.2.1:80"]));
    let global_and_v4 = ["192.0.2.1:80", "[2001:db8::1]:80"];
    let race = net.with(&c).knowing(memory).list(global_and_v4).run();
    assert_eq!(order(race.info()), addrs(&["[2001:db8::1]:80"]));
}

/// `keep_given_order`: a list is attempted exactly as given, families not interleaved and
/// nothing sorted, even where RFC 6724 and the history would say otherwise.
#[test]
fn a_list_can_keep_its_order() {
    let history = History::new(64);
    let net = Net::new()
        .host("192.0.2.1:80", Refused(ms(1)))
        .host("192.0.2.2:80", Refused(ms(1)))
        .host("[fd00::1]:80", Refused(ms(1)))
        .host("[2001:db8::1]:80", Up(ms(5)));
    let lesson = Lesson::Connected(ms(5));
    history.learn([(addr("[2001:db8::1]:80"), None, lesson)], net.now());
    let memory = Ranking {
        history: Some(&history),
        sources: Some(global_sources()),
        nat64: None,
    };
    let given = net.addrs();
    // A preferred family does not reorder a kept list either.
    let mut c = config(Schedule::sequential().preferred_family(Family::V6));
    c.keep_given_order = true;
    let race = net.with(&c).knowing(memory).run();
    assert_eq!(order(race.info()), given);
    // Sorted instead: the known address first, alone.
    c.keep_given_order = false;
    let race = net.with(&c).knowing(memory).run();
    assert_eq!(race.info().attempts().len(), 1);
    assert_eq!(race.info().remote_addr(), given[3]);
}

/// Addresses the resolver sorted already (`getaddrinfo`, with `/etc/gai.conf`) keep its
/// order; connie's own RFC 6724 rules sort the others.
#[test]
fn a_resolvers_own_order_is_kept() {
    let memory = sorted_by_rfc_6724();
    let net = Net::new()
        .host("[fd00::1]:80", Up(ms(5)))
        .host("[2001:db8::1]:80", Up(ms(5)));
    let c = config(Schedule::sequential());
    for (sorted, first) in [(false, "[2001:db8::1]:80"), (true, "[fd00::1]:80")] {
        let mut dns = Dns::new().aaaa(ms(0));
        if sorted {
            dns = dns.sorted();
        }
        let race = net.with(&c).knowing(memory).dns(dns).run();
        assert_eq!(
            race.winner(),
            addr(first),
            "sorted by the resolver: {sorted}"
        );
    }
}

/// RFC 6724 rule 1: an address with no source (no route) goes after every usable one,
/// whatever DNS order says. (Sources are cached per /24, so each address has its own.)
#[test]
fn an_address_without_a_route_goes_last() {
    let no_route = addr("192.0.2.1:80");
    let sources = Box::leak(Box::new(Sources::fixed(move |dst| {
        (dst != no_route).then(|| "198.51.100.1".parse().unwrap())
    })));
    let memory = Ranking {
        history: None,
        sources: Some(sources),
        nat64: None,
    };
    let net = Net::new()
        .host("192.0.2.1:80", Refused(ms(1)))
        .host("198.51.100.2:80", Refused(ms(1)))
        .host("203.0.113.3:80", Up(ms(1)));
    let race = net
        .with(&config(Schedule::sequential()))
        .knowing(memory)
        .run();
    assert_eq!(
        order(race.info()),
        addrs(&["198.51.100.2:80", "203.0.113.3:80"])
    );
}

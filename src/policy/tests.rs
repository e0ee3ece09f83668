//! `PublicOnly`'s table against the registries, the IPv4-carrying forms, and NAT64 prefixes
//! given at run time.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use proptest::prelude::*;

use super::carried::{Form, Nat64Prefix};
use super::table::{self, Reachable, Row, Verdict};
use super::*;

fn public(s: &str) -> bool {
    is_public(s.parse().unwrap())
}

#[test]
fn refuses_every_non_public_range() {
    for ip in [
        "0.0.0.0",
        "0.1.2.3",
        "10.1.2.3",
        "100.64.0.1",
        "100.127.255.255",
        "127.0.0.1",
        "127.255.0.1",
        "169.254.169.254",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "192.168.1.1",
        "198.18.0.1",
        "198.19.255.255",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "::127.0.0.1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "2002:c0a8:0101::1",
        "100::1",
        "2001:db8::1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "febf::1",
        "fec0::1",
        "ff02::1",
    ] {
        assert!(!public(ip), "{ip} must be refused");
    }
}

#[test]
fn allows_public_unicast() {
    for ip in [
        "1.1.1.1",
        "8.8.8.8",
        "100.63.255.255",
        "100.128.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.0.1.1",
        "192.169.0.1",
        "198.20.0.1",
        "223.255.255.255",
        // Each refused range needs all of its octets: one alone refuses nothing.
        "169.253.1.1",
        "1.254.1.1",
        "1.64.0.1",
        "1.16.0.1",
        "192.1.2.1",
        "1.0.2.1",
        "1.168.0.1",
        "1.18.0.1",
        "198.51.99.1",
        "198.50.100.1",
        "1.51.100.1",
        "203.0.112.1",
        "203.1.113.1",
        "1.0.113.1",
        "2606:4700::1111",
        "2a00:1450::1",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:0808:0808::1",
    ] {
        assert!(public(ip), "{ip} must be allowed");
    }
}

/// A connector's policy is the same one as long as it is the same `Arc`; its `Debug`
/// says nothing of a closure it cannot print.
#[test]
fn a_policy_is_equal_only_to_itself() {
    let a = Policy(Arc::new(PublicOnly));
    let b = Policy(Arc::new(PublicOnly));
    assert_eq!(a, a.clone());
    assert_ne!(a, b);
    assert_eq!(format!("{a:?}"), "Policy(..)");
}

#[test]
fn closures_are_policies() {
    let only_port_443 = |a: SocketAddr| a.port() == 443;
    assert!(only_port_443.allows("1.1.1.1:443".parse().unwrap()));
    assert!(!only_port_443.allows("1.1.1.1:80".parse().unwrap()));
    assert!(!PublicOnly.allows("127.0.0.1:443".parse().unwrap()));
}

/// `PublicOnly` stays a plain value: `address_policy(PublicOnly)`, copied, defaulted.
#[test]
fn public_only_is_a_copy_default_value() {
    fn copy_default<T: Copy + Default + AddressPolicy>(policy: T) -> (T, T) {
        (policy, T::default())
    }
    assert_eq!(copy_default(PublicOnly), (PublicOnly, PublicOnly));
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("a valid IP literal")
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().expect("a valid IPv4 literal")
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().expect("a valid IPv6 literal")
}

/// One address inside each row of the IPv4 Special-Purpose Address Registry (last updated
/// 2025-10-09), the row's RFC, and whether `PublicOnly` allows it; then the rows connie
/// adds.
const IPV4_ROWS: &[(&str, &str, bool)] = &[
    ("0.1.2.3", "RFC 791", false),
    ("0.0.0.0", "RFC 1122", false),
    ("10.1.2.3", "RFC 1918", false),
    ("100.64.0.1", "RFC 6598", false),
    ("127.0.0.1", "RFC 1122", false),
    ("169.254.169.254", "RFC 3927", false),
    ("172.31.255.255", "RFC 1918", false),
    ("192.0.0.100", "RFC 6890", false),
    ("192.0.0.1", "RFC 7335", false),
    ("192.0.0.8", "RFC 7600", false),
    ("192.0.0.9", "RFC 7723", true),
    ("192.0.0.10", "RFC 8155", true),
    ("192.0.0.170", "RFC 8880", false),
    ("192.0.0.171", "RFC 8880", false),
    ("192.0.2.1", "RFC 5737", false),
    ("192.31.196.1", "RFC 7535", true),
    ("192.52.193.1", "RFC 7450", true),
    ("192.88.99.1", "RFC 7526", false),
    ("192.88.99.2", "RFC 6751", false),
    ("192.168.1.1", "RFC 1918", false),
    ("192.175.48.1", "RFC 7534", true),
    ("198.19.255.255", "RFC 2544", false),
    ("198.51.100.7", "RFC 5737", false),
    ("203.0.113.9", "RFC 5737", false),
    ("240.0.0.1", "RFC 1112", false),
    ("255.255.255.255", "RFC 919", false),
    // Not registry rows: multicast, and every other address.
    ("239.255.255.250", "RFC 5771", false),
    ("8.8.8.8", "RFC 791", true),
];

/// One address inside each row of the IPv6 Special-Purpose Address Registry (last updated
/// 2025-10-09), the row's RFC, and whether `PublicOnly` allows it; then the rows connie
/// adds. The forms that carry an IPv4 address carry `8.8.8.8` here.
const IPV6_ROWS: &[(&str, &str, bool)] = &[
    ("::1", "RFC 4291", false),
    ("::", "RFC 4291", false),
    ("::ffff:8.8.8.8", "RFC 4291", true),
    ("64:ff9b::808:808", "RFC 6052", true),
    ("64:ff9b:1:808:8:800::", "RFC 8215", true),
    ("100::1", "RFC 6666", false),
    ("100:0:0:1::1", "RFC 9780", false),
    ("2001:1ff::1", "RFC 2928", false),
    // Server 8.8.4.4, client 8.8.8.8 (inverted in the last 32 bits).
    ("2001:0:808:404::f7f7:f7f7", "RFC 4380", true),
    ("2001:1::1", "RFC 7723", true),
    ("2001:1::2", "RFC 8155", true),
    ("2001:1::3", "RFC 9665", true),
    ("2001:2::1", "RFC 5180", false),
    ("2001:3::1", "RFC 7450", true),
    ("2001:4:112::1", "RFC 7535", true),
    ("2001:10::1", "RFC 4843", false),
    ("2001:20::1", "RFC 7343", false),
    ("2001:30::1", "RFC 9374", true),
    ("2001:db8::1", "RFC 3849", false),
    ("2002:808:808::1", "RFC 3056", true),
    ("2620:4f:8000::1", "RFC 7534", true),
    ("3fff:fff::1", "RFC 9637", false),
    ("5f00::1", "RFC 9602", false),
    ("fd12:3456::1", "RFC 4193", false),
    ("fe80::1", "RFC 4291", false),
    // Not registry rows: IPv4-compatible, SIIT, global unicast, multicast, the rest.
    ("::8.8.8.8", "RFC 4291", false),
    ("::ffff:0:8.8.8.8", "RFC 6145", true),
    ("2606:4700::1111", "RFC 4291", true),
    ("ff0e::1", "RFC 4291", false),
    ("4000::1", "RFC 4291", false),
];

/// Checks each address's row and verdict, and that the addresses cover every row.
fn check_rows<A: table::Bits + std::str::FromStr + Into<IpAddr>>(
    table: &'static [Row<A>],
    cases: &[(&str, &str, bool)],
) where
    A::Err: std::fmt::Debug,
{
    let mut hit = vec![false; table.len()];
    for &(addr, rfc, allowed) in cases {
        let ip: A = addr.parse().unwrap();
        let row = table::lookup(table, ip).unwrap();
        assert_eq!(
            row.rfc, rfc,
            "{addr} falls under {} ({})",
            row.name, row.rfc
        );
        assert_eq!(
            is_public(ip.into()),
            allowed,
            "{addr} ({}, {rfc})",
            row.name
        );
        let index = table.iter().position(|r| std::ptr::eq(r, row)).unwrap();
        hit[index] = true;
    }
    for (row, hit) in table.iter().zip(hit) {
        assert!(hit, "no address under {} ({})", row.name, row.rfc);
    }
}

#[test]
fn every_ipv4_row_of_the_registry() {
    check_rows(&table::IPV4, IPV4_ROWS);
}

#[test]
fn every_ipv6_row_of_the_registry() {
    check_rows(&table::IPV6, IPV6_ROWS);
}

/// The more specific row wins, both ways: an allowed `/32` inside a refused `/24`, a
/// refused `/23` around allowed rows, a refused row inside allowed `2000::/3`.
#[test]
fn the_most_specific_row_decides() {
    for (addr, allowed) in [
        ("192.0.0.8", false),
        ("192.0.0.9", true),
        ("192.0.0.11", false),
        ("192.88.99.3", false),
        ("2001:1::4", false),
        ("2001:3:ffff::1", true),
        ("2001:4:113::1", false),
        ("2001:4:112:ffff::1", true),
        ("2001:40::1", false),
        ("2001:200::1", true),
        ("3fff:1000::1", true),
        ("2620:4f:8001::1", true),
    ] {
        assert_eq!(public(addr), allowed, "{addr}");
    }
}

/// The verdict is what the registry says, except on the rows listed here, each with its
/// reason in the table; a row the registry calls N/A or terminated is never simply allowed.
#[test]
fn the_verdict_follows_the_registry_except_where_the_table_says_why() {
    fn departs<A>(row: &Row<A>) -> bool {
        match (row.reachable, row.verdict) {
            (Reachable::True, Verdict::Allowed) | (Reachable::False, Verdict::Refused) => false,
            (Reachable::NotApplicable | Reachable::Terminated, verdict) => {
                assert_ne!(verdict, Verdict::Allowed, "{}", row.name);
                false
            }
            (Reachable::Unlisted, _) => false,
            _ => true,
        }
    }
    assert!(table::IPV4.iter().all(|row| !departs(row)));
    assert!(table::IPV4
        .iter()
        .all(|row| !matches!(row.verdict, Verdict::Carries(_))));
    let departing: Vec<_> = table::IPV6
        .iter()
        .filter(|row| departs(row))
        .map(|row| (row.prefix.to_string(), row.len, row.verdict))
        .collect();
    let prefix = |s: &str, len| (s.to_string(), len);
    let want = [
        (prefix("::ffff:0.0.0.0", 96), Verdict::Carries(Form::Mapped)),
        (prefix("64:ff9b::", 96), Verdict::Carries(Form::Nat64)),
        (prefix("64:ff9b:1::", 48), Verdict::Carries(Form::Nat64)),
        (prefix("2001:20::", 28), Verdict::Refused),
    ];
    let want: Vec<_> = want.into_iter().map(|((p, l), v)| (p, l, v)).collect();
    assert_eq!(departing, want);
}

/// No prefix has a bit set past its length, and no two rows share a prefix.
#[test]
fn the_tables_are_well_formed() {
    fn check<A: table::Bits + Eq + std::fmt::Debug>(table: &[Row<A>]) {
        for (i, row) in table.iter().enumerate() {
            assert!(u32::from(row.len) <= A::WIDTH, "{row:?}");
            assert!(row.contains(row.prefix), "{row:?} has bits past its length");
            let same = |other: &Row<A>| other.prefix == row.prefix && other.len == row.len;
            assert!(!table[i + 1..].iter().any(same), "{row:?} twice");
        }
    }
    check(&table::IPV4);
    check(&table::IPV6);
    // Every address falls under a row: both tables have a `/0` one.
    assert!(table::IPV4.iter().any(|row| row.len == 0));
    assert!(table::IPV6.iter().any(|row| row.len == 0));
}

/// `prefix/len` as a NAT64 prefix.
fn nat64(prefix: &str, len: u8) -> Nat64Prefix {
    Nat64Prefix::new(v6(prefix), len).expect("a prefix RFC 6052 allows")
}

/// Teredo with server `8.8.4.4` and client `client`.
fn teredo(client: Ipv4Addr) -> Ipv6Addr {
    teredo_via(v4("8.8.4.4"), client)
}

fn teredo_via(server: Ipv4Addr, client: Ipv4Addr) -> Ipv6Addr {
    let bits = (0x2001_0000_u128 << 96)
        | (u128::from(server.to_bits()) << 64)
        | u128::from(!client.to_bits());
    Ipv6Addr::from_bits(bits)
}

fn six_to_four(v4: Ipv4Addr) -> Ipv6Addr {
    Ipv6Addr::from_bits((0x2002_u128 << 112) | (u128::from(v4.to_bits()) << 80) | 1)
}

fn siit(v4: Ipv4Addr) -> Ipv6Addr {
    Ipv6Addr::from_bits((0xffff_u128 << 48) | u128::from(v4.to_bits()))
}

/// Puts an IPv4 address in an IPv6 form.
type Wrap = Box<dyn Fn(Ipv4Addr) -> Ipv6Addr>;

/// Each IPv6 form that carries an IPv4 address, by name.
fn forms() -> Vec<(&'static str, Wrap)> {
    let nat64_96 = nat64("64:ff9b::", 96);
    let nat64_48 = nat64("64:ff9b:1::", 48);
    vec![
        ("IPv4-mapped", Box::new(|v4: Ipv4Addr| v4.to_ipv6_mapped())),
        (
            "IPv4-compatible",
            Box::new(|v4: Ipv4Addr| v4.to_ipv6_compatible()),
        ),
        ("SIIT", Box::new(siit)),
        ("NAT64 /96", Box::new(move |v4| nat64_96.embed(v4))),
        (
            "NAT64 local-use /48",
            Box::new(move |v4| nat64_48.embed(v4)),
        ),
        ("6to4", Box::new(six_to_four)),
        ("Teredo", Box::new(teredo)),
    ]
}

/// Every form is judged by the IPv4 address it carries, but the deprecated IPv4-compatible
/// one, refused whatever it carries.
#[test]
fn the_forms_that_carry_ipv4_are_judged_by_it() {
    for (form, wrap) in forms() {
        for inner in [
            "127.0.0.1",
            "10.0.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
        ] {
            let addr = wrap(v4(inner));
            assert!(!is_public(addr.into()), "{form} {addr} carries {inner}");
        }
        let addr = wrap(v4("8.8.8.8"));
        let allowed = form != "IPv4-compatible";
        assert_eq!(
            is_public(addr.into()),
            allowed,
            "{form} {addr} carries 8.8.8.8"
        );
    }
}

/// The addresses the issue names, written out, so the forms above are the ones meant.
#[test]
fn the_forms_written_out() {
    for (addr, allowed) in [
        ("::ffff:127.0.0.1", false),
        ("::ffff:0:127.0.0.1", false),
        ("::ffff:0:a9fe:a9fe", false),
        ("64:ff9b::7f00:1", false),
        ("64:ff9b::a9fe:a9fe", false),
        ("64:ff9b:1:7f00:0:100::", false),
        ("64:ff9b:1:a9fe:a9:fe00::", false),
        ("64:ff9b:1::a9fe:a9fe", false),
        ("2002:7f00:1::1", false),
        ("2001:0:808:404::80ff:fffe", false),
        ("::127.0.0.1", false),
        ("::ffff:0:808:808", true),
        ("64:ff9b:1:808:8:800::", true),
    ] {
        assert_eq!(public(addr), allowed, "{addr}");
    }
    assert_eq!(siit(v4("127.0.0.1")), v6("::ffff:0:127.0.0.1"));
    assert_eq!(teredo(v4("127.0.0.1")), v6("2001:0:808:404::80ff:fffe"));
    assert_eq!(
        nat64("64:ff9b:1::", 48).embed(v4("127.0.0.1")),
        v6("64:ff9b:1:7f00:0:100::")
    );
}

/// A Teredo address needs its server to be public as well as its client.
#[test]
fn teredo_through_a_private_server_is_refused() {
    let client = v4("8.8.8.8");
    assert!(is_public(teredo_via(v4("8.8.4.4"), client).into()));
    for server in ["10.0.0.1", "127.0.0.1", "169.254.169.254"] {
        let addr = teredo_via(v4(server), client);
        assert!(!is_public(addr.into()), "{addr} through {server}");
    }
}

/// An address under a NAT64 prefix that breaks RFC 6052's layout (a "u" octet or a
/// suffix not zero) has no IPv4 address to judge it by: refused.
#[test]
fn a_nat64_address_out_of_layout_is_refused() {
    // 8.8.8.8 in the local-use /48 layout.
    assert!(public("64:ff9b:1:808:8:800::"));
    // The same with a bit set in the "u" octet, then in the suffix.
    assert!(!public("64:ff9b:1:808:108:800::"));
    assert!(!public("64:ff9b:1:808:8:800::1"));
    // 169.254.169.254 laid out for a /64 prefix `64:ff9b:1::/64`: as a /48 address, its
    // suffix is not zero.
    assert!(!public("64:ff9b:1:0:a9:fea9:fe00:0"));
}

/// RFC 6052 §2.4's examples: `192.0.2.33` under a prefix of each length.
#[test]
fn rfc_6052_examples() {
    let v4 = v4("192.0.2.33");
    for (prefix, len, addr) in [
        ("2001:db8::", 32, "2001:db8:c000:221::"),
        ("2001:db8:100::", 40, "2001:db8:1c0:2:21::"),
        ("2001:db8:122::", 48, "2001:db8:122:c000:2:2100::"),
        ("2001:db8:122:300::", 56, "2001:db8:122:3c0:0:221::"),
        ("2001:db8:122:344::", 64, "2001:db8:122:344:c0:2:2100::"),
        ("2001:db8:122:344::", 96, "2001:db8:122:344::192.0.2.33"),
        ("64:ff9b::", 96, "64:ff9b::192.0.2.33"),
    ] {
        let prefix = nat64(prefix, len);
        assert_eq!(prefix.embed(v4), v6(addr), "/{len}");
        assert_eq!(prefix.extract(v6(addr)), Some(v4), "/{len}");
    }
}

#[test]
fn a_nat64_prefix_is_one_rfc_6052_allows() {
    for len in [0, 16, 33, 47, 95, 128] {
        assert_eq!(Nat64Prefix::new(v6("2001:db8::"), len), None, "/{len}");
    }
    // A /96 must keep the "u" octet zero.
    assert_eq!(Nat64Prefix::new(v6("2001:db8:0:0:100::"), 96), None);
    // Bits past the length are dropped.
    assert_eq!(
        Nat64Prefix::new(v6("2001:db8::1"), 32),
        Some(nat64("2001:db8::", 32))
    );
}

/// A NAT64 prefix given at run time: the addresses under it are judged by the IPv4 address
/// they carry, even inside a refused block (documentation, ULA); a longer one decides
/// under the local-use `/48`; without it, the table decides.
#[test]
fn a_nat64_prefix_given_at_run_time() {
    for prefix in [
        nat64("2001:db8:64::", 96),
        nat64("fd00:64:0:1::", 64),
        nat64("64:ff9b:1:ab00::", 56),
        nat64("2001:db8::", 32),
    ] {
        let behind = |v4: &str| is_public_behind(prefix.embed(self::v4(v4)).into(), &[prefix]);
        for inner in ["127.0.0.1", "10.0.0.1", "169.254.169.254"] {
            assert!(!behind(inner), "{prefix:?} {inner}");
        }
        assert!(behind("8.8.8.8"), "{prefix:?}");
        let eight = prefix.embed(v4("8.8.8.8"));
        assert!(!is_public(eight.into()), "{eight} without {prefix:?}");
    }
    // Outside its prefix, the table decides as before.
    let prefix = [nat64("2001:db8:64::", 96)];
    assert!(!is_public_behind(ip("2001:db8:65::808:808"), &prefix));
    assert!(is_public_behind(ip("64:ff9b::808:808"), &prefix));
    assert!(is_public_behind(ip("8.8.8.8"), &prefix));
    // A row more specific than the prefix still decides.
    let wide = [nat64("2001::", 32)];
    assert!(!is_public_behind(ip("2001:2::808:808"), &wide));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// IPv4-mapped, SIIT and both well-known NAT64 forms of any IPv4 address are judged as
    /// that address is.
    #[test]
    fn a_carried_ipv4_address_is_judged_as_itself(bits in any::<u32>()) {
        let v4 = Ipv4Addr::from_bits(bits);
        let want = is_public(v4.into());
        prop_assert_eq!(is_public(v4.to_ipv6_mapped().into()), want);
        prop_assert_eq!(is_public(siit(v4).into()), want);
        prop_assert_eq!(is_public(nat64("64:ff9b::", 96).embed(v4).into()), want);
        prop_assert_eq!(is_public(nat64("64:ff9b:1::", 48).embed(v4).into()), want);
        prop_assert_eq!(is_public(six_to_four(v4).into()), want);
        prop_assert_eq!(is_public(teredo(v4).into()), want);
    }

    /// Under a run-time prefix of any length RFC 6052 allows, an address is judged as the
    /// IPv4 address it carries, which `extract` gives back.
    #[test]
    fn a_run_time_prefix_of_any_length(
        bits in any::<u32>(),
        len in prop::sample::select(vec![32_u8, 40, 48, 56, 64, 96]),
    ) {
        let v4 = Ipv4Addr::from_bits(bits);
        let prefix = nat64("2001:db8:122:344::", len);
        let addr = prefix.embed(v4);
        prop_assert_eq!(prefix.extract(addr), Some(v4));
        prop_assert_eq!(is_public_behind(addr.into(), &[prefix]), is_public(v4.into()));
    }
}

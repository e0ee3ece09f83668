//! Reading HTTPS record sets: each rule of RFC 9460 a client applies, as plain calls.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_resolver::proto::rr::rdata::svcb::{
    Alpn, EchConfigList, IpHint, Mandatory, SvcParamKey, SvcParamValue, SVCB,
};
use hickory_resolver::proto::rr::rdata::{A, AAAA};
use hickory_resolver::proto::rr::Name;

use super::*;

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn service(priority: u16, target: &str) -> SVCB {
    SVCB::new(priority, name(target), Vec::new())
}

fn alias(target: &str) -> SVCB {
    service(0, target)
}

fn with(mut record: SVCB, key: SvcParamKey, value: SvcParamValue) -> SVCB {
    record.svc_params.push((key, value));
    record
}

fn alpn(record: SVCB, ids: &[&str]) -> SVCB {
    let ids = ids.iter().map(|id| (*id).to_owned()).collect();
    with(record, SvcParamKey::Alpn, SvcParamValue::Alpn(Alpn(ids)))
}

fn no_default_alpn(record: SVCB) -> SVCB {
    with(
        record,
        SvcParamKey::NoDefaultAlpn,
        SvcParamValue::NoDefaultAlpn,
    )
}

fn port(record: SVCB, port: u16) -> SVCB {
    with(record, SvcParamKey::Port, SvcParamValue::Port(port))
}

fn mandatory(record: SVCB, keys: &[SvcParamKey]) -> SVCB {
    let keys = Mandatory(keys.to_vec());
    with(
        record,
        SvcParamKey::Mandatory,
        SvcParamValue::Mandatory(keys),
    )
}

fn ech(record: SVCB, bytes: &[u8]) -> SVCB {
    let list = EchConfigList(bytes.to_vec());
    with(
        record,
        SvcParamKey::EchConfigList,
        SvcParamValue::EchConfigList(list),
    )
}

/// A TLS client offering `h2` and `http/1.1`, without ECH.
fn tls() -> Client<'static> {
    static OFFERED: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    let offered = OFFERED.get_or_init(|| vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
    Client {
        alpn: Some(offered),
        ech: false,
        ech_mixed: false,
    }
}

/// A client of plain TCP.
const TCP: Client<'static> = Client {
    alpn: None,
    ech: false,
    ech_mixed: false,
};

/// Reads `records` with ties kept in the order given.
fn read_in_order(records: &[SVCB], client: Client<'_>) -> Service {
    read(records, client, |index| index as u64)
}

fn endpoints(service: Service) -> Vec<ServiceEndpoint> {
    match service {
        Service::Endpoints(endpoints) => endpoints.into_iter().map(|e| e.service).collect(),
        other => panic!("no endpoints: {other:?}"),
    }
}

/// Each endpoint as `priority target port alpn`, for short assertions.
fn summary(service: Service) -> Vec<String> {
    endpoints(service)
        .iter()
        .map(|e| {
            let target = e.target().unwrap_or(".");
            let port = e.port.map_or("-".to_owned(), |p| p.to_string());
            let alpn: Vec<String> = e
                .alpn
                .iter()
                .map(|id| String::from_utf8_lossy(id).into_owned())
                .collect();
            format!("{} {target} {port} {}", e.priority, alpn.join(","))
        })
        .collect()
}

#[test]
fn no_record_is_plain() {
    assert_eq!(read_in_order(&[], tls()), Service::Plain);
}

/// RFC 9460 §2.4.1: an alias in the set makes every ServiceMode record in it ignored.
#[test]
fn an_alias_wins_over_service_records() {
    let records = [service(1, "."), alias("svc.example."), service(2, ".")];
    assert_eq!(
        read_in_order(&records, tls()),
        Service::Alias(name("svc.example."))
    );
}

/// §2.5.1: an alias to "." says the service is not available through HTTPS records; the
/// client connects to the name's own addresses.
#[test]
fn an_alias_to_the_root_is_plain() {
    assert_eq!(read_in_order(&[alias(".")], tls()), Service::Plain);
}

#[test]
fn endpoints_are_sorted_by_priority_and_ties_by_their_random_key() {
    let records = [
        service(3, "c."),
        service(1, "a1."),
        service(2, "b."),
        service(1, "a2."),
    ];
    let targets = |tie: fn(usize) -> u64| -> Vec<String> {
        endpoints(read(&records, tls(), tie))
            .iter()
            .map(|e| e.target().unwrap().to_owned())
            .collect()
    };
    assert_eq!(targets(|i| i as u64), ["a1.", "a2.", "b.", "c."]);
    assert_eq!(targets(|i| u64::MAX - i as u64), ["a2.", "a1.", "b.", "c."]);
}

/// §7.1.1: the ALPN set is the `alpn` protocols and, unless `no-default-alpn`, the
/// default, `http/1.1`, named once.
#[test]
fn the_alpn_set_has_the_default_unless_the_record_says_not() {
    let records = [
        service(1, "."),
        alpn(service(2, "."), &["h2"]),
        alpn(service(3, "."), &["http/1.1", "h2"]),
        no_default_alpn(alpn(service(4, "."), &["h2"])),
    ];
    assert_eq!(
        summary(read_in_order(&records, tls())),
        [
            "1 . - http/1.1",
            "2 . - h2,http/1.1",
            "3 . - http/1.1,h2",
            "4 . - h2",
        ]
    );
}

/// A record whose protocols the client does not speak is skipped, and the others serve:
/// over TLS, those its configuration offers; over plain TCP, anything but QUIC.
#[test]
fn a_record_without_a_protocol_in_common_is_skipped() {
    let records = [
        no_default_alpn(alpn(service(1, "quic."), &["h3"])),
        no_default_alpn(alpn(service(2, "h3-and-h2."), &["h3", "h2"])),
        alpn(service(3, "h3-and-default."), &["h3"]),
        no_default_alpn(alpn(service(4, "spdy."), &["spdy/3"])),
    ];
    assert_eq!(
        summary(read_in_order(&records, tls())),
        ["2 h3-and-h2. - h3,h2", "3 h3-and-default. - h3,http/1.1"]
    );
    assert_eq!(
        summary(read_in_order(&records, TCP)),
        [
            "2 h3-and-h2. - h3,h2",
            "3 h3-and-default. - h3,http/1.1",
            "4 spdy. - spdy/3"
        ]
    );
    let h2_only: &[Vec<u8>] = &[b"h2".to_vec()];
    let client = Client {
        alpn: Some(h2_only),
        ech: false,
        ech_mixed: false,
    };
    assert_eq!(
        summary(read_in_order(&records, client)),
        ["2 h3-and-h2. - h3,h2"]
    );
    // Nothing usable: the name's own addresses, as without records.
    assert_eq!(read_in_order(&records[..1], tls()), Service::Plain);
}

/// §2.4.3 and §8: a malformed record makes the whole set unused; a record with a mandatory
/// key the client does not know is skipped alone.
#[test]
fn a_malformed_set_is_plain_and_an_unknown_mandatory_key_skips_its_record() {
    let good = service(1, "good.");
    let malformed = [
        // `no-default-alpn` with no `alpn` (§7.1.1).
        no_default_alpn(service(2, ".")),
        // A mandatory key the record does not have (§8).
        mandatory(service(2, "."), &[SvcParamKey::Port]),
        // `mandatory` naming itself (§8).
        mandatory(service(2, "."), &[SvcParamKey::Mandatory]),
    ];
    for bad in malformed {
        let set = [good.clone(), bad.clone()];
        assert_eq!(read_in_order(&set, tls()), Service::Plain, "{bad:?}");
    }

    let private = SvcParamKey::Key(65300);
    let unknown = with(
        mandatory(service(2, "unknown."), &[private]),
        private,
        SvcParamValue::Unknown(hickory_resolver::proto::rr::rdata::svcb::Unknown(vec![1])),
    );
    let known = mandatory(port(service(3, "known."), 8443), &[SvcParamKey::Port]);
    assert_eq!(
        summary(read_in_order(&[good, unknown, known], tls())),
        ["1 good. - http/1.1", "3 known. 8443 http/1.1"]
    );
}

/// A record that makes `ech` mandatory is for clients that offer ECH.
#[test]
fn a_mandatory_ech_needs_a_client_that_offers_it() {
    let record = mandatory(
        ech(service(1, "."), &[1, 2, 3]),
        &[SvcParamKey::EchConfigList],
    );
    let records = [record, service(2, "plain.")];
    assert_eq!(
        summary(read_in_order(&records, tls())),
        ["2 plain. - http/1.1"]
    );
}

/// With the `ech` feature, a client that offers ECH: it uses a record that makes `ech`
/// mandatory, skips those without ECH beside it unless told to keep them, and skips one
/// whose list it cannot use.
#[cfg(feature = "ech")]
mod ech {
    use rustls::crypto::aws_lc_rs::hpke::DH_KEM_X25519_HKDF_SHA256_AES_128;
    use rustls::crypto::hpke::Hpke;

    use super::*;

    fn list() -> Vec<u8> {
        let (public, _) = DH_KEM_X25519_HKDF_SHA256_AES_128
            .generate_key_pair()
            .unwrap();
        crate::tls::ech::test_list(1, &public.0, "ech.example")
    }

    fn ech_client(mixed: bool) -> Client<'static> {
        Client {
            ech: true,
            ech_mixed: mixed,
            ..tls()
        }
    }

    fn has_ech(service: Service) -> Vec<bool> {
        endpoints(service).iter().map(|e| e.has_ech()).collect()
    }

    #[test]
    fn mandatory_ech_is_usable_with_ech() {
        let list = list();
        let record = mandatory(ech(service(1, "."), &list), &[SvcParamKey::EchConfigList]);
        let read = endpoints(read_in_order(&[record], ech_client(false)));
        assert_eq!(read[0].ech.as_deref(), Some(&list[..]));
    }

    #[test]
    fn records_without_ech_are_skipped_when_one_has_it() {
        let records = [
            service(1, "plain."),
            ech(service(2, "private."), &list()),
            service(3, "other."),
        ];
        let read = read_in_order(&records, ech_client(false));
        assert_eq!(summary(read.clone()), ["2 private. - http/1.1"]);
        assert_eq!(has_ech(read), [true]);
        // None has ECH: all of them, as without ECH.
        let plain = [service(1, "plain."), service(3, "other.")];
        assert_eq!(summary(read_in_order(&plain, ech_client(false))).len(), 2);
        // A client without ECH keeps them all, the list unread.
        assert_eq!(summary(read_in_order(&records, tls())).len(), 3);
    }

    #[test]
    fn ech_only_false_keeps_them() {
        let records = [service(1, "plain."), ech(service(2, "private."), &list())];
        let read = read_in_order(&records, ech_client(true));
        assert_eq!(has_ech(read), [false, true]);
    }

    #[test]
    fn unusable_ech_list_skips_the_endpoint() {
        let mut unknown_kem = list();
        unknown_kem[7..9].copy_from_slice(&0x0099u16.to_be_bytes());
        for bad in [vec![1, 2, 3], Vec::new(), unknown_kem] {
            let records = [ech(service(1, "bad."), &bad), service(2, "plain.")];
            // The plain one stays: no usable endpoint has ECH.
            let read = read_in_order(&records, ech_client(false));
            assert_eq!(summary(read), ["2 plain. - http/1.1"], "{bad:?}");
            // Without ECH, the list is not the client's business.
            assert_eq!(summary(read_in_order(&records, tls())).len(), 2);
        }
    }
}

/// The port applies to its record; 0 and the Fetch standard's bad ports are ignored, and
/// the endpoint is dialed on the authority's port.
#[test]
fn a_zero_or_bad_port_is_ignored() {
    let records = [
        port(service(1, "a."), 8443),
        port(service(2, "b."), 0),
        port(service(3, "c."), 25),
        port(service(4, "d."), 10080),
        port(service(5, "e."), 443),
    ];
    let ports: Vec<Option<u16>> = endpoints(read_in_order(&records, tls()))
        .iter()
        .map(|e| e.port)
        .collect();
    assert_eq!(ports, [Some(8443), None, None, None, Some(443)]);
}

#[test]
fn the_bad_ports_are_sorted_for_the_binary_search() {
    assert!(BAD_PORTS.windows(2).all(|w| w[0] < w[1]));
    for port in BAD_PORTS {
        assert_eq!(safe_port(port), None, "{port}");
    }
    for port in [80, 443, 8080, 8443, 65535] {
        assert_eq!(safe_port(port), Some(port));
    }
}

#[test]
fn hints_target_and_ech_are_kept() {
    let v4 = Ipv4Addr::new(192, 0, 2, 1);
    let v6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    let record = with(
        with(
            ech(service(1, "svc.example."), &[0xfe, 0x0d]),
            SvcParamKey::Ipv4Hint,
            SvcParamValue::Ipv4Hint(IpHint(vec![A(v4)])),
        ),
        SvcParamKey::Ipv6Hint,
        SvcParamValue::Ipv6Hint(IpHint(vec![AAAA(v6)])),
    );
    let Service::Endpoints(read) = read_in_order(&[record, service(2, ".")], tls()) else {
        panic!("no endpoints");
    };
    assert_eq!(read[0].target, Some(name("svc.example.")));
    assert_eq!(read[1].target, None);
    let endpoint: Vec<ServiceEndpoint> = read.into_iter().map(|e| e.service).collect();
    assert_eq!(endpoint[0].target(), Some("svc.example."));
    assert_eq!(endpoint[0].ipv4_hints, [v4]);
    assert_eq!(endpoint[0].ipv6_hints, [v6]);
    assert_eq!(endpoint[0].ech.as_deref(), Some(&[0xfe, 0x0d][..]));
    // "." in ServiceMode is the record's own name.
    assert_eq!(endpoint[1].target(), None);
    assert_eq!(endpoint.iter().map(|e| e.order).collect::<Vec<_>>(), [0, 1]);
}

use hickory_resolver::net::NetError;
use hickory_resolver::proto::op::ResponseCode;

use super::*;
use crate::Family;

fn assert_send_sync<T: Send + Sync + 'static>() {}

#[test]
fn is_small_send_and_sync() {
    assert_send_sync::<ConnectError>();
    assert_eq!(
        std::mem::size_of::<ConnectError>(),
        std::mem::size_of::<usize>()
    );
}

#[test]
fn all_failed_reports_first_attempt_as_source_and_io_kind() {
    let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let b: SocketAddr = "127.0.0.2:1".parse().unwrap();
    let e = ConnectError::failed(
        ErrorKind::AllAttemptsFailed,
        vec![
            AttemptError::new(a, io::ErrorKind::ConnectionRefused.into()),
            AttemptError::new(b, io::ErrorKind::TimedOut.into()),
        ],
        vec![],
    );
    assert_eq!(
        e.to_string(),
        "connect failed: 2 addresses tried: 1 refused, 1 timed out"
    );
    assert!(!e.is_timeout());
    let src = e.source().unwrap().downcast_ref::<AttemptError>().unwrap();
    assert_eq!(src.to_string(), "attempt to 127.0.0.1:1 failed");
    assert_eq!(src.error().kind(), io::ErrorKind::ConnectionRefused);
    let io: io::Error = e.into();
    assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused);
    let back = io
        .get_ref()
        .unwrap()
        .downcast_ref::<ConnectError>()
        .unwrap();
    assert_eq!(back.attempts().len(), 2);
    assert_eq!(back.attempts()[1].addr(), b);
}

#[test]
fn io_kinds() {
    let cases = [
        (
            ConnectError::invalid_target("x"),
            io::ErrorKind::InvalidInput,
        ),
        (
            ConnectError::failed(ErrorKind::Dns, vec![], vec![]),
            io::ErrorKind::NotFound,
        ),
        (
            ConnectError::failed(ErrorKind::NoAddresses, vec![], vec![]),
            io::ErrorKind::AddrNotAvailable,
        ),
        (
            ConnectError::timed_out(Duration::from_secs(1), vec![], vec![]),
            io::ErrorKind::TimedOut,
        ),
        (
            ConnectError::no_time_driver("timers are disabled".into()),
            io::ErrorKind::Unsupported,
        ),
    ];
    for (e, kind) in cases {
        assert_eq!(io::Error::from(e).kind(), kind);
    }
}

#[test]
fn the_message_names_the_target_and_counts_the_attempts() {
    let attempts = (1..=5)
        .map(|i| {
            let addr = SocketAddr::from(([192, 0, 2, i], 443));
            AttemptError::new(addr, io::Error::from_raw_os_error(111))
        })
        .collect();
    let e = ConnectError::failed(ErrorKind::AllAttemptsFailed, attempts, vec![])
        .with_target("example.com:443".into(), Some("example.com".into()));
    assert_eq!(
        e.to_string(),
        "connect to example.com:443 failed: 5 addresses tried: all refused"
    );
    let marked = io::Error::new(io::ErrorKind::PermissionDenied, "SO_MARK: not permitted");
    let a: SocketAddr = "[2001:db8::1]:443".parse().unwrap();
    let e = ConnectError::failed(
        ErrorKind::AllAttemptsFailed,
        vec![AttemptError::new(a, marked)],
        vec![],
    );
    assert_eq!(
        e.to_string(),
        "connect failed: 1 address tried: permission denied"
    );
}

/// hickory's "no records" for `family`, with the name server's `code`: `NXDomain` (no
/// such name) or `NoError` (the name has no record of that type).
fn no_records(family: Family, code: ResponseCode) -> DnsError {
    let query = hickory_resolver::proto::op::Query::query(
        "missing.example.".parse().unwrap(),
        hickory_resolver::proto::rr::RecordType::A,
    );
    let error = hickory_resolver::net::DnsError::NoRecordsFound(
        hickory_resolver::net::NoRecords::new(query, code),
    );
    DnsError::new(Some(family), NetError::from(error))
}

#[test]
fn a_failed_lookup_is_told_in_words() {
    let none = |family| no_records(family, ResponseCode::NXDomain);
    let timeout = DnsError::new(Some(Family::V4), NetError::Timeout);
    let e = ConnectError::failed(
        ErrorKind::Dns,
        vec![],
        vec![none(Family::V6), none(Family::V4)],
    )
    .with_target("missing.example:80".into(), Some("missing.example".into()));
    assert_eq!(
        e.to_string(),
        "connect to missing.example:80 failed: could not resolve missing.example: \
         no such name (A, AAAA)"
    );
    let e = ConnectError::failed(ErrorKind::Dns, vec![], vec![none(Family::V6), timeout])
        .with_target("missing.example:80".into(), Some("missing.example".into()));
    assert_eq!(
        e.to_string(),
        "connect to missing.example:80 failed: could not resolve missing.example: \
         AAAA: no such name, A: timed out"
    );
    assert_eq!(e.dns_errors()[0].to_string(), "AAAA lookup failed");
}

fn lookup_failed(family: Family) -> DnsError {
    DnsError::new(Some(family), io::Error::other("servfail"))
}

/// A lookup that timed out makes a DNS failure a timeout, unless another found that
/// the name does not exist: `is_dns` and `is_timeout` together, and `TimedOut` as an
/// `io::Error`.
#[test]
fn a_dns_timeout_is_a_timeout() {
    let timeout = |family| DnsError::new(Some(family), NetError::Timeout);
    let io_timeout = |family| {
        let e = io::Error::from(io::ErrorKind::TimedOut);
        DnsError::new(Some(family), NetError::Io(std::sync::Arc::new(e)))
    };
    let (v4, v6) = (Family::V4, Family::V6);
    // (the lookups' errors, is_timeout)
    let cases = [
        (vec![timeout(v6), timeout(v4)], true),
        (vec![timeout(v4)], true),
        (vec![io_timeout(v6), io_timeout(v4)], true),
        // No AAAA record, and `A` timed out: `A` might have found the name.
        (
            vec![no_records(v6, ResponseCode::NoError), timeout(v4)],
            true,
        ),
        (vec![lookup_failed(v6), timeout(v4)], true),
        // The name does not exist: no wait would have found it.
        (
            vec![no_records(v6, ResponseCode::NXDomain), timeout(v4)],
            false,
        ),
        (vec![lookup_failed(v6), lookup_failed(v4)], false),
        (vec![no_records(v6, ResponseCode::NoError)], false),
    ];
    for (dns, timed_out) in cases {
        let e = ConnectError::failed(ErrorKind::Dns, vec![], dns);
        let shown = format!("{e:?}");
        assert!(e.is_dns(), "{shown}");
        assert_eq!(e.is_timeout(), timed_out, "{shown}");
        let kind = if timed_out {
            io::ErrorKind::TimedOut
        } else {
            io::ErrorKind::NotFound
        };
        assert_eq!(io::Error::from(e).kind(), kind, "{shown}");
    }

    let e = ConnectError::failed(ErrorKind::Dns, vec![], vec![timeout(v6), timeout(v4)])
        .with_target("silent.example:80".into(), Some("silent.example".into()));
    assert_eq!(
        e.to_string(),
        "connect to silent.example:80 failed: could not resolve silent.example: \
         timed out (A, AAAA)"
    );
}

/// Which lookup errors are timeouts: hickory's, an I/O timeout inside hickory's error
/// or on its own; not a failure, not "no records", not another I/O error.
#[test]
fn a_lookup_times_out_by_hickory_or_io() {
    let timeouts = [
        DnsError::new(None, NetError::Timeout),
        DnsError::new(
            None,
            NetError::Io(std::sync::Arc::new(io::ErrorKind::TimedOut.into())),
        ),
        DnsError::new(None, io::Error::from(io::ErrorKind::TimedOut)),
    ];
    for e in &timeouts {
        assert!(e.is_timeout(), "{e:?}");
    }
    let others = [
        DnsError::new(None, NetError::NoConnections),
        DnsError::new(
            None,
            NetError::Io(std::sync::Arc::new(io::ErrorKind::ConnectionRefused.into())),
        ),
        no_records(Family::V4, ResponseCode::NXDomain),
        lookup_failed(Family::V4),
    ];
    for e in &others {
        assert!(!e.is_timeout(), "{e:?}");
    }
}

/// Each `is_*` query against each kind. `is_dns` is true for a failed lookup and for a
/// name whose lookups found no address, not for an empty list of addresses.
#[test]
fn each_query_answers_for_its_own_kind() {
    let a: SocketAddr = "192.0.2.1:80".parse().unwrap();
    let refused = || {
        vec![AttemptError::new(
            a,
            io::ErrorKind::ConnectionRefused.into(),
        )]
    };
    let timed_out = || vec![AttemptError::new(a, io::ErrorKind::TimedOut.into())];
    let no_name = || vec![lookup_failed(Family::V6), lookup_failed(Family::V4)];
    // (error, is_invalid_target, is_dns, is_timeout, is_refused_by_policy)
    let cases = [
        (ConnectError::invalid_target("x"), true, false, false, false),
        (
            ConnectError::failed(ErrorKind::Dns, vec![], no_name()),
            false,
            true,
            false,
            false,
        ),
        (
            ConnectError::failed(ErrorKind::NoAddresses, vec![], vec![]).looked_up(true),
            false,
            true,
            false,
            false,
        ),
        (
            ConnectError::failed(ErrorKind::NoAddresses, vec![], vec![]),
            false,
            false,
            false,
            false,
        ),
        (
            ConnectError::failed(ErrorKind::AllAttemptsFailed, refused(), vec![]),
            false,
            false,
            false,
            false,
        ),
        (
            ConnectError::failed(ErrorKind::AllAttemptsFailed, timed_out(), vec![]),
            false,
            false,
            true,
            false,
        ),
        (
            ConnectError::timed_out(Duration::from_secs(1), vec![], no_name()),
            false,
            false,
            true,
            false,
        ),
        (
            ConnectError::failed(ErrorKind::RefusedByPolicy, vec![], vec![]).with_refused(vec![a]),
            false,
            false,
            false,
            true,
        ),
    ];
    for (e, invalid, dns, timeout, policy) in cases {
        let got = (
            e.is_invalid_target(),
            e.is_dns(),
            e.is_timeout(),
            e.is_refused_by_policy(),
        );
        assert_eq!(got, (invalid, dns, timeout, policy), "{e:?}");
    }
}

/// The cause of a DNS error is the first lookup's error; of any other, the first
/// attempt's; of an empty list, none.
#[test]
fn the_source_is_the_first_lookup_or_attempt() {
    let e = ConnectError::failed(
        ErrorKind::Dns,
        vec![],
        vec![lookup_failed(Family::V6), lookup_failed(Family::V4)],
    );
    let source = e.source().unwrap().downcast_ref::<DnsError>().unwrap();
    assert_eq!(source.to_string(), "AAAA lookup failed");
    assert_eq!(source.source().unwrap().to_string(), "servfail");
    assert!(ConnectError::failed(ErrorKind::NoAddresses, vec![], vec![])
        .source()
        .is_none());
    assert_eq!(e.dns_errors()[1].family(), Some(Family::V4));
    assert_eq!(e.dns_errors()[0].error().to_string(), "servfail");
    assert_eq!(e.dns_errors()[0].source().unwrap().to_string(), "servfail");
}

/// Without a time driver: what to do in the message, tokio's own words in `Debug`,
/// and no other query true.
#[test]
fn a_runtime_without_time_says_what_to_build() {
    let e = ConnectError::no_time_driver("timers are disabled".into())
        .with_target("example.com:80".into(), Some("example.com".into()));
    assert_eq!(
        e.to_string(),
        "connect to example.com:80 failed: the tokio runtime has no time driver \
         (build it with `enable_all()` or `enable_time()`)"
    );
    assert_eq!(
        format!("{e:?}"),
        r#"ConnectError { kind: NoTimeDriver, detail: "timers are disabled", attempts: [], dns: [] }"#
    );
    let queries = (
        e.is_invalid_target(),
        e.is_dns(),
        e.is_timeout(),
        e.is_refused_by_policy(),
    );
    assert_eq!(queries, (false, false, false, false));
    assert!(e.source().is_none());
}

#[test]
fn debug_shows_the_kind_the_detail_and_the_timeout() {
    let e = ConnectError::invalid_target("port 0");
    assert_eq!(
        format!("{e:?}"),
        r#"ConnectError { kind: InvalidTarget, detail: "port 0", attempts: [], dns: [] }"#
    );
    let e = ConnectError::timed_out(Duration::from_secs(2), vec![], vec![]);
    assert_eq!(
        format!("{e:?}"),
        "ConnectError { kind: TimedOut, timeout: 2s, attempts: [], dns: [] }"
    );
}

/// A timeout before any attempt says so, and names the lookups that had failed.
#[test]
fn a_timeout_before_any_attempt_names_the_failed_lookups() {
    let e = ConnectError::timed_out(Duration::from_secs(2), vec![], vec![])
        .with_target("example.com:80".into(), Some("example.com".into()));
    assert_eq!(
        e.to_string(),
        "connect to example.com:80 timed out after 2s before any connection attempt"
    );
    let e = ConnectError::timed_out(
        Duration::from_secs(2),
        vec![],
        vec![lookup_failed(Family::V6)],
    )
    .with_target("example.com:80".into(), Some("example.com".into()));
    assert_eq!(
        e.to_string(),
        "connect to example.com:80 timed out after 2s before any connection attempt; \
         could not resolve example.com: lookup failed (AAAA)"
    );
}

/// An attempt's error counted in a word or two, its own message kept for the cause: an
/// error's own message, a message std keeps without an OS code, an OS error by its name.
#[test]
fn attempt_errors_are_counted_in_words() {
    let a: SocketAddr = "192.0.2.1:80".parse().unwrap();
    let b: SocketAddr = "192.0.2.2:80".parse().unwrap();
    let marked = io::Error::new(io::ErrorKind::PermissionDenied, "SO_MARK: not permitted");
    let eof = std::io::Read::read_exact(&mut &[][..], &mut [0_u8; 1]).unwrap_err();
    assert_eq!(eof.kind(), io::ErrorKind::UnexpectedEof);
    let e = ConnectError::failed(
        ErrorKind::AllAttemptsFailed,
        vec![
            AttemptError::new(a, marked),
            AttemptError::new(b, eof),
            AttemptError::new(a, io::Error::from_raw_os_error(libc::ECONNRESET)),
        ],
        vec![],
    );
    assert_eq!(
        e.to_string(),
        "connect failed: 2 addresses tried in 3 attempts: 1 permission denied, \
         1 unexpected end of file, 1 reset"
    );
    assert_eq!(
        e.attempts()[0].to_string(),
        "attempt to 192.0.2.1:80 failed"
    );
    let cause = e.attempts()[0].source().unwrap();
    assert_eq!(cause.to_string(), "SO_MARK: not permitted");
    let reasons: Vec<String> = e.attempts().iter().map(|a| reason(a.error())).collect();
    assert_eq!(
        reasons,
        [
            "SO_MARK: not permitted",
            "failed to fill whole buffer",
            "connection reset by peer"
        ]
    );
}

/// Out of file descriptors: named as the OS names it, with what bounds connie's share.
#[test]
fn running_out_of_files_is_named_with_the_budget_as_the_hint() {
    let a: SocketAddr = "192.0.2.1:80".parse().unwrap();
    let emfile = io::Error::from_raw_os_error(libc::EMFILE);
    assert_eq!(emfile.kind().to_string(), "uncategorized error");
    assert_eq!(reason(&emfile), "too many open files");
    let e = ConnectError::failed(
        ErrorKind::AllAttemptsFailed,
        vec![AttemptError::new(a, emfile)],
        vec![],
    );
    assert_eq!(
        e.to_string(),
        "connect failed: 1 address tried: too many open files (the process ran out of file \
         descriptors: an AttemptBudget bounds how many connie's races hold)"
    );
}

/// What was not attempted is counted after what was: the addresses the policy refused,
/// which the message never names, and those the cap left out.
#[test]
fn the_addresses_not_attempted_are_counted() {
    let a: SocketAddr = "192.0.2.1:80".parse().unwrap();
    let internal: Vec<SocketAddr> = vec![
        "[fd00::5]:5432".parse().unwrap(),
        "10.1.2.3:5432".parse().unwrap(),
    ];
    let refused = || {
        vec![AttemptError::new(
            a,
            io::ErrorKind::ConnectionRefused.into(),
        )]
    };
    let e = ConnectError::failed(ErrorKind::AllAttemptsFailed, refused(), vec![])
        .with_refused(internal.clone())
        .with_left_out(184, 16)
        .with_target("200 addresses".into(), None);
    assert_eq!(
        e.to_string(),
        "connect to 200 addresses failed: 1 address tried: refused; 2 addresses refused by \
         the address policy; 184 left out by max_addresses (16)"
    );
    assert_eq!(e.refused_by_policy(), internal);
    assert_eq!(e.left_out(), 184);

    let e = ConnectError::failed(ErrorKind::RefusedByPolicy, vec![], vec![])
        .with_refused(internal.clone())
        .with_target("db.internal:5432".into(), Some("db.internal".into()));
    let shown = e.to_string();
    assert_eq!(
        shown,
        "connect to db.internal:5432 failed: 2 addresses refused by the address policy"
    );
    assert!(e.source().is_none());
    assert_eq!(e.refused_by_policy(), internal);
    assert!(
        format!("{e:?}").contains("10.1.2.3:5432"),
        "Debug is for the program's logs"
    );
}

#[test]
fn every_attempt_timing_out_is_a_timeout() {
    let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let e = ConnectError::failed(
        ErrorKind::AllAttemptsFailed,
        vec![AttemptError::new(a, io::ErrorKind::TimedOut.into())],
        vec![],
    );
    assert!(e.is_timeout());
    assert_eq!(e.to_string(), "connect failed: 1 address tried: timed out");
    let one = vec![AttemptError::new(a, io::ErrorKind::TimedOut.into())];
    let e = ConnectError::timed_out(Duration::from_secs(2), one, vec![]);
    assert_eq!(
        e.to_string(),
        "connect timed out after 2s: 1 address tried: timed out"
    );
}

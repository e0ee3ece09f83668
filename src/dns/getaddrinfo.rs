//! The operating system's resolver, `getaddrinfo`, behind [`Resolve`]: one call per family,
//! each on a blocking thread.

use std::error::Error;
use std::net::SocketAddr;
use std::{fmt, io};

use dns_lookup::{AddrFamily, AddrInfoHints, LookupError, LookupErrorKind, SockType};
use futures_util::stream::FuturesUnordered;

use super::{Answer, Answers, DnsError, Query, Resolve};
use crate::{Family, IpFamily};

/// The operating system's resolver, `getaddrinfo`, one call per family, each on a tokio
/// blocking thread, each answer given as it returns.
///
/// Every source the system's name service switch knows answers (systemd-resolved, mDNS,
/// LDAP, `/etc/hosts` as `getaddrinfo` reads it), and each family keeps `getaddrinfo`'s
/// order (RFC 6724, with `/etc/gai.conf` on glibc): the race moves only an address with no
/// route to the end, and those the address history knows first. A name that is not fully
/// qualified goes through the search list once per family, so the two families may come
/// from two names of the list.
///
/// A call cannot be cancelled: when the race ends first, its thread runs on until the call
/// returns, and its answer is dropped. It needs no tokio time driver.
#[derive(Debug, Clone, Copy, Default)]
pub struct GetAddrInfo;

impl Resolve for GetAddrInfo {
    fn resolve(&self, query: &Query<'_>) -> Answers {
        per_family(getaddrinfo, query.name(), query.families())
    }
}

/// One lookup per family of `families`, `lookup(host, family)`, each on a tokio blocking
/// thread, yielded as each returns.
///
/// A blocking call cannot be cancelled: dropped before they return, the lookups' threads
/// run on until the calls return, and their answers are dropped. Dropping never blocks.
fn per_family<F>(lookup: F, host: &str, families: IpFamily) -> Answers
where
    F: Fn(&str, Family) -> Result<Vec<SocketAddr>, DnsError> + Copy + Send + 'static,
{
    let pending = FuturesUnordered::new();
    for family in [Family::V6, Family::V4]
        .into_iter()
        .filter(|&f| families.allows(f))
    {
        let host = host.to_owned();
        pending.push(async move {
            // Spawned on first poll, not here: the stream may be made outside a runtime.
            let result = tokio::task::spawn_blocking(move || lookup(&host, family))
                .await
                .unwrap_or_else(|e| Err(DnsError::new(Some(family), e)));
            // getaddrinfo sorted each family (RFC 6724, `/etc/gai.conf` on glibc).
            Answer {
                family: Some(family),
                result,
                sorted: true,
                https: None,
            }
        });
    }
    Answers::new(pending)
}

/// `getaddrinfo` for one family's stream addresses, in the order it returns them (RFC 6724
/// and `/etc/gai.conf` on glibc), with port 0 (the race sets the target's, keeping an
/// IPv6 address's scope, such as `fe80::1%eth0` in /etc/hosts). Blocks.
///
/// A name without addresses of `family` fails with [`NoRecords`], as hickory's "no
/// records" does, whatever code the C library used to say so.
fn getaddrinfo(host: &str, family: Family) -> Result<Vec<SocketAddr>, DnsError> {
    let hints = AddrInfoHints {
        address: match family {
            Family::V4 => AddrFamily::Inet,
            Family::V6 => AddrFamily::Inet6,
        }
        .into(),
        // Without it each address comes once per socket type (stream, datagram, raw).
        socktype: SockType::Stream.into(),
        ..AddrInfoHints::default()
    };
    let infos = match dns_lookup::getaddrinfo(Some(host), None, Some(hints)) {
        Ok(infos) => infos,
        Err(e) if no_records(&e) => {
            return Err(DnsError::new(Some(family), NoRecords(e.into())));
        }
        Err(e) => return Err(DnsError::new(Some(family), io::Error::from(e))),
    };
    let mut addrs = Vec::new();
    for info in infos {
        let addr = info.map_err(|e| DnsError::new(Some(family), e))?.sockaddr;
        // Only `family` was asked for; should a C library map IPv4 into IPv6 anyway, the
        // mapped addresses are left out, as the hickory path leaves them out.
        if addr.is_ipv4() == (family == Family::V4) {
            addrs.push(addr);
        }
    }
    Ok(addrs)
}

/// `EAI_ADDRFAMILY` in glibc and musl, which glibc returns for an IP literal of the other
/// family; the libc crate does not define it for Linux.
#[cfg(target_os = "linux")]
const EAI_ADDRFAMILY: i32 = -9;

/// Whether `getaddrinfo` failed because the name has no address of the family asked for.
///
/// A lookup of one family cannot tell a name that does not exist from one with no address
/// of that family: glibc says `EAI_NONAME` of both (and `EAI_NODATA` when a name server
/// said the name exists), and `EAI_ADDRFAMILY` of an IP literal of the other family.
fn no_records(e: &LookupError) -> bool {
    #[cfg(target_os = "linux")]
    if e.error_num() == EAI_ADDRFAMILY {
        return true;
    }
    matches!(e.kind(), LookupErrorKind::NoName | LookupErrorKind::NoData)
}

/// `getaddrinfo` found no address of the family asked for; the C library's own error is
/// the source.
#[derive(Debug)]
pub(crate) struct NoRecords(io::Error);

impl fmt::Display for NoRecords {
    /// `no records`, as hickory says of an empty answer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no records")
    }
}

impl Error for NoRecords {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::StreamExt;

    use super::*;
    use crate::dns::Resolver;

    fn system() -> Resolver {
        Resolver::new(GetAddrInfo)
    }

    type Found = Result<Vec<SocketAddr>, DnsError>;

    /// The `A` and the `AAAA` answer of one lookup, each checked to carry its family, in
    /// its error too: the two lookups finish in either order.
    async fn by_family(resolver: &Resolver, host: &str) -> (Found, Found) {
        let (mut v4, mut v6) = (None, None);
        for answer in resolver
            .lookup(host, false, 8080, IpFamily::Both, None)
            .unwrap()
            .collect::<Vec<_>>()
            .await
        {
            if let Err(e) = &answer.result {
                assert_eq!(e.family(), answer.family, "{e}");
            }
            let slot = match answer.family {
                Some(Family::V4) => &mut v4,
                Some(Family::V6) => &mut v6,
                None => panic!("an answer without its family"),
            };
            assert!(
                slot.replace(answer.result).is_none(),
                "one answer per family"
            );
        }
        (v4.expect("an A answer"), v6.expect("an AAAA answer"))
    }

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    /// One `getaddrinfo` per family: an IP literal is an address of its own family and
    /// "no records" of the other (glibc says `EAI_ADDRFAMILY`, others `EAI_NONAME`). A
    /// numeric host is parsed without a query.
    #[tokio::test]
    async fn getaddrinfo_asks_each_family_on_its_own() {
        let (v4, v6) = by_family(&system(), "127.0.0.1").await;
        assert_eq!(v4.unwrap(), addrs(&["127.0.0.1:8080"]));
        assert_eq!(v6.unwrap_err().error().to_string(), "no records");

        let (v4, v6) = by_family(&system(), "::1").await;
        assert_eq!(v4.unwrap_err().error().to_string(), "no records");
        assert_eq!(v6.unwrap(), addrs(&["[::1]:8080"]));
    }

    /// `localhost` through NSS: `127.0.0.1` alone for `A`, and `::1` alone for `AAAA` where
    /// `/etc/hosts` says so. Where it does not, `AAAA` would go on to the name servers
    /// (nsswitch's `files dns`), so only `A` is asked: tests stay off the network.
    #[tokio::test]
    async fn getaddrinfo_answers_localhost_per_family() {
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let v6_in_hosts = hosts.lines().any(|line| {
            let mut words = line.split('#').next().unwrap_or("").split_whitespace();
            words.next() == Some("::1") && words.any(|name| name == "localhost")
        });
        if v6_in_hosts {
            let (v4, v6) = by_family(&system(), "localhost").await;
            assert_eq!(v4.unwrap(), addrs(&["127.0.0.1:8080"]));
            assert_eq!(v6.unwrap(), addrs(&["[::1]:8080"]));
        } else {
            let v4 = getaddrinfo("localhost", Family::V4);
            assert_eq!(v4.unwrap(), addrs(&["127.0.0.1:0"]));
        }
    }

    /// A name `getaddrinfo` refuses is each family's error, not a panic: the empty name
    /// fails inside the C library without a query, a NUL before it is called.
    #[tokio::test]
    async fn getaddrinfo_reports_a_bad_name_per_family() {
        let (v4, v6) = by_family(&system(), "").await;
        let (v4, v6) = (v4.unwrap_err(), v6.unwrap_err());
        assert_eq!(v4.to_string(), "A lookup failed");
        assert_eq!(v4.error().to_string(), "no records");
        assert_eq!(v6.error().to_string(), "no records");
        // Not "no records": the C library was never asked.
        let (v4, v6) = by_family(&system(), "local\0host").await;
        for e in [v4.unwrap_err(), v6.unwrap_err()] {
            assert!(e.error().to_string().contains("nul byte"), "{e}");
        }
    }

    /// Each family joins as soon as its own lookup returns: an `AAAA` lookup stuck on its
    /// thread holds up neither the `A` answer nor dropping the stream, and finishes in the
    /// background once unstuck.
    #[tokio::test]
    async fn each_family_answers_when_its_own_lookup_returns() {
        use std::sync::{Condvar, Mutex};

        // (released, finished), with a condition variable for each change.
        static STATE: (Mutex<(bool, bool)>, Condvar) = (Mutex::new((false, false)), Condvar::new());
        fn lookup(_: &str, family: Family) -> Found {
            if family == Family::V6 {
                let (lock, changed) = &STATE;
                let mut state = changed.wait_while(lock.lock().unwrap(), |s| !s.0).unwrap();
                state.1 = true;
                changed.notify_all();
            }
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], 0))])
        }

        let mut answers = per_family(lookup, "stuck.example", IpFamily::Both);
        answers.port = Some(80);
        let first = answers.next().await.expect("the A answer");
        assert_eq!(first.family, Some(Family::V4));
        assert_eq!(first.result.unwrap(), addrs(&["127.0.0.1:80"]));

        // Dropped on a thread of its own, so a drop that waited for the stuck lookup
        // fails the test instead of hanging it.
        let dropped = tokio::task::spawn_blocking(move || drop(answers));
        tokio::time::timeout(Duration::from_secs(5), dropped)
            .await
            .expect("dropping the stream does not wait for a lookup")
            .unwrap();

        let (lock, changed) = &STATE;
        lock.lock().unwrap().0 = true;
        changed.notify_all();
        let (state, _) = changed
            .wait_timeout_while(lock.lock().unwrap(), Duration::from_secs(5), |s| !s.1)
            .unwrap();
        assert!(state.1, "the stuck lookup finishes in the background");
    }
}

//! Which source address the system would use for a destination, cached per prefix.
//!
//! RFC 6724's rules compare each destination with its source address. The kernel knows that
//! source (its routes and its own source address selection, RFC 6724 §5), and says it
//! without sending a packet: a UDP socket `connect()`ed to the destination has chosen a
//! route and a source, which `getsockname()` reads back. Go's `net/addrselect.go` does the
//! same.
//!
//! Asking costs three system calls and a socket, so [`Sources`] keeps each answer for
//! [`SOURCE_TTL`], per destination prefix: a source, or "none" for a route the kernel does
//! not have. An answer that says only that the process or the system ran short of
//! something (descriptors, buffers, memory) is not kept.

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use tracing::trace;

use crate::error::short_of_resources;
use crate::hash::Keyed;

/// How long a source found for a prefix is used before the kernel is asked again.
///
/// Short enough to follow a network change (a new Wi-Fi, a VPN coming up, an address
/// going away) within a few seconds; long enough that a busy client asks the kernel about a
/// prefix a dozen times a minute, not once per connect.
pub(crate) const SOURCE_TTL: Duration = Duration::from_secs(5);

/// The most prefixes [`Sources`] remembers at once.
///
/// Far more than the destinations a client talks to within [`SOURCE_TTL`] (a crawler
/// excepted), and small: about 50 KiB. The cache never grows past it: a new prefix in a
/// full cache first drops the expired ones, and everything if too few had expired.
pub(crate) const MAX_PREFIXES: usize = 1024;

/// The port a lookup connects to when the destination has none (port 0): 9, discard, as
/// Go uses. No packet is sent to it.
///
/// Linux connects a UDP socket to port 0 without complaint (checked on Linux 6.18: the
/// source comes back as for any port), but the BSDs and macOS refuse it with
/// `EADDRNOTAVAIL` (`in_pcbconnect`), so port 0 is never asked.
const PORT_IF_NONE: u16 = 9;

/// A way to find the source for a destination: the kernel, or a test's function.
type Lookup = dyn Fn(SocketAddr) -> io::Result<IpAddr> + Send + Sync;

/// The source address the system would use for each destination, found by asking the
/// kernel and kept for [`SOURCE_TTL`] per destination prefix.
///
/// A source found for one address stands for its whole IPv4 `/24` or IPv6 `/64` (with its
/// scope id): routes rarely split those, and a host's addresses in DNS often share one.
/// "No source" (no route) is kept as well, unless the kernel's error was a lack of
/// resources (see [`short_of_resources`]): the next race asks again. The port does not
/// count.
pub(crate) struct Sources {
    /// Finds a source when the cache has none.
    lookup: Box<Lookup>,
    /// Each prefix's source and when it was found; at most [`MAX_PREFIXES`] of them.
    /// Keyed: the destinations come from DNS.
    cache: Mutex<HashMap<Prefix, Found, Keyed>>,
}

impl Sources {
    /// Sources found by asking the kernel, with an empty cache.
    pub(crate) fn new() -> Self {
        Self::with_lookup(Box::new(kernel_source))
    }

    /// The process's sources, shared by every race, so that each prefix is asked about once
    /// per [`SOURCE_TTL`] whatever the number of connectors.
    pub(crate) fn global() -> &'static Sources {
        static GLOBAL: OnceLock<Sources> = OnceLock::new();
        GLOBAL.get_or_init(Sources::new)
    }

    /// Sources found by calling `f` instead of asking the kernel, cached as the kernel's
    /// are (`None` as "no route"): for tests of the callers, and of the cache.
    #[cfg(test)]
    pub(crate) fn fixed(f: impl Fn(SocketAddr) -> Option<IpAddr> + Send + Sync + 'static) -> Self {
        Self::with_lookup(Box::new(move |dst| {
            f(dst).ok_or_else(|| io::Error::from(io::ErrorKind::NetworkUnreachable))
        }))
    }

    /// Sources found by `lookup`, with an empty cache.
    fn with_lookup(lookup: Box<Lookup>) -> Self {
        Sources {
            lookup,
            cache: Mutex::new(HashMap::default()),
        }
    }

    /// [`source_at`](Self::source_at) the current time.
    #[cfg(test)]
    pub(crate) fn source(&self, dst: SocketAddr) -> Option<IpAddr> {
        self.source_at(dst, Instant::now())
    }

    /// The source address the system would use to reach `dst`, at `now` (the race's time,
    /// so that ranking an address reads no clock of its own); `None` if it has none (no
    /// route, no such family, or any other error).
    ///
    /// From the cache if `dst`'s prefix was asked about less than [`SOURCE_TTL`] before
    /// `now`. Otherwise the kernel is asked, with no lock held, in three non-blocking system
    /// calls, and its answer is cached, found at `now`, unless it was a lack of resources.
    pub(crate) fn source_at(&self, dst: SocketAddr, now: Instant) -> Option<IpAddr> {
        let prefix = Prefix::of(dst);
        let cached = self.cache().get(&prefix).copied();
        if let Some(found) = cached.filter(|found| found.fresh(now)) {
            return found.source;
        }
        let source = match (self.lookup)(dst) {
            Ok(source) => Some(source),
            Err(error) if short_of_resources(&error) => {
                trace!(%dst, %error, "no source address for now; not cached");
                return None;
            }
            Err(_) => None,
        };
        let mut cache = self.cache();
        if cache.len() >= MAX_PREFIXES && !cache.contains_key(&prefix) {
            evict(&mut cache, now);
        }
        cache.insert(prefix, Found::new(source, now));
        source
    }

    /// The cache, locked. Nothing panics while holding it, so a poisoned lock guards a
    /// whole map and is used as it is.
    fn cache(&self) -> MutexGuard<'_, HashMap<Prefix, Found, Keyed>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Sources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sources")
            .field("prefixes", &self.cache().len())
            .finish_non_exhaustive()
    }
}

/// Makes room for one more prefix in a full `cache`: drops the expired prefixes and, if
/// that frees less than a quarter of it, every prefix. A cache full of fresh prefixes is
/// then emptied once per [`MAX_PREFIXES`] new ones, not searched for expired ones at each.
fn evict(cache: &mut HashMap<Prefix, Found, Keyed>, now: Instant) {
    cache.retain(|_, found| found.fresh(now));
    if cache.len() > MAX_PREFIXES - MAX_PREFIXES / 4 {
        cache.clear();
    }
}

/// A source the lookup found, and until when it stands.
#[derive(Clone, Copy, Debug)]
struct Found {
    /// The source; `None` if there was none.
    source: Option<IpAddr>,
    /// [`SOURCE_TTL`] after it was found; `None` past what the clock holds.
    until: Option<Instant>,
}

impl Found {
    /// `source`, found at `at`.
    fn new(source: Option<IpAddr>, at: Instant) -> Found {
        Found {
            source,
            until: at.checked_add(SOURCE_TTL),
        }
    }

    /// `true` if found less than [`SOURCE_TTL`] before `now`: one comparison of
    /// instants, where the time since it was found would be a subtraction on every race.
    fn fresh(&self, now: Instant) -> bool {
        self.until.is_none_or(|until| now < until)
    }
}

/// The destinations one cached source stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Prefix {
    /// An IPv4 `/24`: its first three bytes.
    V4([u8; 3]),
    /// An IPv6 `/64`, or for an IPv4-mapped address the `/120` of its IPv4 `/24`, with the
    /// scope id: `fe80::1%2` and `fe80::1%3` leave by different interfaces.
    V6 {
        /// The prefix's bits, the rest zero.
        net: u128,
        /// The destination's scope id.
        scope_id: u32,
    },
}

/// Hashed in one or two words, where the derived `Hash` writes four or five pieces: a
/// lookup is on every race's path. An IPv4 prefix and an IPv6 one may hash alike; they
/// are never equal.
impl Hash for Prefix {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match *self {
            Prefix::V4([a, b, c]) => state.write_u32(u32::from_be_bytes([a, b, c, 0])),
            Prefix::V6 { net, scope_id } => {
                state.write_u128(net);
                state.write_u32(scope_id);
            }
        }
    }
}

impl Prefix {
    /// The prefix `dst` is in.
    fn of(dst: SocketAddr) -> Self {
        match dst {
            SocketAddr::V4(dst) => {
                let [a, b, c, _] = dst.ip().octets();
                Prefix::V4([a, b, c])
            }
            SocketAddr::V6(dst) => {
                // Every IPv4-mapped address is in `::ffff:0:0/96`, so its /64 would make
                // one prefix of all of IPv4.
                let mask = match dst.ip().to_ipv4_mapped() {
                    Some(_) => u128::MAX << 8,
                    None => u128::MAX << 64,
                };
                Prefix::V6 {
                    net: dst.ip().to_bits() & mask,
                    scope_id: dst.scope_id(),
                }
            }
        }
    }
}

/// Asks the kernel which source it would use for `dst`, with a UDP socket bound to the
/// unspecified address of `dst`'s family and `connect()`ed to `dst` (its scope id kept):
/// no packet is sent. An error means no source: no route (`ENETUNREACH`), no address to
/// send from (`EADDRNOTAVAIL`), the family disabled (`EAFNOSUPPORT`), a link-local address
/// without its scope id (`EINVAL`), a broadcast one (`EACCES`); or, for this moment only,
/// a lack of resources ([`short_of_resources`]).
pub(crate) fn kernel_source(dst: SocketAddr) -> io::Result<IpAddr> {
    let dst = with_a_port(dst);
    let unspecified = match dst {
        SocketAddr::V4(_) => SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
        SocketAddr::V6(_) => SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0)),
    };
    let socket = UdpSocket::bind(unspecified)?;
    socket.connect(dst)?;
    Ok(socket.local_addr()?.ip())
}

/// `dst`, on port [`PORT_IF_NONE`] if its port is 0.
fn with_a_port(mut dst: SocketAddr) -> SocketAddr {
    if dst.port() == 0 {
        dst.set_port(PORT_IF_NONE);
    }
    dst
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use tokio::time::advance;

    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Sources that answer `192.0.2.2` for everything, and how many times they were asked.
    fn counted() -> (Sources, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let sources = Sources::fixed(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
            Some(ip("192.0.2.2"))
        });
        (sources, calls)
    }

    fn calls(calls: &AtomicUsize) -> usize {
        calls.load(Ordering::Relaxed)
    }

    fn prefixes(sources: &Sources) -> usize {
        sources.cache().len()
    }

    #[test]
    fn loopback_v4_is_its_own_source() {
        let sources = Sources::new();
        assert_eq!(sources.source(addr("127.0.0.1:80")), Some(ip("127.0.0.1")));
    }

    #[test]
    fn other_loopback_v4_has_a_loopback_source() {
        let source = Sources::new().source(addr("127.0.0.5:80"));
        assert!(source.is_some_and(|s| s.is_loopback()), "{source:?}");
    }

    #[test]
    fn loopback_v6_is_its_own_source() {
        if let Err(e) = UdpSocket::bind("[::1]:0") {
            println!("skipped: no IPv6 loopback ({e})");
            return;
        }
        let sources = Sources::new();
        assert_eq!(sources.source(addr("[::1]:80")), Some(ip("::1")));
    }

    /// Port 0 is replaced, not passed to `connect()` (which the BSDs refuse).
    #[test]
    fn a_destination_without_a_port_has_a_source() {
        assert_eq!(with_a_port(addr("127.0.0.1:0")), addr("127.0.0.1:9"));
        assert_eq!(with_a_port(addr("[::1]:0")), addr("[::1]:9"));
        assert_eq!(with_a_port(addr("127.0.0.1:443")), addr("127.0.0.1:443"));
        assert_eq!(
            kernel_source(addr("127.0.0.1:0")).ok(),
            Some(ip("127.0.0.1"))
        );
    }

    /// Errors mean no source: here, a link-local address without its scope id (`EINVAL`,
    /// or the family disabled) and broadcast (`EACCES` without `SO_BROADCAST`).
    #[cfg(target_os = "linux")]
    #[test]
    fn an_error_is_no_source() {
        let sources = Sources::new();
        assert_eq!(sources.source(addr("[fe80::1]:80")), None);
        assert_eq!(sources.source(addr("255.255.255.255:80")), None);
    }

    #[test]
    fn the_lookup_gets_the_destination_as_given() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let sources = Sources::fixed(move |dst| {
            log.lock().unwrap().push(dst);
            None
        });
        let dst = SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 443, 0, 7));
        assert_eq!(sources.source(dst), None);
        assert_eq!(*seen.lock().unwrap(), [dst]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_source_is_kept_for_its_ttl() {
        let (sources, count) = counted();
        let dst = addr("198.51.100.1:443");
        assert_eq!(sources.source(dst), Some(ip("192.0.2.2")));
        assert_eq!(calls(&count), 1);
        assert_eq!(sources.source(dst), Some(ip("192.0.2.2")));
        advance(SOURCE_TTL - Duration::from_millis(1)).await;
        assert_eq!(sources.source(dst), Some(ip("192.0.2.2")));
        assert_eq!(calls(&count), 1);
        advance(Duration::from_millis(1)).await;
        assert_eq!(sources.source(dst), Some(ip("192.0.2.2")));
        assert_eq!(calls(&count), 2);
        // Kept again from the second lookup.
        assert_eq!(sources.source(dst), Some(ip("192.0.2.2")));
        assert_eq!(calls(&count), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn no_source_is_kept_too() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let sources = Sources::fixed(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
            None
        });
        assert_eq!(sources.source(addr("[2001:db8::1]:443")), None);
        assert_eq!(sources.source(addr("[2001:db8::1]:443")), None);
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }

    /// A lookup that failed for lack of descriptors, buffers or memory is not kept: the
    /// next race asks again and gets the route. Any other error is kept as no route.
    #[cfg(unix)]
    #[tokio::test(start_paused = true)]
    async fn a_lack_of_resources_is_never_cached() {
        let dst = addr("[2001:db8::1]:443");
        let cases = [
            (libc::EMFILE, false),
            (libc::ENFILE, false),
            (libc::ENOBUFS, false),
            (libc::ENOMEM, false),
            (libc::ENETUNREACH, true),
            (libc::EADDRNOTAVAIL, true),
        ];
        for (code, kept) in cases {
            // Fails with `code` the first time, then finds a source.
            let calls = Arc::new(AtomicUsize::new(0));
            let counter = Arc::clone(&calls);
            let sources = Sources::with_lookup(Box::new(move |_| {
                match counter.fetch_add(1, Ordering::Relaxed) {
                    0 => Err(io::Error::from_raw_os_error(code)),
                    _ => Ok(ip("2001:db8::2")),
                }
            }));
            let error = io::Error::from_raw_os_error(code);
            assert_eq!(sources.source(dst), None, "{error}");
            assert_eq!(short_of_resources(&error), !kept, "{error}");
            let again = if kept { None } else { Some(ip("2001:db8::2")) };
            assert_eq!(sources.source(dst), again, "{error}");
            assert_eq!(sources.source(dst), again, "{error}");
            assert_eq!(calls.load(Ordering::Relaxed), if kept { 1 } else { 2 });
            assert_eq!(prefixes(&sources), 1, "{error}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn one_lookup_per_ipv4_24() {
        let (sources, count) = counted();
        sources.source(addr("198.51.100.1:443"));
        sources.source(addr("198.51.100.254:80"));
        assert_eq!(calls(&count), 1);
        sources.source(addr("198.51.101.1:443"));
        assert_eq!(calls(&count), 2);
        sources.source(addr("199.51.100.1:443"));
        assert_eq!(calls(&count), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn one_lookup_per_ipv6_64_and_scope() {
        let (sources, count) = counted();
        sources.source(addr("[2001:db8:1:2::1]:443"));
        sources.source(addr("[2001:db8:1:2:ffff:ffff:ffff:ffff]:80"));
        assert_eq!(calls(&count), 1);
        sources.source(addr("[2001:db8:1:3::1]:443"));
        assert_eq!(calls(&count), 2);
        sources.source(addr("[fe80::1%2]:443"));
        sources.source(addr("[fe80::2%2]:443"));
        assert_eq!(calls(&count), 3);
        sources.source(addr("[fe80::1%3]:443"));
        assert_eq!(calls(&count), 4);
    }

    /// The hand-written `Hash` tells prefixes apart by each of their parts (one that
    /// hashed none would put every prefix in one bucket of the cache), and a prefix's
    /// addresses alike.
    #[test]
    fn a_prefix_hashes_by_each_of_its_parts() {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

        let hash =
            |s: &str| BuildHasherDefault::<DefaultHasher>::default().hash_one(Prefix::of(addr(s)));
        let apart = [
            "198.51.100.1:443",
            "198.51.101.1:443",
            "[2001:db8:1:2::1]:443",
            "[2001:db8:1:3::1]:443",
            "[fe80::1%2]:443",
            "[fe80::1%3]:443",
        ];
        let hashes: std::collections::HashSet<u64> = apart.iter().map(|s| hash(s)).collect();
        assert_eq!(hashes.len(), apart.len());
        assert_eq!(hash("198.51.100.1:443"), hash("198.51.100.2:80"));
        assert_eq!(hash("[fe80::1%2]:443"), hash("[fe80::2%2]:80"));
    }

    /// IPv4-mapped addresses share a /64, not a prefix: each IPv4 /24 is its own.
    #[tokio::test(start_paused = true)]
    async fn one_lookup_per_ipv4_mapped_24() {
        let (sources, count) = counted();
        sources.source(addr("[::ffff:198.51.100.1]:443"));
        sources.source(addr("[::ffff:198.51.100.2]:443"));
        assert_eq!(calls(&count), 1);
        sources.source(addr("[::ffff:198.51.101.1]:443"));
        assert_eq!(calls(&count), 2);
        // The IPv4 form is another question: the kernel answers it in IPv4.
        sources.source(addr("198.51.100.1:443"));
        assert_eq!(calls(&count), 3);
    }

    /// The cache never holds more than [`MAX_PREFIXES`], however many prefixes come.
    #[tokio::test(start_paused = true)]
    async fn the_bound_holds() {
        let (sources, count) = counted();
        for i in 0..10_000u32 {
            let dst = SocketAddr::from((Ipv4Addr::from(i << 8), 443));
            sources.source(dst);
            assert!(prefixes(&sources) <= MAX_PREFIXES, "after {i}");
            // Ten seconds in all: the cache meets both fresh and expired prefixes.
            advance(Duration::from_millis(1)).await;
        }
        assert_eq!(calls(&count), 10_000);
    }

    /// A full cache first gives up its expired prefixes, and keeps the fresh ones if that
    /// frees at least a quarter of it.
    #[tokio::test(start_paused = true)]
    async fn a_full_cache_drops_expired_prefixes_first() {
        let (sources, count) = counted();
        let prefix = |i: u32| SocketAddr::from((Ipv4Addr::from(i << 8), 443));
        let expired = MAX_PREFIXES as u32 / 4;
        for i in 0..expired {
            sources.source(prefix(i));
        }
        advance(SOURCE_TTL).await;
        for i in expired..MAX_PREFIXES as u32 {
            sources.source(prefix(i));
        }
        assert_eq!(prefixes(&sources), MAX_PREFIXES);
        sources.source(prefix(MAX_PREFIXES as u32));
        assert_eq!(prefixes(&sources), MAX_PREFIXES + 1 - expired as usize);
        let asked = calls(&count);
        for i in expired..=MAX_PREFIXES as u32 {
            sources.source(prefix(i));
        }
        assert_eq!(calls(&count), asked);
    }

    /// A full cache of fresh prefixes is emptied.
    #[tokio::test(start_paused = true)]
    async fn a_full_cache_of_fresh_prefixes_is_emptied() {
        let (sources, count) = counted();
        let prefix = |i: u32| SocketAddr::from((Ipv4Addr::from(i << 8), 443));
        sources.source(prefix(0));
        advance(SOURCE_TTL).await;
        for i in 1..MAX_PREFIXES as u32 {
            sources.source(prefix(i));
        }
        assert_eq!(prefixes(&sources), MAX_PREFIXES);
        // An expired prefix already there is asked about again, without an eviction.
        sources.source(prefix(0));
        assert_eq!(calls(&count), MAX_PREFIXES + 1);
        assert_eq!(prefixes(&sources), MAX_PREFIXES);
        sources.source(prefix(MAX_PREFIXES as u32));
        assert_eq!(prefixes(&sources), 1);
    }

    #[test]
    fn global_is_one_instance() {
        assert!(std::ptr::eq(Sources::global(), Sources::global()));
    }

    #[test]
    fn sources_are_debug_send_sync() {
        fn check<T: fmt::Debug + Send + Sync>() {}
        check::<Sources>();
        let (sources, _) = counted();
        sources.source(addr("198.51.100.1:443"));
        assert_eq!(format!("{sources:?}"), "Sources { prefixes: 1, .. }");
    }
}

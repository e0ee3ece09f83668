//! [`Reach`]: the probe of each family's connectivity, and what it found, kept for
//! [`PROBE_TTL`]; and the NAT64 prefix found while IPv6 is all there is.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::time::Instant;
use tracing::debug;

use super::{IpFamily, PROBE_TTL};
use crate::error::short_of_resources;
use crate::nat64::Pref64;
use crate::order::source::kernel_source;

/// Global addresses the probes `connect()` a UDP socket to, without sending to them:
/// `a.root-servers.net`, whose addresses have not changed in decades and which any
/// default route covers.
const PROBE_V4: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 41, 0, 4)), 53);
const PROBE_V6: SocketAddr = SocketAddr::new(
    IpAddr::V6(Ipv6Addr::new(0x2001, 0x503, 0xba3e, 0, 0, 0, 0x2, 0x30)),
    53,
);

/// A way to probe a family: the kernel, or a test's function.
type Probe = dyn Fn(SocketAddr) -> std::io::Result<IpAddr> + Send + Sync;

/// This host's reach, probed and kept for [`PROBE_TTL`]; and the NAT64 prefix found
/// while it reaches IPv6 only.
pub(crate) struct Reach {
    probe: Box<Probe>,
    /// What the last probe found, and until when it stands: `0` before the first probe,
    /// else `(expiry in milliseconds since `epoch`) << 2 | families` (see [`code`]), so
    /// that a race reads it in one atomic load.
    found: AtomicU64,
    /// The NAT64 prefix found (or that there is none), and until when that stands, in
    /// milliseconds since `epoch`.
    pref64: Mutex<Option<(u64, Option<Pref64>)>>,
    epoch: Instant,
}

impl Reach {
    /// A reach probed by asking the kernel, nothing probed yet.
    pub(crate) fn new() -> Reach {
        Reach::with_probe(Box::new(kernel_source))
    }

    /// A reach probed by `probe` instead of the kernel: for tests.
    pub(crate) fn with_probe(probe: Box<Probe>) -> Reach {
        Reach {
            probe,
            found: AtomicU64::new(0),
            pref64: Mutex::new(None),
            epoch: Instant::now(),
        }
    }

    /// Whether this host may lack IPv4 connectivity: never probed, or IPv6 only when last
    /// probed. One atomic load, for the path of every IPv4 literal.
    #[inline]
    pub(crate) fn may_lack_ipv4(&self) -> bool {
        let found = self.found.load(Ordering::Relaxed);
        found == 0 || decode(found) == Some(IpFamily::V6Only)
    }

    /// The NAT64 prefix last found, if that is recent enough to stand (`Some(None)`: there
    /// is none); `None` when it is to be found.
    pub(crate) fn pref64(&self) -> Option<Option<Pref64>> {
        let now = self.ms(Instant::now());
        let known = *self.pref64.lock().unwrap_or_else(PoisonError::into_inner);
        known
            .filter(|&(until, _)| now < until)
            .map(|(_, pref64)| pref64)
    }

    /// Records what a NAT64 prefix discovery found, for [`PROBE_TTL`].
    pub(crate) fn found_pref64(&self, pref64: Option<Pref64>) {
        let until = self.ms(Instant::now() + PROBE_TTL);
        *self.pref64.lock().unwrap_or_else(PoisonError::into_inner) = Some((until, pref64));
    }

    /// The families this host can reach: both, unless exactly one has connectivity.
    pub(crate) fn families(&self) -> IpFamily {
        let now = Instant::now();
        let ms = self.ms(now);
        let found = self.found.load(Ordering::Relaxed);
        if let Some(families) = decode(found).filter(|_| ms < found >> 2) {
            return families;
        }
        let (v4, v6) = (self.reaches(PROBE_V4), self.reaches(PROBE_V6));
        let families = match (v4, v6) {
            (Some(true), Some(false)) => IpFamily::V4Only,
            (Some(false), Some(true)) => IpFamily::V6Only,
            _ => IpFamily::Both,
        };
        debug!(?v4, ?v6, ?families, "connectivity probed");
        // A probe cut short by a lack of resources says nothing: asked again next time.
        if v4.is_some() && v6.is_some() {
            let until = self.ms(now + PROBE_TTL);
            self.found
                .store(until << 2 | code(families), Ordering::Relaxed);
        }
        families
    }

    /// Milliseconds from `epoch` to `at`, at least 1.
    fn ms(&self, at: Instant) -> u64 {
        let ms = at.saturating_duration_since(self.epoch).as_millis();
        u64::try_from(ms).unwrap_or(u64::MAX >> 2).max(1)
    }

    /// Whether the kernel has a usable source to `probe`: `None` if it could not say for
    /// want of resources.
    fn reaches(&self, probe: SocketAddr) -> Option<bool> {
        match (self.probe)(probe) {
            Ok(source) => Some(usable(source)),
            Err(error) if short_of_resources(&error) => None,
            Err(_) => Some(false),
        }
    }
}

impl std::fmt::Debug for Reach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reach")
            .field("found", &decode(self.found.load(Ordering::Relaxed)))
            .finish_non_exhaustive()
    }
}

/// A source address that reaches beyond this host and its link.
fn usable(source: IpAddr) -> bool {
    match source {
        IpAddr::V4(ip) => !(ip.is_unspecified() || ip.is_loopback() || ip.is_link_local()),
        IpAddr::V6(ip) => !(ip.is_unspecified() || ip.is_loopback() || ip.is_unicast_link_local()),
    }
}

fn code(families: IpFamily) -> u64 {
    match families {
        IpFamily::Both => 1,
        IpFamily::V4Only => 2,
        IpFamily::V6Only => 3,
    }
}

fn decode(found: u64) -> Option<IpFamily> {
    match found & 3 {
        1 => Some(IpFamily::Both),
        2 => Some(IpFamily::V4Only),
        3 => Some(IpFamily::V6Only),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Arc, Mutex};

    use tokio::time::advance;

    use std::time::Duration;

    use super::*;
    use crate::connectivity::{families as chosen, Connectivity};
    use crate::Family;

    /// A reach whose probes answer from `sources` (`V4`, `V6`), and how many probes ran.
    fn reach(sources: Arc<Mutex<[io::Result<IpAddr>; 2]>>) -> (Reach, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let probe = move |dst: SocketAddr| {
            counter.fetch_add(1, Ordering::Relaxed);
            let sources = sources.lock().unwrap();
            let answer = &sources[usize::from(dst.is_ipv6())];
            match answer {
                Ok(ip) => Ok(*ip),
                Err(e) => Err(match e.raw_os_error() {
                    Some(code) => io::Error::from_raw_os_error(code),
                    None => io::Error::from(e.kind()),
                }),
            }
        };
        (Reach::with_probe(Box::new(probe)), calls)
    }

    fn ip(s: &str) -> io::Result<IpAddr> {
        Ok(s.parse().unwrap())
    }

    fn unreachable() -> io::Result<IpAddr> {
        Err(io::Error::from(io::ErrorKind::NetworkUnreachable))
    }

    fn families(v4: io::Result<IpAddr>, v6: io::Result<IpAddr>) -> IpFamily {
        reach(Arc::new(Mutex::new([v4, v6]))).0.families()
    }

    /// One family is left out only when the other has connectivity.
    #[tokio::test(start_paused = true)]
    async fn a_family_is_left_out_only_for_the_other() {
        let (v4, v6) = (|| ip("192.0.2.2"), || ip("2001:db8::2"));
        assert_eq!(families(v4(), v6()), IpFamily::Both);
        assert_eq!(families(v4(), unreachable()), IpFamily::V4Only);
        assert_eq!(families(unreachable(), v6()), IpFamily::V6Only);
        // No route for either: a loopback-only host still looks both up.
        assert_eq!(families(unreachable(), unreachable()), IpFamily::Both);
    }

    /// A loopback, link-local or unspecified source is no connectivity.
    #[tokio::test(start_paused = true)]
    async fn a_source_on_this_host_or_link_is_no_connectivity() {
        let v4 = || ip("192.0.2.2");
        for v6 in ["::1", "fe80::1", "::"] {
            assert_eq!(families(v4(), ip(v6)), IpFamily::V4Only, "{v6}");
        }
        let v6 = || ip("2001:db8::2");
        for v4 in ["127.0.0.1", "169.254.1.1", "0.0.0.0"] {
            assert_eq!(families(ip(v4), v6()), IpFamily::V6Only, "{v4}");
        }
        // A unique local IPv6 address or a private IPv4 one routes beyond the link.
        assert_eq!(families(ip("10.0.0.2"), ip("fd00::2")), IpFamily::Both);
    }

    /// The answer stands for `PROBE_TTL`, then the kernel is asked again and a change
    /// is seen.
    #[tokio::test(start_paused = true)]
    async fn a_probe_stands_for_its_ttl() {
        let sources = Arc::new(Mutex::new([ip("192.0.2.2"), unreachable()]));
        let (reach, calls) = reach(Arc::clone(&sources));
        assert_eq!(reach.families(), IpFamily::V4Only);
        assert_eq!(calls.load(Ordering::Relaxed), 2);
        sources.lock().unwrap()[1] = ip("2001:db8::2");
        advance(PROBE_TTL - Duration::from_millis(1)).await;
        assert_eq!(reach.families(), IpFamily::V4Only);
        assert_eq!(calls.load(Ordering::Relaxed), 2, "kept");
        advance(Duration::from_millis(1)).await;
        assert_eq!(reach.families(), IpFamily::Both);
        assert_eq!(calls.load(Ordering::Relaxed), 4, "asked again");
    }

    /// An IPv4 literal's path asks for the probe only before the first, or while the last
    /// found IPv6 only; whatever it found is kept, both families as much as one.
    #[tokio::test(start_paused = true)]
    async fn an_ipv4_literal_asks_only_before_a_probe_or_on_ipv6_only() {
        let (v4, v6) = (|| ip("192.0.2.2"), || ip("2001:db8::2"));
        let cases = [
            ([v4(), v6()], false),
            ([v4(), unreachable()], false),
            ([unreachable(), v6()], true),
            ([unreachable(), unreachable()], false),
        ];
        for (sources, lacks) in cases {
            let (reach, calls) = reach(Arc::new(Mutex::new(sources)));
            assert!(reach.may_lack_ipv4(), "never probed");
            let families = reach.families();
            assert_eq!(reach.may_lack_ipv4(), lacks, "{families:?}");
            assert_eq!(reach.families(), families);
            assert_eq!(calls.load(Ordering::Relaxed), 2, "{families:?}: kept");
        }
    }

    /// A NAT64 prefix found (or found missing) stands as the probe's answer does.
    #[tokio::test(start_paused = true)]
    async fn a_nat64_prefix_stands_for_the_ttl() {
        let (reach, _) = reach(Arc::new(Mutex::new([unreachable(), unreachable()])));
        assert_eq!(reach.pref64(), None, "to be found");
        let pref64 = Pref64::new("64:ff9b::".parse().unwrap(), 96);
        reach.found_pref64(pref64);
        assert_eq!(reach.pref64(), Some(pref64));
        advance(PROBE_TTL - Duration::from_millis(1)).await;
        assert_eq!(reach.pref64(), Some(pref64));
        advance(Duration::from_millis(1)).await;
        assert_eq!(reach.pref64(), None, "to be found again");
    }

    /// A probe short of descriptors says nothing: both families, and no answer kept.
    #[tokio::test(start_paused = true)]
    async fn a_probe_short_of_resources_is_not_kept() {
        let emfile = || Err(io::Error::from_raw_os_error(24));
        let sources = Arc::new(Mutex::new([ip("192.0.2.2"), emfile()]));
        let (reach, calls) = reach(Arc::clone(&sources));
        assert_eq!(reach.families(), IpFamily::Both);
        sources.lock().unwrap()[1] = unreachable();
        assert_eq!(reach.families(), IpFamily::V4Only);
        assert_eq!(calls.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn a_family_setting_allows_its_families() {
        use Family::{V4, V6};
        let allowed = |f: IpFamily| [V4, V6].map(|x| f.allows(x));
        assert_eq!(allowed(IpFamily::Both), [true, true]);
        assert_eq!(allowed(IpFamily::V4Only), [true, false]);
        assert_eq!(allowed(IpFamily::V6Only), [false, true]);
    }

    /// The setting wins over the probe: a family chosen is looked up whatever the
    /// routes; `Assume` never probes.
    #[test]
    fn a_chosen_family_or_assume_is_not_probed() {
        let sources = Arc::new(Mutex::new([unreachable(), unreachable()]));
        let (reach, calls) = reach(sources);
        for f in [IpFamily::V4Only, IpFamily::V6Only] {
            assert_eq!(chosen(f, Connectivity::Probe, &reach), f);
        }
        assert_eq!(
            chosen(IpFamily::Both, Connectivity::Assume, &reach),
            IpFamily::Both
        );
        assert_eq!(calls.load(Ordering::Relaxed), 0);
    }

    /// On this host the kernel answers both probes without error or panic, and a
    /// source it gives for a global destination is usable.
    #[test]
    fn the_kernel_probes() {
        for probe in [PROBE_V4, PROBE_V6] {
            if let Ok(source) = kernel_source(probe) {
                assert!(usable(source), "{probe} from {source}");
            }
        }
    }
}

//! [`Schedule`]: when each connection attempt of a race starts.

pub(crate) mod timing;

use std::net::SocketAddr;
use std::time::Duration;

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4 (`A` records).
    V4,
    /// IPv6 (`AAAA` records).
    V6,
}

impl Family {
    /// The family of `addr`.
    pub fn of(addr: &SocketAddr) -> Family {
        if addr.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }

    pub(crate) fn other(self) -> Family {
        match self {
            Family::V4 => Family::V6,
            Family::V6 => Family::V4,
        }
    }
}

/// When each connection attempt of a race starts.
///
/// A race keeps a list of addresses not yet attempted. Each family's addresses are sorted
/// (RFC 6724 destination address selection, with what the connector's address history
/// knows: see [`ConnieConnector::history`](crate::ConnieConnector::history)); then the
/// leading family goes first, [`first_family_count`] addresses of it, and the families
/// alternate. The leading family is the [preferred](Self::preferred_family) one if set,
/// else the family of the best-ranked address. Addresses that DNS delivers late are sorted
/// into that list as they arrive. The next attempt starts when the **attempt delay has
/// elapsed since the previous attempt started, or an attempt fails**, whichever comes
/// first. A delay never cancels an attempt that is already running.
///
/// Four presets cover the useful range:
///
/// | preset | attempt delay | resolution delay | use |
/// |---|---|---|---|
/// | [`Self::learned`] (default) | a known address's expected handshake time; else 0 | 0 | fastest connect, and one SYN per connect to a known host |
/// | [`Self::race_all`] | 0: every address at once | 0 | fastest connect; one SYN per address, every time |
/// | [`Self::rfc8305`] | 250 ms | 50 ms | Happy Eyeballs v2: few extra SYNs |
/// | [`Self::sequential`] | until the previous attempt fails | 0 | what most clients do; for comparison |
///
/// The concurrency cap and timeouts live on the
/// [`ConnieConnector`](crate::ConnieConnector), since they apply to every schedule.
///
/// # TCP up, handshake running
///
/// With a dialer that runs a handshake on top of TCP (TLS, as the `rustls` feature's
/// `RustlsDialer` does), an attempt connects, and can win, only when that handshake
/// completes; a handshake that fails is the attempt's error and starts the next attempt at
/// once. While an attempt's TCP is up and its handshake runs, its delay starts again:
/// **no new attempt starts before the moment its TCP connected plus the delay its
/// handshake is given**: the attempt delay again (250 ms for [`Self::rfc8305`]),
/// or under [`Self::learned`] a known address's expected TLS handshake time, which
/// the address history learns as a phase of its own. A TCP connect that took about one
/// round trip within its delay thus leaves TLS its round trips and the server's work
/// before a second address is tried; a host that accepts TCP and then never answers costs
/// the two delays, not a hang. This follows
/// draft-ietf-happy-happyeyeballs-v3, which has a client wait for the security
/// handshake before it cancels the other attempts. [`Self::race_all`] (delay 0)
/// is unchanged: every address starts at once anyway. The dialer tells the race that its
/// TCP is up with [`Destination::transport_connected`](crate::Destination::transport_connected);
/// the address history learns the TCP time (the round trip) and the TLS time after it
/// apart, each smoothed on its own.
///
/// [`first_family_count`]: Self::first_family_count
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// `None`: wait for the previous attempt to fail.
    pub(crate) attempt_delay: Option<Duration>,
    pub(crate) resolution_delay: Duration,
    pub(crate) first_family_count: usize,
    /// `None`: the family of the best-ranked address.
    pub(crate) preferred_family: Option<Family>,
    /// Start an address with a fresh handshake time alone, and the next one only when
    /// that time has passed (see [`Schedule::learned`]).
    pub(crate) learned: bool,
}

impl Default for Schedule {
    /// [`Schedule::learned`].
    fn default() -> Self {
        Schedule::learned()
    }
}

impl Schedule {
    /// RFC 8305's recommended Connection Attempt Delay, used by [`Schedule::rfc8305`]:
    /// 250 ms.
    pub const RFC8305_ATTEMPT_DELAY: Duration = Duration::from_millis(250);
    /// RFC 8305's recommended Resolution Delay, used by [`Schedule::rfc8305`]: 50 ms.
    pub const RFC8305_RESOLUTION_DELAY: Duration = Duration::from_millis(50);
    /// The smallest non-zero attempt delay, 10 ms: shorter ones are raised to it (RFC 8305
    /// §8).
    pub const MIN_ATTEMPT_DELAY: Duration = Duration::from_millis(10);
    /// The largest attempt delay, 2 s: longer ones are lowered to it (RFC 8305 §8).
    pub const MAX_ATTEMPT_DELAY: Duration = Duration::from_secs(2);

    /// connie's default: race every address, as [`Self::race_all`] does, until
    /// the connector's address history knows better; then start the best known address
    /// alone.
    ///
    /// When the best-ranked address of a race has a handshake time measured within the
    /// last 10 minutes:
    ///
    /// - it starts alone;
    /// - if it has not connected when its **expected handshake time** has passed, the next
    ///   address starts: srtt + max(1 ms, 4·rttvar, srtt/4) (RFC 6298's retransmission
    ///   timeout over its smoothed handshake time, with at least a quarter of it to spare
    ///   for jitter), at least [`Self::MIN_ATTEMPT_DELAY`] and at most
    ///   [`Self::RFC8305_ATTEMPT_DELAY`]; if it fails, the next starts at once;
    /// - with TLS, once its TCP is up, its TLS handshake gets its own expected time by
    ///   the same rule, from its own smoothed time (at most [`Self::MAX_ATTEMPT_DELAY`],
    ///   since a TLS 1.2 handshake over a 200 ms path takes 400 ms and more), before the next
    ///   address starts: so a known TLS host costs one connection per connect, whatever
    ///   its handshake takes beyond the round trip;
    /// - the next address, if it is known too, is given its own expected time in turn;
    /// - the first unknown address starts the rest of the race at once, as `race_all`.
    ///
    /// # Failures
    ///
    /// A known address keeps its handshake time when it fails (it refused, reset, timed
    /// out, or was still connecting past its expected time when another address won).
    /// Instead the history keeps the share of its recent attempts that failed: a refusal
    /// moves it half way to 1, a timeout or an overdue attempt three quarters of the way,
    /// a success half way to 0, and it fades by half every 10 seconds. Known addresses
    /// rank by srtt / (1 − that share), the time to a connection if the address is tried
    /// until it connects, and each is given its expected time times the share that
    /// succeeds before the next address starts. So:
    ///
    /// - a fast host that refuses now and then stays first (a 5 ms host that refuses
    ///   every other connect ranks as 10 ms, ahead of a steady 30 ms host);
    /// - one that keeps failing ranks behind the next known host after three refusals in a
    ///   row, or one timeout (a 10 ms host behind a 20 ms one);
    /// - as its failures fade it is tried first again, beside the next address rather
    ///   than before it: a host back up is found within seconds, and one still down costs
    ///   a SYN every few seconds, until its handshake time expires (10 minutes after its
    ///   last success).
    ///
    /// An address that failed with no handshake time measured ranks below the unknown
    /// addresses for 30 seconds. One learned race in 100 races every address instead, so
    /// that an address that became faster is found: on a 12-address name that costs 0.11
    /// SYNs per connect. Races that overlap explore once: none does while an exploring
    /// race from the same best address is expected to run, so a burst of races to a known
    /// host sends one exploration's SYNs. With nothing known (a first connect, a connector
    /// with its history off) it is `race_all`.
    pub const fn learned() -> Schedule {
        Schedule {
            attempt_delay: Some(Duration::ZERO),
            resolution_delay: Duration::ZERO,
            first_family_count: 1,
            preferred_family: None,
            learned: true,
        }
    }

    /// Start an attempt to every address as soon as it is known (up to the connector's
    /// concurrency cap), families interleaved. The first to connect wins.
    ///
    /// A connection is ready as soon as the fastest reachable address completes its
    /// handshake, at the cost of one SYN per address, on every connect.
    /// [`Self::learned`] is the same on a first connect.
    pub const fn race_all() -> Schedule {
        Schedule {
            attempt_delay: Some(Duration::ZERO),
            resolution_delay: Duration::ZERO,
            first_family_count: 1,
            preferred_family: None,
            learned: false,
        }
    }

    /// Happy Eyeballs version 2 ([RFC 8305]): a Connection Attempt Delay of 250 ms, a
    /// Resolution Delay of 50 ms, and a First Address Family Count of 1.
    ///
    /// [RFC 8305]: https://www.rfc-editor.org/rfc/rfc8305
    pub const fn rfc8305() -> Schedule {
        Schedule {
            attempt_delay: Some(Schedule::RFC8305_ATTEMPT_DELAY),
            resolution_delay: Schedule::RFC8305_RESOLUTION_DELAY,
            first_family_count: 1,
            preferred_family: None,
            learned: false,
        }
    }

    /// One attempt at a time: the next address is tried only when the previous attempt
    /// has failed (or hit the per-attempt timeout). Families are still interleaved.
    ///
    /// This is roughly what `tokio::net::TcpStream::connect` does with a list of addresses,
    /// and is here for comparison and for servers that must not see parallel SYNs.
    pub const fn sequential() -> Schedule {
        Schedule {
            attempt_delay: None,
            resolution_delay: Duration::ZERO,
            first_family_count: 1,
            preferred_family: None,
            learned: false,
        }
    }

    /// Sets the Connection Attempt Delay: how long after one attempt starts the next one
    /// may start, if no attempt has failed in between.
    ///
    /// `Duration::ZERO` starts every attempt at once. Any other value is clamped to
    /// [`Self::MIN_ATTEMPT_DELAY`]..=[`Self::MAX_ATTEMPT_DELAY`] (10 ms..=2 s), as RFC 8305
    /// §8 requires.
    ///
    /// Default is `0` for [`Self::race_all`], 250 ms for
    /// [`Self::rfc8305`], and "until the previous attempt fails" for
    /// [`Self::sequential`].
    pub fn attempt_delay(mut self, delay: Duration) -> Schedule {
        self.attempt_delay = Some(if delay.is_zero() {
            delay
        } else {
            delay.clamp(Schedule::MIN_ATTEMPT_DELAY, Schedule::MAX_ATTEMPT_DELAY)
        });
        self
    }

    /// Sets the Resolution Delay: when the `A` answer arrives before the `AAAA` answer,
    /// how long to wait for `AAAA` before the first IPv4 attempt starts.
    ///
    /// The wait ends early when `AAAA` arrives or fails. It only ever delays the first
    /// attempt of a race; `AAAA` addresses that arrive later join the running race.
    ///
    /// Default is `0` for [`Self::race_all`] and
    /// [`Self::sequential`], 50 ms for [`Self::rfc8305`].
    pub fn resolution_delay(mut self, delay: Duration) -> Schedule {
        self.resolution_delay = delay;
        self
    }

    /// Sets the First Address Family Count: how many addresses of the preferred family are
    /// attempted before the first address of the other family. Values below 1 are raised to 1.
    ///
    /// Default is `1`.
    pub fn first_family_count(mut self, count: usize) -> Schedule {
        self.first_family_count = count.max(1);
        self
    }

    /// Sets the family whose addresses are attempted first, whatever the ranking says.
    ///
    /// Default is none: the family of the best-ranked address goes first. RFC 6724's
    /// policy table ranks a global IPv6 address above any IPv4 one, so on a host with
    /// both that is IPv6, as RFC 8305 recommends; but IPv4 goes first when the IPv6
    /// addresses have no route or are only ULAs (`fc00::/7`), or when the address
    /// history has measured an IPv4 address and no IPv6 one.
    pub fn preferred_family(mut self, family: Family) -> Schedule {
        self.preferred_family = Some(family);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The presets and constants as the docs and RFC 8305 give them, written out.
    #[test]
    fn presets_are_the_documented_numbers() {
        assert_eq!(Schedule::RFC8305_ATTEMPT_DELAY, Duration::from_millis(250));
        assert_eq!(
            Schedule::RFC8305_RESOLUTION_DELAY,
            Duration::from_millis(50)
        );
        assert_eq!(Schedule::MIN_ATTEMPT_DELAY, Duration::from_millis(10));
        assert_eq!(Schedule::MAX_ATTEMPT_DELAY, Duration::from_secs(2));
        let preset = |attempt_delay, resolution_delay| Schedule {
            attempt_delay,
            resolution_delay,
            first_family_count: 1,
            preferred_family: None,
            learned: false,
        };
        let race_all = preset(Some(Duration::ZERO), Duration::ZERO);
        assert_eq!(Schedule::race_all(), race_all);
        let learned = Schedule {
            learned: true,
            ..race_all
        };
        assert_eq!(Schedule::learned(), learned);
        assert_eq!(Schedule::default(), learned);
        assert_eq!(
            Schedule::rfc8305(),
            preset(Some(Duration::from_millis(250)), Duration::from_millis(50))
        );
        assert_eq!(Schedule::sequential(), preset(None, Duration::ZERO));
    }

    #[test]
    fn setters_set_their_own_field() {
        let s = Schedule::race_all()
            .resolution_delay(Duration::from_millis(70))
            .first_family_count(3)
            .preferred_family(Family::V4)
            .attempt_delay(Duration::from_millis(100));
        assert_eq!(
            s,
            Schedule {
                attempt_delay: Some(Duration::from_millis(100)),
                resolution_delay: Duration::from_millis(70),
                first_family_count: 3,
                preferred_family: Some(Family::V4),
                learned: false,
            }
        );
    }

    #[test]
    fn family_of_an_address_and_the_other_family() {
        let v4: SocketAddr = "192.0.2.1:80".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:80".parse().unwrap();
        assert_eq!((Family::of(&v4), Family::of(&v6)), (Family::V4, Family::V6));
        assert_eq!(
            (Family::V4.other(), Family::V6.other()),
            (Family::V6, Family::V4)
        );
    }

    #[test]
    fn attempt_delay_is_clamped_but_zero_stays_zero() {
        let s = Schedule::rfc8305();
        assert_eq!(
            s.clone()
                .attempt_delay(Duration::from_millis(1))
                .attempt_delay,
            Some(Schedule::MIN_ATTEMPT_DELAY)
        );
        assert_eq!(
            s.clone()
                .attempt_delay(Duration::from_secs(9))
                .attempt_delay,
            Some(Schedule::MAX_ATTEMPT_DELAY)
        );
        assert_eq!(
            s.clone().attempt_delay(Duration::ZERO).attempt_delay,
            Some(Duration::ZERO)
        );
        assert_eq!(s.attempt_delay, Some(Schedule::RFC8305_ATTEMPT_DELAY));
        assert_eq!(Schedule::sequential().attempt_delay, None);
        // Exactly at the bounds, kept as they are.
        for bound in [Schedule::MIN_ATTEMPT_DELAY, Schedule::MAX_ATTEMPT_DELAY] {
            assert_eq!(s.clone().attempt_delay(bound).attempt_delay, Some(bound));
        }
        for (given, set) in [(0, 1), (1, 1), (2, 2)] {
            let count = Schedule::race_all().first_family_count(given);
            assert_eq!(count.first_family_count, set);
        }
    }
}

//! The delay line: two TUN devices, one in each namespace, and a userspace loop copying IP
//! packets between them after a per-address delay, or dropping them.
//!
//! Each host address has a one-way delay of half its round-trip time, applied to packets
//! *to* it (client → server) and *from* it (server → client); a blackholed address drops
//! what is sent to it and what comes from it; a refusing address answers each SYN sent to
//! it with a RST of its own, one round-trip time later, and passes its other packets. The
//! rules are read for every packet, so a change made while the line runs
//! ([`NetLab::blackhole`](super::NetLab::blackhole), [`refuse`](super::NetLab::refuse),
//! [`restore`](super::NetLab::restore)) applies from the next packet on. Packets of one
//! address wait in one FIFO queue, so their order is kept. Unknown addresses (the lab DNS
//! server) pass without delay; multicast is dropped. Every TCP SYN the client sends is
//! counted, also one it drops or refuses.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tun_rs::{AsyncDevice, DeviceBuilder};

use super::sys::enter;

/// Name of the TUN device inside each namespace (names are per namespace).
pub(crate) const TUN_NAME: &str = "connie0";
/// Largest packet read from a TUN device (no offloads, so at most the MTU, 1500).
const BUF: usize = 65_535;

/// What the line does with packets to (and from) one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    /// How long each packet waits, each way: half the round-trip time.
    pub(crate) one_way: Duration,
    pub(crate) mode: Mode,
}

/// Whether the line delivers packets to (and from) an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Delivers them, each after the one-way delay.
    Pass,
    /// Drops them, both ways.
    Blackhole,
    /// Answers each SYN to the address with a RST from it, after the round-trip time,
    /// instead of delivering the SYN; delivers every other packet, as [`Mode::Pass`] does.
    Refuse,
}

/// Each host address's rule, shared by the line and its [`NetLab`](super::NetLab).
pub(crate) type SharedRules = Arc<Mutex<HashMap<IpAddr, Rule>>>;

/// SYNs seen by the line, per destination address.
#[derive(Debug, Default)]
pub(crate) struct Syns {
    /// Every SYN, retransmissions included.
    pub(crate) total: HashMap<IpAddr, usize>,
    /// Distinct (source, destination) pairs: one per connection attempt.
    pub(crate) flows: HashSet<(SocketAddr, SocketAddr)>,
}

pub(crate) type SharedSyns = Arc<Mutex<Syns>>;

/// Locks the counters or the rules; a panic elsewhere while holding them leaves them usable.
pub(crate) fn lock<T>(shared: &Mutex<T>) -> MutexGuard<'_, T> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Creates the TUN device of the namespace at `ns` from the calling thread, which it
/// leaves inside that namespace.
fn tun_in(ns: &Path) -> io::Result<AsyncDevice> {
    enter(ns)?;
    DeviceBuilder::new()
        .name(TUN_NAME)
        .build_async()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot create TUN device: {e}")))
}

/// Creates both TUN devices and spawns the two directions of the line on the current
/// `LocalSet`; they run until it is dropped.
///
/// Must run on a dedicated thread: it moves that thread into the server namespace.
pub(crate) fn start(
    client_ns: &Path,
    server_ns: &Path,
    rules: SharedRules,
    syns: SharedSyns,
) -> io::Result<()> {
    let client = Rc::new(tun_in(client_ns)?);
    let server = Rc::new(tun_in(server_ns)?);
    tokio::task::spawn_local(direction(
        Rc::clone(&client),
        Rc::clone(&server),
        SharedRules::clone(&rules),
        Some(syns),
    ));
    tokio::task::spawn_local(direction(server, client, rules, None));
    Ok(())
}

/// Copies packets from `from` to `to`. Client → server packets are keyed by destination
/// (and their SYNs counted into `syns`), server → client ones by source.
async fn direction(
    from: Rc<AsyncDevice>,
    to: Rc<AsyncDevice>,
    rules: SharedRules,
    syns: Option<SharedSyns>,
) {
    let mut queues: HashMap<IpAddr, mpsc::UnboundedSender<(Instant, Vec<u8>)>> = HashMap::new();
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match from.recv(&mut buf).await {
            Ok(n) => n,
            Err(error) => {
                tracing::warn!(%error, "delay line cannot read, stopping");
                return;
            }
        };
        let now = Instant::now();
        let packet = &buf[..n];
        let Some(header) = Header::parse(packet) else {
            continue;
        };
        if header.dst.is_multicast() {
            continue;
        }
        if let (Some(syns), Some(flow)) = (&syns, header.syn) {
            let mut syns = lock(syns);
            *syns.total.entry(header.dst).or_default() += 1;
            syns.flows.insert(flow);
        }
        let key = if syns.is_some() {
            header.dst
        } else {
            header.src
        };
        let rule = lock(&rules).get(&key).copied();
        let (delay, mode) = rule.map_or((Duration::ZERO, Mode::Pass), |r| (r.one_way, r.mode));
        match mode {
            Mode::Blackhole => continue,
            // Only the client sends SYNs to a host (`syns` is this direction's).
            Mode::Refuse if syns.is_some() && header.syn.is_some() => {
                if let Some(rst) = reset_for(packet) {
                    tokio::task::spawn_local(reply(Rc::clone(&from), now + delay * 2, rst));
                }
                continue;
            }
            Mode::Refuse | Mode::Pass => {}
        }
        let queue = queues.entry(key).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::task::spawn_local(release(rx, Rc::clone(&to)));
            tx
        });
        // The receiving task lives as long as this one's LocalSet.
        let _ = queue.send((now + delay, packet.to_vec()));
    }
}

/// Writes each queued packet to `to` at its time, in order.
async fn release(mut queue: mpsc::UnboundedReceiver<(Instant, Vec<u8>)>, to: Rc<AsyncDevice>) {
    while let Some((at, packet)) = queue.recv().await {
        tokio::time::sleep_until(at).await;
        if let Err(error) = to.send(&packet).await {
            tracing::trace!(%error, "delay line could not write a packet");
        }
    }
}

/// Writes `packet` back to `to`, the device it came from, at `at`.
async fn reply(to: Rc<AsyncDevice>, at: Instant, packet: Vec<u8>) {
    tokio::time::sleep_until(at).await;
    if let Err(error) = to.send(&packet).await {
        tracing::trace!(%error, "delay line could not write a reset");
    }
}

/// The parts of an IP packet the line looks at.
#[derive(Debug, PartialEq, Eq)]
struct Header {
    src: IpAddr,
    dst: IpAddr,
    /// `(source, destination)` if this is a TCP SYN without ACK.
    syn: Option<(SocketAddr, SocketAddr)>,
}

const TCP: u8 = 6;
const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

impl Header {
    /// Parses an IPv4 or IPv6 header (IPv6 extension headers are not followed).
    fn parse(p: &[u8]) -> Option<Header> {
        let (src, dst, protocol, payload) = match p.first()? >> 4 {
            4 => {
                let ihl = usize::from(p.first()? & 0x0f) * 4;
                let src: [u8; 4] = p.get(12..16)?.try_into().ok()?;
                let dst: [u8; 4] = p.get(16..20)?.try_into().ok()?;
                let src = IpAddr::V4(Ipv4Addr::from(src));
                let dst = IpAddr::V4(Ipv4Addr::from(dst));
                (src, dst, *p.get(9)?, p.get(ihl..)?)
            }
            6 => {
                let src: [u8; 16] = p.get(8..24)?.try_into().ok()?;
                let dst: [u8; 16] = p.get(24..40)?.try_into().ok()?;
                let src = IpAddr::V6(Ipv6Addr::from(src));
                let dst = IpAddr::V6(Ipv6Addr::from(dst));
                (src, dst, *p.get(6)?, p.get(40..)?)
            }
            _ => return None,
        };
        let syn = (protocol == TCP)
            .then(|| {
                let flags = *payload.get(13)?;
                let port = |at: usize| {
                    Some(u16::from_be_bytes(
                        payload.get(at..at + 2)?.try_into().ok()?,
                    ))
                };
                (flags & (SYN | ACK) == SYN)
                    .then(|| {
                        Some((
                            SocketAddr::new(src, port(0)?),
                            SocketAddr::new(dst, port(2)?),
                        ))
                    })
                    .flatten()
            })
            .flatten();
        Some(Header { src, dst, syn })
    }
}

/// Hop limit (IPv4 TTL) of the resets the line makes.
const HOPS: u8 = 64;
const RST: u8 = 0x04;

/// The reset a host with no listener answers the TCP SYN `syn` (an IPv4 or IPv6 packet)
/// with (RFC 9293, section 3.10.7.1): a RST|ACK from the SYN's destination to its source,
/// sequence number 0, acknowledging the SYN and any data it carries. `None` if `syn` is
/// not a whole TCP SYN.
fn reset_for(syn: &[u8]) -> Option<Vec<u8>> {
    let (from, to) = Header::parse(syn)?.syn?;
    let ip_header = match from {
        SocketAddr::V4(_) => usize::from(syn.first()? & 0x0f) * 4,
        SocketAddr::V6(_) => 40,
    };
    let tcp = syn.get(ip_header..)?;
    let seq = u32::from_be_bytes(tcp.get(4..8)?.try_into().ok()?);
    let data = tcp.len().checked_sub(usize::from(tcp.get(12)? >> 4) * 4)?;
    let ack = seq.wrapping_add(1).wrapping_add(u32::try_from(data).ok()?);
    let mut segment = [0u8; 20];
    segment[0..2].copy_from_slice(&to.port().to_be_bytes());
    segment[2..4].copy_from_slice(&from.port().to_be_bytes());
    segment[8..12].copy_from_slice(&ack.to_be_bytes());
    segment[12] = 5 << 4; // 20 bytes of header, no options.
    segment[13] = RST | ACK;
    let (mut packet, pseudo) = match (to.ip(), from.ip()) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let mut ip = vec![0u8; 20];
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&40u16.to_be_bytes());
            ip[6] = 0x40; // Don't fragment.
            ip[8] = HOPS;
            ip[9] = TCP;
            ip[12..16].copy_from_slice(&src.octets());
            ip[16..20].copy_from_slice(&dst.octets());
            let sum = checksum(&ip);
            ip[10..12].copy_from_slice(&sum.to_be_bytes());
            let mut pseudo = Vec::with_capacity(12);
            pseudo.extend_from_slice(&src.octets());
            pseudo.extend_from_slice(&dst.octets());
            pseudo.extend_from_slice(&[0, TCP, 0, 20]);
            (ip, pseudo)
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let mut ip = vec![0u8; 40];
            ip[0] = 0x60;
            ip[4..6].copy_from_slice(&20u16.to_be_bytes());
            ip[6] = TCP;
            ip[7] = HOPS;
            ip[8..24].copy_from_slice(&src.octets());
            ip[24..40].copy_from_slice(&dst.octets());
            let mut pseudo = Vec::with_capacity(40);
            pseudo.extend_from_slice(&src.octets());
            pseudo.extend_from_slice(&dst.octets());
            pseudo.extend_from_slice(&[0, 0, 0, 20, 0, 0, 0, TCP]);
            (ip, pseudo)
        }
        _ => return None,
    };
    let sum = checksum(&[&pseudo[..], &segment[..]].concat());
    segment[16..18].copy_from_slice(&sum.to_be_bytes());
    packet.extend_from_slice(&segment);
    Some(packet)
}

/// The Internet checksum (RFC 1071) of `bytes`: the ones' complement of the ones'
/// complement sum of its 16-bit words. Zero over data that carries its right checksum.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = (bytes.chunks(2))
        .map(|word| u32::from(u16::from_be_bytes([word[0], *word.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4_tcp(flags: u8) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x45;
        p[9] = TCP;
        p[12..16].copy_from_slice(&[198, 51, 100, 1]);
        p[16..20].copy_from_slice(&[192, 0, 2, 7]);
        p[20..22].copy_from_slice(&40_000u16.to_be_bytes());
        p[22..24].copy_from_slice(&443u16.to_be_bytes());
        p[33] = flags;
        p
    }

    #[test]
    fn ipv4_syn_is_seen_and_syn_ack_is_not() {
        let header = Header::parse(&v4_tcp(SYN)).unwrap();
        assert_eq!(header.dst, IpAddr::from([192, 0, 2, 7]));
        let (src, dst) = header.syn.unwrap();
        assert_eq!(src, "198.51.100.1:40000".parse().unwrap());
        assert_eq!(dst, "192.0.2.7:443".parse().unwrap());
        assert_eq!(Header::parse(&v4_tcp(SYN | ACK)).unwrap().syn, None);
        assert_eq!(Header::parse(&v4_tcp(ACK)).unwrap().syn, None);
    }

    /// A reset's IP header (IPv4) and TCP segment carry their right checksums.
    fn assert_checksums(rst: &[u8]) {
        let (ip, pseudo) = if rst[0] >> 4 == 4 {
            assert_eq!(checksum(&rst[..20]), 0, "IPv4 header checksum");
            let mut pseudo = rst[12..20].to_vec();
            pseudo.extend_from_slice(&[0, TCP, 0, 20]);
            (20, pseudo)
        } else {
            let mut pseudo = rst[8..40].to_vec();
            pseudo.extend_from_slice(&[0, 0, 0, 20, 0, 0, 0, TCP]);
            (40, pseudo)
        };
        assert_eq!(rst.len(), ip + 20);
        assert_eq!(
            checksum(&[&pseudo[..], &rst[ip..]].concat()),
            0,
            "TCP checksum"
        );
    }

    #[test]
    fn a_refused_ipv4_syn_gets_a_reset_acknowledging_it() {
        let mut syn = v4_tcp(SYN);
        syn[32] = 5 << 4;
        syn[24..28].copy_from_slice(&0xffff_fffeu32.to_be_bytes());
        let rst = reset_for(&syn).unwrap();
        assert_checksums(&rst);
        let header = Header::parse(&rst).unwrap();
        assert_eq!(header.src, IpAddr::from([192, 0, 2, 7]));
        assert_eq!(header.dst, IpAddr::from([198, 51, 100, 1]));
        assert_eq!(header.syn, None);
        let tcp = &rst[20..];
        assert_eq!(tcp[0..2], 443u16.to_be_bytes());
        assert_eq!(tcp[2..4], 40_000u16.to_be_bytes());
        assert_eq!(tcp[4..8], [0; 4], "sequence number 0");
        assert_eq!(
            tcp[8..12],
            0xffff_ffffu32.to_be_bytes(),
            "acknowledges the SYN"
        );
        assert_eq!(tcp[13], RST | ACK);
        // Data on the SYN (TCP Fast Open) is acknowledged too, and the count wraps.
        syn.extend_from_slice(b"hi");
        let rst = reset_for(&syn).unwrap();
        assert_eq!(rst[28..32], 1u32.to_be_bytes());
        // Only a SYN is answered.
        let mut syn_ack = v4_tcp(SYN | ACK);
        syn_ack[32] = 5 << 4;
        assert_eq!(reset_for(&syn_ack), None);
        assert_eq!(reset_for(&syn[..30]), None);
    }

    #[test]
    fn a_refused_ipv6_syn_gets_a_reset_acknowledging_it() {
        let mut syn = vec![0u8; 60];
        syn[0] = 0x60;
        syn[4..6].copy_from_slice(&20u16.to_be_bytes());
        syn[6] = TCP;
        syn[8..24].copy_from_slice(&"2001:db8:ffff::1".parse::<Ipv6Addr>().unwrap().octets());
        syn[24..40].copy_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        syn[40..42].copy_from_slice(&51_000u16.to_be_bytes());
        syn[42..44].copy_from_slice(&443u16.to_be_bytes());
        syn[44..48].copy_from_slice(&7u32.to_be_bytes());
        syn[52] = 5 << 4;
        syn[53] = SYN;
        let rst = reset_for(&syn).unwrap();
        assert_checksums(&rst);
        let header = Header::parse(&rst).unwrap();
        assert_eq!(header.src, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(header.dst, "2001:db8:ffff::1".parse::<IpAddr>().unwrap());
        assert_eq!(header.syn, None);
        assert_eq!(rst[40..42], 443u16.to_be_bytes());
        assert_eq!(rst[42..44], 51_000u16.to_be_bytes());
        assert_eq!(rst[48..52], 8u32.to_be_bytes());
        assert_eq!(rst[53], RST | ACK);
    }

    #[test]
    fn ipv6_syn_and_truncated_packets() {
        let mut p = vec![0u8; 60];
        p[0] = 0x60;
        p[6] = TCP;
        p[8..24].copy_from_slice(&"2001:db8:ffff::1".parse::<Ipv6Addr>().unwrap().octets());
        p[24..40].copy_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        p[42..44].copy_from_slice(&443u16.to_be_bytes());
        p[53] = SYN;
        let header = Header::parse(&p).unwrap();
        assert_eq!(header.syn.unwrap().1, "[2001:db8::1]:443".parse().unwrap());
        assert_eq!(Header::parse(&p[..30]), None);
        assert_eq!(Header::parse(&[]), None);
        assert_eq!(Header::parse(&[0x10; 20]), None);
        // A truncated TCP header still names the addresses.
        assert_eq!(Header::parse(&p[..45]).unwrap().syn, None);
    }
}

//! [`Keyed`]: the hasher of the maps keyed by addresses, the address history and the
//! source-address cache.
//!
//! Their keys are a few integers, hashed on every race's path, and the addresses in them
//! come from DNS: whoever answers for a name chooses them, so an unkeyed hash would let
//! them choose addresses that all land in one bucket. std's `RandomState` (SipHash-1-3) is
//! keyed, but it costs over a hundred instructions an address: its `write` takes a `u64`
//! byte by byte, and its `finish` runs four rounds. [`Keyed`] mixes each 64-bit word in with
//! one folded multiply (the two halves of the 128-bit product xored, as foldhash and wyhash
//! do), and the result once more as it finishes, under three 64-bit keys drawn at random for
//! each map, with std's `RandomState`.
//!
//! It is not a cryptographic hash: it keeps whoever does not know a map's keys from choosing
//! addresses that collide in it, and the maps it serves are bounded (their capacity, an
//! LRU or a cache that empties) whatever the addresses.

use std::hash::{BuildHasher, Hasher, RandomState};

/// Builds [`KeyedHasher`]s with this map's random keys.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keyed {
    /// Where each hash starts.
    seed: u64,
    /// What each word is multiplied by.
    key: u64,
    /// What the state is multiplied by as the hash finishes.
    last: u64,
}

impl Default for Keyed {
    /// Three keys of 64 random bits: the hashes of three constants under a new
    /// `RandomState`, whose SipHash keys std draws from the operating system's random source.
    fn default() -> Keyed {
        let random = RandomState::new();
        Keyed {
            seed: random.hash_one(0u8),
            key: random.hash_one(1u8),
            last: random.hash_one(2u8),
        }
    }
}

impl BuildHasher for Keyed {
    type Hasher = KeyedHasher;

    fn build_hasher(&self) -> KeyedHasher {
        KeyedHasher {
            state: self.seed,
            key: self.key,
            last: self.last,
        }
    }
}

/// The hash of one key under [`Keyed`]'s keys: each word folded into the state.
#[derive(Debug, Clone)]
pub(crate) struct KeyedHasher {
    state: u64,
    key: u64,
    last: u64,
}

/// The 128-bit product of `a` and `b`, its two halves xored: every bit of the result
/// depends on every bit of both.
fn folded_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

impl Hasher for KeyedHasher {
    fn write_u64(&mut self, word: u64) {
        self.state = folded_multiply(self.state ^ word, self.key);
    }

    fn write_u128(&mut self, n: u128) {
        self.write_u64(n as u64);
        self.write_u64((n >> 64) as u64);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(n.into());
    }

    fn write_u16(&mut self, n: u16) {
        self.write_u64(n.into());
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(n.into());
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    /// Bytes in words of eight, the last one padded with zeros (`Hash` for a slice or a
    /// `str` writes its length or an end marker, so padding makes no two keys alike).
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    /// The state multiplied once more: a key that differs from another in a few low bits
    /// only changes the product's high half little, and the last multiply spreads it.
    fn finish(&self) -> u64 {
        folded_multiply(self.state, self.last)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

    use super::*;

    /// One map's keys hash a key alike every time; another map's keys, differently.
    #[test]
    fn a_key_hashes_alike_under_one_map_and_not_across_maps() {
        let addr = SocketAddr::from((Ipv4Addr::new(192, 0, 2, 1), 443));
        let (a, b) = (Keyed::default(), Keyed::default());
        assert_eq!(a.hash_one(addr), a.hash_one(addr));
        assert_ne!(a.hash_one(addr), b.hash_one(addr));
    }

    /// Addresses that differ in a few low bits, or in a port, spread over a map's buckets:
    /// 4,096 neighbouring addresses fill at least 2,400 of 4,096 buckets (a random hash
    /// fills 2,589 on average, rarely fewer than 2,520), by the low bits of the hash as by
    /// the high ones.
    #[test]
    fn neighbouring_addresses_spread_over_the_buckets() {
        let keyed = Keyed::default();
        let v4 = (0..4096u32).map(|i| SocketAddr::from((Ipv4Addr::from(0x0a00_0000 + i), 443)));
        let v6 = (0..4096u128).map(|i| SocketAddr::from((Ipv6Addr::from(i << 64 | 1), 443)));
        let ports = (0..4096u16).map(|port| SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
        for (name, addrs) in [
            ("v4", v4.collect::<Vec<_>>()),
            ("v6", v6.collect()),
            ("ports", ports.collect()),
        ] {
            let hashes: Vec<u64> = addrs.iter().map(|a| keyed.hash_one(a)).collect();
            let low: HashSet<u64> = hashes.iter().map(|h| h & 0xfff).collect();
            let high: HashSet<u64> = hashes.iter().map(|h| h >> 52).collect();
            assert!(low.len() >= 2400, "{name}: {} low buckets", low.len());
            assert!(high.len() >= 2400, "{name}: {} high buckets", high.len());
        }
    }

    /// Bytes hash in words of eight: a slice's length keeps padded slices apart.
    #[test]
    fn bytes_hash_with_their_length() {
        let keyed = Keyed::default();
        assert_ne!(keyed.hash_one(&b"ab"[..]), keyed.hash_one(&b"ab\0"[..]));
        assert_eq!(
            keyed.hash_one("a long host name"),
            keyed.hash_one("a long host name")
        );
    }
}

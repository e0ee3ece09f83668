//! How a race orders its addresses.
//!
//! [`rfc6724`] is the destination address order of RFC 6724 §6 as a pure sort key,
//! [`source`] finds, and caches, the source address each destination would get, which that
//! order needs, and [`Rank`] puts what the address history knows between RFC 6724's rule 1
//! and the rest: the key a race sorts each family's addresses by.

mod rank;
pub(crate) mod rfc6724;
pub(crate) mod source;

pub(crate) use self::rank::{Rank, Ranked, Ranking};

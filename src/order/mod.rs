//! How a race orders its addresses.
//!
//! [`rfc6724`] is the destination address order of RFC 6724 §6 as a pure sort key, and
//! [`source`] finds, and caches, the source address each destination would get, which that
//! order needs.

pub(crate) mod rfc6724;
pub(crate) mod source;

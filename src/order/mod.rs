//! How a race orders its addresses.
//!
//! [`rfc6724`] is the destination address order of RFC 6724 §6 as a pure sort key.

pub(crate) mod rfc6724;

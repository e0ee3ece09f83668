//! The race: addresses in, first connection out.
//!
//! - [`machine`]: every rule of a race as a state machine, with no I/O and no waiting;
//! - [`report`]: its account, which becomes the [`ConnectInfo`](crate::ConnectInfo) or the
//!   [`ConnectError`](crate::ConnectError);
//! - [`driver`](mod@driver): the machine on tokio, generic over the [`Dial`](crate::Dial) seam and the
//!   stream of DNS answers;
//! - [`one`](mod@one): one address, dialed as the machine would, without it;
//! - [`list`]: the machine's order without dialing, for a client that connects by itself.
//!
//! The machine's rules are tested on a paused clock against a simulated network (see
//! `tests/mod.rs`).

mod attempt;
mod driver;
// Only the `reqwest` feature lists addresses instead of racing them.
#[cfg_attr(not(feature = "reqwest"), allow(dead_code))]
pub(crate) mod list;
pub(crate) mod machine;
pub(crate) mod one;
mod report;
#[cfg(test)]
mod tests;

pub(crate) use self::driver::race;
pub(crate) use self::one::{one, Won};

//! Without the `metrics` feature: every call of `on.rs`, doing nothing. Each is an empty
//! `#[inline]` function of values the caller has at hand, and [`Race`] and [`Part`] hold
//! nothing and have no `Drop`, so the optimiser leaves no trace of them.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant as StdInstant};

use tokio::time::Instant;

use super::{AttemptEnd, Tally};
use crate::dns::DnsError;
use crate::{ConnectError, Family};

/// Nothing to describe.
#[inline(always)]
pub(crate) fn describe() {}

/// Nothing to record.
#[inline(always)]
pub(crate) fn attempt_ended(_: AttemptEnd, _: Duration, _: SocketAddr) {}

/// Nothing to record: the error's kind is not read.
#[inline(always)]
pub(crate) fn attempt_failed(_: &io::Error, _: Duration, _: SocketAddr) {}

/// Nothing to record.
#[inline(always)]
pub(crate) fn dns_answered(_: Option<Family>, _: Option<&DnsError>, _: StdInstant, _: StdInstant) {}

/// Nothing to record.
#[inline(always)]
pub(crate) fn in_flight(_: i32) {}

/// Nothing to record.
#[inline(always)]
pub(crate) fn waiting(_: i32) {}

/// A race's metrics: none.
#[derive(Debug)]
pub(crate) struct Race;

impl Race {
    #[inline(always)]
    pub(crate) fn start(_: Instant) -> Race {
        Race
    }

    #[inline(always)]
    pub(crate) fn won(&mut self, _: Instant, _: bool) {}

    #[inline(always)]
    pub(crate) fn won_alone(&mut self, _: SocketAddr) {}

    #[inline(always)]
    pub(crate) fn failed(&mut self, _: Instant, _: &ConnectError, _: bool) {}
}

/// A part of a gauge: none.
#[derive(Debug)]
pub(crate) struct Part;

impl Part {
    #[inline(always)]
    pub(crate) fn new(_: Tally) -> Part {
        Part
    }

    #[inline(always)]
    pub(crate) fn set(&self, _: usize) {}
}

//! What connie's report generators (the benches of this crate) share: how a run measures
//! ([`settings`]), the clients they compare ([`clients`]), the report as a Markdown table
//! and JSON ([`report`]), the goals it checks ([`goal`]), and the ideal racer and the
//! machine's description ([`baseline`]).
//!
//! Not published: see `README.md` for the generators, their goals and their tables.

#![warn(rust_2018_idioms)]

pub mod baseline;
pub mod clients;
pub mod goal;
pub mod report;
pub mod settings;

/// Any error, for `main`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

//! connie with other crates: the recipes of `README.md` (hyper-rustls; tonic's
//! `connect_with_connector`, over TCP racing and over connie's TLS racing; tokio-tungstenite
//! and tokio-postgres over `race_connect`; hyper-util's legacy `Client` for HTTP/2 and its
//! pool services), each tested against a local server in `tests/recipes.rs`; and connie's
//! own README, whose snippets need these crates too. Both READMEs are compiled as doctests
//! here.
//!
//! A crate of the workspace with `publish = false`, as tokio keeps `tests-integration`
//! beside tokio, so that connie's own tests and examples do not build tonic,
//! tokio-tungstenite, tokio-postgres, reqwest or tower. It has no code of its own.

/// The recipes, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct RecipesDoctests;

/// connie's README, compiled as doctests so its snippets cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ConnieReadmeDoctests;

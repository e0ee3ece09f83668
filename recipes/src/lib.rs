//! connie with other crates: the README's recipes (tonic's `connect_with_connector`, over
//! TCP racing and over connie's TLS racing; tokio-tungstenite over `race_connect`;
//! hyper-util's pool services), each tested against a local server in `tests/recipes.rs`.
//!
//! A crate of the workspace with `publish = false`, as tokio keeps `tests-integration`
//! beside tokio, so that connie's own tests do not need tonic, tokio-tungstenite or tower.
//! It has no code of its own.

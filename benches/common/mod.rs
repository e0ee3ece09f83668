//! What the custom-harness benches (`compare`, `rtt`) share: their settings, the clients
//! they compare, and the report (Markdown table and JSON).

pub(crate) mod baseline;
pub(crate) mod clients;
pub(crate) mod report;
pub(crate) mod settings;

/// Any error, for `main`.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

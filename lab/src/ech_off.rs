//! [`EchKey`] and [`EchHost`] without the `ech` feature: the same API, but neither can be
//! made, so that tests written for them build and report themselves skipped. The feature
//! brings aws-lc-rs (rustls implements ECH's HPKE only there), which a crate's plain build
//! of its examples should not compile for its dev-dependency on the lab.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use rustls::ServerConfig;

/// No value: what neither type can be made without the feature.
enum Never {}

/// The error of every constructor: `Unsupported`.
fn off() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "connie-lab is built without its `ech` feature",
    )
}

/// An ECH key pair; without the `ech` feature, [`new`](Self::new) fails (`Unsupported`).
pub struct EchKey(Never);

impl EchKey {
    /// Fails: `Unsupported`, the `ech` feature being off.
    pub fn new(_config_id: u8, _public_name: &str) -> io::Result<EchKey> {
        Err(off())
    }

    /// The `ECHConfigList` holding this key's one configuration.
    pub fn config_list(&self) -> Vec<u8> {
        match self.0 {}
    }
}

impl fmt::Debug for EchKey {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {}
    }
}

/// A TLS host that accepts ECH; without the `ech` feature there is no key to make one
/// with.
pub struct EchHost(Never);

// Its accessors are those of the real one, and are never called.
#[allow(missing_docs)]
impl EchHost {
    /// Never called: no [`EchKey`] exists without the `ech` feature.
    pub async fn bind(
        _addr: SocketAddr,
        _server_config: Arc<ServerConfig>,
        key: EchKey,
    ) -> io::Result<EchHost> {
        match key.0 {}
    }

    pub fn addr(&self) -> SocketAddr {
        match self.0 {}
    }

    pub fn accepted(&self) -> usize {
        match self.0 {}
    }

    pub fn hellos(&self) -> usize {
        match self.0 {}
    }

    pub fn ech_accepted(&self) -> usize {
        match self.0 {}
    }

    pub fn handshakes(&self) -> usize {
        match self.0 {}
    }

    pub fn failed_handshakes(&self) -> usize {
        match self.0 {}
    }

    pub fn server_names(&self) -> Vec<String> {
        match self.0 {}
    }

    pub async fn wait_done(&self, _n: usize) {
        match self.0 {}
    }
}

impl fmt::Debug for EchHost {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {}
    }
}

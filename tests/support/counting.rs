//! [`Counting`]: connie's `TcpDialer`, counting every dial per address: the SYNs a race
//! sends, seen as they leave. Shared by path with `connie-eval`'s bursts.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use connie::{Destination, Dial, TcpDialer};
use tokio::net::TcpStream;

/// The `TcpDialer`, counting its dials to each address; clones count together.
#[derive(Clone, Default)]
pub struct Counting {
    tcp: TcpDialer,
    dials: Arc<Mutex<HashMap<SocketAddr, usize>>>,
}

impl Counting {
    /// Every dial so far.
    pub fn total(&self) -> usize {
        self.dials.lock().unwrap().values().sum()
    }

    /// The dials to `addr` so far.
    pub fn to(&self, addr: SocketAddr) -> usize {
        self.dials.lock().unwrap().get(&addr).copied().unwrap_or(0)
    }
}

impl Dial for Counting {
    type Connection = TcpStream;

    fn dial(&self, to: Destination<'_>) -> impl Future<Output = io::Result<TcpStream>> + Send {
        *self.dials.lock().unwrap().entry(to.addr()).or_default() += 1;
        self.tcp.dial(to)
    }
}

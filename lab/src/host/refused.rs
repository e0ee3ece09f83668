//! [`RefusedHost`]: a socket bound but not listening.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use socket2::Socket;

use super::{bound_socket, local_addr};

/// A socket bound to the address but not listening: the kernel answers a SYN
/// with RST, so connect fails with `ConnectionRefused` at once.
pub struct RefusedHost {
    addr: SocketAddr,
    _socket: Socket,
}

impl RefusedHost {
    /// Binds (without listening) on the loopback address `addr`; port 0
    /// picks a free port.
    pub fn bind(addr: SocketAddr) -> io::Result<RefusedHost> {
        let socket = bound_socket(addr, false)?;
        let addr = local_addr(&socket)?;
        tracing::debug!(%addr, "refused host bound");
        Ok(RefusedHost {
            addr,
            _socket: socket,
        })
    }

    /// The address the host is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl fmt::Debug for RefusedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefusedHost")
            .field("addr", &self.addr)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{any_port, assert_refused, v4, v6};

    #[tokio::test]
    async fn refused_refuses() {
        for ip in [v4(1), v4(6), v6()] {
            let host = RefusedHost::bind(any_port(ip)).unwrap();
            assert_ne!(host.addr().port(), 0);
            assert_refused(host.addr()).await;
        }
    }
}

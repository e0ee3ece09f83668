//! The one socket option socket2 (0.6) has no wrapper for, and the crate's one `unsafe`.
//! Linux only.

use std::io;
use std::os::fd::AsRawFd;

use socket2::Socket;

/// Sets `IP_BIND_ADDRESS_NO_PORT`: a `bind()` to port 0 no longer reserves an
/// ephemeral port; `connect()` picks one for the whole 4-tuple.
#[allow(unsafe_code)]
pub(super) fn bind_address_no_port(socket: &Socket) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: `socket` is a live descriptor, borrowed for the whole call, and the
    // option value points to a `c_int` that outlives the call, with its exact size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use socket2::Domain;

    use super::*;
    use crate::tcp::socket::nonblocking_socket;

    /// `IP_BIND_ADDRESS_NO_PORT` is accepted on sockets of both families: its `Ok` is
    /// the system's. (Its effect is `a_bound_socket_reserves_no_port_before_connect`.)
    #[test]
    fn bind_address_no_port_is_accepted_on_both_families() {
        for domain in [Domain::IPV4, Domain::IPV6] {
            let socket = nonblocking_socket(domain).unwrap();
            bind_address_no_port(&socket).unwrap();
        }
    }
}

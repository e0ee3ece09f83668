//! Loopback listeners on plain threads, so that the client's thread does no accept work,
//! and the time and CPU they take can be told apart from the client's.

use std::io;
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// Listeners on one port (on each IP, `per_ip` of them with `SO_REUSEPORT`, each with the
/// largest backlog the system allows), each with an accept thread that closes every
/// connection at once with a FIN. Not a RST: one could reach the client before tokio has
/// polled its connect, which then fails with `ECONNRESET`. A client that then closes with
/// `SO_LINGER` 0 leaves no `TIME_WAIT` on either side; one that closes normally leaves the
/// server the `TIME_WAIT`.
pub(crate) struct Sink {
    port: u16,
    listeners: Vec<Socket>,
    threads: Vec<JoinHandle<()>>,
}

/// Linux's `EINVAL`, which `accept` returns once the listener is shut down.
const EINVAL: i32 = 22;
/// Binding tries before giving up on finding one port free on every IP.
const BIND_TRIES: usize = 20;

impl Sink {
    pub(crate) fn start(ips: &[IpAddr], per_ip: usize) -> io::Result<Sink> {
        let mut last = None;
        for _ in 0..BIND_TRIES {
            match bind_all(ips, per_ip) {
                Ok(listeners) => return Sink::serve(listeners),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no port")))
    }

    fn serve(listeners: Vec<Socket>) -> io::Result<Sink> {
        let port = listeners[0]
            .local_addr()?
            .as_socket()
            .map_or(0, |a| a.port());
        let mut threads = Vec::new();
        let mut kept = Vec::new();
        for listener in listeners {
            kept.push(listener.try_clone()?);
            threads.push(std::thread::spawn(move || accept_loop(&listener)));
        }
        Ok(Sink {
            port,
            listeners: kept,
            threads,
        })
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn addr(&self, ip: IpAddr) -> SocketAddr {
        SocketAddr::new(ip, self.port)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        // On Linux, shutting a listener down wakes its blocked `accept` with an error.
        for listener in &self.listeners {
            let _ = listener.shutdown(Shutdown::Both);
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn bind_all(ips: &[IpAddr], per_ip: usize) -> io::Result<Vec<Socket>> {
    let mut port = 0;
    let mut listeners = Vec::new();
    for &ip in ips {
        for _ in 0..per_ip {
            let addr = SocketAddr::new(ip, port);
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
            if ip.is_ipv6() {
                socket.set_only_v6(true)?;
            }
            socket.set_reuse_address(true)?;
            socket.set_reuse_port(true)?;
            socket.bind(&addr.into())?;
            // Capped by `net.core.somaxconn`.
            socket.listen(i32::MAX)?;
            port = socket.local_addr()?.as_socket().map_or(0, |a| a.port());
            listeners.push(socket);
        }
    }
    Ok(listeners)
}

fn accept_loop(listener: &Socket) {
    loop {
        match listener.accept() {
            Ok((socket, _)) => drop(socket),
            Err(e) => match e.kind() {
                io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::Interrupted => {}
                // Shut down: `EINVAL` on Linux.
                _ if e.raw_os_error() == Some(EINVAL) => return,
                // Out of descriptors, say: wait for the client to close some.
                _ => std::thread::sleep(Duration::from_millis(1)),
            },
        }
    }
}

/// This thread's Linux thread id, from `/proc/thread-self` (`PID/task/TID`).
pub(crate) fn thread_id() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// CPU time of these threads so far, from `/proc/self/task/TID/schedstat` (Linux only).
pub(crate) fn cpu_of(tids: &[u32]) -> Option<Duration> {
    let mut ns = 0u64;
    for tid in tids {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
        ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(ns))
}

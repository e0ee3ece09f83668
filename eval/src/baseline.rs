//! What several generators measure connie against or clean up with, written once: the ideal
//! racer, a close that leaves no `TIME_WAIT`, and the one-line description of the machine.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::net::TcpStream;

/// The ideal racer: every address at once, the first to connect wins, the rest dropped.
pub async fn ideal(addrs: &[SocketAddr]) -> io::Result<TcpStream> {
    let mut racing: FuturesUnordered<_> = addrs.iter().map(|&a| TcpStream::connect(a)).collect();
    let mut last = None;
    while let Some(result) = racing.next().await {
        match result {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no addresses")))
}

/// Closes `stream` with a RST (`SO_LINGER` 0), leaving no `TIME_WAIT` behind.
pub fn close(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// `linux 6.8.0 x86_64; CPU: … (N logical CPUs)`, from what is readable.
pub fn system() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| format!(" {}", r.trim()))
        .unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("model name"))?;
            Some(line.split_once(':')?.1.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    format!(
        "{}{release} {}; CPU: {cpu} ({cpus} logical CPUs)",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

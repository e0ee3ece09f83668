//! A host that dies while the lab runs: [`NetLab::blackhole`].

use std::io;
use std::net::IpAddr;

use super::delay_line::{lock, Rule};
use super::{invalid, NetLab};

impl NetLab {
    /// Turns the host `ip` into a blackhole from now on, while the lab keeps running: the
    /// delay line drops every packet to it and from it, as if the host (or the path to it)
    /// had died.
    ///
    /// A connect to it then hangs until the client gives up, and connections already open
    /// to it stall. Packets the line took before the call are still delivered. SYNs sent
    /// to it are still counted ([`attempts_to`](Self::attempts_to)). It stays a blackhole
    /// for the rest of the lab's life; calling this again for it changes nothing.
    ///
    /// ```no_run
    /// # fn doc() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// use connie_lab::netns::NetLab;
    ///
    /// let host = "192.0.2.1".parse().unwrap();
    /// let lab = NetLab::builder().alive(host, Duration::from_millis(10)).start()?;
    /// // … connects that reach the host …
    /// lab.blackhole(host)?;
    /// // … connects that hang …
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `ip` is not a host of this lab.
    pub fn blackhole(&self, ip: IpAddr) -> io::Result<()> {
        if !self.hosts.contains(&ip) {
            return Err(invalid(format!("{ip} is not a host of this lab")));
        }
        lock(&self.rules).insert(ip, Rule::Blackhole);
        tracing::debug!(%ip, "netlab host blackholed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use tokio::net::TcpStream;
    use tokio::time::timeout;

    use super::*;
    use crate::netns::{available, scenario::v4};
    use crate::testing::{HANG, PROMPT};

    /// Connects to `addr` on the lab's client thread: the peer address, the connect's
    /// error, or `None` if it was still pending after `bound`.
    fn connect(lab: &NetLab, addr: SocketAddr, bound: Duration) -> Option<io::Result<SocketAddr>> {
        let connected = lab.run_client(move || async move {
            let connect = timeout(bound, TcpStream::connect(addr)).await;
            connect.ok().map(|stream| stream?.peer_addr())
        });
        connected.expect("the client thread runs")
    }

    #[test]
    fn a_blackholed_host_stops_answering_and_the_others_do_not() {
        if let Err(reason) = available() {
            println!("skipped: {reason}");
            return;
        }
        let rtt = Duration::from_millis(20);
        let lab = NetLab::builder()
            .alive(v4(1), rtt)
            .alive(v4(2), rtt)
            .start()
            .unwrap();
        let [dying, other] = [v4(1), v4(2)].map(|ip| SocketAddr::new(ip, lab.port()));
        let before = connect(&lab, dying, PROMPT).expect("connected within PROMPT");
        assert_eq!(before.unwrap(), dying);

        lab.blackhole(dying.ip()).unwrap();
        lab.reset_counters();
        let after = connect(&lab, dying, HANG);
        assert!(
            after.is_none(),
            "{dying} answered after its blackhole: {after:?}"
        );
        assert_eq!(lab.attempts_to(dying.ip()), 1, "the dropped SYN is counted");
        let other = connect(&lab, other, PROMPT).expect("connected within PROMPT");
        assert_eq!(other.unwrap().ip(), v4(2));

        // Again is a no-op; an address that is not a host is an error.
        lab.blackhole(dying.ip()).unwrap();
        let error = lab.blackhole(v4(3)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
    }
}

//! Hosts that fail while the lab runs: [`NetLab::blackhole`], [`NetLab::refuse`], and
//! [`NetLab::restore`] to bring them back.

use std::io;
use std::net::IpAddr;

use super::delay_line::{lock, Mode};
use super::{invalid, HostSpec, NetLab};

impl NetLab {
    /// Turns the host `ip` into a blackhole from now on, while the lab keeps running: the
    /// delay line drops every packet to it and from it, as if the host (or the path to it)
    /// had died.
    ///
    /// A connect to it then hangs until the client gives up, and connections already open
    /// to it stall. Packets the line took before the call are still delivered. SYNs sent
    /// to it are still counted ([`attempts_to`](Self::attempts_to)). It stays a blackhole
    /// until [`restore`](Self::restore) or [`refuse`](Self::refuse); calling this again
    /// for it changes nothing.
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
    /// lab.restore(host)?;
    /// // … connects that reach it again …
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `ip` is not a host of this lab.
    pub fn blackhole(&self, ip: IpAddr) -> io::Result<()> {
        self.set_mode(ip, Mode::Blackhole)?;
        tracing::debug!(%ip, "netlab host blackholed");
        Ok(())
    }

    /// Makes the host `ip` refuse every connect from now on: the delay line answers each
    /// SYN sent to it with a reset of its own (RST|ACK, from the host), one round-trip time
    /// later, and does not deliver the SYN. A connect to it fails with `ConnectionRefused`
    /// after its round-trip time, as with a host that has no listener.
    ///
    /// Only SYNs are answered: connections already open to it keep working, and a TLS host
    /// keeps its handshakes in progress. SYNs sent to it are still counted
    /// ([`attempts_to`](Self::attempts_to)). It refuses until [`restore`](Self::restore)
    /// or [`blackhole`](Self::blackhole); calling this again for it changes nothing. A host
    /// built blackholed has no round-trip time: it refuses at once.
    ///
    /// ```no_run
    /// # fn doc() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// use connie_lab::netns::NetLab;
    ///
    /// let host = "192.0.2.1".parse().unwrap();
    /// let lab = NetLab::builder().alive(host, Duration::from_millis(10)).start()?;
    /// lab.refuse(host)?;
    /// // … one connect, refused after 10 ms …
    /// lab.restore(host)?;
    /// // … the next one connects …
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `ip` is not a host of this lab.
    pub fn refuse(&self, ip: IpAddr) -> io::Result<()> {
        self.set_mode(ip, Mode::Refuse)?;
        tracing::debug!(%ip, "netlab host refuses connects");
        Ok(())
    }

    /// Makes the host `ip` what the builder made it again, after
    /// [`blackhole`](Self::blackhole) or [`refuse`](Self::refuse): an alive or TLS host
    /// accepts connects again, with its round-trip time. Packets the line dropped while
    /// it was a blackhole stay lost. Calling it for a host that was never changed changes
    /// nothing.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `ip` is not a host of this lab.
    pub fn restore(&self, ip: IpAddr) -> io::Result<()> {
        let built = self.spec(ip)?.rule().mode;
        self.set_mode(ip, built)?;
        tracing::debug!(%ip, "netlab host restored");
        Ok(())
    }

    /// What the builder made the host `ip`.
    fn spec(&self, ip: IpAddr) -> io::Result<HostSpec> {
        (self.hosts.iter())
            .find_map(|&(host, spec)| (host == ip).then_some(spec))
            .ok_or_else(|| invalid(format!("{ip} is not a host of this lab")))
    }

    /// Sets what the delay line does with packets to and from the host `ip`, keeping its
    /// round-trip time.
    fn set_mode(&self, ip: IpAddr, mode: Mode) -> io::Result<()> {
        let built = self.spec(ip)?.rule();
        let mut rules = lock(&self.rules);
        rules.entry(ip).or_insert(built).mode = mode;
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

        // Restored, it answers again.
        lab.restore(dying.ip()).unwrap();
        let back = connect(&lab, dying, PROMPT).expect("connected within PROMPT");
        assert_eq!(back.unwrap(), dying);
    }

    #[test]
    fn a_refusing_host_resets_each_connect_after_its_rtt_until_restored() {
        if let Err(reason) = available() {
            println!("skipped: {reason}");
            return;
        }
        let rtt = Duration::from_millis(40);
        let lab = NetLab::builder()
            .alive(v4(1), rtt)
            .alive(v4(2), rtt)
            .start()
            .unwrap();
        let [refusing, other] = [v4(1), v4(2)].map(|ip| SocketAddr::new(ip, lab.port()));
        let time = |addr: SocketAddr| {
            let m = lab.measure(move || async move {
                timeout(PROMPT, TcpStream::connect(addr))
                    .await
                    .map_err(io::Error::from)??
                    .peer_addr()
            });
            m.expect("the client thread runs")
        };

        lab.refuse(refusing.ip()).unwrap();
        lab.refuse(refusing.ip()).unwrap();
        for _ in 0..2 {
            let m = time(refusing);
            let error = m.remote.as_ref().expect_err("refused");
            assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
            assert!(m.elapsed >= rtt && m.elapsed < rtt + PROMPT, "{m:?}");
            assert_eq!(m.attempts, 1, "the refused SYN is counted");
        }
        let m = time(other);
        assert_eq!(m.remote.unwrap(), other, "the other host is unaffected");

        lab.restore(refusing.ip()).unwrap();
        let m = time(refusing);
        assert_eq!(*m.remote.as_ref().unwrap(), refusing);
        assert!(m.elapsed >= rtt, "{m:?}");

        // A blackhole and a refusal replace each other; restore undoes either.
        lab.blackhole(refusing.ip()).unwrap();
        lab.refuse(refusing.ip()).unwrap();
        let error = time(refusing).remote.expect_err("refused");
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
        lab.restore(refusing.ip()).unwrap();
        assert_eq!(time(refusing).remote.unwrap(), refusing);

        for error in [lab.refuse(v4(3)), lab.restore(v4(3))].map(Result::unwrap_err) {
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
        }
    }
}

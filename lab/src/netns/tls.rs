//! The TLS hosts of a [`NetLab`]: [`NetLab::tls`] and [`NetLab::tls_identity`].

use std::net::IpAddr;

use super::NetLab;
use crate::tls::LabTls;
use crate::{TlsHost, TlsIdentity};

impl NetLab {
    /// The TLS host at `ip` ([`NetLabBuilder::tls`](super::NetLabBuilder::tls)), to read
    /// its counters or give its handshakes server work
    /// ([`TlsHost::set_handshake_work`]); `None` if the lab has no TLS host there.
    ///
    /// ```no_run
    /// # fn doc() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// use connie_lab::netns::NetLab;
    ///
    /// let host = "192.0.2.1".parse().unwrap();
    /// let lab = NetLab::builder().tls(host, Duration::from_millis(20)).start()?;
    /// let tls = lab.tls(host).expect("a TLS host");
    /// // Every handshake from now on takes 15 ms more on the server's side.
    /// tls.set_handshake_work(Duration::from_millis(15));
    /// // Connect with `lab.tls_identity().unwrap().client_config(&[])` …
    /// # Ok(()) }
    /// ```
    pub fn tls(&self, ip: IpAddr) -> Option<&TlsHost> {
        (self.tls_hosts.iter()).find_map(|(host, tls)| (*host == ip).then_some(tls))
    }

    /// The identity the lab's TLS hosts present, for a client to trust
    /// ([`TlsIdentity::client_config`]); `None` if the lab has no TLS host. Its server
    /// certificate is valid for every name of the lab's zone one label deep, such as
    /// `www.lab.test`.
    pub fn tls_identity(&self) -> Option<&TlsIdentity> {
        self.tls.as_ref().map(LabTls::identity)
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    use rustls::client::Resumption;
    use rustls::ClientConfig;

    use super::*;
    use crate::netns::{available, scenario::v4, HostSpec};
    use crate::testing::{connect_tls, PROMPT};
    use crate::LAB_ALPN;

    /// A TLS host completes full handshakes after its RTT for TCP, one more per round trip
    /// of the handshake (one for TLS 1.3, two for TLS 1.2), and its server work; an alive
    /// host of the same lab has no TLS host.
    #[test]
    fn a_tls_host_handshakes_after_its_round_trips_and_server_work() {
        if let Err(reason) = available() {
            println!("skipped: {reason}");
            return;
        }
        let rtt = Duration::from_millis(30);
        let lab = NetLab::builder()
            .tls(v4(1), rtt)
            .alive(v4(2), rtt)
            .start()
            .unwrap();
        assert!(lab.tls(v4(2)).is_none());
        let host = lab.tls(v4(1)).expect("a TLS host");
        let identity = lab.tls_identity().expect("an identity");
        let tls13 = identity.client_config(&LAB_ALPN);
        let tls12 = identity
            .client_config_with_versions(&[&rustls::version::TLS12], &LAB_ALPN)
            .unwrap();
        let addr = SocketAddr::new(v4(1), lab.port());
        let handshake = |config: ClientConfig| {
            let timed = lab.run_client(move || async move {
                let start = Instant::now();
                let tls = connect_tls(addr, "www.lab.test", config).await?;
                let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                Ok::<_, io::Error>((start.elapsed(), alpn))
            });
            timed.expect("the client thread runs").unwrap()
        };

        let work = Duration::from_millis(20);
        for (mut config, round_trips) in [(tls13, 2), (tls12, 3)] {
            // Full handshakes only: a resumed TLS 1.2 handshake takes one round trip.
            config.resumption = Resumption::disabled();
            for work in [Duration::ZERO, work] {
                host.set_handshake_work(work);
                let (elapsed, alpn) = handshake(config.clone());
                let least = rtt * round_trips + work;
                assert!(elapsed >= least && elapsed < least + PROMPT, "{elapsed:?}");
                assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
            }
        }
        assert_eq!(lab.tls(v4(1)).unwrap().accepted(), 4);
        assert_eq!(lab.hosts[0].1, HostSpec::Tls(rtt));
    }
}

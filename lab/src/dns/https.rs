//! [`Https`]: an HTTPS record (RFC 9460) for a [`DnsServer`](super::DnsServer) to serve.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_server::proto::rr::rdata::svcb::{
    Alpn, EchConfigList, IpHint, SvcParamKey, SvcParamValue, SVCB,
};
use hickory_server::proto::rr::rdata::{A, AAAA, HTTPS};
use hickory_server::proto::rr::{Name, RData};

/// An HTTPS resource record (RFC 9460), for [`DnsServerBuilder::https`]: an alias to
/// another name, or a service endpoint with its priority, target, port, ALPN set, address
/// hints and ECH configuration.
///
/// ```
/// use connie_lab::Https;
/// // example.lab.test. HTTPS 1 . alpn=h2 port=8443 ipv4hint=127.0.0.1
/// let here = Https::service(1, ".")
///     .alpn(["h2"])
///     .port(8443)
///     .ipv4_hint(["127.0.0.1".parse().unwrap()]);
/// // example.lab.test. HTTPS 0 svc.lab.test.
/// let there = Https::alias("svc");
/// # drop((here, there));
/// ```
///
/// [`DnsServerBuilder::https`]: super::DnsServerBuilder::https
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Https {
    /// Made by [`alias`](Self::alias); a service's priority 0 is an error.
    alias: bool,
    priority: u16,
    pub(super) target: String,
    params: Vec<(SvcParamKey, SvcParamValue)>,
}

impl Https {
    /// AliasMode (priority 0): the service is served under `target` ("`.`": not at all).
    ///
    /// A name relative to the zone's origin (`"svc"`) or absolute (`"svc.lab.test."`).
    pub fn alias(target: &str) -> Https {
        Https {
            alias: true,
            priority: 0,
            target: target.to_owned(),
            params: Vec::new(),
        }
    }

    /// ServiceMode: a service endpoint of priority `priority` (lower first) at `target`
    /// ("`.`": the record's own name).
    ///
    /// A priority of 0 is AliasMode's: [`start`](super::DnsServerBuilder::start) refuses
    /// it with `InvalidInput`; use [`alias`](Self::alias).
    pub fn service(priority: u16, target: &str) -> Https {
        Https {
            alias: false,
            priority,
            target: target.to_owned(),
            params: Vec::new(),
        }
    }

    /// The `port` parameter: the endpoint listens on `port`, not the authority's.
    pub fn port(self, port: u16) -> Https {
        self.param(SvcParamKey::Port, SvcParamValue::Port(port))
    }

    /// The `alpn` parameter: the protocols the endpoint speaks besides the default
    /// (`http/1.1`), in order of preference.
    pub fn alpn<'a>(self, ids: impl IntoIterator<Item = &'a str>) -> Https {
        let ids = ids.into_iter().map(str::to_owned).collect();
        self.param(SvcParamKey::Alpn, SvcParamValue::Alpn(Alpn(ids)))
    }

    /// The `no-default-alpn` parameter: the endpoint speaks only its `alpn` protocols.
    pub fn no_default_alpn(self) -> Https {
        self.param(SvcParamKey::NoDefaultAlpn, SvcParamValue::NoDefaultAlpn)
    }

    /// The `ipv4hint` parameter: addresses a client may try before its `A` lookup answers.
    pub fn ipv4_hint(self, addrs: impl IntoIterator<Item = Ipv4Addr>) -> Https {
        let hint = IpHint(addrs.into_iter().map(A).collect());
        self.param(SvcParamKey::Ipv4Hint, SvcParamValue::Ipv4Hint(hint))
    }

    /// The `ipv6hint` parameter: addresses a client may try before its `AAAA` lookup
    /// answers.
    pub fn ipv6_hint(self, addrs: impl IntoIterator<Item = Ipv6Addr>) -> Https {
        let hint = IpHint(addrs.into_iter().map(AAAA).collect());
        self.param(SvcParamKey::Ipv6Hint, SvcParamValue::Ipv6Hint(hint))
    }

    /// The `ech` parameter: `config_list`, a wire-format `ECHConfigList` (RFC 9849), as
    /// is: the server checks nothing in it.
    pub fn ech(self, config_list: impl Into<Vec<u8>>) -> Https {
        let list = EchConfigList(config_list.into());
        self.param(
            SvcParamKey::EchConfigList,
            SvcParamValue::EchConfigList(list),
        )
    }

    /// Sets `key` to `value`, replacing an earlier value, keeping the keys in ascending
    /// order as RFC 9460 §2.2 requires of the wire format.
    fn param(mut self, key: SvcParamKey, value: SvcParamValue) -> Https {
        self.params.retain(|(k, _)| *k != key);
        let at = self.params.partition_point(|(k, _)| *k < key);
        self.params.insert(at, (key, value));
        self
    }

    /// Why the record cannot be served, if it cannot: a service of priority 0, or an alias
    /// with parameters (RFC 9460 §2.4.2 has clients ignore them; a test meaning one
    /// thing would be serving another).
    pub(super) fn fault(&self) -> Option<&'static str> {
        if self.alias && !self.params.is_empty() {
            Some("an alias (priority 0) takes no parameters")
        } else if !self.alias && self.priority == 0 {
            Some("priority 0 is AliasMode's: use Https::alias")
        } else {
            None
        }
    }

    /// The record's data, its target being `target` (resolved against the origin).
    pub(super) fn rdata(&self, target: Name) -> RData {
        RData::HTTPS(HTTPS(SVCB::new(self.priority, target, self.params.clone())))
    }
}

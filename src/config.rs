//! [`Config`]: how a connector runs each of its races.

use std::time::Duration;

use crate::dns::https::HttpsQuery;
use crate::policy::Policy;
use crate::{Connectivity, IpFamily, Schedule};

/// Everything a race needs to know about how to run, set on the connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    pub(crate) schedule: Schedule,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) total_timeout: Option<Duration>,
    /// Go's partial deadline: each attempt gets the time left divided by the addresses
    /// left (at least [`MIN_PARTIAL_DEADLINE`](crate::schedule::timing::MIN_PARTIAL_DEADLINE)).
    pub(crate) partial_deadlines: bool,
    pub(crate) max_concurrent: usize,
    /// Attempts racing to one host and port at once across the connector's races, beside
    /// each race's first.
    pub(crate) attempts_per_host: Option<usize>,
    /// Races by name follow a cold one to their destination, and wait for one in flight
    /// to a host that speaks HTTP/2.
    pub(crate) coordinate: bool,
    pub(crate) max_addresses: usize,
    pub(crate) policy: Option<Policy>,
    /// Addresses given as a list are attempted in the order given: no sorting, no
    /// interleaving of the families.
    pub(crate) keep_given_order: bool,
    /// The families looked up and dialed.
    pub(crate) ip_family: IpFamily,
    /// How the families this host can reach are told.
    pub(crate) connectivity: Connectivity,
    /// Whether a race to a name asks for its HTTPS records too; `None` for the default:
    /// for `https` and `wss` URIs through a TLS dialer (`https.alpn` is set).
    pub(crate) https_records: Option<bool>,
    /// What a race that asks for HTTPS records can make of their endpoints.
    pub(crate) https: HttpsQuery,
}

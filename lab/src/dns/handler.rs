//! The request handler of a [`DnsServer`](super::DnsServer): per-record-type delays in
//! front of hickory's catalog, and a count of the queries of each type.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::Catalog;

use super::RecordType;

/// How many queries of each record type a server received, shared with its handle.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueryCounts(Arc<Mutex<HashMap<RecordType, usize>>>);

impl QueryCounts {
    /// Queries of `rtype` received so far.
    pub(crate) fn of(&self, rtype: RecordType) -> usize {
        let counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(&rtype).copied().unwrap_or(0)
    }

    fn count(&self, request: &Request) {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for query in request.queries.queries() {
            *counts.entry(query.query_type()).or_default() += 1;
        }
    }
}

/// Counts each query, sleeps per query record type, then lets the catalog answer.
pub(super) struct DelayingHandler {
    pub(super) catalog: Catalog,
    pub(super) delays: HashMap<RecordType, Duration>,
    pub(super) counts: QueryCounts,
}

impl DelayingHandler {
    fn delay_for(&self, request: &Request) -> Option<Duration> {
        request
            .queries
            .queries()
            .iter()
            .filter_map(|q| self.delays.get(&q.query_type()).copied())
            .max()
    }
}

// `RequestHandler` is an `#[async_trait]` trait; this is the signature that macro produces,
// written out so the crate does not need `async-trait` itself.
impl RequestHandler for DelayingHandler {
    fn handle_request<'life0, 'life1, 'async_trait, R, T>(
        &'life0 self,
        request: &'life1 Request,
        response_handle: R,
    ) -> Pin<Box<dyn Future<Output = ResponseInfo> + Send + 'async_trait>>
    where
        R: 'async_trait + ResponseHandler,
        T: 'async_trait + Time,
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            self.counts.count(request);
            if let Some(delay) = self.delay_for(request) {
                tokio::time::sleep(delay).await;
            }
            self.catalog
                .handle_request::<R, T>(request, response_handle)
                .await
        })
    }
}

//! The request handler of a [`DnsServer`](super::DnsServer): per-record-type delays in
//! front of hickory's catalog.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::Catalog;

use super::RecordType;

/// Sleeps per query record type, then lets the catalog answer.
pub(super) struct DelayingHandler {
    pub(super) catalog: Catalog,
    pub(super) delays: HashMap<RecordType, Duration>,
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
            if let Some(delay) = self.delay_for(request) {
                tokio::time::sleep(delay).await;
            }
            self.catalog
                .handle_request::<R, T>(request, response_handle)
                .await
        })
    }
}

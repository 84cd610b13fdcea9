//! A fake receiver of Balagh's signed webhooks, written as a careful receiver should be: it
//! verifies each request with `balagh_notify::webhook::verify` (401 naming the problem when it
//! fails), and deduplicates on `Balagh-Delivery` (a repeat is answered 200 but not counted again).

use crate::server::{FakeServer, Faults, Injected};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use balagh_notify::webhook::{DEFAULT_TOLERANCE, DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Default)]
struct Received {
    delivery_ids: HashSet<String>,
    /// Unique deliveries in arrival order: their id and body.
    deliveries: Vec<(String, Value)>,
}

#[derive(Debug)]
struct ReceiverState {
    secret: String,
    tolerance: Duration,
    requests: AtomicU64,
    refused: AtomicU64,
    received: Mutex<Received>,
}

/// A running webhook receiver; dropping it stops the server.
#[derive(Debug)]
pub struct FakeWebhookReceiver {
    server: FakeServer,
    state: Arc<ReceiverState>,
}

impl FakeWebhookReceiver {
    /// A receiver sharing `secret` with Balagh, accepting timestamps within 5 minutes of its
    /// clock, on 127.0.0.1 on a free port. It takes POSTs on any path.
    pub async fn start(secret: &str) -> FakeWebhookReceiver {
        let state = Arc::new(ReceiverState {
            secret: secret.to_owned(),
            tolerance: DEFAULT_TOLERANCE,
            requests: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            received: Mutex::new(Received::default()),
        });
        let router = Router::new().route("/", post(receive)).route("/{*path}", post(receive)).with_state(state.clone());
        let server = FakeServer::start(router, render_failure).await;
        FakeWebhookReceiver { server, state }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// An endpoint URL on this receiver: `http://127.0.0.1:<port>/hooks/balagh`.
    pub fn url(&self) -> String {
        format!("{}/hooks/balagh", self.server.base_url())
    }

    pub fn set_faults(&self, faults: Faults) {
        self.server.set_faults(faults);
    }

    pub fn faults(&self) -> Faults {
        self.server.faults()
    }

    /// Every request that reached the receiver past the injected failures: accepted, repeated
    /// or refused.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Requests refused for their signature, timestamp or headers.
    pub fn refused(&self) -> u64 {
        self.state.refused.load(Ordering::Relaxed)
    }

    /// Unique deliveries accepted (repeats of a `Balagh-Delivery` not counted).
    pub fn deliveries(&self) -> usize {
        self.state.received.lock().expect("received lock").deliveries.len()
    }

    /// The delivery ids accepted, in arrival order.
    pub fn delivery_ids(&self) -> Vec<String> {
        self.state.received.lock().expect("received lock").deliveries.iter().map(|(id, _)| id.clone()).collect()
    }

    /// The bodies of the unique deliveries, in arrival order.
    pub fn bodies(&self) -> Vec<Value> {
        self.state.received.lock().expect("received lock").deliveries.iter().map(|(_, body)| body.clone()).collect()
    }
}

fn render_failure(injected: Injected) -> Response {
    match injected {
        Injected::Outage => "receiver down for maintenance".into_response(),
        Injected::ServerError => "receiver failed".into_response(),
        Injected::RateLimited => "too many requests".into_response(),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

async fn receive(State(state): State<Arc<ReceiverState>>, headers: HeaderMap, body: Bytes) -> Response {
    state.requests.fetch_add(1, Ordering::Relaxed);
    let refuse = |status: StatusCode, reason: String| {
        state.refused.fetch_add(1, Ordering::Relaxed);
        (status, reason).into_response()
    };
    if let Err(error) =
        verify(&state.secret, header(&headers, TIMESTAMP_HEADER), header(&headers, SIGNATURE_HEADER), &body, jiff::Timestamp::now(), state.tolerance)
    {
        return refuse(StatusCode::UNAUTHORIZED, error.to_string());
    }
    let Some(delivery) = header(&headers, DELIVERY_HEADER).filter(|delivery| !delivery.is_empty()) else {
        return refuse(StatusCode::BAD_REQUEST, format!("missing {DELIVERY_HEADER} header"));
    };
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(error) => return refuse(StatusCode::BAD_REQUEST, format!("the body is not json: {error}")),
    };
    let mut received = state.received.lock().expect("received lock");
    if !received.delivery_ids.insert(delivery.to_owned()) {
        return (StatusCode::OK, "already received").into_response();
    }
    received.deliveries.push((delivery.to_owned(), body));
    (StatusCode::OK, "received").into_response()
}

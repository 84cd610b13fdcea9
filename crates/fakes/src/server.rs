//! What every HTTP fake shares: an axum server on 127.0.0.1 on a free port, shut down when its
//! handle is dropped, and failure injection that can be changed while it runs (an outage, a random
//! share of 500s and 429s, a delay), decided before the fake's own handler runs so that a failed
//! request is answered like the real service's failure and creates nothing.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// The failures a fake injects. The default injects none.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Faults {
    /// Answer every request 503, as during an outage.
    pub outage: bool,
    /// The share of requests (0.0 to 1.0), chosen at random, answered with `failure`.
    pub fail_ratio: f64,
    /// What those requests are answered.
    pub failure: Failure,
    /// Wait this long before answering anything (to make clients time out).
    pub delay: Option<Duration>,
}

impl Faults {
    /// No failures.
    pub fn none() -> Faults {
        Faults::default()
    }

    /// Every request answered 503.
    pub fn outage() -> Faults {
        Faults { outage: true, ..Faults::default() }
    }

    /// A share of requests answered with `failure`.
    pub fn failing(fail_ratio: f64, failure: Failure) -> Faults {
        Faults { fail_ratio, failure, ..Faults::default() }
    }

    /// Every request answered after `delay`.
    pub fn delayed(delay: Duration) -> Faults {
        Faults { delay: Some(delay), ..Faults::default() }
    }
}

/// How the failing share of requests is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Failure {
    /// Half 500, half 429 with `Retry-After: 1`, at random.
    #[default]
    Mixed,
    /// 500.
    ServerError,
    /// 429 with `Retry-After: 1`.
    RateLimited,
}

/// An injected failure, which each fake renders in its service's error shape; the server sets the
/// status (and `Retry-After: 1` on `RateLimited`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// 503.
    Outage,
    /// 500.
    ServerError,
    /// 429.
    RateLimited,
}

/// How a fake renders an injected failure.
pub(crate) type FailureRenderer = fn(Injected) -> Response;

/// A running fake's server: its address and its fault switch. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeServer {
    address: SocketAddr,
    faults: Arc<Mutex<Faults>>,
    _shutdown: oneshot::Sender<()>,
}

impl FakeServer {
    /// Serves `router` (with failure injection in front of it) on 127.0.0.1 on a free port.
    ///
    /// # Panics
    /// When no port on 127.0.0.1 can be bound, which leaves a test nothing to do.
    pub(crate) async fn start(router: Router, render: FailureRenderer) -> FakeServer {
        let faults = Arc::new(Mutex::new(Faults::default()));
        let router = router.layer(middleware::from_fn_with_state((faults.clone(), render), inject));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a fake binds a free port on 127.0.0.1");
        let address = listener.local_addr().expect("a bound listener has an address");
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serving = axum::serve(listener, router).with_graceful_shutdown(async move {
                // Resolves when the handle (holding the sender) is dropped.
                let _ = stopped.await;
            });
            if let Err(error) = serving.await {
                tracing::warn!(target: "balagh::fakes", "fake server on {address} stopped: {error}");
            }
        });
        FakeServer { address, faults, _shutdown: shutdown }
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Changes the injected failures from the next request on.
    pub fn set_faults(&self, faults: Faults) {
        *self.faults.lock().expect("faults lock") = faults;
    }

    pub fn faults(&self) -> Faults {
        *self.faults.lock().expect("faults lock")
    }
}

async fn inject(State((faults, render)): State<(Arc<Mutex<Faults>>, FailureRenderer)>, request: Request, next: Next) -> Response {
    let faults = *faults.lock().expect("faults lock");
    if let Some(delay) = faults.delay {
        tokio::time::sleep(delay).await;
    }
    let injected = if faults.outage {
        Some(Injected::Outage)
    } else if faults.fail_ratio > 0.0 && rand::random::<f64>() < faults.fail_ratio {
        Some(match faults.failure {
            Failure::ServerError => Injected::ServerError,
            Failure::RateLimited => Injected::RateLimited,
            Failure::Mixed if rand::random::<bool>() => Injected::ServerError,
            Failure::Mixed => Injected::RateLimited,
        })
    } else {
        None
    };
    match injected {
        None => next.run(request).await,
        Some(Injected::RateLimited) => (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")], render(Injected::RateLimited)).into_response(),
        Some(Injected::ServerError) => (StatusCode::INTERNAL_SERVER_ERROR, render(Injected::ServerError)).into_response(),
        Some(Injected::Outage) => (StatusCode::SERVICE_UNAVAILABLE, render(Injected::Outage)).into_response(),
    }
}

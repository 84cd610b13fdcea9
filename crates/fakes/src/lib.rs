//! Fake outside services for tests and benchmarks: each listens on 127.0.0.1 on a free port,
//! checks requests the way the real service does (credentials, signatures, required fields),
//! answers with the real service's success and error shapes, records what it accepted, and can be
//! told to fail (an outage, a random share of failures, rate limiting with Retry-After). `caller`
//! is the other way round: a provider calling in, playing a phone call against Balagh's webhooks.

pub mod caller;
pub mod server;
pub mod smtp;
pub mod twilio;
pub mod webhook;
pub mod whatsapp;

pub use caller::Caller;
pub use server::{Failure, Faults};
pub use twilio::FakeTwilio;
pub use webhook::FakeWebhookReceiver;
pub use whatsapp::FakeWhatsapp;

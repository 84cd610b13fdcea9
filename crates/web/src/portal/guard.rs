//! What keeps the portal's forms safe to expose: the CSRF token (a random cookie that every form
//! must repeat, compared in constant time; the cookie is SameSite, so another site can neither
//! send it nor read it) and the rate limits on opening reports, on tracking and on marking a
//! place from a link, kept per client address, per phone and per ticket (so the last four digits
//! cannot be guessed by trying).

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, header};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::RngCore;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use subtle::ConstantTimeEq;

/// The cookie holding the CSRF token.
pub const CSRF_COOKIE: &str = "balagh_csrf";

/// How many requests of each kind are allowed per hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub reports_per_address: u32,
    pub reports_per_phone: u32,
    pub tracks_per_address: u32,
    pub tracks_per_ticket: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self { reports_per_address: 30, reports_per_phone: 10, tracks_per_address: 60, tracks_per_ticket: 20 }
    }
}

/// One hourly quota per key (GCRA: a burst of `per_hour`, then one every `3600 / per_hour` s).
struct Limiter(DefaultKeyedRateLimiter<String>);

impl Limiter {
    fn new(per_hour: u32) -> Self {
        Self(RateLimiter::keyed(Quota::per_hour(NonZeroU32::new(per_hour).unwrap_or(NonZeroU32::MIN))))
    }

    fn allows(&self, key: &str) -> bool {
        // Forget keys that are back to a full quota once the table grows, so it stays small.
        if self.0.len() > 50_000 {
            self.0.retain_recent();
        }
        self.0.check_key(&key.to_owned()).is_ok()
    }
}

/// The portal's rate limiters, shared by every request of this process.
pub struct Guards {
    reports_per_address: Limiter,
    reports_per_phone: Limiter,
    tracks_per_address: Limiter,
    tracks_per_ticket: Limiter,
}

/// What a rate limit is counted by.
pub enum Attempt<'a> {
    Report { address: &'a str, phone: &'a str },
    Track { address: &'a str, ticket: &'a str },
    Place { address: &'a str },
}

impl Guards {
    pub fn new(limits: &RateLimits) -> Self {
        Self {
            reports_per_address: Limiter::new(limits.reports_per_address),
            reports_per_phone: Limiter::new(limits.reports_per_phone),
            tracks_per_address: Limiter::new(limits.tracks_per_address),
            tracks_per_ticket: Limiter::new(limits.tracks_per_ticket),
        }
    }

    /// Whether this attempt is within every limit that applies to it (each limit counts it).
    pub fn allows(&self, attempt: Attempt<'_>) -> bool {
        let allowed = match attempt {
            Attempt::Report { address, phone } => {
                let by_address = self.reports_per_address.allows(address);
                // One phone however it is typed (05…, +9665…, Arabic digits, spaces).
                let phone = match balagh_domain::PhoneNumber::parse("phone", phone) {
                    Ok(parsed) => parsed.as_str().to_owned(),
                    Err(_) => digits_only(phone),
                };
                by_address && (phone.is_empty() || self.reports_per_phone.allows(&phone))
            }
            Attempt::Track { address, ticket } => {
                let ticket = digits_only(ticket);
                self.tracks_per_address.allows(address) && self.tracks_per_ticket.allows(&ticket)
            }
            // A place marked from a link counts as a lookup by its address: the link's token
            // cannot be guessed, but each try reads the store.
            Attempt::Place { address } => self.tracks_per_address.allows(address),
        };
        if !allowed {
            metrics::counter!("balagh_portal_rate_limited_total").increment(1);
        }
        allowed
    }
}

/// The digits of what was typed (Arabic-Indic ones as ASCII), so one key however it is written.
fn digits_only(text: &str) -> String {
    balagh_domain::digits::to_ascii_digits(text).chars().filter(char::is_ascii_digit).collect()
}

/// The connection's peer address, when the server was started with connection info.
pub struct Peer(pub Option<SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| *peer)))
    }
}

/// The client's address: the connection's peer, or behind a trusted proxy the last address it
/// appended to `X-Forwarded-For`.
pub fn client_address(headers: &HeaderMap, peer: Option<SocketAddr>, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for
        && let Some(forwarded) = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok())
        && let Some(last) = forwarded.rsplit(',').map(str::trim).find(|a| !a.is_empty())
    {
        return last.to_owned();
    }
    peer.map(|peer| peer.ip().to_string()).unwrap_or_else(|| "unknown".into())
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The request's CSRF token, and the `Set-Cookie` value when it has none yet (or a malformed one).
pub fn csrf_token(headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    if let Some(token) = cookie(headers, CSRF_COOKIE).filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit())) {
        return (token.to_owned(), None);
    }
    let token = random_hex();
    let set = HeaderValue::from_str(&format!("{CSRF_COOKIE}={token}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax")).ok();
    (token, set)
}

/// Whether a form's token is the one in its cookie.
pub fn csrf_ok(headers: &HeaderMap, submitted: &str) -> bool {
    cookie(headers, CSRF_COOKIE).is_some_and(|token| token.len() == 32 && bool::from(token.as_bytes().ct_eq(submitted.as_bytes())))
}

/// 16 random bytes as hex: CSRF tokens and a form's idempotency key.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        headers
    }

    #[test]
    fn the_token_must_be_the_cookie_s_own() {
        let token = "0123456789abcdef0123456789abcdef";
        let with = headers(&format!("balagh_lang=ar; {CSRF_COOKIE}={token}"));
        assert!(csrf_ok(&with, token));
        assert!(!csrf_ok(&with, "0123456789abcdef0123456789abcdee"));
        assert!(!csrf_ok(&with, ""));
        assert!(!csrf_ok(&HeaderMap::new(), token));
        assert_eq!(csrf_token(&with), (token.to_owned(), None));
        let (fresh, set) = csrf_token(&headers(&format!("{CSRF_COOKIE}=short")));
        assert_eq!(fresh.len(), 32);
        assert!(set.is_some_and(|v| v.to_str().unwrap().contains(&fresh)));
    }

    #[test]
    fn limits_count_per_key_and_every_limit_applies() {
        let guards = Guards::new(&RateLimits { reports_per_address: 3, reports_per_phone: 2, tracks_per_address: 2, tracks_per_ticket: 1 });
        assert!(guards.allows(Attempt::Report { address: "a", phone: "0551234567" }));
        assert!(guards.allows(Attempt::Report { address: "a", phone: "٠٥٥١٢٣٤٥٦٧" }));
        assert!(!guards.allows(Attempt::Report { address: "b", phone: "+966 55 123 4567" }), "the same phone, typed three ways");
        assert!(guards.allows(Attempt::Report { address: "a", phone: "0550000000" }));
        assert!(!guards.allows(Attempt::Report { address: "a", phone: "0551111111" }), "the address's fourth report");
        assert!(guards.allows(Attempt::Track { address: "a", ticket: "1000016" }));
        assert!(!guards.allows(Attempt::Track { address: "c", ticket: "1000016" }), "the same ticket from elsewhere");
        assert!(guards.allows(Attempt::Track { address: "a", ticket: "1000024" }));
        assert!(!guards.allows(Attempt::Track { address: "a", ticket: "1000032" }), "the address's third track");
        assert!(guards.allows(Attempt::Place { address: "d" }));
        assert!(guards.allows(Attempt::Track { address: "d", ticket: "1000040" }));
        assert!(!guards.allows(Attempt::Place { address: "d" }), "places and tracks share the address's lookups");
    }

    #[test]
    fn the_address_is_the_peer_unless_a_trusted_proxy_says_otherwise() {
        let mut with_header = HeaderMap::new();
        with_header.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9, 198.51.100.7"));
        let peer = "10.0.0.2:4000".parse::<SocketAddr>().ok();
        assert_eq!(client_address(&with_header, peer, false), "10.0.0.2");
        assert_eq!(client_address(&with_header, peer, true), "198.51.100.7");
        assert_eq!(client_address(&HeaderMap::new(), None, true), "unknown");
    }
}

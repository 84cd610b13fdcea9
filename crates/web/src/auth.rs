//! Who is calling: an API key in `Authorization: Bearer …` (or `X-Api-Key`) stands for an actor with
//! a role; without one the caller is the public (a beneficiary).

use crate::AppState;
use crate::error::HttpError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use balagh_domain::event::Actor;

/// The caller, if a valid key was presented; `None` for the public.
pub struct Caller(pub Option<Actor>);

/// A caller that must present a valid key.
pub struct StaffCaller(pub Actor);

fn presented_key(parts: &Parts) -> Option<&str> {
    let bearer = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
    bearer.or_else(|| parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match presented_key(parts) {
            None => Ok(Caller(None)),
            Some(key) => match state.app.authenticate(key).await? {
                Some(actor) => Ok(Caller(Some(actor))),
                None => Err(HttpError::Unauthorized("the API key is unknown or revoked".into())),
            },
        }
    }
}

impl FromRequestParts<AppState> for StaffCaller {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await? {
            Caller(Some(actor)) => Ok(StaffCaller(actor)),
            Caller(None) => Err(HttpError::Unauthorized("this endpoint needs an API key: Authorization: Bearer <key>".into())),
        }
    }
}

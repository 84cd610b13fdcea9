//! One error type for the JSON API. Every error has a stable machine-readable `code`, a human
//! `message`, and for input problems the list of fields at fault. Server errors are logged with
//! their cause and shown without internals.

use axum::Json;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use balagh_app::AppError;
use balagh_domain::error::FieldError;
use balagh_domain::lifecycle::TransitionError;
use serde::Serialize;

#[derive(Debug)]
pub enum HttpError {
    /// 400: the request cannot be read (malformed JSON, form or query).
    BadRequest { code: &'static str, message: String },
    /// 401: a key is needed and none (or an unknown one) was given.
    Unauthorized(String),
    /// 403: the caller may not do this.
    Forbidden { code: &'static str, message: String },
    /// 404
    NotFound(String),
    /// 409: the request conflicts with the report's state or an earlier request.
    Conflict { code: &'static str, message: String },
    /// 413
    PayloadTooLarge(String),
    /// 415
    UnsupportedMediaType(String),
    /// 422: the request is readable but wrong; every field at fault is listed.
    Unprocessable(Vec<FieldError>),
    /// 503: try again.
    Unavailable(String),
    /// 500: logged with its cause, shown without it.
    Internal(String),
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code such as `unknown_service` or `illegal_transition`.
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
    /// For input errors: each field at fault.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldErrorBody>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FieldErrorBody {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl HttpError {
    pub fn status(&self) -> StatusCode {
        match self {
            HttpError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            HttpError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            HttpError::Forbidden { .. } => StatusCode::FORBIDDEN,
            HttpError::NotFound(_) => StatusCode::NOT_FOUND,
            HttpError::Conflict { .. } => StatusCode::CONFLICT,
            HttpError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            HttpError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            HttpError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            HttpError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            HttpError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn detail(&self) -> ErrorDetail {
        let plain = |code: &str, message: &str| ErrorDetail { code: code.into(), message: message.into(), fields: vec![] };
        match self {
            HttpError::BadRequest { code, message } | HttpError::Forbidden { code, message } | HttpError::Conflict { code, message } => plain(code, message),
            HttpError::Unauthorized(message) => plain("unauthorized", message),
            HttpError::NotFound(message) => plain("not_found", message),
            HttpError::PayloadTooLarge(message) => plain("body_too_large", message),
            HttpError::UnsupportedMediaType(message) => plain("unsupported_media_type", message),
            HttpError::Unprocessable(fields) => ErrorDetail {
                code: fields.first().map(|f| f.code).unwrap_or("invalid_input").into(),
                message: fields.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
                fields: fields.iter().map(|f| FieldErrorBody { field: f.field.clone(), code: f.code.into(), message: f.message.clone() }).collect(),
            },
            HttpError::Unavailable(message) => plain("unavailable", message),
            HttpError::Internal(_) => plain("internal", "something went wrong on our side; the request may be retried"),
        }
    }

    pub fn field(error: FieldError) -> Self {
        HttpError::Unprocessable(vec![error])
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        if let HttpError::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        (self.status(), Json(ErrorBody { error: self.detail() })).into_response()
    }
}

impl From<AppError> for HttpError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Validation(errors) => HttpError::Unprocessable(errors.0),
            AppError::Invalid(field) => HttpError::Unprocessable(vec![field]),
            AppError::NotFound { what } => HttpError::NotFound(format!("{what} not found")),
            AppError::Transition(TransitionError::Illegal { .. }) => HttpError::Conflict { code: "illegal_transition", message: error_message(&error) },
            AppError::Transition(ref t) => HttpError::Forbidden { code: t.code(), message: error_message(&error) },
            AppError::Forbidden { code, message } => HttpError::Forbidden { code, message },
            AppError::Conflict { code, message } => HttpError::Conflict { code, message },
            AppError::Store(balagh_app::StoreError::Contention) => HttpError::Unavailable(error.to_string()),
            AppError::Store(store) => HttpError::Internal(store.to_string()),
        }
    }
}

fn error_message(error: &AppError) -> String {
    error.to_string()
}

impl From<JsonRejection> for HttpError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => HttpError::UnsupportedMediaType("send the body as JSON with Content-Type: application/json".into()),
            JsonRejection::BytesRejection(bytes) => bytes_rejection(bytes),
            JsonRejection::JsonDataError(e) => HttpError::BadRequest { code: "invalid_json_field", message: e.body_text() },
            JsonRejection::JsonSyntaxError(e) => HttpError::BadRequest { code: "malformed_json", message: e.body_text() },
            other => HttpError::BadRequest { code: "malformed_json", message: other.body_text() },
        }
    }
}

pub fn bytes_rejection(rejection: BytesRejection) -> HttpError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        HttpError::PayloadTooLarge("the request body is larger than this server accepts".into())
    } else {
        HttpError::BadRequest { code: "unreadable_body", message: rejection.body_text() }
    }
}

impl From<QueryRejection> for HttpError {
    fn from(rejection: QueryRejection) -> Self {
        HttpError::BadRequest { code: "malformed_query", message: rejection.body_text() }
    }
}

/// 404 for paths nothing serves.
pub async fn not_found_fallback(uri: axum::http::Uri) -> HttpError {
    HttpError::NotFound(format!("nothing is served at {}", uri.path()))
}

/// A panic in a handler becomes a logged 500, never a dropped connection.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    HttpError::Internal("handler panicked".into()).into_response()
}

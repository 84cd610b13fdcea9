//! What a use case can refuse or fail with, each with a stable machine-readable code.

use balagh_domain::error::{FieldError, ValidationErrors};
use balagh_domain::lifecycle::TransitionError;
use balagh_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input is wrong; every problem is listed.
    #[error("{0}")]
    Validation(ValidationErrors),
    /// One input is wrong.
    #[error("{0}")]
    Invalid(FieldError),
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{0}")]
    Transition(TransitionError),
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{0}")]
    Store(StoreError),
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Validation(errors) => errors.0.first().map(|e| e.code).unwrap_or("invalid_input"),
            AppError::Invalid(error) => error.code,
            AppError::NotFound { .. } => "not_found",
            AppError::Transition(error) => error.code(),
            AppError::Forbidden { code, .. } | AppError::Conflict { code, .. } => code,
            AppError::Store(StoreError::Contention) => "contention",
            AppError::Store(_) => "internal",
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        AppError::NotFound { what: what.into() }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => AppError::not_found("report"),
            StoreError::Conflict(message) => AppError::Conflict { code: "conflict", message },
            other => AppError::Store(other),
        }
    }
}

impl From<ValidationErrors> for AppError {
    fn from(errors: ValidationErrors) -> Self {
        AppError::Validation(errors)
    }
}

impl From<FieldError> for AppError {
    fn from(error: FieldError) -> Self {
        AppError::Invalid(error)
    }
}

impl From<TransitionError> for AppError {
    fn from(error: TransitionError) -> Self {
        match error {
            TransitionError::Invalid(field) => AppError::Invalid(field),
            other => AppError::Transition(other),
        }
    }
}

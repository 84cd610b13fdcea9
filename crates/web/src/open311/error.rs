//! Open311 errors: `[{"code":400,"description":"…"}]` in JSON and
//! `<errors><error><code>400</code><description>…</description></error></errors>` in XML, one entry
//! per problem so a client learns every mistake in one answer. `code` repeats the HTTP status, as
//! the spec's examples do. Server failures are logged with their cause and shown without it.

use super::format::{Document, Format, Value};
use axum::http::StatusCode;
use axum::response::Response;
use balagh_app::{AppError, StoreError};
use balagh_domain::FieldError;

/// One problem, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorItem {
    pub code: StatusCode,
    pub description: String,
}

/// A refused or failed Open311 call: the HTTP status and every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open311Error {
    pub status: StatusCode,
    pub errors: Vec<ErrorItem>,
}

impl Open311Error {
    pub fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Self { status, errors: vec![ErrorItem { code: status, description: description.into() }] }
    }

    /// 400: the input is wrong.
    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, description)
    }

    /// 400 with several problems at once.
    pub fn bad_requests(descriptions: Vec<String>) -> Self {
        let errors = descriptions.into_iter().map(|description| ErrorItem { code: StatusCode::BAD_REQUEST, description }).collect();
        Self { status: StatusCode::BAD_REQUEST, errors }
    }

    /// 403: a valid `api_key` is needed.
    pub fn forbidden(description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, description)
    }

    /// 404: the thing named does not exist here.
    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, description)
    }

    /// One entry per field at fault, each naming its field ("lat: latitude 95 must be …"). An
    /// unknown `service_code` is a 404 as the spec says, unless other fields are also wrong: then
    /// the answer as a whole is a 400 that still lists the unknown service as a 404 entry.
    pub fn fields(fields: &[FieldError]) -> Self {
        let errors: Vec<ErrorItem> = fields
            .iter()
            .map(|field| {
                let code = if field.code == "unknown_service" { StatusCode::NOT_FOUND } else { StatusCode::BAD_REQUEST };
                ErrorItem { code, description: field.to_string() }
            })
            .collect();
        let status = if !errors.is_empty() && errors.iter().all(|e| e.code == StatusCode::NOT_FOUND) { StatusCode::NOT_FOUND } else { StatusCode::BAD_REQUEST };
        Self { status, errors }
    }

    /// Adds the problems of `other`; the status becomes 400 unless both agree.
    pub fn merge(mut self, other: Open311Error) -> Self {
        if self.status != other.status {
            self.status = StatusCode::BAD_REQUEST;
        }
        self.errors.extend(other.errors);
        self
    }

    pub fn document(&self) -> Document {
        let entries = self
            .errors
            .iter()
            .map(|error| Value::Record(vec![("code", Value::integer(i64::from(error.code.as_u16()))), ("description", Value::text(error.description.clone()))]))
            .collect();
        Document::list("errors", "error", entries)
    }

    pub fn respond(&self, format: Format) -> Response {
        self.document().respond(format, self.status)
    }
}

impl From<AppError> for Open311Error {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Validation(errors) => Open311Error::fields(&errors.0),
            AppError::Invalid(field) => Open311Error::fields(std::slice::from_ref(&field)),
            AppError::NotFound { what } => Open311Error::not_found(format!("{what} not found")),
            AppError::Forbidden { message, .. } => Open311Error::forbidden(message),
            AppError::Conflict { message, .. } => Open311Error::new(StatusCode::CONFLICT, message),
            AppError::Transition(transition) => Open311Error::new(StatusCode::CONFLICT, transition.to_string()),
            AppError::Store(StoreError::Contention) => {
                Open311Error::new(StatusCode::SERVICE_UNAVAILABLE, "the server is busy; please retry the request shortly")
            }
            AppError::Store(cause) => {
                tracing::error!(%cause, "open311 request failed");
                Open311Error::new(StatusCode::INTERNAL_SERVER_ERROR, "something went wrong on our side; the request may be retried later")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use balagh_domain::ValidationErrors;
    use expect_test::expect;

    fn several() -> Open311Error {
        let mut errors = ValidationErrors::default();
        errors.add("lat", "latitude_out_of_range", "latitude 95 must be between -90 and 90");
        errors.add("phone", "invalid_phone", "'12' is not a valid phone number");
        Open311Error::from(AppError::Validation(errors))
    }

    #[test]
    fn every_field_error_becomes_one_entry_in_xml() {
        expect![[r#"
            <?xml version="1.0" encoding="UTF-8"?>
            <errors>
              <error>
                <code>400</code>
                <description>lat: latitude 95 must be between -90 and 90</description>
              </error>
              <error>
                <code>400</code>
                <description>phone: &apos;12&apos; is not a valid phone number</description>
              </error>
            </errors>
        "#]]
        .assert_eq(&several().document().render(Format::Xml));
    }

    #[test]
    fn every_field_error_becomes_one_entry_in_json() {
        expect![[r#"
            [
              {
                "code": 400,
                "description": "lat: latitude 95 must be between -90 and 90"
              },
              {
                "code": 400,
                "description": "phone: '12' is not a valid phone number"
              }
            ]
        "#]]
        .assert_eq(&several().document().render(Format::Json));
    }

    #[test]
    fn an_unknown_service_alone_is_a_404_and_with_other_problems_a_400() {
        let unknown = FieldError::new("service_code", "unknown_service", "service_code 'moon' is not in the catalogue");
        let bad_lat = FieldError::new("lat", "latitude_out_of_range", "latitude 95 must be between -90 and 90");
        assert_eq!(Open311Error::fields(std::slice::from_ref(&unknown)).status, StatusCode::NOT_FOUND);
        let both = Open311Error::fields(&[unknown, bad_lat]);
        assert_eq!(both.status, StatusCode::BAD_REQUEST);
        assert_eq!(both.errors[0].code, StatusCode::NOT_FOUND);
    }

    #[test]
    fn server_failures_hide_their_cause() {
        let error = Open311Error::from(AppError::Store(StoreError::Database("relation reports does not exist".into())));
        assert_eq!(error.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!error.errors[0].description.contains("relation"));
    }
}

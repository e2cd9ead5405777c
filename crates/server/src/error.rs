//! The one place where errors become HTTP responses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scimitar_core::CoreError;
use scimitar_proto::{ScimError, ScimType};

/// The SCIM media type of every response body.
pub const SCIM_JSON: &str = "application/scim+json";

/// An error answered as a SCIM error object (RFC 7644 §3.12).
#[derive(Debug)]
pub struct ApiError(pub ScimError);

/// What the provisioning log records of an error response.
#[derive(Debug, Clone)]
pub struct ErrorNote {
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

impl ApiError {
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        ApiError(ScimError::new(status, scim_type, detail))
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(401, None, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }
}

impl From<ScimError> for ApiError {
    fn from(err: ScimError) -> Self {
        ApiError(err)
    }
}

impl From<CoreError> for ApiError {
    fn from(err: CoreError) -> Self {
        match err {
            CoreError::NotFound(what) => {
                ApiError::not_found(format!("no such {what} in this tenant"))
            }
            CoreError::Rejected(e) => ApiError(e),
            CoreError::VersionMismatch => ApiError::new(
                412,
                None,
                "the resource has changed: its version does not match If-Match; read it again",
            ),
            CoreError::Contended => ApiError::new(
                409,
                None,
                "the resource is being changed by other requests at the same time; retry",
            ),
            CoreError::Unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::new(
                    503,
                    None,
                    "the service is temporarily unavailable; retry shortly",
                )
            }
            CoreError::Internal(e) => {
                tracing::error!(error = %e, causes = %causes(&*e), "internal error");
                ApiError::new(500, None, "internal error; it has been logged")
            }
        }
    }
}

/// An error's chain of causes, innermost last, for the log.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = Vec::new();
    let mut next = err.source();
    while let Some(cause) = next {
        out.push(cause.to_string());
        next = cause.source();
    }
    out.join(": ")
}

/// Renders a SCIM JSON body with the SCIM media type.
pub fn scim_json<T: serde::Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    // What is rendered here has string keys and no failing `Serialize`,
    // so serialising cannot fail.
    let text = serde_json::to_string(body).unwrap_or_default();
    let mut response = (status, text).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response
}

impl IntoResponse for ApiError {
    fn into_response(mut self) -> Response {
        // A detail may quote what a client sent; it is stored in the
        // provisioning log (PostgreSQL refuses a NUL) and shown to
        // administrators.
        if self.0.detail.chars().any(char::is_control) {
            self.0.detail = scimitar_proto::dialect::printable(&self.0.detail, usize::MAX);
        }
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = scim_json(status, &self.0.to_json());
        match status {
            StatusCode::UNAUTHORIZED => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"scimitar\""),
                );
            }
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response.extensions_mut().insert(ErrorNote {
            scim_type: self.0.scim_type,
            detail: self.0.detail,
        });
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("writing the batch")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    /// An internal error keeps its cause for the log, however deep.
    #[test]
    fn internal_errors_are_logged_with_their_causes() {
        let err = CoreError::Internal(Box::new(Outer(std::io::Error::other("disk on fire"))));
        let CoreError::Internal(inner) = &err else {
            unreachable!()
        };
        assert_eq!(inner.to_string(), "writing the batch");
        assert_eq!(causes(&**inner), "disk on fire");
        let answer = ApiError::from(err);
        assert_eq!(answer.0.status, 500);
        assert!(
            !answer.0.detail.contains("disk"),
            "no cause reaches the client"
        );
    }
}

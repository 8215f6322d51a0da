//! API errors: engine errors mapped to docker's status codes and `{"message": ...}` bodies.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_engine::Error as E;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Engine(#[from] E),
    #[error("{1}")]
    Status(StatusCode, String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn bad(msg: impl Into<String>) -> ApiError {
        ApiError::Status(StatusCode::BAD_REQUEST, msg.into())
    }
    pub fn internal(msg: impl Into<String>) -> ApiError {
        ApiError::Status(StatusCode::INTERNAL_SERVER_ERROR, msg.into())
    }
}

impl From<berth_image::Error> for ApiError {
    fn from(e: berth_image::Error) -> Self {
        ApiError::Engine(E::Image(e))
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (code, msg) = match &self {
            ApiError::Status(c, m) => (*c, m.clone()),
            ApiError::Engine(e) => (
                match e {
                    E::NotFound(_) => StatusCode::NOT_FOUND,
                    E::Conflict(_) | E::State(_) => StatusCode::CONFLICT,
                    E::Invalid(_) => StatusCode::BAD_REQUEST,
                    E::Image(berth_image::Error::ImageNotFound(_)) => StatusCode::NOT_FOUND,
                    E::Net(berth_net::Error::Config(_)) | E::Net(berth_net::Error::Ipam(_)) => {
                        StatusCode::BAD_REQUEST
                    }
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                },
                e.to_string(),
            ),
        };
        (code, axum::Json(serde_json::json!({ "message": msg }))).into_response()
    }
}

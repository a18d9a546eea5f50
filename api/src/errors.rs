//! The JSON body of every error answer, from the admin API and from channels alike.

use serde::{Deserialize, Serialize};

/// The JSON body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// What went wrong, for people.
    pub error: String,
    /// The correlation ID of the failed request, when it reached a service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
}

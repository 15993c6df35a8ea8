//! The media error: bad input (retrying will not help) or a codec failure.

/// A media failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The input cannot be encoded, decoded or read as given (an odd frame size, a truncated
    /// MP4, a PNG that is not one): retrying will not help.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The codec failed on input that should have worked; retrying may help.
    #[error("{0}")]
    Failed(String),
}

/// Result alias for media operations.
pub type MediaResult<T> = Result<T, MediaError>;

//! `POST uploads`: reference images (PNG or JPEG) stored as blobs, to name in a character's
//! `reference_images`. The body is the image itself, with its `Content-Type`.
//!
//! A body over the upload limit (10 MB unless configured) is `413 payload_too_large`; a type
//! other than `image/png` or `image/jpeg`, or bytes that are not what the type says, is
//! `415 unsupported_media_type`; an image that does not decode in full within the pixel budget
//! ([`MAX_SIDE`] pixels a side, [`MAX_DECODED`] bytes decoded) is `422 invalid_image`, with the
//! reason: truncated, a broken checksum, or too large. Only an image that decoded is stored, so a
//! few bytes that declare a huge image cannot reach the stages that read references. An upload
//! that nothing references is kept for 24 hours (`showrunner_engine::UPLOAD_RETENTION`),
//! whatever the grace of a collection, then collected with the other unreferenced blobs. A full
//! disk is `507 insufficient_storage`.
//!
//! An upload belongs to the owner of the key that sent it: `GET uploads/{hash}` serves it back
//! to that owner (and to admin keys, and to everyone on a server without keys) while its upload
//! record is kept; once a series names it, `GET series/{id}/artifacts/{hash}` serves it too.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Serialize;
use serde_json::json;
use showrunner_engine::BlobRef;
use utoipa::ToSchema;

use crate::access::Caller;
use crate::artifacts::{content_hash, not_found, serve};
use crate::blob_answers::{ImageAnswers, RangeHeaders};
use crate::code::ErrorCode;
use crate::envelope::{Envelope, created};
use crate::error::{ApiError, ErrorBody};
use crate::extract::PathParams;
use crate::{AppState, openapi};

/// The upload limit when none is configured: 10 MB.
pub const DEFAULT_UPLOAD_LIMIT: usize = 10 * 1024 * 1024;

/// The widest and tallest image accepted, in pixels.
pub(crate) const MAX_SIDE: u32 = 8192;

/// The most bytes an image may decode to (64 MiB: 4096 × 4096 RGBA).
pub(crate) const MAX_DECODED: u64 = 64 * 1024 * 1024;

/// The image types accepted, as `Content-Type` names them.
const ACCEPTED: [&str; 2] = ["image/png", "image/jpeg"];

/// A stored upload.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Upload {
    /// What to put in `reference_images`.
    #[schema(value_type = openapi::BlobRef)]
    pub(crate) reference: BlobRef,
    /// Where to fetch it: `/api/v1/uploads/{hash}`.
    url: String,
    #[schema(value_type = openapi::ImageType)]
    content_type: &'static str,
    /// Its size in bytes.
    bytes: usize,
    /// Its width in pixels.
    width: u32,
    /// Its height in pixels.
    height: u32,
}

/// Checks the body against the limit, the declared type and the bytes, decodes the image's
/// size, and stores it as an upload of `caller`'s owner.
pub(crate) async fn store_image(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Upload, ApiError> {
    if body.len() > state.upload_limit {
        return Err(too_large(state.upload_limit));
    }
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    let Some(content_type) = ACCEPTED.into_iter().find(|t| *t == declared) else {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "reference images must be PNG or JPEG (Content-Type image/png or image/jpeg), not `{}`",
                if declared.is_empty() { "none" } else { &declared }
            ),
        )
        .with_details(json!({"content_type": declared, "accepted": ACCEPTED})));
    };
    let sniffed = crate::artifacts::sniff(&body);
    if sniffed != content_type {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("the body is declared {content_type} but its bytes are {sniffed}"),
        )
        .with_details(json!({"content_type": content_type, "sniffed": sniffed, "accepted": ACCEPTED})));
    }
    let (width, height) = decode(body.clone(), content_type).await?;
    let bytes = body.len();
    // Recorded as an upload: kept for a day (`UPLOAD_RETENTION`) while nothing references it.
    let reference = state.engine.upload(body.to_vec(), caller.owner()).await?;
    Ok(Upload {
        reference,
        url: format!("/api/v1/uploads/{}", reference.0),
        content_type,
        bytes,
        width,
        height,
    })
}

/// Decodes the whole image within the pixel budget, off the async threads; gives its size.
async fn decode(body: Bytes, content_type: &'static str) -> Result<(u32, u32), ApiError> {
    let decoded = tokio::task::spawn_blocking(move || {
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(MAX_SIDE);
        limits.max_image_height = Some(MAX_SIDE);
        limits.max_alloc = Some(MAX_DECODED);
        let format = match content_type {
            "image/png" => image::ImageFormat::Png,
            _ => image::ImageFormat::Jpeg,
        };
        // The JPEG decoder fills in what a truncated file lacks: one that stops before its
        // end-of-image marker (trailing zero padding aside) is refused as truncated.
        let end = body.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        if format == image::ImageFormat::Jpeg && !body[..end].ends_with(&[0xFF, 0xD9]) {
            return Err(image::ImageError::Decoding(image::error::DecodingError::new(
                format.into(),
                "truncated: the data ends before the end-of-image marker",
            )));
        }
        let mut reader = image::ImageReader::with_format(std::io::Cursor::new(&body[..]), format);
        reader.limits(limits);
        reader.decode().map(|image| (image.width(), image.height()))
    })
    .await
    .map_err(ApiError::internal)?;
    decoded.map_err(|e| {
        let why = match &e {
            image::ImageError::Limits(_) => format!(
                "it is larger than the budget of {MAX_SIDE} pixels a side and {} MiB decoded ({e})",
                MAX_DECODED / (1024 * 1024)
            ),
            _ => format!("it does not decode: {e}"),
        };
        ApiError::new(
            ErrorCode::InvalidImage,
            format!("the {content_type} image is refused: {why}"),
        )
        .with_details(json!({"content_type": content_type, "max_side": MAX_SIDE, "max_decoded_bytes": MAX_DECODED}))
    })
}

/// The answer to a body over the limit.
pub(crate) fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("uploads are limited to {limit} bytes"),
    )
    .with_details(json!({"limit": limit}))
}

/// An upload's body, read within the upload limit: over it is `413` in the API's error format.
pub(crate) struct ImageBody(pub(crate) Bytes);

impl FromRequest<AppState> for ImageBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(ImageBody)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large(state.upload_limit)
                } else {
                    ApiError::bad_request(rejection.body_text())
                }
            })
    }
}

/// Stores a reference image (`201`, with `Location` at its artifact URL).
#[utoipa::path(
    post,
    path = "/api/v1/uploads",
    operation_id = "upload_image",
    tag = "uploads",
    request_body(content(
        (openapi::Binary = "image/png"),
        (openapi::Binary = "image/jpeg"),
    ), description = "The image, with its `Content-Type`"),
    responses(
        (status = 201, description = "The stored image: name its `reference` in a character's `reference_images`", body = Envelope<Upload>,
            headers(("Location" = String, description = "The image's artifact URL"))),
        (status = 400, description = "`bad_request`: the body could not be read", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: over the upload limit (10 MB unless configured)", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not `image/png` or `image/jpeg`, or bytes that are not what the type says", body = ErrorBody),
        (status = 422, description = "`invalid_image`: the image does not decode in full (truncated, a broken checksum) or is over the budget of 8192 pixels a side and 64 MiB decoded", body = ErrorBody),
        (status = 500, description = "`internal`: the blob store failed", body = ErrorBody),
    ),
)]
pub(crate) async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ImageBody(body): ImageBody,
) -> Result<Response, ApiError> {
    let upload = store_image(&state, &caller, &headers, body).await?;
    Ok(created(&upload.url.clone(), upload))
}

/// An uploaded image, whole or one byte range: one the key's owner uploaded (any, for admin
/// keys and on a server without keys) and whose upload record is kept (24 hours).
#[utoipa::path(
    get,
    path = "/api/v1/uploads/{hash}",
    operation_id = "get_upload",
    tag = "uploads",
    params(
        ("hash" = openapi::Hash, Path, description = "The upload's `reference`"),
        RangeHeaders,
    ),
    responses(
        ImageAnswers,
        (status = 400, description = "`bad_hash`: not a 64-digit hex hash; `bad_request`: a path that is not UTF-8", body = ErrorBody),
        (status = 404, description = "`artifact_not_found`: no upload of this image by the key's owner (or none kept)", body = ErrorBody),
        (status = 500, description = "`corrupt_artifact`: the stored bytes do not match the hash; `internal`: the store failed", body = ErrorBody),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(hash): PathParams<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let hash = content_hash(&hash)?;
    let uploaded = state
        .engine
        .uploads_of(hash)?
        .iter()
        .any(|upload| caller.may_see(upload.owner.as_deref()));
    if !uploaded {
        return Err(not_found(hash));
    }
    serve(&state, hash, &headers).await
}

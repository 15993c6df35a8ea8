//! Blobs by content hash, for players and image views: `GET episodes/{id}/artifacts/{hash}`
//! and `GET series/{id}/artifacts/{hash}` serve a blob that episode or series references (any
//! version of the episode, its input, the series' reference images), to any key that may see
//! it; `GET artifacts/{hash}` serves any blob, and with keys configured only to admin keys (a
//! bare hash names no owner to check).
//!
//! Only a 64-digit hex hash is looked up, so no path can reach the blob store's files. A blob
//! never changes, so its hash is its `ETag` and it may be cached for a year; `If-None-Match`
//! answers `304`. The content type is sniffed from the bytes (PNG, JPEG, MP4, WebVTT, SRT,
//! JSON). One `Range` of bytes answers `206` with `Content-Range` (video seeking); a range that
//! starts past the end answers `416`; a malformed `Range`, or one with several ranges, is
//! ignored and the whole blob is sent, as HTTP allows.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use showrunner_engine::{BlobRef, ContentHash, StoreError};

use crate::blob_answers::{BlobAnswers, RangeHeaders};
use crate::code::ErrorCode;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{EpisodePath, PathParams};
use crate::series::SeriesPath;
use crate::{AppState, openapi};

/// What a `Range` header asks of a blob of a given length.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeAsk {
    /// No usable range: send everything.
    Full,
    /// Bytes `start..=end`, both within the blob.
    Part {
        /// The first byte.
        start: u64,
        /// The last byte (inclusive).
        end: u64,
    },
    /// A range that selects nothing of the blob.
    Unsatisfiable,
}

/// Reads a `Range` header against a blob of `len` bytes (RFC 9110 §14.1.2).
pub(crate) fn parse_range(header: &str, len: u64) -> RangeAsk {
    let Some(spec) = header
        .split_once('=')
        .filter(|(unit, _)| unit.trim().eq_ignore_ascii_case("bytes"))
        .map(|(_, spec)| spec.trim())
    else {
        return RangeAsk::Full;
    };
    if spec.contains(',') {
        return RangeAsk::Full;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return RangeAsk::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            s.parse::<u64>().ok()
        }
    };
    match (first.is_empty(), number(first), number(last)) {
        // `-N`: the last N bytes.
        (true, _, Some(suffix)) => {
            if suffix == 0 || len == 0 {
                RangeAsk::Unsatisfiable
            } else {
                RangeAsk::Part {
                    start: len.saturating_sub(suffix),
                    end: len - 1,
                }
            }
        }
        // `A-` or `A-B`.
        (false, Some(start), end) if last.is_empty() || end.is_some_and(|end| end >= start) => {
            if start >= len {
                RangeAsk::Unsatisfiable
            } else {
                RangeAsk::Part {
                    start,
                    end: end.map_or(len - 1, |end| end.min(len - 1)),
                }
            }
        }
        _ => RangeAsk::Full,
    }
}

/// The content type of a blob, from its first bytes.
pub(crate) fn sniff(bytes: &[u8]) -> &'static str {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.starts_with(b"\xFF\xD8\xFF") {
        "image/jpeg"
    } else if bytes.len() >= 8 && &bytes[4..8] == b"ftyp" {
        "video/mp4"
    } else if text.starts_with(b"WEBVTT") {
        "text/vtt; charset=utf-8"
    } else if looks_like_srt(text) {
        "application/x-subrip; charset=utf-8"
    } else if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
        "application/json"
    } else if std::str::from_utf8(bytes).is_ok() {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

/// SRT: a cue number on the first line and a `-->` timing on the second.
fn looks_like_srt(text: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(&text[..text.len().min(256)]) else {
        return false;
    };
    let mut lines = text.lines().map(str::trim);
    let cue = lines
        .next()
        .is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()));
    cue && lines.next().is_some_and(|l| l.contains("-->"))
}

/// True when `If-None-Match` names this entity tag (or `*`).
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|t| t == etag || t == "*" || t == format!("W/{etag}"))
        })
}

/// A `Range` applies unless an `If-Range` names another version of the entity.
fn range_applies(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_RANGE)
        .is_none_or(|v| v.to_str().is_ok_and(|v| v.trim() == etag))
}

/// Any blob by hash, whole or one byte range (with keys configured, admin keys only).
#[utoipa::path(
    get,
    path = "/api/v1/artifacts/{hash}",
    operation_id = "get_artifact",
    tag = "artifacts",
    params(
        ("hash" = openapi::Hash, Path, description = "The blob's content hash"),
        RangeHeaders,
    ),
    responses(
        BlobAnswers,
        (status = 400, description = "`bad_hash`: not a 64-digit hex hash; `bad_request`: a path that is not UTF-8", body = ErrorBody),
        (status = 404, description = "`artifact_not_found`", body = ErrorBody),
        (status = 500, description = "`corrupt_artifact`: the stored bytes do not match the hash (damaged on disk); `internal`: the blob store failed", body = ErrorBody),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    PathParams(hash): PathParams<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve(&state, content_hash(&hash)?, &headers).await
}

/// The `{hash}` of the scoped routes (their `{id}` is read, and checked, by the episode's or
/// series' extractor).
#[derive(Debug, Deserialize)]
pub(crate) struct ScopedPath {
    hash: String,
}

/// A blob that an episode references, whole or one byte range: the episode must be one the key
/// may see, the blob one of its versions' or its input's.
#[utoipa::path(
    get,
    path = "/api/v1/episodes/{id}/artifacts/{hash}",
    operation_id = "get_episode_artifact",
    tag = "artifacts",
    params(
        ("id" = openapi::Ulid, Path, description = "The episode's id"),
        ("hash" = openapi::Hash, Path, description = "The blob's content hash"),
        RangeHeaders,
    ),
    responses(
        BlobAnswers,
        (status = 400, description = "`bad_hash`: not a 64-digit hex hash; `bad_request`: a malformed id, a path that is not UTF-8", body = ErrorBody),
        (status = 404, description = "`episode_not_found`: no such episode, or one the key may not see; `artifact_not_found`: no such blob, or none the episode references", body = ErrorBody),
        (status = 500, description = "`corrupt_artifact`: the stored bytes do not match the hash (damaged on disk); `internal`: the blob store failed", body = ErrorBody),
    ),
)]
pub(crate) async fn of_episode(
    State(state): State<AppState>,
    EpisodePath(id): EpisodePath,
    PathParams(path): PathParams<ScopedPath>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let hash = content_hash(&path.hash)?;
    if !state.engine.episode_blobs(id)?.contains(&hash) {
        return Err(not_found(hash));
    }
    serve(&state, hash, &headers).await
}

/// A blob that a series references (a character's reference image), whole or one byte range:
/// the series must be one the key may see.
#[utoipa::path(
    get,
    path = "/api/v1/series/{id}/artifacts/{hash}",
    operation_id = "get_series_artifact",
    tag = "artifacts",
    params(
        ("id" = openapi::Ulid, Path, description = "The series' id"),
        ("hash" = openapi::Hash, Path, description = "The blob's content hash"),
        RangeHeaders,
    ),
    responses(
        BlobAnswers,
        (status = 400, description = "`bad_hash`: not a 64-digit hex hash; `bad_request`: a malformed id, a path that is not UTF-8", body = ErrorBody),
        (status = 404, description = "`series_not_found`: no such series, or one the key may not see; `artifact_not_found`: no such blob, or none the series references", body = ErrorBody),
        (status = 500, description = "`corrupt_artifact`: the stored bytes do not match the hash (damaged on disk); `internal`: the blob store failed", body = ErrorBody),
    ),
)]
pub(crate) async fn of_series(
    State(state): State<AppState>,
    SeriesPath(id): SeriesPath,
    PathParams(path): PathParams<ScopedPath>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let hash = content_hash(&path.hash)?;
    let record = state.engine.series(id)?;
    if !BlobRef::find_all(&record.content).contains(&hash) {
        return Err(not_found(hash));
    }
    serve(&state, hash, &headers).await
}

/// Parses a hash: 64 hex digits, else `400 bad_hash`.
pub(crate) fn content_hash(hash: &str) -> Result<ContentHash, ApiError> {
    ContentHash::from_hex(hash)
        .filter(|_| hash.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| {
            ApiError::new(ErrorCode::BadHash, "an artifact is named by its 64-digit hex hash")
                .with_details(json!({"hash": hash}))
        })
}

/// `404 artifact_not_found`: no such blob, or none the route's episode or series references.
pub(crate) fn not_found(hash: ContentHash) -> ApiError {
    ApiError::new(ErrorCode::ArtifactNotFound, format!("no artifact {hash}")).with_details(json!({"hash": hash}))
}

/// A stored blob as the answer: whole, one range, `304` or `416`.
pub(crate) async fn serve(state: &AppState, hash: ContentHash, headers: &HeaderMap) -> Result<Response, ApiError> {
    let etag = format!("\"{hash}\"");
    let mut common = HeaderMap::new();
    let mut set = |name, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            common.insert(name, value);
        }
    };
    set(header::ETAG, etag.clone());
    // A blob never changes; with keys, only the browser that asked may keep it (`private`): a
    // shared cache would hand one owner's artifact to anyone.
    let scope = if state.keys.is_open() { "public" } else { "private" };
    set(header::CACHE_CONTROL, format!("{scope}, max-age=31536000, immutable"));
    set(header::ACCEPT_RANGES, "bytes".into());
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff".into());
    let bytes = match state.engine.blobs().get(BlobRef(hash)).await {
        Ok(bytes) => bytes,
        Err(StoreError::NotFound(_)) => return Err(not_found(hash)),
        Err(StoreError::Corrupt { .. }) => return Err(ApiError::corrupt_artifact(hash)),
        Err(e) => return Err(ApiError::internal(e)),
    };
    if not_modified(headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    set_type(&mut common, sniff(&bytes));
    let len = bytes.len() as u64;
    let ask = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(range) if range_applies(headers, &etag) => parse_range(range, len),
        _ => RangeAsk::Full,
    };
    match ask {
        RangeAsk::Full => Ok((StatusCode::OK, common, Body::from(bytes)).into_response()),
        RangeAsk::Part { start, end } => {
            let part = bytes
                .get(start as usize..=end as usize)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| ApiError::internal(format!("range {start}-{end} outside a blob of {len} bytes")))?;
            if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                common.insert(header::CONTENT_RANGE, value);
            }
            Ok((StatusCode::PARTIAL_CONTENT, common, Body::from(part)).into_response())
        }
        RangeAsk::Unsatisfiable => {
            let error = ApiError::new(ErrorCode::RangeNotSatisfiable, format!("the artifact has {len} bytes"))
                .with_details(json!({"length": len}));
            let mut response = error.into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{len}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            Ok(response)
        }
    }
}

fn set_type(headers: &mut HeaderMap, content_type: &'static str) {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        use RangeAsk::*;
        let cases = [
            ("bytes=0-99", 1000, Part { start: 0, end: 99 }),
            ("bytes=100-", 1000, Part { start: 100, end: 999 }),
            ("bytes=-10", 1000, Part { start: 990, end: 999 }),
            ("bytes=-5000", 1000, Part { start: 0, end: 999 }),
            ("bytes=990-5000", 1000, Part { start: 990, end: 999 }),
            ("bytes=999-999", 1000, Part { start: 999, end: 999 }),
            ("Bytes = 5-6", 1000, Part { start: 5, end: 6 }),
            ("bytes=1000-", 1000, Unsatisfiable),
            ("bytes=1000-2000", 1000, Unsatisfiable),
            ("bytes=-0", 1000, Unsatisfiable),
            ("bytes=0-", 0, Unsatisfiable),
            ("bytes=9-3", 1000, Full),
            ("bytes=0-1,5-6", 1000, Full),
            ("bytes=a-b", 1000, Full),
            ("bytes=+1-2", 1000, Full),
            ("items=0-1", 1000, Full),
            ("bytes", 1000, Full),
            ("bytes=-", 1000, Full),
        ];
        for (header, len, want) in cases {
            assert_eq!(parse_range(header, len), want, "{header} of {len}");
        }
    }

    #[test]
    fn content_types_are_sniffed_from_the_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(sniff(b"\0\0\0\x20ftypisom\0\0\x02\0"), "video/mp4");
        assert_eq!(
            sniff(b"WEBVTT\n\n00:00.000 --> 00:01.000\nHi"),
            "text/vtt; charset=utf-8"
        );
        assert_eq!(
            sniff(b"1\n00:00:00,000 --> 00:00:01,000\nHi\n"),
            "application/x-subrip; charset=utf-8"
        );
        assert_eq!(sniff(br#"{"logline": "a keeper"}"#), "application/json");
        assert_eq!(sniff(b"just words"), "text/plain; charset=utf-8");
        assert_eq!(sniff(b"\0\x01\x02\xff"), "application/octet-stream");
    }
}

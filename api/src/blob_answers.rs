//! What the routes that serve a blob document in common (`GET artifacts/{hash}`, an episode's and
//! a series' artifacts, `GET uploads/{hash}`): the range and cache headers they read, and their
//! answers but the errors each route words its own way (`400`, `404`, `500`).

use std::collections::BTreeMap;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, Schema};
use utoipa::{IntoParams, IntoResponses, PartialSchema};

/// The media types a blob may be served as (sniffed from its bytes).
const BLOB_TYPES: [&str; 8] = [
    "image/png",
    "image/jpeg",
    "video/mp4",
    "text/vtt; charset=utf-8",
    "application/x-subrip; charset=utf-8",
    "application/json",
    "text/plain; charset=utf-8",
    "application/octet-stream",
];

/// The media types of an uploaded image.
const IMAGE_TYPES: [&str; 2] = ["image/png", "image/jpeg"];

/// The headers a blob route reads: `Range`, `If-Range`, `If-None-Match`.
pub(crate) struct RangeHeaders;

impl IntoParams for RangeHeaders {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        [
            (
                "Range",
                "One byte range, `bytes=A-B`, `bytes=A-` or `bytes=-N`; a malformed one, or several, is ignored",
            ),
            ("If-Range", "The range applies only when this names the blob's `ETag`"),
            ("If-None-Match", "`304` when this names the blob's `ETag`"),
        ]
        .into_iter()
        .map(|(name, description)| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(String::schema()))
                .build()
        })
        .collect()
    }
}

/// The answers of a route that serves any blob: `200`, `206`, `304`, `416`.
pub(crate) struct BlobAnswers;

impl IntoResponses for BlobAnswers {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers("The whole blob, its type sniffed from its bytes", &BLOB_TYPES)
    }
}

/// The answers of a route that serves an uploaded image: `200`, `206`, `304`, `416`.
pub(crate) struct ImageAnswers;

impl IntoResponses for ImageAnswers {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers("The image", &IMAGE_TYPES)
    }
}

/// A header of an answer: a string, described.
fn header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(String::schema())
        .description(Some(description))
        .build()
}

/// The schema of a whole blob of `media_type`.
fn whole(media_type: &str) -> RefOr<Schema> {
    if media_type == "application/json" {
        serde_json::Value::schema()
    } else if media_type.starts_with("text/") || media_type.starts_with("application/x-subrip") {
        String::schema()
    } else {
        Ref::from_schema_name("Binary").into()
    }
}

fn answers(whole_description: &str, types: &[&str]) -> BTreeMap<String, RefOr<Response>> {
    let etag = || header("The quoted hash");
    let mut ok = ResponseBuilder::new()
        .description(whole_description)
        .header("ETag", etag())
        .header(
            "Cache-Control",
            header("`public, max-age=31536000, immutable` on a server without keys; `private, …` with keys"),
        )
        .header("Accept-Ranges", header("`bytes`"));
    let mut partial = ResponseBuilder::new()
        .description("One byte range of the blob")
        .header("Content-Range", header("`bytes A-B/LENGTH`"))
        .header("ETag", etag());
    for media_type in types {
        ok = ok.content(
            *media_type,
            ContentBuilder::new().schema(Some(whole(media_type))).build(),
        );
        let bytes = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Binary")))
            .build();
        partial = partial.content(*media_type, bytes);
    }
    let not_modified = ResponseBuilder::new()
        .description("`If-None-Match` names the blob: no body")
        .header("ETag", etag());
    let error = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .build();
    let unsatisfiable = ResponseBuilder::new()
        .description("`range_not_satisfiable`: the range starts past the end (with the `length`)")
        .header("Content-Range", header("`bytes */LENGTH`"))
        .content("application/json", error);
    [
        ("200", ok),
        ("206", partial),
        ("304", not_modified),
        ("416", unsatisfiable),
    ]
    .into_iter()
    .map(|(status, response)| (status.to_owned(), response.build().into()))
    .collect()
}

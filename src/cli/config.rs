//! The configuration file (TOML) and its environment overrides.
//!
//! ```toml
//! [api]
//! keys = ["a-user-key"]          # or SHOWRUNNER_API_KEYS=k1,k2
//! admin_keys = ["an-admin-key"]  # or SHOWRUNNER_ADMIN_KEYS=k3
//! upload_limit_mb = 10           # or SHOWRUNNER_UPLOAD_LIMIT_MB=10
//!
//! [models]                       # the backend and model per role (see nodes::setup)
//! device = "auto"                # or SHOWRUNNER_DEVICE, or --device
//! text = { backend = "candle", model = "smollm2-135m" }  # or SHOWRUNNER_TEXT_BACKEND/_MODEL
//! embeddings = { backend = "onnx" }                      # SHOWRUNNER_EMBEDDINGS_BACKEND/_MODEL
//! speech = { backend = "onnx" }                          # SHOWRUNNER_SPEECH_BACKEND/_MODEL
//! landscape = { backend = "onnx" }                       # SHOWRUNNER_LANDSCAPE_BACKEND/_MODEL
//! ```
//!
//! The file is `--config FILE`, or `DATA/showrunner.toml` when that exists; without either the
//! defaults hold (no keys: the API is open; every role procedural). An environment variable
//! replaces the file's value.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use showrunner::nodes::setup::{Backend, Choice, ModelSetup};
use showrunner_api::{ApiKeys, DEFAULT_UPLOAD_LIMIT, Role};

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The HTTP API.
    pub api: ApiConfig,
    /// The backend and model of each role, and the device.
    pub models: ModelSetup,
}

/// `[api]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Keys that may use every route but the admin ones.
    pub keys: Vec<String>,
    /// Keys that may use every route.
    pub admin_keys: Vec<String>,
    /// The largest reference image accepted, in megabytes (10 by default).
    pub upload_limit_mb: Option<f64>,
}

impl Config {
    /// Reads `explicit`, or `data/showrunner.toml` when it exists, then applies the environment.
    pub fn load(explicit: Option<&Path>, data: &Path) -> anyhow::Result<Self> {
        let default = data.join("showrunner.toml");
        let path: Option<PathBuf> = match explicit {
            Some(path) => Some(path.to_owned()),
            None => default.exists().then_some(default),
        };
        let mut config = match &path {
            None => Config::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the configuration {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("the configuration {} is not valid", path.display()))?
            }
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        let list = |s: String| {
            s.split(',')
                .map(|k| k.trim().to_owned())
                .filter(|k| !k.is_empty())
                .collect()
        };
        if let Some(keys) = var("SHOWRUNNER_API_KEYS") {
            self.api.keys = list(keys);
        }
        if let Some(keys) = var("SHOWRUNNER_ADMIN_KEYS") {
            self.api.admin_keys = list(keys);
        }
        if let Some(mb) = var("SHOWRUNNER_UPLOAD_LIMIT_MB") {
            let mb = mb
                .trim()
                .parse()
                .with_context(|| format!("SHOWRUNNER_UPLOAD_LIMIT_MB must be a number of megabytes, not `{mb}`"))?;
            self.api.upload_limit_mb = Some(mb);
        }
        if let Some(device) = var("SHOWRUNNER_DEVICE") {
            self.models.device = device
                .trim()
                .parse()
                .map_err(|e| anyhow::anyhow!("SHOWRUNNER_DEVICE: {e}"))?;
        }
        let models = &mut self.models;
        for (role, choice) in [
            ("TEXT", &mut models.text),
            ("EMBEDDINGS", &mut models.embeddings),
            ("SPEECH", &mut models.speech),
            ("LANDSCAPE", &mut models.landscape),
        ] {
            apply_choice(&var, role, choice)?;
        }
        self.models.check()?;
        Ok(())
    }
}

/// `SHOWRUNNER_{ROLE}_BACKEND` and `SHOWRUNNER_{ROLE}_MODEL` over a role's choice.
fn apply_choice(var: &impl Fn(&str) -> Option<String>, role: &str, choice: &mut Choice) -> anyhow::Result<()> {
    let name = format!("SHOWRUNNER_{role}_BACKEND");
    if let Some(backend) = var(&name) {
        let value = serde_json::Value::String(backend.trim().to_lowercase());
        choice.backend = Backend::deserialize(value).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    }
    if let Some(model) = var(&format!("SHOWRUNNER_{role}_MODEL")) {
        choice.model = Some(model.trim().to_owned()).filter(|m| !m.is_empty());
    }
    Ok(())
}

impl ApiConfig {
    /// The keys with their roles.
    pub fn api_keys(&self) -> ApiKeys {
        let users = self.keys.iter().map(|k| (k, Role::User));
        let admins = self.admin_keys.iter().map(|k| (k, Role::Admin));
        users
            .chain(admins)
            .fold(ApiKeys::none(), |keys, (k, role)| keys.with(k, role))
    }

    /// The upload limit in bytes.
    pub fn upload_limit(&self) -> anyhow::Result<usize> {
        match self.upload_limit_mb {
            None => Ok(DEFAULT_UPLOAD_LIMIT),
            Some(mb) if mb.is_finite() && mb > 0.0 && mb <= 4096.0 => Ok((mb * 1024.0 * 1024.0) as usize),
            Some(mb) => bail!("api.upload_limit_mb must be more than 0 and at most 4096, not {mb}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_replaces_the_file() {
        let mut config: Config =
            toml::from_str("[api]\nkeys = [\"a\"]\nupload_limit_mb = 2\n").expect("a valid configuration");
        config
            .apply_env(|name| (name == "SHOWRUNNER_ADMIN_KEYS").then(|| " b , c ,".to_owned()))
            .expect("valid variables");
        assert_eq!(config.api.keys, ["a"]);
        assert_eq!(config.api.admin_keys, ["b", "c"]);
        assert_eq!(config.api.upload_limit().expect("a limit"), 2 * 1024 * 1024);
    }

    #[test]
    fn models_per_role_from_the_file_and_the_environment() {
        let mut config: Config =
            toml::from_str("[models]\ndevice = \"cpu\"\ntext = { backend = \"candle\" }\n").expect("valid");
        config
            .apply_env(|name| match name {
                "SHOWRUNNER_SPEECH_BACKEND" => Some("ONNX".into()),
                "SHOWRUNNER_SPEECH_MODEL" => Some("my-voice".into()),
                _ => None,
            })
            .expect("valid variables");
        assert_eq!(config.models.text.backend, Backend::Candle);
        assert_eq!(config.models.speech.backend, Backend::Onnx);
        assert_eq!(config.models.speech.model.as_deref(), Some("my-voice"));
        assert_eq!(config.models.models(), ["smollm2-135m", "my-voice"]);
        let mut config = Config::default();
        let error = config
            .apply_env(|name| (name == "SHOWRUNNER_TEXT_BACKEND").then(|| "onnx".into()))
            .expect_err("onnx does not write text");
        assert!(error.to_string().contains("models.text"), "{error}");
        let error = Config::default()
            .apply_env(|name| (name == "SHOWRUNNER_DEVICE").then(|| "tpu".into()))
            .expect_err("no such device");
        assert!(error.to_string().contains("SHOWRUNNER_DEVICE"), "{error}");
    }

    #[test]
    fn unknown_fields_and_bad_limits_are_refused() {
        assert!(toml::from_str::<Config>("[api]\nkey = [\"a\"]\n").is_err());
        let config: Config = toml::from_str("[api]\nupload_limit_mb = -1\n").expect("parses");
        assert!(config.api.upload_limit().is_err());
        let mut config = Config::default();
        assert!(config.apply_env(|_| Some("lots".into())).is_err());
    }
}

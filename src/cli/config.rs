//! The configuration file (TOML) and its environment overrides.
//!
//! ```toml
//! [api]
//! keys = ["a-user-key"]          # or SHOWRUNNER_API_KEYS=k1,k2
//! admin_keys = ["an-admin-key"]  # or SHOWRUNNER_ADMIN_KEYS=k3
//! upload_limit_mb = 10           # or SHOWRUNNER_UPLOAD_LIMIT_MB=10
//! header_timeout_s = 10          # or SHOWRUNNER_HEADER_TIMEOUT_S: to send a request's head
//! idle_timeout_s = 60            # or SHOWRUNNER_IDLE_TIMEOUT_S: with no byte moving either way
//! max_connections = 768          # or SHOWRUNNER_MAX_CONNECTIONS (default: from the fd limit)
//! allowed_hosts = ["studio.lan"] # or SHOWRUNNER_ALLOWED_HOSTS=a,b: `Host` names answered
//! allowed_origins = ["http://localhost:5173"]  # or SHOWRUNNER_ALLOWED_ORIGINS: UIs elsewhere
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
use std::time::Duration;

use showrunner_api::{ApiKeys, DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_UPLOAD_LIMIT, Role, Site};

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
    /// Seconds a client has to send a request's head, from when its connection opens or its
    /// previous answer ends (10 by default); also how long a kept-alive connection may idle.
    pub header_timeout_s: Option<f64>,
    /// Seconds a connection may go with no byte moving either way (60 by default).
    pub idle_timeout_s: Option<f64>,
    /// Connections served at once; one more is answered `503 too_many_connections` (by default
    /// what the file-descriptor limit allows, less room for the store).
    pub max_connections: Option<usize>,
    /// `Host` names answered besides `localhost` and IP literals (`*`: any), against DNS
    /// rebinding; with keys configured every name is answered.
    pub allowed_hosts: Vec<String>,
    /// Origins of pages (a UI served elsewhere) allowed to change state, answered CORS.
    pub allowed_origins: Vec<String>,
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
        self.api.apply_transport_env(&var)?;
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

impl ApiConfig {
    /// `SHOWRUNNER_HEADER_TIMEOUT_S`, `_IDLE_TIMEOUT_S`, `_MAX_CONNECTIONS`, `_ALLOWED_HOSTS` and
    /// `_ALLOWED_ORIGINS` over the file's values.
    fn apply_transport_env(&mut self, var: &impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        let seconds = |name: &str| -> anyhow::Result<Option<f64>> {
            var(name)
                .map(|s| {
                    s.trim()
                        .parse()
                        .with_context(|| format!("{name} must be a number of seconds, not `{s}`"))
                })
                .transpose()
        };
        if let Some(s) = seconds("SHOWRUNNER_HEADER_TIMEOUT_S")? {
            self.header_timeout_s = Some(s);
        }
        if let Some(s) = seconds("SHOWRUNNER_IDLE_TIMEOUT_S")? {
            self.idle_timeout_s = Some(s);
        }
        if let Some(n) = var("SHOWRUNNER_MAX_CONNECTIONS") {
            let parsed = n
                .trim()
                .parse()
                .with_context(|| format!("SHOWRUNNER_MAX_CONNECTIONS must be a whole number, not `{n}`"))?;
            self.max_connections = Some(parsed);
        }
        let list = |s: String| -> Vec<String> {
            s.split(',')
                .map(|k| k.trim().to_owned())
                .filter(|k| !k.is_empty())
                .collect()
        };
        if let Some(hosts) = var("SHOWRUNNER_ALLOWED_HOSTS") {
            self.allowed_hosts = list(hosts);
        }
        if let Some(origins) = var("SHOWRUNNER_ALLOWED_ORIGINS") {
            self.allowed_origins = list(origins);
        }
        Ok(())
    }

    /// The header timeout, the idle timeout and the connection cap (`None`: from the fd limit).
    pub fn connection_limits(&self) -> anyhow::Result<(Duration, Duration, Option<usize>)> {
        let timeout = |name: &str, value: Option<f64>, default: Duration| match value {
            None => Ok(default),
            Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(Duration::from_secs_f64(s)),
            Some(s) => bail!("api.{name} must be more than 0 and at most 86400 seconds, not {s}"),
        };
        let header = timeout("header_timeout_s", self.header_timeout_s, DEFAULT_HEADER_TIMEOUT)?;
        let idle = timeout("idle_timeout_s", self.idle_timeout_s, DEFAULT_IDLE_TIMEOUT)?;
        if self.max_connections == Some(0) {
            bail!("api.max_connections must be at least 1");
        }
        Ok((header, idle, self.max_connections))
    }

    /// The `Host` names and origins accepted; an origin that is not `scheme://host[:port]` is
    /// refused.
    pub fn site(&self) -> anyhow::Result<Site> {
        for host in &self.allowed_hosts {
            if host.trim().is_empty() || host.contains(['/', ' ']) {
                bail!("api.allowed_hosts: `{host}` is not a host name (write `studio.example.com`, no scheme or path)");
            }
        }
        Site::new()
            .hosts(&self.allowed_hosts)
            .origins(&self.allowed_origins)
            .context("api.allowed_origins")
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

    #[test]
    fn connection_limits_and_the_site_from_the_file_and_the_environment() {
        let mut config: Config =
            toml::from_str("[api]\nheader_timeout_s = 2.5\nmax_connections = 50\nallowed_hosts = [\"studio.lan\"]\n")
                .expect("a valid configuration");
        config
            .apply_env(|name| match name {
                "SHOWRUNNER_IDLE_TIMEOUT_S" => Some("30".into()),
                "SHOWRUNNER_ALLOWED_ORIGINS" => Some("http://localhost:5173, https://ui.example".into()),
                _ => None,
            })
            .expect("valid variables");
        let (header, idle, max) = config.api.connection_limits().expect("valid limits");
        assert_eq!(
            (header, idle, max),
            (Duration::from_millis(2500), Duration::from_secs(30), Some(50))
        );
        assert_eq!(
            config.api.allowed_origins,
            ["http://localhost:5173", "https://ui.example"]
        );
        assert!(config.api.site().is_ok());
        let defaults = Config::default().api.connection_limits().expect("defaults");
        assert_eq!(defaults, (DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT, None));
        for bad in [
            "[api]\nheader_timeout_s = 0\n",
            "[api]\nidle_timeout_s = -1\n",
            "[api]\nmax_connections = 0\n",
        ] {
            let config: Config = toml::from_str(bad).expect("parses");
            assert!(config.api.connection_limits().is_err(), "{bad}");
        }
        let config: Config = toml::from_str("[api]\nallowed_origins = [\"localhost:5173\"]\n").expect("parses");
        assert!(config.api.site().is_err());
        let config: Config = toml::from_str("[api]\nallowed_hosts = [\"http://a/\"]\n").expect("parses");
        assert!(config.api.site().is_err());
        assert!(
            Config::default()
                .apply_env(|name| (name == "SHOWRUNNER_MAX_CONNECTIONS").then(|| "many".into()))
                .is_err()
        );
    }
}

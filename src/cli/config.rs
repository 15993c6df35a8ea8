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
//! [[api.users]]                  # a user or team, owner of what its keys create
//! name = "ana"
//! keys = ["ana-laptop-key", "ana-ci-key"]
//! admin = false                  # true: its keys are admin keys
//!
//! [models]                       # the backend and model per role (see showrunner::setup)
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
//!
//! Keys are never dropped: an empty key, in the file or in a variable, is refused at start with
//! where it came from, since an empty key would let in a request that sends none.
//! `SHOWRUNNER_API_KEYS` and `SHOWRUNNER_ADMIN_KEYS` replace the file's `keys` and
//! `admin_keys` and must hold at least one key each: set but empty is an error (unset it to keep
//! the file's keys), and so is an empty entry (`k1,,k2`, a trailing comma). `[[api.users]]` come
//! from the file only. A key of `keys` or `admin_keys` is its own user, named `key-` and 12 hex
//! digits derived from it (`ApiKeys::key_owner`); to let several keys share their work, list
//! them under one `[[api.users]]`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use showrunner::setup::{Backend, Choice, ModelSetup};
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
    /// Keys that may use every route but the admin ones, each its own user.
    pub keys: Vec<String>,
    /// Keys that may use every route, each its own user.
    pub admin_keys: Vec<String>,
    /// Users and teams with their keys.
    pub users: Vec<UserConfig>,
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

/// `[[api.users]]`: a user or team, who owns what its keys create.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// The name, shown as the owner of its episodes and series.
    pub name: String,
    /// Its keys (at least one).
    pub keys: Vec<String>,
    /// True when its keys are admin keys.
    #[serde(default)]
    pub admin: bool,
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
                Self::from_toml(&text).with_context(|| format!("the configuration {} is not valid", path.display()))?
            }
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Parses a configuration file's text and checks its keys.
    fn from_toml(text: &str) -> anyhow::Result<Self> {
        let config: Config = toml::from_str(text)?;
        config.api.check_keys()?;
        Ok(config)
    }

    fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(keys) = var("SHOWRUNNER_API_KEYS") {
            self.api.keys = env_keys("SHOWRUNNER_API_KEYS", &keys)?;
        }
        if let Some(keys) = var("SHOWRUNNER_ADMIN_KEYS") {
            self.api.admin_keys = env_keys("SHOWRUNNER_ADMIN_KEYS", &keys)?;
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

/// The keys of a variable: a comma-separated list of at least one key, none of them empty.
fn env_keys(name: &str, value: &str) -> anyhow::Result<Vec<String>> {
    if value.trim().is_empty() {
        bail!(
            "{name} is set but empty, which would drop the configured keys: unset it to keep the configuration file's keys, or give at least one key (k1,k2)"
        );
    }
    let keys: Vec<String> = value.split(',').map(|k| k.trim().to_owned()).collect();
    if let Some(i) = keys.iter().position(String::is_empty) {
        bail!(
            "{name} holds an empty key (entry {} of {}): remove the stray comma",
            i + 1,
            keys.len()
        );
    }
    Ok(keys)
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
    /// Every key with where it is configured, its owner (`None`: the key is its own user) and
    /// its role.
    fn entries(&self) -> Vec<(String, &str, Option<&str>, Role)> {
        let mut entries = Vec::new();
        for (field, keys, role) in [
            ("keys", &self.keys, Role::User),
            ("admin_keys", &self.admin_keys, Role::Admin),
        ] {
            for (i, key) in keys.iter().enumerate() {
                entries.push((format!("api.{field}[{i}]"), key.as_str(), None, role));
            }
        }
        for (u, user) in self.users.iter().enumerate() {
            let role = if user.admin { Role::Admin } else { Role::User };
            for (i, key) in user.keys.iter().enumerate() {
                entries.push((
                    format!("api.users[{u}].keys[{i}]"),
                    key.as_str(),
                    Some(user.name.as_str()),
                    role,
                ));
            }
        }
        entries
    }

    /// Refuses empty keys, users without a name or keys, and a name given twice.
    fn check_keys(&self) -> anyhow::Result<()> {
        for (where_, key, _, _) in self.entries() {
            if key.trim().is_empty() {
                bail!("{where_} is empty: an empty key would let in requests that send none; remove it or give a key");
            }
        }
        let mut names = std::collections::HashSet::new();
        for (u, user) in self.users.iter().enumerate() {
            let name = user.name.trim();
            if name.is_empty() {
                bail!("api.users[{u}].name is empty: a user needs a name");
            }
            if name.starts_with("key-") {
                bail!("api.users[{u}].name `{name}`: names starting with `key-` are kept for keys without a user");
            }
            if !names.insert(name) {
                bail!("api.users[{u}].name `{name}` is given twice: list all of its keys under one [[api.users]]");
            }
            if user.keys.is_empty() {
                bail!("api.users[{u}] (`{name}`) has no keys");
            }
        }
        Ok(())
    }

    /// The keys with their owners and roles; refuses an empty key (naming where it is
    /// configured) and a key configured for two owners.
    pub fn api_keys(&self) -> anyhow::Result<ApiKeys> {
        self.check_keys()?;
        let mut keys = ApiKeys::none();
        for (where_, key, owner, role) in self.entries() {
            keys.add(key, owner, role).context(where_)?;
        }
        Ok(keys)
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
            .apply_env(|name| (name == "SHOWRUNNER_ADMIN_KEYS").then(|| " b , c".to_owned()))
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

    /// The error of `apply_env` with one variable set.
    fn env_error(config: &str, name: &'static str, value: &str) -> String {
        let mut config = Config::from_toml(config).expect("a valid configuration");
        let value = value.to_owned();
        let error = config
            .apply_env(|n| (n == name).then(|| value.clone()))
            .expect_err("refused");
        format!("{error:#}")
    }

    #[test]
    fn an_empty_variable_or_an_empty_entry_is_refused_never_dropped() {
        let file = "[api]\nkeys = [\"file-key\"]\n";
        for name in ["SHOWRUNNER_API_KEYS", "SHOWRUNNER_ADMIN_KEYS"] {
            for empty in ["", "  ", ","] {
                let error = env_error(file, name, empty);
                assert!(error.contains(name), "{error}");
            }
            let error = env_error(file, name, "");
            assert!(error.contains("set but empty"), "{error}");
            for stray in ["a,,b", "a,b,", ",a", "a, ,b"] {
                let error = env_error(file, name, stray);
                assert!(error.contains(name) && error.contains("empty key"), "{stray}: {error}");
            }
        }
        // A variable with keys replaces the file's list of its kind, and only that one.
        let mut config = Config::from_toml(file).expect("valid");
        config
            .apply_env(|n| (n == "SHOWRUNNER_API_KEYS").then(|| "env-1, env-2".to_owned()))
            .expect("valid");
        assert_eq!(config.api.keys, ["env-1", "env-2"]);
        let keys = config.api.api_keys().expect("keys");
        assert!(!keys.is_open());
    }

    #[test]
    fn an_empty_key_in_the_file_is_refused_with_where_it_is() {
        let cases = [
            ("[api]\nkeys = [\"\"]\n", "api.keys[0] is empty"),
            ("[api]\nkeys = [\"a\", \" \"]\n", "api.keys[1] is empty"),
            ("[api]\nadmin_keys = [\"\"]\n", "api.admin_keys[0] is empty"),
            (
                "[[api.users]]\nname = \"ana\"\nkeys = [\"k\", \"\"]\n",
                "api.users[0].keys[1] is empty",
            ),
            (
                "[[api.users]]\nname = \" \"\nkeys = [\"k\"]\n",
                "api.users[0].name is empty",
            ),
            ("[[api.users]]\nname = \"ana\"\nkeys = []\n", "has no keys"),
            ("[[api.users]]\nname = \"key-1\"\nkeys = [\"k\"]\n", "kept for keys"),
            (
                "[[api.users]]\nname = \"ana\"\nkeys = [\"k\"]\n[[api.users]]\nname = \"ana\"\nkeys = [\"l\"]\n",
                "given twice",
            ),
        ];
        for (text, want) in cases {
            let error = format!("{:#}", Config::from_toml(text).expect_err(text));
            assert!(error.contains(want), "{text}: {error}");
        }
        // `api_keys` refuses them too, for a configuration built in code.
        let config = ApiConfig {
            keys: vec![String::new()],
            ..ApiConfig::default()
        };
        assert!(format!("{:#}", config.api_keys().expect_err("empty")).contains("api.keys[0]"));
    }

    #[test]
    fn users_own_their_keys_and_a_key_of_two_owners_is_refused() {
        let config = Config::from_toml(
            "[api]\nkeys = [\"plain\"]\n[[api.users]]\nname = \"ana\"\nkeys = [\"a1\", \"a2\"]\n\
             [[api.users]]\nname = \"ops\"\nkeys = [\"o1\"]\nadmin = true\n",
        )
        .expect("valid");
        assert_eq!(config.api.users[1].name, "ops");
        assert!(config.api.users[1].admin);
        assert!(!config.api.api_keys().expect("keys").is_open());
        let twice =
            Config::from_toml("[api]\nkeys = [\"shared\"]\n[[api.users]]\nname = \"ana\"\nkeys = [\"shared\"]\n")
                .expect("parses");
        let error = format!("{:#}", twice.api.api_keys().expect_err("two owners"));
        assert!(
            error.contains("api.users[0].keys[0]") && error.contains("ana"),
            "{error}"
        );
        assert!(!error.contains("shared"), "the key itself is not shown: {error}");
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

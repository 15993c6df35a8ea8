//! The `showrunner` command's subcommands.

mod args;
mod config;
mod drive;
mod episodes;
mod export;
mod gate;
mod models;
mod remote;
mod serve;
mod store;
mod worker;

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::json;
use showrunner::engine::{Engine, EngineConfig, EngineError, EpisodeId, EpisodeStatus, Store, StoreError, WorkflowDef};
use showrunner::models::Registry;
use showrunner::nodes::fountain;
use showrunner::nodes::model::{Brief, Settings};
use showrunner::nodes::stages::Backends;
use showrunner::setup::{Backend, ModelSetup};
use showrunner::storage::PgStore;
use showrunner::story::stock;
use showrunner::workflows::{self, IDEA2VIDEO, SCRIPT2VIDEO};

pub use args::Args;
use args::{Command, EpisodesCommand, Models, Render, Size, Workflow};
use config::Config;
use drive::{Driver, Gates};

/// The demo's idea.
const DEMO_IDEA: &str = "a lighthouse keeper vanishes the night a storm cuts the island off";

/// Runs the command.
pub async fn run(args: Args) -> anyhow::Result<()> {
    // The models folder needs neither the store nor the configuration.
    if let Command::Models { command } = args.command {
        return models::run(&args.data, command);
    }
    // Nor do the store's own commands, which must not run its episodes.
    if let Command::Store { command } = args.command {
        return store::run(&args.data, args.store.as_deref(), args.lease, command).await;
    }
    // Nor do reads of a shared database, which go straight to it: this process does not join the
    // engines on it (which would take over episodes whose holder is gone, and start their work).
    if let (Command::Episodes { .. } | Command::Export { .. }, Some(url)) = (&args.command, args.store.as_deref()) {
        let store = PgStore::open(url).context("opening the PostgreSQL store (--store)")?;
        return read(&store, &args.data, args.blobs.as_deref(), args.command).await;
    }
    let config = Config::load(args.config.as_deref(), &args.data)?;
    let mut setup = match &args.command {
        Command::Demo {
            models: Models::Procedural,
            ..
        } => ModelSetup::procedural(),
        Command::Demo {
            models: Models::Local, ..
        } => local_setup(&config.models),
        _ => config.models.clone(),
    };
    if let Some(device) = args.device {
        setup.device = device;
    }
    let backends = backends(&setup, &args.data)?;
    if !(args.lease.is_finite() && (0.5..=3600.0).contains(&args.lease)) {
        bail!("--lease is in seconds, from 0.5 to 3600 (got {})", args.lease);
    }
    let places = showrunner::Places {
        store: args.store.as_deref(),
        blobs: args.blobs.as_deref(),
        lease: std::time::Duration::from_secs_f64(args.lease),
        // A server on a shared store leaves its runs to the workers (its own among them).
        queue: matches!(args.command, Command::Serve { .. }),
    };
    match (&args.command, places.store) {
        (Command::Worker { work }, Some(url)) => {
            return worker::run(url, places, &args.data, definitions(&backends)?, work).await;
        }
        (Command::Worker { .. }, None) => {
            bail!("a worker takes its runs from a PostgreSQL store: give --store postgres://...")
        }
        (Command::Serve { no_work: true, .. }, None) => {
            bail!("--no-work leaves the runs to `showrunner worker` processes on a PostgreSQL store: give --store")
        }
        (Command::Serve { no_work, work, .. }, store) if work.is_set() && (*no_work || store.is_none()) => {
            bail!(
                "--tags, --slots and --per-episode say which queued runs this server performs: they need --store \
                 postgres://... and no --no-work (the embedded store runs its work under the configuration's limits)"
            )
        }
        _ => {}
    }
    let engine = match open(&args.data, places, &backends).await {
        Ok(engine) => engine,
        Err(error) => return beside(&args.data, args.store.is_some(), args.command, error).await,
    };
    let result = dispatch(&engine, &args.data, &config, &backends, args.command, places.lease).await;
    engine.shutdown().await;
    result
}

/// A command whose store another process holds: `episodes` and `export` read through the API of
/// the `serve` that holds it; anything else (or beside a `run`) is refused in a sentence.
async fn beside(data: &Path, on_postgres: bool, command: Command, error: anyhow::Error) -> anyhow::Result<()> {
    let Some((store, pid)) = error.chain().find_map(|e| match e.downcast_ref::<EngineError>() {
        Some(EngineError::Store(StoreError::InUse { path, pid })) => Some((path.clone(), *pid)),
        _ => None,
    }) else {
        return Err(error);
    };
    // The database, or the data directory the sled store is in.
    let store = if on_postgres { store } else { data.display().to_string() };
    let holder = pid.map_or_else(|| "another process".to_owned(), |pid| format!("process {pid}"));
    let reads = matches!(command, Command::Episodes { .. } | Command::Export { .. });
    let remote = remote::Remote::of(data, pid);
    match (reads, remote) {
        (true, Some(remote)) => {
            eprintln!(
                "the store is in use by `showrunner serve` ({holder}): reading through {}",
                remote.base()
            );
            match command {
                Command::Episodes {
                    command: EpisodesCommand::List,
                } => episodes::list_remote(&remote).await,
                Command::Episodes {
                    command: EpisodesCommand::Show { episode },
                } => episodes::show_remote(&remote, resolve_remote(&remote, &episode).await?).await,
                Command::Export { episode, dir, force } => {
                    let id = resolve_remote(&remote, &episode).await?;
                    export_to(&export::Source::Remote(&remote), id, &dir, force).await
                }
                _ => Err(error),
            }
        }
        (true, None) => bail!(
            "the store in {store} is in use by {holder} (a `showrunner run`, `resume` or `demo`): `episodes` and \
             `export` can read it beside `showrunner serve`, or once that process ends"
        ),
        (false, _) => bail!(
            "the store in {store} is in use by {holder}: one process drives a store at a time; stop it (or \
             use another --data or --store) and try again"
        ),
    }
}

/// `episodes` and `export` on a PostgreSQL store, read as committed; an export reads the blobs
/// where `--blobs` says (else `DATA/blobs`).
async fn read(store: &dyn Store, data: &Path, blobs: Option<&str>, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Export { episode, dir, force } => {
            let opened = showrunner::open_blobs(data, blobs).context("opening the blobs (--blobs)")?;
            let source = export::Source::Local(store, &*opened);
            export_to(&source, resolve(store, &episode)?, &dir, force)
                .await
                .with_context(|| match blobs {
                    None => format!(
                        "the blobs were read from {} (give --blobs s3://… as the servers do, if theirs are there)",
                        data.join("blobs").display()
                    ),
                    Some(url) => format!("the blobs were read from {url}"),
                })
        }
        command => list_or_show(store, command),
    }
}

/// `episodes list|show`, read from `store` as committed.
fn list_or_show(store: &dyn Store, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Episodes {
            command: EpisodesCommand::Show { episode },
        } => episodes::show(store, resolve(store, &episode)?),
        _ => episodes::list(store),
    }
}

/// The registry the models load from: `SHOWRUNNER_MODELS`, else `DATA/models`.
fn registry(data: &Path) -> Registry {
    Registry::from_env().unwrap_or_else(|| Registry::in_data_dir(data))
}

/// `demo --models local`: every role on a real model, named by the configuration where it
/// chose that role's real backend.
fn local_setup(configured: &ModelSetup) -> ModelSetup {
    let mut setup = ModelSetup::local();
    setup.device = configured.device;
    for (mine, theirs) in [
        (&mut setup.text, &configured.text),
        (&mut setup.embeddings, &configured.embeddings),
        (&mut setup.speech, &configured.speech),
        (&mut setup.landscape, &configured.landscape),
    ] {
        if theirs.backend == mine.backend {
            mine.model.clone_from(&theirs.model);
        }
    }
    setup
}

/// The stage backends of `setup`, their models loaded and verified.
fn backends(setup: &ModelSetup, data: &Path) -> anyhow::Result<Backends> {
    if setup.is_procedural() {
        return Ok(Backends::procedural());
    }
    let registry = registry(data);
    let started = Instant::now();
    let backends = setup
        .build(&registry)
        .with_context(|| format!("loading the models from {}", registry.root().display()))?;
    eprintln!(
        "models: {} on {} (loaded in {:.1} s)",
        setup.models().join(", "),
        setup.device,
        started.elapsed().as_secs_f64()
    );
    Ok(backends)
}

/// Opens the store with every workflow on `backends`, and on the embedded defaults as well, so
/// that episodes made before a change of models keep running on theirs.
async fn open(data: &Path, places: showrunner::Places<'_>, backends: &Backends) -> anyhow::Result<Engine> {
    let (engine, report) = showrunner::open_on(data, places, definitions(backends)?, EngineConfig::default())
        .await
        .with_context(|| match (places.store, places.blobs) {
            (None, None) => format!("opening the data directory {}", data.display()),
            _ => "opening the stores (--store, --blobs)".to_owned(),
        })?;
    for unknown in &report.unknown_definitions {
        eprintln!(
            "note: episode {} was made with another version of `{}` ({}); it is left as it is",
            unknown.episode, unknown.workflow, unknown.version
        );
    }
    for (episode, error) in &report.corrupt {
        eprintln!("warning: episode {episode:?} does not load: {error}");
    }
    Ok(engine)
}

/// Every workflow on `backends`, and on the embedded defaults as well.
fn definitions(backends: &Backends) -> anyhow::Result<Vec<WorkflowDef>> {
    let mut defs = workflows::all(&Backends::procedural())?;
    let procedural: Vec<String> = defs.iter().map(|d| d.version().to_owned()).collect();
    defs.extend(
        workflows::all(backends)?
            .into_iter()
            .filter(|d| !procedural.iter().any(|v| v == d.version())),
    );
    Ok(defs)
}

fn brief(render: &Render, idea: Option<String>, script: Option<String>) -> Brief {
    let Size(width, height) = render.size;
    Brief {
        series: None,
        idea,
        script,
        settings: Settings {
            aspect_ratio: Settings::aspect_ratio_of(width, height),
            width,
            height,
            fps: render.fps,
            target_duration_s: render.duration,
            seed: render.seed,
            ..Settings::default()
        },
    }
}

fn check_render(render: &Render) -> anyhow::Result<()> {
    if !(1.0..=3600.0).contains(&render.duration) {
        bail!("--duration must be between 1 and 3600 seconds, not {}", render.duration);
    }
    if !(1..=120).contains(&render.fps) {
        bail!("--fps must be between 1 and 120, not {}", render.fps);
    }
    Ok(())
}

fn episode_id(s: &str) -> anyhow::Result<EpisodeId> {
    s.parse()
        .map_err(|e| anyhow::anyhow!("`{s}` is not an episode id: {e}"))
}

/// The episode `s` names: its id, or a prefix of exactly one episode's id (case aside).
fn resolve(store: &dyn Store, s: &str) -> anyhow::Result<EpisodeId> {
    let Some(prefix) = prefix_of(s)? else {
        return episode_id(s);
    };
    let mut ids = Vec::new();
    for status in EpisodeStatus::ALL {
        ids.extend(store.episodes_with_status(status)?);
    }
    pick(s, &prefix, ids)
}

/// [`resolve`] through the API of the server that holds the store.
async fn resolve_remote(remote: &remote::Remote, s: &str) -> anyhow::Result<EpisodeId> {
    let Some(prefix) = prefix_of(s)? else {
        return episode_id(s);
    };
    let ids = remote
        .episodes()
        .await?
        .iter()
        .filter_map(|e| e["id"].as_str()?.parse::<EpisodeId>().ok())
        .collect();
    pick(s, &prefix, ids)
}

/// `s` as an id prefix to look up (upper-case Crockford base 32), or `None` when it is a whole
/// id or cannot be one (then it is parsed as an id, for its error).
fn prefix_of(s: &str) -> anyhow::Result<Option<String>> {
    if s.parse::<EpisodeId>().is_ok() {
        return Ok(None);
    }
    let prefix = s.trim().to_uppercase();
    // Crockford's base 32, as ULIDs are written.
    let ulid_char = |c: char| c.is_ascii_digit() || (c.is_ascii_uppercase() && !matches!(c, 'I' | 'L' | 'O' | 'U'));
    Ok((!prefix.is_empty() && prefix.len() <= 26 && prefix.chars().all(ulid_char)).then_some(prefix))
}

/// The one id of `ids` that starts with `prefix` (`s` as given, for messages).
fn pick(s: &str, prefix: &str, ids: Vec<EpisodeId>) -> anyhow::Result<EpisodeId> {
    let found: Vec<EpisodeId> = ids
        .into_iter()
        .filter(|id| id.to_string().starts_with(prefix))
        .collect();
    match found.as_slice() {
        [id] => Ok(*id),
        [] => bail!("no episode id starts with `{s}` (`showrunner episodes list` lists them)"),
        many => bail!(
            "`{s}` starts {} episode ids ({}, …): give more of it",
            many.len(),
            many.iter()
                .take(3)
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Exports `id` into `dir`, refusing a directory that holds another episode's export unless
/// `force`; says where to watch it.
async fn export_to(source: &export::Source<'_>, id: EpisodeId, dir: &Path, force: bool) -> anyhow::Result<()> {
    let manifest = dir.join("episode.json");
    if !force && let Ok(text) = std::fs::read(&manifest) {
        let other: serde_json::Value = serde_json::from_slice(&text).unwrap_or_default();
        let other = other["id"].as_str().unwrap_or("an unknown episode");
        if other != id.to_string() {
            bail!(
                "{} holds the export of episode {other}: choose another directory, or pass --force to write over it",
                dir.display()
            );
        }
    }
    let written = export::export(source, id, dir).await?;
    println!("exported {written} files to {}", dir.display());
    if dir.join("final.mp4").exists() {
        println!("watch it: {}", dir.join("final.mp4").display());
    }
    Ok(())
}

/// What `engine` committed, as an export reads it.
fn local(engine: &Engine) -> export::Source<'_> {
    export::Source::Local(engine.store().as_ref(), engine.blobs().as_ref())
}

async fn dispatch(
    engine: &Engine,
    data: &Path,
    config: &Config,
    backends: &Backends,
    command: Command,
    lease: std::time::Duration,
) -> anyhow::Result<()> {
    match command {
        Command::Demo { out, render, .. } => {
            check_render(&render)?;
            let started = Instant::now();
            let input = json!(brief(&render, Some(DEMO_IDEA.into()), None));
            let id = engine.create_episode(IDEA2VIDEO, input, render.seed).await?;
            println!("episode {id}: idea2video on \"{DEMO_IDEA}\"");
            Driver::new(engine, id, Gates::Approve).drive().await?;
            let written = export::export(&local(engine), id, &out).await?;
            println!(
                "exported {written} files to {} in {:.1} s",
                out.display(),
                started.elapsed().as_secs_f64()
            );
            println!("watch it: {}", out.join("final.mp4").display());
            Ok(())
        }
        Command::Run {
            workflow,
            idea,
            script,
            auto_approve,
            out,
            render,
            review,
        } => {
            check_render(&render)?;
            let name = match workflow {
                Workflow::Idea2video => IDEA2VIDEO,
                Workflow::Script2video => SCRIPT2VIDEO,
            };
            // The rule is the stock workflows' own; the message names this command's flags.
            let mut input = match (stock::check_input(name, idea.is_some(), script.is_some()), idea, script) {
                (Ok(_), Some(idea), None) => brief(&render, Some(idea), None),
                (Ok(_), None, Some(path)) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading the screenplay {}", path.display()))?;
                    fountain::parse(&text).with_context(|| format!("{} is not a valid screenplay", path.display()))?;
                    brief(&render, None, Some(text))
                }
                _ if name == IDEA2VIDEO => bail!("idea2video needs --idea TEXT"),
                _ => bail!("script2video needs --script FILE"),
            };
            input.settings.review_items = review.review_items;
            input.settings.candidates = review.candidates;
            let variant = input.settings.review_variant();
            let created = engine
                .create_variant_episode(None, None, (name, variant.as_deref()), json!(input), render.seed, None)
                .await?;
            let id = created.header.id;
            println!("episode {id}: {name}");
            let gates = if auto_approve { Gates::Approve } else { Gates::Ask };
            if Driver::new(engine, id, gates).drive().await? {
                let out = out.unwrap_or_else(|| Path::new("showrunner-out").join(id.to_string()));
                export_to(&local(engine), id, &out, false).await?;
            }
            Ok(())
        }
        Command::Resume { episode, auto_approve } => {
            let id = resolve(engine.store().as_ref(), &episode)?;
            if engine.snapshot(id).await?.header.status == EpisodeStatus::Paused {
                engine.resume(id).await?;
            }
            let gates = if auto_approve { Gates::Approve } else { Gates::Ask };
            if Driver::new(engine, id, gates).drive().await? {
                println!("export it: showrunner export {id} DIR");
            }
            Ok(())
        }
        Command::Export { episode, dir, force } => {
            let id = resolve(engine.store().as_ref(), &episode)?;
            export_to(&local(engine), id, &dir, force).await
        }
        command @ Command::Episodes { .. } => list_or_show(engine.store().as_ref(), command),
        Command::Serve {
            addr,
            advertise,
            no_work,
            work,
        } => {
            let embedder = (config.models.embeddings.backend == Backend::Onnx).then(|| backends.embedder.clone());
            let work = (!no_work).then(|| worker::config(&work, lease));
            serve::serve(engine, data, config, embedder, addr, advertise, work).await
        }
        // Handled before the engine opens.
        Command::Worker { .. } => Ok(()),
        Command::Models { command } => models::run(data, command),
        // Handled before the engine opens, as `models` is.
        Command::Store { command } => store::run(data, None, 10.0, command).await,
    }
}

//! `showrunner store migrate | status | copy`: the store itself, without running its episodes.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use showrunner::engine::queue::RunQueue;
use showrunner::engine::{EpisodeStatus, Store};
use showrunner::storage::{PgRunQueue, PgStore, SCHEMA_VERSION, SledStore, copy, redacted_url};

use super::args::StoreCommand;

/// Runs a `store` subcommand; `url` is `--store`.
pub async fn run(data: &Path, url: Option<&str>, lease: f64, command: StoreCommand) -> anyhow::Result<()> {
    match command {
        StoreCommand::Migrate => {
            let Some(url) = url else {
                bail!("`store migrate` migrates a PostgreSQL database: name it with --store postgres://…");
            };
            PgStore::open(url).context("migrating the PostgreSQL store")?;
            println!("the database is at schema version {SCHEMA_VERSION}");
            Ok(())
        }
        StoreCommand::Status => {
            let (store, what): (Arc<dyn Store>, String) = match url {
                Some(url) => {
                    let store = Arc::new(PgStore::open(url).context("opening the PostgreSQL store")?);
                    show_members(&store, lease)?;
                    let queue = PgRunQueue::new(store.clone());
                    show_workers(&queue).await?;
                    show_queue(&queue).await?;
                    (store, format!("PostgreSQL, schema version {SCHEMA_VERSION}"))
                }
                None => (
                    Arc::new(
                        SledStore::open(data.join("store"))
                            .with_context(|| format!("opening the store in {}", data.display()))?,
                    ),
                    format!("embedded (sled) in {}", data.join("store").display()),
                ),
            };
            println!("store: {what}");
            for status in EpisodeStatus::ALL {
                println!(
                    "{:>10} episodes: {}",
                    status.name(),
                    store.episodes_with_status(status)?.len()
                );
            }
            println!("episodes with work queued: {}", store.episodes_with_work()?.len());
            println!("series: {}", store.all_series()?.len());
            println!("upload records: {}", store.uploads()?.len());
            Ok(())
        }
        StoreCommand::Copy { from, to } => {
            let (dir, data) = match from.join("store").is_dir() {
                true => (from.join("store"), from.clone()),
                false => (from.clone(), from.parent().unwrap_or(Path::new(".")).to_path_buf()),
            };
            if !dir.join("db").exists() && !dir.join("conf").exists() {
                bail!(
                    "{} holds no embedded store (give the data directory, or its `store` folder)",
                    from.display()
                );
            }
            let source = SledStore::open(&dir).with_context(|| format!("opening the store in {}", dir.display()))?;
            let target = PgStore::open(&to).context("opening the PostgreSQL store (--to)")?;
            // Copying beside a running engine would race its writes.
            let lease = std::time::Duration::from_secs_f64(lease);
            if let Some(alive) = target
                .members()?
                .into_iter()
                .find(|m| m.silent_for < lease.as_secs_f64())
            {
                let pid = alive.pid.map_or_else(String::new, |p| format!(" (process {p})"));
                bail!(
                    "an engine{pid} is running on {}: stop every `showrunner serve`, `run` or `demo` on it, then copy",
                    redacted_url(&to)
                );
            }
            let report = copy(&source, &target).await.context("copying")?;
            println!(
                "copied {} episodes ({} already there), {} series, {} upload records; every episode read back and checked",
                report.copied, report.already, report.series, report.uploads
            );
            for (episode, why) in &report.failed {
                let name = episode.map_or_else(|| "an episode".to_owned(), |e| format!("episode {e}"));
                eprintln!("not copied: {name}: {why}");
            }
            if !report.failed.is_empty() {
                bail!("{} episodes were not copied", report.failed.len());
            }
            println!(
                "serve it with: showrunner --data {} --store URL serve (URL: {}, as given to --to)",
                data.display(),
                redacted_url(&to)
            );
            Ok(())
        }
    }
}

/// The workers: alive (heard from within their lease) or not, and what each can take.
async fn show_workers(queue: &PgRunQueue) -> anyhow::Result<()> {
    let workers = queue.workers().await.context("reading the list of workers")?;
    let alive = workers.iter().filter(|w| w.is_alive()).count();
    println!("workers: {alive} alive, {} gone", workers.len() - alive);
    for w in &workers {
        let state = match w.is_alive() {
            true => "alive".to_owned(),
            false => format!("silent for {:.0} s", w.silent_for.as_secs_f64()),
        };
        let slots: Vec<String> = w
            .card
            .slots
            .iter()
            .map(|(r, n)| format!("{}={n}", format!("{r:?}").to_lowercase()))
            .collect();
        let tags = if w.card.tags.is_empty() {
            "none".to_owned()
        } else {
            w.card.tags.join(",")
        };
        println!(
            "  {} (pid {}): {state}, slots {}, tags {tags}, {} workflow versions",
            w.card.id,
            w.card.pid,
            slots.join(","),
            w.card.definitions.len()
        );
    }
    Ok(())
}

/// The node runs in the queue, per resource and per tag set, the oldest ready one, and those no
/// live worker can take.
async fn show_queue(queue: &PgRunQueue) -> anyhow::Result<()> {
    let depth = queue.depth().await.context("reading the run queue")?;
    let ready: u64 = depth.by_resource.iter().map(|r| r.1).sum();
    let taken: u64 = depth.by_resource.iter().map(|r| r.2).sum();
    println!("queued node runs: {ready} ready, {taken} running on workers");
    for (resource, ready, taken, reported) in &depth.by_resource {
        let resource = format!("{resource:?}").to_lowercase();
        println!("  {resource}: {ready} ready, {taken} running, {reported} reported (not yet applied)");
    }
    for (tags, n) in &depth.ready_by_tags {
        let tags = if tags.is_empty() { "(no tag)" } else { tags.as_str() };
        println!("  ready for tags {tags}: {n}");
    }
    if let Some(oldest) = depth.oldest_ready {
        println!("  oldest ready run: waiting {:.1} s", oldest.as_secs_f64());
    }
    let untakeable = queue.untakeable().await.context("reading the run queue")?;
    if untakeable > 0 {
        println!(
            "  ready runs no live worker can take: {untakeable} (no worker alive has their resource, all their tags \
             and their workflow version: start one that does)"
        );
    }
    Ok(())
}

/// The engine processes on the database: alive (renewed within `lease` seconds) or not, where
/// their API answers, and how many episodes each holds.
fn show_members(store: &PgStore, lease: f64) -> anyhow::Result<()> {
    let members = store.members()?;
    let alive = members.iter().filter(|m| m.silent_for < lease).count();
    println!("engine processes: {alive} alive, {} gone", members.len() - alive);
    for m in &members {
        let state = match m.silent_for < lease {
            true => "alive".to_owned(),
            false => format!("silent for {:.0} s", m.silent_for),
        };
        println!(
            "  {} (pid {}): {state}, holds {} episodes, API {}",
            m.id,
            m.pid.map_or_else(|| "?".to_owned(), |p| p.to_string()),
            m.episodes,
            m.url.as_deref().unwrap_or("none")
        );
    }
    Ok(())
}

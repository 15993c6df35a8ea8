//! `showrunner episodes list|show`.

use showrunner::engine::{Engine, EpisodeId, EpisodeStatus};

/// Prints every episode with its status and workflow.
pub async fn list(engine: &Engine) -> anyhow::Result<()> {
    let mut any = false;
    for status in EpisodeStatus::ALL {
        for id in engine.episodes(status)? {
            any = true;
            match engine.snapshot(id).await {
                Ok(s) => println!(
                    "{id}  {:<10} {:<13} {} events",
                    status.name(),
                    s.header.workflow,
                    s.header.next_seq - 1
                ),
                Err(e) => println!("{id}  {:<10} (does not load: {e})", status.name()),
            }
        }
    }
    if !any {
        println!("no episodes yet: try `showrunner demo`");
    }
    Ok(())
}

/// Prints one episode: every instance's state and current version.
pub async fn show(engine: &Engine, id: EpisodeId) -> anyhow::Result<()> {
    let s = engine.snapshot(id).await?;
    println!("episode {id}");
    println!(
        "  workflow  {} (definition {})",
        s.header.workflow, s.header.definition_version
    );
    println!("  status    {}", s.header.status.name());
    println!("  events    {}", s.header.next_seq - 1);
    for r in &s.instances {
        let current = r
            .current
            .map_or("-".to_owned(), |v| format!("v{v} of {}", r.versions.len()));
        let error = r.last_error.as_deref().map(|e| format!("  ({e})")).unwrap_or_default();
        println!("  {:<28} {:<18} {current}{error}", r.key.to_string(), r.state.name());
    }
    Ok(())
}

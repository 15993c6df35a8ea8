//! `showrunner episodes list|show`: from the store (as committed), or through the
//! API of the `serve` that holds it.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;
use showrunner::engine::{EpisodeId, EpisodeStatus, Store};
use showrunner::story::stock::title;

use super::remote::Remote;

/// One line of the list.
struct Row {
    id: String,
    status: String,
    workflow: String,
    created_at: u64,
    what: String,
}

/// A creation time as people read it (UTC).
fn when(ms: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(ms))
}

fn print(mut rows: Vec<Row>) {
    if rows.is_empty() {
        println!("no episodes yet: try `showrunner demo`");
        return;
    }
    // Newest first: ids are ULIDs, which sort by creation time.
    rows.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    for r in rows {
        println!(
            "{}  {:<10} {:<13} {}  {}",
            r.id,
            r.status,
            r.workflow,
            when(r.created_at),
            r.what
        );
    }
}

/// Prints every episode in `store`, newest first: id, status, workflow, creation time and idea.
pub fn list(store: &dyn Store) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for status in EpisodeStatus::ALL {
        for id in store.episodes_with_status(status)? {
            rows.push(match store.load_header(id) {
                // Deleted since the listing.
                Ok(None) => continue,
                Ok(Some(header)) => Row {
                    id: id.to_string(),
                    status: status.name().to_owned(),
                    workflow: header.workflow.clone(),
                    created_at: header.created_at,
                    what: title(&header.input),
                },
                Err(e) => Row {
                    id: id.to_string(),
                    status: status.name().to_owned(),
                    workflow: String::new(),
                    created_at: 0,
                    what: format!("(does not load: {e})"),
                },
            });
        }
    }
    print(rows);
    Ok(())
}

/// [`list`] through a running server: its list says each episode's workflow and title.
pub async fn list_remote(remote: &Remote) -> anyhow::Result<()> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let rows = remote
        .episodes()
        .await?
        .iter()
        .map(|e| Row {
            id: text(&e["id"]),
            status: text(&e["status"]),
            workflow: text(&e["workflow"]),
            created_at: e["created_at"].as_u64().unwrap_or_default(),
            what: text(&e["title"]),
        })
        .collect();
    print(rows);
    Ok(())
}

/// One instance's line: key, state, current version, error.
fn instance_line(key: &str, state: &str, current: Option<u64>, versions: u64, error: Option<&str>) {
    let current = current.map_or("-".to_owned(), |v| format!("v{v} of {versions}"));
    let error = error.map(|e| format!("  ({e})")).unwrap_or_default();
    println!("  {key:<28} {state:<18} {current}{error}");
}

/// Prints one episode of `store`: every instance's state and current version.
pub fn show(store: &dyn Store, id: EpisodeId) -> anyhow::Result<()> {
    let s = store
        .load_episode(id)?
        .ok_or_else(|| anyhow::anyhow!("no episode {id} in the store"))?;
    println!("episode {id}");
    println!(
        "  workflow  {} (definition {})",
        s.header.workflow, s.header.definition_version
    );
    println!("  created   {}", when(s.header.created_at));
    println!("  about     {}", title(&s.header.input));
    println!("  status    {}", s.header.status.name());
    println!("  events    {}", s.header.next_seq - 1);
    for r in &s.instances {
        instance_line(
            &r.key.to_string(),
            r.state.name(),
            r.current.map(u64::from),
            r.versions.len() as u64,
            r.last_error.as_deref(),
        );
    }
    Ok(())
}

/// [`show`] through a running server.
pub async fn show_remote(remote: &Remote, id: EpisodeId) -> anyhow::Result<()> {
    let (e, _) = remote.get(&format!("episodes/{id}")).await?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    println!("episode {id}");
    println!(
        "  workflow  {} (definition {})",
        text(&e["workflow"]),
        text(&e["definition_version"])
    );
    println!("  created   {}", when(e["created_at"].as_u64().unwrap_or_default()));
    println!("  about     {}", title(&e["input"]));
    println!("  status    {}", text(&e["status"]));
    println!("  events    {}", e["next_seq"].as_u64().unwrap_or(1) - 1);
    for n in e["nodes"].as_array().into_iter().flatten() {
        let key = match n["item"].as_str() {
            Some(item) => format!("{}[{item}]", text(&n["node"])),
            None => text(&n["node"]),
        };
        instance_line(
            &key,
            &text(&n["state"]).replace('_', " "),
            n["current_version"].as_u64(),
            n["version_count"].as_u64().unwrap_or_default(),
            n["last_error"].as_str(),
        );
    }
    Ok(())
}

//! A gate at the terminal: show what was produced, ask approve / regenerate / edit / quit.

use std::io::{BufRead, Write};

use anyhow::Context;
use indicatif::MultiProgress;
use serde_json::Value;
use showrunner::engine::{Engine, EngineError, EpisodeId, InstanceRecord};

/// What the person decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Approve the current version.
    Approve,
    /// Run again with this feedback.
    Regenerate(String),
    /// Store this value instead.
    Edit(Value),
    /// Leave the gate open and stop.
    Quit,
}

/// The first lines of a value, for the prompt.
fn preview(value: &Value) -> String {
    let pretty = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    let lines: Vec<&str> = pretty.lines().collect();
    let shown = lines.iter().take(40).copied().collect::<Vec<_>>().join("\n");
    if lines.len() > 40 {
        format!("{shown}\n  … ({} more lines)", lines.len() - 40)
    } else {
        shown
    }
}

fn read_line() -> anyhow::Result<Option<String>> {
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the terminal")?;
    Ok((read > 0).then(|| line.trim().to_owned()))
}

/// Opens `$EDITOR` on the value; returns the edited JSON, or `None` when it was left unchanged.
fn edit_in_editor(value: &Value) -> anyhow::Result<Option<Value>> {
    let editor = std::env::var("EDITOR")
        .or_else(|_| std::env::var("VISUAL"))
        .unwrap_or_else(|_| "vi".into());
    let file = tempfile_path()?;
    std::fs::write(&file, serde_json::to_string_pretty(value)?)?;
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$0\""))
        .arg(&file)
        .status()
        .with_context(|| format!("starting the editor `{editor}`"))?;
    let text = std::fs::read_to_string(&file)?;
    let _ = std::fs::remove_file(&file);
    if !status.success() {
        anyhow::bail!("the editor `{editor}` exited with {status}");
    }
    let edited: Value = serde_json::from_str(&text).context("the edited file is not valid JSON")?;
    Ok((&edited != value).then_some(edited))
}

fn tempfile_path() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir();
    Ok(dir.join(format!(
        "showrunner-edit-{}-{}.json",
        std::process::id(),
        showrunner::engine::now_ms()
    )))
}

/// Shows the gate and asks until the answer is usable.
pub async fn ask(
    engine: &Engine,
    id: EpisodeId,
    record: &InstanceRecord,
    bars: &MultiProgress,
) -> anyhow::Result<Decision> {
    let version = record.current.context("a gate without a version")?;
    let value = engine.version_value(id, &record.key, version)?;
    let key = record.key.clone();
    let bars = bars.clone();
    let decision = tokio::task::spawn_blocking(move || {
        bars.suspend(|| -> anyhow::Result<Decision> {
            println!("\n── {key} (version {version}) ──\n{}", preview(&value));
            loop {
                print!("[a]pprove, [r]egenerate with feedback, [e]dit, [q]uit? ");
                std::io::stdout().flush()?;
                let Some(answer) = read_line()? else {
                    return Ok(Decision::Quit);
                };
                match answer.to_lowercase().as_str() {
                    "a" | "approve" | "" => return Ok(Decision::Approve),
                    "q" | "quit" => return Ok(Decision::Quit),
                    "r" | "regenerate" => {
                        print!("feedback: ");
                        std::io::stdout().flush()?;
                        return Ok(Decision::Regenerate(read_line()?.unwrap_or_default()));
                    }
                    "e" | "edit" => match edit_in_editor(&value) {
                        Ok(Some(edited)) => return Ok(Decision::Edit(edited)),
                        Ok(None) => println!("unchanged"),
                        Err(e) => println!("{e:#}"),
                    },
                    other => println!("`{other}`? answer a, r, e or q"),
                }
            }
        })
    })
    .await??;
    Ok(decision)
}

/// Carries out a decision; false when the person quit. An edit that does not fit is shown and
/// the gate is asked again.
pub async fn apply(
    engine: &Engine,
    id: EpisodeId,
    record: &InstanceRecord,
    decision: Decision,
) -> anyhow::Result<bool> {
    let key = record.key.clone();
    let version = record.current;
    let result = match decision {
        Decision::Quit => return Ok(false),
        Decision::Approve => engine.approve(id, key, version.unwrap_or(0)).await,
        Decision::Regenerate(feedback) => {
            let feedback = (!feedback.is_empty()).then_some(feedback);
            engine.regenerate(id, key, feedback, version).await
        }
        Decision::Edit(value) => engine.edit(id, key, value, version).await,
    };
    match result {
        Ok(()) => Ok(true),
        // Someone (or something) acted first: look again.
        Err(e) if e.is_conflict() => Ok(true),
        Err(e @ EngineError::InvalidValue { .. }) => {
            println!("not stored: {e}");
            Ok(true)
        }
        Err(e) => Err(e.into()),
    }
}

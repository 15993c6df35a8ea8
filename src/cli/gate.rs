//! A gate at the terminal: show what was produced, ask approve / regenerate / edit / quit, or,
//! at a candidates gate, which candidate to keep.

use std::io::{BufRead, Write};

use anyhow::Context;
use indicatif::{MultiProgress, ProgressDrawTarget};
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
    /// Keep this candidate version.
    Pick(u32),
    /// Leave the gate open and stop.
    Quit,
}

/// The lines a value may take before it goes through a pager.
const PAGE_LINES: usize = 40;

/// Shows `text` whole: through `$PAGER` (else `less -R`) when it is longer than a page and the
/// terminal is one, else printed.
fn show(text: &str) {
    use std::io::IsTerminal;
    let long = text.lines().count() > PAGE_LINES;
    if long && std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        let pager = std::env::var("PAGER").unwrap_or_else(|_| "less -R".into());
        let child = std::process::Command::new("sh")
            .arg("-c")
            .arg(&pager)
            .stdin(std::process::Stdio::piped())
            .spawn();
        if let Ok(mut child) = child {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(text.as_bytes());
            }
            if child.wait().is_ok_and(|s| s.success()) {
                return;
            }
        }
    }
    println!("{text}");
}

/// What a blob's bytes are, as a file extension.
fn extension(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"\x89PNG") {
        "png"
    } else if bytes.get(4..8) == Some(b"ftyp") {
        "mp4"
    } else if bytes.starts_with(b"WEBVTT") {
        "vtt"
    } else if bytes.starts_with(b"1\n") || bytes.starts_with(b"\xef\xbb\xbf1") {
        "srt"
    } else if bytes.starts_with(b"RIFF") {
        "wav"
    } else {
        "bin"
    }
}

/// Writes every blob `value` references into `dir` (as `HASH.png`, `.mp4`, …) and gives the
/// value with each `blob:HASH` replaced by the file's path, so the person can open it.
async fn with_files(engine: &Engine, value: &Value, dir: &std::path::Path) -> anyhow::Result<Value> {
    let mut text = serde_json::to_string(value)?;
    for hash in showrunner::engine::BlobRef::find_all(value) {
        let blob = showrunner::engine::BlobRef(hash);
        let bytes = engine
            .blobs()
            .get(blob)
            .await
            .with_context(|| format!("reading {blob}"))?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{hash}.{}", extension(&bytes)));
        if !path.exists() {
            std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        }
        let shown = serde_json::to_string(&path.display().to_string())?;
        text = text.replace(&serde_json::to_string(&blob.to_string())?, &shown);
    }
    Ok(serde_json::from_str(&text)?)
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
    // Images, clips and subtitles as files the person can open.
    let files = std::env::temp_dir().join(format!("showrunner-review-{id}"));
    let candidates = record.candidates.clone();
    let mut shown = Vec::new();
    for n in if candidates.is_empty() {
        vec![version]
    } else {
        candidates.clone()
    } {
        let value = match n == version {
            true => value.clone(),
            false => engine.version_value(id, &record.key, n)?,
        };
        shown.push((n, with_files(engine, &value, &files).await?));
    }
    let key = record.key.clone();
    // What the run said of its note: what it did not act on.
    let remarks = record.current_version().map(|v| v.remarks.clone()).unwrap_or_default();
    // The bars stop drawing while the person reads and answers (without holding their lock, so
    // ctrl-c can stop them from the driver), and draw again after.
    bars.set_draw_target(ProgressDrawTarget::hidden());
    let decision = tokio::task::spawn_blocking(move || -> anyhow::Result<Decision> {
        for (n, value) in &shown {
            let pretty = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
            let what = if candidates.is_empty() {
                "version"
            } else {
                "candidate: version"
            };
            show(&format!("\n── {key} ({what} {n}) ──\n{pretty}"));
        }
        for remark in &remarks {
            println!("⚠ {remark}");
        }
        match candidates.is_empty() {
            true => ask_gate(&value),
            false => ask_pick(&candidates),
        }
    })
    .await;
    bars.set_draw_target(ProgressDrawTarget::stderr());
    let decision = decision??;
    Ok(decision)
}

/// Approve, regenerate, edit or quit, asked until the answer is one of them.
fn ask_gate(value: &Value) -> anyhow::Result<Decision> {
    loop {
        print!("[a]pprove, [r]egenerate with feedback, [e]dit, [q]uit? ");
        std::io::stdout().flush()?;
        let Some(answer) = read_line()? else {
            return Ok(Decision::Quit);
        };
        match answer.to_lowercase().as_str() {
            "a" | "approve" | "" => return Ok(Decision::Approve),
            "q" | "quit" => return Ok(Decision::Quit),
            "r" | "regenerate" => return ask_feedback(),
            "e" | "edit" => match edit_in_editor(value) {
                Ok(Some(edited)) => return Ok(Decision::Edit(edited)),
                Ok(None) => println!("unchanged"),
                Err(e) => println!("{e:#}"),
            },
            other => println!("`{other}`? answer a, r, e or q"),
        }
    }
}

/// Which candidate to keep (or regenerate them all, or quit), asked until the answer is one.
fn ask_pick(candidates: &[u32]) -> anyhow::Result<Decision> {
    let listed = candidates.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    loop {
        print!("[p]ick a version ({listed}), [r]egenerate with feedback, [q]uit? ");
        std::io::stdout().flush()?;
        let Some(answer) = read_line()? else {
            return Ok(Decision::Quit);
        };
        let answer = answer.to_lowercase();
        let words: Vec<&str> = answer.split_whitespace().collect();
        match words.as_slice() {
            ["q" | "quit"] => return Ok(Decision::Quit),
            ["r" | "regenerate"] => return ask_feedback(),
            ["p" | "pick", n] | [n] if n.parse::<u32>().is_ok_and(|n| candidates.contains(&n)) => {
                return Ok(Decision::Pick(n.parse()?));
            }
            _ => println!(
                "`{answer}`? answer p and one of {listed} (e.g. `p {}`), r or q",
                candidates.first().copied().unwrap_or(1)
            ),
        }
    }
}

/// The feedback for a regenerate.
fn ask_feedback() -> anyhow::Result<Decision> {
    print!("feedback: ");
    std::io::stdout().flush()?;
    Ok(Decision::Regenerate(read_line()?.unwrap_or_default()))
}

/// What a decision came to.
pub enum Applied {
    /// Carried out (or overtaken by another action): go on.
    Done,
    /// The person quit at the gate.
    Quit,
    /// Refused, with why: say it and ask again.
    Refused(String),
}

/// Carries out a decision. An edit that does not fit comes back refused, with why.
pub async fn apply(
    engine: &Engine,
    id: EpisodeId,
    record: &InstanceRecord,
    decision: Decision,
) -> anyhow::Result<Applied> {
    let key = record.key.clone();
    let version = record.current;
    let result = match decision {
        Decision::Quit => return Ok(Applied::Quit),
        Decision::Approve => engine.approve(id, key, version.unwrap_or(0)).await,
        Decision::Regenerate(feedback) => {
            let feedback = (!feedback.is_empty()).then_some(feedback);
            engine.regenerate(id, key, feedback, version).await
        }
        Decision::Edit(value) => engine.edit(id, key, value, version).await,
        Decision::Pick(n) => engine.select(id, key, n).await,
    };
    match result {
        Ok(()) => Ok(Applied::Done),
        // Someone (or something) acted first: look again.
        Err(e) if e.is_conflict() => Ok(Applied::Done),
        Err(e @ EngineError::InvalidValue { .. }) => Ok(Applied::Refused(format!("not stored: {e}"))),
        Err(e) => Err(e.into()),
    }
}

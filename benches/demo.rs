//! The demo episode end to end: idea2video on the embedded procedural backends, every gate
//! approved as soon as it opens, a 30 s 640×360 24 fps video, on a fresh store — the same work as
//! `showrunner demo` without the export. Target: ≤ 60 s on 2 cores in release.
//!
//! With `local`, the same episode on the installed real models (`demo --models local`: SmolLM2
//! on candle, MiniLM, Piper, terrain diffusion, from the registry in `SHOWRUNNER_MODELS` or
//! `~/.cache/showrunner-models/models`), on the CPU, once; the models' load time is reported
//! apart.
//!
//! ```text
//! cargo bench --bench demo
//! cargo bench --bench demo -- local
//! ```

/// The allocator the `showrunner` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use serde_json::json;
use showrunner::engine::{Engine, EngineConfig, EpisodeId, EpisodeStatus, NodeState};
use showrunner::models::Device;
use showrunner::models::Registry;
use showrunner::nodes::model::{Brief, Settings};
use showrunner::nodes::stages::Backends;
use showrunner::setup::ModelSetup;
use showrunner::workflows;

const TARGET: Duration = Duration::from_secs(60);
const RUNS: usize = 3;

async fn settle(engine: &Engine, id: EpisodeId) -> usize {
    let mut approvals = 0;
    loop {
        let s = engine
            .wait_until(id, Duration::from_secs(1800), |s| {
                s.header.status != EpisodeStatus::Active
                    || s.instances.iter().any(|r| r.state == NodeState::AwaitingApproval {})
            })
            .await
            .expect("the episode")
            .expect("a gate or the end in time");
        match s.header.status {
            EpisodeStatus::Completed => return approvals,
            EpisodeStatus::Active => {}
            other => panic!("the demo episode ended {other:?}"),
        }
        for r in s.instances.iter().filter(|r| r.state == NodeState::AwaitingApproval {}) {
            if engine.approve(id, r.key.clone(), r.current.unwrap_or(0)).await.is_ok() {
                approvals += 1;
            }
        }
    }
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let brief = Brief {
        series: None,
        idea: Some("a lighthouse keeper vanishes the night a storm cuts the island off".into()),
        script: None,
        settings: Settings::default(),
    };
    let local = std::env::args().any(|a| a == "local");
    let backends = if local {
        let registry = Registry::from_env().unwrap_or_else(|| {
            let home = std::env::var_os("HOME").map_or_else(|| "/tmp".into(), std::path::PathBuf::from);
            Registry::new(home.join(".cache/showrunner-models/models"))
        });
        let setup = ModelSetup {
            device: Device::Cpu,
            ..ModelSetup::local()
        };
        let started = Instant::now();
        let backends = setup.build(&registry).unwrap_or_else(|e| panic!("{e}"));
        println!(
            "models {} loaded in {:.2} s",
            setup.models().join(", "),
            started.elapsed().as_secs_f64()
        );
        backends
    } else {
        Backends::procedural()
    };
    println!(
        "demo episode: idea2video, {} s at {}x{} {} fps, {} backends",
        brief.settings.target_duration_s,
        brief.settings.width,
        brief.settings.height,
        brief.settings.fps,
        if local { "local-model" } else { "procedural" }
    );
    let runs = if local { 1 } else { RUNS };
    let mut times = Vec::new();
    for run in 1..=runs {
        let dir = tempfile::tempdir().expect("a tempdir");
        let started = Instant::now();
        let (engine, approvals) = runtime.block_on(async {
            let defs = workflows::all(&backends).expect("the stock workflows");
            let (engine, _) = showrunner::open(dir.path(), defs, EngineConfig::default())
                .await
                .expect("open");
            let id = engine
                .create_episode(workflows::IDEA2VIDEO, json!(brief), 7)
                .await
                .expect("create");
            let approvals = settle(&engine, id).await;
            (engine, approvals)
        });
        let elapsed = started.elapsed();
        runtime.block_on(engine.shutdown());
        println!("run {run}: {:.2} s ({approvals} gates approved)", elapsed.as_secs_f64());
        times.push(elapsed);
    }
    times.sort();
    let median = times[times.len() / 2];
    let verdict = match (local, median <= TARGET) {
        (true, _) => "no target on local models",
        (false, true) => "PASS",
        (false, false) => "MISS",
    };
    println!(
        "median {:.2} s (target ≤ {} s): {verdict}",
        median.as_secs_f64(),
        TARGET.as_secs()
    );
}

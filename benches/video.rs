//! Video encode speed: H.264 (OpenH264) at 640×360, 24 fps, on a 10 s clip of real animated
//! content (the `procedural` video model panning and zooming over a synthetic keyframe), against
//! the target of 10× real time; with the mux, decode and join times, a 320×240 figure, and
//! whether OpenH264 was built with its `nasm` assembly (it falls back to plain C silently, about
//! 3× slower, which misses the target). One plain `main` (`harness = false`) that prints a table.
//!
//! ```text
//! cargo bench --bench video                            # the full run
//! SHOWRUNNER_BENCH_QUICK=1 cargo bench --bench video   # a 2 s clip, one repetition: a smoke run
//! ```

/// The allocator the `showrunner` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use showrunner::backend::VideoModel;
use showrunner::media::video::{Cut, RgbImage, decode_stream, encode_frames, join_streams, mux_mp4};
use showrunner::procedural::video::ProceduralVideo;
use showrunner::story::fixtures;
use showrunner::story::model::{Angle, Camera, Movement, Settings, Shot, ShotType};

/// Encoding speed over real time, at least.
const REALTIME_TARGET: f64 = 10.0;

/// A keyframe with structure at several scales: gradients, soft blobs and fine stripes.
fn keyframe(width: u32, height: u32) -> RgbImage {
    let (w, h) = (f64::from(width), f64::from(height));
    RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (f64::from(x) / w, f64::from(y) / h);
        let blob = ((fx * 9.0).sin() * (fy * 7.0).cos() + 1.0) * 0.5;
        let stripes = ((f64::from(x) * 0.35 + f64::from(y) * 0.12).sin() + 1.0) * 0.5;
        let r = 40.0 + 150.0 * fx + 50.0 * blob;
        let g = 30.0 + 120.0 * fy + 40.0 * stripes;
        let b = 90.0 + 100.0 * blob * (1.0 - fy) + 20.0 * stripes;
        [r.min(255.0) as u8, g.min(255.0) as u8, b.min(255.0) as u8].into()
    })
}

fn shot(movement: Movement, duration_s: f64) -> Shot {
    Shot {
        scene_id: "bench".into(),
        camera: Camera {
            shot_type: ShotType::Wide,
            angle: Angle::EyeLevel,
            movement,
        },
        duration_s,
        seed: 0,
        transition: None,
        generated_by: ProceduralVideo.generator(0),
        ..fixtures::shot("bench")
    }
}

/// The fastest of `reps` runs of `f`, with its last result.
fn best<T, E: std::error::Error + Send + Sync + 'static>(
    reps: usize,
    mut f: impl FnMut() -> Result<T, E>,
) -> anyhow::Result<(Duration, T)> {
    let mut fastest = Duration::MAX;
    let mut last = None;
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        let out = f()?;
        fastest = fastest.min(start.elapsed());
        last = Some(out);
    }
    last.map(|out| (fastest, out)).ok_or_else(|| anyhow::anyhow!("no run"))
}

/// One row: encode (and mux, decode) a clip of `movement` at the given size.
struct Row {
    label: String,
    frames: usize,
    seconds: f64,
    generate: Duration,
    encode: Duration,
    mux: Duration,
    decode: Duration,
    bytes: usize,
}

fn run(label: &str, movement: Movement, width: u32, height: u32, seconds: f64, reps: usize) -> anyhow::Result<Row> {
    let settings = Settings {
        width,
        height,
        fps: 24,
        ..Settings::default()
    };
    let key = keyframe(width, height);
    let shot = shot(movement, seconds);
    let (generate, frames) = best(reps, || ProceduralVideo.clip(&key, &shot, &settings))?;
    let (encode, stream) = best(reps, || encode_frames(&frames, settings.fps))?;
    let (mux, mp4) = best(reps, || mux_mp4(&stream, width, height, settings.fps))?;
    let (decode, decoded) = best(reps, || decode_stream(&stream.annex_b))?;
    if decoded.len() != frames.len() {
        return Err(anyhow::anyhow!("decoded {} of {} frames", decoded.len(), frames.len()));
    }
    Ok(Row {
        label: label.into(),
        frames: frames.len(),
        seconds: frames.len() as f64 / f64::from(settings.fps),
        generate,
        encode,
        mux,
        decode,
        bytes: mp4.len(),
    })
}

/// Whether OpenH264's nasm routines are linked into this binary (it falls back to plain C
/// silently when `nasm` is missing at build time); `None` when the binary cannot be read.
fn nasm_linked() -> Option<bool> {
    let binary = std::fs::read(std::env::current_exe().ok()?).ok()?;
    let needle = b"WelsSampleSad16x16_sse2";
    Some(binary.windows(needle.len()).any(|w| w == needle))
}

fn per_s(frames: usize, d: Duration) -> f64 {
    frames as f64 / d.as_secs_f64().max(1e-9)
}

fn main() -> anyhow::Result<()> {
    let quick = std::env::var_os("SHOWRUNNER_BENCH_QUICK").is_some();
    let (seconds, reps) = if quick { (2.0, 1) } else { (10.0, 3) };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    println!("H.264 (OpenH264, one thread per stream) + MP4 (muxide), 24 fps, best of {reps}; {threads} cores");
    println!();

    let rows = [
        run("640×360 pan right", Movement::PanRight, 640, 360, seconds, reps)?,
        run("640×360 zoom in", Movement::ZoomIn, 640, 360, seconds, reps)?,
        run("320×240 pan right", Movement::PanRight, 320, 240, seconds, reps)?,
    ];

    println!(
        "{:<20} {:>6} {:>10} {:>11} {:>9} {:>10} {:>9} {:>11} {:>9}",
        "clip", "frames", "generate", "encode", "× real", "mux", "decode", "decode", "MP4"
    );
    for r in &rows {
        println!(
            "{:<20} {:>6} {:>7.0} f/s {:>7.0} f/s {:>8.1}× {:>7.2} ms {:>6.0} ms {:>7.0} f/s {:>6.0} kB",
            r.label,
            r.frames,
            per_s(r.frames, r.generate),
            per_s(r.frames, r.encode),
            r.seconds / r.encode.as_secs_f64().max(1e-9),
            r.mux.as_secs_f64() * 1e3,
            r.decode.as_secs_f64() * 1e3,
            per_s(r.frames, r.decode),
            r.bytes as f64 / 1e3,
        );
    }
    println!();

    // The final video: three clips' streams joined with 12-frame dissolves (decode twice,
    // dissolve, re-encode).
    let settings = Settings {
        width: 640,
        height: 360,
        fps: 24,
        ..Settings::default()
    };
    let key = keyframe(640, 360);
    let streams = [Movement::PanRight, Movement::ZoomIn, Movement::PanLeft]
        .into_iter()
        .map(|m| {
            Ok(encode_frames(
                &ProceduralVideo.clip(&key, &shot(m, seconds), &settings)?,
                24,
            )?)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let refs: Vec<&[u8]> = streams.iter().map(|s| s.annex_b.as_slice()).collect();
    let (join, joined) = best(reps, || join_streams(&refs, 24, &[Cut::Dissolve { frames: 12 }; 2]))?;
    let join_seconds = joined.duration_s();
    println!(
        "join 3 × {seconds} s clips (640×360, 12-frame dissolves): {} frames in {:.0} ms, {:.0} f/s, {:.1}× real time",
        joined.frame_count(),
        join.as_secs_f64() * 1e3,
        per_s(joined.frame_count(), join),
        join_seconds / join.as_secs_f64().max(1e-9),
    );
    println!();

    let main = &rows[0];
    let realtime = main.seconds / main.encode.as_secs_f64().max(1e-9);
    let end_to_end = main.seconds / (main.generate + main.encode + main.mux).as_secs_f64().max(1e-9);
    let verdict = if realtime >= REALTIME_TARGET { "PASS" } else { "FAIL" };
    println!(
        "{verdict}: 640×360 encode at {realtime:.1}× real time (target ≥ {REALTIME_TARGET}×); \
         generate + encode + mux at {end_to_end:.1}× real time"
    );
    let small = per_s(rows[2].frames, rows[2].encode);
    let asm = match nasm_linked() {
        Some(true) => "built with nasm assembly (its SSE2 routines are linked into this binary)",
        Some(false) => "built WITHOUT nasm assembly: plain C, about 3× slower (install Debian `nasm`, rebuild)",
        None => "assembly unknown (cannot read this binary)",
    };
    println!("OpenH264 at 320×240: {small:.0} frames/s; {asm}");
    Ok(())
}

//! Terrain heightmaps from a one-step consistency UNet (the registry's `terrain`, the ONNX graph
//! of the PyPI package `adaptive-terrain-diffusion` 0.4.2), rendered as landscape backgrounds
//! ([`render`]) for outdoor scenes ([`TerrainImages`]).
//!
//! The call matches the package's own `TerrainGenerator.generate(shape=128)`:
//!
//! - `noisy` = standard normal noise × [`SIGMA_MAX`] (80), `[1, 1, 128, 128]`; the graph does its
//!   own preconditioning (c_in, c_skip, c_out), so nothing else is scaled outside it;
//! - `sigma` = `[80]`; `difficulty` = `(d − 1) / 99` for a difficulty `d` in 1..=100;
//! - `denoised` is in the model's space, about `[-1, 1]`: `u = clamp((v + 1) / 2, 0, 1)`, then
//!   metres `h = 0.1 · sinh(u · asinh(HEIGHT_RANGE / 0.1))`, clamped to `[0, HEIGHT_RANGE]`, then
//!   shifted so the lowest point is 0 (the package's `zero_floor`).
//!
//! The noise comes from [`showrunner_story::rng::Rng`] (Box–Muller), so a seed gives the same heightmap on
//! every machine, though not the one numpy's generator would give for that seed.
//!
//! `Session::run` takes `&mut self`: one session behind a mutex, as for MiniLM.

mod images;
pub mod render;

use std::path::Path;
use std::sync::Mutex;

use ndarray::{Array2, Axis, Ix4};
use ort::session::Session;
use ort::value::{Tensor, TensorElementType};

pub use images::{TerrainImages, is_outdoor};

use super::OnnxError;
use super::runtime::Runtime;
use crate::{Device, Placement, session};
use showrunner_models::{Registry, Role};
use showrunner_story::rng::Rng;

/// The registry's name for the terrain model.
pub const TERRAIN_MODEL: &str = "terrain";

/// The heightmap's side, in cells (the graph's native size).
pub const SIZE: usize = 128;

/// The noise level the one-step sampler starts from (the package's `sigma_max`).
pub const SIGMA_MAX: f32 = 80.0;

/// The largest height, in metres, the model's output space maps to (the package's
/// `height_range`).
pub const HEIGHT_RANGE: f32 = 22.168_64;

/// The scale of the `asinh` height encoding, in metres (the package's `asinh_scale`).
const ASINH_SCALE: f32 = 0.1;

/// The highest difficulty (the roughest terrain); 1 is the gentlest.
pub const DIFFICULTY_MAX: u32 = 100;

const INPUTS: [&str; 3] = ["noisy", "sigma", "difficulty"];
const OUTPUT: &str = "denoised";

/// The terrain model on ONNX Runtime.
#[derive(Debug)]
pub struct TerrainModel {
    session: Mutex<Session>,
    name: String,
    placement: Placement,
}

impl TerrainModel {
    /// The landscape model `name` of the registry on `device`, with ONNX Runtime found as
    /// [`super::runtime::library`] says. Its files are verified first.
    pub fn from_registry(registry: &Registry, name: &str, device: Device) -> Result<Self, OnnxError> {
        let model = registry.require(name, Role::Landscape)?;
        let runtime = Runtime::from_registry(registry)?;
        TerrainModel::load(&runtime, &model.main_file()?, name, device)
    }

    /// The model from its ONNX graph, checked to read `noisy`, `sigma` and `difficulty` and
    /// write `denoised`, all float32.
    pub fn load(runtime: &Runtime, model: &Path, name: &str, device: Device) -> Result<Self, OnnxError> {
        let (session, placement) = session(runtime, model, device)?;
        let refused = |message: String| OnnxError::Session {
            model: model.to_owned(),
            message,
        };
        for required in INPUTS {
            let input = session
                .inputs()
                .iter()
                .find(|i| i.name() == required)
                .ok_or_else(|| refused(format!("no `{required}` input: not the terrain consistency UNet")))?;
            if input.dtype().tensor_type() != Some(TensorElementType::Float32) {
                return Err(refused(format!("input `{required}` is not float32")));
            }
        }
        if !session.outputs().iter().any(|o| o.name() == OUTPUT) {
            return Err(refused(format!(
                "no `{OUTPUT}` output: not the terrain consistency UNet"
            )));
        }
        Ok(TerrainModel {
            session: Mutex::new(session),
            name: name.into(),
            placement,
        })
    }

    /// Its registry name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the graph runs.
    pub fn placement(&self) -> Placement {
        self.placement
    }

    /// A [`SIZE`]×[`SIZE`] heightmap in metres, lowest point 0, rows first. `difficulty` (clamped
    /// to 1..=[`DIFFICULTY_MAX`]) sets how rough it is; the same seed and difficulty give the
    /// same heightmap.
    pub fn heightmap(&self, seed: u64, difficulty: u32) -> Result<Array2<f32>, OnnxError> {
        let label = (difficulty.clamp(1, DIFFICULTY_MAX) - 1) as f32 / (DIFFICULTY_MAX - 1) as f32;
        let noisy: Vec<f32> = gaussian(seed, SIZE * SIZE).into_iter().map(|z| z * SIGMA_MAX).collect();
        let inputs = vec![
            (
                "noisy",
                Tensor::from_array(([1, 1, SIZE, SIZE], noisy)).map_err(inference)?,
            ),
            ("sigma", Tensor::from_array(([1], vec![SIGMA_MAX])).map_err(inference)?),
            ("difficulty", Tensor::from_array(([1], vec![label])).map_err(inference)?),
        ];
        let mut session = self.session.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let outputs = session.run(inputs).map_err(inference)?;
        let denoised = outputs[OUTPUT]
            .try_extract_array::<f32>()
            .map_err(inference)?
            .into_dimensionality::<Ix4>()
            .map_err(|e| OnnxError::Inference(format!("`{OUTPUT}` is not [batch, 1, height, width]: {e}")))?;
        if denoised.shape() != [1, 1, SIZE, SIZE] {
            return Err(OnnxError::Inference(format!(
                "`{OUTPUT}` has shape {:?}, expected [1, 1, {SIZE}, {SIZE}]",
                denoised.shape()
            )));
        }
        let model_space = denoised.index_axis(Axis(0), 0).index_axis(Axis(0), 0).to_owned();
        if model_space.iter().any(|v| !v.is_finite()) {
            return Err(OnnxError::Inference(format!(
                "`{OUTPUT}` has values that are not finite"
            )));
        }
        Ok(to_metres(model_space))
    }
}

fn inference(e: ort::Error) -> OnnxError {
    OnnxError::Inference(e.to_string())
}

/// `n` standard normal draws from `seed` (Box–Muller on [`Rng`]).
fn gaussian(seed: u64, n: usize) -> Vec<f32> {
    let mut rng = Rng::derive(seed, "terrain-noise");
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        // 1 - unit() is in (0, 1]: the logarithm stays finite.
        let radius = (-2.0 * (1.0 - rng.unit()).ln()).sqrt();
        let angle = std::f64::consts::TAU * rng.unit();
        out.push((radius * angle.cos()) as f32);
        out.push((radius * angle.sin()) as f32);
    }
    out.truncate(n);
    out
}

/// The package's `_from_model_space(zero_floor=True)`: the `asinh` encoding undone, in metres,
/// the lowest point moved to 0.
fn to_metres(model_space: Array2<f32>) -> Array2<f32> {
    let normalizer = (HEIGHT_RANGE / ASINH_SCALE).asinh();
    let mut heights = model_space.mapv(|v| {
        let unit = ((v + 1.0) * 0.5).clamp(0.0, 1.0);
        (ASINH_SCALE * (unit * normalizer).sinh()).clamp(0.0, HEIGHT_RANGE)
    });
    let floor = heights.iter().copied().fold(f32::INFINITY, f32::min);
    heights.mapv_inplace(|h| h - floor);
    heights
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_standard_normal_and_seeded() {
        let noise = gaussian(7, 20_001);
        assert_eq!(noise.len(), 20_001);
        let mean = noise.iter().sum::<f32>() / noise.len() as f32;
        let var = noise.iter().map(|z| (z - mean) * (z - mean)).sum::<f32>() / noise.len() as f32;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
        assert_eq!(gaussian(7, 16), gaussian(7, 16));
        assert_ne!(gaussian(7, 16), gaussian(8, 16));
    }

    #[test]
    fn model_space_maps_to_metres_from_a_zero_floor() {
        let heights = to_metres(Array2::from_shape_vec((1, 4), vec![-1.5, -0.2, 0.4, 1.0]).expect("shape"));
        assert_eq!(heights[[0, 0]], 0.0);
        // -1.5 clamps to the bottom of the range, 1.0 is its top.
        assert!((heights[[0, 3]] - HEIGHT_RANGE).abs() < 1e-3, "{heights}");
        assert!(heights[[0, 1]] < heights[[0, 2]]);
        // The encoding spends most of its range near the ground: -0.2 is 0.57 m, 0.4 is 3.56 m.
        assert!((heights[[0, 1]] - 0.568).abs() < 1e-3, "{heights}");
        assert!((heights[[0, 2]] - 3.561).abs() < 1e-3, "{heights}");
    }
}

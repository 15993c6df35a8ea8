//! Consistency: how closely the keyframe's pixels where each character was drawn match its
//! portrait (colour-histogram intersection).

use candle_core::{Result, Tensor};
use image::RgbImage;
use showrunner_story::model::{Character, Shot};

use super::keyframe::{figure_patch, placements};
use crate::raster::Canvas;

pub(super) fn consistency_score(keyframe: &RgbImage, shot: &Shot, cast: &[(&Character, &RgbImage)]) -> Result<f64> {
    let size = (keyframe.width() as usize, keyframe.height() as usize);
    let frame = Canvas::from_image(keyframe)?;
    let mut scores = Vec::new();
    for p in placements(shot, cast, size) {
        let Some((patch, mask, x0, y0)) = figure_patch(cast[p.member].1, &p, size)? else {
            continue;
        };
        let (_, ph, pw) = patch.dims3()?;
        let region = frame.with_tensor(|t| t.narrow(1, y0, ph)?.narrow(2, x0, pw)?.contiguous())?;
        if let Some(score) = intersection(&patch, &region, &mask)? {
            scores.push(score);
        }
    }
    Ok(if scores.is_empty() {
        1.0
    } else {
        scores.iter().sum::<f64>() / scores.len() as f64
    })
}

/// Histogram intersection of two patches under a mask; `None` when the mask is empty.
pub(super) fn intersection(a: &Tensor, b: &Tensor, mask: &Tensor) -> Result<Option<f64>> {
    let weights = mask
        .affine(2.0, -1.0)?
        .clamp(0f32, 1f32)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let total: f64 = weights.iter().map(|&m| f64::from(m)).sum();
    if total < 1.0 {
        return Ok(None);
    }
    let ha = histogram(a, &weights)?;
    let hb = histogram(b, &weights)?;
    Ok(Some(ha.iter().zip(&hb).map(|(x, y)| x.min(*y)).sum::<f64>() / total))
}

pub(super) const BINS: usize = 6;

/// A soft 3-D colour histogram (trilinear binning, `BINS` per channel) weighted by `weights`.
pub(super) fn histogram(patch: &Tensor, weights: &[f32]) -> Result<Vec<f64>> {
    let rgb = patch.flatten_from(1)?.to_vec2::<f32>()?;
    let mut hist = vec![0f64; BINS * BINS * BINS];
    let top = (BINS - 1) as f32;
    for (i, &m) in weights.iter().enumerate() {
        if m <= 0.0 {
            continue;
        }
        let pos = [0, 1, 2].map(|ch| (rgb[ch][i].clamp(0.0, 1.0) * top).min(top - 1e-4));
        for corner in 0..8 {
            let mut index = 0;
            let mut weight = f64::from(m);
            for (ch, &p) in pos.iter().enumerate() {
                let (lo, frac) = (p.floor(), p - p.floor());
                let up = (corner >> ch) & 1 == 1;
                index = index * BINS + lo as usize + usize::from(up);
                weight *= f64::from(if up { frac } else { 1.0 - frac });
            }
            hist[index] += weight;
        }
    }
    Ok(hist)
}

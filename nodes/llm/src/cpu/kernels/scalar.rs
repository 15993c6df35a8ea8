//! The kernels in plain Rust: the reference the SIMD ones are tested against, and what runs on
//! a CPU without AVX2.

use super::{BLOCK, Q4_1Row, Q8_0Row, Q8Row, f16_to_f32, round_to_f16};

/// Blocks common to the weight row (`w_blocks`) and all of `xs`.
pub(super) fn common_blocks<const N: usize>(w_blocks: usize, xs: &[Q8Row<'_>; N]) -> usize {
    xs.iter().fold(w_blocks, |n, x| n.min(x.qs.len()).min(x.ds.len()))
}

/// Q4_1 block `b` of `w` times block `b` of `x`: `d`·dₓ·Σ qᵢxᵢ + `m`·sₓ.
pub(super) fn q4_1_block(w: Q4_1Row<'_>, x: Q8Row<'_>, b: usize) -> f32 {
    let (qs, xq) = (&w.qs[b], &x.qs[b]);
    let sum: i32 = (0..BLOCK / 2)
        .map(|j| i32::from(qs[j] & 0x0F) * i32::from(xq[j]) + i32::from(qs[j] >> 4) * i32::from(xq[j + BLOCK / 2]))
        .sum();
    let [d, m] = w.dm[b].map(f16_to_f32);
    let [xd, xs] = x.ds[b];
    sum as f32 * (d * xd) + m * xs
}

/// Q8_0 block `b` of `w` times block `b` of `x`: `d`·dₓ·Σ qᵢxᵢ.
pub(super) fn q8_0_block(w: Q8_0Row<'_>, x: Q8Row<'_>, b: usize) -> f32 {
    let sum: i32 = w.qs[b]
        .iter()
        .zip(&x.qs[b])
        .map(|(&q, &v)| i32::from(q) * i32::from(v))
        .sum();
    sum as f32 * (f16_to_f32(w.d[b]) * x.ds[b][0])
}

/// See [`super::Isa::q4_1_dots`].
pub fn q4_1_dots<const N: usize>(w: Q4_1Row<'_>, xs: &[Q8Row<'_>; N]) -> [f32; N] {
    let blocks = common_blocks(w.qs.len().min(w.dm.len()), xs);
    xs.map(|x| (0..blocks).map(|b| q4_1_block(w, x, b)).sum())
}

/// See [`super::Isa::q8_0_dots`].
pub fn q8_0_dots<const N: usize>(w: Q8_0Row<'_>, xs: &[Q8Row<'_>; N]) -> [f32; N] {
    let blocks = common_blocks(w.qs.len().min(w.d.len()), xs);
    xs.map(|x| (0..blocks).map(|b| q8_0_block(w, x, b)).sum())
}

/// See [`super::Isa::quantize`]: per block, `d` = max|x|/127, q = x/`d` rounded to the nearest
/// (ties to even, as the SIMD rounding does), `s` = `d`·Σq.
pub fn quantize(x: &[f32], qs: &mut [[i8; 32]], ds: &mut [[f32; 2]]) {
    let (blocks, _) = x.as_chunks::<BLOCK>();
    for ((block, q), ds) in blocks.iter().zip(qs).zip(ds) {
        let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let mut sum = 0i32;
        for (q, &v) in q.iter_mut().zip(block) {
            *q = (v * id).round_ties_even() as i8;
            sum += i32::from(*q);
        }
        *ds = [round_to_f16(d), round_to_f16(d * sum as f32)];
    }
}

/// See [`super::Isa::dot`].
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// See [`super::Isa::axpy`].
pub fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

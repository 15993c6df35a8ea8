//! AVX-512 VNNI kernels: two blocks of 32 per 512-bit register, the 8-bit products summed by
//! `vpdpbusd` (unsigned × signed bytes into 32-bit lanes). An odd last block goes through the
//! scalar code.

use std::arch::x86_64::*;

use super::scalar::{self, common_blocks};
use super::{Q4_1Row, Q8_0Row, Q8Row};

#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
fn load_u8x32(x: &[[u8; 16]; 2]) -> __m256i {
    // SAFETY: `x` is 32 readable bytes; the load is unaligned.
    unsafe { _mm256_loadu_si256(x.as_ptr().cast()) }
}

#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
fn load_i8x64(x: &[[i8; 32]; 2]) -> __m512i {
    // SAFETY: `x` is 64 readable bytes; the load is unaligned.
    unsafe { _mm512_loadu_si512(x.as_ptr().cast()) }
}

#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
fn load_u16x4(x: &[[u16; 2]; 2]) -> __m128i {
    // SAFETY: `x` is 8 readable bytes, which is what `vmovq` reads; the load is unaligned.
    unsafe { _mm_loadl_epi64(x.as_ptr().cast()) }
}

#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
fn load_f32x4(x: &[[f32; 2]; 2]) -> __m128 {
    // SAFETY: `x` is 4 readable floats; the load is unaligned.
    unsafe { _mm_loadu_ps(x.as_ptr().cast()) }
}

/// Lanes 0–7 take lane 0 of the source, lanes 8–15 lane 2: a per-block value of
/// `[first, _, second, _]` spread over the two blocks' lanes.
#[target_feature(enable = "avx512f")]
fn spread(v: __m128) -> __m512 {
    let index = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2);
    _mm512_permutexvar_ps(index, _mm512_castps128_ps512(v))
}

/// See [`super::Isa::q4_1_dots`].
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub fn q4_1_dots<const N: usize>(w: Q4_1Row<'_>, xs: &[Q8Row<'_>; N]) -> [f32; N] {
    let blocks = common_blocks(w.qs.len().min(w.dm.len()), xs);
    let (wq, _) = w.qs[..blocks].as_chunks::<2>();
    let (wdm, _) = w.dm[..blocks].as_chunks::<2>();
    let xq: [&[[[i8; 32]; 2]]; N] = std::array::from_fn(|t| xs[t].qs[..blocks].as_chunks::<2>().0);
    let xds: [&[[[f32; 2]; 2]]; N] = std::array::from_fn(|t| xs[t].ds[..blocks].as_chunks::<2>().0);
    let low = _mm256_set1_epi8(0x0F);
    let mut acc = [_mm512_setzero_ps(); N];
    let mut mins = [_mm_setzero_ps(); N];
    for p in 0..wq.len() {
        let raw = load_u8x32(&wq[p]);
        let lo = _mm256_and_si256(raw, low);
        let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(raw), low);
        // 128-bit lanes [lo₀, lo₁, hi₀, hi₁] → [lo₀, hi₀, lo₁, hi₁]: block 0's 32 values, then 1's.
        let both = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi);
        let q = _mm512_shuffle_i64x2::<0b11_01_10_00>(both, both);
        // [d₀, m₀, d₁, m₁]
        let dm = _mm_cvtph_ps(load_u16x4(&wdm[p]));
        for t in 0..N {
            let dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, load_i8x64(&xq[t][p]));
            // [d₀·dₓ₀, m₀·sₓ₀, d₁·dₓ₁, m₁·sₓ₁]
            let scales = _mm_mul_ps(dm, load_f32x4(&xds[t][p]));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), spread(scales), acc[t]);
            mins[t] = _mm_add_ps(mins[t], scales);
        }
    }
    std::array::from_fn(|t| {
        let tail = if blocks % 2 == 1 {
            scalar::q4_1_block(w, xs[t], blocks - 1)
        } else {
            0.0
        };
        let mins = _mm_add_ps(mins[t], _mm_movehl_ps(mins[t], mins[t]));
        _mm512_reduce_add_ps(acc[t]) + _mm_cvtss_f32(_mm_movehdup_ps(mins)) + tail
    })
}

/// See [`super::Isa::q8_0_dots`]. `vpdpbusd` multiplies unsigned by signed bytes: the weights'
/// signs move onto the activations first.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub fn q8_0_dots<const N: usize>(w: Q8_0Row<'_>, xs: &[Q8Row<'_>; N]) -> [f32; N] {
    let blocks = common_blocks(w.qs.len().min(w.d.len()), xs);
    let (wq, _) = w.qs[..blocks].as_chunks::<2>();
    let (wd, _) = w.d[..blocks].as_chunks::<2>();
    let xq: [&[[[i8; 32]; 2]]; N] = std::array::from_fn(|t| xs[t].qs[..blocks].as_chunks::<2>().0);
    let xds: [&[[[f32; 2]; 2]]; N] = std::array::from_fn(|t| xs[t].ds[..blocks].as_chunks::<2>().0);
    let zero = _mm512_setzero_si512();
    let mut acc = [_mm512_setzero_ps(); N];
    for p in 0..wq.len() {
        let q = load_i8x64(&wq[p]);
        let magnitude = _mm512_abs_epi8(q);
        let negative = _mm512_movepi8_mask(q);
        let [d0, d1] = wd[p];
        // [d₀, 0, d₁, 0]
        let d = _mm_cvtph_ps(_mm_setr_epi32(i32::from(d0), i32::from(d1), 0, 0));
        for t in 0..N {
            let x = load_i8x64(&xq[t][p]);
            let signed = _mm512_mask_sub_epi8(x, negative, zero, x);
            let dot = _mm512_dpbusd_epi32(zero, magnitude, signed);
            // [d₀·dₓ₀, 0, d₁·dₓ₁, 0]
            let scales = _mm_mul_ps(d, load_f32x4(&xds[t][p]));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), spread(scales), acc[t]);
        }
    }
    std::array::from_fn(|t| {
        let tail = if blocks % 2 == 1 {
            scalar::q8_0_block(w, xs[t], blocks - 1)
        } else {
            0.0
        };
        _mm512_reduce_add_ps(acc[t]) + tail
    })
}

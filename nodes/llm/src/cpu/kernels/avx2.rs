//! AVX2 kernels (with FMA and F16C), one block of 32 at a time: the 8-bit products are summed
//! with `vpmaddubsw`/`vpmaddwd`, as ggml's AVX2 path does. The activation quantisation and the
//! f32 loops here serve the AVX-512 level too.

use std::arch::x86_64::*;

use super::scalar::common_blocks;
use super::{BLOCK, Q4_1Row, Q8_0Row, Q8Row, round_to_f16};

#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
fn load_u8x16(x: &[u8; 16]) -> __m128i {
    // SAFETY: `x` is 16 readable bytes; the load is unaligned.
    unsafe { _mm_loadu_si128(x.as_ptr().cast()) }
}

#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
fn load_i8x32(x: &[i8; 32]) -> __m256i {
    // SAFETY: `x` is 32 readable bytes; the load is unaligned.
    unsafe { _mm256_loadu_si256(x.as_ptr().cast()) }
}

#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
fn store_i8x32(x: &mut [i8; 32], v: __m256i) {
    // SAFETY: `x` is 32 writable bytes, borrowed exclusively; the store is unaligned.
    unsafe { _mm256_storeu_si256(x.as_mut_ptr().cast(), v) }
}

#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
fn load_f32x8(x: &[f32; 8]) -> __m256 {
    // SAFETY: `x` is 8 readable floats; the load is unaligned.
    unsafe { _mm256_loadu_ps(x.as_ptr()) }
}

#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
fn store_f32x8(x: &mut [f32; 8], v: __m256) {
    // SAFETY: `x` is 8 writable floats, borrowed exclusively; the store is unaligned.
    unsafe { _mm256_storeu_ps(x.as_mut_ptr(), v) }
}

/// The sum of the 8 lanes.
#[target_feature(enable = "avx2")]
pub(super) fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
}

/// The f32 value of the f16 `bits`.
#[target_feature(enable = "avx2,f16c")]
fn f16_to_f32(bits: u16) -> f32 {
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(bits))))
}

/// See [`super::Isa::q4_1_dots`].
#[target_feature(enable = "avx2,fma,f16c")]
pub fn q4_1_dots<const N: usize>(w: Q4_1Row<'_>, xs: &[Q8Row<'_>; N]) -> [f32; N] {
    let blocks = common_blocks(w.qs.len().min(w.dm.len()), xs);
    let (wq, wdm) = (&w.qs[..blocks], &w.dm[..blocks]);
    let low = _mm_set1_epi8(0x0F);
    let ones = _mm256_set1_epi16(1);
    let mut acc = [_mm256_setzero_ps(); N];
    let mut mins = [_mm_setzero_ps(); N];
    for b in 0..blocks {
        let raw = load_u8x16(&wq[b]);
        let q = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16::<4>(raw), low), _mm_and_si128(raw, low));
        let [d, m] = wdm[b];
        // [d, m, 0, 0]
        let dm = _mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(d) | (i32::from(m) << 16)));
        for t in 0..N {
            let x = &xs[t];
            let dot = _mm256_madd_epi16(_mm256_maddubs_epi16(q, load_i8x32(&x.qs[b])), ones);
            let [xd, xsum] = x.ds[b];
            // [d·dₓ, m·sₓ, 0, 0]
            let scales = _mm_mul_ps(dm, _mm_setr_ps(xd, xsum, 0.0, 0.0));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_broadcastss_ps(scales), acc[t]);
            mins[t] = _mm_add_ps(mins[t], scales);
        }
    }
    std::array::from_fn(|t| hsum(acc[t]) + _mm_cvtss_f32(_mm_movehdup_ps(mins[t])))
}

/// See [`super::Isa::q8_0_dots`]. `vpmaddubsw` multiplies unsigned by signed bytes: the weights'
/// signs move onto the activations first.
#[target_feature(enable = "avx2,fma,f16c")]
pub fn q8_0_dots<const N: usize>(w: Q8_0Row<'_>, xs: &[Q8Row<'_>; N]) -> [f32; N] {
    let blocks = common_blocks(w.qs.len().min(w.d.len()), xs);
    let (wq, wd) = (&w.qs[..blocks], &w.d[..blocks]);
    let ones = _mm256_set1_epi16(1);
    let mut acc = [_mm256_setzero_ps(); N];
    for b in 0..blocks {
        let q = load_i8x32(&wq[b]);
        let magnitude = _mm256_sign_epi8(q, q);
        let d = f16_to_f32(wd[b]);
        for t in 0..N {
            let x = &xs[t];
            let signed = _mm256_sign_epi8(load_i8x32(&x.qs[b]), q);
            let dot = _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, signed), ones);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(d * x.ds[b][0]), acc[t]);
        }
    }
    std::array::from_fn(|t| hsum(acc[t]))
}

/// See [`super::Isa::quantize`]; the same numbers as [`super::scalar::quantize`].
#[target_feature(enable = "avx2,fma,f16c")]
pub fn quantize(x: &[f32], qs: &mut [[i8; 32]], ds: &mut [[f32; 2]]) {
    let (blocks, _) = x.as_chunks::<BLOCK>();
    let sign = _mm256_set1_ps(-0.0);
    // `vpackssdw`/`vpacksswb` interleave the 128-bit lanes; this puts the values back in order.
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for ((block, q), ds) in blocks.iter().zip(qs).zip(ds) {
        let (parts, _) = block.as_chunks::<8>();
        let v: [__m256; 4] = std::array::from_fn(|i| load_f32x8(&parts[i]));
        let amax = v
            .iter()
            .fold(_mm256_setzero_ps(), |m, &v| _mm256_max_ps(m, _mm256_andnot_ps(sign, v)));
        let amax = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps::<1>(amax));
        let amax = _mm_max_ps(amax, _mm_movehl_ps(amax, amax));
        let amax = _mm_cvtss_f32(_mm_max_ss(amax, _mm_movehdup_ps(amax)));
        let d = amax / 127.0;
        let id = _mm256_set1_ps(if d != 0.0 { 1.0 / d } else { 0.0 });
        let ints: [__m256i; 4] = std::array::from_fn(|i| {
            let scaled = _mm256_mul_ps(v[i], id);
            _mm256_cvtps_epi32(_mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                scaled,
            ))
        });
        let sum = _mm256_add_epi32(_mm256_add_epi32(ints[0], ints[1]), _mm256_add_epi32(ints[2], ints[3]));
        let sum = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256::<1>(sum));
        let sum = _mm_add_epi32(sum, _mm_unpackhi_epi64(sum, sum));
        let sum = _mm_cvtsi128_si32(_mm_add_epi32(sum, _mm_shuffle_epi32::<0b01>(sum)));
        let packed = _mm256_packs_epi16(
            _mm256_packs_epi32(ints[0], ints[1]),
            _mm256_packs_epi32(ints[2], ints[3]),
        );
        store_i8x32(q, _mm256_permutevar8x32_epi32(packed, order));
        *ds = [round_to_f16(d), round_to_f16(d * sum as f32)];
    }
}

/// See [`super::Isa::dot`].
#[target_feature(enable = "avx2,fma")]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a8, a_rest) = a[..n].as_chunks::<8>();
    let (b8, b_rest) = b[..n].as_chunks::<8>();
    let (a16, a8_rest) = a8.as_chunks::<2>();
    let (b16, b8_rest) = b8.as_chunks::<2>();
    let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    for (x, y) in a16.iter().zip(b16) {
        acc0 = _mm256_fmadd_ps(load_f32x8(&x[0]), load_f32x8(&y[0]), acc0);
        acc1 = _mm256_fmadd_ps(load_f32x8(&x[1]), load_f32x8(&y[1]), acc1);
    }
    for (x, y) in a8_rest.iter().zip(b8_rest) {
        acc0 = _mm256_fmadd_ps(load_f32x8(x), load_f32x8(y), acc0);
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    hsum(_mm256_add_ps(acc0, acc1)) + tail
}

/// See [`super::Isa::axpy`].
#[target_feature(enable = "avx2,fma")]
pub fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    let n = x.len().min(y.len());
    let (x8, x_rest) = x[..n].as_chunks::<8>();
    let (y8, y_rest) = y[..n].as_chunks_mut::<8>();
    let av = _mm256_set1_ps(a);
    for (y, x) in y8.iter_mut().zip(x8) {
        let sum = _mm256_fmadd_ps(av, load_f32x8(x), load_f32x8(y));
        store_f32x8(y, sum);
    }
    for (y, x) in y_rest.iter_mut().zip(x_rest) {
        *y += a * x;
    }
}

//! The inner loops of the CPU forward pass: quantised dot products of a weight row with 8-bit
//! activation rows, the 8-bit quantisation of activations, and the f32 dot product and
//! `y += a·x` of attention. Each comes in plain Rust ([`scalar`]), AVX2 ([`avx2`]) and
//! AVX-512 VNNI ([`avx512`]); [`Isa::detect`] picks the best the CPU has, once, at load.
//!
//! All of the crate's `unsafe` for the LLM is here: the SIMD functions are `#[target_feature]`
//! functions, called only through an [`Isa`] that detection made, and their loads and stores go
//! through helpers that take fixed-size arrays, so they never read or write out of bounds.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod scalar;

/// Values per quantisation block (all the formats here).
pub const BLOCK: usize = 32;

/// One row of a Q4_1 matrix: per block of 32 weights, 16 bytes of 4-bit values (the low nibbles
/// are weights 0–15, the high ones 16–31) and the f16 bits of the scale `d` and minimum `m`
/// (weight = `d`·q + `m`).
#[derive(Debug, Clone, Copy)]
pub struct Q4_1Row<'a> {
    /// The 4-bit values, a block per entry.
    pub qs: &'a [[u8; 16]],
    /// `[d, m]` per block, as f16 bits.
    pub dm: &'a [[u16; 2]],
}

/// One row of a Q8_0 matrix: per block, 32 signed 8-bit values and the f16 bits of the scale.
#[derive(Debug, Clone, Copy)]
pub struct Q8_0Row<'a> {
    /// The 8-bit values, a block per entry.
    pub qs: &'a [[i8; 32]],
    /// The scale per block, as f16 bits.
    pub d: &'a [u16],
}

/// One row of activations quantised to 8 bits (ggml's Q8_1, which Q8_0 weights use too): per
/// block, 32 signed values, the scale `d` and `s` = `d`·Σq (both rounded to f16, as ggml does).
#[derive(Debug, Clone, Copy)]
pub struct Q8Row<'a> {
    /// The 8-bit values, a block per entry.
    pub qs: &'a [[i8; 32]],
    /// `[d, s]` per block.
    pub ds: &'a [[f32; 2]],
}

/// The instruction set the kernels run on. Only [`Isa::detect`] and [`Isa::available`] make
/// one, so an `Isa` always names instructions this CPU has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Isa(Level);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512Vnni,
}

impl Isa {
    /// The plain Rust kernels, which every CPU runs.
    pub const SCALAR: Isa = Isa(Level::Scalar);

    /// The fastest kernels this CPU runs.
    pub fn detect() -> Isa {
        Isa::available().into_iter().last().unwrap_or(Isa::SCALAR)
    }

    /// Every kernel set this CPU runs, slowest first.
    pub fn available() -> Vec<Isa> {
        #[allow(unused_mut)]
        let mut found = vec![Isa::SCALAR];
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 =
                is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c");
            if avx2 {
                found.push(Isa(Level::Avx2));
            }
            if avx2
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("avx512vnni")
            {
                found.push(Isa(Level::Avx512Vnni));
            }
        }
        found
    }

    /// A short name, for logs and test messages.
    pub fn name(self) -> &'static str {
        match self.0 {
            Level::Scalar => "scalar",
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Level::Avx512Vnni => "avx512-vnni",
        }
    }

    /// The dot products of the Q4_1 weight row `w` with each of the activation rows `xs`, over
    /// the blocks they all have (they are meant to be as long).
    #[allow(unsafe_code)]
    pub fn q4_1_dots<const N: usize>(self, w: Q4_1Row<'_>, xs: &[Q8Row<'_>; N]) -> [f32; N] {
        match self.0 {
            Level::Scalar => scalar::q4_1_dots(w, xs),
            // SAFETY: an `Isa` at this level exists only where detection found AVX2, FMA, F16C.
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => unsafe { avx2::q4_1_dots(w, xs) },
            // SAFETY: an `Isa` at this level exists only where detection found AVX-512
            // F/BW/VL/VNNI as well as AVX2, FMA, F16C.
            #[cfg(target_arch = "x86_64")]
            Level::Avx512Vnni => unsafe { avx512::q4_1_dots(w, xs) },
        }
    }

    /// The dot products of the Q8_0 weight row `w` with each of the activation rows `xs`.
    #[allow(unsafe_code)]
    pub fn q8_0_dots<const N: usize>(self, w: Q8_0Row<'_>, xs: &[Q8Row<'_>; N]) -> [f32; N] {
        match self.0 {
            Level::Scalar => scalar::q8_0_dots(w, xs),
            // SAFETY: as in `q4_1_dots`.
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => unsafe { avx2::q8_0_dots(w, xs) },
            // SAFETY: as in `q4_1_dots`.
            #[cfg(target_arch = "x86_64")]
            Level::Avx512Vnni => unsafe { avx512::q8_0_dots(w, xs) },
        }
    }

    /// Quantises `x` (a whole number of blocks) into `qs` and `ds`, a block per entry.
    #[allow(unsafe_code)]
    pub fn quantize(self, x: &[f32], qs: &mut [[i8; 32]], ds: &mut [[f32; 2]]) {
        match self.0 {
            Level::Scalar => scalar::quantize(x, qs, ds),
            // SAFETY: both levels have AVX2, FMA and F16C (see `q4_1_dots`).
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 | Level::Avx512Vnni => unsafe { avx2::quantize(x, qs, ds) },
        }
    }

    /// Σ aᵢ·bᵢ over the shorter of the two.
    #[allow(unsafe_code)]
    pub fn dot(self, a: &[f32], b: &[f32]) -> f32 {
        match self.0 {
            Level::Scalar => scalar::dot(a, b),
            // SAFETY: both levels have AVX2 and FMA (see `q4_1_dots`).
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 | Level::Avx512Vnni => unsafe { avx2::dot(a, b) },
        }
    }

    /// `y += a·x`, over the shorter of the two.
    #[allow(unsafe_code)]
    pub fn axpy(self, a: f32, x: &[f32], y: &mut [f32]) {
        match self.0 {
            Level::Scalar => scalar::axpy(a, x, y),
            // SAFETY: both levels have AVX2 and FMA (see `q4_1_dots`).
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 | Level::Avx512Vnni => unsafe { avx2::axpy(a, x, y) },
        }
    }
}

/// The f32 value of the f16 `bits`.
pub fn f16_to_f32(bits: u16) -> f32 {
    half::f16::from_bits(bits).to_f32()
}

/// `x` rounded to the nearest f16, as an f32.
pub fn round_to_f16(x: f32) -> f32 {
    half::f16::from_f32(x).to_f32()
}

#[cfg(test)]
mod tests;

//! Every SIMD kernel this CPU runs against the plain Rust one, on random blocks.

use super::scalar;
use super::*;

/// A small deterministic generator (splitmix64).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    fn float(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn f16(&mut self, scale: f32) -> u16 {
        half::f16::from_f32(self.float() * scale).to_bits()
    }
}

/// Activation rows quantised by the scalar kernel: (values, [d, s]) per block.
type Rows = Vec<(Vec<[i8; 32]>, Vec<[f32; 2]>)>;

fn activations(random: &mut Random, rows: usize, blocks: usize) -> Rows {
    (0..rows)
        .map(|r| {
            // Some rows large, some small, one block all zeros.
            let scale = [0.01, 1.0, 30.0][r % 3];
            let mut x: Vec<f32> = (0..blocks * BLOCK).map(|_| random.float() * scale).collect();
            x[..BLOCK].fill(0.0);
            let mut qs = vec![[0i8; 32]; blocks];
            let mut ds = vec![[0f32; 2]; blocks];
            scalar::quantize(&x, &mut qs, &mut ds);
            (qs, ds)
        })
        .collect()
}

fn q8_rows(rows: &Rows) -> Vec<Q8Row<'_>> {
    rows.iter().map(|(qs, ds)| Q8Row { qs, ds }).collect()
}

fn simd() -> Vec<Isa> {
    Isa::available().into_iter().filter(|&isa| isa != Isa::SCALAR).collect()
}

/// `got` is `want` up to float rounding in sums whose terms reach `magnitude` in total.
fn assert_close(got: f32, want: f32, magnitude: f32, what: &str) {
    let tolerance = 1e-5 * magnitude.max(1e-6);
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: {got} vs {want} (tolerance {tolerance})"
    );
}

#[test]
fn q4_1_dots_match_the_scalar_kernel() {
    let mut random = Random(1);
    for blocks in [1, 2, 3, 17, 18, 48] {
        let qs: Vec<[u8; 16]> = (0..blocks)
            .map(|_| std::array::from_fn(|_| random.next() as u8))
            .collect();
        let dm: Vec<[u16; 2]> = (0..blocks).map(|_| [random.f16(0.05), random.f16(0.5)]).collect();
        let w = Q4_1Row { qs: &qs, dm: &dm };
        let rows = activations(&mut random, 4, blocks);
        let xs = q8_rows(&rows);
        let xs4: [Q8Row<'_>; 4] = std::array::from_fn(|i| xs[i]);
        let want = scalar::q4_1_dots(w, &xs4);
        let magnitude: Vec<f32> = xs
            .iter()
            .map(|&x| (0..blocks).map(|b| scalar::q4_1_block(w, x, b).abs()).sum())
            .collect();
        for isa in simd() {
            let four = isa.q4_1_dots(w, &xs4);
            for t in 0..4 {
                let what = format!("{} q4_1, {blocks} blocks, row {t}", isa.name());
                assert_close(four[t], want[t], magnitude[t], &format!("{what} of 4"));
                let [one] = isa.q4_1_dots(w, &[xs[t]]);
                assert_close(one, want[t], magnitude[t], &format!("{what} alone"));
            }
        }
    }
}

#[test]
fn q8_0_dots_match_the_scalar_kernel() {
    let mut random = Random(2);
    for blocks in [1, 2, 3, 17, 18, 48] {
        let qs: Vec<[i8; 32]> = (0..blocks)
            .map(|b| std::array::from_fn(|i| if b == 1 && i < 4 { -128 } else { random.next() as i8 }))
            .collect();
        let d: Vec<u16> = (0..blocks).map(|_| random.f16(0.02)).collect();
        let w = Q8_0Row { qs: &qs, d: &d };
        let rows = activations(&mut random, 4, blocks);
        let xs = q8_rows(&rows);
        let xs4: [Q8Row<'_>; 4] = std::array::from_fn(|i| xs[i]);
        let want = scalar::q8_0_dots(w, &xs4);
        let magnitude: Vec<f32> = xs
            .iter()
            .map(|&x| (0..blocks).map(|b| scalar::q8_0_block(w, x, b).abs()).sum())
            .collect();
        for isa in simd() {
            let four = isa.q8_0_dots(w, &xs4);
            for t in 0..4 {
                let what = format!("{} q8_0, {blocks} blocks, row {t}", isa.name());
                assert_close(four[t], want[t], magnitude[t], &format!("{what} of 4"));
                let [one] = isa.q8_0_dots(w, &[xs[t]]);
                assert_close(one, want[t], magnitude[t], &format!("{what} alone"));
            }
        }
    }
}

#[test]
fn quantization_matches_the_scalar_kernel_exactly() {
    let mut random = Random(3);
    let mut x: Vec<f32> = (0..64 * BLOCK)
        .map(|i| random.float() * [1e-3, 1.0, 250.0][i / BLOCK % 3])
        .collect();
    x[5 * BLOCK..6 * BLOCK].fill(0.0);
    x[7 * BLOCK] = -1.0; // a block whose extreme is negative
    let mut want = (vec![[0i8; 32]; 64], vec![[0f32; 2]; 64]);
    scalar::quantize(&x, &mut want.0, &mut want.1);
    assert!(want.0[6].iter().any(|&q| q == 127 || q == -127), "a block reaches ±127");
    assert!(want.0[5].iter().all(|&q| q == 0) && want.1[5] == [0.0, 0.0]);
    for isa in simd() {
        let mut got = (vec![[0i8; 32]; 64], vec![[0f32; 2]; 64]);
        isa.quantize(&x, &mut got.0, &mut got.1);
        assert_eq!(got, want, "{}", isa.name());
    }
}

#[test]
fn quantization_keeps_the_values_within_half_a_step() {
    let mut random = Random(4);
    let x: Vec<f32> = (0..4 * BLOCK).map(|_| random.float() * 3.0).collect();
    let (mut qs, mut ds) = (vec![[0i8; 32]; 4], vec![[0f32; 2]; 4]);
    scalar::quantize(&x, &mut qs, &mut ds);
    for ((x, q), [d, s]) in x.chunks_exact(BLOCK).zip(&qs).zip(&ds) {
        let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!((d - amax / 127.0).abs() <= amax / 127.0 * 1e-3, "d {d} for max {amax}");
        for (v, &q) in x.iter().zip(q) {
            assert!((v - f32::from(q) * d).abs() <= 0.5 * d * 1.01, "{v} → {q}·{d}");
        }
        let sum: i32 = q.iter().map(|&q| i32::from(q)).sum();
        assert!((s - d * sum as f32).abs() <= (d * sum as f32).abs() * 1e-3 + 1e-6);
    }
}

#[test]
fn f32_loops_match_the_scalar_ones() {
    let mut random = Random(5);
    for len in [0, 1, 7, 8, 15, 16, 64, 67] {
        let a: Vec<f32> = (0..len).map(|_| random.float()).collect();
        let b: Vec<f32> = (0..len).map(|_| random.float()).collect();
        let magnitude: f32 = a.iter().zip(&b).map(|(x, y)| (x * y).abs()).sum();
        let want = scalar::dot(&a, &b);
        let mut want_y = b.clone();
        scalar::axpy(0.75, &a, &mut want_y);
        for isa in simd() {
            assert_close(
                isa.dot(&a, &b),
                want,
                magnitude,
                &format!("{} dot of {len}", isa.name()),
            );
            let mut y = b.clone();
            isa.axpy(0.75, &a, &mut y);
            for (got, want) in y.iter().zip(&want_y) {
                assert!(
                    (got - want).abs() <= 1e-6,
                    "{} axpy of {len}: {got} vs {want}",
                    isa.name()
                );
            }
        }
    }
}

#[test]
fn detection_picks_the_last_available() {
    let available = Isa::available();
    assert_eq!(available[0], Isa::SCALAR);
    assert_eq!(Some(&Isa::detect()), available.last());
}

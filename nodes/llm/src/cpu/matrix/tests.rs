//! The matrix products against candle's on the same quantised tensors, for every type path
//! (the kernels' own, re-quantised, candle's) and every kernel set this CPU runs.

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};

use super::{Matrix, matmul};
use crate::cpu::kernels::Isa;

/// A `rows` × `cols` tensor of smooth pseudo-random values.
fn tensor(rows: usize, cols: usize, seed: f32) -> Tensor {
    let values: Vec<f32> = (0..rows * cols)
        .map(|i| ((i as f32 * 0.618 + seed).sin() * 1.7 + (i as f32 * 0.037).cos()) * 0.3)
        .collect();
    Tensor::from_vec(values, (rows, cols), &Device::Cpu).expect("tensor")
}

fn quantized(w: &Tensor, dtype: GgmlDType) -> QTensor {
    QTensor::quantize(w, dtype).expect("quantize")
}

/// candle's product of `x` (n × cols) with the `dtype` quantisation of `w`, input row after row.
fn candle_product(w: &Tensor, dtype: GgmlDType, x: &Tensor) -> Vec<f32> {
    let matmul = QMatMul::from_qtensor(quantized(w, dtype)).expect("qmatmul");
    matmul
        .forward(x)
        .and_then(|y| y.flatten_all())
        .and_then(|y| y.to_vec1())
        .expect("forward")
}

/// Checks our product against candle's for `dtype`, within `tolerance` of the largest output.
fn check(dtype: GgmlDType, rows: usize, cols: usize, tolerance: f32, expect: fn(&Matrix) -> bool) {
    let w = tensor(rows, cols, 0.5);
    let matrix = Matrix::new(quantized(&w, dtype)).expect("matrix");
    assert!(expect(&matrix), "{dtype:?} loaded as {matrix:?}");
    for n in [1, 5] {
        let x = tensor(n, cols, 1.5);
        let want = candle_product(&w, dtype, &x);
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        let x: Vec<f32> = x.flatten_all().and_then(|x| x.to_vec1()).expect("x");
        for isa in Isa::available() {
            let mut out = Vec::new();
            matmul(isa, &x, n, &mut [(&matrix, &mut out)]).expect("matmul");
            assert_eq!(out.len(), want.len());
            let worst = out.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(
                worst <= tolerance * scale,
                "{dtype:?} {rows}×{cols}, {n} rows, {}: off by {worst} (outputs up to {scale})",
                isa.name()
            );
        }
    }
}

#[test]
fn q4_1_runs_natively_and_matches_candle() {
    // candle's Q4_1 kernel takes an even number of blocks per row. It rounds each activation
    // block's `s` = d·Σq twice to f16 (Σq, then the product), ggml and we once: the minimum
    // terms differ by a few parts in 10⁴.
    check(GgmlDType::Q4_1, 70, 128, 1e-3, |m| matches!(m, Matrix::Q4_1(_)));
    check(GgmlDType::Q4_1, 33, 64, 1e-3, |m| matches!(m, Matrix::Q4_1(_)));
}

#[test]
fn q8_0_runs_natively_and_matches_candle() {
    check(GgmlDType::Q8_0, 70, 96, 1e-4, |m| matches!(m, Matrix::Q8_0(_)));
    check(GgmlDType::Q8_0, 33, 64, 1e-4, |m| matches!(m, Matrix::Q8_0(_)));
}

#[test]
fn five_bit_types_are_requantized_to_q8_0() {
    // Re-quantisation moves each weight by up to half a Q8_0 step.
    check(GgmlDType::Q5_0, 40, 64, 2e-2, |m| matches!(m, Matrix::Q8_0(_)));
    check(GgmlDType::Q5_1, 40, 64, 2e-2, |m| matches!(m, Matrix::Q8_0(_)));
}

#[test]
fn other_types_go_through_candle() {
    check(GgmlDType::Q4K, 40, 256, 1e-6, |m| matches!(m, Matrix::Candle(_)));
    check(GgmlDType::F32, 40, 48, 1e-6, |m| matches!(m, Matrix::Candle(_)));
}

#[test]
fn several_products_share_one_pass() {
    let (a, b) = (tensor(64, 64, 0.1), tensor(700, 64, 0.2));
    let (qa, qb) = (
        Matrix::new(quantized(&a, GgmlDType::Q4_1)).expect("a"),
        Matrix::new(quantized(&b, GgmlDType::Q8_0)).expect("b"),
    );
    let x = tensor(6, 64, 0.3);
    let xs: Vec<f32> = x.flatten_all().and_then(|x| x.to_vec1()).expect("x");
    let (mut ya, mut yb) = (Vec::new(), Vec::new());
    let isa = Isa::detect();
    matmul(isa, &xs, 6, &mut [(&qa, &mut ya), (&qb, &mut yb)]).expect("matmul");
    let (mut alone_a, mut alone_b) = (Vec::new(), Vec::new());
    matmul(isa, &xs, 6, &mut [(&qa, &mut alone_a)]).expect("a alone");
    matmul(isa, &xs, 6, &mut [(&qb, &mut alone_b)]).expect("b alone");
    assert_eq!((ya, yb), (alone_a, alone_b));
    let mut wrong = Vec::new();
    let error = matmul(isa, &xs[..6 * 32], 6, &mut [(&qa, &mut wrong)]).expect_err("32 columns into 64");
    assert!(error.to_string().contains("64×64"), "{error}");
}

#[test]
fn rows_dequantize_as_candle_does() {
    // Q4_1 and Q8_0 in the kernels' formats; Q4_K and F32 through candle's embedding lookup.
    for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0, GgmlDType::Q4K, GgmlDType::F32] {
        let w = tensor(5, 256, 0.7);
        let q = quantized(&w, dtype);
        let want: Vec<Vec<f32>> = q
            .dequantize(&Device::Cpu)
            .and_then(|t| t.to_vec2())
            .expect("dequantize");
        let matrix = Matrix::new(q).expect("matrix");
        for (r, want) in want.iter().enumerate() {
            let mut row = vec![0f32; 256];
            matrix.dequantize_row(r, &mut row).expect("a row");
            assert_eq!(&row, want, "{dtype:?} row {r}");
        }
        assert!(
            matrix.dequantize_row(5, &mut [0f32; 256]).is_err(),
            "{dtype:?}: no row 5"
        );
        assert!(
            matrix.dequantize_row(0, &mut [0f32; 32]).is_err(),
            "{dtype:?}: a short row"
        );
    }
}

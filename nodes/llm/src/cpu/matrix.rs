//! Weight matrices in the kernels' formats, and their products with rows of activations, split
//! by weight rows over rayon's threads.

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use rayon::prelude::*;

use super::kernels::{BLOCK, Isa, Q4_1Row, Q8_0Row, Q8Row, f16_to_f32};
use crate::LlmError;

/// Weight rows per parallel task at least: a task costs a few microseconds to hand out.
const MIN_TASK_ROWS: usize = 32;
/// Tasks per thread and product, so that a thread slowed by other work is made up for.
const TASKS_PER_THREAD: usize = 4;

/// A Q4_1 matrix, row after row (see [`Q4_1Row`]).
#[derive(Debug)]
pub struct Q4_1Matrix {
    rows: usize,
    cols: usize,
    qs: Vec<[u8; 16]>,
    dm: Vec<[u16; 2]>,
}

/// A Q8_0 matrix, row after row (see [`Q8_0Row`]).
#[derive(Debug)]
pub struct Q8_0Matrix {
    rows: usize,
    cols: usize,
    qs: Vec<[i8; 32]>,
    d: Vec<u16>,
}

/// A matrix of a type the kernels do not run (k-quants, f16, f32...), multiplied by candle.
#[derive(Debug)]
pub struct CandleMatrix {
    rows: usize,
    cols: usize,
    matmul: QMatMul,
}

/// A weight matrix, `rows` × `cols`, multiplied from the right by activation rows of `cols`.
#[derive(Debug)]
pub enum Matrix {
    /// 4-bit, the kernels' own format.
    Q4_1(Q4_1Matrix),
    /// 8-bit, the kernels' own format.
    Q8_0(Q8_0Matrix),
    /// Any other type, through candle.
    Candle(CandleMatrix),
}

/// The `rows` × `cols` tensor `bytes` as GGUF blocks of `SIZE` bytes, one per 32 values.
fn blocks<const SIZE: usize>(rows: usize, cols: usize, bytes: &[u8]) -> candle_core::Result<&[[u8; SIZE]]> {
    let (blocks, rest) = bytes.as_chunks::<SIZE>();
    if !cols.is_multiple_of(BLOCK) || !rest.is_empty() || blocks.len() != rows * cols / BLOCK {
        candle_core::bail!("{rows}×{cols} tensor with {} bytes of {SIZE}-byte blocks", bytes.len())
    }
    Ok(blocks)
}

impl Q4_1Matrix {
    fn from_gguf(rows: usize, cols: usize, bytes: &[u8]) -> candle_core::Result<Self> {
        let blocks = blocks::<20>(rows, cols, bytes)?;
        let dm = blocks
            .iter()
            .map(|b| [u16::from_le_bytes([b[0], b[1]]), u16::from_le_bytes([b[2], b[3]])])
            .collect();
        let qs = blocks
            .iter()
            .map(|b| {
                let mut qs = [0u8; 16];
                qs.copy_from_slice(&b[4..]);
                qs
            })
            .collect();
        Ok(Self { rows, cols, qs, dm })
    }

    /// Row `r`.
    pub fn row(&self, r: usize) -> Q4_1Row<'_> {
        let nb = self.cols / BLOCK;
        Q4_1Row {
            qs: &self.qs[r * nb..(r + 1) * nb],
            dm: &self.dm[r * nb..(r + 1) * nb],
        }
    }
}

impl Q8_0Matrix {
    fn from_gguf(rows: usize, cols: usize, bytes: &[u8]) -> candle_core::Result<Self> {
        let blocks = blocks::<34>(rows, cols, bytes)?;
        let d = blocks.iter().map(|b| u16::from_le_bytes([b[0], b[1]])).collect();
        let qs = blocks
            .iter()
            .map(|b| {
                let mut qs = [0i8; 32];
                for (q, &byte) in qs.iter_mut().zip(&b[2..]) {
                    *q = byte as i8;
                }
                qs
            })
            .collect();
        Ok(Self { rows, cols, qs, d })
    }

    /// Row `r`.
    pub fn row(&self, r: usize) -> Q8_0Row<'_> {
        let nb = self.cols / BLOCK;
        Q8_0Row {
            qs: &self.qs[r * nb..(r + 1) * nb],
            d: &self.d[r * nb..(r + 1) * nb],
        }
    }
}

impl Matrix {
    /// The 2-D `tensor` (rows × cols, as candle reads GGUF shapes) in the fastest form here:
    /// Q4_1 and Q8_0 as they are, the other 32-value block types (Q4_0, Q5_0, Q5_1, Q8_1)
    /// re-quantised to Q8_0 (which holds their values almost exactly), the rest kept for candle.
    pub fn new(tensor: QTensor) -> candle_core::Result<Self> {
        let (rows, cols) = tensor.shape().dims2()?;
        Ok(match tensor.dtype() {
            GgmlDType::Q4_1 => Matrix::Q4_1(Q4_1Matrix::from_gguf(rows, cols, &tensor.data()?)?),
            GgmlDType::Q8_0 => Matrix::Q8_0(Q8_0Matrix::from_gguf(rows, cols, &tensor.data()?)?),
            GgmlDType::Q4_0 | GgmlDType::Q5_0 | GgmlDType::Q5_1 | GgmlDType::Q8_1 => {
                let requantized = QTensor::quantize(&tensor.dequantize(&Device::Cpu)?, GgmlDType::Q8_0)?;
                Matrix::Q8_0(Q8_0Matrix::from_gguf(rows, cols, &requantized.data()?)?)
            }
            _ => Matrix::Candle(CandleMatrix {
                rows,
                cols,
                matmul: QMatMul::from_qtensor(tensor)?,
            }),
        })
    }

    /// Output values per input row.
    pub fn rows(&self) -> usize {
        match self {
            Matrix::Q4_1(m) => m.rows,
            Matrix::Q8_0(m) => m.rows,
            Matrix::Candle(m) => m.rows,
        }
    }

    /// Values per input row.
    pub fn cols(&self) -> usize {
        match self {
            Matrix::Q4_1(m) => m.cols,
            Matrix::Q8_0(m) => m.cols,
            Matrix::Candle(m) => m.cols,
        }
    }

    /// Row `r` as f32 into `out` (`cols` long): the kernels' formats here, candle's through its
    /// embedding lookup (which dequantises that row alone).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) -> Result<(), LlmError> {
        if r >= self.rows() || out.len() != self.cols() {
            return Err(LlmError::Format(format!(
                "row {r} of a {}×{} matrix into {} values",
                self.rows(),
                self.cols(),
                out.len()
            )));
        }
        let (blocks, _) = out.as_chunks_mut::<BLOCK>();
        match self {
            Matrix::Q4_1(m) => {
                let row = m.row(r);
                for ((qs, &[d, m]), out) in row.qs.iter().zip(row.dm).zip(blocks) {
                    let (d, m) = (f16_to_f32(d), f16_to_f32(m));
                    let (low, high) = out.split_at_mut(BLOCK / 2);
                    for ((q, low), high) in qs.iter().zip(low).zip(high) {
                        *low = f32::from(q & 0x0F) * d + m;
                        *high = f32::from(q >> 4) * d + m;
                    }
                }
            }
            Matrix::Q8_0(m) => {
                let row = m.row(r);
                for ((qs, &d), out) in row.qs.iter().zip(row.d).zip(blocks) {
                    let d = f16_to_f32(d);
                    for (q, out) in qs.iter().zip(out) {
                        *out = f32::from(*q) * d;
                    }
                }
            }
            Matrix::Candle(m) => {
                let row = Tensor::new(&[r as u32], &Device::Cpu)
                    .and_then(|id| m.matmul.embedding(&id))
                    .and_then(|row| row.flatten_all())
                    .and_then(|row| row.to_vec1::<f32>())
                    .map_err(LlmError::candle)?;
                if row.len() != out.len() {
                    return Err(LlmError::Candle(format!(
                        "row {r} of a {}×{} matrix has {} values",
                        m.rows,
                        m.cols,
                        row.len()
                    )));
                }
                out.copy_from_slice(&row);
            }
        }
        Ok(())
    }
}

/// Rows of activations quantised to 8 bits per block (see [`Q8Row`]).
#[derive(Debug)]
pub struct Q8Rows {
    blocks_per_row: usize,
    qs: Vec<[i8; 32]>,
    ds: Vec<[f32; 2]>,
}

impl Q8Rows {
    /// `x` (rows of `cols`, a multiple of [`BLOCK`]) quantised with `isa`.
    pub fn new(isa: Isa, x: &[f32], cols: usize) -> Self {
        let blocks = x.len() / BLOCK;
        let mut qs = vec![[0i8; 32]; blocks];
        let mut ds = vec![[0f32; 2]; blocks];
        isa.quantize(x, &mut qs, &mut ds);
        Self {
            blocks_per_row: cols / BLOCK,
            qs,
            ds,
        }
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> Q8Row<'_> {
        let nb = self.blocks_per_row;
        Q8Row {
            qs: &self.qs[i * nb..(i + 1) * nb],
            ds: &self.ds[i * nb..(i + 1) * nb],
        }
    }
}

/// Part of one product: weight rows from `first` on, their outputs for every input row in
/// `out` (weight row after weight row), or a whole candle product (input row after input row).
enum Task<'a> {
    Rows {
        matrix: &'a Matrix,
        first: usize,
        out: &'a mut [f32],
    },
    Candle {
        matrix: &'a CandleMatrix,
        out: &'a mut [f32],
    },
}

/// Every input row's dot product with weight row `r`, into `out` (one per input row), four
/// input rows at a time so that the weight row is unpacked once for the four.
fn row_dots(
    q8: &Q8Rows,
    out: &mut [f32],
    dots4: impl Fn(&[Q8Row<'_>; 4]) -> [f32; 4],
    dots1: impl Fn(&[Q8Row<'_>; 1]) -> [f32; 1],
) {
    let (fours, rest) = out.as_chunks_mut::<4>();
    for (i, out) in fours.iter_mut().enumerate() {
        *out = dots4(&std::array::from_fn(|k| q8.row(4 * i + k)));
    }
    let done = fours.len() * 4;
    for (i, out) in rest.iter_mut().enumerate() {
        [*out] = dots1(&[q8.row(done + i)]);
    }
}

impl Task<'_> {
    fn run(self, isa: Isa, x: &[f32], n: usize, q8: Option<&Q8Rows>) -> Result<(), LlmError> {
        match self {
            Task::Rows { matrix, first, out } => {
                let Some(q8) = q8 else {
                    return Err(LlmError::Candle("activations were not quantised".into()));
                };
                for (r, out) in (first..).zip(out.chunks_exact_mut(n)) {
                    match matrix {
                        Matrix::Q4_1(m) => {
                            let w = m.row(r);
                            row_dots(q8, out, |xs| isa.q4_1_dots(w, xs), |xs| isa.q4_1_dots(w, xs));
                        }
                        Matrix::Q8_0(m) => {
                            let w = m.row(r);
                            row_dots(q8, out, |xs| isa.q8_0_dots(w, xs), |xs| isa.q8_0_dots(w, xs));
                        }
                        Matrix::Candle(_) => {}
                    }
                }
                Ok(())
            }
            Task::Candle { matrix, out } => {
                let product = Tensor::from_slice(x, (n, matrix.cols), &Device::Cpu)
                    .and_then(|x| matrix.matmul.forward(&x))
                    .and_then(|y| y.flatten_all())
                    .and_then(|y| y.to_vec1::<f32>())
                    .map_err(LlmError::candle)?;
                if product.len() != out.len() {
                    return Err(LlmError::Candle(format!(
                        "a {}×{} product gave {} values",
                        n,
                        matrix.rows,
                        product.len()
                    )));
                }
                out.copy_from_slice(&product);
                Ok(())
            }
        }
    }
}

/// The products of the `n` rows in `x` with each matrix in `products`, into its vector (input
/// row after input row), in one parallel pass.
pub fn matmul(isa: Isa, x: &[f32], n: usize, products: &mut [(&Matrix, &mut Vec<f32>)]) -> Result<(), LlmError> {
    let cols = x.len() / n.max(1);
    if let Some((m, _)) = products.iter().find(|(m, _)| m.cols() != cols || x.len() != n * cols) {
        return Err(LlmError::Format(format!(
            "a {}×{} weight matrix applied to rows of {cols}",
            m.rows(),
            m.cols()
        )));
    }
    let ours = |m: &Matrix| !matches!(m, Matrix::Candle(_));
    let q8 = products.iter().any(|(m, _)| ours(m)).then(|| Q8Rows::new(isa, x, cols));
    // The kernels write weight row after weight row; with several input rows, into a buffer
    // transposed afterwards.
    let mut staging: Vec<Vec<f32>> = products
        .iter()
        .map(|(m, _)| {
            if n > 1 && ours(m) {
                vec![0.0; m.rows() * n]
            } else {
                Vec::new()
            }
        })
        .collect();
    let our_rows: usize = products.iter().filter(|(m, _)| ours(m)).map(|(m, _)| m.rows()).sum();
    let chunk = our_rows
        .div_ceil(rayon::current_num_threads() * TASKS_PER_THREAD)
        .max(MIN_TASK_ROWS);
    let mut tasks = Vec::new();
    for ((matrix, out), staged) in products.iter_mut().zip(&mut staging) {
        let matrix: &Matrix = matrix;
        out.clear();
        out.resize(n * matrix.rows(), 0.0);
        match matrix {
            Matrix::Candle(candle) => tasks.push(Task::Candle { matrix: candle, out }),
            _ => {
                let target = if n > 1 { staged } else { &mut **out };
                for (i, out) in target.chunks_mut(chunk * n).enumerate() {
                    tasks.push(Task::Rows {
                        matrix,
                        first: i * chunk,
                        out,
                    });
                }
            }
        }
    }
    tasks
        .into_par_iter()
        .try_for_each(|task| task.run(isa, x, n, q8.as_ref()))?;
    for ((matrix, out), staged) in products.iter_mut().zip(&staging) {
        if staged.is_empty() {
            continue;
        }
        let rows = matrix.rows();
        for (r, column) in staged.chunks_exact(n).enumerate() {
            for (t, &v) in column.iter().enumerate() {
                out[t * rows + r] = v;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

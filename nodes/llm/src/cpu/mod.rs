//! Our own forward pass for llama and qwen2 GGUFs on the CPU, which [`super::Llm`] runs when
//! the device is the CPU (candle's `quantized_llama` and `quantized_qwen2` run on CUDA).
//!
//! - [`weights`]: the hyper-parameters and the tensors, read from the GGUF into the kernels'
//!   formats (Q4_1 and Q8_0 as they are, other 32-value block types re-quantised to Q8_0, the
//!   rest, k-quants included, kept for candle's matrix product);
//! - [`matrix`]: the weight matrices and their products with rows of activations, quantised to
//!   8 bits per block of 32 as ggml does, split by weight rows over rayon's threads;
//! - [`kernels`]: the dot products, in AVX-512 VNNI, AVX2 and plain Rust, picked at load;
//! - [`forward`]: the pass itself and its preallocated KV cache.

mod forward;
mod kernels;
mod matrix;
mod weights;

pub use forward::Model;

#[cfg(test)]
mod tests;

//! Showrunner's stage nodes and inference backends (procedural, onnx, candle).
//!
//! This crate is the home of the stage data model and the `TextModel`, `ImageModel`,
//! `VideoModel` and `Embedder` backends (DESIGN §4–5). It depends on the engine only through the
//! `Node` trait. Its contents arrive with the stock-workflows work; today it holds no nodes.

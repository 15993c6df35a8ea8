//! Sessions on a [`Device`]: `session` builds one for a graph.
//!
//! CUDA needs ONNX Runtime built with its CUDA execution provider (the `onnxruntime-gpu`
//! package); the CPU build the registry installs has none. `cuda` insists (an error when the
//! provider is absent or fails); `auto` tries it when the runtime has it and otherwise runs on
//! the CPU, saying so once per process: a warning when CUDA was there and failed, an info line
//! when the runtime is a CPU build (the normal case on a machine without a GPU).

use std::path::Path;
use std::sync::Once;

use ort::ep::{self, ExecutionProvider};
use ort::session::Session;
use showrunner_models::{Device, Placement};

use super::OnnxError;
use super::runtime::Runtime;

static CPU_FALLBACK: Once = Once::new();

/// A session for the graph in `model` on `device`.
pub fn session(runtime: &Runtime, model: &Path, device: Device) -> Result<(Session, Placement), OnnxError> {
    let failed = |message: String| OnnxError::Session {
        model: model.to_owned(),
        message,
    };
    let mut builder = Session::builder(runtime.environment()).map_err(|e| failed(e.to_string()))?;
    let mut placement = Placement::Cpu;
    let cuda = match device {
        Device::Cpu => None,
        Device::Cuda(n) => Some(n),
        Device::Auto => Some(0),
    };
    if let Some(n) = cuda {
        let available = ep::CUDA::is_available().unwrap_or(false);
        let attempt = if available {
            let provider = ep::CUDA::default().with_device_id(n as i32).build().error_on_failure();
            builder
                .with_execution_providers([provider])
                .map_err(|e| (e.to_string(), e.recover()))
        } else {
            Err((
                format!(
                    "ONNX Runtime at {} has no CUDA execution provider (it comes with the onnxruntime-gpu package)",
                    runtime.library().display()
                ),
                builder,
            ))
        };
        match attempt {
            Ok(with_cuda) => {
                builder = with_cuda;
                placement = Placement::Cuda(n);
            }
            Err((reason, recovered)) if device == Device::Auto => {
                // One line per process: every session would say the same.
                CPU_FALLBACK.call_once(|| {
                    if available {
                        tracing::warn!("device auto: CUDA failed ({reason}); running ONNX models on the CPU");
                    } else {
                        tracing::info!("device auto: {reason}; running ONNX models on the CPU");
                    }
                });
                builder = recovered;
            }
            Err((reason, _)) => return Err(OnnxError::Device { device, reason }),
        }
    }
    let session = builder.commit_from_file(model).map_err(|e| failed(e.to_string()))?;
    Ok((session, placement))
}

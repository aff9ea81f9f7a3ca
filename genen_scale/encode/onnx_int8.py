"""The CPU fast path of the text encoder: ONNX Runtime with int8 weights (``backend: onnx-int8``).

Why ONNX Runtime rather than torch's ``quantize_dynamic``: on real store texts (see
``benchmarks/bench_encode.py``) torch's int8 dynamic quantisation of every ``Linear`` gave a
mean cosine of 0.92 (per-tensor weights) or 0.98 (per-channel) to the fp32 features, under
the 0.99 we ask for, and ran only ~1.2x faster than fp32 in eager mode. ONNX Runtime's
dynamic int8 MatMul (per-channel int8 weights, uint8 activations with a zero point, VNNI
kernels where the CPU has them) plus its fused graph runs about twice as fast and, with
the FFN down-projections (``output.dense``: their inputs are GELU outputs with large
outliers) left in fp32, stays above 0.99 on every text we measured. ``onnxruntime`` and
``onnx`` are plain PyPI wheels (the ``onnx`` extra).

The encoder's own fp32 model is exported (TorchScript exporter, dynamic batch and sequence
axes) and quantised into a temporary directory when the encoder starts (seconds; nothing
is cached on disk, so no stale export can outlive a model change), then loaded into an
``InferenceSession``. The module knows nothing of Ray.
"""

from __future__ import annotations

import importlib.util
import logging
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)

#: MatMul nodes kept in fp32: the FFN down-projection of each layer (not the attention's).
KEEP_FLOAT = ("/output/dense/MatMul",)
_REQUIRED = ("onnxruntime", "onnx")


def check_available() -> None:
    """Raise ``ValueError`` with the install command if ONNX Runtime or onnx is missing."""
    missing = [m for m in _REQUIRED if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(
            f"backend onnx-int8 needs {' and '.join(missing)}: "
            "pip install 'genen-scale[onnx]' (or pip install onnxruntime onnx), "
            "or use backend torch"
        )


@contextmanager
def _quiet_root_logger():
    """onnxruntime.quantization logs one root-logger line per tensor it leaves alone."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        root.setLevel(level)


class _LastHidden(torch.nn.Module):
    """Positional inputs -> last hidden state, the one output the exporter traces."""

    def __init__(self, model: torch.nn.Module, names: list[str]):
        super().__init__()
        self.model, self.names = model, names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.names, inputs, strict=True))).last_hidden_state


class OnnxInt8Model:
    """An int8 ONNX Runtime session of a Hugging Face encoder, called like the torch model.

    Args:
        model: The fp32 encoder (eval mode, CPU) to export.
        sample: A padded tokenizer output (``return_tensors="pt"``, two texts of different
            lengths) naming the model's inputs.
        threads: Intra-op threads; ``None`` uses torch's current setting.
    """

    def __init__(self, model: torch.nn.Module, sample: dict, threads: int | None = None):
        check_available()
        import onnx
        import onnxruntime as ort
        from onnxruntime.quantization import QuantType, quantize_dynamic

        self.names = list(sample.keys())
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="genen-onnx-") as tmp:
            fp32, int8 = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
            axes = {name: {0: "batch", 1: "seq"} for name in [*self.names, "hidden"]}
            # The tracer warns that transformers' shape checks become constants; those
            # only decide causal masking and mask padding, fixed for an encoder. The
            # sample must be padded so that the traced graph keeps the attention mask.
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
                warnings.simplefilter("ignore", category=DeprecationWarning)
                torch.onnx.export(
                    _LastHidden(model, self.names),
                    tuple(sample[n] for n in self.names),
                    str(fp32),
                    input_names=self.names,
                    output_names=["hidden"],
                    dynamic_axes=axes,
                    opset_version=17,
                    dynamo=False,  # the TorchScript exporter needs no onnxscript
                )
            nodes = onnx.load(str(fp32), load_external_data=False).graph.node
            keep = [
                n.name
                for n in nodes
                if n.op_type == "MatMul"
                and n.name.endswith(KEEP_FLOAT)
                and "attention" not in n.name
            ]
            with _quiet_root_logger():
                quantize_dynamic(
                    fp32, int8, per_channel=True, weight_type=QuantType.QInt8, nodes_to_exclude=keep
                )
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads or torch.get_num_threads()
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # Spinning worker threads hold their cores between ops; on a CPU shared with the
            # tokenizer (or other jobs) that measured slower, not faster.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self.session = ort.InferenceSession(
                str(int8), options, providers=["CPUExecutionProvider"]
            )
        log.info(
            "onnx-int8: exported and quantised in %.1f s (%d FFN down-projections kept fp32)",
            time.perf_counter() - t0,
            len(keep),
        )

    def last_hidden(self, enc: dict) -> torch.Tensor:
        """Run one tokenized batch.

        Shapes:
            enc: tensors ``[batch, seq]``; returns ``[batch, seq, dim]`` float32.
        """
        feeds = {n: np.ascontiguousarray(enc[n].numpy(), dtype=np.int64) for n in self.names}
        return torch.from_numpy(self.session.run(None, feeds)[0])

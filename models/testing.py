"""Tiny ONNX models with planted outputs, for the detector tests and benchmarks.

A model that returns a constant tensor exercises a decoder end to end (session, layout
recognition, decoding, mapping back to the image, NMS) with answers known exactly, without
any trained weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def constant_model(
    path: Path,
    input_shape: list[int],
    outputs: dict[str, np.ndarray],
    input_name: str = "images",
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write an ONNX model whose outputs are the given constants, whatever the input.

    Each output is `constant + 0 * mean(input)` so that the input is really consumed (and its
    shape checked by ONNX Runtime), as in an exported detector.
    """
    import onnx  # the dev extra's: builds test models
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("ReduceMean", [input_name], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
    ]
    initializers = [numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    graph_outputs = []
    for name, value in outputs.items():
        value = np.asarray(value, np.float32)
        initializers.append(numpy_helper.from_array(value, f"{name}_value"))
        nodes.append(helper.make_node("Add", [f"{name}_value", "nothing"], [name]))
        graph_outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, value.shape))
    graph = helper.make_graph(
        nodes,
        "planted",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, input_shape)],
        graph_outputs,
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by every onnxruntime we support
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def nanodet_outputs(size: int = 416, bins: int = 11) -> dict[str, np.ndarray]:
    """NanoDet-shaped outputs (scores [1,N,80] and distributions [1,N,4*bins] per stride 8,
    16, 32), all quiet: low scores, flat distributions. Plant detections by editing them."""
    outputs = {}
    for stride in (8, 16, 32):
        cells = (size // stride) ** 2
        outputs[f"scores_{stride}"] = np.full((1, cells, 80), 0.01, np.float32)
        outputs[f"boxes_{stride}"] = np.zeros((1, cells, 4 * bins), np.float32)
    return outputs

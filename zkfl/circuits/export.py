"""Export a circuit module to ONNX, deterministically and atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import onnx
import torch

OPSET = 17


def export_onnx(
    module: torch.nn.Module,
    example_inputs: Sequence[torch.Tensor],
    path: str | os.PathLike[str],
    input_names: Sequence[str],
    output_names: Sequence[str],
) -> Path:
    """Trace `module` with the legacy TorchScript exporter (ezkl-friendly static graph: no
    external data, constants folded) and write it to `path` only once it passes onnx.checker."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".onnx")
    os.close(fd)
    try:
        with torch.no_grad():
            torch.onnx.export(
                module.eval(),
                tuple(example_inputs),
                tmp_name,
                dynamo=False,
                opset_version=OPSET,
                input_names=list(input_names),
                output_names=list(output_names),
                do_constant_folding=True,
            )
        onnx.checker.check_model(onnx.load(tmp_name))
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
    return path

"""Prints what EdgeSplit needs to know before it runs the package: torch's and torchvision's
versions and the BLAS torch loaded, as a JSON array; fails if onnx, torch or torchvision is missing."""

import json

import onnx  # noqa: F401 - only that it imports
from edgesplit_torch import measure  # this script's folder is on sys.path

found = measure.versions()
print(json.dumps([found["torch"], found["torchvision"], found["blas"]]))

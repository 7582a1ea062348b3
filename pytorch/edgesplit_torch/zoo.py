"""torchvision's definitions of the EdgeSplit zoo models, with the zoo's weights copied in.

The zoo (src/EdgeSplit.Zoo) builds each network as an ONNX graph with torchvision's layer
structure, 10-class heads and seeded weights. Here the same network is built from torchvision
itself and every Conv2d, BatchNorm2d and Linear takes its tensors from the ONNX node in the same
position (modules in registration order against parameterised nodes in graph order), after
checking that the two agree in kind, shape and attributes.

A model is also described as a chain of *units*: the torchvision child modules or blocks (and
the functional steps of its forward, such as flatten) whose outputs are the only tensor alive
between them. Stages of a split run consecutive units.
"""

from dataclasses import dataclass, field

import onnx
import torch
import torchvision
from onnx import numpy_helper
from torch import nn

# The ONNX operator the zoo writes for each parameterised torch module.
_ONNX_OP = {nn.Conv2d: "Conv", nn.BatchNorm2d: "BatchNormalization", nn.Linear: "Gemm"}


class ZooError(ValueError):
    """The ONNX file is not a zoo model this package can mirror, or it does not match torchvision."""


@dataclass(frozen=True)
class Unit:
    """One step of the chain: a torchvision module path (the zoo names its ONNX nodes after it)
    and the module that runs it. A unit with `output` set is a side branch: it computes that
    model output from the running tensor and passes the tensor on unchanged."""

    name: str
    module: nn.Module
    output: str | None = None


@dataclass
class ZooModel:
    arch: str
    model: nn.Module
    units: list[Unit]
    graph: onnx.GraphProto
    input_name: str
    input_shape: list[int]
    output_names: list[str]
    weights: dict = field(default_factory=dict)


def _children(prefix, sequential):
    return [Unit(f"{prefix}.{name}", module) for name, module in sequential.named_children()]


def _mobilenetv2():
    m = torchvision.models.mobilenet_v2(num_classes=10)
    # torchvision's forward pools and flattens functionally between features and classifier.
    units = _children("features", m.features) + [Unit("avgpool", nn.AdaptiveAvgPool2d(1)), Unit("flatten", nn.Flatten(1))]
    return m, units + _children("classifier", m.classifier)


def _resnet18():
    m = torchvision.models.resnet18(num_classes=10)
    units = [Unit(n, getattr(m, n)) for n in ("conv1", "bn1", "relu", "maxpool")]
    for layer in ("layer1", "layer2", "layer3", "layer4"):
        units += _children(layer, getattr(m, layer))
    return m, units + [Unit("avgpool", m.avgpool), Unit("flatten", nn.Flatten(1)), Unit("fc", m.fc)]


def _squeezenet():
    m = torchvision.models.squeezenet1_1(num_classes=10)
    return m, _children("features", m.features) + _children("classifier", m.classifier) + [Unit("flatten", nn.Flatten(1))]


def _features_avgpool_classifier(m):
    units = _children("features", m.features) + [Unit("avgpool", m.avgpool), Unit("flatten", nn.Flatten(1))]
    return m, units + _children("classifier", m.classifier)


def _inceptionv3():
    m = torchvision.models.inception_v3(num_classes=10, aux_logits=True, init_weights=False)
    names = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
             "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"]
    units = [Unit(n, getattr(m, n)) for n in names]
    # torchvision computes the auxiliary head only in training mode; the zoo keeps it as a second output.
    units.append(Unit("AuxLogits", m.AuxLogits, output="aux_logits"))
    units += [Unit(n, getattr(m, n)) for n in ("Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool", "dropout")]
    return m, units + [Unit("flatten", nn.Flatten(1)), Unit("fc", m.fc)]


ARCHITECTURES = {
    "squeezenet": _squeezenet,
    "mobilenetv2": _mobilenetv2,
    "resnet18": _resnet18,
    "inceptionv3": _inceptionv3,
    "alexnet": lambda: _features_avgpool_classifier(torchvision.models.alexnet(num_classes=10)),
    "vgg16": lambda: _features_avgpool_classifier(torchvision.models.vgg16(num_classes=10, init_weights=False)),
}


def load(onnx_path, arch=None, weights=True):
    """Reads a zoo ONNX file and builds its torchvision twin. `arch` defaults to the graph's name,
    which the zoo sets to the model's zoo name. Without `weights` the model keeps torchvision's
    initialisation: enough to map cuts, not to run."""
    proto = onnx.load(onnx_path)
    graph = proto.graph
    arch = arch or graph.name
    if arch not in ARCHITECTURES:
        raise ZooError(f"'{onnx_path}' is graph '{graph.name}', not one of the zoo's models ({', '.join(ARCHITECTURES)}); "
                       "write one with 'edgesplit zoo NAME --out DIR' or pass --arch")
    model, units = ARCHITECTURES[arch]()
    model.eval()
    initializers = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise ZooError(f"'{onnx_path}' has {len(inputs)} inputs; zoo models have one")
    shape = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
    zoo = ZooModel(arch, model, units, graph, inputs[0].name, shape, [o.name for o in graph.output])
    if weights:
        zoo.weights = copy_weights(model, graph)
    return zoo


def _attributes(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _check_attributes(module, node, qualified):
    a = _attributes(node)
    if isinstance(module, nn.Conv2d):
        pads = list(a.get("pads", [0, 0, 0, 0]))
        expected = {
            "kernel_shape": list(module.kernel_size), "strides": list(module.stride),
            "pads": list(module.padding) * 2, "group": module.groups, "dilations": list(module.dilation),
        }
        actual = {"kernel_shape": list(a.get("kernel_shape", [])), "strides": list(a.get("strides", [1, 1])),
                  "pads": pads, "group": a.get("group", 1), "dilations": list(a.get("dilations", [1, 1]))}
    elif isinstance(module, nn.BatchNorm2d):
        expected, actual = {"epsilon": round(module.eps, 7)}, {"epsilon": round(a.get("epsilon", 1e-5), 7)}
    else:
        expected, actual = {"transB": 1, "alpha": 1.0, "beta": 1.0}, {k: a.get(k, d) for k, d in (("transB", 0), ("alpha", 1.0), ("beta", 1.0))}
    if expected != actual:
        raise ZooError(f"torch module {qualified} and ONNX node {node.name} differ: torch {expected}, ONNX {actual}")


def copy_weights(model, graph):
    """Copies the ONNX initializers into the torch modules, matched by position; returns what it
    copied and how many matched pairs also share a name."""
    initializers = {t.name: t for t in graph.initializer}
    nodes = [n for n in graph.node if n.op_type in _ONNX_OP.values()]
    modules = [(q, m) for q, m in model.named_modules() if type(m) in _ONNX_OP]
    if len(nodes) != len(modules):
        raise ZooError(f"the ONNX graph has {len(nodes)} Conv/BatchNormalization/Gemm nodes but torchvision's model "
                       f"has {len(modules)} Conv2d/BatchNorm2d/Linear modules")
    copied = parameters = same_name = 0
    with torch.no_grad():
        for (qualified, module), node in zip(modules, nodes):
            if _ONNX_OP[type(module)] != node.op_type:
                raise ZooError(f"torch module {qualified} ({type(module).__name__}) meets ONNX node {node.name} ({node.op_type})")
            _check_attributes(module, node, qualified)
            if isinstance(module, nn.BatchNorm2d):
                targets = [module.weight, module.bias, module.running_mean, module.running_var]
            else:
                targets = [module.weight, module.bias]
            sources = [i for i in node.input[1:] if i]
            targets = [t for t in targets if t is not None]
            if len(sources) != len(targets):
                raise ZooError(f"ONNX node {node.name} has {len(sources)} weight tensors, torch module {qualified} expects {len(targets)}")
            for target, source in zip(targets, sources):
                if source not in initializers:
                    raise ZooError(f"ONNX node {node.name} takes '{source}', which is not an initializer")
                value = torch.from_numpy(numpy_helper.to_array(initializers[source]).copy())
                if tuple(value.shape) != tuple(target.shape):
                    raise ZooError(f"'{source}' is {list(value.shape)} but {qualified} expects {list(target.shape)}")
                target.copy_(value)
                copied += 1
            parameters += sum(p.numel() for p in module.parameters(recurse=False))
            same_name += node.name == qualified
    return {"modules": len(modules), "tensors": copied, "parameters": parameters, "names_agree": same_name}


class Stage(nn.Module):
    """Units [first, last) of a model: takes the running tensor and the model outputs made so far."""

    def __init__(self, units):
        super().__init__()
        self.units = units
        self.modules_ = nn.ModuleList(u.module for u in units)

    @torch.no_grad()
    def forward(self, x, outputs):
        for unit in self.units:
            if unit.output is None:
                x = unit.module(x)
            else:
                outputs = {**outputs, unit.output: unit.module(x)}
        return x, outputs


def final_outputs(zoo, x, outputs):
    """The model outputs in the ONNX graph's order: the last running tensor is the first output."""
    named = {zoo.output_names[0]: x, **outputs}
    return [named[n] for n in zoo.output_names]

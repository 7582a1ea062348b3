"""EdgeSplit cuts mapped to torchvision module boundaries.

EdgeSplit numbers a cut by the ONNX node it follows (`edgesplit inspect MODEL --json`): cut k lies
between node k and node k+1 of the graph in topological order, and carries every tensor alive
there. A cut has a PyTorch equivalent when node k is the last node of a unit (the zoo names nodes
after torchvision's module paths, so `features.3.conv.3` belongs to unit `features.3`) and the
tensors alive there are exactly what the chain of units carries: the unit's output, plus any model
output a side branch already made. Cuts inside a block (a residual or inception branch) have none.
"""

from dataclasses import dataclass


class CutError(ValueError):
    """A cut that is out of range or has no module boundary."""


@dataclass(frozen=True)
class CutEquivalent:
    index: int
    after: str
    tensors: list[str]
    boundary: int | None  # units [0, boundary) run before the cut
    unit: str | None  # the last unit before the cut
    reason: str | None  # why there is no equivalent

    def to_json(self):
        return {"index": self.index, "after": self.after, "tensors": self.tensors, "boundary": self.boundary,
                "unit": self.unit, "reason": self.reason}


def _unit_of(node_name, units):
    for position, unit in enumerate(units):
        if node_name == unit.name or node_name.startswith(unit.name + "."):
            return position
    raise CutError(f"ONNX node '{node_name}' belongs to no torchvision module of the chain; is this a zoo model?")


def map_cuts(zoo):
    """Every EdgeSplit cut of the model, with its module boundary or the reason it has none."""
    nodes = [n for n in zoo.graph.node if n.op_type != "Constant"]
    unit_of = [_unit_of(n.name, zoo.units) for n in nodes]
    for k in range(1, len(nodes)):
        if unit_of[k] < unit_of[k - 1]:
            raise CutError(f"ONNX node '{nodes[k].name}' comes after '{nodes[k - 1].name}' but belongs to an earlier module")

    producer, last_use = {zoo.input_name: -1}, {}
    for k, node in enumerate(nodes):
        for name in node.input:
            if name in producer:
                last_use[name] = k
        for name in node.output:
            producer[name] = k
    for name in zoo.output_names:
        last_use[name] = len(nodes)
    early = next((n for k, node in enumerate(nodes) for n in node.input if producer.get(n, -1) >= k), None)
    if early is not None:
        raise CutError(f"the ONNX graph is not in topological order: '{early}' is used before it is produced")

    # What the chain of units carries after each unit: the running tensor and side outputs made so far.
    running, side_outputs, carried = zoo.input_name, [], []
    last_node_of = {u: k for k, u in enumerate(unit_of)}
    for position, unit in enumerate(zoo.units):
        if position in last_node_of:
            output = nodes[last_node_of[position]].output[0]
            if unit.output is None:
                running = output
            else:
                side_outputs.append(output)
        carried.append({running, *side_outputs})

    cuts = []
    for k in range(len(nodes) - 1):
        live = sorted((t for t, p in producer.items() if p <= k and last_use.get(t, -1) > k), key=lambda t: (producer[t], t))
        u = unit_of[k]
        name = zoo.units[u].name
        if unit_of[k + 1] == u:
            cuts.append(CutEquivalent(k, nodes[k].name, live, None, None, f"inside {name}, which torchvision runs as one module ({len(live)} tensor(s) cross it)"))
        elif set(live) != carried[u]:
            cuts.append(CutEquivalent(k, nodes[k].name, live, None, None,
                                      f"after {name}, but {sorted(live)} cross it where torchvision carries {sorted(carried[u])}"))
        else:
            cuts.append(CutEquivalent(k, nodes[k].name, live, u + 1, name, None))
    return cuts


def boundaries(zoo, cut_indices):
    """Unit boundaries [0, b1, ..., len(units)] for the given EdgeSplit cuts, in increasing order."""
    cuts = map_cuts(zoo)
    result = [0]
    for index in cut_indices:
        if not 0 <= index < len(cuts):
            raise CutError(f"cut {index} is out of range: {zoo.arch} has cuts 0..{len(cuts) - 1}")
        cut = cuts[index]
        if cut.boundary is None:
            usable = [c.index for c in cuts if c.boundary is not None]
            raise CutError(f"cut {index} (after {cut.after}) has no PyTorch module boundary: {cut.reason}; "
                           f"cuts with one: {','.join(map(str, usable))}")
        if cut.boundary <= result[-1]:
            raise CutError(f"cuts must increase and leave each stage at least one module; {index} does not")
        result.append(cut.boundary)
    return result + [len(zoo.units)]

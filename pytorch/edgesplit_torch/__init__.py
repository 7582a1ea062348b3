"""EdgeSplit's PyTorch side: the zoo's models in torchvision, split over torch.distributed.rpc.

The proposal's pathway 2 (distributed inference over PyTorch RPC), run on the same models,
weights, cuts and frames as EdgeSplit so the two can be compared. See pytorch/README.md.
"""

import os

# torch's RPC agent logs an INFO line through glog at every shutdown, on stderr, where the bench's progress
# display is; warnings and errors still show.
os.environ.setdefault("GLOG_minloglevel", "1")

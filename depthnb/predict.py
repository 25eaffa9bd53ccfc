"""The contract's names for prediction (see DESIGN.md): :func:`predict_depth` lives in
:mod:`depthnb.inference`, :func:`load_checkpoint` in :mod:`depthnb.models.checkpoints`.

>>> model = load_checkpoint("runs/main/best.pt")                       # doctest: +SKIP
>>> depth = predict_depth(model, "kitchen.jpg")   # metres, the photo's size  # doctest: +SKIP
"""

from depthnb.inference import predict_depth
from depthnb.models.checkpoints import load_checkpoint

__all__ = ["load_checkpoint", "predict_depth"]

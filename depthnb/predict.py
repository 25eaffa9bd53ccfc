"""The contract's names for prediction (see DESIGN.md): :func:`predict_depth` lives in
:mod:`depthnb.inference`, :func:`load_checkpoint` in :mod:`depthnb.models.checkpoints`.

>>> import numpy as np
>>> from depthnb.models.pretrained import WEIGHTS_DIR
>>> model = load_checkpoint(WEIGHTS_DIR / "unet-synthetic.pt")   # or "runs/main/best.pt"
>>> photo = np.zeros((48, 64, 3), np.uint8)          # or a path, the bytes of a file, a PIL image
>>> predict_depth(model, photo).shape                # float32 metres, the photo's size
(48, 64)
"""

from depthnb.inference import predict_depth
from depthnb.models.checkpoints import load_checkpoint

__all__ = ["load_checkpoint", "predict_depth"]

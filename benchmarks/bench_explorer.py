"""How long the explorer takes to show an uploaded photo, by photo size, with and without the
display-sized copy.

    python benchmarks/bench_explorer.py [--repeats 3]

Each row uploads one photo (random pixels, the sizes of a 480x640 NYU frame and of a 12 MP phone
photo) into a ``DepthExplorer`` over the shipped course U-Net and times ``load_photo`` (decode,
predict, draw the figure) and then one redraw from the cache (a new colour map). "full size" sets
``display_side`` so large that nothing is shrunk: the baseline. The fastest of ``--repeats``
counts. The 12 MP photo should redraw as fast as the 480x640 one.
"""

from __future__ import annotations

import argparse
import time

import matplotlib
import numpy as np

matplotlib.use("Agg")

from depthnb.data import SyntheticRooms  # noqa: E402
from depthnb.models import load_pretrained  # noqa: E402
from depthnb.viz.explorer import DepthExplorer  # noqa: E402

SIZES = {"480x640": (480, 640), "12 MP (3000x4000)": (3000, 4000)}


def measure(explorer: DepthExplorer, photo: np.ndarray, repeats: int) -> tuple[float, float]:
    """(fastest upload, fastest cached redraw) in seconds."""
    uploads, redraws = [], []
    for colours in ["turbo", "magma", "jet", "plasma"][:repeats]:
        start = time.perf_counter()
        explorer.load_photo(photo)
        uploads.append(time.perf_counter() - start)
        start = time.perf_counter()
        explorer.cmap.value = colours  # from the cache: matplotlib only
        redraws.append(time.perf_counter() - start)
    return min(uploads), min(redraws)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, choices=range(1, 5))
    args = parser.parse_args()
    model = load_pretrained("unet-synthetic")
    dataset = SyntheticRooms(2, size=(120, 160), seed=0)
    rng = np.random.default_rng(0)
    rows = []
    for label, (height, width) in SIZES.items():
        photo = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        for mode, side in (("display copy", 640), ("full size", 10**6)):
            explorer = DepthExplorer(dataset, {"course U-Net": model}, display_side=side)
            upload, redraw = measure(explorer, photo, args.repeats)
            rows.append((label, mode, explorer.photo.shape[:2], upload, redraw))
    base = min(redraw for label, _, _, _, redraw in rows if label == "480x640")
    header = ("photo", "mode", "drawn at", "upload s", "redraw s", "vs 480x640")
    print(f"{header[0]:<18}{header[1]:<14}" + "".join(f"{h:>12}" for h in header[2:]))
    for label, mode, drawn, upload, redraw in rows:
        cells = (
            f"{drawn[0]}x{drawn[1]}",
            f"{upload:.3f}",
            f"{redraw:.3f}",
            f"{redraw / base:.1f}x",
        )
        print(f"{label:<18}{mode:<14}" + "".join(f"{c:>12}" for c in cells))


if __name__ == "__main__":
    main()

"""Prove ``densedepth_from_keras`` against Keras itself: same weights, same images, same outputs.

Two phases, in two Python environments (TensorFlow is never a dependency of depthnb):

1. ``keras`` (TensorFlow + tf_keras + h5py + numpy): builds DenseDepth exactly as the authors'
   ``model.py`` does (Keras ``DenseNet169(include_top=False, weights=None)``, decoder ``conv2``,
   ``up1``..``up4`` with the custom ``BilinearUpSampling2D``, ``conv3``), gives it random weights
   *and* random BatchNorm statistics, saves it as a whole-model Keras 2 HDF5 file
   (``save_format="h5"``), and writes its outputs on random images for both up-sampling modes:
   aligned corners (TF 1.x ``resize_images(align_corners=True)``, the published weights) and
   half-pixel centres (TF2 ``tf.image.resize``, the later ``layers.py``).
2. ``torch`` (depthnb's environment): converts the file with ``densedepth_from_keras`` and prints
   the largest absolute difference to Keras's outputs, and that difference over the output's range
   (target < 1e-4), per file, size and up-sampling mode.

Run both from depthnb's environment; the first phase runs as a subprocess of the TF interpreter::

    python3 -m venv /work/venv-tf
    /work/venv-tf/bin/pip install tensorflow-cpu tf-keras h5py numpy
    OMP_NUM_THREADS=2 PYTHONPATH=. python scripts/verify_densedepth_keras.py \\
        --tf-python /work/venv-tf/bin/python --widths 1.0 0.5 --sizes 224x288 480x640

Later widths are checked at the first size only. ``--keras keras`` builds with Keras 3 instead
(whose DenseNet names ``conv1_conv`` for ``conv1/conv``; its ``.h5`` is the same legacy layout).
``--phase keras --out DIR --width W --sizes ...`` runs the first phase alone. Sizes must be
multiples of 32, as Keras's model requires. Exit status 1 when any difference exceeds the target.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

TARGET = 1e-4  # largest |difference| / output range accepted
MODES = ("aligned", "half_pixel")


def parse_size(text: str) -> tuple[int, int]:
    """ "224x288" -> (224, 288); both multiples of 32."""
    height, width = (int(v) for v in text.lower().split("x"))
    if height % 32 or width % 32:
        raise argparse.ArgumentTypeError(f"{text}: Keras's DenseDepth needs multiples of 32")
    return height, width


def randomise(model: Any, keras: Any, rng: np.random.Generator) -> None:
    """Random weights and BatchNorm statistics (not Keras's initialisation) for every layer."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, n),  # gamma
                    rng.normal(0.0, 0.2, n),  # beta
                    rng.normal(0.0, 0.5, n),  # moving_mean
                    rng.uniform(0.3, 2.0, n),  # moving_variance
                ]
            )
        elif isinstance(layer, keras.layers.Conv2D):
            kernel, *bias = layer.get_weights()
            fan_in = np.prod(kernel.shape[:3])
            kernel = rng.normal(0.0, np.sqrt(2.0 / fan_in), kernel.shape)
            layer.set_weights([kernel] + [rng.normal(0.0, 0.1, b.shape) for b in bias])


def keras_phase(
    out: Path, width: float, sizes: list[tuple[int, int]], seed: int, keras_module: str
) -> None:
    """Build, randomise and save the Keras model; write inputs and outputs to ``out``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import importlib

    import tensorflow as tf

    keras = importlib.import_module(keras_module)

    class BilinearUpSampling2D(keras.layers.Layer):
        """The authors' layer: bilinear x2 (channels last); ``aligned`` picks the TF 1.x or the
        TF2 resize."""

        def __init__(self, size=(2, 2), aligned: bool = True, **kwargs):
            super().__init__(**kwargs)
            self.size = tuple(size)
            self.aligned = aligned

        def call(self, inputs):
            shape = tf.shape(inputs)
            new = [self.size[0] * shape[1], self.size[1] * shape[2]]
            if self.aligned:
                return tf.compat.v1.image.resize_bilinear(inputs, new, align_corners=True)
            return tf.image.resize(inputs, new, method=tf.image.ResizeMethod.BILINEAR)

        def get_config(self):
            return {**super().get_config(), "size": self.size, "aligned": self.aligned}

    def create_model(aligned: bool) -> keras.Model:
        """The authors' ``create_model`` (model.py), decoder width ``width`` of 1664."""
        base = keras.applications.DenseNet169(
            input_shape=(None, None, 3), include_top=False, weights=None
        )
        filters = int(int(base.layers[-1].output.shape[-1]) * width)
        layers = keras.layers

        def upproject(tensor, filters: int, name: str, concat_with: str):
            if concat_with == "conv1/relu" and keras_module != "tf_keras":
                concat_with = "conv1_relu"  # Keras 3 names have no "/"
            up = BilinearUpSampling2D((2, 2), aligned, name=name + "_upsampling2d")(tensor)
            up = layers.Concatenate(name=name + "_concat")([up, base.get_layer(concat_with).output])
            up = layers.Conv2D(filters, 3, padding="same", name=name + "_convA")(up)
            up = layers.LeakyReLU(alpha=0.2)(up)
            up = layers.Conv2D(filters, 3, padding="same", name=name + "_convB")(up)
            return layers.LeakyReLU(alpha=0.2)(up)

        x = layers.Conv2D(filters, 1, padding="same", name="conv2")(base.output)
        x = upproject(x, int(filters / 2), "up1", "pool3_pool")
        x = upproject(x, int(filters / 4), "up2", "pool2_pool")
        x = upproject(x, int(filters / 8), "up3", "pool1")
        x = upproject(x, int(filters / 16), "up4", "conv1/relu")
        x = layers.Conv2D(1, 3, padding="same", name="conv3")(x)
        return keras.Model(inputs=base.input, outputs=x)

    rng = np.random.default_rng(seed)
    model = create_model(aligned=True)
    randomise(model, keras, rng)
    out.mkdir(parents=True, exist_ok=True)
    if keras_module == "tf_keras":
        model.save(out / "densedepth.h5", save_format="h5")
    else:  # Keras 3 writes its legacy (Keras 2) HDF5 layout for a ".h5" name
        model.save(out / "densedepth.h5")
    half_pixel = create_model(aligned=False)
    half_pixel.set_weights(model.get_weights())
    results = {}
    for height, width_px in sizes:
        images = rng.uniform(0.0, 1.0, (2, height, width_px, 3)).astype(np.float32)
        results[f"images_{height}x{width_px}"] = images
        for mode, net in zip(MODES, (model, half_pixel)):
            results[f"{mode}_{height}x{width_px}"] = net.predict(images, batch_size=1, verbose=0)
    np.savez(out / "keras_outputs.npz", **results)
    print(f"keras: saved {out / 'densedepth.h5'} ({model.count_params():,} parameters)")


def torch_phase(out: Path, sizes: list[tuple[int, int]], label: str) -> list[list[str]]:
    """Convert the file and compare with Keras's outputs; one table row per size and mode."""
    import torch

    from depthnb.models import build_model, count_parameters, densedepth_from_keras

    start = time.perf_counter()
    model = densedepth_from_keras(out / "densedepth.h5")
    seconds = time.perf_counter() - start
    params = count_parameters(model)["total"]
    features = model.decoder.conv.out_channels
    print(f"{label}: converted in {seconds:.1f} s, conv2 {features} filters, {params:,} parameters")
    half_pixel = build_model(model.name, **{**model.config, "align_corners": False}).eval()
    half_pixel.load_state_dict(model.state_dict())
    saved = np.load(out / "keras_outputs.npz")
    rows = []
    for height, width in sizes:
        modes = [saved[f"{mode}_{height}x{width}"] for mode in MODES]
        gap = float(np.abs(modes[0] - modes[1]).max() / (modes[0].max() - modes[0].min()))
        print(f"  {height}x{width}: Keras's two up-sampling modes differ by {gap:.2e} of range")
        images = torch.from_numpy(saved[f"images_{height}x{width}"]).permute(0, 3, 1, 2)
        for mode, net in zip(MODES, (model, half_pixel)):
            expected = saved[f"{mode}_{height}x{width}"][..., 0]
            with torch.no_grad():
                got = net(images)[:, 0].numpy()
            diff = float(np.abs(got - expected).max())
            span = float(expected.max() - expected.min())
            rows.append([label, str(features), f"{height}x{width}", mode, diff, span, diff / span])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=("both", "keras"), default="both")
    parser.add_argument("--tf-python", default="/work/venv-tf/bin/python")
    parser.add_argument("--widths", type=float, nargs="+", default=[1.0, 0.5])
    parser.add_argument("--width", type=float, default=1.0, help="keras phase only")
    parser.add_argument("--sizes", type=parse_size, nargs="+", default=[(224, 288), (480, 640)])
    parser.add_argument("--out", type=Path, help="folder for the .h5 and outputs (default: temp)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keras", default="tf_keras", help="tf_keras (Keras 2) or keras (3)")
    args = parser.parse_args()
    if args.phase == "keras":
        keras_phase(args.out, args.width, args.sizes, args.seed, args.keras)
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as temp:
        root = args.out or Path(temp)
        for index, width in enumerate(args.widths):
            out = root / f"width{width}"
            sizes = args.sizes if index == 0 else args.sizes[:1]
            command = [args.tf_python, __file__, "--phase", "keras", "--out", str(out)]
            command += ["--width", str(width), "--seed", str(args.seed + index)]
            command += ["--keras", args.keras, "--sizes"]
            command += [f"{h}x{w}" for h, w in sizes]
            subprocess.run(command, check=True)
            rows += torch_phase(out, sizes, f"width {width}")
    header = ["file", "conv2", "size", "up-sampling", "max |diff|", "range", "diff / range"]
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        *text, diff, span, rel = row
        print("| " + " | ".join(text) + f" | {diff:.3g} | {span:.3g} | {rel:.2e} |")
    worst = max(row[-1] for row in rows)
    print(f"\nlargest diff / range {worst:.2e} (target < {TARGET:g})")
    return 0 if worst < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())

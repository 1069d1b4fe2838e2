"""A small CPU-bound image model in numpy, the kind user reports serve with Flask: decode the
upload, resize it to a fixed input, run a few dense layers. Its cost per prediction is
calibrated at start to MODEL_COST_MS milliseconds of CPU on this machine, so a test knows what
the server's bottleneck is before it starts."""
import os
import time

import numpy as np

LABELS = ["cat", "dog", "bird", "car", "ship", "plane", "horse", "frog", "deer", "truck"]
SIDE = 64


class Model:
    def __init__(self, cost_ms):
        rng = np.random.default_rng(1)
        self.w_in = rng.standard_normal((SIDE * SIDE, 256)).astype(np.float32) / SIDE
        self.w_hidden = rng.standard_normal((256, 256)).astype(np.float32) / 16
        self.w_out = rng.standard_normal((256, len(LABELS))).astype(np.float32) / 16
        self.layers = 1
        self._calibrate(cost_ms)

    def _forward(self, x):
        h = np.tanh(x @ self.w_in)
        for _ in range(self.layers):
            # tanh keeps activations in range: shrinking values would turn denormal and make
            # each layer far slower than the calibration measured
            h = np.tanh(h @ self.w_hidden)
        z = h @ self.w_out
        e = np.exp(z - z.max())
        return e / e.sum()

    def _cost_ms(self, layers, repeat=5):
        self.layers = layers
        x = np.ones((1, SIDE * SIDE), dtype=np.float32)
        self._forward(x)  # warm up
        start = time.process_time()
        for _ in range(repeat):
            self._forward(x)
        return (time.process_time() - start) / repeat * 1000.0

    def _calibrate(self, cost_ms):
        # cost is linear in the number of hidden layers: measure two points, solve, refine once
        low, high = self._cost_ms(2), self._cost_ms(40)
        per_layer = max((high - low) / 38, 1e-4)
        layers = max(1, round(2 + (cost_ms - low) / per_layer))
        got = self._cost_ms(layers)
        if got > 0:
            layers = max(1, round(layers * cost_ms / got))
        self.layers = layers

    def predict(self, image_bytes):
        pixels = np.frombuffer(image_bytes, dtype=np.uint8).astype(np.float32) / 255.0
        side = int(len(pixels) ** 0.5)
        if side < 8:
            raise ValueError("image too small")
        img = pixels[: side * side].reshape(side, side)
        idx = (np.arange(SIDE) * side // SIDE)
        x = img[np.ix_(idx, idx)].reshape(1, SIDE * SIDE)
        scores = self._forward(x)[0]
        best = int(scores.argmax())
        return {"label": LABELS[best], "scores": {l: float(s) for l, s in zip(LABELS, scores)}}


def from_env():
    return Model(float(os.environ.get("MODEL_COST_MS", "20")))

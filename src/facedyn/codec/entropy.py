"""Entropy coding of quantised integers: adaptive categorical models on constriction's range
coder (docs/codec.md, "Symbols").

Each integer is coded as one symbol of an alphabet -ALPHABET_HALF..ALPHABET_HALF plus an
escape; an escaped value follows as an Elias-gamma code of its excess magnitude (the bit
count, then the bits, on uniform models) and its sign. Models adapt by counting: every
coded symbol adds INCREMENT to its count, and the counts halve when their total passes
MAX_TOTAL. Encoder and decoder update the same integer counts, so they stay in step.
"""

from __future__ import annotations

import constriction
import numpy as np

ALPHABET_HALF = 12  # residuals -12..12 are one symbol each
ESCAPE = 2 * ALPHABET_HALF + 1  # the symbol index that announces a larger value
MAX_BITS = 24  # escaped magnitudes stay below 2**MAX_BITS
INCREMENT = 24
MAX_TOTAL = 1 << 13  # halving this soon keeps the models following the recent past

_queue = constriction.stream.queue
_model = constriction.stream.model
_UNIFORM_BITS = _model.Uniform(MAX_BITS + 1)
_SIGN = _model.Uniform(2)


def prior_counts(decay: float) -> np.ndarray:
    """(ESCAPE + 1,) int64 starting counts for integers: 256 at 0, falling off by `decay`
    (0..1) with each step away from it; the escape as likely as a value 4 steps out."""
    distance = np.abs(np.arange(ESCAPE) - ALPHABET_HALF)
    counts = np.maximum(np.round(256 * decay**distance), 1).astype(np.int64)
    return np.append(counts, max(1, round(256 * decay**4)))


class AdaptiveModel:
    """Counts over an alphabet for one parameter in one context.

    Args:
        counts: (K,) positive starting counts: an integer model's prior_counts(), or e.g.
            [a, b] for a flag.
    """

    __slots__ = ("counts",)

    def __init__(self, counts: np.ndarray) -> None:
        self.counts = np.array(counts, np.int64)

    def model(self):
        return _model.Categorical(self.counts.astype(np.float64), perfect=False)

    def update(self, symbol: int) -> None:
        self.counts[symbol] += INCREMENT
        if self.counts.sum() > MAX_TOTAL:
            self.counts = (self.counts + 1) // 2


class IntegerEncoder:
    """Integers in, 32-bit words out (big-endian bytes)."""

    def __init__(self) -> None:
        self._coder = _queue.RangeEncoder()

    def encode(self, value: int, model: AdaptiveModel) -> None:
        """Code `value` (|value| < 2**MAX_BITS) with `model`, then adapt it."""
        symbol = value + ALPHABET_HALF if -ALPHABET_HALF <= value <= ALPHABET_HALF else ESCAPE
        self._coder.encode(symbol, model.model())
        model.update(symbol)
        if symbol == ESCAPE:
            excess = abs(value) - ALPHABET_HALF  # >= 1
            bits = excess.bit_length()
            if bits > MAX_BITS:
                raise ValueError(f"value {value} is beyond the coder's range (|value| < 2**{MAX_BITS})")
            self._coder.encode(bits, _UNIFORM_BITS)
            if bits > 1:
                self._coder.encode(excess - (1 << (bits - 1)), _model.Uniform(1 << (bits - 1)))
            self._coder.encode(int(value < 0), _SIGN)

    def encode_symbol(self, symbol: int, model: AdaptiveModel) -> None:
        """Code a symbol 0..K-1 of a small alphabet (a flag) with `model`, then adapt it."""
        self._coder.encode(symbol, model.model())
        model.update(symbol)

    def bytes(self) -> bytes:
        return self._coder.get_compressed().astype(">u4").tobytes()


class IntegerDecoder:
    """The inverse of IntegerEncoder. Garbage in gives garbage values, never an exception:
    callers check what they decode (packets carry a checksum)."""

    def __init__(self, data: bytes) -> None:
        data = data + b"\0" * (-len(data) % 4)
        self._coder = _queue.RangeDecoder(np.frombuffer(data, ">u4").astype(np.uint32))

    def decode_symbol(self, model: AdaptiveModel) -> int:
        symbol = int(self._coder.decode(model.model()))
        model.update(symbol)
        return symbol

    def decode(self, model: AdaptiveModel) -> int:
        symbol = int(self._coder.decode(model.model()))
        model.update(symbol)
        if symbol != ESCAPE:
            return symbol - ALPHABET_HALF
        bits = max(int(self._coder.decode(_UNIFORM_BITS)), 1)
        excess = 1 << (bits - 1)
        if bits > 1:
            excess += int(self._coder.decode(_model.Uniform(1 << (bits - 1))))
        negative = int(self._coder.decode(_SIGN))
        magnitude = ALPHABET_HALF + excess
        return -magnitude if negative else magnitude

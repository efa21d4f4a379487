"""Where things are: the project, the build, the generator, the raw rows."""
import dataclasses
import os
import sys


@dataclasses.dataclass(frozen=True)
class Config:
    root: str   # the project's top folder
    build: str  # the CMake build folder (BUILD_DIR, default build/)
    entry: str  # scripts/bench itself (the smoke runs it as a separate process)

    @property
    def bench(self):
        """The load generator."""
        return os.path.join(self.build, "tests/load/chat-bench")

    @property
    def default_raw(self):
        """Where a full run keeps its raw rows (one JSON line per step)."""
        return os.path.join(self.build, "bench-results.jsonl")

    @property
    def default_report(self):
        return os.path.join(self.root, "docs/benchmarks.md")

    @classmethod
    def from_entry(cls, entry, environ=None):
        """The config of scripts/bench at `entry` (BUILD_DIR from `environ` if set)."""
        environ = os.environ if environ is None else environ
        entry = os.path.abspath(entry)
        root = os.path.dirname(os.path.dirname(entry))
        return cls(root=root, build=environ.get("BUILD_DIR", os.path.join(root, "build")), entry=entry)


def log(*a):
    print(*a, file=sys.stderr, flush=True)

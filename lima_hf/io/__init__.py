"""Reading and writing files, by concept:

- :mod:`lima_hf.io.output`: the one output policy every writer goes through (atomic writes, lima-hf's ownership
  mark, refusal to replace what lima-hf did not write, an input, or an unwritable path);
- :mod:`lima_hf.io.permissions` and :mod:`lima_hf.io.recovery`: the policy's helpers (the umask's permissions;
  staging, swapping in and undoing what a crashed write left);
- :mod:`lima_hf.io.readers`: JSON lines, YAML and JSON input whose errors name the file and line.

Everything is importable from here (``from lima_hf.io import atomic_open, read_jsonl``).
"""

from lima_hf.errors import InputError, OutputRefusedError
from lima_hf.io.output import (
    OUTPUT_MARK,
    atomic_folder,
    atomic_open,
    atomic_path,
    check_output_not_input,
    check_replaceable_file,
    check_replaceable_folder,
    check_writable,
    claim,
    dump_jsonl_line,
    owned_by_lima_hf,
    read_mark,
    write_jsonl,
)
from lima_hf.io.permissions import apply_umask_tree, dir_mode, file_mode, umask
from lima_hf.io.readers import read_json, read_jsonl, read_yaml
from lima_hf.io.recovery import recover

__all__ = [
    "OUTPUT_MARK",
    "InputError",
    "OutputRefusedError",
    "apply_umask_tree",
    "atomic_folder",
    "atomic_open",
    "atomic_path",
    "check_output_not_input",
    "check_replaceable_file",
    "check_replaceable_folder",
    "check_writable",
    "claim",
    "dir_mode",
    "dump_jsonl_line",
    "file_mode",
    "owned_by_lima_hf",
    "read_json",
    "read_jsonl",
    "read_mark",
    "read_yaml",
    "recover",
    "umask",
    "write_jsonl",
]

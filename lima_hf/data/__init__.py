"""Curation of the LIMA data: one module per raw source, the composition into splits, the dataset card."""

from lima_hf._lazy import lazy_exports

_LAZY = {
    "LimaBuilder": "lima_hf.data.builder",
    "build_dataset": "lima_hf.data.builder",
    "load_lima_dataset": "lima_hf.data.loading",
    "write_dataset_folder": "lima_hf.data.dataset_folder",
    "read_records": "lima_hf.data.loading",
}

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)

"""The annotation study: items and labels in SQLite (:mod:`~lima_hf.evaluation.annotation.store`) and the
page annotators use (:mod:`~lima_hf.evaluation.annotation.app`, Gradio; ``lima-hf annotate``)."""

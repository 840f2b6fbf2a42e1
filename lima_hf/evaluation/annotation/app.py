"""The annotation page: a Gradio app over an annotation database (``lima-hf annotate``).

Why Gradio: it is the Hugging Face ecosystem's own framework for model demos and labelling pages (the
Hub's Spaces run it), so an annotation study can be served locally or from a Space with nothing but Python;
it handles the page, the form state and many users at once, and needs no JavaScript of ours.

An annotator opens the page (``http://HOST:PORT/?annotator=ID`` fills in their id), presses *Start or
continue*, and sees one item at a time: the question and the answer(s) (two answers as "Answer A" and
"Answer B", in the random order they were drawn in), the allowed labels and their progress. Nothing on the
page names a system, a task or an order. Every label goes to the database at once, so reloading the page
or restarting the server continues where the annotator stopped; several annotators can label at the same
time, each with their own id and their own item order.
"""


import os
from pathlib import Path

from lima_hf.evaluation.annotation.store import AnnotationStore, check_annotator

_TITLES = {"answer_a": "Answer A", "answer_b": "Answer B", "conversation": "Conversation so far",
           "answer": "Answer"}


def render_item(fields: dict[str, str]) -> str:
    """The item's fields as Markdown sections (``Question``, ``Answer A``, ...), system names nowhere."""
    return "\n\n---\n\n".join(f"#### {_TITLES.get(name, name.replace('_', ' ').capitalize())}\n\n{text}"
                              for name, text in fields.items())


def build_app(database: str | os.PathLike):
    """The Gradio ``Blocks`` of the annotation page for ``database``."""
    from lima_hf._optional import require

    gr = require("gradio", 'pip install "lima-hf[annotate]"', "the annotation page")
    database = Path(database)

    def show(annotator: str):
        try:
            annotator = check_annotator(annotator)
        except ValueError as err:
            return (f"**{err}**", "", "", gr.update(choices=[], value=None, visible=False), None,
                    gr.update(visible=False))
        with AnnotationStore(database) as store:
            item = store.next_item(annotator)
            done, total = store.progress(annotator)
        progress = f"**{annotator}**: {done} of {total} items labelled"
        if item is None:
            return (progress, "", "All items are labelled. Thank you!",
                    gr.update(choices=[], value=None, visible=False), None, gr.update(visible=False))
        how = f"Read the {'answers' if 'answer_a' in item['fields'] else 'answer'}, then choose {item['label_help']}."
        return (progress, how, render_item(item["fields"]),
                gr.update(choices=list(item["labels"]), value=None, visible=True), item["item_id"],
                gr.update(visible=True))

    def submit(annotator: str, item_id, label):
        if item_id is not None and label:
            with AnnotationStore(database) as store:
                store.add_label(int(item_id), check_annotator(annotator), label)
        return show(annotator)

    def load(request: gr.Request):
        annotator = (request.query_params.get("annotator") or "") if request else ""
        return (annotator, *show(annotator)) if annotator else (annotator, "", "", "", gr.update(visible=False),
                                                                 None, gr.update(visible=False))

    with gr.Blocks(title="Annotation", analytics_enabled=False) as app:
        gr.Markdown("# Annotation\nEnter your annotator id and press *Start or continue*. Your labels are saved "
                    "as you go: you can close or reload the page and continue later.")
        with gr.Row():
            annotator = gr.Textbox(label="Annotator id", elem_id="annotator", scale=3)
            start = gr.Button("Start or continue", elem_id="start", scale=1)
        progress = gr.Markdown(elem_id="progress")
        how = gr.Markdown(elem_id="how")
        item = gr.Markdown(elem_id="item")
        choice = gr.Radio(choices=[], label="Your label", elem_id="choice", visible=False)
        send = gr.Button("Submit label", elem_id="submit", variant="primary", visible=False)
        current = gr.State(None)
        outputs = [progress, how, item, choice, current, send]
        start.click(show, inputs=[annotator], outputs=outputs)
        annotator.submit(show, inputs=[annotator], outputs=outputs)
        send.click(submit, inputs=[annotator, current, choice], outputs=outputs)
        app.load(load, outputs=[annotator, *outputs])
    return app


def serve(database: str | os.PathLike, host: str = "127.0.0.1", port: int | None = None, block: bool = True):
    """Serve the page for ``database``; returns the running app (with ``block=False``) and its URL."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if not Path(database).is_file():
        from lima_hf.errors import InputError

        raise InputError(f"{database}: no annotation database; add items with `lima-hf evaluate PROTOCOL "
                         f"--judge people --database {database} ...`")
    app = build_app(database)
    _, url, _ = app.launch(server_name=host, server_port=port, prevent_thread_lock=not block, quiet=not block,
                           footer_links=[], inbrowser=False)
    return app, url

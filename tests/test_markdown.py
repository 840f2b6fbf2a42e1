"""HTML to Markdown in LIMA's response style, including a check against the released LIMA data."""

import json
import re
from difflib import SequenceMatcher

import pytest

from lima_hf.data.filters import has_html_leftovers
from lima_hf.data.markdown import html_to_markdown


def test_links_become_their_text_and_images_disappear():
    html = '<p>See <a href="https://example.org/x">the <b>manual</b></a> <img src="a.png" alt="diagram"> now.</p>'
    assert html_to_markdown(html) == "See the manual now."


def test_script_and_style_content_never_leaks():
    html = "<p>Before</p><script>alert('x')</script><style>p { color: red }</style><p>After<script>var a=1;</script></p>"
    text = html_to_markdown(html)
    assert text == "Before\n\nAfter"
    assert "alert" not in text and "color" not in text


def test_code_blocks_become_fenced_and_keep_their_text_verbatim():
    html = "<p>Run:</p>\n<pre><code>for i in range(3):\n    print(i &lt; 2 &amp;&amp; True)\n</code></pre>\n<p>Done.</p>"
    assert html_to_markdown(html) == "Run:\n\n```\nfor i in range(3):\n    print(i < 2 && True)\n```\n\nDone."


def test_fence_is_longer_than_backticks_inside_the_code():
    assert html_to_markdown("<pre>a ``` b</pre>") == "````\na ``` b\n````"


def test_inline_code_becomes_a_backtick_span():
    assert html_to_markdown("<p>Use <code>ls -l</code> or <code>a`b</code>.</p>") == "Use `ls -l` or `` a`b ``."


def test_lists_stay_lists():
    html = ("<ul><li>one</li><li><p>two</p><ul><li>nested</li></ul></li></ul>"
            '<ol start="3"><li>three</li><li>four</li></ol>')
    assert html_to_markdown(html) == "* one\n* two\n  * nested\n\n3. three\n4. four"


def test_entities_are_unescaped_and_other_tags_dropped():
    html = "<p><strong>Bold</strong> &amp; <em>italic</em> &lt;tag&gt; &quot;q&quot; caf&eacute; 5&nbsp;kg x<sub>2</sub></p>"
    assert html_to_markdown(html) == 'Bold & italic <tag> "q" café 5\xa0kg x2'


def test_headings_blockquotes_and_breaks():
    html = "<h2>Title <em>here</em></h2><blockquote><p>quoted<br>line</p></blockquote><hr><p>end</p>"
    assert html_to_markdown(html) == "## Title here\n\n> quoted\n> line\n\nend"


def test_whitespace_is_collapsed_outside_code():
    assert html_to_markdown("<p>a\n   b\t\tc</p>\n\n\n<p>  d  </p>") == "a b c\n\nd"


def test_empty_and_broken_html():
    assert html_to_markdown("") == ""
    assert html_to_markdown("   ") == ""
    assert html_to_markdown("<p>unclosed <b>bold") == "unclosed bold"
    assert html_to_markdown("plain text") == "plain text"


def test_text_written_straight_into_a_list_is_kept():
    assert html_to_markdown("<ol>\nData from a book.</ol>") == "Data from a book."


def test_tables_become_gfm_tables_with_header_and_separator():
    html = "<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>"
    assert html_to_markdown(html) == "| a | b |\n| --- | --- |\n| 1 | 2 |"
    # no <th>: the first row is the header; short rows are padded; a | in a cell is escaped
    html = "<table><tbody><tr><td>x</td><td>y|z</td><td>w</td></tr><tr><td><code>c</code></td></tr></tbody></table>"
    assert html_to_markdown(html) == "| x | y\\|z | w |\n| --- | --- | --- |\n| `c` | | |"


def test_superscripts_stay_apart_from_the_word():
    html = "<p>algorithms<sup>1</sup>, x<sup>2</sup>, e<sup>i pi</sup>, note<sup>[3]</sup>, the 19<sup>th</sup> century</p>"
    assert html_to_markdown(html) == "algorithms^1, x^2, e^(i pi), note[3], the 19th century"
    # a citation link set as a superscript goes with the link; a linked footnote number stays
    html = '<p>Feynman<sup><a href="https://x.org/p">study</a></sup> and Deutsch<sup><a href="#fn1">1</a></sup>.</p>'
    assert html_to_markdown(html) == "Feynman and Deutsch^1."
    # small print (a footnote's own text set in <sup>) stays plain text
    assert html_to_markdown("<p><sup>1 Here, algorithms that run in polynomial time.</sup></p>") == (
        "1 Here, algorithms that run in polynomial time.")


def test_a_link_whose_text_is_a_url_becomes_its_host():
    html = ('<p>See <a href="https://www.arxiv.org/abs/1">https://www.arxiv.org/abs/1</a>, '
            '<a href="http://x.org">www.python.org/doc</a> and <a href="https://y.org">the docs</a>.</p>')
    assert html_to_markdown(html) == "See arxiv.org, python.org and the docs."


def test_text_that_markdown_would_read_as_syntax_is_escaped():
    html = "<p>* not a list</p><p># not a heading<br>- nor this<br>1. numbered<br>---</p><p>> nor a quote</p>"
    assert html_to_markdown(html) == "\\* not a list\n\n\\# not a heading\n\\- nor this\n1. numbered\n\\---\n\n\\> nor a quote"
    # what the converter writes itself is untouched: lists, headings, quotes, code
    html = "<ul><li>* starred item</li></ul><h2>Title</h2><blockquote><p>q</p></blockquote><pre>* code</pre><p>a * b</p>"
    assert html_to_markdown(html) == "* \\* starred item\n\n## Title\n\n> q\n\n```\n* code\n```\n\na * b"


def _real_answers(shared_data):
    from lima_hf.data.sources.stackexchange.dump import locate, open_member
    from lima_hf.data.sources.stackexchange.rows import iter_rows, parse_row

    answers = {}
    dump = shared_data / "stackexchange"
    for site in ("quantumcomputing.stackexchange.com", "beer.stackexchange.com", "bicycles.meta.stackexchange.com"):
        with open_member(locate(dump, site, "Posts.xml"), "py7zr") as stream:
            for _, row in iter_rows(stream, site):
                values = parse_row(row, site)
                if values.get("PostTypeId") == "2":
                    answers[(site, int(values["Id"]))] = values["Body"]
    return answers


@pytest.fixture(scope="module")
def real_answers(shared_data):
    return _real_answers(shared_data)


@pytest.fixture(scope="module")
def lima_stackexchange(shared_data):
    with open(shared_data / "lima" / "train.jsonl", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    return [row["conversations"][1] for row in rows if row["source"] == "stackexchange"]


def test_real_answer_in_lima_is_reproduced(real_answers, lima_stackexchange):
    """Quantum Computing answer 1810 is one of LIMA's 400 Stack Exchange examples: our conversion of the
    2018 dump's body matches the released response (the only difference is a later edit of one formula)."""
    ours = html_to_markdown(real_answers[("quantumcomputing.stackexchange.com", 1810)])
    theirs = next(text for text in lima_stackexchange if text.startswith("Quantum gate teleportation is"))
    assert ours.split("\n\n")[0] == theirs.split("\n\n")[0]
    assert len(ours.split("\n\n")) == len(theirs.split("\n\n"))
    assert SequenceMatcher(None, ours, theirs, autojunk=False).ratio() > 0.99
    assert "<a " not in ours and "https://en.wikipedia.org" not in ours  # links became their text, as in LIMA


def test_real_posts_convert_to_lima_style(real_answers, lima_stackexchange):
    """On every real answer: no HTML left in the prose, <pre> -> fenced blocks, <ul>/<ol> -> '* '/'1. ' lists:
    the same markers LIMA's released responses use."""
    with_code = with_lists = 0
    for key, body in real_answers.items():
        text = html_to_markdown(body)
        assert not has_html_leftovers(text), (key, text[:300])
        if "<pre" in body:
            with_code += 1
            assert re.search(r"(?m)^[> ]*```", text), key
        if re.search(r"<ul>\s*<li", body):
            with_lists += 1
            assert re.search(r"(?m)^[> ]*\* ", text), key
        if re.search(r"<ol>\s*<li", body):
            assert re.search(r"(?m)^[> ]*\d+\. ", text), key
    assert with_code > 10 and with_lists > 50
    # LIMA's responses use the same constructs: ``` fences, "* " bullets (not "-"), "1. " numbers.
    assert sum("```" in text for text in lima_stackexchange) > 100
    bullets = sum(bool(re.search(r"(?m)^\* ", text)) for text in lima_stackexchange)
    dashes = sum(bool(re.search(r"(?m)^- ", text)) for text in lima_stackexchange)
    assert bullets > 10 * dashes
    assert sum(bool(re.search(r"(?m)^\d+\. ", text)) for text in lima_stackexchange) > 10

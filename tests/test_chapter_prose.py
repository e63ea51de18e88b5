"""The chapters' prose: every glue role parses as a role, and every role has a glued value.

A role inside inline code (```{glue:text}`x` ``` written between backticks) is printed raw in
the HTML — chapter 8 once showed "At profile {glue:text}…" that way — and a role whose key no
cell glues renders as nothing but a build warning.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest
from markdown_it.renderer import RendererHTML
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser

from chromtransfer_lib.book.runner import list_chapters

ROOT = Path(__file__).resolve().parent.parent

#: The book's MyST extensions (``_config.yml``: parse.myst_enable_extensions).
_MD = create_md_parser(
    MdParserConfig(enable_extensions={"colon_fence", "dollarmath", "substitution", "linkify"}),
    RendererHTML,
)


def _inline_tokens(markdown: str):
    for block in _MD.parse(markdown):
        yield from block.children or []


def raw_glue(markdown: str) -> list[str]:
    """Text that contains ``{glue`` but is not a parsed role (code spans, plain text)."""
    return [
        t.content
        for t in _inline_tokens(markdown)
        if t.type != "myst_role" and "{glue" in t.content
    ]


def glue_keys(markdown: str) -> set[str]:
    """Keys of the ``glue:*`` roles in ``markdown`` (without a format spec)."""
    keys = set()
    for t in _inline_tokens(markdown):
        if t.type == "myst_role" and t.meta.get("name", "").startswith("glue"):
            keys.add(t.content.split(":", 1)[0])
    return keys


def test_the_checks_see_a_role_in_backticks() -> None:
    bad = "At profile `{glue:text}`profile_name``, {glue:text}`n:.2f` of them."
    assert raw_glue(bad) == ["{glue:text}"]
    assert glue_keys(bad) == {"n"}
    assert raw_glue("At profile {glue:text}`profile_name`.") == []


@pytest.mark.parametrize("source", list_chapters(ROOT), ids=lambda p: p.stem)
def test_every_glue_role_parses_as_a_role(source: Path) -> None:
    nb = jupytext.read(source)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            assert raw_glue(cell.source) == [], f"{source.name}: a glue role MyST prints raw"


def _glued(nb) -> set[str]:
    names = set()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                names.add(name)
    return names


def missing_glue(executed: Path) -> set[str]:
    """Role keys of an executed chapter that none of its cells glued."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    roles = set().union(*(glue_keys(c.source) for c in nb.cells if c.cell_type == "markdown"))
    return {k for k in roles - _glued(nb) if "::" not in k}


def test_missing_glue_is_found(tmp_path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("{glue:text}`a:.2f` and {glue:text}`b`")]
    code = nbformat.v4.new_code_cell("glue('a', 1.0)")
    code.outputs = [
        nbformat.v4.new_output(
            "display_data", data={"text/plain": "1.0"}, metadata={"scrapbook": {"name": "a"}}
        )
    ]
    nb.cells.append(code)
    nbformat.write(nb, tmp_path / "x.ipynb")
    assert missing_glue(tmp_path / "x.ipynb") == {"b"}

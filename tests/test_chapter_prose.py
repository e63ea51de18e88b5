"""The chapters' prose: every glue role parses as a role, and every role has a glued value; every
chapter opens with objectives, what it needs and its measured time, and carries exercises.

A role inside inline code (```{glue:text}`x` ``` written between backticks) is printed raw in
the HTML — chapter 9 (then 8) once showed "At profile {glue:text}…" that way — and a role
whose key no cell glues renders as nothing but a build warning. Roles inside directives (objectives,
exercises, solutions) are checked too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

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


class Directive(NamedTuple):
    """A MyST directive of a markdown cell: ``name``, its argument, ``:key: value`` options and
    its body."""

    name: str
    argument: str
    options: dict[str, str]
    body: str


_OPTION = re.compile(r"^:([\w-]+):\s*(.*)$")


def directives(markdown: str) -> list[Directive]:
    """The directives (backtick or colon fences named ``{name}``) of ``markdown``, outermost."""
    out = []
    for block in _MD.parse(markdown):
        m = re.match(r"^\{([\w:-]+)\}\s*(.*)$", block.info or "")
        if block.type not in ("fence", "colon_fence") or not m:
            continue
        lines, options = block.content.splitlines(), {}
        while lines and (opt := _OPTION.match(lines[0])):
            options[opt.group(1)] = opt.group(2).strip()
            lines.pop(0)
        out.append(Directive(m.group(1), m.group(2).strip(), options, "\n".join(lines)))
    return out


def _inline_tokens(markdown: str):
    for block in _MD.parse(markdown):
        yield from block.children or []
    for d in directives(markdown):  # MyST content of admonitions, exercises, solutions
        if d.name != "code-cell":
            yield from _inline_tokens(d.body)


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


def test_directives_are_read_with_their_options_and_roles() -> None:
    text = (
        "::::{exercise} Twice\n:label: ex-a\n\nDo {glue:text}`k` with `f(x)`.\n\n"
        "```python\nf(x)\n```\n::::\n\n"
        "::::{solution} ex-a\n:class: dropdown\n\nIt is {glue:text}`v:.2f`, not `{glue:text}`w``.\n"
        "::::\n"
    )
    found = directives(text)
    assert [(d.name, d.argument, d.options) for d in found] == [
        ("exercise", "Twice", {"label": "ex-a"}),
        ("solution", "ex-a", {"class": "dropdown"}),
    ]
    assert glue_keys(text) == {"k", "v"}
    assert raw_glue(text) == ["{glue:text}"]


CHAPTERS = list_chapters(ROOT)


def _markdown(source: Path) -> list[str]:
    return [c.source for c in jupytext.read(source).cells if c.cell_type == "markdown"]


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_opens_with_objectives_needs_and_its_measured_time(source: Path) -> None:
    """The first cell: a title, 3-5 learning objectives (an ``objectives`` admonition), a
    **Needs:** … **Writes:** … paragraph, and a **Time:** paragraph whose numbers are glued."""
    first = _markdown(source)[0]
    assert first.startswith("# "), f"{source.name}: the first cell is not the title"
    boxes = [d for d in directives(first) if d.options.get("class") == "objectives"]
    assert [d.name for d in boxes] == ["admonition"], f"{source.name}: no objectives block"
    bullets = [ln for ln in boxes[0].body.splitlines() if ln.startswith("* ")]
    assert 3 <= len(bullets) <= 5, f"{source.name}: {len(bullets)} objectives"
    paragraphs = first.split("\n\n")
    needs = [p for p in paragraphs if p.startswith("**Needs:**")]
    assert len(needs) == 1 and "**Writes:**" in needs[0], f"{source.name}: Needs/Writes"
    time = [p for p in paragraphs if p.startswith("**Time:**")]
    assert len(time) == 1, f"{source.name}: no **Time:** paragraph"
    assert {"chapter_minutes", "chapter_seconds"} <= glue_keys(time[0]), source.name


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_has_exercises_with_collapsed_solutions(source: Path) -> None:
    """At least two ``exercise`` directives, each labelled, each with one ``solution`` of class
    ``dropdown`` (collapsed until clicked) that names its label."""
    found = [d for md in _markdown(source) for d in directives(md)]
    labels = [d.options.get("label") for d in found if d.name == "exercise"]
    solved = [d.argument for d in found if d.name == "solution"]
    assert len(labels) >= 2 and None not in labels, f"{source.name}: {labels}"
    assert sorted(solved) == sorted(labels), f"{source.name}: solutions {solved} for {labels}"
    for d in found:
        if d.name == "solution":
            assert "dropdown" in d.options.get("class", "").split(), f"{source.name}: {d.argument}"
            assert d.body.strip(), f"{source.name}: empty solution {d.argument}"


def test_exercise_labels_are_unique_across_the_book() -> None:
    labels = [
        d.options.get("label")
        for src in CHAPTERS
        for md in _markdown(src)
        for d in directives(md)
        if d.name == "exercise"
    ]
    assert len(labels) == len(set(labels)), labels


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_the_last_cell_glues_the_chapter_timing(source: Path, tmp_path: Path) -> None:
    """The timing is measured from the set-up cell to the chapter's last cell: that cell glues
    ``stages.chapter_timing(ctx)``, and every ``chapter_*`` key the prose uses is one it
    returns."""
    from chromtransfer_lib.book import stages

    last = jupytext.read(source).cells[-1]
    assert last.cell_type == "code" and "stages.chapter_timing(ctx)" in last.source, source.name
    assert "glue(" in last.source
    defined = set(stages.chapter_timing(stages.RunContext.create("smoke", tmp_path / "run")))
    used = set().union(*(glue_keys(md) for md in _markdown(source)))
    assert {k for k in used if k.startswith("chapter_")} <= defined, source.name

"""What a rendered chapter page must show a learner, checked in the browser.

:func:`.browsercheck.check_site` runs :func:`teaching_problems` on the pages it is given as
chapters, after loading each, and reports what is missing as ``teaching`` findings:

* the learning objectives: a ``.admonition.objectives`` block with 3–5 list items;
* the measured time: a paragraph opening with **Time:** whose glued values (myst-nb's
  ``span.pasted-text``) begin with a number;
* at least two exercises (sphinx-exercise's ``div.exercise``) and a solution for each
  (``div.solution``, one per exercise label);
* every solution hidden until clicked: nothing but its title visible, then, after a click on its
  toggle button (sphinx-togglebutton, which the ``dropdown`` class asks for), its body visible;
* launch buttons (links of the theme's ``.dropdown-launch-buttons`` menu; their ``title`` is
  moved away by Bootstrap's tooltips) pointing at the page's notebook when the book was built
  with a repository (``launch_buttons=True``), and none when it was not (``False``; ``None``
  checks neither).

The page is left with its solutions open, so take screenshots before calling this.
"""

from __future__ import annotations

import re

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

#: The facts of a chapter page the checks read, gathered in one pass.
_FACTS_JS = """() => {
  const objectives = document.querySelector(".admonition.objectives");
  const time = Array.from(document.querySelectorAll("p")).find((p) => {
    const first = p.firstElementChild;
    return first && first.tagName === "STRONG" && first.textContent.trim() === "Time:";
  });
  const solutions = Array.from(document.querySelectorAll("div.solution"));
  return {
    objectives: objectives ? objectives.querySelectorAll("li").length : null,
    time: time ? Array.from(time.querySelectorAll(".pasted-text")).map((s) => s.textContent) : null,
    raw_glue: document.body.innerText.includes("{glue"),
    exercises: Array.from(document.querySelectorAll("div.exercise")).map((e) => e.id),
    solved: solutions.map((s) => {
      const ref = s.querySelector(".admonition-title a[href^='#']");
      return ref ? ref.getAttribute("href").slice(1) : "";
    }),
    launch: Array.from(document.querySelectorAll(".dropdown-launch-buttons a[href]"))
      .map((a) => a.href),
  };
}"""

_NUMBER = re.compile(r"^\s*[+−-]?\d[\d,]*(\.\d+)?")


def _visible_body(page: Page, index: int) -> bool:
    """Whether any part of solution ``index`` other than its title is visible."""
    body = page.locator("div.solution").nth(index).locator(":scope > :not(.admonition-title)")
    return any(body.nth(i).is_visible() for i in range(body.count()))


def _solution_problems(page: Page, count: int, *, timeout_ms: int) -> list[str]:
    problems = []
    for i in range(count):
        if _visible_body(page, i):
            problems.append(f"solution {i + 1} is visible before it is clicked")
            continue
        button = page.locator("div.solution").nth(i).locator("button.toggle-button")
        if button.count() == 0:
            problems.append(f"solution {i + 1} has no toggle button: it can never be opened")
            continue
        try:
            button.first.click(timeout=timeout_ms)
            page.wait_for_function(
                """(i) => Array.from(document.querySelectorAll("div.solution")[i].children)
                      .some((c) => !c.classList.contains("admonition-title") &&
                                   c.getClientRects().length > 0)""",
                arg=i,
                timeout=timeout_ms,
            )
        except PlaywrightError as err:
            why = err.message.splitlines()[0]
            problems.append(f"solution {i + 1} did not open on click ({why})")
    return problems


def teaching_problems(
    page: Page, name: str, *, launch_buttons: bool | None, timeout: float = 10.0
) -> list[str]:
    """What chapter page ``name`` (loaded in ``page``) lacks, one sentence each (empty: all
    there). See the module docstring for the checks."""
    facts = page.evaluate(_FACTS_JS)
    problems = []
    n = facts["objectives"]
    if n is None:
        problems.append("no learning objectives (.admonition.objectives)")
    elif not 3 <= n <= 5:
        problems.append(f"{n} learning objectives (want 3–5)")
    if facts["time"] is None:
        problems.append("no 'Time:' paragraph")
    elif not facts["time"] or not _NUMBER.match(facts["time"][0]):
        problems.append(f"the 'Time:' paragraph shows no measured number: {facts['time']}")
    if facts["raw_glue"]:
        problems.append("a glue role is printed raw ('{glue' in the text)")
    exercises, solved = facts["exercises"], facts["solved"]
    if len(exercises) < 2:
        problems.append(f"{len(exercises)} exercise(s) (want at least 2)")
    if missing := [e for e in exercises if e not in solved]:
        problems.append(f"exercise(s) without a solution: {', '.join(missing)}")
    problems += _solution_problems(page, len(solved), timeout_ms=int(timeout * 1000))
    notebook = name.removesuffix(".html") + ".ipynb"
    if launch_buttons and not any(notebook in href for href in facts["launch"]):
        problems.append(f"no launch button opening {notebook} (found {facts['launch']})")
    if launch_buttons is False and facts["launch"]:
        problems.append(f"launch buttons without a repository: {facts['launch']}")
    return problems

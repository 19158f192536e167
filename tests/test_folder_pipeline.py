"""The folder sink's stages: one ordered list, carried out in that order."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

from cellucid.sinks.folder.pipeline import Pipeline, Stage
from cellucid.sinks.folder.sections import folder_pipeline
from cellucid.sinks.folder.sections import genes as gene_section


def _names(stages):
    return [s.name for s in stages]


def test_the_folder_stages_in_order():
    pipeline = folder_pipeline()
    assert _names(pipeline.beside()) == ["connectivity"]
    assert _names(pipeline.main()) == [
        "points",
        "vectors",
        "obs",
        "genes",
        "genes",
        "manifests",
        "identity",
    ]
    runs = [s.run for s in pipeline.main() if s.name == "genes"]
    assert runs == [gene_section.plan_gene_fields, gene_section.write_gene_files]


def test_an_early_view_writes_the_gene_files_last():
    main = folder_pipeline().main(early_view=True)
    assert _names(main) == ["points", "vectors", "obs", "genes", "manifests", "identity", "genes"]
    assert main[-1].run is gene_section.write_gene_files


class _Context:
    def __init__(self):
        self.timings: dict[str, float] = {}
        self.progress = False
        self.calls: list[str] = []

    @contextmanager
    def phase(self, name):
        yield
        self.timings[name] = self.timings.get(name, 0.0) + 1


def test_run_waits_for_the_beside_stages_where_asked():
    release = threading.Event()

    def slow(ctx):
        release.wait(5)
        time.sleep(0.05)
        ctx.calls.append("beside")

    def step(label):
        def run(ctx):
            ctx.calls.append(label)
            if label == "b":
                release.set()

        return run

    pipeline = Pipeline(
        (
            Stage("beside", slow, beside=True),
            Stage("a", step("a")),
            Stage("b", step("b")),
            Stage("c", step("c"), after_view=True),
            Stage("d", step("d"), waits_beside=True),
            Stage("a", step("e")),
        )
    )
    context = _Context()
    pipeline.run(context)
    assert context.calls == ["a", "b", "c", "beside", "d", "e"]
    assert context.timings == {"beside": 1, "a": 2, "b": 1, "c": 1, "d": 1}
    release.clear()
    context = _Context()
    pipeline.run(context, early_view=True)
    assert context.calls == ["a", "b", "beside", "d", "e", "c"]


def test_beside_stages_speak_in_the_callers_terms_and_draw_no_bar():
    from cellucid.progress import make_bar
    from cellucid.report import cli_terms, in_callers_terms

    seen = {}

    def beside(ctx):
        seen["words"] = in_callers_terms("use force=True")
        with make_bar(3, "connectivity: edges", " blocks", True) as bar:
            seen["draws"] = hasattr(bar, "drawn")

    context = _Context()
    with cli_terms():
        Pipeline((Stage("beside", beside, beside=True),)).run(context)
    assert seen == {"words": "use --force", "draws": False}

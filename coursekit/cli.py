"""The ``coursekit`` command: build, release, export, grade, data, bench."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .errors import DataError


def _units(values) -> list[str] | None:
    if not values:
        return None
    return [f"{int(v):02d}" for v in values]


# --------------------------------------------------------------------------- build

def cmd_build(args) -> int:
    from .build import build
    from .notebooks import parse_parameter

    parameters = dict(parse_parameter(p) for p in args.parameter or [])
    result = build(
        solutions=Path(args.solutions), out=Path(args.out), units=_units(args.unit),
        timeout=args.timeout, save=args.save, parameters=parameters,
    )
    failed = [r for r in result if not r["ok"]]  # build printed one line per notebook
    print(f"HTML in {Path(args.out) / 'html'}")
    return 1 if failed else 0


# --------------------------------------------------------------------------- release

def cmd_release(args) -> int:
    from .grading.release import ReleaseError, release

    try:
        result = release(args.solutions, args.notebooks, check=args.check, only=_units(args.unit))
    except ReleaseError as exc:
        print(f"coursekit release: error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if result.out_of_sync:
            for p in result.out_of_sync:
                print(f"out of sync: {p}")
            print("run `coursekit release` to regenerate the student notebooks")
            return 1
        print("student notebooks are in sync with the solutions")
        return 0
    for p in result.written:
        print(f"wrote {p}")
    for p in result.out_of_sync:
        print(f"warning: {p} has no solution notebook")
    if not result.written:
        print("student notebooks already up to date")
    return 0


# --------------------------------------------------------------------------- export / grade

def cmd_export(args) -> int:
    from .grading.export import export_notebook, questions_at_template

    out = export_notebook(args.notebook, args.output, execute=not args.no_execute, timeout=args.timeout)
    print(f"wrote {out}")
    import nbformat

    left = questions_at_template(nbformat.read(args.notebook, as_version=4))
    if left:
        print(f"note: {len(left)} written question(s) still show the answer template: {', '.join(left)}")
    return 0


def cmd_grade(args) -> int:
    from .grading.grade import GradingInterrupted, grade_folder

    bar = {"auto": sys.stderr.isatty(), "on": True, "off": False}[args.progress]
    try:
        result = grade_folder(
            args.submissions, args.output, unit=args.unit, jobs=args.jobs, timeout=args.timeout,
            memory_mb=args.memory_mb, solutions=args.solutions, written=args.written, overrides=args.overrides,
            sandbox=not args.no_sandbox, disk_mb=args.disk_mb, force=args.force, scheduler=args.scheduler, bar=bar,
        )
    except GradingInterrupted as exc:
        print(f"coursekit grade: {exc}; every kernel was stopped. Run the same command again to grade the rest.",
              file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(130)  # worker threads may still be waiting on kernels that are gone: do not wait for them
    print(f"wrote {result.csv}")
    if result.not_graded:
        print(f"coursekit grade: {len(result.not_graded)} submission(s) NOT GRADED (the grader could not run them; "
              f"see the notes in grades.csv): {', '.join(result.not_graded)}. Run the same command again to retry "
              "them.", file=sys.stderr)
        return 3
    return 0


# --------------------------------------------------------------------------- data

def cmd_data(args) -> int:
    from . import datasets as ds

    if args.action == "list":
        home = ds.get_data_home()
        print(f"data home: {home}  (set COURSEKIT_DATA to change it)")
        for spec in ds.list_datasets():
            status = spec.status(home / spec.name)  # "present", "missing" or "present (<layout>)"
            how = "download" if spec.downloadable else "manual"
            print(f"  {spec.name:10s} unit {spec.unit}  {status:8s} ({how})  {spec.title}")
        return 0
    if args.action == "embed":
        return cmd_data_embed(args)
    if not args.name:
        raise DataError(f"`coursekit data {args.action}` needs a data set name",
                        fix="see `coursekit data list`")
    ds.get_spec(args.name)
    if args.action == "fetch":
        print(ds.fetch(args.name))
    elif args.action == "path":
        print(ds.dataset_path(args.name, args.source, seed=args.seed))
    elif args.action == "toy":
        print(ds.toy_path(args.name, seed=args.seed))
    elif args.action == "verify":
        results = ds.verify(args.name)
        if not results:
            print("nothing to verify (no files present with a known checksum)")
        for name, ok in results.items():
            print(f"{'ok' if ok else 'MISMATCH'}  {name}")
        return 0 if all(results.values()) else 1
    elif args.action == "convert":
        from importlib import import_module

        convert = getattr(import_module(f"coursekit.datasets.{args.name}"), "convert", None)
        if convert is None:
            raise DataError(f"data set {args.name!r} has nothing to convert")
        written = convert(ds.get_data_home() / args.name, allow_pickle=args.allow_pickle)
        for p in written if isinstance(written, list) else [written]:
            print(f"wrote {p}")
    return 0


def cmd_data_embed(args) -> int:
    """``coursekit data embed IMAGES_DIR --out DIR``: CNN features of a folder of images (unit-1 layout)."""
    from .embeddings import MODELS, model_name, write_image_assets

    if not args.name or not args.out:
        raise DataError("`coursekit data embed` needs a folder of images and --out DIR",
                        fix="coursekit data embed IMAGES_DIR --out DIR [--model resnet50 vgg19] [--weights none]")
    try:
        models = [model_name(m) for m in args.model]
    except ValueError:
        raise DataError(f"unknown model in --model {' '.join(args.model)}", fix=f"choose from {', '.join(MODELS)}") from None
    if args.size < 32 or args.batch_size < 1:
        raise DataError("--size must be at least 32 and --batch-size at least 1")
    summary = write_image_assets(
        args.name, args.out, models=models, weights=args.weights, size=args.size, vgg_layer=args.vgg_layer,
        skip_bad=args.skip_bad, batch_size=args.batch_size, seed=args.seed, progress=not args.no_progress,
    )
    for path in summary["written"]:
        print(f"wrote {path}")
    print(f"{summary['n']} images; artwork ids: {summary['ids']}. Unit 1 also needs past_transactions.json "
          f"and ground_truth.json ({{user id: [artwork id, ...]}}) in {args.out}")
    return 0


# --------------------------------------------------------------------------- bench

def cmd_bench(args) -> int:
    from . import bench

    units = list(bench.UNITS)
    if args.unit:
        units = []
        for u in args.unit:
            name = u if u in ("notebooks", "grading") else f"u{u.lower().lstrip('u').lstrip('0')}"
            if name not in bench.UNITS:
                raise SystemExit(f"coursekit bench: unknown unit {u!r}; choose from 1..5 (or u1..u5), notebooks "
                                 "and grading")
            units.append(name)
    rows = bench.run(units, quick=args.quick)
    table = bench.format_table(rows)
    print(table)
    if args.json:
        Path(args.json).write_text(json.dumps([r.as_dict() for r in rows], indent=2))
    if args.markdown:
        from .bench.report import write_markdown

        write_markdown(rows, args.markdown, quick=args.quick)
    return 0


# --------------------------------------------------------------------------- results

def cmd_results(args) -> int:
    from .notebooks import parse_parameter
    from .results import run_results

    parameters = dict(parse_parameter(p) for p in args.parameter or [])
    path, problems = run_results(args.unit, parameters, solutions=args.solutions, results_dir=args.out,
                                 check=args.check, timeout=args.timeout)
    if args.check:
        if problems:
            print(f"{path}: {len(problems)} figure(s) or claim(s) moved beyond tolerance:")
            for line in problems:
                print(f"  {line}")
            return 1
        print(f"{path}: every figure within tolerance, every claim as before")
        return 0
    print(f"wrote {path}")
    return 0


# --------------------------------------------------------------------------- main

def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="coursekit",
        description="Course kit for recommender systems: build, release, export, grade, data, results, bench.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    b = sub.add_parser("build", help="execute the solution notebooks on toy data and export HTML",
                       description="Execute every solution notebook in a fresh kernel and write "
                                   "self-contained HTML and an index under OUT/html.")
    b.add_argument("--unit", nargs="*", metavar="NN", help="only these units (e.g. 01 03)")
    b.add_argument("--solutions", default="solutions", help="folder of solution notebooks")
    b.add_argument("--out", default="build", help="output folder (default: build)")
    b.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    b.add_argument("--save", action="store_true", help="also write the executed notebooks back to --solutions")
    b.add_argument("-p", "--parameter", action="append", metavar="NAME=VALUE",
                   help="override a name of the notebooks' parameters cell, papermill-style "
                        "(e.g. -p DATA_SOURCE=real -p SEED=1); VALUE is a Python literal or a plain "
                        "string; several allowed")
    b.set_defaults(func=cmd_build)

    r = sub.add_parser("release", help="build student notebooks from solutions",
                       description="Turn solution regions into '# YOUR CODE HERE', drop hidden tests, "
                                   "clear outputs, write notebooks/.")
    r.add_argument("--solutions", default="solutions")
    r.add_argument("--notebooks", default="notebooks")
    r.add_argument("--check", action="store_true", help="write nothing; exit 1 when out of sync")
    r.add_argument("--unit", nargs="*", metavar="NN", help="only these units (e.g. 02)")
    r.set_defaults(func=cmd_release)

    e = sub.add_parser("export", help="export a notebook to HTML with a check summary on top",
                       description="Execute a notebook (or use its stored outputs), run its checks and "
                                   "write one HTML file whose top is a summary of every exercise.")
    e.add_argument("notebook")
    e.add_argument("-o", "--output", help="HTML file (default: next to the notebook)")
    e.add_argument("--no-execute", action="store_true", help="use the stored outputs")
    e.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    e.set_defaults(func=cmd_export)

    g = sub.add_parser("grade", help="grade a folder of submitted notebooks or exported HTML",
                       description="Run each submission (.ipynb, or the .html `coursekit export` wrote) once, in a "
                                   "bubblewrap sandbox with the hidden tests: the same run gives its points and its "
                                   "feedback. Every graded submission is kept in OUT/store: running again grades "
                                   "only what is new or changed, and a stopped batch resumes. Writes grades.csv "
                                   "(points per exercise, partial credit), written.csv and one page per written "
                                   "question, and one feedback HTML per student. Exit status 2: nothing could be "
                                   "graded (a test kernel did not start); 3: some submissions were not graded "
                                   "(named on stderr); 130: interrupted (what was graded is kept).")
    g.add_argument("submissions")
    g.add_argument("-o", "--output", default="graded", help="output folder (default: graded)")
    g.add_argument("--unit", help="unit number NN (default: from the file names)")
    g.add_argument("--jobs", type=int, default=1, help="kernels (submissions) run at a time on this machine")
    g.add_argument("--timeout", type=int, default=300, help="seconds for a submission's whole run (default 300)")
    g.add_argument("--memory-mb", type=int, default=4096,
                   help="resident memory per submission's kernel, MB (default 4096); above it the kernel is stopped")
    g.add_argument("--disk-mb", type=int, default=2048,
                   help="bytes a kernel may write in its private folder, MB (default 2048)")
    g.add_argument("--solutions", default="solutions", help="folder of solution notebooks")
    g.add_argument("--no-sandbox", action="store_true",
                   help="run submissions without bubblewrap (macOS, Windows): they can then read and change "
                        "your files, see your environment and use the network; a warning says so")
    g.add_argument("--written", metavar="FILLED.csv",
                   help="the written.csv of an earlier run with the points (and comments) filled in: adds a column "
                        "per question, `written` and a total over code and written points to grades.csv; starts "
                        "no kernel for submissions already graded")
    g.add_argument("--overrides", metavar="FILE.csv",
                   help="scores set by hand: a CSV with columns student, exercise, points, comment; each replaces "
                        "the automatic score, with the comment in the feedback and in grades.csv's notes")
    g.add_argument("--force", action="store_true", help="grade everything again, ignoring OUT/store")
    g.add_argument("--scheduler", metavar="tcp://HOST:8786",
                   help="grade on a Dask cluster: each submission is a task on a worker (workers need bubblewrap "
                        "and this same environment; checked before any work is sent)")
    g.add_argument("--progress", choices=("auto", "on", "off"), default="auto",
                   help="progress bar on stderr (default: when stderr is a terminal)")
    g.set_defaults(func=cmd_grade)

    d = sub.add_parser("data", help="list, fetch, verify and generate data sets; embed a folder of images",
                       description="Data sets live under COURSEKIT_DATA (or a per-user cache). "
                                   "`coursekit data embed IMAGES_DIR --out DIR` writes CNN features of a "
                                   "folder of images in the unit-1 layout (<model>_feature_matrix.npy, "
                                   "index2artworkId.json, artworkImageUrlsCache.json).")
    d.add_argument("action", choices=["list", "fetch", "path", "toy", "verify", "convert", "embed"])
    d.add_argument("name", nargs="?", help="data set name (see `coursekit data list`); with embed: the images folder")
    d.add_argument("--source", default="toy", choices=["toy", "real"])
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--allow-pickle", action="store_true",
                   help="with convert: read pickle files (only for files you trust)")
    em = d.add_argument_group("embed", "options of `coursekit data embed IMAGES_DIR --out DIR`")
    em.add_argument("--out", metavar="DIR", help="folder for the feature matrices and the id and image lists")
    em.add_argument("--model", nargs="+", default=["resnet50", "vgg19"], metavar="NAME",
                    help="resnet50, vgg19, mobilenet_v3_small, efficientnet_b0 (default: resnet50 vgg19)")
    em.add_argument("--weights", default="imagenet", metavar="none|imagenet|PATH",
                    help="imagenet (Keras cache ~/.keras/models or $KERAS_HOME; downloaded when online), "
                         "none (random, from --seed) or a weights file (default: imagenet)")
    em.add_argument("--size", type=int, default=224, metavar="N", help="images resized to N x N (default 224)")
    em.add_argument("--vgg-layer", choices=["fc2", "avg"], default="fc2",
                    help="VGG19 features: fc2 (4096-d at 224 px, like the course files; default) or avg (512-d)")
    em.add_argument("--skip-bad", action="store_true",
                    help="leave unreadable images out (default: list them and write nothing)")
    em.add_argument("--batch-size", type=int, default=32, metavar="N", help="images per forward pass (default 32)")
    em.add_argument("--no-progress", action="store_true", help="no progress bar")
    d.set_defaults(func=cmd_data)

    rs = sub.add_parser("results", help="run a unit on a data set and write (or check) its results page",
                        description="Execute one unit with the given parameters and write docs/results/NN-<data>.md: "
                                    "every recorded figure with its tolerance and every claim with its verdict. "
                                    "Model answers quote these figures through {{data::name}} placeholders.")
    rs.add_argument("--unit", required=True, metavar="NN", help="the unit (e.g. 04)")
    rs.add_argument("-p", "--parameter", action="append", metavar="NAME=VALUE",
                    help="override a name of the parameters cell (e.g. -p DATA_SOURCE=lastfm); the page is named "
                         "after DATA_SOURCE")
    rs.add_argument("--solutions", default="solutions", help="folder of solution notebooks")
    rs.add_argument("--out", default=None, help="folder of results pages (default: docs/results beside --solutions)")
    rs.add_argument("--check", action="store_true",
                    help="compare a new run with the page instead of writing it; exit 1 when anything moved")
    rs.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    rs.set_defaults(func=cmd_results)

    bn = sub.add_parser("bench", help="time the kit's hot paths beside naive references",
                        description="Run every hot path beside a seed-style reference and print a table.")
    bn.add_argument("--quick", action="store_true", help="smaller sizes (under 2 minutes)")
    bn.add_argument("--unit", nargs="*", metavar="N",
                    help="only these units: 1..5 (or u1..u5, 01..05), notebooks (wall time of each solution notebook) "
                         "and grading (cost per submission, --jobs 1/2 and Dask, against a plain run)")
    bn.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    bn.add_argument("--markdown", metavar="FILE", help="also write a Markdown report (docs/benchmarks.md)")
    bn.set_defaults(func=cmd_bench)
    return p


def main(argv=None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DataError as exc:
        print(f"coursekit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("coursekit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

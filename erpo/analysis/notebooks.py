"""Execute the notebooks against a log directory (tests and CI use this; so can you).

python -m erpo.analysis.notebooks outputs/logs --out outputs/notebooks
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = ("training_dynamics.ipynb", "variant_comparison.ipynb", "schedule_study.ipynb")


def execute_all(
    log_dir: str | Path, out_dir: str | Path, eval_dir: str | Path | None = None, timeout: int = 600
) -> list[Path]:
    """Run every notebook with ERPO_LOG_DIR (and ERPO_EVAL_DIR) set; write executed copies to out_dir.

    Raises nbclient's CellExecutionError on the first failing cell.
    """
    import nbformat
    from nbclient import NotebookClient

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ["ERPO_LOG_DIR"] = str(Path(log_dir).resolve())
    if eval_dir is not None:
        os.environ["ERPO_EVAL_DIR"] = str(Path(eval_dir).resolve())
    # inline backend: figures land in the executed notebooks (an inherited MPLBACKEND=Agg would drop them)
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    written = []
    for name in NOTEBOOKS:
        nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
        resources = {"metadata": {"path": str(out_dir)}}
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources=resources).execute()
        path = out_dir / name
        nbformat.write(nb, path)
        written.append(path)
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("log_dir")
    parser.add_argument("--out", default="outputs/notebooks")
    parser.add_argument("--eval-dir")
    args = parser.parse_args(argv)
    for path in execute_all(args.log_dir, args.out, args.eval_dir):
        print(path)


if __name__ == "__main__":
    main()

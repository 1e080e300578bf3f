"""``python -m benchmarks``: every in-process benchmark, one after the other.

The served benchmark (``python -m benchmarks.served``) needs wrk and real servers; pass
``--served`` to run it too.  The scale benchmark (``python -m benchmarks.scale``) creates
10,000 vhosts and takes minutes; pass ``--scale`` to run it too.
"""

from __future__ import annotations

import runpy
import sys

IN_PROCESS = ("benchmarks.config_parse", "benchmarks.matchers", "benchmarks.handler")


def main() -> None:
    modules = list(IN_PROCESS)
    if "--scale" in sys.argv[1:]:
        modules.append("benchmarks.scale")
    if "--served" in sys.argv[1:]:
        modules.append("benchmarks.served")
    for module in modules:
        print(f"\n# {module}\n", flush=True)
        saved = sys.argv
        sys.argv = [module]
        try:
            runpy.run_module(module, run_name="__main__")
        finally:
            sys.argv = saved


if __name__ == "__main__":
    main()

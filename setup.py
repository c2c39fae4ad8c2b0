"""Only the native parts of the build; everything else is in pyproject.toml.

Two extensions, CPython's C API only (gcc and the Python headers build them), each a
faster path beside a Python one that stays the definition:
`connector.indicators._keyscan` finds the search index's keys of a landed object in one
pass (connector/indicators/object_keys.py says why); `connector.ocsf._ocsfmap` maps a
landed object's rows to OCSF Arrow columns (connector/ocsf/native.py says why). Both are
optional: where they cannot be built, the install goes on (setuptools warns) and the
Python paths run, slower. CI and the container image check that they are built.
"""

from setuptools import Extension, setup

FLAGS = ["-std=c11", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]

setup(
    ext_modules=[
        Extension(
            "connector.indicators._keyscan",
            ["connector/indicators/_keyscan.c"],
            depends=[
                f"connector/indicators/_keyscan_{part}.h"
                for part in ("json", "tables", "shapes", "index")
            ]
            + ["connector/_utf8.h"],
            extra_compile_args=FLAGS,
            optional=True,
        ),
        Extension(
            "connector.ocsf._ocsfmap",
            ["connector/ocsf/_ocsfmap.c"],
            depends=[
                f"connector/ocsf/_ocsfmap_{part}.h"
                for part in ("flat", "cols", "rows", "finding", "build", "cache", "order", "out")
            ]
            + ["connector/_utf8.h"],
            extra_compile_args=FLAGS,
            optional=True,
        ),
    ]
)

"""Only the native part of the build; everything else is in pyproject.toml.

`connector.indicators._keyscan` finds the search index's keys of a landed object in one
pass (connector/indicators/object_keys.py says why). CPython's C API only: gcc and the
Python headers build it. It is optional: where it cannot be built, the install goes on
(setuptools warns) and the index is built by the numpy path, slower. CI and the container
image check that it is built.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "connector.indicators._keyscan",
            ["connector/indicators/_keyscan.c"],
            depends=[
                f"connector/indicators/_keyscan_{part}.h"
                for part in ("json", "tables", "shapes", "index")
            ],
            extra_compile_args=["-std=c11", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
            optional=True,
        ),
        Extension(
            "connector.ocsf._ocsfmap",
            ["connector/ocsf/_ocsfmap.c"],
            depends=[f"connector/ocsf/_ocsfmap_{part}.h" for part in ("flat", "cols", "rows", "build")],
            extra_compile_args=["-std=gnu11", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
            optional=True,
        ),
    ]
)

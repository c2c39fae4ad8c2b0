"""The running daemon: `app` wires settings into the parts (store, sink, pipeline, one
`runner` per source, alert rules, metrics; the pipeline and its derived outputs are built
in `pipeline_setup`), `scheduler` polls on intervals and stops within
the grace period, `health` serves /healthz, /readyz and /metrics from `readiness` and
`metrics`.

May import: everything but `cli` and `demo`.
"""

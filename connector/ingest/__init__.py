"""One poll's data flow, fetch -> dedupe -> validate -> enrich -> batch -> write ->
commit: `pipeline` runs it over a log type's pages; `identity` gives each row its id and
dedupe key, `validate` turns a pydantic error into a quarantine reason, `enrich` adds the
`p_*` fields, `batch` and `partition` group rows into objects by time, `writer` uploads
behind the next page, `derived` writes the objects other outputs make from each one.
State changes go through `state.unit.UnitOfWork`.

May import: `sinks`, `state`, `logtypes`, `stream`, `slack`, foundations.
"""

"""OCSF output for Amazon Security Lake and OCSF-native SIEMs, beside the raw NDJSON.

`mapper` turns one landed row into exactly one OCSF 1.1.0 event (`audit` by action
family, `families`; `logs` for access and integration rows; `event` the shared parts),
`parquet` writes one class's events as one Parquet object, and `output` is the derived
output (`connector.ingest.derived`) that writes them in Security Lake's layout under the
data object's unit of work. `docs/ocsf.md` is the mapping table.

May import: `ingest`, `sinks`, `config`, foundations.
"""

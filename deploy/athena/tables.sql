-- Athena tables over the connector's S3 output.
--
-- Replace BUCKET and PREFIX (the [output] bucket and prefix of config.toml), then run each
-- statement in the Athena console or with `aws athena start-query-execution`, in a database
-- of your choice (CREATE DATABASE IF NOT EXISTS slack_security;).
--
-- Layout written by the connector (gzip NDJSON, one row per line):
--   s3://BUCKET/PREFIX/Slack.AuditLogs/year=2026/month=3/day=7/hour=9/{name}.json.gz   (event hour)
--   s3://BUCKET/PREFIX/Slack.AccessLogs/year=2026/month=3/day=7/{name}.json.gz         (event day)
--   s3://BUCKET/PREFIX/Slack.IntegrationLogs/year=2026/month=3/day=7/{name}.json.gz    (event day)
--   s3://BUCKET/PREFIX/_quarantine/{log type}/year=.../hour=9/{name}.json.gz            (processing hour)
-- These are the default granularities ([output] partitions in config.toml changes them; a
-- table then needs the matching PARTITIONED BY and template). Partition values are
-- integers without leading zeros, declared `int` here, so every engine reads them as one
-- type (DuckDB read `hour=03` as text and `hour=13` as a number). Versions before 0.2 wrote
-- zero-padded hourly folders for every log type; keep a table per layout if you have both.
-- Partition projection computes partitions from the WHERE clause, so there is no
-- MSCK REPAIR / crawler to run. Always filter on year/month/day(/hour) to bound the scan.
--
-- Columns come from schemas/*.yml (top-level fields; nested objects as struct<...>) plus the
-- standard p_* fields the connector adds to every row:
--   * timestamps (timeFormat: unix) are bigint seconds, except integration `date`, which
--     Slack sends as a string ("1392163200"): from_unixtime(CAST("date" AS bigint));
--   * `details` (type json) is string, the JSON text: json_extract_scalar(details, '$.x');
--   * p_event_time / p_parse_time are RFC 3339 UTC strings: from_iso8601_timestamp(p_event_time);
--   * p_any_* are array<string> and absent (NULL) when empty.
-- Fields Slack sends beyond the schemas (seen in live data: context.session_id, which is a
-- number or a string, entity.app.is_workflow_app, entity.huddle, context.acting_agent,
-- `asn` on access rows, ...) are declared too; those whose shape Slack has not documented
-- (context.acting_agent, entity.workflow_v2, entity.list, asn) are string columns, which
-- the SerDe fills with the JSON text of an object or the digits of a number:
-- json_extract_scalar(context.acting_agent, '$.id'). tests/test_athena_ddl.py lands the
-- conformance corpus and the fake Slack's drift records and checks every field of every
-- row the pipeline writes against this file. Years from 2013 (Slack's first) are projected.
-- Every identifier is backquoted: several are reserved words in Athena DDL (`date`, `user`,
-- `timestamp`, ...). In queries quote them with double quotes: "date", actor."user".email.
--
-- SerDe: OpenX JSON. 'case.insensitive'='true' (the default) is right here: Athena column and
-- struct field names are always lowercase, and with 'false' a JSON key would have to match them
-- exactly at every nesting level; all Slack keys are lowercase anyway, so nothing is merged.
-- 'ignore.malformed.json'='true' turns an unreadable line into NULLs instead of failing the query.


-- Slack.AuditLogs: Audit Logs API (Enterprise Grid).
CREATE EXTERNAL TABLE IF NOT EXISTS `slack_audit_logs` (
  `id` string,
  `date_create` bigint,
  `action` string,
  `actor` struct<
    `type`:string,
    `user`:struct<`id`:string, `name`:string, `email`:string, `team`:string,
                  `account_type`:string>>,
  `entity` struct<
    `type`:string,
    `user`:struct<`id`:string, `name`:string, `email`:string, `team`:string>,
    `channel`:struct<`id`:string, `name`:string, `privacy`:string, `is_shared`:boolean,
                     `is_org_shared`:boolean, `teams_shared_with`:array<string>,
                     `is_salesforce_channel`:boolean>,
    `file`:struct<`id`:string, `name`:string, `title`:string, `filetype`:string>,
    `app`:struct<`id`:string, `name`:string, `is_distributed`:boolean,
                 `is_directory_approved`:boolean, `scopes`:array<string>,
                 `is_workflow_app`:boolean, `bot_scopes`:array<string>>,
    `workspace`:struct<`id`:string, `name`:string, `domain`:string>,
    `enterprise`:struct<`id`:string, `name`:string, `domain`:string>,
    `workflow`:struct<`id`:string, `name`:string>,
    `message`:struct<`team`:string, `channel`:string, `timestamp`:string>,
    `huddle`:struct<`id`:string, `date_start`:bigint, `date_end`:bigint,
                    `participants`:array<string>>,
    `role`:struct<`id`:string, `name`:string, `type`:string>,
    `usergroup`:struct<`id`:string, `name`:string>,
    `workflow_v2`:string,
    `list`:string>,
  `context` struct<
    `ua`:string,
    `ip_address`:string,
    `location`:struct<`type`:string, `id`:string, `domain`:string, `name`:string>,
    `session_id`:string,
    `app`:struct<`id`:string, `name`:string, `creator`:string, `team`:string,
                 `scopes`:array<string>, `scopes_bot`:array<string>>,
    `acting_agent`:string,
    `agent_message`:string>,
  `details` string,
  `p_log_type` string,
  `p_event_time` string,
  `p_parse_time` string,
  `p_row_id` string,
  `p_source_id` string,
  `p_source_label` string,
  `p_any_ip_addresses` array<string>,
  `p_any_emails` array<string>,
  `p_any_usernames` array<string>
)
COMMENT 'Slack.AuditLogs written by slack-connector'
PARTITIONED BY (`year` int, `month` int, `day` int, `hour` int)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES (
  'ignore.malformed.json' = 'true',
  'case.insensitive' = 'true'
)
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://BUCKET/PREFIX/Slack.AuditLogs/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.year.type' = 'integer',
  'projection.year.range' = '2013,2100',
  'projection.month.type' = 'integer',
  'projection.month.range' = '1,12',
  'projection.day.type' = 'integer',
  'projection.day.range' = '1,31',
  'projection.hour.type' = 'integer',
  'projection.hour.range' = '0,23',
  'storage.location.template' = 's3://BUCKET/PREFIX/Slack.AuditLogs/year=${year}/month=${month}/day=${day}/hour=${hour}'
);


-- Slack.AccessLogs: team.accessLogs, one row per new (user, IP, user agent) combination.
CREATE EXTERNAL TABLE IF NOT EXISTS `slack_access_logs` (
  `user_id` string,
  `username` string,
  `date_first` bigint,
  `date_last` bigint,
  `count` bigint,
  `ip` string,
  `user_agent` string,
  `isp` string,
  `country` string,
  `region` string,
  `asn` string,
  `p_log_type` string,
  `p_event_time` string,
  `p_parse_time` string,
  `p_row_id` string,
  `p_source_id` string,
  `p_source_label` string,
  `p_slack_team_id` string,
  `p_any_ip_addresses` array<string>,
  `p_any_emails` array<string>,
  `p_any_usernames` array<string>
)
COMMENT 'Slack.AccessLogs written by slack-connector'
PARTITIONED BY (`year` int, `month` int, `day` int)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES (
  'ignore.malformed.json' = 'true',
  'case.insensitive' = 'true'
)
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://BUCKET/PREFIX/Slack.AccessLogs/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.year.type' = 'integer',
  'projection.year.range' = '2013,2100',
  'projection.month.type' = 'integer',
  'projection.month.range' = '1,12',
  'projection.day.type' = 'integer',
  'projection.day.range' = '1,31',
  'storage.location.template' = 's3://BUCKET/PREFIX/Slack.AccessLogs/year=${year}/month=${month}/day=${day}'
);


-- Slack.IntegrationLogs: team.integrationLogs (apps and integrations added, removed, ...).
CREATE EXTERNAL TABLE IF NOT EXISTS `slack_integration_logs` (
  `user_id` string,
  `user_name` string,
  `service_id` string,
  `service_type` string,
  `app_id` string,
  `app_type` string,
  `date` string,
  `change_type` string,
  `scope` string,
  `channel` string,
  `reason` string,
  `rss_feed` boolean,
  `rss_feed_change_type` string,
  `rss_feed_title` string,
  `rss_feed_url` string,
  `p_log_type` string,
  `p_event_time` string,
  `p_parse_time` string,
  `p_row_id` string,
  `p_source_id` string,
  `p_source_label` string,
  `p_slack_team_id` string,
  `p_any_ip_addresses` array<string>,
  `p_any_emails` array<string>,
  `p_any_usernames` array<string>
)
COMMENT 'Slack.IntegrationLogs written by slack-connector'
PARTITIONED BY (`year` int, `month` int, `day` int)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES (
  'ignore.malformed.json' = 'true',
  'case.insensitive' = 'true'
)
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://BUCKET/PREFIX/Slack.IntegrationLogs/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.year.type' = 'integer',
  'projection.year.range' = '2013,2100',
  'projection.month.type' = 'integer',
  'projection.month.range' = '1,12',
  'projection.day.type' = 'integer',
  'projection.day.range' = '1,31',
  'storage.location.template' = 's3://BUCKET/PREFIX/Slack.IntegrationLogs/year=${year}/month=${month}/day=${day}'
);


-- Quarantine: records of any log type that failed validation, with the reason. `record` is
-- the raw record as JSON text (json_extract_scalar(record, '$.id')). Partitioned by log type
-- and by the hour the connector processed the record (not the event time).
CREATE EXTERNAL TABLE IF NOT EXISTS `slack_quarantine` (
  `p_log_type` string,
  `p_parse_time` string,
  `p_row_id` string,
  `p_source_id` string,
  `p_source_label` string,
  `p_slack_team_id` string,
  `reason` string,
  `record` string
)
COMMENT 'Records slack-connector could not validate'
PARTITIONED BY (`log_type` string, `year` int, `month` int, `day` int, `hour` int)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES (
  'ignore.malformed.json' = 'true',
  'case.insensitive' = 'true'
)
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://BUCKET/PREFIX/_quarantine/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.log_type.type' = 'enum',
  'projection.log_type.values' = 'Slack.AuditLogs,Slack.AccessLogs,Slack.IntegrationLogs',
  'projection.year.type' = 'integer',
  'projection.year.range' = '2013,2100',
  'projection.month.type' = 'integer',
  'projection.month.range' = '1,12',
  'projection.day.type' = 'integer',
  'projection.day.range' = '1,31',
  'projection.hour.type' = 'integer',
  'projection.hour.range' = '0,23',
  'storage.location.template' = 's3://BUCKET/PREFIX/_quarantine/${log_type}/year=${year}/month=${month}/day=${day}/hour=${hour}'
);

-- Athena (Glue) tables over the OCSF output, one per OCSF class and custom source, for a
-- lake where Security Lake does not create them itself (it does for its custom sources).
-- Generated from connector/ocsf/parquet.py by `python -m tests.test_ocsf_deploy`; the test
-- of the same name fails when the two differ.
--
-- Replace LAKE_BUCKET (the [ocsf] bucket, with its prefix if one is set), REGION and
-- ACCOUNT_ID ([ocsf] region and account_id). The source names are the defaults of
-- [ocsf] source_names. Partition projection reads eventDay from the key, so there is no
-- crawler or MSCK REPAIR to run; filter on eventDay (yyyyMMdd) to bound the scan.

CREATE EXTERNAL TABLE IF NOT EXISTS `slack_ocsf_base_event` (
  `activity_id` int,
  `activity_name` string,
  `category_uid` int,
  `category_name` string,
  `class_uid` int,
  `class_name` string,
  `type_uid` bigint,
  `type_name` string,
  `severity_id` int,
  `severity` string,
  `status_id` int,
  `status` string,
  `time` bigint,
  `metadata` struct<`uid`:string,`version`:string,`product`:struct<`name`:string,`vendor_name`:string,`feature`:struct<`name`:string>>,`log_name`:string,`event_code`:string,`tenant_uid`:string,`profiles`:array<string>>,
  `message` string,
  `unmapped` map<string,string>
)
PARTITIONED BY (`eventDay` string)
STORED AS PARQUET
LOCATION 's3://LAKE_BUCKET/ext/slack-base-event/region=REGION/accountId=ACCOUNT_ID/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.eventDay.type' = 'date',
  'projection.eventDay.format' = 'yyyyMMdd',
  'projection.eventDay.range' = '20200101,NOW',
  'projection.eventDay.interval' = '1',
  'projection.eventDay.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://LAKE_BUCKET/ext/slack-base-event/region=REGION/accountId=ACCOUNT_ID/eventDay=${eventDay}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `slack_ocsf_authentication` (
  `activity_id` int,
  `activity_name` string,
  `category_uid` int,
  `category_name` string,
  `class_uid` int,
  `class_name` string,
  `type_uid` bigint,
  `type_name` string,
  `severity_id` int,
  `severity` string,
  `status_id` int,
  `status` string,
  `time` bigint,
  `metadata` struct<`uid`:string,`version`:string,`product`:struct<`name`:string,`vendor_name`:string,`feature`:struct<`name`:string>>,`log_name`:string,`event_code`:string,`tenant_uid`:string,`profiles`:array<string>>,
  `actor` struct<`user`:struct<`uid`:string,`name`:string,`email_addr`:string,`type_id`:int,`type`:string,`org`:struct<`uid`:string>>,`session`:struct<`uid`:string>>,
  `user` struct<`uid`:string,`name`:string,`email_addr`:string,`type_id`:int,`type`:string,`org`:struct<`uid`:string>>,
  `session` struct<`uid`:string>,
  `src_endpoint` struct<`ip`:string,`location`:struct<`desc`:string,`country`:string,`region`:string,`isp`:string>>,
  `http_request` struct<`user_agent`:string>,
  `service` struct<`name`:string>,
  `count` int,
  `start_time` bigint,
  `end_time` bigint,
  `unmapped` map<string,string>
)
PARTITIONED BY (`eventDay` string)
STORED AS PARQUET
LOCATION 's3://LAKE_BUCKET/ext/slack-authentication/region=REGION/accountId=ACCOUNT_ID/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.eventDay.type' = 'date',
  'projection.eventDay.format' = 'yyyyMMdd',
  'projection.eventDay.range' = '20200101,NOW',
  'projection.eventDay.interval' = '1',
  'projection.eventDay.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://LAKE_BUCKET/ext/slack-authentication/region=REGION/accountId=ACCOUNT_ID/eventDay=${eventDay}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `slack_ocsf_account_change` (
  `activity_id` int,
  `activity_name` string,
  `category_uid` int,
  `category_name` string,
  `class_uid` int,
  `class_name` string,
  `type_uid` bigint,
  `type_name` string,
  `severity_id` int,
  `severity` string,
  `status_id` int,
  `status` string,
  `time` bigint,
  `metadata` struct<`uid`:string,`version`:string,`product`:struct<`name`:string,`vendor_name`:string,`feature`:struct<`name`:string>>,`log_name`:string,`event_code`:string,`tenant_uid`:string,`profiles`:array<string>>,
  `actor` struct<`user`:struct<`uid`:string,`name`:string,`email_addr`:string,`type_id`:int,`type`:string,`org`:struct<`uid`:string>>,`session`:struct<`uid`:string>>,
  `user` struct<`uid`:string,`name`:string,`email_addr`:string,`type_id`:int,`type`:string,`org`:struct<`uid`:string>>,
  `src_endpoint` struct<`ip`:string,`location`:struct<`desc`:string,`country`:string,`region`:string,`isp`:string>>,
  `http_request` struct<`user_agent`:string>,
  `unmapped` map<string,string>
)
PARTITIONED BY (`eventDay` string)
STORED AS PARQUET
LOCATION 's3://LAKE_BUCKET/ext/slack-account-change/region=REGION/accountId=ACCOUNT_ID/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.eventDay.type' = 'date',
  'projection.eventDay.format' = 'yyyyMMdd',
  'projection.eventDay.range' = '20200101,NOW',
  'projection.eventDay.interval' = '1',
  'projection.eventDay.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://LAKE_BUCKET/ext/slack-account-change/region=REGION/accountId=ACCOUNT_ID/eventDay=${eventDay}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `slack_ocsf_user_access` (
  `activity_id` int,
  `activity_name` string,
  `category_uid` int,
  `category_name` string,
  `class_uid` int,
  `class_name` string,
  `type_uid` bigint,
  `type_name` string,
  `severity_id` int,
  `severity` string,
  `status_id` int,
  `status` string,
  `time` bigint,
  `metadata` struct<`uid`:string,`version`:string,`product`:struct<`name`:string,`vendor_name`:string,`feature`:struct<`name`:string>>,`log_name`:string,`event_code`:string,`tenant_uid`:string,`profiles`:array<string>>,
  `actor` struct<`user`:struct<`uid`:string,`name`:string,`email_addr`:string,`type_id`:int,`type`:string,`org`:struct<`uid`:string>>,`session`:struct<`uid`:string>>,
  `user` struct<`uid`:string,`name`:string,`email_addr`:string,`type_id`:int,`type`:string,`org`:struct<`uid`:string>>,
  `privileges` array<string>,
  `unmapped` map<string,string>
)
PARTITIONED BY (`eventDay` string)
STORED AS PARQUET
LOCATION 's3://LAKE_BUCKET/ext/slack-user-access/region=REGION/accountId=ACCOUNT_ID/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.eventDay.type' = 'date',
  'projection.eventDay.format' = 'yyyyMMdd',
  'projection.eventDay.range' = '20200101,NOW',
  'projection.eventDay.interval' = '1',
  'projection.eventDay.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://LAKE_BUCKET/ext/slack-user-access/region=REGION/accountId=ACCOUNT_ID/eventDay=${eventDay}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `slack_ocsf_group_management` (
  `activity_id` int,
  `activity_name` string,
  `category_uid` int,
  `category_name` string,
  `class_uid` int,
  `class_name` string,
  `type_uid` bigint,
  `type_name` string,
  `severity_id` int,
  `severity` string,
  `status_id` int,
  `status` string,
  `time` bigint,
  `metadata` struct<`uid`:string,`version`:string,`product`:struct<`name`:string,`vendor_name`:string,`feature`:struct<`name`:string>>,`log_name`:string,`event_code`:string,`tenant_uid`:string,`profiles`:array<string>>,
  `actor` struct<`user`:struct<`uid`:string,`name`:string,`email_addr`:string,`type_id`:int,`type`:string,`org`:struct<`uid`:string>>,`session`:struct<`uid`:string>>,
  `group` struct<`uid`:string,`name`:string,`type`:string>,
  `user` struct<`uid`:string,`name`:string,`email_addr`:string,`type_id`:int,`type`:string,`org`:struct<`uid`:string>>,
  `unmapped` map<string,string>
)
PARTITIONED BY (`eventDay` string)
STORED AS PARQUET
LOCATION 's3://LAKE_BUCKET/ext/slack-group-management/region=REGION/accountId=ACCOUNT_ID/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.eventDay.type' = 'date',
  'projection.eventDay.format' = 'yyyyMMdd',
  'projection.eventDay.range' = '20200101,NOW',
  'projection.eventDay.interval' = '1',
  'projection.eventDay.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://LAKE_BUCKET/ext/slack-group-management/region=REGION/accountId=ACCOUNT_ID/eventDay=${eventDay}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `slack_ocsf_file_hosting` (
  `activity_id` int,
  `activity_name` string,
  `category_uid` int,
  `category_name` string,
  `class_uid` int,
  `class_name` string,
  `type_uid` bigint,
  `type_name` string,
  `severity_id` int,
  `severity` string,
  `status_id` int,
  `status` string,
  `time` bigint,
  `metadata` struct<`uid`:string,`version`:string,`product`:struct<`name`:string,`vendor_name`:string,`feature`:struct<`name`:string>>,`log_name`:string,`event_code`:string,`tenant_uid`:string,`profiles`:array<string>>,
  `actor` struct<`user`:struct<`uid`:string,`name`:string,`email_addr`:string,`type_id`:int,`type`:string,`org`:struct<`uid`:string>>,`session`:struct<`uid`:string>>,
  `file` struct<`uid`:string,`name`:string,`type_id`:int,`type`:string>,
  `src_endpoint` struct<`ip`:string,`location`:struct<`desc`:string,`country`:string,`region`:string,`isp`:string>>,
  `unmapped` map<string,string>
)
PARTITIONED BY (`eventDay` string)
STORED AS PARQUET
LOCATION 's3://LAKE_BUCKET/ext/slack-file-hosting/region=REGION/accountId=ACCOUNT_ID/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.eventDay.type' = 'date',
  'projection.eventDay.format' = 'yyyyMMdd',
  'projection.eventDay.range' = '20200101,NOW',
  'projection.eventDay.interval' = '1',
  'projection.eventDay.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://LAKE_BUCKET/ext/slack-file-hosting/region=REGION/accountId=ACCOUNT_ID/eventDay=${eventDay}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `slack_ocsf_entity_management` (
  `activity_id` int,
  `activity_name` string,
  `category_uid` int,
  `category_name` string,
  `class_uid` int,
  `class_name` string,
  `type_uid` bigint,
  `type_name` string,
  `severity_id` int,
  `severity` string,
  `status_id` int,
  `status` string,
  `time` bigint,
  `metadata` struct<`uid`:string,`version`:string,`product`:struct<`name`:string,`vendor_name`:string,`feature`:struct<`name`:string>>,`log_name`:string,`event_code`:string,`tenant_uid`:string,`profiles`:array<string>>,
  `actor` struct<`user`:struct<`uid`:string,`name`:string,`email_addr`:string,`type_id`:int,`type`:string,`org`:struct<`uid`:string>>,`session`:struct<`uid`:string>>,
  `entity` struct<`uid`:string,`name`:string,`type`:string>,
  `unmapped` map<string,string>
)
PARTITIONED BY (`eventDay` string)
STORED AS PARQUET
LOCATION 's3://LAKE_BUCKET/ext/slack-entity-management/region=REGION/accountId=ACCOUNT_ID/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.eventDay.type' = 'date',
  'projection.eventDay.format' = 'yyyyMMdd',
  'projection.eventDay.range' = '20200101,NOW',
  'projection.eventDay.interval' = '1',
  'projection.eventDay.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://LAKE_BUCKET/ext/slack-entity-management/region=REGION/accountId=ACCOUNT_ID/eventDay=${eventDay}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `slack_ocsf_detection_finding` (
  `activity_id` int,
  `activity_name` string,
  `category_uid` int,
  `category_name` string,
  `class_uid` int,
  `class_name` string,
  `type_uid` bigint,
  `type_name` string,
  `severity_id` int,
  `severity` string,
  `status_id` int,
  `status` string,
  `time` bigint,
  `metadata` struct<`uid`:string,`version`:string,`product`:struct<`name`:string,`vendor_name`:string,`feature`:struct<`name`:string>>,`log_name`:string,`event_code`:string,`tenant_uid`:string,`profiles`:array<string>>,
  `actor` struct<`user`:struct<`uid`:string,`name`:string,`email_addr`:string,`type_id`:int,`type`:string,`org`:struct<`uid`:string>>,`session`:struct<`uid`:string>>,
  `finding_info` struct<`uid`:string,`title`:string,`types`:array<string>>,
  `evidences` array<struct<`actor`:struct<`user`:struct<`uid`:string,`name`:string,`email_addr`:string,`type_id`:int,`type`:string,`org`:struct<`uid`:string>>,`session`:struct<`uid`:string>>,`src_endpoint`:struct<`ip`:string,`location`:struct<`desc`:string,`country`:string,`region`:string,`isp`:string>>,`data`:string>>,
  `unmapped` map<string,string>
)
PARTITIONED BY (`eventDay` string)
STORED AS PARQUET
LOCATION 's3://LAKE_BUCKET/ext/slack-detection-finding/region=REGION/accountId=ACCOUNT_ID/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.eventDay.type' = 'date',
  'projection.eventDay.format' = 'yyyyMMdd',
  'projection.eventDay.range' = '20200101,NOW',
  'projection.eventDay.interval' = '1',
  'projection.eventDay.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://LAKE_BUCKET/ext/slack-detection-finding/region=REGION/accountId=ACCOUNT_ID/eventDay=${eventDay}/'
);

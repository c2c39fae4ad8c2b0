"""What an operator writes: the config models (`settings`), reading a file with
environment overrides (`load`, `env`), every secret reference read once at start-up
(`secret_check`), the daemon's smaller tables (`sections`), and `ConfigError` (`errors`),
the one error a config problem becomes.

May import: `alerts`, `state`, `logtypes`, `indicators`, foundations.
The option models of the state stores and alert destinations live with those packages;
the settings only collect them.
"""

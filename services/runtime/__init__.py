"""What every service shares at run time: settings, the log they open, the consume ->
process -> append -> commit loop, shutdown, clock and metrics. Nothing service-specific."""

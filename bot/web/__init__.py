"""The daemon's web side and the reports: scoreboard, HTTP server, webhooks, metrics, report rendering."""

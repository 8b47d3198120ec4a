"""PagerDuty: how each team's on-call responded to its incidents (read-only), through the official client."""

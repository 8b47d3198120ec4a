"""Building blocks every layer may use: durations as organizers write them, YAML with line numbers, redaction."""

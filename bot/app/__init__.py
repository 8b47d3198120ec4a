"""The application: CLI, commands, the daemon, control (halt/resume), the demo, validation, and the composition root."""

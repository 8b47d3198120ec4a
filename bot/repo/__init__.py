"""The only door to git, and what reads and writes a team's history: workspace, injector, detector, watcher."""

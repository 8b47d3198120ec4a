"""The rules of the game and their data: plans, the pure engine, typed events, the timeline fold, scoring, clocks."""

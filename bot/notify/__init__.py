"""Delivering notices: a Slack channel (slack-sdk) or a generic webhook (JSON over HTTP)."""
